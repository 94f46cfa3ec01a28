"""Helpers for the apply tests: specs in a temp directory, leftovers, polling, running as another user."""

from __future__ import annotations

import asyncio
import multiprocessing
import os
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any, TypeVar

from confagent.resource import ResourceSpec

T = TypeVar("T")

NOBODY = 65534
DEADLINE_S = 10.0
"""How long a poll waits for something that should happen at once."""


def run(coroutine: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coroutine)


def make_spec(dest: Path, **fields: Any) -> ResourceSpec:
    return ResourceSpec(file=f"conf.d/{dest.name}.toml", src="t.tmpl", dest=str(dest), keys=("/",), **fields)


def leftovers(directory: Path) -> list[str]:
    """Hidden files (stage files are ``.<name>.<random>.stage``) in ``directory``."""
    return sorted(path.name for path in directory.iterdir() if path.name.startswith("."))


def attributes_of(path: Path) -> tuple[bytes, int, int, int]:
    status = path.stat()
    return path.read_bytes(), status.st_uid, status.st_gid, status.st_mode & 0o7777


def process_gone(pid: int) -> bool:
    """The process has exited (absent, or a zombie nobody reaped yet)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return True
    return state in ("Z", "X")


def run_as(uid: int, gid: int, function: Callable[[], str]) -> str:
    """``function()`` in a forked child running as ``uid``/``gid``; its answer."""
    context = multiprocessing.get_context("fork")
    receiver, sender = context.Pipe(duplex=False)

    def child() -> None:
        os.setgroups([])
        os.setgid(gid)
        os.setuid(uid)
        sender.send(function())

    process = context.Process(target=child)
    process.start()
    answer = receiver.recv() if receiver.poll(DEADLINE_S) else "<no answer>"
    process.join(DEADLINE_S)
    assert process.exitcode == 0, f"child exited {process.exitcode}"
    assert isinstance(answer, str)
    return answer
