"""An agent that starts while its store is away renders from its durable cache, says it is stale, and
converges when the store returns: over a real etcd 3.4 (``--backend etcd``) and as an embedded learner
of a confagent store cluster it cannot reach. Bad caches (truncated, another cluster) are refused.

Where a start deletes the destination first, a file that appears came from the cache; the resource's
reload_cmd appends a line to ``reloads``, so that the commands a render from the cache runs are seen."""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path

import httpx
import structlog

from confagent.agent._saved_view import SAVED_VIEW_FILE, SavedView, load_saved_view, save_view
from confagent.render import KeyView
from confagent.testing import (
    AgentProcess,
    Keys,
    Processes,
    ServerProcess,
    free_port,
    put_when_led,
    until,
    until_async,
)
from tests.agent.processes import text_of
from tests.agent.support import DEADLINE_S, make_agent, resource_toml, run, write_confdir

TEMPLATE = 'v={{ getv("/app/v", "unset") }}\n'


def _write_confdir(root: Path) -> Path:
    dest = root / "out" / "app.conf"
    extra = f'create_dest_dirs = true\nreload_cmd = "echo reloaded >> {root / "reloads"}"'
    write_confdir(root, {"app.toml": resource_toml("app.tmpl", dest, '["/app"]', extra)},
                  {"app.tmpl": TEMPLATE})
    return dest


def _reloads(root: Path) -> int:
    return len((text_of(root / "reloads") or "").splitlines())


def _status(listen: str) -> dict[str, object]:
    """The agent's ``/v1/status``; empty while its listener is not up yet."""
    try:
        document: dict[str, object] = httpx.get(f"http://{listen}/v1/status", timeout=10).json()
    except httpx.ConnectError:
        return {}
    return document


def _saved_revision(path: Path) -> int:
    saved = load_saved_view(path) if path.exists() else None
    return 0 if saved is None else saved.revision


def _etcd_agent(processes: Processes, root: Path, url: str, listen: str, log: str) -> AgentProcess:
    return processes.agent(["--backend", "etcd", "--node", url, "--confdir", str(root), "--data-dir",
                            str(root / "state"), "--listen", listen, "--log-format", "json"],
                           root / log, root)


def test_etcd_away_at_start_the_agent_renders_from_its_cache_then_converges(
        tmp_path: Path, etcd_processes: Processes) -> None:
    processes = etcd_processes
    etcd: ServerProcess = processes.etcd(tmp_path / "etcd", port=free_port())
    dest, cache = _write_confdir(tmp_path), tmp_path / "state" / SAVED_VIEW_FILE
    listen = f"127.0.0.1:{free_port()}"
    keys = Keys(etcd.url)
    try:
        written = keys.put("/app/v", "before")
        agent = _etcd_agent(processes, tmp_path, etcd.url, listen, "first.log")
        until(lambda: text_of(dest) == "v=before\n", "first render", agent.log)
        until(lambda: _saved_revision(cache) >= written, "the cache saved", agent.log)
        assert agent.stop() == 0
        keys.put("/app/v", "while away")  # made while the agent is away
        keys.close()
        etcd.stop()
        dest.unlink()

        one_shot = processes.confagent("run", "--onetime", "--backend", "etcd", "--node", etcd.url,
                                       "--confdir", str(tmp_path), "--data-dir", str(tmp_path / "state"))
        assert one_shot.returncode == 1 and not dest.exists()  # a one-shot never renders from the cache
        check = processes.confagent("render", "--check", "--backend", "etcd", "--node", etcd.url,
                                    "--confdir", str(tmp_path), "--data-dir", str(tmp_path / "state"))
        assert check.returncode == 1 and not check.stdout  # nor does render --check

        agent = _etcd_agent(processes, tmp_path, etcd.url, listen, "second.log")
        until(lambda: _reloads(tmp_path) == 2, "the render from the cache and its reload", agent.log)
        assert text_of(dest) == "v=before\n"  # the lost file, written again with its reload
        [stale] = agent.events("stale: rendering from the agent's cache")
        assert stale["revision"] == written and stale["level"] == "warning"
        status = _status(listen)
        assert status["stale"] is True and status["stale_since_revision"] == written
        assert f"agent's cache at revision {written}" in str(status["reason"])
        shown = processes.confagent("status", "--listen", listen)
        assert f"agent stale: rendering from its cache since revision {written}" in shown.stdout

        etcd.start()
        until(lambda: text_of(dest) == "v=while away\n", "the put made while away", agent.log)
        until(lambda: _status(listen)["stale"] is False, "no longer stale", agent.log)
        assert agent.events("no longer stale: the backend's view replaces the agent's cache")
        assert agent.stop() == 0
    finally:
        keys.close()


