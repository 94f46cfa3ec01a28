"""Lease calls on any member: a follower forwards keep-alive and time-to-live to the leader.

Lease deadlines live on the leader only (``Lessor``), so, as etcd forwards
LeaseRenew and LeaseTimeToLive from a follower to its leader, a member that
does not lead sends the call over the peer transport as a ``LeaseQuery`` and
waits for the matching ``LeaseAnswer``.

Rules:
1. A call is first offered to this member's own ``answer_locally``, which
   answers when this member keeps the deadlines (it leads) and returns None
   otherwise.
2. Otherwise the call goes to the member this one believes leads, with a fresh
   request ID; the answer carrying that ID resolves it. One attempt waits at
   most ``attempt_timeout_s``; an unanswered attempt, or a ``retry`` answer (the
   asked member does not lead), is tried again after ``retry_pause_s`` with the
   leader of that moment, locally first.
3. The whole call is bounded by ``request_timeout_s``; past it the call fails
   with etcd's "etcdserver: no leader" when no leader is known then, and
   "etcdserver: request timed out" otherwise.
4. Queries from followers are answered by at most ``max_answering`` tasks at a
   time; past that a query is answered ``retry``. A query that cannot be
   answered (not leading, a read barrier timed out) is answered ``retry`` too.
5. At most ``max_calls`` calls are under way at once; past that a call fails
   with 'too many requests'. Answers nobody waits for (late ones) are dropped.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass

from confagent.errors import NoLeader, ResourceExhausted, StoreError, Unavailable
from confagent.server._peer_codec import LeaseAnswer, LeaseOp, LeaseQuery, PeerFrame
from confagent.tasks import cancel_and_wait

__all__ = ["ForwardConfig", "LeaseForwarder", "LocalAnswer"]

LocalAnswer = Callable[[LeaseOp, int], Awaitable[int | None]]
"""``answer_locally(op, lease_id)``: this member's answer when it leads, else None (rule 1).
May raise ``StoreError`` (a read barrier that timed out)."""
SendFrames = Callable[[Iterable[PeerFrame]], None]
LeaderOf = Callable[[], int]
"""The member this member believes leads; 0 when it knows none."""


@dataclass(frozen=True, slots=True)
class ForwardConfig:
    """Bounds of forwarded lease calls (rules 2-5)."""

    request_timeout_s: float = 7.0
    attempt_timeout_s: float = 1.0
    retry_pause_s: float = 0.05
    max_calls: int = 10_000
    max_answering: int = 1024


class LeaseForwarder:
    """Both ends of forwarded lease calls: the asking follower's and the answering leader's."""

    def __init__(self, member_id: int, send: SendFrames, leader_of: LeaderOf,
                 answer_locally: LocalAnswer, config: ForwardConfig | None = None,
                 first_request_id: int = 1) -> None:
        self.member_id = member_id
        self._send = send
        self._leader_of = leader_of
        self._answer_locally = answer_locally
        self._config = config or ForwardConfig()
        self._request_ids = itertools.count(first_request_id)
        self._waiting: dict[int, asyncio.Future[LeaseAnswer]] = {}
        self._calls = 0
        self._answering: set[asyncio.Task[None]] = set()

    async def call(self, op: LeaseOp, lease_id: int) -> int:
        """The leader's answer to ``op`` on ``lease_id`` (see ``LeaseOp``), wherever it leads.

        Raises:
            NoLeader: no leader was known when the request timeout passed.
            Unavailable: the leader did not answer within the request timeout.
            ResourceExhausted: too many calls are under way already.
            StoreError: this member's own answer failed (it leads).
        """
        if self._calls >= self._config.max_calls:
            raise ResourceExhausted()
        self._calls += 1
        try:
            async with asyncio.timeout(self._config.request_timeout_s):
                return await self._call_until_answered(op, lease_id)
        except TimeoutError:
            raise (NoLeader() if self._leader_of() == 0 else Unavailable()) from None
        finally:
            self._calls -= 1

    async def _call_until_answered(self, op: LeaseOp, lease_id: int) -> int:
        while True:
            answer = await self._answer_locally(op, lease_id)
            if answer is not None:
                return answer
            leader = self._leader_of()
            if leader not in (0, self.member_id):
                answer = await self._ask(leader, op, lease_id)
                if answer is not None:
                    return answer
            await asyncio.sleep(self._config.retry_pause_s)

    async def _ask(self, leader: int, op: LeaseOp, lease_id: int) -> int | None:
        """One attempt: the leader's answer, or None to try again."""
        request_id = next(self._request_ids)
        future: asyncio.Future[LeaseAnswer] = asyncio.get_running_loop().create_future()
        self._waiting[request_id] = future
        try:
            self._send((LeaseQuery(leader, self.member_id, request_id, op, lease_id),))
            async with asyncio.timeout(self._config.attempt_timeout_s):  # not wait_for: confagent.tasks
                answer = await future
        except TimeoutError:
            return None
        finally:
            self._waiting.pop(request_id, None)
        return None if answer.retry else answer.ttl

    def receive(self, frame: LeaseQuery | LeaseAnswer) -> None:
        """A lease frame from a peer: resolve the waiting call, or answer the query (rule 4)."""
        if isinstance(frame, LeaseAnswer):
            future = self._waiting.get(frame.request_id)
            if future is not None and not future.done():
                future.set_result(frame)
        elif len(self._answering) >= self._config.max_answering:
            self._send((self._answer_to(frame, None),))
        else:
            task = asyncio.create_task(self._answer(frame), name=f"lease query from {frame.frm:x}")
            self._answering.add(task)
            task.add_done_callback(self._answering.discard)

    async def _answer(self, query: LeaseQuery) -> None:
        try:
            ttl = await self._answer_locally(query.op, query.lease_id)
        except StoreError:
            ttl = None  # the asker tries again, within its own deadline
        self._send((self._answer_to(query, ttl),))

    def _answer_to(self, query: LeaseQuery, ttl: int | None) -> LeaseAnswer:
        return LeaseAnswer(query.frm, self.member_id, query.request_id, ttl or 0, retry=ttl is None)

    async def close(self) -> list[str]:
        """Stop answering; calls still waiting for an answer are cancelled. The answering
        tasks that did not end within ``TASK_STOP_S`` (``cancel_and_wait``), by name."""
        for future in self._waiting.values():
            future.cancel()
        return await cancel_and_wait(list(self._answering))
