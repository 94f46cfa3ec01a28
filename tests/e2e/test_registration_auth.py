"""``confagent register`` signed in as a user of a server with auth on (``own_server``), its password
from the environment: it registers, and its key is revoked when it stops; refused, it says so and ends."""

from __future__ import annotations

import os
import signal
import subprocess
import uuid

from confagent.client import ClientConfig, Credentials, EtcdClient, PermissionType
from confagent.testing import Processes, confagent_argv, until
from tests.client.support import run

ROOT_PASSWORD = f"root-{uuid.uuid4().hex[:8]}"
ALICE_PASSWORD = f"alice-{uuid.uuid4().hex[:8]}"
KEY = "/services/web/a"


def _auth_on(url: str) -> None:
    """root, and alice (read and write under /services/); then auth on."""

    async def body() -> None:
        async with EtcdClient(ClientConfig(endpoints=(url,))) as etcd:
            await etcd.auth.user_add("root", ROOT_PASSWORD)
            await etcd.auth.role_add("root")
            await etcd.auth.user_grant_role("root", "root")
            await etcd.auth.user_add("alice", ALICE_PASSWORD)
            await etcd.auth.role_add("services")
            await etcd.auth.role_grant_permission("services", PermissionType.READWRITE, b"/services/",
                                                  prefix=True)
            await etcd.auth.user_grant_role("alice", "services")
            await etcd.auth.enable()

    run(body)


def _registered(url: str) -> bool:
    async def body() -> bool:
        credentials = Credentials("root", ROOT_PASSWORD)
        async with EtcdClient(ClientConfig(endpoints=(url,), credentials=credentials)) as root:
            return (await root.get(KEY.encode())).response.count == 1

    return run(body)


def _register(processes: Processes, url: str, password: str) -> subprocess.Popen[bytes]:
    return processes.popen(confagent_argv("register", KEY, "10.0.0.1:80", "--ttl", "5", "--endpoints", url),
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                           env={**os.environ, "CONFAGENT_USER": "alice", "CONFAGENT_PASSWORD": password})


def test_register_signed_in_registers_and_revokes(own_server: str, processes: Processes) -> None:
    _auth_on(own_server)
    registrant = _register(processes, own_server, ALICE_PASSWORD)
    until(lambda: _registered(own_server), "the key registered")
    registrant.send_signal(signal.SIGTERM)
    assert registrant.wait(30) == 0
    assert not _registered(own_server)


def test_register_with_a_wrong_password_says_so_and_ends(own_server: str, processes: Processes) -> None:
    _auth_on(own_server)
    registrant = _register(processes, own_server, "wrong-password")
    assert registrant.wait(30) == 2
    assert registrant.stderr is not None
    refused = b"Error: etcdserver: authentication failed, invalid user ID or password\n"
    assert registrant.stderr.read() == refused
    assert not _registered(own_server)
