"""The agent's ``metad`` backend against a ``confagent metad`` process, and the example that uses it."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from confagent.backends import BackendConfig, CacheUpdate, PrefixCache, open_backend
from confagent.backends._metad import MetadBackend, _flatten
from confagent.errors import ConfigError
from confagent.testing import Processes
from tests.metad.support import Metad, start_metad

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "metad-self"
HOST = "127.0.0.5"


@pytest.fixture(scope="module")
def metad(tmp_path_factory: pytest.TempPathFactory, session_processes: Processes) -> Iterator[Metad]:
    server = start_metad(session_processes, tmp_path_factory.mktemp("metad-backend"))
    try:
        yield server
    finally:
        server.stop()


def _run(body: object) -> object:
    async def bounded() -> object:
        return await asyncio.wait_for(body, 30)  # type: ignore[arg-type]

    return asyncio.run(bounded())


def test_snapshot_reads_the_hosts_own_keys_at_one_version(metad: Metad) -> None:
    metad.manage("PUT", "/v1/data/b1", {"n": {"name": "one", "port": 80}, "c": {"name": "main"}})
    metad.manage("PUT", f"/v1/mapping/{HOST}", {"node": "/b1/n", "cluster": "/b1/c"})

    async def body() -> None:
        backend = MetadBackend([metad.data_url], local_address=HOST)
        try:
            snapshot = await backend.snapshot(["/self/node", "/self/cluster"])
            assert dict(snapshot.entries) == {"/self/node/name": "one", "/self/node/port": "80",
                                              "/self/cluster/name": "main"}
            assert snapshot.revision > 0
            assert dict((await backend.snapshot(["/self/nowhere"])).entries) == {}
        finally:
            await backend.close()

    _run(body())


def test_a_prefix_cache_over_the_backend_follows_changes_by_long_poll(metad: Metad) -> None:
    metad.manage("PUT", "/v1/data/b2", {"n": {"name": "one", "zone": "a"}})
    metad.manage("PUT", "/v1/mapping/127.0.0.9", {"node": "/b2/n"})

    async def body() -> None:
        backend = MetadBackend([metad.data_url], local_address="127.0.0.9", poll_s=5)
        cache = PrefixCache(backend, ["/self"])
        try:
            async with contextlib.aclosing(cache.events()) as events:
                first = await anext(events)
                assert isinstance(first, CacheUpdate) and first.view["/self/node/name"] == "one"
                await asyncio.to_thread(metad.manage, "PUT", "/v1/data/b2/n/name", '"two"')
                await asyncio.to_thread(metad.manage, "DELETE", "/v1/data/b2/n", None, subs="zone")
                seen: dict[str, str] = dict(first.view)
                while seen != {"/self/node/name": "two"}:
                    update = await anext(events)
                    assert isinstance(update, CacheUpdate), update
                    assert update.revision > first.revision
                    seen = dict(update.view)
        finally:
            await backend.close()

    _run(body())


def test_the_backend_is_opened_by_name_and_needs_a_node(metad: Metad) -> None:
    async def body() -> None:
        backend = await open_backend(BackendConfig(backend="metad", nodes=(metad.data_url,)))
        assert backend.name == "metad"
        await backend.close()

    _run(body())
    with pytest.raises(ConfigError, match="needs a node"):
        MetadBackend([])


def test_flattening_is_the_yunify_forks() -> None:
    entries: dict[str, str] = {}
    _flatten(entries, "/self", {"hosts": [{"name": "a", "ip": "1"}, {"ip": "2"}], "n": 2.50, "ok": True,
                                "none": None})
    assert entries == {"/self/hosts/a/name": "a", "/self/hosts/a/ip": "1", "/self/hosts/1/ip": "2",
                       "/self/n": "2.5", "/self/ok": "true", "/self/none": "null"}


def test_the_example_renders_a_hosts_own_config(tmp_path: Path, metad: Metad, processes: Processes) -> None:
    for api, name in (("/v1/data", "data.json"), ("/v1/mapping", "mapping.json")):
        answer = metad.manage("PUT", api, (EXAMPLE / name).read_text())
        assert answer.text == "OK", answer.text
    agent = processes.confagent("run", "--onetime", "--config-file", str(EXAMPLE / "confagent.toml"),
                                "--node", metad.data_url, "--log-format", "json", cwd=tmp_path, timeout_s=60)
    assert agent.returncode == 0, agent.stderr
    assert (tmp_path / "out/app.conf").read_text() == (EXAMPLE / "expected/app.conf").read_text()
