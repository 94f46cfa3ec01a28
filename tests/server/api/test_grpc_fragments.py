"""``_grpc_streams.fragments``: a watch response cut as etcd's ``sendFragments`` cuts it."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from confagent.kv import Event, EventType, KeyValue, WatchResponse
from confagent.server.api._grpc_streams import fragments
from confagent.wire import ResponseHeader
from confagent.wire._pb import rpc_pb2

HEADER = ResponseHeader(cluster_id=1, member_id=2, revision=9, raft_term=3)


def events(sizes: list[int]) -> tuple[Event, ...]:
    return tuple(Event(EventType.PUT, KeyValue(b"k%d" % i, i + 1, i + 1, 1, b"v" * size))
                 for i, size in enumerate(sizes))


def decode(pieces: list[bytes]) -> list[rpc_pb2.WatchResponse]:
    out = []
    for piece in pieces:
        message = rpc_pb2.WatchResponse()
        message.ParseFromString(piece)
        out.append(message)
    return out


def test_a_response_under_the_limit_or_of_one_event_goes_whole() -> None:
    small = WatchResponse(watch_id=1, events=events([10, 10]))
    assert len(list(fragments(small, HEADER, 10_000))) == 1
    single = WatchResponse(watch_id=1, events=events([50_000]))
    [whole] = decode(list(fragments(single, HEADER, 1_000)))
    assert not whole.fragment and len(whole.events) == 1


@given(st.lists(st.integers(0, 3000), min_size=2, max_size=40), st.integers(200, 8000))
def test_pieces_carry_every_event_in_order_under_the_limit_if_they_can(sizes: list[int], limit: int) -> None:
    response = WatchResponse(watch_id=7, events=events(sizes))
    pieces = list(fragments(response, HEADER, limit))
    messages = decode(pieces)
    keys = [event.kv.key for message in messages for event in message.events]
    assert keys == [event.kv.key for event in response.events]
    assert all(message.watch_id == 7 and message.header.revision == 9 for message in messages)
    if len(pieces) > 1:
        assert [m.fragment for m in messages] == [True] * (len(messages) - 1) + [False]
        for piece, message in zip(pieces, messages, strict=True):
            assert len(message.events) == 1 or len(piece) < limit
