"""The auth commands' rules, case by case, as etcd 3.4's auth/store.go applies them (store_test.go's cases).

Where etcd's answer was not plain from its sources it was asked of a real etcd
3.4.23 through its JSON gateway: a grant on a key that has a second range keeps
both ranges (and adds a duplicate), a range whose end is below its key is
granted, the role root can be granted before it exists, a password change keeps
a no-password user unable to authenticate.
"""

from __future__ import annotations

import pytest

from confagent.auth import (
    AuthDisable,
    AuthEnable,
    Authenticate,
    AuthState,
    Command,
    Permission,
    PermissionType,
    RoleAdd,
    RoleDelete,
    RoleGrantPermission,
    RoleRevokePermission,
    User,
    UserAdd,
    UserChangePassword,
    UserDelete,
    UserGrantRole,
    UserRevokeRole,
    apply,
    auth_status,
    has_role,
    password_hash_of,
    role_get,
    role_list,
    user_get,
    user_list,
)
from confagent.errors import (
    AuthError,
    AuthFailed,
    AuthNotEnabled,
    InvalidAuthMgmt,
    NoPasswordUser,
    PermissionNotGranted,
    RoleAlreadyExist,
    RoleEmpty,
    RoleNotFound,
    RoleNotGranted,
    RootRoleNotExist,
    RootUserNotExist,
    UserAlreadyExist,
    UserEmpty,
    UserNotFound,
)

R, W, RW = PermissionType.READ, PermissionType.WRITE, PermissionType.READWRITE
HASH = b"$2a$10$hash"
ROOT_READY = (UserAdd("root", HASH), UserGrantRole("root", "root"))
ENABLED = (*ROOT_READY, AuthEnable())


def state_after(*commands: Command) -> AuthState:
    state = AuthState()
    for command in commands:
        state = apply(state, command)
    return state


def test_a_new_store_is_disabled_at_revision_1_with_no_one() -> None:
    assert auth_status(AuthState()) == (False, 1)
    assert user_list(AuthState()) == role_list(AuthState()) == ()


# (what was there before, the command, etcd's error)
REFUSALS: list[tuple[tuple[Command, ...], Command, type[AuthError]]] = [
    ((), AuthEnable(), RootUserNotExist),
    ((UserAdd("root", HASH),), AuthEnable(), RootRoleNotExist),
    ((UserAdd("root", HASH), RoleAdd("root")), AuthEnable(), RootRoleNotExist),
    ((), UserAdd("", HASH), UserEmpty),
    ((), UserAdd("", None), UserEmpty),
    ((UserAdd("u", HASH),), UserAdd("u", None), UserAlreadyExist),
    ((), UserDelete("u"), UserNotFound),
    ((), UserDelete(""), UserNotFound),
    (ENABLED, UserDelete("root"), InvalidAuthMgmt),
    ((), UserChangePassword("u", HASH), UserNotFound),
    ((RoleAdd("r"),), UserGrantRole("u", "r"), UserNotFound),
    ((), UserGrantRole("u", "nope"), UserNotFound),
    ((UserAdd("u", HASH),), UserGrantRole("u", "nope"), RoleNotFound),
    ((UserAdd("u", HASH),), UserGrantRole("u", ""), RoleNotFound),
    (ENABLED, UserRevokeRole("root", "root"), InvalidAuthMgmt),
    ((), UserRevokeRole("u", "r"), UserNotFound),
    ((UserAdd("u", HASH), RoleAdd("r")), UserRevokeRole("u", "r"), RoleNotGranted),
    ((UserAdd("u", HASH),), UserRevokeRole("u", "nope"), RoleNotGranted),
    ((), RoleAdd(""), RoleEmpty),
    ((RoleAdd("r"),), RoleAdd("r"), RoleAlreadyExist),
    ((*ENABLED, RoleAdd("root")), RoleDelete("root"), InvalidAuthMgmt),
    (ENABLED, RoleDelete("root"), InvalidAuthMgmt),
    ((), RoleDelete("r"), RoleNotFound),
    ((), RoleDelete(""), RoleNotFound),
    ((), RoleGrantPermission("r", Permission(b"a")), RoleNotFound),
    ((), RoleGrantPermission("", Permission(b"a")), RoleNotFound),
    (ROOT_READY, RoleGrantPermission("root", Permission(b"a")), RoleNotFound),
    ((), RoleRevokePermission("r", b"a"), RoleNotFound),
    ((RoleAdd("r"),), RoleRevokePermission("r", b"a"), PermissionNotGranted),
    ((RoleAdd("r"), RoleGrantPermission("r", Permission(b"a", b"b"))), RoleRevokePermission("r", b"a"),
     PermissionNotGranted),
    ((RoleAdd("r"), RoleGrantPermission("r", Permission(b"a"))), RoleRevokePermission("r", b"a", b"b"),
     PermissionNotGranted),
    ((), Authenticate("root"), AuthNotEnabled),
    (ENABLED, Authenticate("nobody"), AuthFailed),
    ((*ENABLED, UserAdd("np", None)), Authenticate("np"), AuthFailed),
    ((*ENABLED, UserAdd("np", None), UserChangePassword("np", HASH)), Authenticate("np"), AuthFailed),
]


