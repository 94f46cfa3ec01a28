"""The replicated half of leases: which leases exist, their granted TTL, their keys.

Deadlines are not replicated state: the leader keeps them (``Lessor``) and
proposes a revoke when one passes. A key belongs to at most one lease, the
``lease`` of its current version; a put without ``ignore_lease`` moves it,
and deleting the key detaches it.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["LeaseInfo", "LeaseTable"]


@dataclass(frozen=True, slots=True)
class LeaseInfo:
    """A lease as the store knows it: ``ttl`` as granted (after raising it to the minimum)."""

    id: int
    ttl: int
    keys: tuple[bytes, ...] = ()


class LeaseTable:
    """Granted TTL and attached keys per lease ID."""

    __slots__ = ("_keys", "_ttls")

    def __init__(self) -> None:
        self._ttls: dict[int, int] = {}
        self._keys: dict[int, set[bytes]] = {}

    def __contains__(self, lease_id: int) -> bool:
        return lease_id in self._ttls

    def grant(self, lease_id: int, ttl: int) -> None:
        self._ttls[lease_id] = ttl
        self._keys[lease_id] = set()

    def remove(self, lease_id: int) -> tuple[bytes, ...]:
        """Forget a lease; its keys, sorted (the order etcd deletes them in)."""
        del self._ttls[lease_id]
        return tuple(sorted(self._keys.pop(lease_id)))

    def attach(self, lease_id: int, key: bytes) -> None:
        self._keys[lease_id].add(key)

    def detach(self, lease_id: int, key: bytes) -> None:
        keys = self._keys.get(lease_id)
        if keys is not None:
            keys.discard(key)

    def info(self, lease_id: int) -> LeaseInfo | None:
        ttl = self._ttls.get(lease_id)
        if ttl is None:
            return None
        return LeaseInfo(id=lease_id, ttl=ttl, keys=tuple(sorted(self._keys[lease_id])))

    def ttls(self) -> dict[int, int]:
        """Granted TTL by lease ID, in grant order."""
        return dict(self._ttls)
