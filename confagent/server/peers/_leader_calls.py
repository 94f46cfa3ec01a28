"""Calls only the leader answers, made on any member: a follower forwards them over the peer transport.

Lease deadlines live on the leader only, and only the leader proposes a Raft
membership change; so, as etcd forwards LeaseRenew, LeaseTimeToLive and member
changes from a follower to its leader, a member that does not lead sends the
call over the peer transport as a query frame and waits for the answer frame
carrying the query's request ID. ``LeaderCalls`` is both ends of one kind of
call; a ``CallKind`` says how its calls and outcomes travel in frames (the
lease calls of ``_lease_forward``, the member changes of ``_member_calls``).

Rules:
1. A call is first offered to this member's own ``answer_locally``, which
   answers when this member leads and returns None otherwise.
2. Otherwise the call goes to the member this one believes leads, with a fresh
   request ID. One attempt waits at most ``attempt_timeout_s``; an unanswered
   attempt, or a ``retry`` answer (the asked member does not lead, or cannot
   answer yet), is tried again after ``retry_pause_s``, or as soon as the
   leadership changes, locally first. While no leader other than this member
   is known, the call waits for the leadership to change. A kind whose calls
   must not be asked twice (a membership change: the first may have been
   applied) makes its attempt last the whole call.
3. The whole call is bounded by ``request_timeout_s``; past it the call fails
   with etcd's "etcdserver: no leader" when no leader is known then, and
   "etcdserver: request timed out" otherwise.
4. Queries from followers are answered by at most ``max_answering`` tasks at a
   time; past that a query is answered ``retry``. A query this member cannot
   answer (it does not lead) is answered ``retry``. One whose answer failed
   with a ``StoreError`` is answered with that error where the kind carries
   errors (``CallKind.carries_errors``: the asker then raises the error the
   leader gave), else ``retry`` (a lease's read barrier that timed out).
5. At most ``max_calls`` calls are under way at once; past that a call fails
   with 'too many requests'. Answers nobody waits for (late ones) are dropped.
"""

from __future__ import annotations

import asyncio
import itertools
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Generic, TypeVar

from confagent.errors import NoLeader, ResourceExhausted, StoreError, Unavailable
from confagent.server.peers._peer_codec import CallFrame, PeerFrame
from confagent.tasks import cancel_and_wait

__all__ = ["CallKind", "ForwardConfig", "LeaderCalls", "LeaderChanged", "LeaderOf", "SendFrames"]

CallT = TypeVar("CallT")
ResultT = TypeVar("ResultT")
QueryT = TypeVar("QueryT", bound=CallFrame)
AnswerT = TypeVar("AnswerT", bound=CallFrame)

SendFrames = Callable[[Iterable[PeerFrame]], None]
LeaderOf = Callable[[], int]
"""The member this member believes leads; 0 when it knows none."""
LeaderChanged = Callable[[], Awaitable[None]]
"""Returns at the next change of the leadership (``Leadership.changed``)."""


@dataclass(frozen=True, slots=True)
class ForwardConfig:
    """Bounds of forwarded calls (rules 2-5)."""

    request_timeout_s: float = 7.0
    attempt_timeout_s: float = 1.0
    retry_pause_s: float = 0.05
    max_calls: int = 10_000
    max_answering: int = 1024


class CallKind(ABC, Generic[CallT, ResultT, QueryT, AnswerT]):
    """How one kind of call travels: its query and answer frames."""

    carries_errors = False
    """Whether the leader's ``StoreError`` goes back to the asker (rule 4), or a ``retry``."""

    @abstractmethod
    def query(self, to: int, frm: int, request_id: int, call: CallT) -> QueryT: ...

    @abstractmethod
    def call_of(self, query: QueryT) -> CallT: ...

    @abstractmethod
    def answer(self, query: QueryT, frm: int, outcome: ResultT | StoreError | None) -> AnswerT:
        """The answer to ``query``; ``outcome`` None means ``retry``."""

    @abstractmethod
    def outcome(self, answer: AnswerT) -> ResultT | StoreError | None:
        """What ``answer`` carries; None for ``retry``."""


