"""Request size limits, measured the way etcd measures them: in encoded protobuf bytes.

etcd refuses a request in two places. The gRPC server refuses a message larger
than ``--max-request-bytes`` + 512 KiB (429, code 8, "grpc: received message
larger than max (N vs. M)"); the server then refuses a Raft request larger than
``--max-request-bytes`` (400, "etcdserver: request is too large"). The sizes
are ``kv``'s (``request_bytes``: the protobuf sizes of the decoded request,
computed without encoding it), the Raft limit too, shared with the lock and
election services' own txns.
"""

from __future__ import annotations

from confagent.errors import ResourceExhausted
from confagent.kv import MAX_REQUEST_BYTES, PutRequest, TxnRequest, check_raft_request_size, request_bytes

__all__ = [
    "MAX_RECEIVE_BYTES",
    "MAX_REQUEST_BYTES",
    "check_request_size",
    "message_too_large",
]

MAX_RECEIVE_BYTES = MAX_REQUEST_BYTES + 512 * 1024
"""etcd's gRPC receive limit."""


def message_too_large(size: int, limit: int = MAX_RECEIVE_BYTES) -> ResourceExhausted:
    """grpc-go's refusal of a message of ``size`` bytes."""
    return ResourceExhausted(f"grpc: received message larger than max ({size} vs. {limit})")


def check_request_size(request: PutRequest | TxnRequest) -> None:
    """Refuse a write as etcd would: first by gRPC message size, then by Raft request size.

    Raises:
        ResourceExhausted: the message is over the gRPC receive limit.
        RequestTooLarge: the Raft request is over ``MAX_REQUEST_BYTES``.
    """
    size = request_bytes(request)
    if size > MAX_RECEIVE_BYTES:
        raise message_too_large(size)
    check_raft_request_size(request)
