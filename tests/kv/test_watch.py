"""WatchHub: live deliveries, filters, catch-up from history, compaction, bounded memory."""

from __future__ import annotations

import tracemalloc
from dataclasses import replace

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from confagent.errors import StoreError
from confagent.kv import (
    Applied,
    CompactionRequest,
    DeleteRangeRequest,
    Event,
    EventType,
    KvStore,
    LeaseGrantRequest,
    LeaseRevokeRequest,
    Request,
    TxnRequest,
    WatchCreateRequest,
    Watcher,
    WatchHub,
    prefix_range,
    validate,
)
from confagent.kv import _watch as hub_module

from .helpers import apply_all, kv, put, reference_store
from .model import in_range
from .strategies import watch_specs, write_requests


def deliver(hub: WatchHub, applied: Applied) -> dict[int, tuple[Event, ...]]:
    return {w.id: events for w, events in hub.on_applied(applied.revision, applied.events)}


def test_live_prefix_watch_with_prev_kv() -> None:
    """§4.6's live watch on app/ from revision 24."""
    store = reference_store("4.1", "4.2", "4.3", "4.4")
    hub = WatchHub(store)
    watcher = hub.create(WatchCreateRequest(*prefix_range(b"app/"), prev_kv=True))
    other = hub.create(WatchCreateRequest(b"foo"))
    e1, e2 = kv(b"app/e", 25, 25, 1, b"val-e"), kv(b"app/e", 25, 26, 2, b"val-e2")
    f, g = kv(b"app/f", 27, 27, 1, b"f"), kv(b"app/g", 27, 27, 1, b"g")
    writes: list[Request] = [put(b"app/e", b"val-e"), put(b"app/e", b"val-e2"),
              TxnRequest(success=(put(b"app/f", b"f"), put(b"app/g", b"g"))),
              DeleteRangeRequest(b"app/e", b"app/g")]
    got = [deliver(hub, store.apply(request)) for request in writes]
    assert got == [
        {watcher.id: (Event(EventType.PUT, e1),)},
        {watcher.id: (Event(EventType.PUT, e2, e1),)},
        {watcher.id: (Event(EventType.PUT, f), Event(EventType.PUT, g))},
        {watcher.id: (Event(EventType.DELETE, kv(b"app/e", 0, 28, 0), e2),
                      Event(EventType.DELETE, kv(b"app/f", 0, 28, 0), f))},
    ]
    assert watcher.next_revision == 29 and other.next_revision == 25


def watched_store() -> KvStore:
    store = reference_store("4.1", "4.2", "4.3", "4.4")
    apply_all(store, [put(b"app/e", b"val-e"), put(b"app/e", b"val-e2"),
                      TxnRequest(success=(put(b"app/f", b"f"), put(b"app/g", b"g"))),
                      DeleteRangeRequest(b"app/e", b"app/g")])
    return store


def test_historical_watches_catch_up_then_go_live() -> None:
    """§4.6's historical watches, from a store at revision 28."""
    store = watched_store()
    hub = WatchHub(store)
    single = hub.create(WatchCreateRequest(b"app/a", start_revision=10, no_delete=True))
    deletes = hub.create(WatchCreateRequest(*prefix_range(b"app/"), start_revision=25, no_put=True,
                                            prev_kv=True))
    assert {w.id for w in hub.unsynced()} == {single.id, deletes.id}
    first = hub.catch_up(single, max_events=100)
    assert first.events == (Event(EventType.PUT, kv(b"app/a", 10, 10, 1, b"val-a")),
                            Event(EventType.PUT, kv(b"app/a", 10, 14, 2, b"val-z")))
    assert first.synced and single.synced and single.next_revision == 29
    second = hub.catch_up(deletes, max_events=100)
    assert [(e.type, e.kv.key, e.prev_kv.value) for e in second.events] == [  # type: ignore[union-attr]
        (EventType.DELETE, b"app/e", b"val-e2"), (EventType.DELETE, b"app/f", b"f")]
    assert hub.unsynced() == []
    live = deliver(hub, store.apply(put(b"app/a", b"again")))
    assert list(live) == [single.id]


def test_a_watch_from_a_compacted_revision_is_canceled() -> None:
    store = watched_store()
    store.apply(CompactionRequest(25))
    hub = WatchHub(store)
    watcher = hub.create(WatchCreateRequest(b"foo", start_revision=2))
    assert hub.catch_up(watcher, max_events=10).compact_revision == 25
    assert hub.unsynced() == []
    hub.cancel(watcher)  # the stream cancels it again: harmless
    at_compaction = hub.create(WatchCreateRequest(*prefix_range(b"app/"), start_revision=25))
    assert hub.catch_up(at_compaction, max_events=10).compact_revision == 0


