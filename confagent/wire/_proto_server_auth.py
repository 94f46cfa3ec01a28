"""etcd 3.4's Auth service in protobuf, server side: as much as a member without users reads.

Until confagent keeps users and roles, the gRPC front answers the Auth service
as etcd 3.4 does while auth is disabled and no user or role exists. For that it
reads of a request only the name it carries (a user's or a role's); the answers
are a header alone (``pb_encode_header_response``) or an error. Every request
is parsed as its own message, so malformed bytes get grpc-go's error as on any
other service.
"""

from __future__ import annotations

from typing import Final

from google.protobuf.message import Message

from confagent.wire._pb import rpc_pb2
from confagent.wire._proto_server import pb_parse

__all__ = ["AUTH_METHODS", "pb_decode_auth_name"]

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

_NAME_FIELDS: Final = ("name", "user", "role")


def pb_decode_auth_name(method: str, data: bytes) -> str:
    """The user or role an Auth ``method``'s request names ("" if it names none): its first
    field among ``name``, ``user`` and ``role``."""
    message = pb_parse(AUTH_METHODS[method], data)
    fields = message.DESCRIPTOR.fields_by_name
    for field in _NAME_FIELDS:
        if field in fields:
            return str(getattr(message, field))
    return ""
