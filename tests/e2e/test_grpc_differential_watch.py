"""confagent against a real etcd 3.4 through gRPC: Watch streams.

One stream carries many watches. Events are compared per watch as flattened
lists (etcd batches events by timing), the other messages (created, canceled,
progress) one by one with their headers' revisions. Both servers send progress
notifications every second to the watches that ask.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from confagent import kv
from confagent.testing import Processes
from confagent.wire._pb import rpc_pb2 as Req  # noqa: N812
from tests.e2e.grpc_differential import GrpcPair, Server, Stream, normalize, pair_fixture

Json = Any
WATCH = "/etcdserverpb.Watch/Watch"
PUT = "/etcdserverpb.KV/Put"
RANGE = "/etcdserverpb.KV/Range"
DELETE = "/etcdserverpb.KV/DeleteRange"
TXN = "/etcdserverpb.KV/Txn"
COMPACT = "/etcdserverpb.KV/Compact"


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory, session_processes: Processes,
         etcd_binary: str) -> Iterator[GrpcPair]:
    yield from pair_fixture(tmp_path_factory, session_processes,
                            ("--experimental-watch-progress-notify-interval", "1s"))


def create(key: bytes, range_end: bytes = b"", **options: Any) -> Req.WatchRequest:
    return Req.WatchRequest(create_request=Req.WatchCreateRequest(key=key, range_end=range_end, **options))


def cancel(watch_id: int) -> Req.WatchRequest:
    return Req.WatchRequest(cancel_request=Req.WatchCancelRequest(watch_id=watch_id))


PROGRESS = Req.WatchRequest(progress_request=Req.WatchProgressRequest())


def events_by_watch(messages: list[Json]) -> dict[str, list[Json]]:
    out: dict[str, list[Json]] = {}
    for message in messages:
        out.setdefault(message.get("watch_id", "0"), []).extend(message.get("events", []))
    return out


def controls(messages: list[Json]) -> list[Json]:
    return [normalize(m) for m in messages if "events" not in m]


def count_events(messages: list[Json]) -> int:
    return sum(len(m.get("events", [])) for m in messages)


def _revision(server: Server) -> int:
    return int(server.unary(RANGE, Req.RangeRequest(key=b"x")).body["header"]["revision"])


def _seed(pair: GrpcPair, prefix: bytes) -> int:
    """Writes under ``prefix``; the revision before them."""
    before = _revision(pair.etcd)
    assert before == _revision(pair.ours)
    for name, value in ((b"a", b"1"), (b"b", b"2"), (b"a", b"3")):
        pair.same(PUT, Req.PutRequest(key=prefix + name, value=value))
    pair.same(DELETE, Req.DeleteRangeRequest(key=prefix + b"b"))
    pair.same(TXN, Req.TxnRequest(success=[
        Req.RequestOp(request_put=Req.PutRequest(key=prefix + b"c", value=b"c")),
        Req.RequestOp(request_put=Req.PutRequest(key=prefix + b"d", value=b"d"))]))
    return before


def shape(messages: list[Json]) -> tuple[int, dict[str, int]]:
    """How many non-event messages, and how many events per watch."""
    return len(controls(messages)), {w: len(e) for w, e in events_by_watch(messages).items()}


def _watch_both(pair: GrpcPair, requests: list[Req.WatchRequest], done: Any,
                then: Any = None) -> tuple[list[Json], list[Json]]:
    """Each server's stream: ``requests`` sent, ``then()`` run (the writes); etcd's answers read until
    ``done(answers)``, ours until they have the same shape (bounded waits both)."""
    streams = [Stream(pair.etcd, WATCH), Stream(pair.ours, WATCH)]
    try:
        for stream in streams:
            for request in requests:
                stream.send(request)
        created = len([r for r in requests if r.HasField("create_request")])
        firsts = [stream.read_until(lambda m: len(controls(m)) >= created) for stream in streams]
        if then is not None:
            then()
        theirs = firsts[0] + streams[0].read_until(lambda m: done(firsts[0] + m))
        ours = firsts[1] + streams[1].read_until(lambda m: shape(firsts[1] + m) == shape(theirs))
        return theirs, ours
    finally:
        for stream in streams:
            stream.cancel()


def _sorted(messages: list[Json]) -> list[Json]:
    """Messages whose order between watches is the servers' timing (a catch-up's cancel)."""
    return sorted(messages, key=repr)


def test_many_watches_on_one_stream_see_the_same_events(pair: GrpcPair) -> None:
    before = _seed(pair, b"many/")
    end = kv.prefix_end(b"many/")
    requests = [
        create(b"many/a"),
        create(b"many/", end, prev_kv=True),
        create(b"many/", end, filters=[Req.WatchCreateRequest.NOPUT]),
        create(b"many/", end, filters=[Req.WatchCreateRequest.NODELETE], start_revision=before + 1),
        create(b"many/", end, start_revision=before + 2, prev_kv=True, watch_id=40),
        create(b"many/c", watch_id=41),
        create(b"many/", b"\0", start_revision=before + 1, filters=[Req.WatchCreateRequest.NOPUT]),
    ]

    def writes() -> None:
        _seed(pair, b"many/")

    theirs, ours = _watch_both(pair, requests, lambda m: count_events(m) >= 33, writes)
    assert controls(ours) == controls(theirs)
    assert events_by_watch(ours) == events_by_watch(theirs)
    assert count_events(ours) == 33


def test_duplicate_ids_cancels_and_progress_requests(pair: GrpcPair) -> None:
    _seed(pair, b"ctl/")
    requests = [
        Req.WatchRequest(),  # no request: skipped
        create(b"ctl/a", watch_id=7),
        create(b"ctl/a", watch_id=7),
        create(b"ctl/b"),
        PROGRESS,
        cancel(7),
        cancel(7),
        cancel(99),
        create(b"ctl/a", watch_id=7),
    ]
    theirs, ours = _watch_both(pair, requests, lambda m: len(controls(m)) >= 6)
    assert controls(ours) == controls(theirs)


@pytest.mark.parametrize("start", [1, 3, "now + 3"])
def test_start_revisions_before_and_after_now(pair: GrpcPair, start: int | str) -> None:
    before = _seed(pair, b"start/")
    if start == "now + 3":
        start = before + 5 + 3

    def writes() -> None:
        _seed(pair, b"start/")
        pair.same(PUT, Req.PutRequest(key=b"start/a", value=b"end"))

    theirs, ours = _watch_both(pair, [create(b"start/a", start_revision=int(start))],
                               lambda m: any(e["kv"].get("value") == "ZW5k" for e in events_by_watch(m)["0"]),
                               writes)
    assert controls(ours) == controls(theirs)
    assert events_by_watch(ours) == events_by_watch(theirs)


@pytest.mark.parametrize("start", [-1, -100])
def test_a_negative_start_watches_from_now_where_etcd_stays_silent(pair: GrpcPair, start: int) -> None:
    """A documented difference: etcd 3.4 creates the watch, then sends nothing (it was silent for the
    whole bounded wait while the key changed); confagent watches from now, as for start 0."""
    theirs, ours = _watch_both(pair, [create(b"neg/a", start_revision=start)], lambda m: len(m) >= 1)
    assert controls(ours) == controls(theirs)
    stream = Stream(pair.ours, WATCH)
    try:
        stream.send(create(b"neg/a", start_revision=start))
        assert stream.read(1)[0]["created"]
        pair.same(PUT, Req.PutRequest(key=b"neg/a", value=b"now"))
        assert [e["kv"]["value"] for e in events_by_watch(stream.read(1))["0"]] == ["bm93"]
    finally:
        stream.cancel()


def test_refused_creates_compacted_starts_and_numbering(pair: GrpcPair) -> None:
    before = _seed(pair, b"compacted/")
    pair.same(COMPACT, Req.CompactionRequest(revision=before + 3))
    requests = [
        create(b"compacted/a", start_revision=before + 1),
        create(b"compacted/a", watch_id=5),
        create(b"compacted/b", b"compacted/a"),
        create(b"compacted/b", b"compacted/b"),
        create(b"", b"\0"),
        create(b"compacted/a", start_revision=before + 3),
        cancel(5),
        create(b"compacted/a"),
    ]
    theirs, ours = _watch_both(pair, requests, lambda m: len(m) >= 10)
    assert _sorted(controls(ours)) == _sorted(controls(theirs))
    assert events_by_watch(ours) == events_by_watch(theirs)
    assert any(m.get("compact_revision") for m in theirs)


def test_progress_notify_and_progress_requests(pair: GrpcPair) -> None:
    requests = [create(b"progress/a", progress_notify=True), PROGRESS]
    theirs, ours = _watch_both(pair, requests, lambda m: len(m) >= 3)
    assert _sorted(controls(ours)) == _sorted(controls(theirs))  # the notification comes on its timer


def test_a_fragmented_catch_up_arrives_in_the_same_pieces(pair: GrpcPair) -> None:
    before = _revision(pair.etcd)
    for name in b"abc":
        pair.same(PUT, Req.PutRequest(key=b"big/%c" % name, value=b"v" * 700_000))
    end = kv.prefix_end(b"big/")
    requests = [create(b"big/", end, start_revision=before + 1, fragment=True),
                create(b"big/", end, start_revision=before + 1, watch_id=9)]
    theirs, ours = _watch_both(pair, requests, lambda m: count_events(m) >= 6)
    for watch_id in ("0", "9"):
        pieces = [[(m.get("fragment", False), len(m.get("events", []))) for m in messages
                   if m.get("watch_id", "0") == watch_id] for messages in (theirs, ours)]
        assert pieces[1] == pieces[0]
    assert events_by_watch(ours) == events_by_watch(theirs)


def test_a_half_closed_stream_keeps_its_watches(pair: GrpcPair) -> None:
    streams = [Stream(pair.etcd, WATCH), Stream(pair.ours, WATCH)]
    try:
        for stream in streams:
            stream.send(create(b"half/a"))
            assert len(stream.read(1)) == 1
            stream.done_writing()
        pair.same(PUT, Req.PutRequest(key=b"half/a", value=b"1"))
        theirs, ours = (stream.read(1) for stream in streams)
        assert events_by_watch(ours) == events_by_watch(theirs) and count_events(ours) == 1
    finally:
        for stream in streams:
            stream.cancel()


def test_events_each_past_the_limit_go_one_per_fragment(pair: GrpcPair) -> None:
    """With prev_kv, each event (a value and its previous one, 1.4 MB each) is past the request limit:
    a piece holds one event, whole, as etcd's sendFragments sends it."""
    before = _revision(pair.etcd)
    for key, value in ((b"huge/k", b"a"), (b"huge/k", b"b"), (b"huge/j", b"c")):
        pair.same(PUT, Req.PutRequest(key=key, value=value * 1_400_000))
    requests = [create(b"huge/", b"huge0", start_revision=before + 1, fragment=True, prev_kv=True)]
    theirs, ours = _watch_both(pair, requests, lambda m: count_events(m) >= 3)
    pieces = [[(m.get("fragment", False), len(m.get("events", []))) for m in messages]
              for messages in (theirs, ours)]
    assert pieces[1] == pieces[0] == [(False, 0), (True, 1), (True, 1), (False, 1)]
    assert events_by_watch(ours) == events_by_watch(theirs)
