#!/usr/bin/env python3
"""Start a fleet on loopback: three voters and N learner agents; SIGTERM (or Ctrl-C) stops them all.

Every host is an agent (``confagent run``) whose embedded store is a member of one
Raft cluster: ``voter1``-``voter3`` vote, ``learner01``... join as learners and
render from their own replica. Host k (0 for voter1) listens for clients on
``base + 2k`` and for peers on ``base + 2k + 1``. The script writes each host's
``confagent.toml`` in its directory (``voter1/``, ``learner01/``...; data in
``data/``, file in ``out/app.conf``, log in ``agent.log``, pid in ``agent.pid``;
the resource in ``config/``, a confdir beside the hosts, not above them),
starts the voters, then joins the learners in turns of ``--turn``: adds the turn's
members through voter1's client URL (etcd's JSON gateway), starts their agents and
waits for each one's file before the next turn. Its own pid is in ``run.pid``:
``kill $(cat examples/fleet/run.pid)`` stops every agent it started and waits for
them (one still running ``STOP_TIMEOUT_S`` later is killed).

    python3 examples/fleet/run.py [--learners 20] [--base 127.0.0.1:21000] [--turn 5] [--wait MIN:MAX]

The agents render each change as soon as their replica applies it, as confd does (no ``wait``
window): a window (``--wait 50ms:1s``) pays its minimum on every change to save renders and reloads
in bursts, which this example's resource, with no reload command, has no use for.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import shlex
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from types import FrameType

HERE = Path(__file__).resolve().parent
VOTERS = ("voter1", "voter2", "voter3")
STOP_TIMEOUT_S = 15.0
READY_TIMEOUT_S = 180.0
"""The bound on each wait: the voters' leader, a turn's member adds, a turn's files."""
CONFIG = """\
# Written by ../run.py: host {name} of the fleet example (../README.md).
confdir = "../config"
{wait}log_format = "json"

[store]
name = "{name}"
data_dir = "data"
listen_client_urls = ["{client}"]
listen_peer_urls = ["{peer}"]
initial_cluster = "{cluster}"
initial_cluster_state = "{state}"
initial_cluster_token = "confagent-fleet"
max_learners = {learners}
"""


class Fleet:
    """The hosts' names and URLs, and the agents started so far."""

    def __init__(self, host: str, base: int, learners: int, wait: str) -> None:
        self.names = [*VOTERS, *(f"learner{n:02d}" for n in range(1, learners + 1))]
        self.host, self.base, self.learners, self.wait = host, base, learners, wait
        self.agents: list[subprocess.Popen[bytes]] = []

    def url(self, name: str, peer: bool = False) -> str:
        return f"http://{self.host}:{self.base + 2 * self.names.index(name) + int(peer)}"

    def configure(self, name: str, members: list[str], state: str) -> None:
        directory = HERE / name
        directory.mkdir(exist_ok=True)
        cluster = ",".join(f"{member}={self.url(member, peer=True)}" for member in members)
        (directory / "confagent.toml").write_text(CONFIG.format(
            name=name, client=self.url(name), peer=self.url(name, peer=True), cluster=cluster,
            state=state, learners=self.learners, wait=f'wait = "{self.wait}"\n' if self.wait else ""))

    def start(self, name: str) -> None:
        directory = HERE / name
        command = shlex.split(os.environ.get("CONFAGENT", "")) or [sys.executable, "-m", "confagent"]
        with (directory / "agent.log").open("ab") as log:
            agent = subprocess.Popen([*command, "run", "--config-file", "confagent.toml"],
                                     cwd=directory, stdout=log, stderr=subprocess.STDOUT)
        (directory / "agent.pid").write_text(f"{agent.pid}\n")
        self.agents.append(agent)

    def stop(self) -> None:
        """SIGTERM every agent still running, wait for each, kill the ones that outlive the timeout."""
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second signal must not cut the clean-up short
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        for agent in self.agents:
            if agent.poll() is None:
                agent.terminate()
        for agent in self.agents:
            try:
                agent.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                agent.kill()
                agent.wait()


