"""PrefixCache over every backend: first load, changes, resync after compaction, verification, outages."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator, Callable
from contextlib import aclosing, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from confagent.backends import (
    BackoffPolicy,
    CacheConfig,
    CacheRecovered,
    CacheTrouble,
    CacheUpdate,
    EmbeddedBackend,
    EtcdBackend,
    PrefixCache,
)
from confagent.client import ClientConfig, EtcdClient
from confagent.errors import CacheDiverged, ClientError, Compacted
from confagent.kv import PutRequest
from confagent.testing import ServerProcess, free_port
from tests.backends.harness import DEADLINE_S, Follower, Harness, run

FAST = CacheConfig(backoff=BackoffPolicy(initial_s=0.05, max_s=0.4), verify_interval_s=0)


def test_cache_loads_then_follows_changes(harness: Harness, ns: str) -> None:
    initial = {f"{ns}/app/db/host": "db1", f"{ns}/app/port": "80", f"{ns}/zzz": "outside"}

    async def body() -> None:
        backend = await harness.open(initial)
        cache = PrefixCache(backend, [f"{ns}/app/db", f"{ns}/app"], FAST, rng=random.Random(1))
        assert cache.prefixes == (f"{ns}/app",) and cache.view.revision == 0
        follower = Follower(cache)
        try:
            first = await follower.update()
            assert first.resynced and first.changed == {f"{ns}/app/db/host", f"{ns}/app/port"}
            assert dict(first.view) == {f"{ns}/app/db/host": "db1", f"{ns}/app/port": "80"}
            if not harness.writes:
                return
            await harness.write({f"{ns}/app/port": "8080", f"{ns}/zzz": "still outside"})
            update = await follower.update()
            assert update.changed == {f"{ns}/app/port"} and not update.resynced
            assert update.view[f"{ns}/app/port"] == "8080" and cache.view is update.view
            await harness.write({}, deletes=[f"{ns}/app/db/host"])
            deleted = await follower.update()
            assert deleted.changed == {f"{ns}/app/db/host"} and f"{ns}/app/db/host" not in deleted.view
            assert deleted.revision > update.revision > first.revision
        finally:
            await follower.stop()
            await harness.close()

    run(body)


def test_compaction_resyncs_and_reports_the_keys_that_differ(compacting_harness: Harness, ns: str) -> None:
    harness = compacting_harness

    async def body() -> None:
        backend = await harness.open({f"{ns}/a": "1", f"{ns}/b": "1", f"{ns}/c": "1"})
        cache = PrefixCache(backend, [ns], FAST)
        try:
            async with aclosing(cache.events()) as events:
                first = await anext(events)  # the stream starts only when asked for more
                assert isinstance(first, CacheUpdate) and first.resynced
                await harness.write({f"{ns}/a": "2"}, deletes=[f"{ns}/b"])
                await harness.write({f"{ns}/d": "new"})
                await harness.compact()
                trouble = await asyncio.wait_for(anext(events), DEADLINE_S)
                assert isinstance(trouble, CacheTrouble) and isinstance(trouble.error, Compacted)
                assert trouble.retry_in_s == 0
                resynced = await asyncio.wait_for(anext(events), DEADLINE_S)
            assert isinstance(resynced, CacheUpdate) and resynced.resynced
            assert resynced.changed == {f"{ns}/a", f"{ns}/b", f"{ns}/d"}
            assert dict(resynced.view) == {f"{ns}/a": "2", f"{ns}/c": "1", f"{ns}/d": "new"}
        finally:
            await harness.close()

    run(body)


def test_verification_finds_a_diverged_cache_and_resyncs(tmp_path: Path) -> None:
    async def body() -> None:
        backend = await EmbeddedBackend.start(tmp_path / "data")
        config = CacheConfig(verify_interval_s=0.2, verify_grace_s=0.1)
        follower = Follower(PrefixCache(backend, ["/app"], config))
        try:
            await backend.node.propose(PutRequest(b"/app/a", b"1"))
            await follower.update()
            # A write the watch hub never hears of: straight into the state machine.
            backend.node.kv.apply(PutRequest(b"/app/a", b"silently changed"))
            trouble = await follower.trouble()
            assert isinstance(trouble.error, CacheDiverged) and "1 keys" in str(trouble.error)
            resynced = await follower.update()
            assert resynced.resynced and resynced.changed == {"/app/a"}
            assert resynced.view["/app/a"] == "silently changed"
            await backend.node.propose(PutRequest(b"/app/b", b"2"))  # followed from the new revision
            assert (await follower.update()).changed == {"/app/b"}
        finally:
            await follower.stop()
            await backend.close()

    run(body)


@dataclass
class StoreToCome:
    """A cache of ``/svc`` over the etcd backend at a port where no store runs until ``start``."""

    follower: Follower
    client_config: ClientConfig
    start_server: Callable[..., ServerProcess]
    data_dir: Path
    process: ServerProcess | None = None

    async def start(self) -> ServerProcess:
        port = int(self.client_config.endpoints[0].rsplit(":", 1)[1])
        self.process = await asyncio.to_thread(self.start_server, self.data_dir, port=port)
        return self.process


@asynccontextmanager
async def store_to_come(start_server: Callable[..., ServerProcess], tmp_path: Path,
                        ) -> AsyncIterator[StoreToCome]:
    url = f"http://127.0.0.1:{free_port()}"
    client_config = ClientConfig(endpoints=(url,), dial_timeout_s=0.5, command_timeout_s=2.0)
    backend = EtcdBackend.connect(client_config)
    follower = Follower(PrefixCache(backend, ["/svc"], FAST, rng=random.Random(7)))
    store = StoreToCome(follower, client_config, start_server, tmp_path / "data")
    try:
        yield store
    finally:
        await follower.stop()
        await backend.close()
        if store.process is not None:
            await asyncio.to_thread(store.process.stop)


def test_store_down_at_start_then_killed_mid_watch(start_server: Callable[..., ServerProcess],
                                                   tmp_path: Path) -> None:
    """The cache waits for a store that is not there yet, and catches up after a kill and restart."""

    async def body() -> None:
        async with store_to_come(start_server, tmp_path) as store:
            follower = store.follower
            down = await follower.trouble()
            assert isinstance(down.error, ClientError) and 0 < down.retry_in_s <= 0.4
            process = await store.start()
            assert (await follower.update()).resynced
            async with EtcdClient(store.client_config) as writer:
                await writer.put(b"/svc/a", b"1")
                assert (await follower.update()).changed == {"/svc/a"}
                await asyncio.to_thread(process.kill)
                assert isinstance((await follower.trouble()).error, ClientError)
                await asyncio.to_thread(process.start)
                await writer.put(b"/svc/b", b"2")
                caught_up = await follower.until(
                    lambda e: isinstance(e, CacheUpdate) and "/svc/b" in e.view)
            assert isinstance(caught_up, CacheUpdate)
            assert dict(caught_up.view) == {"/svc/a": "1", "/svc/b": "2"}

    run(body)


def test_a_store_answering_again_is_reported_once_before_what_it_brings(
        start_server: Callable[..., ServerProcess], tmp_path: Path) -> None:
    """Rule 8: ``CacheRecovered`` once the store answers after failing, even when nothing changed;
    at start before the first load, and mid-watch before the changes made while it was away."""

    async def body() -> None:
        async with store_to_come(start_server, tmp_path) as store:
            follower = store.follower
            await follower.trouble()
            await follower.trouble()  # two attempts failed
            process = await store.start()
            recovered = await follower.until(lambda e: not isinstance(e, CacheTrouble))
            assert isinstance(recovered, CacheRecovered) and recovered.failures >= 2, recovered
            assert (await follower.update()).resynced  # the first load comes after

            await asyncio.to_thread(process.kill)
            await follower.trouble()
            await asyncio.to_thread(process.start)  # no write: the stream alone would say nothing
            again = await follower.until(lambda e: not isinstance(e, CacheTrouble))
            assert isinstance(again, CacheRecovered) and again.failures >= 1, again
            assert again.revision == recovered.revision and again.down_s > 0

            await asyncio.to_thread(process.kill)
            await follower.trouble()
            await asyncio.to_thread(process.start)
            async with EtcdClient(store.client_config) as writer:  # a write while the cache is away
                await writer.put(b"/svc/a", b"1")
            after = await follower.until(lambda e: not isinstance(e, CacheTrouble))
            assert isinstance(after, CacheRecovered), after
            update = await follower.update()
            assert update.changed == {"/svc/a"} and dict(update.view) == {"/svc/a": "1"}
            assert sum(isinstance(e, CacheRecovered) for e in follower.seen) == 3

    run(body)
