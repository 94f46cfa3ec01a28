"""What one member serves on each client URL: the JSON gateway and etcd's gRPC services, one socket.

``ClientPort.of`` builds both over one ``Handling``, so a request is handled
the same whichever front it came through: ``app`` is the gateway's ASGI
application, ``protocol`` the uvicorn protocol class that gives each
connection to HTTP/1.1 (the gateway) or HTTP/2 (gRPC) (``_port_protocol``).
"""

from __future__ import annotations

from dataclasses import dataclass

from confagent.server.api._auth_edge import DEFAULT_BCRYPT_COST, AuthEdge
from confagent.server.api._gateway import GatewayApp
from confagent.server.api._grpc_services import grpc_methods
from confagent.server.api._grpc_streams import GrpcStreams
from confagent.server.api._handling import Handling, ServerInfo
from confagent.server.api._metrics import Metrics
from confagent.server.api._port_protocol import ClientPortProtocol, client_port_protocol
from confagent.server.node import ConcurrencyServices, StoreNode

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
        methods = grpc_methods(handling, GrpcStreams(handling, progress_interval_s))
        return cls(GatewayApp(handling, metrics, progress_interval_s), client_port_protocol(methods))
