"""etcd's gRPC API: the embedded store against a real etcd 3.4, the same Python gRPC client (grpcio).

Prints each figure for both servers and confagent's ratio to etcd: put
throughput and latency with 1 client, put throughput with 16 clients (2
processes of 8 channels: one Python process cannot drive 16 alone), server
CPU per put, range throughput with 16 clients, watch delivery latency (put
sent -> event received on a Watch stream); with ``--fsync-waits``, each server's log fsyncs
during its 1-client puts cut into the time blocked on the disk and the time woken and waiting
for a CPU (``_fsync_waits``: perf's tracepoints, root only; the traced figures carry perf's
cost); then ``etcdctl check perf`` with
each ``--load`` asked for against both (pass or fail, writes/s, and server
CPU per put over the run, the puts counted from the revision).

Fair on a shared machine: the servers are started once and measured in
alternating rounds (``--rounds``, 10 by default): in each round every group of
figures (``--only``: put1, put16, range, watch) is measured on each server in
turn, back to back, so a load that shifts during the run falls on all and each
round's measurements of a figure share its load. The rounds' orders are
``_rounds.orders`` (its rule 5): with two servers etcd then confagent, then
confagent then etcd; with three (``--base``) all six orders, chained, so over
6 rounds each server is measured in each place twice and after each other
server equally often. A rotation of three (session 11's) measured confagent
after etcd in two rounds of three and the base in one; an A/A run of it (the
base the same tree) read confagent 0.95x in 1-client put/s. With two servers
the flip was already balanced: an even number of rounds puts each first as
often. Odd rounds (or, with ``--base``, not a multiple of 6) leave the orders
unbalanced by one round: the count is printed with the orders. The median of
each figure's rounds and the ratio of the two medians are printed, every
round's figures and the load average as each round began; then each figure's
ratio round by round (``_rounds``): the median of the rounds' ratios, their
interquartile range, the distribution-free confidence interval of that median
with its coverage, and how many rounds were at or above 1.0x; issue 12's
targets (put/s with 1 and 16 clients >= 1.0x, put p50 <= 1.0x) are judged on
that interval: met, not met, or not resolved by the rounds. ``--base TREE``
measures a store of another checkout (before a change) in the same rounds,
and prints confagent's ratios to it as well. ``check perf`` runs once per
server after the rounds (a run takes a minute or more).

What a server follows matters. In two A/A runs (``--only put1``, 30 rounds of
1.5 s, load 15-26; the base the same commit) a store measured right after
etcd read 0.78-0.90x the other copy's 1-client put/s and 1.03-1.14x its CPU
per put, and one measured right after itself (first in a round, the last of
the round before) 1.03-1.33x: every server read its best first in a round.
Balanced orders share these effects out evenly. ``--settle`` (0.5 s by
default, after a ``sync``) lets the last server's leftover work (its batched
writes, the disk's writeback) end before the next turn: the A/A run with it
read CPU per put 1.007x (95 % CI 0.967-1.048) and put/s 0.975x (0.902-1.199),
the one without 1.023x (0.945-1.103) and 0.932x (0.787-1.275) (two runs
minutes apart, not one A/B). Both stores are started alike, each with its
tree's environment (``_tree.tree_env``; this tree's store was started without
``PYTHONSAFEPATH``).

Every client is one gRPC channel (one HTTP/2 connection) making one call at a
time, as ``etcdctl check perf``'s clients are. Puts cycle over 50,000 keys of
100-byte values; a range reads one key, linearizably.

    python bench/grpc_bench.py [--seconds 5] [--rounds 10] [--only put1,put16,range,watch]
                               [--check-perf s,m,l] [--base TREE] [--settle 0.5] [--fsync-waits]

confagent's side is ``confagent store`` with its defaults (as store_bench
starts it): gRPC and the JSON gateway on its one client URL. A benchmark, not
a test: it asserts nothing about time.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import re
import shutil
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass
from functools import partial
from multiprocessing.synchronize import Barrier
from pathlib import Path

import _tree  # this tree's confagent first
import grpc
from _common import PUT_KEYS, Figures, cpu_seconds, in_processes, report
from _fsync_waits import Recording, fsync_waits
from _rounds import orders, spread

from confagent.testing import ServerProcess, free_port, start_etcd, store_process
from confagent.wire._pb import rpc_pb2 as pb  # a client's messages: the generated ones, as any client's

PUT = "/etcdserverpb.KV/Put"
RANGE = "/etcdserverpb.KV/Range"
WATCH = "/etcdserverpb.Watch/Watch"
VALUE = b"v" * 100
CHANNEL_OPTIONS = [("grpc.use_local_subchannel_pool", 1)]
"""Each channel its own connection: by default grpcio shares one among channels to the same address."""
START_TIMEOUT_S = 60.0
"""How long a load process waits for the others to connect before its clock starts (``run_load``)."""
CHECK_PERF_TIMEOUT_S = 180
"""A ``check perf`` run takes 60 s, then deletes what it wrote."""


@dataclass(frozen=True, slots=True)
class Target:
    """A server under test: where its gRPC API listens and which process to account CPU to."""

    kind: str
    address: str
    pid: int


def _channel(address: str) -> grpc.aio.Channel:
    return grpc.aio.insecure_channel(address, options=CHANNEL_OPTIONS)


def _request(method: str, i: int) -> bytes:
    if method == PUT:
        return pb.PutRequest(key=b"bench/%d" % (i % PUT_KEYS), value=VALUE).SerializeToString()
    return pb.RangeRequest(key=b"bench/1").SerializeToString()


# -- the load ---------------------------------------------------------------------------------
async def drive(address: str, method: str, clients: int, seconds: float, *, first_client: int = 0,
                latencies: list[float] | None = None, ready: Callable[[], object] | None = None) -> int:
    """``clients`` channels, each making one ``method`` call at a time for ``seconds``; the calls done.
    ``ready`` is called once every channel is connected, before the clock starts (a barrier)."""
    channels = [_channel(address) for _ in range(clients)]
    calls = [channel.unary_unary(method) for channel in channels]
    for call in calls:  # connected before the clock starts
        await call(_request(method, 0))
    if ready is not None:
        ready()
    deadline = time.perf_counter() + seconds
    done = 0

    async def client(n: int, call: grpc.aio.UnaryUnaryMultiCallable) -> None:
        nonlocal done
        i = n * 10_000_000
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            await call(_request(method, i))
            if latencies is not None:
                latencies.append(time.perf_counter() - started)
            i += 1
            done += 1

    await asyncio.gather(*(client(first_client + k, call) for k, call in enumerate(calls)))
    for channel in channels:
        await channel.close()
    return done


def _drive_process(address: str, method: str, clients: int, first_client: int, seconds: float,
                   start: Barrier, out: multiprocessing.Queue[int]) -> None:
    ready = partial(start.wait, START_TIMEOUT_S)
    out.put(asyncio.run(drive(address, method, clients, seconds, first_client=first_client, ready=ready)))


def run_load(address: str, method: str, processes: int, clients: int, seconds: float) -> int:
    """:func:`drive` in ``processes`` processes of ``clients`` channels each, at once: their clocks start
    together, once every process has imported grpc and connected its channels; the calls done."""
    start = multiprocessing.get_context("spawn").Barrier(processes)
    args = [(address, method, clients, p * clients, seconds, start) for p in range(processes)]
    return sum(in_processes(_drive_process, args, seconds + 60))


async def watch_latency(address: str, samples: int) -> list[float]:
    """Put a key, time until the Watch stream delivers its event; one at a time."""
    watch_channel, put_channel = _channel(address), _channel(address)
    stream = watch_channel.stream_stream(WATCH, request_serializer=pb.WatchRequest.SerializeToString,
                                         response_deserializer=pb.WatchResponse.FromString)()
    put = put_channel.unary_unary(PUT, request_serializer=pb.PutRequest.SerializeToString)
    await stream.write(pb.WatchRequest(create_request=pb.WatchCreateRequest(key=b"watched")))
    assert (await stream.read()).created
    await put(pb.PutRequest(key=b"unwatched"))  # the put channel connected
    latencies: list[float] = []
    for i in range(samples):
        started = time.perf_counter()
        reply = asyncio.ensure_future(put(pb.PutRequest(key=b"watched", value=b"%d" % i)))
        while not (await stream.read()).events:
            pass
        latencies.append(time.perf_counter() - started)
        await reply
    stream.cancel()
    await watch_channel.close()
    await put_channel.close()
    return latencies


async def revision(address: str) -> int:
    async with _channel(address) as channel:
        reply = await channel.unary_unary(RANGE, response_deserializer=pb.RangeResponse.FromString)(
            pb.RangeRequest(key=b"bench/1").SerializeToString())
        return int(reply.header.revision)


# -- etcdctl check perf -----------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class CheckPerf:
    """One ``etcdctl check perf`` run: its verdict, the writes/s it printed, server CPU per put."""

    passed: bool
    writes_per_s: float
    cpu_ms_per_put: float
    output: str


def check_perf(target: Target, load: str) -> CheckPerf:
    etcdctl = shutil.which("etcdctl") or "/usr/bin/etcdctl"
    before, cpu_before = asyncio.run(revision(target.address)), cpu_seconds(target.pid)
    done = subprocess.run([etcdctl, "--endpoints", target.address, "check", "perf", "--load", load],
                          capture_output=True, text=True, timeout=CHECK_PERF_TIMEOUT_S,
                          env={**os.environ, "ETCDCTL_API": "3"}, check=False)
    cpu = cpu_seconds(target.pid) - cpu_before
    puts = max(1, asyncio.run(revision(target.address)) - before - 1)  # its delete is one revision more
    output = done.stdout + done.stderr
    found = re.search(r"Throughput (?:is|too low:) (\d+) writes/s", output)
    return CheckPerf(done.returncode == 0 and "\nPASS\n" in output + "\n",
                     float(found.group(1)) if found else 0.0, 1000 * cpu / puts, output)


# -- one server's figures ---------------------------------------------------------------------
def _put_one(target: Target, seconds: float, trace_to: Path | None = None) -> dict[str, float]:
    """The 1-client puts' figures; with ``trace_to``, their log fsyncs' parts too (``_fsync_waits``)."""
    latencies: list[float] = []
    with ExitStack() as tracing:
        if trace_to is not None:
            tracing.enter_context(Recording(trace_to))
        cpu_before = cpu_seconds(target.pid)
        puts = asyncio.run(drive(target.address, PUT, 1, seconds, latencies=latencies))
        cpu = cpu_seconds(target.pid) - cpu_before
    ordered = sorted(latencies)
    fsyncs = {} if trace_to is None else fsync_waits(trace_to, target.pid).figures()
    return {**fsyncs, "put/s, 1 client": puts / seconds,
            "put latency p50 ms": 1000 * ordered[len(ordered) // 2],
            "put latency p99 ms": 1000 * ordered[int(len(ordered) * 0.99)],
            "server CPU ms / put, 1 client": 1000 * cpu / (puts + 1)}  # and the call that connected


def _put_sixteen(target: Target, seconds: float) -> dict[str, float]:
    cpu_before = cpu_seconds(target.pid)
    puts = run_load(target.address, PUT, 2, 8, seconds)
    return {"put/s, 16 clients": puts / seconds,
            "server CPU ms / put, 16 clients": 1000 * (cpu_seconds(target.pid) - cpu_before) / puts}


def _ranges(target: Target, seconds: float) -> dict[str, float]:
    return {"range/s, 16 clients": run_load(target.address, RANGE, 2, 8, seconds) / seconds}


def _watch(target: Target, seconds: float) -> dict[str, float]:
    watch = sorted(asyncio.run(watch_latency(target.address, 300)))
    return {"watch latency p50 ms": 1000 * watch[len(watch) // 2],
            "watch latency p99 ms": 1000 * watch[int(len(watch) * 0.99)]}


Measure = Callable[[Target, float], dict[str, float]]
"""A group of figures, measured on one server for some seconds."""
GROUPS: dict[str, Measure] = {
    "put1": _put_one, "put16": _put_sixteen, "range": _ranges, "watch": _watch}
"""The figures, by group (``--only``); a round measures each group on every server back to back."""
TARGETS = (("put/s, 1 client", True), ("put latency p50 ms", False), ("put/s, 16 clients", True))
"""Issue 12's targets: each figure at parity with etcd's or better (True: higher is better)."""


@dataclass
class Rounds:
    """Every round's figures of each server, the load average (1 minute) as each round began, and the order
    each round measured the servers in."""

    figures: dict[str, list[Figures]]
    loads: list[float]
    orders: list[tuple[str, ...]]


def alternate(targets: dict[str, Target], groups: dict[str, Measure], seconds: float, rounds: int,
              settle_s: float = 0.0) -> Rounds:
    """``rounds`` rounds; in each, every group measured on each target in turn, in the round's order of
    ``_rounds.orders`` (rule 5: each target in each place, and after each other, equally often), so the
    measurements a round's ratio compares are taken one after the other; before each, the disks' dirty
    pages written (``sync``) and ``settle_s`` seconds for the work the last target left behind."""
    kinds = list(targets)
    chain = orders(len(kinds))
    out = Rounds({kind: [Figures() for _ in range(rounds)] for kind in kinds}, [], [])
    for n in range(rounds):
        out.loads.append(os.getloadavg()[0])
        out.orders.append(tuple(kinds[i] for i in chain[n % len(chain)]))
        for measure in groups.values():
            for kind in out.orders[-1]:
                os.sync()
                time.sleep(settle_s)
                out.figures[kind][n].values.update(measure(targets[kind], seconds))
    return out


def median(rounds: list[Figures]) -> Figures:
    """Each figure's median over ``rounds``."""
    return Figures({name: statistics.median(one.values[name] for one in rounds) for name in rounds[0].values})


