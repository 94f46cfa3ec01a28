"""``python -m confagent`` and the real etcdctl 3.4 run with the same arguments (differential tests)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

from confagent.testing import Processes, confagent_argv

__all__ = ["ETCDCTL", "Held", "Tool", "error_lines", "etcdctl", "masked", "ours", "rpc_errors", "same_output"]

ETCDCTL = "/usr/bin/etcdctl"


def ours(url: str, *args: str, stdin: bytes = b"") -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(confagent_argv(*args, "--endpoints", url),
                          input=stdin, capture_output=True, timeout=30, check=False)


def etcdctl(url: str, *args: str, stdin: bytes = b"") -> subprocess.CompletedProcess[bytes]:
    if not os.path.exists(ETCDCTL):
        pytest.fail("etcdctl is not installed: apt-get install etcd-client")
    return subprocess.run([ETCDCTL, f"--endpoints={url}", *args], input=stdin,
                          capture_output=True, timeout=30, check=False,
                          env={**os.environ, "ETCDCTL_API": "3"})


def same_output(url: str, ours_args: Sequence[str], etcdctl_args: Sequence[str] | None = None,
                stdin: bytes = b"") -> bytes:
    mine = ours(url, *ours_args, stdin=stdin)
    if etcdctl_args is None:
        etcdctl_args = ours_args[1:] if ours_args[0] == "kv" else ours_args
    theirs = etcdctl(url, *etcdctl_args, stdin=stdin)
    assert mine.returncode == 0, mine.stderr
    assert mine.stdout == theirs.stdout
    return mine.stdout


@dataclass(frozen=True)
class Tool:
    """One CLI (etcdctl, or ours) against one server: how to run it (endpoints for ours in the
    environment, so that its arguments may end with a command of their own)."""

    name: str
    url: str

    def argv(self, *args: str) -> list[str]:
        if self.name == "etcdctl":
            return [ETCDCTL, f"--endpoints={self.url}", *args]
        return confagent_argv(*args)

    @property
    def env(self) -> dict[str, str]:
        return {**os.environ, "ETCDCTL_API": "3", "CONFAGENT_ENDPOINTS": self.url}

    def run(self, processes: Processes, *args: str) -> tuple[int, str, str]:
        """Run to its end: exit code, stdout, and the ``Error:`` lines of stderr."""
        done = processes.run(self.argv(*args), env=self.env)
        return done.returncode, done.stdout.decode(), error_lines(done.stderr.decode())


def error_lines(stderr: str) -> str:
    """The ``Error:`` lines of a command's stderr (etcdctl may log clientv3's retries around them)."""
    return "".join(line + "\n" for line in stderr.splitlines() if line.startswith("Error:"))


class Held:
    """A long-running command's process (a lock, an election, a watch), its output in files."""

    def __init__(self, tool: Tool, processes: Processes, tmp_path: Path, *args: str) -> None:
        self.out, self.err = tmp_path / f"{uuid.uuid4().hex}.out", tmp_path / f"{uuid.uuid4().hex}.err"
        with self.out.open("wb") as stdout, self.err.open("wb") as stderr:
            self.process = processes.popen(tool.argv(*args), stdout=stdout, stderr=stderr, env=tool.env)

    def lines(self) -> list[str]:
        return self.out.read_text().splitlines()

    def stop(self, signum: int = signal.SIGINT) -> tuple[int, str, str]:
        self.process.send_signal(signum)
        code = self.process.wait(30)
        return code, self.out.read_text(), error_lines(self.err.read_text())


def masked(text: str) -> str:
    """IDs (hexadecimal or decimal), peer ports, raft terms and table padding masked."""
    text = re.sub(r"127\.0\.0\.1:\d+", "ADDR", text)
    text = re.sub(r"\b[0-9a-f]{12,16}\b", "ID", text)
    text = re.sub(r"\b\d{12,20}\b", "ID", text)
    text = re.sub(r'("raft_term":|"RaftTerm" : )\d+', r"\1T", text)
    return re.sub(r" {2,}", " ", re.sub(r"-{2,}", "-", text))


def rpc_errors(stderr: str) -> str:
    """The ``Error:`` lines and the gRPC status clientv3 logged for each failed call."""
    lines = []
    for line in stderr.splitlines():
        if line.startswith("Error:"):
            lines.append(masked(line))
        elif match := re.search(r'"error":"(rpc error: [^"]*)"', line):
            lines.append(masked(match.group(1)))
    return "".join(line + "\n" for line in lines)
