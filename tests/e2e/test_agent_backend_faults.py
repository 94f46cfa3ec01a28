"""The agent as a process over a store it does not own: the store killed and restarted mid-watch,
and history compacted under the agent's watch. Each time it recovers by itself."""

from __future__ import annotations

import signal
from pathlib import Path

import httpx

from confagent.testing import ServerProcess, free_port, start_store
from tests.agent.processes import AgentProcess, Keys, text_of, until
from tests.agent.support import resource_toml, write_confdir


def _agent(root: Path, store_url: str) -> tuple[AgentProcess, Path]:
    dest = root / "out" / "app.conf"
    write_confdir(root, {"app.toml": resource_toml("app.tmpl", dest, '["/app"]', "create_dest_dirs = true")},
                  {"app.tmpl": 'v={{ getv("/app/v", "unset") }}\n'})
    agent = AgentProcess(["--backend", "etcd", "--node", store_url, "--confdir", str(root),
                          "--log-format", "json"], root / "agent.log", root)
    return agent, dest


def test_the_store_killed_and_restarted_mid_watch(tmp_path: Path) -> None:
    port = free_port()
    store: ServerProcess = start_store(tmp_path / "store", port=port)
    agent, dest = _agent(tmp_path, store.url)
    keys = Keys(store.url)
    try:
        until(lambda: text_of(dest) == "v=unset\n", "first render", agent.log)
        keys.put("/app/v", "before")
        until(lambda: text_of(dest) == "v=before\n", "the put before the crash", agent.log)
        store.kill()
        store = start_store(tmp_path / "store", port=port)
        keys.put("/app/v", "after")
        until(lambda: text_of(dest) == "v=after\n", "the put after the restart", agent.log)
        assert agent.process.poll() is None
    finally:
        keys.close()
        assert agent.stop() == 0
        store.stop()


def test_history_compacted_while_the_agent_was_away_resyncs(tmp_path: Path) -> None:
    port = free_port()
    store = start_store(tmp_path / "store", port=port)
    agent, dest = _agent(tmp_path, store.url)
    keys = Keys(store.url)
    try:
        until(lambda: text_of(dest) == "v=unset\n", "first render", agent.log)
        agent.process.send_signal(signal.SIGSTOP)  # the agent is away...
        store.kill()                               # ...its watch breaks...
        store = start_store(tmp_path / "store", port=port)
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