@pytest.mark.parametrize(("before", "command", "error"), REFUSALS,
                         ids=[f"{type(c).__name__}-{e.__name__}" for _, c, e in REFUSALS])
def test_a_refused_command_raises_etcds_error_and_changes_nothing(
        before: tuple[Command, ...], command: Command, error: type[AuthError]) -> None:
    state = state_after(*before)
    with pytest.raises(error) as raised:
        apply(state, command)
    assert type(raised.value) is error
    assert state == state_after(*before)


# (what was there before, the command, whether the auth revision grows)
CHANGES: list[tuple[tuple[Command, ...], Command, bool]] = [
    (ROOT_READY, AuthEnable(), False),
    (ENABLED, AuthEnable(), False),
    (ENABLED, AuthDisable(), True),
    ((), AuthDisable(), False),
    ((), UserAdd("u", HASH), True),
    ((), UserAdd("u", None), True),
    ((UserAdd("u", HASH),), UserDelete("u"), True),
    (ROOT_READY, UserDelete("root"), True),
    ((UserAdd("u", HASH),), UserChangePassword("u", HASH), True),
    ((UserAdd("u", HASH), RoleAdd("r")), UserGrantRole("u", "r"), True),
    ((UserAdd("u", HASH), RoleAdd("r"), UserGrantRole("u", "r")), UserGrantRole("u", "r"), False),
    ((UserAdd("u", HASH),), UserGrantRole("u", "root"), True),
    ((UserAdd("u", HASH), RoleAdd("r"), UserGrantRole("u", "r")), UserRevokeRole("u", "r"), True),
    (ROOT_READY, UserRevokeRole("root", "root"), True),
    ((*ENABLED, UserAdd("u", HASH), UserGrantRole("u", "root")), UserRevokeRole("u", "root"), True),
    ((), RoleAdd("r"), True),
    ((), RoleAdd("root"), True),
    ((RoleAdd("r"),), RoleDelete("r"), True),
    ((RoleAdd("root"),), RoleDelete("root"), True),
    ((RoleAdd("r"),), RoleGrantPermission("r", Permission(b"a")), True),
    ((RoleAdd("r"), RoleGrantPermission("r", Permission(b"a"))), RoleGrantPermission("r", Permission(b"a")),
     True),
    ((RoleAdd("r"), RoleGrantPermission("r", Permission(b"a"))), RoleRevokePermission("r", b"a"), True),
    (ENABLED, Authenticate("root"), False),
]


@pytest.mark.parametrize(("before", "command", "bumps"), CHANGES,
                         ids=[f"{type(c).__name__}-{i}" for i, (_, c, _) in enumerate(CHANGES)])
def test_the_auth_revision_grows_with_every_change_of_users_or_roles(
        before: tuple[Command, ...], command: Command, bumps: bool) -> None:
    state = state_after(*before)
    assert apply(state, command).revision == state.revision + bumps


def test_enabling_twice_or_granting_a_role_twice_returns_the_same_state() -> None:
    enabled = state_after(*ENABLED)
    assert apply(enabled, AuthEnable()) is enabled
    assert apply(enabled, UserGrantRole("root", "root")) is enabled
    assert apply(AuthState(), AuthDisable()) == AuthState()


def test_enable_and_disable() -> None:
    enabled = state_after(*ENABLED)
    assert auth_status(enabled) == (True, 3)
    assert auth_status(apply(enabled, AuthDisable())) == (False, 4)
    # disabled again, root may go, and the root role may be revoked
    assert user_list(state_after(*ENABLED, AuthDisable(), UserDelete("root"))) == ()
    assert user_get(state_after(*ENABLED, AuthDisable(), UserRevokeRole("root", "root")), "root") == ()


