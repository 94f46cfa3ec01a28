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
    assert encode_frames(batch) == [encode_frame(frame) for frame in batch]
    assert decode_frame(encode_frames(alike)[-1][FRAME_HEADER.size:]) == alike[-1]


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
