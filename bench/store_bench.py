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
import statistics
import tempfile
import time
from pathlib import Path

import _tree  # noqa: F401 - this tree's confagent first
import httpx
import orjson
from _common import Figures, b64, cpu_seconds, drive, put_body, report, rss_mib, run_load
from _rawhttp import RawConnection

from confagent.testing import ServerProcess, start_etcd, start_store


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
def measure(server: ServerProcess, seconds: float, keys: int) -> Figures:
    figures = Figures()
    url, pid = server.url, server.pid
    latencies: list[float] = []
    puts = asyncio.run(drive([url], "/v3/kv/put", put_body, 1, seconds, latencies=latencies))
    figures.values["put/s, 1 client"] = puts / seconds
    ordered = sorted(latencies)
    figures.values["put latency p50 ms"] = 1000 * ordered[len(ordered) // 2]
    figures.values["put latency p99 ms"] = 1000 * ordered[int(len(ordered) * 0.99)]
    cpu_before = cpu_seconds(pid)
    puts = run_load([url], "/v3/kv/put", 2, 8, seconds).requests
    figures.values["put/s, 16 clients"] = puts / seconds
    figures.values["server CPU s / 1000 puts"] = 1000 * (cpu_seconds(pid) - cpu_before) / puts
    ranges = run_load([url], "/v3/kv/range", 2, 8, seconds).requests
    figures.values["range/s, 16 clients"] = ranges / seconds
    watch = sorted(asyncio.run(watch_latency(url, 300)))
    figures.values["watch latency p50 ms"] = 1000 * statistics.median(watch)
    figures.values["watch latency p99 ms"] = 1000 * watch[int(len(watch) * 0.99)]
    asyncio.run(load_keys(url, keys))
    figures.values[f"RSS MiB with {keys} keys"] = rss_mib(pid)
    return figures


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
