"""A snapshot etcd 3.4 saved, restored by ``confagent snapshot restore``, serves what etcd serves from it.

A real etcd is given a known workload (puts, overwrites, deletes of one key and of
a range, txns taking either branch, leases with keys attached and detached, large and
binary values, users and roles, a compaction and writes after it), then its snapshot is
taken twice: with ``etcdctl snapshot save`` (SHA-256 appended) and as the member's own
``member/snap/db`` (no hash: restored with ``--skip-hash-check``). Each file is restored
by etcdctl into a real etcd and by confagent into ``confagent store``, and the two are
asked the same requests: every key at every revision from the compaction on (and the
refusals below it), every lease with its TTL and keys, users and roles, the current
revision and the next write's. Then the damaged files: cut short, a flipped byte, another
magic or bbolt version, no hash; each refused naming the file, no data directory left.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import io
import shutil
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import orjson
import pytest

from confagent.cli import main
from confagent.testing import Processes, ServerProcess, b64, free_port
from tests.e2e.differential import Pair, normalize

BULK_KEYS = 150
"""Enough versions for the key bucket to need branch pages."""
BIG_VALUE_BYTES = 20_000
"""A value larger than a page: an overflow page."""
ETCD_ARGS = ("--bcrypt-cost", "4")
ETCDCTL = "/usr/bin/etcdctl"


@dataclass(frozen=True)
class Source:
    """The files saved from the filled etcd, and the revisions of the workload."""

    saved: Path
    """``etcdctl snapshot save``'s file (SHA-256 appended)."""
    member_db: Path
    """The member's ``member/snap/db`` (no hash)."""
    compacted: int
    revision: int


def _post(client: httpx.Client, path: str, body: dict[str, object]) -> dict[str, object]:
    response = client.post(path, json=body)
    assert response.status_code == 200, (path, body, response.text)
    answer: dict[str, object] = response.json()
    return answer


def _put(client: httpx.Client, key: bytes | str, value: bytes | str, lease: str = "0") -> int:
    answer = _post(client, "/v3/kv/put", {"key": b64(key), "value": b64(value), "lease": lease})
    return int(answer["header"]["revision"])  # type: ignore[index]


def _fill(client: httpx.Client) -> tuple[int, int]:
    """The workload (module doc); the compaction's revision and the last one."""
    _put(client, "a", "1")
    _put(client, "b", "2")
    _put(client, "a", "2")
    _put(client, "c", "3")
    _post(client, "/v3/kv/txn", {  # one revision, three changes (sub-revisions 0, 1, 2)
        "compare": [{"key": b64("a"), "target": "VERSION", "result": "EQUAL", "version": "2"}],
        "success": [{"request_put": {"key": b64("a"), "value": b64("3")}},
                    {"request_delete_range": {"key": b64("b")}},
                    {"request_put": {"key": b64("d"), "value": b64("4")}}],
        "failure": [{"request_put": {"key": b64("never"), "value": b64("x")}}]})
    _post(client, "/v3/kv/txn", {  # the failure branch
        "compare": [{"key": b64("c"), "target": "VALUE", "result": "EQUAL", "value": b64("x")}],
        "success": [{"request_put": {"key": b64("never"), "value": b64("x")}}],
        "failure": [{"request_put": {"key": b64("e"), "value": b64("5")}}]})
    held = str(_post(client, "/v3/lease/grant", {"TTL": 600})["ID"])
    _post(client, "/v3/lease/grant", {"TTL": 900})  # a lease holding no key
    dropped = str(_post(client, "/v3/lease/grant", {"TTL": 700})["ID"])
    _put(client, "lease/1", "x", held)
    _put(client, "lease/2", "y", held)
    _put(client, "lease/3", "z", dropped)
    _put(client, "lease/3", "z2")  # detached from its lease
    for i in range(BULK_KEYS):
        _put(client, f"bulk/{i:03d}", f"{i:03d}" * 40)
    _put(client, "big", b"\x07" * BIG_VALUE_BYTES)
    _put(client, b"\xff\x00bin", b"\x00\xff\xfe")
    _post(client, "/v3/kv/deleterange", {"key": b64("bulk/000"), "range_end": b64("bulk/050")})
    compacted = _put(client, "c", "3b")
    _post(client, "/v3/kv/deleterange", {"key": b64("e")})
    _post(client, "/v3/kv/compaction", {"revision": str(compacted), "physical": True})
    _put(client, "a", "4")
    _post(client, "/v3/kv/deleterange", {"key": b64("d")})
    _put(client, "lease/1", "x2", held)
    for name in ("root", "alice"):
        _post(client, "/v3/auth/user/add", {"name": name, "password": f"{name}-secret"})
    _post(client, "/v3/auth/role/add", {"name": "reader"})
    _post(client, "/v3/auth/role/grant", {"name": "reader", "perm": {
        "permType": "READ", "key": b64("/app/"), "range_end": b64("/app0")}})
    _post(client, "/v3/auth/user/grant", {"user": "alice", "role": "reader"})
    _post(client, "/v3/auth/user/grant", {"user": "root", "role": "root"})
    last = _put(client, "z/last", "end")
    return compacted, last


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory, session_processes: Processes,
           etcd_binary: str) -> Iterator[Source]:
    base = tmp_path_factory.mktemp("etcd-source")
    etcd = session_processes.etcd(base / "etcd", args=ETCD_ARGS)
    try:
        with httpx.Client(base_url=etcd.url, timeout=10.0) as client:
            compacted, revision = _fill(client)
        saved = session_processes.run([ETCDCTL, "--endpoints", etcd.url, "snapshot", "save",
                                       str(base / "saved.db")], env={"ETCDCTL_API": "3"})
        assert saved.returncode == 0, saved.stderr
    finally:
        etcd.stop()
    shutil.copyfile(base / "etcd" / "member" / "snap" / "db", base / "member.db")
    yield Source(base / "saved.db", base / "member.db", compacted, revision)


