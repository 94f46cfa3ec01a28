"""etcd 3.4's Auth service on the JSON gateway, server side: ``/v3/auth/*`` bodies in, answers out.

The same values as the protobuf side (``_proto_server_auth``): a request is its
fields in the order its message declares them, a permission one
``confagent.auth.Permission``; fields read as grpc-gateway's jsonpb reads them
(proto or lowerCamel names, bytes in base64, enums by name or number). Answers
are written as the gateway writes them: zero values left out, a permission's
type by name.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Final

from confagent.auth import Permission, PermissionType
from confagent.wire._json_fields import b64, pick, read_bool, read_bytes, read_enum, read_message, read_string
from confagent.wire._json_scan import JsonObject

__all__ = [
    "AUTH_PATHS",
    "decode_auth_request",
    "encode_auth_names_response",
    "encode_auth_status_response",
    "encode_authenticate_response",
    "encode_role_get_response",
]

AUTH_PATHS: Final[dict[str, str]] = {
    "/v3/auth/enable": "AuthEnable",
    "/v3/auth/disable": "AuthDisable",
    "/v3/auth/authenticate": "Authenticate",
    "/v3/auth/user/add": "UserAdd",
    "/v3/auth/user/get": "UserGet",
    "/v3/auth/user/list": "UserList",
    "/v3/auth/user/delete": "UserDelete",
    "/v3/auth/user/changepw": "UserChangePassword",
    "/v3/auth/user/grant": "UserGrantRole",
    "/v3/auth/user/revoke": "UserRevokeRole",
    "/v3/auth/role/add": "RoleAdd",
    "/v3/auth/role/get": "RoleGet",
    "/v3/auth/role/list": "RoleList",
    "/v3/auth/role/delete": "RoleDelete",
    "/v3/auth/role/grant": "RoleGrantPermission",
    "/v3/auth/role/revoke": "RoleRevokePermission",
    "/v3/auth/status": "AuthStatus",
}
"""The gateway's Auth paths and the methods they call (etcd 3.4's rpc.pb.gw.go; AuthStatus is 3.5's)."""

_STRINGS: Final[dict[str, tuple[str, ...]]] = {
    "Authenticate": ("name", "password"),
    "UserGet": ("name",),
    "UserDelete": ("name",),
    "UserChangePassword": ("name", "password"),
    "UserGrantRole": ("user", "role"),
    "UserRevokeRole": ("name", "role"),
    "RoleAdd": ("name",),
    "RoleGet": ("role",),
    "RoleDelete": ("role",),
}
"""The requests made of strings alone: their fields in order."""


def decode_auth_request(method: str, d: JsonObject) -> tuple[object, ...]:
    """The fields of an Auth ``method``'s request body, as ``pb_decode_auth_request`` gives them.

    Raises:
        InvalidArgument: a field of the wrong kind, bad base64, an unknown enum name.
    """
    special = _SPECIAL.get(method)
    if special is not None:
        return special(d)
    return tuple(read_string(d.get(field)) for field in _STRINGS.get(method, ()))


def _user_add(d: JsonObject) -> tuple[object, ...]:
    options = read_message(d.get("options"))
    return (read_string(d.get("name")), read_string(d.get("password")),
            read_bool(pick(options, "no_password", "noPassword")))


def _grant_permission(d: JsonObject) -> tuple[object, ...]:
    perm = read_message(d.get("perm"))
    permission = Permission(read_bytes(perm.get("key")), read_bytes(pick(perm, "range_end", "rangeEnd")),
                            read_enum(perm.get("permType"), PermissionType, "authpb.Permission_Type"))
    return read_string(d.get("name")), permission


def _revoke_permission(d: JsonObject) -> tuple[object, ...]:
    return read_string(d.get("role")), read_bytes(d.get("key")), read_bytes(pick(d, "range_end", "rangeEnd"))


_SPECIAL: Final[dict[str, Callable[[JsonObject], tuple[object, ...]]]] = {
    "UserAdd": _user_add,
    "RoleGrantPermission": _grant_permission,
    "RoleRevokePermission": _revoke_permission,
}


def encode_authenticate_response(token: str, header: JsonObject) -> JsonObject:
    return {"header": header, "token": token} if token else {"header": header}


def encode_auth_status_response(enabled: bool, revision: int, header: JsonObject) -> JsonObject:
    """etcd 3.5's AuthStatusResponse: whether auth is on, and the auth revision (uint64, a string)."""
    out: JsonObject = {"header": header}
    if enabled:
        out["enabled"] = True
    if revision:
        out["authRevision"] = str(revision)
    return out


def encode_auth_names_response(method: str, names: Iterable[str], header: JsonObject) -> JsonObject:
    """UserGet's roles, UserList's users, RoleList's roles (left out when there are none)."""
    out: JsonObject = {"header": header}
    listed = list(names)
    if listed:
        out["users" if method == "UserList" else "roles"] = listed
    return out


def encode_role_get_response(permissions: Iterable[Permission], header: JsonObject) -> JsonObject:
    out: JsonObject = {"header": header}
    perms = [_permission(permission) for permission in permissions]
    if perms:
        out["perm"] = perms
    return out


def _permission(permission: Permission) -> JsonObject:
    out: JsonObject = {}
    if permission.type is not PermissionType.READ:
        out["permType"] = permission.type.name
    if permission.key:
        out["key"] = b64(permission.key)
    if permission.range_end:
        out["range_end"] = b64(permission.range_end)
    return out
