"""One-shot passes beside a running agent on the embedded store, as processes: they read through its client
URL; without one they say so, and how to point ``--backend etcd --node`` at it."""

from __future__ import annotations

from pathlib import Path

from confagent.testing import Processes, until
from tests.agent.processes import agent_with_store, text_of
from tests.agent.support import resource_toml, write_confdir


def _confdir(root: Path) -> Path:
    dest = root / "out" / "app.conf"
    write_confdir(root, {"app.toml": resource_toml("app.tmpl", dest, '["/app"]', "create_dest_dirs = true")},
                  {"app.tmpl": 'v={{ getv("/app/v", "unset") }}\n'})
    return dest


def test_render_check_and_onetime_read_through_the_running_agent(tmp_path: Path,
                                                                 processes: Processes) -> None:
    dest = _confdir(tmp_path)
    with agent_with_store(processes, tmp_path) as (agent, keys):
        keys.put("/app/v", "42")
        until(lambda: text_of(dest) == "v=42\n", "the running agent's render", agent.log)
        config = ["--config-file", str(tmp_path / "confagent.toml")]
        up_to_date = processes.confagent("render", "--check", *config, cwd=tmp_path)
        assert (up_to_date.returncode, up_to_date.stdout) == (0, ""), up_to_date.stderr
        assert "reading through its running store" in up_to_date.stderr
        dest.write_text("v=changed behind the agent's back\n")
        would_change = processes.confagent("render", "--check", *config, cwd=tmp_path)
        assert would_change.returncode == 2, would_change.stderr
        assert "+v=42" in would_change.stdout and "-v=changed" in would_change.stdout
        once = processes.confagent("run", "--onetime", *config, cwd=tmp_path)
        assert once.returncode == 0, once.stderr
        assert text_of(dest) == "v=42\n"
        assert agent.process.poll() is None


def test_beside_an_agent_serving_no_client_url_the_error_says_how_to_check(tmp_path: Path,
                                                                           processes: Processes) -> None:
    dest = _confdir(tmp_path)
    flags = ["--confdir", str(tmp_path), "--data-dir", str(tmp_path / "data"), "--log-format", "json"]
    agent = processes.agent(flags, tmp_path / "agent.log", tmp_path)
    try:
        until(lambda: text_of(dest) == "v=unset\n" or agent.process.poll() is not None,
              "the running agent's render", agent.log)
        for command in (("render", "--check"), ("run", "--onetime")):
            refused = processes.confagent(*command, *flags)
            assert refused.returncode == 1, refused.stderr
            assert "Traceback" not in refused.stderr
            said = refused.stderr
            assert f"data_dir: {tmp_path / 'data'} is in use by a running store (pid {agent.process.pid}) " \
                   "that serves no client URL" in said
            assert "--store-listen-client-urls" in said
            assert "--backend etcd --node http://127.0.0.1:2379" in said
        second_daemon = processes.confagent("run", *flags)
        assert second_daemon.returncode == 1 and "is in use by another process" in second_daemon.stderr
        assert agent.process.poll() is None
    finally:
        assert agent.stop() == 0, agent.log.read_text()
