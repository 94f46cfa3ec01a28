"""The same cases against every backend (etcd, etcd-store, embedded, file, env): the rules of _base.py.

Cases a backend cannot express run only on the backends that can (the
``writing_harness``, ``compacting_harness`` and ``raw_key_harness`` fixtures).
"""

from __future__ import annotations

import asyncio
from contextlib import aclosing

import pytest

from confagent.backends import Change
from confagent.errors import Compacted, ResyncNeeded, UndecodableKey
from tests.backends.harness import DEADLINE_S, Harness, next_change, run


def test_snapshot_holds_the_prefixes_at_one_revision(harness: Harness, ns: str) -> None:
    initial = {f"{ns}/app/db/host": "db1", f"{ns}/app/db/port": "5432", f"{ns}/web/a": "10.0.0.1",
               f"{ns}/other/x": "outside", f"{ns}/apple/y": "string prefix"}

    async def body() -> None:
        backend = await harness.open(initial)
        try:
            snap = await backend.snapshot([f"{ns}/app", f"{ns}/web", f"{ns}/app/db"])
            assert dict(snap.entries) == {k: v for k, v in initial.items() if "/other/" not in k}
            assert snap.revision >= 1
            again = await backend.snapshot([f"{ns}/web"])
            assert again.revision == snap.revision and dict(again.entries) == {f"{ns}/web/a": "10.0.0.1"}
            assert dict((await backend.snapshot([f"{ns}/nothing"])).entries) == {}
        finally:
            await harness.close()

    run(body)


def test_changes_come_in_revision_order_one_per_revision(writing_harness: Harness, ns: str) -> None:
    harness = writing_harness

    async def body() -> None:
        backend = await harness.open({f"{ns}/app/keep": "1"})
        try:
            start = (await backend.snapshot([f"{ns}/app"])).revision
            seen: list[Change] = []
            async with aclosing(backend.changes([f"{ns}/app"], start)) as changes:
                await harness.write({f"{ns}/app/a": "1"})
                seen.append(await next_change(changes))
                await harness.write({f"{ns}/app/a": "2", f"{ns}/app/b": "3"})
                seen.append(await next_change(changes))
                await harness.write({}, deletes=[f"{ns}/app/a"])
                seen.append(await next_change(changes))
            assert [(dict(c.puts), c.deletes) for c in seen] == [
                ({f"{ns}/app/a": "1"}, frozenset()),
                ({f"{ns}/app/a": "2", f"{ns}/app/b": "3"}, frozenset()),
                ({}, frozenset({f"{ns}/app/a"})),
            ]
            revisions = [start] + [c.revision for c in seen]
            assert revisions == sorted(set(revisions))
            final = await backend.snapshot([f"{ns}/app"])
            assert final.revision == seen[-1].revision
            assert dict(final.entries) == {f"{ns}/app/keep": "1", f"{ns}/app/b": "3"}
        finally:
            await harness.close()

    run(body)


def test_changes_replay_from_an_older_revision(writing_harness: Harness, ns: str) -> None:
    harness = writing_harness

    async def body() -> None:
        backend = await harness.open({f"{ns}/k/a": "0"})
        try:
            start = (await backend.snapshot([f"{ns}/k"])).revision
            async with aclosing(backend.changes([f"{ns}/k"], start)) as changes:
                for value in "123":
                    await harness.write({f"{ns}/k/a": value})
                    await next_change(changes)
            async with aclosing(backend.changes([f"{ns}/k"], start)) as replay:
                values = [dict((await next_change(replay)).puts)[f"{ns}/k/a"] for _ in range(3)]
            assert values == ["1", "2", "3"]
        finally:
            await harness.close()

    run(body)


def test_several_prefixes_share_one_change_per_revision(writing_harness: Harness, ns: str) -> None:
    harness = writing_harness
    prefixes = [f"{ns}/b", f"{ns}/d", f"{ns}/b/inner"]

    async def body() -> None:
        backend = await harness.open({f"{ns}/b/x": "0"})
        try:
            start = (await backend.snapshot(prefixes)).revision
            async with aclosing(backend.changes(prefixes, start)) as changes:
                await harness.write({f"{ns}/c/between": "not watched"})
                await harness.write({f"{ns}/b/x": "1", f"{ns}/d/y": "2", f"{ns}/c/between": "again",
                                     f"{ns}/b/inner/z": "3"})
                change = await next_change(changes)
                await harness.write({}, deletes=[f"{ns}/b/x", f"{ns}/d/y"])
                deleted = await next_change(changes)
            assert dict(change.puts) == {f"{ns}/b/x": "1", f"{ns}/d/y": "2", f"{ns}/b/inner/z": "3"}
            assert deleted.deletes == {f"{ns}/b/x", f"{ns}/d/y"} and not deleted.puts
            assert start < change.revision < deleted.revision
        finally:
            await harness.close()

    run(body)


