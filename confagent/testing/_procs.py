"""Real processes for tests and benchmarks: a confagent store or a real etcd on a free loopback port.

Each is started as a subprocess with its own data directory, waited for by
polling ``/health`` against a deadline, and stopped by its own pid. Every
confagent command line starts with :func:`confagent_argv`.
"""

from __future__ import annotations

import collections
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

__all__ = ["ServerProcess", "confagent_argv", "etcd_cluster", "free_port", "healthy", "running", "start_etcd",
           "start_store", "store_cluster", "store_learners", "store_process"]

START_TIMEOUT_S = 30.0


_PORTS = random.Random()
_HANDED_OUT: collections.deque[range] = collections.deque(maxlen=64)
"""The spans this process handed out last: a test's later ports avoid its earlier ones."""


def free_port(host: str = "127.0.0.1", span: int = 1) -> int:
    """The first of ``span`` consecutive TCP ports that were free a moment ago on ``host``.

    Drawn below the kernel's ephemeral range: a port from it could be taken, between a
    server's crash and its restart, as the source port of some outgoing connection (a
    peer reconnecting). Under pytest-xdist each worker draws from its own slice of
    that range, so tests running side by side never pick one port (a fleet binds its
    ``span`` ports over tens of seconds); within a process, a span avoids the last
    spans handed out.
    """
    low, high = _worker_slice(span)
    for _ in range(1000):
        ports = range(start := _PORTS.randrange(low, high), start + span)
        if any(ports.start < taken.stop and taken.start < ports.stop for taken in _HANDED_OUT):
            continue
        if all(_bindable(host, port) for port in ports):
            _HANDED_OUT.append(ports)
            return start
    raise RuntimeError(f"no {span} free ports in {low}-{high}")


def _bindable(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((host, port))
        except OSError:
            return False
        return True


def _worker_slice(span: int) -> tuple[int, int]:
    """The first ports this process may draw: its xdist worker's share of 10,000 up to the ephemeral range."""
    low, high = 10_000, _ephemeral_range()[0]
    worker, workers = os.environ.get("PYTEST_XDIST_WORKER", ""), os.environ.get("PYTEST_XDIST_WORKER_COUNT")
    if worker.startswith("gw") and workers:
        share = (high - low) // int(workers)
        low += share * int(worker[2:])
        high = low + share
    return low, high - span


def confagent_argv(*args: str) -> list[str]:
    """The command line running ``confagent ARGS`` with this interpreter (no install needed)."""
    return [sys.executable, "-m", "confagent", *args]


def healthy(url: str) -> bool:
    """Whether ``url/health`` answers 200 now."""
    try:
        return httpx.get(url + "/health", timeout=1.0).status_code == 200
    except httpx.HTTPError:
        return False


def _ephemeral_range() -> tuple[int, int]:
    try:
        low, high = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()
        return int(low), int(high)
    except (OSError, ValueError):
        return 32768, 60999


@dataclass
class ServerProcess:
    """A server subprocess and how to reach it."""

    kind: str
    url: str
    data_dir: Path
    argv: list[str]
    log_path: Path
    process: subprocess.Popen[bytes] | None = None
    extra_env: dict[str, str] = field(default_factory=dict)

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def start(self, timeout_s: float = START_TIMEOUT_S) -> ServerProcess:
        self.launch()
        self.wait_healthy(timeout_s)
        return self

    def launch(self) -> None:
        """Start the process without waiting for it (cluster members wait for each other)."""
        env = {**os.environ, **self.extra_env}
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(self.argv, stdout=log, stderr=subprocess.STDOUT, env=env)

    def wait_healthy(self, timeout_s: float = START_TIMEOUT_S) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.kind} exited with {self.process.returncode}:\n"
                                   + self.log_path.read_text(errors="replace")[-3000:])
            if healthy(self.url):
                return
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"{self.kind} did not become healthy within {timeout_s}s; log:\n"
                           + self.log_path.read_text(errors="replace")[-3000:])

    def kill(self) -> None:
        """SIGKILL, the crash we must survive."""
        if self.process is not None and self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGKILL)
            self.process.wait(10)

    def stop(self, timeout_s: float = 10.0) -> int | None:
        """SIGTERM, then SIGKILL after ``timeout_s``; the exit code."""
        return None if self.process is None else terminate(self.process, timeout_s)


