"""A member's snapshot payload: what a ``.snap`` file holds and a leader sends a follower.

The payload nests three parts, each wrapped around the next:

    member table (``membership.wrap_snapshot``) -> users and roles (``_auth.wrap_auth``) -> key-value state

1. A part a store never had is absent (a store without auth, a payload from before
   members travelled in snapshots); reading gives the default for it.
2. A capture is taken in one step of the event loop, by reference, and encoded later,
   in another thread (``_snapshotter``): the state captured must not move, so the
   key-value part is ``KvStore.snapshot_state`` and the table a copy.
3. ``kv_data_of`` takes the key-value part and passes over the users and roles
   unread (their framing is ``_formats``'): the data-directory reader of a one-shot
   does without loading the auth package or the store's messages (``_auth`` and
   ``KvStore`` are imported where a payload is read whole or captured).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from confagent.server.membership import MemberTable, unwrap_snapshot, wrap_snapshot
from confagent.server.node._formats import split_auth_part

if TYPE_CHECKING:
    from confagent import auth
    from confagent.kv import KvStore

__all__ = ["Payload", "capture_payload", "kv_data_of"]


@dataclass(frozen=True, slots=True)
class Payload:
    """A payload read: its parts (rule 1)."""

    table: MemberTable | None
    """None when the payload carries no member table."""
    auth_state: auth.AuthState
    kv_data: bytes

    @classmethod
    def read(cls, data: bytes) -> Payload:
        """Raises: StorageError: a part cut short or undecodable."""
        from confagent.server.node._auth import unwrap_auth  # noqa: PLC0415 - rule 3

        table, data = unwrap_snapshot(data)
        auth_state, kv_data = unwrap_auth(data)
        return cls(table, auth_state, kv_data)


def capture_payload(kv: KvStore, auth_state: auth.AuthState, table: MemberTable) -> Callable[[], bytes]:
    """The state now, by reference; the function encoding it into a payload later (rule 2)."""
    from confagent.server.node._auth import wrap_auth  # noqa: PLC0415 - rule 3

    kv_state = kv.snapshot_state()
    table = MemberTable(table.cluster_id, table.members(), table.removed)
    return lambda: wrap_snapshot(table, wrap_auth(auth_state, kv_state.encode()))


def kv_data_of(data: bytes) -> bytes:
    """The key-value part of the payload ``data``, its users and roles passed over unread (rule 3).

    Raises:
        StorageError: a part cut short, or a member table undecodable.
    """
    _, data = unwrap_snapshot(data)
    return split_auth_part(data)[1]

