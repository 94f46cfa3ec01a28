"""A removed (or failed) store member ends the embedded backend and the cache for good: ``MemberStopped``
is not retried.

The embedded backend runs a real lone member in this process. Its removal is
what the node records when it applies its own removal (or hears of it):
``node.members.removed`` set. Its failure is a bug injected where the Raft driver
runs it (an apply listener that raises). tests/cluster/test_agent_member_removed.py
removes a member of a real cluster.
"""

from __future__ import annotations

import asyncio
from contextlib import aclosing
from pathlib import Path

import pytest

from confagent.backends import CacheTrouble, CacheUpdate, EmbeddedBackend, PrefixCache
from confagent.errors import MemberFailed, MemberRemoved, Stopped
from confagent.kv import Event, PutRequest
from tests.backends.harness import DEADLINE_S, next_change, run


async def fail_member(backend: EmbeddedBackend) -> None:
    """Make the member's Raft driver die of a bug: an apply listener that raises."""

    def bug(revision: int, events: tuple[Event, ...]) -> None:
        raise RuntimeError("a bug where entries are applied")

    backend.node.add_listener(bug)
    with pytest.raises(Stopped):
        await backend.node.propose(PutRequest(b"/other/boom", b"1"))


def test_the_cache_lets_member_failed_out_without_a_retry(tmp_path: Path) -> None:
    async def body() -> None:
        backend = await EmbeddedBackend.start(tmp_path / "data")
        cache = PrefixCache(backend, ["/app"])
        try:
            await backend.node.propose(PutRequest(b"/app/a", b"1"))
            async with aclosing(cache.events()) as events:
                assert isinstance(await asyncio.wait_for(anext(events), DEADLINE_S), CacheUpdate)
                await fail_member(backend)
                with pytest.raises(MemberFailed, match="a bug where entries are applied"):
                    async with asyncio.timeout(DEADLINE_S):
                        async for event in events:
                            raise AssertionError(f"nothing after the failure, not {event}")
        finally:
            await backend.close()

    run(body)


def test_the_cache_lets_member_removed_out_without_a_retry(tmp_path: Path) -> None:
    async def body() -> None:
        backend = await EmbeddedBackend.start(tmp_path / "data")
        cache = PrefixCache(backend, ["/app"])
        seen: list[CacheTrouble | CacheUpdate] = []
        try:
            await backend.node.propose(PutRequest(b"/app/a", b"1"))
            async with aclosing(cache.events()) as events:
                seen.append(await asyncio.wait_for(anext(events), DEADLINE_S))
                backend.node.members.removed.set()
                with pytest.raises(MemberRemoved, match="permanently removed from the cluster"):
                    async with asyncio.timeout(DEADLINE_S):
                        async for event in events:
                            seen.append(event)
        finally:
            await backend.close()
        assert [type(event) for event in seen] == [CacheUpdate]  # no CacheTrouble: nothing retried
        assert dict(cache.view) == {"/app/a": "1"}

    run(body)


def test_a_removed_member_fails_every_snapshot_and_stream(tmp_path: Path) -> None:
    async def body() -> None:
        backend = await EmbeddedBackend.start(tmp_path / "data")
        try:
            revision = (await backend.node.propose(PutRequest(b"/app/a", b"1"))).revision
            async with aclosing(backend.changes(["/app"], 0)) as open_stream:
                assert (await next_change(open_stream)).puts == {"/app/a": "1"}
                backend.node.members.removed.set()
                with pytest.raises(MemberRemoved):
                    await next_change(open_stream)
            with pytest.raises(MemberRemoved):
                await backend.snapshot(["/app"])
            async with aclosing(backend.changes(["/app"], revision)) as new_stream:
                with pytest.raises(MemberRemoved):
                    await next_change(new_stream)
            with pytest.raises(MemberRemoved):
                await anext(PrefixCache(backend, ["/app"]).events())
        finally:
            await backend.close()

    run(body)
