"""A real ZooKeeper (Debian's ``zookeeper`` package) for the zookeeper backend's tests: standalone, on a
free port, with a data directory and a config of its own, started through the test's ``Processes`` (so
the test is marked ``system``).

``ZookeeperServer.start()`` waits until it serves (``srvr`` says its mode); ``kill()`` and ``start()``
again restart it on the same port with its data (and its sessions: a client that reconnects in time
keeps its own).
``client()`` gives a kazoo client for the test's own writes, with a digest identity when given one.
Start-up takes about a second (a JVM): tests share one server per session where they can.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from kazoo.client import KazooClient

from confagent.testing import Processes, free_port, until

ZOOKEEPER_JAR = Path("/usr/share/java/zookeeper.jar")
"""Debian's server jar; its manifest lists the libraries it needs, but for these."""
MORE_JARS = (Path("/usr/share/java/netty-codec.jar"), Path("/usr/share/java/slf4j-simple.jar"))
"""Netty's codecs, which TLS needs and Debian's manifest leaves out (its packages install them), and a
logger that writes the server's warnings to its log."""
MAIN_CLASS = "org.apache.zookeeper.server.ZooKeeperServerMain"
TICK_MS = 500
"""The server's tick: sessions may last from 2 to 20 ticks."""


def java_argv(config: Path) -> list[str]:
    """How to start a standalone server from ``config``; the test fails with the install hint if it is
    missing."""
    java = shutil.which("java")
    if java is None or not ZOOKEEPER_JAR.exists():
        pytest.fail("ZooKeeper is not installed: apt-get install zookeeper (scripts/test does)")
    classpath = ":".join(str(jar) for jar in (ZOOKEEPER_JAR, *MORE_JARS) if jar.exists())
    return [java, "-Xmx256m", "-XX:TieredStopAtLevel=1", "-Dorg.slf4j.simpleLogger.defaultLogLevel=warn",
            "-cp", classpath, MAIN_CLASS, str(config)]


@dataclass
class ZookeeperServer:
    """One standalone ZooKeeper of a test (module docstring).

    Attributes:
        directory: its config, data and log.
        tls_dir: a directory of ``tests/certs.make_certs`` files: TLS on ``tls_port`` as well, a client
            certificate signed by their CA required there.
    """

    processes: Processes
    directory: Path
    tls_dir: Path | None = None
    port: int = field(default_factory=free_port)
    tls_port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def node(self) -> str:
        """The node as the agent's ``--node`` takes it."""
        return f"127.0.0.1:{self.port}"

    @property
    def tls_node(self) -> str:
        """The TLS port's node."""
        return f"127.0.0.1:{self.tls_port}"

    @property
    def log(self) -> Path:
        return self.directory / "zookeeper.log"

    def start(self) -> ZookeeperServer:
        (self.directory / "data").mkdir(parents=True, exist_ok=True)
        config = self.directory / "zoo.cfg"
        config.write_text(self._config())
        with self.log.open("ab") as log:
            self.process = self.processes.popen(java_argv(config), cwd=self.directory, stdout=log,
                                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        until(self._answers, f"zookeeper on port {self.port} answers", self.log)
        return self

    def kill(self) -> None:
        """Kill it (SIGKILL) and wait for it to end."""
        assert self.process is not None
        self.process.kill()
        self.process.wait(10)

    @contextmanager
    def client(self, identity: str = "") -> Iterator[KazooClient]:
        """A started kazoo client, stopped on leaving; ``identity`` is a digest ``user:password``."""
        client = KazooClient(hosts=self.node, auth_data=[("digest", identity)] if identity else None)
        client.start(timeout=30)
        try:
            yield client
        finally:
            client.stop()
            client.close()

    def _answers(self) -> bool:
        assert self.process is not None
        if self.process.poll() is not None:
            raise AssertionError(f"zookeeper ended: {self.log.read_text()[-2000:]}")
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1) as connection:
                connection.sendall(b"srvr")
                answer = b""
                while chunk := connection.recv(4096):
                    answer += chunk
        except OSError:
            return False
        return b"Mode: standalone" in answer  # 'ruok' answers before the server serves

    def _config(self) -> str:
        lines = [f"tickTime={TICK_MS}", f"dataDir={self.directory / 'data'}", f"clientPort={self.port}",
                 "clientPortAddress=127.0.0.1", "4lw.commands.whitelist=srvr", "admin.enableServer=false",
                 "forceSync=no"]  # a new session is a logged transaction: no fsync to wait for on a busy disk
        if self.tls_dir is not None:
            keys = self.directory / "server.pem"  # ZooKeeper's PEM key store: the key, then the certificate
            pem = [(self.tls_dir / name).read_text() for name in ("server.key", "server.crt")]
            keys.write_text("".join(pem))
            lines += ["serverCnxnFactory=org.apache.zookeeper.server.NettyServerCnxnFactory",
                      f"secureClientPort={self.tls_port}", "secureClientPortAddress=127.0.0.1",
                      f"ssl.keyStore.location={keys}", "ssl.keyStore.type=PEM",
                      f"ssl.trustStore.location={self.tls_dir / 'ca.crt'}", "ssl.trustStore.type=PEM",
                      "ssl.clientAuth=need"]
        return "\n".join(lines) + "\n"
