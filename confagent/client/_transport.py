"""Requests to a list of etcd endpoints, with failover that never repeats a write by accident.

Every request that may go to any member takes the same failover (``Transport.post``):
the unary calls, and the opening of a watch stream (a read). Rules (Jepsen found
jetcd running transactions twice by retrying blindly):

- A call that failed before its request left (connection refused, connect
  timeout, TLS handshake, no free connection, an endpoint that is not an
  ``http://`` or ``https://`` URL) is moved to the next endpoint, write or
  not: the server never saw it.
- A read, or any call marked ``retry_safe``, is also moved on when the
  connection broke or timed out after sending, or the member answered
  "unavailable" (no leader, timed out).
- A write that may have reached a server (sent, then the connection was lost or
  the answer timed out) is never retried: :class:`~confagent.errors.AmbiguousWrite`.
- An error body from the server is the server's answer: it becomes the matching
  :class:`~confagent.errors.StoreError` at once.
- Once a stream has been answered, it belongs to its endpoint: what breaks it
  after that is the caller's to handle (a watch resumes, ``_watch``).

The endpoint that answered last is tried first next time.

With a :class:`~confagent.client._credentials.Login`, every request goes
signed in (``Transport.authorized``): the first signs the user in, and one the
server refuses for its token is sent once more after signing in again.

TLS: ``https://`` endpoints are verified with the configured ``ClientTls``, or
with httpx's default CA bundle. When every endpoint is ``http://`` no CA
bundle is loaded (about 15 ms per client): httpx gets a context that trusts
no certificate, so a TLS connection it was somehow asked to make would fail
verification rather than go unchecked.
"""

from __future__ import annotations

import ssl
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import httpx
import orjson

from confagent import wire
from confagent.client._credentials import Login
from confagent.errors import (
    AmbiguousWrite,
    AuthOldRevision,
    ClientError,
    InvalidAuthToken,
    StoreError,
    Unavailable,
    UserEmpty,
)

__all__ = ["ClientTls", "Transport", "error_from_response", "parse_json", "server_verification"]

# httpx errors raised before any byte of the request was sent. UnsupportedProtocol: the
# endpoint is not an http:// or https:// URL (misconfigured, e.g. "127.0.0.1:2379").
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout, httpx.UnsupportedProtocol)
# Refusals of a call's token (or of a call without one: the token was dropped), made before the call
# is applied: sign in again and send it again (clientv3's shouldRefreshToken).
_TOKEN_REFUSED = (InvalidAuthToken, AuthOldRevision, UserEmpty)
_AUTHENTICATE_PATH = "/v3/auth/authenticate"

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class ClientTls:
    """TLS for ``https://`` endpoints: a CA bundle to verify servers, an optional client cert."""

    ca_file: Path | None = None
    cert_file: Path | None = None
    key_file: Path | None = None

    def ssl_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(cafile=self.ca_file)
        if self.cert_file is not None:
            context.load_cert_chain(self.cert_file, self.key_file)
        return context


def server_verification(endpoints: Sequence[str], tls: ClientTls | None) -> ssl.SSLContext | bool:
    """httpx's ``verify`` for these endpoints (module docstring): ``True`` is its default CA bundle."""
    if tls is not None:
        return tls.ssl_context()
    if all(endpoint.lower().startswith("http://") for endpoint in endpoints):
        return ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # verifies, and trusts no CA: never used
    return True


def parse_json(content: bytes, endpoint: str) -> dict[str, Any]:
    """A JSON object from a server, or ClientError."""
    try:
        value = orjson.loads(content)
    except orjson.JSONDecodeError as error:
        raise ClientError(f"{endpoint}: the answer is not JSON: {error}") from None
    if not isinstance(value, dict):
        raise ClientError(f"{endpoint}: the answer is not a JSON object")
    return value


def error_from_response(response: httpx.Response, endpoint: str) -> StoreError | ClientError:
    """The error a non-200 answer stands for: the server's StoreError, else a ClientError."""
    try:
        return wire.decode_error_body(orjson.loads(response.content))
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
        text = response.text.strip()[:200]
        return ClientError(f"{endpoint}: HTTP {response.status_code}: {text}")