def test_a_user_without_password_and_its_password_change() -> None:
    state = state_after(UserAdd("np", None))
    assert state.users["np"] == User("np", None, (), no_password=True)
    changed = apply(state, UserChangePassword("np", HASH))
    assert changed.users["np"] == User("np", HASH, (), no_password=True)
    with pytest.raises(NoPasswordUser):
        password_hash_of(state_after(*ENABLED, UserAdd("np", None), UserChangePassword("np", HASH)), "np")


def test_password_hash_of_is_etcds_check_password_before_bcrypt() -> None:
    enabled = state_after(*ENABLED, UserAdd("u", b"uhash"), UserAdd("np", None))
    assert password_hash_of(enabled, "u") == (b"uhash", enabled.revision)
    with pytest.raises(AuthFailed):
        password_hash_of(enabled, "nobody")
    with pytest.raises(NoPasswordUser):
        password_hash_of(enabled, "np")
    with pytest.raises(AuthNotEnabled):
        password_hash_of(state_after(UserAdd("u", b"uhash")), "u")


def test_a_password_change_keeps_the_roles() -> None:
    state = state_after(RoleAdd("b"), RoleAdd("a"), UserAdd("u", b"old"), UserGrantRole("u", "b"),
                        UserGrantRole("u", "a"), UserChangePassword("u", b"new"))
    assert state.users["u"] == User("u", b"new", ("a", "b"))


def test_roles_of_a_user_stay_sorted_and_the_root_role_need_not_exist() -> None:
    state = state_after(RoleAdd("zeta"), RoleAdd("alpha"), UserAdd("u", HASH), UserGrantRole("u", "zeta"),
                        UserGrantRole("u", "root"), UserGrantRole("u", "alpha"))
    assert user_get(state, "u") == ("alpha", "root", "zeta")
    assert has_role(state, "u", "root") and not has_role(state, "u", "beta")
    assert not has_role(state, "nobody", "root")
    assert role_list(state) == ("alpha", "zeta")
    with pytest.raises(RoleNotFound):
        role_get(state, "root")


def test_deleting_a_role_revokes_it_from_every_user() -> None:
    state = state_after(RoleAdd("r"), RoleAdd("s"), UserAdd("u", HASH), UserAdd("v", HASH),
                        UserGrantRole("u", "r"), UserGrantRole("u", "s"), UserGrantRole("v", "r"),
                        RoleDelete("r"))
    assert (user_get(state, "u"), user_get(state, "v")) == (("s",), ())
    assert role_list(state) == ("s",)


def test_lists_are_sorted_by_name() -> None:
    state = state_after(UserAdd("b", HASH), UserAdd("B", HASH), UserAdd("a", HASH), UserAdd("é", HASH),
                        RoleAdd("y"), RoleAdd("x"), RoleAdd("X"))
    assert user_list(state) == ("B", "a", "b", "é")
    assert role_list(state) == ("X", "x", "y")
    with pytest.raises(UserNotFound):
        user_get(state, "nobody")


def _granted(*perms: Permission) -> tuple[Permission, ...]:
    return role_get(state_after(RoleAdd("r"), *(RoleGrantPermission("r", p) for p in perms)), "r")


def test_permissions_are_sorted_by_key_and_a_grant_on_the_same_range_replaces_its_type() -> None:
    assert _granted(Permission(b"c"), Permission(b"a", b"b", W), Permission(b"b", b"\0")) == (
        Permission(b"a", b"b", W), Permission(b"b", b"\0"), Permission(b"c"))
    assert _granted(Permission(b"a", b"b", R), Permission(b"a", b"b", RW)) == (Permission(b"a", b"b", RW),)


def test_a_second_range_on_one_key_is_kept_beside_as_etcd_keeps_it() -> None:
    # etcd 3.4.23 answered exactly this for these grants, in this order
    assert _granted(Permission(b"b", b"a", R), Permission(b"a", b"", R), Permission(b"a", b"b", R),
                    Permission(b"a", b"", W), Permission(b"a", b"b", W)) == (
        Permission(b"a", b"", W), Permission(b"a", b"b", R), Permission(b"a", b"b", W),
        Permission(b"b", b"a", R))


def test_revoking_takes_every_permission_on_that_exact_range() -> None:
    state = state_after(RoleAdd("r"), *(RoleGrantPermission("r", p) for p in (
        Permission(b"a"), Permission(b"a", b"b"), Permission(b"a", b"b", W), Permission(b"a", b"\0"))),
        RoleRevokePermission("r", b"a", b"b"))
    assert role_get(state, "r") == (Permission(b"a"), Permission(b"a", b"\0"))


def test_a_command_of_another_kind_is_a_type_error() -> None:
    with pytest.raises(TypeError):
        apply(AuthState(), object())  # type: ignore[arg-type]
