"""Snapshots end to end: the gateway stream against real etcd's, save, restore, and new clusters from a file.

One store is filled (keys, versions, a delete, a compaction, a lease), its snapshot
saved with ``confagent snapshot save``, and the store stopped; the file is then
restored into one new member and into a new three-member cluster, and every
restored member must serve the same keys, history, revision and leases.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import orjson
import pytest

from confagent.cli import main
from confagent.client import EtcdClient
from confagent.errors import Compacted
from confagent.server.membership import member_id_of
from confagent.testing import Processes, ServerProcess, b64, free_port
from tests.e2e.differential import Pair

SNAPSHOT_PATH = "/v3/maintenance/snapshot"
LEASE_TTL_S = 600
COMPACTED_AT = 3


@dataclass(frozen=True)
class StoreState:
    """What a member serves: every key, the history above the compaction, leases."""

    revision: int
    keys: tuple[tuple[bytes, int, int, int, bytes, int], ...]
    at_revision_4: tuple[tuple[bytes, bytes], ...]
    leases: tuple[int, ...]
    compacted_below: bool


async def _state(url: str) -> StoreState:
    async with EtcdClient([url]) as client:
        everything = await client.get(b"\0", from_key=True)
        old = await client.get(b"\0", from_key=True, revision=4)
        leases = await client.leases()
        try:
            await client.get(b"\0", from_key=True, revision=COMPACTED_AT - 1)
            compacted = False
        except Compacted:
            compacted = True
    return StoreState(
        revision=everything.header.revision,
        keys=tuple((kv.key, kv.create_revision, kv.mod_revision, kv.version, kv.value, kv.lease)
                   for kv in everything.response.kvs),
        at_revision_4=tuple((kv.key, kv.value) for kv in old.response.kvs),
        leases=tuple(sorted(leases.response)), compacted_below=compacted)


async def _fill(url: str) -> None:
    async with EtcdClient([url]) as client:
        await client.put(b"app/a", b"1")
        await client.put(b"app/b", b"2")
        await client.put(b"app/a", b"1b")  # revision 4
        await client.compact(COMPACTED_AT)
        lease = await client.lease_grant(LEASE_TTL_S)
        await client.put(b"app/leased", b"x", lease=lease.response.id)
        await client.delete(b"app/b")
        for i in range(40):  # several stream chunks
            await client.put(b"bulk/%02d" % i, os.urandom(2000))


@dataclass(frozen=True)
class Saved:
    path: Path
    state: StoreState
    member_id: int


@pytest.fixture(scope="module")
def saved(tmp_path_factory: pytest.TempPathFactory, session_processes: Processes) -> Iterator[Saved]:
    """A filled store's snapshot file and what the store served when it was saved."""
    base = tmp_path_factory.mktemp("snapshot-source")
    store = session_processes.store(base / "data")
    try:
        asyncio.run(_fill(store.url))
        state = asyncio.run(_state(store.url))
        member_id = int(httpx.post(store.url + "/v3/maintenance/status", json={}).json()
                        ["header"]["member_id"])
        assert main(["snapshot", "save", str(base / "s.db"), "--endpoints", store.url]) == 0
    finally:
        store.stop()
    yield Saved(base / "s.db", state, member_id)


def _flag(argv: list[str], name: str) -> str:
    return argv[argv.index(name) + 1]


def _restore(saved: Saved, member: ServerProcess) -> None:
    argv = member.argv
    code = main(["snapshot", "restore", str(saved.path), "--data-dir", str(member.data_dir),
                 "--name", _flag(argv, "--name"), "--initial-cluster", _flag(argv, "--initial-cluster"),
                 "--initial-advertise-peer-urls", _flag(argv, "--initial-advertise-peer-urls")])
    assert code == 0


