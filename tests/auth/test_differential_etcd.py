"""The auth core against a real etcd 3.4: the same grants and revokes, then the same requests as a user.

A seeded random sequence grants and revokes permissions (keys, ranges,
from-key, ranges whose end is below their key) on three roles and grants and
revokes the roles to a user, and adds, deletes and changes other users and
roles (empty names, root, no passwords), on a real etcd with auth enabled (as
root, through its JSON gateway) and on the core (``apply``); every answer must
be the same, refusals with etcd's words, and so must every list and get at the
end. Between changes, random ranges, puts, deletes
(with and without prev_kv), txns (compares and ops of both branches),
user/role gets, lease revokes and puts under a lease holding another key are
sent to etcd as the user, and etcd's permission denied or
not must be the core's check's answer. The seed is printed on failure
(``AUTH_DIFF_SEED`` replays one).

Left out, as known differences: grants that make a role hold more than 12
permissions (beyond that the order of permissions on one key is Go's unstable
sort's, which depends on the Go that built etcd), nested txns, which etcd 3.4.23 does not check
at all (a hole later etcd closed; the core checks them), and request ranges
whose end is not above their key (they name no key; etcd's answer depends on
the shape of its interval tree, the core refuses them). tests/auth/test_checks.py
has both.
"""

from __future__ import annotations

import base64
import os
import random
from pathlib import Path
from typing import Any

import httpx

from confagent.auth import (
    AuthEnable,
    AuthInfo,
    AuthState,
    Command,
    Permission,
    PermissionType,
    RoleAdd,
    RoleDelete,
    RoleGrantPermission,
    RoleRevokePermission,
    UserAdd,
    UserChangePassword,
    UserDelete,
    UserGrantRole,
    UserRevokeRole,
    apply,
    check_delete_range,
    check_lease_revoke,
    check_put,
    check_range,
    check_role_get,
    check_txn,
    check_user_get,
    password_hash_of,
    role_get,
    role_list,
    user_get,
    user_list,
)
from confagent.errors import AuthError, PermissionDenied
from confagent.kv import Compare, DeleteRangeRequest, PutRequest, RangeRequest, RequestOp, TxnRequest
from confagent.testing import Processes

ALPHABET = b"ab\0\xff"
ROLES = ("r0", "r1", "r2")
CHANGES, CHECKS_PER_CHANGE = 60, 5
MAX_SORTED_ALIKE = 12
"""Up to 12 permissions Go's sort.Sort is an insertion sort, stable; beyond, the order of a role's
permissions on one key is the build's Go sort's (the core keeps the grant order)."""
Json = dict[str, Any]


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


class Etcd:
    """A real etcd's JSON gateway, each call made with one user's token."""

    def __init__(self, url: str) -> None:
        self.http = httpx.Client(base_url=url, timeout=10.0)
        self.tokens: dict[str, str] = {}

    def permissions(self, role: str) -> tuple[Permission, ...]:
        answer = self.http.post("/v3/auth/role/get", json={"role": role},
                                headers={"Authorization": self.tokens["root"]}).json()
        return tuple(Permission(base64.b64decode(p.get("key", "")), base64.b64decode(p.get("range_end", "")),
                                PermissionType[p.get("permType", "READ")]) for p in answer.get("perm", ()))

    def listing(self, path: str, field: str, body: Json | None = None) -> tuple[str, ...]:
        answer = self.http.post(path, json=body or {}, headers={"Authorization": self.tokens["root"]}).json()
        return tuple(answer.get(field, ()))

    def lease_on(self, key: bytes) -> int:
        """A new lease, with ``key`` put (as root) under it."""
        root = {"Authorization": self.tokens["root"]}
        lease = int(self.http.post("/v3/lease/grant", json={"TTL": 600}, headers=root).json()["ID"])
        self.http.post("/v3/kv/put", json={"key": b64(key), "value": b64(b"v"), "lease": str(lease)},
                       headers=root)
        return lease

    def call(self, path: str, body: Json, user: str | None = None) -> str:
        """"ok", or etcd's error message."""
        headers = {"Authorization": self.tokens[user]} if user else {}
        answer = self.http.post(path, json=body, headers=headers).json()
        return str(answer["error"]) if "error" in answer else "ok"

    def sign_in(self, user: str, password: str) -> None:
        self.tokens[user] = self.http.post("/v3/auth/authenticate",
                                           json={"name": user, "password": password}).json()["token"]


