"""The metadata service: ``/self`` requests per second, and long-poll wake-up latency with 1,000 waiters.

Starts ``confagent metad`` (embedded store, fresh temporary data directory)
on loopback, seeds 1,000 hosts (``127.0.1.x``-``127.0.4.x``, each mapped to
its own node and to one shared cluster), then:

1. ``/self`` throughput: ``--connections`` kept-alive connections, each one
   request at a time, for ``--seconds``, from one mapped address.
2. Wake-up latency: every host holds ``GET /self?wait=true&prev_version=N``
   on its own connection (1,000 different answers); one write to the shared
   cluster changes all of them; the latency of a host is from just before
   the write is sent to its answer read. ``--rounds`` rounds, 1,000 samples
   each. The load generator and the server share the machine's cores, so
   the figures include the client's own time to read 1,000 answers.

Bounded: the whole run stops after ``--deadline`` seconds. Loopback only.
Prints figures; asserts nothing about time.

    python bench/metad_bench.py [--seconds 5] [--connections 16] [--waiters 1000] [--rounds 5]
"""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import statistics
import tempfile
import time
from pathlib import Path

import _tree  # noqa: F401 - this tree's confagent first
import httpx
import orjson

from confagent.testing import ServerProcess, confagent_argv, free_port

FIRST_HOST = ipaddress.IPv4Address("127.0.1.1")


class Connection:
    """One kept-alive HTTP/1.1 connection from a chosen source address, one GET at a time."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def open(cls, port: int, source: str) -> Connection:
        reader, writer = await asyncio.open_connection("127.0.0.1", port, local_addr=(source, 0))
        return cls(reader, writer)

    def send_get(self, path: str) -> None:
        request = b"GET %s HTTP/1.1\r\nHost: metad\r\nAccept: application/json\r\n\r\n"
        self.writer.write(request % path.encode())

    async def read(self) -> tuple[int, int, bytes]:
        """(status, X-Metad-Version, body)."""
        head = await self.reader.readuntil(b"\r\n\r\n")
        lines = head.split(b"\r\n")
        headers = {k.strip().lower(): v.strip() for k, _, v in (ln.partition(b":") for ln in lines[1:] if ln)}
        body = await self.reader.readexactly(int(headers[b"content-length"]))
        return int(lines[0].split(b" ", 2)[1]), int(headers.get(b"x-metad-version", b"0")), body

    def close(self) -> None:
        self.writer.close()


def start_metad(tmp: Path) -> tuple[ServerProcess, int, str]:
    data_port, manage = free_port(), f"http://127.0.0.1:{free_port()}"
    argv = confagent_argv("metad", "--data-dir", str(tmp / "data"), "--listen", f"127.0.0.1:{data_port}",
                          "--listen-manage", manage[len("http://"):], "--log-level", "warning")
    process = ServerProcess("metad", manage, tmp / "data", argv, tmp / "metad.log").start()
    return process, data_port, manage


def seed(manage: str, hosts: int) -> list[str]:
    addresses = [str(FIRST_HOST + i) for i in range(hosts)]
    data = {"hosts": {f"h{i}": {"ip": a, "name": f"h{i}", "role": "web"} for i, a in enumerate(addresses)},
            "cluster": {"name": "bench", "version": "0"}}
    mapping = {a: {"node": f"/hosts/h{i}", "cluster": "/cluster"} for i, a in enumerate(addresses)}
    with httpx.Client(timeout=60) as client:
        for api, body in (("/v1/data", data), ("/v1/mapping", mapping)):
            client.put(manage + api, content=orjson.dumps(body)).raise_for_status()
    return addresses


async def self_throughput(port: int, source: str, connections: int, seconds: float) -> tuple[float, int]:
    conns = [await Connection.open(port, source) for _ in range(connections)]
    deadline = time.monotonic() + seconds
    counts = [0] * connections

    async def loop(index: int, conn: Connection) -> None:
        while time.monotonic() < deadline:
            conn.send_get("/self")
            status, _version, _body = await conn.read()
            assert status == 200, status
            counts[index] += 1

    started = time.monotonic()
    await asyncio.gather(*(loop(i, c) for i, c in enumerate(conns)))
    elapsed = time.monotonic() - started
    for conn in conns:
        conn.close()
    return sum(counts) / elapsed, sum(counts)


async def wake_latencies(port: int, manage: str, addresses: list[str], rounds: int) -> list[float]:
    conns = [await Connection.open(port, a) for a in addresses]
    for conn in conns:
        conn.send_get("/self")
    versions = [(await conn.read())[1] for conn in conns]
    samples: list[float] = []
    async with httpx.AsyncClient(timeout=30) as client:
        for round_no in range(1, rounds + 1):
            for conn, version in zip(conns, versions, strict=True):
                conn.send_get(f"/self?wait=true&prev_version={version}&timeout=60")
            await _until_waiting(client, manage, len(conns))
            sent = time.perf_counter()
            reads = [asyncio.ensure_future(_timed_read(conn)) for conn in conns]
            write = await client.put(f"{manage}/v1/data/cluster/version", content=f'"{round_no}"')
            write.raise_for_status()
            results = await asyncio.gather(*reads)
            samples += [(at - sent) * 1000 for at, _ in results]
            versions = [version for _, version in results]
    for conn in conns:
        conn.close()
    return samples


async def _timed_read(conn: Connection) -> tuple[float, int]:
    status, version, body = await conn.read()
    assert status == 200 and b'"version"' in body, (status, body[:100])
    return time.perf_counter(), version


async def _until_waiting(client: httpx.AsyncClient, manage: str, count: int) -> None:
    while True:
        metrics = (await client.get(manage + "/metrics")).text
        line = next(ln for ln in metrics.splitlines() if ln.startswith("confagent_metad_waiting_requests "))
        if float(line.split()[1]) >= count:
            return
        await asyncio.sleep(0.01)


def percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


async def run(args: argparse.Namespace, port: int, manage: str, addresses: list[str]) -> None:
    rate, total = await self_throughput(port, addresses[0], args.connections, args.seconds)
    print(f"| /self requests/s, {args.connections} connections | {rate:.0f} |")
    print(f"| /self requests served in {args.seconds:g} s | {total} |")
    latencies = await wake_latencies(port, manage, addresses, args.rounds)
    print(f"| wake-up latency p50 ms, {len(addresses)} waiters ({len(latencies)} samples) | "
          f"{statistics.median(latencies):.1f} |")
    print(f"| wake-up latency p99 ms | {percentile(latencies, 0.99):.1f} |")
    print(f"| wake-up latency max ms (last of {len(addresses)} answered) | {max(latencies):.1f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--waiters", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--deadline", type=float, default=300.0, help="stop everything after this long")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="metad-bench-") as tmp:
        process, port, manage = start_metad(Path(tmp))
        try:
            addresses = seed(manage, args.waiters)
            print("| figure | confagent metad |\n| --- | ---: |")
            asyncio.run(asyncio.wait_for(run(args, port, manage, addresses), args.deadline))
        finally:
            process.stop()


if __name__ == "__main__":
    main()
