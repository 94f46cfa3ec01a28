"""One harness per backend, so the conformance suite runs the same cases against each (STYLE row 24).

A harness opens its backend over some initial data, writes changes the way
that backend's source changes (a txn on a store, a rewritten YAML file), and
compacts where the source can. Every write is one revision.
"""

from __future__ import annotations

import asyncio
import os
import random
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping
from contextlib import aclosing
from pathlib import Path
from typing import Any, Protocol, TypeVar

import redis.asyncio as aioredis
import yaml
from kazoo.client import KazooClient

from confagent.backends import (
    Backend,
    BackoffPolicy,
    CacheConfig,
    CacheEvent,
    CacheRecovered,
    CacheTrouble,
    CacheUpdate,
    Change,
    EmbeddedBackend,
    EnvBackend,
    EtcdBackend,
    FileBackend,
    PrefixCache,
)
from confagent.backends._redis import RedisBackend
from confagent.backends._redis_keys import parse_node
from confagent.backends._redis_link import RedisOptions
from confagent.backends._zookeeper import ZookeeperBackend, ZookeeperOptions
from confagent.client import ClientConfig, EtcdClient
from confagent.errors import ClientError
from confagent.kv import CompactionRequest, DeleteRangeRequest, PutRequest, RequestOp, TxnRequest

T = TypeVar("T")
DEADLINE_S = 15.0
FAST = CacheConfig(backoff=BackoffPolicy(initial_s=0.05, max_s=0.4), verify_interval_s=0)
"""A cache retrying within a fraction of a second and verifying nothing on a timer (outage tests)."""


def run(body: Callable[[], Awaitable[T]]) -> T:
    """Run a test body on a fresh event loop, bounded so that a hang fails instead of stalling."""

    async def bounded() -> T:
        return await asyncio.wait_for(body(), 45)

    return asyncio.run(bounded())


async def next_change(changes: AsyncIterator[Change]) -> Change:
    """The next change, within a deadline."""
    return await asyncio.wait_for(anext(changes), DEADLINE_S)


class Harness(Protocol):
    """A backend and a way to change its source."""

    name: str
    writes: bool
    """False for env: its source never changes."""
    compacts: bool
    """True for the stores: ``compact`` drops history."""
    raw_keys: bool
    """True when keys that are not UTF-8 can be stored."""

    async def open(self, initial: Mapping[str, str]) -> Backend: ...

    async def write(self, puts: Mapping[str, str], deletes: Iterable[str] = ()) -> None: ...

    async def put_raw(self, key: bytes, value: bytes) -> None: ...

    async def compact(self) -> None: ...

    async def close(self) -> None: ...


def _chunks(entries: Mapping[str, str], size: int = 100) -> list[dict[str, str]]:
    """``entries`` in pieces a txn accepts (etcd allows 128 operations)."""
    items = list(entries.items())
    return [dict(items[start:start + size]) for start in range(0, len(items), size)]


def _ops(puts: Mapping[str, str], deletes: Iterable[str]) -> tuple[RequestOp, ...]:
    return (*(PutRequest(k.encode(), v.encode()) for k, v in puts.items()),
            *(DeleteRangeRequest(k.encode()) for k in deletes))


class EtcdHarness:
    """The etcd backend against a server at ``url`` (a real etcd or a confagent store process)."""

    writes, compacts, raw_keys = True, True, True

    def __init__(self, name: str, url: str) -> None:
        self.name = name
        config = ClientConfig(endpoints=(url,), dial_timeout_s=1.0, command_timeout_s=5.0)
        self._writer = EtcdClient(config)
        self._config = config
        self._backend: EtcdBackend | None = None

    async def open(self, initial: Mapping[str, str]) -> Backend:
        for chunk in _chunks(initial):
            await self.write(chunk)
        self._backend = EtcdBackend.connect(self._config)
        return self._backend

    async def write(self, puts: Mapping[str, str], deletes: Iterable[str] = ()) -> None:
        await self._writer.txn(TxnRequest(success=_ops(puts, deletes)))

    async def put_raw(self, key: bytes, value: bytes) -> None:
        await self._writer.put(key, value)

    async def compact(self) -> None:
        revision = (await self._writer.get(b"\0")).header.revision
        await self._writer.compact(revision)

    async def close(self) -> None:
        if self._backend is not None:
            await self._backend.close()
        await self._writer.aclose()


