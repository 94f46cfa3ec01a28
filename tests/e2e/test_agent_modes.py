"""``confagent run --onetime`` and ``confagent render --check`` as processes: files and exit codes;
and the daemon against a real etcd."""

from __future__ import annotations

import json
from pathlib import Path

from confagent.testing import Keys, Processes, until
from tests.agent.processes import lines_of, text_of
from tests.agent.support import resource_toml, seed_store, write_confdir


def _confdir(root: Path, template: str) -> Path:
    dest = root / "out" / "app.conf"
    write_confdir(root, {"app.toml": resource_toml("app.tmpl", dest, '["/app"]', "create_dest_dirs = true")},
                  {"app.tmpl": template})
    return dest


def _flags(root: Path) -> list[str]:
    return ["--confdir", str(root), "--data-dir", str(root / "data"), "--log-format", "json"]


def test_onetime_exit_codes(tmp_path: Path, processes: Processes) -> None:
    dest = _confdir(tmp_path, 'v={{ getv("/app/v") }}\n')
    seed_store(tmp_path / "data", {})
    missing = processes.confagent("run", "--onetime", *_flags(tmp_path))
    assert missing.returncode == 1, missing.stderr
    assert "resource failed" in missing.stderr and "/app/v" in missing.stderr and not dest.exists()
    seed_store(tmp_path / "data", {"/app/v": "1"})
    done = processes.confagent("run", "--onetime", *_flags(tmp_path))
    assert done.returncode == 0, done.stderr
    assert text_of(dest) == "v=1\n"


def test_render_check_exit_codes(tmp_path: Path, processes: Processes) -> None:
    dest = _confdir(tmp_path, 'v={{ getv("/app/v") }}\n')
    seed_store(tmp_path / "data", {"/app/v": "1"})
    would_change = processes.confagent("render", "--check", *_flags(tmp_path))
    assert would_change.returncode == 2, would_change.stderr
    assert f"+++ {dest}" in would_change.stdout and "+v=1" in would_change.stdout and not dest.exists()
    assert processes.confagent("render", *_flags(tmp_path)).returncode == 0
    up_to_date = processes.confagent("render", "--check", *_flags(tmp_path))
    assert (up_to_date.returncode, up_to_date.stdout) == (0, "")
    (tmp_path / "templates" / "app.tmpl").write_text('v={{ getv("/app/nothing") }}\n')
    broken = processes.confagent("render", "--check", *_flags(tmp_path))
    assert broken.returncode == 1 and "/app/nothing" in broken.stderr


def test_agent_against_a_real_etcd(tmp_path: Path, etcd_server: str, processes: Processes) -> None:
    marker = tmp_path / "reloads"
    dest = tmp_path / "out" / "etcd.conf"
    write_confdir(tmp_path, {"etcd.toml": resource_toml(
        "etcd.tmpl", dest, '["/agent-e2e"]', f'create_dest_dirs = true\nreload_cmd = "echo r >> {marker}"')},
        {"etcd.tmpl": 'v={{ getv("/agent-e2e/v", "unset") }}\n'})
    agent = processes.agent(["--backend", "etcd", "--node", etcd_server, "--confdir", str(tmp_path),
                          "--log-format", "json"], tmp_path / "agent.log", tmp_path)
    keys = Keys(etcd_server)
    try:
        until(lambda: text_of(dest) == "v=unset\n", "first render", agent.log)
        keys.put("/agent-e2e/v", "42")
        until(lambda: text_of(dest) == "v=42\n" and lines_of(marker) == 2, "the put", agent.log)
        keys.delete("/agent-e2e/v")
        until(lambda: text_of(dest) == "v=unset\n" and lines_of(marker) == 3, "the delete", agent.log)
    finally:
        keys.close()
        assert agent.stop() == 0


def _events(stderr: str) -> list[str]:
    return [json.loads(line)["event"] for line in stderr.splitlines() if line.startswith("{")]


def test_noop_and_check_log_what_they_would_apply_not_applied(tmp_path: Path, processes: Processes) -> None:
    """Issue 10, item 5: a file not written is not logged as ``applied``."""
    dest = _confdir(tmp_path, 'v={{ getv("/app/v") }}\n')
    seed_store(tmp_path / "data", {"/app/v": "1"})
    for argv in (["render", "--check"], ["run", "--onetime", "--noop"]):
        shown = processes.confagent(*argv, *_flags(tmp_path))
        assert shown.returncode in (0, 2) and not dest.exists(), shown.stderr
        [would] = [json.loads(line) for line in shown.stderr.splitlines() if '"would apply"' in line]
        assert would["changed"] is True and would["dest"] == str(dest) and would["level"] == "info", would
        assert "applied" not in _events(shown.stderr), (argv, shown.stderr)
    written = processes.confagent("render", *_flags(tmp_path))
    assert "applied" in _events(written.stderr) and "would apply" not in _events(written.stderr)
