"""The leader's CPU per put per learner with its real peer transport, apart from the followers' own work.

``learner_bench.py --core`` times a ``RawNode`` alone, its followers' answers stepped at once; its
clusters time a whole store whose learners compete for the same two cores, and on a loaded
machine starve. This bench keeps what the leader does per learner and nothing else: a leader
process (a ``RawNode`` leading voters 2 and 3 and N learners, its messages sent by a
``PeerTransport`` as the store's driver sends them: a Ready's appends at once, its commit news
deferred; ticks every 0.1 s; no write-ahead log) and one follower process answering for all
the others (a ``PeerTransport`` per member, each append answered at once as accepted, each
heartbeat too). The leader proposes ``PACED_PER_S`` puts a second, a configuration store's
pace, and prints its process CPU per committed put over ``--seconds`` after a warm-up.

With ``--base TREE`` the same run is made with that checkout's confagent (both processes), in
alternating rounds, order flipped each round; each round gives this tree's figure over the
base's (``_rounds``). The extra CPU per learner is each round's (ms/put with N - ms/put with
the first count) / N, and their median, per tree: issue 16's target is at most 0.02 ms.

    python bench/leader_fanout_bench.py [--learners 0,50] [--seconds 5] [--rounds 4] [--base TREE]

Loopback only; each process is bounded (``--seconds`` plus ``WARM_UP_S``, waited for at most
``PROCESS_TIMEOUT_S``) and stopped by its pid. A benchmark, not a test: it asserts nothing about time.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from _rounds import spread

CHILD = "--lead" in sys.argv or "--follow" in sys.argv
"""A leader or follower process of a tree: it imports confagent from the tree its ``PYTHONPATH`` names."""
if not CHILD:
    import _tree  # noqa: F401 - this tree's confagent first, for the orchestration (and its --help)

__all__ = ["main"]

PACED_PER_S = 100
TICK_S = 0.1
WARM_UP_S = 1.5
"""Proposals before the measure starts: every follower probed and replicating."""
PROCESS_TIMEOUT_S = 120.0
VALUE = b"v" * 100
ROOT = Path(__file__).resolve().parents[1]


def _free_ports(count: int) -> list[int]:
    """``count`` distinct loopback ports free now (each bound then released)."""
    sockets = [socket.socket() for _ in range(count)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


# -- the follower process -------------------------------------------------------------------
async def _follow(urls: dict[int, str], seconds: float) -> None:
    """Answer, for every member but 1, each append as accepted and each heartbeat, for ``seconds``."""
    from confagent.raft import Message, MessageType  # noqa: PLC0415 - the tree under test
    from confagent.server.peers import PeerFrame, PeerTransport  # noqa: PLC0415

    transports: dict[int, PeerTransport] = {}

    def answer(frame: PeerFrame) -> None:
        if not isinstance(frame, Message):
            return
        if frame.type is MessageType.APPEND:
            reply = Message(MessageType.APPEND_RESPONSE, frame.frm, frame.to, frame.term,
                            index=frame.index + len(frame.entries))
        elif frame.type is MessageType.HEARTBEAT:
            reply = Message(MessageType.HEARTBEAT_RESPONSE, frame.frm, frame.to, frame.term,
                            context=frame.context)
        else:
            return
        transports[frame.to].send([reply])

    for member in urls.keys() - {1}:
        transports[member] = PeerTransport(member, urls[member], {1: urls[1], member: urls[member]},
                                           answer, lambda m, ok: None)
        await transports[member].start()
    print("ready", flush=True)
    try:
        await asyncio.sleep(seconds)
    finally:
        for transport in transports.values():
            await transport.stop()


# -- the leader process -----------------------------------------------------------------------
class _Leader:
    """A ``RawNode`` leading members 2 and 3 and ``learners`` over a ``PeerTransport``, driven as the
    store's driver drives its core (without the write-ahead log)."""

    def __init__(self, urls: dict[int, str], learners: tuple[int, ...]) -> None:
        from confagent.raft import HardState, Message, MessageType, RaftConfig, RawNode, Role  # noqa: PLC0415
        from confagent.server.peers import PeerFrame, PeerTransport  # noqa: PLC0415 - the tree under test

        self._message_type = Message
        self.inputs: list[PeerFrame | tuple[int, bool]] = []
        self.wake = asyncio.Event()
        self.transport = PeerTransport(1, urls[1], urls, self.arrive,
                                       lambda member, ok: self.arrive((member, ok)))
        self.transport.set_learners(learners)
        # No quorum check: a loaded machine may keep the followers' first answers past an election
        # timeout, and what is measured is replication, not leadership.
        config = RaftConfig(node_id=1, voters=(1, 2, 3), learners=learners, check_quorum=False)
        self.node = RawNode(config, HardState(), None, (), random.Random(1), snapshot_source=lambda: None)
        self.node.campaign()
        for kind in (MessageType.PRE_VOTE_RESPONSE, MessageType.VOTE_RESPONSE):
            self.node.step(Message(kind, 1, 2, term=1))
        assert self.node.role is Role.LEADER

    def arrive(self, item: Any) -> None:
        self.inputs.append(item)
        self.wake.set()

    async def drive(self) -> None:
        """Step what arrived, then send each Ready's messages (a commit's news deferred) and advance."""
        while True:
            await self.wake.wait()
            self.wake.clear()
            items, self.inputs = self.inputs, []
            for item in items:
                if isinstance(item, self._message_type):
                    self.node.step(item)
                elif isinstance(item, tuple) and not item[1]:
                    self.node.report_unreachable(item[0])
            while self.node.has_ready():
                rd = self.node.ready()
                self.transport.send(rd.messages, at_once=bool(rd.entries) or not rd.committed)
                self.node.advance(rd)

    async def tick(self) -> None:
        while True:
            await asyncio.sleep(TICK_S)
            self.node.tick()
            self.wake.set()

    async def propose(self, seconds: float) -> None:
        """``PACED_PER_S`` proposals a second for ``seconds``."""
        start = time.perf_counter()
        n = 0
        while (now := time.perf_counter()) < start + seconds:
            beat = start + n / PACED_PER_S
            if beat > now:
                await asyncio.sleep(beat - now)
            self.node.propose(VALUE)
            self.wake.set()
            n += 1


