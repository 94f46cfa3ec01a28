"""The permission check of every request shape, case by case and against a brute-force model.

The model is the plain meaning of etcd's permissions: a key, a range, every key
from one on (a range whose end is not above its key: no key); a request is
allowed when every key it names lies in one of the user's permissions of that
kind. Over keys of length 1 to 3 from "ab\\0\\xff",
checking every key of length 1 to 4 is enough to find a key left uncovered (the
first such key is a request's key or a permission's end, at most one longer).
"""

from __future__ import annotations

from itertools import product

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from confagent.auth import (
    AuthEnable,
    AuthInfo,
    AuthState,
    Permission,
    PermissionCache,
    PermissionType,
    RoleAdd,
    RoleGrantPermission,
    UserAdd,
    UserGrantRole,
    apply,
    check_admin,
    check_delete_range,
    check_lease_revoke,
    check_lease_time_to_live,
    check_put,
    check_range,
    check_role_get,
    check_txn,
    check_user_get,
    check_watch,
    is_admin,
    merged_permissions,
)
from confagent.errors import AuthOldRevision, PermissionDenied, UserEmpty, UserNotFound
from confagent.kv import (
    Compare,
    DeleteRangeRequest,
    PutRequest,
    RangeRequest,
    TxnRequest,
    WatchCreateRequest,
)

from .test_commands import ENABLED, HASH, state_after

R, W, RW = PermissionType.READ, PermissionType.WRITE, PermissionType.READWRITE
ALPHABET = b"ab\0\xff"
KEYS = [bytes(k) for n in (1, 2, 3) for k in product(ALPHABET, repeat=n)]
UNIVERSE = [bytes(k) for n in (1, 2, 3, 4) for k in product(ALPHABET, repeat=n)]


def user_with(*perms: Permission, roles: int = 1) -> AuthState:
    """Auth enabled; user ``u`` holding ``roles`` roles that share ``perms`` round-robin."""
    commands = [*ENABLED, UserAdd("u", HASH)]
    for index in range(roles):
        commands += [RoleAdd(f"r{index}"), UserGrantRole("u", f"r{index}")]
    commands += [RoleGrantPermission(f"r{i % roles}", perm) for i, perm in enumerate(perms)]
    return state_after(*commands)


def allowed(check: object, state: AuthState, *args: object, user: str = "u") -> bool:
    try:
        check(state, AuthInfo(user, state.revision), *args)  # type: ignore[operator]
    except PermissionDenied:
        return False
    return True


def test_with_auth_disabled_everything_is_allowed_even_without_credentials() -> None:
    state = state_after(UserAdd("u", HASH))
    check_range(state, None, RangeRequest(b"a", b"\0"))
    check_put(state, AuthInfo(), PutRequest(b"a", prev_kv=True))
    check_admin(state, None)


def test_credentials_are_checked_before_permissions() -> None:
    state = user_with(Permission(b"a", b"\0", RW))
    for info in (None, AuthInfo(), AuthInfo("u", 0)):
        with pytest.raises(UserEmpty):
            check_range(state, info, RangeRequest(b"a"))
    with pytest.raises(AuthOldRevision):
        check_range(state, AuthInfo("u", state.revision - 1), RangeRequest(b"a"))
    check_range(state, AuthInfo("u", state.revision + 1), RangeRequest(b"a"))  # a newer member's
    with pytest.raises(PermissionDenied):
        check_range(state, AuthInfo("nobody", state.revision), RangeRequest(b"a"))


def test_the_root_role_allows_everything_without_permissions() -> None:
    state = apply(user_with(), UserGrantRole("u", "root"))
    assert allowed(check_range, state, RangeRequest(b"\0", b"\0"))
    assert allowed(check_delete_range, state, DeleteRangeRequest(b"a", b"\0", prev_kv=True))
    assert is_admin(state, "u")


# (the user's permissions, the request's key and range_end, READ allowed)
RANGES: list[tuple[tuple[Permission, ...], bytes, bytes, bool]] = [
    ((Permission(b"k"),), b"k", b"", True),
    ((Permission(b"k"),), b"k", b"k\0", True),
    ((Permission(b"k"),), b"kx", b"", False),
    ((Permission(b"k"),), b"k", b"l", False),
    ((Permission(b"k", b"l"),), b"k", b"l", True),
    ((Permission(b"k", b"l"),), b"kzz", b"", True),
    ((Permission(b"k", b"l"),), b"l", b"", False),
    ((Permission(b"k", b"l"),), b"k", b"\0", False),
    ((Permission(b"k", b"\0"),), b"k", b"\0", True),
    ((Permission(b"k", b"\0"),), b"z", b"\0", True),
    ((Permission(b"k", b"\0"),), b"j", b"\0", False),
    ((Permission(b"k", b"\0"),), b"k", b"zzzz", True),
    ((Permission(b"\0", b"\0"),), b"\0", b"\0", True),  # etcdctl's grant on every key
    ((Permission(b"a", b"b"), Permission(b"b", b"c")), b"a", b"c", True),
    ((Permission(b"a", b"b"), Permission(b"b\0", b"c")), b"a", b"c", False),
    ((Permission(b"a", b"b"), Permission(b"b"), Permission(b"b\0", b"c")), b"a", b"c", True),
    ((Permission(b"b", b"c"), Permission(b"a", b"b")), b"a", b"c", True),
    ((Permission(b"a", b"c"), Permission(b"b", b"d")), b"a", b"d", True),
    ((Permission(b"a", b"d"), Permission(b"b", b"c")), b"a", b"d", True),
    ((Permission(b"a", b"b", W),), b"a", b"", False),
    ((Permission(b"a", b"b", RW),), b"a", b"", True),
]


