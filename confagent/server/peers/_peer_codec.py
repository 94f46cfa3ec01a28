"""Frames between members on the wire: msgpack arrays with a length prefix.

A frame is ``length:u32 (big-endian)`` then a msgpack array
``[format version, frame kind, *fields]``:

- ``RAFT``: a Raft ``Message``, its fields in ``Message`` order; entries and
  snapshot metadata are nested arrays.
- ``LEASE_QUERY``: a follower asks the leader to renew a lease or to tell how
  long it has left (lease deadlines live on the leader only).
- ``LEASE_ANSWER``: the leader's answer, carrying the query's ``request_id``.
- ``MEMBER_QUERY``: a follower asks the leader to add, remove or promote a
  member (only the leader proposes a Raft membership change).
- ``MEMBER_ANSWER``: the leader's answer: the members after the change, or
  the error etcd's leader gives (its gRPC code and message).

A frame of a kind this member does not know is refused (``PeerError``) as any
frame it cannot read: the connection is dropped, the driver never sees it.

The format version leads every frame, so a member can refuse a peer it cannot
understand instead of misreading it.

``encode_frames`` encodes a batch, each frame as the chunks written one after
another (``Chunks``), the bytes being those ``encode_frame`` gives:

1. Raft messages alike but for their recipient (an append to every learner at
   one position: the same entries tuple, the same commit) share one encoding of
   everything after the recipient: each frame is its own head (length, kind,
   type, recipient) and then that shared tail, not copied into each frame when
   it is ``SHARED_CHUNK_BYTES`` or more.
2. A snapshot message's payload is the frame's last field: its chunk is the
   message's own ``snapshot_data`` object, never copied. A leader sending one
   catch-up snapshot to many learners holds one payload, however many write
   buffers it waits in (``_catch_up`` rule 3), and a frame's head each.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable
from dataclasses import dataclass
from enum import IntEnum
from typing import Any

import msgpack  # type: ignore[import-untyped]

from confagent.errors import PeerError
from confagent.raft import ConfState, Entry, EntryType, Message, MessageType, SnapshotMeta
from confagent.server.membership import Member

__all__ = [
    "FRAME_HEADER",
    "MAX_FRAME_BYTES",
    "CallFrame",
    "Chunks",
    "LeaseAnswer",
    "LeaseOp",
    "LeaseQuery",
    "MemberAnswer",
    "MemberCall",
    "MemberOp",
    "MemberQuery",
    "PeerFrame",
    "decode_frame",
    "encode_frame",
    "encode_frames",
]

FORMAT_VERSION = 2
FRAME_HEADER = struct.Struct(">I")
MAX_FRAME_BYTES = 512 * 1024 * 1024
"""A frame past this (a snapshot of an enormous store) is refused rather than buffered."""


class _FrameKind(IntEnum):
    RAFT = 1
    LEASE_QUERY = 2
    LEASE_ANSWER = 3
    MEMBER_QUERY = 4
    MEMBER_ANSWER = 5


class LeaseOp(IntEnum):
    """What a follower asks of the leader's lease deadlines."""

    KEEP_ALIVE = 1
    """Renew the lease; the answer is its granted TTL, 0 for an unknown lease."""
    TIME_TO_LIVE = 2
    """The answer is the whole seconds left on the lease, -1 for an unknown lease."""


@dataclass(frozen=True, slots=True)
class LeaseQuery:
    """A follower's lease call forwarded to the member it believes leads."""

    to: int
    frm: int
    request_id: int
    """Chosen by the asking member; the answer carries it back."""
    op: LeaseOp
    lease_id: int


@dataclass(frozen=True, slots=True)
class LeaseAnswer:
    """The answer to one ``LeaseQuery``."""

    to: int
    frm: int
    request_id: int
    ttl: int
    """The result of the query's ``op`` (see ``LeaseOp``); meaningless when ``retry``."""
    retry: bool = False
    """The asked member could not answer (it does not lead, or lost leadership): ask again."""


class MemberOp(IntEnum):
    """The membership changes only the leader proposes."""

    ADD = 1
    REMOVE = 2
    PROMOTE = 3


@dataclass(frozen=True, slots=True)
class MemberCall:
    """A membership change as a follower forwards it (etcd's MemberAdd, MemberRemove, MemberPromote)."""

    op: MemberOp
    member_id: int = 0
    """The member removed or promoted (0 for ``ADD``: the leader derives the new one's ID)."""
    peer_urls: tuple[str, ...] = ()
    """``ADD``: the new member's peer URLs."""
    is_learner: bool = False
    """``ADD``: whether the new member is a learner."""


