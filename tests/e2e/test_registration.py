"""``confagent register`` as a real process against a confagent store and a real etcd.

SIGTERM revokes (the key is gone when the process has exited); SIGKILL leaves
the key to expire within the TTL; a store killed and restarted is registered
with again by itself; and an agent rendering examples/nginx-registry follows
instances that come, stop and die. Every wait polls with a generous deadline.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest

from confagent.testing import Processes, b64, confagent_argv, post, until
from tests.agent.processes import agent_with_store, text_of
from tests.agent.support import EXAMPLES

TTL_S = 2
SLACK_S = 10.0  # on top of a TTL: a loaded machine, the store's expiry rounds, one render


def _post(url: str, path: str, body: dict[str, object]) -> dict[str, object]:
    answer = post(url, path, body, timeout_s=5.0)
    answer.raise_for_status()
    result: dict[str, object] = answer.json()
    return result


def _lease_of(url: str, key: str) -> int | None:
    """The lease of ``key`` (0: none), or None when the key does not exist."""
    kvs = _post(url, "/v3/kv/range", {"key": b64(key)}).get("kvs")
    if not isinstance(kvs, list) or not kvs:
        return None
    return int(kvs[0].get("lease", 0))


def _lease_ttl_s(url: str, lease_id: int) -> int:
    """The lease's remaining TTL: -1 once it is gone, 0 (a field left out) while it awaits its revoke."""
    return int(str(_post(url, "/v3/lease/timetolive", {"ID": str(lease_id)}).get("TTL", 0)))


class Registrant:
    """``confagent register KEY VALUE --ttl N`` as a subprocess, its JSON log lines in ``log``."""

    def __init__(self, processes: Processes, url: str, key: str, value: str, log: Path,
                 ttl_s: int = TTL_S) -> None:
        self.key, self.log = key, log
        argv = confagent_argv("register", key, value, "--ttl", str(ttl_s), "--endpoints", url,
                              "--dial-timeout", "500ms", "--command-timeout", "1s")
        with log.open("ab") as sink:
            self.process = processes.popen(argv, stdout=subprocess.DEVNULL, stderr=sink,
                                           env={**os.environ, "PYTHONUNBUFFERED": "1"})

    def events(self, name: str) -> list[dict[str, object]]:
        lines = self.log.read_text(errors="replace").splitlines()
        records = [json.loads(line) for line in lines if line.startswith("{")]
        return [r for r in records if r.get("event") == name]

    def wait_for(self, name: str, count: int = 1, deadline_s: float = 20.0) -> dict[str, object]:
        """The ``count``-th log line of event ``name``, once the process has logged it."""
        until(lambda: len(self.events(name)) >= count or self.process.poll() is not None,
              f"{self.key}: {name!r}", self.log, deadline_s=deadline_s)
        assert len(self.events(name)) >= count, self.log.read_text()
        return self.events(name)[count - 1]

    def terminate(self, signum: int = signal.SIGTERM) -> int:
        """Send ``signum`` (SIGTERM or SIGINT); the exit code."""
        self.process.send_signal(signum)
        return self.process.wait(15)

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(15)


@pytest.fixture
def registrants(tmp_path: Path, processes: Processes) -> Callable[[str, str, str], Registrant]:
    """Starts registrants; those still running at the end are killed with the test's processes."""
    started = iter(range(1 << 30))

    def start(url: str, key: str, value: str) -> Registrant:
        return Registrant(processes, url, key, value, tmp_path / f"register-{next(started)}.log")

    return start


@pytest.fixture(params=[pytest.param("confagent_server", marks=pytest.mark.system),
                        pytest.param("etcd_server", marks=[pytest.mark.system, pytest.mark.etcd])])
def server_url(request: pytest.FixtureRequest) -> str:
    url: str = request.getfixturevalue(request.param)
    return url


@pytest.fixture
def key() -> str:
    return f"/test-register/{uuid.uuid4().hex[:8]}"


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_stop_signal_revokes_the_lease_and_the_key_is_gone_at_once(
    server_url: str, key: str, registrants: Callable[[str, str, str], Registrant], signum: int
) -> None:
    registrant = registrants(server_url, key, "10.0.0.1:80")
    registered = registrant.wait_for("registered")
    lease_id = _lease_of(server_url, key)
    assert lease_id and registered["lease"] == f"{lease_id:016x}" and registered["ttl"] == TTL_S
    assert _lease_ttl_s(server_url, lease_id) > 0
    assert registrant.terminate(signum) == 0
    assert _lease_of(server_url, key) is None  # no polling: revoked before the process exited
    assert _lease_ttl_s(server_url, lease_id) == -1
    assert registrant.events("registration revoked")


