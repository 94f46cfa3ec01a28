"""The daemon over an embedded store whose member is removed (or fails): it stops, raising MemberStopped.

A real lone member in this process; its removal is what the node records on
applying its own removal: ``node.members.removed`` set. systemd's side is a
datagram socket bound in the test's directory. tests/cluster/test_agent_member_removed.py
runs the same story with real processes and a real removal.
"""

from __future__ import annotations

import asyncio
import io
import socket
from pathlib import Path

import pytest
import structlog
from structlog.testing import capture_logs

from confagent.agent import ConfigSource, Daemon, SystemdNotifier, load_setup
from confagent.backends import EmbeddedBackend
from confagent.errors import MemberFailed, MemberRemoved
from confagent.render import StaticHost
from confagent.testing import until_async
from tests.agent.support import DEADLINE_S, resource_toml, run, write, write_confdir
from tests.backends.test_member_removed import fail_member


@pytest.mark.parametrize("how", ["removed", "failed"])
@pytest.mark.parametrize("watch", [True, False], ids=["watch", "interval"])
def test_removal_stops_the_daemon(tmp_path: Path, watch: bool, how: str, subprocesses: None) -> None:
    out = tmp_path / "a.out"
    write_confdir(tmp_path, {"a.toml": resource_toml("a.tmpl", out, '["/app"]')},
                  {"a.tmpl": 'a={{ getv("/app/a") }}\n'})
    source = ConfigSource(None, {"confdir": tmp_path, "store.data_dir": tmp_path / "data",
                                 "watch": watch, "interval": "0.05"})
    setup = load_setup(source, StaticHost())
    address = str(tmp_path / "notify")
    notifier = SystemdNotifier(address)

    async def body() -> None:
        backend = await EmbeddedBackend.start(tmp_path / "data")
        daemon = Daemon(setup, backend, source, StaticHost(), out=io.StringIO(),
                        log=structlog.get_logger("test"), notifier=notifier, hot_reload=False)
        try:
            await write(backend, {"/app/a": "1"})
            serving = asyncio.create_task(daemon.serve())
            await until_async(out.exists, f"{out}")
            if how == "removed":
                backend.node.members.removed.set()
            else:
                await fail_member(backend)
            with pytest.raises(MemberRemoved if how == "removed" else MemberFailed):
                await asyncio.wait_for(serving, DEADLINE_S)
        finally:
            await backend.close()

    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as systemd, capture_logs() as logs:
        systemd.bind(address)
        systemd.settimeout(DEADLINE_S)
        run(body)
        notifications = [systemd.recv(4096).split(b"\n")[0] for _ in range(2)]
    assert notifications == [b"READY=1", b"STOPPING=1"]
    assert out.read_text() == "a=1\n"  # as rendered before the removal
    stopping = [line for line in logs if line["event"] == "stopping: the backend cannot go on"]
    cause = "the member has been permanently removed from the cluster" if how == "removed" else \
        "the store member failed (RuntimeError('a bug where entries are applied')): restart it"
    assert stopping == [{"event": "stopping: the backend cannot go on", "backend": "embedded",
                         "cause": cause, "log_level": "error"}]
