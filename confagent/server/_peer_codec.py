"""Raft messages on the wire between members: msgpack frames with a length prefix.

A frame is ``length:u32 (big-endian)`` then a msgpack array of the message's
fields in ``Message`` order; entries and snapshot metadata are nested arrays.
The first field of every frame is the format version, so a member can refuse a
peer it cannot understand instead of misreading it.
"""

from __future__ import annotations

import struct
from typing import Any

import msgpack  # type: ignore[import-untyped]

from confagent.errors import PeerError
from confagent.raft import ConfState, Entry, EntryType, Message, MessageType, SnapshotMeta

__all__ = ["FRAME_HEADER", "MAX_FRAME_BYTES", "decode_message", "encode_message"]

FORMAT_VERSION = 1
FRAME_HEADER = struct.Struct(">I")
MAX_FRAME_BYTES = 512 * 1024 * 1024
"""A frame past this (a snapshot of an enormous store) is refused rather than buffered."""


def encode_message(m: Message) -> bytes:
    """One length-prefixed frame."""
    snapshot = None
    if m.snapshot is not None:
        conf = m.snapshot.conf_state
        snapshot = [m.snapshot.index, m.snapshot.term, list(conf.voters), list(conf.learners)]
    body: bytes = msgpack.packb([
        FORMAT_VERSION, int(m.type), m.to, m.frm, m.term, m.log_term, m.index,
        [[e.term, e.index, int(e.type), e.data] for e in m.entries],
        m.commit, m.reject, m.reject_hint, m.context, snapshot, m.snapshot_data,
    ], use_bin_type=True)
    return FRAME_HEADER.pack(len(body)) + body


def decode_message(body: bytes) -> Message:
    """The message in one frame's body (without the length prefix).

    Raises:
        PeerError: the frame is not a message of this format.
    """
    try:
        fields: list[Any] = msgpack.unpackb(body, raw=False)
        (version, kind, to, frm, term, log_term, index, entries, commit, reject, reject_hint,
         context, snapshot, snapshot_data) = fields
        if version != FORMAT_VERSION:
            raise PeerError(f"peer message: format {version}, this member reads {FORMAT_VERSION}")
        meta = None
        if snapshot is not None:
            meta = SnapshotMeta(snapshot[0], snapshot[1], ConfState(tuple(snapshot[2]), tuple(snapshot[3])))
        return Message(
            MessageType(kind), to, frm, term, log_term, index,
            tuple(Entry(t, i, EntryType(k), d) for t, i, k, d in entries),
            commit, reject, reject_hint, context, meta, snapshot_data)
    except (ValueError, TypeError, msgpack.UnpackException) as error:
        raise PeerError(f"peer message: cannot decode a {len(body)}-byte frame: {error}") from error