class EmbeddedHarness:
    """The embedded backend over a store in this process, written through its node."""

    name = "embedded"
    writes, compacts, raw_keys = True, True, True

    def __init__(self, data_dir: Path) -> None:
        self._data_dir = data_dir
        self.backend: EmbeddedBackend | None = None

    async def open(self, initial: Mapping[str, str]) -> Backend:
        self.backend = await EmbeddedBackend.start(self._data_dir)
        for chunk in _chunks(initial):
            await self.write(chunk)
        return self.backend

    async def write(self, puts: Mapping[str, str], deletes: Iterable[str] = ()) -> None:
        assert self.backend is not None
        await self.backend.node.propose(TxnRequest(success=_ops(puts, deletes)))

    async def put_raw(self, key: bytes, value: bytes) -> None:
        assert self.backend is not None
        await self.backend.node.propose(PutRequest(key, value))

    async def compact(self) -> None:
        assert self.backend is not None
        node = self.backend.node
        await node.propose(CompactionRequest(node.kv.revision))

    async def close(self) -> None:
        if self.backend is not None:
            await self.backend.close()


def nested(entries: Mapping[str, str]) -> dict[str, Any]:
    """``{'/a/b': 'v'}`` -> ``{'a': {'b': 'v'}}``, the document the file backend flattens back."""
    document: dict[str, Any] = {}
    for key, value in entries.items():
        *parents, leaf = key.strip("/").split("/")
        node = document
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    return document


class FileHarness:
    """The file backend over one YAML file, rewritten atomically (temp file, rename) per write."""

    name = "file"
    writes, compacts, raw_keys = True, False, False

    def __init__(self, directory: Path) -> None:
        self.path = directory / "data.yaml"
        self._entries: dict[str, str] = {}
        self._backend: FileBackend | None = None

    async def open(self, initial: Mapping[str, str]) -> Backend:
        self._save(initial, ())
        self._backend = FileBackend([self.path], rescan_interval_s=1.0)
        return self._backend

    async def write(self, puts: Mapping[str, str], deletes: Iterable[str] = ()) -> None:
        self._save(puts, deletes)

    def _save(self, puts: Mapping[str, str], deletes: Iterable[str]) -> None:
        self._entries.update(puts)
        for key in deletes:
            self._entries.pop(key, None)
        staged = self.path.with_name(".data.yaml.tmp")
        staged.write_text(yaml.safe_dump(nested(self._entries)))
        os.replace(staged, self.path)

    async def put_raw(self, key: bytes, value: bytes) -> None:
        raise AssertionError("the file backend has no raw keys")

    async def compact(self) -> None:
        raise AssertionError("the file backend does not compact")

    async def close(self) -> None:
        if self._backend is not None:
            await self._backend.close()


class RedisHarness:
    """The redis backend over a real redis-server, each write one MULTI/EXEC of SETs and DELs."""

    name = "redis"
    writes, compacts, raw_keys = True, False, False

    def __init__(self, port: int) -> None:
        self._port = port
        self._writer = aioredis.Redis(port=port, socket_timeout=5)
        self._backend: RedisBackend | None = None

    async def open(self, initial: Mapping[str, str]) -> Backend:
        if initial:
            await self.write(initial)
        self._backend = RedisBackend([parse_node(f"127.0.0.1:{self._port}")],
                                     RedisOptions(poll_interval_s=1.0))
        return self._backend

    async def write(self, puts: Mapping[str, str], deletes: Iterable[str] = ()) -> None:
        async with self._writer.pipeline(transaction=True) as multi:
            for key, value in puts.items():
                multi.set(key, value)
            for key in deletes:
                multi.delete(key)
            await multi.execute()

    async def put_raw(self, key: bytes, value: bytes) -> None:
        await self._writer.set(key, value)

    async def compact(self) -> None:
        raise AssertionError("redis keeps no history to compact")

    async def close(self) -> None:
        if self._backend is not None:
            await self._backend.close()
        await self._writer.aclose()


class ZookeeperHarness:
    """The zookeeper backend over a real ZooKeeper, each write one transaction (ZooKeeper's multi): a put
    creates the missing directories above its node in it, a delete removes the directories it empties
    (so that they do not become keys of their own: confd's mapping makes a node without children a key)."""

    name = "zookeeper"
    writes, compacts, raw_keys = True, False, False

    def __init__(self, node: str) -> None:
        self._node = node
        self._writer = KazooClient(hosts=node)
        self._writer.start(timeout=30)
        self._backend: ZookeeperBackend | None = None

    async def open(self, initial: Mapping[str, str]) -> Backend:
        if initial:
            await self.write(initial)
        self._backend = ZookeeperBackend(ZookeeperOptions(hosts=(self._node,)))
        return self._backend

    async def write(self, puts: Mapping[str, str], deletes: Iterable[str] = ()) -> None:
        await asyncio.to_thread(self._commit, dict(puts), list(deletes))

    def _commit(self, puts: dict[str, str], deletes: list[str]) -> None:
        zk, made = self._writer, set()
        transaction = zk.transaction()
        for key, value in puts.items():
            parents = [key[:i] for i in range(1, len(key)) if key[i] == "/"]
            for parent in parents:
                if parent not in made and not zk.exists(parent):
                    transaction.create(parent, b"")
                    made.add(parent)
            if zk.exists(key):
                transaction.set_data(key, value.encode())
            else:
                transaction.create(key, value.encode())
        gone = set(deletes)
        for key in deletes:
            transaction.delete(key)
        for parent in sorted({key.rpartition("/")[0] for key in deletes}, key=len, reverse=True):
            directory = parent
            while directory and directory not in gone and not set(_children(zk, directory)) - gone:
                transaction.delete(directory)
                gone.add(directory)
                directory = directory.rpartition("/")[0]
        results = transaction.commit()
        assert not [r for r in results if isinstance(r, Exception)], results

    async def put_raw(self, key: bytes, value: bytes) -> None:
        raise AssertionError("zookeeper's node names are text")

    async def compact(self) -> None:
        raise AssertionError("zookeeper keeps no history to compact")

    async def close(self) -> None:
        if self._backend is not None:
            await self._backend.close()
        await asyncio.to_thread(self._writer.stop)
        self._writer.close()


