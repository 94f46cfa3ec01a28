"""This member's proposals: writes and progress probes waiting for the log, answered when their entry applies.

Rules:
1. Every entry this member proposes starts with a request ID (``REQUEST_ID_BYTES``),
   unique across members (their IDs' low 16 bits lead) and restarts (a random
   start): every member applies every entry, and only the proposer claims it.
2. A write waits in ``pending`` until the driver hands it to Raft (``propose_to``),
   then in ``waiting`` until its entry is applied and it is answered (``answer``):
   every write made while an fsync is in flight joins the next batch (the node's
   group commit). The leader keeps the decoded request, so applying its own
   entries needs no decoding (``request_of``). Its outcome goes where the writer
   said (``start_write``): an :class:`~confagent.server.node._answers.Answer`
   is given it in the apply step, a future (``write``) wakes its task later.
3. At most ``max_pending`` writes wait; past that a write is refused with 'too
   many requests'. A write not answered within ``request_timeout_s`` fails with
   'request timed out'; its entry may still commit, and nobody claims it then.
   The driver's tick looks for such writes (``expire``, at most a tick late): one
   queue of deadlines in the writes' order, not a timer each (a timer armed and
   cancelled per write cost 5 us of the loop's 0.3 ms per put).
4. A probe is an entry holding a request ID and nothing else: applying it changes
   nothing, and answers the probe (``probe_applied``).
5. A write made with credentials carries them in its entry (``_auth.with_credentials``);
   an auth command is an entry of its own kind (``write_command``), answered with
   what applying it gave.
"""

from __future__ import annotations

import asyncio
import itertools
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from confagent.auth import AuthInfo
from confagent.errors import ResourceExhausted, StoreError, Unavailable
from confagent.kv import Applied, Request, encode_request
from confagent.raft import RawNode
from confagent.server.node._answers import Outcome
from confagent.server.node._auth import with_credentials
from confagent.server.node._formats import REQUEST_ID_BYTES

__all__ = ["REQUEST_ID_BYTES", "Proposals"]


@dataclass(frozen=True, slots=True)
class _Proposal:
    """A write waiting for the log, with its request decoded (None: an auth command), and where its
    outcome goes."""

    data: bytes
    request: Request | None
    outcome: Outcome