def _ports_free(fleet: Fleet) -> None:
    """Fail at once, naming it, if a port the fleet derives from its base is taken."""
    for name in fleet.names:
        for peer in (False, True):
            port = int(fleet.url(name, peer).rsplit(":", 1)[1])
            with socket.socket() as probe:
                try:
                    probe.bind((fleet.host, port))
                except OSError as error:
                    raise SystemExit(f"fleet: port {port} ({name}) is taken: {error}; "
                                     "choose another --base") from None


def _post(url: str, path: str, body: dict[str, object]) -> dict[str, object]:
    request = urllib.request.Request(url + path, json.dumps(body).encode(),
                                     {"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as answer:
        result: dict[str, object] = json.load(answer)
    return result


def _until(what: str, condition: Callable[[], object]) -> None:
    """Call ``condition`` every 0.1 s until it is true; fail past ``READY_TIMEOUT_S``."""
    deadline = time.monotonic() + READY_TIMEOUT_S
    while True:
        try:
            if condition():
                return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise SystemExit(f"fleet: gave up waiting for {what} after {READY_TIMEOUT_S:.0f} s")
        time.sleep(0.1)


def _rendered(name: str) -> bool:
    return (HERE / name / "out/app.conf").exists()


def _all_rendered(names: list[str]) -> bool:
    return all(map(_rendered, names))


def _add_learner(fleet: Fleet, name: str) -> dict[str, object]:
    return _post(fleet.url("voter1"), "/v3/cluster/member/add",
                 {"peerURLs": [fleet.url(name, peer=True)], "isLearner": True})


def bring_up(fleet: Fleet, turn: int) -> None:
    """Start the voters, then join the learners ``turn`` at a time, each turn's files before the next."""
    for name in VOTERS:
        fleet.configure(name, list(VOTERS), "new")
        fleet.start(name)
    _until("the voters' files", functools.partial(_all_rendered, list(VOTERS)))
    learners = fleet.names[len(VOTERS):]
    for first in range(0, len(learners), turn):
        joining = learners[first:first + turn]
        for name in joining:
            _until(f"{name}'s member add", functools.partial(_add_learner, fleet, name))
        members = fleet.names[:len(VOTERS) + first + len(joining)]
        for name in joining:
            fleet.configure(name, members, "existing")
            fleet.start(name)
        _until(f"the files of {joining[0]}-{joining[-1]}", functools.partial(_all_rendered, joining))


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--learners", type=int, default=20, help="learner agents (default 20)")
    parser.add_argument("--base", default="127.0.0.1:21000", help="HOST:PORT of voter1's client URL")
    parser.add_argument("--turn", type=int, default=5, help="learners joining together (default 5)")
    parser.add_argument("--wait", default="", help="each agent's wait window, MIN:MAX (default: none)")
    args = parser.parse_args()
    host, port = args.base.rsplit(":", 1)
    fleet = Fleet(host, int(port), args.learners, args.wait)
    for signum in (signal.SIGINT, signal.SIGTERM):  # SIGINT too: a background job starts ignoring it
        signal.signal(signum, _interrupt)
    _ports_free(fleet)
    (HERE / "run.pid").write_text(f"{os.getpid()}\n")
    started = time.monotonic()
    try:
        bring_up(fleet, max(1, args.turn))
        print(f"fleet: {len(fleet.agents)} agents rendering (3 voters, {args.learners} learners) "
              f"in {time.monotonic() - started:.1f} s; kill $(cat examples/fleet/run.pid) stops them all",
              flush=True)
        for agent in fleet.agents:
            agent.wait()
    except KeyboardInterrupt:
        pass
    finally:
        fleet.stop()
        (HERE / "run.pid").unlink(missing_ok=True)
    print("fleet: all agents stopped", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
