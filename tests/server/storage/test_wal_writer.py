"""WalWriter: a save made while the writer is idle written on the loop itself; the others through
one writer thread, in order, group-committed."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from confagent.errors import StorageError
from confagent.raft._types import Entry, HardState, SnapshotMeta
from confagent.server.storage import Wal, WalState, WalWriter
from confagent.server.storage._wal_records import MAX_ENTRY_DATA_BYTES


def entry(index: int, term: int = 1) -> Entry:
    return Entry(term, index, data=b"value-%d" % index)


def reopen(data_dir: Path) -> WalState:
    wal, state = Wal.open(data_dir)
    wal.close()
    return state


def test_a_save_is_on_disk_when_it_returns(tmp_path: Path) -> None:
    async def scenario() -> None:
        wal, _ = Wal.open(tmp_path)
        writer = WalWriter(wal)
        await writer.save(HardState(1, 1, 0), [entry(1), entry(2)], sync=True)
        assert wal.syncs == 1
        await writer.save(HardState(1, 1, 2), [], sync=False)
        await writer.close()

    asyncio.run(scenario())
    assert reopen(tmp_path) == WalState(HardState(1, 1, 2), None, (entry(1), entry(2)))


def test_concurrent_saves_complete_in_order_and_share_fsyncs(tmp_path: Path) -> None:
    count = 200
    completed: list[int] = []

    async def save_one(writer: WalWriter, index: int) -> None:
        await writer.save(HardState(1, 1, index - 1), [entry(index)], sync=True)
        completed.append(index)

    async def scenario() -> int:
        wal, _ = Wal.open(tmp_path)
        writer = WalWriter(wal)
        await asyncio.gather(*(save_one(writer, index) for index in range(1, count + 1)))
        await writer.close()
        return wal.syncs

    syncs = asyncio.run(scenario())
    assert completed == list(range(1, count + 1))
    assert 1 <= syncs <= count  # how many batches formed depends on the scheduler
    state = reopen(tmp_path)
    assert state.entries == tuple(entry(index) for index in range(1, count + 1))
    assert state.hard_state == HardState(1, 1, count - 1)


def test_a_save_to_an_idle_writer_is_done_on_return_and_others_wait_their_turn(tmp_path: Path) -> None:
    """Rule 7: a save with nothing outstanding, of one entry or several, is written and fsynced at
    once; while a request is unanswered (here a release the thread has not answered yet) saves
    queue behind it, in order."""
    async def scenario() -> list[str]:
        wal, _ = Wal.open(tmp_path)
        writer = WalWriter(wal)
        alone = writer.start_save(HardState(1, 1, 0), [entry(1)], sync=True)
        assert alone.done() and wal.syncs == 1
        order: list[str] = []
        release = asyncio.ensure_future(writer.release_to(0))
        release.add_done_callback(lambda _: order.append("release"))
        await asyncio.sleep(0)  # the release is queued to the thread
        behind = writer.start_save(HardState(1, 1, 1), [entry(2)], sync=True)
        assert not behind.done()
        behind.add_done_callback(lambda _: order.append("save"))
        await behind
        await release
        syncs = wal.syncs
        after = writer.start_save(None, [entry(3)], sync=True)  # answered: idle again
        assert after.done() and wal.syncs == syncs + 1
        batch = writer.start_save(None, [entry(4), entry(5)], sync=True)
        assert batch.done() and wal.syncs == syncs + 2
        await batch
        await writer.close()
        return order

    assert asyncio.run(scenario()) == ["release", "save"]
    assert reopen(tmp_path).entries == tuple(entry(index) for index in range(1, 6))


def test_a_save_started_behind_is_the_threads_even_when_the_writer_is_idle(tmp_path: Path) -> None:
    """Rule 8: ``behind`` hands the save to the thread (its future is not done when ``start_save``
    returns: the loop runs while it is written), and a save made after it waits its turn."""
    async def scenario() -> None:
        wal, _ = Wal.open(tmp_path)
        writer = WalWriter(wal)
        behind = writer.start_save(HardState(1, 1, 0), [entry(1)], sync=True, behind=True)
        assert not behind.done()
        after = writer.start_save(None, [entry(2)], sync=True)
        assert not after.done()
        await after
        assert behind.done()
        await writer.close()

    asyncio.run(scenario())
    assert reopen(tmp_path).entries == (entry(1), entry(2))


def test_a_marker_goes_before_the_entries_of_its_save_and_release_follows(tmp_path: Path) -> None:
    async def scenario() -> None:
        wal, _ = Wal.open(tmp_path, segment_bytes=200)
        writer = WalWriter(wal)
        for index in range(1, 41):
            await writer.save(None, [entry(index)], sync=True)
        restored = SnapshotMeta(60, 2)
        await writer.save(HardState(2, 1, 60), [entry(61, term=2)], sync=True, snapshot=restored)
        await writer.release_to(60)
        await writer.close()

    asyncio.run(scenario())
    # The marker replaced the log: one segment is kept, starting with it and holding entry 61.
    assert len(list((tmp_path / "member" / "wal").glob("*.wal"))) == 1
    assert reopen(tmp_path) == WalState(HardState(2, 1, 60), SnapshotMeta(60, 2), (entry(61, 2),))


def test_a_refused_save_fails_alone(tmp_path: Path) -> None:
    too_big = Entry(1, 2, data=bytes(MAX_ENTRY_DATA_BYTES + 1))

    async def scenario() -> list[BaseException | None]:
        wal, _ = Wal.open(tmp_path)
        writer = WalWriter(wal)
        outcomes = await asyncio.gather(
            writer.save(None, [entry(1)], sync=True),
            writer.save(None, [too_big], sync=True),
            writer.save(None, [entry(2)], sync=True),
            return_exceptions=True,
        )
        await writer.close()
        return list(outcomes)

    first, refused, third = asyncio.run(scenario())
    assert first is None and third is None
    assert isinstance(refused, StorageError)
    assert reopen(tmp_path).entries == (entry(1), entry(2))


def test_a_cancelled_save_is_still_written(tmp_path: Path) -> None:
    async def scenario() -> None:
        wal, _ = Wal.open(tmp_path)
        writer = WalWriter(wal)
        task = asyncio.create_task(writer.save(None, [entry(1)], sync=True))
        await asyncio.sleep(0)  # let the task queue its request
        task.cancel()
        await writer.save(None, [entry(2)], sync=True)
        await writer.close()

    asyncio.run(scenario())
    assert reopen(tmp_path).entries == (entry(1), entry(2))


def test_saving_after_close_is_refused(tmp_path: Path) -> None:
    async def scenario() -> None:
        wal, _ = Wal.open(tmp_path)
        writer = WalWriter(wal)
        await writer.close()
        await writer.close()
        with pytest.raises(StorageError, match="writer is closed"):
            await writer.save(None, [entry(1)], sync=True)

    asyncio.run(scenario())


def test_a_failed_write_fails_its_save_and_every_later_one(
    tmp_path: Path, file_size_limit: int,
) -> None:
    async def scenario() -> None:
        wal, _ = Wal.open(tmp_path)
        writer = WalWriter(wal)
        await writer.save(None, [entry(1)], sync=True)
        too_big = Entry(1, 2, data=bytes(file_size_limit))
        with pytest.raises(StorageError, match="failed"):
            await writer.save(None, [too_big], sync=True)
        with pytest.raises(StorageError, match="unusable after an earlier failure"):
            await writer.save(None, [entry(2)], sync=True)
        with pytest.raises(StorageError, match="unusable after an earlier failure"):
            await writer.release_to(1)
        await writer.close()

    asyncio.run(scenario())
    assert reopen(tmp_path).entries == (entry(1),)
