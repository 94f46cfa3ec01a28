"""ReadBarrier's contexts: unique across members, so the leader never confuses two members' reads."""

from __future__ import annotations

import asyncio

from confagent.server.node._read_barrier import ReadBarrier


def test_two_members_never_issue_the_same_read_context() -> None:
    async def contexts(barrier: ReadBarrier, count: int) -> set[bytes]:
        issued = set()
        for _ in range(count):
            barrier.join()
            context = barrier.take()
            assert context is not None
            issued.add(context)
        return issued

    first = asyncio.run(contexts(ReadBarrier(), 100))
    second = asyncio.run(contexts(ReadBarrier(), 100))
    assert len(first) == len(second) == 100
    assert not first & second
