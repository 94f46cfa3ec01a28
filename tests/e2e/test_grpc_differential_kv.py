"""confagent against a real etcd 3.4 through gRPC: the KV service, its options and its errors.

One etcd and one store serve the module; every test writes the same requests to
both, in order, so their revisions stay equal and are compared too.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from confagent import kv
from confagent.testing import Processes
from confagent.wire._pb import rpc_pb2
from tests.e2e.grpc_differential import GrpcPair, pair_fixture

RANGE = "/etcdserverpb.KV/Range"
PUT = "/etcdserverpb.KV/Put"
DELETE = "/etcdserverpb.KV/DeleteRange"
TXN = "/etcdserverpb.KV/Txn"
COMPACT = "/etcdserverpb.KV/Compact"
GRANT = "/etcdserverpb.Lease/LeaseGrant"

Req = rpc_pb2


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory, session_processes: Processes,
         etcd_binary: str) -> Iterator[GrpcPair]:
    yield from pair_fixture(tmp_path_factory, session_processes)


def _end(prefix: bytes) -> bytes:
    return kv.prefix_end(prefix)


def _seed(pair: GrpcPair, prefix: bytes) -> None:
    for name, value in ((b"a", b"1"), (b"b", b"22"), (b"c", b"333"), (b"d", b""), (b"a", b"4444")):
        pair.same(PUT, Req.PutRequest(key=prefix + name, value=value))


def test_put_with_prev_kv_ignore_value_and_lease(pair: GrpcPair) -> None:
    pair.same(PUT, Req.PutRequest(key=b"put/a", value=b"1"))
    pair.same(PUT, Req.PutRequest(key=b"put/a", value=b"2", prev_kv=True))
    pair.same(PUT, Req.PutRequest(key=b"put/new", value=b"x", prev_kv=True))
    pair.same(PUT, Req.PutRequest(key=b"put/a", ignore_value=True, prev_kv=True))
    pair.same(PUT, Req.PutRequest(key=b"put/none", ignore_value=True))
    pair.same(PUT, Req.PutRequest(key=b"put/a", value=b"3", ignore_value=True))
    pair.same(PUT, Req.PutRequest(key=b"put/none", ignore_lease=True))
    pair.same(GRANT, Req.LeaseGrantRequest(TTL=600, ID=31))
    pair.same(PUT, Req.PutRequest(key=b"put/a", value=b"4", lease=31))
    pair.same(PUT, Req.PutRequest(key=b"put/a", value=b"5", ignore_lease=True, prev_kv=True))
    pair.same(PUT, Req.PutRequest(key=b"put/a", value=b"6", lease=31, ignore_lease=True))
    pair.same(PUT, Req.PutRequest(key=b"put/a", value=b"7", lease=999))
    pair.same(PUT, Req.PutRequest(key=b"", value=b"7"))
    pair.same(RANGE, Req.RangeRequest(key=b"put/", range_end=_end(b"put/")))
    pair.same("/etcdserverpb.Lease/LeaseRevoke", Req.LeaseRevokeRequest(ID=31))
    pair.same(RANGE, Req.RangeRequest(key=b"put/", range_end=_end(b"put/")))


@pytest.mark.parametrize("options", [
    {},
    {"limit": 2},
    {"limit": 10},
    {"revision": 3},
    {"keys_only": True},
    {"count_only": True},
    {"count_only": True, "limit": 1},
    {"serializable": True},
    {"sort_order": Req.RangeRequest.DESCEND},
    {"sort_order": Req.RangeRequest.ASCEND, "sort_target": Req.RangeRequest.VALUE},
    {"sort_order": Req.RangeRequest.DESCEND, "sort_target": Req.RangeRequest.VERSION, "limit": 2},
    {"sort_order": Req.RangeRequest.DESCEND, "sort_target": Req.RangeRequest.CREATE},
    {"sort_order": Req.RangeRequest.ASCEND, "sort_target": Req.RangeRequest.MOD},
    {"sort_order": Req.RangeRequest.NONE, "sort_target": Req.RangeRequest.VALUE},
    {"min_mod_revision": 4},
    {"max_mod_revision": 4},
    {"min_create_revision": 3, "max_create_revision": 4},
    {"limit": -1},
    {"revision": -1},
])
def test_range_options(pair: GrpcPair, options: dict[str, object]) -> None:
    prefix = b"range/"
    if not pair.same(RANGE, Req.RangeRequest(key=prefix, range_end=_end(prefix), count_only=True)).body.get(
            "count"):
        _seed(pair, prefix)
    pair.same(RANGE, Req.RangeRequest(key=prefix, range_end=_end(prefix), **options))  # type: ignore[arg-type]


def test_an_undefined_enum_number_is_refused_where_etcd_takes_it(pair: GrpcPair) -> None:
    """A documented difference (wire/_proto_server): no client sends one; the gateway refuses it too.
    (An undefined sort target is not sent to etcd: 3.4 sorts with no sorter and its process dies.)"""
    theirs, ours = pair.both(RANGE, Req.RangeRequest(key=b"range/", sort_order=7))  # type: ignore[arg-type]
    assert theirs.code.name == "OK"
    assert (ours.code.name, ours.details) == (
        "INVALID_ARGUMENT", "unknown value 7 for enum etcdserverpb.RangeRequest_SortOrder")
    ours = pair.ours.unary(RANGE, Req.RangeRequest(key=b"range/", sort_target=9))  # type: ignore[arg-type]
    assert (ours.code.name, ours.details) == (
        "INVALID_ARGUMENT", "unknown value 9 for enum etcdserverpb.RangeRequest_SortTarget")
    theirs, ours = pair.both(TXN, Req.TxnRequest(compare=[Req.Compare(key=b"range/a", target=9)]))  # type: ignore[arg-type]
    assert theirs.code.name == "OK"
    assert (ours.code.name, ours.details) == (
        "INVALID_ARGUMENT", "unknown value 9 for enum etcdserverpb.Compare_CompareTarget")


def test_range_ends_single_keys_and_future_revisions(pair: GrpcPair) -> None:
    _seed(pair, b"ends/")
    pair.same(RANGE, Req.RangeRequest(key=b"ends/b"))
    pair.same(RANGE, Req.RangeRequest(key=b"ends/b", range_end=b"\0", count_only=True))
    pair.same(RANGE, Req.RangeRequest(key=b"\0", range_end=b"\0", count_only=True))
    pair.same(RANGE, Req.RangeRequest(key=b"ends/c", range_end=b"ends/a"))
    pair.same(RANGE, Req.RangeRequest(key=b"ends/zz"))
    pair.same(RANGE, Req.RangeRequest(key=b""))
    pair.same(RANGE, Req.RangeRequest(key=b"ends/a", revision=1_000_000))


def test_delete_range(pair: GrpcPair) -> None:
    _seed(pair, b"del/")
    pair.same(DELETE, Req.DeleteRangeRequest(key=b"del/a", prev_kv=True))
    pair.same(DELETE, Req.DeleteRangeRequest(key=b"del/a"))
    pair.same(DELETE, Req.DeleteRangeRequest(key=b"del/b", range_end=b"del/d"))
    pair.same(DELETE, Req.DeleteRangeRequest(key=b"del/", range_end=_end(b"del/"), prev_kv=True))
    pair.same(DELETE, Req.DeleteRangeRequest(key=b""))
    pair.same(RANGE, Req.RangeRequest(key=b"del/", range_end=_end(b"del/")))


def _compare(key: bytes, target: str, result: str, **value: object) -> rpc_pb2.Compare:
    return Req.Compare(key=key, target=getattr(Req.Compare, target), result=getattr(Req.Compare, result),
                       **value)  # type: ignore[arg-type]


def _put_op(key: bytes, value: bytes, **options: object) -> rpc_pb2.RequestOp:
    return Req.RequestOp(request_put=Req.PutRequest(key=key, value=value, **options))  # type: ignore[arg-type]


def _range_op(key: bytes, range_end: bytes = b"") -> rpc_pb2.RequestOp:
    return Req.RequestOp(request_range=Req.RangeRequest(key=key, range_end=range_end))


def test_txn_compares_branches_and_nesting(pair: GrpcPair) -> None:
    _seed(pair, b"txn/")
    compares = [
        _compare(b"txn/a", "VALUE", "EQUAL", value=b"4444"),
        _compare(b"txn/a", "VALUE", "GREATER", value=b"1"),
        _compare(b"txn/a", "VERSION", "EQUAL", version=2),
        _compare(b"txn/a", "VERSION", "LESS", version=1),
        _compare(b"txn/b", "CREATE", "NOT_EQUAL", create_revision=0),
        _compare(b"txn/b", "MOD", "GREATER", mod_revision=1),
        _compare(b"txn/b", "LEASE", "EQUAL", lease=0),
        _compare(b"txn/missing", "VERSION", "EQUAL", version=0),
        _compare(b"txn/missing", "VALUE", "EQUAL", value=b""),
        _compare(b"txn/a", "VALUE", "LESS", value=b"5", range_end=_end(b"txn/")),
        _compare(b"txn/a", "MOD", "GREATER", mod_revision=0, range_end=b"\0"),
    ]
    for compare in compares:
        pair.same(TXN, Req.TxnRequest(compare=[compare], success=[_range_op(b"txn/a")],
                                      failure=[_range_op(b"txn/b")]))
    pair.same(TXN, Req.TxnRequest(compare=compares[:3], success=[
        _put_op(b"txn/e", b"e", prev_kv=True),
        Req.RequestOp(request_delete_range=Req.DeleteRangeRequest(key=b"txn/d", prev_kv=True)),
        _range_op(b"txn/", _end(b"txn/")),
        Req.RequestOp(request_txn=Req.TxnRequest(
            compare=[_compare(b"txn/e", "VALUE", "EQUAL", value=b"e")],
            success=[_put_op(b"txn/f", b"f"), _range_op(b"txn/f")],
            failure=[_range_op(b"txn/e")])),
    ]))
    pair.same(TXN, Req.TxnRequest())
    pair.same(TXN, Req.TxnRequest(failure=[_range_op(b"txn/a")],
                                  compare=[_compare(b"txn/a", "VALUE", "EQUAL", value=b"no")]))


@pytest.mark.parametrize("name", ["duplicate put", "put and delete", "nested duplicate", "too many ops",
                                  "empty key", "lease not found"])
def test_txn_refusals(pair: GrpcPair, name: str) -> None:
    requests = {
        "duplicate put": Req.TxnRequest(success=[_put_op(b"tx/a", b"1"), _put_op(b"tx/a", b"2")]),
        "put and delete": Req.TxnRequest(success=[
            _put_op(b"tx/b", b"1"),
            Req.RequestOp(request_delete_range=Req.DeleteRangeRequest(key=b"tx/", range_end=b"tx0"))]),
        "nested duplicate": Req.TxnRequest(success=[_put_op(b"tx/a", b"1"), Req.RequestOp(
            request_txn=Req.TxnRequest(success=[_put_op(b"tx/a", b"2")]))]),
        "too many ops": Req.TxnRequest(success=[_put_op(b"tx/%d" % i, b"v") for i in range(129)]),
        "empty key": Req.TxnRequest(success=[_put_op(b"", b"1")]),
        "lease not found": Req.TxnRequest(success=[_put_op(b"tx/a", b"1", lease=12345)]),
    }
    answer = pair.same(TXN, requests[name])
    assert answer.code.name != "OK"


def test_compaction_and_what_it_refuses(pair: GrpcPair) -> None:
    _seed(pair, b"compact/")
    revision = int(pair.same(RANGE, Req.RangeRequest(key=b"compact/a")).body["header"]["revision"])
    pair.same(COMPACT, Req.CompactionRequest(revision=revision + 100))
    pair.same(COMPACT, Req.CompactionRequest(revision=revision - 2))
    pair.same(COMPACT, Req.CompactionRequest(revision=revision - 3))
    pair.same(COMPACT, Req.CompactionRequest(revision=revision - 2, physical=True))
    pair.same(COMPACT, Req.CompactionRequest(revision=revision, physical=True))
    pair.same(RANGE, Req.RangeRequest(key=b"compact/a", revision=revision - 1))
    pair.same(RANGE, Req.RangeRequest(key=b"compact/a", revision=revision))
    pair.same(TXN, Req.TxnRequest(success=[Req.RequestOp(request_range=Req.RangeRequest(
        key=b"compact/a", revision=revision - 1))]))
    pair.same(COMPACT, Req.CompactionRequest(revision=0))


def test_sizes_at_and_past_the_request_limit(pair: GrpcPair) -> None:
    pair.same(PUT, Req.PutRequest(key=b"size/a", value=b"v" * (1024 * 1024)))
    pair.same(PUT, Req.PutRequest(key=b"size/b", value=b"v" * (1536 * 1024)))
    pair.same(TXN, Req.TxnRequest(success=[_put_op(b"size/c%d" % i, b"v" * 500_000) for i in range(4)]))
    pair.same(RANGE, Req.RangeRequest(key=b"size/", range_end=_end(b"size/"), keys_only=True))


@pytest.mark.parametrize("options", [
    {"limit": 1}, {"keys_only": True, "sort_order": Req.RangeRequest.DESCEND}, {"count_only": True},
    {"revision": 2}, {"revision": 1_000_000}, {"min_mod_revision": 1_000_000},
])
def test_a_txns_ranges_take_every_option(pair: GrpcPair, options: dict[str, object]) -> None:
    _seed(pair, b"txnr/")
    inner = Req.RangeRequest(key=b"txnr/", range_end=_end(b"txnr/"), **options)  # type: ignore[arg-type]
    pair.same(TXN, Req.TxnRequest(success=[Req.RequestOp(request_range=inner)]))
    pair.same(TXN, Req.TxnRequest(compare=[_compare(b"txnr/a", "VALUE", "EQUAL", value=b"no")], failure=[
        Req.RequestOp(request_txn=Req.TxnRequest(success=[Req.RequestOp(request_range=inner)]))]))


def test_a_txn_op_naming_no_request(pair: GrpcPair) -> None:
    pair.same(TXN, Req.TxnRequest(success=[Req.RequestOp()]))
    pair.same(TXN, Req.TxnRequest(failure=[Req.RequestOp()]))
    pair.same(TXN, Req.TxnRequest(success=[Req.RequestOp(request_delete_range=Req.DeleteRangeRequest())]))
