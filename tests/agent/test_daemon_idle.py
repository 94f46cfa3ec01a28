"""The daemon with no resource to render (every one broken): it waits, says so once, and reloads when fixed.

A real store in this process; the reload is what SIGHUP calls
(``request_reload``), hot reload being off; systemd's side is a datagram
socket bound in the test's directory.
"""

from __future__ import annotations

import asyncio
import io
import socket
from collections.abc import Callable
from pathlib import Path

import structlog
from structlog.testing import capture_logs

from confagent.agent import ConfigSource, Daemon, StatusBoard, SystemdNotifier, load_setup
from confagent.backends import EmbeddedBackend
from confagent.render import StaticHost
from tests.agent.support import DEADLINE_S, resource_toml, run, write, write_confdir

IDLE_EVENT = "no resource to render; waiting for conf.d to be fixed"


async def _until(condition: Callable[[], bool], what: str) -> None:
    deadline = asyncio.get_running_loop().time() + DEADLINE_S
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.01)


def test_nothing_to_render_then_a_reload_renders(tmp_path: Path) -> None:
    dest = tmp_path / "a.out"
    good = resource_toml("a.tmpl", dest, '["/app"]')
    write_confdir(tmp_path, {"a.toml": good + "bogus = 1\n"}, {"a.tmpl": 'a={{ getv("/app/a") }}\n'})
    source = ConfigSource(None, {"confdir": tmp_path, "store.data_dir": tmp_path / "data",
                                 "interval": "0.02"})
    setup = load_setup(source, StaticHost())
    assert setup.resources.errors and not setup.resources.resources and setup.prefixes == ()
    address = str(tmp_path / "notify")
    status = StatusBoard()

    async def body() -> None:
        backend = await EmbeddedBackend.start(tmp_path / "data")
        daemon = Daemon(setup, backend, source, StaticHost(), out=io.StringIO(), status=status,
                        log=structlog.get_logger("test"), notifier=SystemdNotifier(address), hot_reload=False)
        serving = asyncio.create_task(daemon.serve())
        try:
            await write(backend, {"/app/a": "1"})
            await _until(lambda: any(line["event"] == IDLE_EVENT for line in logs), "the idle line")
            assert not serving.done()
            assert status.health().reason == "no resource to render: every resource in conf.d is broken"
            (tmp_path / "conf.d" / "a.toml").write_text(good)
            daemon.request_reload()  # SIGHUP
            await _until(dest.exists, "the render after the reload")
            assert status.health().ok
        finally:
            daemon.stop()
            await asyncio.wait_for(serving, DEADLINE_S)
            await backend.close()

    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as systemd, capture_logs() as logs:
        systemd.bind(address)
        systemd.settimeout(DEADLINE_S)
        run(body)
        notifications = [systemd.recv(4096).split(b"\n")[0] for _ in range(2)]
    assert notifications == [b"READY=1", b"READY=1"]  # started (with nothing to do), then rendered
    assert dest.read_text() == "a=1\n"
    assert [line["event"] for line in logs].count(IDLE_EVENT) == 1
