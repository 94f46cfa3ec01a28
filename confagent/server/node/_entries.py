"""What a committed entry holds, and a store command applied: written once, for the member and the reader.

Rules:
1. An entry is, after its request ID: a member command (``MemberCommand.MARKER``),
   an auth command (``_auth.AUTH_COMMAND``), a store command with its proposer's
   credentials (``_auth.WITH_CREDENTIALS``) or a store command alone (both
   ``STORE``); a request ID alone is a progress probe; an empty entry is a new
   leader's; a configuration change is the membership's.
2. A store command with credentials is checked against the auth state as it
   applies (``MemberAuth.check_write``); a command refused, or failing against the
   store's state, changes nothing (a ``StoreError``), on every member alike.
3. Telling an entry's kind loads nothing but the entry's values (the markers of
   rule 1 are ``_formats``'); what applies a store command (the store's messages,
   the auth state) is imported by ``apply_store_command``, so that the
   data-directory reader of a one-shot reads a snapshot's keys without them.
"""

from __future__ import annotations

from enum import Enum
from typing import TYPE_CHECKING

from confagent.raft import Entry, EntryType
from confagent.server.membership import MemberCommand
from confagent.server.node._formats import AUTH_COMMAND, REQUEST_ID_BYTES, WITH_CREDENTIALS

if TYPE_CHECKING:
    from confagent.kv import Applied, KvStore, Request
    from confagent.server.node._auth import MemberAuth

__all__ = ["EntryKind", "apply_store_command", "entry_kind"]


class EntryKind(Enum):
    """What a committed entry is (rule 1)."""

    EMPTY = "empty"
    CONF_CHANGE = "conf change"
    MEMBER = "member command"
    PROBE = "progress probe"
    AUTH = "auth command"
    STORE = "store command"


def entry_kind(entry: Entry) -> EntryKind:
    """Rule 1. The payload of an ``AUTH``, ``MEMBER`` or ``STORE`` entry follows its request ID
    (``entry.data[REQUEST_ID_BYTES:]``)."""
    data = entry.data
    if not data:
        return EntryKind.EMPTY
    if entry.type is EntryType.CONF_CHANGE:
        return EntryKind.CONF_CHANGE
    if data.startswith(MemberCommand.MARKER, REQUEST_ID_BYTES):
        return EntryKind.MEMBER
    if len(data) == REQUEST_ID_BYTES:
        return EntryKind.PROBE
    if data.startswith(AUTH_COMMAND, REQUEST_ID_BYTES):
        return EntryKind.AUTH
    return EntryKind.STORE


def apply_store_command(kv: KvStore, auth: MemberAuth, payload: bytes,
                        request: Request | None = None) -> tuple[Request, Applied]:
    """Apply a ``STORE`` entry's payload to ``kv`` (rule 2): the request and what applying it did.

    Args:
        request: the payload's store command when the caller holds it already (the proposer).

    Raises:
        StoreError: the credentials may not make the request, or the store refused it; nothing changed.
        StorageError: the payload is undecodable.
    """
    from confagent.kv import decode_request  # noqa: PLC0415 - rule 3
    from confagent.server.node._auth import split_credentials  # noqa: PLC0415 - rule 3

    credentials = None
    if payload.startswith(WITH_CREDENTIALS):
        credentials, payload = split_credentials(payload)
    if request is None:
        request = decode_request(payload)
    if credentials is not None:
        auth.check_write(credentials, request, kv)
    return request, kv.apply(request)