class LeaderCalls(Generic[CallT, ResultT, QueryT, AnswerT]):
    """Both ends of one kind of forwarded call: the asking follower's and the answering leader's."""

    def __init__(self, kind: CallKind[CallT, ResultT, QueryT, AnswerT], member_id: int, send: SendFrames,
                 leader_of: LeaderOf, answer_locally: Callable[[CallT], Awaitable[ResultT | None]],
                 config: ForwardConfig | None = None, *, first_request_id: int = 1,
                 leader_changed: LeaderChanged | None = None) -> None:
        """``leader_changed`` wakes a call waiting for another leader (rule 2); without it, a call
        looks again after ``retry_pause_s`` (a leadership that cannot say when it changes)."""
        self.member_id = member_id
        self._kind = kind
        self._send = send
        self._leader_of = leader_of
        self._leader_changed = leader_changed
        self._answer_locally = answer_locally
        self._config = config or ForwardConfig()
        self._request_ids = itertools.count(first_request_id)
        self._waiting: dict[int, asyncio.Future[AnswerT]] = {}
        self._calls = 0
        self._answering: set[asyncio.Task[None]] = set()

    async def call(self, call: CallT) -> ResultT:
        """The leader's answer to ``call``, wherever it leads.

        Raises:
            NoLeader: no leader was known when the request timeout passed.
            Unavailable: the leader did not answer within the request timeout.
            ResourceExhausted: too many calls are under way already.
            StoreError: the leader's own answer failed (this member's, when it leads).
        """
        if self._calls >= self._config.max_calls:
            raise ResourceExhausted()
        self._calls += 1
        try:
            async with asyncio.timeout(self._config.request_timeout_s):
                return await self._call_until_answered(call)
        except TimeoutError:
            raise (NoLeader() if self._leader_of() == 0 else Unavailable()) from None
        finally:
            self._calls -= 1

    async def _call_until_answered(self, call: CallT) -> ResultT:
        while True:
            result = await self._answer_locally(call)
            if result is not None:
                return result
            leader = self._leader_of()
            if leader in (0, self.member_id):
                await self._leadership_moved(leader, at_most_s=None)
                continue
            result = await self._ask(leader, call)
            if result is not None:
                return result
            await self._leadership_moved(leader, at_most_s=self._config.retry_pause_s)

    async def _leadership_moved(self, leader: int, *, at_most_s: float | None) -> None:
        """Return once the leader is no longer ``leader``, or after ``at_most_s`` (rule 2)."""
        if self._leader_changed is None:
            await asyncio.sleep(self._config.retry_pause_s)
            return
        try:
            async with asyncio.timeout(at_most_s):
                while self._leader_of() == leader:
                    await self._leader_changed()
        except TimeoutError:
            pass

    async def _ask(self, leader: int, call: CallT) -> ResultT | None:
        """One attempt: the leader's result, or None to try again.

        Raises:
            StoreError: the leader's answer was that error.
        """
        request_id = next(self._request_ids)
        future: asyncio.Future[AnswerT] = asyncio.get_running_loop().create_future()
        self._waiting[request_id] = future
        try:
            self._send((self._kind.query(leader, self.member_id, request_id, call),))
            async with asyncio.timeout(self._config.attempt_timeout_s):  # not wait_for: confagent.tasks
                answer = await future
        except TimeoutError:
            return None
        finally:
            self._waiting.pop(request_id, None)
        outcome = self._kind.outcome(answer)
        if isinstance(outcome, StoreError):
            raise outcome
        return outcome

    def receive_answer(self, answer: AnswerT) -> None:
        """A peer's answer: it resolves the call waiting for it, if one still does."""
        future = self._waiting.get(answer.request_id)
        if future is not None and not future.done():
            future.set_result(answer)

    def receive_query(self, query: QueryT) -> None:
        """A peer's query: answer it, or tell it to retry when too many are being answered (rule 4)."""
        if len(self._answering) >= self._config.max_answering:
            self._send((self._kind.answer(query, self.member_id, None),))
        else:
            task = asyncio.create_task(self._answer(query), name=f"query from {query.frm:x}")
            self._answering.add(task)
            task.add_done_callback(self._answering.discard)

    async def _answer(self, query: QueryT) -> None:
        outcome: ResultT | StoreError | None
        try:
            outcome = await self._answer_locally(self._kind.call_of(query))
        except StoreError as error:
            outcome = error if self._kind.carries_errors else None  # else the asker tries again
        self._send((self._kind.answer(query, self.member_id, outcome),))

    async def close(self) -> list[str]:
        """Stop answering; calls still waiting for an answer are cancelled. The answering
        tasks that did not end within ``TASK_STOP_S`` (``cancel_and_wait``), by name."""
        for future in self._waiting.values():
            future.cancel()
        return await cancel_and_wait(list(self._answering))