def test_a_future_start_waits_for_its_revision() -> None:
    store = KvStore()
    hub = WatchHub(store)
    watcher = hub.create(WatchCreateRequest(b"k", start_revision=4))
    assert watcher.synced and hub.unsynced() == []
    assert deliver(hub, store.apply(put(b"k", b"2"))) == {}
    assert deliver(hub, store.apply(put(b"k", b"3"))) == {}
    assert list(deliver(hub, store.apply(put(b"k", b"4")))) == [watcher.id]


def test_filters_and_prev_kv() -> None:
    store = KvStore()
    hub = WatchHub(store)
    specs = {
        "plain": WatchCreateRequest(b"k"),
        "prev": WatchCreateRequest(b"k", prev_kv=True),
        "no_put": WatchCreateRequest(b"k", no_put=True),
        "no_delete": WatchCreateRequest(b"k", no_delete=True),
        "neither": WatchCreateRequest(b"k", no_put=True, no_delete=True),
    }
    watchers = {name: hub.create(spec) for name, spec in specs.items()}
    apply_all(store, [put(b"k", b"1")])
    hub.on_applied(2, ())
    second = deliver(hub, store.apply(put(b"k", b"2")))
    gone = deliver(hub, store.apply(DeleteRangeRequest(b"k")))
    v1, v2 = kv(b"k", 2, 2, 1, b"1"), kv(b"k", 2, 3, 2, b"2")
    ids = {name: w.id for name, w in watchers.items()}
    assert second == {ids["plain"]: (Event(EventType.PUT, v2),),
                      ids["prev"]: (Event(EventType.PUT, v2, v1),),
                      ids["no_delete"]: (Event(EventType.PUT, v2),)}
    tomb = kv(b"k", 0, 4, 0)
    assert gone == {ids["plain"]: (Event(EventType.DELETE, tomb),),
                    ids["prev"]: (Event(EventType.DELETE, tomb, v2),),
                    ids["no_put"]: (Event(EventType.DELETE, tomb),)}


def test_ranges_from_key_and_arbitrary_ranges() -> None:
    store = KvStore()
    hub = WatchHub(store)
    from_b = hub.create(WatchCreateRequest(b"b", b"\x00"))
    b_to_d = hub.create(WatchCreateRequest(b"b", b"d"))
    everything = hub.create(WatchCreateRequest(b"\x00", b"\x00"))
    empty_range = hub.create(WatchCreateRequest(b"d", b"b"))
    got = deliver(hub, store.apply(TxnRequest(success=(
        put(b"a"), put(b"b"), put(b"c"), put(b"d"), put(b"\xff")))))
    assert {w: [e.kv.key for e in events] for w, events in got.items()} == {
        from_b.id: [b"b", b"c", b"d", b"\xff"],
        b_to_d.id: [b"b", b"c"],
        everything.id: [b"a", b"b", b"c", b"d", b"\xff"],
    }
    assert empty_range.id not in got


def test_a_prefix_watch_sees_the_prefix_key_itself() -> None:
    store = KvStore()
    hub = WatchHub(store)
    watcher = hub.create(WatchCreateRequest(*prefix_range(b"a")))
    ff = hub.create(WatchCreateRequest(*prefix_range(b"a\xff")))
    got = deliver(hub, store.apply(TxnRequest(success=(
        put(b"a"), put(b"a\xff"), put(b"a\xff\x01"), put(b"b"), put(b"`")))))
    assert {w: [e.kv.key for e in events] for w, events in got.items()} == {
        watcher.id: [b"a", b"a\xff", b"a\xff\x01"], ff.id: [b"a\xff", b"a\xff\x01"]}
    hub.cancel(watcher)
    hub.cancel(ff)
    assert deliver(hub, store.apply(put(b"a"))) == {}


def test_a_lease_revoke_is_one_delivery_of_several_deletes() -> None:
    store = KvStore()
    apply_all(store, [LeaseGrantRequest(ttl=10, id=4242), put(b"svc/b", lease=4242),
                      put(b"svc/a", lease=4242)])
    hub = WatchHub(store)
    watcher = hub.create(WatchCreateRequest(*prefix_range(b"svc/")))
    got = deliver(hub, store.apply(LeaseRevokeRequest(id=4242)))
    assert got == {watcher.id: (Event(EventType.DELETE, kv(b"svc/a", 0, 4, 0)),
                                Event(EventType.DELETE, kv(b"svc/b", 0, 4, 0)))}


