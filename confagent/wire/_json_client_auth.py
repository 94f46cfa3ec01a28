"""etcd 3.4's Auth service on the JSON gateway, client side: requests out, answers in.

The mirror of the gateway's ``/v3/auth/*`` paths, in ``_json_client``'s
manner: requests as dicts with zero values left out (each with the field names
of its own message in etcd's ``rpc.proto``: a user is ``name`` in most
requests but ``user`` in a grant; a role is ``role`` in get, delete and revoke
but ``name`` in add and grant), answers decoded leniently (absent means zero)
into a :class:`Reply` carrying the header. A permission's type is read by name
(the gateway's jsonpb) or by number (Go's encoding/json); an unknown one is
``ValueError``, which the client maps to ClientError.

A password travels in a request body only, never in an answer or an error.
"""

from __future__ import annotations

from binascii import a2b_base64
from typing import TypeVar

from confagent.wire._json_client import decode_header
from confagent.wire._json_fields import b64
from confagent.wire._json_scan import JsonObject
from confagent.wire._messages import Permission, PermissionType, Reply

__all__ = [
    "decode_auth_names_response",
    "decode_auth_status_response",
    "decode_authenticate_response",
    "decode_role_get_response",
    "encode_authenticate_request",
    "encode_role_grant_permission_request",
    "encode_role_request",
    "encode_role_revoke_permission_request",
    "encode_user_add_request",
    "encode_user_request",
    "encode_user_role_request",
]


def _nonzero(**fields: str | bytes) -> JsonObject:
    return {name: b64(value) if isinstance(value, bytes) else value
            for name, value in fields.items() if value}


def encode_authenticate_request(name: str, password: str) -> JsonObject:
    return _nonzero(name=name, password=password)


def encode_user_add_request(name: str, password: str, no_password: bool) -> JsonObject:
    """A UserAdd; ``no_password`` is etcd 3.4's option for a user who only signs in by certificate."""
    out = _nonzero(name=name, password=password)
    if no_password:
        out["options"] = {"no_password": True}
    return out


def encode_user_request(name: str, password: str = "") -> JsonObject:
    """A request naming a user as ``name``: UserGet, UserDelete, UserChangePassword (with ``password``)."""
    return _nonzero(name=name, password=password)


def encode_user_role_request(user: str, role: str, *, grant: bool) -> JsonObject:
    """UserGrantRole (the user as ``user``) or UserRevokeRole (the user as ``name``)."""
    return {**_nonzero(**{"user" if grant else "name": user}), **_nonzero(role=role)}


def encode_role_request(role: str, *, add: bool = False) -> JsonObject:
    """A request naming a role: RoleAdd (as ``name``), RoleGet and RoleDelete (as ``role``)."""
    return _nonzero(**{"name" if add else "role": role})


def encode_role_grant_permission_request(role: str, permission: Permission) -> JsonObject:
    perm: JsonObject = _nonzero(key=permission.key, range_end=permission.range_end)
    if permission.type is not PermissionType.READ:
        perm["permType"] = permission.type.name
    return {**_nonzero(name=role), "perm": perm}


def encode_role_revoke_permission_request(role: str, key: bytes, range_end: bytes) -> JsonObject:
    return _nonzero(role=role, key=key, range_end=range_end)


T = TypeVar("T")


def _reply(d: JsonObject, response: T) -> Reply[T]:
    return Reply(header=decode_header(d.get("header") or {}), response=response)


def decode_authenticate_response(d: JsonObject) -> Reply[str]:
    """The token of an AuthenticateResponse."""
    return _reply(d, str(d.get("token", "")))


def decode_auth_names_response(d: JsonObject, field: str) -> Reply[tuple[str, ...]]:
    """The names of a UserList (``users``), RoleList or UserGet (``roles``) answer."""
    return _reply(d, tuple(str(name) for name in d.get(field) or ()))


def _bytes(value: object) -> bytes:
    return a2b_base64(str(value), strict_mode=True) if value else b""


def _perm_type(value: object) -> PermissionType:
    """A type by name or number; ValueError for one etcd does not define."""
    if isinstance(value, str):
        try:
            return PermissionType[value]
        except KeyError:
            raise ValueError(f"unknown permission type {value!r}") from None
    return PermissionType(int(str(value)))


def decode_auth_status_response(d: JsonObject) -> Reply[tuple[bool, int]]:
    """etcd 3.5's AuthStatus answer: whether auth is enabled, and the auth revision."""
    return _reply(d, (bool(d.get("enabled")), int(str(d.get("authRevision") or 0))))


def decode_role_get_response(d: JsonObject) -> Reply[tuple[Permission, ...]]:
    """The permissions of a RoleGet answer, in the server's order (by key)."""
    perms = tuple(Permission(key=_bytes(p.get("key")), range_end=_bytes(p.get("range_end")),
                             type=_perm_type(p.get("permType", 0)))
                  for p in d.get("perm") or ())
    return _reply(d, perms)
