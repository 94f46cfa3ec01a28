"""A real redis-server (Debian's) for the redis backend's tests, on a free port with a directory and a
config of its own, started through the test's ``Processes`` (so the test is marked ``system``).

``RedisServer.start()`` waits until it answers a PING; ``kill()`` and ``start()`` again restart it on
the same port (its data kept in an append-only file, as a restarted production server keeps it).
``client()`` is a redis-py client for the test's own writes, signed in and over TLS as configured.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import redis

from confagent.testing import Processes, free_port, until

REDIS_SERVER = "/usr/bin/redis-server"


def redis_binary() -> str:
    """The path of redis-server; the test fails with the install hint when it is missing."""
    binary = shutil.which("redis-server") or REDIS_SERVER
    if not Path(binary).exists():
        pytest.fail("redis-server is not installed: apt-get install redis-server (scripts/test does)")
    return binary


@dataclass
class RedisServer:
    """One redis-server of a test (module docstring).

    Attributes:
        directory: its working directory (config, append-only file, log).
        password: its ``requirepass``, or "".
        tls_dir: a directory of ``tests/certs.make_certs`` files to serve TLS with, or None.
        config_disabled: ``CONFIG`` renamed away, so notifications cannot be turned on.
        notify: ``notify-keyspace-events`` at start ("" : none, as redis's default).
        users: ACL rules, one user each (``app on >pw ~* &* +@all -config``).
        unix_socket: listen on ``socket_path`` as well.
        extra: more lines of configuration.
    """

    processes: Processes
    directory: Path
    password: str = ""
    tls_dir: Path | None = None
    config_disabled: bool = False
    notify: str = ""
    users: tuple[str, ...] = ()
    unix_socket: bool = False
    extra: tuple[str, ...] = ()
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def socket_path(self) -> Path:
        return self.directory / "redis.sock"

    @property
    def node(self) -> str:
        """The node as the agent's ``--node`` takes it."""
        return f"rediss://127.0.0.1:{self.port}" if self.tls_dir else f"127.0.0.1:{self.port}"

    def start(self) -> RedisServer:
        self.directory.mkdir(parents=True, exist_ok=True)
        config = self.directory / "redis.conf"
        config.write_text(self._config())
        log = (self.directory / "redis.log").open("ab")
        self.process = self.processes.popen([redis_binary(), str(config)], cwd=self.directory,
                                            stdout=log, stderr=subprocess.STDOUT)
        log.close()
        until(self._answers, f"redis-server on port {self.port} answers", self.directory / "redis.log")
        return self

    def kill(self) -> None:
        """Kill it (SIGKILL) and wait for it to end."""
        assert self.process is not None
        self.process.kill()
        self.process.wait(10)

    def client(self) -> redis.Redis:
        tls = {}
        if self.tls_dir is not None:
            tls = {"ssl": True, "ssl_ca_certs": str(self.tls_dir / "ca.crt"),
                   "ssl_certfile": str(self.tls_dir / "client.crt"),
                   "ssl_keyfile": str(self.tls_dir / "client.key")}
        return redis.Redis(host="127.0.0.1", port=self.port, password=self.password or None, socket_timeout=5,
                           **tls)

    def _answers(self) -> bool:
        assert self.process is not None
        if self.process.poll() is not None:
            raise AssertionError(f"redis-server ended: {(self.directory / 'redis.log').read_text()[-2000:]}")
        try:
            with self.client() as client:
                return bool(client.ping())
        except redis.RedisError:
            return False

    def _config(self) -> str:
        lines = ["bind 127.0.0.1", f"dir {self.directory}", "appendonly yes", "save ''",
                 f"notify-keyspace-events '{self.notify}'", "protected-mode no"]
        if self.tls_dir is None:
            lines.append(f"port {self.port}")
        else:
            lines += ["port 0", f"tls-port {self.port}", f"tls-cert-file {self.tls_dir / 'server.crt'}",
                      f"tls-key-file {self.tls_dir / 'server.key'}",
                      f"tls-ca-cert-file {self.tls_dir / 'ca.crt'}"]
        if self.password:
            lines.append(f"requirepass {self.password}")
        if self.config_disabled:
            lines.append('rename-command CONFIG ""')
        lines += [f"user {rule}" for rule in self.users]
        lines += self.extra
        if self.unix_socket:
            lines += [f"unixsocket {self.socket_path}", "unixsocketperm 700"]
        return "\n".join(lines) + "\n"