def terminate(process: subprocess.Popen[bytes], timeout_s: float) -> int:
    """SIGTERM to a process still running, then SIGKILL if it has not exited within ``timeout_s``;
    its exit code, once reaped."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout_s)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout_s)
    return process.returncode


def start_store(data_dir: Path, *, port: int | None = None, args: Sequence[str] = (),
                timeout_s: float = START_TIMEOUT_S) -> ServerProcess:
    """A ``confagent store`` on 127.0.0.1, data in ``data_dir`` (reused across restarts)."""
    port = port or free_port()
    url = f"http://127.0.0.1:{port}"
    return store_process(url, data_dir, ["--name", "test", "--listen-peer-urls",
                                         f"http://127.0.0.1:{free_port()}", *args]).start(timeout_s)


def store_process(url: str, data_dir: Path, args: Sequence[str], log_path: Path | None = None,
                  ) -> ServerProcess:
    """``confagent store`` serving clients at ``url`` with ``args`` besides, not yet started.

    Its log is ``log_path``, by default ``DATA_DIR.log`` beside the data directory.
    """
    data_dir.parent.mkdir(parents=True, exist_ok=True)
    argv = confagent_argv("store", "--data-dir", str(data_dir), "--listen-client-urls", url, *args)
    log_path = log_path or data_dir.parent / f"{data_dir.name}.log"
    return ServerProcess("confagent", url, data_dir, argv, log_path, extra_env={"PYTHONUNBUFFERED": "1"})


def start_etcd(data_dir: Path, *, port: int | None = None, args: Sequence[str] = (),
               timeout_s: float = START_TIMEOUT_S) -> ServerProcess:
    """A real etcd on 127.0.0.1 (Debian's etcd-server), data in ``data_dir``."""
    binary = shutil.which("etcd") or "/usr/bin/etcd"
    if not Path(binary).exists():
        raise RuntimeError("etcd is not installed: apt-get install etcd-server (scripts/test does)")
    port = port or free_port()
    peer = f"http://127.0.0.1:{free_port()}"
    url = f"http://127.0.0.1:{port}"
    argv = [binary, "--name", "test", "--data-dir", str(data_dir),
            "--listen-client-urls", url, "--advertise-client-urls", url,
            "--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
            "--initial-cluster", f"test={peer}", "--log-level", "error", *args]
    data_dir.parent.mkdir(parents=True, exist_ok=True)
    return ServerProcess("etcd", url, data_dir, argv,
                         data_dir.parent / f"{data_dir.name}.log").start(timeout_s)


def store_cluster(base_dir: Path, size: int, *, args: Sequence[str] = (),
                  peer_ports: Sequence[tuple[int, int]] = ()) -> list[ServerProcess]:
    """``size`` ``confagent store`` members of one new cluster on 127.0.0.1, not yet started:
    call ``launch()`` on each, then ``wait_healthy()`` (they elect a leader together).

    ``peer_ports`` gives each member (listen port, advertised port): with a fault proxy
    from the advertised port to the listening one, every byte a member receives from
    its peers passes through that proxy.
    """
    names = [f"m{i}" for i in range(size)]
    ports = list(peer_ports) or [(port, port) for port in (free_port() for _ in names)]
    advertised = {name: f"http://127.0.0.1:{ports[i][1]}" for i, name in enumerate(names)}
    initial = ",".join(f"{name}={url}" for name, url in advertised.items())
    base_dir.mkdir(parents=True, exist_ok=True)
    return [store_process(f"http://127.0.0.1:{free_port()}", base_dir / name, [
        "--name", name, "--listen-peer-urls", f"http://127.0.0.1:{ports[i][0]}",
        "--initial-advertise-peer-urls", advertised[name], "--initial-cluster", initial, *args])
        for i, name in enumerate(names)]


def store_learners(leader_url: str, base_dir: Path, count: int, *, args: Sequence[str] = (),
                   peer_ports: Sequence[tuple[int, int]] = ()) -> list[ServerProcess]:
    """``count`` learners ``l00``, ``l01``... added at ``leader_url`` (etcd's ``member add --learner``,
    one after another), their ``confagent store`` processes not yet started: ``launch()`` each, then
    ``wait_healthy()``. Each is given the whole membership as its ``--initial-cluster``, state
    ``existing``; ``peer_ports`` as :func:`store_cluster`'s. The cluster's members need
    ``--max-learners`` of at least ``count`` (etcd 3.4's limit is one).

    Raises:
        AssertionError: a member add was refused (its answer in the message).
    """
    names = [f"l{n:02d}" for n in range(count)]
    ports = list(peer_ports) or [(port, port) for port in (free_port() for _ in names)]
    advertised = {name: f"http://127.0.0.1:{ports[i][1]}" for i, name in enumerate(names)}
    members: list[dict[str, Any]] = []
    for url in advertised.values():
        reply = httpx.post(leader_url + "/v3/cluster/member/add", json={"peerURLs": [url], "isLearner": True},
                           timeout=10.0)
        assert reply.status_code == 200, reply.text
        members = reply.json()["members"]
    named = {m["name"]: m["peerURLs"][0] for m in members if m.get("name")}
    initial = ",".join(f"{name}={url}" for name, url in {**named, **advertised}.items())
    base_dir.mkdir(parents=True, exist_ok=True)
    return [store_process(f"http://127.0.0.1:{free_port()}", base_dir / name, [
        "--name", name, "--listen-peer-urls", f"http://127.0.0.1:{ports[i][0]}",
        "--initial-advertise-peer-urls", advertised[name], "--initial-cluster", initial,
        "--initial-cluster-state", "existing", *args]) for i, name in enumerate(names)]


def etcd_cluster(base_dir: Path, size: int) -> list[ServerProcess]:
    """``size`` real etcd members of one new cluster on 127.0.0.1, not yet started (like
    :func:`store_cluster`: ``launch()`` each, then ``wait_healthy()``); etcd's default election
    timing written out, and pre-vote on."""
    binary = shutil.which("etcd") or "/usr/bin/etcd"
    names = [f"e{i}" for i in range(size)]
    peers = {name: f"http://127.0.0.1:{free_port()}" for name in names}
    initial = ",".join(f"{name}={url}" for name, url in peers.items())
    base_dir.mkdir(parents=True, exist_ok=True)
    members = []
    for name in names:
        url = f"http://127.0.0.1:{free_port()}"
        argv = [binary, "--name", name, "--data-dir", str(base_dir / name),
                "--listen-client-urls", url, "--advertise-client-urls", url,
                "--listen-peer-urls", peers[name], "--initial-advertise-peer-urls", peers[name],
                "--initial-cluster", initial, "--initial-cluster-state", "new",
                "--initial-cluster-token", "bench", "--heartbeat-interval", "100",
                "--election-timeout", "1000", "--pre-vote=true", "--log-level", "error"]
        members.append(ServerProcess("etcd", url, base_dir / name, argv, base_dir / f"{name}.log"))
    return members


@contextmanager
def running(members: Sequence[ServerProcess]) -> Iterator[list[ServerProcess]]:
    """Launch every member, wait until each is healthy; stop them all on the way out (killed ones too)."""
    try:
        for member in members:
            member.launch()
        for member in members:
            member.wait_healthy()
        yield list(members)
    finally:
        for member in members:
            member.stop()
