"""Write-ahead log throughput: records/s and fsyncs/s for batches of 1, 16 and 256 entries, and how
long one save (append, write and fsync) takes on the direct path (p50, p99).

Two paths: ``Wal`` driven directly (append + sync per batch, one thread), and ``WalWriter``
from asyncio with 16 concurrent savers of one batch each (group commit merges their
saves into shared fsyncs). Each case runs for ``--seconds`` on a fresh temp directory
(pass ``--dir`` to put it on the disk you care about). Prints numbers; asserts nothing.

    python bench/wal_bench.py [--seconds 1.0] [--payload 100] [--dir /var/tmp]
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import _tree  # noqa: F401 - this tree's confagent first

from confagent.raft._types import Entry, HardState
from confagent.server.storage import Wal, WalWriter

__all__ = ["main"]

BATCH_SIZES = (1, 16, 256)
CONCURRENT_SAVERS = 16


@dataclass(frozen=True, slots=True)
class Result:
    records: int
    syncs: int
    elapsed_s: float
    saves_s: tuple[float, ...] = ()
    """How long each save took (the direct path only)."""

    def line(self, label: str) -> str:
        line = (f"{label:<28} {self.records / self.elapsed_s:>12,.0f} records/s "
                f"{self.syncs / self.elapsed_s:>10,.0f} fsyncs/s")
        if self.saves_s:
            ordered = sorted(self.saves_s)
            line += (f"  save p50 {1e6 * ordered[len(ordered) // 2]:,.0f} us, "
                     f"p99 {1e6 * ordered[int(len(ordered) * 0.99)]:,.0f} us")
        return line


class Batches:
    """Consecutive batches of entries with ``payload_bytes`` of data each."""

    def __init__(self, batch_size: int, payload_bytes: int) -> None:
        self._size = batch_size
        self._data = b"x" * payload_bytes
        self.last_index = 0

    def next(self) -> list[Entry]:
        first = self.last_index + 1
        self.last_index += self._size
        return [Entry(1, index, data=self._data) for index in range(first, first + self._size)]


def run_direct(directory: Path, batch_size: int, payload_bytes: int, seconds: float) -> Result:
    wal, _ = Wal.open(directory)
    batches = Batches(batch_size, payload_bytes)
    saves_s: list[float] = []
    started = now = time.perf_counter()
    deadline = started + seconds
    while now < deadline:
        wal.append(HardState(1, 1, batches.last_index), batches.next())
        wal.sync()
        saves_s.append(time.perf_counter() - now)
        now = time.perf_counter()
    elapsed = now - started
    wal.close()
    return Result(batches.last_index, wal.syncs, elapsed, tuple(saves_s))


async def run_writer(directory: Path, batch_size: int, payload_bytes: int, seconds: float) -> Result:
    wal, _ = Wal.open(directory)
    writer = WalWriter(wal)
    batches = Batches(batch_size, payload_bytes)
    started = time.perf_counter()
    deadline = started + seconds

    async def saver() -> None:
        while time.perf_counter() < deadline:
            await writer.save(HardState(1, 1, batches.last_index), batches.next(), sync=True)

    await asyncio.gather(*(saver() for _ in range(CONCURRENT_SAVERS)))
    elapsed = time.perf_counter() - started
    await writer.close()
    return Result(batches.last_index, wal.syncs, elapsed)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=1.0)
    parser.add_argument("--payload", type=int, default=100, help="bytes of data per entry")
    parser.add_argument("--dir", type=Path, default=None, help="where to put the temp data dirs")
    args = parser.parse_args()
    for batch_size in BATCH_SIZES:
        with tempfile.TemporaryDirectory(dir=args.dir) as directory:
            result = run_direct(Path(directory), batch_size, args.payload, args.seconds)
        print(result.line(f"wal, batch {batch_size}"))
        with tempfile.TemporaryDirectory(dir=args.dir) as directory:
            result = asyncio.run(run_writer(Path(directory), batch_size, args.payload, args.seconds))
        print(result.line(f"writer x{CONCURRENT_SAVERS}, batch {batch_size}"))


if __name__ == "__main__":
    main()
