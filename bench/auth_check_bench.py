"""What the auth core's permission check costs per request, with and without the per-user cache.

A user holding 3 roles of 10 prefix permissions each (READWRITE), auth enabled;
the check of a range inside one prefix and of a put on one key, timed with
timeit (best of 3). Pure code: no server, no etcd.

    python bench/auth_check_bench.py [--number 20000]
"""

from __future__ import annotations

import argparse
import timeit
from collections.abc import Callable

import _tree  # noqa: F401 - this tree's confagent first

from confagent.auth import (
    AuthEnable,
    AuthInfo,
    AuthState,
    Command,
    Permission,
    PermissionCache,
    PermissionType,
    RoleAdd,
    RoleGrantPermission,
    UserAdd,
    UserGrantRole,
    apply,
    check_put,
    check_range,
    merged_permissions,
)
from confagent.kv import PutRequest, RangeRequest


def state(roles: int = 3, prefixes: int = 10) -> AuthState:
    commands: list[Command] = [UserAdd("root", b"hash"), UserGrantRole("root", "root"), UserAdd("u", b"hash")]
    for role in range(roles):
        commands += [RoleAdd(f"r{role}"), UserGrantRole("u", f"r{role}")]
        for index in range(prefixes):
            prefix = f"/app{role}/svc{index}/".encode()
            commands.append(RoleGrantPermission(f"r{role}", Permission(prefix, prefix[:-1] + b"0",
                                                                       PermissionType.READWRITE)))
    result = AuthState()
    for command in [*commands, AuthEnable()]:
        result = apply(result, command)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--number", type=int, default=20000)
    number = parser.parse_args().number
    auth = state()
    info, cache = AuthInfo("u", auth.revision), PermissionCache()
    ranged, put = RangeRequest(b"/app1/svc5/", b"/app1/svc50"), PutRequest(b"/app2/svc9/x")
    cases: list[tuple[str, Callable[[], object]]] = [
        ("range, no cache", lambda: check_range(auth, info, ranged)),
        ("range, cache", lambda: check_range(auth, info, ranged, cache)),
        ("put, no cache", lambda: check_put(auth, info, put)),
        ("put, cache", lambda: check_put(auth, info, put, cache=cache)),
        ("merging the user's permissions", lambda: merged_permissions(auth, "u")),
    ]
    for name, case in cases:
        best = min(timeit.repeat(case, number=number, repeat=3)) / number
        print(f"{name:32} {best * 1e6:8.2f} us")


if __name__ == "__main__":
    main()