def _children(zk: KazooClient, path: str) -> list[str]:
    """``path``'s children as full paths."""
    return [f"{path}/{name}" for name in zk.get_children(path)]


class EnvHarness:
    """The env backend over a given environment (keys map to variable names as confd does)."""

    name = "env"
    writes, compacts, raw_keys = False, False, False

    def __init__(self) -> None:
        self._backend: EnvBackend | None = None

    async def open(self, initial: Mapping[str, str]) -> Backend:
        environ = {key.strip("/").replace("/", "_").upper(): value for key, value in initial.items()}
        self._backend = EnvBackend({**environ, "PATH": "/usr/bin", "HOME": "/root"})
        return self._backend

    async def write(self, puts: Mapping[str, str], deletes: Iterable[str] = ()) -> None:
        raise AssertionError("the environment does not change")

    async def put_raw(self, key: bytes, value: bytes) -> None:
        raise AssertionError("the environment has no raw keys")

    async def compact(self) -> None:
        raise AssertionError("the environment has no history")

    async def close(self) -> None:
        if self._backend is not None:
            await self._backend.close()


class Follower:
    """Runs ``cache.events()`` on a task and queues what it yields, for tests to wait on."""

    def __init__(self, cache: PrefixCache) -> None:
        self.cache = cache
        self.seen: list[CacheEvent] = []
        self._queue: asyncio.Queue[CacheEvent] = asyncio.Queue()
        self._task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        async with aclosing(self.cache.events()) as events:
            async for event in events:
                self.seen.append(event)
                await self._queue.put(event)

    async def until(self, predicate: Callable[[CacheEvent], bool],
                    timeout_s: float = DEADLINE_S) -> CacheEvent:
        """The first event from now on that ``predicate`` accepts (TimeoutError after ``timeout_s``)."""
        async with asyncio.timeout(timeout_s):
            while True:
                event = await self._queue.get()
                if predicate(event):
                    return event

    async def update(self, timeout_s: float = DEADLINE_S) -> CacheUpdate:
        event = await self.until(lambda e: isinstance(e, CacheUpdate), timeout_s)
        assert isinstance(event, CacheUpdate)
        return event

    async def trouble(self, timeout_s: float = DEADLINE_S) -> CacheTrouble:
        event = await self.until(lambda e: isinstance(e, CacheTrouble), timeout_s)
        assert isinstance(event, CacheTrouble)
        return event

    async def stop(self) -> None:
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)


class Restartable(Protocol):
    """A real server a test kills and starts again (``RedisServer``, ``ZookeeperServer``)."""

    def kill(self) -> None: ...

    def start(self) -> object: ...


async def survives_a_restart(backend: Backend, prefix: str, server: Restartable,
                             write: Callable[[str, str], None]) -> None:
    """As an etcd outage: a cache of ``prefix`` over ``backend`` (the server holding ``/app/a`` = 1)
    follows a write, keeps its view and reports the trouble while ``server`` is killed, recovers once
    it runs again and follows the next write (``write(key, value)`` to the server); the backend closed."""
    follower = Follower(PrefixCache(backend, [prefix], FAST, rng=random.Random(7)))
    try:
        assert dict((await follower.update()).view) == {"/app/a": "1"}
        await asyncio.to_thread(write, "/app/a", "2")
        assert dict((await follower.update()).view) == {"/app/a": "2"}
        await asyncio.to_thread(server.kill)
        trouble = await follower.trouble()
        assert isinstance(trouble.error, ClientError), trouble
        assert dict(follower.cache.view) == {"/app/a": "2"}
        await asyncio.to_thread(server.start)
        recovered = await follower.until(lambda e: isinstance(e, CacheRecovered), DEADLINE_S)
        assert isinstance(recovered, CacheRecovered)
        await asyncio.to_thread(write, "/app/b", "3")
        await follower.until(lambda e: dict(getattr(e, "view", {})) == {"/app/a": "2", "/app/b": "3"})
    finally:
        await follower.stop()
        await backend.close()
