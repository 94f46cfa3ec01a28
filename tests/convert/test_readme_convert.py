"""README's "Coming from confd" commands run as written (``tests/agent/readme.py``): examples/confd
converted, rendered by ``confagent run --onetime`` from the file backend, the file shown."""

from __future__ import annotations

from pathlib import Path

from confagent.testing import Processes
from tests.agent.readme import _BLOCK, session

README = Path(__file__).resolve().parents[2] / "README.md"


def test_the_readmes_convert_commands_run_as_written(tmp_path: Path, processes: Processes) -> None:
    blocks = [block for block in _BLOCK.findall(README.read_text()) if "$ confagent convert " in block]
    assert len(blocks) == 1, "the README shows one confagent convert session"
    excerpt = tmp_path / "README-convert.md"
    excerpt.write_text(f"```console\n{blocks[0]}```\n")
    from tests.agent.readme import commands  # noqa: PLC0415 - read after the excerpt is written

    steps = commands(excerpt)
    with session(processes, tmp_path / "work", excerpt) as live:
        for step in steps:
            live.run(step)
    assert "myapp.confagent/templates/myapp.conf.tmpl" in live.created()
