"""Proposals: the driver tick's ``expire`` fails the writes nobody answered by their deadline with
'request timed out', in their order, and only those (rule 3)."""

from __future__ import annotations

import asyncio

import pytest

from confagent.errors import Unavailable
from confagent.kv import PutRequest
from confagent.server.node._proposals import Proposals

TIMEOUT_S = 7.0


def test_a_write_unanswered_past_its_deadline_fails_and_no_other() -> None:
    async def scenario() -> None:
        waiting = Proposals(1, 0, lambda: None, max_pending=10, request_timeout_s=TIMEOUT_S)
        loop = asyncio.get_running_loop()
        start = loop.time()
        gone = asyncio.ensure_future(waiting.write(PutRequest(key=b"a", value=b"1")))
        late = asyncio.ensure_future(waiting.write(PutRequest(key=b"b", value=b"2")))
        await asyncio.sleep(0)  # both wait now
        gone.cancel()  # its caller went away: no answer owed
        waiting.expire(start + TIMEOUT_S - 1)
        await asyncio.sleep(0)
        assert gone.cancelled() and not late.done()
        waiting.expire(loop.time() + TIMEOUT_S)
        with pytest.raises(Unavailable, match="request timed out"):
            await late

    asyncio.run(scenario())
