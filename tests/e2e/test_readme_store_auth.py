"""The README's store auth example runs as written (``tests/agent/readme.py``): a store with
``--auth-token jwt,...`` and ``--bcrypt-cost``, auth enabled with the CLI, a JWT from Authenticate."""

from __future__ import annotations

from pathlib import Path

from confagent.testing import Processes
from tests.agent.readme import run_block


def test_the_readmes_store_auth_commands_run_as_written(tmp_path: Path, processes: Processes,
                                                         subprocesses: None) -> None:
    live = run_block(processes, tmp_path, "--auth-token jwt,")
    assert {"jwt.key", "jwt.pub", "jwt.etcd/member/identity.json"} <= set(live.created())
