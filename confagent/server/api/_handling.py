"""A member's request handling on values: what the JSON gateway and the gRPC front both call.

Each front decodes a request with its codec (``wire``'s JSON or protobuf
decoder, which give the same value), calls one method here, and encodes what
it returns with the same codec. So what a request does — its checks, the
node's call, the revision its header names — is written once. The methods
return the answer's values and its :class:`~confagent.wire.ResponseHeader`;
the writes (put, delete, txn, compaction) give them to an
:class:`~confagent.server.node.Answer` in the step that applies their entry
instead: the gRPC front writes its answer from there, the gateway awaits it
(``answered``).

Rules (etcd 3.4's):
1. A write's header names the revision it applied at; a read's, the store's
   revision when answered; a member call's, no revision.
2. Puts and txns are measured as etcd measures them before they reach the log
   (``_limits.check_request_size``).
3. A lease granted without an ID gets one from the node; a lease that is gone
   answers time-to-live with TTL -1.
4. Every call is made as its caller (``_auth_edge``): reads and watches are checked
   here, writes carry the caller's credentials into the log and are checked as they
   apply; hashes, snapshots, defragmentation and member changes want root. A call
   with a token this member does not hold fails with it, whatever it asks.
5. Hash, HashKV, Defragment and Snapshot check their caller themselves in etcd,
   as Alarm's bad token is, and answer the auth store's own words, Unknown
   (``errors.in_auth_store_words``: ``auth: user name is empty``).
6. A txn of ranges only (``kv.is_read_only``) is a read, as etcd 3.4 serves it
   (``EtcdServer.Txn``): after a ReadIndex round unless every range is
   serializable, checked as the caller's read, applied to the local state; it
   never enters the log (a one-shot's snapshot is up to 128 such ranges).
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Callable
from typing import Any, TypeVar

from confagent import auth, wire
from confagent.auth import AuthInfo
from confagent.errors import AuthError, MemberNotFound, in_auth_store_words
from confagent.kv import (
    Applied,
    CompactionRequest,
    DeleteRangeRequest,
    DeleteRangeResponse,
    KeyValue,
    LeaseGrantRequest,
    LeaseGrantResponse,
    LeaseRevokeRequest,
    PutRequest,
    PutResponse,
    RangeRequest,
    RangeResponse,
    TxnRequest,
    TxnResponse,
    WatchCreateRequest,
    is_read_only,
    validate,
)
from confagent.server.api._auth_edge import AuthEdge
from confagent.server.api._limits import check_request_size
from confagent.server.api._snapshot_stream import take_image
from confagent.server.membership import Member, check_peer_urls
from confagent.server.node import Answer, ConcurrencyServices, StoreNode
from confagent.server.storage import SnapshotImage
from confagent.wire import ResponseHeader, Status

__all__ = ["AuthAnswer", "Handling", "LeaseTtl", "ServerInfo", "WatchPermits", "json_header"]

AuthAnswer = str | tuple[str, ...] | tuple[auth.Permission, ...] | tuple[bool, int] | None
"""What an Auth call answers besides its header (``Handling.auth_call``)."""

_AUTH_COMMANDS: dict[str, Callable[..., auth.Command]] = {
    "AuthEnable": auth.AuthEnable,
    "AuthDisable": auth.AuthDisable,
    "UserDelete": auth.UserDelete,
    "UserGrantRole": auth.UserGrantRole,
    "UserRevokeRole": auth.UserRevokeRole,
    "RoleAdd": auth.RoleAdd,
    "RoleDelete": auth.RoleDelete,
    "RoleGrantPermission": auth.RoleGrantPermission,
    "RoleRevokePermission": auth.RoleRevokePermission,
}
"""The Auth calls that are a command made of the request's fields as they are."""
R = TypeVar("R")


@dataclasses.dataclass(frozen=True, slots=True)
class ServerInfo:
    """Who this member is (for headers and the serving record) and the versions it reports.
    Who its peers are is the node's member table (``StoreNode.member_list``)."""

    member_id: int
    cluster_id: int
    etcd_version: str = "3.4.23"
    cluster_version: str = "3.4.0"


