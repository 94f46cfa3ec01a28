#!/usr/bin/env python3
"""Start the three agents of the example cluster; Ctrl-C (or SIGTERM) stops them all.

Each agent runs from its node's directory (``node1/``, ``node2/``, ``node3/``):
its store's data in ``data/``, its rendered file in ``out/app.conf``, its log
in ``agent.log``, its pid in ``agent.pid``. On Ctrl-C or SIGTERM every agent gets SIGTERM and the script
waits for them; one still running ``STOP_TIMEOUT_S`` later is killed. An agent
that dies on its own leaves the others running (that is the point of a cluster).

    python3 examples/cluster/run.py                 # with the Python confagent is installed in
    CONFAGENT=confagent examples/cluster/run.py     # the command to run instead
"""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import sys
from pathlib import Path
from types import FrameType

HERE = Path(__file__).resolve().parent
NODES = ("node1", "node2", "node3")
STOP_TIMEOUT_S = 15.0


def start(node: str) -> subprocess.Popen[bytes]:
    directory = HERE / node
    command = shlex.split(os.environ.get("CONFAGENT", "")) or [sys.executable, "-m", "confagent"]
    with (directory / "agent.log").open("ab") as log:
        agent = subprocess.Popen([*command, "run", "--config-file", "confagent.toml"],
                                 cwd=directory, stdout=log, stderr=subprocess.STDOUT)
    (directory / "agent.pid").write_text(f"{agent.pid}\n")
    return agent


def stop(agents: list[subprocess.Popen[bytes]]) -> None:
    """SIGTERM every agent still running, wait for each, kill the ones that outlive the timeout."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not cut the clean-up short
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    for agent in agents:
        if agent.poll() is None:
            agent.terminate()
    for agent in agents:
        try:
            agent.wait(STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            agent.kill()
            agent.wait()


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def main() -> int:
    for signum in (signal.SIGINT, signal.SIGTERM):  # SIGINT too: a background job starts ignoring it
        signal.signal(signum, _interrupt)
    agents: list[subprocess.Popen[bytes]] = []
    try:
        for node in NODES:
            agents.append(start(node))
            print(f"{node}: agent pid {agents[-1].pid}, file {HERE / node / 'out/app.conf'}, "
                  f"log {HERE / node / 'agent.log'}", flush=True)
        print("Ctrl-C stops all three", flush=True)
        for agent in agents:
            agent.wait()
    except KeyboardInterrupt:
        pass
    finally:
        stop(agents)
    print("all agents stopped", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
