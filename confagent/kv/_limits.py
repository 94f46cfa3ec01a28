"""etcd 3.4's default limits on requests, in one place: ops per txn, a lease's TTL, a Raft request's size.

Kept apart from the checks that apply them (``_validate``, ``_sizes``) and
from the messages, so that a client sizing its txns (a one-shot's snapshot)
reads them without loading the message types.
"""

from __future__ import annotations

__all__ = ["MAX_LEASE_TTL", "MAX_REQUEST_BYTES", "MAX_TXN_OPS"]

MAX_TXN_OPS = 128
"""etcd's default ``--max-txn-ops``."""
MAX_LEASE_TTL = 9_000_000_000
"""etcd's ``lease.MaxLeaseTTL``, in seconds."""
MAX_REQUEST_BYTES = 1_572_864
"""etcd's --max-request-bytes default: the largest Raft request accepted."""