def test_a_truncated_cache_is_refused_and_the_agent_waits_for_etcd(
        tmp_path: Path, etcd_processes: Processes) -> None:
    processes = etcd_processes
    etcd = processes.etcd(tmp_path / "etcd", port=free_port())
    dest, cache = _write_confdir(tmp_path), tmp_path / "state" / SAVED_VIEW_FILE
    listen = f"127.0.0.1:{free_port()}"
    written = put_when_led(etcd.url, "/app/v", "before")
    agent = _etcd_agent(processes, tmp_path, etcd.url, listen, "first.log")
    until(lambda: _saved_revision(cache) >= written, "the cache saved", agent.log)
    assert agent.stop() == 0
    etcd.stop()
    dest.unlink()
    cache.write_bytes(cache.read_bytes()[:-3])

    agent = _etcd_agent(processes, tmp_path, etcd.url, listen, "second.log")
    until(lambda: bool(agent.events("the agent's cache refused")), "the cache refused", agent.log)
    [refused] = agent.events("the agent's cache refused")
    assert "truncated or corrupt" in str(refused["cause"]) and refused["level"] == "error"
    assert not dest.exists() and _status(listen)["stale"] is False
    etcd.start()
    until(lambda: text_of(dest) == "v=before\n", "the render once etcd is back", agent.log)
    assert agent.stop() == 0


class _Learner:
    """An agent whose ``[store]`` is a learner of a one-voter confagent store cluster."""

    def __init__(self, processes: Processes, root: Path) -> None:
        self.processes, self.root = processes, root
        self.client_url = f"http://127.0.0.1:{free_port()}"
        self.peer_url = f"http://127.0.0.1:{free_port()}"
        self.listen = f"127.0.0.1:{free_port()}"
        self.dest = _write_confdir(root)
        self.cache = root / "data" / SAVED_VIEW_FILE

    def configure(self, initial_cluster: str) -> None:
        (self.root / "confagent.toml").write_text(
            f'confdir = "."\nlog_format = "json"\n[agent]\nlisten = "{self.listen}"\n'
            f'[store]\nname = "learner"\ndata_dir = "data"\n'
            f'listen_client_urls = ["{self.client_url}"]\nlisten_peer_urls = ["{self.peer_url}"]\n'
            f'initial_advertise_peer_urls = ["{self.peer_url}"]\ninitial_cluster = "{initial_cluster}"\n'
            f'initial_cluster_state = "existing"\n')

    def start(self, log: str) -> AgentProcess:
        return self.processes.agent(["--config-file", "confagent.toml"], self.root / log, self.root)


def _joined(processes: Processes, root: Path, value: str) -> tuple[ServerProcess, _Learner, int]:
    """A lone voter holding ``/app/v`` = ``value``, and a learner agent added to it and configured (not
    started); the revision of the put."""
    [voter] = processes.cluster(root / "cluster", 1)
    voter.start()
    learner = _Learner(processes, root / "learner")
    written = put_when_led(voter.url, "/app/v", value, voter.log_path)
    added = processes.confagent("member", "add", "learner", "--learner", "--peer-urls", learner.peer_url,
                                "--endpoints", voter.url)
    assert added.returncode == 0, added.stderr
    found = re.search(r'ETCD_INITIAL_CLUSTER="([^"]+)"', added.stdout)
    assert found is not None, added.stdout
    learner.configure(found.group(1))
    return voter, learner, written


