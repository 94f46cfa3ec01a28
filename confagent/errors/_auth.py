"""The refusals of etcd's Auth service and of its permission checks."""

from __future__ import annotations

from confagent.errors._store import StoreError

__all__ = [
    "AuthError",
    "AuthFailed",
    "AuthNotEnabled",
    "AuthOldRevision",
    "InvalidAuthMgmt",
    "InvalidAuthToken",
    "NoPasswordUser",
    "PermissionDenied",
    "PermissionNotGranted",
    "RoleAlreadyExist",
    "RoleEmpty",
    "RoleNotFound",
    "RoleNotGranted",
    "RootRoleNotExist",
    "RootUserNotExist",
    "UserAlreadyExist",
    "UserEmpty",
    "UserNotFound",
]


class AuthError(StoreError):
    """A refusal of etcd's Auth service (FailedPrecondition, unless said otherwise)."""

    code = 9


class AuthNotEnabled(AuthError):
    default_message = "etcdserver: authentication is not enabled"


class RootUserNotExist(AuthError):
    default_message = "etcdserver: root user does not exist"


class UserNotFound(AuthError):
    default_message = "etcdserver: user name not found"


class RoleNotFound(AuthError):
    default_message = "etcdserver: role name not found"


class UserEmpty(AuthError):
    code = 3
    default_message = "etcdserver: user name is empty"


class RoleEmpty(AuthError):
    code = 3
    default_message = "etcdserver: role name is empty"


class RootRoleNotExist(AuthError):
    default_message = "etcdserver: root user does not have root role"


class UserAlreadyExist(AuthError):
    default_message = "etcdserver: user name already exists"


class RoleAlreadyExist(AuthError):
    default_message = "etcdserver: role name already exists"


class AuthFailed(AuthError):
    code = 3
    default_message = "etcdserver: authentication failed, invalid user ID or password"


class NoPasswordUser(AuthError):
    """A password given for a user added with no password: etcd 3.4 maps this one to no gRPC
    status of its own, so it goes out as Unknown with the auth store's own words."""

    code = 2
    default_message = "auth: authentication failed, password was given for no password user"


class PermissionDenied(AuthError):
    code = 7
    default_message = "etcdserver: permission denied"


class RoleNotGranted(AuthError):
    default_message = "etcdserver: role is not granted to the user"


class PermissionNotGranted(AuthError):
    default_message = "etcdserver: permission is not granted to the role"


class InvalidAuthToken(AuthError):
    code = 16
    default_message = "etcdserver: invalid auth token"


class InvalidAuthMgmt(AuthError):
    """Revoking the root role from the root user while auth is enabled (etcd's rule)."""

    code = 3
    default_message = "etcdserver: invalid auth management"


class AuthOldRevision(AuthError):
    """A request checked against an older auth revision than the one it is applied at: the
    client retries it (etcd's clientv3 does)."""

    code = 3
    default_message = "etcdserver: revision of auth store is old"
