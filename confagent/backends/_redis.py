"""The ``redis`` backend: strings and hashes of a redis server as keys, with confd's key mapping.

Rules:
1. Keys map to redis keys as confd maps them, ``separator`` included
   (``_redis_keys.py``); a snapshot reads every string and hash under the
   prefixes in one script call, so it is one moment of the server: one scan
   of the prefixes' common beginning (one pass over the keyspace however many
   prefixes), the keys under none of them dropped. Where the server refuses
   scripts (``EVAL`` renamed away, an ACL), keys are read as confd reads them
   (SCAN, TYPE, then the values in one MULTI), and the log says so once.
2. The revision is a counter of this backend, as the file backend's: 1 for
   the first read, +1 each time a read finds other data under its prefixes
   than the reads before it found there (every key read is kept, whichever
   prefixes read it; ``_known.KnownKeys``). The last ``HISTORY_MAX`` changes are kept, so
   ``changes(after=R)`` can replay from R; older ones are gone
   (``ResyncNeeded``).
3. ``changes`` subscribes first, then reads, then reads again after each
   burst of keyspace notifications on the prefixes, or every poll interval
   when the server sends none (``_redis_link.py`` rule 2). A read that finds
   the data unchanged yields nothing.
4. A server that goes away (killed, restarted, unreachable) makes
   ``snapshot`` and ``changes`` raise ``ClientError``, as an unreachable etcd:
   the cache keeps its view and comes back with its backoff; a refused
   password is a ``BackendError`` naming the node.
5. A key or value that is not UTF-8 is left out and reported in ``problems``.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncGenerator, Sequence
from contextlib import aclosing

import redis.asyncio as aioredis

from confagent.backends._base import Change, Snapshot
from confagent.backends._known import KnownKeys
from confagent.backends._prefixes import PrefixSet
from confagent.backends._redis_keys import READ_SCRIPT, RedisNode, from_redis, scan_pattern
from confagent.backends._redis_link import RedisLink, RedisOptions
from confagent.errors import BackendError, ClientError, UndecodableKey

__all__ = ["RedisBackend"]

_Item = tuple[bytes, bytes | None, bytes]
"""A string (key, None, value) or a hash field (key, field, value) as read."""


class RedisBackend:
    """Keys from redis strings and hashes (module rules).

    Args:
        nodes: the servers, tried in order.
        options: password, TLS, timeouts, poll interval.
        separator: confd's ``-separator`` (``/`` when empty).
    """

    name = "redis"
    watches = True

    def __init__(self, nodes: Sequence[RedisNode], options: RedisOptions | None = None, *,
                 separator: str = "/", link: RedisLink | None = None) -> None:
        self.separator = separator or "/"
        self.link = link or RedisLink(nodes, options or RedisOptions())
        self._known = KnownKeys("redis")
        self._scripts = True
        """Whether the server runs the read script (rule 1); False once it refused."""
        self._lock = asyncio.Lock()
        self._closed = asyncio.Event()

    async def snapshot(self, prefixes: Sequence[str]) -> Snapshot:
        """Every key under ``prefixes``, read now (rules 1 and 2).

        Raises:
            ClientError: no node answered.
            BackendError: a node refused the password, or the read.
        """
        watched = PrefixSet(prefixes)
        entries, problems = await self._refresh(watched)
        return Snapshot(self._known.revision, entries, tuple(problems.values()))

    async def changes(self, prefixes: Sequence[str], after: int) -> AsyncGenerator[Change, None]:
        """The changes under ``prefixes`` after ``after``, as the server notifies or polled (rule 3).

        Raises:
            ResyncNeeded: the changes after ``after`` are not kept.
            ClientError, BackendError: as ``snapshot``.
        """
        watched = PrefixSet(prefixes)
        cursor = after
        patterns = [scan_pattern(p, self.separator) for p in watched.prefixes]
        noticed = self.link.changes_noticed(patterns, self._closed)
        try:
            async with aclosing(noticed) as bursts:
                async for _ in bursts:
                    await self._refresh(watched)
                    for change in self._known.since(cursor):
                        cursor = change.revision
                        kept = _restricted(change, watched, self.separator)
                        if kept is not None:
                            yield kept
        except ClientError:
            if self._closed.is_set():
                return
            raise

    async def _read_items(self, pattern: str) -> list[_Item]:
        """Every string and hash field whose key matches ``pattern``: by the script, or, where the
        server refuses scripts, as confd reads them (rule 1)."""
        if self._scripts:
            try:
                strings, hashes = await self.link.call(lambda client: _by_script(client, pattern))
            except BackendError as error:
                if not any(word in str(error).lower() for word in ("eval", "script", "unknown command")):
                    raise
                self._scripts = False
                self.link.log.warning("redis refuses scripts: keys are read one by one, as confd reads them, "
                                      "so a read is not one moment of the server", cause=str(error))
            else:
                items: list[_Item] = [(strings[i], None, strings[i + 1]) for i in range(0, len(strings), 2)]
                return items + [(hashes[i], hashes[i + 1], hashes[i + 2]) for i in range(0, len(hashes), 3)]
        return await self.link.call(lambda client: _one_by_one(client, pattern))

    async def close(self) -> None:
        """Stop watching and close the connection; ``changes`` iterators end."""
        self._closed.set()
        await self.link.close()

    async def _refresh(self, watched: PrefixSet) -> tuple[dict[str, str], dict[str, BackendError]]:
        """Read the prefixes; record a new revision when they changed (rule 2); what was read."""
        async with self._lock:
            entries, problems = await self._read(watched)
            self._known.record(watched, entries, problems)
            return entries, problems

    async def _read(self, watched: PrefixSet) -> tuple[dict[str, str], dict[str, BackendError]]:
        """Every string and hash field under the prefixes, mapped to key paths (rules 1, 5)."""
        common = os.path.commonprefix(list(watched.prefixes))  # noqa: RUF071 - characters, as SCAN matches
        entries: dict[str, str] = {}
        problems: dict[str, BackendError] = {}
        for key, hash_field, value in await self._read_items(scan_pattern(common, self.separator)):
            raw = key if hash_field is None else key + self.separator.encode() + hash_field
            try:
                name, text = raw.decode(), value.decode()
            except UnicodeDecodeError:
                problems[from_redis(raw.decode(errors="replace"), self.separator)] = UndecodableKey(
                    raw, "key" if _undecodable(raw) else "value")
                continue
            path = from_redis(name, self.separator)
            if watched.covers(path):
                entries[path] = text
        return entries, problems


def _undecodable(raw: bytes) -> bool:
    try:
        raw.decode()
    except UnicodeDecodeError:
        return True
    return False


def _restricted(change: Change, watched: PrefixSet, separator: str) -> Change | None:
    """``change`` limited to the watched keys; None when it touches none of them."""
    puts = {k: v for k, v in change.puts.items() if watched.covers(k)}
    deletes = frozenset(k for k in change.deletes if watched.covers(k))
    problems = tuple(p for p in change.problems if not isinstance(p, UndecodableKey)
                     or watched.covers(from_redis(p.key.decode(errors="replace"), separator)))
    if not puts and not deletes and not problems:
        return None
    return Change(change.revision, puts, deletes, problems)


async def _by_script(client: aioredis.Redis, pattern: str) -> list[list[bytes]]:
    """The strings and hash fields under ``pattern``, read atomically by ``READ_SCRIPT``."""
    reply: list[list[bytes]] = await client.eval(READ_SCRIPT, 0, pattern)
    return reply


async def _one_by_one(client: aioredis.Redis, pattern: str) -> list[_Item]:
    """The strings and hash fields under ``pattern`` as confd reads them: SCAN, TYPE, then the values
    (in one MULTI); a key gone or of another type by then is left for the next read."""
    keys = [key async for key in client.scan_iter(match=pattern, count=1000)]
    async with client.pipeline(transaction=False) as pipe:
        for key in keys:
            pipe.type(key)
        kinds = await pipe.execute()
    wanted = [(key, kind) for key, kind in zip(keys, kinds, strict=True) if kind in (b"string", b"hash")]
    async with client.pipeline(transaction=True) as multi:
        for key, kind in wanted:
            if kind == b"string":
                multi.get(key)
            else:
                multi.hgetall(key)
        values = await multi.execute(raise_on_error=False)
    items: list[_Item] = []
    for (key, kind), value in zip(wanted, values, strict=True):
        if isinstance(value, bytes) and kind == b"string":
            items.append((key, None, value))
        elif isinstance(value, dict) and kind == b"hash":
            items += [(key, field, text) for field, text in value.items()]
    return items
