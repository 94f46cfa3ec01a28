"""Applying one committed entry to a member's state: which kind it is, what it changes, who is answered.

Rules:
1. Every member applies every entry alike; only the member that proposed an
   entry answers its waiting proposal (``Proposals``), with the outcome or the
   store's refusal.
2. What an entry is, and how a store command applies (its credentials checked
   then), is ``_entries``' (the offline reader applies entries with it too).
3. Applying a store command tells the leases (granted, revoked) and then every
   listener of its events (the watches), in the order the entries commit.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from confagent.errors import StoreError
from confagent.kv import (
    Applied,
    Event,
    KvStore,
    LeaseGrantRequest,
    LeaseRevokeRequest,
    Request,
)
from confagent.raft import Entry
from confagent.server.membership import MemberChanges
from confagent.server.node._auth import MemberAuth
from confagent.server.node._entries import EntryKind, apply_store_command, entry_kind
from confagent.server.node._leases import Leases
from confagent.server.node._proposals import REQUEST_ID_BYTES, Proposals

__all__ = ["Applier", "ApplyListener"]

ApplyListener = Callable[[int, tuple[Event, ...]], None]


class Applier:
    """Applies committed entries to the member's key-value store, auth store and member table."""

    def __init__(self, kv: KvStore, auth: MemberAuth, members: MemberChanges, proposals: Proposals,
                 leases: Leases, listeners: list[ApplyListener]) -> None:
        self._kv = kv
        self._auth = auth
        self._members = members
        self._proposals = proposals
        self._leases = leases
        self._listeners = listeners

    def apply(self, entry: Entry) -> None:
        """Apply ``entry`` (rule 2); a store error answers its proposal, any other error is a bug."""
        kind = entry_kind(entry)
        if kind is EntryKind.EMPTY:
            return  # the leader's empty entry of its term
        if kind is EntryKind.CONF_CHANGE:
            self._members.apply_change(entry.data)
            return
        request_id, payload = entry.data[:REQUEST_ID_BYTES], entry.data[REQUEST_ID_BYTES:]
        if kind is EntryKind.MEMBER:
            self._members.apply_command(request_id, payload)
        elif kind is EntryKind.PROBE:  # ``confirm_progress``
            self._proposals.probe_applied(entry.data)
        # The proposal waits until answered: should applying it fail with a bug, the driver
        # dies and ``_task_ended`` answers it with the others.
        elif kind is EntryKind.AUTH:
            self._apply_auth(request_id, payload, entry.index)
        else:
            self._apply_store(request_id, payload)

    def _apply_store(self, request_id: bytes, payload: bytes) -> None:
        try:
            request, applied = apply_store_command(self._kv, self._auth, payload,
                                                   self._proposals.request_of(request_id))
        except StoreError as error:
            self._proposals.answer(request_id, error)
            return
        self._after_apply(request, applied)
        self._proposals.answer(request_id, applied)

    def _apply_auth(self, request_id: bytes, payload: bytes, index: int) -> None:
        try:
            token = self._auth.apply(payload, index, asyncio.get_running_loop().time())
        except StoreError as error:
            self._proposals.answer(request_id, error)
            return
        self._proposals.answer(request_id, token)

    def _after_apply(self, request: Request, applied: Applied) -> None:
        if isinstance(request, LeaseGrantRequest):
            self._leases.granted(request.id, lone_voter=self._members.lone_voter)
        elif isinstance(request, LeaseRevokeRequest):
            self._leases.revoked(request.id)
        if applied.events:
            for listener in self._listeners:
                listener(applied.revision, applied.events)