@pytest.mark.parametrize(("perms", "key", "range_end", "expected"), RANGES)
def test_a_range_is_allowed_when_the_users_read_permissions_cover_it(
        perms: tuple[Permission, ...], key: bytes, range_end: bytes, expected: bool) -> None:
    assert allowed(check_range, user_with(*perms), RangeRequest(key, range_end)) is expected
    assert allowed(check_range, user_with(*perms, roles=2), RangeRequest(key, range_end)) is expected
    assert allowed(check_watch, user_with(*perms), WatchCreateRequest(key, range_end)) is expected


def test_a_put_needs_write_on_its_key_its_leases_keys_and_read_with_prev_kv() -> None:
    state = user_with(Permission(b"a", b"", W), Permission(b"b", b"", R), Permission(b"c", b"", RW))
    lease_keys = {7: [b"c"], 8: [b"b"]}.get
    assert allowed(check_put, state, PutRequest(b"a"))
    assert not allowed(check_put, state, PutRequest(b"b"))
    assert not allowed(check_put, state, PutRequest(b"a", prev_kv=True))
    assert allowed(check_put, state, PutRequest(b"c", prev_kv=True))
    assert allowed(check_put, state, PutRequest(b"a", lease=7), lambda lease: lease_keys(lease, []))
    assert not allowed(check_put, state, PutRequest(b"a", lease=8), lambda lease: lease_keys(lease, []))


def test_a_delete_needs_write_on_its_range_and_read_with_prev_kv() -> None:
    state = user_with(Permission(b"a", b"c", W), Permission(b"a", b"b", R))
    assert allowed(check_delete_range, state, DeleteRangeRequest(b"a", b"c"))
    assert not allowed(check_delete_range, state, DeleteRangeRequest(b"a", b"c", prev_kv=True))
    assert allowed(check_delete_range, state, DeleteRangeRequest(b"a", b"b", prev_kv=True))
    assert not allowed(check_delete_range, state, DeleteRangeRequest(b"a", b"\0"))


def test_a_txn_needs_every_compare_and_every_op_of_both_branches_nested_too() -> None:
    state = user_with(Permission(b"r", b"", R), Permission(b"w", b"", W))
    read, write = RangeRequest(b"r"), PutRequest(b"w")
    assert allowed(check_txn, state, TxnRequest((Compare(b"r"),), (read, write), (write,)))
    assert not allowed(check_txn, state, TxnRequest((Compare(b"w"),)))
    assert not allowed(check_txn, state, TxnRequest((Compare(b"r", range_end=b"s"),)))
    assert not allowed(check_txn, state, TxnRequest(success=(RangeRequest(b"w"),)))
    assert not allowed(check_txn, state, TxnRequest(failure=(PutRequest(b"r"),)))
    assert not allowed(check_txn, state, TxnRequest(failure=(DeleteRangeRequest(b"w", prev_kv=True),)))
    assert allowed(check_txn, state, TxnRequest(failure=(DeleteRangeRequest(b"w"),)))
    assert not allowed(check_txn, state, TxnRequest(success=(TxnRequest(failure=(PutRequest(b"r"),)),)))
    assert allowed(check_txn, state, TxnRequest(success=(TxnRequest((Compare(b"r"),), (write,)),)))


def test_leases_revoked_or_asked_for_their_keys_need_every_key() -> None:
    state = user_with(Permission(b"a", b"", W), Permission(b"b", b"", R))
    assert allowed(check_lease_revoke, state, [b"a"]) and allowed(check_lease_revoke, state, [])
    assert not allowed(check_lease_revoke, state, [b"a", b"b"])
    assert allowed(check_lease_time_to_live, state, [b"b"])
    assert not allowed(check_lease_time_to_live, state, [b"b", b"a"])


