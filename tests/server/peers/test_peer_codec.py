"""Peer frames (Raft messages, lease and member queries and answers) survive the wire unchanged;
bad frames are refused clearly."""

from __future__ import annotations

import msgpack  # type: ignore[import-untyped]
import pytest
from hypothesis import given
from hypothesis import strategies as st

from confagent.errors import PeerError
from confagent.raft import ConfState, Entry, EntryType, Message, MessageType, SnapshotMeta
from confagent.server.membership import Member
from confagent.server.peers import LeaseAnswer, LeaseOp, LeaseQuery, MemberAnswer, MemberQuery, PeerFrame
from confagent.server.peers._peer_codec import (
    FRAME_HEADER,
    SHARED_CHUNK_BYTES,
    MemberCall,
    MemberOp,
    decode_frame,
    encode_frame,
    encode_frames,
)

ids = st.integers(1, (1 << 64) - 1)
small = st.integers(0, 1 << 40)
entries = st.builds(Entry, small, small, st.sampled_from(EntryType), st.binary(max_size=64))
metas = st.builds(SnapshotMeta, small, small,
                  st.builds(ConfState, st.tuples(ids, ids), st.tuples(ids)))
messages = st.builds(
    Message, st.sampled_from(MessageType), ids, ids, small, small, small,
    st.lists(entries, max_size=5).map(tuple), small, st.booleans(), small, st.binary(max_size=16),
    st.none() | metas, st.binary(max_size=64))
lease_ids = st.integers(1, (1 << 63) - 1)
queries = st.builds(LeaseQuery, ids, ids, ids, st.sampled_from(LeaseOp), lease_ids)
answers = st.builds(LeaseAnswer, ids, ids, ids, st.integers(-1, 1 << 40), st.booleans())
urls = st.lists(st.text(max_size=30), max_size=3).map(tuple)
member_calls = st.builds(MemberCall, st.sampled_from(MemberOp), st.integers(0, (1 << 64) - 1), urls,
                         st.booleans())
members = st.builds(Member, ids, urls, st.text(max_size=10), urls, st.booleans())
member_queries = st.builds(MemberQuery, ids, ids, ids, member_calls)
member_answers = st.builds(MemberAnswer, ids, ids, ids, st.lists(members, max_size=4).map(tuple), small,
                           st.integers(0, 20), st.text(max_size=40), st.booleans())


@given(messages | queries | answers)
def test_round_trip(frame: PeerFrame) -> None:
    encoded = encode_frame(frame)
    (length,) = FRAME_HEADER.unpack(encoded[:FRAME_HEADER.size])
    assert length == len(encoded) - FRAME_HEADER.size
    assert decode_frame(encoded[FRAME_HEADER.size:]) == frame


@given(st.lists(messages | queries, max_size=6), st.lists(entries, min_size=1, max_size=4).map(tuple),
       st.lists(ids, min_size=1, max_size=6), small)
def test_a_batch_is_encoded_as_each_frame_alone(frames: list[PeerFrame], shared: tuple[Entry, ...],
                                                recipients: list[int], commit: int) -> None:
    """Appends alike but for their recipient (one entries tuple) share an encoding: the same bytes."""
    alike = [Message(MessageType.APPEND, to, 1, 7, log_term=6, index=9, entries=shared, commit=commit)
             for to in recipients]
    batch = [*frames, *alike, *frames]
    assert [b"".join(chunks) for chunks in encode_frames(batch)] == [encode_frame(frame) for frame in batch]
    assert decode_frame(b"".join(encode_frames(alike)[-1])[FRAME_HEADER.size:]) == alike[-1]


@pytest.mark.parametrize("size", [1, 255, 256, 65_535, 65_536, 1 << 20])
def test_a_snapshot_frame_carries_its_payload_as_is(size: int) -> None:
    """Rule 2: each recipient's frame ends with the message's own payload object, and its bytes are
    msgpack's for the whole message (every ``bin`` header size)."""
    data = bytes(range(256)) * (size // 256) + bytes(size % 256)
    meta = SnapshotMeta(9, 2, ConfState((1, 2, 3), (4,)))
    frames = [Message(MessageType.SNAPSHOT, to, 1, 5, snapshot=meta, snapshot_data=data) for to in (4, 5)]
    for frame, chunks in zip(frames, encode_frames(frames), strict=True):
        assert chunks[-1] is data
        body = msgpack.packb([2, 1, int(MessageType.SNAPSHOT), frame.to, 1, 5, 0, 0, [], 0, False, 0, b"",
                              [9, 2, [1, 2, 3], [4]], data], use_bin_type=True)
        assert b"".join(chunks) == FRAME_HEADER.pack(len(body)) + body == encode_frame(frame)
        assert decode_frame(b"".join(chunks)[FRAME_HEADER.size:]) == frame


def test_a_large_shared_tail_is_one_object_for_every_recipient() -> None:
    """Rule 1: appends alike with a tail of ``SHARED_CHUNK_BYTES`` or more end with the same object."""
    count = SHARED_CHUNK_BYTES // 1000 + 1
    entries = tuple(Entry(3, 10 + n, EntryType.NORMAL, bytes(1000)) for n in range(count))
    frames = [Message(MessageType.APPEND, to, 1, 3, log_term=3, index=9, entries=entries, commit=40)
              for to in (4, 5, 6)]
    encoded = encode_frames(frames)
    assert len({id(chunks[-1]) for chunks in encoded}) == 1 and len(encoded[0]) == 2
    assert [b"".join(chunks) for chunks in encoded] == [encode_frame(frame) for frame in frames]


@pytest.mark.parametrize("body", [
    b"", b"\x93\x01\x02\x03", b"not msgpack at all \xc1",
    msgpack.packb([2, 99, 1, 2]),            # an unknown frame kind
    msgpack.packb([2, 2, 1, 2, 3, 7, 5]),    # a lease query with an unknown op
    msgpack.packb([2, 3, 1, 2, 3]),          # a lease answer missing fields
])
def test_bad_frames_are_peer_errors(body: bytes) -> None:
    with pytest.raises(PeerError, match="peer frame"):
        decode_frame(body)


@given(member_queries | member_answers)
def test_member_frames_round_trip(frame: PeerFrame) -> None:
    assert decode_frame(encode_frame(frame)[FRAME_HEADER.size:]) == frame


@pytest.mark.parametrize("body", [
    msgpack.packb([2, 4, 1, 2, 3, 9, 0, [], False]),               # a member query with an unknown op
    msgpack.packb([2, 5, 1, 2, 3, [[1, "not a list"]], 0, 0, "", False]),  # a malformed member
    msgpack.packb([2, 5, 1, 2, 3]),                                 # a member answer missing fields
])
def test_bad_member_frames_are_peer_errors(body: bytes) -> None:
    with pytest.raises(PeerError, match="peer frame"):
        decode_frame(body)


def test_another_format_version_is_named() -> None:
    frame = encode_frame(Message(MessageType.HEARTBEAT, 1, 2))
    body = bytearray(frame[FRAME_HEADER.size:])
    body[1] = 9  # the first array element: the format version
    with pytest.raises(PeerError, match="format 9"):
        decode_frame(bytes(body))
