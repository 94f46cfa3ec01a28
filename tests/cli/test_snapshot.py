"""``confagent snapshot status|restore|save`` in-process: output, file checks, the data directory written.

Snapshot files are made with the same encoder the gateway uses, from a real
``KvStore``; downloads that break are served by a loopback HTTP server replaying
a snapshot stream with its end cut off or its digest changed.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import http.server
import threading
import zlib
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from confagent.cli import main
from confagent.errors import StorageError
from confagent.kv import DeleteRangeRequest, KvStore, LeaseGrantRequest, PutRequest, RangeRequest
from confagent.raft import ConfState, SnapshotMeta
from confagent.server import NodeConfig, RestoreConfig, StoreNode, read_saved_snapshot, restore_snapshot
from confagent.server._restore import RESTORED_INDEX
from confagent.server.api._snapshot_stream import CHUNK_BYTES, stream_lines
from confagent.server.membership import cluster_id_of, member_id_of
from confagent.server.storage import SnapshotImage, encode_image
from tests.thoroughness import examples

LEASE_ID = 0x1234
PEERS = {"m0": "http://127.0.0.1:12380", "m1": "http://127.0.0.1:12381", "m2": "http://127.0.0.1:12382"}
INITIAL_CLUSTER = ",".join(f"{name}={url}" for name, url in PEERS.items())


def _store() -> KvStore:
    """Keys, a deleted key, a lease with a key: revision 5, two keys live."""
    kv = KvStore()
    kv.apply(LeaseGrantRequest(ttl=300, id=LEASE_ID))
    kv.apply(PutRequest(key=b"a", value=b"1"))
    kv.apply(PutRequest(key=b"b", value=b"2", lease=LEASE_ID))
    kv.apply(PutRequest(key=b"c", value=b"3" * 100))
    kv.apply(DeleteRangeRequest(key=b"a"))
    return kv


def _image(kv: KvStore) -> SnapshotImage:
    meta = SnapshotMeta(index=42, term=3, conf_state=ConfState(voters=(1, 2, 3)))
    return SnapshotImage(meta, kv.revision, kv.key_count(), kv.snapshot())


def _file_bytes(image: SnapshotImage) -> bytes:
    body = encode_image(image)
    return body + hashlib.sha256(body).digest()


@pytest.fixture
def image() -> SnapshotImage:
    return _image(_store())


@pytest.fixture
def snapshot_file(tmp_path: Path, image: SnapshotImage) -> Path:
    path = tmp_path / "snap.db"
    path.write_bytes(_file_bytes(image))
    return path


def run(capsysbinary: pytest.CaptureFixture[bytes], *args: str) -> tuple[int, bytes, str]:
    code = main(list(args))
    captured = capsysbinary.readouterr()
    return code, captured.out, captured.err.decode()


# -- status -----------------------------------------------------------------------------


def test_status_prints_etcdctls_columns_in_each_format(
        capsysbinary: pytest.CaptureFixture[bytes], snapshot_file: Path, image: SnapshotImage) -> None:
    crc = zlib.crc32(image.data)
    size = snapshot_file.stat().st_size - 32
    assert run(capsysbinary, "snapshot", "status", str(snapshot_file)) == (
        0, f"{crc:x}, 5, 2, {size} B\n".encode(), "")
    code, out, _ = run(capsysbinary, "snapshot", "status", str(snapshot_file), "-w", "json")
    assert (code, orjson.loads(out)) == (0, {"hash": crc, "revision": 5, "totalKey": 2,
                                             "totalSize": size})
    code, out, _ = run(capsysbinary, "snapshot", "status", str(snapshot_file), "-w", "table")
    lines = out.decode().splitlines()
    assert lines[1] == "|   HASH   | REVISION | TOTAL KEYS | TOTAL SIZE |"
    assert lines[3] == f"| {crc:x} |        5 |          2 |      {size} B |"


def _damaged(content: bytes, how: str) -> bytes:
    if how == "truncated":
        return content[:len(content) // 2]
    if how == "missing hash":
        return content[:-32]
    if how == "bad checksum":
        return content[:60] + bytes([content[60] ^ 1]) + content[61:]
    if how == "trailing bytes":
        return content + b"x"
    assert how == "wrong file"
    return b"hello, not a snapshot\n"


@pytest.mark.parametrize(("how", "message"), [
    ("truncated", "snapshot is truncated"),
    ("missing hash", "snapshot missing hash but --skip-hash-check=false"),
    ("bad checksum", "expected sha256"),
    ("trailing bytes", "unexpected bytes after the snapshot's sha256"),
    ("wrong file", "not a confagent snapshot file"),
])
def test_a_damaged_file_is_one_error_line_naming_it(
        capsysbinary: pytest.CaptureFixture[bytes], snapshot_file: Path, how: str, message: str) -> None:
    snapshot_file.write_bytes(_damaged(snapshot_file.read_bytes(), how))
    for command in (["status"], ["restore", "--data-dir", str(snapshot_file.parent / "restored")]):
        code, out, err = run(capsysbinary, "snapshot", *command, str(snapshot_file))
        assert (code, out) == (1, b"")
        assert err.startswith(f"Error: {snapshot_file}: ") and message in err and err.count("\n") == 1
    assert not (snapshot_file.parent / "restored").exists()


def test_a_missing_file_is_named(capsysbinary: pytest.CaptureFixture[bytes], tmp_path: Path) -> None:
    code, _, err = run(capsysbinary, "snapshot", "status", str(tmp_path / "nothing.db"))
    assert code == 1
    assert err == f"Error: {tmp_path / 'nothing.db'}: cannot read the snapshot: No such file or directory\n"


@settings(max_examples=examples(150), deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_every_cut_and_every_flipped_bit_is_detected(tmp_path: Path, data: st.DataObject) -> None:
    content = _file_bytes(_image(_store()))
    path = tmp_path / "fuzzed.db"
    if data.draw(st.booleans(), label="cut"):
        damaged = content[:data.draw(st.integers(0, len(content) - 1), label="length")]
    else:
        position = data.draw(st.integers(0, len(content) - 1), label="position")
        bit = data.draw(st.integers(0, 7), label="bit")
        damaged = content[:position] + bytes([content[position] ^ 1 << bit]) + content[position + 1:]
    path.write_bytes(damaged)
    with pytest.raises(StorageError, match=f"^{path}: "):
        read_saved_snapshot(path)


# -- the stream -------------------------------------------------------------------------------


def test_stream_lines_are_32k_chunks_with_remaining_bytes_then_the_digest() -> None:
    body = bytes(range(256)) * 300  # 76,800 bytes: two whole chunks and a part
    lines = [orjson.loads(line)["result"] for line in stream_lines(body, b"d" * 32)]
    assert [sorted(r) for r in lines] == [["blob", "remaining_bytes"]] * 2 + [["blob"]] * 2
    assert [r.get("remaining_bytes") for r in lines] == [str(len(body) - CHUNK_BYTES),
                                                         str(len(body) - 2 * CHUNK_BYTES), None, None]
    blobs = [base64.b64decode(r["blob"]) for r in lines]
    assert b"".join(blobs[:-1]) == body and blobs[-1] == b"d" * 32


# -- restore ----------------------------------------------------------------------------------


def _restore_args(snapshot_file: Path, data_dir: Path, name: str) -> list[str]:
    return ["snapshot", "restore", str(snapshot_file), "--data-dir", str(data_dir), "--name", name,
            "--initial-cluster", INITIAL_CLUSTER, "--initial-cluster-token", "tok",
            "--initial-advertise-peer-urls", PEERS[name]]


async def _open(data_dir: Path, member_id: int, cluster_id: int) -> tuple[StoreNode, list[bytes]]:
    node = await StoreNode.open(NodeConfig(data_dir=data_dir, member_id=member_id, cluster_id=cluster_id))
    try:
        keys = [kv.key for kv in node.kv.range(RangeRequest(key=b"\0", range_end=b"\0")).kvs]
    finally:
        await node.stop()
    return node, keys


def test_restore_writes_members_of_a_new_cluster_that_open_with_the_snapshots_state(
        capsysbinary: pytest.CaptureFixture[bytes], snapshot_file: Path, tmp_path: Path) -> None:
    member_ids = {name: member_id_of([url], "tok") for name, url in PEERS.items()}
    cluster_id = cluster_id_of(member_ids.values())
    for name, member_id in member_ids.items():
        data_dir = tmp_path / name
        assert run(capsysbinary, *_restore_args(snapshot_file, data_dir, name)) == (0, b"", "")
        assert sorted(p.name for p in data_dir.iterdir()) == ["member"]  # no stage left
        identity = orjson.loads((data_dir / "member" / "identity.json").read_bytes())
        assert identity == {"member_id": f"{member_id:x}", "cluster_id": f"{cluster_id:x}"}
        node, keys = asyncio.run(_open(data_dir, member_id, cluster_id))
        assert keys == [b"b", b"c"]
        assert (node.kv.revision, node.kv.lease_ids()) == (5, (LEASE_ID,))
        lease = node.kv.lease(LEASE_ID)
        assert lease is not None and lease.keys == (b"b",)
        assert node.core.conf_state == ConfState(voters=tuple(sorted(member_ids.values())))
        assert node.core.log.applied == RESTORED_INDEX


def test_restore_refuses_a_data_dir_that_is_not_empty_and_accepts_an_empty_one(
        capsysbinary: pytest.CaptureFixture[bytes], snapshot_file: Path, tmp_path: Path) -> None:
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "x").write_text("x")
    code, _, err = run(capsysbinary, "snapshot", "restore", str(snapshot_file), "--data-dir", str(busy))
    assert (code, err) == (1, f'Error: data-dir "{busy}" exists\n')
    assert [p.name for p in busy.iterdir()] == ["x"]
    empty = tmp_path / "empty"
    empty.mkdir()
    assert run(capsysbinary, "snapshot", "restore", str(snapshot_file), "--data-dir", str(empty))[0] == 0
    assert (empty / "member" / "wal").is_dir()


def test_restore_defaults_are_etcdctls(capsysbinary: pytest.CaptureFixture[bytes], snapshot_file: Path,
                                       tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    expected = member_id_of(["http://localhost:2380"], "etcd-cluster")
    monkeypatch.chdir(tmp_path)
    assert run(capsysbinary, "snapshot", "restore", str(snapshot_file)) == (0, b"", "")
    identity = orjson.loads((tmp_path / "default.etcd" / "member" / "identity.json").read_bytes())
    assert identity == {"member_id": f"{expected:x}", "cluster_id": f"{cluster_id_of([expected]):x}"}
    library = restore_snapshot(RestoreConfig(snapshot_path=snapshot_file, data_dir=tmp_path / "lib"))
    assert (library.member_id, library.cluster_id) == (expected, cluster_id_of([expected]))


@pytest.mark.parametrize(("flags", "message"), [
    (["--name", "nobody", "--initial-cluster", INITIAL_CLUSTER],
     "couldn't find local name 'nobody' in the initial cluster configuration"),
    (["--name", "m0", "--initial-cluster", INITIAL_CLUSTER,
      "--initial-advertise-peer-urls", "http://127.0.0.1:9"],
     f"--initial-cluster has m0={PEERS['m0']} but missing from "
     f"--initial-advertise-peer-urls=http://127.0.0.1:9"),
])
def test_restore_flag_errors(capsysbinary: pytest.CaptureFixture[bytes], snapshot_file: Path,
                             tmp_path: Path, flags: list[str], message: str) -> None:
    code, _, err = run(capsysbinary, "snapshot", "restore", str(snapshot_file),
                       "--data-dir", str(tmp_path / "d"), *flags)
    assert (code, err) == (1, f"Error: {message}\n")
    assert not (tmp_path / "d").exists()


def test_skip_hash_check_accepts_a_file_without_its_digest(
        capsysbinary: pytest.CaptureFixture[bytes], snapshot_file: Path, tmp_path: Path) -> None:
    snapshot_file.write_bytes(snapshot_file.read_bytes()[:-32])
    args = ["snapshot", "restore", str(snapshot_file), "--data-dir", str(tmp_path / "d")]
    assert run(capsysbinary, *args)[0] == 1
    assert run(capsysbinary, *args, "--skip-hash-check") == (0, b"", "")


# -- save -------------------------------------------------------------------------------------


class _Replay(http.server.BaseHTTPRequestHandler):
    """Answers ``POST /v3/maintenance/snapshot`` with the server's ``body`` and closes."""

    body = b""

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("content-length", 0)))
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("connection", "close")
        self.end_headers()
        self.wfile.write(self.server.body)  # type: ignore[attr-defined]

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def replay_server() -> Iterator[http.server.HTTPServer]:
    server = http.server.HTTPServer(("127.0.0.1", 0), _Replay)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def _stream(how: str) -> bytes:
    """A snapshot stream of several chunks, whole or damaged ``how``."""
    kv = _store()
    for i in range(200):
        kv.apply(PutRequest(key=b"big/%03d" % i, value=bytes([i]) * 1000))
    body = encode_image(_image(kv))
    assert len(body) > 3 * CHUNK_BYTES
    lines = list(stream_lines(body, hashlib.sha256(body).digest()))
    if how == "whole":
        return b"".join(lines)
    if how == "cut before the digest":
        return b"".join(lines[:-1])
    if how == "cut inside a chunk":
        return b"".join(lines[:2])
    assert how == "wrong digest"
    return b"".join(lines[:-1]) + b"".join(stream_lines(b"", b"x" * 32))


