"""The zookeeper backend's reads: a whole tree, confd's way of reading it, and one change followed.

Starts a standalone ZooKeeper (Debian's) on a free loopback port in a
temporary directory, writes ``--dirs`` directories of ``--keys`` keys under
``/bench``, then times, ``--rounds`` times each, in alternating rounds:

1. ``ZookeeperBackend.snapshot(["/bench/"])``: the walk, level by level with
   pipelined reads, arming its watches (decoding and recording included);
2. confd's reading (confd.md §6, zookeeper: a recursive child walk): per node
   a Children, then per child an Exists and a Get, or a walk below it, each
   a round trip waited for, through the same kazoo client (confd's Go client
   pays the same round trips);
3. a set of one key followed: from the write to ``changes`` yielding it.

Prints best and median milliseconds of each and the load; asserts nothing
about time. Loopback only.

    python bench/zookeeper_bench.py [--dirs 100] [--keys 100] [--rounds 5]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import socket
import statistics
import subprocess
import tempfile
import time
from contextlib import aclosing
from pathlib import Path

import _tree  # noqa: F401 - this tree's confagent first
from kazoo.client import KazooClient

from confagent.backends import ZookeeperBackend
from confagent.backends._zookeeper import ZookeeperOptions
from confagent.testing import free_port, until

JAR = "/usr/share/java/zookeeper.jar"


def serving(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as connection:
            connection.sendall(b"srvr")
            return b"Mode: standalone" in connection.recv(4096)
    except OSError:
        return False


def start(directory: Path, port: int) -> subprocess.Popen[bytes]:
    config = directory / "zoo.cfg"
    config.write_text(f"tickTime=500\ndataDir={directory}\nclientPort={port}\nclientPortAddress=127.0.0.1\n"
                      "4lw.commands.whitelist=srvr\nadmin.enableServer=false\nforceSync=no\n")
    java = shutil.which("java") or "java"
    argv = [java, "-Xmx256m", "-cp", JAR, "org.apache.zookeeper.server.ZooKeeperServerMain", str(config)]
    server = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    until(lambda: serving(port), f"zookeeper on {port}")
    return server


def load(zk: KazooClient, dirs: int, keys: int) -> None:
    zk.create("/bench", b"")
    for d in range(dirs):
        transaction = zk.transaction()
        transaction.create(f"/bench/d{d:04d}", b"")
        for k in range(keys):
            transaction.create(f"/bench/d{d:04d}/k{k:04d}", f"value-{d}-{k}".encode())
        transaction.commit()


def confd_read(zk: KazooClient, path: str, values: dict[str, bytes]) -> dict[str, bytes]:
    """confd's nodeWalk: Children of the node, then for each child an Exists, and its Get or a walk."""
    for name in zk.get_children(path):
        child = f"{path}/{name}"
        stat = zk.exists(child)
        if stat.numChildren == 0:
            values[child] = zk.get(child)[0]
        else:
            confd_read(zk, child, values)
    return values


async def rounds(zk: KazooClient, port: int, count: int) -> dict[str, list[float]]:
    backend = ZookeeperBackend(ZookeeperOptions(hosts=(f"127.0.0.1:{port}",), dial_timeout_s=30))
    times: dict[str, list[float]] = {"snapshot": [], "confd's reading": [], "a set followed": []}
    try:
        for round_ in range(count):
            started = time.perf_counter()
            snapshot = await backend.snapshot(["/bench/"])
            times["snapshot"].append(time.perf_counter() - started)
            started = time.perf_counter()
            confd = await asyncio.to_thread(confd_read, zk, "/bench", {})
            times["confd's reading"].append(time.perf_counter() - started)
            assert len(confd) == len(snapshot.entries)
            async with aclosing(backend.changes(["/bench/"], snapshot.revision)) as changes:
                started = time.perf_counter()
                await asyncio.to_thread(zk.set, "/bench/d0000/k0007", f"round {round_}".encode())
                await anext(changes)
                times["a set followed"].append(time.perf_counter() - started)
    finally:
        await backend.close()
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dirs", type=int, default=100)
    parser.add_argument("--keys", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    port = free_port()
    with tempfile.TemporaryDirectory() as directory:
        server = start(Path(directory), port)
        zk = KazooClient(hosts=f"127.0.0.1:{port}")
        try:
            zk.start(timeout=30)
            load(zk, args.dirs, args.keys)
            times = asyncio.run(rounds(zk, port, args.rounds))
        finally:
            zk.stop()
            server.kill()
            server.wait()
    print(f"{args.dirs * args.keys} keys in {args.dirs} directories, {args.rounds} rounds, "
          f"load {os.getloadavg()[0]:.1f}")
    for name, samples in times.items():
        best, median = min(samples) * 1000, statistics.median(samples) * 1000
        print(f"  {name:16} best {best:8.1f} ms  median {median:8.1f} ms")


if __name__ == "__main__":
    main()
