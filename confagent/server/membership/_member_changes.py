"""Membership changes on one store member: propose them, apply them, keep the transport in step.

``MemberChanges`` belongs to a ``StoreNode`` and works on its Raft core, its
member table (``_membership``) and its peer transport.

Rules:
1. Requests (``add``, ``remove``, ``promote``, ``update``, ``publish``) come
   from any task; what touches the Raft core runs in the node's driver task
   (``feed``), which owns it. Each request waits for its entry to be applied
   (or refused when applied), up to the request timeout.
2. Only the leader proposes a Raft membership change; a follower forwards its
   request to the leader over the peer transport (``peers._member_calls``). Updates
   and publishes are normal entries: any member proposes them, Raft forwards them.
3. Before proposing, the leader makes etcd 3.4's checks: the strict
   reconfiguration check (``ready_to_*``), every voter heard from within
   ``HEALTH_INTERVAL_S`` to add one, a learner within 90% of the leader's log
   to promote it; then the table's own checks (``MemberTable.check_change``,
   ``check_command``), so a change naming no member, ID 0 included, never
   reaches the log. The table's checks are made again when the entry is
   applied, on every member alike: the table may have changed meanwhile.
4. An applied change goes to Raft, then to the table, then to the transport,
   and asks the node for a snapshot (``snapshot_wanted``): the membership in
   force is then always in the newest snapshot (never again in the bootstrap
   flags), and a member joining later gets the whole state as one snapshot.
5. A member that applies its own removal sets ``removed``: the server stops.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable
from dataclasses import replace
from typing import Protocol

from confagent.errors import (
    BadLeaderTransferee,
    ConfigError,
    LeaderTransferTimeout,
    LearnerNotReady,
    MembershipError,
    NotEnoughStartedMembers,
    NotLeader,
    Stopped,
    StoreError,
    Unavailable,
    UnhealthyCluster,
)
from confagent.raft import ConfChange, ConfChangeType, RawNode, Role, SnapshotMeta
from confagent.server.membership._ids import member_id_of
from confagent.server.membership._leadership import Leadership
from confagent.server.membership._membership import (
    DEFAULT_MAX_LEARNERS,
    ChangeContext,
    CommandKind,
    Member,
    MemberCommand,
    MemberTable,
    ready_to_add_voter,
    ready_to_promote,
    ready_to_remove,
)

__all__ = ["HEALTH_INTERVAL_S", "MemberChanges", "PeerDirectory", "start_membership"]

HEALTH_INTERVAL_S = 5.0
"""A voter not heard from for this long counts as down (etcd's ``HealthInterval``)."""
LEARNER_READY_FRACTION = 0.9
"""A learner is promoted only once its log reaches this share of the leader's (etcd's)."""
PUBLISH_RETRY_S = 0.5
"""How long a member waits before publishing again, after a failed attempt or while a joining
member's table does not list it yet (the leader's snapshot brings it)."""

_Op = Callable[[], None]


def start_membership(member_id: int, flag_voters: tuple[int, ...], joining: bool,
                     snapshot: SnapshotMeta | None) -> tuple[tuple[int, ...], tuple[int, ...], bool]:
    """The Raft membership a member starts with: (voters, learners, joining).

    The newest snapshot's when it names one (rule 4: every applied change is in a
    snapshot); else the flags': the bootstrap voters, or, joining, the members given
    (without this one) until the leader's snapshot says more.
    """
    if snapshot is not None and snapshot.conf_state.voters:
        conf = snapshot.conf_state
        member = member_id in conf.voters or member_id in conf.learners
        return conf.voters, conf.learners, not member
    if joining:
        return tuple(v for v in flag_voters if v != member_id), (), True
    return flag_voters, (), False


class PeerDirectory(Protocol):
    """The transport as membership sees it: where each peer is dialed."""

    def add_peer(self, member_id: int, url: str) -> None: ...
    def remove_peer(self, member_id: int) -> None: ...
    def peer_urls(self) -> dict[int, str]: ...
    def set_learners(self, members: Iterable[int]) -> None: ...


class MemberChanges:
    """Proposes and applies membership changes for one node (rules in the module doc)."""

    def __init__(self, member_id: int, table: MemberTable, core: RawNode, wake: Callable[[], None],
                 new_request_id: Callable[[], bytes], *, cluster_token: str,
                 request_timeout_s: float, max_learners: int = DEFAULT_MAX_LEARNERS) -> None:
        self.member_id = member_id
        self.table = table
        self.core = core
        self.transport: PeerDirectory | None = None
        self.removed = asyncio.Event()
        self.published = asyncio.Event()
        self.snapshot_wanted = False
        self._wake = wake
        self._new_request_id = new_request_id
        self._cluster_token = cluster_token
        self._timeout_s = request_timeout_s
        self.max_learners = max_learners
        """Learners this member lets the cluster hold when it adds one (``--max-learners``)."""
        self._ops: list[_Op] = []
        self._waiting: dict[bytes, asyncio.Future[None]] = {}
        self._heard: dict[int, float] = {}
        self._failure: StoreError | None = None
        self.lone_voter = False
        """Whether this member is the only voter (it then needs no quorum to read)."""
        self._refresh()

    @property
    def voter_count(self) -> int:
        """Voters in the Raft membership in force (this member included, if it votes)."""
        return len(self.core.conf_state.voters)

    # -- requests (any task) -----------------------------------------------------------------
    async def add(self, peer_urls: tuple[str, ...], *, is_learner: bool) -> Member:
        """Add a member (this member must lead); the new member as the table has it.

        Raises:
            MembershipError: etcd's refusal; Unavailable: not applied in time.
        """
        member_id = member_id_of(peer_urls, self._cluster_token)
        kind = ConfChangeType.ADD_LEARNER if is_learner else ConfChangeType.ADD_VOTER

        def checks() -> None:
            if not is_learner and not ready_to_add_voter(self.table):
                raise NotEnoughStartedMembers()
            if not self._all_voters_active():
                raise UnhealthyCluster()

        await self._change(kind, member_id, ChangeContext(b"", peer_urls, max_learners=self.max_learners),
                           checks)
        member = self.table.get(member_id)
        assert member is not None, "an applied addition is in the table"
        return member

    async def remove(self, member_id: int) -> None:
        """Remove a member (this member must lead, and not be the one removed)."""

        def checks() -> None:
            member = self.table.get(member_id)
            if member is not None and member.is_learner:
                return
            if not ready_to_remove(self.table, member_id):
                raise NotEnoughStartedMembers()
            if member_id != self.member_id and not self._active(member_id):
                return  # a member that is down is safe to remove
            voters = self.table.voters()
            if sum(self._active(v.id) for v in voters) - 1 < 1 + (len(voters) - 1) // 2:
                raise UnhealthyCluster()

        await self._change(ConfChangeType.REMOVE, member_id, ChangeContext(b""), checks)

    async def promote(self, member_id: int) -> None:
        """Make a learner a voter (this member must lead)."""

        def checks() -> None:
            progress, own = self.core.progress(member_id), self.core.progress(self.member_id)
            if progress is not None and own is not None \
                    and progress.match < own.match * LEARNER_READY_FRACTION:
                raise LearnerNotReady()
            if not ready_to_promote(self.table):
                raise NotEnoughStartedMembers()

        await self._change(ConfChangeType.ADD_VOTER, member_id, ChangeContext(b"", promote=True), checks)

    async def update(self, member_id: int, peer_urls: tuple[str, ...]) -> None:
        """Give a member new peer URLs (a normal entry: any member may propose it)."""
        await self._command(MemberCommand(CommandKind.UPDATE, member_id, peer_urls))

    async def publish_forever(self, name: str, client_urls: tuple[str, ...], leadership: Leadership) -> None:
        """Publish this member's name and client URLs through the log, once a leader is known,
        until it is applied; then set ``published`` (the member is ready). A member without a
        name is ready at once."""
        if not name:
            self.published.set()
            return
        command = MemberCommand(CommandKind.PUBLISH, self.member_id, client_urls, name)
        while not self.published.is_set():
            await leadership.wait_until(lambda known: known.leader_id != 0)
            if self.table.get(self.member_id) is not None:
                try:
                    await self._command(command)
                    self.published.set()
                    return
                except StoreError:
                    pass  # the leader changed, or the entry was lost: publish again
            await asyncio.sleep(PUBLISH_RETRY_S)

    async def move_leader(self, target: int, leadership: Leadership, timeout_s: float) -> None:
        """Hand this leader's leadership to member ``target``; return once it leads (etcd's MoveLeader).

        Raises:
            NotLeader: this member does not lead.
            BadLeaderTransferee: ``target`` is not a member, or is a learner.
            LeaderTransferTimeout: ``target`` did not lead within ``timeout_s``.
        """
        if not leadership.is_leader:
            raise NotLeader()
        member = self.table.get(target)
        if member is None or member.is_learner:
            raise BadLeaderTransferee()

        def transfer() -> None:
            if self.core.role is Role.LEADER and target in self.core.conf_state.voters:
                self.core.transfer_leader(target)

        self._ops.append(transfer)
        self._wake()
        try:
            async with asyncio.timeout(timeout_s):
                await leadership.wait_until(lambda known: known.leader_id == target)
        except TimeoutError:
            raise LeaderTransferTimeout() from None

    def hand_over(self) -> None:
        """Leading and asked to remove itself: hand leadership to the most caught-up voter first."""

        def transfer() -> None:
            voters = [v for v in self.core.conf_state.voters if v != self.member_id]
            if self.core.role is Role.LEADER and voters:
                target = max(voters, key=lambda v: (self._match(v), -v))
                self.core.transfer_leader(target)

        self._ops.append(transfer)
        self._wake()

    # -- the driver task ------------------------------------------------------------------------
    def feed(self) -> None:
        """Run the queued proposals (the node's driver calls this: it owns the core)."""
        ops, self._ops = self._ops, []
        for op in ops:
            op()

    def fail_waiting(self, error: StoreError) -> None:
        """Fail every request waiting for its entry, and every later one: the node cannot
        apply entries any more."""
        self._failure = error
        waiting, self._waiting = self._waiting, {}
        for future in waiting.values():
            _settle(future, error)

    def heard_from(self, member_id: int) -> None:
        self._heard[member_id] = time.monotonic()

    def apply_change(self, data: bytes) -> None:
        """Apply a committed membership change entry (rule 4); its waiting proposer gets the outcome."""
        change = ConfChange.decode(data)
        context = ChangeContext.decode(change.context)
        future = self._waiting.pop(context.request_id, None)
        try:
            self.table.check_change(change.type, change.node_id, context)
            self.core.apply_conf_change(change)
        except (MembershipError, ConfigError) as error:
            _settle(future, error if isinstance(error, MembershipError) else NotEnoughStartedMembers())
            return
        self.table.apply_change(change, context)
        self._refresh()
        self.sync_transport()
        self.snapshot_wanted = True
        if change.type is ConfChangeType.REMOVE and change.node_id == self.member_id:
            self.removed.set()
        _settle(future, None)

    def apply_command(self, request_id: bytes, data: bytes) -> None:
        """Apply a committed member command entry; its waiting proposer gets the outcome."""
        command = MemberCommand.decode(data)
        future = self._waiting.pop(request_id, None)
        try:
            self.table.check_command(command)
        except MembershipError as error:
            _settle(future, error)
            return
        self.table.apply_command(command)
        if command.kind is CommandKind.UPDATE:
            self.sync_transport()
        _settle(future, None)

    def restored(self, table: MemberTable | None) -> None:
        """The node installed a leader's snapshot: its table (when it has one) is now ours."""
        if table is not None:
            self.table = table
        self._refresh()
        self.sync_transport()
        if self.table.get(self.member_id) is None and self.member_id in self.table.removed:
            self.removed.set()

    def sync_transport(self) -> None:
        """Make the transport dial exactly the table's other members, at their first peer URL, and
        know its learners (written after everything else: ``PeerTransport`` rule 2)."""
        transport = self.transport
        if transport is None:
            return
        transport.set_learners(m.id for m in self.table.members() if m.is_learner)
        wanted = {i: url for i, url in self.table.peer_urls().items() if i != self.member_id}
        for member_id, url in transport.peer_urls().items():
            if wanted.get(member_id) != url:
                transport.remove_peer(member_id)
        current = transport.peer_urls()
        for member_id, url in wanted.items():
            if member_id not in current:
                transport.add_peer(member_id, url)

    # -- internals ---------------------------------------------------------------------------------
    async def _change(self, kind: ConfChangeType, member_id: int, context: ChangeContext,
                      checks: Callable[[], None]) -> None:
        def propose(request_id: bytes) -> bool:
            checks()
            self.table.check_change(kind, member_id, context)  # the apply checks again, everywhere
            full_context = replace(context, request_id=request_id)
            change = ConfChange(kind, member_id, full_context.encode())
            try:
                self.core.propose_conf_change(change)
            except ConfigError:
                raise NotEnoughStartedMembers() from None  # it would leave no voter
            except Unavailable as error:
                if "in progress" in str(error):
                    return False  # the previous change is not applied yet: try again
                raise
            return True

        await self._submit(propose)

    async def _command(self, command: MemberCommand) -> None:
        def propose(request_id: bytes) -> bool:
            self.table.check_command(command)  # the apply checks again, everywhere
            self.core.propose(request_id + command.encode())
            return True

        await self._submit(propose)

    async def _submit(self, propose: Callable[[bytes], bool]) -> None:
        """Run ``propose(request_id)`` in the driver until it proposes (True) or raises, then
        wait for the entry carrying ``request_id`` to be applied.

        Raises:
            StoreError: the check or the apply refused it; Unavailable: it took too long.
        """
        if self._failure is not None:
            raise self._failure
        request_id = self._new_request_id()
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()

        def attempt() -> None:
            if future.done():
                return
            try:
                if propose(request_id):
                    self._waiting[request_id] = future
                else:
                    self._ops.append(attempt)
            except StoreError as error:
                future.set_exception(error)
            except Exception:
                future.set_exception(Stopped())  # a bug: the driver ends with it, and the member stops
                raise

        self._ops.append(attempt)
        self._wake()
        try:
            async with asyncio.timeout(self._timeout_s):
                await asyncio.shield(future)
        except TimeoutError:
            self._waiting.pop(request_id, None)
            future.cancel()
            raise Unavailable() from None

    def _refresh(self) -> None:
        self.lone_voter = self.core.conf_state.voters == (self.member_id,)

    def _active(self, member_id: int) -> bool:
        if member_id == self.member_id:
            return True
        heard = self._heard.get(member_id)
        return heard is not None and time.monotonic() - heard < HEALTH_INTERVAL_S

    def _all_voters_active(self) -> bool:
        return all(self._active(v.id) for v in self.table.voters())

    def _match(self, member_id: int) -> int:
        progress = self.core.progress(member_id)
        return progress.match if progress is not None else 0


def _settle(future: asyncio.Future[None] | None, error: StoreError | None) -> None:
    if future is None or future.done():
        return
    if error is None:
        future.set_result(None)
    else:
        future.set_exception(error)