def _restore_flags(name: str) -> tuple[list[str], str]:
    peer = f"http://127.0.0.1:{free_port()}"
    return ["--name", name, "--initial-cluster", f"{name}={peer}",
            "--initial-advertise-peer-urls", peer], peer


def _restored_pair(source_file: Path, tmp_path: Path, processes: Processes,
                   extra: tuple[str, ...]) -> tuple[ServerProcess, ServerProcess]:
    """A real etcd restored by etcdctl and a confagent store restored by confagent, from one file."""
    flags, peer = _restore_flags("test")
    restored = processes.run([ETCDCTL, "snapshot", "restore", str(source_file), "--data-dir",
                              str(tmp_path / "etcd"), *flags, *extra], env={"ETCDCTL_API": "3"})
    assert restored.returncode == 0, restored.stderr
    etcd = processes.etcd(tmp_path / "etcd", args=[*ETCD_ARGS, "--listen-peer-urls", peer, *flags])
    flags, peer = _restore_flags("test")
    assert main(["snapshot", "restore", str(source_file), "--data-dir", str(tmp_path / "ours"),
                 *flags, *extra]) == 0
    ours = processes.store(tmp_path / "ours", args=[*ETCD_ARGS, "--listen-peer-urls", peer, *flags])
    return etcd, ours


@pytest.fixture(params=["saved", "member_db"])
def restored(request: pytest.FixtureRequest, source: Source, tmp_path: Path,
             etcd_processes: Processes) -> Iterator[Pair]:
    """Both servers restored from one of the two files (``--skip-hash-check`` for the member's db)."""
    path, extra = (source.saved, ()) if request.param == "saved" else (source.member_db,
                                                                      ("--skip-hash-check",))
    etcd, ours = _restored_pair(path, tmp_path, etcd_processes, extra)
    pair = Pair(etcd.url, ours.url)
    try:
        yield pair
    finally:
        pair.close()


ALL_KEYS = {"key": b64(b"\0"), "range_end": b64(b"\0")}


def test_every_key_at_every_revision_is_etcds(restored: Pair, source: Source) -> None:
    now = restored.same("/v3/kv/range", ALL_KEYS).body
    assert int(now["header"]["revision"]) == source.revision
    assert int(now["count"]) > BULK_KEYS - 50
    for revision in range(source.compacted - 2, source.revision + 2):
        restored.same("/v3/kv/range", {**ALL_KEYS, "revision": str(revision)})
    restored.same("/v3/kv/range", {"key": b64("big")})
    restored.same("/v3/kv/range", {**ALL_KEYS, "keys_only": True, "count_only": True})


