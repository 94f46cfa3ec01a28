"""Agent.run_once and check in this process: one snapshot, noop diffs, failures reported per resource."""

from __future__ import annotations

from pathlib import Path

import pytest

from confagent.agent import Outcome, SystemHost
from confagent.apply import CommandResult
from confagent.errors import ConfigError, RenderError, ResolveError
from confagent.resource import FileAttributes, Replace, ResourceSpec
from tests.agent.support import make_agent, resource_toml, run, seed_store, write_confdir


def test_noop_prints_a_diff_and_changes_nothing(tmp_path: Path) -> None:
    dest = tmp_path / "app.conf"
    dest.write_text("v=old\n")
    write_confdir(tmp_path, {"app.toml": resource_toml("app.tmpl", dest, '["/a"]')},
                  {"app.tmpl": 'v={{ getv("/a/v") }}\n'})
    seed_store(tmp_path / "data", {"/a/v": "new"})
    agent, out = make_agent(tmp_path, tmp_path / "data")
    report = run(agent.check)
    assert report.ok and report.changed
    assert out.getvalue() == f"--- {dest}\n+++ {dest}\n@@ -1 +1 @@\n-v=old\n+v=new\n"
    assert dest.read_text() == "v=old\n"


def test_every_resource_renders_from_one_revision_and_failures_are_isolated(tmp_path: Path) -> None:
    write_confdir(tmp_path, {
        "a.toml": resource_toml("ok.tmpl", tmp_path / "a.out", '["/k"]'),
        "b.toml": resource_toml("missing.tmpl", tmp_path / "b.out", '["/k"]'),
        "c.toml": resource_toml("ok.tmpl", tmp_path / "c.out", '["/k"]'),
        "d.toml": "[template]\nsrc = 'ok.tmpl'\n",
    }, {"ok.tmpl": '{{ getv("/k/x") }}\n', "missing.tmpl": '{{ getv("/k/nope") }}\n'})
    seed_store(tmp_path / "data", {"/k/x": "1"})
    agent, _out = make_agent(tmp_path, tmp_path / "data")
    report = run(agent.run_once)
    assert not report.ok
    assert [(o.resource, o.ok) for o in report.outcomes] == [("a.toml", True), ("b.toml", False),
                                                            ("c.toml", True)]
    assert len({o.revision for o in report.outcomes}) == 1
    assert "/k/nope" in str(report.outcomes[1].error)
    assert [error.file for error in report.load_errors] == [str(tmp_path / "conf.d" / "d.toml")]
    assert (tmp_path / "a.out").read_text() == "1\n" and not (tmp_path / "b.out").exists()


def test_an_empty_conf_d_is_an_error(tmp_path: Path) -> None:
    write_confdir(tmp_path, {}, {})
    agent, _out = make_agent(tmp_path, tmp_path / "data")
    with pytest.raises(ConfigError, match="no template resource"):
        run(agent.run_once)


def test_system_host() -> None:
    host = SystemHost()
    assert host.now().tzinfo is not None
    assert host.file_exists("/") and not host.file_exists("/no/such/path")
    assert "127.0.0.1" in host.lookup_ip("localhost") or "::1" in host.lookup_ip("localhost")
    with pytest.raises(ResolveError):
        host.lookup_ip("no-such-host.invalid")


def test_a_template_that_does_not_compile_fails_its_resources_only(tmp_path: Path) -> None:
    # the pass compiles every template while it reads the store; a broken one is left for its render
    write_confdir(tmp_path, {
        "a.toml": resource_toml("ok.tmpl", tmp_path / "a.out", '["/k"]'),
        "b.toml": resource_toml("broken.tmpl", tmp_path / "b.out", '["/k"]'),
    }, {"ok.tmpl": '{{ getv("/k/x") }}\n', "broken.tmpl": 'line one\n{% for %}\n'})
    seed_store(tmp_path / "data", {"/k/x": "1"})
    agent, _out = make_agent(tmp_path, tmp_path / "data")
    report = run(agent.run_once)
    assert [(o.resource, o.ok) for o in report.outcomes] == [("a.toml", True), ("b.toml", False)]
    error = report.outcomes[1].error
    assert isinstance(error, RenderError) and (error.template, error.line) == ("broken.tmpl", 2)
    assert (tmp_path / "a.out").read_text() == "1\n" and not (tmp_path / "b.out").exists()


def test_an_outcome_s_repr_leaves_out_its_plan_reads_and_commands(tmp_path: Path) -> None:
    """asyncio's runner formats a one-shot's task, its result included, twice as it ends (Python 3.11's
    signal.getsignal): the plans' bytes made that 60-200 ms for 1,000 outcomes."""
    spec = ResourceSpec(file="conf.d/app.toml", src="app.tmpl", dest=str(tmp_path / "app.conf"), keys=("/",))
    content = b"x" * 100_000
    planned = Replace(spec, content, FileAttributes(0, 0, 0o644), None, ())
    outcome = Outcome("app", spec.dest, 7, changed=True, duration_ms=1.0, plan=planned,
                      commands=(CommandResult("true", 0, "", False, False, 0.01),))
    assert repr(outcome) == (f"Outcome(resource='app', dest={spec.dest!r}, revision=7, changed=True, "
                             "error=None)")
