"""What one member serves on each client URL: the JSON gateway and etcd's gRPC services, one socket.

``ClientPort.of`` builds both over one ``Handling``, so a request is handled
the same whichever front it came through: ``app`` is the gateway's ASGI
application, ``protocol`` the uvicorn protocol class that gives each
connection to HTTP/1.1 (the gateway) or HTTP/2 (gRPC) (``_port_protocol``). The
gRPC services' table is built, and their modules imported, at the first HTTP/2
connection (``_port_protocol`` rule 4).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING

from confagent.server.api._auth_edge import DEFAULT_BCRYPT_COST, AuthEdge
from confagent.server.api._gateway import GatewayApp
from confagent.server.api._handling import Handling, ServerInfo
from confagent.server.api._metrics import Metrics
from confagent.server.api._port_protocol import ClientPortProtocol, client_port_protocol
from confagent.server.node import ConcurrencyServices, StoreNode

if TYPE_CHECKING:
    from confagent.server.api._grpc_front import GrpcMethods

__all__ = ["ClientPort"]




@dataclass(frozen=True, slots=True)
class ClientPort:
    """The gateway application and the per-connection protocol of a member's client URLs."""

    app: GatewayApp
    protocol: type[ClientPortProtocol]

    @classmethod
    def of(cls, node: StoreNode, info: ServerInfo, services: ConcurrencyServices, metrics: Metrics,
           progress_interval_s: float, *, bcrypt_cost: int = DEFAULT_BCRYPT_COST) -> ClientPort:
        """Both fronts over one ``Handling``; passwords hashed at ``bcrypt_cost`` (``--bcrypt-cost``)."""
        handling = Handling(node, info, services, AuthEdge(node, bcrypt_cost=bcrypt_cost))
        methods = partial(_grpc_methods, handling, progress_interval_s)
        return cls(GatewayApp(handling, metrics, progress_interval_s), client_port_protocol(methods))


def _grpc_methods(handling: Handling, progress_interval_s: float) -> GrpcMethods:
    """The gRPC services over ``handling``, their modules imported now (module docstring)."""
    from confagent.server.api._grpc_services import grpc_methods  # noqa: PLC0415 - on first use
    from confagent.server.api._grpc_streams import GrpcStreams  # noqa: PLC0415

    return grpc_methods(handling, GrpcStreams(handling, progress_interval_s))