def test_an_embedded_learner_cut_off_from_its_cluster_starts_from_its_cache(
        tmp_path: Path, processes: Processes) -> None:
    voter, learner, written = _joined(processes, tmp_path, "before")
    agent = learner.start("first.log")
    until(lambda: text_of(learner.dest) == "v=before\n", "the learner's first render", agent.log)
    until(lambda: _saved_revision(learner.cache) >= written, "the cache saved", agent.log)
    assert agent.stop() == 0
    away = put_when_led(voter.url, "/app/v", "while away", voter.log_path)
    voter.stop()
    good = learner.cache.read_bytes()
    reloads = _reloads(learner.root)

    head, _, body = good.partition(b"\n")  # the same view, from another cluster
    header = json.loads(head)
    learner.cache.write_bytes(json.dumps({**header, "cluster_id": "1f"}).encode() + b"\n" + body)
    agent = learner.start("other-cluster.log")
    until(lambda: bool(agent.events("the agent's cache refused")), "the cache refused", agent.log)
    [refused] = agent.events("the agent's cache refused")
    assert "from cluster 1f, this member belongs to cluster" in str(refused["cause"])
    assert _status(learner.listen)["stale"] is False
    assert not agent.events("stale: rendering from the agent's cache")
    assert agent.stop() == 0

    learner.cache.write_bytes(good)
    agent = learner.start("second.log")
    until(lambda: _status(learner.listen).get("stale") is True, "the render from the cache", agent.log)
    until(lambda: _status(learner.listen)["resources"][0]["result"] == "ok",  # type: ignore[index]
          "the pass over the cache", agent.log)
    assert _status(learner.listen)["stale_since_revision"] == written
    # the file already holds what the cache renders: left alone, no command run
    assert text_of(learner.dest) == "v=before\n" and _reloads(learner.root) == reloads
    assert [e["changed"] for e in agent.events("applied")] in ([], [False])
    voter.start()
    until(lambda: text_of(learner.dest) == "v=while away\n", "the put made while away", agent.log)
    until(lambda: _reloads(learner.root) == reloads + 1, "its reload", agent.log)
    until(lambda: _status(learner.listen)["stale"] is False, "no longer stale", agent.log)
    assert agent.stop() == 0
    assert _saved_revision(learner.cache) >= away  # the newest view is saved by the stop at the latest


def test_a_cache_from_another_etcd_cluster_is_used_offline_and_the_mismatch_logged_when_etcd_answers(
        tmp_path: Path, etcd_processes: Processes) -> None:
    """Offline, an etcd cluster's id cannot be known: the cache renders; once etcd answers, its view
    replaces the cache and the mismatch is logged. The agent runs in this process."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    dest = _write_confdir(tmp_path)
    save_view(tmp_path / "data" / SAVED_VIEW_FILE,
              SavedView(KeyView({"/app/v": "cached"}, 9), 0x1F, "etcd", (url,), ("/app",)))
    with structlog.testing.capture_logs() as logs:
        agent, _ = make_agent(tmp_path, tmp_path / "data", backend="etcd", nodes=(url,))

        async def body() -> None:
            task = asyncio.create_task(agent.run())
            try:
                await until_async(lambda: text_of(dest) == "v=cached\n", "the render from the cache")
                etcd = await asyncio.to_thread(etcd_processes.etcd, tmp_path / "etcd", port=port)
                await asyncio.to_thread(put_when_led, etcd.url, "/app/v", "fresh")
                await until_async(lambda: text_of(dest) == "v=fresh\n", "etcd's view")
            finally:
                agent.stop()
                await asyncio.wait_for(task, DEADLINE_S)

        run(body)
    [mismatch] = [e for e in logs if e["event"] == "the agent's cache came from another cluster"]
    assert mismatch["cache_cluster_id"] == "1f" and mismatch["cluster_id"] != "1f"
    assert mismatch["log_level"] == "error"
