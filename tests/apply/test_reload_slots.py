"""reload_lock: a resource's install and reload (rollback included) run inside one slot, never without.

The slots here are a recording ``ReloadSlots`` (what happened inside and around each slot is
the question); the store's semaphore behind the agent's slots is tested in tests/client and, with
agents on one store, in tests/e2e/test_rolling_reload.py.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path

import pytest

from confagent.apply import apply_batch, apply_plan, plan_file
from confagent.errors import ReloadDeferred, ReloadFailed
from tests.apply.support import leftovers, make_spec, run

pytestmark = pytest.mark.usefixtures("subprocesses")  # the cases run reload commands


class RecordingSlots:
    """Slots that record, on entering and leaving, what the destinations and the reload log hold."""

    def __init__(self, log: Path, dests: list[Path], *, refuse: str | None = None) -> None:
        self.log, self.dests, self.refuse = log, dests, refuse
        self.seen: list[tuple[str, str, int, list[str], list[str]]] = []

    def slot(self, lock: str, concurrency: int) -> AbstractAsyncContextManager[object]:
        return self._slot(lock, concurrency)

    @asynccontextmanager
    async def _slot(self, lock: str, concurrency: int) -> AsyncIterator[object]:
        self.seen.append(("enter", lock, concurrency, self._contents(), self._reloads()))
        if self.refuse is not None:
            raise ReloadDeferred(self.refuse, dest=lock)
        yield None
        self.seen.append(("leave", lock, concurrency, self._contents(), self._reloads()))

    def _contents(self) -> list[str]:
        return [dest.read_text() if dest.exists() else "" for dest in self.dests]

    def _reloads(self) -> list[str]:
        return self.log.read_text().splitlines() if self.log.exists() else []


def test_install_and_reload_happen_inside_the_slot(tmp_path: Path) -> None:
    dest, log = tmp_path / "app.conf", tmp_path / "log"
    dest.write_text("old\n")
    slots = RecordingSlots(log, [dest])
    spec = make_spec(dest, reload_cmd=f"cat {dest} >> {log}", reload_lock="/locks/app", reload_concurrency=2)
    result = run(apply_plan(plan_file(spec, b"new\n"), reload_slots=slots))
    assert (result.ok, result.replaced) == (True, True)
    assert slots.seen == [("enter", "/locks/app", 2, ["old\n"], []),
                          ("leave", "/locks/app", 2, ["new\n"], ["new"])]


def test_the_slot_is_held_until_the_rollback_reloaded(tmp_path: Path) -> None:
    dest, log = tmp_path / "app.conf", tmp_path / "log"
    dest.write_text("old\n")
    slots = RecordingSlots(log, [dest])
    reload_cmd = f"cat {dest} >> {log}; ! grep -q new {dest}"
    result = run(apply_plan(plan_file(make_spec(dest, reload_cmd=reload_cmd, reload_lock="/l"), b"new\n"),
                            reload_slots=slots))
    assert isinstance(result.error, ReloadFailed) and result.rolled_back
    assert slots.seen[-1] == ("leave", "/l", 1, ["old\n"], ["new", "old"])


def test_without_a_slot_nothing_changes_and_nothing_runs(tmp_path: Path) -> None:
    dest, log, checked = tmp_path / "app.conf", tmp_path / "log", tmp_path / "checked"
    dest.write_text("old\n")
    spec = make_spec(dest, check_cmd=f"touch {checked}", reload_cmd=f"echo reload >> {log}",
                     reload_lock="/l")
    slots = RecordingSlots(log, [dest], refuse="every slot of '/l' still held after 1 s")
    for given in (slots, None):
        result = run(apply_plan(plan_file(spec, b"new\n"), reload_slots=given))
        assert isinstance(result.error, ReloadDeferred)
        assert (result.replaced, dest.read_text(), log.exists(), leftovers(tmp_path)) == (False, "old\n",
                                                                                          False, [])
        assert str(result.error).endswith("; the file was left as it was")
        assert str(result.error).startswith(f"{dest}: ")
    assert "still held after 1 s" in str(run(apply_plan(plan_file(spec, b"new\n"), reload_slots=slots)).error)
    assert "no store holds the slots" in str(run(apply_plan(plan_file(spec, b"new\n"))).error)
    assert checked.exists()  # the check ran: a file it refuses would never need a slot


def test_one_slot_per_lock_for_a_batch_and_resources_without_one_go_first(tmp_path: Path) -> None:
    a, b, c, log = tmp_path / "a.conf", tmp_path / "b.conf", tmp_path / "c.conf", tmp_path / "log"
    slots = RecordingSlots(log, [a, b, c])
    plans = [plan_file(make_spec(a, reload_cmd=f"echo a >> {log}", reload_lock="/l", reload_concurrency=3),
                       b"a\n"),
             plan_file(make_spec(b, reload_cmd=f"echo b >> {log}", reload_lock="/l", reload_concurrency=2),
                       b"b\n"),
             plan_file(make_spec(c, reload_cmd=f"echo c >> {log}"), b"c\n")]
    results = run(apply_batch(plans, reload_slots=slots))
    assert all(result.ok and result.replaced for result in results)
    assert slots.seen == [("enter", "/l", 2, ["", "", "c\n"], ["c"]),
                          ("leave", "/l", 2, ["a\n", "b\n", "c\n"], ["c", "a", "b"])]


def test_sync_only_takes_no_slot(tmp_path: Path) -> None:
    dest, log = tmp_path / "app.conf", tmp_path / "log"
    slots = RecordingSlots(log, [dest], refuse="never asked")
    spec = make_spec(dest, reload_cmd=f"echo reload >> {log}", reload_lock="/l")
    result = run(apply_plan(plan_file(spec, b"new\n"), sync_only=True, reload_slots=slots))
    assert (result.ok, result.replaced, slots.seen, log.exists()) == (True, True, [], False)
