"""The daemon with no resource to render (every one broken): it waits, says so once, and reloads when fixed.

A real store in this process; the reload is what SIGHUP calls
(``request_reload``), hot reload being off; systemd's side is a datagram
socket bound in the test's directory.
"""

from __future__ import annotations

import asyncio
import io
import itertools
import socket
from pathlib import Path

import httpx
import structlog
from structlog.testing import capture_logs

from confagent.agent import ConfigSource, Daemon, StatusBoard, SystemdNotifier, load_setup
from confagent.agent._status import NO_RESOURCE
from confagent.backends import EmbeddedBackend
from confagent.render import StaticHost
from confagent.testing import free_port, until_async
from tests.agent.support import DEADLINE_S, make_agent, resource_toml, run, write, write_confdir

IDLE_EVENT = "no resource to render; waiting for conf.d to be fixed"


def test_nothing_to_render_then_a_reload_renders(tmp_path: Path, subprocesses: None) -> None:
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
            await until_async(lambda: any(line["event"] == IDLE_EVENT for line in logs), "the idle line")
            assert not serving.done()
            assert status.health().reason == NO_RESOURCE
            (tmp_path / "conf.d" / "a.toml").write_text(good)
            daemon.request_reload()  # SIGHUP
            await until_async(dest.exists, "the render after the reload")
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


def test_the_health_probe_reads_what_a_reload_loaded(tmp_path: Path, subprocesses: None) -> None:
    dest = tmp_path / "a.out"
    good = resource_toml("a.tmpl", dest, '["/app"]')
    write_confdir(tmp_path, {"a.toml": good + "bogus = 1\n"}, {"a.tmpl": 'a={{ getv("/app/a", "0") }}\n'})
    port = free_port()
    agent, _out = make_agent(tmp_path, tmp_path / "data", **{"agent.listen": f"127.0.0.1:{port}"})

    async def body() -> None:
        task = asyncio.create_task(agent.run())
        try:
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
                await until_async(lambda: agent.status.health().reason == NO_RESOURCE, "nothing to render")
                idle = await http.get("/health")  # the probe has nothing to read: the reason stands
                assert (idle.status_code, idle.json()["reason"]) == (503, NO_RESOURCE)
                polls = itertools.count()  # conf.d's watcher says nothing when it is ready: write until seen

                def fixed_and_rendered() -> bool:
                    if next(polls) % 20 == 0:
                        (tmp_path / "conf.d" / "a.toml").write_text(good)
                    return dest.exists() and agent.status.health().ok

                await until_async(fixed_and_rendered, "the render after conf.d was fixed")
                agent.status.backend_failed("a trouble the probe clears")
                healthy = await http.get("/health")  # the probe reads the prefixes loaded by the reload
                assert (healthy.status_code, healthy.json()) == (200, {"health": "true"})
        finally:
            agent.stop()
            await asyncio.wait_for(task, DEADLINE_S)

    run(body)