def test_leases_with_their_ttls_and_keys_are_etcds(restored: Pair) -> None:
    theirs, ours = restored.call("/v3/lease/leases", {})
    ids = sorted(int(lease["ID"]) for lease in theirs.body["leases"])
    assert sorted(int(lease["ID"]) for lease in ours.body["leases"]) == ids
    assert len(ids) == 3
    for lease_id in ids:
        theirs, ours = restored.call("/v3/lease/timetolive", {"ID": str(lease_id), "keys": True})
        for answer in (theirs, ours):
            assert 0 < int(answer.body["TTL"]) <= int(answer.body["grantedTTL"])
            answer.body["keys"] = sorted(answer.body.get("keys", []))
            answer.body.pop("TTL")
            answer.body.pop("header")
        assert ours.body == theirs.body


def test_users_roles_and_passwords_are_etcds(restored: Pair) -> None:
    for path, body in (("/v3/auth/user/list", {}), ("/v3/auth/role/list", {}),
                       ("/v3/auth/user/get", {"name": "alice"}), ("/v3/auth/role/get", {"role": "reader"})):
        restored.same(path, body)
    restored.same("/v3/auth/enable", {})
    for user, password in (("alice", "alice-secret"), ("alice", "wrong"), ("root", "root-secret")):
        theirs, ours = restored.call("/v3/auth/authenticate", {"name": user, "password": password})
        assert (ours.status, "token" in ours.body) == (theirs.status, "token" in theirs.body), user


def test_revisions_and_compaction_go_on_from_etcds(restored: Pair, source: Source) -> None:
    restored.same("/v3/kv/compaction", {"revision": str(source.compacted)})
    assert int(restored.same("/v3/kv/put", {"key": b64("after"), "value": b64("1")}).body
               ["header"]["revision"]) == source.revision + 1
    restored.same("/v3/kv/compaction", {"revision": str(source.revision)})
    restored.same("/v3/kv/range", {**ALL_KEYS, "revision": str(source.revision - 1)})


# -- damaged files ---------------------------------------------------------------------------

PAGE_BYTES = 4096
META_CHECKSUM_OFFSET = 16 + 56
META_VERSION_OFFSET = 16 + 4


def _with_hash(database: bytes) -> bytes:
    return database + hashlib.sha256(database).digest()


def _refused(tmp_path: Path, content: bytes, *extra: str) -> str:
    """Restore ``content`` from a file; assert it is refused, nothing left; the error's words."""
    path = tmp_path / "damaged.db"
    path.write_bytes(content)
    data_dir = tmp_path / "restored"
    flags, _ = _restore_flags("test")
    error = _run_cli(["snapshot", "restore", str(path), "--data-dir", str(data_dir), *flags, *extra])
    assert not data_dir.exists()
    assert str(path) in error
    return error


def _run_cli(argv: list[str]) -> str:
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        assert main(argv) != 0
    return err.getvalue()


def _meta_fixed(database: bytearray, page: int) -> None:
    """Give meta page ``page`` its FNV-1a checksum again (after changing it)."""
    start = page * PAGE_BYTES + 16
    value = 0xCBF29CE484222325
    for byte in database[start:start + 56]:
        value = ((value ^ byte) * 0x100000001B3) & ((1 << 64) - 1)
    struct.pack_into("<Q", database, start + 56, value)


