"""The agent as a real process for end-to-end tests: start it, write keys over HTTP, wait with deadlines."""

from __future__ import annotations

import base64
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import httpx

from confagent.testing import free_port

DEADLINE_S = 20.0


def confagent(*args: str, cwd: Path | None = None, timeout_s: float = 30.0,
              ) -> subprocess.CompletedProcess[str]:
    """Run a one-shot ``confagent`` command; its result (stdout, stderr, exit code)."""
    return subprocess.run([sys.executable, "-m", "confagent", *args], capture_output=True, text=True,
                          cwd=cwd, timeout=timeout_s, check=False)


def until(condition: Callable[[], bool], what: str, log: Path | None = None) -> None:
    """Poll ``condition`` until it holds; fail after ``DEADLINE_S`` showing the agent's log."""
    deadline = time.monotonic() + DEADLINE_S
    while not condition():
        if time.monotonic() > deadline:
            shown = log.read_text(errors="replace")[-3000:] if log and log.exists() else ""
            raise AssertionError(f"timed out waiting for {what}\n{shown}")
        time.sleep(0.02)


def text_of(path: Path) -> str | None:
    try:
        return path.read_text()
    except FileNotFoundError:
        return None


def lines_of(path: Path) -> int:
    return len((text_of(path) or "").splitlines())


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


class Keys:
    """Writes keys to an etcd-API endpoint over one HTTP connection."""

    def __init__(self, url: str) -> None:
        self.client = httpx.Client(base_url=url, timeout=10.0)

    def put(self, key: str, value: str) -> int:
        answer = self.client.post("/v3/kv/put", json={"key": _b64(key), "value": _b64(value)})
        answer.raise_for_status()
        return int(answer.json()["header"]["revision"])

    def delete(self, key: str) -> int:
        answer = self.client.post("/v3/kv/deleterange", json={"key": _b64(key)})
        answer.raise_for_status()
        return int(answer.json()["header"]["revision"])

    def close(self) -> None:
        self.client.close()


class AgentProcess:
    """``confagent run`` as a subprocess, logging JSON lines to ``log``."""

    def __init__(self, argv: Sequence[str], log: Path, cwd: Path) -> None:
        self.log = log
        with log.open("ab") as sink:
            self.process = subprocess.Popen([sys.executable, "-m", "confagent", "run", *argv],
                                            stdout=sink, stderr=subprocess.STDOUT, cwd=cwd,
                                            env={**os.environ, "PYTHONUNBUFFERED": "1"})

    def events(self, name: str) -> list[dict[str, object]]:
        """The log lines whose event is ``name``."""
        found = []
        for line in self.log.read_text(errors="replace").splitlines():
            if line.startswith("{"):
                record = json.loads(line)
                if record.get("event") == name:
                    found.append(record)
        return found

    def stop(self, timeout_s: float = 15.0) -> int:
        """SIGTERM, then SIGKILL if it does not stop within ``timeout_s``; the exit code."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout_s)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout_s)
        return self.process.returncode


@contextmanager
def agent_with_store(root: Path, extra_config: str = "") -> Iterator[tuple[AgentProcess, Keys]]:
    """An agent over the embedded store in ``root/data``, its client listener on a free port."""
    url = f"http://127.0.0.1:{free_port()}"
    config = root / "confagent.toml"
    config.write_text(f'confdir = "."\nlog_format = "json"\n{extra_config}\n'
                      f'[store]\ndata_dir = "data"\nlisten_client_urls = ["{url}"]\n')
    agent = AgentProcess(["--config-file", str(config)], root / "agent.log", root)
    keys = Keys(url)
    try:
        until(lambda: _healthy(url) or agent.process.poll() is not None, "the agent's store", agent.log)
        assert agent.process.poll() is None, agent.log.read_text()
        yield agent, keys
    finally:
        keys.close()
        agent.stop()


def _healthy(url: str) -> bool:
    try:
        return httpx.get(url + "/health", timeout=1.0).status_code == 200
    except httpx.HTTPError:
        return False
