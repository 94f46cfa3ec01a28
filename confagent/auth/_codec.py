"""The auth store on disk and in the log: commands for the Raft log, the state for snapshots (msgpack).

Layout::

    command    = [FORMAT, tag, *fields]     the command's fields in declaration order;
                                            a permission as its three fields, inline
    state      = [FORMAT, enabled, revision, [user, ...], [role, ...]]
    user       = [name, password_hash or nil, no_password, [role name, ...]]
    role       = [name, [[key, range_end, type], ...]]

FORMAT is 1 for both; a reader refuses any other, and anything that does not
decode to valid values, with a ``StorageError`` naming what it read. Names
are msgpack ``str``, keys and hashes ``bin``. Users and roles are written in
name order, so one state always encodes to the same bytes.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import astuple
from typing import Any, TypeVar

import msgpack  # type: ignore[import-untyped]

from confagent.auth._commands import (
    AuthDisable,
    AuthEnable,
    Authenticate,
    Command,
    RoleAdd,
    RoleDelete,
    RoleGrantPermission,
    RoleRevokePermission,
    UserAdd,
    UserChangePassword,
    UserDelete,
    UserGrantRole,
    UserRevokeRole,
)
from confagent.auth._values import AuthState, Permission, PermissionType, Role, User
from confagent.errors import StorageError

__all__ = ["FORMAT", "decode_command", "decode_state", "encode_command", "encode_state"]

FORMAT = 1

_COMMANDS: tuple[type[Any], ...] = (
    AuthEnable, AuthDisable, Authenticate, UserAdd, UserDelete, UserChangePassword, UserGrantRole,
    UserRevokeRole, RoleAdd, RoleDelete, RoleGrantPermission, RoleRevokePermission,
)
_TAGS = {kind: tag for tag, kind in enumerate(_COMMANDS)}
_FIELDS: dict[type[Any], tuple[type | tuple[type, ...], ...]] = {
    AuthEnable: (), AuthDisable: (), Authenticate: (str, str), UserAdd: (str, (bytes, type(None))),
    UserDelete: (str,), UserChangePassword: (str, bytes), UserGrantRole: (str, str),
    UserRevokeRole: (str, str), RoleAdd: (str,), RoleDelete: (str,),
    RoleGrantPermission: (str, bytes, bytes, int), RoleRevokePermission: (str, bytes, bytes),
}
"""Each command's fields as the log holds them, with the type each must decode to."""
_T = TypeVar("_T")
_UNREADABLE = (msgpack.UnpackException, ValueError, TypeError, IndexError, KeyError)


def _pack(value: Any) -> bytes:
    return msgpack.packb(value, use_bin_type=True)  # type: ignore[no-any-return]


def encode_command(command: Command) -> bytes:
    """The log entry payload for ``command``."""
    if isinstance(command, RoleGrantPermission):
        fields: tuple[Any, ...] = (command.name, command.perm.key, command.perm.range_end,
                                   int(command.perm.type))
    else:
        fields = astuple(command)
    return _pack([FORMAT, _TAGS[type(command)], *fields])


def decode_command(data: bytes) -> Command:
    """The command ``encode_command`` turned into ``data``.

    Raises:
        StorageError: ``data`` is not an auth command of this format.
    """
    try:
        fields = msgpack.unpackb(data, raw=False, use_list=False)
        _check_format("auth command", fields)
        kind = _COMMANDS[fields[1]]
        values = _typed(kind.__name__, fields[2:], _FIELDS[kind])
        if kind is RoleGrantPermission:
            name, key, range_end, perm_type = values
            return RoleGrantPermission(name, Permission(key, range_end, PermissionType(perm_type)))
        return kind(*values)  # type: ignore[no-any-return]
    except _UNREADABLE as error:
        raise StorageError(f"undecodable auth command {data[:64]!r}: {error}") from error


def _check_format(what: str, fields: Any) -> None:
    if not isinstance(fields, tuple) or not fields:
        raise ValueError(f"{what} is {type(fields).__name__}, expected an array")
    if fields[0] != FORMAT or isinstance(fields[0], bool):
        raise ValueError(f"{what} format {fields[0]!r}, expected {FORMAT}")


def _typed(what: str, values: Sequence[Any], types: Sequence[type | tuple[type, ...]]) -> Sequence[Any]:
    if len(values) != len(types):
        raise ValueError(f"{what} has {len(values)} fields, expected {len(types)}")
    for value, expected in zip(values, types, strict=True):
        if not isinstance(value, expected) or (expected is int and isinstance(value, bool)):
            raise ValueError(f"{what} field {value!r} is not {expected}")
    return values


def encode_state(state: AuthState) -> bytes:
    """The snapshot payload of ``state``."""
    users = [[user.name, user.password_hash, user.no_password, list(user.roles)]
             for _, user in sorted(state.users.items())]
    roles = [[role.name, [[p.key, p.range_end, int(p.type)] for p in role.permissions]]
             for _, role in sorted(state.roles.items())]
    return _pack([FORMAT, state.enabled, state.revision, users, roles])


def decode_state(data: bytes) -> AuthState:
    """The state ``encode_state`` turned into ``data``.

    Raises:
        StorageError: ``data`` is not an auth state of this format.
    """
    try:
        fields = msgpack.unpackb(data, raw=False, use_list=False)
        _check_format("auth state", fields)
        enabled, revision, users, roles = _typed("auth state", fields[1:], (bool, int, tuple, tuple))
        decoded_users = [_decode_user(user) for user in users]
        decoded_roles = [_decode_role(role) for role in roles]
        return AuthState(enabled=enabled, revision=revision,
                         users=_by_name("user", decoded_users, lambda user: user.name),
                         roles=_by_name("role", decoded_roles, lambda role: role.name))
    except _UNREADABLE as error:
        raise StorageError(f"undecodable auth state {data[:64]!r}: {error}") from error


def _decode_user(fields: Any) -> User:
    name, password_hash, no_password, roles = _typed("user", fields, (str, (bytes, type(None)), bool, tuple))
    return User(name, password_hash, tuple(_typed(f"user {name!r}'s roles", roles, (str,) * len(roles))),
                no_password)


def _decode_role(fields: Any) -> Role:
    name, permissions = _typed("role", fields, (str, tuple))
    decoded = []
    for permission in permissions:
        key, range_end, perm_type = _typed(f"role {name!r}'s permission", permission, (bytes, bytes, int))
        decoded.append(Permission(key, range_end, PermissionType(perm_type)))
    return Role(name, tuple(decoded))


def _by_name(what: str, items: list[_T], name: Callable[[_T], str]) -> dict[str, _T]:
    named = {name(item): item for item in items}
    if len(named) != len(items):
        raise ValueError(f"a {what} is named twice")
    return named
