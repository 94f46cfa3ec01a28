"""Agents whose embedded stores form one cluster, as real processes on loopback.

Each agent renders ``examples/cluster``'s resource into its own directory from its
own replica. A fault proxy stands in front of each member's peer port (members
advertise the proxy's port), so a test can cut one member off as
tests/fault/test_cluster_nemesis.py does. Every wait is a poll with a deadline.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import suppress
from functools import partial
from pathlib import Path

import httpx
import pytest

from confagent.testing import (
    DEADLINE_S,
    AgentProcess,
    FaultProxy,
    PartitionMode,
    Processes,
    free_port,
    leader_index,
    put_when_led,
    until,
)
from tests.agent.processes import text_of
from tests.agent.support import EXAMPLES

EXAMPLE = EXAMPLES / "cluster"
NAMES = ("node1", "node2", "node3")


class Node:
    """One agent with its member: a directory (data, out/, log), a client URL, a peer proxy."""

    def __init__(self, processes: Processes, root: Path, name: str) -> None:
        self.processes = processes
        self.name = name
        self.directory = root / name
        self.directory.mkdir()
        self.client_url = f"http://127.0.0.1:{free_port()}"
        self._listen_peer_url = f"http://127.0.0.1:{free_port()}"
        self.proxy = FaultProxy(free_port(), "127.0.0.1", int(self._listen_peer_url.rpartition(":")[2]))
        self.peer_url = f"http://127.0.0.1:{self.proxy.port}"
        """What the other members dial: the proxy in front of the peer port."""
        self.agent: AgentProcess | None = None

    def configure(self, initial_cluster: str, state: str = "new") -> None:
        (self.directory / "confagent.toml").write_text(
            f'confdir = "{EXAMPLE}"\nlog_format = "json"\n[store]\nname = "{self.name}"\n'
            f'data_dir = "data"\nlisten_client_urls = ["{self.client_url}"]\n'
            f'listen_peer_urls = ["{self._listen_peer_url}"]\n'
            f'initial_advertise_peer_urls = ["{self.peer_url}"]\ninitial_cluster = "{initial_cluster}"\n'
            f'initial_cluster_state = "{state}"\ninitial_cluster_token = "test-cluster"\n')

    @property
    def file(self) -> Path:
        return self.directory / "out" / "app.conf"

    @property
    def log(self) -> Path:
        return self.directory / "agent.log"

    def start(self) -> None:
        self.agent = self.processes.agent(["--config-file", "confagent.toml"], self.log, self.directory)

    def kill(self) -> None:
        assert self.agent is not None
        self.agent.kill()

    def stop(self) -> None:
        if self.agent is not None:
            self.agent.stop()
        self.proxy.close()

    def shows(self, line: str) -> bool:
        return line in (text_of(self.file) or "").splitlines()

    def wait_shows(self, line: str, what: str) -> None:
        until(lambda: self.shows(line), f"{what} ({self.name})", self.log)


@pytest.fixture
def cluster(tmp_path: Path, processes: Processes) -> Iterator[list[Node]]:
    nodes: list[Node] = []
    try:
        nodes.extend(Node(processes, tmp_path, name) for name in NAMES)
        initial_cluster = ",".join(f"{node.name}={node.peer_url}" for node in nodes)
        for node in nodes:
            node.configure(initial_cluster)
            node.start()
        for node in nodes:
            until(node.file.exists, f"{node.name}'s first render", node.log)
        yield nodes
    finally:
        for node in nodes:
            node.stop()


def put(node: Node, key: str, value: str) -> int:
    return put_when_led(node.client_url, key, value, node.log)


def test_three_agents_render_alike_and_a_killed_one_converges(cluster: list[Node]) -> None:
    node1, node2, node3 = cluster
    first = {text_of(node.file) for node in cluster}
    assert len(first) == 1 and "# no /app/upstreams/* keys yet" in first.pop()  # type: ignore[operator]

    put(node2, "/app/upstreams/web1", "10.0.0.1:80")
    for node in cluster:
        node.wait_shows("web1 = 10.0.0.1:80", "the put everywhere")

    node1.kill()
    put(node2, "/app/upstreams/web2", "10.0.0.2:80")
    for node in (node2, node3):
        node.wait_shows("web2 = 10.0.0.2:80", "a put with one agent down")
    assert not node1.shows("web2 = 10.0.0.2:80")

    node1.start()
    node1.wait_shows("web2 = 10.0.0.2:80", "the restarted agent to converge")
    assert text_of(node1.file) == text_of(node2.file) == text_of(node3.file)


def test_a_partitioned_agent_keeps_its_files_and_converges_after_the_heal(cluster: list[Node]) -> None:
    node1, node2, node3 = cluster
    put(node1, "/app/greeting", "before")
    for node in cluster:
        node.wait_shows("greeting = before", "the first value everywhere")

    node3.proxy.partition(PartitionMode.BLACKHOLE)
    put(node1, "/app/greeting", "during")
    for node in (node1, node2):
        node.wait_shows("greeting = during", "the majority to render")
    assert node3.shows("greeting = before")  # cut off: it never applied the write

    # Restarted while cut off, it cannot confirm its replica is current: no render, files kept.
    node3.kill()
    node3.start()
    assert node3.agent is not None
    agent3 = node3.agent
    until(lambda: any("no leader" in str(event.get("cause")) for event in agent3.events("backend trouble")),
          "the cut-off agent to report no leader", node3.log)
    assert node3.shows("greeting = before")

    node3.proxy.heal()
    node3.wait_shows("greeting = during", "the healed agent to converge")
    put(node3, "/app/greeting", "after")
    for node in cluster:
        node.wait_shows("greeting = after", "a put through the healed node")


def test_a_learner_agent_joins_and_renders_only_once_its_replica_is_caught_up(
    cluster: list[Node], tmp_path: Path, processes: Processes
) -> None:
    node1, node2, _ = cluster
    written = put(node1, "/app/greeting", "before the learner")
    learner = Node(processes, tmp_path, "node4")

    def all_named() -> bool:  # member add prints NAME=URL for each: every publish must be applied
        listed = processes.confagent("member", "list", "-w", "json", "--endpoints", node1.client_url)
        return listed.returncode == 0 and all(m.get("name") for m in json.loads(listed.stdout)["members"])

    until(all_named, "every member's name published", node1.log)
    try:
        added = processes.confagent("member", "add", "node4", "--learner", "--peer-urls", learner.peer_url,
                                    "--endpoints", node1.client_url)
        assert added.returncode == 0, added.stderr
        found = re.search(r'ETCD_INITIAL_CLUSTER="([^"]+)"', added.stdout)
        assert found is not None, added.stdout
        learner.configure(found.group(1), "existing")
        learner.start()
        learner.wait_shows("greeting = before the learner", "the learner's first render")
        agent = learner.agent
        assert agent is not None
        until(lambda: bool(agent.events("applied")), "the learner's apply log line", learner.log)
        first_render = agent.events("applied")[0]
        assert int(first_render["revision"]) >= written, first_render  # type: ignore[call-overload]

        put(node2, "/app/greeting", "with the learner")
        learner.wait_shows("greeting = with the learner", "a put reaching the learner")

        def learner_listed() -> bool:  # its name appears once its publish entry is applied
            # asked of a voter: a learner refuses member list, as etcd's does
            listed = processes.confagent("member", "list", "-w", "json", "--endpoints", node1.client_url)
            members = json.loads(listed.stdout)["members"]
            return [m.get("isLearner", False) for m in members if m.get("name") == "node4"] == [True]

        until(learner_listed, "node4 listed as a learner", learner.log)
    finally:
        learner.stop()


def test_agents_stop_on_sigterm_within_the_bound_after_a_leader_kill_and_a_learner_join(
    cluster: list[Node], tmp_path: Path, processes: Processes
) -> None:
    """Issue 10, item 4: examples/cluster's walk-through, then Ctrl-C: every agent stops, logged."""
    put(cluster[0], "/app/greeting", "before the kill")
    leader = cluster[leader_index([node.client_url for node in cluster])]
    followers = [node for node in cluster if node is not leader]
    leader.kill()
    with suppress(httpx.HTTPError):  # sent during the election: it may time out, as in the README
        httpx.post(followers[0].client_url + "/v3/kv/put", timeout=DEADLINE_S,
                   json={"key": "L2FwcC9ncmVldGluZw==", "value": "ZHVyaW5nIHRoZSBlbGVjdGlvbg=="})
    put(followers[0], "/app/greeting", "after the kill")
    leader.start()  # as the README does before adding the learner (etcd refuses while a voter is down)
    leader.wait_shows("greeting = after the kill", "the restarted agent to catch up")
    learner = Node(processes, tmp_path, "node4")
    answers: list[subprocess.CompletedProcess[str]] = []

    def added() -> bool:  # refused ('unhealthy cluster') until every voter is heard from again
        answers.append(processes.confagent("member", "add", "node4", "--learner", "--peer-urls",
                                           learner.peer_url, "--endpoints", followers[0].client_url))
        return answers[-1].returncode == 0

    until(added, "member add", followers[0].log)
    found = re.search(r'ETCD_INITIAL_CLUSTER="([^"]+)"', answers[-1].stdout)
    assert found is not None, answers[-1].stdout
    learner.configure(found.group(1), "existing")
    learner.start()
    try:
        learner.wait_shows("greeting = after the kill", "the learner's first render")
        agents = [node.agent for node in [*cluster, learner]]
        for agent in agents:
            assert agent is not None and agent.process.poll() is None, agent and agent.log.read_text()
            agent.process.send_signal(signal.SIGTERM)  # all at once, as run.py does on Ctrl-C
        for agent in agents:
            assert agent is not None
            # the bound is the agent's own (STOP_TIMEOUT_S after the batch in flight); this wait
            # only keeps a hang from stalling the suite
            assert agent.process.wait(DEADLINE_S) == 0, agent.log.read_text()[-3000:]
            assert agent.events("agent stopped"), agent.log.read_text()[-3000:]
            errors = [line for line in agent.log.read_text().splitlines() if '"level": "error"' in line]
            assert not errors, errors  # no task abandoned, no stop cut short
    finally:
        learner.stop()


