"""A conf.d whose resources do not load, as processes: one-shot modes exit 1 after the errors; the daemon
waits for conf.d to be fixed, saying so once."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from confagent.testing import AgentProcess, Processes, free_port, until
from tests.agent.processes import text_of
from tests.agent.support import resource_toml, seed_store, write_confdir

IDLE_EVENT = "no resource to render; waiting for conf.d to be fixed"


def _broken(dest: Path) -> str:
    return resource_toml("app.tmpl", dest, '["/app"]', "create_dest_dirs = true\nbogus = 1")


def _fixed(dest: Path) -> str:
    return resource_toml("app.tmpl", dest, '["/app"]', "create_dest_dirs = true")


def _rewrite_until(path: Path, text: str, condition: Callable[[], bool], what: str,
                   agent: AgentProcess) -> None:
    """Write ``path`` again every few polls until ``condition``: the agent's conf.d watcher starts after
    its first line and says nothing when it is ready, so a single write could come before it."""
    polls = itertools.count()

    def written_and_holds() -> bool:
        if next(polls) % 10 == 0:
            path.write_text(text)
        return condition()

    until(written_and_holds, what, agent.log)


def _flags(root: Path) -> list[str]:
    return ["--confdir", str(root), "--data-dir", str(root / "data"), "--log-format", "json"]


@pytest.mark.parametrize("command", [("render",), ("run", "--onetime"), ("render", "--check")])
def test_one_shot_modes_exit_1_after_the_errors(tmp_path: Path, command: tuple[str, ...],
                                                processes: Processes) -> None:
    dest = tmp_path / "out" / "app.conf"
    write_confdir(tmp_path, {"app.toml": _broken(dest)}, {"app.tmpl": 'v={{ getv("/app/v", "0") }}\n'})
    done = processes.confagent(*command, *_flags(tmp_path))
    assert done.returncode == 1, done.stderr
    assert "template.bogus" in done.stderr and "resource not loaded" in done.stderr
    assert "no resource to render" in done.stderr
    assert "Traceback" not in done.stderr and "Error:" not in done.stderr
    assert done.stdout == "" and not dest.exists()


def test_one_shot_modes_render_the_good_resources_and_exit_1_when_some_are_broken(
        tmp_path: Path, processes: Processes) -> None:
    good, bad = tmp_path / "out" / "good.conf", tmp_path / "out" / "bad.conf"
    write_confdir(tmp_path, {"good.toml": _fixed(good), "bad.toml": _broken(bad)},
                  {"app.tmpl": 'v={{ getv("/app/v", "0") }}\n'})
    checked = processes.confagent("render", "--check", *_flags(tmp_path))
    assert checked.returncode == 1 and "+v=0" in checked.stdout and "template.bogus" in checked.stderr
    rendered = processes.confagent("render", *_flags(tmp_path))
    assert rendered.returncode == 1 and "template.bogus" in rendered.stderr
    assert "no resource to render" not in rendered.stderr and "Traceback" not in rendered.stderr
    assert text_of(good) == "v=0\n" and not bad.exists()


@pytest.mark.parametrize("mode", ["--watch", "--no-watch"])
def test_the_daemon_waits_for_conf_d_to_be_fixed(tmp_path: Path, mode: str, processes: Processes) -> None:
    dest = tmp_path / "out" / "app.conf"
    write_confdir(tmp_path, {"app.toml": _broken(dest)}, {"app.tmpl": 'v={{ getv("/app/v", "0") }}\n'})
    seed_store(tmp_path / "data", {"/app/v": "1"})
    listen = f"127.0.0.1:{free_port()}"
    agent = processes.agent([*_flags(tmp_path), mode, "--interval", "0.05", "--listen", listen],
                         tmp_path / "agent.log", tmp_path)
    try:
        until(lambda: bool(agent.events(IDLE_EVENT)) or agent.process.poll() is not None,
              "the agent to say it has nothing to render", agent.log)
        assert agent.process.poll() is None, agent.log.read_text()
        health = httpx.get(f"http://{listen}/health", timeout=10)
        assert (health.status_code, health.json()) == (503, {
            "health": "false", "reason": "no resource to render: every resource in conf.d is broken"})
        resource = tmp_path / "conf.d" / "app.toml"
        _rewrite_until(resource, _fixed(dest), lambda: text_of(dest) == "v=1\n",  # conf.d is watched
                       "the render once conf.d is fixed", agent)
        (tmp_path / "templates" / "app.tmpl").unlink()  # with it gone, the broken resource is not kept
        resource.write_text(_broken(dest))
        until(lambda: len(agent.events(IDLE_EVENT)) == 2, "nothing to render again", agent.log)
        (tmp_path / "templates" / "app.tmpl").write_text('w={{ getv("/app/v", "0") }}\n')
        resource.write_text(_fixed(dest))
        until(lambda: text_of(dest) == "w=1\n", "the render after the second fix", agent.log)
    finally:
        assert agent.stop() == 0, agent.log.read_text()
    assert len(agent.events(IDLE_EVENT)) == 2, agent.log.read_text()  # once each time, not once per loop
    assert not agent.events("stopping: the backend cannot go on")