def outcome(action: Any) -> str:
    """"ok", or the message of the auth error ``action`` raised."""
    try:
        action()
    except AuthError as error:
        return str(error)
    return "ok"


class Scenario:
    def __init__(self, etcd: Etcd, seed: int) -> None:
        self.etcd, self.rng, self.state = etcd, random.Random(seed), AuthState()
        self.log: list[str] = []
        self.allowed = self.denied = 0

    def key(self) -> bytes:
        return bytes(self.rng.choice(ALPHABET) for _ in range(self.rng.randint(1, 2)))

    def range_end(self, key: bytes, ill_formed: bool) -> bytes:
        choice = self.rng.random()
        if choice < 0.3:
            return b""
        if choice < 0.45:
            return b"\0"
        candidates = [end for end in (self.key() for _ in range(8)) if end > key or ill_formed]
        return candidates[0] if candidates else b"\0"

    def change(self, command: Command, path: str, body: Json, as_root: bool = True) -> None:
        theirs = self.etcd.call(path, body, "root" if as_root else None)
        ours = outcome(lambda: setattr(self, "state", apply(self.state, command)))
        self.log.append(f"{command} -> {theirs}")
        assert theirs == ours, f"{command}: etcd said {theirs!r}, the core {ours!r}"

    def grants(self) -> str:
        roles = self.state.users["u"].roles
        return "; ".join(f"{role}: {self.state.roles[role].permissions}" for role in roles)

    def random_change(self) -> None:
        role, roll = self.rng.choice(ROLES), self.rng.random()
        if roll < 0.25:
            self.random_management()
            return
        held = self.state.roles[role].permissions if role in self.state.roles else ()
        if roll < 0.55 and len(held) < MAX_SORTED_ALIKE:
            key = self.key()
            perm = Permission(key, self.range_end(key, ill_formed=self.rng.random() < 0.25),
                              self.rng.choice(list(PermissionType)))
            self.change(RoleGrantPermission(role, perm), "/v3/auth/role/grant", {"name": role, "perm": {
                "permType": perm.type.name, "key": b64(perm.key), "range_end": b64(perm.range_end)}})
            if role in self.state.roles:
                assert self.etcd.permissions(role) == role_get(self.state, role), role
        elif roll < 0.75:
            perm = self.rng.choice(held) if held and self.rng.random() < 0.8 else Permission(self.key())
            self.change(RoleRevokePermission(role, perm.key, perm.range_end), "/v3/auth/role/revoke",
                        {"role": role, "key": b64(perm.key), "range_end": b64(perm.range_end)})
        elif roll < 0.9:
            self.change(UserGrantRole("u", role), "/v3/auth/user/grant", {"user": "u", "role": role})
        elif len(self.state.users["u"].roles) > 1:  # never none, or too few checks would be allowed
            self.change(UserRevokeRole("u", role), "/v3/auth/user/revoke", {"name": "u", "role": role})

    def random_management(self) -> None:
        """Users and roles come and go beside ``u`` (whose token must live): etcd's rules on names,
        on root, on roles deleted while granted."""
        user = self.rng.choice(("v", "w", "", "root", "u"))
        role = self.rng.choice(ROLES if self.rng.random() < 0.15 else ("r3", "r4", "", "root"))
        roll = self.rng.random()
        if roll < 0.2 and user != "u":
            no_password = self.rng.random() < 0.3
            self.change(UserAdd(user, None if no_password else b"hash"), "/v3/auth/user/add",
                        {"name": user, "password": "pw", "options": {"no_password": no_password}})
        elif roll < 0.3 and user != "u":
            self.change(UserDelete(user), "/v3/auth/user/delete", {"name": user})
        elif roll < 0.4 and user not in ("u", "root"):
            self.change(UserChangePassword(user, b"hash"), "/v3/auth/user/changepw",
                        {"name": user, "password": "pw2"})
        elif roll < 0.55 and user != "u":
            self.change(UserGrantRole(user, role), "/v3/auth/user/grant", {"user": user, "role": role})
        elif roll < 0.7 and user != "u":
            self.change(UserRevokeRole(user, role), "/v3/auth/user/revoke", {"name": user, "role": role})
        elif roll < 0.85:
            self.change(RoleAdd(role), "/v3/auth/role/add", {"name": role})
        elif role not in ROLES:  # u's roles stay, or too few checks would be allowed
            self.change(RoleDelete(role), "/v3/auth/role/delete", {"role": role})

    def compare_views(self) -> None:
        """Every list and get, as root: the same users, roles, grants and permissions, in the same order."""
        assert self.etcd.listing("/v3/auth/user/list", "users") == user_list(self.state)
        assert self.etcd.listing("/v3/auth/role/list", "roles") == role_list(self.state)
        for name in user_list(self.state):
            roles = self.etcd.listing("/v3/auth/user/get", "roles", {"name": name})
            assert roles == user_get(self.state, name), name
        for name in role_list(self.state):
            assert self.etcd.permissions(name) == role_get(self.state, name), name

    def op(self, writes: bool) -> RequestOp:
        key, roll = self.key(), self.rng.random()
        if roll < 0.4 or not writes:
            return RangeRequest(key, self.range_end(key, ill_formed=False))
        if roll < 0.7:
            return PutRequest(key, b"v", prev_kv=self.rng.random() < 0.3)
        return DeleteRangeRequest(key, self.range_end(key, ill_formed=False), prev_kv=self.rng.random() < 0.3)

    def branch(self) -> tuple[RequestOp, ...]:
        ops = [self.op(writes=index == 0) for index in range(self.rng.randint(0, 2))]
        return tuple(self.rng.sample(ops, len(ops)))  # at most one write: etcd refuses overlapping ones

    def random_check(self) -> None:
        info, roll = AuthInfo("u", self.state.revision), self.rng.random()
        request: Any
        if roll < 0.05:
            name = self.rng.choice(("u", "root"))
            checked, path, body = (lambda: check_user_get(self.state, info, name)), "/v3/auth/user/get", \
                {"name": name}
        elif roll < 0.1:
            role = self.rng.choice(ROLES)
            checked, path, body = (lambda: check_role_get(self.state, info, role)), "/v3/auth/role/get", \
                {"role": role}
        elif roll < 0.15:
            checked, path, body = self.lease_use(info)
        elif roll < 0.75:
            request = self.op(writes=True)
            checked, path, body = self.single(info, request)
        else:
            compares = tuple(Compare(k, range_end=self.range_end(k, ill_formed=False))
                             for k in (self.key() for _ in range(self.rng.randint(0, 2))))
            request = TxnRequest(compares, self.branch(), self.branch())
            checked, path, body = (lambda: check_txn(self.state, info, request)), "/v3/kv/txn", \
                txn_json(request)
        theirs, ours = self.etcd.call(path, body, "u"), outcome(checked)
        allowed_theirs = theirs != str(PermissionDenied())
        self.log.append(f"  {path} {body} -> {theirs}")
        assert allowed_theirs == (ours == "ok"), \
            f"{path} {body}: etcd said {theirs!r}, the core {ours!r}; the user's roles: {self.grants()}"
        self.allowed += allowed_theirs
        self.denied += not allowed_theirs

    def lease_use(self, info: AuthInfo) -> tuple[Any, str, Json]:
        """A lease root put a key under: revoked, or given to a put of the user's."""
        attached = self.key()
        lease = self.etcd.lease_on(attached)
        if self.rng.random() < 0.5:
            return (lambda: check_lease_revoke(self.state, info, [attached])), "/v3/lease/revoke", \
                {"ID": str(lease)}
        put = PutRequest(self.key(), b"v", lease=lease)
        return (lambda: check_put(self.state, info, put, lambda _: [attached])), "/v3/kv/put", \
            {**op_json(put), "lease": str(lease)}

    def single(self, info: AuthInfo, request: RequestOp) -> tuple[Any, str, Json]:
        match request:
            case RangeRequest():
                return (lambda: check_range(self.state, info, request)), "/v3/kv/range", op_json(request)
            case PutRequest():
                return (lambda: check_put(self.state, info, request)), "/v3/kv/put", op_json(request)
            case DeleteRangeRequest():
                return (lambda: check_delete_range(self.state, info, request)), "/v3/kv/deleterange", \
                    op_json(request)
        raise AssertionError(request)


