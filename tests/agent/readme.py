"""Running a README's console blocks as a user would: each ``$ command`` in order, in a copy of ``examples/``.

Rules:
1. The commands are the ``$ `` lines of the README's ```` ```console ```` blocks,
   in order. Each runs with ``bash -c`` from a work directory holding a copy
   of ``examples/`` (the repository root as the README sees it), with
   ``confagent`` and ``python3`` on ``PATH`` running this interpreter. The
   files the commands create are listed by ``Session.created``.
2. A command ending in `` &`` starts in the background, in a process group
   of its own, its output in a log. ``kill %N`` signals the Nth background
   command's process group, as a shell's job numbers do. The groups still
   running at the end get SIGTERM, and SIGKILL past ``STOP_TIMEOUT_S``.
   ``export NAME=VALUE`` sets a variable for the commands after it.
3. The lines after a command, up to the next ``$`` line, are its expected
   stdout; ``...`` stands for any text, within a line or across lines.
   Daemons render a moment after a change, so a command is run again until it
   exits 0 with the output expected, within ``DEADLINE_S``, as a user looks
   again; then the next command runs. A background command's expected output
   is what its log shows once it has started, within ``START_DEADLINE_S`` (a
   launcher that prints once every process it starts is ready, as
   examples/fleet's 23 agents, takes 20-30 s on 2 cores; its own waits are bounded).
4. Loopback ports (``127.0.0.1:PORT``) in the commands and in the copied
   examples' TOML and JSON files are moved to free ports, the same port
   everywhere (expected outputs are left as written), each the first of
   ``PORT_SPAN`` free ports (examples/fleet derives 46 ports from one), and
   ``CONFAGENT_ENDPOINTS`` names the moved 2379 for the commands relying on
   the default endpoint.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from confagent.testing import Processes, confagent_argv, free_port, until
from tests.agent.support import EXAMPLES

README = EXAMPLES.parent / "README.md"
DEADLINE_S = 30.0
START_DEADLINE_S = 240.0
ATTEMPT_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 15.0
_BLOCK = re.compile(r"^```console\n(.*?)^```", re.DOTALL | re.MULTILINE)
_LOOPBACK_PORT = re.compile(r"127\.0\.0\.1:(\d{2,5})\b")
_JOB = re.compile(r"%(\d+)")
_EXPORT = re.compile(r"export ([A-Za-z_][A-Za-z0-9_]*)=(\S+)")
DEFAULT_PORT = "2379"
PORT_SPAN = 64
RUNNER_DIR = ".readme-runner"
"""The runner's own files in the work directory: its ``confagent`` and ``python3``, the jobs' logs."""


@dataclass(frozen=True)
class Command:
    """One ``$`` line of a README and the stdout it shows (empty: none shown)."""

    text: str
    expected: str

    @property
    def background(self) -> bool:
        return self.text.endswith(" &")


def commands(readme: Path) -> list[Command]:
    """The README's console commands in order (rule 1), each with its expected output (rule 3)."""
    found: list[Command] = []
    for block in _BLOCK.findall(readme.read_text()):
        text: str | None = None
        output: list[str] = []
        for line in block.splitlines():
            if line.startswith("$ "):
                if text is not None:
                    found.append(Command(text, "\n".join(output)))
                text, output = line[2:].strip(), []
            else:
                assert text is not None, f"{readme}: output before any command in a console block"
                output.append(line)
        if text is not None:
            found.append(Command(text, "\n".join(output)))
    return found


def matches(expected: str, output: str) -> bool:
    """Whether ``output`` is ``expected`` with each ``...`` standing for any text (rule 3)."""
    pattern = ".*".join(re.escape(part) for part in expected.rstrip().split("..."))
    return re.fullmatch(pattern, output.rstrip(), re.DOTALL) is not None


