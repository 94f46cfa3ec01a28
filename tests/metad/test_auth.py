"""``confagent metad`` over an etcd with auth on, signed in as a user (the agent's credential flags)."""

from __future__ import annotations

import uuid
from pathlib import Path

from confagent.client import ClientConfig, EtcdClient
from confagent.testing import Processes, eventually
from tests.client.support import run
from tests.metad.support import client_from, start_metad

ROOT_PASSWORD = f"root-{uuid.uuid4().hex[:8]}"


def _auth_on(url: str) -> None:
    async def body() -> None:
        async with EtcdClient(ClientConfig(endpoints=(url,))) as etcd:
            await etcd.auth.user_add("root", ROOT_PASSWORD)
            await etcd.auth.role_add("root")
            await etcd.auth.user_grant_role("root", "root")
            await etcd.auth.enable()

    run(body)


def test_metad_signs_in_with_a_password_file(tmp_path: Path, own_server: str, processes: Processes) -> None:
    _auth_on(own_server)
    password_file = tmp_path / "password"
    password_file.write_text(ROOT_PASSWORD + "\n")
    metad = start_metad(processes, tmp_path, "--backend", "etcd", "--node", own_server,
                        "--username", "root", "--password-file", str(password_file))
    assert metad.manage("PUT", "/v1/mapping/127.0.0.9", {"node": "/auth/n"}).status_code == 200
    assert metad.manage("PUT", "/v1/data/auth/n", {"name": "x"}).status_code == 200
    with client_from("127.0.0.9") as host:
        eventually(lambda: host.get(metad.data_url + "/self"),
                   lambda r: r.status_code == 200 and r.text == "/node/name\tx\n")
    assert ROOT_PASSWORD not in metad.process.log_path.read_text()
