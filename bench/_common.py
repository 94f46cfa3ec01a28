"""What the benchmarks against etcd share: the HTTP load generator, /proc readings, the ratio table.

The load generator keeps ``connections`` kept-alive connections (``_rawhttp``), each
posting one request at a time until a deadline. With several URLs (the members of a
cluster) connection number ``n`` goes to ``urls[n % len(urls)]``, numbered across
processes, so 16 connections over 3 members are spread 6/5/5 as a round-robin
client balancer would spread them. "16 clients" is 2 processes of 8 connections: one
Python process cannot generate enough load on its own.

A benchmark asserts nothing about time: it prints figures and ratios.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import queue
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import _tree  # noqa: F401 - this tree's confagent first
import orjson
from _rawhttp import RawConnection

from confagent.testing import b64

__all__ = [
    "Figures",
    "Load",
    "b64",
    "context_switches",
    "cpu_seconds",
    "drive",
    "in_processes",
    "put_body",
    "range_body",
    "report",
    "rss_mib",
    "run_load",
]

CLK_TCK = os.sysconf("SC_CLK_TCK")
PUT_KEYS = 50_000
"""Puts cycle over this many keys (``bench/N``)."""
LOWER_IS_BETTER = ("latency", "CPU", "RSS", "failover")
"""Figures (by a word in their name) where smaller is better; the ratio is still confagent / etcd."""


def cpu_seconds(pid: int) -> float:
    """A process's own user + system CPU time, from ``/proc/PID/stat``."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def context_switches(pid: int) -> int:
    """The voluntary context switches of all a process's threads so far (``/proc/PID/task/*/status``):
    each is a thread that slept and was woken (being put off its core by others' load is not counted)."""
    total = 0
    for status in Path(f"/proc/{pid}/task").glob("*/status"):
        try:
            lines = status.read_text().splitlines()
        except OSError:  # the thread ended meanwhile
            continue
        total += sum(int(line.split()[1]) for line in lines if line.startswith("voluntary_ctxt_switches:"))
    return total


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def put_body(i: int) -> bytes:
    return orjson.dumps({"key": b64(b"bench/%d" % (i % PUT_KEYS)), "value": b64(b"v" * 100)})


def range_body(_: int) -> bytes:
    """A linearizable (not ``serializable``) read of one key."""
    return orjson.dumps({"key": b64(b"bench/1")})


# -- the load generator ------------------------------------------------------------------
async def drive(urls: Sequence[str], path: str, body_of: Callable[[int], bytes], connections: int,
                seconds: float, *, first_connection: int = 0,
                latencies: list[float] | None = None) -> int:
    """``connections`` connections, each posting one request at a time for ``seconds``;
    the number of requests done. Appends each request's latency in seconds to ``latencies``.

    Raises:
        RuntimeError: a request was answered with a status other than 200.
    """
    numbers = range(first_connection, first_connection + connections)
    opened = [(n, await RawConnection.open(urls[n % len(urls)])) for n in numbers]
    deadline = time.perf_counter() + seconds
    done = 0

    async def worker(n: int, connection: RawConnection) -> None:
        nonlocal done
        i = 0
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            status, body = await connection.post(path, body_of(n * 10_000_000 + i))
            if latencies is not None:
                latencies.append(time.perf_counter() - started)
            if status != 200:
                raise RuntimeError(f"{path}: HTTP {status}: {body[:200]!r}")
            i += 1
            done += 1

    await asyncio.gather(*(worker(n, c) for n, c in opened))
    for _, connection in opened:
        await connection.close()
    return done


@dataclass(frozen=True, slots=True)
class Load:
    """What a load run did: requests completed, and (when asked for) every latency, sorted."""

    requests: int
    latencies_s: tuple[float, ...] = ()

    def percentile_ms(self, fraction: float) -> float:
        ordered = self.latencies_s
        return 1000 * ordered[min(len(ordered) - 1, int(len(ordered) * fraction))]


def _process_main(urls: Sequence[str], path: str, connections: int, first_connection: int,
                  seconds: float, keep_latencies: bool,
                  out: multiprocessing.Queue[tuple[int, list[float]]]) -> None:
    body_of = put_body if path.endswith("put") else range_body
    latencies: list[float] | None = [] if keep_latencies else None
    done = asyncio.run(drive(urls, path, body_of, connections, seconds,
                             first_connection=first_connection, latencies=latencies))
    out.put((done, latencies or []))


def _collect(out: multiprocessing.Queue[Any], procs: Sequence[multiprocessing.process.BaseProcess],
             deadline: float) -> list[Any]:
    """One result per process; a process that died without one ends the wait at once."""
    results: list[Any] = []
    while len(results) < len(procs):
        try:
            results.append(out.get(timeout=0.5))
        except queue.Empty:
            failed = [p.exitcode for p in procs if p.exitcode not in (None, 0)]
            if failed or time.monotonic() > deadline:
                for proc in procs:
                    proc.kill()
                raise RuntimeError(f"load processes failed (exit codes {failed}) or timed out") from None
    return results


def in_processes(main: Callable[..., None], args: Sequence[tuple[Any, ...]], timeout_s: float) -> list[Any]:
    """``main(*args[p], out)`` in one spawned process per ``args[p]``, all at once; each puts one
    result on ``out``. The results, in the order they came.

    Raises:
        RuntimeError: a process exited without a result, or none came within ``timeout_s``.
    """
    ctx = multiprocessing.get_context("spawn")
    out: multiprocessing.Queue[Any] = ctx.Queue()
    procs = [ctx.Process(target=main, args=(*one, out)) for one in args]
    for proc in procs:
        proc.start()
    results = _collect(out, procs, deadline=time.monotonic() + timeout_s)
    for proc in procs:
        proc.join()
    return results


def run_load(urls: Sequence[str], path: str, processes: int, connections: int, seconds: float,
             *, keep_latencies: bool = False) -> Load:
    """:func:`drive` in ``processes`` processes of ``connections`` connections each, at once."""
    args = [(list(urls), path, connections, p * connections, seconds, keep_latencies)
            for p in range(processes)]
    results = in_processes(_process_main, args, seconds + 60)
    latencies = sorted(latency for _, some in results for latency in some)
    return Load(sum(done for done, _ in results), tuple(latencies))


# -- the table ------------------------------------------------------------------------------
@dataclass
class Figures:
    """One server's (or cluster's) figures, by name, in the order measured."""

    values: dict[str, float] = field(default_factory=dict)


def report(etcd: Figures, ours: Figures) -> str:
    """Each figure for both, and confagent's ratio to etcd."""
    lines = [f"{'figure':40} {'etcd':>12} {'confagent':>12} {'ratio':>8}  better"]
    for name, theirs in etcd.values.items():
        mine = ours.values[name]
        ratio = mine / theirs if theirs else float("inf")
        better = "lower" if any(w in name for w in LOWER_IS_BETTER) else "higher"
        lines.append(f"{name:40} {theirs:12.3f} {mine:12.3f} {ratio:8.2f}x  {better}")
    return "\n".join(lines)