@dataclass(frozen=True, slots=True)
class MemberQuery:
    """A follower's membership change forwarded to the member it believes leads."""

    to: int
    frm: int
    request_id: int
    call: MemberCall


@dataclass(frozen=True, slots=True)
class MemberAnswer:
    """The answer to one ``MemberQuery``: the members once the change applied, or etcd's error."""

    to: int
    frm: int
    request_id: int
    members: tuple[Member, ...] = ()
    added_id: int = 0
    """``ADD``: the new member's ID (it is among ``members``)."""
    error_code: int = 0
    """The gRPC code of the leader's refusal; 0 when the change applied."""
    error_message: str = ""
    retry: bool = False
    """The asked member does not lead: ask again."""


CallFrame = LeaseQuery | LeaseAnswer | MemberQuery | MemberAnswer
"""The frames of calls a follower forwards to the leader (``_leader_calls``)."""
PeerFrame = Message | CallFrame
Chunks = tuple[bytes, ...]
"""One frame's bytes in pieces, written in order (``writelines``): the frame alone, or its head and
then a part shared with other frames or held by the message (module rules 1 and 2)."""

SHARED_CHUNK_BYTES = 64 * 1024
"""An append's shared tail at least this long is its own chunk; a shorter one is copied into each
frame, one write buffer piece instead of two (rule 1)."""


def encode_frame(frame: PeerFrame) -> bytes:
    """One length-prefixed frame."""
    return b"".join(_chunks(frame))


def _chunks(frame: PeerFrame) -> Chunks:
    """One frame, its snapshot payload a chunk of its own (rule 2)."""
    if isinstance(frame, Message) and frame.snapshot_data:
        return _snapshot_chunks(frame)
    fields: list[Any]
    match frame:
        case Message():
            fields = [_FrameKind.RAFT, *_message_fields(frame)]
        case LeaseQuery():
            fields = [_FrameKind.LEASE_QUERY, frame.to, frame.frm, frame.request_id, int(frame.op),
                      frame.lease_id]
        case LeaseAnswer():
            fields = [_FrameKind.LEASE_ANSWER, frame.to, frame.frm, frame.request_id, frame.ttl,
                      frame.retry]
        case MemberQuery():
            call = frame.call
            fields = [_FrameKind.MEMBER_QUERY, frame.to, frame.frm, frame.request_id, int(call.op),
                      call.member_id, list(call.peer_urls), call.is_learner]
        case MemberAnswer():
            fields = [_FrameKind.MEMBER_ANSWER, frame.to, frame.frm, frame.request_id,
                      [m.to_fields() for m in frame.members], frame.added_id, frame.error_code,
                      frame.error_message, frame.retry]
    body: bytes = msgpack.packb([FORMAT_VERSION, *fields], use_bin_type=True)
    return (FRAME_HEADER.pack(len(body)) + body,)


_EMPTY_BIN = b"\xc4\x00"
"""msgpack's empty ``bin``: the last field of a message packed without its snapshot data."""


def _snapshot_chunks(m: Message) -> Chunks:
    """Rule 2: the message packed with empty snapshot data, that field's header made for the data's
    length, and the data itself after it; the bytes msgpack gives for the whole message."""
    data = m.snapshot_data
    fields = _message_fields(m)
    fields[-1] = b""
    body: bytes = msgpack.packb([FORMAT_VERSION, _FrameKind.RAFT, *fields], use_bin_type=True)
    assert body.endswith(_EMPTY_BIN), "the snapshot data is a message's last field"
    size = len(data)
    if size < 1 << 8:
        header = b"\xc4" + size.to_bytes(1, "big")
    elif size < 1 << 16:
        header = b"\xc5" + size.to_bytes(2, "big")
    else:
        header = b"\xc6" + size.to_bytes(4, "big")
    head = body[:-len(_EMPTY_BIN)] + header
    return FRAME_HEADER.pack(len(head) + size) + head, data


_MESSAGE_FIELDS = 13
"""Fields of a ``Message`` on the wire (``_message_fields``): type, to, then the shared tail."""
_PACKER = msgpack.Packer(use_bin_type=True)
_RAFT_HEADS = {t: _PACKER.pack_array_header(2 + _MESSAGE_FIELDS) + msgpack.packb(FORMAT_VERSION)
               + msgpack.packb(int(_FrameKind.RAFT)) + msgpack.packb(int(t)) for t in MessageType}
