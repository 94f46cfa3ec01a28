"""A learner applies the committed entries it is sent while its own save of them runs (``_node`` rule 8).

A learner is sent committed entries only (``raft._leader`` rule 5): each is durable on a
quorum of voters, none counting the learner's copy. So it applies them without waiting
for its own fsync, as etcd applies committed entries while it saves them. A voter and a
learner run in this process on loopback; the learner's WAL fsync is held (the real WAL,
its ``sync`` made to wait for the test), and the learner's store shows a put while that
fsync has not returned. After a crash such a learner's log may lack entries it applied;
tests/fault/test_learner_agent_crash.py shows what its agent does then.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from pathlib import Path

from confagent.kv import RangeRequest
from confagent.server import StoreServer
from confagent.testing import b64, until_async
from tests.server.node.support import first_and_joined

DEADLINE_S = 30.0
HOLD_S = 5.0


class _HeldSync:
    """Makes a WAL's ``sync`` wait until released, at most ``HOLD_S`` (then it says so); counts the
    syncs that began."""

    def __init__(self, sync: Callable[[], None]) -> None:
        self._sync = sync
        self.released = threading.Event()
        self.began = 0
        self.gave_up = False

    def __call__(self) -> None:
        self.began += 1
        if not self.released.wait(HOLD_S):
            self.gave_up = True  # nobody released it: the sync blocked whoever waits for it
        self._sync()


def _value(server: StoreServer, key: bytes) -> bytes | None:
    assert server.node is not None
    kvs = server.node.kv.range(RangeRequest(key)).kvs
    return kvs[0].value if kvs else None


async def _scenario(root: Path) -> None:
    async with first_and_joined(root, learner=True, timeout_s=DEADLINE_S) as (_, learner, client):
        put = await client.post("/v3/kv/put", json={"key": b64("first"), "value": b64("1")})
        assert put.status_code == 200, put.text
        await until_async(lambda: _value(learner, b"first") == b"1", "the learner's first entry",
                          deadline_s=DEADLINE_S)
        assert learner.node is not None
        wal = learner.node._writer._wal  # the learner's real WAL, its fsync held
        held = _HeldSync(wal.sync)
        wal.sync = held  # type: ignore[method-assign]
        try:
            put = await client.post("/v3/kv/put", json={"key": b64("second"), "value": b64("2")})
            assert put.status_code == 200, put.text
            await until_async(lambda: _value(learner, b"second") == b"2" or held.gave_up,
                              "the learner applying the put", deadline_s=DEADLINE_S)
            assert not held.gave_up, "the put was applied only once its fsync returned"
        finally:
            held.released.set()
        await until_async(lambda: held.began > 0, "the learner's save of the put, through its WAL's sync",
                          deadline_s=DEADLINE_S)


def test_a_learner_applies_a_committed_entry_before_its_own_fsync_returns(tmp_path: Path) -> None:
    asyncio.run(asyncio.wait_for(_scenario(tmp_path), 2 * DEADLINE_S))