def _rounds_table(rounds: Rounds) -> str:
    results = rounds.figures
    width = max(28, 7 * len(rounds.loads))
    lines = [f"{'figure, each round':40} " + "  ".join(f"{kind:>{width}}" for kind in results)]
    for name in results["etcd"][0].values:
        cells = ["/".join(f"{one.values[name]:.3f}" for one in results[kind]) for kind in results]
        lines.append(f"{name:40} " + "  ".join(f"{cell:>{width}}" for cell in cells))
    began = "/".join(f"{load:.2f}" for load in rounds.loads)
    lines.append(f"{'load average as each round began':40} {began}")
    cycle = len(orders(len(results)))
    unbalanced = f" (not balanced: rounds not a multiple of {cycle})" if len(rounds.loads) % cycle else ""
    lines.append(f"{'order of each round':40} " + "/".join(",".join(order) for order in rounds.orders)
                 + unbalanced)
    return "\n".join(lines)


def _spreads(rounds: Rounds, ours: str, theirs: str) -> str:
    """Each figure's per-round ratios ``ours`` / ``theirs`` (``_rounds``); then issue 12's targets."""
    mine, other = rounds.figures[ours], rounds.figures[theirs]
    lines = [f"{ours} / {theirs}, round by round:"]
    spreads = {}
    for name in other[0].values:
        spreads[name] = spread([one.values[name] for one in mine], [one.values[name] for one in other])
        lines.append(f"  {name:40} {spreads[name].describe()}")
    for name, higher in TARGETS:
        if name in spreads:
            verdict = spreads[name].verdict(1.0, higher_is_better=higher)
            lines.append(f"  target {name} {'>=' if higher else '<='} 1.0x: {verdict}")
    return "\n".join(lines)


