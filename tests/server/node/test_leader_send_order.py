"""A leader hands a new entry's appends to the transport before its own save of it starts (``_node`` rule 7).

Two voters run in this process on loopback. The leader's WAL writer is idle between puts, so
its save of a put runs on the event loop (storage rule 7): had the leader started it before
sending, the followers would have been sent the entry only once the leader's fsync returned,
and the two fsyncs would follow one another instead of overlapping. The leader's sends and
its WAL's syncs are noted in order, each with the newest entry it carries or makes durable.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from pathlib import Path

from confagent.testing import b64, until_async
from tests.server.node.support import first_and_joined

DEADLINE_S = 30.0


async def _scenario(root: Path) -> list[tuple[str, int]]:
    async with first_and_joined(root, learner=False, timeout_s=DEADLINE_S) as (leader, _, client):
        put = await client.post("/v3/kv/put", json={"key": b64("first"), "value": b64("1")})
        assert put.status_code == 200, put.text
        node = leader.node
        assert node is not None and node.leadership.is_leader
        events: list[tuple[str, int]] = []
        send, wal = node._send_frames, node._writer._wal
        sync = wal.sync

        def noted_send(frames: Iterable[object], *, at_once: bool = True) -> None:
            frames = list(frames)
            newest = max((entry.index for frame in frames for entry in getattr(frame, "entries", ())),
                         default=0)
            events.append(("send", newest))
            send(frames, at_once=at_once)  # type: ignore[arg-type]

        def noted_sync(make: Callable[[], None] = sync) -> None:
            events.append(("sync", node.core.log.last_index))
            make()

        node._send_frames = noted_send  # type: ignore[method-assign]
        wal.sync = noted_sync  # type: ignore[method-assign]
        try:
            put = await client.post("/v3/kv/put", json={"key": b64("second"), "value": b64("2")})
            assert put.status_code == 200, put.text
            await until_async(lambda: any(kind == "sync" for kind, _ in events), "the leader's save",
                              deadline_s=DEADLINE_S)
        finally:
            node._send_frames, wal.sync = send, sync  # type: ignore[method-assign]
        return events


def test_the_leader_sends_a_new_entry_before_its_own_fsync(tmp_path: Path) -> None:
    events = asyncio.run(asyncio.wait_for(_scenario(tmp_path), 2 * DEADLINE_S))
    entry = next(index for kind, index in events if kind == "sync")
    sends = [position for position, (kind, index) in enumerate(events) if kind == "send" and index >= entry]
    syncs = [position for position, (kind, index) in enumerate(events) if kind == "sync" and index >= entry]
    assert sends and sends[0] < syncs[0], events
