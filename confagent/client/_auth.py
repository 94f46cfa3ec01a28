"""etcd 3.4's Auth service over the JSON gateway: auth on and off, sign-in, users, roles, permissions.

``EtcdClient.auth`` is one :class:`Auth`, clientv3's ``Auth`` interface
in Python: each call is one request to ``/v3/auth/...`` through the client's
transport (so signed in as the client's user, with its failover rules), its
answer a :class:`~confagent.wire.Reply` or the header alone, and a refusal
etcd's error rebuilt (``UserAlreadyExist``, ``RoleNotGranted``,
``PermissionDenied``, ...). Reads (Authenticate, get, list) may be retried on
another endpoint; changes are sent once.

A permission's keys are given as a read's: ``key`` alone, ``[key,
range_end)``, ``prefix`` (every key under ``key``) or ``from_key`` (every key
from ``key`` on, ``range_end`` ``b"\\x00"``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeAlias

from confagent import wire
from confagent.client._decode import decoded, header_of
from confagent.errors import ClientError
from confagent.kv._keys import FROM_KEY, prefix_end
from confagent.wire import Permission, PermissionType, Reply, ResponseHeader

__all__ = ["Auth", "permission_range_end"]

Call: TypeAlias = "Callable[..., Awaitable[dict[str, Any]]]"
"""The client's ``_call(path, payload, *, retry_safe)``: the decoded answer of one request."""


def permission_range_end(key: bytes, range_end: bytes = b"", *, prefix: bool = False,
                         from_key: bool = False) -> bytes:
    """The ``range_end`` of a permission on ``key`` (the module docstring's forms).

    Raises:
        ClientError: ``prefix`` and ``from_key`` together, or either with a ``range_end``.
    """
    if (prefix or from_key) and (range_end or (prefix and from_key)):
        raise ClientError("a permission's keys: a range_end, prefix or from_key, one at most")
    if prefix:
        return prefix_end(key)
    return FROM_KEY if from_key else range_end


class Auth:
    """The Auth service's calls (module docstring)."""

    def __init__(self, call: Call) -> None:
        self._call = call

    async def _change(self, path: str, payload: dict[str, Any]) -> ResponseHeader:
        return decoded(header_of, await self._call(path, payload, retry_safe=False))

    async def _names(self, path: str, payload: dict[str, Any], field: str) -> Reply[tuple[str, ...]]:
        body = await self._call(path, payload, retry_safe=True)
        return decoded(lambda d: wire.decode_auth_names_response(d, field), body)

    async def enable(self) -> ResponseHeader:
        """Turn auth on. Raises RootUserNotExist, RootRoleNotExist (etcd's rules)."""
        return await self._change("/v3/auth/enable", {})

    async def disable(self) -> ResponseHeader:
        return await self._change("/v3/auth/disable", {})

    async def status(self) -> Reply[tuple[bool, int]]:
        """Whether auth is enabled, and the auth revision: etcd 3.5's AuthStatus (``/v3/auth/status``),
        which confagent serves and etcd 3.4 answers 404 Not Found."""
        body = await self._call("/v3/auth/status", {}, retry_safe=True)
        return decoded(wire.decode_auth_status_response, body)

    async def authenticate(self, name: str, password: str) -> Reply[str]:
        """A token for ``name`` (the client signs itself in with ``ClientConfig.credentials``).

        Raises:
            AuthFailed: an unknown user or a wrong password.
        """
        body = await self._call("/v3/auth/authenticate", wire.encode_authenticate_request(name, password),
                                retry_safe=True)
        return decoded(wire.decode_authenticate_response, body)

    async def user_add(self, name: str, password: str = "", *, no_password: bool = False
                       ) -> ResponseHeader:
        """Add a user; ``no_password`` for one who only signs in by certificate (etcd 3.4's option)."""
        return await self._change("/v3/auth/user/add",
                                  wire.encode_user_add_request(name, password, no_password))

    async def user_get(self, name: str) -> Reply[tuple[str, ...]]:
        """The roles granted to ``name``."""
        return await self._names("/v3/auth/user/get", wire.encode_user_request(name), "roles")

    async def user_list(self) -> Reply[tuple[str, ...]]:
        return await self._names("/v3/auth/user/list", {}, "users")

    async def user_delete(self, name: str) -> ResponseHeader:
        return await self._change("/v3/auth/user/delete", wire.encode_user_request(name))

    async def user_change_password(self, name: str, password: str) -> ResponseHeader:
        return await self._change("/v3/auth/user/changepw", wire.encode_user_request(name, password))

    async def user_grant_role(self, user: str, role: str) -> ResponseHeader:
        return await self._change("/v3/auth/user/grant",
                                  wire.encode_user_role_request(user, role, grant=True))

    async def user_revoke_role(self, user: str, role: str) -> ResponseHeader:
        """Raises RoleNotGranted when ``user`` does not have ``role``."""
        return await self._change("/v3/auth/user/revoke",
                                  wire.encode_user_role_request(user, role, grant=False))

    async def role_add(self, name: str) -> ResponseHeader:
        return await self._change("/v3/auth/role/add", wire.encode_role_request(name, add=True))

    async def role_get(self, name: str) -> Reply[tuple[Permission, ...]]:
        """The permissions of ``name``, ordered by key."""
        body = await self._call("/v3/auth/role/get", wire.encode_role_request(name), retry_safe=True)
        return decoded(wire.decode_role_get_response, body)

    async def role_list(self) -> Reply[tuple[str, ...]]:
        return await self._names("/v3/auth/role/list", {}, "roles")

    async def role_delete(self, name: str) -> ResponseHeader:
        return await self._change("/v3/auth/role/delete", wire.encode_role_request(name))

    async def role_grant_permission(self, name: str, perm_type: PermissionType, key: bytes,
                                    range_end: bytes = b"", *, prefix: bool = False,
                                    from_key: bool = False) -> ResponseHeader:
        """Allow ``name`` to read, write or both on keys (module docstring)."""
        end = permission_range_end(key, range_end, prefix=prefix, from_key=from_key)
        return await self._change("/v3/auth/role/grant", wire.encode_role_grant_permission_request(
            name, Permission(key, end, perm_type)))

    async def role_revoke_permission(self, name: str, key: bytes, range_end: bytes = b"", *,
                                     prefix: bool = False, from_key: bool = False) -> ResponseHeader:
        """Take back the permission on exactly these keys. Raises PermissionNotGranted when none is."""
        end = permission_range_end(key, range_end, prefix=prefix, from_key=from_key)
        return await self._change("/v3/auth/role/revoke",
                                  wire.encode_role_revoke_permission_request(name, key, end))
