"""etcd's API on the wire: how the store's messages are written and read, in both directions.

``kv`` owns the messages (``RangeRequest``, ``TxnResponse``, ...) and what
they mean; this package owns only their encodings, and is as pure as ``kv``:
no I/O, no clock. Today that is etcd 3.4's JSON gateway (grpc-gateway's
jsonpb), both sides of it:

- the server's side (``_json_server``): ``decode_<rpc>_request`` reads a
  request body as etcd's gateway does, Go's error texts included
  (``_json_scan`` is Go's encoding/json, ``_json_fields`` jsonpb's field
  rules), and ``encode_<rpc>_response`` writes the answer, stream messages and
  error bodies included;
- the client's side (``_json_client``): ``encode_<rpc>_request`` and
  ``decode_<rpc>_response``, with the header in a :class:`Reply`; the same
  code reads confagent's answers and a real etcd's.

The values that are not ``kv``'s (``_messages``): the response header and
:class:`Reply`, and the answers a member gives from its own state without a
Raft entry (:class:`Status`, :class:`Member`, :class:`LeaseKeepAlive`,
:class:`LeaseTimeToLive`), shared by every codec.

The lock and election services (etcd's ``v3lock``, ``v3election``) have
their own pair (``_json_server_locks``, ``_json_client_locks``), their
requests' values in ``_messages`` (:class:`LockRequest`, :class:`LeaderKey`, ...).

Rules: one module per side and format, named ``_<format>_<side>``, and one
per side, format and service group beyond KV, lease, watch, maintenance and
cluster (``_<format>_<side>_<group>``); the protobuf codec of the gRPC front
goes beside this one as ``_proto_*`` modules, calling the same request
handling. Importers use the names exported here, never the private modules.

Each name loads on first use, with the module defining it (as kv's names
do): a client does not load the server's side, nor the server the client's.
"""

from typing import TYPE_CHECKING

from confagent.lazy import lazy_exports

if TYPE_CHECKING:
    from confagent.wire._json_client import (
        decode_delete_range_response,
        decode_error_body,
        decode_event,
        decode_header,
        decode_key_value,
        decode_lease_grant_response,
        decode_lease_keepalive_response,
        decode_lease_leases_response,
        decode_lease_time_to_live_response,
        decode_member_add_response,
        decode_member_list_response,
        decode_put_response,
        decode_range_response,
        decode_status_response,
        decode_stream_error,
        decode_txn_response,
        decode_watch_response,
        encode_compaction_request,
        encode_delete_range_request,
        encode_lease_grant_request,
        encode_lease_id_request,
        encode_lease_time_to_live_request,
        encode_member_add_request,
        encode_member_id_request,
        encode_member_update_request,
        encode_put_request,
        encode_range_request,
        encode_txn_request,
        encode_watch_cancel_request,
        encode_watch_create_request,
    )
    from confagent.wire._json_client_locks import (
        decode_campaign_response,
        decode_leader_response,
        decode_lock_response,
        encode_campaign_request,
        encode_leader_request,
        encode_lock_request,
        encode_proclaim_request,
        encode_resign_request,
        encode_unlock_request,
    )
    from confagent.wire._json_fields import (
        b64,
    )
    from confagent.wire._json_scan import (
        JsonObject,
        loads,
        next_value,
    )
    from confagent.wire._json_server import (
        decode_body,
        decode_compaction_request,
        decode_delete_range_request,
        decode_lease_grant_request,
        decode_lease_id,
        decode_lease_time_to_live_request,
        decode_member_id,
        decode_member_is_learner,
        decode_member_peer_urls,
        decode_put_request,
        decode_range_request,
        decode_txn_request,
        decode_watch_request,
        encode_delete_range_response,
        encode_error_body,
        encode_event,
        encode_header,
        encode_key_value,
        encode_lease_grant_response,
        encode_lease_keepalive_response,
        encode_lease_leases_response,
        encode_lease_time_to_live_response,
        encode_member,
        encode_member_add_response,
        encode_member_list_response,
        encode_put_response,
        encode_range_response,
        encode_status_response,
        encode_stream_chunk,
        encode_stream_error,
        encode_txn_response,
        encode_watch_response,
    )
    from confagent.wire._json_server_locks import (
        decode_campaign_request,
        decode_leader_request,
        decode_lock_request,
        decode_proclaim_request,
        decode_resign_request,
        decode_unlock_request,
        encode_campaign_response,
        encode_leader_response,
        encode_lock_response,
    )
    from confagent.wire._messages import (
        CampaignRequest,
        LeaderKey,
        LeaseKeepAlive,
        LeaseTimeToLive,
        LockRequest,
        Member,
        MemberFields,
        ProclaimRequest,
        Reply,
        ResignRequest,
        ResponseHeader,
        Status,
    )

