"""WalWriter rule 5: a hard state that moves only the commit index waits for the next save."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import pytest

from confagent.errors import StorageError
from confagent.raft._types import Entry, HardState
from confagent.server.storage import Wal, WalState, WalWriter


def _entry(index: int) -> Entry:
    return Entry(1, index, data=b"value-%d" % index)


def _reopen(data_dir: Path) -> WalState:
    wal, state = Wal.open(data_dir)
    wal.close()
    return state


def test_a_deferred_hard_state_is_written_with_the_next_save(tmp_path: Path) -> None:
    async def scenario() -> None:
        wal, _ = Wal.open(tmp_path)
        writer = WalWriter(wal)
        await writer.save(HardState(1, 1, 0), [_entry(1), _entry(2)], sync=True)
        writer.defer_hard_state(HardState(1, 1, 1))
        writer.defer_hard_state(HardState(1, 1, 2))  # the newest one counts
        await writer.start_save(None, [_entry(3)], sync=True)
        shutil.copytree(tmp_path / "member", tmp_path / "copy" / "member")  # before close writes more
        await writer.close()

    asyncio.run(scenario())
    assert _reopen(tmp_path / "copy") == WalState(HardState(1, 1, 2), None, (_entry(1), _entry(2), _entry(3)))


def test_a_save_with_its_own_hard_state_replaces_the_deferred_one(tmp_path: Path) -> None:
    async def scenario() -> None:
        wal, _ = Wal.open(tmp_path)
        writer = WalWriter(wal)
        await writer.save(HardState(1, 1, 0), [_entry(1)], sync=True)
        writer.defer_hard_state(HardState(1, 1, 1))
        await writer.save(HardState(2, 3, 1), [], sync=True)
        await writer.save(None, [_entry(2)], sync=True)
        await writer.close()

    asyncio.run(scenario())
    assert _reopen(tmp_path).hard_state == HardState(2, 3, 1)


def test_close_writes_a_deferred_hard_state(tmp_path: Path) -> None:
    async def scenario() -> None:
        wal, _ = Wal.open(tmp_path)
        writer = WalWriter(wal)
        await writer.save(HardState(1, 1, 0), [_entry(1), _entry(2)], sync=True)
        writer.defer_hard_state(HardState(1, 1, 2))
        await writer.close()

    asyncio.run(scenario())
    assert _reopen(tmp_path).hard_state == HardState(1, 1, 2)


def test_close_after_a_failure_raises_and_stops_the_thread(tmp_path: Path, file_size_limit: int) -> None:
    async def scenario() -> WalWriter:
        wal, _ = Wal.open(tmp_path)
        writer = WalWriter(wal)
        await writer.save(HardState(1, 1, 0), [_entry(1)], sync=True)
        with pytest.raises(StorageError):
            await writer.save(None, [Entry(1, 2, data=bytes(file_size_limit))], sync=True)
        writer.defer_hard_state(HardState(1, 1, 1))
        with pytest.raises(StorageError, match="unusable after an earlier failure"):
            await writer.close()
        return writer

    writer = asyncio.run(scenario())
    assert not writer._thread.is_alive()
    assert _reopen(tmp_path).hard_state == HardState(1, 1, 0)
