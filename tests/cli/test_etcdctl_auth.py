"""etcd's Auth service through the real etcdctl 3.4 over gRPC, against a real etcd and ``confagent store``.

Until confagent keeps users and roles, its Auth service answers as etcd 3.4 does
while auth is disabled and nobody exists (README, "etcd's gRPC API"): the same
outputs, errors and exit codes; adding a user or a role is the one refusal of
its own.
"""

from __future__ import annotations

import uuid

import pytest

from confagent.testing import Processes
from tests.cli.support import Tool

pytestmark = [pytest.mark.etcd]

NOBODY = f"nobody-{uuid.uuid4().hex[:6]}"
AS_ETCD = [
    ("user", "list"), ("role", "list"), ("user", "get", NOBODY), ("role", "get", NOBODY),
    ("user", "delete", NOBODY), ("role", "delete", NOBODY), ("user", "grant-role", NOBODY, NOBODY),
    ("role", "grant-permission", NOBODY, "read", "/a"), ("auth", "enable"), ("auth", "disable"),
]


def test_auth_answers_as_etcd_with_auth_disabled_and_nobody(etcd_server: str, confagent_server: str,
                                                            processes: Processes) -> None:
    etcdctl, ours = Tool("etcdctl", etcd_server), Tool("etcdctl", confagent_server)
    for args in AS_ETCD:
        assert ours.run(processes, *args) == etcdctl.run(processes, *args), args
    assert ours.run(processes, "user", "list") == (0, "", "")  # nothing above created anybody


def test_adding_a_user_or_a_role_is_refused(confagent_server: str, processes: Processes) -> None:
    ours = Tool("etcdctl", confagent_server)
    refused = ("Error: rpc error: code = Unimplemented desc = "
               "confagent: users and roles are not supported yet (auth stays disabled)\n")
    assert ours.run(processes, "user", "add", NOBODY, "--new-user-password", "x") == (1, "", refused)
    assert ours.run(processes, "role", "add", NOBODY) == (1, "", refused)
    assert ours.run(processes, "role", "list") == (0, "", "")
