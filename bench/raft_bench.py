"""The Raft layer alone: committed writes per second with three node processes on loopback, fsync on.

No HTTP and no key-value store: each process runs a thin driver over
``RawNode`` + ``WalWriter`` (the store's write-ahead log with its group-commit
fsync thread) + ``PeerTransport`` (the store's msgpack-over-TCP peer links), in
exactly the order ``StoreNode._drive`` follows (persist with fsync -> send ->
apply -> advance), but applying an entry only counts it. StoreNode itself would
add request decoding, the MVCC apply and a future per write, which this
benchmark keeps out so the figure is the Raft layer's.

Node 1 campaigns once all three listen; the leader keeps ``--in-flight``
proposals of ``--payload`` bytes outstanding (a new one for each of its entries
applied). After ``--warmup`` seconds every node counts, for ``--seconds``:
entries applied, fsyncs made and its own CPU time. Printed: committed writes/s
(the leader's count), each node's fsyncs/s and writes per fsync (the batching),
and CPU per write. ``--profile FILE`` runs every node under cProfile, writes
the stats to FILE.<member> and prints each node's top functions.

    python bench/raft_bench.py [--seconds 5] [--in-flight 256] [--payload 100]

Loopback only; the run ends by itself (each node stops after its window; the
parent kills any straggler by pid). A benchmark, not a test: it asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import multiprocessing
import pstats
import random
import tempfile
import time
from dataclasses import dataclass
from multiprocessing.synchronize import Event as EventType
from pathlib import Path
from typing import Any

import _tree  # noqa: F401 - this tree's confagent first
import uvloop

from confagent.raft import (
    HardState,
    Message,
    RaftConfig,
    RawNode,
    Ready,
    Role,
    Snapshot,
)
from confagent.server.peers import PeerTransport
from confagent.server.storage import Wal, WalWriter
from confagent.testing import free_port

__all__ = ["NodeResult", "main"]

MEMBERS = (1, 2, 3)
TICK_S = 0.1
ELECTION_TICKS = 10
START_TIMEOUT_S = 30.0
"""Each node must be listening, and the window must be over, within this much slack."""


@dataclass(frozen=True, slots=True)
class Window:
    """When every node counts: monotonic times (CLOCK_MONOTONIC is one clock for all processes)."""

    start: float
    end: float


@dataclass(frozen=True, slots=True)
class NodeResult:
    """One node's counts over the window."""

    member: int
    leader: bool
    applied: int
    fsyncs: int
    readies: int
    cpu_s: float
    elapsed_s: float


@dataclass(frozen=True, slots=True)
class _Settings:
    member: int
    peers: dict[int, str]
    data_dir: Path
    in_flight: int
    payload: bytes
    profile: Path | None


class BenchNode:
    """One Raft member: the driver loop, a ticker, and (while leading) the proposer."""

    def __init__(self, settings: _Settings) -> None:
        self.settings = settings
        self.wal, _ = Wal.open(settings.data_dir)
        self.writer = WalWriter(self.wal)
        config = RaftConfig(node_id=settings.member, voters=MEMBERS, election_ticks=ELECTION_TICKS)
        rng = random.Random(settings.member)
        self.core = RawNode(config, HardState(), None, (), rng, snapshot_source=_no_snapshot)
        self.transport = PeerTransport(settings.member, settings.peers[settings.member], settings.peers,
                                       self._receive, self._report, rng=rng)
        self.inbox: list[Message] = []
        self.wake = asyncio.Event()
        self.outstanding = 0
        self.applied = 0
        self.readies = 0

    def _receive(self, frame: Any) -> None:
        if isinstance(frame, Message):  # the transport may carry frames other than Raft's
            self.inbox.append(frame)
            self.wake.set()

    def _report(self, member: int, delivered: bool) -> None:
        if not delivered:
            self.core.report_unreachable(member)

    async def drive(self) -> None:
        """StoreNode's loop: feed, then persist -> send -> apply -> advance while there is work."""
        while True:
            await self.wake.wait()
            self.wake.clear()
            self._feed()
            while self.core.has_ready():
                await self._handle(self.core.ready())
                self._feed()

    def _feed(self) -> None:
        inbox, self.inbox = self.inbox, []
        for message in inbox:
            self.core.step(message)
        if self.core.role is Role.LEADER:
            for _ in range(self.settings.in_flight - self.outstanding):
                self.core.propose(self.settings.payload)
                self.outstanding += 1

    async def _handle(self, rd: Ready) -> None:
        self.readies += 1
        await self.writer.save(rd.hard_state, rd.entries, sync=rd.must_sync)
        self.transport.send(rd.messages)
        for entry in rd.committed:
            if entry.data:
                self.applied += 1
        if self.core.role is Role.LEADER:
            self.outstanding -= sum(1 for e in rd.committed if e.data)
        self.core.advance(rd)

    async def tick_forever(self) -> None:
        while True:
            await asyncio.sleep(TICK_S)
            self.core.tick()
            self.wake.set()

    def counts(self) -> tuple[int, int, int, float]:
        return self.applied, self.wal.syncs, self.readies, time.process_time()


def _no_snapshot() -> Snapshot:
    raise AssertionError("the benchmark never compacts its log, so no follower needs a snapshot")