def test_a_damaged_or_foreign_file_is_refused_naming_the_file(source: Source, tmp_path: Path) -> None:
    database = source.member_db.read_bytes()
    saved = source.saved.read_bytes()
    assert "missing hash but --skip-hash-check=false" in _refused(tmp_path, database)
    assert "missing hash" in _refused(tmp_path, saved[:len(saved) // 2])
    assert "expected sha256" in _refused(tmp_path, saved[:-1] + bytes([saved[-1] ^ 1]))
    flipped = bytearray(saved)
    flipped[3 * PAGE_BYTES + 100] ^= 0xFF
    assert "expected sha256" in _refused(tmp_path, bytes(flipped))
    cut = saved[:2 * PAGE_BYTES + PAGE_BYTES // 2]
    assert "past the end of the file" in _refused(tmp_path, _with_hash(cut))
    assert "shorter than its meta page" in _refused(tmp_path, database[:40], "--skip-hash-check")


def test_bad_meta_pages_are_refused_as_bbolt_refuses_them(source: Source, tmp_path: Path) -> None:
    database = bytearray(source.member_db.read_bytes())
    foreign = bytearray(database)
    for page in (0, 1):
        foreign[page * PAGE_BYTES + 16] ^= 0xFF
    assert "not a confagent snapshot file, nor an etcd database" in \
        _refused(tmp_path, _with_hash(bytes(foreign)))
    other_version = bytearray(database)
    for page in (0, 1):
        struct.pack_into("<I", other_version, page * PAGE_BYTES + META_VERSION_OFFSET, 3)
        _meta_fixed(other_version, page)
    assert "bbolt database version 3, expected 2" in _refused(tmp_path, _with_hash(bytes(other_version)))
    unsummed = bytearray(database)
    for page in (0, 1):
        unsummed[page * PAGE_BYTES + META_CHECKSUM_OFFSET] ^= 1
    assert "fails its checksum" in _refused(tmp_path, _with_hash(bytes(unsummed)))


def test_one_bad_meta_page_is_survived_as_bbolt_survives_it(source: Source, tmp_path: Path,
                                                           processes: Processes) -> None:
    """bbolt reads the other meta page (an older transaction) when one fails its checksum."""
    database = bytearray(source.member_db.read_bytes())
    database[META_CHECKSUM_OFFSET] ^= 1
    path = tmp_path / "one-bad-meta.db"
    path.write_bytes(_with_hash(bytes(database)))
    flags, _ = _restore_flags("test")
    assert main(["snapshot", "restore", str(path), "--data-dir", str(tmp_path / "ours"), *flags]) == 0


@pytest.mark.parametrize("write_out", ["simple", "json", "table"])
def test_status_of_etcds_files_is_etcdctls(source: Source, processes: Processes, write_out: str,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    for path in (source.saved, source.member_db):
        theirs = processes.run([ETCDCTL, "snapshot", "status", str(path), "-w", write_out],
                               env={"ETCDCTL_API": "3"})
        capsys.readouterr()
        assert main(["snapshot", "status", str(path), "-w", write_out]) == 0
        assert theirs.returncode == 0, theirs.stderr
        assert capsys.readouterr().out == theirs.stdout.decode()


WATCH_BOUND_S = 10.0


def _events_until(url: str, create: dict[str, object], last_key: bytes) -> list[object]:
    """The events of a watch from ``create``, up to the one on ``last_key`` (bounded by a deadline)."""
    events: list[object] = []
    body = orjson.dumps({"create_request": create})
    with httpx.Client(timeout=WATCH_BOUND_S) as client, \
            client.stream("POST", url + "/v3/watch", content=body) as response:
        for line in response.iter_lines():
            result = orjson.loads(line)["result"] if line.strip() else {}
            events.extend(result.get("events", []))
            if "canceled" in result or any(base64.b64decode(event["kv"]["key"]) == last_key
                                           for event in result.get("events", [])):
                return events if events else [result]
    return events


@pytest.mark.parametrize("prev_kv", [False, True])
def test_a_watch_replays_etcds_history(restored: Pair, source: Source, prev_kv: bool) -> None:
    """The restored history, as events: every change from the compaction on (prev_kv: each one's
    previous version, where etcd still has it), and a watch from below it canceled as etcd's."""
    restored.same("/v3/kv/put", {"key": b64("zz/sentinel"), "value": b64("1")})
    for start in (source.compacted, source.compacted + 1, source.compacted - 1):
        create = {**ALL_KEYS, "start_revision": str(start), "prev_kv": prev_kv}
        theirs = _events_until(str(restored.etcd.base_url), create, b"zz/sentinel")
        ours = _events_until(str(restored.ours.base_url), create, b"zz/sentinel")
        assert normalize(ours) == normalize(theirs), start
        assert len(theirs) > 3 or start < source.compacted