__all__ = [
    "CampaignRequest",
    "JsonObject",
    "LeaderKey",
    "LeaseKeepAlive",
    "LeaseTimeToLive",
    "LockRequest",
    "Member",
    "MemberFields",
    "ProclaimRequest",
    "Reply",
    "ResignRequest",
    "ResponseHeader",
    "Status",
    "b64",
    "decode_body",
    "decode_campaign_request",
    "decode_campaign_response",
    "decode_compaction_request",
    "decode_delete_range_request",
    "decode_delete_range_response",
    "decode_error_body",
    "decode_event",
    "decode_header",
    "decode_key_value",
    "decode_leader_request",
    "decode_leader_response",
    "decode_lease_grant_request",
    "decode_lease_grant_response",
    "decode_lease_id",
    "decode_lease_keepalive_response",
    "decode_lease_leases_response",
    "decode_lease_time_to_live_request",
    "decode_lease_time_to_live_response",
    "decode_lock_request",
    "decode_lock_response",
    "decode_member_add_response",
    "decode_member_id",
    "decode_member_is_learner",
    "decode_member_list_response",
    "decode_member_peer_urls",
    "decode_proclaim_request",
    "decode_put_request",
    "decode_put_response",
    "decode_range_request",
    "decode_range_response",
    "decode_resign_request",
    "decode_status_response",
    "decode_stream_error",
    "decode_txn_request",
    "decode_txn_response",
    "decode_unlock_request",
    "decode_watch_request",
    "decode_watch_response",
    "encode_campaign_request",
    "encode_campaign_response",
    "encode_compaction_request",
    "encode_delete_range_request",
    "encode_delete_range_response",
    "encode_error_body",
    "encode_event",
    "encode_header",
    "encode_key_value",
    "encode_leader_request",
    "encode_leader_response",
    "encode_lease_grant_request",
    "encode_lease_grant_response",
    "encode_lease_id_request",
    "encode_lease_keepalive_response",
    "encode_lease_leases_response",
    "encode_lease_time_to_live_request",
    "encode_lease_time_to_live_response",
    "encode_lock_request",
    "encode_lock_response",
    "encode_member",
    "encode_member_add_request",
    "encode_member_add_response",
    "encode_member_id_request",
    "encode_member_list_response",
    "encode_member_update_request",
    "encode_proclaim_request",
    "encode_put_request",
    "encode_put_response",
    "encode_range_request",
    "encode_range_response",
    "encode_resign_request",
    "encode_status_response",
    "encode_stream_chunk",
    "encode_stream_error",
    "encode_txn_request",
    "encode_txn_response",
    "encode_unlock_request",
    "encode_watch_cancel_request",
    "encode_watch_create_request",
    "encode_watch_response",
    "loads",
    "next_value",
]

_LAZY_MODULES = {
    **dict.fromkeys((
        "JsonObject", "loads", "next_value",
    ), "_json_scan"),
    **dict.fromkeys((
        "b64",
    ), "_json_fields"),
    **dict.fromkeys((
        "CampaignRequest", "LeaderKey", "LeaseKeepAlive", "LeaseTimeToLive", "LockRequest", "Member",
        "MemberFields", "ProclaimRequest", "Reply", "ResignRequest", "ResponseHeader", "Status",
    ), "_messages"),
    **dict.fromkeys((
        "decode_campaign_request", "decode_leader_request", "decode_lock_request",
        "decode_proclaim_request", "decode_resign_request", "decode_unlock_request",
        "encode_campaign_response", "encode_leader_response", "encode_lock_response",
    ), "_json_server_locks"),
    **dict.fromkeys((
        "decode_campaign_response", "decode_leader_response", "decode_lock_response",
        "encode_campaign_request", "encode_leader_request", "encode_lock_request",
        "encode_proclaim_request", "encode_resign_request", "encode_unlock_request",
    ), "_json_client_locks"),
    **dict.fromkeys((
        "decode_body", "decode_compaction_request", "decode_delete_range_request",
        "decode_lease_grant_request", "decode_lease_id", "decode_lease_time_to_live_request",
        "decode_member_id", "decode_member_is_learner", "decode_member_peer_urls",
        "decode_put_request", "decode_range_request", "decode_txn_request", "decode_watch_request",
        "encode_delete_range_response", "encode_error_body", "encode_event", "encode_header",
        "encode_key_value", "encode_lease_grant_response", "encode_lease_keepalive_response",
        "encode_lease_leases_response", "encode_lease_time_to_live_response", "encode_member",
        "encode_member_add_response", "encode_member_list_response", "encode_put_response",
        "encode_range_response", "encode_status_response", "encode_stream_chunk",
        "encode_stream_error", "encode_txn_response", "encode_watch_response",
    ), "_json_server"),
    **dict.fromkeys((
        "decode_delete_range_response", "decode_error_body", "decode_event", "decode_header",
        "decode_key_value", "decode_lease_grant_response", "decode_lease_keepalive_response",
        "decode_lease_leases_response", "decode_lease_time_to_live_response",
        "decode_member_add_response", "decode_member_list_response", "decode_put_response",
        "decode_range_response", "decode_status_response", "decode_stream_error",
        "decode_txn_response", "decode_watch_response", "encode_compaction_request",
        "encode_delete_range_request", "encode_lease_grant_request", "encode_lease_id_request",
        "encode_lease_time_to_live_request", "encode_member_add_request", "encode_member_id_request",
        "encode_member_update_request", "encode_put_request", "encode_range_request",
        "encode_txn_request", "encode_watch_cancel_request", "encode_watch_create_request",
    ), "_json_client"),
}
"""Each public name and the module defining it, loaded on first use (module docstring)."""


if not TYPE_CHECKING:  # mypy reads the imports under TYPE_CHECKING instead, and checks every name
    __getattr__, __dir__ = lazy_exports(__name__, globals(), _LAZY_MODULES)
