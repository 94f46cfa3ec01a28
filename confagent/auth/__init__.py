"""etcd 3.4's auth store as pure values and functions: users, roles, key-range permissions, tokens.

The store member replicates the auth commands through its Raft log, applies
them on every member alike (``apply``), keeps the state in its snapshots
(``encode_state``/``decode_state``) and checks every request against it
(``check_range``, ``check_put``, ``check_txn``, ..., ``check_admin``). No clock,
no randomness of its own, no I/O: passwords are hashed and checked (bcrypt) at
the edge, which also signs and verifies JWTs (PyJWT). Tokens come from one
``TokenProvider`` chosen by ``TokenSettings``: ``SimpleTokens`` (etcd's simple
token table), ``JwtTokens`` (signed, verified by any member), ``NoTokens``; each
is given the time and a random source.

- ``_values``: the records (``Permission``, ``Role``, ``User``, ``AuthState``,
  ``AuthInfo``) and the read-only queries (``user_get``, ``role_list``, ...).
- ``_commands``: one frozen value per mutating call, and ``apply``.
- ``_intervals`` and ``_checks``: the permission check of every request shape.
- ``_tokens``: the provider interface, simple tokens; ``_jwt``: JWTs; ``_providers``: the
  choice. ``_codec``: the log's and the snapshot's encoding.
"""

from typing import TYPE_CHECKING

from confagent.auth._checks import (
    LeaseKeys,
    MergedPermissions,
    PermissionCache,
    check_admin,
    check_delete_range,
    check_lease_revoke,
    check_lease_time_to_live,
    check_put,
    check_range,
    check_role_get,
    check_txn,
    check_user_get,
    check_watch,
    is_admin,
    merged_permissions,
)
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
    apply,
)
from confagent.auth._jwt import (
    VERIFIED_TOKENS,
    JwtKeys,
    JwtSigner,
    JwtTokens,
    credentials_from_claims,
    jwt_claims,
)
from confagent.auth._providers import TokenSettings
from confagent.auth._tokens import (
    DEFAULT_TOKEN_TTL_S,
    Instant,
    NoTokens,
    SimpleTokens,
    TokenProvider,
    new_token_prefix,
    token_index,
)
from confagent.auth._values import (
    ROOT,
    AuthInfo,
    AuthState,
    Permission,
    PermissionType,
    Role,
    User,
    auth_status,
    has_role,
    password_hash_of,
    role_get,
    role_list,
    user_get,
    user_list,
)
from confagent.lazy import lazy_exports

if TYPE_CHECKING:
    from confagent.auth._codec import decode_command, decode_state, encode_command, encode_state

__all__ = [
    "DEFAULT_TOKEN_TTL_S",
    "ROOT",
    "VERIFIED_TOKENS",
    "AuthDisable",
    "AuthEnable",
    "AuthInfo",
    "AuthState",
    "Authenticate",
    "Command",
    "Instant",
    "JwtKeys",
    "JwtSigner",
    "JwtTokens",
    "LeaseKeys",
    "MergedPermissions",
    "NoTokens",
    "Permission",
    "PermissionCache",
    "PermissionType",
    "Role",
    "RoleAdd",
    "RoleDelete",
    "RoleGrantPermission",
    "RoleRevokePermission",
    "SimpleTokens",
    "TokenProvider",
    "TokenSettings",
    "User",
    "UserAdd",
    "UserChangePassword",
    "UserDelete",
    "UserGrantRole",
    "UserRevokeRole",
    "apply",
    "auth_status",
    "check_admin",
    "check_delete_range",
    "check_lease_revoke",
    "check_lease_time_to_live",
    "check_put",
    "check_range",
    "check_role_get",
    "check_txn",
    "check_user_get",
    "check_watch",
    "credentials_from_claims",
    "decode_command",
    "decode_state",
    "encode_command",
    "encode_state",
    "has_role",
    "is_admin",
    "jwt_claims",
    "merged_permissions",
    "new_token_prefix",
    "password_hash_of",
    "role_get",
    "role_list",
    "token_index",
    "user_get",
    "user_list",
]

_LAZY_MODULES = dict.fromkeys(("decode_command", "decode_state", "encode_command", "encode_state"), "_codec")
"""Names loaded on first use (msgpack, for the log and snapshots: a client never needs it)."""

if not TYPE_CHECKING:  # mypy reads the imports under TYPE_CHECKING instead, and checks every name
    __getattr__, __dir__ = lazy_exports(__name__, globals(), _LAZY_MODULES)
