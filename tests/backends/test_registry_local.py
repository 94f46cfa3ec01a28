"""Opening backends by name, and the embedded store's in-process watch (LocalWatch) under a slow reader."""

from __future__ import annotations

from pathlib import Path

import pytest

from confagent.backends import BackendConfig, embedded_store, open_backend
from confagent.client import EtcdClient
from confagent.errors import Compacted, ConfigError
from confagent.kv import CompactionRequest, PutRequest
from confagent.server import LocalWatchHub
from confagent.testing import free_port
from tests.backends.harness import run


@pytest.mark.parametrize(("config", "message"), [
    (BackendConfig(backend="consul"), "backend: unknown backend 'consul'"),
    (BackendConfig(backend="embedded"), "data_dir: "),
    (BackendConfig(backend="file"), "file: "),
    (BackendConfig(backend="etcd", nodes=("127.0.0.1:2379",)), "node: '127.0.0.1:2379'"),
    (BackendConfig(backend="etcd", client_cert=Path("/nonexistent.pem")), "client_cert: no such file"),
])
def test_bad_configs_name_the_option(config: BackendConfig, message: str) -> None:
    with pytest.raises(ConfigError, match=f"^{message}"):
        run(lambda: open_backend(config))


def test_every_backend_opens_by_name(tmp_path: Path, etcd_server: str) -> None:
    """Each reads ``/app/a``; the embedded store is written through its optional client listener."""
    (tmp_path / "data.yaml").write_text("app: {a: '1'}")
    listener = f"http://127.0.0.1:{free_port()}"
    configs = [
        BackendConfig(backend="embedded", store=embedded_store(tmp_path / "store", (listener,))),
        BackendConfig(backend="etcd", nodes=(etcd_server,)),
        BackendConfig(backend="file", files=(tmp_path / "data.yaml",)),
        BackendConfig(backend="env", environ={"APP_A": "1"}),
    ]

    async def body() -> None:
        async with EtcdClient([etcd_server]) as etcd:
            await etcd.put(b"/app/a", b"1")
        for config in configs:
            backend = await open_backend(config)
            try:
                assert backend.name == config.backend
                if config.store.listen_client_urls:
                    async with EtcdClient(config.store.listen_client_urls) as client:
                        await client.put(b"/app/a", b"1")
                snap = await backend.snapshot(["/app/a"])
                assert dict(snap.entries) == {"/app/a": "1"} and snap.revision >= 1
            finally:
                await backend.close()

    run(body)


def test_a_slow_local_reader_is_caught_up_from_history(tmp_path: Path) -> None:
    async def body() -> None:
        backend = await open_backend(BackendConfig(backend="embedded", store=embedded_store(tmp_path / "d")))
        try:
            node = backend.node  # type: ignore[attr-defined]
            hub = LocalWatchHub(node)
            watch = hub.watch(b"/k/", b"/k0", start_revision=node.kv.revision + 1,
                              max_queued_revisions=2)
            for i in range(20):
                await node.propose(PutRequest(b"/k/%d" % i, b"v"))
                await node.propose(PutRequest(b"/elsewhere", b"x"))
            got = [await anext(watch) for _ in range(20)]
            assert [events[0].kv.key for _, events in got] == [b"/k/%d" % i for i in range(20)]
            revisions = [revision for revision, _ in got]
            assert revisions == sorted(revisions) and len(set(revisions)) == 20
            late = hub.watch(b"/k/", b"/k0", start_revision=2)
            await node.propose(CompactionRequest(node.kv.revision))
            with pytest.raises(Compacted):
                await anext(late)
            hub.close()
            with pytest.raises(StopAsyncIteration):
                await anext(watch)
        finally:
            await backend.close()

    run(body)
