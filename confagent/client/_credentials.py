"""A user's sign-in to an etcd with auth enabled: the token, how it is attached, when it is fetched again.

The one place that knows how a token travels on etcd 3.4's JSON gateway: in
the ``Authorization`` header of every request (the gateway hands it to the
server as the ``authorization`` metadata, which etcd reads when ``token`` is
absent), set on the client's one ``httpx.AsyncClient`` so that unary calls,
watch streams, snapshots and the calls to one endpoint all carry it.

Rules, as etcd's clientv3 keeps them (clientv3/client.go, retry_interceptor.go):

- A user and a password both given: Authenticate before the first call.
  A server without auth (``etcdserver: authentication is not enabled``) is
  used without a token; one user or password empty means no sign-in at all.
- A call the server refuses with ``invalid auth token`` (the token expired,
  or auth was disabled and enabled again), ``revision of auth store is
  old``, or ``user name is empty`` (it went without a token: signed in while
  auth was off) is refused before it is applied: sign in again, once, and
  send it once more. Calls refused together sign in once (a generation counts the
  sign-ins; a call whose token is already replaced just goes again).
- Credentials refused: the server's error (``AuthFailed``, ...), its
  ``message`` etcd's words, its text naming the user. The password is in no
  message, log line or ``repr``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import httpx

from confagent.errors import AuthNotEnabled, StoreError

__all__ = ["TOKEN_HEADER", "Credentials", "Login"]

TOKEN_HEADER = "Authorization"
"""The gateway's header for the token (grpc-gateway passes it on as ``authorization`` metadata)."""


@dataclass(frozen=True, slots=True)
class Credentials:
    """A user and password to sign in with; the password is left out of ``repr``."""

    user: str
    password: str = field(repr=False)

    @property
    def complete(self) -> bool:
        """Both given: clientv3 signs in only then."""
        return bool(self.user and self.password)


class Login:
    """The token of one client's user, on its ``httpx.AsyncClient`` (the module's rules)."""

    def __init__(self, credentials: Credentials, http: httpx.AsyncClient) -> None:
        self.credentials = credentials
        self._http = http
        self._lock = asyncio.Lock()
        self._generation = 0
        """How many sign-ins have been made; 0: none yet."""

    async def ready(self, authenticate: Callable[[str, str], Awaitable[str]]) -> int:
        """Sign in unless done; the generation of the token now attached.

        Args:
            authenticate: ``Authenticate(user, password)``, the token it answers.

        Raises:
            StoreError: the server refused the credentials (the text names the user).
            ClientError: no endpoint answered.
        """
        if self._generation == 0:
            await self.renew(authenticate, 0)
        return self._generation

    async def renew(self, authenticate: Callable[[str, str], Awaitable[str]], seen: int) -> None:
        """Sign in again, unless the token of generation ``seen`` was already replaced."""
        async with self._lock:
            if self._generation != seen:
                return
            self._attach("")  # no stale token on Authenticate, as clientv3 clears it
            try:
                token = await authenticate(self.credentials.user, self.credentials.password)
            except AuthNotEnabled:
                token = ""
            except StoreError as error:
                raise error.with_context(f" (signing in as user {self.credentials.user!r})") from None
            self._attach(token)
            self._generation += 1

    def _attach(self, token: str) -> None:
        if token:
            self._http.headers[TOKEN_HEADER] = token
        else:
            self._http.headers.pop(TOKEN_HEADER, None)

