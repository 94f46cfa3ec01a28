"""EtcdClient's auth against a real server with auth turned on: etcd's Auth service, and a client signed in.

Each test turns auth on in a server of its own (``own_server``: auth is the
whole server's state). The answers expected are the ones etcd 3.4.23 gives
(recorded through its gateway and etcdctl).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest

from confagent.client import ClientConfig, Credentials, EtcdClient, Permission, PermissionType
from confagent.errors import (
    AuthFailed,
    ClientError,
    InvalidAuthToken,
    PermissionDenied,
    PermissionNotGranted,
    RoleAlreadyExist,
    RoleNotFound,
    RoleNotGranted,
    RootRoleNotExist,
    RootUserNotExist,
    UserAlreadyExist,
    UserEmpty,
    UserNotFound,
)
from tests.client.support import run

ROOT_PASSWORD = f"root-{uuid.uuid4().hex[:8]}"
ALICE_PASSWORD = f"alice-{uuid.uuid4().hex[:8]}"


@asynccontextmanager
async def client(url: str, user: str = "", password: str = "") -> AsyncIterator[EtcdClient]:
    credentials = Credentials(user, password) if user else None
    async with EtcdClient(ClientConfig(endpoints=(url,), credentials=credentials)) as etcd:
        yield etcd


async def enable_auth(url: str) -> None:
    """root (with the root role) and alice (read and write under /app/), then auth on."""
    async with client(url) as etcd:
        await etcd.auth.user_add("root", ROOT_PASSWORD)
        await etcd.auth.role_add("root")
        await etcd.auth.user_grant_role("root", "root")
        await etcd.auth.user_add("alice", ALICE_PASSWORD)
        await etcd.auth.role_add("app")
        await etcd.auth.role_grant_permission("app", PermissionType.READWRITE, b"/app/", prefix=True)
        await etcd.auth.user_grant_role("alice", "app")
        await etcd.auth.enable()


def test_users_and_roles_and_their_refusals(own_server: str) -> None:
    async def body() -> None:
        await enable_auth(own_server)
        async with client(own_server, "root", ROOT_PASSWORD) as root:
            auth = root.auth
            await auth.user_add("bob", "pw")
            await auth.user_add("carol", no_password=True)
            with pytest.raises(UserAlreadyExist):
                await auth.user_add("bob", "again")
            assert (await auth.user_list()).response == ("alice", "bob", "carol", "root")
            await auth.role_add("r")
            with pytest.raises(RoleAlreadyExist):
                await auth.role_add("r")
            await auth.role_grant_permission("r", PermissionType.READ, b"/x", b"/z")
            await auth.role_grant_permission("r", PermissionType.WRITE, b"/k")
            await auth.role_grant_permission("r", PermissionType.READ, b"/m", from_key=True)
            await auth.role_grant_permission("r", PermissionType.READWRITE, b"/p/", prefix=True)
            assert (await auth.role_get("r")).response == (
                Permission(b"/k", type=PermissionType.WRITE), Permission(b"/m", b"\x00", PermissionType.READ),
                Permission(b"/p/", b"/p0", PermissionType.READWRITE),
                Permission(b"/x", b"/z", PermissionType.READ))
            await auth.role_revoke_permission("r", b"/p/", prefix=True)
            with pytest.raises(PermissionNotGranted):
                await auth.role_revoke_permission("r", b"/p/", prefix=True)
            await auth.user_grant_role("bob", "r")
            assert (await auth.user_get("bob")).response == ("r",)
            assert (await auth.user_get("carol")).response == ()
            await auth.user_revoke_role("bob", "r")
            with pytest.raises(RoleNotGranted):
                await auth.user_revoke_role("bob", "r")
            await auth.user_change_password("bob", "new")
            assert (await auth.authenticate("bob", "new")).response
            with pytest.raises(AuthFailed):
                await auth.authenticate("bob", "pw")
            await auth.role_delete("r")
            await auth.user_delete("bob")
            with pytest.raises(UserNotFound):
                await auth.user_get("bob")
            with pytest.raises(RoleNotFound):
                await auth.role_get("r")
            assert (await auth.role_list()).response == ("app", "root")

    run(body)


def test_permission_keys_take_one_form(own_server: str) -> None:
    async def body() -> None:
        async with client(own_server) as etcd:
            with pytest.raises(ClientError, match="one at most"):
                await etcd.auth.role_grant_permission("r", PermissionType.READ, b"/a", prefix=True,
                                                      from_key=True)
            with pytest.raises(ClientError, match="one at most"):
                await etcd.auth.role_revoke_permission("r", b"/a", b"/b", prefix=True)

    run(body)


def test_auth_is_enabled_only_with_root_holding_the_root_role(own_server: str) -> None:
    async def body() -> None:
        async with client(own_server) as etcd:
            with pytest.raises(RootUserNotExist):
                await etcd.auth.enable()
            await etcd.auth.user_add("root", ROOT_PASSWORD)
            with pytest.raises(RootRoleNotExist):
                await etcd.auth.enable()
            await etcd.auth.role_add("root")
            await etcd.auth.user_grant_role("root", "root")
            await etcd.auth.enable()
            with pytest.raises(UserEmpty):
                await etcd.get(b"/app/a")
        async with client(own_server, "root", ROOT_PASSWORD) as root:
            await root.auth.disable()
            assert (await root.get(b"/app/a")).response.count == 0

    run(body)


def test_a_signed_in_user_reads_and_writes_what_its_roles_allow(own_server: str) -> None:
    async def body() -> None:
        await enable_auth(own_server)
        async with client(own_server, "alice", ALICE_PASSWORD) as alice:
            await alice.put(b"/app/a", b"1")
            assert (await alice.get(b"/app/", prefix=True)).response.kvs[0].value == b"1"
            with pytest.raises(PermissionDenied):
                await alice.put(b"/other/a", b"1")
            with pytest.raises(PermissionDenied):
                await alice.auth.user_list()
        async with client(own_server, "root", ROOT_PASSWORD) as root:
            members = await root.member_list()
            (member,) = members.response
            assert (await root.status(member.client_urls[0])).response.version

    run(body)


def test_an_invalidated_token_is_replaced_once_and_the_call_sent_again(own_server: str) -> None:
    """etcd forgets every token when auth is turned off and on again: the client signs in again."""

    async def body() -> None:
        await enable_auth(own_server)
        async with client(own_server, "alice", ALICE_PASSWORD) as alice, \
                client(own_server, "root", ROOT_PASSWORD) as root:
            await alice.put(b"/app/a", b"1")
            old_token = (await alice.auth.authenticate("alice", ALICE_PASSWORD)).response
            await root.auth.disable()
            await root.auth.enable()
            async with httpx.AsyncClient() as http:
                refused = await http.post(f"{own_server}/v3/kv/range", json={"key": "L2FwcC9h"},
                                          headers={"Authorization": old_token})
            assert refused.json()["message"] == InvalidAuthToken.default_message
            await alice.put(b"/app/a", b"2")  # its token was forgotten with the others
            assert (await alice.get(b"/app/a")).response.kvs[0].value == b"2"
            assert [e async for e in _first_event(alice, root)] == [b"3"]

    run(body)


async def _first_event(watcher: EtcdClient, writer: EtcdClient) -> AsyncIterator[bytes]:
    """A watch opened signed in: the value of the first put after it was created."""
    async for message in watcher.watch(b"/app/", prefix=True):
        if message.response.created:
            await writer.put(b"/app/b", b"3")
        if message.response.events:
            yield message.response.events[0].kv.value
            return


def test_refused_credentials_name_the_user_and_never_the_password(own_server: str) -> None:
    async def body() -> None:
        await enable_auth(own_server)
        for user, password in (("alice", "wrong-password"), ("nobody", ALICE_PASSWORD)):
            async with client(own_server, user, password) as etcd:
                with pytest.raises(AuthFailed) as refused:
                    await etcd.get(b"/app/a")
            assert refused.value.message == AuthFailed.default_message
            assert str(refused.value) == f"{AuthFailed.default_message} (signing in as user {user!r})"
            assert password not in str(refused.value) + repr(refused.value)
        assert ALICE_PASSWORD not in repr(Credentials("alice", ALICE_PASSWORD))

    run(body)


def test_credentials_on_a_server_without_auth_go_without_a_token(own_server: str) -> None:
    async def body() -> None:
        async with client(own_server, "alice", "any") as etcd:
            await etcd.login()
            await etcd.put(b"/app/a", b"1")
            assert (await etcd.get(b"/app/a")).response.count == 1

    run(body)