def test_a_write_of_many_keys_under_several_prefixes_is_one_change(writing_harness: Harness, ns: str) -> None:
    """Many keys in one write (a zookeeper multi fires a watch per node, in several packets): one change."""
    harness = writing_harness
    keys = [f"{ns}/{prefix}/k{i:03}" for prefix in "bd" for i in range(60)]

    async def body() -> None:
        backend = await harness.open({key: "0" for key in keys})
        try:
            start = (await backend.snapshot([f"{ns}/b", f"{ns}/d"])).revision
            async with aclosing(backend.changes([f"{ns}/b", f"{ns}/d"], start)) as changes:
                await harness.write({}, deletes=keys)
                deleted = await next_change(changes)
                await harness.write({key: "1" for key in keys})
                put = await next_change(changes)
            assert deleted.deletes == set(keys) and not deleted.puts
            assert dict(put.puts) == {key: "1" for key in keys} and not put.deletes
        finally:
            await harness.close()

    run(body)


def test_changes_end_when_the_backend_closes(harness: Harness, ns: str) -> None:
    async def body() -> None:
        backend = await harness.open({f"{ns}/a": "1"})
        start = (await backend.snapshot([ns])).revision
        changes = backend.changes([ns], start)
        if harness.writes:  # the watch is running once a change came through it
            await harness.write({f"{ns}/a": "2"})
            assert dict((await next_change(changes)).puts) == {f"{ns}/a": "2"}

        async def rest() -> list[Change]:
            return [change async for change in changes]

        waiting = asyncio.create_task(rest())
        await harness.close()
        assert await asyncio.wait_for(waiting, DEADLINE_S) == []

    run(body)


def test_compacted_history_asks_for_a_resync(compacting_harness: Harness, ns: str) -> None:
    harness = compacting_harness

    async def body() -> None:
        backend = await harness.open({f"{ns}/a": "0"})
        try:
            start = (await backend.snapshot([ns])).revision
            await harness.write({f"{ns}/a": "1"})
            await harness.write({f"{ns}/a": "2"})
            await harness.compact()
            with pytest.raises((Compacted, ResyncNeeded)):
                async with aclosing(backend.changes([ns], start)) as changes:
                    await next_change(changes)
            fresh = await backend.snapshot([ns])
            assert dict(fresh.entries) == {f"{ns}/a": "2"}
        finally:
            await harness.close()

    run(body)


def test_keys_that_are_not_utf8_are_skipped_and_reported(raw_key_harness: Harness, ns: str) -> None:
    harness = raw_key_harness

    async def body() -> None:
        backend = await harness.open({f"{ns}/ok": "1"})
        try:
            start = (await backend.snapshot([ns])).revision
            async with aclosing(backend.changes([ns], start)) as changes:
                await harness.put_raw(ns.encode() + b"/bad\xff", b"v")
                await harness.put_raw(ns.encode() + b"/ok", b"\xfe")
                bad_key, bad_value = await next_change(changes), await next_change(changes)
            assert not bad_key.puts and not bad_key.deletes
            assert [type(p) for p in bad_key.problems] == [UndecodableKey]
            assert bad_value.deletes == {f"{ns}/ok"} and "value" in str(bad_value.problems[0])
            snap = await backend.snapshot([ns])
            assert dict(snap.entries) == {} and len(snap.problems) == 2
            assert "not UTF-8" in str(snap.problems[0])
        finally:
            await harness.close()

    run(body)


def test_many_prefixes_are_read_at_one_revision(harness: Harness, ns: str) -> None:
    """More prefixes than one etcd txn may hold (128): still one snapshot, at one revision."""
    initial = {f"{ns}/p{i:03d}/k": str(i) for i in range(200)}

    async def body() -> None:
        backend = await harness.open(initial)
        try:
            snap = await backend.snapshot([f"{ns}/p{i:03d}/" for i in range(0, 200, 1)])
            assert dict(snap.entries) == initial
            assert snap.revision == (await backend.snapshot([f"{ns}/p000/"])).revision
        finally:
            await harness.close()

    run(body)
