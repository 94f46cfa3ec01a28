"""One-shot passes beside a running agent on the embedded store, as processes: they read its data directory
(a lone member's) without starting a member, whether the agent serves a client URL or not; a second daemon on
the directory is refused."""

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


def test_render_check_and_onetime_read_the_running_agent_s_data_directory(tmp_path: Path,
                                                                         processes: Processes) -> None:
    dest = _confdir(tmp_path)
    with agent_with_store(processes, tmp_path) as (agent, keys):
        keys.put("/app/v", "42")
        until(lambda: text_of(dest) == "v=42\n", "the running agent's render", agent.log)
        config = ["--config-file", str(tmp_path / "confagent.toml")]
        up_to_date = processes.confagent("render", "--check", *config, "--log-level", "info", cwd=tmp_path)
        assert (up_to_date.returncode, up_to_date.stdout) == (0, ""), up_to_date.stderr
        assert "read the data directory without a member" in up_to_date.stderr
        assert "reading through its running store" not in up_to_date.stderr
        dest.write_text("v=changed behind the agent's back\n")
        would_change = processes.confagent("render", "--check", *config, cwd=tmp_path)
        assert would_change.returncode == 2, would_change.stderr
        assert "+v=42" in would_change.stdout and "-v=changed" in would_change.stdout
        once = processes.confagent("run", "--onetime", *config, cwd=tmp_path)
        assert once.returncode == 0, once.stderr
        assert text_of(dest) == "v=42\n"
        assert agent.process.poll() is None


def test_beside_an_agent_serving_no_client_url_one_shots_read_its_data_directory(
        tmp_path: Path, processes: Processes) -> None:
    dest = _confdir(tmp_path)
    flags = ["--confdir", str(tmp_path), "--data-dir", str(tmp_path / "data"), "--log-format", "json"]
    agent = processes.agent(flags, tmp_path / "agent.log", tmp_path)
    try:
        until(lambda: text_of(dest) == "v=unset\n" or agent.process.poll() is not None,
              "the running agent's render", agent.log)
        for command in (("render", "--check"), ("run", "--onetime")):
            done = processes.confagent(*command, *flags, "--log-level", "info")
            assert done.returncode == 0, done.stderr
            assert "read the data directory without a member" in done.stderr
        assert text_of(dest) == "v=unset\n"
        second_daemon = processes.confagent("run", *flags)
        assert second_daemon.returncode == 1 and "is in use by another process" in second_daemon.stderr
        assert agent.process.poll() is None
    finally:
        assert agent.stop() == 0, agent.log.read_text()
