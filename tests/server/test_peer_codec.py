"""Raft messages survive the trip through a peer frame unchanged; bad frames are refused clearly."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from confagent.errors import PeerError
from confagent.raft import ConfState, Entry, EntryType, Message, MessageType, SnapshotMeta
from confagent.server._peer_codec import FRAME_HEADER, decode_message, encode_message

ids = st.integers(1, (1 << 64) - 1)
small = st.integers(0, 1 << 40)
entries = st.builds(Entry, small, small, st.sampled_from(EntryType), st.binary(max_size=64))
metas = st.builds(SnapshotMeta, small, small,
                  st.builds(ConfState, st.tuples(ids, ids), st.tuples(ids)))
messages = st.builds(
    Message, st.sampled_from(MessageType), ids, ids, small, small, small,
    st.lists(entries, max_size=5).map(tuple), small, st.booleans(), small, st.binary(max_size=16),
    st.none() | metas, st.binary(max_size=64))


@given(messages)
def test_round_trip(message: Message) -> None:
    frame = encode_message(message)
    (length,) = FRAME_HEADER.unpack(frame[:FRAME_HEADER.size])
    assert length == len(frame) - FRAME_HEADER.size
    assert decode_message(frame[FRAME_HEADER.size:]) == message


@pytest.mark.parametrize("body", [b"", b"\x93\x01\x02\x03", b"not msgpack at all \xc1"])
def test_bad_frames_are_peer_errors(body: bytes) -> None:
    with pytest.raises(PeerError, match="peer message"):
        decode_message(body)


def test_another_format_version_is_named() -> None:
    frame = encode_message(Message(MessageType.HEARTBEAT, 1, 2))
    body = bytearray(frame[FRAME_HEADER.size:])
    body[1] = 9  # the first array element: the format version
    with pytest.raises(PeerError, match="format 9"):
        decode_message(bytes(body))
