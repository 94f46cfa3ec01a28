"""The refusals of etcd's Auth service and of its permission checks."""

from __future__ import annotations

from confagent.errors._store import StoreError

__all__ = [
    "AuthError",
    "AuthFailed",
    "AuthNotEnabled",
    "AuthOldRevision",
    "AuthStoreWords",
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
    "VerifyOnly",
    "in_auth_store_words",
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


class VerifyOnly(AuthError):
    """``Authenticate`` on a member given only a JWT public key (``--auth-token jwt,pub-key=...``):
    it verifies tokens but cannot sign one. etcd's ``auth.ErrVerifyOnly``, which 3.4 maps to no
    gRPC status of its own: Unknown, in the auth store's own words."""

    code = 2
    default_message = "auth: token signing attempted with verify-only key"


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


class AuthStoreWords(AuthError):
    """A refusal in the auth store's own words, sent as Unknown: etcd 3.4 answers so where it hands
    the auth store's error on unmapped (the maintenance server's own root check of Hash, HashKV,
    Defragment and Snapshot; a bad token on Alarm). Made by :func:`in_auth_store_words`."""

    code = 2


_AUTH_STORE_WORDS: dict[type[AuthError], str] = {
    AuthNotEnabled: "auth: authentication is not enabled",
    RootUserNotExist: "auth: root user does not exist",
    RootRoleNotExist: "auth: root user does not have root role",
    UserAlreadyExist: "auth: user already exists",
    UserEmpty: "auth: user name is empty",
    UserNotFound: "auth: user not found",
    RoleAlreadyExist: "auth: role already exists",
    RoleNotFound: "auth: role not found",
    RoleEmpty: "auth: role name is empty",
    AuthFailed: "auth: authentication failed, invalid user ID or password",
    PermissionDenied: "auth: permission denied",
    RoleNotGranted: "auth: role is not granted to the user",
    PermissionNotGranted: "auth: permission is not granted to the role",
    AuthOldRevision: "auth: revision in header is old",
    InvalidAuthToken: "auth: invalid auth token",
    InvalidAuthMgmt: "auth: invalid auth management",
}
"""etcd 3.4's ``auth.Err*`` texts, by the refusal whose rpctypes words each is sent as elsewhere."""


def in_auth_store_words(error: AuthError) -> AuthError:
    """``error`` as etcd answers it where the auth store's error goes out unmapped (Unknown, its own
    words); an error already in them (``NoPasswordUser``) as it is."""
    words = _AUTH_STORE_WORDS.get(type(error))
    return error if words is None else AuthStoreWords(words)
