"""``watch_config`` on a real directory: which changes reload the agent."""

from __future__ import annotations

import asyncio
import contextlib
import os
from pathlib import Path

import pytest
import watchfiles

from confagent.agent._hotreload import config_changes, watch_config
from confagent.testing import until_async
from tests.agent.support import DEADLINE_S, run


@pytest.mark.parametrize(("relative", "counts"), [
    ("conf.d", True), ("conf.d/web.toml", True), ("templates", True), ("templates/sub/a.tmpl", True),
    ("out.conf", False), ("conf.d.bak/web.toml", False), ("templates-old/a.tmpl", False), ("", False),
])
def test_only_conf_d_and_templates_count(tmp_path: Path, relative: str, counts: bool) -> None:
    keep = config_changes(tmp_path)
    assert keep(watchfiles.Change.added, str(tmp_path / relative)) is counts


def _watched_by_inotify(directory: Path) -> bool:
    """Whether an inotify instance of this process watches ``directory`` (as /proc/self/fdinfo lists it)."""
    inode = f" ino:{directory.stat().st_ino:x} "
    for fd in os.listdir("/proc/self/fd"):
        with contextlib.suppress(OSError):
            if (os.readlink(f"/proc/self/fd/{fd}") == "anon_inode:inotify"
                    and inode in Path(f"/proc/self/fdinfo/{fd}").read_text()):
                return True
    return False


def test_a_templates_directory_created_after_the_start_reloads(tmp_path: Path) -> None:
    (tmp_path / "conf.d").mkdir()

    async def body() -> None:
        reloads: list[int] = []
        stop = asyncio.Event()
        watching = asyncio.create_task(watch_config(tmp_path, lambda: reloads.append(1), stop))
        # The watcher says nothing when it is ready; the kernel does: its inotify watch on the confdir.
        await until_async(lambda: _watched_by_inotify(tmp_path), "the watcher on the confdir",
                          deadline_s=DEADLINE_S)
        (tmp_path / "templates").mkdir()
        (tmp_path / "templates" / "new.tmpl").write_text("x\n")
        await until_async(lambda: bool(reloads), "templates/ created later to be seen", deadline_s=DEADLINE_S)
        stop.set()
        await asyncio.wait_for(watching, DEADLINE_S)

    run(body)


def test_only_conf_d_templates_and_the_confdir_itself_are_watched(tmp_path: Path) -> None:
    """A data directory inside the confdir costs the watcher nothing: the kernel watches none of it."""
    for name in ("conf.d", "templates/sub", "data/member"):
        (tmp_path / name).mkdir(parents=True)

    async def body() -> None:
        reloads: list[int] = []
        stop = asyncio.Event()
        watching = asyncio.create_task(watch_config(tmp_path, lambda: reloads.append(1), stop))
        watched = [tmp_path, tmp_path / "conf.d", tmp_path / "templates", tmp_path / "templates" / "sub"]
        await until_async(lambda: all(map(_watched_by_inotify, watched)), "the watches",
                          deadline_s=DEADLINE_S)
        assert not any(map(_watched_by_inotify, [tmp_path / "data", tmp_path / "data" / "member"]))
        (tmp_path / "templates" / "sub" / "a.tmpl").write_text("x\n")
        await until_async(lambda: bool(reloads), "a template's change", deadline_s=DEADLINE_S)
        stop.set()
        await asyncio.wait_for(watching, DEADLINE_S)

    run(body)


def test_a_conf_d_replaced_by_another_reloads_and_is_watched_in_its_place(tmp_path: Path) -> None:
    """As a deployment swaps a directory: the old one moved away, a new one moved in; then a change in it."""
    (tmp_path / "conf.d").mkdir()
    (tmp_path / "next").mkdir()

    async def body() -> None:
        reloads: list[int] = []
        stop = asyncio.Event()
        watching = asyncio.create_task(watch_config(tmp_path, lambda: reloads.append(1), stop))
        await until_async(lambda: _watched_by_inotify(tmp_path / "conf.d"), "the watch on conf.d",
                          deadline_s=DEADLINE_S)
        (tmp_path / "conf.d").rename(tmp_path / "old")
        (tmp_path / "next").rename(tmp_path / "conf.d")
        await until_async(lambda: bool(reloads), "conf.d replaced", deadline_s=DEADLINE_S)
        await until_async(lambda: _watched_by_inotify(tmp_path / "conf.d"), "the watch on the new conf.d",
                          deadline_s=DEADLINE_S)
        seen = len(reloads)
        (tmp_path / "conf.d" / "web.toml").write_text("x\n")
        await until_async(lambda: len(reloads) > seen, "a change in the new conf.d", deadline_s=DEADLINE_S)
        (tmp_path / "old" / "web.toml").write_text("x\n")  # the old one is no longer the agent's
        stop.set()
        await asyncio.wait_for(watching, DEADLINE_S)

    run(body)
