"""The logging set-up put off (``confagent.cli._logs`` rule 4) writes what the set-up made at once writes.

Each case runs one script in a fresh interpreter, once with the set-up made
at once and once deferred, and compares what the two wrote on stderr, the
timestamps left out: the deferred one must also not have imported structlog
before its first line that passed the level.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

from confagent.testing import Processes

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = """
import logging, sys
from confagent.cli._logs import configure_logging, deferred_logger

configure_logging({level!r}, json={json!r}, deferred={deferred!r})
log = deferred_logger("confagent.agent")
log.debug("dropped", n=1)
log.info("dropped too")
log.msg("dropped as info")
print("structlog imported:", "structlog" in sys.modules)
{first}
log.warning("passed", n=2)
log.info("dropped again")
log.error("failed", cause="c")
try:
    1 / 0
except ZeroDivisionError:
    log.exception("raised")
logging.getLogger("asyncio").error("from the standard library %s", "again")
"""
FIRSTS = {
    "a standard-library record": 'logging.getLogger("asyncio").warning("first from the standard library")',
    "a line of its own": 'log.warning("first", n=0)',
}
STAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z")


def _run(processes: Processes, *, deferred: bool, level: str, json: bool, first: str) -> tuple[str, str]:
    code = SCRIPT.format(level=level, json=json, deferred=deferred, first=first)
    done = processes.run([sys.executable, "-c", code], cwd=ROOT, timeout_s=60)
    assert done.returncode == 0, done.stderr.decode()
    return done.stdout.decode(), STAMP.sub("TIME", done.stderr.decode())


@pytest.mark.parametrize("json", [True, False], ids=["json", "console"])
@pytest.mark.parametrize("first", list(FIRSTS), ids=list(FIRSTS))
def test_deferred_logging_writes_what_the_set_up_made_at_once_writes(processes: Processes, json: bool,
                                                                     first: str) -> None:
    at_once_out, at_once = _run(processes, deferred=False, level="warning", json=json, first=FIRSTS[first])
    deferred_out, deferred = _run(processes, deferred=True, level="warning", json=json, first=FIRSTS[first])
    assert at_once_out == "structlog imported: True\n"
    assert deferred_out == "structlog imported: False\n"
    assert deferred == at_once
    assert at_once.count("TIME") == 5
    for line in ("passed", "failed", "raised", "ZeroDivisionError", "from the standard library again"):
        assert line in at_once
    assert "dropped" not in at_once
    assert "first" in at_once


def test_a_deferred_logger_at_the_debug_level_drops_nothing(processes: Processes) -> None:
    first = FIRSTS["a line of its own"]
    _, at_once = _run(processes, deferred=False, level="debug", json=True, first=first)
    out, deferred = _run(processes, deferred=True, level="debug", json=True, first=first)
    assert out == "structlog imported: True\n"  # its first call passed the level
    assert deferred == at_once
    assert at_once.count("dropped") == 4
