"""etcd 3.4's gRPC services, unary methods: protobuf in, the member's ``Handling``, protobuf out.

Every unary method is a pair: ``wire``'s ``pb_decode_<rpc>_request`` and a
``serve`` that calls :class:`~confagent.server.api._handling.Handling` (what the
JSON gateway calls too) and encodes its answer; a write (:class:`Write`) gives
``Handling`` the call's answer, shaped to encode what it is given, and its
entry's apply step answers the call (``_grpc_front`` rule 3). The streaming methods are
``_grpc_streams``'s; :func:`grpc_methods` joins both into the table the front
serves (``_grpc_front.GrpcMethods``), by full path (``/etcdserverpb.KV/Range``).

Rules (etcd 3.4.23's, its ``v3rpc`` package):
1. A learner serves Status and a serializable Range; every other call is
   refused with "etcdserver: rpc not supported for learner" (code 14) once its
   message is parsed (etcd's interceptors run after unmarshalling): a malformed
   message gets its decoding error first.
2. Alarm, Defragment and MoveLeader answer an empty message (no header); Hash
   and HashKV a header naming the current revision, whichever was hashed; the
   Cluster service's headers name no revision.
3. The Auth service's calls are the member's (``_auth_edge``): each answers a
   header, or its token, names or permissions.
4. The health service (``grpc.health.v1.Health``) knows the server as a whole
   (service ""): SERVING; any other name is NotFound "unknown service".
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import partial
from typing import Any, cast

from confagent import auth, wire
from confagent.errors import GrpcStatus, NotSupportedForLearner
from confagent.kv import DeleteRangeResponse, PutResponse, RangeRequest, TxnResponse
from confagent.server.api._grpc_front import GrpcMethods, UnaryHandler
from confagent.server.api._grpc_streams import SERVING, GrpcStreams
from confagent.server.api._handling import AuthAnswer, Handling
from confagent.server.node import Answer
from confagent.wire import ResponseHeader

__all__ = ["grpc_methods"]



@dataclass(frozen=True, slots=True)
class Unary:
    """One unary method: its request decoder and what serves the decoded request."""

    decode: Callable[[bytes], Any]
    serve: Callable[[Any], Awaitable[bytes]]


@dataclass(frozen=True, slots=True)
class Write:
    """One write method: its request decoder and what starts it, to answer in its apply step."""

    decode: Callable[[bytes], Any]
    start: Callable[[Any, Answer[bytes]], Awaitable[None]]


def _answering(serve: Callable[[Any], Awaitable[bytes]]) -> Callable[[Any, Answer[bytes]], Awaitable[None]]:
    """A method answered by its task: what ``serve`` returns is the call's answer."""
    async def start(request: Any, answer: Answer[bytes]) -> None:
        answer.set_result(await serve(request))
    return start


def _served_by_learner(path: str, request: object) -> bool:
    """etcd's ``isRPCSupportedForLearner`` (rule 1)."""
    if path == "/etcdserverpb.Maintenance/Status":
        return True
    return isinstance(request, RangeRequest) and request.serializable


