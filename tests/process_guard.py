"""The process guard: a test that starts a process without the mark that says so fails.

Rules: while a test runs (setup, call, teardown), ``subprocess.Popen`` (and so
``subprocess.run`` and asyncio's subprocesses on the default loop) and asyncio's
``create_subprocess_exec``/``_shell`` (uvloop's too) check the test's marks: no
``system`` mark, no process; etcd or etcdctl also need the ``etcd`` mark. The
refusal fails the test loudly, even when the code under test catches it. The
marks come from the fixtures a test uses (tests/conftest.py), so the message
says which fixture to take. Between tests (collection, session teardown)
nothing is checked, nor is a fork of this interpreter (no new program starts).
"""

from __future__ import annotations

import asyncio
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

_ETCD_PROGRAMS = frozenset({"etcd", "etcdctl"})
_current: list[pytest.Item] = []
"""The test being run (setup, call and teardown); empty between tests."""
_REFUSED = pytest.StashKey[str]()
_ORIGINAL_POPEN = subprocess.Popen
_ORIGINAL_EXEC = asyncio.create_subprocess_exec
_ORIGINAL_SHELL = asyncio.create_subprocess_shell


def _check_start(program: str) -> None:
    """Fail the test in progress when it may not start ``program`` (see the module docstring)."""
    if not _current:
        return
    item, name = _current[-1], Path(program).name
    if item.get_closest_marker("system") is None:
        refused = (f"{item.nodeid} starts a process ({name}) but is not marked system: "
                   "mark it system (use the fixture): take processes, etcd_processes or subprocesses")
    elif name in _ETCD_PROGRAMS and item.get_closest_marker("etcd") is None:
        refused = (f"{item.nodeid} starts {name} but is not marked etcd: "
                   "take etcd_server, etcd_processes or etcd_binary")
    else:
        return
    item.stash[_REFUSED] = refused
    pytest.fail(refused, pytrace=False)


def _program(args: Any) -> str:
    """The program of a command line (a list, or a string run by a shell)."""
    if isinstance(args, str | bytes):
        return os.fsdecode(args).split()[0]
    if isinstance(args, os.PathLike):
        return os.fsdecode(args)
    return os.fsdecode(next(iter(args)))


class _GuardedPopen(_ORIGINAL_POPEN):  # type: ignore[valid-type,misc]
    """``subprocess.Popen`` (and so ``subprocess.run`` and asyncio's default loop) behind the guard."""

    def __init__(self, args: Any, *rest: Any, **kwargs: Any) -> None:
        _check_start(_program(args))
        super().__init__(args, *rest, **kwargs)


async def _guarded_exec(program: Any, *args: Any, **kwargs: Any) -> asyncio.subprocess.Process:
    _check_start(_program([program]))
    return await _ORIGINAL_EXEC(program, *args, **kwargs)


async def _guarded_shell(command: Any, **kwargs: Any) -> asyncio.subprocess.Process:
    _check_start("/bin/sh")
    return await _ORIGINAL_SHELL(command, **kwargs)


def pytest_configure(config: pytest.Config) -> None:
    subprocess.Popen = _GuardedPopen  # type: ignore[misc]
    asyncio.create_subprocess_exec = _guarded_exec  # type: ignore[assignment]
    asyncio.create_subprocess_shell = _guarded_shell  # type: ignore[assignment]


def pytest_unconfigure(config: pytest.Config) -> None:
    subprocess.Popen = _ORIGINAL_POPEN  # type: ignore[misc]
    asyncio.create_subprocess_exec = _ORIGINAL_EXEC
    asyncio.create_subprocess_shell = _ORIGINAL_SHELL


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Iterator[object]:
    _current.append(item)
    try:
        return (yield)
    finally:
        _current.pop()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[object]:
    """A refusal the code under test caught (a command runner mapping errors) still fails the test."""
    result = yield
    if _REFUSED in item.stash:
        pytest.fail(item.stash[_REFUSED], pytrace=False)
    return result
