"""An agent whose embedded store member is removed from the cluster stops as a removed etcd member does.

Two ``confagent store`` voters and one agent (``confagent run``) joined as a
learner, all real processes on loopback. The learner is removed with
``confagent member remove`` through a voter: the agent exits 1 with etcd's
message, its rendered file kept as it was, and a restart on its data
directory exits 1 the same way. Every wait is a poll (or a wait) with a deadline.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from confagent.testing import DEADLINE_S, Processes, ServerProcess, free_port, put_when_led, until
from tests.agent.processes import text_of
from tests.agent.support import EXAMPLES

REMOVED = "the member has been permanently removed from the cluster"


@pytest.fixture
def voters(tmp_path: Path, processes: Processes) -> list[ServerProcess]:
    """Two healthy voters of one new cluster; stopped after the test."""
    return processes.running_cluster(tmp_path / "voters", 2)


def _add_learner(processes: Processes, url: str, name: str, peer_url: str, log: Path) -> tuple[str, str]:
    """``confagent member add NAME --learner`` through ``url``: the new member's ID and initial cluster."""

    def all_named() -> bool:  # member add prints NAME=URL for each: every publish must be applied
        listed = processes.confagent("member", "list", "-w", "json", "--endpoints", url)
        return listed.returncode == 0 and all(m.get("name") for m in json.loads(listed.stdout)["members"])

    until(all_named, "every voter's name published", log)
    added = processes.confagent("member", "add", name, "--learner", "--peer-urls", peer_url,
                                "--endpoints", url)
    assert added.returncode == 0, added.stderr
    member_id = re.search(r"Member +([0-9a-f]+) added", added.stdout)  # %16x, as etcdctl: space-padded
    initial_cluster = re.search(r'ETCD_INITIAL_CLUSTER="([^"]+)"', added.stdout)
    assert member_id is not None and initial_cluster is not None, added.stdout
    return member_id.group(1), initial_cluster.group(1)


def _configure_agent(directory: Path, name: str, peer_url: str, initial_cluster: str) -> Path:
    """The agent's configuration: ``examples/cluster``'s resource, its store joining as ``name``."""
    directory.mkdir()
    config = directory / "confagent.toml"
    config.write_text(
        f'confdir = "{EXAMPLES / "cluster"}"\nlog_format = "json"\n[store]\nname = "{name}"\n'
        f'data_dir = "data"\nlisten_peer_urls = ["{peer_url}"]\n'
        f'initial_advertise_peer_urls = ["{peer_url}"]\n'
        f'initial_cluster = "{initial_cluster}"\ninitial_cluster_state = "existing"\n')
    return config


def test_an_agent_whose_member_is_removed_exits_1_keeps_its_file_and_cannot_restart(
    voters: list[ServerProcess], tmp_path: Path, processes: Processes
) -> None:
    first, second = voters
    put_when_led(first.url, "/app/greeting", "before the removal", first.log_path)
    peer_url = f"http://127.0.0.1:{free_port()}"
    member_id, initial_cluster = _add_learner(processes, first.url, "agent", peer_url, first.log_path)
    directory = tmp_path / "agent"
    config = _configure_agent(directory, "agent", peer_url, initial_cluster)
    rendered = directory / "out" / "app.conf"
    agent = processes.agent(["--config-file", str(config)], directory / "agent.log", directory)
    try:
        until(lambda: "greeting = before the removal" in (text_of(rendered) or ""), "the agent's render",
              agent.log)
        content = text_of(rendered)

        removed = processes.confagent("member", "remove", member_id, "--endpoints", second.url)
        assert removed.returncode == 0, removed.stderr
        put_when_led(first.url, "/app/greeting", "after the removal", first.log_path)
        assert agent.process.wait(DEADLINE_S) == 1, agent.log.read_text()
    finally:
        agent.stop()
    output = agent.log.read_text()  # the agent's stderr: its JSON log lines and the CLI's error
    assert f"Error: {REMOVED}" in output, output
    [stopping] = agent.events("stopping: the backend cannot go on")
    assert stopping["cause"] == REMOVED and stopping["level"] == "error", stopping
    assert text_of(rendered) == content

    restarted = processes.confagent("run", "--config-file", str(config), cwd=directory, timeout_s=DEADLINE_S)
    assert restarted.returncode == 1 and f"Error: {REMOVED}" in restarted.stderr, restarted.stderr
    assert text_of(rendered) == content
