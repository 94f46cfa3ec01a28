"""Random reads and writes through gRPC, the same to a real etcd 3.4 and to confagent, every answer
compared: ranges with random options at random revisions, and txns of random compares and ops, over
a small key space with a compaction behind.

The seed is printed and named in every failure; ``CONFAGENT_FUZZ_SEED`` replays one,
``CONFAGENT_FUZZ_CALLS`` (300) sets how many calls.
"""

from __future__ import annotations

import os
import random
from collections.abc import Iterator

import pytest

from confagent.testing import Processes
from confagent.wire._pb import rpc_pb2 as Req  # noqa: N812
from tests.e2e.grpc_differential import GrpcPair, assert_same, pair_fixture

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
