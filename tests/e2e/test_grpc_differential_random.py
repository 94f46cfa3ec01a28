"""Random reads and writes through gRPC, the same to a real etcd 3.4 and to confagent, every answer
compared: ranges with random options at random revisions, and txns of random compares and ops, over
a small key space with a compaction behind; then watches with random ranges, filters and starts on
one stream, each one's events compared.

The seed is printed and named in every failure; ``CONFAGENT_FUZZ_SEED`` replays one,
``CONFAGENT_FUZZ_CALLS`` (300) sets how many calls.
"""

from __future__ import annotations

import os
import random
from collections.abc import Iterator
from typing import Any

import pytest

from confagent.testing import Processes
from confagent.wire._pb import rpc_pb2 as Req  # noqa: N812
from tests.e2e.grpc_differential import GrpcPair, Stream, assert_same, normalize, pair_fixture

SEED = int(os.environ.get("CONFAGENT_FUZZ_SEED") or random.SystemRandom().randrange(1 << 32))
CALLS = int(os.environ.get("CONFAGENT_FUZZ_CALLS", "300"))
KEYS = [b"", b"a", b"a/", b"a/b", b"a/c", b"b", b"b\xff", b"c", b"\0", b"\xff"]
RANGE, PUT, DELETE, TXN = ("/etcdserverpb.KV/" + m for m in ("Range", "Put", "DeleteRange", "Txn"))


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory, session_processes: Processes,
         etcd_binary: str) -> Iterator[GrpcPair]:
    yield from pair_fixture(tmp_path_factory, session_processes)