@dataclass
class Session:
    """The work directory, environment and background jobs of one README's run."""

    processes: Processes
    root: Path
    ports: dict[str, str]
    env: dict[str, str]
    copied: set[str]
    """The files of the work directory before the first command (relative paths)."""
    jobs: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def created(self) -> list[str]:
        """The files the commands created in the work directory, relative to it."""
        return sorted(_files(self.root) - self.copied)

    def run(self, command: Command) -> None:
        text = self._moved(command.text)
        if export := _EXPORT.fullmatch(text):
            self.env[export.group(1)] = export.group(2)
        elif command.background:
            log = self._start(text[:-2])
            expected = self._moved(command.expected)
            self._until(lambda: matches(expected, log.read_text(errors="replace")), command,
                        deadline_s=START_DEADLINE_S)
        else:
            self._run_until_expected(text, command)

    def _run_until_expected(self, text: str, command: Command) -> None:
        results: list[subprocess.CompletedProcess[bytes]] = []

        def expected_output() -> bool:
            results.append(self.processes.run(["bash", "-c", text], cwd=self.root, env=self.env,
                                              timeout_s=ATTEMPT_TIMEOUT_S))
            return results[-1].returncode == 0 and matches(self._moved(command.expected),
                                                           results[-1].stdout.decode(errors="replace"))

        def shown() -> str:
            last = results[-1]
            return (f"exit {last.returncode}\nstdout:\n{last.stdout.decode(errors='replace')}\n"
                    f"stderr:\n{last.stderr.decode(errors='replace')[-3000:]}\n")

        self._until(expected_output, command, shown)

    def _until(self, condition: Callable[[], bool], command: Command, shown: Callable[[], str] = str,
               deadline_s: float = DEADLINE_S) -> None:
        try:
            until(condition, f"$ {command.text}", deadline_s=deadline_s, pause_s=0.1)
        except AssertionError:
            raise AssertionError(f"$ {command.text}\n{shown()}expected:\n{command.expected}\n"
                                 f"{self._job_logs()}") from None

    def _start(self, text: str) -> Path:
        log = self.root / RUNNER_DIR / f"job{len(self.jobs) + 1}.log"
        with log.open("wb") as sink:
            self.jobs.append(self.processes.popen(["bash", "-c", text], cwd=self.root, env=dict(self.env),
                                                  stdout=sink, stderr=subprocess.STDOUT,
                                                  stdin=subprocess.DEVNULL, start_new_session=True))
        return log

    def _moved(self, text: str) -> str:
        """``text`` with its loopback ports moved (rule 4) and ``kill``'s job numbers made process groups."""
        text = _LOOPBACK_PORT.sub(lambda m: f"127.0.0.1:{self.ports.get(m.group(1), m.group(1))}", text)
        if not text.startswith("kill ") or not _JOB.search(text):
            return text
        words = text.split()
        first_job = next(n for n, word in enumerate(words) if _JOB.fullmatch(word))
        groups = [f"-{self.jobs[int(word[1:]) - 1].pid}" for word in words[first_job:]]
        return " ".join([*words[:first_job], "--", *groups])

    def _job_logs(self) -> str:
        logs = [self.root / RUNNER_DIR / f"job{n}.log" for n in range(1, len(self.jobs) + 1)]
        return "".join(f"--- {log.name}:\n{log.read_text(errors='replace')[-2000:]}\n"
                       for log in logs if log.exists())

    def stop(self) -> None:
        """SIGTERM to each job's process group, SIGKILL to those still there past ``STOP_TIMEOUT_S``."""
        for job in self.jobs:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(job.pid, signal.SIGTERM)
        deadline = time.monotonic() + STOP_TIMEOUT_S
        for job in self.jobs:
            with contextlib.suppress(subprocess.TimeoutExpired):
                job.wait(max(0.1, deadline - time.monotonic()))
            while _group_alive(job.pid) and time.monotonic() < deadline:
                time.sleep(0.05)
            with contextlib.suppress(ProcessLookupError):
                os.killpg(job.pid, signal.SIGKILL)
            job.wait(STOP_TIMEOUT_S)


def _files(root: Path) -> set[str]:
    return {path.relative_to(root).as_posix() for path in root.rglob("*")
            if path.is_file() and not path.relative_to(root).as_posix().startswith(RUNNER_DIR)}


def _group_alive(pgid: int) -> bool:
    """Whether a process of group ``pgid`` is still running (zombies, waiting for a reaper, are not)."""
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            state, _ppid, group = stat.read_text().rsplit(")", 1)[1].split()[:3]
        except (OSError, ValueError):
            continue
        if state != "Z" and int(group) == pgid:
            return True
    return False


@contextlib.contextmanager
def session(processes: Processes, root: Path, readme: Path) -> Iterator[Session]:
    """A work directory in ``root`` for ``readme``'s commands (rules 1 and 4); its jobs stopped on leaving."""
    shutil.copytree(EXAMPLES, root / "examples",
                    ignore=shutil.ignore_patterns("data", "out", "*.log", "__pycache__"))
    found = {port for step in commands(readme) for port in _LOOPBACK_PORT.findall(step.text)} | {DEFAULT_PORT}
    for path in (root / "examples").rglob("*"):
        if path.is_file() and path.suffix in {".toml", ".json"}:
            found |= set(_LOOPBACK_PORT.findall(path.read_text()))
    ports = {port: str(free_port(span=PORT_SPAN)) for port in sorted(found)}
    for path in (root / "examples").rglob("*"):
        if path.is_file() and path.suffix in {".toml", ".json"}:
            path.write_text(_LOOPBACK_PORT.sub(lambda m: f"127.0.0.1:{ports[m.group(1)]}", path.read_text()))
    live = Session(processes, root, ports, _environment(root, ports), _files(root))
    try:
        yield live
    finally:
        live.stop()


def run_block(processes: Processes, root: Path, marker: str, readme: Path = README) -> Session:
    """Run as written the one console block of ``readme`` that holds ``marker``, in a session
    under ``root`` (the README's other blocks belong to other tests); the ended session."""
    blocks = [block for block in _BLOCK.findall(readme.read_text()) if marker in block]
    assert len(blocks) == 1, f"{readme.name} shows one console block with {marker!r}, not {len(blocks)}"
    excerpt = root / f"{readme.stem}-excerpt.md"
    excerpt.write_text(f"```console\n{blocks[0]}```\n")
    with session(processes, root / "work", excerpt) as live:
        for step in commands(excerpt):
            live.run(step)
    return live


def _environment(root: Path, ports: dict[str, str]) -> dict[str, str]:
    bin_dir = root / RUNNER_DIR / "bin"
    bin_dir.mkdir(parents=True)
    for name, command in (("confagent", " ".join(confagent_argv())), ("python3", sys.executable)):
        (bin_dir / name).write_text(f'#!/bin/sh\nexec {command} "$@"\n')
        (bin_dir / name).chmod(0o755)
    repo = str(EXAMPLES.parent)
    return {**os.environ, "PATH": f"{bin_dir}:{os.environ.get('PATH', '')}:/usr/sbin:/sbin",
            "PYTHONPATH": repo, "PYTHONUNBUFFERED": "1",
            "CONFAGENT_ENDPOINTS": f"http://127.0.0.1:{ports[DEFAULT_PORT]}"}
