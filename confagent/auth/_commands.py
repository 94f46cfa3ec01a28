"""The auth store's commands, one frozen value per mutating call, and ``apply``: etcd 3.4's rules.

Each command travels through the Raft log and is applied on every member
alike; a password is hashed (bcrypt) at the edge before proposing, so a
command carries the hash, never the password. ``apply`` returns the new
state, or the same state when the command changes nothing, or raises etcd's
error and changes nothing. etcd 3.4's answers to these calls carry nothing but
a header, so the new state is the whole result.

Rules (etcd 3.4's ``auth/store.go``):

- The revision grows by one with every change of users or roles and with
  ``AuthDisable``; ``AuthEnable`` keeps it; a call that changes nothing (enable
  twice, disable twice, grant a role already granted) keeps it.
- ``AuthEnable`` needs a user ``root`` holding the role ``root``.
- While auth is enabled, ``root`` may not be deleted nor lose the role ``root``,
  and the role ``root`` may not be deleted (``InvalidAuthMgmt``).
- The role ``root`` may be granted before it exists as a role.
- Granting a permission on the key and range_end of one the role has replaces
  its type. etcd looks only at the first permission on that key, so a second
  range on one key is added beside, even when it has that range already.
- Revoking takes away every permission on that exact key and range_end.
- Deleting a role revokes it from every user.
- Names: an empty user or role name is refused when adding
  (``UserEmpty``/``RoleEmpty``); anywhere else it is simply not found.

``Authenticate`` changes no state: it is applied as a check (the user exists,
auth is enabled, the user has a password) before the member assigns a token.
The caller checks ``check_admin`` first for every command but ``Authenticate``,
at apply, with the proposer's credentials, as etcd's ``authApplierV3`` does.
"""

from __future__ import annotations

import bisect
from collections.abc import Mapping
from dataclasses import dataclass, replace