class Calls:
    """Random requests over ``KEYS``; revisions up to a little past the current one."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.revision = 1

    def key(self) -> bytes:
        return self.rng.choice(KEYS[1:])

    def end(self) -> bytes:
        return self.rng.choice([b"", b"", b"\0", *KEYS[1:]])

    def range(self) -> Req.RangeRequest:
        r = self.rng
        return Req.RangeRequest(
            key=self.key(), range_end=self.end(), limit=r.choice([0, 0, 1, 2, 5]),
            revision=r.choice([0, 0, r.randrange(1, self.revision + 3)]),
            sort_order=r.randrange(3), sort_target=r.randrange(5), serializable=r.random() < 0.3,
            keys_only=r.random() < 0.2, count_only=r.random() < 0.2,
            min_mod_revision=r.choice([0, 0, r.randrange(1, self.revision + 2)]),
            max_mod_revision=r.choice([0, 0, r.randrange(1, self.revision + 2)]),
            min_create_revision=r.choice([0, 0, r.randrange(1, self.revision + 2)]),
            max_create_revision=r.choice([0, 0, r.randrange(1, self.revision + 2)]))

    def op(self, depth: int) -> Req.RequestOp:
        kind = self.rng.choice(["range", "put", "delete", "txn" if depth < 2 else "range"])
        if kind == "range":
            return Req.RequestOp(request_range=self.range())
        if kind == "put":
            return Req.RequestOp(request_put=self.put())
        if kind == "delete":
            return Req.RequestOp(request_delete_range=self.delete())
        return Req.RequestOp(request_txn=self.txn(depth + 1))

    def put(self) -> Req.PutRequest:
        r = self.rng
        return Req.PutRequest(key=self.key(), value=r.choice([b"", b"x", b"yy", b"z" * 20]),
                              prev_kv=r.random() < 0.3, ignore_value=r.random() < 0.1)

    def delete(self) -> Req.DeleteRangeRequest:
        return Req.DeleteRangeRequest(key=self.key(), range_end=self.end(), prev_kv=self.rng.random() < 0.3)

    def compare(self) -> Req.Compare:
        r = self.rng
        target = r.randrange(5)
        operand = [{"version": r.randrange(4)}, {"create_revision": r.randrange(self.revision + 2)},
                   {"mod_revision": r.randrange(self.revision + 2)},
                   {"value": r.choice([b"", b"x", b"yy"])}, {"lease": 0}][target]
        return Req.Compare(key=self.key(), range_end=r.choice([b"", b"", self.end()]), target=target,  # type: ignore[arg-type]
                           result=r.randrange(4), **operand)  # type: ignore[arg-type]

    def txn(self, depth: int = 0) -> Req.TxnRequest:
        r = self.rng
        return Req.TxnRequest(compare=[self.compare() for _ in range(r.randrange(3))],
                              success=[self.op(depth) for _ in range(r.randrange(3))],
                              failure=[self.op(depth) for _ in range(r.randrange(3))])

    def any(self) -> tuple[str, object]:
        return self.rng.choice([(RANGE, self.range), (RANGE, self.range), (PUT, self.put),
                                (DELETE, self.delete), (TXN, self.txn), (TXN, self.txn)])


def test_random_reads_and_writes_answer_as_etcd(pair: GrpcPair) -> None:
    print(f"gRPC differential fuzz: seed {SEED} (CONFAGENT_FUZZ_SEED={SEED}), {CALLS} calls")
    calls = Calls(random.Random(SEED))
    codes: dict[str, int] = {}
    for i in range(CALLS):
        if i == CALLS // 3:
            pair.same("/etcdserverpb.KV/Compact", Req.CompactionRequest(revision=calls.revision // 2 or 1))
        path, make = calls.any()
        request = make()  # type: ignore[operator]
        theirs, ours = pair.both(path, request)
        assert_same(f"{path} (seed {SEED}, call {i})", request, theirs, ours)
        codes[theirs.code.name] = codes.get(theirs.code.name, 0) + 1
        if theirs.body:
            calls.revision = int(theirs.body["header"]["revision"])
    print("answers:", codes)
    assert codes.get("OK", 0) > CALLS // 2, codes  # mostly answered, not refused


WATCH = "/etcdserverpb.Watch/Watch"
SENTINEL = b"~"
"""Written (put, then deleted) after the random writes: every random watch covers it."""


def _random_watch(rng: random.Random, revision: int) -> Req.WatchRequest:
    filters = rng.choice([[], [], [Req.WatchCreateRequest.NOPUT], [Req.WatchCreateRequest.NODELETE]])
    return Req.WatchRequest(create_request=Req.WatchCreateRequest(
        key=rng.choice(KEYS[1:-1]), range_end=rng.choice([b"\0", b"\x7f"]), filters=filters,
        prev_kv=rng.random() < 0.5, start_revision=rng.choice([0, rng.randrange(1, revision + 2)])))


def _saw_sentinel(messages: list[Any], watches: int) -> bool:
    """Whether every watch has had the sentinel's last event it lets through, or was cancelled (its
    start compacted away)."""
    done: set[str] = set()
    for message in messages:
        if message.get("canceled"):
            done.add(message.get("watch_id", "0"))
        for event in message.get("events", []):
            if event["kv"]["key"] == "fg==" and (event.get("type") == "DELETE" or message["_nodelete"]):
                done.add(message.get("watch_id", "0"))
    return len(done) == watches


def _marked(messages: list[Any], nodelete: set[str]) -> list[Any]:
    return [{**m, "_nodelete": m.get("watch_id", "0") in nodelete} for m in messages]


def test_random_watches_see_the_same_events(pair: GrpcPair) -> None:
    """Watches with random ranges, filters, prev_kv and start revisions on one stream, random writes
    after them; each watch's events compared once it has seen the sentinel."""
    rng = random.Random(SEED)
    calls = Calls(rng)
    calls.revision = int(pair.same(RANGE, Req.RangeRequest(key=b"a")).body["header"]["revision"])
    watches = [_random_watch(rng, calls.revision) for _ in range(8)]
    nodelete = {str(i) for i, w in enumerate(watches)
                if Req.WatchCreateRequest.NODELETE in w.create_request.filters}
    streams = [Stream(server, WATCH) for server in (pair.etcd, pair.ours)]
    answers: list[list[Any]] = [[], []]
    try:
        for stream, seen in zip(streams, answers, strict=True):
            for watch in watches:
                stream.send(watch)
            seen.extend(stream.read_until(lambda m: len([x for x in m if x.get("created")]) >= len(watches)))
        for _ in range(60):
            path, make = rng.choice([(PUT, calls.put), (DELETE, calls.delete), (TXN, calls.txn)])
            pair.same(path, make())  # type: ignore[operator]
        pair.same(PUT, Req.PutRequest(key=SENTINEL, value=b"end"))
        pair.same(DELETE, Req.DeleteRangeRequest(key=SENTINEL))
        for stream, seen in zip(streams, answers, strict=True):
            seen.extend(stream.read_until(
                lambda m, seen=seen: _saw_sentinel(_marked(seen + m, nodelete), len(watches))))
    finally:
        for stream in streams:
            stream.cancel()
    events = [{w: [normalize(e) for m in messages if m.get("watch_id", "0") == w for e in m.get("events", [])]
               for w in map(str, range(len(watches)))} for messages in answers]
    cancelled = [sorted((m.get("watch_id", "0"), m.get("compact_revision"))
                        for m in messages if m.get("canceled")) for messages in answers]
    assert cancelled[1] == cancelled[0], f"seed {SEED}: cancelled (watch, compact revision)"
    for w in events[0]:
        theirs, ours = events[0][w], events[1][w]
        first = next((i for i, (a, b) in enumerate(zip(theirs, ours, strict=False)) if a != b),
                     min(len(theirs), len(ours)))
        assert ours == theirs, (
            f"seed {SEED}, watch {w} {watches[int(w)]}: {len(ours)} events, etcd {len(theirs)}; first "
            f"difference at {first}:\nours: {ours[first:first + 2]}\netcd: {theirs[first:first + 2]}")
