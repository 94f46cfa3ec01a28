"""The auth store's values: permissions, roles, users, the whole state, and its read-only queries.

They are etcd 3.4's ``authpb`` records as frozen values, kept in etcd's order:

- A :class:`Permission` covers one key (empty ``range_end``), the keys in
  ``[key, range_end)`` (a prefix is one such range), or every key from ``key``
  on (``range_end`` ``b"\\0"``). A role's permissions are sorted by key only and
  stably, so two on one key keep the order they were granted in. etcd sorts
  them by key with Go's ``sort.Sort``: stable up to 12 permissions (an
  insertion sort); beyond, the order of permissions on one key is the unstable
  sort's, and depends on the Go that built etcd. The order matters: a grant
  looks only at the first permission on its key.
- A :class:`User`'s roles are sorted; ``no_password`` is etcd's
  ``UserAddOptions.no_password``, kept when the password changes (etcd 3.4
  keeps it: such a user never authenticates with a password).
- :class:`AuthState` is all of it plus whether auth is enabled and the auth
  revision, which starts at 1 (etcd commits revision 1 when it creates the
  store) and grows with every change of users or roles.

Queries answer as etcd's ``UserGet``/``UserList``/``RoleGet``/``RoleList``
do: lists sorted by name (etcd reads them in its database's key order);
``password_hash_of`` is the first half of etcd's ``CheckPassword``, whose
bcrypt comparison the edge makes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import IntEnum

from confagent.errors import AuthFailed, AuthNotEnabled, NoPasswordUser, RoleNotFound, UserNotFound

__all__ = [
    "ROOT",
    "AuthInfo",
    "AuthState",
    "Permission",
    "PermissionType",
    "Role",
    "User",
    "auth_status",
    "has_role",
    "password_hash_of",
    "role_get",
    "role_list",
    "user_get",
    "user_list",
]

ROOT = "root"
"""The name of etcd's root user and of its root role: the role allows everything."""


class PermissionType(IntEnum):
    """etcd's ``authpb.Permission.Type``, with its numbers."""

    READ = 0
    WRITE = 1
    READWRITE = 2


@dataclass(frozen=True, slots=True)
class Permission:
    """A role's right on a key, a range, a prefix, or every key from ``key`` on."""

    key: bytes
    range_end: bytes = b""
    type: PermissionType = PermissionType.READ

    def __post_init__(self) -> None:
        if not isinstance(self.key, bytes) or not isinstance(self.range_end, bytes):
            raise TypeError("a permission's key and range_end are bytes")


@dataclass(frozen=True, slots=True)
class Role:
    """A named set of permissions, sorted by key as etcd keeps them."""

    name: str
    permissions: tuple[Permission, ...] = ()


@dataclass(frozen=True, slots=True)
class User:
    """A user: its bcrypt hash (``None`` when added with no password), its sorted roles."""

    name: str
    password_hash: bytes | None = None
    roles: tuple[str, ...] = ()
    no_password: bool = False

    def __post_init__(self) -> None:
        if list(self.roles) != sorted(self.roles):
            raise ValueError(f"user {self.name!r}'s roles are not sorted: {self.roles!r}")


@dataclass(frozen=True, slots=True)
class AuthInfo:
    """Who asks: a user name and the auth revision its credentials were checked at.

    ``AuthInfo()`` (no user, revision 0) is a request that came with no credentials.
    """

    user: str = ""
    revision: int = 0


@dataclass(frozen=True, slots=True)
class AuthState:
    """The whole auth store at one auth revision. Treat the mappings as read-only: commands
    return a new state (:func:`confagent.auth.apply`)."""

    enabled: bool = False
    revision: int = 1
    users: Mapping[str, User] = field(default_factory=dict)
    roles: Mapping[str, Role] = field(default_factory=dict)


def user_get(state: AuthState, name: str) -> tuple[str, ...]:
    """The roles of user ``name``, sorted.

    Raises:
        UserNotFound: no such user.
    """
    user = state.users.get(name)
    if user is None:
        raise UserNotFound()
    return user.roles


def user_list(state: AuthState) -> tuple[str, ...]:
    """Every user's name, sorted."""
    return tuple(sorted(state.users))


def role_get(state: AuthState, name: str) -> tuple[Permission, ...]:
    """The permissions of role ``name``, in etcd's order.

    Raises:
        RoleNotFound: no such role (the root role too, until it is added).
    """
    role = state.roles.get(name)
    if role is None:
        raise RoleNotFound()
    return role.permissions


def role_list(state: AuthState) -> tuple[str, ...]:
    """Every role's name, sorted."""
    return tuple(sorted(state.roles))


def has_role(state: AuthState, user: str, role: str) -> bool:
    """Whether ``user`` exists and holds ``role`` (which need not exist: root's need not)."""
    found = state.users.get(user)
    return found is not None and role in found.roles


def auth_status(state: AuthState) -> tuple[bool, int]:
    """Whether auth is enabled, and the auth revision (etcd 3.5's ``AuthStatus``)."""
    return state.enabled, state.revision


def password_hash_of(state: AuthState, name: str) -> tuple[bytes, int]:
    """The hash to check ``name``'s password against, and the revision it was read at: the
    edge compares (bcrypt), and proposes ``Authenticate`` only when it matches.

    Raises:
        AuthNotEnabled: auth is disabled. AuthFailed: no such user.
        NoPasswordUser: the user was added with no password.
    """
    if not state.enabled:
        raise AuthNotEnabled()
    user = state.users.get(name)
    if user is None:
        raise AuthFailed()
    if user.no_password or user.password_hash is None:
        raise NoPasswordUser()
    return user.password_hash, state.revision