def _check_perf_all(targets: dict[str, Target], loads: list[str]) -> None:
    checks = {kind: {load: check_perf(target, load) for load in loads} for kind, target in targets.items()}
    for kind, mine in checks.items():
        if kind != "etcd":
            print(f"{kind}:")
            print(report(_check_figures(checks["etcd"]), _check_figures(mine)))
            print(_verdicts(checks, kind))


def _verdicts(checks: dict[str, dict[str, CheckPerf]], ours: str) -> str:
    lines = []
    for load in checks["etcd"]:
        mine, theirs = checks[ours][load], checks["etcd"][load]
        lines.append(f"check perf --load {load}: etcd {'PASS' if theirs.passed else 'FAIL'}, "
                     f"{ours} {'PASS' if mine.passed else 'FAIL'}")
        for kind, result in (("etcd", theirs), (ours, mine)):
            if not result.passed:
                lines.append(f"  {kind}: " + " | ".join(result.output.strip().splitlines()[-6:]))
    return "\n".join(lines)


def _start_servers(tmp: Path, servers: ExitStack, base: Path | None) -> dict[str, Target]:
    """etcd, this tree's store and, with ``base``, that tree's: each started once, stopped at exit."""
    started: dict[str, ServerProcess] = {"etcd": start_etcd(tmp / "etcd")}
    servers.callback(started["etcd"].stop)
    trees = {"confagent": _tree.ROOT} | ({} if base is None else {"base": base})
    for kind, tree in trees.items():  # the same way: a store's environment names its tree (tree_env)
        server = store_process(f"http://127.0.0.1:{free_port()}", tmp / kind,
                               ["--name", "test", "--listen-peer-urls", f"http://127.0.0.1:{free_port()}"])
        server.extra_env.update(_tree.tree_env(tree))
        started[kind] = server.start()
        servers.callback(server.stop)
    return {kind: Target(kind, server.url.removeprefix("http://"), server.pid)
            for kind, server in started.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="each figure's run in a round")
    parser.add_argument("--rounds", type=int, default=10, help="alternating rounds of every figure")
    parser.add_argument("--only", default=",".join(GROUPS), help="comma-separated groups of figures: "
                        + ", ".join(GROUPS))
    parser.add_argument("--settle", type=float, default=0.5, help="seconds between turns, after a sync")
    parser.add_argument("--check-perf", default="s,m,l", help="comma-separated loads; empty for none")
    parser.add_argument("--base", type=Path, help="another checkout whose store is measured in the same "
                        "rounds (before and after a change): confagent's ratios to it are printed too")
    parser.add_argument("--fsync-waits", action="store_true", help="trace each server's log fsyncs during "
                        "its 1-client puts: blocked on the disk, waiting for a CPU (perf, as root)")
    args = parser.parse_args()
    loads = [load for load in args.check_perf.split(",") if load]
    groups = [group for group in args.only.split(",") if group]
    if unknown := set(groups) - set(GROUPS):
        parser.error(f"unknown groups: {', '.join(sorted(unknown))}")
    if args.fsync_waits and not shutil.which("perf"):
        parser.error("--fsync-waits needs perf (Debian's linux-perf)")
    with tempfile.TemporaryDirectory(prefix="confagent-grpc-bench-") as tmp, ExitStack() as servers:
        targets = _start_servers(Path(tmp), servers, args.base)
        print(f"load average at the start: {os.getloadavg()[0]:.2f}")
        measures: dict[str, Measure] = {group: GROUPS[group] for group in groups}
        if args.fsync_waits and "put1" in measures:
            measures["put1"] = partial(_put_one, trace_to=Path(tmp) / "fsyncs.perf")
        rounds = alternate(targets, measures, args.seconds, args.rounds, args.settle)
        print(_rounds_table(rounds))
        for kind in targets:
            if kind != "etcd":
                print(f"medians of the rounds, {kind} against etcd:")
                print(report(median(rounds.figures["etcd"]), median(rounds.figures[kind])))
                print(_spreads(rounds, kind, "etcd"))
        if "base" in targets:
            print(_spreads(rounds, "confagent", "base"))
        if loads:
            _check_perf_all(targets, loads)
        print(f"load average at the end: {os.getloadavg()[0]:.2f}")


def _check_figures(checks: dict[str, CheckPerf]) -> Figures:
    figures = Figures()
    for load, result in checks.items():
        figures.values[f"check perf {load}: writes/s"] = result.writes_per_s
        figures.values[f"check perf {load}: server CPU ms / put"] = result.cpu_ms_per_put
    return figures


if __name__ == "__main__":
    main()