@dataclasses.dataclass(frozen=True, slots=True)
class LeaseTtl:
    """A lease time-to-live answer (rule 3)."""

    lease_id: int
    ttl_s: int
    granted_ttl_s: int
    keys: tuple[bytes, ...]


class Handling:
    """The requests of one member, on values (module rules)."""

    def __init__(self, node: StoreNode, info: ServerInfo, services: ConcurrencyServices,
                 auth_edge: AuthEdge | None = None) -> None:
        self.node = node
        self.info = info
        self.lock = services.lock
        self.election = services.election
        self.auth = auth_edge or AuthEdge(node)
        self.watch_guard = WatchPermits(self.auth)
        self._put_written = self._written(PutResponse)
        self._delete_written = self._written(DeleteRangeResponse)
        self._txn_written = self._written(TxnResponse)

    def header(self, revision: int | None = None) -> ResponseHeader:
        """This member's header naming ``revision`` (``None``: the store's current one)."""
        node = self.node
        return ResponseHeader(node.cluster_id, self.info.member_id,
                              node.kv.revision if revision is None else revision, node.term)

    def member_header(self) -> ResponseHeader:
        return self.header(0)

    def _written(self, kind: type[R]) -> Callable[[Applied], tuple[R, ResponseHeader]]:
        """A write's answer made of what applying it gave: its ``kind`` of response and the header
        naming the revision it applied at (rule 1)."""
        def answer(applied: Applied) -> tuple[R, ResponseHeader]:
            response = applied.response
            assert isinstance(response, kind)
            return response, self.header(applied.revision)
        return answer

    def _header_at(self, applied: Applied) -> ResponseHeader:
        return self.header(applied.revision)

    # -- kv ---------------------------------------------------------------------------
    async def range(self, request: RangeRequest) -> tuple[RangeResponse, ResponseHeader]:
        response = await self.node.range(request)
        return response, self.header()

    async def put(self, request: PutRequest, answer: Answer[tuple[PutResponse, ResponseHeader]]) -> None:
        """Propose ``request``; ``answer`` is given its response and header as it applies."""
        check_request_size(request)
        self.node.start_proposal(request, self.auth.credentials(), answer.after(self._put_written))

    async def delete_range(self, request: DeleteRangeRequest,
                           answer: Answer[tuple[DeleteRangeResponse, ResponseHeader]]) -> None:
        """As ``put``."""
        self.node.start_proposal(request, self.auth.credentials(), answer.after(self._delete_written))

    async def txn(self, request: TxnRequest, answer: Answer[tuple[TxnResponse, ResponseHeader]]) -> None:
        """As ``put``; a txn of ranges only is answered here, once read (rule 6)."""
        check_request_size(request)
        if is_read_only(request):
            answer.set_result(await self._read_txn(request))
            return
        self.node.start_proposal(request, self.auth.credentials(), answer.after(self._txn_written))

    async def _read_txn(self, request: TxnRequest) -> tuple[TxnResponse, ResponseHeader]:
        """Rule 6."""
        validate(request)
        if not all(op.serializable for op in (*request.success, *request.failure)
                   if isinstance(op, RangeRequest)):
            await self.node.linearizable_barrier()
        credentials = self.auth.credentials()
        member_auth = self.node.auth
        if credentials is not None:
            auth.check_txn(member_auth.state, credentials, request, member_auth.cache)
        applied = self.node.kv.apply(request)  # ranges only: nothing changes
        assert isinstance(applied.response, TxnResponse)
        return applied.response, self.header(applied.revision)

    async def compact(self, request: CompactionRequest, answer: Answer[ResponseHeader]) -> None:
        """As ``put``: the header naming the revision the compaction applied at."""
        self.node.start_proposal(request, self.auth.credentials(), answer.after(self._header_at))

    # -- leases -----------------------------------------------------------------------
    async def lease_grant(self, ttl_s: int, lease_id: int) -> tuple[LeaseGrantResponse, ResponseHeader]:
        request = LeaseGrantRequest(ttl=ttl_s, id=lease_id or self.node.new_lease_id())
        applied = await self.node.propose(request, self.auth.credentials())
        assert isinstance(applied.response, LeaseGrantResponse)
        return applied.response, self.header(applied.revision)

    async def lease_revoke(self, lease_id: int) -> ResponseHeader:
        revoke = LeaseRevokeRequest(id=lease_id)
        return self.header((await self.node.propose(revoke, self.auth.credentials())).revision)

    async def lease_time_to_live(self, lease_id: int, with_keys: bool) -> tuple[LeaseTtl, ResponseHeader]:
        credentials = self.auth.credentials() if with_keys else None  # etcd 3.4 asks nobody who calls
        remaining = await self.node.time_to_live(lease_id)
        info = self.node.kv.lease(lease_id)
        if info is None or remaining < 0:
            return LeaseTtl(lease_id, -1, 0, ()), self.header()
        if with_keys and credentials is not None:
            auth.check_lease_time_to_live(self.auth.state, credentials, info.keys, self.node.auth.cache)
        return LeaseTtl(lease_id, remaining, info.ttl, info.keys if with_keys else ()), self.header()

    def lease_leases(self) -> tuple[tuple[int, ...], ResponseHeader]:
        return self.node.kv.lease_ids(), self.header()

    async def keep_alive(self, lease_id: int) -> tuple[int, ResponseHeader]:
        """The lease's TTL once renewed (0: it is gone); etcd 3.4 asks nobody who calls."""
        ttl = await self.node.keep_alive(lease_id)
        return ttl, self.header()

    # -- maintenance --------------------------------------------------------------------
    def status(self) -> tuple[Status, ResponseHeader]:
        node = self.node
        size, indexes = node.kv.size_bytes(), node.log_indexes()
        status = Status(version=self.info.etcd_version, db_size=size, leader=node.leader_id,
                        raft_index=indexes.last, raft_term=node.term,
                        raft_applied_index=indexes.applied, db_size_in_use=size,
                        is_learner=node.is_learner)
        return status, self.header()

    def hash_kv(self, revision: int) -> tuple[int, int, ResponseHeader]:
        """``(hash, compact_revision)`` of the store's versions up to ``revision`` (0: the current one);
        the compact revision is -1 while the store was never compacted, as etcd's mvcc store says;
        the header names the current revision whatever was hashed, as etcd's does.

        Raises:
            FutureRevision, Compacted: as a range at ``revision``.
        """
        self._check_maintenance_admin()
        kv = self.node.kv
        at = revision or kv.revision
        return kv.hash_kv(at), kv.compact_revision or -1, self.header()

    def defragment(self) -> None:
        """Nothing to defragment (the store is in memory, its files written whole); root wanted."""
        self._check_maintenance_admin()

    def snapshot_image(self) -> SnapshotImage:
        """The applied state to send as a snapshot (``_snapshot_stream``); root wanted."""
        self._check_maintenance_admin()
        return take_image(self.node)

    def alarm(self) -> None:
        """An alarm call (none is ever raised): only a token this member does not hold is refused,
        in the auth store's words (rule 5)."""
        try:
            self.auth.credentials()
        except AuthError as refusal:
            raise in_auth_store_words(refusal) from None

    def _check_maintenance_admin(self) -> None:
        try:
            self.auth.check_admin()
        except AuthError as refusal:
            raise in_auth_store_words(refusal) from None

    async def move_leader(self, target: int) -> None:
        await self.node.move_leader(target)

    # -- cluster ------------------------------------------------------------------------
    def member_list(self) -> tuple[tuple[Member, ...], ResponseHeader]:
        return self.node.member_list(), self.member_header()

    async def member_add(self, peer_urls: tuple[str, ...], is_learner: bool
                         ) -> tuple[Member, tuple[Member, ...], ResponseHeader]:
        self.auth.check_admin()
        member, members = await self.node.member_calls.add(check_peer_urls(peer_urls), is_learner=is_learner)
        return member, members, self.member_header()

    async def member_remove(self, member_id: int) -> tuple[tuple[Member, ...], ResponseHeader]:
        self.auth.check_admin()
        return await self.node.member_calls.remove(member_id), self.member_header()

    async def member_update(self, member_id: int, peer_urls: Callable[[], tuple[str, ...]]
                            ) -> tuple[tuple[Member, ...], ResponseHeader]:
        """Give ``member_id`` the URLs ``peer_urls`` reads, read once the member is found (etcd's
        order: on the gateway, reading them can fail)."""
        self.auth.check_admin()
        if self.node.member(member_id) is None:
            raise MemberNotFound()
        await self.node.members.update(member_id, check_peer_urls(peer_urls()))
        return self.member_list()

    async def member_promote(self, member_id: int) -> tuple[tuple[Member, ...], ResponseHeader]:
        self.auth.check_admin()
        return await self.node.member_calls.promote(member_id), self.member_header()

    # -- auth: the Auth service's calls (``_auth_edge``) ----------------------------------------
    async def auth_call(self, method: str, request: tuple[Any, ...]) -> tuple[AuthAnswer, ResponseHeader]:
        """An Auth service ``method`` (its name in etcd's rpc.proto) on ``request``'s fields, as
        ``wire``'s decoders give them: Authenticate's token, UserGet's roles, UserList's users,
        RoleList's roles, RoleGet's permissions, AuthStatus's (enabled, auth revision), or None
        (the answer is its header)."""
        edge = self.auth
        answer: AuthAnswer = None
        match method:
            case "Authenticate":
                answer = await edge.authenticate(*request)
            case "UserAdd":
                name, password, no_password = request
                await edge.command(auth.UserAdd(name, None if no_password else await edge.hashed(password)))
            case "UserChangePassword":
                name, password = request
                await edge.command(auth.UserChangePassword(name, await edge.hashed(password)))
            case "UserGet":
                answer = await edge.user_get(*request)
            case "UserList":
                answer = await edge.user_list()
            case "RoleGet":
                answer = await edge.role_get(*request)
            case "RoleList":
                answer = await edge.role_list()
            case "AuthStatus":  # etcd 3.5's call (the gateway's /v3/auth/status): anybody may ask
                edge.credentials()  # but a token this member does not hold is refused, as on any call
                answer = auth.auth_status(edge.state)
            case _:
                await edge.command(_AUTH_COMMANDS[method](*request))
        return answer, self.header()

    # -- lock and election: the services answer with the revision their header names --------------
    async def observe(self, name: bytes) -> AsyncIterator[tuple[KeyValue, ResponseHeader]]:
        async for revision, kv in self.election.observe(name):
            yield kv, self.header(revision)


