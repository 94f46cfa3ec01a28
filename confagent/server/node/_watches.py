"""The node's one watch fan-out: which owner reads each watcher the hub matches an applied change to.

``WatchRegistry`` (one per member: ``StoreNode.watches``) routes each applied
change to the owner of each watcher its ``WatchHub`` matches: a ``WatchStream``
of the gateway (``confagent.server.api``), or a ``LocalWatch`` of the agent's
embedded backend (``_local``).

Rules:
1. When an owner cannot take a delivery (``offer`` returns False: its queue is
   full), the watcher is marked unsynced in the hub and the owner woken
   (``wake``) to catch it up from history: a slow reader never silently loses
   events and never grows memory without bound. A watcher with no owner (yet)
   is marked unsynced alone.
2. When the auth state changes, every owner is woken (``wake_all``): a gateway
   stream then asks its open watches whether their users may still read them.
"""

from __future__ import annotations

from typing import Protocol

from confagent.kv import Event, Watcher, WatchHub

__all__ = ["WatchOwner", "WatchRegistry"]


class WatchOwner(Protocol):
    """Whoever reads a watcher's events: a gateway stream, or an in-process watch."""

    def offer(self, watcher: Watcher, events: tuple[Event, ...], revision: int) -> bool:
        """Queue live events; False when full (the registry marks the watcher unsynced: rule 1)."""
        ...

    def wake(self) -> None:
        """A watcher of this owner fell behind: catch it up from history."""
        ...


class WatchRegistry:
    """Routes the hub's deliveries to the owners of its watchers (one per member: ``StoreNode.watches``)."""

    def __init__(self, hub: WatchHub) -> None:
        self.hub = hub
        self._owners: dict[int, WatchOwner] = {}

    def on_applied(self, revision: int, events: tuple[Event, ...]) -> None:
        for watcher, matched in self.hub.on_applied(revision, events):
            stream = self._owners.get(watcher.id)
            if stream is None or not stream.offer(watcher, matched, revision):
                self.hub.mark_unsynced(watcher)
                if stream is not None:
                    stream.wake()

    def wake_all(self) -> None:
        """Wake every owner once (the auth state changed: rule 2)."""
        for owner in {id(owner): owner for owner in self._owners.values()}.values():
            owner.wake()

    def own(self, watcher: Watcher, owner: WatchOwner) -> None:
        self._owners[watcher.id] = owner

    def release(self, watcher: Watcher) -> None:
        self._owners.pop(watcher.id, None)
        self.hub.cancel(watcher)

    def watcher_count(self) -> int:
        """Watchers with an owner: every watch a client or the agent holds (etcd's watcher_total)."""
        return len(self._owners)
