"""The agent's listener and hot reload, with ``Agent.run`` in this process over the embedded store."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

from confagent.agent import Agent, AgentListener, Outcome, StatusApp, StatusBoard
from confagent.errors import ConfigError
from confagent.testing import free_port, until_async
from tests.agent.support import DEADLINE_S, make_agent, resource_toml, run, seed_store, write_confdir


def _text(path: Path) -> str | None:
    return path.read_text() if path.exists() else None


@asynccontextmanager
async def running_agent(agent: Agent) -> AsyncIterator[asyncio.Task[None]]:
    task = asyncio.create_task(agent.run())
    try:
        yield task
    finally:
        await until_async(lambda: agent.status.backend_revision > 0 or task.done(),
                          "the daemon to be serving")
        agent.stop()
        await asyncio.wait_for(task, DEADLINE_S)


def test_health_metrics_and_status_of_a_running_agent(tmp_path: Path, subprocesses: None) -> None:
    out_a, out_b = tmp_path / "a.out", tmp_path / "b.out"
    write_confdir(tmp_path, {
        "a.toml": resource_toml("a.tmpl", out_a, '["/app"]'),
        "b.toml": resource_toml("b.tmpl", out_b, '["/app"]'),
    }, {"a.tmpl": 'a={{ getv("/app/a", "none") }}\n', "b.tmpl": 'b={{ getv("/app/b") }}\n'})
    seed_store(tmp_path / "data", {"/app/a": "1"})
    port = free_port()
    agent, _out = make_agent(tmp_path, tmp_path / "data", **{"agent.listen": f"127.0.0.1:{port}"})

    async def body() -> None:
        async with running_agent(agent), httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
            await until_async(lambda: _text(out_a) == "a=1\n", "the first render")
            health = await http.get("/health")
            assert (health.status_code, health.json()) == (200, {"health": "true"})
            status = (await http.get("/v1/status")).json()
            by_name = {resource["resource"]: resource for resource in status["resources"]}
            assert by_name["a.toml"]["result"] == "ok" and by_name["a.toml"]["dest"] == str(out_a)
            assert by_name["b.toml"]["result"] == "failed" and "/app/b" in by_name["b.toml"]["error"]
            assert by_name["a.toml"]["revision"] == status["cache_revision"] > 0
            metrics = await http.get("/metrics")
            names = {sample.name for family in text_string_to_metric_families(metrics.text)
                     for sample in family.samples}
            assert {"confagent_agent_renders_total", "confagent_agent_revision_lag",
                    "confagent_agent_apply_duration_seconds_bucket"} <= names
            assert (await http.get("/nope")).status_code == 404
            assert (await http.post("/health")).status_code == 405

    run(body)


def test_health_is_503_with_a_reason_before_the_first_render() -> None:
    board = StatusBoard()
    board.set_resources([("a", "/etc/a")])

    async def body() -> None:
        listener = AgentListener(StatusApp(board), "127.0.0.1", 0)
        await listener.start()
        try:
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{listener.port}") as http:
                answer = await http.get("/health")
                assert answer.status_code == 503
                assert answer.json()["health"] == "false"
                assert "backend not connected" in answer.json()["reason"]
                board.saw_revision(3)
                assert "pending: a" in (await http.get("/health")).json()["reason"]
        finally:
            await listener.stop()

    run(body)


def test_health_probes_a_backend_in_trouble_and_recovers() -> None:
    board = StatusBoard()
    board.set_resources([("a", "/etc/a")])
    board.saw_revision(2)
    board.record([Outcome("a", "/etc/a", 2, changed=False, duration_ms=0.1)])
    board.backend_failed("connection refused")
    answers: list[int] = []

    async def probe() -> int:
        answers.append(2)
        return 2

    async def body() -> None:
        listener = AgentListener(StatusApp(board, probe), "127.0.0.1", 0)
        await listener.start()
        try:
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{listener.port}") as http:
                assert (await http.get("/health")).status_code == 200
                assert answers == [2]
        finally:
            await listener.stop()

    run(body)


def test_a_taken_address_is_a_config_error() -> None:
    async def body() -> None:
        first = AgentListener(StatusApp(StatusBoard()), "127.0.0.1", 0)
        await first.start()
        try:
            second = AgentListener(StatusApp(StatusBoard()), "127.0.0.1", first.port)
            try:
                await second.start()
            except ConfigError as error:
                assert error.key == "agent.listen"
            else:
                raise AssertionError("a second listener on a taken port started")
        finally:
            await first.stop()

    run(body)


def test_a_new_resource_file_takes_effect_without_a_restart(tmp_path: Path, subprocesses: None) -> None:
    out_a, out_b = tmp_path / "a.out", tmp_path / "b.out"
    write_confdir(tmp_path, {"a.toml": resource_toml("a.tmpl", out_a, '["/app"]')},
                  {"a.tmpl": 'a={{ getv("/app/a", "none") }}\n'})
    seed_store(tmp_path / "data", {"/app/a": "1", "/other/b": "2"})
    agent, _out = make_agent(tmp_path, tmp_path / "data")

    async def body() -> None:
        async with running_agent(agent):
            await until_async(lambda: _text(out_a) == "a=1\n", "the first render")
            (tmp_path / "templates" / "b.tmpl").write_text('b={{ getv("/other/b") }}\n')
            (tmp_path / "conf.d" / "b.toml").write_text(resource_toml("b.tmpl", out_b, '["/other"]'))
            await until_async(lambda: _text(out_b) == "b=2\n", "the new resource's file")
            (tmp_path / "templates" / "b.tmpl").write_text('b is {{ getv("/other/b") }}\n')
            await until_async(lambda: _text(out_b) == "b is 2\n", "the changed template's file")
            (tmp_path / "conf.d" / "a.toml").write_text("[template\nbroken")
            (tmp_path / "templates" / "a.tmpl").write_text('a2={{ getv("/app/a", "none") }}\n')
            await until_async(lambda: _text(out_a) == "a2=1\n", "the kept resource with its new template")
            (tmp_path / "conf.d" / "b.toml").unlink()
            await until_async(lambda: [s.resource for s in agent.status.resources] == ["a.toml"],
                              "b to be dropped")

    run(body)
