"""The fleet view's pure parts: a board's summary, the rows read back, what hosts are compared on."""

from __future__ import annotations

import json

from confagent.agent import Outcome, StatusBoard
from confagent.agent._fleet import ERROR_CHARS, FLEET_PREFIX, Summary, fleet_rows, summary_of
from confagent.agent._view_digest import ViewDigest
from confagent.errors import RenderError


def _outcome(name: str, revision: int, error: str | None = None) -> Outcome:
    return Outcome(name, f"/etc/{name}", revision, changed=error is None, duration_ms=1.0,
                   error=None if error is None else RenderError(error))


def test_a_summary_names_the_failing_resources_with_their_errors_cut_short() -> None:
    board = StatusBoard(wall_clock=lambda: 1700000000.0)
    board.set_resources([("a", "/etc/a"), ("b", "/etc/b")])
    board.keys_changed(4)
    board.record([_outcome("a", 4), _outcome("b", 4, "check_cmd failed: " + "x" * 500)])
    summary = summary_of(board, "web-1")
    assert summary.host == "web-1" and summary.revision == 4
    assert [name for name, _ in summary.failing] == ["b"]
    assert len(summary.failing[0][1]) == ERROR_CHARS
    document = json.loads(summary.encode(1700000001.5))
    assert document == {"host": "web-1", "revision": 4, "view": "", "at": 1700000001.5,
                        "failing": [{"resource": "b", "error": summary.failing[0][1]}]}


def test_the_compared_revision_ignores_the_summaries_own_writes() -> None:
    board = StatusBoard()
    board.set_resources([("a", "/etc/a")])
    board.keys_changed(5)
    assert summary_of(board, "h").revision == 0  # revision 5 changed keys, and is not rendered yet
    board.record([_outcome("a", 5)])
    assert summary_of(board, "h").revision == 5
    board.record([_outcome("a", 6)])  # a render of 6, a summary written under FLEET_PREFIX
    board.up_to_date(7)
    assert summary_of(board, "h") == Summary("h", 5, ())  # unchanged: nothing to write again
    board.keys_changed(8)
    board.up_to_date(8)
    assert summary_of(board, "h").revision == 8


def test_rows_mark_the_hosts_behind_the_newest_revision_and_skip_what_is_no_summary() -> None:
    values = [Summary("b", 9, (("app", "check_cmd exited 1"),)).encode(100.0),
              Summary("a", 9, ()).encode(101.0), Summary("c", 7, ()).encode(90.0), b"not json",
              b'{"host": "d"}']
    rows = fleet_rows(values)
    assert [(row.host, row.revision, row.behind) for row in rows] == [("a", 9, False), ("b", 9, False),
                                                                       ("c", 7, True)]
    assert rows[1].failing == (("app", "check_cmd exited 1"),)
    assert rows[2].as_json(now_s=95.0) == {"host": "c", "revision": 7, "behind": True, "failing": [],
                                           "at": 90.0, "age_s": 5.0}
    assert FLEET_PREFIX == "/confagent/fleet/"


def test_the_view_digest_is_the_same_per_change_or_whole_and_ignores_the_summaries() -> None:
    before = {"/app/a": "1", "/app/b": "2"}
    after = {"/app/a": "1", "/app/c": "3", FLEET_PREFIX + "h": "{}"}
    running, whole = ViewDigest(), ViewDigest()
    running.reset(before)
    running.update(before, after, {"/app/b", "/app/c", FLEET_PREFIX + "h"})
    whole.reset({"/app/c": "3", "/app/a": "1"})
    assert running.hex == whole.hex and len(whole.hex) == 16
    whole.update(after, {**after, "/app/a": "9"}, {"/app/a"})
    assert whole.hex != running.hex
