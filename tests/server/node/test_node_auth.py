"""A member's auth store: commands through the log, checks as writes apply, tokens, and the state
surviving a restart (replayed from the log, or read from a snapshot) and a snapshot saved and
restored (``snapshot save`` then ``snapshot restore``, as etcd's snapshots keep the users).

A real StoreNode on a real data directory; what etcd answers to the same calls is the
differential tests' business (tests/e2e), here the member's own rules (``node._auth``).
"""

from __future__ import annotations

import asyncio
import hashlib
from pathlib import Path

import pytest

from confagent import auth
from confagent.auth import AuthInfo, Permission, PermissionType
from confagent.errors import AuthOldRevision, PermissionDenied, UserEmpty
from confagent.kv import PutRequest, RangeRequest
from confagent.server import RestoreConfig, restore_snapshot
from confagent.server.api._snapshot_stream import take_image
from confagent.server.node import NodeConfig, StoreNode
from confagent.server.storage import encode_image

HASH = b"$2b$04$" + b"x" * 53  # the member stores what the edge hashed; it never checks it


def config(data_dir: Path, snapshot_entries: int = 20_000) -> NodeConfig:
    return NodeConfig(data_dir=data_dir, member_id=1, cluster_id=1, snapshot_entries=snapshot_entries)


async def started(data_dir: Path, snapshot_entries: int = 20_000) -> StoreNode:
    node = await StoreNode.open(config(data_dir, snapshot_entries))
    await node.start()
    return node


async def enable(node: StoreNode) -> AuthInfo:
    """A root user with the root role, a user 'app' with read-write on app/, auth on; root's credentials."""
    for command in (auth.UserAdd("root", HASH), auth.UserGrantRole("root", "root"), auth.UserAdd("app", HASH),
                    auth.RoleAdd("app"), auth.UserGrantRole("app", "app"),
                    auth.RoleGrantPermission("app", Permission(b"app/", b"app0", PermissionType.READWRITE)),
                    auth.AuthEnable()):
        await node.propose_auth(command, None)
    return AuthInfo("root", node.auth.state.revision)


def test_commands_apply_through_the_log_and_admin_calls_want_root_once_enabled(tmp_path: Path) -> None:
    async def scenario() -> None:
        node = await started(tmp_path)
        try:
            root = await enable(node)
            assert node.auth.enabled and auth.user_list(node.auth.state) == ("app", "root")
            with pytest.raises(UserEmpty):
                await node.propose_auth(auth.RoleAdd("other"), None)
            with pytest.raises(PermissionDenied):
                await node.propose_auth(auth.RoleAdd("other"), AuthInfo("app", root.revision))
            await node.propose_auth(auth.RoleAdd("other"), root)
            assert auth.role_list(node.auth.state) == ("app", "other")  # root: granted, never added
        finally:
            await node.stop()

    asyncio.run(scenario())


def test_a_token_names_its_user_and_writes_are_checked_as_they_apply(tmp_path: Path) -> None:
    async def scenario() -> None:
        node = await started(tmp_path)
        try:
            await enable(node)
            token = await node.propose_auth(auth.Authenticate("app", "abcdefghijklmnop"), None)
            assert token is not None and token.startswith("abcdefghijklmnop.")
            app = node.auth.credentials_of(token, asyncio.get_running_loop().time())
            assert app == AuthInfo("app", node.auth.state.revision)
            await node.propose(PutRequest(b"app/x", b"1"), app)
            with pytest.raises(PermissionDenied):
                await node.propose(PutRequest(b"other/x", b"1"), app)
            with pytest.raises(UserEmpty):
                await node.propose(PutRequest(b"app/x", b"2"), AuthInfo())
            await node.propose_auth(auth.RoleAdd("later"), AuthInfo("root", node.auth.state.revision))
            with pytest.raises(AuthOldRevision):  # checked before the roles changed
                await node.propose(PutRequest(b"app/x", b"3"), app)
            assert [kv.value for kv in node.kv.range(RangeRequest(key=b"app/x")).kvs] == [b"1"]
            await node.propose_auth(auth.UserDelete("app"), AuthInfo("root", node.auth.state.revision))
            assert node.auth.credentials_of(token, asyncio.get_running_loop().time()) is None
        finally:
            await node.stop()

    asyncio.run(scenario())


@pytest.mark.parametrize("snapshot_entries", [20_000, 3], ids=["from the log", "from a snapshot"])
def test_the_auth_state_survives_a_restart(tmp_path: Path, snapshot_entries: int) -> None:
    async def scenario() -> tuple[auth.AuthState, auth.AuthState]:
        node = await started(tmp_path, snapshot_entries)
        try:
            root = await enable(node)
            for i in range(10):
                await node.propose(PutRequest(b"app/%d" % i, b"v"), root)
            before = node.auth.state
        finally:
            await node.stop()
        reopened = await StoreNode.open(config(tmp_path, snapshot_entries))
        await reopened.stop()
        return before, reopened.auth.state

    before, after = asyncio.run(scenario())
    assert after == before and after.enabled
    snapshots = list((tmp_path / "member" / "snap").glob("*.snap"))
    assert bool(snapshots) == (snapshot_entries == 3)


def test_users_and_roles_travel_in_a_saved_snapshot_to_the_member_restored_from_it(tmp_path: Path) -> None:
    async def saved() -> tuple[auth.AuthState, Path]:
        node = await started(tmp_path / "old")
        try:
            await enable(node)
            image = take_image(node)
        finally:
            await node.stop()
        path = tmp_path / "snap.db"
        body = encode_image(image)
        path.write_bytes(body + hashlib.sha256(body).digest())
        return node.auth.state, path

    async def restored(path: Path) -> auth.AuthState:
        done = restore_snapshot(RestoreConfig(snapshot_path=path, data_dir=tmp_path / "new"))
        node = await StoreNode.open(NodeConfig(data_dir=tmp_path / "new", member_id=done.member_id,
                                               cluster_id=done.cluster_id))
        await node.stop()
        return node.auth.state

    before, path = asyncio.run(saved())
    assert asyncio.run(restored(path)) == before and before.enabled


def test_a_call_with_a_simple_token_waits_for_the_entry_it_names(tmp_path: Path) -> None:
    async def scenario() -> None:
        node = await started(tmp_path)
        try:
            assert node.token_wait("abcdefghijklmnop.999") is None  # auth disabled: nobody is asked
            await enable(node)
            applied = node.core.log.applied
            assert node.token_wait(f"abcdefghijklmnop.{applied}") is None  # applied: nothing to wait for
            assert node.token_wait("eyJhbGciOiJFUzI1NiJ9.e30.c2ln") is None  # a JWT names no entry
            wait = node.token_wait(f"abcdefghijklmnop.{applied + 1}")
            assert wait is not None
            waiting = asyncio.ensure_future(wait)
            await asyncio.sleep(0)
            assert not waiting.done()
            token = await node.propose_auth(auth.Authenticate("app", "abcdefghijklmnop"), None)
            assert token == f"abcdefghijklmnop.{applied + 1}"
            await asyncio.wait_for(waiting, timeout=10)
            assert node.auth.credentials_of(token, asyncio.get_running_loop().time()) is not None
        finally:
            await node.stop()

    asyncio.run(scenario())