async def _run_node(settings: _Settings, go: EventType, window_box: Any,
                    out: multiprocessing.Queue[Any]) -> None:
    node = BenchNode(settings)
    await node.transport.start()
    out.put(("listening", settings.member))
    while not go.is_set():
        await asyncio.sleep(0.01)
    window = Window(window_box[0], window_box[1])
    tasks = [asyncio.create_task(node.drive()), asyncio.create_task(node.tick_forever())]
    if settings.member == MEMBERS[0]:
        node.core.campaign()
        node.wake.set()
    try:
        await asyncio.sleep(max(0.0, window.start - time.monotonic()))
        before = node.counts()
        await asyncio.sleep(max(0.0, window.end - time.monotonic()))
        after = node.counts()
        leader = node.core.role is Role.LEADER
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await node.transport.stop()
        await node.writer.close()
    out.put(("result", NodeResult(settings.member, leader, after[0] - before[0], after[1] - before[1],
                                  after[2] - before[2], after[3] - before[3], window.end - window.start)))


def node_main(settings: _Settings, go: EventType, window_box: Any, out: multiprocessing.Queue[Any]) -> None:
    """A node process: run one member (under cProfile when asked), report its counts."""
    if settings.profile is None:
        uvloop.run(_run_node(settings, go, window_box, out))
        return
    profiler = cProfile.Profile()
    profiler.enable()
    try:
        uvloop.run(_run_node(settings, go, window_box, out))
    finally:
        profiler.disable()
        profiler.dump_stats(settings.profile.with_suffix(f".{settings.member}"))


# -- the parent -----------------------------------------------------------------------------
def run(seconds: float, warmup_s: float, in_flight: int, payload_bytes: int,
        profile: Path | None) -> list[NodeResult]:
    """Start three node processes, open the window once all listen, collect their counts."""
    ctx = multiprocessing.get_context("spawn")
    out: multiprocessing.Queue[Any] = ctx.Queue()
    go = ctx.Event()
    window_box = ctx.Array("d", 2)
    peers = {m: f"http://127.0.0.1:{free_port()}" for m in MEMBERS}
    with tempfile.TemporaryDirectory(prefix="confagent-raft-bench-") as tmp:
        procs = [ctx.Process(target=node_main, args=(
            _Settings(m, peers, Path(tmp) / f"n{m}", in_flight, b"x" * payload_bytes, profile),
            go, window_box, out)) for m in MEMBERS]
        for proc in procs:
            proc.start()
        try:
            _expect(out, "listening", len(procs), time.monotonic() + START_TIMEOUT_S)
            start = time.monotonic() + warmup_s
            window_box[0], window_box[1] = start, start + seconds
            go.set()
            results = _expect(out, "result", len(procs), start + seconds + START_TIMEOUT_S)
        finally:
            for proc in procs:
                proc.join(5)
                if proc.is_alive():
                    proc.kill()
    return sorted(results, key=lambda r: (not r.leader, r.member))


def _expect(out: multiprocessing.Queue[Any], kind: str, count: int, deadline: float) -> list[Any]:
    """``count`` messages of ``kind`` from the nodes, before ``deadline``.

    Raises:
        RuntimeError: they did not all come in time (a node failed: its traceback is above).
    """
    found: list[Any] = []
    while len(found) < count:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise RuntimeError(f"only {len(found)} of {count} nodes sent {kind!r} in time")
        with contextlib.suppress(Exception):
            got_kind, value = out.get(timeout=min(remaining, 0.5))
            if got_kind == kind:
                found.append(value)
    return found


def render(results: list[NodeResult], in_flight: int, payload_bytes: int) -> str:
    leader = results[0]
    writes = leader.applied / leader.elapsed_s
    lines = [f"raft layer, 3 nodes, fsync on, {in_flight} proposals in flight, "
             f"{payload_bytes}-byte entries, {leader.elapsed_s:.1f} s",
             f"committed writes/s (leader): {writes:,.0f}",
             f"{'node':>6} {'role':>8} {'applied/s':>10} {'fsyncs/s':>9} {'writes/fsync':>12} "
             f"{'readies/s':>10} {'CPU %':>6} {'CPU us/write':>12}"]
    for r in results:
        per_fsync = r.applied / r.fsyncs if r.fsyncs else float("inf")
        cpu_per_write = 1e6 * r.cpu_s / r.applied if r.applied else float("inf")
        lines.append(f"{r.member:>6} {'leader' if r.leader else 'follower':>8} "
                     f"{r.applied / r.elapsed_s:>10,.0f} {r.fsyncs / r.elapsed_s:>9,.0f} "
                     f"{per_fsync:>12.1f} {r.readies / r.elapsed_s:>10,.0f} "
                     f"{100 * r.cpu_s / r.elapsed_s:>6.0f} {cpu_per_write:>12.1f}")
    return "\n".join(lines)


def _print_profile(profile: Path, member: int) -> None:
    path = profile.with_suffix(f".{member}")
    print(f"\ncProfile of member {member} ({path}), top 25 by own time:")
    pstats.Stats(str(path)).sort_stats("tottime").print_stats(25)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--warmup", type=float, default=1.5, help="seconds before counting starts")
    parser.add_argument("--in-flight", type=int, default=256)
    parser.add_argument("--payload", type=int, default=100, help="bytes of data per entry")
    parser.add_argument("--profile", type=Path, help="cProfile every node; stats in FILE.<member>")
    args = parser.parse_args()
    results = run(args.seconds, args.warmup, args.in_flight, args.payload, args.profile)
    print(render(results, args.in_flight, args.payload))
    if args.profile is not None:
        for result in results:
            _print_profile(args.profile, result.member)


if __name__ == "__main__":
    main()
