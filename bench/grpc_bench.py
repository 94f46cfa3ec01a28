"""etcd's gRPC API: the embedded store against a real etcd 3.4, the same Python gRPC client (grpcio).

Prints each figure for both servers and confagent's ratio to etcd: put
throughput and latency with 1 client, put throughput with 16 clients (2
processes of 8 channels: one Python process cannot drive 16 alone), server
CPU per put, range throughput with 16 clients, watch delivery latency (put
sent -> event received on a Watch stream); then ``etcdctl check perf`` with
each ``--load`` asked for against both (pass or fail, writes/s, and server
CPU per put over the run, the puts counted from the revision).

Fair on a shared machine: both servers are started once and measured in
alternating rounds (``--rounds``, 3 by default: etcd then confagent, then
confagent then etcd, ...), so a load that shifts during the run falls on
both. Each figure is the median of its rounds, and the ratio is the ratio of
the two medians; every round's figures are printed too. ``check perf`` runs
once per server after the rounds (a run takes a minute or more).

Every client is one gRPC channel (one HTTP/2 connection) making one call at a
time, as ``etcdctl check perf``'s clients are. Puts cycle over 50,000 keys of
100-byte values; a range reads one key, linearizably.

    python bench/grpc_bench.py [--seconds 5] [--rounds 3] [--check-perf s,m,l]

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
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import _tree  # noqa: F401 - this tree's confagent first
import grpc
from _common import PUT_KEYS, Figures, cpu_seconds, in_processes, report

from confagent.testing import start_etcd, start_store
from confagent.wire._pb import rpc_pb2 as pb  # a client's messages: the generated ones, as any client's

PUT = "/etcdserverpb.KV/Put"
RANGE = "/etcdserverpb.KV/Range"
WATCH = "/etcdserverpb.Watch/Watch"
VALUE = b"v" * 100
CHANNEL_OPTIONS = [("grpc.use_local_subchannel_pool", 1)]
"""Each channel its own connection: by default grpcio shares one among channels to the same address."""
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
                latencies: list[float] | None = None) -> int:
    """``clients`` channels, each making one ``method`` call at a time for ``seconds``; the calls done."""
    channels = [_channel(address) for _ in range(clients)]
    calls = [channel.unary_unary(method) for channel in channels]
    for call in calls:  # connected before the clock starts
        await call(_request(method, 0))
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
                   out: multiprocessing.Queue[int]) -> None:
    out.put(asyncio.run(drive(address, method, clients, seconds, first_client=first_client)))


def run_load(address: str, method: str, processes: int, clients: int, seconds: float) -> int:
    """:func:`drive` in ``processes`` processes of ``clients`` channels each, at once; the calls done."""
    args = [(address, method, clients, p * clients, seconds) for p in range(processes)]
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
def measure(target: Target, seconds: float) -> Figures:
    """One round of every figure but ``check perf`` on ``target``."""
    figures = Figures()
    latencies: list[float] = []
    puts = asyncio.run(drive(target.address, PUT, 1, seconds, latencies=latencies))
    figures.values["put/s, 1 client"] = puts / seconds
    ordered = sorted(latencies)
    figures.values["put latency p50 ms"] = 1000 * ordered[len(ordered) // 2]
    figures.values["put latency p99 ms"] = 1000 * ordered[int(len(ordered) * 0.99)]
    cpu_before = cpu_seconds(target.pid)
    puts = run_load(target.address, PUT, 2, 8, seconds)
    figures.values["put/s, 16 clients"] = puts / seconds
    figures.values["server CPU ms / put, 16 clients"] = 1000 * (cpu_seconds(target.pid) - cpu_before) / puts
    figures.values["range/s, 16 clients"] = run_load(target.address, RANGE, 2, 8, seconds) / seconds
    watch = sorted(asyncio.run(watch_latency(target.address, 300)))
    figures.values["watch latency p50 ms"] = 1000 * watch[len(watch) // 2]
    figures.values["watch latency p99 ms"] = 1000 * watch[int(len(watch) * 0.99)]
    return figures


def median(rounds: list[Figures]) -> Figures:
    """Each figure's median over ``rounds``."""
    return Figures({name: statistics.median(one.values[name] for one in rounds) for name in rounds[0].values})


def alternate(targets: dict[str, Target], seconds: float, rounds: int) -> dict[str, list[Figures]]:
    """``rounds`` rounds of :func:`measure` on each target, the order flipped each round."""
    kinds = list(targets)
    results: dict[str, list[Figures]] = {kind: [] for kind in kinds}
    for n in range(rounds):
        for kind in kinds if n % 2 == 0 else kinds[::-1]:
            results[kind].append(measure(targets[kind], seconds))
    return results


def _rounds_table(results: dict[str, list[Figures]]) -> str:
    names = list(results["etcd"][0].values)
    lines = [f"{'figure, each round':40} " + "  ".join(f"{kind:>28}" for kind in results)]
    for name in names:
        cells = ["/".join(f"{one.values[name]:.3f}" for one in results[kind]) for kind in results]
        lines.append(f"{name:40} " + "  ".join(f"{cell:>28}" for cell in cells))
    return "\n".join(lines)


def _verdicts(checks: dict[str, dict[str, CheckPerf]]) -> str:
    lines = []
    for load in checks["etcd"]:
        mine, theirs = checks["confagent"][load], checks["etcd"][load]
        lines.append(f"check perf --load {load}: etcd {'PASS' if theirs.passed else 'FAIL'}, "
                     f"confagent {'PASS' if mine.passed else 'FAIL'}")
        for kind, result in (("etcd", theirs), ("confagent", mine)):
            if not result.passed:
                lines.append(f"  {kind}: " + " | ".join(result.output.strip().splitlines()[-6:]))
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds of every figure")
    parser.add_argument("--check-perf", default="s,m,l", help="comma-separated loads; empty for none")
    args = parser.parse_args()
    loads = [load for load in args.check_perf.split(",") if load]
    with tempfile.TemporaryDirectory(prefix="confagent-grpc-bench-") as tmp, ExitStack() as servers:
        targets: dict[str, Target] = {}
        for kind, start in (("etcd", start_etcd), ("confagent", start_store)):
            server = start(Path(tmp) / kind)
            servers.callback(server.stop)
            targets[kind] = Target(kind, server.url.removeprefix("http://"), server.pid)
        results = alternate(targets, args.seconds, args.rounds)
        print(_rounds_table(results))
        print(report(median(results["etcd"]), median(results["confagent"])))
        if loads:
            checks = {kind: {load: check_perf(target, load) for load in loads}
                      for kind, target in targets.items()}
            print(report(_check_figures(checks["etcd"]), _check_figures(checks["confagent"])))
            print(_verdicts(checks))


def _check_figures(checks: dict[str, CheckPerf]) -> Figures:
    figures = Figures()
    for load, result in checks.items():
        figures.values[f"check perf {load}: writes/s"] = result.writes_per_s
        figures.values[f"check perf {load}: server CPU ms / put"] = result.cpu_ms_per_put
    return figures


if __name__ == "__main__":
    main()