class UnaryServices:
    """The unary methods of one member (module rules)."""

    def __init__(self, handling: Handling) -> None:
        self.h = handling
        self.table: dict[str, Unary | Write] = {
            **self._kv(), **self._lease(), **self._cluster(), **self._maintenance(),
            **self._concurrency(), **self._auth(),
            "/grpc.health.v1.Health/Check": Unary(wire.pb_decode_health_check_request, self.health_check),
        }

    def handlers(self) -> dict[str, UnaryHandler]:
        return {path: self._handler(path, method) for path, method in self.table.items()}

    def _handler(self, path: str, method: Unary | Write) -> UnaryHandler:
        node, decode = self.h.node, method.decode
        start = method.start if isinstance(method, Write) else _answering(method.serve)

        async def handle(data: bytes, answer: Answer[bytes]) -> None:
            request = decode(data)
            if node.is_learner and not _served_by_learner(path, request):
                raise NotSupportedForLearner()
            await start(request, answer)
        return handle

    # -- KV ---------------------------------------------------------------------------
    def _kv(self) -> dict[str, Unary | Write]:
        return {
            "/etcdserverpb.KV/Range": Unary(wire.pb_decode_range_request, self.range),
            "/etcdserverpb.KV/Put": Write(wire.pb_decode_put_request, self.put),
            "/etcdserverpb.KV/DeleteRange": Write(wire.pb_decode_delete_range_request, self.delete_range),
            "/etcdserverpb.KV/Txn": Write(wire.pb_decode_txn_request, self.txn),
            "/etcdserverpb.KV/Compact": Write(wire.pb_decode_compaction_request, self.compact),
        }

    async def range(self, request: Any) -> bytes:
        return wire.pb_encode_range_response(*await self.h.range(request))

    async def put(self, request: Any, answer: Answer[bytes]) -> None:
        await self.h.put(request, answer.after(_pb_put_response))

    async def delete_range(self, request: Any, answer: Answer[bytes]) -> None:
        await self.h.delete_range(request, answer.after(_pb_delete_range_response))

    async def txn(self, request: Any, answer: Answer[bytes]) -> None:
        await self.h.txn(request, answer.after(_pb_txn_response))

    async def compact(self, request: Any, answer: Answer[bytes]) -> None:
        await self.h.compact(request, answer.after(wire.pb_encode_header_response))

    # -- Lease ------------------------------------------------------------------------
    def _lease(self) -> dict[str, Unary]:
        return {
            "/etcdserverpb.Lease/LeaseGrant": Unary(wire.pb_decode_lease_grant_request, self.lease_grant),
            "/etcdserverpb.Lease/LeaseRevoke": Unary(wire.pb_decode_lease_id, self.lease_revoke),
            "/etcdserverpb.Lease/LeaseTimeToLive": Unary(wire.pb_decode_lease_time_to_live_request,
                                                         self.lease_time_to_live),
            "/etcdserverpb.Lease/LeaseLeases": Unary(wire.pb_decode_empty_request, self.lease_leases),
        }

    async def lease_grant(self, request: tuple[int, int]) -> bytes:
        return wire.pb_encode_lease_grant_response(*await self.h.lease_grant(*request))

    async def lease_revoke(self, lease_id: int) -> bytes:
        return wire.pb_encode_header_response(await self.h.lease_revoke(lease_id))

    async def lease_time_to_live(self, request: tuple[int, bool]) -> bytes:
        ttl, header = await self.h.lease_time_to_live(*request)
        return wire.pb_encode_lease_time_to_live_response(header, ttl.lease_id, ttl.ttl_s,
                                                          ttl.granted_ttl_s, ttl.keys)

    async def lease_leases(self, _request: None) -> bytes:
        lease_ids, header = self.h.lease_leases()
        return wire.pb_encode_lease_leases_response(header, lease_ids)

    # -- Cluster ----------------------------------------------------------------------
    def _cluster(self) -> dict[str, Unary]:
        return {
            "/etcdserverpb.Cluster/MemberAdd": Unary(wire.pb_decode_member_add_request, self.member_add),
            "/etcdserverpb.Cluster/MemberRemove": Unary(wire.pb_decode_member_id, self.member_remove),
            "/etcdserverpb.Cluster/MemberUpdate": Unary(wire.pb_decode_member_update_request,
                                                        self.member_update),
            "/etcdserverpb.Cluster/MemberList": Unary(wire.pb_decode_empty_request, self.member_list),
            "/etcdserverpb.Cluster/MemberPromote": Unary(wire.pb_decode_member_id, self.member_promote),
        }

    async def member_add(self, request: tuple[tuple[str, ...], bool]) -> bytes:
        return wire.pb_encode_member_add_response(*await self.h.member_add(*request))

    async def member_remove(self, member_id: int) -> bytes:
        return wire.pb_encode_member_list_response(*await self.h.member_remove(member_id))

    async def member_update(self, request: tuple[int, tuple[str, ...]]) -> bytes:
        member_id, peer_urls = request
        return wire.pb_encode_member_list_response(*await self.h.member_update(member_id, lambda: peer_urls))

    async def member_list(self, _request: None) -> bytes:
        return wire.pb_encode_member_list_response(*self.h.member_list())

    async def member_promote(self, member_id: int) -> bytes:
        return wire.pb_encode_member_list_response(*await self.h.member_promote(member_id))

    # -- Maintenance ------------------------------------------------------------------
    def _maintenance(self) -> dict[str, Unary]:
        return {
            "/etcdserverpb.Maintenance/Alarm": Unary(wire.pb_decode_alarm_request, self.alarm),
            "/etcdserverpb.Maintenance/Status": Unary(wire.pb_decode_empty_request, self.status),
            "/etcdserverpb.Maintenance/Defragment": Unary(wire.pb_decode_empty_request, self.defragment),
            "/etcdserverpb.Maintenance/Hash": Unary(wire.pb_decode_empty_request, self.hash),
            "/etcdserverpb.Maintenance/HashKV": Unary(wire.pb_decode_hash_kv_request, self.hash_kv),
            "/etcdserverpb.Maintenance/MoveLeader": Unary(wire.pb_decode_move_leader_request,
                                                          self.move_leader),
        }

    async def alarm(self, _request: object) -> bytes:
        """Alarm (none is ever raised): an empty answer (rule 2)."""
        self.h.alarm()
        return b""

    async def defragment(self, _request: None) -> bytes:
        self.h.defragment()
        return b""

    async def status(self, _request: None) -> bytes:
        return wire.pb_encode_status_response(*self.h.status())

    async def hash(self, _request: None) -> bytes:
        hash_value, _, header = self.h.hash_kv(0)
        return wire.pb_encode_hash_response(header, hash_value)

    async def hash_kv(self, revision: int) -> bytes:
        hash_value, compact_revision, header = self.h.hash_kv(revision)
        return wire.pb_encode_hash_kv_response(header, hash_value, compact_revision)

    async def move_leader(self, target: int) -> bytes:
        await self.h.move_leader(target)
        return b""

    # -- Lock and Election ---------------------------------------------------------------
    def _concurrency(self) -> dict[str, Unary]:
        return {
            "/v3lockpb.Lock/Lock": Unary(wire.pb_decode_lock_request, self.lock),
            "/v3lockpb.Lock/Unlock": Unary(wire.pb_decode_unlock_request, self.unlock),
            "/v3electionpb.Election/Campaign": Unary(wire.pb_decode_campaign_request, self.campaign),
            "/v3electionpb.Election/Proclaim": Unary(wire.pb_decode_proclaim_request, self.proclaim),
            "/v3electionpb.Election/Leader": Unary(wire.pb_decode_leader_request, self.leader),
            "/v3electionpb.Election/Resign": Unary(wire.pb_decode_resign_request, self.resign),
        }

    async def lock(self, request: Any) -> bytes:
        revision, key = await self.h.lock.lock(request)
        return wire.pb_encode_lock_response(key, self.h.header(revision))

    async def unlock(self, key: bytes) -> bytes:
        return wire.pb_encode_header_response(self.h.header(await self.h.lock.unlock(key)))

    async def campaign(self, request: Any) -> bytes:
        revision, leader = await self.h.election.campaign(request)
        return wire.pb_encode_campaign_response(leader, self.h.header(revision))

    async def proclaim(self, request: Any) -> bytes:
        return wire.pb_encode_header_response(self.h.header(await self.h.election.proclaim(request)))

    async def leader(self, name: bytes) -> bytes:
        revision, kv = await self.h.election.leader(name)
        return wire.pb_encode_leader_response(kv, self.h.header(revision))

    async def resign(self, request: Any) -> bytes:
        return wire.pb_encode_header_response(self.h.header(await self.h.election.resign(request)))

    # -- Auth and health ----------------------------------------------------------------
    def _auth(self) -> dict[str, Unary]:
        def serve(method: str) -> Callable[[Any], Awaitable[bytes]]:
            async def call(request: tuple[Any, ...]) -> bytes:
                return _pb_auth_answer(method, *await self.h.auth_call(method, request))
            return call
        decode = wire.pb_decode_auth_request
        return {f"/etcdserverpb.Auth/{method}": Unary(partial(decode, method), serve(method))
                for method in wire.AUTH_METHODS}

    async def health_check(self, service: str) -> bytes:
        if service:
            raise GrpcStatus(5, "unknown service")
        return wire.pb_encode_health_check_response(SERVING)



