"""nginx and haproxy as real processes on loopback for the examples' tests, tiny upstreams and a client.

Rules:
1. Upstreams are standard-library HTTP servers on ports the kernel picks,
   each answering every GET with its own name, so a response says who served it.
2. ``Traffic`` sends GETs one after another, each on a new connection (as
   many clients do; a reload must not refuse or reset a new connection),
   from a thread, until stopped or bounded by ``max_requests``/``max_s``.
   Each request's answer (the upstream's name) or failure is recorded in order.
3. nginx and haproxy run in the foreground (``daemon off`` / master-worker
   ``-W``), started by the test with a configuration, a pid file and logs in
   a temporary directory, so ``nginx -s reload -c CONF`` and ``kill -USR2
   $(cat PIDFILE)`` reach them as they reach a system's. A reload is over
   when the master has one worker left: the old one has served its last request.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import signal
import subprocess
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

NGINX = "/usr/sbin/nginx"
HAPROXY = "/usr/sbin/haproxy"
REQUEST_TIMEOUT_S = 10.0


class _NameHandler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = self.server.name.encode()  # type: ignore[attr-defined]
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        """Quiet: the test reads answers, not access logs."""


@contextmanager
def upstreams(names: Sequence[str]) -> Iterator[dict[str, str]]:
    """An HTTP server per name on a loopback port, answering its name; ``{name: "127.0.0.1:port"}``."""
    servers = []
    for name in names:
        server = ThreadingHTTPServer(("127.0.0.1", 0), _NameHandler)
        server.daemon_threads = True
        server.name = name  # type: ignore[attr-defined]
        threading.Thread(target=server.serve_forever, name=f"upstream-{name}", daemon=True).start()
        servers.append(server)
    try:
        yield {name: f"127.0.0.1:{server.server_address[1]}"
               for name, server in zip(names, servers, strict=True)}
    finally:
        for server in servers:
            server.shutdown()
            server.server_close()


class Traffic:
    """GET requests to ``host:port`` one after another (rule 2); ``answers`` and ``failures`` in order."""

    def __init__(self, address: str, *, max_requests: int = 200_000, max_s: float = 120.0) -> None:
        host, port = address.rsplit(":", 1)
        self.host, self.port = host, int(port)
        self.max_requests, self.max_s = max_requests, max_s
        self.answers: list[str] = []
        self.failures: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="traffic", daemon=True)

    def __enter__(self) -> Traffic:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(REQUEST_TIMEOUT_S + 5)

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def _run(self) -> None:
        deadline = time.monotonic() + self.max_s
        while not self._stop.is_set() and len(self.answers) + len(self.failures) < self.max_requests:
            if time.monotonic() > deadline:
                return
            try:
                self.answers.append(self._get())
            except (OSError, http.client.HTTPException, ValueError) as error:
                self.failures.append(f"request {len(self.answers) + len(self.failures)}: {error!r}")

    def _get(self) -> str:
        connection = http.client.HTTPConnection(self.host, self.port, timeout=REQUEST_TIMEOUT_S)
        try:
            connection.request("GET", "/")
            response = connection.getresponse()
            body = response.read().decode(errors="replace")
        finally:
            connection.close()
        if response.status != 200:
            raise ValueError(f"status {response.status}: {body[:200]}")
        return body


class ProxyProcess:
    """A proxy started in the foreground by the test; stopped (and its workers with it) by ``stop``."""

    def __init__(self, argv: Sequence[str], log: Path, pid_file: Path) -> None:
        self.log, self.pid_file = log, pid_file
        with log.open("ab") as sink:
            self.process = subprocess.Popen(list(argv), stdout=sink, stderr=subprocess.STDOUT,
                                            stdin=subprocess.DEVNULL)

    def master_pid(self) -> int | None:
        """The pid in the pid file once the program wrote it (its master's), else None."""
        try:
            text = self.pid_file.read_text().strip()
        except FileNotFoundError:
            return None
        return int(text) if text.isdigit() else None

    def workers(self) -> list[int]:
        """The master's child processes: its workers, old and new (the master forks from its main thread)."""
        pid = self.process.pid
        return [int(child) for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]

    def stop(self, timeout_s: float = 15.0) -> None:
        """SIGTERM to the master (it stops its workers); SIGKILL to all of them past ``timeout_s``."""
        if self.process.poll() is not None:
            return
        workers = self.workers()
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout_s)
        except subprocess.TimeoutExpired:
            for pid in workers:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            self.process.kill()
            self.process.wait(timeout_s)


def nginx_main_config(root: Path) -> Path:
    """``root/nginx.conf``: one worker, ``root/conf.d/*.conf`` in ``http``, every file under ``root``."""
    (root / "conf.d").mkdir(parents=True, exist_ok=True)
    (root / "temp").mkdir(exist_ok=True)
    temp_paths = "".join(f"    {kind}_temp_path {root}/temp/{kind};\n"
                         for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    config = root / "nginx.conf"
    config.write_text(
        f"worker_processes 1;\npid {root}/nginx.pid;\nerror_log {root}/error.log notice;\n"
        f"events {{\n    worker_connections 256;\n}}\n"
        f"http {{\n    access_log off;\n{temp_paths}    include {root}/conf.d/*.conf;\n}}\n")
    return config


def start_nginx(config: Path) -> ProxyProcess:
    """nginx in the foreground (its master and one worker) on ``config``."""
    root = config.parent
    return ProxyProcess([NGINX, "-e", str(root / "error.log"), "-c", str(config), "-g", "daemon off;"],
                        root / "nginx.out", root / "nginx.pid")


def start_haproxy(configs: Sequence[Path], pid_file: Path) -> ProxyProcess:
    """haproxy in master-worker mode in the foreground, reading ``configs`` in order."""
    files = [arg for config in configs for arg in ("-f", str(config))]
    return ProxyProcess([HAPROXY, "-W", *files, "-p", str(pid_file)],
                        pid_file.parent / "haproxy.out", pid_file)
