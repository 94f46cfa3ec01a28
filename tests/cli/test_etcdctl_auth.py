"""etcd's Auth service through the real etcdctl 3.4 over gRPC, against a real etcd and ``confagent store``.

With auth disabled and nobody created, the answers of the shared servers; then a whole
session on servers of the test's own: users and roles made, auth enabled, reads and
writes as users with and without the permission, refused credentials, a permission
revoked, a user deleted, auth disabled; and locks and elections as a user whose
role allows one prefix. Every step's exit code, output and error must be etcd's.
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



ROOT, APP = ("--user", "root:rootpw"), ("--user", "app:apppw")
SESSION = [
    ("user", "add", "root", "--new-user-password", "rootpw"), ("user", "add", "app:apppw"),
    ("role", "add", "app"), ("role", "grant-permission", "app", "readwrite", "app/", "--prefix"),
    ("role", "grant-permission", "app", "read", "ro/", "--prefix"), ("user", "grant-role", "app", "app"),
    ("user", "grant-role", "root", "root"), ("auth", "enable"), ("auth", "enable"),
    ("put", "x", "1"), (*ROOT, "put", "x", "1"), (*ROOT, "put", "ro/a", "1"),
    (*APP, "put", "app/a", "1"), (*APP, "put", "other", "1"), (*APP, "put", "ro/a", "2"),
    (*APP, "get", "app/a"), (*APP, "get", "ro/a"), (*APP, "get", "x"), (*APP, "get", "app/", "--prefix"),
    (*APP, "del", "app/a", "--prev-kv"),
    ("--user", "app:wrong", "get", "x"), ("--user", "nobody:x", "get", "x"),
    (*ROOT, "role", "get", "app"), (*ROOT, "user", "list"), (*ROOT, "role", "list"),
    (*ROOT, "user", "get", "app"), (*APP, "user", "get", "app"), (*APP, "user", "list"),
    (*APP, "role", "get", "app"), (*APP, "role", "add", "other"), (*APP, "auth", "disable"),
    (*ROOT, "role", "revoke-permission", "app", "app/", "--prefix"), (*APP, "put", "app/b", "1"),
    (*ROOT, "role", "revoke-permission", "app", "app/", "--prefix"),
    (*ROOT, "user", "revoke-role", "root", "root"), (*ROOT, "role", "delete", "root"),
    (*ROOT, "user", "delete", "app"), (*APP, "get", "x"),
    (*ROOT, "auth", "disable"), ("get", "x"), ("user", "list"),
]


def test_an_auth_session_through_etcdctl_answers_as_etcd(own_etcd: str, own_confagent: str,
                                                        processes: Processes) -> None:
    etcdctl, ours = Tool("etcdctl", own_etcd), Tool("etcdctl", own_confagent)
    for args in SESSION:
        assert ours.run(processes, *args) == etcdctl.run(processes, *args), args


SETUP = [
    ("user", "add", "root:rootpw"), ("user", "grant-role", "root", "root"), ("user", "add", "app:apppw"),
    ("role", "add", "app"), ("role", "grant-permission", "app", "readwrite", "locks/", "--prefix"),
    ("user", "grant-role", "app", "app"), ("auth", "enable"),
]
LOCKS = [
    (*APP, "lock", "locks/one", "--", "echo", "held"), (*APP, "lock", "other", "--", "echo", "held"),
    ("lock", "locks/one", "--", "echo", "held"),
    ("--user", "app:wrong", "lock", "locks/one", "--", "echo", "held"),
    (*APP, "elect", "other", "proposal"), (*APP, "elect", "--listen", "other"),
    (*APP, "get", "locks/", "--prefix", "--keys-only"), (*ROOT, "get", "other", "--prefix", "--keys-only"),
]


def test_locks_and_elections_as_a_user_answer_as_etcd(own_etcd: str, own_confagent: str,
                                                      processes: Processes) -> None:
    etcdctl, ours = Tool("etcdctl", own_etcd), Tool("etcdctl", own_confagent)
    for args in (*SETUP, *LOCKS):
        assert ours.run(processes, *args) == etcdctl.run(processes, *args), args
