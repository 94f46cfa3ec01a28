"""etcd 3.4's Auth service in protobuf, server side: its requests as values, its answers as bytes.

Every request is parsed as its own message, so malformed bytes get grpc-go's
error as on any other service. A request becomes what the member's handling
takes: a name, a pair of names, a password beside its user (hashed by the
member, never kept), a permission (``confagent.auth.Permission``). The answers
are a header alone (``pb_encode_header_response``), a token, a list of names,
or a role's permissions.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

from google.protobuf.message import Message

from confagent.auth import Permission, PermissionType
from confagent.errors import InvalidArgument
from confagent.wire._messages import ResponseHeader
from confagent.wire._pb import rpc_pb2
from confagent.wire._proto_server import answer, pb_parse

__all__ = [
    "AUTH_METHODS",
    "pb_decode_auth_request",
    "pb_encode_auth_names_response",
    "pb_encode_authenticate_response",
    "pb_encode_role_get_response",
]

AUTH_METHODS: Final[dict[str, type[Message]]] = {
    "AuthEnable": rpc_pb2.AuthEnableRequest,
    "AuthDisable": rpc_pb2.AuthDisableRequest,
    "Authenticate": rpc_pb2.AuthenticateRequest,
    "UserAdd": rpc_pb2.AuthUserAddRequest,
    "UserGet": rpc_pb2.AuthUserGetRequest,
    "UserList": rpc_pb2.AuthUserListRequest,
    "UserDelete": rpc_pb2.AuthUserDeleteRequest,
    "UserChangePassword": rpc_pb2.AuthUserChangePasswordRequest,
    "UserGrantRole": rpc_pb2.AuthUserGrantRoleRequest,
    "UserRevokeRole": rpc_pb2.AuthUserRevokeRoleRequest,
    "RoleAdd": rpc_pb2.AuthRoleAddRequest,
    "RoleGet": rpc_pb2.AuthRoleGetRequest,
    "RoleList": rpc_pb2.AuthRoleListRequest,
    "RoleDelete": rpc_pb2.AuthRoleDeleteRequest,
    "RoleGrantPermission": rpc_pb2.AuthRoleGrantPermissionRequest,
    "RoleRevokePermission": rpc_pb2.AuthRoleRevokePermissionRequest,
}
"""The Auth service's methods and their request messages."""

AuthRequest = tuple[object, ...]
"""A request's fields in the order its message declares them; a permission as one value."""


def pb_decode_auth_request(method: str, data: bytes) -> AuthRequest:
    """The fields of an Auth ``method``'s request, as the member's handling takes them:
    names as ``str``, keys as ``bytes``, UserAdd's ``options.no_password`` as a bool, a
    permission as a ``Permission``.

    Raises:
        Internal: the bytes are no such message (grpc-go's code and words).
        InvalidArgument: a permission type etcd does not define (etcd would keep the number
            and never grant anything by it; confagent refuses it).
    """
    message = pb_parse(AUTH_METHODS[method], data)
    if isinstance(message, rpc_pb2.AuthUserAddRequest):
        return message.name, message.password, message.options.no_password
    if isinstance(message, rpc_pb2.AuthRoleGrantPermissionRequest):
        perm = message.perm
        return message.name, Permission(perm.key, perm.range_end, _permission_type(perm.permType))
    return tuple(getattr(message, field.name) for field in message.DESCRIPTOR.fields)


def _permission_type(number: int) -> PermissionType:
    try:
        return PermissionType(number)
    except ValueError:
        raise InvalidArgument(f"unknown permission type {number} (READ 0, WRITE 1, READWRITE 2)") from None


def pb_encode_authenticate_response(token: str, header: ResponseHeader) -> bytes:
    out = answer(rpc_pb2.AuthenticateResponse, header)
    out.token = token
    return out.SerializeToString()


def pb_encode_auth_names_response(method: str, names: Iterable[str], header: ResponseHeader) -> bytes:
    """UserGet's roles, UserList's users, RoleList's roles."""
    if method == "UserList":
        users = answer(rpc_pb2.AuthUserListResponse, header)
        users.users.extend(names)
        return users.SerializeToString()
    roles = answer(rpc_pb2.AuthRoleListResponse, header)  # UserGet's answer: the same field 2
    roles.roles.extend(names)
    return roles.SerializeToString()


def pb_encode_role_get_response(permissions: Iterable[Permission], header: ResponseHeader) -> bytes:
    out = answer(rpc_pb2.AuthRoleGetResponse, header)
    for permission in permissions:
        perm = out.perm.add()
        perm.permType = permission.type.value  # type: ignore[assignment]  # the enum's number
        perm.key, perm.range_end = permission.key, permission.range_end
    return out.SerializeToString()
