"""``GrpcSnapshotBackend``: one-shot snapshots from etcd's gRPC KV service, for ``--onetime`` and ``render``.

A one-shot pass reads one snapshot and exits. etcd's JSON gateway takes
5-8 times longer than its gRPC service to answer the same range (100,000
keys: 0.8 s against 0.15 s, bench/README.md; 10,000 keys: 105-256 ms against
16-22 at load 45), and the client behind it (httpx and its stack) takes
longer to import than the pass takes to render 100 files. So a pass that
needs only the snapshot reads it over gRPC: unary calls on a blocking socket
(``GrpcCalls``: HTTP/2's few frames by hand, HPACK's header blocks by
``hpack``; zttp's stack, with its QUIC parts, cost the pass about 20 ms to
import), etcd's protobuf messages (``wire.pb_*``).

Rules:
1. The snapshot is what ``EtcdBackend.snapshot`` reads: the ranges of every
   distinct prefix in txns of at most ``MAX_TXN_OPS`` ranges at one
   revision. One txn gives its revision; more are all pinned to the revision
   a first one-key range answered with, and sent together as streams of one
   connection (etcd answers them in parallel: 100,000 keys in 1,000 ranges
   in about 250 ms instead of 350 when the first txn gave the revision).
2. Endpoints are tried in order: one that cannot be reached, or answers
   Unavailable (code 14), is a failure of that endpoint and the next is
   tried; any other status is the store's answer, raised as its
   ``StoreError`` (``store_error_from``). No endpoint answering is a
   ``ClientError`` naming each failure, as ``EtcdClient`` says it.
3. Each endpoint gets ``dial_timeout_s`` to connect (and for a TLS
   handshake), and ``command_timeout_s`` for each wait on the connection (a
   write, a read): as the JSON client's timeouts, a bound on silence, not on
   the whole answer, which for 100,000 keys takes seconds on a loaded machine.
4. It serves ``http://`` endpoints, and ``https://`` ones when
   ``client_cakeys`` names the CA bundle to verify them with (``client_cert``
   and ``client_key`` are sent when given; ALPN ``h2``), and no credentials
   (``serves``); ssl is loaded for ``https`` only. An ``https`` endpoint
   without ``client_cakeys`` (httpx then verifies with certifi's bundle) and
   signed-in users go through ``EtcdBackend``. It never watches (``changes``
   yields nothing until closed): the daemon opens ``EtcdBackend``.
5. It loads no more than it reads with: a range is a ``_Range`` tuple, not
   ``kv.RangeRequest`` (test_imports.py holds it to that).
6. ``read`` blocks. ``snapshot`` sends the first request on the caller's
   thread (a connect and a write, which block the event loop: a one-shot's
   loop has nothing else to do then), then reads the answers in a worker
   thread, so that the pass makes its Jinja environment and compiles its
   templates on the event loop while the store answers: a worker thread
   sending it waited up to 5 ms for the GIL after each of its system calls
   while the pass's imports held it (the request went out 8-27 ms after
   the thread started, against 2-3 ms with the GIL free).
7. The txns' answers are decoded one by one as they come, in their order: a
   store that sends each large answer as soon as it is made
   (``server.api._grpc_front`` rule 3) has the next ones made meanwhile.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncGenerator, Callable, Sequence
from contextlib import suppress
from typing import TYPE_CHECKING, NamedTuple, cast
from urllib.parse import urlsplit

from confagent.backends._base import Change, Snapshot
from confagent.backends._grpc_calls import CallsBroken, GrpcCalls
from confagent.backends._prefixes import PrefixSet
from confagent.backends._registry import BackendConfig
from confagent.backends._store_events import snapshot_of
from confagent.errors import ClientError, ConfigError, Unavailable
from confagent.kv import MAX_TXN_OPS, prefix_range
from confagent.wire import KeyValueBytes, pb_decode_range_txn_response, pb_encode_range_txn_request

if TYPE_CHECKING:
    import ssl

__all__ = ["GrpcSnapshotBackend"]

_TXN_PATH = "/etcdserverpb.KV/Txn"
_ENDPOINT_FAILURES = (OSError, CallsBroken, Unavailable)
"""What makes a read try the next endpoint (rule 2); TimeoutError and ssl's errors are OSErrors."""


