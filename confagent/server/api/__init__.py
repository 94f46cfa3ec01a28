"""The client edge: what a store member answers on its client URLs.

etcd 3.4's JSON gateway (a raw ASGI application, ``GatewayApp``) and its gRPC
services on the same sockets (``ClientPort``), both over one request handling.
Each module owns one part of it:

- ``_client_port``: the two fronts of one member, built together.
- ``_handling``: what a request does, on values, whichever front it came through.
- ``_gateway``: the unary paths, ``/version``, ``/health``, ``/metrics``, and the routing.
- ``_streams``: the two streaming RPCs, ``/v3/watch`` and ``/v3/lease/keepalive``;
  ``_watch_stream``: one watch stream's watchers and bounded outbox.
- ``_snapshot_stream``: ``/v3/maintenance/snapshot``.
- ``_lock_api``: ``/v3/lock/*`` and ``/v3/election/*`` (observe a stream), over the
  node's ``ConcurrencyServices``; a waiting call ends when its client leaves.
- ``_member_api``: ``/v3/cluster/member/*``, and ``watch_removal``, how a member
  cut off while it was removed learns it from the others' client URLs.
- ``_learner``: which requests a learner serves (etcd's table).
- ``_limits``: request size limits, measured as etcd measures them.
- ``_metrics``: the Prometheus metrics of ``/metrics``.
- ``_asgi``: the gateway's ASGI plumbing (bounded bodies, etcd's headers).
- ``_port_protocol``: each client socket's connections: the first bytes (or ALPN) pick
  HTTP/1.1 (the gateway) or HTTP/2 (gRPC).
- ``_grpc_front``: the gRPC transport: calls over zttp's HTTP/2 codec, one per stream.
- ``_grpc_services``: etcd's unary gRPC methods (KV, Lease, Cluster, Maintenance,
  Lock, Election, Auth, health); ``_grpc_streams``: its streaming ones.

It imports the node (``confagent.server.node``), and the member table and the
saved snapshot format (``membership``, ``storage``); no part of the server
imports it but the modules at ``confagent.server``'s top that assemble a member.
"""

from confagent.server.api._client_port import ClientPort
from confagent.server.api._gateway import GatewayApp
from confagent.server.api._handling import ServerInfo
from confagent.server.api._member_api import watch_removal
from confagent.server.api._metrics import Metrics

__all__ = ["ClientPort", "GatewayApp", "Metrics", "ServerInfo", "watch_removal"]
