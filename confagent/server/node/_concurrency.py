"""The lock and election services of one member, built once and called by every front.

``ConcurrencyServices`` holds one ``PrefixWaits`` (the shared machinery: leases
of calls, turns, in-process watches, clean-ups), the ``LockService`` and the
``ElectionService`` over it. The JSON gateway calls them today, the gRPC front
next, so each rule of etcd's ``v3lock`` and ``v3election`` is written once.
"""

from __future__ import annotations

from confagent.server.node._election_service import ElectionService
from confagent.server.node._lock_service import LockService
from confagent.server.node._node import StoreNode
from confagent.server.node._prefix_waits import PrefixWaits

__all__ = ["ConcurrencyServices"]


class ConcurrencyServices:
    """A member's lock and election services (``lock``, ``election``); ``close`` when it stops."""

    def __init__(self, node: StoreNode) -> None:
        self._waits = PrefixWaits(node)
        self.lock = LockService(self._waits)
        self.election = ElectionService(self._waits)

    def close(self) -> None:
        """End every wait and watch of the services; callers waiting get 'server stopped'."""
        self._waits.close()
