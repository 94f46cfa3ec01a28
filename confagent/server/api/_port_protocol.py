"""A client URL's connections: the first bytes, or ALPN, pick HTTP/1.1 (the JSON gateway) or HTTP/2 (gRPC).

Chosen over the h2 library in the same asyncio server by ``bench/grpc_bench.py``
(bench/README.md, "etcd's gRPC API: how gRPC shares the client port").

Rules:
1. A connection's protocol is chosen once, then it owns the transport: over
   TLS by ALPN (``h2``: HTTP/2, else HTTP/1.1), in cleartext by the HTTP/2
   client preface. ALPN picks by the server's order, HTTP/1.1 first: gRPC
   clients offer only ``h2`` (grpc-go; grpcio ``grpc-exp`` and ``h2``) and get
   HTTP/2, while curl, browsers and httpx offer both and reach the gateway
   over HTTP/1.1 (HTTP/2 here is gRPC only).
2. HTTP/1.1 goes to uvicorn's httptools protocol unchanged, so the JSON gateway
   keeps its cost; HTTP/2 to ``_grpc_front.Http2Grpc``. The listener stays
   uvicorn's (``ClientPortProtocol`` is its ``http`` protocol class), so TLS,
   client-cert-auth, the backlog and the graceful stop are the gateway's.
3. On HTTP/1.1 the common name of the connection's client certificate is in each
   request's scope for the gateway, which names nobody by it (``_gateway``).
4. The gRPC front (``_grpc_front``: zttp; its method table: the protobuf messages,
   together about 0.1 s of CPU) is imported and built at the first HTTP/2
   connection, so that a member only ever asked over HTTP/1.1 (an agent's
   embedded store, a learner read through the gateway) never loads it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar, cast

import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.server import ServerState

from confagent.http_listener import client_common_name

if TYPE_CHECKING:
    from confagent.server.api._grpc_front import GrpcMethods

__all__ = ["ClientPortProtocol", "client_port_protocol"]

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"


class ClientPortProtocol(asyncio.Protocol):
    """uvicorn's ``http`` protocol for a client URL: picks HTTP/1.1 or HTTP/2 per connection (rule 1).

    Made for one set of methods (built at the first HTTP/2 connection: rule 4) by
    :func:`client_port_protocol`; uvicorn builds one per connection. Until it has chosen it
    counts as an idle connection of the listener.
    """

    alpn_protocols: ClassVar[list[str]] = ["http/1.1", "h2"]  # the server's order decides (rule 1)
    methods: ClassVar[GrpcMethodsOnUse]

    def __init__(self, config: uvicorn.Config, server_state: ServerState, app_state: dict[str, Any],
                 _loop: asyncio.AbstractEventLoop | None = None) -> None:
        self._config = config
        self._server_state = server_state
        self._app_state = app_state
        self._transport: asyncio.Transport | None = None
        self._buffer = b""
        self._idle: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        transport = cast(asyncio.Transport, transport)  # uvloop's transports are not asyncio's classes
        self._transport = transport
        ssl_object = transport.get_extra_info("ssl_object")
        if ssl_object is not None:
            self._choose(http2=ssl_object.selected_alpn_protocol() == "h2")
            return
        self._server_state.connections.add(self)  # type: ignore[arg-type]  # it has shutdown()
        self._idle = asyncio.get_running_loop().call_later(self._config.timeout_keep_alive, transport.close)

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        if len(self._buffer) < len(PREFACE) and PREFACE.startswith(self._buffer):
            return
        self._choose(http2=self._buffer.startswith(PREFACE))

    def _choose(self, *, http2: bool) -> None:
        self._forget()
        transport, first = self._transport, self._buffer
        assert transport is not None
        if http2:
            from confagent.server.api._grpc_front import Http2Grpc  # noqa: PLC0415 - rule 4

            Http2Grpc(self.methods.get(), self._server_state).take(transport, first)
            return
        protocol = _NamedHttp(config=self._config, server_state=self._server_state,
                              app_state=self._app_state)
        protocol.common_name = client_common_name(transport)
        transport.set_protocol(protocol)
        protocol.connection_made(transport)
        if first:
            protocol.data_received(first)

    def _forget(self) -> None:
        self._server_state.connections.discard(self)
        if self._idle is not None:
            self._idle.cancel()

    def connection_lost(self, exc: Exception | None) -> None:
        self._forget()

    def shutdown(self) -> None:
        """The listener is stopping before this connection said anything: close it."""
        if self._transport is not None:
            self._transport.close()


class _NamedHttp(HttpToolsProtocol):
    """uvicorn's HTTP/1.1 protocol, each request's scope saying the common name of the connection's
    client certificate, if any (ASGI's ``tls`` extension, ``client_cert_name``: ``CN=NAME``; rule 3)."""

    common_name = ""

    def on_message_begin(self) -> None:
        super().on_message_begin()
        if self.common_name:
            self.scope["extensions"] = {"tls": {"client_cert_name": "CN=" + self.common_name}}


class GrpcMethodsOnUse:
    """The gRPC methods of a client URL, built by ``build`` when first asked for (rule 4)."""

    def __init__(self, build: Callable[[], GrpcMethods]) -> None:
        self._build = build
        self._methods: GrpcMethods | None = None

    def get(self) -> GrpcMethods:
        if self._methods is None:
            self._methods = self._build()
        return self._methods


def client_port_protocol(build_methods: Callable[[], GrpcMethods]) -> type[ClientPortProtocol]:
    """The protocol class a client URL's uvicorn listener takes as ``http``, with the methods
    ``build_methods`` returns (called at the first HTTP/2 connection) on HTTP/2."""
    return type("ClientPortProtocol", (ClientPortProtocol,), {"methods": GrpcMethodsOnUse(build_methods)})
