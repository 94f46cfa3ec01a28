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
   (``peers._lease_forward``); a new leader gives every lease its full TTL
   (``_leases``).
5. Membership is replicated state too (``membership._member_changes``): membership
   changes and members' published attributes are log entries, the member table
   travels in snapshots with the key-value state, and a membership change applied
   is followed at once by a snapshot. Followers forward add, remove and promote to
   the leader (``peers._member_calls``), over the peer transport as lease calls.

The driver (``_drive``) is one task: it persists, sends and applies a Ready, advances,
and only then steps what arrived meanwhile (``_inputs``, the writes waiting in
``_proposals``; ticks only queue).

6. Only what needs an fsync goes to the WAL writer and is waited for: entries, a
   snapshot, a new term or vote. A hard state that moves only the commit index is
   written with the next save (the commit index is recovered from log and leader).
7. Followers and candidates send after the save (their answers vouch for their disk). A
   leader sends before it saves, so that its followers save in parallel
   (``Ready.send_before_persist``; Raft thesis §10.2.1, as etcd does; an idle writer
   saves on this loop): its messages promise nothing about its disk, and the commit
   index they carry counts only entries durable here. With peers its own append never
   advances it (``Raft.append_entries``); acknowledgements do, stepped only after this
   save and answering appends of earlier, saved Readys. A leader killed mid-save may
   lose those entries, none of them committed (asserted on sending).
8. Committed entries durable here before the Ready (those before its first new entry)
   are applied while the save runs, up to the first membership change; the rest after.
   A learner, sent committed entries only (``raft._leader`` rule 5: durable on a quorum of
   voters), applies them all so, its save on the WAL writer's thread (``behind``): its agent
   renders meanwhile, as etcd applies while it saves. After a crash its log may lack entries
   it applied: it is sent them again, and an agent's first view waits (``_embedded`` rule 2).
   A Ready that saves nothing but applies entries has its messages (commit news) written
   after the replies it made possible (``PeerTransport.send`` without ``at_once``).
9. A member stopping healthy (no failure, not removed) takes a last snapshot once its
   tasks have ended (``Snapshotter.take_at_stop``, its rule 5).
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass

import structlog

from confagent import auth
from confagent.errors import MemberRemoved, Stopped, StoreError
from confagent.kv import (
    Applied,
    KvStore,
    RangeRequest,
    RangeResponse,
    Request,
    WatchHub,
    validate,
)
from confagent.raft import Entry, EntryType, Message, RaftConfig, RawNode, Ready, Snapshot, SnapshotMeta
from confagent.server.membership import (
    Leadership,
    Member,
    MemberChanges,
    MemberTable,
    start_membership,
)
from confagent.server.node._answers import Outcome
from confagent.server.node._applier import Applier, ApplyListener
from confagent.server.node._auth import MemberAuth, auth_command
from confagent.server.node._config import NodeConfig
from confagent.server.node._heap import HeapFreezer
from confagent.server.node._leases import Leases
from confagent.server.node._member_snapshots import MemberSnapshots
from confagent.server.node._payload import Payload
from confagent.server.node._proposals import Proposals
from confagent.server.node._read_barrier import LinearizableReads
from confagent.server.node._watches import WatchRegistry
from confagent.server.peers import (
    LeaseAnswer,
    LeaseQuery,
    MemberAnswer,
    MemberCalls,
    MemberQuery,
    PeerFrame,
    PeerTransport,
    TransportConfig,
)
from confagent.server.storage import RecoveryReport, SnapshotFiles, WalWriter, open_storage
from confagent.tasks import cancel_and_wait

__all__ = ["ApplyListener", "LogIndexes", "StoreNode"]

log = structlog.get_logger("confagent.store")


@dataclass(frozen=True, slots=True)
class LogIndexes:
    """Where this member's Raft log stands, for status and metrics."""

    last: int
    """The last entry in the log (etcd's ``raftIndex``)."""
    committed: int
    applied: int


