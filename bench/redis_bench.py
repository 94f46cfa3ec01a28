"""The redis backend's read: one snapshot of N keys by the read script, against confd's way of reading.

Starts a redis-server (Debian's) on a free loopback port in a temporary
directory, writes ``--keys`` strings under ``/app`` plus ``--hashes`` hashes
of 10 fields, then times, ``--rounds`` times each, in alternating rounds:

1. ``RedisBackend.snapshot(["/app"])``: one EVAL of the read script (the
   decoding and key mapping included);
2. the backend's fallback for servers refusing scripts: SCAN, a pipeline of
   TYPE, then the values in one MULTI;
3. confd's reading (confd.md §6, redis: ``GET``, ``HSCAN`` of hashes, ``SCAN
   prefix/*``): TYPE of the prefix key, then a ``SCAN`` and one ``TYPE`` and
   one ``GET`` or ``HSCAN`` per key, each a round trip, through redis-py's
   asyncio client (confd's Go client pays the same round trips).

Prints best and median milliseconds of each and the ratios; asserts nothing
about time. Loopback only.

    python bench/redis_bench.py [--keys 10000] [--hashes 100] [--rounds 5]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import _tree  # noqa: F401 - this tree's confagent first
import redis
import redis.asyncio as aioredis

from confagent.backends._redis import RedisBackend, _one_by_one
from confagent.backends._redis_keys import parse_node
from confagent.testing import free_port, until


async def confd_read(client: aioredis.Redis, prefix: str) -> dict[bytes, bytes]:
    """What confd's redis GetValues does for one key: TYPE, then SCAN prefix/* with a GET (or HSCAN) each."""
    values: dict[bytes, bytes] = {}
    assert await client.type(prefix) == b"none"
    async for key in client.scan_iter(match=prefix + "/*", count=1000):
        kind = await client.type(key)
        if kind == b"string":
            values[key] = await client.get(key)
        elif kind == b"hash":
            async for field, value in client.hscan_iter(key, count=1000):
                values[key + b"/" + field] = value
    return values


def load(port: int, keys: int, hashes: int) -> None:
    with redis.Redis(port=port) as client:
        pipe = client.pipeline(transaction=False)
        for i in range(keys):
            pipe.set(f"/app/k{i:06d}", f"value-{i}")
        for i in range(hashes):
            pipe.hset(f"/app/h{i:04d}", mapping={f"f{j}": f"v{j}" for j in range(10)})
        pipe.execute()


async def timed(rounds: int, cases: dict[str, Callable[[], Awaitable[int]]]) -> dict[str, list[float]]:
    seconds: dict[str, list[float]] = {name: [] for name in cases}
    counts: dict[str, int] = {}
    for _ in range(rounds):
        for name, case in cases.items():
            started = time.perf_counter()
            counts[name] = await case()
            seconds[name].append(time.perf_counter() - started)
    assert len(set(counts.values())) == 1, f"the readings differ: {counts}"
    return seconds


async def measure(port: int, rounds: int) -> dict[str, list[float]]:
    backend = RedisBackend([parse_node(f"127.0.0.1:{port}")])
    client = aioredis.Redis(port=port)

    async def script() -> int:
        return len((await backend.snapshot(["/app"])).entries)

    async def one_by_one() -> int:
        return len(await _one_by_one(client, "/app*"))

    async def confd() -> int:
        return len(await confd_read(client, "/app"))

    try:
        return await timed(rounds, {"script (one EVAL)": script, "fallback (SCAN, TYPE, MULTI)": one_by_one,
                                    "confd's reads (a round trip per key)": confd})
    finally:
        await backend.close()
        await client.aclose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keys", type=int, default=10_000)
    parser.add_argument("--hashes", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    port = free_port()
    with tempfile.TemporaryDirectory() as directory:
        server = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                                   "--dir", directory], stdout=subprocess.DEVNULL)
        try:
            until(lambda: _up(port), "redis-server answers")
            load(port, args.keys, args.hashes)
            seconds = asyncio.run(measure(port, args.rounds))
        finally:
            server.terminate()
            server.wait(10)
    base = min(seconds["script (one EVAL)"])
    print(f"{args.keys} strings and {args.hashes} hashes of 10 fields, {args.rounds} rounds, loadavg "
          f"{Path('/proc/loadavg').read_text().split()[0]}")
    for name, values in seconds.items():
        best_ms, median_ms = min(values) * 1000, statistics.median(values) * 1000
        print(f"{name:40s} best {best_ms:9.1f} ms  median {median_ms:9.1f} ms  {min(values) / base:6.1f}x")


def _up(port: int) -> bool:
    try:
        with redis.Redis(port=port, socket_connect_timeout=0.2) as client:
            return bool(client.ping())
    except redis.RedisError:
        return False


if __name__ == "__main__":
    main()