def test_sigkill_leaves_the_key_to_expire_within_the_ttl(
    server_url: str, key: str, registrants: Callable[[str, str, str], Registrant]
) -> None:
    registrant = registrants(server_url, key, "10.0.0.2:80")
    registrant.wait_for("registered")
    assert _lease_of(server_url, key)
    registrant.kill()
    until(lambda: _lease_of(server_url, key) is None, "the key to expire", deadline_s=TTL_S + SLACK_S)


def test_registers_again_by_itself_after_the_store_was_down_longer_than_the_ttl(
    tmp_path: Path, key: str, registrants: Callable[[str, str, str], Registrant], processes: Processes
) -> None:
    store = processes.store(tmp_path / "data")
    port = int(store.url.rsplit(":", 1)[1])
    try:
        registrant = registrants(store.url, key, "10.0.0.3:80")
        registrant.wait_for("registered")
        first = _lease_of(store.url, key)
        store.kill()
        lost = registrant.wait_for("registration lost")
        assert "longer than the TTL" in str(lost["reason"])
        store = processes.store(tmp_path / "data", port=port)
        registrant.wait_for("re-registered")
        second = _lease_of(store.url, key)
        assert first and second and second != first
        # The restarted store gave the old lease a new TTL; its expiry must not take the key.
        until(lambda: _lease_ttl_s(store.url, first) == -1, "the old lease to expire",
              deadline_s=TTL_S + SLACK_S)
        assert _lease_of(store.url, key) == second
        assert registrant.terminate() == 0
        assert _lease_of(store.url, key) is None
    finally:
        store.stop()


@pytest.mark.parametrize(("ttl", "code", "message"), [
    ("0", 2, "invalid TTL 0"),
    ("10000000000", 1, "Error: etcdserver: too large lease TTL"),
])
def test_a_bad_ttl_is_refused(confagent_server: str, ttl: str, code: int, message: str,
                              processes: Processes) -> None:
    done = processes.confagent("register", "/test-register/bad", "v", "--ttl", ttl,
                               "--endpoints", confagent_server)
    assert done.returncode == code and message in done.stderr, done.stderr
    assert _lease_of(confagent_server, "/test-register/bad") is None


def _copy_example(root: Path) -> None:
    example = EXAMPLES / "nginx-registry"
    for part in ("conf.d", "templates"):
        shutil.copytree(example / part, root / part)


def _upstream_servers(dest: Path) -> list[str]:
    return [line.split("#")[1].strip() for line in (text_of(dest) or "").splitlines()
            if line.strip().startswith("server ")]


def test_the_example_upstream_follows_instances_that_come_stop_and_die(
    tmp_path: Path, registrants: Callable[[str, str, str], Registrant], processes: Processes
) -> None:
    _copy_example(tmp_path)
    dest = tmp_path / "out" / "nginx" / "upstream.conf"
    expected = (EXAMPLES / "nginx-registry" / "expected" / "nginx" / "upstream.conf").read_text()
    with agent_with_store(processes, tmp_path) as (agent, keys):
        url = str(keys.client.base_url).rstrip("/")
        until(lambda: _upstream_servers(dest) == ["no instance registered"], "the empty upstream", agent.log,
              deadline_s=SLACK_S)
        web1 = registrants(url, "/services/web/web-1", "10.0.0.11:8080")
        web2 = registrants(url, "/services/web/web-2", "10.0.0.12:8080")
        until(lambda: text_of(dest) == expected, "both instances (expected/)", agent.log, deadline_s=SLACK_S)
        web1.kill()
        until(lambda: _upstream_servers(dest) == ["web-2"], "web-1 dropped after its TTL", agent.log,
              deadline_s=TTL_S + SLACK_S)
        registrants(url, "/services/web/web-3", "10.0.0.13:8080")
        until(lambda: _upstream_servers(dest) == ["web-2", "web-3"], "web-3 added", agent.log,
              deadline_s=SLACK_S)
        assert web2.terminate() == 0
        until(lambda: _upstream_servers(dest) == ["web-3"], "web-2 dropped on SIGTERM", agent.log,
              deadline_s=SLACK_S)
