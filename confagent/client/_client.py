"""The async etcd v3 client over the JSON gateway: the same code for confagent and a real etcd.

One ``httpx.AsyncClient`` (HTTP/1.1, a bounded keep-alive pool) serves every
call; a :class:`~confagent.client._transport.Transport` picks the endpoint and
decides what may be retried (reads yes; writes only if they never left). Each
method returns a :class:`~confagent.wire.Reply`: the decoded
response and the header it came with.

Usage::

    async with EtcdClient(["http://127.0.0.1:2379"]) as etcd:
        await etcd.put(b"app/port", b"8080")
        reply = await etcd.get(b"app/", prefix=True)
        async for message in etcd.watch(b"app/", prefix=True, resume=True):
            ...

With ``ClientConfig.credentials`` every call goes signed in as that user
(``confagent.client._credentials``); ``etcd.auth`` is etcd's Auth service
(``confagent.client._auth``).
"""

from __future__ import annotations

import time
from collections.abc import AsyncGenerator, Callable, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any, TypeVar

import httpx

from confagent import wire
from confagent.client._auth import Auth
from confagent.client._credentials import Credentials, Login
from confagent.client._decode import decoded, header_of
from confagent.client._election import Election, observe_leaders
from confagent.client._lock import Fence, Lock
from confagent.client._semaphore import Semaphore
from confagent.client._session import SESSION_TTL_S, Session
from confagent.client._snapshot import download_snapshot
from confagent.client._transport import (
    ClientTls,
    Transport,
    error_from_response,
    parse_json,
    server_verification,
)
from confagent.client._watch import watch
from confagent.errors import ClientError, LockLost
from confagent.kv._keys import FROM_KEY, prefix_end
from confagent.kv._messages import (
    CompactionRequest,
    DeleteRangeRequest,
    DeleteRangeResponse,
    KeyValue,
    LeaseGrantResponse,
    PutRequest,
    PutResponse,
    RangeRequest,
    RangeResponse,
    RequestOp,
    SortOrder,
    SortTarget,
    TxnRequest,
    TxnResponse,
    WatchCreateRequest,
    WatchResponse,
)
from confagent.wire import (
    AlarmMember,
    CampaignRequest,
    LeaderKey,
    LeaseKeepAlive,
    LeaseTimeToLive,
    LockRequest,
    Member,
    Reply,
    ResponseHeader,
    Status,
)

__all__ = ["ClientConfig", "EtcdClient"]

T = TypeVar("T")


def _range_end(key: bytes, range_end: bytes, prefix: bool, from_key: bool) -> bytes:
    if prefix:
        return prefix_end(key)
    if from_key:
        return FROM_KEY
    return range_end


def _writes(op: RequestOp) -> bool:
    if isinstance(op, TxnRequest):
        return any(_writes(o) for o in (*op.success, *op.failure))
    return not isinstance(op, RangeRequest)


@dataclass(frozen=True, slots=True)
class ClientConfig:
    """How to reach the store. Timeouts are per attempt on one endpoint."""

    endpoints: tuple[str, ...] = ("http://127.0.0.1:2379",)
    dial_timeout_s: float = 2.0
    command_timeout_s: float = 5.0
    tls: ClientTls | None = None
    connections_max: int = 16
    credentials: Credentials | None = None
    """A user to sign in as (taken when both its user and password are given, as clientv3 does)."""

    def validate(self) -> None:
        if not self.endpoints:
            raise ClientError("no endpoints given")
        if self.dial_timeout_s <= 0 or self.command_timeout_s <= 0:
            raise ClientError("timeouts must be positive")


