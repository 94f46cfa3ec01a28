"""The survivors of a full collection are frozen; a cycle that dies frozen waits for the next thaw.

Automatic collections are disabled meanwhile, so each ``gc.collect()`` here is one full
collection the freezer counts.
"""

from __future__ import annotations

import asyncio
import gc
import weakref
from collections.abc import Iterator
from pathlib import Path

import pytest

from confagent.server.node import NodeConfig, StoreNode
from confagent.server.node._heap import HeapFreezer


class Cycle:
    """Two of these pointing at each other are freed only by the cyclic collector."""

    def __init__(self) -> None:
        self.other: Cycle | None = None


@pytest.fixture
def collections_by_hand() -> Iterator[None]:
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.unfreeze()
        if was_enabled:
            gc.enable()


@pytest.mark.usefixtures("collections_by_hand")
def test_survivors_are_frozen_and_a_dead_cycle_waits_for_the_thaw() -> None:
    freezer = HeapFreezer(thaw_every=3)
    freezer.install()
    try:
        first, second = Cycle(), Cycle()
        first.other, second.other = second, first
        alive = weakref.ref(first)
        gc.collect()                      # the first full collection: the cycle survives, frozen
        assert gc.get_freeze_count() > 0
        del first, second
        gc.collect(0)                     # a young collection freezes and thaws nothing
        gc.collect()                      # the second: what is frozen is not walked
        assert alive() is not None
        gc.collect()                      # the third thaws first: the dead cycle goes
        assert alive() is None
        assert gc.get_freeze_count() > 0  # and what survived it is frozen again
    finally:
        freezer.uninstall()
    assert gc.get_freeze_count() == 0
    assert freezer._on_collection not in gc.callbacks


@pytest.mark.usefixtures("collections_by_hand")
def test_a_running_member_freezes_its_heap_and_thaws_it_when_it_stops(tmp_path: Path) -> None:
    async def run() -> tuple[int, int]:
        node = await StoreNode.open(NodeConfig(data_dir=tmp_path, member_id=1, cluster_id=1))
        await node.start()
        try:
            gc.collect()
            running = gc.get_freeze_count()
        finally:
            await node.stop()
        return running, gc.get_freeze_count()

    running, stopped = asyncio.run(run())
    assert running > 0
    assert stopped == 0
