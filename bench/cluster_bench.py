"""Three confagent store members against three real etcd 3.4 members, on loopback, in the same run.

Both clusters run side by side; the same Python load generator (``_common``)
drives one at a time, taking turns: every workload runs on etcd, then on
confagent, ``--rounds`` times, so load from outside the benchmark (a shared
machine) weighs on both alike; each figure is the median of its runs. The table
gives confagent's ratio to etcd for: put throughput with 16 clients in 2
processes spread over the three members (as a round-robin client balancer
spreads them), put latency p50/p99 under that load and with one client on the
leader, linearizable range throughput (every read a ReadIndex round), the
members' CPU per 1000 puts, and failover time: SIGKILL of the leader until the
first successful write to a surviving member (a new attempt on each survivor
every 20 ms), median of ``--failovers`` kills; the killed member is restarted
and the cluster agrees on a leader again between kills.

Both run the same election timing. etcd: ``--heartbeat-interval 100
--election-timeout 1000`` (its defaults), which etcd turns into a raft tick of
100 ms, a heartbeat every tick and an election timeout of 10 ticks, randomized in
[10, 20) ticks, with CheckQuorum on. confagent: ``NodeConfig.tick_s=0.1``,
``election_ticks=10`` (randomized in [10, 20) the same way), ``heartbeat_ticks=1``,
``check_quorum=True``. confagent always runs pre-vote; etcd 3.4 has it off by
default, so etcd gets ``--pre-vote=true`` here to run the same protocol.

    python bench/cluster_bench.py [--seconds 5] [--rounds 3] [--failovers 5]

Loopback only; every wait is bounded; every process started is stopped by its pid.
A benchmark, not a test: it asserts nothing about time.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import statistics
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import _tree  # noqa: F401 - this tree's confagent first
import orjson
from _common import Figures, b64, cpu_seconds, drive, put_body, report, run_load
from _rawhttp import RawConnection

from confagent.testing import ServerProcess, etcd_cluster, leader_of, running, store_cluster

__all__ = ["main"]

SETTLE_TIMEOUT_S = 30.0
"""A cluster must agree on a leader (after start or a restart) within this."""
FAILOVER_TIMEOUT_S = 30.0
"""A failover that has not produced a successful write by then is reported as an error."""
ATTEMPT_INTERVAL_S = 0.02
"""During a failover, a new write is started on every surviving member this often."""
ATTEMPT_TIMEOUT_S = 1.5
"""A write attempt not answered by then is abandoned (it may hang on a dead leader)."""
CLIENTS_PROCESSES, CLIENTS_PER_PROCESS = 2, 8


# -- failover ----------------------------------------------------------------------------
async def _attempt_write(url: str, key: bytes) -> bool:
    """One put on a fresh connection; whether it succeeded (refusals and errors are expected)."""
    body = orjson.dumps({"key": b64(key), "value": b64(b"after failover")})
    try:
        async with asyncio.timeout(ATTEMPT_TIMEOUT_S):
            connection = await RawConnection.open(url)
            try:
                status, _ = await connection.post("/v3/kv/put", body)
            finally:
                await connection.close()
    except (OSError, TimeoutError, asyncio.IncompleteReadError):
        return False
    return status == 200


async def first_write_after(killed_at: float, urls: Sequence[str]) -> float:
    """Seconds from ``killed_at`` until a put on one of ``urls`` succeeds; a new attempt
    starts on each URL every ``ATTEMPT_INTERVAL_S``, whatever earlier ones are doing.

    Raises:
        RuntimeError: no write succeeded within ``FAILOVER_TIMEOUT_S``.
    """
    succeeded = asyncio.Event()
    succeeded_at = 0.0
    attempts: set[asyncio.Task[None]] = set()

    async def attempt(url: str, key: bytes) -> None:
        nonlocal succeeded_at
        if await _attempt_write(url, key) and not succeeded.is_set():
            succeeded_at = time.perf_counter()
            succeeded.set()

    deadline = killed_at + FAILOVER_TIMEOUT_S
    try:
        for n in range(int(FAILOVER_TIMEOUT_S / ATTEMPT_INTERVAL_S)):
            for url in urls:
                task = asyncio.create_task(attempt(url, b"failover/%d" % n))
                attempts.add(task)
                task.add_done_callback(attempts.discard)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(succeeded.wait(), ATTEMPT_INTERVAL_S)
            if succeeded.is_set() or time.perf_counter() > deadline:
                break
    finally:
        for task in list(attempts):
            task.cancel()
        await asyncio.gather(*attempts, return_exceptions=True)
    if not succeeded.is_set():
        raise RuntimeError(f"no write succeeded within {FAILOVER_TIMEOUT_S}s of killing the leader")
    return succeeded_at - killed_at


def failover_once(members: list[ServerProcess]) -> float:
    """Kill the settled leader, time the first write after it, restart it; seconds."""
    leader = leader_of(members, deadline_s=SETTLE_TIMEOUT_S)
    survivors = [m.url for m in members if m is not leader]
    killed_at = time.perf_counter()
    leader.kill()
    seconds = asyncio.run(first_write_after(killed_at, survivors))
    leader.launch()
    leader.wait_healthy()
    leader_of(members, deadline_s=SETTLE_TIMEOUT_S)
    return seconds


# -- the workloads ---------------------------------------------------------------------------
def _cpu(members: Sequence[ServerProcess]) -> float:
    return sum(cpu_seconds(m.pid) for m in members)


def one_client_puts(members: list[ServerProcess], seconds: float) -> dict[str, float]:
    leader = leader_of(members, deadline_s=SETTLE_TIMEOUT_S)
    latencies: list[float] = []
    puts = asyncio.run(drive([leader.url], "/v3/kv/put", put_body, 1, seconds, latencies=latencies))
    ordered = sorted(latencies)
    return {"put/s, 1 client on the leader": puts / seconds,
            "put latency p50 ms, 1 client": 1000 * ordered[len(ordered) // 2],
            "put latency p99 ms, 1 client": 1000 * ordered[int(len(ordered) * 0.99)]}


def spread_puts(members: list[ServerProcess], seconds: float) -> dict[str, float]:
    cpu_before = _cpu(members)
    load = run_load([m.url for m in members], "/v3/kv/put", CLIENTS_PROCESSES, CLIENTS_PER_PROCESS,
                    seconds, keep_latencies=True)
    return {"put/s, 16 clients on 3 members": load.requests / seconds,
            "put latency p50 ms, 16 clients": load.percentile_ms(0.5),
            "put latency p99 ms, 16 clients": load.percentile_ms(0.99),
            "cluster CPU s / 1000 puts": 1000 * (_cpu(members) - cpu_before) / load.requests}


def spread_linearizable_ranges(members: list[ServerProcess], seconds: float) -> dict[str, float]:
    load = run_load([m.url for m in members], "/v3/kv/range", CLIENTS_PROCESSES, CLIENTS_PER_PROCESS,
                    seconds)
    return {"linearizable range/s, 16 clients": load.requests / seconds}


def failover(members: list[ServerProcess], _: float) -> dict[str, float]:
    return {"failover ms": 1000 * failover_once(members)}


Workload = Callable[[list[ServerProcess], float], dict[str, float]]
LOADS: tuple[Workload, ...] = (one_client_puts, spread_puts, spread_linearizable_ranges)


def measure(clusters: dict[str, list[ServerProcess]], seconds: float, rounds: int,
            failovers: int) -> dict[str, Figures]:
    """Each workload on each cluster in turn, ``rounds`` times (``failovers`` times for the
    failover): load from outside the benchmark then weighs on both alike. The figures are
    each sample list's median (and, for failovers, also the extremes)."""
    samples: dict[str, dict[str, list[float]]] = {kind: {} for kind in clusters}
    plan = [(load, rounds) for load in LOADS] + [(failover, failovers)]
    for workload, repeats in plan:
        for _ in range(repeats):
            for kind, members in clusters.items():
                for name, value in workload(members, seconds).items():
                    samples[kind].setdefault(name, []).append(value)
    return {kind: _summary(by_name) for kind, by_name in samples.items()}