def test_an_undelivered_watcher_catches_up_exactly_once() -> None:
    store = KvStore()
    hub = WatchHub(store)
    watcher = hub.create(WatchCreateRequest(b"k"))
    [(matched, _)] = hub.on_applied(2, store.apply(put(b"k", b"2")).events)
    hub.mark_unsynced(matched)
    assert not watcher.synced and watcher.next_revision == 2
    for value in (b"3", b"4", b"5"):
        applied = store.apply(put(b"k", value))
        assert hub.on_applied(applied.revision, applied.events) == []
    batches = [hub.catch_up(watcher, max_events=2), hub.catch_up(watcher, max_events=2)]
    assert [[e.kv.value for e in batch.events] for batch in batches] == [
        [b"2", b"3"], [b"4", b"5"]]
    assert [batch.synced for batch in batches] == [False, True]
    applied = store.apply(put(b"k", b"6"))
    assert [e.kv.value for e in deliver(hub, applied)[watcher.id]] == [b"6"]


def test_a_revision_is_never_split_between_batches() -> None:
    store = KvStore()
    hub = WatchHub(store)
    watcher = hub.create(WatchCreateRequest(b"k", b"l", start_revision=1))
    apply_all(store, [TxnRequest(success=tuple(put(b"k%d" % i) for i in range(5))),
                      put(b"k9")])
    first = hub.catch_up(watcher, max_events=2)
    assert len(first.events) == 5 and not first.synced
    assert len(hub.catch_up(watcher, max_events=2).events) == 1


def test_a_stuck_watcher_holds_no_events() -> None:
    store = KvStore()
    hub = WatchHub(store)
    watcher = hub.create(WatchCreateRequest(b"k"))
    hub.mark_unsynced(watcher)
    tracemalloc.start()
    try:
        before = tracemalloc.take_snapshot()
        for i in range(2_000):
            applied = store.apply(put(b"k", b"%d" % i))
            hub.on_applied(applied.revision, applied.events)
        after = tracemalloc.take_snapshot()
    finally:
        tracemalloc.stop()
    grown = sum(stat.size_diff for stat in after.compare_to(before, "filename")
                if stat.traceback[0].filename == hub_module.__file__)
    assert grown < 4_096
    assert len(hub.catch_up(watcher, max_events=10_000).events) == 2_000


# -- every watcher gets exactly its events, whatever fails ----------------------------

def _expected(spec: WatchCreateRequest, start: int,
              log: list[tuple[int, tuple[Event, ...]]]) -> list[Event]:
    out = []
    for revision, events in log:
        for event in events:
            if revision < start or not in_range(event.kv.key, spec.key, spec.range_end):
                continue
            if (spec.no_put and event.type == EventType.PUT) or \
                    (spec.no_delete and event.type == EventType.DELETE):
                continue
            out.append(event if spec.prev_kv else Event(event.type, event.kv))
    return out


_WRITES = write_requests()
_SPECS = watch_specs()


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_every_watcher_gets_exactly_its_events(data: st.DataObject) -> None:
    store = KvStore()
    hub = WatchHub(store)
    log: list[tuple[int, tuple[Event, ...]]] = []
    received: dict[int, list[Event]] = {}
    watchers: list[tuple[Watcher, int]] = []  # with the revision each was created at
    for _ in range(data.draw(st.integers(1, 30), label="steps")):
        action = data.draw(st.sampled_from(["write", "write", "write", "watch", "catch_up"]))
        if action == "watch":
            start = data.draw(st.integers(0, store.revision + 2), label="start_revision")
            watcher = hub.create(replace(data.draw(_SPECS), start_revision=start))
            watchers.append((watcher, store.revision))
            received[watcher.id] = []
        elif action == "catch_up":
            _catch_up(hub, received, data.draw(st.integers(1, 4), label="max_events"))
        else:
            request = data.draw(_WRITES)
            try:
                validate(request)
                applied = store.apply(request)
            except StoreError:
                continue
            if applied.events:
                log.append((applied.revision, applied.events))
            for watcher, events in hub.on_applied(applied.revision, applied.events):
                if data.draw(st.booleans(), label="delivery fails"):
                    hub.mark_unsynced(watcher)
                else:
                    received[watcher.id].extend(events)
    while hub.unsynced():
        _catch_up(hub, received, 3)
    for watcher, created_at in watchers:
        start = watcher.spec.start_revision or created_at + 1
        assert received[watcher.id] == _expected(watcher.spec, start, log), watcher


def _catch_up(hub: WatchHub, received: dict[int, list[Event]], max_events: int) -> None:
    for watcher in hub.unsynced():
        result = hub.catch_up(watcher, max_events)
        assert result.compact_revision == 0
        received[watcher.id].extend(result.events)
