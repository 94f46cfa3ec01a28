"""``confagent history`` against a real agent process (its listener's ``/v1/history``), then against its
database once it stopped, and one-shot runs (``run --onetime``, ``render --check``) that record with
``--history-one-shot``."""

from __future__ import annotations

import json
from pathlib import Path

import httpx

from confagent.testing import Processes, free_port, until
from tests.agent.processes import agent_with_store, text_of
from tests.agent.support import resource_toml, write_confdir


def _confdir(root: Path) -> Path:
    write_confdir(root, {"a.toml": resource_toml("a.tmpl", root / "a.out", '["/app"]')},
                  {"a.tmpl": 'url={{ getv("/app/url", "none") }}\ntoken={{ getv("/app/api_token", "") }}\n'})
    return root


def _history(processes: Processes, root: Path, *args: str) -> str:
    done = processes.confagent("history", "--config-file", str(root / "confagent.toml"), *args, cwd=root)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_history_from_the_listener_then_from_the_database(processes: Processes, tmp_path: Path) -> None:
    root = _confdir(tmp_path)
    listen = f"127.0.0.1:{free_port()}"
    with agent_with_store(processes, root, f'[agent]\nlisten = "{listen}"') as (agent, keys):
        until(lambda: text_of(root / "a.out") == "url=none\ntoken=\n", "the first pass", agent.log)
        keys.put("/app/url", "db1:5432")
        until(lambda: text_of(root / "a.out") == "url=db1:5432\ntoken=\n", "the first render", agent.log)
        keys.put("/app/api_token", "s3cr3t")
        until(lambda: "token=s3cr3t" in (text_of(root / "a.out") or ""), "the second render", agent.log)
        until(lambda: len(httpx.get(f"http://{listen}/v1/history").json()["records"]) == 3,
              "three records on the listener", agent.log)
        table = _history(processes, root)
        listed = json.loads(_history(processes, root, "a.toml", "-w", "json", "--since", "1h"))
        assert [r["result"] for r in listed] == ["applied", "applied", "applied"]
        newest = listed[0]
        assert newest["changed_keys"] == [{"key": "/app/api_token", "value": "****"}]
        shown = _history(processes, root, "show", str(newest["id"]))
        assert "+token=****" in shown and "s3cr3t" not in shown and "\x1b[" not in shown
        assert f"revision  {newest['revision']}" in shown
        secret = _history(processes, root, "show", str(newest["id"]), "--show-secrets")
        assert "+token=s3cr3t" in secret
        assert httpx.get(f"http://{listen}/v1/history/999").status_code == 404
    assert f"{newest['id']}" in table and "/app/api_token" in table and str(root / "a.out") in table
    after = json.loads(_history(processes, root, str(root / "a.out"), "-w", "json"))
    assert after == listed  # the same records, from the database now that the agent is gone
    assert json.loads(_history(processes, root, "other.toml", "-w", "json")) == []
    missing = processes.confagent("history", "--config-file", str(root / "confagent.toml"), "show", "999",
                                  cwd=root)
    assert missing.returncode == 1 and "no history record 999" in missing.stderr


def test_a_one_shot_run_records_when_asked(processes: Processes, tmp_path: Path) -> None:
    root = _confdir(tmp_path)
    (root / "keys.yaml").write_text("app:\n  url: db2:5432\n")
    database = root / "h.db"
    common = ("--confdir", str(root), "--backend", "file", "--file", str(root / "keys.yaml"))
    plain = processes.confagent("run", "--onetime", *common, "--history-path", str(database), cwd=root)
    assert plain.returncode == 0, plain.stderr
    assert not database.exists()
    done = processes.confagent("run", "--onetime", *common, "--history-path", str(database),
                               "--history-one-shot", cwd=root)
    assert done.returncode == 0, done.stderr
    (root / "keys.yaml").write_text("app:\n  url: db3:5432\n")
    done = processes.confagent("run", "--onetime", *common, "--history-path", str(database),
                               "--history-one-shot", cwd=root)
    assert done.returncode == 0, done.stderr
    (root / "keys.yaml").write_text("app:\n  url: db4:5432\n")
    check = processes.confagent("render", "--check", *common, "--history-path", str(database),
                                "--history-one-shot", cwd=root)
    assert check.returncode == 2, check.stderr
    listed = processes.confagent("history", "--database", str(database), "-w", "json", cwd=root)
    records = json.loads(listed.stdout)
    assert [(r["result"], r["changed_keys"]) for r in records] == [
        ("would apply", [{"key": "/app/url", "value": "db4:5432"}]),
        ("applied", [{"key": "/app/url", "value": "db3:5432"}])]
    assert text_of(root / "a.out") == "url=db3:5432\ntoken=\n"
