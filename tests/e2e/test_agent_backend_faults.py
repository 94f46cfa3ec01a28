"""The agent as a process over a store it does not own: the store killed and restarted mid-watch,
and history compacted under the agent's watch. Each time it recovers by itself."""

from __future__ import annotations

import json
import signal
from pathlib import Path

import httpx
import pytest

from confagent.testing import AgentProcess, Keys, Processes, ServerProcess, free_port, until
from tests.agent.processes import text_of
from tests.agent.support import resource_toml, write_confdir


def _agent(processes: Processes, root: Path, store_url: str, flags: tuple[str, ...] = (),
           ) -> tuple[AgentProcess, Path]:
    dest = root / "out" / "app.conf"
    write_confdir(root, {"app.toml": resource_toml("app.tmpl", dest, '["/app"]', "create_dest_dirs = true")},
                  {"app.tmpl": 'v={{ getv("/app/v", "unset") }}\n'})
    agent = processes.agent(["--backend", "etcd", "--node", store_url, "--confdir", str(root),
                             "--log-format", "json", *flags], root / "agent.log", root)
    return agent, dest


def test_the_store_killed_and_restarted_mid_watch(tmp_path: Path, processes: Processes) -> None:
    port = free_port()
    store: ServerProcess = processes.store(tmp_path / "store", port=port)
    agent, dest = _agent(processes, tmp_path, store.url)
    keys = Keys(store.url)
    try:
        until(lambda: text_of(dest) == "v=unset\n", "first render", agent.log)
        keys.put("/app/v", "before")
        until(lambda: text_of(dest) == "v=before\n", "the put before the crash", agent.log)
        store.kill()
        store = processes.store(tmp_path / "store", port=port)
        keys.put("/app/v", "after")
        until(lambda: text_of(dest) == "v=after\n", "the put after the restart", agent.log)
        assert agent.process.poll() is None
    finally:
        keys.close()
        assert agent.stop() == 0
        store.stop()


def test_history_compacted_while_the_agent_was_away_resyncs(tmp_path: Path, processes: Processes) -> None:
    port = free_port()
    store = processes.store(tmp_path / "store", port=port)
    agent, dest = _agent(processes, tmp_path, store.url)
    keys = Keys(store.url)
    try:
        until(lambda: text_of(dest) == "v=unset\n", "first render", agent.log)
        agent.process.send_signal(signal.SIGSTOP)  # the agent is away...
        store.kill()                               # ...its watch breaks...
        store = processes.store(tmp_path / "store", port=port)
        keys.close()
        keys = Keys(store.url)
        keys.put("/app/v", "missed")
        revision = keys.put("/other/noise", "x")
        httpx.post(store.url + "/v3/kv/compaction", json={"revision": str(revision)}, timeout=10
                   ).raise_for_status()                 # ...and the history it would resume from is gone
        agent.process.send_signal(signal.SIGCONT)
        until(lambda: text_of(dest) == "v=missed\n", "the resync after the compaction", agent.log)
        assert any("compacted" in str(e["cause"]) for e in agent.events("backend trouble"))
        keys.put("/app/v", "latest")
        until(lambda: text_of(dest) == "v=latest\n", "the watch after the resync", agent.log)
        assert agent.process.poll() is None
    finally:
        keys.close()
        agent.process.send_signal(signal.SIGCONT)
        assert agent.stop() == 0
        store.stop()


def _lines_after(agent: AgentProcess, first: str, then: str) -> list[dict[str, object]]:
    """The ``then`` log records that come after a ``first`` record."""
    records = [json.loads(line) for line in agent.log.read_text().splitlines() if line.startswith("{")]
    firsts = [i for i, record in enumerate(records) if record.get("event") == first]
    return [record for record in records[firsts[0] + 1:] if record.get("event") == then] if firsts else []


@pytest.mark.parametrize("watch", [True, False], ids=["watch", "interval"])
def test_a_store_that_answers_again_is_logged_once_as_recovered(tmp_path: Path, watch: bool,
                                                                processes: Processes) -> None:
    """Issue 10, item 5: the trouble is logged, and so is the end of it, with no change needed."""
    port = free_port()
    store: ServerProcess = processes.store(tmp_path / "store", port=port)
    trouble = "backend trouble" if watch else "backend unavailable"
    agent, dest = _agent(processes, tmp_path, store.url, () if watch else ("--no-watch", "--interval", "1"))
    try:
        until(lambda: text_of(dest) == "v=unset\n", "first render", agent.log)
        store.kill()
        until(lambda: bool(agent.events(trouble)), f"'{trouble}' in the log", agent.log)
        store = processes.store(tmp_path / "store", port=port)
        until(lambda: bool(_lines_after(agent, trouble, "backend recovered")), "the recovery", agent.log)
        [recovered] = _lines_after(agent, trouble, "backend recovered")
        assert recovered["level"] == "info" and recovered["backend"] == "etcd", recovered
        assert int(str(recovered["failures"])) >= 1 and float(str(recovered["down_s"])) > 0, recovered
        assert not agent.events("stopping: the backend cannot go on")
    finally:
        assert agent.stop() == 0
        store.stop()