@pytest.mark.parametrize("how", ["cut before the digest", "cut inside a chunk", "wrong digest"])
def test_save_keeps_nothing_from_a_download_that_is_not_whole(
        capsysbinary: pytest.CaptureFixture[bytes], replay_server: http.server.HTTPServer,
        tmp_path: Path, how: str) -> None:
    replay_server.body = _stream(how)  # type: ignore[attr-defined]
    url = f"http://127.0.0.1:{replay_server.server_address[1]}"
    code, out, err = run(capsysbinary, "snapshot", "save", str(tmp_path / "s.db"), "--endpoints", url)
    assert (code, out) == (1, b"")
    assert err.startswith(f"Error: {url}: ") and err.count("\n") == 1
    assert list(tmp_path.iterdir()) == []


def test_save_writes_the_stream_and_prints_etcdctls_line(
        capsysbinary: pytest.CaptureFixture[bytes], replay_server: http.server.HTTPServer,
        tmp_path: Path) -> None:
    replay_server.body = _stream("whole")  # type: ignore[attr-defined]
    url = f"http://127.0.0.1:{replay_server.server_address[1]}"
    target = tmp_path / "s.db"
    assert run(capsysbinary, "snapshot", "save", str(target), "--endpoints", url) == (
        0, f"Snapshot saved at {target}\n".encode(), "")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.db"]
    assert target.stat().st_mode & 0o777 == 0o600
    assert run(capsysbinary, "snapshot", "status", str(target), "-w", "json")[0] == 0


def test_save_asks_one_member_only(capsysbinary: pytest.CaptureFixture[bytes], tmp_path: Path) -> None:
    code, _, err = run(capsysbinary, "snapshot", "save", str(tmp_path / "s.db"),
                       "--endpoints", "127.0.0.1:1,127.0.0.1:2")
    assert (code, err) == (1, "Error: snapshot must be requested to one selected node, not multiple "
                              "[http://127.0.0.1:1 http://127.0.0.1:2]\n")
