"""The daemon over an embedded store in this process: what renders when, debouncing, failures, reloads.

The daemon's clock is a ``ManualClock`` where debouncing matters, so a burst
is one render by construction, not by timing; everything else polls with a deadline.
"""

from __future__ import annotations

import asyncio
import gc
import io
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import structlog

from confagent.agent import ConfigSource, Daemon, load_setup
from confagent.backends import EmbeddedBackend
from confagent.render import StaticHost
from confagent.testing import until_async
from tests.agent.support import DEADLINE_S, resource_toml, run, write, write_confdir


class ManualClock:
    """Monotonic seconds that move only when told."""

    def __init__(self) -> None:
        self.now_s = 1000.0

    def __call__(self) -> float:
        return self.now_s


@dataclass
class Running:
    daemon: Daemon
    backend: EmbeddedBackend
    source: ConfigSource


@asynccontextmanager
async def running(root: Path, clock: Callable[[], float] | None = None,
                  config_file: Path | None = None) -> AsyncIterator[Running]:
    source = ConfigSource(config_file, {"confdir": root, "store.data_dir": root / "data"})
    host = StaticHost()
    setup = load_setup(source, host)
    backend = await EmbeddedBackend.start(root / "data")
    daemon = Daemon(setup, backend, source, host, out=io.StringIO(), log=structlog.get_logger("test"),
                    clock=clock or time.monotonic)
    task = asyncio.create_task(daemon.serve())
    try:
        yield Running(daemon, backend, source)
    finally:
        daemon.stop()
        await asyncio.wait_for(task, DEADLINE_S)
        await backend.close()


def _text(path: Path) -> str | None:
    return path.read_text() if path.exists() else None


def test_a_change_renders_only_what_read_it(tmp_path: Path, subprocesses: None) -> None:
    out_a, out_b = tmp_path / "a.out", tmp_path / "b.out"
    write_confdir(tmp_path, {
        "a.toml": resource_toml("a.tmpl", out_a, '["/app"]'),
        "b.toml": resource_toml("b.tmpl", out_b, '["/app"]'),
    }, {"a.tmpl": 'a={{ getv("/app/a", "none") }}\n', "b.tmpl": 'b={{ getv("/app/b", "none") }}\n'})

    async def body() -> None:
        async with running(tmp_path) as agent:
            await until_async(lambda: _text(out_a) == "a=none\n" and _text(out_b) == "b=none\n",
                              "first render")
            passes = agent.daemon.passes
            await write(agent.backend, {"/app/unread": "x"})
            revision = agent.backend.node.kv.revision
            await until_async(lambda: agent.daemon.revision >= revision, "the cache to see the change")
            assert agent.daemon.passes == passes and agent.daemon.pending == 0
            await write(agent.backend, {"/app/a": "1"})
            await until_async(lambda: _text(out_a) == "a=1\n", "a to change")
            assert agent.daemon.passes == passes + 1
            assert _text(out_b) == "b=none\n"

    run(body)


def test_the_heap_alive_once_every_resource_rendered_is_frozen(tmp_path: Path, subprocesses: None) -> None:
    """Rule 7: after the first full pass the collector no longer scans the start-up objects."""
    out = tmp_path / "a.out"
    write_confdir(tmp_path, {"a.toml": resource_toml("a.tmpl", out, '["/app"]')},
                  {"a.tmpl": 'a={{ getv("/app/a", "none") }}\n'})

    async def body() -> None:
        async with running(tmp_path):
            await until_async(lambda: _text(out) == "a=none\n", "the first render")
            await until_async(lambda: gc.get_freeze_count() > 0, "the heap to be frozen")

    gc.unfreeze()
    try:
        run(body)
    finally:
        gc.unfreeze()  # give this test process's objects back to the collector


def test_a_burst_of_1000_changes_renders_once(tmp_path: Path, subprocesses: None) -> None:
    out = tmp_path / "n.out"
    write_confdir(tmp_path, {"n.toml": resource_toml("n.tmpl", out, '["/n"]', 'wait = "1s:60s"')},
                  {"n.tmpl": '{{ gets("/n/*") | length }} keys, last={{ getv("/n/999", "-") }}\n'})
    clock = ManualClock()

    async def body() -> None:
        async with running(tmp_path, clock) as agent:
            await until_async(lambda: _text(out) == "0 keys, last=-\n", "first render")
            passes = agent.daemon.passes
            for index in range(1000):
                await write(agent.backend, {f"/n/{index}": str(index)})
            revision = agent.backend.node.kv.revision
            await until_async(lambda: agent.daemon.revision >= revision, "the cache to catch up")
            assert agent.daemon.passes == passes and agent.daemon.pending == 1
            clock.now_s += 1.0
            await until_async(lambda: _text(out) == "1000 keys, last=999\n", "the render after the burst")
            assert agent.daemon.passes == passes + 1

    run(body)


def test_a_failing_resource_does_not_stop_others_and_is_retried(tmp_path: Path, subprocesses: None) -> None:
    good, bad = tmp_path / "good.out", tmp_path / "bad.out"
    write_confdir(tmp_path, {
        "bad.toml": resource_toml("bad.tmpl", bad, '["/x"]'),
        "good.toml": resource_toml("good.tmpl", good, '["/x"]'),
    }, {"bad.tmpl": 'need={{ getv("/x/needed") }}\n', "good.tmpl": 'v={{ getv("/x/v", "0") }}\n'})

    async def body() -> None:
        async with running(tmp_path) as agent:
            await until_async(lambda: _text(good) == "v=0\n", "the good resource")
            assert not bad.exists()
            await write(agent.backend, {"/x/needed": "yes"})
            await until_async(lambda: _text(bad) == "need=yes\n", "the retried resource")

    run(body)


def test_reload_picks_up_a_new_resource_and_keeps_running_on_a_broken_config(
        tmp_path: Path, subprocesses: None) -> None:
    first, second = tmp_path / "first.out", tmp_path / "second.out"
    config = tmp_path / "confagent.toml"
    config.write_text('log_level = "info"\n')
    write_confdir(tmp_path, {"first.toml": resource_toml("t.tmpl", first, '["/r"]')},
                  {"t.tmpl": 'v={{ getv("/r/v", "0") }}\n'})

    async def body() -> None:
        async with running(tmp_path, config_file=config) as agent:
            await until_async(lambda: _text(first) == "v=0\n", "first render")
            write_confdir(tmp_path, {"second.toml": resource_toml("t.tmpl", second, '["/r"]')}, {})
            agent.daemon.request_reload()
            await until_async(lambda: _text(second) == "v=0\n", "the new resource")
            config.write_text("this is = not [ toml\n")
            agent.daemon.request_reload()
            await write(agent.backend, {"/r/v": "1"})
            await until_async(lambda: _text(first) == "v=1\n" and _text(second) == "v=1\n",
                              "both after reload")

    run(body)
