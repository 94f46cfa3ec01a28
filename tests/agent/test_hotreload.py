"""``watch_config`` on a real directory: which changes reload the agent."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
import watchfiles

from confagent.agent._hotreload import config_changes, watch_config
from tests.agent.support import DEADLINE_S, run


@pytest.mark.parametrize(("relative", "counts"), [
    ("conf.d", True), ("conf.d/web.toml", True), ("templates", True), ("templates/sub/a.tmpl", True),
    ("out.conf", False), ("conf.d.bak/web.toml", False), ("templates-old/a.tmpl", False), ("", False),
])
def test_only_conf_d_and_templates_count(tmp_path: Path, relative: str, counts: bool) -> None:
    keep = config_changes(tmp_path)
    assert keep(watchfiles.Change.added, str(tmp_path / relative)) is counts


def test_a_templates_directory_created_after_the_start_reloads(tmp_path: Path) -> None:
    (tmp_path / "conf.d").mkdir()

    async def body() -> None:
        reloads: list[int] = []
        stop = asyncio.Event()
        watching = asyncio.create_task(watch_config(tmp_path, lambda: reloads.append(1), stop))
        deadline = asyncio.get_running_loop().time() + DEADLINE_S
        # The watcher says nothing when it is ready: touch conf.d until a reload proves it is.
        while not reloads:
            assert asyncio.get_running_loop().time() < deadline, "the watcher never saw conf.d change"
            (tmp_path / "conf.d" / "probe.toml").write_text("")
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.5)  # past the probe burst's debounce: its last reload is counted
        seen = len(reloads)
        (tmp_path / "templates").mkdir()
        (tmp_path / "templates" / "new.tmpl").write_text("x\n")
        while len(reloads) == seen:
            assert asyncio.get_running_loop().time() < deadline, "templates/ created later was not seen"
            await asyncio.sleep(0.02)
        stop.set()
        await asyncio.wait_for(watching, DEADLINE_S)

    run(body)