class Proposals:
    """The writes and probes this member proposed that wait for their entry (module doc)."""

    def __init__(self, member_id: int, first_counter: int, wake: Callable[[], None], *,
                 max_pending: int, request_timeout_s: float) -> None:
        self._member_id = member_id
        self._counter = itertools.count(first_counter)
        self._wake = wake
        self._max_pending = max_pending
        self._request_timeout_s = request_timeout_s
        self._pending: list[_Proposal] = []
        self._waiting: dict[bytes, _Proposal] = {}
        self._deadlines: deque[tuple[float, bytes, Outcome]] = deque()
        """Every write not yet seen done or expired by ``expire``, oldest first (rule 3)."""
        self._probes: dict[bytes, asyncio.Future[None]] = {}
        """Probes waiting for their entry, by request ID."""
        self._pending_probes: list[bytes] = []

    def new_request_id(self) -> bytes:
        """A request ID no member has used (rule 1)."""
        counter = next(self._counter) & ((1 << 48) - 1)
        return ((self._member_id & 0xFFFF) << 48 | counter).to_bytes(REQUEST_ID_BYTES, "big")

    def start_write(self, request: Request, credentials: AuthInfo | None, outcome: Outcome) -> None:
        """Propose ``request`` (validated), with ``credentials`` when auth is on (rule 5), at the
        driver's next round; ``outcome`` is given its ``Applied`` once applied, or the
        ``StoreError`` decided at apply time, or 'request timed out' (rule 3).

        Raises:
            ResourceExhausted: 'too many requests' (rule 3).
        """
        command = encode_request(request)
        if credentials is not None:
            command = with_credentials(credentials, command)
        self._propose(command, request, outcome)

    async def write(self, request: Request, credentials: AuthInfo | None = None) -> Applied:
        """``start_write``, awaited: the result once applied. Raises what ``outcome`` would be given."""
        future: asyncio.Future[Applied] = asyncio.get_running_loop().create_future()
        self.start_write(request, credentials, future)
        return await future  # cancelled with this wait; the entry may still commit

    async def write_command(self, payload: bytes) -> Any:
        """Propose an entry ``payload`` of another kind than a store command (an auth command,
        rule 5); what applying it answered. Raises as ``write``."""
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._propose(payload, None, future)
        return await future

    def _propose(self, payload: bytes, request: Request | None, outcome: Outcome) -> None:
        if len(self._pending) + len(self._waiting) >= self._max_pending:
            raise ResourceExhausted()
        request_id = self.new_request_id()
        self._pending.append(_Proposal(request_id + payload, request, outcome))
        deadline = asyncio.get_running_loop().time() + self._request_timeout_s
        self._deadlines.append((deadline, request_id, outcome))
        self._wake()

    def expire(self, now: float) -> None:
        """Fail the writes past their deadline with 'request timed out' (rule 3); forget the done ones."""
        deadlines = self._deadlines
        while deadlines and (deadlines[0][0] <= now or deadlines[0][2].done()):
            _, request_id, outcome = deadlines.popleft()
            if not outcome.done():
                self._waiting.pop(request_id, None)  # it may still commit: the outcome is unknown
                outcome.set_exception(Unavailable())

    async def probe(self, timeout_s: float) -> None:
        """Return once an empty entry proposed now is applied here (rule 4).

        Raises:
            Unavailable: not applied within ``timeout_s``.
        """
        request_id = self.new_request_id()
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._probes[request_id] = future
        self._pending_probes.append(request_id)
        self._wake()
        try:
            async with asyncio.timeout(timeout_s):
                await future
        except TimeoutError:
            raise Unavailable() from None
        finally:
            self._probes.pop(request_id, None)

    def propose_to(self, core: RawNode) -> None:
        """Hand the pending writes and probes to the Raft core (in the driver task); one
        it refuses is answered with the refusal."""
        pending, self._pending = self._pending, []
        for proposal in pending:
            try:
                core.propose(proposal.data)
            except StoreError as error:
                if not proposal.outcome.done():
                    proposal.outcome.set_exception(error)
                continue
            self._waiting[proposal.data[:REQUEST_ID_BYTES]] = proposal
        probes, self._pending_probes = self._pending_probes, []
        for request_id in probes:
            try:
                core.propose(request_id)  # a request ID and nothing else: applying it changes nothing
            except StoreError as error:
                probe = self._probes.get(request_id)
                if probe is not None and not probe.done():
                    probe.set_exception(error)

    def request_of(self, request_id: bytes) -> Request | None:
        """The decoded request of this member's write ``request_id`` waiting for its entry, if any."""
        proposal = self._waiting.get(request_id)
        return proposal.request if proposal is not None else None

    def answer(self, request_id: bytes, outcome: object) -> None:
        """Answer this member's write ``request_id``, if it made it and still waits."""
        proposal = self._waiting.pop(request_id, None)
        if proposal is None or proposal.outcome.done():
            return
        if isinstance(outcome, StoreError):
            proposal.outcome.set_exception(outcome)
        else:
            proposal.outcome.set_result(outcome)

    def probe_applied(self, request_id: bytes) -> None:
        probe = self._probes.get(request_id)
        if probe is not None and not probe.done():
            probe.set_result(None)

    def fail_all(self, error: BaseException) -> None:
        """Fail every write and probe waiting with ``error`` (the member failed)."""
        for proposal in [*self._pending, *self._waiting.values()]:
            if not proposal.outcome.done():
                proposal.outcome.set_exception(error)
        for probe in self._probes.values():
            if not probe.done():
                probe.set_exception(error)

    def cancel_writes(self) -> None:
        """Cancel every write waiting (the member stops; a probe ends with its own timeout)."""
        for proposal in [*self._pending, *self._waiting.values()]:
            proposal.outcome.cancel()
