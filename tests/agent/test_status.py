"""The agent's self-report: ``StatusBoard`` rules, its metrics, ``SystemdNotifier``'s environment."""

from __future__ import annotations

import os
import socket
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from confagent.agent import Outcome, StatusBoard, SystemdNotifier
from confagent.errors import RenderError


def _samples(board: StatusBoard) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = board.metrics.exposition().decode()
    return {(sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(text) for sample in family.samples}


def _ok(name: str, revision: int) -> Outcome:
    return Outcome(name, f"/etc/{name}", revision, changed=True, duration_ms=2.0)


def _failed(name: str, revision: int) -> Outcome:
    return Outcome(name, f"/etc/{name}", revision, changed=False, duration_ms=1.0,
                   error=RenderError("a.tmpl:1: key not found: /x"))


def test_healthy_only_after_every_resource_had_a_pass_and_the_backend_answered() -> None:
    board = StatusBoard(wall_clock=lambda: 1700000000.0)
    board.set_resources([("a", "/etc/a"), ("b", "/etc/b")])
    assert "backend not connected" in board.health().reason
    board.saw_revision(5)
    board.record([_ok("a", 5)])
    assert not board.health().ok and "pending: b" in board.health().reason
    board.record([_failed("b", 5)])
    assert board.health().ok  # a failing resource is its own status, not the agent's health
    board.backend_failed("connection refused")
    assert board.health().reason == "backend not connected: connection refused"
    board.backend_recovered()
    assert board.health().ok


def test_status_document_and_metrics_follow_the_outcomes() -> None:
    board = StatusBoard(wall_clock=lambda: 1700000000.0)
    board.set_resources([("a", "/etc/a"), ("b", "/etc/b")])
    board.saw_revision(7)
    board.record([_ok("a", 7), _failed("b", 7)])
    board.record([_ok("a", 7)])
    board.saw_revision(9)
    resources = board.as_json()["resources"]
    assert resources == [
        {"resource": "a", "dest": "/etc/a", "revision": 7, "result": "ok", "error": None,
         "last_success": 1700000000.0},
        {"resource": "b", "dest": "/etc/b", "revision": 7, "result": "failed",
         "error": "a.tmpl:1: key not found: /x", "last_success": None},
    ]
    samples = _samples(board)
    assert samples[("confagent_agent_renders_total", (("resource", "a"),))] == 2
    assert samples[("confagent_agent_render_failures_total", (("resource", "b"),))] == 1
    assert samples[("confagent_agent_last_success_timestamp_seconds", (("resource", "a"),))] == 1700000000.0
    assert samples[("confagent_agent_cache_revision", ())] == 9
    assert samples[("confagent_agent_revision_lag", ())] == 2
    assert samples[("confagent_agent_apply_duration_seconds_count", ())] == 3
    board.up_to_date(9)
    assert _samples(board)[("confagent_agent_revision_lag", ())] == 0


def test_a_removed_resource_leaves_the_status_and_the_metrics() -> None:
    board = StatusBoard()
    board.set_resources([("a", "/etc/a"), ("b", "/etc/b")])
    board.record([_ok("a", 1), _ok("b", 1)])
    board.set_resources([("a", "/etc/a"), ("c", "/etc/c")])
    assert [status.resource for status in board.resources] == ["a", "c"]
    assert board.resources[1].result == "pending"
    assert not any(("resource", "b") in labels for _name, labels in _samples(board))


def test_notifier_reads_the_environment() -> None:
    assert SystemdNotifier.from_environ({}) == SystemdNotifier(None, None)
    abstract = SystemdNotifier.from_environ({"NOTIFY_SOCKET": "@sd", "WATCHDOG_USEC": "30000000"})
    assert abstract == SystemdNotifier("\0sd", 30.0)
    other_pid = {"NOTIFY_SOCKET": "/run/n", "WATCHDOG_USEC": "100", "WATCHDOG_PID": str(os.getpid() + 1)}
    assert SystemdNotifier.from_environ(other_pid).watchdog_s is None


def test_notifier_sends_datagrams_to_a_path_and_to_the_abstract_namespace(tmp_path: Path) -> None:
    path = str(tmp_path / "notify")
    abstract = f"\0confagent-test-{os.getpid()}"
    for address, env_value in ((path, path), (abstract, "@" + abstract[1:])):
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sink:
            sink.bind(address)
            sink.settimeout(5)
            notifier = SystemdNotifier.from_environ({"NOTIFY_SOCKET": env_value})
            notifier.ready("up")
            notifier.reloading()
            assert sink.recv(4096) == b"READY=1\nSTATUS=up"
            reloading = sink.recv(4096).decode().split("\n")
            assert reloading[0] == "RELOADING=1" and reloading[1].startswith("MONOTONIC_USEC=")
    SystemdNotifier.from_environ({"NOTIFY_SOCKET": str(tmp_path / "gone")}).stopping()  # no listener: ignored
