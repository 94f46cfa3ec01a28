"""The test kit's own claims: bounded waits, etcd's base64, writers, the leader, stopping what started."""

from __future__ import annotations

import asyncio
import importlib
import itertools
import subprocess
from pathlib import Path

import httpx
import pytest

import confagent.testing
from confagent.testing import (
    Processes,
    Writers,
    b64,
    eventually,
    leader_of,
    post,
    unb64,
    until,
    until_async,
)


def test_until_returns_once_the_condition_holds() -> None:
    calls = itertools.count()
    until(lambda: next(calls) == 3, "the third call", pause_s=0)
    assert next(calls) == 4


def test_until_fails_naming_what_it_waited_for_and_the_log_tail(tmp_path: Path) -> None:
    log = tmp_path / "server.log"
    log.write_text("started\nlast words\n")
    with pytest.raises(AssertionError, match=r"(?s)timed out after 0.05s waiting for the sky.*last words"):
        until(lambda: False, "the sky", deadline_s=0.05, log=log)


def test_eventually_returns_the_result_that_was_done_and_shows_the_last_one() -> None:
    calls = itertools.count()
    assert eventually(lambda: next(calls), lambda n: n >= 2, pause_s=0) == 2
    with pytest.raises(AssertionError, match="last: 7"):
        eventually(lambda: 7, lambda n: n > 7, "more than seven", deadline_s=0.05)


def test_until_async_awaits_a_coroutine_condition() -> None:
    calls = itertools.count()

    async def third() -> bool:
        return next(calls) == 3

    asyncio.run(until_async(third, "the third call", pause_s=0))
    assert next(calls) == 4
    with pytest.raises(AssertionError, match="waiting for never"):
        asyncio.run(until_async(lambda: False, "never", deadline_s=0.05))


def test_b64_is_etcds_base64_of_text_and_bytes() -> None:
    assert b64("/a") == b64(b"/a") == "L2E="
    assert unb64("L2E=") == "/a"


def test_writers_and_the_leader_of_one_store(confagent_server: str) -> None:
    class Member:
        url = confagent_server

    member = Member()
    assert leader_of([member]) is member
    writers = Writers([confagent_server] * 2, "test-kit/writers").start()
    until(lambda: len(writers.acked) >= 10, "ten acknowledged puts")
    writers.stop()
    assert not writers.refused
    last = writers.last_acked()
    found = post(confagent_server, "/v3/kv/range", {"key": b64(last)}).json()["kvs"][0]
    assert (unb64(found["value"]), int(found["mod_revision"])) == (last, writers.acked[last])


@pytest.mark.usefixtures("subprocesses")  # the Processes under test is its own, not the fixture's
def test_processes_stop_what_they_started(tmp_path: Path) -> None:
    processes = Processes()
    sleeper = processes.popen(["sleep", "60"], stdout=subprocess.PIPE)
    store = processes.store(tmp_path / "data")
    assert processes.confagent("kv", "put", "/k", "v", "--endpoints", store.url).returncode == 0
    processes.close()
    assert sleeper.returncode is not None and sleeper.stdout is not None and sleeper.stdout.closed
    assert store.process is not None and store.process.returncode == 0
    with pytest.raises(httpx.HTTPError):
        httpx.get(store.url + "/health", timeout=1.0)


@pytest.mark.parametrize("module", ["_agent", "_gateway", "_launcher", "_procs", "_wait"])
def test_the_kit_exports_what_its_modules_export(module: str) -> None:
    exported = importlib.import_module(f"confagent.testing.{module}").__all__
    assert set(exported) <= set(confagent.testing.__all__)
    assert all(getattr(confagent.testing, name) is not None for name in exported)