class Transport:
    """POSTs bodies to the first endpoint that answers, by the rules above."""

    def __init__(self, endpoints: Sequence[str], http: httpx.AsyncClient, login: Login | None = None
                 ) -> None:
        if not endpoints:
            raise ClientError("no endpoints given")
        self.endpoints = tuple(e.rstrip("/") for e in endpoints)
        self.http = http
        self.login = login
        self._preferred = 0

    async def authorized(self, call: Callable[[], Awaitable[T]]) -> T:
        """``call()`` signed in (the login's token on it), once more after signing in again if the
        server refused its token; ``call()`` as it is without a login.

        Raises:
            StoreError: as ``call``, or the credentials refused (``Login.ready``).
        """
        if self.login is None:
            return await call()
        seen = await self.login.ready(self._authenticate)
        try:
            return await call()
        except _TOKEN_REFUSED:
            await self.login.renew(self._authenticate, seen)
            return await call()

    async def _authenticate(self, user: str, password: str) -> str:
        """etcd's Authenticate on the first endpoint that answers; the token."""
        body = orjson.dumps(wire.encode_authenticate_request(user, password))
        endpoint, response = await self._post_any(_AUTHENTICATE_PATH, body, retry_safe=True)
        return wire.decode_authenticate_response(parse_json(response.content, endpoint)).response

    def _rotation(self) -> list[str]:
        """The endpoints, the one that answered last first."""
        start = self._preferred
        return [*self.endpoints[start:], *self.endpoints[:start]]

    async def call(self, path: str, payload: dict[str, Any], *, retry_safe: bool,
                   timeout: httpx.Timeout | None = None) -> dict[str, Any]:
        """POST ``payload`` to ``path``; the decoded answer of the first endpoint that gives one.

        Args:
            timeout: instead of the client's timeouts (a call that waits for its turn has none).

        Raises:
            StoreError: the server refused the request.
            AmbiguousWrite: a write that is not ``retry_safe`` was sent and no answer came.
            ClientError: no endpoint could be reached.
        """
        endpoint, response = await self.post(path, orjson.dumps(payload), retry_safe=retry_safe,
                                             timeout=timeout)
        return parse_json(response.content, endpoint)

    async def post(self, path: str, body: bytes, *, retry_safe: bool, stream: bool = False,
                   timeout: httpx.Timeout | None = None) -> tuple[str, httpx.Response]:
        """POST ``body`` to ``path`` on the first endpoint that answers 200 (the module's rules).

        Args:
            stream: leave the answer's body unread; the caller reads it and closes the response.
            timeout: instead of the client's timeouts.

        Returns:
            The endpoint that answered, and its answer.

        Raises:
            StoreError: the server refused the request.
            AmbiguousWrite: a write that is not ``retry_safe`` was sent and no answer came.
            ClientError: no endpoint could be reached.
        """
        return await self.authorized(lambda: self._post_any(path, body, retry_safe=retry_safe,
                                                            stream=stream, timeout=timeout))

    async def _post_any(self, path: str, body: bytes, *, retry_safe: bool, stream: bool = False,
                        timeout: httpx.Timeout | None = None) -> tuple[str, httpx.Response]:
        """``post`` without signing in."""
        failures: list[str] = []
        for endpoint in self._rotation():
            try:
                response = await self._post_once(endpoint + path, body, stream, timeout)
            except _NOT_SENT as error:
                failures.append(f"{endpoint}: {_describe(error)}")
                continue
            except httpx.TransportError as error:
                if not retry_safe:
                    raise AmbiguousWrite(
                        f"{endpoint}{path}: sent, then {_describe(error)}; the outcome is unknown"
                    ) from error
                failures.append(f"{endpoint}: {_describe(error)}")
                continue
            if response.status_code == 200:
                self._preferred = self.endpoints.index(endpoint)
                return endpoint, response
            refusal = error_from_response(response, endpoint)
            if retry_safe and isinstance(refusal, Unavailable):
                failures.append(f"{endpoint}: {refusal}")
                continue
            raise refusal
        raise ClientError("no endpoint answered: " + "; ".join(failures))

    async def _post_once(self, url: str, body: bytes, stream: bool, timeout: httpx.Timeout | None,
                         ) -> httpx.Response:
        """One POST; a streamed answer other than 200 is read (it is an error body) and closed."""
        request = self.http.build_request(
            "POST", url, content=body, timeout=httpx.USE_CLIENT_DEFAULT if timeout is None else timeout)
        response = await self.http.send(request, stream=stream)
        if stream and response.status_code != 200:
            try:
                await response.aread()
            finally:
                await response.aclose()
        return response


def _describe(error: httpx.HTTPError) -> str:
    text = str(error) or type(error).__name__
    return f"{type(error).__name__}: {text}" if text != type(error).__name__ else text