def test_one_member_restored_serves_the_same_state_as_a_new_cluster(saved: Saved, tmp_path: Path,
                                                                    processes: Processes) -> None:
    peer = f"http://127.0.0.1:{free_port()}"
    flags = ["--name", "solo", "--initial-cluster", f"solo={peer}", "--initial-advertise-peer-urls", peer]
    assert main(["snapshot", "restore", str(saved.path), "--data-dir", str(tmp_path / "solo"), *flags]) == 0
    store = processes.store(tmp_path / "solo", args=flags)
    try:
        assert asyncio.run(_state(store.url)) == saved.state
        status = httpx.post(store.url + "/v3/maintenance/status", json={}).json()
        assert int(status["header"]["member_id"]) == member_id_of([peer], "etcd-cluster")
        assert int(status["header"]["member_id"]) != saved.member_id
        reply = httpx.post(store.url + "/v3/kv/put", json={"key": b64("after"), "value": b64("1")}).json()
        assert int(reply["header"]["revision"]) == saved.state.revision + 1
    finally:
        store.stop()


def test_three_members_restored_from_one_file_form_a_working_cluster(saved: Saved, tmp_path: Path,
                                                                     processes: Processes) -> None:
    members = processes.cluster(tmp_path, 3)
    for member in members:
        _restore(saved, member)
    for member in members:
        member.launch()
    try:
        for member in members:
            member.wait_healthy()
        for member in members:
            assert asyncio.run(_state(member.url)) == saved.state
        put = httpx.post(members[0].url + "/v3/kv/put", json={"key": b64("after"), "value": b64("3")})
        assert int(put.json()["header"]["revision"]) == saved.state.revision + 1
        after = httpx.post(members[2].url + "/v3/kv/range", json={"key": b64("after")}).json()
        assert after["kvs"][0]["value"] == b64("3")
        listed = httpx.post(members[1].url + "/v3/cluster/member/list", json={}).json()["members"]
        assert sorted(m["name"] for m in listed if "name" in m) == ["m0", "m1", "m2"]
    finally:
        for member in members:
            member.stop()


# -- the stream against real etcd's --------------------------------------------------------


def _stream_shape(response: httpx.Response) -> tuple[list[tuple[str, ...]], bytes]:
    """The keys of each message, checked against etcd 3.4's rules; the bytes it carried."""
    results = [orjson.loads(line)["result"] for line in response.content.splitlines() if line]
    blobs = [base64.b64decode(r["blob"]) for r in results]
    body = b"".join(blobs[:-1])
    assert blobs[-1] == hashlib.sha256(body).digest()
    sent = 0
    for result, blob in zip(results[:-1], blobs[:-1], strict=True):
        sent += len(blob)
        assert int(result.get("remaining_bytes", 0)) == len(body) - sent
        assert len(blob) == 32 * 1024 or sent == len(body)
    return [tuple(sorted(r)) for r in results], body


def test_the_snapshot_stream_has_etcds_shape(pair: Pair) -> None:
    for i in range(40):
        pair.same("/v3/kv/put", {"key": b64(f"bulk/{i:02d}"), "value": b64(os.urandom(3000))})
    theirs = pair.etcd.post(SNAPSHOT_PATH, content=b"{}")
    ours = pair.ours.post(SNAPSHOT_PATH, content=b"{}")
    assert ours.status_code == theirs.status_code == 200
    for header in ("content-type", "grpc-metadata-content-type", "access-control-allow-origin",
                   "transfer-encoding"):
        assert ours.headers.get(header) == theirs.headers.get(header), header
    their_keys, _ = _stream_shape(theirs)
    our_keys, _ = _stream_shape(ours)
    full, last, digest = ("blob", "remaining_bytes"), ("blob",), ("blob",)
    assert len(their_keys) > 3 and len(our_keys) > 3
    for keys in (their_keys, our_keys):
        assert keys == [full] * (len(keys) - 2) + [last, digest]


def test_snapshot_request_errors_match_etcds(pair: Pair) -> None:
    pair.same_error(SNAPSHOT_PATH, raw=b"xx")
    pair.same_error(SNAPSHOT_PATH, raw=b"[]")
    pair.same(SNAPSHOT_PATH, method="GET")


def test_save_from_a_real_etcd_gives_a_file_etcdctl_restores(tmp_path: Path, etcd_server: str) -> None:
    target = tmp_path / "etcd.db"
    assert main(["snapshot", "save", str(target), "--endpoints", etcd_server]) == 0
    restored = subprocess.run(["/usr/bin/etcdctl", "snapshot", "restore", str(target),
                               "--data-dir", str(tmp_path / "restored")],
                              capture_output=True, env={**os.environ, "ETCDCTL_API": "3"},
                              timeout=30, check=False)
    assert restored.returncode == 0, restored.stderr