async def _lead(urls: dict[int, str], learners: tuple[int, ...], seconds: float) -> dict[str, float]:
    """Lead at ``PACED_PER_S`` puts a second; the process CPU per committed put after ``WARM_UP_S``."""
    leader = _Leader(urls, learners)
    await leader.transport.start()
    tasks = [asyncio.create_task(leader.drive()), asyncio.create_task(leader.tick())]
    try:
        await leader.propose(WARM_UP_S)
        cpu, committed, wall = time.process_time(), leader.node.log.committed, time.perf_counter()
        await leader.propose(seconds)
        cpu, puts = time.process_time() - cpu, leader.node.log.committed - committed
        wall = time.perf_counter() - wall
    finally:
        for task in tasks:
            task.cancel()
        await leader.transport.stop()
    return {"cpu_ms_per_put": 1000 * cpu / puts, "puts_per_s": puts / wall}


def _run_loop(coroutine: Any) -> Any:
    import uvloop  # noqa: PLC0415 - the store's loop

    return uvloop.run(coroutine)


# -- the orchestration -------------------------------------------------------------------------
def _environment(tree: Path) -> dict[str, str]:
    """A child's environment importing confagent from ``tree`` (first on its path is this script's own
    directory, not a tree's root; no ``PYTHONSAFEPATH``, which would leave that directory out)."""
    return {**os.environ, "PYTHONPATH": str(tree.resolve())}


def measure(tree: Path, learners: int, seconds: float) -> dict[str, float]:
    """One leader and one follower process of ``tree``'s code, the leader with ``learners``."""
    members = (1, 2, 3, *range(4, 4 + learners))
    urls = {m: f"http://127.0.0.1:{port}" for m, port in zip(members, _free_ports(len(members)), strict=True)}
    def spec(seconds_: float) -> str:
        return json.dumps({"urls": urls, "learners": list(members[3:]), "seconds": seconds_})

    env = _environment(tree)
    follower = subprocess.Popen([sys.executable, __file__, "--follow", spec(PROCESS_TIMEOUT_S)], env=env,
                                stdout=subprocess.PIPE, text=True)
    try:
        assert follower.stdout is not None and follower.stdout.readline().strip() == "ready"
        leader = subprocess.run([sys.executable, __file__, "--lead", spec(seconds)], env=env,
                                capture_output=True, text=True, timeout=PROCESS_TIMEOUT_S, check=False)
        if leader.returncode:
            raise RuntimeError(f"the leader process ended with {leader.returncode}: {leader.stderr[-2000:]}")
    finally:
        follower.terminate()
        follower.wait(PROCESS_TIMEOUT_S)
    figures: dict[str, float] = json.loads(leader.stdout.strip().splitlines()[-1])
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--learners", default="0,50", help="learner counts, the first the per-learner base")
    parser.add_argument("--seconds", type=float, default=5.0, help="measured seconds per process")
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--base", type=Path, help="another checkout, measured in alternating rounds")
    parser.add_argument("--lead", help=argparse.SUPPRESS)
    parser.add_argument("--follow", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.follow or args.lead:
        spec = json.loads(args.follow or args.lead)
        urls = {int(m): url for m, url in spec["urls"].items()}
        if args.follow:
            _run_loop(_follow(urls, spec["seconds"]))
        else:
            print(json.dumps(_run_loop(_lead(urls, tuple(spec["learners"]), spec["seconds"]))))
        return
    counts = [int(c) for c in args.learners.split(",")]
    trees = {"this": ROOT} | ({"base": args.base} if args.base else {})
    got: dict[tuple[str, int], list[float]] = {(t, c): [] for t in trees for c in counts}
    print(f"load average at the start: {os.getloadavg()[0]:.1f}")
    for n in range(args.rounds):
        order = list(trees.items()) if n % 2 == 0 else list(reversed(trees.items()))
        line = []
        for count in counts:
            for name, tree in order:
                figures = measure(tree, count, args.seconds)
                got[name, count].append(figures["cpu_ms_per_put"])
                line.append(f"{name} {count}: {figures['cpu_ms_per_put']:.3f} ms/put "
                            f"({figures['puts_per_s']:.0f} puts/s)")
        print(f"round {n + 1} (load {os.getloadavg()[0]:.1f}): " + ", ".join(line), flush=True)
    for name in trees:
        for count in counts[1:]:
            extra = [(ours - none) / count for ours, none in zip(got[name, count], got[name, counts[0]],
                                                                 strict=True)]
            print(f"{name}: {count} learners {statistics.median(got[name, count]):.3f} ms/put, "
                  f"{counts[0]}: {statistics.median(got[name, counts[0]]):.3f}; per learner, each round "
                  f"{', '.join(f'{e:.4f}' for e in extra)}: median {statistics.median(extra):.4f} ms/put")
    if args.base:
        for count in counts:
            print(f"this over base, {count} learners: "
                  f"{spread(got['this', count], got['base', count]).describe()}")
    print(f"load average at the end: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