def _holds(file: Path, line: str) -> bool:
    return line in (text_of(file) or "").splitlines()


def _copy_example_on_free_ports(target: Path) -> list[str]:
    """The example in ``target`` with its loopback ports replaced by free ones; the client URLs."""
    shutil.copytree(EXAMPLE, target, ignore=shutil.ignore_patterns("data", "out", "*.log", ".*cache"))
    replacements = {f"127.0.0.1:1{n}{port}": f"127.0.0.1:{free_port()}"
                    for n in (1, 2, 3, 4) for port in (379, 380)}
    for config in target.glob("node*/confagent.toml"):
        text = config.read_text()
        for old, new in replacements.items():
            text = text.replace(old, new)
        assert replacements[f"127.0.0.1:1{config.parent.name[-1]}379"] in text, "the ports moved"
        config.write_text(text)
    return [f"http://{replacements[f'127.0.0.1:1{n}379']}" for n in (1, 2, 3)]


def test_the_example_starts_with_one_command_and_stops_cleanly(tmp_path: Path, processes: Processes) -> None:
    example = tmp_path / "cluster"
    client_urls = _copy_example_on_free_ports(example)
    output = tmp_path / "run.out"
    with output.open("wb") as sink:
        runner = processes.popen([sys.executable, str(example / "run.py")], stdout=sink,
                                 stderr=subprocess.STDOUT, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        until(lambda: output.read_text().count("agent pid") == 3, "the three agents to start", output)
        files = [example / name / "out" / "app.conf" for name in NAMES]
        for file in files:
            until(file.exists, f"{file}", output)
        put_when_led(client_urls[0], "/app/greeting", "hi", output)
        for file in files:
            until(partial(_holds, file, "greeting = hi"), f"the put in {file}", output)
    finally:
        runner.send_signal(signal.SIGINT)
        exit_code = runner.wait(DEADLINE_S + 15)
    assert exit_code == 0 and "all agents stopped" in output.read_text(), output.read_text()
    for pid in map(int, re.findall(r"agent pid (\d+)", output.read_text())):
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)  # stopped and reaped by run.py