def grpc_methods(handling: Handling, streams: GrpcStreams) -> GrpcMethods:
    """Everything a member serves over gRPC: the unary methods and ``streams``."""
    return GrpcMethods(UnaryServices(handling).handlers(), streams.handlers(),
                       token_wait=handling.node.token_wait)


def _pb_put_response(answer: tuple[PutResponse, ResponseHeader]) -> bytes:
    return wire.pb_encode_put_response(*answer)


def _pb_delete_range_response(answer: tuple[DeleteRangeResponse, ResponseHeader]) -> bytes:
    return wire.pb_encode_delete_range_response(*answer)


def _pb_txn_response(answer: tuple[TxnResponse, ResponseHeader]) -> bytes:
    response, header = answer
    return wire.pb_encode_txn_response(response, header, header.revision)


def _pb_auth_answer(method: str, answer: AuthAnswer, header: ResponseHeader) -> bytes:
    """An Auth call's answer in protobuf (``Handling.auth_call``)."""
    if isinstance(answer, str):
        return wire.pb_encode_authenticate_response(answer, header)
    if method == "RoleGet":
        return wire.pb_encode_role_get_response(cast(tuple[auth.Permission, ...], answer), header)
    if answer is not None:
        return wire.pb_encode_auth_names_response(method, cast(tuple[str, ...], answer), header)
    return wire.pb_encode_header_response(header)
