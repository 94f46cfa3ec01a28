"""The examples in ``examples/`` render, from their sample keys, exactly what their ``expected/`` holds,
and each example's README commands run as written (``tests/agent/readme.py``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from confagent.testing import Processes
from tests.agent.readme import commands, session
from tests.agent.support import EXAMPLES, example_keys, make_agent, run, seed_store

README_EXAMPLES = ["nginx", "haproxy", "app-config", "nginx-registry", "metad-self", "systemd", "cluster",
                   "rolling-reload", "fleet"]


def _expected_files(example: Path) -> dict[str, str]:
    expected = example / "expected"
    return {path.relative_to(expected).as_posix(): path.read_text()
            for path in sorted(expected.rglob("*")) if path.is_file()}


@pytest.mark.parametrize("name", ["nginx", "haproxy", "app-config", "nginx-registry"])
def test_example_renders_its_expected_output(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    example = EXAMPLES / name
    seed_store(tmp_path / "data", example_keys(name))
    monkeypatch.chdir(tmp_path)  # dest paths are relative: out/...
    agent, _out = make_agent(example, tmp_path / "data")
    report = run(agent.run_once)
    assert report.ok, report
    rendered = {path.relative_to(tmp_path / "out").as_posix(): path.read_text()
                for path in sorted((tmp_path / "out").rglob("*")) if path.is_file()}
    assert rendered == _expected_files(example)


def test_quickstart_renders_defaults_then_keys(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    example = EXAMPLES / "quickstart"
    monkeypatch.chdir(tmp_path)
    seed_store(tmp_path / "data", {})
    agent, _out = make_agent(example, tmp_path / "data")
    assert run(agent.run_once).ok
    first = (tmp_path / "out/myapp.conf").read_text()
    assert "url = localhost:5432\n" in first and "# no /myapp/cache/* keys yet\n" in first
    seed_store(tmp_path / "data", {"/myapp/database/url": "db.example.com:5432", "/myapp/cache/ttl": "30"})
    assert run(agent.run_once).ok
    second = (tmp_path / "out/myapp.conf").read_text()
    assert "url = db.example.com:5432\n" in second and "ttl = 30\n" in second


@pytest.mark.parametrize("name", README_EXAMPLES)
def test_readme_commands_run_as_written(name: str, tmp_path: Path, processes: Processes) -> None:
    readme = EXAMPLES / name / "README.md"
    steps = commands(readme)
    assert steps, f"{readme} shows no command to run"
    with session(processes, tmp_path, readme) as live:
        for step in steps:
            live.run(step)
    left = _not_ignored_by_git(processes, live.created())
    assert left == [], "files the README's commands leave for git to show"


def _not_ignored_by_git(processes: Processes, paths: list[str]) -> list[str]:
    """Those of ``paths`` (relative to the repository root) that its .gitignore files do not ignore."""
    result = processes.run(["git", "check-ignore", "--no-index", "--stdin"], cwd=EXAMPLES.parent,
                           input="\n".join(paths).encode())
    assert result.returncode in (0, 1), result.stderr
    return sorted(set(paths) - set(result.stdout.decode().splitlines()))


def test_every_example_readme_is_run() -> None:
    assert sorted(path.parent.name for path in EXAMPLES.glob("*/README.md")) == sorted(README_EXAMPLES)