class _Range(NamedTuple):
    """One range of a txn (``wire.RangeAsked``): not ``kv.RangeRequest``, whose module's 19 frozen
    dataclasses would cost a one-shot's start-up 7-10 ms (rule 5)."""

    key: bytes
    range_end: bytes
    limit: int = 0
    revision: int = 0


class GrpcSnapshotBackend:
    """Snapshots of an etcd (or confagent store) over gRPC; no watch (module docstring).

    Args:
        endpoints: ``http://`` or ``https://HOST:PORT`` URLs, tried in order.
        dial_timeout_s: to connect to one endpoint.
        command_timeout_s: for each wait on one endpoint's connection (rule 3).
        tls: how ``https`` endpoints are verified and what certificate is shown (rule 4).
    """

    name = "etcd"
    watches = False

    def __init__(self, endpoints: Sequence[str], *, dial_timeout_s: float, command_timeout_s: float,
                 tls: ssl.SSLContext | None = None) -> None:
        self._endpoints = tuple(endpoints)
        self._dial_timeout_s = dial_timeout_s
        self._command_timeout_s = command_timeout_s
        self._tls = tls
        self._closed: asyncio.Event | None = None

    @staticmethod
    def serves(config: BackendConfig) -> bool:
        """Whether ``config`` is an ``etcd`` backend this reads for (rule 4)."""
        schemes = {url.partition("://")[0].lower() for url in config.endpoints}
        return (config.backend == "etcd" and not config.username and schemes <= {"http", "https"}
                and ("https" not in schemes or config.client_cakeys is not None))

    @classmethod
    def for_config(cls, config: BackendConfig) -> GrpcSnapshotBackend:
        """The backend for a configuration it ``serves``.

        Raises:
            ConfigError: the CA bundle, the client certificate or its key cannot be loaded.
        """
        tls = None
        if config.client_cakeys is not None:
            import ssl  # noqa: PLC0415 - for https only (rule 4)

            try:
                tls = ssl.create_default_context(cafile=config.client_cakeys)
                if config.client_cert is not None:
                    tls.load_cert_chain(config.client_cert, config.client_key)
            except OSError as error:  # ssl.SSLError too
                raise ConfigError(f"cannot load the client TLS files: {error}", key="client_cakeys") from None
            tls.set_alpn_protocols(["h2"])
        return cls(config.endpoints, dial_timeout_s=config.dial_timeout_s,
                   command_timeout_s=config.command_timeout_s, tls=tls)

    async def snapshot(self, prefixes: Sequence[str]) -> Snapshot:
        """``read``, its first request sent before a worker thread reads the answers (rule 6)."""
        reading = self._reading(prefixes)
        return await asyncio.to_thread(reading.answer)

    def read(self, prefixes: Sequence[str]) -> Snapshot:
        """Every key under ``prefixes`` at one revision (rules 1-3). Blocking.

        Raises:
            StoreError: the store refused (``Compacted`` if it compacted between two txns).
            ClientError: no endpoint answered.
        """
        return self._reading(prefixes).answer()

    def _reading(self, prefixes: Sequence[str]) -> _Reading:
        """The read of ``prefixes``, its first request sent (rule 6)."""
        reading = _Reading(self._ask, self._endpoints, [_Range(*prefix_range(p.encode()))
                                                        for p in PrefixSet(prefixes).prefixes])
        reading.ask()
        return reading

    def _ask(self, url: str, request: bytes) -> _Asked:
        """``request`` sent to ``url`` on a new connection (rules 3-4).

        Raises:
            CallsBroken, OSError: the endpoint cannot be reached, or broke the connection.
        """
        parts = urlsplit(url)
        secure = parts.scheme.lower() == "https"
        if secure and self._tls is None:
            raise CallsBroken("an https endpoint, and no CA bundle to verify it with (client_cakeys)")
        sock = _connect(parts.hostname, parts.port or (443 if secure else 80), self._dial_timeout_s)
        try:
            if secure:
                assert self._tls is not None
                sock = self._tls.wrap_socket(sock, server_hostname=parts.hostname)
            sock.settimeout(self._command_timeout_s)
            calls = GrpcCalls(sock, parts.netloc, _TXN_PATH, "https" if secure else "http")
            (stream,) = calls.send([request])
        except BaseException:
            with suppress(OSError):
                sock.close()
            raise
        return _Asked(url, sock, calls, stream)

    async def changes(self, prefixes: Sequence[str], after: int) -> AsyncGenerator[Change, None]:
        """Nothing, ever (rule 4); ends when the backend is closed."""
        PrefixSet(prefixes)  # the same argument checks as every backend
        if self._closed is None:
            self._closed = asyncio.Event()
        await self._closed.wait()
        return
        yield  # an async generator that yields nothing

    async def close(self) -> None:
        if self._closed is None:
            self._closed = asyncio.Event()
        self._closed.set()


