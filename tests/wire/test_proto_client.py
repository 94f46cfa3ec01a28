"""The client side of the protobuf codec: a txn of ranges out, its revision and key-values in, gRPC's framing
and status."""

from __future__ import annotations

import pytest

from confagent.errors import Internal
from confagent.kv import RangeRequest
from confagent.wire import (
    grpc_frame,
    grpc_status_of,
    grpc_unframe,
    pb_decode_range_txn_response,
    pb_encode_range_txn_request,
)
from confagent.wire._pb import kv_pb2, rpc_pb2


def test_a_txn_of_ranges_is_etcds_message() -> None:
    ranges = [RangeRequest(b"/a", b"/b", revision=7), RangeRequest(b"/c", b"/d", limit=1)]
    message = pb_encode_range_txn_request(ranges)
    parsed = rpc_pb2.TxnRequest.FromString(message)
    assert not parsed.compare and not parsed.failure
    sent = [(op.request_range.key, op.request_range.range_end, op.request_range.limit,
             op.request_range.revision)
            for op in parsed.success]
    assert sent == [(b"/a", b"/b", 0, 7), (b"/c", b"/d", 1, 0)]


def test_the_answer_gives_the_revision_and_every_ranges_key_values_in_order() -> None:
    reply = rpc_pb2.TxnResponse(header=rpc_pb2.ResponseHeader(revision=42), succeeded=True)
    for keys in ([b"/a/1", b"/a/2"], [], [b"/c/1"]):
        reply.responses.add().response_range.kvs.extend(
            kv_pb2.KeyValue(key=key, value=key + b"=v", mod_revision=3) for key in keys)
    decoded = pb_decode_range_txn_response(reply.SerializeToString())
    assert decoded.revision == 42
    assert [(kv.key, kv.value) for kv in decoded.kvs] == [
        (b"/a/1", b"/a/1=v"), (b"/a/2", b"/a/2=v"), (b"/c/1", b"/c/1=v")]


def test_an_answer_that_is_not_a_txn_of_ranges_is_internal() -> None:
    reply = rpc_pb2.TxnResponse()
    reply.responses.add().response_put.SetInParent()
    with pytest.raises(Internal, match="answered with response_put"):
        pb_decode_range_txn_response(reply.SerializeToString())
    with pytest.raises(Internal, match="error unmarshalling response"):
        pb_decode_range_txn_response(b"\xff\xff\xff")


def test_framing_round_trips_and_refuses_what_is_not_one_message() -> None:
    assert grpc_frame(b"abc") == b"\x00\x00\x00\x00\x03abc"
    assert grpc_unframe(grpc_frame(b"abc")) == b"abc"
    for body in (b"", b"\x00\x00\x00", b"\x01\x00\x00\x00\x01a", b"\x00\x00\x00\x00\x02a",
                 grpc_frame(b"a") + grpc_frame(b"b")):
        with pytest.raises(Internal, match="not one uncompressed message"):
            grpc_unframe(body)


def test_the_status_is_read_from_the_trailers() -> None:
    assert grpc_status_of([(b"grpc-status", b"0"), (b"grpc-message", b"")]) == (0, "")
    assert grpc_status_of([(b"grpc-status", b"11"), (b"grpc-message",
                            b"etcdserver:%20mvcc:%20required%20revision%20has%20been%20compacted")]) == (
        11, "etcdserver: mvcc: required revision has been compacted")
    assert grpc_status_of([(b"content-type", b"application/grpc")]) == (2, "")