class StoreNode:
    """A store member: the Raft driver loop plus the state it applies to."""

    def __init__(self, config: NodeConfig, core: RawNode, kv: KvStore, writer: WalWriter,
                 snapshots: SnapshotFiles, rng: random.Random, table: MemberTable | None = None,
                 auth_state: auth.AuthState | None = None) -> None:
        self.config = config
        self.core = core
        self.kv = kv
        self.auth = MemberAuth(auth_state, tokens=config.auth_tokens)
        """Users, roles and tokens as applied here (``_auth``)."""
        self._writer = writer
        self._wake = asyncio.Event()
        self._heap = HeapFreezer()
        self._proposals = Proposals(config.member_id, rng.getrandbits(40), self._wake.set,
                                    max_pending=config.max_pending_proposals,
                                    request_timeout_s=config.request_timeout_s)
        self._applied_index = core.log.offset
        """The last entry applied to ``kv`` (ahead of ``core.log.applied`` until ``advance``)."""
        self.watches = WatchRegistry(WatchHub(kv))
        """The one watch fan-out of this member: the gateway's streams and in-process watches."""
        self._listeners: list[ApplyListener] = [self.watches.on_applied]
        self.auth.on_change(self.watches.wake_all)
        self._restore_listeners: list[Callable[[], None]] = []
        self._tasks: list[asyncio.Task[None]] = []
        self._stopped = False
        self.failure: BaseException | None = None
        """What ended a task owning this member's state (``_task_ended``); the member then
        answers nothing more and ``failed`` is set."""
        self.failed = asyncio.Event()
        self._inputs: list[Message | tuple[int, bool]] = []
        self._reads = LinearizableReads(self._wake.set, config.request_timeout_s)
        self.leadership = Leadership(config.member_id, log)
        """Who leads as the driver last saw it, with waits on its changes (``membership._leadership``)."""
        self.recovery = RecoveryReport()
        """What opening the data directory repaired or passed over (set by ``open``; the server logs it)."""
        self.members = MemberChanges(
            config.member_id, table or MemberTable(config.cluster_id, config.initial_members), core,
            self._wake.set, self._proposals.new_request_id, cluster_token=config.cluster_token,
            request_timeout_s=config.request_timeout_s, max_learners=config.max_learners)
        self.transport: PeerTransport | None = None
        if config.listen_peer_url:
            self.transport = PeerTransport(config.member_id, config.listen_peer_url,
                                           self.members.table.peer_urls(), self._receive, self._report,
                                           TransportConfig(tls=config.peer_tls), rng=rng)
        self.members.transport = self.transport
        self.leases = Leases(config.member_id, kv, self.leadership, self._send_frames, propose=self.propose,
                             barrier=self.linearizable_barrier, rng=rng,
                             request_timeout_s=config.request_timeout_s,
                             max_expiries_per_round=config.max_expiries_per_round)
        """Lease deadlines while this member leads, and lease calls (``_leases``)."""
        self.member_calls = MemberCalls(self.members, self.leadership, self._send_frames,
                                        request_timeout_s=config.request_timeout_s,
                                        first_request_id=rng.getrandbits(32))
        """Add, remove and promote, through the leader wherever it is (``peers._member_calls``)."""
        self._applier = Applier(kv, self.auth, self.members, self._proposals, self.leases, self._listeners)
        self._snapshots = MemberSnapshots(snapshots, writer, core, kv, self.auth, self.members,
                                          lambda: self._applied_index, every_entries=config.snapshot_entries,
                                          wake=self._wake.set)
        self.catch_up = self._snapshots.catch_up
        """The snapshot the leader sends followers behind its compacted log (``peers._catch_up``)."""

    # -- life cycle ---------------------------------------------------------------
    @classmethod
    async def open(cls, config: NodeConfig, rng: random.Random | None = None) -> StoreNode:
        """Recover from the data directory (snapshot, then the log after it) and elect this member."""
        rng = rng or random.Random()
        snapshots = SnapshotFiles(config.data_dir / "member" / "snap")
        storage = await asyncio.to_thread(open_storage, config.data_dir, snapshots, config.wal_segment_bytes)
        state, snapshot_meta = storage.state, storage.state.snapshot
        kv, table, auth_state = KvStore(min_lease_ttl=config.min_lease_ttl), None, None
        if storage.snapshot_data is not None:
            payload = Payload.read(storage.snapshot_data)
            table, auth_state = payload.table, payload.auth_state
            kv = KvStore.restore(payload.kv_data, min_lease_ttl=config.min_lease_ttl)
        voters, learners, joining = start_membership(config.member_id, config.voters, config.joining,
                                                     snapshot_meta)
        raft_config = RaftConfig(node_id=config.member_id, voters=voters, learners=learners,
                                 joining=joining, election_ticks=config.election_ticks)

        def snapshot_source() -> Snapshot | None:
            return node.catch_up.source()

        core = RawNode(raft_config, state.hard_state, snapshot_meta, state.entries, rng,
                       snapshot_source=snapshot_source)
        node = cls(config, core, kv, WalWriter(storage.wal), snapshots, rng, table, auth_state)
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
        self._heap.install()
        self._wake.set()
        self._tasks = [
            asyncio.create_task(self._drive(), name="raft-driver"),
            asyncio.create_task(self._tick_forever(), name="raft-ticker"),
            asyncio.create_task(self.leases.expire_forever(), name="lease-expiry"),
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
        self._proposals.fail_all(stopped)
        self._reads.cancel_all(stopped)
        self.members.fail_waiting(stopped)

    async def stop(self) -> None:
        """Stop the tasks; waiting proposals fail with 'stopped'; the log is closed.

        Each group of tasks gets ``TASK_STOP_S`` once cancelled (``confagent.tasks``); one
        that does not end is abandoned, logged, so a stop never waits forever.
        """
        self._stopped = True
        self._heap.uninstall()
        stuck = await cancel_and_wait(self._tasks)
        if self.failure is None and not self.members.removed.is_set():  # rule 9
            await self._snapshots.take_at_stop()
        stuck += await self._snapshots.close()
        self._proposals.cancel_writes()
        self._reads.cancel_all()
        stuck += await self.leases.close() + await self.member_calls.close()
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
    async def propose(self, request: Request, credentials: auth.AuthInfo | None = None) -> Applied:
        """Validate, replicate and apply a write; the result once it is durable and applied.
        With ``credentials`` (auth is on) it is checked as it applies (``_auth`` rule 2).

        Raises:
            StoreError: a validation error (nothing proposed), a state error decided
                at apply time (nothing changed), or 'too many requests'.
        """
        validate(request)
        self._check_running()
        return await self._proposals.write(request, credentials)

    def start_proposal(self, request: Request, credentials: auth.AuthInfo | None, outcome: Outcome) -> None:
        """``propose`` without the wait: ``outcome`` is given the ``Applied`` (or the error decided
        at apply time, or 'request timed out') in the step that applies the entry (``_answers``).

        Raises:
            StoreError: a validation error or 'too many requests' (nothing proposed).
        """
        validate(request)
        self._check_running()
        self._proposals.start_write(request, credentials, outcome)

    async def propose_auth(self, command: auth.Command, credentials: auth.AuthInfo | None) -> str | None:
        """Replicate and apply an auth command (``_auth`` rule 1); ``Authenticate``'s token.

        Raises:
            StoreError: etcd's refusal, decided as it applies (nothing changed), or as ``propose``.
        """
        self._check_running()
        token: str | None = await self._proposals.write_command(auth_command(credentials, command))
        return token

    def token_wait(self, token: str) -> Awaitable[None] | None:
        """What a call carrying ``token`` awaits before this member can tell who it is: the entry a
        simple token names applied here (etcd's simple tokens wait so; here for at most
        ``request_timeout_s``, then the token is unknown), or None when nothing is to wait for."""
        index = self.auth.tokens.awaited_index(token)
        return None if index is None or index <= self.core.log.applied else self._until_applied(index)

    async def _until_applied(self, index: int) -> None:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(self.config.request_timeout_s):
                await self._reads.applied.wait(index, self.core.log.applied)

    async def confirm_progress(self, timeout_s: float) -> None:
        """Return once an empty entry proposed now has been committed and applied here: this
        member can make progress (etcd's ``/health`` makes such a round, a quorum get).

        Raises:
            Unavailable: no progress within ``timeout_s``; Stopped: the member failed.
        """
        self._check_running()
        await self._proposals.probe(timeout_s)

    def _check_running(self) -> None:
        if self.failure is not None:
            raise Stopped()

    async def range(self, request: RangeRequest) -> RangeResponse:
        """A read of the applied state; unless ``serializable``, only after a ReadIndex round
        confirms this member has applied everything committed when the read arrived. With auth
        on, the calling task's user must be allowed it by the roles applied then (etcd checks a
        read after its ReadIndex round, so a lagging follower does not judge by older roles).

        Raises:
            StoreError: a bad request, 'request timed out', or the caller's refusal (``_auth``).
        """
        validate(request)
        if not request.serializable:
            await self.linearizable_barrier()
        self.auth.check_read(request)
        return self.kv.range(request)

    async def linearizable_barrier(self) -> None:
        """Return once a read of the local state is linearizable.

        A lone voter answers every acknowledged write after applying it, so its
        state is always current; with peers, concurrent reads share one ReadIndex.

        Raises:
            Unavailable: no leader confirmed the read within the request timeout.
        """
        self._check_running()
        if not self.members.lone_voter:
            await self._reads.wait(lambda: self.core.log.applied)

    def new_lease_id(self) -> int:
        """A fresh, positive int64 lease ID not in use (the leader picks it before proposing)."""
        return self.leases.new_lease_id()

    async def keep_alive(self, lease_id: int) -> int:
        """Renew a lease, on the leader wherever it is; its granted TTL, or 0 when the lease
        is unknown or already expired (etcd's answers).

        Raises:
            Unavailable: no leader (``NoLeader``), or it did not answer, within the request timeout.
        """
        return await self.leases.keep_alive(lease_id)

    async def time_to_live(self, lease_id: int) -> int:
        """Whole seconds left on a lease, as the leader counts them; -1 when unknown.

        When it returns a lease as known, this member's state holds that lease too
        (its granted TTL and keys), unless a revoke was applied since.

        Raises:
            Unavailable: as ``keep_alive``.
        """
        return await self.leases.time_to_live(lease_id)

    # -- membership: ``member_calls`` (add, remove, promote through the leader), ``members`` ------
    async def move_leader(self, target: int) -> None:
        """Hand leadership (held here) to ``target``, within the request timeout (``MemberChanges``)."""
        await self.members.move_leader(target, self.leadership, self.config.request_timeout_s)

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
        """The applied state as a snapshot, its metadata and payload (``MemberSnapshots.now``)."""
        return self._snapshots.now()

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
            await self._snapshots.maybe_take()

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
        self._proposals.propose_to(self.core)
        self.members.feed()
        context = self._reads.batches.take()
        if context is not None:
            try:
                self.core.read_index(context)
            except StoreError as error:
                self._reads.batches.failed(context, error)

    def _receive(self, frame: PeerFrame) -> None:
        if isinstance(frame, Message):
            if frame.frm in self.members.table.removed:
                return  # a removed member is not heard (etcd answers it 410 Gone)
            self.members.heard_from(frame.frm)
            self._inputs.append(frame)
            self._wake.set()
        elif isinstance(frame, LeaseQuery | LeaseAnswer):
            self.leases.receive(frame)
        elif isinstance(frame, MemberQuery | MemberAnswer):
            self.member_calls.receive(frame)

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
        self.leases.follow(self.leadership.is_leader)

    async def _handle(self, rd: Ready) -> None:
        """One Ready, in the order of rules 6 to 8; nothing else steps the core meanwhile."""
        if rd.snapshot is not None:                                             # 1. persist
            await self._install(rd.snapshot)
        early = rd.send_before_persist and rd.must_sync
        if early:                                                               # 2. send (rule 7)
            assert all(m.commit <= self.core.log.stable_index for m in rd.messages), \
                "a message sent before persisting carries a commit index not durable here"
            self._send_frames(rd.messages)
        saving = self._start_save(rd, behind=self.is_learner)
        applied = self._apply_before_saved(rd, self.is_learner)                 # 3. apply (rule 8)
        if saving is not None:
            await saving
        if not early:                                                           # 2. send
            self._send_frames(rd.messages, at_once=saving is not None or not rd.committed)
        for entry in rd.committed[applied:]:                                    # 3. apply
            self._apply(entry)
        self.core.advance(rd)                                                   # 4. advance
        if self.members.snapshot_wanted:
            await self._snapshots.maybe_take(now=True)  # the membership changed: make it durable
        for read in rd.read_states:
            self._reads.batches.confirmed(read.context, read.index)
        self._reads.applied.reached(self.core.log.applied)

    def _start_save(self, rd: Ready, *, behind: bool) -> asyncio.Future[None] | None:
        """Hand entries and hard state to the WAL writer (rule 8); None if nothing needs an fsync (rule 6)."""
        if rd.must_sync:
            return self._writer.start_save(rd.hard_state, rd.entries, sync=True, behind=behind)
        if rd.hard_state is not None:
            self._writer.defer_hard_state(rd.hard_state)
        return None

    def _apply_before_saved(self, rd: Ready, learner: bool) -> int:
        """Apply the committed entries durable before this Ready, or a learner's all (rule 8); how many."""
        first_new = rd.entries[0].index if rd.entries and not learner else float("inf")
        for count, entry in enumerate(rd.committed):
            if entry.index >= first_new or entry.type is EntryType.CONF_CHANGE:
                return count
            self._apply(entry)
        return len(rd.committed)

    async def _install(self, snapshot: Snapshot) -> None:
        """A leader's snapshot: save it, mark the log, and become its state."""
        await self._snapshots.install(snapshot)
        self._applied_index = snapshot.meta.index
        for listener in self._restore_listeners:
            listener()

    def _apply(self, entry: Entry) -> None:
        self._applied_index = entry.index
        self._applier.apply(entry)

    def _replay_committed(self) -> None:
        """Apply what the log says is committed but the snapshot does not hold (at open)."""
        for entry in self.core.log.to_apply():
            self._apply(entry)
        self.core.log.applied_to(self.core.log.committed)

    async def _tick_forever(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(self.config.tick_s)
            self._proposals.expire(loop.time())
            self.core.tick()
            if self.core.has_ready():
                self._wake.set()
