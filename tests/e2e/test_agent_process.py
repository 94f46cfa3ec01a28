"""The agent as a real process over its embedded store: puts, deletes, check and reload failures, bursts.

Every wait polls a condition with a deadline; reload commands append a line
to a marker file, so reloads are counted, not timed.
"""

from __future__ import annotations

from pathlib import Path

from confagent.testing import Processes, until
from tests.agent.processes import agent_with_store, lines_of, text_of
from tests.agent.support import resource_toml, write_confdir
from tests.cli.support import Tool


def _setup(root: Path, extra: str, template: str = 'v={{ getv("/app/v", "unset") }}\n') -> tuple[Path, Path]:
    dest, marker = root / "out" / "app.conf", root / "reloads"
    write_confdir(root, {"app.toml": resource_toml(
        "app.tmpl", dest, '["/app"]', f'create_dest_dirs = true\nreload_cmd = "echo reload >> {marker}"\n'
        + extra)}, {"app.tmpl": template})
    return dest, marker


def test_put_and_delete_change_the_file_and_reload(tmp_path: Path, processes: Processes) -> None:
    dest, marker = _setup(tmp_path, "")
    with agent_with_store(processes, tmp_path) as (agent, keys):
        until(lambda: text_of(dest) == "v=unset\n" and lines_of(marker) == 1, "first render", agent.log)
        keys.put("/app/v", "1")
        until(lambda: text_of(dest) == "v=1\n" and lines_of(marker) == 2, "the put", agent.log)
        keys.delete("/app/v")
        until(lambda: text_of(dest) == "v=unset\n" and lines_of(marker) == 3, "the delete", agent.log)
        applied = agent.events("applied")
        assert {"resource", "dest", "revision", "changed", "duration_ms"} <= set(applied[-1])
    assert agent.process.returncode == 0


def test_check_failure_leaves_dest_and_a_later_good_value_applies(tmp_path: Path,
                                                                  processes: Processes) -> None:
    dest, marker = _setup(tmp_path, 'check_cmd = "grep -q good {{ src }}"\n',
                          'v={{ getv("/app/v", "good-default") }}\n')
    with agent_with_store(processes, tmp_path) as (agent, keys):
        until(lambda: text_of(dest) == "v=good-default\n", "first render", agent.log)
        keys.put("/app/v", "bad")
        until(lambda: len(agent.events("resource failed")) == 1, "the check failure", agent.log)
        (failure,) = agent.events("resource failed")
        assert failure["resource"] == "app.toml" and "check_cmd exited 1" in str(failure["cause"])
        assert text_of(dest) == "v=good-default\n" and lines_of(marker) == 1
        assert [p.name for p in dest.parent.iterdir()] == ["app.conf"]  # no stage file left
        keys.put("/app/v", "good-2")
        until(lambda: text_of(dest) == "v=good-2\n" and lines_of(marker) == 2, "the good value", agent.log)


def test_reload_failure_rolls_back(tmp_path: Path, processes: Processes) -> None:
    dest = tmp_path / "out" / "app.conf"
    extra = 'create_dest_dirs = true\nreload_cmd = "! grep -q broken {{ dest }}"\n'
    write_confdir(tmp_path, {"app.toml": resource_toml("app.tmpl", dest, '["/app"]', extra)},
                  {"app.tmpl": 'v={{ getv("/app/v", "fine") }}\n'})
    with agent_with_store(processes, tmp_path) as (agent, keys):
        until(lambda: text_of(dest) == "v=fine\n", "first render", agent.log)
        keys.put("/app/v", "broken")
        until(lambda: len(agent.events("resource failed")) == 1, "the reload failure", agent.log)
        (failure,) = agent.events("resource failed")
        assert "restored the previous file" in str(failure["cause"])
        assert text_of(dest) == "v=fine\n"


def test_a_burst_of_1000_puts_reloads_once(tmp_path: Path, processes: Processes) -> None:
    dest, marker = _setup(tmp_path, 'wait = "2s:60s"\n',
                          '{{ gets("/app/burst/*") | length }}\n')
    with agent_with_store(processes, tmp_path) as (agent, keys):
        until(lambda: text_of(dest) == "0\n" and lines_of(marker) == 1, "first render", agent.log)
        for index in range(1000):
            keys.put(f"/app/burst/{index:04}", str(index))
        # The file is replaced before its reload runs: wait for both, then count.
        until(lambda: text_of(dest) == "1000\n" and lines_of(marker) >= 2,
              "the render and reload after the burst", agent.log)
        assert lines_of(marker) == 2


def test_sigterm_lets_the_reload_in_flight_finish(tmp_path: Path, processes: Processes) -> None:
    dest, marker = tmp_path / "out" / "app.conf", tmp_path / "reloads"
    started = tmp_path / "reload-started"
    reload_cmd = f"touch {started}; sleep 1; echo done >> {marker}"
    write_confdir(tmp_path, {"app.toml": resource_toml(
        "app.tmpl", dest, '["/app"]', f'create_dest_dirs = true\nreload_cmd = "{reload_cmd}"\n')},
        {"app.tmpl": 'v={{ getv("/app/v", "unset") }}\n'})
    with agent_with_store(processes, tmp_path) as (agent, _keys):
        until(started.exists, "the first reload to start", agent.log)
        assert agent.stop() == 0
    assert text_of(marker) == "done\n"


def test_the_agents_store_serves_etcdctl_over_grpc(tmp_path: Path, processes: Processes,
                                                   etcd_binary: str) -> None:
    """An agent whose ``[store]`` listens serves etcd's gRPC API on that URL: the real etcdctl's put is
    rendered, and etcdctl reads back the key the agent renders."""
    dest, marker = _setup(tmp_path, "")
    with agent_with_store(processes, tmp_path) as (agent, keys):
        until(lambda: text_of(dest) == "v=unset\n", "first render", agent.log)
        etcdctl = Tool("etcdctl", str(keys.client.base_url).removeprefix("http://").rstrip("/"))
        assert etcdctl.run(processes, "put", "/app/v", "over-grpc") == (0, "OK\n", "")
        until(lambda: text_of(dest) == "v=over-grpc\n" and lines_of(marker) == 2, "the put's render",
              agent.log)
        assert etcdctl.run(processes, "get", "/app/v", "--print-value-only") == (0, "over-grpc\n", "")
        assert etcdctl.run(processes, "get", "/app", "--prefix", "--keys-only") == (0, "/app/v\n\n", "")
