"""README's "Coming from confd" commands run as written (``tests/agent/readme.py``): examples/confd
converted, rendered by ``confagent run --onetime`` from the file backend, the file shown."""

from __future__ import annotations

from pathlib import Path

from confagent.testing import Processes
from tests.agent.readme import run_block


def test_the_readmes_convert_commands_run_as_written(tmp_path: Path, processes: Processes) -> None:
    live = run_block(processes, tmp_path, "$ confagent convert ")
    assert "myapp.confagent/templates/myapp.conf.tmpl" in live.created()
