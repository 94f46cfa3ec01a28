"""Which client requests a learner member serves: etcd 3.4's rule, as one table.

A learner (added with ``member add --learner``, not yet promoted) serves its
clients only ``maintenance/status`` and a serializable ``kv/range``, as etcd
3.4's gRPC interceptors allow (``isRPCSupportedForLearner``); every other
``/v3/`` request, unary or stream, is refused with "etcdserver: rpc not
supported for learner" (gRPC code 14, HTTP 503). Plain HTTP (``/health``,
``/version``, ``/metrics``) is not gRPC and is served. Once promoted, the member
serves everything. The agent's own reads of an embedded learner never come
here: they read the node's state in process, after a ReadIndex barrier.

Rules (recorded from etcd 3.4.23):
1. The gateway decodes a body before the member sees the request, so a malformed
   body gets its decoding error on a learner too: a unary request's whole body,
   a stream's first object (for watch and keepalive with the gateway's code 2,
   HTTP 500, as ``_streams`` answers).
2. The refusal comes before any check of the member's own: a learner answers
   ``put {}`` with the refusal, not "key is not provided"; a range it serves is
   checked as on any member.
3. A unary refusal is the gateway's error body; a stream's is grpc-gateway's
   stream error, ``{"error":{"grpc_code":14,...}}``, with no newline after it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping
from typing import Final

from confagent import wire
from confagent.errors import KeyNotFound, NotSupportedForLearner, StoreError
from confagent.server.api._asgi import Receive, Send, send_bytes
from confagent.server.api._streams import JsonObjectSplitter

__all__ = ["LEARNER_RULES", "LearnerRule", "check_served_by_learner", "refuse_stream"]

LearnerRule = Callable[[wire.JsonObject], bool]
"""Reads a request's fields as the gateway does (raising its decoding errors); whether a
learner serves the request."""


def _always(_request: wire.JsonObject) -> bool:
    return True


def _serializable_range(request: wire.JsonObject) -> bool:
    return wire.decode_range_request(request).serializable


def _refused_once_read(read: Callable[[wire.JsonObject], object]) -> LearnerRule:
    """A rule that refuses every request once ``read`` has decoded its fields (rule 1)."""
    def refuse(request: wire.JsonObject) -> bool:
        read(request)
        return False
    return refuse


def _refused_txn(request: wire.JsonObject) -> bool:
    # An empty RequestOp fails the decoder here, etcd's validation there: after the refusal (rule 2).
    with contextlib.suppress(KeyNotFound):
        wire.decode_txn_request(request)
    return False


_REFUSED = _refused_once_read(lambda _request: None)
"""The rule of a path not in ``LEARNER_RULES``: its body need only be a JSON object."""

LEARNER_RULES: Final[Mapping[str, LearnerRule]] = {
    "/v3/maintenance/status": _always,
    "/v3/kv/range": _serializable_range,
    "/v3/kv/put": _refused_once_read(wire.decode_put_request),
    "/v3/kv/deleterange": _refused_once_read(wire.decode_delete_range_request),
    "/v3/kv/txn": _refused_txn,
    "/v3/kv/compaction": _refused_once_read(wire.decode_compaction_request),
    "/v3/lease/grant": _refused_once_read(wire.decode_lease_grant_request),
    "/v3/lease/revoke": _refused_once_read(wire.decode_lease_id),
    "/v3/kv/lease/revoke": _refused_once_read(wire.decode_lease_id),
    "/v3/lease/timetolive": _refused_once_read(wire.decode_lease_time_to_live_request),
    "/v3/kv/lease/timetolive": _refused_once_read(wire.decode_lease_time_to_live_request),
    "/v3/lease/keepalive": _refused_once_read(wire.decode_lease_id),
    "/v3/watch": _refused_once_read(wire.decode_watch_request),
    "/v3/lock/lock": _refused_once_read(wire.decode_lock_request),
    "/v3/lock/unlock": _refused_once_read(wire.decode_unlock_request),
    "/v3/election/campaign": _refused_once_read(wire.decode_campaign_request),
    "/v3/election/proclaim": _refused_once_read(wire.decode_proclaim_request),
    "/v3/election/leader": _refused_once_read(wire.decode_leader_request),
    "/v3/election/observe": _refused_once_read(wire.decode_leader_request),
    "/v3/election/resign": _refused_once_read(wire.decode_resign_request),
    "/v3/maintenance/transfer-leadership": _refused_once_read(wire.decode_move_leader_request),
}
"""Each ``/v3/`` path's rule on a learner. A path not listed (lease list, alarm, snapshot,
the member requests) is refused once its body is read as a JSON object."""

_BIDI_STREAMS: Final = frozenset({"/v3/watch", "/v3/lease/keepalive"})
"""Streams whose first object's decoding error the gateway answers with code 2 (rule 1)."""


def check_served_by_learner(path: str, body: bytes) -> None:
    """Return if a learner serves the request ``body`` at ``path`` (rules 1 and 2).

    Raises:
        InvalidArgument: the body is malformed, as the gateway reports it.
        NotSupportedForLearner: a learner does not serve this request.
    """
    if not wire.decode_body(body, LEARNER_RULES.get(path, _REFUSED)):
        raise NotSupportedForLearner()


async def refuse_stream(path: str, receive: Receive, send: Send) -> None:
    """Answer a stream request on a learner, which serves none: the first object's
    decoding error, else the refusal (rules 1 and 3)."""
    try:
        first = await _first_object(receive)
        if first is None:
            return  # the client left
        check_served_by_learner(path, first)
    except NotSupportedForLearner as refusal:
        body = wire.encode_stream_error(refusal).rstrip(b"\n")  # grpc-gateway writes no delimiter after it
        await send_bytes(send, refusal.http_status, body)
        return
    except StoreError as error:
        if path in _BIDI_STREAMS:
            error.code = 2
        await send_bytes(send, error.http_status, wire.encode_error_body(error))
        return
    raise AssertionError(f"a learner serves no stream, but {path} passed")


async def _first_object(receive: Receive) -> bytes | None:
    """The body's first JSON object, or what it holds if it ends first; None if the client left.

    Raises:
        StoreError: the first object is over the stream's size limit.
    """
    splitter = JsonObjectSplitter()
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        found = splitter.feed(message.get("body", b""))
        if found:
            return found[0]
        if not message.get("more_body", False):
            return splitter.rest()
