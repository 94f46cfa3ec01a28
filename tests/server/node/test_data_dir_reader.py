"""read_data_dir: a data directory read without a member gives what a member started on it serves.

The differential cases run a real ``confagent store`` through a workload (puts, deletes, txns,
leases granted, attached and revoked, a compaction; with snapshots taken midway, or none) and
compare the reader's state with the member's answers at every revision: beside the running
member (its directory locked), and with a member started again on the directory. The error
cases build a log in this process with the write-ahead log's own writer.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from confagent.errors import Compacted, StorageError
from confagent.kv import (
    FROM_KEY,
    DeleteRangeRequest,
    KeyValue,
    PutRequest,
    RangeRequest,
    Request,
    encode_request,
)
from confagent.raft import ConfChange, ConfChangeType, ConfState, Entry, EntryType, HardState, SnapshotMeta
from confagent.server import DataDirView, read_data_dir, read_data_dir_keys
from confagent.server.node import NodeConfig, StoreNode
from confagent.server.node._snapshotter import STOP_SNAPSHOT_ENTRIES
from confagent.server.storage import Identity, SnapshotFiles, Wal, load_or_keep_identity
from confagent.server.storage._wal_records import decode_segment, hard_state_frame
from confagent.testing import Processes, b64, unb64

ALL = {"key": b64("\0"), "range_end": b64("\0")}
ROOT = Path(__file__).resolve().parents[3]


def _call(client: httpx.Client, path: str, body: dict[str, Any]) -> dict[str, Any]:
    reply = client.post(path, json=body)
    assert reply.status_code == 200, reply.text
    answer: dict[str, Any] = reply.json()
    return answer


def _put(key: str, value: str, **more: Any) -> dict[str, Any]:
    return {"key": b64(key), "value": b64(value), **more}


def _workload(url: str) -> None:
    """Puts, deletes, txns taken and not, leases attached and revoked, a compaction, puts after it."""
    with httpx.Client(base_url=url, timeout=30) as client:
        for i in range(12):
            _call(client, "/v3/kv/put", _put(f"/a/{i:02d}", f"v{i}"))
        kept = _call(client, "/v3/lease/grant", {"TTL": 600})["ID"]
        revoked = _call(client, "/v3/lease/grant", {"TTL": 600})["ID"]
        _call(client, "/v3/kv/put", _put("/leased/kept", "k", lease=kept))
        _call(client, "/v3/kv/put", _put("/leased/revoked", "r", lease=revoked))
        _call(client, "/v3/kv/put", _put("/a/00", "again"))
        _call(client, "/v3/kv/deleterange", {"key": b64("/a/03")})
        _call(client, "/v3/kv/deleterange", {"key": b64("/a/1"), "range_end": b64("/a/2")})
        _call(client, "/v3/lease/revoke", {"ID": revoked})
        for compared in ("again", "not it"):
            _call(client, "/v3/kv/txn", {
                "compare": [{"key": b64("/a/00"), "target": "VALUE", "result": "EQUAL",
                             "value": b64(compared)}],
                "success": [{"request_put": _put("/t/taken", compared)},
                            {"request_delete_range": {"key": b64("/a/04")}}],
                "failure": [{"request_put": _put("/t/not-taken", compared)}]})
        _call(client, "/v3/kv/compaction", {"revision": 9})
        for i in range(5):
            _call(client, "/v3/kv/put", _put(f"/b/{i}", f"after {i}"))


def _member_answer(client: httpx.Client, revision: int) -> tuple[int, list[tuple[Any, ...]]] | str:
    """Every key at ``revision`` as the member answers (its header's revision), or its error."""
    reply = client.post("/v3/kv/range", json={**ALL, "revision": revision})
    if reply.status_code != 200:
        return str(reply.json()["error"])
    answer = reply.json()
    return int(answer["header"]["revision"]), [
        (unb64(kv["key"]), int(kv.get("create_revision", 0)), int(kv.get("mod_revision", 0)),
         int(kv.get("version", 0)), unb64(kv.get("value", "")), int(kv.get("lease", 0)))
        for kv in answer.get("kvs", [])]


def _reader_answer(view: DataDirView, revision: int) -> tuple[int, list[tuple[Any, ...]]] | str:
    try:
        answer = view.kv.range(RangeRequest(key=b"\0", range_end=b"\0", revision=revision))
    except Compacted as error:
        return str(error)
    return answer.header_revision, [(kv.key.decode(), kv.create_revision, kv.mod_revision, kv.version,
                                     kv.value.decode(), kv.lease) for kv in answer.kvs]


def _assert_alike(view: DataDirView, url: str) -> None:
    """The reader and the member agree at every revision, and on the compacted ones' error."""
    with httpx.Client(base_url=url, timeout=30) as client:
        current = int(_call(client, "/v3/kv/range", {"key": b64("/")})["header"]["revision"])
        assert view.kv.revision == current
        for revision in range(1, current + 1):
            assert _reader_answer(view, revision) == _member_answer(client, revision), revision


@pytest.mark.parametrize("snapshot_count", [3, 20_000], ids=["snapshots-and-log", "log-only"])
def test_the_reader_sees_what_a_member_on_the_directory_serves(tmp_path: Path, processes: Processes,
                                                               snapshot_count: int) -> None:
    data_dir = tmp_path / "store"
    args = ("--snapshot-count", str(snapshot_count))
    server = processes.store(data_dir, args=args)
    _workload(server.url)
    beside = read_data_dir(data_dir)  # the running member holds the directory: read all the same
    assert beside.lone_voter
    assert bool(list((data_dir / "member" / "snap").glob("*.snap"))) == (snapshot_count == 3)
    _assert_alike(beside, server.url)
    assert server.stop() == 0
    stopped = read_data_dir(data_dir)
    restarted = processes.store(data_dir, args=args)
    _assert_alike(stopped, restarted.url)
    assert (stopped.member_id, stopped.cluster_id) == (beside.member_id, beside.cluster_id)
    assert stopped.kv.lease_ids() == beside.kv.lease_ids() and len(stopped.kv.lease_ids()) == 1


def test_a_torn_tail_is_left_out_as_the_member_cuts_it(tmp_path: Path, processes: Processes) -> None:
    data_dir = tmp_path / "store"
    server = processes.store(data_dir)
    _workload(server.url)
    server.kill()
    (segment,) = sorted((data_dir / "member" / "wal").glob("*.wal"))[-1:]
    whole = decode_segment(segment.read_bytes(), str(segment)).valid_bytes
    torn = hard_state_frame(HardState(term=7, vote=1, commit=2**63 - 1))[:-5]
    with segment.open("r+b") as file:
        file.seek(whole)
        file.write(torn)
    written = segment.read_bytes()
    view = read_data_dir(data_dir)
    assert segment.read_bytes() == written  # nothing cut: it only reads
    assert view.report.torn_tail is not None and view.report.torn_tail.offset == whole
    _assert_alike(view, processes.store(data_dir).url)


# -- built in this process ---------------------------------------------------------------------

MEMBER = Identity(member_id=0x1234, cluster_id=0x5678)


def _store_entry(index: int, key: str) -> Entry:
    command = encode_request(PutRequest(key=key.encode(), value=f"at {index}".encode()))
    return Entry(term=1, index=index, data=index.to_bytes(8, "big") + command)


def _write_log(data_dir: Path, entries: list[Entry], commit: int) -> None:
    load_or_keep_identity(data_dir, MEMBER)
    wal, _ = Wal.open(data_dir)
    wal.append(HardState(term=1, vote=MEMBER.member_id, commit=commit), entries)
    wal.close()


def _keys(view: DataDirView) -> list[KeyValue]:
    return list(view.kv.range(RangeRequest(key=b"\0", range_end=b"\0")).kvs)


def test_a_lone_voter_s_whole_log_is_applied_and_a_cluster_member_s_only_what_is_committed(
        tmp_path: Path) -> None:
    _write_log(tmp_path / "lone", [_store_entry(i, f"/k/{i}") for i in range(1, 6)], commit=3)
    lone = read_data_dir(tmp_path / "lone")
    assert (lone.lone_voter, lone.applied_index, len(_keys(lone)), lone.kv.revision) == (True, 5, 5, 6)
    assert (lone.member_id, lone.cluster_id) == (MEMBER.member_id, MEMBER.cluster_id)

    added = ConfChange(ConfChangeType.ADD_VOTER, 0x9999).encode()
    entries = [Entry(term=1, index=1, type=EntryType.CONF_CHANGE, data=added),
               *(_store_entry(i, f"/k/{i}") for i in range(2, 6))]
    _write_log(tmp_path / "member", entries, commit=3)
    member = read_data_dir(tmp_path / "member")
    assert (member.lone_voter, member.applied_index) == (False, 3)
    assert [kv.key for kv in _keys(member)] == [b"/k/2", b"/k/3"]


async def _write_then_stop(data_dir: Path, requests: list[Request]) -> None:
    """A lone member on ``data_dir`` applies ``requests`` and stops (with a snapshot after enough)."""
    node = await StoreNode.open(NodeConfig(data_dir=data_dir, member_id=MEMBER.member_id,
                                           cluster_id=MEMBER.cluster_id, snapshot_entries=20_000))
    await node.start()
    try:
        await node.linearizable_barrier()  # its term's empty entry committed, writes or not
        for request in requests:
            await node.propose(request)
    finally:
        await node.stop()


def _assert_keys_alike(data_dir: Path) -> tuple[int, int]:
    """``read_data_dir_keys`` and ``read_data_dir`` agree; the snapshot's index and the entries after it."""
    whole, keys = read_data_dir(data_dir), read_data_dir_keys(data_dir)
    assert keys.keys.pairs(b"\0", FROM_KEY) == [(kv.key, kv.value) for kv in _keys(whole)]
    assert (keys.keys.revision, keys.applied_index, keys.lone_voter, keys.member_id, keys.cluster_id) == \
        (whole.kv.revision, whole.applied_index, whole.lone_voter, whole.member_id, whole.cluster_id)
    assert keys.report == whole.report
    snapshot = keys.report.snapshot
    return (snapshot.index if snapshot is not None else 0), keys.report.replayed_entries


def test_the_keys_read_from_a_stopped_member_s_snapshot_or_its_log_are_its_state(tmp_path: Path) -> None:
    """Rule 6: after a stop's snapshot the keys are read from it, after later writes from the state
    replayed; both as ``read_data_dir`` has them."""
    load_or_keep_identity(tmp_path, MEMBER)
    writes: list[Request] = [PutRequest(b"/k/%04d" % (i % 90), b"v%d" % i)
                             for i in range(STOP_SNAPSHOT_ENTRIES)]
    asyncio.run(_write_then_stop(tmp_path, [*writes, DeleteRangeRequest(b"/k/0010", b"/k/0020")]))
    snapshot_index, replayed = _assert_keys_alike(tmp_path)
    assert snapshot_index > 0 and replayed == 0
    asyncio.run(_write_then_stop(tmp_path, [PutRequest(b"/k/0001", b"later"), DeleteRangeRequest(b"/k/0002"),
                                            PutRequest(b"/n/new", b"")]))
    snapshot, replayed = _assert_keys_alike(tmp_path)
    assert snapshot == snapshot_index and replayed >= 3
    assert read_data_dir_keys(tmp_path).keys.pairs(b"/k/0001", b"") == [(b"/k/0001", b"later")]


def test_a_snapshot_followed_by_entries_that_change_no_key_is_read_as_it_is(tmp_path: Path) -> None:
    """Rule 6: a new leader's empty entries after the snapshot leave it the keys' source."""
    load_or_keep_identity(tmp_path, MEMBER)
    puts: list[Request] = [PutRequest(b"/k/%04d" % i, b"v") for i in range(STOP_SNAPSHOT_ENTRIES)]
    asyncio.run(_write_then_stop(tmp_path, puts))
    snapshot_index, _ = _assert_keys_alike(tmp_path)
    wal, _ = Wal.open(tmp_path)
    wal.append(HardState(term=9, vote=MEMBER.member_id, commit=snapshot_index + 2),
               [Entry(term=9, index=snapshot_index + 1), Entry(term=9, index=snapshot_index + 2)])
    wal.close()
    assert _assert_keys_alike(tmp_path) == (snapshot_index, 2)
    assert read_data_dir_keys(tmp_path).applied_index == snapshot_index + 2


@pytest.mark.parametrize("read", [read_data_dir, read_data_dir_keys])
def test_a_missing_or_empty_directory_is_an_error_naming_it(tmp_path: Path, read: Any) -> None:
    with pytest.raises(StorageError, match=f"data_dir: {tmp_path / 'nowhere'} does not exist"):
        read(tmp_path / "nowhere")
    with pytest.raises(StorageError, match=f"data_dir: {tmp_path} holds no store's data"):
        read(tmp_path)
    load_or_keep_identity(tmp_path, MEMBER)
    with pytest.raises(StorageError, match=f"{tmp_path / 'member' / 'wal'} does not exist"):
        read(tmp_path)


def test_a_damaged_log_or_snapshot_is_an_error_naming_the_file(tmp_path: Path) -> None:
    _write_log(tmp_path, [_store_entry(i, f"/k/{i}") for i in range(1, 40)], commit=39)
    (segment,) = (tmp_path / "member" / "wal").glob("*.wal")
    content = bytearray(segment.read_bytes())
    content[decode_segment(bytes(content), "").valid_bytes // 2] ^= 0xFF
    segment.write_bytes(bytes(content))
    with pytest.raises(StorageError, match=f"{segment}: damaged record at offset"):
        read_data_dir(tmp_path)

    snap = tmp_path / "member" / "snap" / f"{5:016x}-{1:016x}.snap"
    snap.write_bytes(b"CASNAP1\n not a snapshot")
    with pytest.raises(StorageError, match=f"no readable snapshot in {snap.parent}: {snap}: "):
        read_data_dir(tmp_path)
    assert snap.exists()  # not set aside: it only reads


@pytest.mark.parametrize("read", [read_data_dir, read_data_dir_keys])
def test_a_snapshot_holding_no_store_state_is_an_error_naming_it(tmp_path: Path, read: Any) -> None:
    _write_log(tmp_path, [_store_entry(i, f"/k/{i}") for i in range(1, 10)], commit=9)
    meta = SnapshotMeta(index=9, term=1, conf_state=ConfState(voters=(MEMBER.member_id,)))
    SnapshotFiles(tmp_path / "member" / "snap").save(meta, b"\xc1 not the store's state")
    snap = tmp_path / "member" / "snap" / f"{9:016x}-{1:016x}.snap"
    with pytest.raises(StorageError, match=f"{snap}: "):
        read(tmp_path)


def test_the_one_shot_s_reader_loads_no_member_nor_client_edge(processes: Processes) -> None:
    code = "import sys\nfrom confagent.backends import DataDirBackend\nprint(' '.join(sorted(sys.modules)))"
    done = processes.run([sys.executable, "-c", code], cwd=ROOT, timeout_s=60)
    assert done.returncode == 0, done.stderr.decode()
    absent = {"uvicorn", "google.protobuf", "zttp", "confagent.server.api", "confagent.server.peers",
              "confagent.server.node._node", "confagent.server.membership._member_changes",
              "confagent.server.storage._fsync_thread", "confagent.server.storage._etcd_snapshot"}
    assert set(done.stdout.decode().split()) & absent == set()


def test_reads_beside_a_member_writing_and_snapshotting_see_every_acknowledged_write(
        tmp_path: Path, processes: Processes) -> None:
    data_dir = tmp_path / "store"
    server = processes.store(data_dir, args=("--snapshot-count", "7"))
    acknowledged: dict[str, int] = {}
    values: dict[bytes, bytes] = {}
    with httpx.Client(base_url=server.url, timeout=30) as client:
        for i in range(120):
            key = f"/w/{i % 40:02d}"
            answer = _call(client, "/v3/kv/put", _put(key, str(i)))
            acknowledged[key] = int(answer["header"]["revision"])
            values[key.encode()] = str(i).encode()
            if i % 6 == 5:  # while the member goes on writing its log and snapshot files
                view = read_data_dir(data_dir)
                assert view.lone_voter and view.kv.revision >= max(acknowledged.values())
                found = {kv.key.decode(): kv.mod_revision for kv in _keys(view)}
                assert {key: found[key] for key in acknowledged} == acknowledged
                keys = read_data_dir_keys(data_dir)
                assert keys.lone_voter and keys.keys.revision >= max(acknowledged.values())
                assert dict(keys.keys.pairs(b"/w/", b"/w0")) == values  # one writer: no later value
    assert len(list((data_dir / "member" / "snap").glob("*.snap"))) > 1