_TAIL_ARRAY = 0x90 | (_MESSAGE_FIELDS - 2)
"""A msgpack fixarray's first byte for the fields after the recipient."""
_FRAME_KINDS = {int(k): k for k in _FrameKind}
_MESSAGE_TYPES = {int(t): t for t in MessageType}
_ENTRY_TYPES = {int(t): t for t in EntryType}


def encode_frames(frames: Iterable[PeerFrame]) -> list[Chunks]:
    """Each frame's chunks, their bytes those ``encode_frame`` gives; appends alike but for their
    recipient encoded once (rule 1), snapshot data never copied (rule 2).

    Alike: the same entries tuple (``RaftLog.slice`` hands learners at one position one tuple)
    and the same other fields. Within one call the messages hold their tuples, so ids are stable.
    """
    tails: dict[tuple[Any, ...], bytes] = {}
    encoded: list[Chunks] = []
    for frame in frames:
        if not isinstance(frame, Message) or not frame.entries or frame.snapshot is not None:
            encoded.append(_chunks(frame))
            continue
        key = (frame.type, frame.frm, frame.term, frame.log_term, frame.index, id(frame.entries),
               frame.commit, frame.reject, frame.reject_hint, frame.context, frame.snapshot_data)
        tail = tails.get(key)
        if tail is None:
            packed = msgpack.packb(_message_fields(frame)[2:], use_bin_type=True)
            assert packed[0] == _TAIL_ARRAY, "a message's tail is a fixarray"
            tail = tails[key] = packed[1:]
        head = _RAFT_HEADS[frame.type] + msgpack.packb(frame.to)
        length = FRAME_HEADER.pack(len(head) + len(tail))
        if len(tail) >= SHARED_CHUNK_BYTES:
            encoded.append((length + head, tail))
        else:
            encoded.append((length + head + tail,))
    return encoded


def decode_frame(body: bytes) -> PeerFrame:
    """The frame in one body (without the length prefix).

    Raises:
        PeerError: the body is not a frame of this format.
    """
    try:
        version, kind, *fields = msgpack.unpackb(body, raw=False)
        if version != FORMAT_VERSION:
            raise PeerError(f"peer frame: format {version}, this member reads {FORMAT_VERSION}")
        match _FRAME_KINDS[kind]:
            case _FrameKind.RAFT:
                return _message_from(fields)
            case _FrameKind.LEASE_QUERY:
                to, frm, request_id, op, lease_id = fields
                return LeaseQuery(to, frm, request_id, LeaseOp(op), lease_id)
            case _FrameKind.LEASE_ANSWER:
                to, frm, request_id, ttl, retry = fields
                return LeaseAnswer(to, frm, request_id, ttl, bool(retry))
            case _FrameKind.MEMBER_QUERY:
                to, frm, request_id, op, member_id, peer_urls, is_learner = fields
                call = MemberCall(MemberOp(op), member_id, tuple(map(str, peer_urls)), bool(is_learner))
                return MemberQuery(to, frm, request_id, call)
            case _FrameKind.MEMBER_ANSWER:
                to, frm, request_id, members, added_id, code, message, retry = fields
                return MemberAnswer(to, frm, request_id, tuple(map(Member.from_fields, members)), added_id,
                                    code, str(message), bool(retry))
    except (ValueError, TypeError, KeyError, msgpack.UnpackException) as error:
        raise PeerError(f"peer frame: cannot decode a {len(body)}-byte frame: {error}") from error


def _message_fields(m: Message) -> list[Any]:
    snapshot = None
    if m.snapshot is not None:
        conf = m.snapshot.conf_state
        snapshot = [m.snapshot.index, m.snapshot.term, list(conf.voters), list(conf.learners)]
    return [int(m.type), m.to, m.frm, m.term, m.log_term, m.index,
            [[e.term, e.index, int(e.type), e.data] for e in m.entries],
            m.commit, m.reject, m.reject_hint, m.context, snapshot, m.snapshot_data]


def _message_from(fields: list[Any]) -> Message:
    (kind, to, frm, term, log_term, index, entries, commit, reject, reject_hint,
     context, snapshot, snapshot_data) = fields
    meta = None
    if snapshot is not None:
        meta = SnapshotMeta(snapshot[0], snapshot[1], ConfState(tuple(snapshot[2]), tuple(snapshot[3])))
    return Message(
        _MESSAGE_TYPES[kind], to, frm, term, log_term, index,
        tuple(Entry(t, i, _ENTRY_TYPES[k], d) for t, i, k, d in entries),
        commit, reject, reject_hint, context, meta, snapshot_data)
