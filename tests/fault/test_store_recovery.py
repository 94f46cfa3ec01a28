"""Recovery of a store killed with SIGKILL whose files were then damaged: what it repairs, and says.

A damaged newest snapshot falls back to an older one, replaying the log kept
back to the oldest retained snapshot; a torn write-ahead log tail is cut, and
one warning line names the file, the offset and the bytes cut. Every
acknowledged write is there after the restart.
"""

from __future__ import annotations

from pathlib import Path

import httpx
import orjson
import pytest

from confagent.raft._types import HardState
from confagent.server.storage._wal_records import decode_segment, hard_state_frame
from confagent.testing import Processes, ServerProcess, b64, eventually, free_port, unb64

SNAPSHOT_COUNT = 40
PUTS = 300
WAIT_S = 30.0


def _put_all(url: str, prefix: str) -> dict[str, int]:
    """Put PUTS fresh keys one after another; the revision each was acknowledged at."""
    acked: dict[str, int] = {}
    with httpx.Client(base_url=url, timeout=10.0) as client:
        for i in range(PUTS):
            key = f"{prefix}/{i:04d}"
            reply = client.post("/v3/kv/put", json={"key": b64(key), "value": b64(key)})
            assert reply.status_code == 200, reply.text
            acked[key] = int(reply.json()["header"]["revision"])
    return acked


def _all_keys(url: str) -> dict[str, int]:
    reply = httpx.post(url + "/v3/kv/range", json={"key": "AA==", "range_end": "AA=="}, timeout=30)
    return {unb64(kv["key"]): int(kv["mod_revision"])
            for kv in reply.json().get("kvs", [])}


def _snapshot_files(data_dir: Path, count: int) -> list[Path]:
    """The ``.snap`` files, oldest first, once there are at least ``count`` (bounded wait)."""
    return eventually(lambda: sorted((data_dir / "member" / "snap").glob("*.snap")),
                      lambda files: len(files) >= count, f"{count} snapshot files", deadline_s=WAIT_S)


def _warnings(server: ServerProcess) -> list[dict[str, object]]:
    lines = server.log_path.read_text(errors="replace").splitlines()
    records = [orjson.loads(line) for line in lines if line.startswith("{")]
    return [record for record in records if record.get("level") == "warning"]


def _flip_a_byte(path: Path) -> None:
    content = bytearray(path.read_bytes())
    content[len(content) // 2] ^= 0xFF
    path.write_bytes(bytes(content))


@pytest.mark.parametrize("damaged", [1, 3])
def test_damaged_newest_snapshots_fall_back_to_an_older_one_and_lose_nothing(
        tmp_path: Path, damaged: int, processes: Processes) -> None:
    data_dir, port = tmp_path / "store", free_port()
    server = processes.store(data_dir, port=port, args=("--snapshot-count", str(SNAPSHOT_COUNT)))
    try:
        acked = _put_all(server.url, "before")
        _snapshot_files(data_dir, damaged + 1)
    finally:
        server.kill()
    files = _snapshot_files(data_dir, damaged + 1)  # listed again: one may have been saved meanwhile
    for path in files[-damaged:]:
        _flip_a_byte(path)

    server = processes.store(data_dir, port=port, args=("--snapshot-count", str(SNAPSHOT_COUNT)))
    try:
        found = _all_keys(server.url)
        assert {key: found.get(key) for key in acked} == acked
        acked |= _put_all(server.url, "after")  # and the member goes on, taking snapshots again
        assert _all_keys(server.url) == acked
    finally:
        server.stop()
    warned = {str(record.get("file")): record for record in _warnings(server)}
    for path in files[-damaged:]:
        assert str(path) in warned, f"no warning names {path}: {list(warned)}"
        assert Path(f"{path}.broken").exists()
    restarted = processes.store(data_dir, port=port)
    try:
        assert _all_keys(restarted.url) == acked
    finally:
        restarted.stop()


def test_a_torn_wal_tail_is_cut_with_one_warning_naming_file_offset_and_bytes(tmp_path: Path,
                                                                              processes: Processes) -> None:
    data_dir, port = tmp_path / "store", free_port()
    server = processes.store(data_dir, port=port)
    try:
        acked = _put_all(server.url, "before")
    finally:
        server.kill()
    (segment,) = sorted((data_dir / "member" / "wal").glob("*.wal"))[-1:]
    whole = decode_segment(segment.read_bytes(), str(segment)).valid_bytes  # zeros allocated ahead follow
    # A record whose write was cut short, its last 5 bytes not zeros (zeros would complete it:
    # the space after the records is allocated ahead, and reads as zeros).
    torn = hard_state_frame(HardState(term=7, vote=1, commit=2**63 - 1))[:-5]
    with segment.open("r+b") as file:
        file.seek(whole)
        file.write(torn)

    server = processes.store(data_dir, port=port)
    try:
        assert _all_keys(server.url) == acked
    finally:
        server.stop()
    cut = [record for record in _warnings(server) if "torn" in str(record.get("event"))]
    assert len(cut) == 1, _warnings(server)
    assert (cut[0]["file"], cut[0]["offset"], cut[0]["bytes"]) == (str(segment), whole, len(torn))
