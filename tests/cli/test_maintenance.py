"""``confagent defrag``, ``alarm`` and ``move-leader`` against etcdctl's: the same commands run by etcdctl
against etcd, by confagent against etcd and by confagent against a confagent store, compared (member IDs
masked)."""

from __future__ import annotations

import re

from confagent.testing import Processes, post
from tests.cli.support import Tool


def _masked(text: str) -> str:
    return re.sub(r"\b[0-9a-f]{12,16}\b", "ID", text)


def test_defrag(tool: Tool, processes: Processes) -> None:
    done = f"Finished defragmenting etcd member[{tool.url}]\n"
    assert tool.run(processes, "defrag") == (0, done, "")
    assert tool.run(processes, "defrag", "--cluster") == (0, done, "")


def test_alarms_none_raised(tool: Tool, processes: Processes) -> None:
    assert tool.run(processes, "alarm", "list") == (0, "", "")
    assert tool.run(processes, "-w", "json", "alarm", "list") == (0, "{}\n", "")
    assert tool.run(processes, "alarm", "disarm") == (0, "", "")


def test_move_leader(tool: Tool, processes: Processes) -> None:
    me = int(post(tool.url, "/v3/maintenance/status", {}).json()["header"]["member_id"])
    code, out, err = tool.run(processes, "move-leader", f"{me:x}")
    assert (code, _masked(out), err) == (0, "Leadership transferred from ID to ID\n", "")
    assert tool.run(processes, "move-leader", "5") == (1, "", "Error: etcdserver: bad leader transferee\n")
    assert tool.run(processes, "move-leader") == (128, "", "Error: move-leader command needs 1 argument\n")
    assert tool.run(processes, "move-leader", "zz") == (
        128, "", 'Error: strconv.ParseUint: parsing "zz": invalid syntax\n')
