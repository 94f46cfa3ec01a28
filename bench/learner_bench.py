"""What learners cost a cluster's leader: CPU per put and the voters' put latency with 0 to 50 learners.

Two clusters of three ``confagent store`` voters run side by side on loopback:
the anchor, which never gets a learner, and the subject, which gets learners
(``member add --learner`` on its leader, then a ``confagent store`` process
joining with ``--initial-cluster-state existing``) up to each count of
``--learners`` in turn. At each count both clusters take turns, ``--rounds``
times, under two loads on their leader:

- 8 connections, each putting one key at a time as fast as answered (100-byte
  values over 50,000 keys): puts/s, put latency p50/p99, and the leader's CPU
  (user + system, ``/proc``) per put;
- 100 puts a second over 8 connections taking turns (a configuration store's
  pace): put latency p50/p99 and the leader's CPU as a share of one core.

With ``--idle-learners`` each learner process, once joined, runs at the lowest CPU
priority (every thread ``SCHED_IDLE``) and keeps its data directory in
``/dev/shm``: learners stand for other hosts, and on one machine their own
apply work and fsyncs would otherwise take the cores and the disk the voters
wait for, which no real fleet does (the disk's scheduler here ignores I/O
priorities, so tmpfs stands for their own disks). The output says which was measured.
With ``--learner-cpu CORES`` instead, the learners (data in ``/dev/shm`` too) run in a
cgroup holding them all to CORES of CPU at the least weight (``_cpu_group``): the
voters get a core whenever they want one, and the learners what is left, up to CORES,
so they still keep up when the voters leave them CPU; the share they took is printed.
The group is also ``cpu.idle`` (``--group-idle on``, the default): a waking voter
preempts a learner at once, where a group of least weight could finish its slice
first; the learners keep the same share and catch up as fast. Judged in one run
(``--group-idle alternate``: every other ``--judge`` round idle, each setting judged
apart), the voters' p99, the anchor's included, was about half with it: it is the
closer stand-in for learners on hosts of their own. ``off`` is sessions 10-12's group.

``--judge N`` makes the voters' p99 at 100 puts/s with learners a verdict: after
growing to the largest count, N rounds each measure, in an order rotated round by
round, the subject with every learner running and with one learner SIGSTOPped (a host
that hangs), each once the running learners have caught up with the leader (as on
hosts of their own; the wait is printed), and each against the anchor in the same
stretch of time: the two clusters take turns of ``--turn`` seconds (rotated turn by
turn) at 100 puts/s until each had ``--seconds``. Load from outside the benchmark
comes and goes over seconds (other runs on the machine): measured one after the
other for 10 s each, the anchor and the subject saw different machines, and a round's
ratio was mostly the outside load's change between them (traced in session 11: the
slow puts were the voters waiting for a CPU, as much in the anchor as in the subject).
Each round prints the share of the machine's CPU taken by processes outside the
benchmark meanwhile; then each round's ratio to the anchor's, their median, spread
and confidence interval (``_rounds``), and a verdict against issue 16's 1.2x.

Load from outside the benchmark weighs on both clusters alike, so each figure is
given as the subject's median and its ratio to the anchor's; the leader's extra
CPU per put per learner is (subject - anchor) / learners. At the largest count a
last step stops one learner with SIGSTOP (a host that hangs) and measures again,
with the leader's RSS before and after.

``--core`` measures the leader's part alone, in this process: a ``RawNode``
leading two voters and the learners, its messages encoded and the followers'
answers decoded as the peer transport does, one or eight puts per Ready. On one
2-core machine the learners' processes compete with the leader for the CPU (each
applies every put), so the clusters' figures mix the leader's cost with theirs;
the core's figure is the leader's own.

``--fleet N`` times what a fleet's hosts see: examples/fleet/run.py (copied to a
temporary directory, its ports from a free base) starts three voter agents and N
learner agents, each rendering its own file from its own replica; then each of
``--puts`` puts (one every half second, to voter1) is timed from its
acknowledgement to each learner's file showing the value (``--wait MIN:MAX``
gives the agents a wait window, whose minimum is then the floor; the example has
none, as confd), the files polled by
``os.stat`` every ``POLL_S`` from this process (a file is replaced by rename, so
a new inode or mtime is read). Printed per put: the first, median and last
learner's file; then p50/max over the puts of the median and of the last file,
and each agent's CPU per put (utime + stime above its idle rate, read for
``FLEET_IDLE_S`` before the puts): 23 agents on 2 cores wait for each other.

    python bench/learner_bench.py [--learners 0,1,5,10,20,50] [--seconds 3] [--rounds 2] [--idle-learners]
    python bench/learner_bench.py --learners 50 --learner-cpu 0.5 --judge 8 --seconds 10 [--turn 1] \
        [--group-idle off|on|alternate]
    python bench/learner_bench.py --core [--learners 0,1,10,50] [--rounds 3]
    python bench/learner_bench.py --fleet 20 [--puts 10] [--wait MIN:MAX]

Loopback only; every wait is bounded; every process started is stopped by its pid
(a stopped learner gets SIGCONT first). A benchmark, not a test: it asserts nothing about time.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import _tree  # noqa: F401 - this tree's confagent first
from _common import CLK_TCK, cpu_seconds, drive, put_body, rss_mib
from _cpu_group import CpuGroup, cpu_group
from _rawhttp import RawConnection
from _rounds import spread

from confagent.raft import HardState, Message, MessageType, RaftConfig, RawNode, Role, Snapshot, SnapshotMeta
from confagent.server.peers._peer_codec import FRAME_HEADER, decode_frame, encode_frame, encode_frames
from confagent.testing import (
    ServerProcess,
    b64,
    free_port,
    leader_of,
    post,
    running,
    store_cluster,
    store_process,
    until,
)

__all__ = ["main"]

CONNECTIONS = 8
PACED_PER_S = 100
JOIN_BATCH = 5
"""Learner processes started at once (each reads the leader's snapshot as it joins)."""
JOIN_TIMEOUT_S = 120.0
MAX_LEARNERS = 64
FLEET_EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "fleet"
FLEET_UP_TIMEOUT_S = 300.0
FILE_TIMEOUT_S = 30.0
POLL_S = 0.001
PUT_PAUSE_S = 0.5
FLEET_BASE_TRIES = 5
FLEET_IDLE_S = 3.0
"""How long the fleet's agents' idle CPU is read before the puts, to be taken off their CPU per put."""
P99_BOUND = 1.2
"""Issue 16's target: the voters' p99 with 50 learners (one stalled) within this of none."""
CATCH_UP_TIMEOUT_S = 120.0
LEARNERS_CPU = "learners' CPU % of a core, 100 puts/s"


# -- learners ---------------------------------------------------------------------------------
def _add_learner(leader_url: str, base_dir: Path, name: str) -> ServerProcess:
    """``member add --learner`` on the leader; the joining process, not launched."""
    peer = f"http://127.0.0.1:{free_port()}"
    reply = post(leader_url, "/v3/cluster/member/add", {"peerURLs": [peer], "isLearner": True},
                 timeout_s=10.0)
    if reply.status_code == 503:  # timed out (a loaded machine): it may apply all the same
        until(lambda: any(peer in m["peerURLs"] for m in _listed(leader_url)), "the timed-out addition",
              deadline_s=JOIN_TIMEOUT_S)
    elif reply.status_code != 200:
        raise RuntimeError(f"member add: {reply.status_code} {reply.text}")
    members = _listed(leader_url)
    added = next(m for m in members if peer in m["peerURLs"])
    initial = ",".join(f"{name if m['ID'] == added['ID'] else m['name']}={u}"
                       for m in members for u in m["peerURLs"]
                       if m["ID"] == added["ID"] or m.get("name"))  # not the learners not yet started
    return store_process(f"http://127.0.0.1:{free_port()}", base_dir / name, [
        "--name", name, "--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
        "--initial-cluster", initial, "--initial-cluster-state", "existing",
        "--max-learners", str(MAX_LEARNERS)])


def _listed(url: str) -> list[dict[str, Any]]:
    members: list[dict[str, Any]] = post(url, "/v3/cluster/member/list", {}).json()["members"]
    return members


def _published(leader_url: str, names: set[str]) -> bool:
    return names <= {m.get("name", "") for m in _listed(leader_url)}


def idle(pid: int) -> None:
    """Every thread of ``pid`` at the lowest CPU priority (``SCHED_IDLE``; threads it starts later
    inherit it): it runs only on a core nothing else wants, as if it had a host of its own."""
    for task in Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(ProcessLookupError):  # a thread that ended meanwhile
            os.sched_setscheduler(int(task.name), os.SCHED_IDLE, os.sched_param(0))


def grow(voters: list[ServerProcess], learners: list[ServerProcess], count: int, base_dir: Path, *,
         place: Callable[[int], None] | None = None) -> None:
    """Add learners (``JOIN_BATCH`` at a time) until there are ``count``, each started and published
    (and then given to ``place``, ``idle`` or a CPU group: joining, they catch up at the normal priority)."""
    while len(learners) < count:
        leader = leader_of(voters)
        batch = [_add_learner(leader.url, base_dir, f"l{len(learners) + i}")
                 for i in range(min(JOIN_BATCH, count - len(learners)))]
        learners.extend(batch)
        for learner in batch:
            learner.launch()
        for learner in batch:
            learner.wait_healthy(JOIN_TIMEOUT_S)
        names = {learner.argv[learner.argv.index("--name") + 1] for learner in batch}
        until(lambda url=leader.url, wanted=names: _published(url, wanted), "the learners to publish",
              deadline_s=JOIN_TIMEOUT_S)
        for learner in batch if place else ():
            place(learner.pid)


# -- loads --------------------------------------------------------------------------------------
async def _paced_on(connections: Sequence[RawConnection], seconds: float, latencies: list[float]) -> int:
    """``PACED_PER_S`` puts a second in all, over ``connections`` (open, left open) taking the beats in
    turn (each put sent on its beat, or at once when its connection is late); the puts done."""
    start = time.perf_counter()

    async def beats(n: int, connection: RawConnection) -> int:
        done = 0
        while (now := time.perf_counter()) < start + seconds:
            beat = start + (n + done * CONNECTIONS) / PACED_PER_S
            if beat > now:
                await asyncio.sleep(beat - now)
            sent = time.perf_counter()
            status, body = await connection.post("/v3/kv/put", put_body(n + done * CONNECTIONS))
            latencies.append(time.perf_counter() - sent)
            if status != 200:
                raise RuntimeError(f"put: HTTP {status}: {body[:200]!r}")
            done += 1
        return done

    return sum(await asyncio.gather(*(beats(n, c) for n, c in enumerate(connections))))


def _percentile_ms(latencies: Sequence[float], fraction: float) -> float:
    ordered = sorted(latencies)
    return 1000 * ordered[min(len(ordered) - 1, int(len(ordered) * fraction))]


def loads(voters: list[ServerProcess], seconds: float) -> dict[str, float]:
    leader = leader_of(voters)
    latencies: list[float] = []
    cpu = cpu_seconds(leader.pid)
    puts = asyncio.run(drive([leader.url], "/v3/kv/put", put_body, CONNECTIONS, seconds,
                             latencies=latencies))
    figures = {"put/s, 8 connections": puts / seconds,
               "p50 ms, 8 connections": _percentile_ms(latencies, 0.5),
               "p99 ms, 8 connections": _percentile_ms(latencies, 0.99),
               "leader CPU ms/put, 8 connections": 1000 * (cpu_seconds(leader.pid) - cpu) / puts}
    return figures | paced_load(leader, seconds)


def paced_load(leader: ServerProcess, seconds: float) -> dict[str, float]:
    """100 puts/s on ``leader`` for ``seconds``: latency, the leader's CPU and RSS."""
    turns = _Turns(leader)
    asyncio.run(_interleave([turns], seconds, seconds))
    return turns.figures()


@dataclass
class _Turns:
    """One cluster's share of an interleaved paced load (``interleaved``): its latencies, the puts done,
    and its leader's CPU and the wall time over its own turns only."""

    leader: ServerProcess
    latencies: list[float] = field(default_factory=list)
    done: int = 0
    cpu_s: float = 0.0
    wall_s: float = 0.0

    async def take(self, connections: Sequence[RawConnection], seconds: float) -> None:
        cpu, wall = cpu_seconds(self.leader.pid), time.perf_counter()
        self.done += await _paced_on(connections, seconds, self.latencies)
        self.cpu_s += cpu_seconds(self.leader.pid) - cpu
        self.wall_s += time.perf_counter() - wall

    def figures(self) -> dict[str, float]:
        return {"puts/s done, 100 puts/s asked": self.done / self.wall_s,
                "p50 ms, 100 puts/s": _percentile_ms(self.latencies, 0.5),
                "p99 ms, 100 puts/s": _percentile_ms(self.latencies, 0.99),
                "leader CPU % of a core, 100 puts/s": 100 * self.cpu_s / self.wall_s,
                "leader RSS MiB": rss_mib(self.leader.pid)}


def turn_order(clusters: int, turn: int) -> list[int]:
    """The order the clusters are loaded in ``turn``: rotated turn by turn, so that none is always
    the one loaded right after another."""
    return [(turn + i) % clusters for i in range(clusters)]


async def _interleave(turns: Sequence[_Turns], seconds: float, turn_s: float) -> None:
    """``PACED_PER_S`` on each of ``turns``' leaders for ``seconds`` in all, taking turns of ``turn_s``."""
    connections = [[await RawConnection.open(t.leader.url) for _ in range(CONNECTIONS)] for t in turns]
    try:
        for turn in range(max(1, round(seconds / turn_s))):
            for i in turn_order(len(turns), turn):
                await turns[i].take(connections[i], turn_s)
    finally:
        for connection in (c for some in connections for c in some):
            await connection.close()


def compare(anchor: list[ServerProcess], subject: list[ServerProcess], seconds: float,
            rounds: int) -> dict[str, tuple[float, float]]:
    """Figure -> (subject's median, its ratio to the anchor's median), the two taking turns."""
    samples: dict[str, tuple[list[float], list[float]]] = {}
    for n in range(rounds):
        order = (anchor, subject) if n % 2 == 0 else (subject, anchor)
        for cluster in order:
            for name, value in loads(cluster, seconds).items():
                samples.setdefault(name, ([], []))[cluster is subject].append(value)
    return {name: (statistics.median(ours), statistics.median(ours) / statistics.median(base))
            for name, (base, ours) in samples.items()}


# -- the voters' p99 judged round by round -----------------------------------------------------
def _revision(url: str) -> int:
    """The revision a member has applied (a serializable range: a learner answers it itself)."""
    reply = post(url, "/v3/kv/range", {"key": b64(b"bench/0"), "serializable": True})
    return int(reply.json()["header"]["revision"])


def caught_up(leader: ServerProcess, learners: Sequence[ServerProcess]) -> float:
    """Wait until every one of ``learners`` has applied the leader's revision; the seconds it took."""
    started, target = time.monotonic(), _revision(leader.url)
    until(lambda: all(_revision(learner.url) >= target for learner in learners), "the learners to catch up",
          deadline_s=CATCH_UP_TIMEOUT_S)
    return time.monotonic() - started


def interleaved(anchor: ServerProcess, subject: ServerProcess, seconds: float, turn_s: float,
                accounted: Sequence[int]) -> tuple[dict[str, float], dict[str, float], float]:
    """The anchor's and the subject's leaders at 100 puts/s each for ``seconds``, in turns of ``turn_s``:
    their figures, and the share of the machine's CPU (% of all cores) that no process of ``accounted``
    (nor this one) took meanwhile: what load from outside the benchmark weighed on both alike."""
    runs = (_Turns(anchor), _Turns(subject))
    ours, busy = sum(map(cpu_seconds, accounted)) + time.process_time(), machine_busy_s()
    wall = time.perf_counter()
    asyncio.run(_interleave(runs, seconds, turn_s))
    wall = time.perf_counter() - wall
    ours = sum(map(cpu_seconds, accounted)) + time.process_time() - ours
    outside = 100 * (machine_busy_s() - busy - ours) / (wall * (os.cpu_count() or 1))
    return runs[0].figures(), runs[1].figures(), outside


def machine_busy_s() -> float:
    """CPU time all cores spent busy since boot (``/proc/stat``: all but idle and iowait)."""
    ticks = [int(value) for value in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return (sum(ticks) - ticks[3] - ticks[4]) / CLK_TCK


def _group_idle_in(round_: int, group_idle: str) -> bool:
    """Whether the learners' group is ``cpu.idle`` in round ``round_`` (0-based) under ``--group-idle``."""
    return group_idle == "on" or (group_idle == "alternate" and round_ % 2 == 1)


def judge(anchor: list[ServerProcess], subject: list[ServerProcess], learners: list[ServerProcess],
          seconds: float, turn_s: float, rounds: int, group: CpuGroup | None, group_idle: str) -> None:
    """The voters at 100 puts/s with the learners, all running and one SIGSTOPped, against the anchor's
    taking turns with them, round by round (module docstring); with ``group_idle`` "alternate", each
    case judged apart with the learners' group ``cpu.idle`` and not."""
    cases = ("all running", "one stopped")
    got: dict[str, list[tuple[dict[str, float], dict[str, float]]]] = {}
    for n in range(rounds):
        waited, throttled, line = [], group.throttled_s() if group else 0.0, []
        idle = _group_idle_in(n, group_idle)
        if group:
            group.set_idle(idle)
        suffix = (", group cpu.idle" if idle else ", group not idle") if group_idle == "alternate" else ""
        for case in cases[n % 2:] + cases[:n % 2]:
            waited.append(caught_up(leader_of(subject), learners[1:] if case == "one stopped" else learners))
            with _stopped(learners[0]) if case == "one stopped" else nullcontext():
                ours, theirs, outside = _judged_case(anchor, subject, learners, seconds, turn_s)
            got.setdefault(case + suffix, []).append((ours, theirs))
            p99 = "p99 ms, 100 puts/s"
            line.append(f"{case} {ours[p99]:.1f} (anchor {theirs[p99]:.1f}, outside load {outside:.0f} %)")
        print(f"round {n + 1}{suffix}: load {os.getloadavg()[0]:.1f}, p99 ms " + ", ".join(line)
              + f"; learners' CPU {got['all running' + suffix][-1][0][LEARNERS_CPU]:.0f} % of a core; "
                f"caught up in {max(waited):.1f} s"
              + (f"; throttled {group.throttled_s() - throttled:.1f} s" if group else ""))
    for case, pairs in sorted(got.items()):
        _print_judged(f"{len(learners)} learners, {case}", pairs, len(learners))


def _judged_case(anchor: list[ServerProcess], subject: list[ServerProcess], learners: list[ServerProcess],
                 seconds: float, turn_s: float) -> tuple[dict[str, float], dict[str, float], float]:
    """One case of ``judge``: the subject's figures with the CPU its learners took meanwhile (% of a
    core), the anchor's, and the outside load (``interleaved``)."""
    pids = [learner.pid for learner in learners]
    learners_cpu, wall = sum(map(cpu_seconds, pids)), time.perf_counter()
    everyone = [p.pid for p in anchor + subject] + pids
    theirs, ours, outside = interleaved(leader_of(anchor), leader_of(subject), seconds, turn_s, everyone)
    ours[LEARNERS_CPU] = 100 * (sum(map(cpu_seconds, pids)) - learners_cpu) / (time.perf_counter() - wall)
    return ours, theirs, outside


def _cpu_ms_per_put(figures: dict[str, float]) -> float:
    """The leader's CPU per put at 100 puts/s, in ms, from its share of a core and the puts done."""
    return 10 * figures["leader CPU % of a core, 100 puts/s"] / figures["puts/s done, 100 puts/s asked"]


def _print_judged(title: str, pairs: list[tuple[dict[str, float], dict[str, float]]], learners: int) -> None:
    print(f"\n{title}, over the anchor in the same turns (each round's ratio):")
    for name in ("p99 ms, 100 puts/s", "p50 ms, 100 puts/s", "leader CPU % of a core, 100 puts/s",
                 "leader RSS MiB"):
        ours = [subject[name] for subject, _ in pairs]
        judged = spread(ours, [anchor[name] for _, anchor in pairs])
        verdict = (f"; vs {P99_BOUND}x: {judged.verdict(P99_BOUND, higher_is_better=False)}"
                   if name.startswith("p99") else "")
        print(f"  {name:<36} {statistics.median(ours):8.2f}  {judged.describe()}{verdict}")
    extra = [(_cpu_ms_per_put(subject) - _cpu_ms_per_put(anchor)) / learners for subject, anchor in pairs]
    print(f"  {'leader CPU ms/put per learner':<36} {statistics.median(extra):8.4f}  "
          f"(each round's (subject - anchor) / {learners}: {min(extra):.4f} to {max(extra):.4f})")
    share = [subject[LEARNERS_CPU] for subject, _ in pairs]
    print(f"  learners' CPU, % of a core: median {statistics.median(share):.0f} "
          f"({min(share):.0f}-{max(share):.0f})")


# -- the leader's core alone ---------------------------------------------------------------------
def core_cpu_ms_per_put(learners: int, batch: int, puts: int) -> float:
    """The leader's own work per put, in one process: a RawNode leading voters 2 and 3 and
    ``learners`` learners, ``batch`` proposals per Ready (100-byte values), every Ready's messages
    encoded as the peer transport encodes them (``encode_frames``), every follower's answer decoded
    and stepped. Nothing else runs in it: no learner's process competes for the CPU, and the time
    spent making the followers' answers is left out, so this is the leader's part alone."""
    members = tuple(range(4, 4 + learners))
    config = RaftConfig(node_id=1, voters=(1, 2, 3), learners=members)
    node = RawNode(config, HardState(), None, (), random.Random(1),
                   snapshot_source=lambda: Snapshot(SnapshotMeta()))
    node.campaign()
    for kind in (MessageType.PRE_VOTE_RESPONSE, MessageType.VOTE_RESPONSE):
        node.step(Message(kind, 1, 2, term=1))
    assert node.role is Role.LEADER
    value = b"v" * 100
    started = time.process_time()
    followers_s = 0.0
    done = 0
    while done < puts:
        for _ in range(batch):
            node.propose(value)
        done += batch
        while node.has_ready():
            rd = node.ready()
            encoded = encode_frames(rd.messages)
            node.advance(rd)
            answering = time.process_time()
            answers = [encode_frame(Message(MessageType.APPEND_RESPONSE, 1, m.to, m.term,
                                            index=m.index + len(m.entries)))
                       for m in rd.messages if m.type is MessageType.APPEND]
            followers_s += time.process_time() - answering  # the followers' part, not the leader's
            assert encoded is not None
            for frame in answers:
                answer = decode_frame(frame[FRAME_HEADER.size:])
                assert isinstance(answer, Message)
                node.step(answer)
    return 1000 * (time.process_time() - started - followers_s) / done


def core(counts: Sequence[int], puts: int, rounds: int) -> None:
    print("the leader's core alone: CPU ms per put (median of rounds), and per learner over none")
    for batch in (1, 8):
        medians = {}
        for count in counts:
            medians[count] = statistics.median(core_cpu_ms_per_put(count, batch, puts) for _ in range(rounds))
        for count, value in medians.items():
            extra = (value - medians[counts[0]]) / count if count else 0.0
            print(f"  {batch} put(s) per Ready, {count:3d} learners: {value:.4f} ms/put"
                  f"{f', {extra:.4f} ms/put per learner' if count else ''}")


# -- the run -----------------------------------------------------------------------------------
@contextmanager
def _stopped(process: ServerProcess) -> Iterator[None]:
    os.kill(process.pid, signal.SIGSTOP)
    try:
        yield
    finally:
        os.kill(process.pid, signal.SIGCONT)


def _print(title: str, figures: dict[str, tuple[float, float]], anchor_cpu: float | None,
           learners: int) -> None:
    print(f"\n{title}")
    for name, (value, ratio) in figures.items():
        print(f"  {name:<38} {value:9.3f}   {ratio:5.2f}x the anchor's")
    if anchor_cpu is not None and learners:
        value, ratio = figures["leader CPU ms/put, 8 connections"]
        extra = (value - value / ratio) / learners
        print(f"  {'leader CPU ms/put per learner':<38} {extra:9.4f}")


# -- the fleet example: put -> files ---------------------------------------------------------


@contextmanager
def _fleet(tmp: Path, learners: int, wait: str) -> Iterator[tuple[str, list[Path]]]:
    """examples/fleet copied into ``tmp`` and running: voter1's client URL and the learners' files."""
    example = tmp / "fleet"
    shutil.copytree(FLEET_EXAMPLE, example, ignore=shutil.ignore_patterns("voter*", "learner*", "run.pid"))
    log = tmp / "fleet.log"
    runner, base = _start_fleet(example, log, learners, wait)
    try:
        assert runner.poll() is None, log.read_text()
        print(log.read_text().splitlines()[0])
        yield f"http://127.0.0.1:{base}", [example / f"learner{n:02d}/out/app.conf"
                                           for n in range(1, learners + 1)]
    finally:
        runner.terminate()
        runner.wait(60)


def _start_fleet(example: Path, log: Path, learners: int, wait: str) -> tuple[subprocess.Popen[bytes], int]:
    """run.py running the fleet (or ended: its log says why), and its base port. The base is one free
    port and the fleet takes two per host above it: while run.py finds one of them taken (it looks
    before it starts anything) another base is tried, ``FLEET_BASE_TRIES`` in all."""
    for _ in range(FLEET_BASE_TRIES):
        base = free_port()
        with log.open("wb") as sink:
            runner = subprocess.Popen([sys.executable, str(example / "run.py"), "--learners", str(learners),
                                       "--base", f"127.0.0.1:{base}", "--wait", wait],
                                      stdout=sink, stderr=subprocess.STDOUT)
        until(partial(_up_or_ended, runner, log), "the fleet up", log, deadline_s=FLEET_UP_TIMEOUT_S)
        if runner.poll() is None or "is taken" not in log.read_text():
            return runner, base
    raise AssertionError(f"no free ports for the fleet in {FLEET_BASE_TRIES} tries: {log.read_text()}")


def _up_or_ended(runner: subprocess.Popen[bytes], log: Path) -> bool:
    return "agents rendering" in log.read_text() or runner.poll() is not None


def _seen_after(files: list[Path], value: str, acknowledged: float) -> list[float]:
    """Seconds from ``acknowledged`` until each file shows ``value`` (stat polled every ``POLL_S``)."""
    seen: dict[Path, float] = {}
    stats: dict[Path, tuple[int, int]] = {}
    deadline = acknowledged + FILE_TIMEOUT_S
    while len(seen) < len(files):
        assert time.monotonic() < deadline, f"files without {value}: {sorted(set(files) - set(seen))}"
        for path in files:
            if path in seen:
                continue
            stat = path.stat()
            if stats.get(path) != (stat.st_ino, stat.st_mtime_ns):
                stats[path] = (stat.st_ino, stat.st_mtime_ns)
                if value in path.read_text():
                    seen[path] = time.monotonic() - acknowledged
        time.sleep(POLL_S)
    return sorted(seen.values())


def _agents_cpu_s(hosts: list[Path]) -> dict[str, float]:
    """Each host's agent's CPU time so far (utime + stime), by host name."""
    return {host.name: cpu_seconds(int((host / "agent.pid").read_text())) for host in hosts}


def fleet(learners: int, puts: int, wait: str) -> None:
    """Put -> each learner agent's file, over ``puts`` puts (see the module's docstring)."""
    print(f"load average at the start: {os.getloadavg()[0]:.1f}")
    medians: list[float] = []
    lasts: list[float] = []
    polling_cpu_s = polling_s = 0.0
    with tempfile.TemporaryDirectory(prefix="confagent-fleet-bench-") as tmp, \
            _fleet(Path(tmp), learners, wait) as (url, files):
        hosts = sorted(path.parent for path in files[0].parents[2].glob("*/agent.pid"))
        before = _agents_cpu_s(hosts)
        time.sleep(FLEET_IDLE_S)
        idle = _agents_cpu_s(hosts)
        started = time.monotonic()
        for n in range(puts):
            value = f"10.0.{n}.{random.randrange(1, 255)}:80"
            answer = post(url, "/v3/kv/put", {"key": b64(f"/app/upstreams/bench{n}".encode()),
                                              "value": b64(value.encode())})
            acknowledged = time.monotonic()
            assert answer.status_code == 200, answer.text
            cpu_before = time.process_time()
            times = _seen_after(files, value, acknowledged)
            polling_cpu_s += time.process_time() - cpu_before
            polling_s += time.monotonic() - acknowledged
            medians.append(statistics.median(times))
            lasts.append(times[-1])
            print(f"put {n + 1}: ack -> file first {times[0] * 1e3:6.1f} ms, "
                  f"median {medians[-1] * 1e3:6.1f} ms, {len(times)}th {lasts[-1] * 1e3:6.1f} ms "
                  f"(load {os.getloadavg()[0]:.1f})")
            time.sleep(PUT_PAUSE_S)
        after, spent_s = _agents_cpu_s(hosts), time.monotonic() - started
    per_put_ms = {name: (after[name] - idle[name] - (idle[name] - before[name]) * spent_s / FLEET_IDLE_S)
                  * 1e3 / puts for name in after}
    learner_ms = sorted(ms for name, ms in per_put_ms.items() if name.startswith("learner"))
    print(f"{learners} learner agents, {puts} puts: "
          f"median file p50 {statistics.median(medians) * 1e3:.1f} ms, max {max(medians) * 1e3:.1f} ms; "
          f"last file p50 {statistics.median(lasts) * 1e3:.1f} ms, "
          f"max {max(lasts) * 1e3:.1f} ms (load average {os.getloadavg()[0]:.1f} at the end)")
    print(f"this process while polling the files: {polling_cpu_s / polling_s:.0%} of a core")
    print(f"agents' CPU per put above their idle ({FLEET_IDLE_S:g} s measured before the puts): learner "
          f"median {statistics.median(learner_ms):.1f} ms (max {learner_ms[-1]:.1f}), all learners "
          f"{sum(learner_ms):.0f} ms; voters " + ", ".join(
              f"{per_put_ms[name]:.1f}" for name in sorted(per_put_ms) if name.startswith("voter")) + " ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--learners", default="0,1,5,10,20,50", help="learner counts, ascending")
    parser.add_argument("--seconds", type=float, default=3.0, help="length of each load run")
    parser.add_argument("--rounds", type=int, default=2, help="turns of each cluster per count")
    parser.add_argument("--core", action="store_true",
                        help="measure the leader's core alone, in this process (no cluster)")
    parser.add_argument("--idle-learners", action="store_true",
                        help="run each joined learner at the lowest CPU priority (SCHED_IDLE), its data "
                             "in /dev/shm, as on hosts of their own")
    parser.add_argument("--learner-cpu", type=float, metavar="CORES",
                        help="hold the joined learners to CORES of CPU in a cgroup at the least weight, "
                             "their data in /dev/shm (the voters keep their CPU)")
    parser.add_argument("--judge", type=int, default=0, metavar="N",
                        help="at the largest count, N rounds judging the voters' p99 at 100 puts/s with the "
                             "learners (all running, one SIGSTOPped) against the anchor")
    parser.add_argument("--turn", type=float, default=1.0, metavar="SECONDS",
                        help="with --judge: the anchor and the subject take turns this long within each "
                             "--seconds (--turn equal to --seconds: one turn each)")
    parser.add_argument("--group-idle", choices=("off", "on", "alternate"), default="on",
                        help="with --learner-cpu: the learners' group cpu.idle (on, the default), not (off), "
                             "or every other --judge round (alternate, each setting judged apart)")
    parser.add_argument("--fleet", type=int, metavar="N",
                        help="time put -> file across the fleet example with N learner agents")
    parser.add_argument("--puts", type=int, default=10, help="puts timed with --fleet")
    parser.add_argument("--wait", default="", help="the fleet's agents' wait window, MIN:MAX "
                                                  "(default: none, as the example)")
    args = parser.parse_args()
    if args.fleet:
        fleet(args.fleet, args.puts, args.wait)
        return
    counts = [int(c) for c in args.learners.split(",")]
    if args.core:
        core(counts, 2000, args.rounds)
        return
    priority = ("at SCHED_IDLE once joined, data in /dev/shm" if args.idle_learners else
                f"held to {args.learner_cpu:g} cores at the least weight once joined, data in /dev/shm"
                if args.learner_cpu else "as the voters")
    print(f"load average at the start: {os.getloadavg()[0]:.1f}; learners {priority}")
    cluster_args = ("--max-learners", str(MAX_LEARNERS))
    shm = args.idle_learners or args.learner_cpu
    group_made = cpu_group(args.learner_cpu) if args.learner_cpu else nullcontext()
    with tempfile.TemporaryDirectory(prefix="confagent-learner-bench-") as tmp, \
            tempfile.TemporaryDirectory(prefix="confagent-learner-bench-",
                                        dir="/dev/shm" if shm else None) as learners_dir, \
            group_made as group, \
            running(store_cluster(Path(tmp) / "anchor", 3, args=cluster_args)) as anchor, \
            running(store_cluster(Path(tmp) / "subject", 3, args=cluster_args)) as subject:
        learners: list[ServerProcess] = []
        place = idle if args.idle_learners else group.add if group else None
        if group:
            group.set_idle(args.group_idle == "on")  # ``judge`` switches it round by round if "alternate"
        try:
            for count in counts:
                grow(subject, learners, count, Path(learners_dir), place=place)
                if args.judge:
                    continue
                figures = compare(anchor, subject, args.seconds, args.rounds)
                _print(f"{count} learners (load {os.getloadavg()[0]:.1f})", figures, 1.0, count)
            if args.judge:
                judge(anchor, subject, learners, args.seconds, args.turn, args.judge, group, args.group_idle)
            elif learners:
                with _stopped(learners[0]):
                    figures = compare(anchor, subject, args.seconds, args.rounds)
                    title = f"{len(learners)} learners, one stopped by SIGSTOP"
                    _print(f"{title} (load {os.getloadavg()[0]:.1f})", figures, 1.0, len(learners))
        finally:
            for learner in learners:
                learner.stop()
    what = f"{args.judge} rounds" if args.judge else f"medians of {args.rounds} turns"
    print(f"\n({what} of {args.seconds:g} s per load and cluster; "
          f"load average {os.getloadavg()[0]:.1f} at the end)")


if __name__ == "__main__":
    main()
