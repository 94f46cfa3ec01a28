"""The agent as a real process, operated: systemd notifications, listener, ``confagent status``, hot reload.

systemd is played by a real ``AF_UNIX`` datagram socket the test binds and
hands to the agent as ``NOTIFY_SOCKET``; every wait polls with a deadline.
"""

from __future__ import annotations

import json
import signal
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from confagent.testing import DEADLINE_S, Processes, free_port, until
from tests.agent.processes import agent_with_store, text_of
from tests.agent.support import resource_toml, write_confdir


class NotifySocket:
    """The manager's end of sd_notify: collects the agent's datagrams."""

    def __init__(self, path: Path) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(path))
        self.sock.settimeout(0.05)
        self.messages: list[str] = []

    def states(self) -> list[str]:
        """Every state line received so far, in order (STATUS and MONOTONIC_USEC lines left out)."""
        while True:
            try:
                self.messages.append(self.sock.recv(4096).decode())
            except TimeoutError:
                break
        return [line for message in self.messages for line in message.split("\n")
                if not line.startswith(("STATUS=", "MONOTONIC_USEC="))]

    def wait_for(self, state: str, count: int = 1) -> None:
        deadline = time.monotonic() + DEADLINE_S
        while self.states().count(state) < count:
            assert time.monotonic() < deadline, f"no {state} x{count}; got {self.states()}"


@pytest.fixture
def notify(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[NotifySocket]:
    sink = NotifySocket(tmp_path / "notify.sock")
    monkeypatch.setenv("NOTIFY_SOCKET", str(tmp_path / "notify.sock"))
    monkeypatch.setenv("WATCHDOG_USEC", "200000")
    try:
        yield sink
    finally:
        sink.sock.close()


def _app(root: Path) -> Path:
    dest = root / "out" / "app.conf"
    write_confdir(root, {"app.toml": resource_toml("app.tmpl", dest, '["/app"]', "create_dest_dirs = true")},
                  {"app.tmpl": 'v={{ getv("/app/v", "unset") }}\n'})
    return dest


def test_systemd_hears_ready_reloading_watchdog_and_stopping(tmp_path: Path, notify: NotifySocket,
                                                             processes: Processes) -> None:
    dest = _app(tmp_path)
    with agent_with_store(processes, tmp_path) as (agent, _keys):
        until(lambda: text_of(dest) == "v=unset\n", "first render", agent.log)
        notify.wait_for("READY=1")
        assert notify.states()[0] in ("READY=1", "WATCHDOG=1")
        notify.wait_for("WATCHDOG=1", 3)
        agent.process.send_signal(signal.SIGHUP)
        notify.wait_for("READY=1", 2)
        states = [s for s in notify.states() if s != "WATCHDOG=1"]
        assert states == ["READY=1", "RELOADING=1", "READY=1"]
    notify.wait_for("STOPPING=1")
    assert notify.states().count("STOPPING=1") == 1
    assert agent.process.returncode == 0


def test_status_command_and_health_of_a_running_agent(tmp_path: Path, processes: Processes) -> None:
    dest = _app(tmp_path)
    listen = f"127.0.0.1:{free_port()}"
    with agent_with_store(processes, tmp_path, f'[agent]\nlisten = "{listen}"\n') as (agent, keys):
        revision = keys.put("/app/v", "1")
        until(lambda: text_of(dest) == "v=1\n", "the put", agent.log)
        until(lambda: httpx.get(f"http://{listen}/health").status_code == 200, "healthy", agent.log)
        table = processes.confagent("status", "--listen", listen)
        assert table.returncode == 0, table.stderr
        header, row = table.stdout.splitlines()[1], table.stdout.splitlines()[3]
        assert [cell.strip() for cell in header.split("|")[1:-1]] == [
            "RESOURCE", "DEST", "REVISION", "RESULT", "LAST SUCCESS"]
        assert [cell.strip() for cell in row.split("|")[1:4]] == ["app.toml", str(dest), str(revision)]
        document = json.loads(processes.confagent("status", "--listen", listen, "-w", "json").stdout)
        assert document["resources"][0]["revision"] == revision
        assert document["resources"][0]["result"] == "ok"
        from_config = processes.confagent("status", "--config-file", str(tmp_path / "confagent.toml"),
                                          "-w", "json")
        assert json.loads(from_config.stdout) == document  # the address of the file's [agent] listen
    gone = processes.confagent("status", "--listen", listen)
    assert gone.returncode == 1 and gone.stderr.startswith("Error: ")


def test_a_resource_file_added_while_running_renders(tmp_path: Path, processes: Processes) -> None:
    dest = _app(tmp_path)
    added = tmp_path / "out" / "added.conf"
    with agent_with_store(processes, tmp_path) as (agent, keys):
        until(lambda: text_of(dest) == "v=unset\n", "first render", agent.log)
        keys.put("/extra/name", "web")
        (tmp_path / "templates" / "added.tmpl").write_text('name={{ getv("/extra/name") }}\n')
        (tmp_path / "conf.d" / "added.toml").write_text(resource_toml("added.tmpl", added, '["/extra"]'))
        until(lambda: text_of(added) == "name=web\n", "the added resource's file", agent.log)
        keys.put("/extra/name", "api")
        until(lambda: text_of(added) == "name=api\n", "the added resource to follow changes", agent.log)
