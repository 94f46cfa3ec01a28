"""The CPU a ``confagent store`` spends from exec to its first ``/health`` answer, against etcd's.

Each round starts, in turn, one store from every tree given (a checkout or a
``git archive`` copy: before and after a change) and one real etcd, each on a
fresh data directory and free ports; the store's first ``/health`` 200 is
polled for with ``http.client`` every 5 ms (the polling is this process's
CPU, not the store's), then the process's utime+stime is read from
``/proc/PID/stat``, and again ``SETTLE_S`` later (what the start-up left running
at its first answer: a task's imports, the first election's rounds), then it is
stopped. Rounds alternate the trees, so that a change of the machine's load
falls on all of them alike.

    python bench/startup_bench.py [--rounds N] TREE [TREE ...]

Prints each tree's and etcd's CPU seconds at the first answer and settled
(min, median, max) and the load average. A benchmark asserts nothing about time.
"""

from __future__ import annotations

import argparse
import http.client
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import _tree  # this tree's confagent first
from _common import cpu_seconds

from confagent.testing import free_port

POLL_S = 0.005
SETTLE_S = 2.0
TIMEOUT_S = 120.0


def healthy(port: int) -> bool:
    """Whether ``/health`` on ``port`` answers 200 now."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=1.0)
    try:
        connection.request("GET", "/health")
        return connection.getresponse().status == 200
    except OSError:
        return False
    finally:
        connection.close()


def store_argv(tree: Path, data_dir: Path, port: int) -> tuple[list[str], dict[str, str]]:
    url, peer = f"http://127.0.0.1:{port}", f"http://127.0.0.1:{free_port()}"
    argv = [sys.executable, "-m", "confagent", "store", "--name", "s", "--data-dir", str(data_dir),
            "--listen-client-urls", url, "--listen-peer-urls", peer]
    return argv, {**os.environ, **_tree.tree_env(tree)}


def etcd_argv(data_dir: Path, port: int) -> tuple[list[str], dict[str, str]]:
    url, peer = f"http://127.0.0.1:{port}", f"http://127.0.0.1:{free_port()}"
    binary = shutil.which("etcd") or "/usr/bin/etcd"
    return [binary, "--name", "s", "--data-dir", str(data_dir), "--listen-client-urls", url,
            "--advertise-client-urls", url, "--listen-peer-urls", peer, "--initial-advertise-peer-urls",
            peer, "--initial-cluster", f"s={peer}", "--log-level", "error"], dict(os.environ)


def cpu_to_health(argv: list[str], env: dict[str, str], port: int, cwd: Path) -> tuple[float, float]:
    """The process's CPU seconds when its first ``/health`` answered 200, and ``SETTLE_S`` later."""
    process = subprocess.Popen(argv, env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + TIMEOUT_S
        while not healthy(port):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{argv[:4]} exited or never answered /health")
            time.sleep(POLL_S)
        at_health = cpu_seconds(process.pid)
        time.sleep(SETTLE_S)
        return at_health, cpu_seconds(process.pid)
    finally:
        process.terminate()
        process.wait(30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("trees", nargs="+", type=Path)
    options = parser.parse_args()
    figures: dict[str, list[tuple[float, float]]] = {str(tree): [] for tree in options.trees} | {"etcd": []}
    print(f"load before: {os.getloadavg()}")
    with tempfile.TemporaryDirectory() as scratch:
        for n in range(options.rounds):
            for k, (name, cpu) in enumerate(figures.items()):
                port, data_dir = free_port(), Path(scratch) / f"{n}-{k}"
                argv, env = (etcd_argv(data_dir, port) if name == "etcd"
                             else store_argv(Path(name).resolve(), data_dir, port))
                cwd = Path(scratch) if name == "etcd" else Path(name).resolve()
                cpu.append(cpu_to_health(argv, env, port, cwd))
    for name, pairs in figures.items():
        for k, what in enumerate(("CPU to first /health", f"CPU {SETTLE_S:.0f} s later")):
            cpu = [pair[k] for pair in pairs]
            print(f"{name}: {what} s min {min(cpu):.3f} median {statistics.median(cpu):.3f} "
                  f"max {max(cpu):.3f} ({' '.join(f'{c:.2f}' for c in cpu)})")
    print(f"load after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