def test_admin_calls_need_the_root_role() -> None:
    state = user_with()
    check_admin(state, AuthInfo("root", 1))
    for info, error in ((None, UserEmpty), (AuthInfo("", 5), UserEmpty), (AuthInfo("x", 5), UserNotFound),
                        (AuthInfo("u", 5), PermissionDenied)):
        with pytest.raises(error):
            check_admin(state, info)
    assert not is_admin(state, "u") and not is_admin(state, "x") and is_admin(state, "root")
    assert is_admin(state_after(UserAdd("u", HASH)), "u")


def test_a_user_may_get_itself_and_the_roles_it_holds() -> None:
    state = user_with()
    check_user_get(state, AuthInfo("u", 9), "u")
    check_role_get(state, AuthInfo("u", 9), "r0")
    check_user_get(state, None, "")  # etcd lets it through; the query then finds no user ""
    with pytest.raises(PermissionDenied):
        check_user_get(state, AuthInfo("u", 9), "root")
    with pytest.raises(PermissionDenied):
        check_role_get(state, AuthInfo("u", 9), "root")
    with pytest.raises(UserEmpty):
        check_role_get(state, None, "r0")


def test_the_cache_is_bounded_and_forgets_at_a_new_revision() -> None:
    state = user_with(Permission(b"a"))
    cache = PermissionCache(max_users=1)
    assert cache.get(state, "u") == merged_permissions(state, "u")
    assert cache.get(state, "root") == merged_permissions(state, "root")
    moved = apply(state, RoleGrantPermission("r0", Permission(b"b")))
    assert cache.get(moved, "u") == merged_permissions(moved, "u") != merged_permissions(state, "u")
    assert allowed(lambda s, i, r: check_range(s, i, r, cache), moved, RangeRequest(b"b"))


# -- the model ----------------------------------------------------------------------------------

def _holds(key: bytes, range_end: bytes, candidate: bytes) -> bool:
    if not range_end:
        return candidate == key
    if range_end == b"\0":
        return candidate >= key
    return key <= candidate < range_end


def model_allows(perms: list[Permission], kind: PermissionType, key: bytes, range_end: bytes) -> bool:
    mine = [p for p in perms if p.type in (kind, PermissionType.READWRITE)]
    return all(any(_holds(p.key, p.range_end, x) for p in mine)
               for x in UNIVERSE if _holds(key, range_end, x))


keys = st.sampled_from(KEYS)


@st.composite
def ranges(draw: st.DrawFn) -> tuple[bytes, bytes]:
    """A key, and a well-formed range_end: none, "\\0", or a key above it."""
    key = draw(keys)
    above = [k for k in KEYS if k > key]
    ends = st.sampled_from([b"", b"\0"]) | (st.sampled_from(above) if above else st.nothing())
    return key, draw(ends)


any_end = st.sampled_from([b"", b"\0", *KEYS])
permissions = st.builds(lambda r, t: Permission(r[0], r[1], t), ranges(), st.sampled_from(PermissionType)) \
    | st.builds(Permission, keys, any_end, st.sampled_from(PermissionType))  # ends below keys too: no key


@given(st.lists(permissions, max_size=6), st.integers(1, 3), ranges())
def test_the_check_agrees_with_the_brute_force_model(
        perms: list[Permission], roles: int, request: tuple[bytes, bytes]) -> None:
    state = user_with(*perms, roles=roles)
    stored = [perm for role in state.roles.values() for perm in role.permissions]  # as granted
    key, range_end = request
    assert allowed(check_range, state, RangeRequest(key, range_end)) == \
        model_allows(stored, R, key, range_end)
    assert allowed(check_delete_range, state, DeleteRangeRequest(key, range_end)) == \
        model_allows(stored, W, key, range_end)


@given(st.lists(permissions, max_size=6), ranges())
def test_the_cache_answers_as_the_check_without_it(
        perms: list[Permission], request: tuple[bytes, bytes]) -> None:
    state = user_with(*perms)
    cache = PermissionCache()
    txn = TxnRequest((Compare(request[0], range_end=request[1]),), (PutRequest(request[0]),))
    assert allowed(check_txn, state, txn) == allowed(lambda s, i, r: check_txn(s, i, r, cache), state, txn)


@given(st.lists(permissions, max_size=6), keys, keys)
def test_a_range_whose_end_is_not_above_its_key_is_refused(perms: list[Permission], key: bytes,
                                                          range_end: bytes) -> None:
    # it names no key; etcd's answer depends on its interval tree's shape (either way)
    if range_end > key:
        range_end, key = key, range_end
    assume(range_end != b"\0")  # from key on
    everything = Permission(b"\0", b"\0", RW)
    assert not allowed(check_range, user_with(*perms, everything), RangeRequest(key, range_end))


def test_enabling_auth_does_not_need_the_root_role_to_exist() -> None:
    assert apply(state_after(UserAdd("root", HASH), UserGrantRole("root", "root")), AuthEnable()).enabled