class EtcdClient:
    """Async etcd v3 client; see the module docstring. Close it (``async with``)."""

    def __init__(self, config: ClientConfig | Sequence[str]) -> None:
        if not isinstance(config, ClientConfig):
            config = ClientConfig(endpoints=tuple(config))
        config.validate()
        self.config = config
        limits = httpx.Limits(max_connections=config.connections_max,
                              max_keepalive_connections=config.connections_max)
        self._http = httpx.AsyncClient(
            timeout=httpx.Timeout(config.command_timeout_s, connect=config.dial_timeout_s),
            limits=limits, verify=server_verification(config.endpoints, config.tls), trust_env=False,
        )
        credentials = config.credentials
        login = Login(credentials, self._http) if credentials is not None and credentials.complete else None
        self._transport = Transport(config.endpoints, self._http, login)
        self.auth = Auth(self._call)
        """etcd's Auth service (``confagent.client._auth``)."""

    @property
    def endpoints(self) -> tuple[str, ...]:
        return self._transport.endpoints

    async def __aenter__(self) -> EtcdClient:
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None,
                        exc: BaseException | None, tb: TracebackType | None) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    async def login(self) -> None:
        """Sign in now if the client has credentials (else on the first call), as clientv3 does
        when it is created.

        Raises:
            StoreError: the credentials were refused (its text names the user; ``message`` is
                etcd's words).
            ClientError: no endpoint answered.
        """
        await self._transport.authorized(_nothing)

    async def _call(self, path: str, payload: dict[str, Any], *, retry_safe: bool,
                    timeout: httpx.Timeout | None = None) -> dict[str, Any]:
        return await self._transport.call(path, payload, retry_safe=retry_safe, timeout=timeout)

    # -- kv -----------------------------------------------------------------------------

    async def range(self, request: RangeRequest) -> Reply[RangeResponse]:
        body = await self._call("/v3/kv/range", wire.encode_range_request(request),
                                retry_safe=True)
        return decoded(wire.decode_range_response, body)

    async def get(self, key: bytes, range_end: bytes = b"", *, prefix: bool = False,
                  from_key: bool = False, revision: int = 0, limit: int = 0,
                  keys_only: bool = False, count_only: bool = False,
                  sort_order: SortOrder = SortOrder.NONE, sort_target: SortTarget = SortTarget.KEY,
                  serializable: bool = False) -> Reply[RangeResponse]:
        """A range read; ``prefix`` and ``from_key`` compute ``range_end`` as etcdctl does."""
        return await self.range(RangeRequest(
            key=key, range_end=_range_end(key, range_end, prefix, from_key), limit=limit,
            revision=revision, sort_order=sort_order, sort_target=sort_target,
            serializable=serializable, keys_only=keys_only, count_only=count_only,
        ))

    async def put(self, key: bytes, value: bytes = b"", *, lease: int = 0, prev_kv: bool = False,
                  ignore_value: bool = False, ignore_lease: bool = False) -> Reply[PutResponse]:
        """Raises AmbiguousWrite when the put was sent and no answer came."""
        request = PutRequest(key=key, value=value, lease=lease, prev_kv=prev_kv,
                             ignore_value=ignore_value, ignore_lease=ignore_lease)
        body = await self._call("/v3/kv/put", wire.encode_put_request(request), retry_safe=False)
        return decoded(wire.decode_put_response, body)

    async def delete(self, key: bytes, range_end: bytes = b"", *, prefix: bool = False,
                     from_key: bool = False, prev_kv: bool = False) -> Reply[DeleteRangeResponse]:
        request = DeleteRangeRequest(key=key, range_end=_range_end(key, range_end, prefix, from_key),
                                     prev_kv=prev_kv)
        body = await self._call("/v3/kv/deleterange", wire.encode_delete_range_request(request),
                                retry_safe=False)
        return decoded(wire.decode_delete_range_response, body)

    async def txn(self, request: TxnRequest) -> Reply[TxnResponse]:
        """A txn; retried on another endpoint only if neither branch writes."""
        body = await self._call("/v3/kv/txn", wire.encode_txn_request(request),
                                retry_safe=not _writes(request))
        return decoded(wire.decode_txn_response, body)

    async def compact(self, revision: int, *, physical: bool = False) -> ResponseHeader:
        request = CompactionRequest(revision=revision, physical=physical)
        body = await self._call("/v3/kv/compaction", wire.encode_compaction_request(request),
                                retry_safe=False)
        return decoded(header_of, body)

    # -- leases -------------------------------------------------------------------------

    async def lease_grant(self, ttl_s: int, lease_id: int = 0) -> Reply[LeaseGrantResponse]:
        """``lease_id`` 0 lets the server choose one."""
        body = await self._call("/v3/lease/grant", wire.encode_lease_grant_request(ttl_s, lease_id),
                                retry_safe=False)
        return decoded(wire.decode_lease_grant_response, body)

    async def lease_revoke(self, lease_id: int) -> ResponseHeader:
        body = await self._call("/v3/lease/revoke", wire.encode_lease_id_request(lease_id),
                                retry_safe=False)
        return decoded(header_of, body)

    async def lease_keepalive_once(self, lease_id: int) -> Reply[LeaseKeepAlive]:
        """Renew once; ``ttl_s`` 0 in the answer means the lease is gone."""
        body = await self._call("/v3/lease/keepalive", wire.encode_lease_id_request(lease_id),
                                retry_safe=True)
        return decoded(wire.decode_lease_keepalive_response, body.get("result", body))

    async def lease_time_to_live(self, lease_id: int, *, keys: bool = False
                                 ) -> Reply[LeaseTimeToLive]:
        body = await self._call("/v3/lease/timetolive",
                                wire.encode_lease_time_to_live_request(lease_id, keys), retry_safe=True)
        return decoded(wire.decode_lease_time_to_live_response, body)

    async def leases(self) -> Reply[tuple[int, ...]]:
        body = await self._call("/v3/lease/leases", {}, retry_safe=True)
        return decoded(wire.decode_lease_leases_response, body)

    # -- watch --------------------------------------------------------------------------

    def watch(self, key: bytes, range_end: bytes = b"", *, prefix: bool = False,
              from_key: bool = False, start_revision: int = 0, prev_kv: bool = False,
              progress_notify: bool = False, no_put: bool = False, no_delete: bool = False,
              resume: bool = False) -> AsyncGenerator[Reply[WatchResponse], None]:
        """The messages of a new watch stream: ``created`` first, then events, until canceled.

        With ``resume``, a broken stream is reopened from the first revision not
        yet delivered (see ``confagent.client._watch``).
        """
        request = WatchCreateRequest(
            key=key, range_end=_range_end(key, range_end, prefix, from_key),
            start_revision=start_revision, progress_notify=progress_notify, no_put=no_put,
            no_delete=no_delete, prev_kv=prev_kv,
        )
        return watch(self._transport, request, resume=resume,
                     dial_timeout_s=self.config.dial_timeout_s)

    # -- locks and elections: the high-level objects (``_lock``, ``_election``) -------------

    def lock(self, name: bytes, *, ttl_s: int = SESSION_TTL_S, session: Session | None = None) -> Lock:
        """The lock ``name``, held inside ``async with`` under ``session``, else a session of
        its own with ``ttl_s`` (``confagent.client._lock``)."""
        return Lock(self, name, ttl_s=ttl_s, session=session)

    def semaphore(self, name: bytes, slots: int, *, ttl_s: int = SESSION_TTL_S,
                  session: Session | None = None, value: bytes = b"",
                  on_wait: Callable[[int], None] | None = None) -> Semaphore:
        """One of the ``slots`` slots of ``name``, held inside ``async with``
        (``confagent.client._semaphore``)."""
        return Semaphore(self, name, slots, ttl_s=ttl_s, session=session, value=value, on_wait=on_wait)

    def election(self, name: bytes, *, ttl_s: int = SESSION_TTL_S,
                 session: Session | None = None) -> Election:
        """The election ``name`` as one candidate sees it (``confagent.client._election``)."""
        return Election(self, name, ttl_s=ttl_s, session=session)

    async def fenced(self, fence: Fence, *ops: RequestOp) -> Reply[TxnResponse]:
        """Apply ``ops`` in one txn, only while the lock behind ``fence`` is held.

        Raises:
            LockLost: the lock's key is gone (its lease expired, or it was released); nothing applied.
        """
        reply = await self.txn(fence.txn(*ops))
        if not reply.response.succeeded:
            raise LockLost(f"the lock {fence.key.decode(errors='replace')} is no longer held "
                           f"(taken at revision {fence.revision}); the write was refused")
        return reply

    # -- locks and elections: etcd's calls ------------------------------------------------

    async def acquire_lock(self, name: bytes, lease: int) -> Reply[bytes]:
        """etcd's Lock: wait for the lock ``name`` under ``lease``; its key, at the revision it was
        taken. A lease 0 makes the server grant one of 60 s that nobody renews."""
        body = await self._call("/v3/lock/lock", wire.encode_lock_request(LockRequest(name, lease)),
                                retry_safe=False, timeout=self._waiting_timeout)
        return decoded(wire.decode_lock_response, body)

    async def release_lock(self, key: bytes) -> ResponseHeader:
        """etcd's Unlock: delete ``key`` (no error when it does not exist)."""
        body = await self._call("/v3/lock/unlock", wire.encode_unlock_request(key), retry_safe=False)
        return decoded(header_of, body)

    async def campaign(self, request: CampaignRequest) -> Reply[LeaderKey]:
        """etcd's Campaign: wait until the candidate leads; its LeaderKey."""
        body = await self._call("/v3/election/campaign", wire.encode_campaign_request(request),
                                retry_safe=False, timeout=self._waiting_timeout)
        return decoded(wire.decode_campaign_response, body)

    async def proclaim(self, leader: LeaderKey, value: bytes) -> ResponseHeader:
        body = await self._call("/v3/election/proclaim", wire.encode_proclaim_request(leader, value),
                                retry_safe=False)
        return decoded(header_of, body)

    async def leader(self, name: bytes) -> Reply[KeyValue]:
        body = await self._call("/v3/election/leader", wire.encode_leader_request(name), retry_safe=True)
        return decoded(wire.decode_leader_response, body)

    def observe(self, name: bytes) -> AsyncGenerator[Reply[KeyValue], None]:
        """The messages of an Observe stream (``_election.observe_leaders``)."""
        return observe_leaders(self._transport, name, self.config.dial_timeout_s)

    async def resign(self, leader: LeaderKey) -> ResponseHeader:
        body = await self._call("/v3/election/resign", wire.encode_resign_request(leader), retry_safe=False)
        return decoded(header_of, body)

    @property
    def _waiting_timeout(self) -> httpx.Timeout:
        """No read timeout: the answer comes when the caller's turn does."""
        return httpx.Timeout(None, connect=self.config.dial_timeout_s)

    # -- maintenance and cluster ----------------------------------------------------------

    async def status(self, endpoint: str) -> Reply[Status]:
        """The status of one endpoint (no failover: the question is about that member)."""
        body = await self._post_one(endpoint, "/v3/maintenance/status")
        return decoded(wire.decode_status_response, body)

    def snapshot(self, endpoint: str) -> AsyncGenerator[bytes, None]:
        """The bytes of one endpoint's snapshot file as they arrive, checked whole at the end
        (no failover: a snapshot is one member's). See ``confagent.client._snapshot``.

        Raises:
            StoreError, ClientError: as ``download_snapshot``; keep nothing written then.
        """
        return self._signed_in_snapshot(endpoint)

    async def _signed_in_snapshot(self, endpoint: str) -> AsyncGenerator[bytes, None]:
        await self.login()
        async for piece in download_snapshot(self._http, endpoint):
            yield piece

    async def defragment(self, endpoint: str) -> None:
        """Defragment one endpoint's storage (no failover: the question is about that member)."""
        await self._post_one(endpoint, "/v3/maintenance/defragment")

    async def move_leader(self, endpoint: str, target_id: int) -> None:
        """Ask ``endpoint``, the leader, to hand leadership to member ``target_id``; return once it has.

        Raises:
            NotLeader, BadLeaderTransferee, LeaderTransferTimeout: etcd's refusals.
        """
        await self._post_one(endpoint, "/v3/maintenance/transfer-leadership",
                             wire.encode_move_leader_request(target_id))

    async def alarm_list(self) -> tuple[AlarmMember, ...]:
        """Every alarm raised in the cluster."""
        body = await self._call("/v3/maintenance/alarm", wire.encode_alarm_request("GET"), retry_safe=True)
        return decoded(wire.decode_alarm_response, body)

    async def alarm_disarm(self, alarm: AlarmMember | None = None) -> tuple[AlarmMember, ...]:
        """Disarm ``alarm``, or (None) every alarm listed, as clientv3 does; the alarms disarmed."""
        if alarm is None:
            disarmed: list[AlarmMember] = []
            for listed in await self.alarm_list():
                disarmed.extend(await self.alarm_disarm(listed))
            return tuple(disarmed)
        body = await self._call("/v3/maintenance/alarm", wire.encode_alarm_request("DEACTIVATE", alarm),
                                retry_safe=False)
        return decoded(wire.decode_alarm_response, body)

    async def member_list(self) -> Reply[tuple[Member, ...]]:
        body = await self._call("/v3/cluster/member/list", {}, retry_safe=True)
        return decoded(wire.decode_member_list_response, body)

    async def member_add(self, peer_urls: Sequence[str], *, is_learner: bool = False
                         ) -> Reply[tuple[Member, tuple[Member, ...]]]:
        """Add a member (a learner if asked); the new member (unstarted: no name yet) and all."""
        body = await self._call("/v3/cluster/member/add",
                                wire.encode_member_add_request(peer_urls, is_learner), retry_safe=False)
        return decoded(wire.decode_member_add_response, body)

    async def member_remove(self, member_id: int) -> Reply[tuple[Member, ...]]:
        """Remove a member; the members left."""
        body = await self._call("/v3/cluster/member/remove", wire.encode_member_id_request(member_id),
                                retry_safe=False)
        return decoded(wire.decode_member_list_response, body)

    async def member_update(self, member_id: int, peer_urls: Sequence[str]) -> Reply[tuple[Member, ...]]:
        """Give a member new peer URLs; every member after the change."""
        body = await self._call("/v3/cluster/member/update",
                                wire.encode_member_update_request(member_id, peer_urls), retry_safe=False)
        return decoded(wire.decode_member_list_response, body)

    async def member_promote(self, member_id: int) -> Reply[tuple[Member, ...]]:
        """Make a learner (in sync with the leader) a voter; every member after the change."""
        body = await self._call("/v3/cluster/member/promote", wire.encode_member_id_request(member_id),
                                retry_safe=False)
        return decoded(wire.decode_member_list_response, body)

    async def version(self, endpoint: str) -> dict[str, str]:
        """``GET /version`` of one endpoint: ``{"etcdserver": ..., "etcdcluster": ...}``."""
        response = await self._get_one(endpoint, "/version")
        return {str(k): str(v) for k, v in parse_json(response.content, endpoint).items()}

    async def health(self, endpoint: str) -> float:
        """Seconds one endpoint took to answer a linearizable read (etcdctl's health check).

        Raises:
            StoreError, ClientError: the endpoint is not healthy.
        """
        started = time.perf_counter()
        await self._post_one(endpoint, "/v3/kv/range",
                             wire.encode_range_request(RangeRequest(key=b"health")))
        return time.perf_counter() - started

    async def _post_one(self, endpoint: str, path: str, payload: dict[str, Any] | None = None
                        ) -> dict[str, Any]:
        return await self._transport.authorized(lambda: self._post_to(endpoint, path, payload))

    async def _post_to(self, endpoint: str, path: str, payload: dict[str, Any] | None) -> dict[str, Any]:
        try:
            response = await self._http.post(endpoint.rstrip("/") + path, json=payload or {})
        except httpx.HTTPError as error:
            raise ClientError(f"{endpoint}: {error!r}") from error
        if response.status_code != 200:
            raise error_from_response(response, endpoint)
        return parse_json(response.content, endpoint)

    async def _get_one(self, endpoint: str, path: str) -> httpx.Response:
        return await self._transport.authorized(lambda: self._get_from(endpoint, path))

    async def _get_from(self, endpoint: str, path: str) -> httpx.Response:
        try:
            response = await self._http.get(endpoint.rstrip("/") + path)
        except httpx.HTTPError as error:
            raise ClientError(f"{endpoint}: {error!r}") from error
        if response.status_code != 200:
            raise error_from_response(response, endpoint)
        return response


async def _nothing() -> None:
    """A call that sends nothing: ``login`` runs it signed in."""