def op_json(op: RequestOp) -> Json:
    match op:
        case RangeRequest():
            return {"key": b64(op.key), "range_end": b64(op.range_end)}
        case PutRequest():
            return {"key": b64(op.key), "value": b64(op.value), "prev_kv": op.prev_kv}
        case DeleteRangeRequest():
            return {"key": b64(op.key), "range_end": b64(op.range_end), "prev_kv": op.prev_kv}
    raise AssertionError(op)


def txn_json(txn: TxnRequest) -> Json:
    names = {RangeRequest: "request_range", PutRequest: "request_put",
             DeleteRangeRequest: "request_delete_range"}
    return {
        "compare": [{"key": b64(c.key), "range_end": b64(c.range_end), "target": "VERSION", "result": "EQUAL",
                     "version": "0"} for c in txn.compare],
        "success": [{names[type(op)]: op_json(op)} for op in txn.success],
        "failure": [{names[type(op)]: op_json(op)} for op in txn.failure],
    }


def set_up(scenario: Scenario) -> None:
    """Root, the user ``u`` (role r0), a user with no password, the three roles; auth enabled.
    On the way, etcd's refusals to enable auth, and to authenticate, compared."""
    etcd = scenario.etcd
    steps: list[tuple[Command, str, Json]] = [
        (AuthEnable(), "/v3/auth/enable", {}),  # no root
        (UserAdd("root", b"hash"), "/v3/auth/user/add", {"name": "root", "password": "rootpw"}),
        (AuthEnable(), "/v3/auth/enable", {}),  # root without the role root
        (RoleAdd("root"), "/v3/auth/role/add", {"name": "root"}),
        (AuthEnable(), "/v3/auth/enable", {}),
        (UserGrantRole("root", "root"), "/v3/auth/user/grant", {"user": "root", "role": "root"}),
        (UserAdd("u", b"hash"), "/v3/auth/user/add", {"name": "u", "password": "upw"}),
        (UserAdd("np", None), "/v3/auth/user/add", {"name": "np", "options": {"no_password": True}}),
        *((RoleAdd(role), "/v3/auth/role/add", {"name": role}) for role in ROLES),
        (UserGrantRole("u", "r0"), "/v3/auth/user/grant", {"user": "u", "role": "r0"}),
        (AuthEnable(), "/v3/auth/enable", {}),
    ]
    for command, path, body in steps:
        scenario.change(command, path, body, as_root=False)
    etcd.sign_in("root", "rootpw")
    etcd.sign_in("u", "upw")
    scenario.change(AuthEnable(), "/v3/auth/enable", {})  # once more: nothing to do
    for name in ("nobody", "np"):
        theirs = etcd.call("/v3/auth/authenticate", {"name": name, "password": "pw"})
        assert theirs == outcome(lambda name=name: password_hash_of(scenario.state, name)), name


def test_random_grants_and_checks_answer_as_etcd_does(etcd_processes: Processes, tmp_path: Path) -> None:
    seed = int(os.environ.get("AUTH_DIFF_SEED", random.randrange(1 << 32)))
    etcd = Etcd(etcd_processes.etcd(tmp_path / "etcd").url)
    scenario = Scenario(etcd, seed)
    try:
        set_up(scenario)
        for _ in range(CHANGES):
            scenario.random_change()
            for _ in range(CHECKS_PER_CHANGE):
                scenario.random_check()
        scenario.compare_views()
        print(f"seed {seed}: {scenario.allowed} checks allowed, {scenario.denied} denied")
        # both answers come (in 50 seeds at least 16 of 300 each), or the comparison says little
        assert min(scenario.allowed, scenario.denied) >= 3
    except AssertionError as failure:
        raise AssertionError(f"seed {seed} (AUTH_DIFF_SEED={seed} replays it); last steps:\n"
                             + "\n".join(scenario.log[-12:])) from failure
    finally:
        etcd.http.close()
