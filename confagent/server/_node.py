"""StoreNode: the one task that owns a Raft core, the write-ahead log and the key-value state machine.

The write path is the same for one member and for five:

    propose(request) -> RawNode.propose -> Ready -> WAL append + fsync -> apply -> reply + watch events

Rules:
1. Stateless validation happens before proposing; state-dependent errors are
   decided when an entry is applied, identically on every member.
2. A proposal is answered only after its entry is durable and applied.
3. Every proposal made while an fsync is in flight joins the next batch, so
   concurrent writes share one fsync (group commit).
4. Lease deadlines are the leader's business (``Lessor``); an expiry is a
   ``LeaseRevokeRequest`` proposed through the log, never a local deletion.
   Followers forward keep-alive and time-to-live calls to the leader
   (``_lease_forward``); a new leader gives every lease its full TTL.
5. Membership is replicated state too (``_member_changes``): membership changes
   and members' published attributes are log entries, the member table travels
   in snapshots with the key-value state, and a membership change applied is
   followed at once by a snapshot. Followers forward add, remove and promote to
   the leader (``_member_calls``), over the peer transport as lease calls.

The driver (``_drive``) is one task: it persists, sends and applies a Ready, advances,
and only then steps what arrived meanwhile (``_inputs``, ``_pending``; ticks only queue).

6. Only what needs an fsync goes to the WAL writer and is waited for: entries, a
   snapshot, a new term or vote. A hard state that moves only the commit index is
   written with the next save (the commit index is recovered from log and leader).
7. Followers and candidates send after the save (their answers vouch for their disk).
   A leader sends while it saves, in parallel with its followers' saves
   (``Ready.send_before_persist``; Raft thesis §10.2.1, as etcd does): its messages
   promise nothing about its disk, and the commit index they carry counts only entries
   durable here. With peers its own append never advances it (``Raft.append_entries``);
   acknowledgements do, stepped only after this save and answering appends of earlier,
   saved Readys. A leader killed before its save completes may lose those entries, but
   none was committed: no quorum of durable copies was counted. (Asserted on sending.)
8. Committed entries durable here before the Ready (those before its first new entry)
   are applied while the save runs, up to the first membership change; the rest after.
   A Ready that saves nothing but applies entries leaves its messages (commit news) to
   the peers' tasks, written after the replies it made possible.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import random
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import structlog

from confagent.errors import (
    LeaseNotFound,
    MemberRemoved,
    ResourceExhausted,
    Stopped,
    StoreError,
    Unavailable,
)
from confagent.kv import (
    Applied,
    Event,
    KvStore,
    LeaseGrantRequest,
    LeaseRevokeRequest,
    Lessor,
    RangeRequest,
    RangeResponse,
    Request,
    WatchHub,
    decode_request,
    encode_request,
    validate,
)
from confagent.raft import Entry, EntryType, Message, RaftConfig, RawNode, Ready, Snapshot, SnapshotMeta
from confagent.server._read_barrier import AppliedWaiters, ReadBarrier
from confagent.server._watch_stream import WatchRegistry
from confagent.server.membership import (
    Leadership,
    Member,
    MemberChanges,
    MemberCommand,
    MemberTable,
    start_membership,
    unwrap_snapshot,
    wrap_snapshot,
)
from confagent.server.peers import (
    ForwardConfig,
    LeaseAnswer,
    LeaseForwarder,
    LeaseOp,
    LeaseQuery,
    MemberAnswer,
    MemberCalls,
    MemberQuery,
    PeerFrame,
    PeerTls,
    PeerTransport,
    TransportConfig,
)
from confagent.server.storage import SEGMENT_BYTES, RecoveryReport, SnapshotFiles, WalWriter, open_storage
from confagent.tasks import cancel_and_wait

__all__ = ["LogIndexes", "NodeConfig", "StoreNode"]

log = structlog.get_logger("confagent.store")

_REQUEST_ID_BYTES = 8
_MAX_INT64 = (1 << 63) - 1


@dataclass(frozen=True, slots=True)
class NodeConfig:
    """Settings of one store member; bounds are named here."""

    data_dir: Path
    member_id: int
    cluster_id: int
    tick_s: float = 0.1
    election_ticks: int = 10
    snapshot_entries: int = 20_000
    """Take a snapshot (and release WAL segments) after this many applied entries."""
    wal_segment_bytes: int = SEGMENT_BYTES
    """Cut a new WAL segment once the current one holds this many bytes (a whole segment is
    what a release deletes)."""
    max_pending_proposals: int = 20_000
    """Proposals waiting for the log beyond this are refused with 'too many requests'."""
    min_lease_ttl: int = 2
    max_expiries_per_round: int = 500
    """At most this many expired leases are revoked per round (etcd: 1000 per second)."""
    peers: Mapping[int, str] = field(default_factory=dict)
    """The initial cluster: member ID -> peer URL, this member included; empty for one member."""
    listen_peer_url: str = ""
    request_timeout_s: float = 7.0
    """A write or linearizable read not done by then fails with 'request timed out' (etcd's)."""
    peer_tls: PeerTls | None = None
    """Certificates for ``https://`` peer URLs."""
    name: str = ""
    client_urls: tuple[str, ...] = ()
    """Published through the log once started (a member without a name publishes nothing)."""
    initial_members: tuple[Member, ...] = ()
    """The member table before any change: the bootstrap (or, joining, the given) members."""
    joining: bool = False
    """Joining a running cluster (``--initial-cluster-state existing``): learn everything from
    its leader, never campaign before this member's addition is applied."""
    cluster_token: str = "etcd-cluster"
    """Member IDs of added members derive from their peer URLs and this token."""

    @property
    def voters(self) -> tuple[int, ...]:
        return tuple(sorted(self.peers)) if self.peers else (self.member_id,)


ApplyListener = Callable[[int, tuple[Event, ...]], None]


@dataclass(frozen=True, slots=True)
class LogIndexes:
    """Where this member's Raft log stands, for status and metrics."""

    last: int
    """The last entry in the log (etcd's ``raftIndex``)."""
    committed: int
    applied: int


@dataclass(frozen=True, slots=True)
class _Proposal:
    """A write waiting for the log. The leader keeps the decoded request, so applying
    its own entries needs no decoding."""

    data: bytes
    request: Request
    future: asyncio.Future[Applied]


class StoreNode:
    """A store member: the Raft driver loop plus the state it applies to."""

    def __init__(self, config: NodeConfig, core: RawNode, kv: KvStore, writer: WalWriter,
                 snapshots: SnapshotFiles, rng: random.Random, table: MemberTable | None = None) -> None:
        self.config = config
        self.core = core
        self.kv = kv
        self.lessor = Lessor()
        self._writer = writer
        self._snapshots = snapshots
        self._rng = rng
        self._pending: list[_Proposal] = []
        self._waiting: dict[bytes, _Proposal] = {}
        self._wake = asyncio.Event()
        self._request_ids = itertools.count(rng.getrandbits(40))
        self._snapshot_index = core.log.offset
        self._applied_index = core.log.offset
        """The last entry applied to ``kv`` (ahead of ``core.log.applied`` until ``advance``)."""
        self.watches = WatchRegistry(WatchHub(kv))
        """The one watch fan-out of this member: the gateway's streams and in-process watches."""
        self._listeners: list[ApplyListener] = [self.watches.on_applied]
        self._restore_listeners: list[Callable[[], None]] = []
        self._tasks: list[asyncio.Task[None]] = []
        self._stopped = False
        self.failure: BaseException | None = None
        """What ended a task owning this member's state (``_task_ended``); the member then
        answers nothing more and ``failed`` is set."""
        self.failed = asyncio.Event()
        self._probes: dict[bytes, asyncio.Future[None]] = {}
        """``confirm_progress`` rounds waiting for their entry, by request ID."""
        self._pending_probes: list[bytes] = []
        self._inputs: list[Message | tuple[int, bool]] = []
        self._reads = ReadBarrier()
        self._applied_waiters = AppliedWaiters()
        self._was_leader = False
        self.leadership = Leadership(config.member_id, log)
        """Who leads as the driver last saw it, with waits on its changes (``_leadership``)."""
        self.recovery = RecoveryReport()
        """What opening the data directory repaired or passed over (set by ``open``; the server logs it)."""
        self.members = MemberChanges(
            config.member_id, table or MemberTable(config.cluster_id, config.initial_members), core,
            self._wake.set, self._new_request_id, cluster_token=config.cluster_token,
            request_timeout_s=config.request_timeout_s)
        self.transport: PeerTransport | None = None
        if config.listen_peer_url:
            self.transport = PeerTransport(config.member_id, config.listen_peer_url,
                                           self.members.table.peer_urls(), self._receive, self._report,
                                           TransportConfig(tls=config.peer_tls), rng=rng)
        self.members.transport = self.transport
        self._lease_calls = LeaseForwarder(
            config.member_id, self._send_frames, lambda: self.leadership.leader_id, self._answer_lease,
            ForwardConfig(request_timeout_s=config.request_timeout_s),
            first_request_id=rng.getrandbits(32), leader_changed=self.leadership.changed)
        self._member_calls = MemberCalls(self.members, self.leadership, self._send_frames,
                                         request_timeout_s=config.request_timeout_s,
                                         first_request_id=rng.getrandbits(32))

    # -- life cycle ---------------------------------------------------------------
    @classmethod
    async def open(cls, config: NodeConfig, rng: random.Random | None = None) -> StoreNode:
        """Recover from the data directory (snapshot, then the log after it) and elect this member."""
        rng = rng or random.Random()
        snapshots = SnapshotFiles(config.data_dir / "member" / "snap")
        storage = await asyncio.to_thread(open_storage, config.data_dir, snapshots, config.wal_segment_bytes)
        state, snapshot_meta = storage.state, storage.state.snapshot
        kv, table = KvStore(min_lease_ttl=config.min_lease_ttl), None
        if storage.snapshot_data is not None:
            table, data = unwrap_snapshot(storage.snapshot_data)
            kv = KvStore.restore(data, min_lease_ttl=config.min_lease_ttl)
        voters, learners, joining = start_membership(config.member_id, config.voters, config.joining,
                                                     snapshot_meta)
        raft_config = RaftConfig(node_id=config.member_id, voters=voters, learners=learners,
                                 joining=joining, election_ticks=config.election_ticks)

        def snapshot_source() -> Snapshot:
            return Snapshot(*node.snapshot_with_members())

        core = RawNode(raft_config, state.hard_state, snapshot_meta, state.entries, rng,
                       snapshot_source=snapshot_source)
        node = cls(config, core, kv, WalWriter(storage.wal), snapshots, rng, table)
        node.recovery = storage.report
        node._replay_committed()
        node.members.restored(None)
        if node.members.removed.is_set():
            await node._writer.close()
            raise MemberRemoved()
        if core.conf_state.voters == (config.member_id,):
            core.campaign()  # a lone voter need not wait for an election timeout
        return node

    async def start(self) -> None:
        """Listen for peers, then start the driver loop, the ticker and lease expiry."""
        if self.transport is not None:
            await self.transport.start()
        self._wake.set()
        self._tasks = [
            asyncio.create_task(self._drive(), name="raft-driver"),
            asyncio.create_task(self._tick_forever(), name="raft-ticker"),
            asyncio.create_task(self._expire_leases_forever(), name="lease-expiry"),
            asyncio.create_task(self.members.publish_forever(self.config.name, self.config.client_urls,
                                                             self.leadership), name="publish-member"),
        ]
        for task in self._tasks:
            task.add_done_callback(self._task_ended)

    def _task_ended(self, task: asyncio.Task[None]) -> None:
        """A task of the member ended: by ``stop``, by finishing its job, or by an error (a bug).

        An error must not leave a member that accepts requests it can never answer (a driver
        gone, every write waiting out its timeout while ``/health`` says true): the member
        fails every waiting request with 'server stopped', refuses new ones, and sets
        ``failed``, on which the server stops (``MemberFailed``).
        """
        if self._stopped or task.cancelled() or task.exception() is None:
            return
        self.failure = task.exception()
        self.failed.set()
        log.critical("store member failed", task=task.get_name(), exc_info=self.failure)
        stopped = Stopped()
        for proposal in [*self._pending, *self._waiting.values()]:
            if not proposal.future.done():
                proposal.future.set_exception(stopped)
        for probe in self._probes.values():
            if not probe.done():
                probe.set_exception(stopped)
        self._reads.cancel_all(stopped)
        self._applied_waiters.cancel_all(stopped)
        self.members.fail_waiting(stopped)

    async def stop(self) -> None:
        """Stop the tasks; waiting proposals fail with 'stopped'; the log is closed.

        Each group of tasks gets ``TASK_STOP_S`` once cancelled (``confagent.tasks``); one
        that does not end is abandoned, logged, so a stop never waits forever.
        """
        self._stopped = True
        stuck = await cancel_and_wait(self._tasks)
        for proposal in [*self._pending, *self._waiting.values()]:
            proposal.future.cancel()
        self._reads.cancel_all()
        self._applied_waiters.cancel_all()
        stuck += await self._lease_calls.close() + await self._member_calls.close()
        if stuck:
            log.error("tasks did not stop; abandoned", tasks=stuck)
        if self.transport is not None:
            await self.transport.stop()
        await self._writer.close()

    def add_listener(self, listener: ApplyListener) -> None:
        """Call ``listener(revision, events)`` after every applied change (the watch hub)."""
        self._listeners.append(listener)

    def add_restore_listener(self, listener: Callable[[], None]) -> None:
        """Call ``listener()`` after the store was replaced by a leader's snapshot."""
        self._restore_listeners.append(listener)

    # -- requests -----------------------------------------------------------------
    async def propose(self, request: Request) -> Applied:
        """Validate, replicate and apply a write; the result once it is durable and applied.

        Raises:
            StoreError: a validation error (nothing proposed), a state error decided
                at apply time (nothing changed), or 'too many requests'.
        """
        validate(request)
        self._check_running()
        if len(self._pending) + len(self._waiting) >= self.config.max_pending_proposals:
            raise ResourceExhausted()
        request_id = self._new_request_id()
        future: asyncio.Future[Applied] = asyncio.get_running_loop().create_future()
        self._pending.append(_Proposal(request_id + encode_request(request), request, future))
        self._wake.set()
        try:
            async with asyncio.timeout(self.config.request_timeout_s):
                return await future  # cancelled with this wait; the entry may still commit
        except TimeoutError:
            self._waiting.pop(request_id, None)  # it may still commit: the outcome is unknown
            raise Unavailable() from None

    async def confirm_progress(self, timeout_s: float) -> None:
        """Return once an empty entry proposed now has been committed and applied here: this
        member can make progress (etcd's ``/health`` makes such a round, a quorum get).

        Raises:
            Unavailable: no progress within ``timeout_s``; Stopped: the member failed.
        """
        self._check_running()
        request_id = self._new_request_id()
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._probes[request_id] = future
        self._pending_probes.append(request_id)
        self._wake.set()
        try:
            async with asyncio.timeout(timeout_s):
                await future
        except TimeoutError:
            raise Unavailable() from None
        finally:
            self._probes.pop(request_id, None)

    def _check_running(self) -> None:
        if self.failure is not None:
            raise Stopped()

    def _new_request_id(self) -> bytes:
        """Unique across members (their IDs' low 16 bits lead) and restarts (a random start):
        every member applies every entry, and only the proposer may claim it."""
        counter = next(self._request_ids) & ((1 << 48) - 1)
        return ((self.config.member_id & 0xFFFF) << 48 | counter).to_bytes(_REQUEST_ID_BYTES, "big")

    async def range(self, request: RangeRequest) -> RangeResponse:
        """A read of the applied state; unless ``serializable``, only after a ReadIndex round
        confirms this member has applied everything committed when the read arrived."""
        validate(request)
        if not request.serializable:
            await self.linearizable_barrier()
        return self.kv.range(request)

    async def linearizable_barrier(self) -> None:
        """Return once a read of the local state is linearizable.

        A lone voter answers every acknowledged write after applying it, so its
        state is always current; with peers, concurrent reads share one ReadIndex.

        Raises:
            Unavailable: no leader confirmed the read within the request timeout.
        """
        self._check_running()
        if self.members.lone_voter:
            return
        try:
            async with asyncio.timeout(self.config.request_timeout_s):
                batch = self._reads.join()
                self._wake.set()
                index = await asyncio.shield(batch)
                await self._applied_waiters.wait(index, self.core.log.applied)
        except TimeoutError:
            raise Unavailable() from None

    def new_lease_id(self) -> int:
        """A fresh, positive int64 lease ID not in use (the leader picks it before proposing)."""
        while True:
            lease_id = self._rng.randrange(1, _MAX_INT64)
            if self.kv.lease(lease_id) is None:
                return lease_id

    async def keep_alive(self, lease_id: int) -> int:
        """Renew a lease, on the leader wherever it is; its granted TTL, or 0 when the lease
        is unknown or already expired (etcd's answers).

        Raises:
            Unavailable: no leader (``NoLeader``), or it did not answer, within the request timeout.
        """
        return await self._lease_calls.call(LeaseOp.KEEP_ALIVE, lease_id)

    async def time_to_live(self, lease_id: int) -> int:
        """Whole seconds left on a lease, as the leader counts them; -1 when unknown.

        When it returns a lease as known, this member's state holds that lease too
        (its granted TTL and keys), unless a revoke was applied since.

        Raises:
            Unavailable: as ``keep_alive``.
        """
        remaining = await self._lease_calls.call(LeaseOp.TIME_TO_LIVE, lease_id)
        if remaining >= 0 and self.kv.lease(lease_id) is None:
            await self.linearizable_barrier()  # a follower behind its leader catches up first
        return remaining

    # -- membership (``_member_calls``, ``_member_changes``) --------------------------------
    async def add_member(self, peer_urls: tuple[str, ...], *,
                         is_learner: bool) -> tuple[Member, tuple[Member, ...]]:
        """Add a member, through the leader wherever it is: the member added and every member,
        as the leader's table has them once the addition applied.

        Raises:
            StoreError: etcd's refusal (``MembershipError``), ``NoLeader``, or 'request timed out'.
        """
        return await self._member_calls.add(peer_urls, is_learner=is_learner)

    async def remove_member(self, member_id: int) -> tuple[Member, ...]:
        """Remove a member (this one too: it hands leadership over first); every member left.
        Raises as ``add_member``."""
        return await self._member_calls.remove(member_id)

    async def promote_member(self, member_id: int) -> tuple[Member, ...]:
        """Make a learner a voter; every member. Raises as ``add_member``."""
        return await self._member_calls.promote(member_id)

    async def update_member(self, member_id: int, peer_urls: tuple[str, ...]) -> None:
        """Give a member new peer URLs (a normal entry, proposed here). Raises as ``add_member``."""
        await self.members.update(member_id, peer_urls)

    async def _answer_lease(self, op: LeaseOp, lease_id: int) -> int | None:
        """This member's answer to a lease call while it keeps the deadlines (it leads), else None.

        A leader elected a moment ago may not have applied a lease granted in an earlier
        term yet: before calling a lease unknown, it waits until its state is current.
        """
        if not self._was_leader:
            return None
        if self.kv.lease(lease_id) is None:
            await self.linearizable_barrier()
            if not self._was_leader:
                return None
        known = self.kv.lease(lease_id) is not None
        now = time.monotonic()
        if op is LeaseOp.TIME_TO_LIVE:
            return max(0, self.lessor.remaining(lease_id, now)) if known else -1
        try:
            return self.lessor.renew(lease_id, now) if known else 0
        except LeaseNotFound:
            return 0  # past its deadline, its revoke not applied yet: etcd answers TTL 0 too

    # -- what other modules read of a running member --------------------------------------
    @property
    def term(self) -> int:
        return self.core.term

    @property
    def leader_id(self) -> int:
        """The member the Raft core believes leads now; 0 when it knows none."""
        return self.core.leader_id

    async def wait_for_leader(self, timeout_s: float | None = None) -> int:
        """The leader's ID once one is known, waiting at most ``timeout_s`` (default: the request timeout).

        Raises:
            NoLeader: none known in time.
        """
        return await self.leadership.wait_for_leader(
            self.config.request_timeout_s if timeout_s is None else timeout_s)

    @property
    def cluster_id(self) -> int:
        """The cluster's ID (a joining member learns it with the leader's snapshot)."""
        return self.members.table.cluster_id

    def member_list(self) -> tuple[Member, ...]:
        """Every member of the cluster as this member's table has them, by ID."""
        return self.members.table.members()

    def member(self, member_id: int) -> Member | None:
        return self.members.table.get(member_id)

    @property
    def is_learner(self) -> bool:
        """Whether this member is a learner (added with ``--learner``, not promoted yet)."""
        me = self.members.table.get(self.config.member_id)
        return me is not None and me.is_learner

    @property
    def removed(self) -> asyncio.Event:
        """Set once this member applied its own removal, or heard of it (``learn_removed``)."""
        return self.members.removed

    def learn_removed(self) -> None:
        """The other members no longer list this one: it was removed while it heard nothing."""
        self.members.removed.set()

    @property
    def published(self) -> asyncio.Event:
        """Set once this member's name and client URLs are applied (etcd serves nothing before)."""
        return self.members.published

    def log_indexes(self) -> LogIndexes:
        raft_log = self.core.log
        return LogIndexes(last=raft_log.last_index, committed=raft_log.committed, applied=raft_log.applied)

    def snapshot_now(self) -> tuple[SnapshotMeta, bytes]:
        """The applied state as a snapshot: its metadata and payload, as a ``.snap`` file holds them.

        Taken in one step of the event loop (the state cannot move meanwhile); the cost is
        one ``KvStore.snapshot()``, about 0.1 s per 100,000 keys.
        """
        applied = self._applied_index
        term = self.core.log.term_at(applied)
        assert term is not None, "the applied entry is in the log or is its snapshot"
        return SnapshotMeta(index=applied, term=term, conf_state=self.core.conf_state), self.kv.snapshot()

    def snapshot_with_members(self) -> tuple[SnapshotMeta, bytes]:
        """``snapshot_now`` with the member table in the payload: what snapshot files hold and
        followers are sent (``_membership.wrap_snapshot``)."""
        meta, data = self.snapshot_now()
        return meta, wrap_snapshot(self.members.table, data)

    # -- the driver loop ----------------------------------------------------------
    async def _drive(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            self._feed()
            while self.core.has_ready():
                await self._handle(self.core.ready())
                self._feed()
            self._follow_leadership()
            await self._maybe_snapshot()

    def _feed(self) -> None:
        """Give the core what arrived: peers' messages and reports, proposals, a read batch."""
        inputs, self._inputs = self._inputs, []
        for item in inputs:
            if isinstance(item, Message):
                self.core.step(item)
            else:
                member, delivered = item
                self.core.report_snapshot(member, delivered=delivered)
                if not delivered:
                    self.core.report_unreachable(member)
        self._propose_pending()
        self.members.feed()
        context = self._reads.take()
        if context is not None:
            try:
                self.core.read_index(context)
            except StoreError as error:
                self._reads.failed(context, error)

    def _receive(self, frame: PeerFrame) -> None:
        if isinstance(frame, Message):
            if frame.frm in self.members.table.removed:
                return  # a removed member is not heard (etcd answers it 410 Gone)
            self.members.heard_from(frame.frm)
            self._inputs.append(frame)
            self._wake.set()
        elif isinstance(frame, LeaseQuery | LeaseAnswer):
            self._lease_calls.receive(frame)
        elif isinstance(frame, MemberQuery | MemberAnswer):
            self._member_calls.receive(frame)

    def _send_frames(self, frames: Iterable[PeerFrame], *, at_once: bool = True) -> None:
        if self.transport is not None:
            self.transport.send(frames, at_once=at_once)

    def _report(self, member: int, delivered: bool) -> None:
        self._inputs.append((member, delivered))
        self._wake.set()

    def _follow_leadership(self) -> None:
        """Keep lease deadlines only while leading: a new leader gives every lease its full TTL.
        Log elections and leader changes (``LeadershipLog``)."""
        self.leadership.observe(self.core.role, self.core.term, self.core.leader_id)
        leading = self.leadership.is_leader
        if leading and not self._was_leader:
            self.lessor.promote(time.monotonic(), {i: self._granted_ttl(i) for i in self.kv.lease_ids()})
        elif not leading and self._was_leader:
            self.lessor.demote()
        self._was_leader = leading

    def _propose_pending(self) -> None:
        pending, self._pending = self._pending, []
        for proposal in pending:
            try:
                self.core.propose(proposal.data)
            except StoreError as error:
                if not proposal.future.done():
                    proposal.future.set_exception(error)
                continue
            self._waiting[proposal.data[:_REQUEST_ID_BYTES]] = proposal
        probes, self._pending_probes = self._pending_probes, []
        for request_id in probes:
            try:
                self.core.propose(request_id)  # a request ID and nothing else: applying it changes nothing
            except StoreError as error:
                probe = self._probes.get(request_id)
                if probe is not None and not probe.done():
                    probe.set_exception(error)

    async def _handle(self, rd: Ready) -> None:
        """One Ready, in the order of rules 6 to 8; nothing else steps the core meanwhile."""
        if rd.snapshot is not None:                                             # 1. persist
            await self._install(rd.snapshot)
        saving = self._start_save(rd)
        early = rd.send_before_persist and saving is not None
        if early:                                                               # 2. send (rule 7)
            assert all(m.commit <= self.core.log.stable_index for m in rd.messages), \
                "a message sent before persisting carries a commit index not durable here"
            self._send_frames(rd.messages)
        applied = self._apply_durable(rd)                                       # 3. apply (rule 8)
        if saving is not None:
            await saving
        if not early:                                                           # 2. send
            self._send_frames(rd.messages, at_once=saving is not None or not rd.committed)
        for entry in rd.committed[applied:]:                                    # 3. apply
            self._apply(entry)
        self.core.advance(rd)                                                   # 4. advance
        if self.members.snapshot_wanted:
            await self._maybe_snapshot(now=True)  # the membership changed: make it durable
        for read in rd.read_states:
            self._reads.confirmed(read.context, read.index)
        self._applied_waiters.reached(self.core.log.applied)

    def _start_save(self, rd: Ready) -> asyncio.Future[None] | None:
        """Hand entries and hard state to the WAL writer; None when nothing needs an fsync (rule 6)."""
        if rd.must_sync:
            return self._writer.start_save(rd.hard_state, rd.entries, sync=True)
        if rd.hard_state is not None:
            self._writer.defer_hard_state(rd.hard_state)
        return None

    def _apply_durable(self, rd: Ready) -> int:
        """Apply the committed entries durable before this Ready (rule 8); how many."""
        first_new = rd.entries[0].index if rd.entries else float("inf")
        for count, entry in enumerate(rd.committed):
            if entry.index >= first_new or entry.type is EntryType.CONF_CHANGE:
                return count
            self._apply(entry)
        return len(rd.committed)

    async def _install(self, snapshot: Snapshot) -> None:
        """A leader's snapshot: save it, mark the log, and become its state."""
        await asyncio.to_thread(self._snapshots.save, snapshot.meta, snapshot.data)
        await self._writer.save(None, (), sync=True, snapshot=snapshot.meta)
        table, data = unwrap_snapshot(snapshot.data)
        self.kv.load(data)
        self.members.restored(table)
        self._snapshot_index = self._applied_index = snapshot.meta.index
        for listener in self._restore_listeners:
            listener()

    def _apply(self, entry: Entry) -> None:
        self._applied_index = entry.index
        if not entry.data:
            return  # the leader's empty entry of its term
        if entry.type is EntryType.CONF_CHANGE:
            self.members.apply_change(entry.data)
            return
        if entry.data.startswith(MemberCommand.MARKER, _REQUEST_ID_BYTES):
            self.members.apply_command(entry.data[:_REQUEST_ID_BYTES], entry.data[_REQUEST_ID_BYTES:])
            return
        if len(entry.data) == _REQUEST_ID_BYTES:  # a progress probe (``confirm_progress``)
            probe = self._probes.get(entry.data)
            if probe is not None and not probe.done():
                probe.set_result(None)
            return
        # The proposal stays in ``_waiting`` until answered: should applying it fail with a bug,
        # the driver dies and ``_task_ended`` answers it with the others.
        request_id = entry.data[:_REQUEST_ID_BYTES]
        proposal = self._waiting.get(request_id)
        request = proposal.request if proposal is not None else decode_request(entry.data[_REQUEST_ID_BYTES:])
        try:
            applied = self.kv.apply(request)
        except StoreError as error:
            self._answer(request_id, error)
            return
        self._after_apply(request, applied)
        self._answer(request_id, applied)

    def _answer(self, request_id: bytes, outcome: Applied | StoreError) -> None:
        """Answer this member's proposal ``request_id``, if it made it and still waits."""
        proposal = self._waiting.pop(request_id, None)
        if proposal is None or proposal.future.done():
            return
        if isinstance(outcome, StoreError):
            proposal.future.set_exception(outcome)
        else:
            proposal.future.set_result(outcome)

    def _after_apply(self, request: Request, applied: Applied) -> None:
        if isinstance(request, LeaseGrantRequest):
            if self._was_leader or self.members.lone_voter:
                self.lessor.grant(request.id, self._granted_ttl(request.id), time.monotonic())
        elif isinstance(request, LeaseRevokeRequest):
            self.lessor.revoke(request.id)
        if applied.events:
            for listener in self._listeners:
                listener(applied.revision, applied.events)

    def _replay_committed(self) -> None:
        """Apply what the log says is committed but the snapshot does not hold (at open)."""
        for entry in self.core.log.to_apply():
            self._apply(entry)
        self.core.log.applied_to(self.core.log.committed)

    def _granted_ttl(self, lease_id: int) -> int:
        info = self.kv.lease(lease_id)
        return info.ttl if info is not None else 0

    async def _maybe_snapshot(self, *, now: bool = False) -> None:
        applied = self.core.log.applied
        if not now and applied - self._snapshot_index < self.config.snapshot_entries:
            return
        self.members.snapshot_wanted = False
        meta, data = self.snapshot_with_members()
        oldest_kept = await asyncio.to_thread(self._snapshots.save, meta, data)
        # The marker tells recovery where the log starts once older segments are gone.
        await self._writer.save(None, (), sync=True, snapshot=meta)
        # Only up to the oldest snapshot file: a broken newer one falls back to it (``_recovery``).
        await self._writer.release_to(oldest_kept)
        self.core.compact(meta)
        self._snapshot_index = applied

    async def _tick_forever(self) -> None:
        while True:
            await asyncio.sleep(self.config.tick_s)
            self.core.tick()
            if self.core.has_ready():
                self._wake.set()

    async def _expire_leases_forever(self) -> None:
        while True:
            now = time.monotonic()
            expired = self.lessor.expired(now, self.config.max_expiries_per_round)
            if expired:
                await asyncio.gather(*(self._revoke_expired(i) for i in expired))
                continue
            deadline = self.lessor.next_deadline()
            delay = 0.5 if deadline is None else min(0.5, max(0.01, deadline - now))
            await asyncio.sleep(delay)

    async def _revoke_expired(self, lease_id: int) -> None:
        # Already revoked by a client, or refused under load: the next round retries.
        with contextlib.suppress(StoreError):
            await self.propose(LeaseRevokeRequest(id=lease_id))