class WatchPermits:
    """The watch streams' ``WatchGuard`` (rule 4): a create checked as its caller, asked again
    for the same user once the auth state moved (``_watch_stream`` rule 5)."""

    def __init__(self, edge: AuthEdge) -> None:
        self.edge = edge

    def admit(self, request: WatchCreateRequest) -> Callable[[], bool] | None:
        """Raises the caller's refusal of a watch on ``request``'s range (rule 4); else how to ask
        again, for the same user, whether it may still read it (``WatchGuard``; None: auth is off)."""
        credentials = self.edge.credentials()
        if credentials is None:
            return None
        member = self.edge.node.auth
        auth.check_watch(member.state, credentials, request, member.cache)

        def still() -> bool:
            state = member.state
            if not state.enabled:
                return True
            try:
                auth.check_watch(state, AuthInfo(credentials.user, state.revision), request, member.cache)
            except AuthError:
                return False
            return True
        return still

    def revision(self) -> int:
        """The auth state's revision (``WatchGuard``: watches are asked again when it moves)."""
        return self.edge.node.auth.state.revision


def json_header(header: ResponseHeader) -> wire.JsonObject:
    """``header`` as the gateway writes it (no revision when it names none)."""
    return wire.encode_header(header.cluster_id, header.member_id, header.revision, header.raft_term)
