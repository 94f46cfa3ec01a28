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
