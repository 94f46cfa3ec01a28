"""One log format per process: uvicorn's own lines, and any standard-library logging, come out
as the process's structlog lines (JSON here: stderr is not a terminal).

Each server is sent a request uvicorn cannot parse, which makes uvicorn log
"Invalid HTTP request received." on its ``uvicorn.error`` logger; before
issue 10 (item 5) that line came out as uvicorn's plain text in the middle of
the JSON lines.
"""

from __future__ import annotations

import json
import socket
from pathlib import Path

from confagent.testing import Processes, free_port, until
from tests.agent.support import resource_toml, write_confdir
from tests.metad.support import start_metad

INVALID = "Invalid HTTP request received."


def _send_garbage(url: str) -> None:
    """Bytes that are not HTTP, to ``http://host:port``; uvicorn answers 400 and logs a warning."""
    host, _, port = url.removeprefix("http://").rpartition(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(b"\x16\x03\x01 this is not HTTP\r\n\r\n")
        sock.recv(1024)


def _records(log: Path) -> list[dict[str, object]]:
    """Every line of ``log`` as JSON; a line that is not JSON fails the test, quoted."""
    records = []
    for line in log.read_text(errors="replace").splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            raise AssertionError(f"a line of {log.name} is not JSON: {line!r}") from None
        assert isinstance(record, dict) and {"event", "level", "timestamp"} <= record.keys(), line
        records.append(record)
    return records


def _warned(log: Path, count: int) -> bool:
    return log.read_text(errors="replace").count(INVALID) >= count


def _assert_one_format(log: Path, count: int) -> None:
    invalid = [r for r in _records(log) if r["event"] == INVALID]
    assert len(invalid) == count, invalid
    assert all(r["level"] == "warning" and r["logger"] == "uvicorn.error" for r in invalid), invalid


def test_the_store_logs_uvicorns_lines_as_json(tmp_path: Path, processes: Processes) -> None:
    store = processes.store(tmp_path / "store", args=["--log-level", "warning"])
    try:
        _send_garbage(store.url)
        until(lambda: _warned(store.log_path, 1), "uvicorn's warning", store.log_path)
    finally:
        assert store.stop() == 0
    _assert_one_format(store.log_path, 1)


def test_metad_logs_uvicorns_lines_as_json_on_both_ports(tmp_path: Path, processes: Processes) -> None:
    metad = start_metad(processes, tmp_path)
    log = metad.process.log_path
    try:
        _send_garbage(metad.data_url)
        _send_garbage(metad.manage_url)
        until(lambda: _warned(log, 2), "uvicorn's warnings", log)
    finally:
        metad.stop()
    _assert_one_format(log, 2)


def test_the_agent_logs_its_listeners_and_its_stores_uvicorn_lines_as_json(tmp_path: Path,
                                                                           processes: Processes) -> None:
    listen, client_url = f"127.0.0.1:{free_port()}", f"http://127.0.0.1:{free_port()}"
    dest = tmp_path / "out" / "app.conf"
    resource = resource_toml("app.tmpl", dest, '["/app"]', "create_dest_dirs = true")
    write_confdir(tmp_path, {"app.toml": resource}, {"app.tmpl": 'v={{ getv("/app/v", "unset") }}\n'})
    agent = processes.agent(["--confdir", str(tmp_path), "--log-format", "json", "--listen", listen,
                          "--store-data-dir", str(tmp_path / "data"),
                          "--store-listen-client-urls", client_url], tmp_path / "agent.log", tmp_path)
    try:
        until(dest.exists, "the first render", agent.log)
        _send_garbage(f"http://{listen}")
        _send_garbage(client_url)
        until(lambda: _warned(agent.log, 2), "uvicorn's warnings", agent.log)
    finally:
        assert agent.stop() == 0
    _assert_one_format(agent.log, 2)
