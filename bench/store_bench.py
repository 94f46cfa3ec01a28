"""The embedded store against a real etcd 3.4, measured in the same run with the same Python client.

Prints each figure for both servers and confagent's ratio to etcd:
put throughput with 1 client and with 16 clients in 2 processes, range
throughput, put latency p50/p99, watch delivery latency (put sent -> event
received), server CPU seconds per 1000 puts (from the server process's own
accounting in /proc), and RSS holding 100,000 keys of 100 bytes.

    python bench/store_bench.py [--seconds 5] [--keys 100000]

A benchmark, not a test: it asserts nothing about time.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import multiprocessing
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import orjson
from _rawhttp import RawConnection

from confagent.testing import ServerProcess, start_etcd, start_store

CLK_TCK = os.sysconf("SC_CLK_TCK")


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


# -- load generators ----------------------------------------------------------------------
async def _loop(url: str, path: str, body_of: Callable[[int], bytes], tasks: int,
                seconds: float, latencies: list[float] | None = None) -> int:
    """``tasks`` connections, each posting one request at a time for ``seconds``; requests done."""
    connections = [await RawConnection.open(url) for _ in range(tasks)]
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

    await asyncio.gather(*(worker(n, c) for n, c in enumerate(connections)))
    for connection in connections:
        await connection.close()
    return done


def _put_body(i: int) -> bytes:
    return orjson.dumps({"key": b64(b"bench/%d" % (i % 50_000)), "value": b64(b"v" * 100)})


def _range_body(_: int) -> bytes:
    return orjson.dumps({"key": b64(b"bench/1")})


def _process_main(url: str, path: str, tasks: int, seconds: float,
                  out: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    body_of = _put_body if path.endswith("put") else _range_body
    out.put(asyncio.run(_loop(url, path, body_of, tasks, seconds)))


def throughput_in_processes(url: str, path: str, processes: int, tasks: int,
                            seconds: float) -> int:
    ctx = multiprocessing.get_context("spawn")
    out: multiprocessing.Queue = ctx.Queue()  # type: ignore[type-arg]
    procs = [ctx.Process(target=_process_main, args=(url, path, tasks, seconds, out))
             for _ in range(processes)]
    for proc in procs:
        proc.start()
    total = sum(out.get(timeout=seconds + 60) for _ in procs)
    for proc in procs:
        proc.join()
    return total


async def watch_latency(url: str, samples: int) -> list[float]:
    """Put a key, time until the watch stream delivers its event; one at a time."""
    latencies: list[float] = []
    key = b64(b"watched")
    watch = await RawConnection.open(url)
    watch.send_post("/v3/watch", orjson.dumps({"create_request": {"key": key}}))
    assert await watch.read_head() == 200
    await watch.read_chunk()  # created
    putter = await RawConnection.open(url)
    for i in range(samples):
        started = time.perf_counter()
        putter.send_post("/v3/kv/put", orjson.dumps({"key": key, "value": b64(b"%d" % i)}))
        while b"events" not in await watch.read_chunk():
            pass
        latencies.append(time.perf_counter() - started)
        await putter.read_response()
    await watch.close()
    await putter.close()
    return latencies


async def load_keys(url: str, keys: int) -> None:
    """``keys`` keys of 100-byte values, 100 puts per txn, 8 txns in flight."""
    value = b64(b"x" * 100)
    async with httpx.AsyncClient(base_url=url, timeout=60) as client:
        async def txn(start: int) -> None:
            ops = [{"request_put": {"key": b64(b"rss/%08d" % i), "value": value}}
                   for i in range(start, min(start + 100, keys))]
            (await client.post("/v3/kv/txn", content=orjson.dumps({"success": ops}))).raise_for_status()
        starts = list(range(0, keys, 100))
        for chunk in range(0, len(starts), 8):
            await asyncio.gather(*(txn(s) for s in starts[chunk:chunk + 8]))


# -- one server's figures -------------------------------------------------------------------
@dataclass
class Figures:
    values: dict[str, float] = field(default_factory=dict)


def measure(server: ServerProcess, seconds: float, keys: int) -> Figures:
    figures = Figures()
    url, pid = server.url, server.pid
    latencies: list[float] = []
    puts = asyncio.run(_loop(url, "/v3/kv/put", _put_body, 1, seconds, latencies))
    figures.values["put/s, 1 client"] = puts / seconds
    ordered = sorted(latencies)
    figures.values["put latency p50 ms"] = 1000 * ordered[len(ordered) // 2]
    figures.values["put latency p99 ms"] = 1000 * ordered[int(len(ordered) * 0.99)]
    cpu_before = cpu_seconds(pid)
    puts = throughput_in_processes(url, "/v3/kv/put", 2, 8, seconds)
    figures.values["put/s, 16 clients"] = puts / seconds
    figures.values["server CPU s / 1000 puts"] = 1000 * (cpu_seconds(pid) - cpu_before) / puts
    ranges = throughput_in_processes(url, "/v3/kv/range", 2, 8, seconds)
    figures.values["range/s, 16 clients"] = ranges / seconds
    watch = sorted(asyncio.run(watch_latency(url, 300)))
    figures.values["watch latency p50 ms"] = 1000 * statistics.median(watch)
    figures.values["watch latency p99 ms"] = 1000 * watch[int(len(watch) * 0.99)]
    asyncio.run(load_keys(url, keys))
    figures.values[f"RSS MiB with {keys} keys"] = rss_mib(pid)
    return figures


# Figures where smaller is better; the ratio printed is still confagent / etcd.
LOWER_IS_BETTER = ("latency", "CPU", "RSS")


def report(etcd: Figures, ours: Figures) -> str:
    lines = [f"{'figure':32} {'etcd':>12} {'confagent':>12} {'ratio':>8}  better"]
    for name, theirs in etcd.values.items():
        mine = ours.values[name]
        ratio = mine / theirs if theirs else float("inf")
        better = "lower" if any(w in name for w in LOWER_IS_BETTER) else "higher"
        lines.append(f"{name:32} {theirs:12.3f} {mine:12.3f} {ratio:8.2f}x  {better}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--keys", type=int, default=100_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="confagent-bench-") as tmp:
        results = {}
        for kind, start in (("etcd", start_etcd), ("confagent", start_store)):
            server = start(Path(tmp) / kind)
            try:
                results[kind] = measure(server, args.seconds, args.keys)
            finally:
                server.stop()
    print(report(results["etcd"], results["confagent"]))


if __name__ == "__main__":
    main()