def _summary(by_name: dict[str, list[float]]) -> Figures:
    figures = Figures()
    for name, values in by_name.items():
        figures.values[f"{name} (median)" if name.startswith("failover") else name] = (
            statistics.median(values))
        if name.startswith("failover"):
            figures.values[f"{name} (min)"] = min(values)
            figures.values[f"{name} (max)"] = max(values)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="length of each load run")
    parser.add_argument("--rounds", type=int, default=3, help="runs of each load per cluster")
    parser.add_argument("--failovers", type=int, default=5, help="leader kills per cluster")
    args = parser.parse_args()
    load_at_start = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="confagent-cluster-bench-") as tmp, \
            running(etcd_cluster(Path(tmp) / "etcd", 3)) as etcd, \
            running(store_cluster(Path(tmp) / "confagent", 3)) as ours:
        results = measure({"etcd": etcd, "confagent": ours}, args.seconds, args.rounds, args.failovers)
    print(report(results["etcd"], results["confagent"]))
    print(f"(medians of {args.rounds} runs of {args.seconds:g} s per load, of {args.failovers} "
          f"failovers; the clusters took turns; load average {load_at_start:.1f} at the start, "
          f"{os.getloadavg()[0]:.1f} at the end)")


if __name__ == "__main__":
    main()
