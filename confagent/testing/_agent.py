"""``confagent run`` as a real process for tests: started with its log in a file, read as JSON lines.

The agent logs one JSON object a line (``log_format = "json"`` in its config);
:meth:`AgentProcess.events` reads them back, so a test waits on what the agent
says it did rather than on time passing. An agent given neither a data directory
nor a configuration file keeps its state (render history, saved view) beside its
log, not in the machine's ``/var/lib/confagent``, which tests must not share.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Sequence
from pathlib import Path

from confagent.testing._procs import confagent_argv, terminate

__all__ = ["AgentProcess"]

STOP_TIMEOUT_S = 15.0


class AgentProcess:
    """``confagent run ARGV`` as a subprocess in ``cwd``, its output appended to ``log``."""

    def __init__(self, argv: Sequence[str], log: Path, cwd: Path) -> None:
        self.log = log
        with log.open("ab") as sink:
            self.process = subprocess.Popen(confagent_argv("run", *argv, *_state_dir(argv, log)), stdout=sink,
                                            stderr=subprocess.STDOUT, cwd=cwd,
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

    def kill(self) -> None:
        """SIGKILL, and reap it."""
        self.process.kill()
        self.process.wait(STOP_TIMEOUT_S)

    def stop(self, timeout_s: float = STOP_TIMEOUT_S) -> int:
        """SIGTERM, then SIGKILL if it does not stop within ``timeout_s``; the exit code."""
        return terminate(self.process, timeout_s)


def _state_dir(argv: Sequence[str], log: Path) -> list[str]:
    """``--data-dir`` beside ``log`` unless ``argv`` names a data directory or a configuration file."""
    if any(arg.split("=")[0] in _STATE_FLAGS for arg in argv):
        return []
    return ["--data-dir", str(log.with_suffix(".state"))]


_STATE_FLAGS = frozenset(("--data-dir", "--store-data-dir", "--config-file"))