def _connect(host: str | None, port: int, timeout_s: float) -> socket.socket:
    """``socket.create_connection`` to ``host``, named in bytes when it is ASCII: ``getaddrinfo`` encodes a
    ``str`` name with Python's ``idna`` codec, whose import (``stringprep``, ``unicodedata``) costs a
    one-shot 3 ms, for the non-ASCII names only it changes."""
    name = host.encode("ascii") if host is not None and host.isascii() else host
    address = cast("tuple[str | None, int]", (name, port))  # getaddrinfo takes bytes; typeshed says str
    return socket.create_connection(address, timeout=timeout_s)


class _Asked(NamedTuple):
    """An endpoint sent a snapshot's first request: its connection, and the stream to read the answer on."""

    url: str
    sock: socket.socket
    calls: GrpcCalls
    stream: int


class _Reading:
    """One snapshot's read over the endpoints in turn (rules 1-2): ``ask`` sends the first request to the
    first endpoint that takes it; ``answer`` reads the rest from there, or after a failure from the next.

    Args:
        ask: sends a request to an endpoint on a new connection (``GrpcSnapshotBackend._ask``).
    """

    def __init__(self, ask: Callable[[str, bytes], _Asked], endpoints: Sequence[str],
                 ranges: Sequence[_Range]) -> None:
        self._ask = ask
        self._urls = iter(endpoints)
        self._ranges = ranges
        self._chunks = [ranges[start:start + MAX_TXN_OPS] for start in range(0, len(ranges), MAX_TXN_OPS)]
        self._failures: list[str] = []
        self._asked: _Asked | None = None

    def ask(self) -> None:
        """Send the first request (rule 1) to the next endpoint that takes it; none may."""
        for url in self._urls:
            try:
                self._asked = self._ask(url, self._first_request())
            except _ENDPOINT_FAILURES as error:
                self._failures.append(f"{url}: {_describe(error)}")
            else:
                return

    def answer(self) -> Snapshot:
        """The snapshot (rules 1-2), its connection closed.

        Raises:
            StoreError: the store refused (``Compacted`` if it compacted between two txns).
            ClientError: no endpoint answered.
        """
        while self._asked is not None:
            asked, self._asked = self._asked, None
            try:
                return snapshot_of(*self._read(asked))
            except _ENDPOINT_FAILURES as error:
                self._failures.append(f"{asked.url}: {_describe(error)}")
            finally:
                with suppress(OSError):
                    asked.sock.close()
            self.ask()
        raise ClientError("no endpoint answered: " + "; ".join(self._failures))

    def _first_request(self) -> bytes:
        """The txn of every range when they fit in one, else a one-key range for their revision (rule 1)."""
        if len(self._chunks) == 1:
            return _encode(self._chunks[0], 0)
        first = self._ranges[0]
        return _encode([_Range(first.key, first.range_end, limit=1)], 0)

    def _read(self, asked: _Asked) -> tuple[int, list[KeyValueBytes]]:
        """The revision and the key-values of the ranges, the first request's answer read from ``asked``."""
        (message,) = asked.calls.receive([asked.stream])
        first = pb_decode_range_txn_response(message)
        if len(self._chunks) == 1:
            return first.revision, list(first.kvs)
        kvs: list[KeyValueBytes] = []
        for stream in asked.calls.send([_encode(chunk, first.revision) for chunk in self._chunks]):
            (message,) = asked.calls.receive([stream])  # decoded while the next ones come (rule 7)
            kvs.extend(pb_decode_range_txn_response(message).kvs)
        return first.revision, kvs


def _encode(chunk: Sequence[_Range], revision: int) -> bytes:
    """A txn of the ranges of ``chunk``, pinned to ``revision`` (0: the store's current one)."""
    return pb_encode_range_txn_request([r._replace(revision=revision) for r in chunk])


def _describe(error: BaseException) -> str:
    if isinstance(error, TimeoutError):
        return "timed out"
    return str(error) or type(error).__name__