from confagent.auth._values import ROOT, AuthState, Permission, Role, User
from confagent.errors import (
    AuthFailed,
    AuthNotEnabled,
    InvalidAuthMgmt,
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

__all__ = [
    "AuthDisable",
    "AuthEnable",
    "Authenticate",
    "Command",
    "RoleAdd",
    "RoleDelete",
    "RoleGrantPermission",
    "RoleRevokePermission",
    "UserAdd",
    "UserChangePassword",
    "UserDelete",
    "UserGrantRole",
    "UserRevokeRole",
    "apply",
]


@dataclass(frozen=True, slots=True)
class AuthEnable:
    pass


@dataclass(frozen=True, slots=True)
class AuthDisable:
    pass


@dataclass(frozen=True, slots=True)
class Authenticate:
    """A user authenticated at the edge (its password checked there); ``simple_token`` is the
    random prefix of its simple token (empty with JWT), the entry's index its suffix."""

    name: str
    simple_token: str = ""


@dataclass(frozen=True, slots=True)
class UserAdd:
    """``password_hash`` is bcrypt's hash of the password, ``None`` for a user with no password."""

    name: str
    password_hash: bytes | None = None


@dataclass(frozen=True, slots=True)
class UserDelete:
    name: str


@dataclass(frozen=True, slots=True)
class UserChangePassword:
    name: str
    password_hash: bytes


@dataclass(frozen=True, slots=True)
class UserGrantRole:
    user: str
    role: str


@dataclass(frozen=True, slots=True)
class UserRevokeRole:
    name: str
    role: str


@dataclass(frozen=True, slots=True)
class RoleAdd:
    name: str


@dataclass(frozen=True, slots=True)
class RoleDelete:
    role: str


@dataclass(frozen=True, slots=True)
class RoleGrantPermission:
    name: str
    perm: Permission


@dataclass(frozen=True, slots=True)
class RoleRevokePermission:
    role: str
    key: bytes
    range_end: bytes = b""


Command = (
    AuthEnable | AuthDisable | Authenticate | UserAdd | UserDelete | UserChangePassword
    | UserGrantRole | UserRevokeRole | RoleAdd | RoleDelete | RoleGrantPermission
    | RoleRevokePermission
)


def apply(state: AuthState, command: Command) -> AuthState:
    """The state after ``command``, as etcd 3.4 applies it on every member.

    Raises:
        AuthError: etcd's refusal (see the module's rules); nothing changed.
    """
    match command:
        case AuthEnable():
            return _auth_enable(state)
        case AuthDisable():
            return replace(state, enabled=False, revision=state.revision + 1) if state.enabled else state
        case Authenticate():
            _authenticate(state, command.name)
            return state
        case UserAdd() | UserDelete() | UserChangePassword() | UserGrantRole() | UserRevokeRole():
            return _apply_user(state, command)
        case RoleAdd() | RoleDelete() | RoleGrantPermission() | RoleRevokePermission():
            return _apply_role(state, command)
    raise TypeError(f"not an auth command: {command!r}")


def _auth_enable(state: AuthState) -> AuthState:
    if state.enabled:
        return state
    root = state.users.get(ROOT)
    if root is None:
        raise RootUserNotExist()
    if ROOT not in root.roles:
        raise RootRoleNotExist()
    return replace(state, enabled=True)


def _authenticate(state: AuthState, name: str) -> None:
    if not state.enabled:
        raise AuthNotEnabled()
    user = state.users.get(name)
    if user is None or user.no_password:
        raise AuthFailed()


def _user(state: AuthState, name: str) -> User:
    user = state.users.get(name)
    if user is None:
        raise UserNotFound()
    return user


def _role(state: AuthState, name: str) -> Role:
    role = state.roles.get(name)
    if role is None:
        raise RoleNotFound()
    return role


def _with_users(state: AuthState, users: Mapping[str, User]) -> AuthState:
    return replace(state, users=users, revision=state.revision + 1)


def _put_user(state: AuthState, user: User) -> AuthState:
    return _with_users(state, {**state.users, user.name: user})


def _apply_user(state: AuthState, command: Command) -> AuthState:
    match command:
        case UserAdd(name=name, password_hash=password_hash):
            if not name:
                raise UserEmpty()
            if name in state.users:
                raise UserAlreadyExist()
            return _put_user(state, User(name, password_hash, no_password=password_hash is None))
        case UserDelete(name=name):
            if state.enabled and name == ROOT:
                raise InvalidAuthMgmt()
            _user(state, name)
            return _with_users(state, {key: user for key, user in state.users.items() if key != name})
        case UserChangePassword(name=name, password_hash=password_hash):
            return _put_user(state, replace(_user(state, name), password_hash=password_hash))
        case UserGrantRole(user=name, role=role):
            return _grant_role(state, name, role)
        case UserRevokeRole(name=name, role=role):
            if state.enabled and name == ROOT and role == ROOT:
                raise InvalidAuthMgmt()
            user = _user(state, name)
            if role not in user.roles:
                raise RoleNotGranted()
            return _put_user(state, replace(user, roles=tuple(r for r in user.roles if r != role)))
    raise TypeError(f"not a user command: {command!r}")


def _grant_role(state: AuthState, name: str, role: str) -> AuthState:
    user = _user(state, name)
    if role != ROOT:
        _role(state, role)
    if role in user.roles:
        return state
    return _put_user(state, replace(user, roles=tuple(sorted((*user.roles, role)))))


def _apply_role(state: AuthState, command: Command) -> AuthState:
    match command:
        case RoleAdd(name=name):
            if not name:
                raise RoleEmpty()
            if name in state.roles:
                raise RoleAlreadyExist()
            return replace(state, roles={**state.roles, name: Role(name)}, revision=state.revision + 1)
        case RoleDelete(role=name):
            if state.enabled and name == ROOT:
                raise InvalidAuthMgmt()
            _role(state, name)
            roles = {key: role for key, role in state.roles.items() if key != name}
            users = {key: replace(user, roles=tuple(r for r in user.roles if r != name))
                     if name in user.roles else user for key, user in state.users.items()}
            return replace(state, roles=roles, users=users, revision=state.revision + 1)
        case RoleGrantPermission(name=name, perm=perm):
            return _put_role(state, _role(state, name), _granted(_role(state, name).permissions, perm))
        case RoleRevokePermission(role=name, key=key, range_end=range_end):
            role = _role(state, name)
            kept = tuple(p for p in role.permissions if p.key != key or p.range_end != range_end)
            if len(kept) == len(role.permissions):
                raise PermissionNotGranted()
            return _put_role(state, role, kept)
    raise TypeError(f"not a role command: {command!r}")


def _put_role(state: AuthState, role: Role, permissions: tuple[Permission, ...]) -> AuthState:
    roles = {**state.roles, role.name: replace(role, permissions=permissions)}
    return replace(state, roles=roles, revision=state.revision + 1)


def _granted(permissions: tuple[Permission, ...], perm: Permission) -> tuple[Permission, ...]:
    """etcd's grant: the first permission on ``perm.key`` takes the new type if it has
    ``perm``'s range_end; otherwise ``perm`` goes after every permission on keys up to its own."""
    first = bisect.bisect_left(permissions, perm.key, key=lambda p: p.key)
    if first < len(permissions) and permissions[first].key == perm.key \
            and permissions[first].range_end == perm.range_end:
        return (*permissions[:first], replace(permissions[first], type=perm.type), *permissions[first + 1:])
    after = bisect.bisect_right(permissions, perm.key, key=lambda p: p.key)
    return (*permissions[:after], perm, *permissions[after:])
