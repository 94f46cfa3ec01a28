"""Processes: the one way a test starts processes, each stopped by its own pid when the test ends.

Tests take a ``Processes`` from a fixture (``processes`` in tests/conftest.py),
which is what marks them ``system``; a test that starts a process any other way
fails in the fast loop. Each start is a function of the kit (``start_store``,
``AgentProcess``, ...); this only remembers what was started, and stops it in
the reverse order: servers and agents with SIGTERM (SIGKILL after their bound),
bare commands with SIGKILL.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

from confagent.testing._agent import AgentProcess
from confagent.testing._procs import (
    START_TIMEOUT_S,
    ServerProcess,
    confagent_argv,
    start_etcd,
    start_store,
    store_cluster,
)

__all__ = ["Processes"]

RUN_TIMEOUT_S = 30.0
KILL_WAIT_S = 10.0

_Started = TypeVar("_Started", ServerProcess, AgentProcess, "subprocess.Popen[bytes]")


class Processes:
    """What a test started, stopped by :meth:`close` (the fixture calls it)."""

    def __init__(self) -> None:
        self._started: list[ServerProcess | AgentProcess | subprocess.Popen[bytes]] = []

    def store(self, data_dir: Path, *, port: int | None = None, args: Sequence[str] = (),
              timeout_s: float = START_TIMEOUT_S) -> ServerProcess:
        """A healthy ``confagent store`` (:func:`start_store`)."""
        return self._adopt(start_store(data_dir, port=port, args=args, timeout_s=timeout_s))

    def etcd(self, data_dir: Path, *, port: int | None = None, args: Sequence[str] = (),
             timeout_s: float = START_TIMEOUT_S) -> ServerProcess:
        """A healthy real etcd (:func:`start_etcd`); the test needs the ``etcd`` mark too."""
        return self._adopt(start_etcd(data_dir, port=port, args=args, timeout_s=timeout_s))

    def cluster(self, base_dir: Path, size: int, *, args: Sequence[str] = (),
                peer_ports: Sequence[tuple[int, int]] = ()) -> list[ServerProcess]:
        """``size`` members of a new cluster, not yet launched (:func:`store_cluster`)."""
        return [self.server(member) for member in store_cluster(base_dir, size, args=args,
                                                                peer_ports=peer_ports)]

    def running_cluster(self, base_dir: Path, size: int, *, args: Sequence[str] = ()) -> list[ServerProcess]:
        """:meth:`cluster`, launched together, each healthy."""
        members = self.cluster(base_dir, size, args=args)
        for member in members:
            member.launch()
        for member in members:
            member.wait_healthy()
        return members

    def server(self, process: ServerProcess) -> ServerProcess:
        """Stop ``process`` (a server built by the test, started or not) when the test ends."""
        return self._adopt(process)

    def agent(self, argv: Sequence[str], log: Path, cwd: Path) -> AgentProcess:
        """``confagent run ARGV`` in ``cwd``, logging to ``log`` (:class:`AgentProcess`)."""
        return self._adopt(AgentProcess(argv, log, cwd))

    def popen(self, argv: Sequence[str], **kwargs: Any) -> subprocess.Popen[bytes]:
        """Any command, left running (killed when the test ends); ``kwargs`` as ``subprocess.Popen``."""
        return self._adopt(subprocess.Popen(argv, **kwargs))

    def run(self, argv: Sequence[str], *, input: bytes | None = None, cwd: Path | None = None,
            env: Mapping[str, str] | None = None, timeout_s: float = RUN_TIMEOUT_S,
            ) -> subprocess.CompletedProcess[bytes]:
        """Any command run to its end; its output and exit code."""
        return subprocess.run(argv, input=input, capture_output=True, cwd=cwd, timeout=timeout_s,
                              env=None if env is None else {**os.environ, **env}, check=False)

    def confagent(self, *args: str, cwd: Path | None = None, input: str | None = None,
                  env: Mapping[str, str] | None = None, timeout_s: float = RUN_TIMEOUT_S,
                  ) -> subprocess.CompletedProcess[str]:
        """A one-shot ``confagent ARGS`` run to its end; stdout and stderr as text."""
        return subprocess.run(confagent_argv(*args), input=input, capture_output=True, text=True, cwd=cwd,
                              timeout=timeout_s, env=None if env is None else {**os.environ, **env},
                              check=False)

    def close(self) -> None:
        """Stop everything started, the latest first."""
        while self._started:
            started = self._started.pop()
            if isinstance(started, subprocess.Popen):
                _kill(started)
            else:
                started.stop()

    def _adopt(self, started: _Started) -> _Started:
        self._started.append(started)
        return started


def _kill(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.kill()
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(KILL_WAIT_S)
    for stream in (process.stdin, process.stdout, process.stderr):
        if stream is not None:
            stream.close()
