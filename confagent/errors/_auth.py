"""The refusals of etcd's Auth service and of its permission checks."""

from __future__ import annotations

from confagent.errors._store import StoreError

__all__ = [
    "AuthError",
    "AuthNotBuilt",
    "AuthNotEnabled",
    "RoleEmpty",
    "RoleNotFound",
    "RootUserNotExist",
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


class AuthNotBuilt(AuthError):
    """A user or role to be created: confagent keeps none yet (etcd would create it)."""

    code = 12
    default_message = "confagent: users and roles are not supported yet (auth stays disabled)"
