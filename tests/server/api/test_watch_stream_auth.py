"""A watch stream's rule 5 in-process: a watch asked again once the auth revision moves, canceled when its
user may no longer read its range: when the stream is woken after the change, on live deliveries and on
catch-up alike.

The guard here is a table of readable prefixes with a revision that each change
moves; the member's own guard (``WatchPermits``) is compared with etcd 3.4 in
tests/e2e/test_grpc_differential_auth_watch.py.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from confagent.errors import PermissionDenied
from confagent.kv import KvStore, PutRequest, WatchCreateRequest, WatchHub, WatchResponse
from confagent.server.api._watch_stream import WatchStream
from confagent.server.node import WatchRegistry

REASON = "rpc error: code = PermissionDenied desc = etcdserver: permission denied"


class Readable:
    """A ``WatchGuard``: the prefixes the one caller may read; every change moves the revision."""

    def __init__(self, *prefixes: bytes) -> None:
        self.prefixes = set(prefixes)
        self.auth_revision = 1
        self.asked = 0

    def revoke(self, prefix: bytes) -> None:
        self.prefixes.discard(prefix)
        self.auth_revision += 1

    def touch(self) -> None:
        self.auth_revision += 1

    def _may(self, request: WatchCreateRequest) -> bool:
        return any(request.key.startswith(prefix) for prefix in self.prefixes)

    def admit(self, request: WatchCreateRequest) -> Callable[[], bool]:
        if not self._may(request):
            raise PermissionDenied()

        def still() -> bool:
            self.asked += 1
            return self._may(request)
        return still

    def revision(self) -> int:
        return self.auth_revision


def _stream(guard: Readable, max_queued: int = 256) -> tuple[KvStore, WatchRegistry, WatchStream]:
    store = KvStore()
    registry = WatchRegistry(WatchHub(store))
    stream = WatchStream(registry, lambda: store.revision, max_queued=max_queued, guard=guard)
    return store, registry, stream


def _put(store: KvStore, registry: WatchRegistry, key: bytes) -> None:
    applied = store.apply(PutRequest(key, b"v"))
    registry.on_applied(applied.revision, applied.events)


def _sent(stream: WatchStream) -> list[WatchResponse]:
    return [outgoing.response for outgoing in asyncio.run(stream.next_batch())]


def test_a_watch_is_canceled_at_its_next_delivery_once_its_range_is_no_longer_readable() -> None:
    guard = Readable(b"/app/", b"/keep/")
    store, registry, stream = _stream(guard)
    stream.handle(WatchCreateRequest(b"/app/", b"/app0"))
    stream.handle(WatchCreateRequest(b"/keep/", b"/keep0"))
    assert [r.created for r in _sent(stream)] == [True, True]
    guard.revoke(b"/app/")
    _put(store, registry, b"/app/a")
    _put(store, registry, b"/keep/a")
    sent = _sent(stream)
    assert sent[0] == WatchResponse(watch_id=0, canceled=True, cancel_reason=REASON)
    assert [(r.watch_id, [e.kv.key for e in r.events]) for r in sent[1:]] == [(1, [b"/keep/a"])]
    assert registry.watcher_count() == 1
    _put(store, registry, b"/app/b")  # nothing more on the canceled watch
    _put(store, registry, b"/keep/b")
    assert [(r.watch_id, r.canceled) for r in _sent(stream)] == [(1, False)]


def test_a_watch_is_canceled_once_woken_after_the_change_with_no_event_needed() -> None:
    guard = Readable(b"/app/")
    _, registry, stream = _stream(guard)
    stream.handle(WatchCreateRequest(b"/app/", b"/app0"))
    assert [r.created for r in _sent(stream)] == [True]
    guard.revoke(b"/app/")
    registry.wake_all()
    assert _sent(stream) == [WatchResponse(watch_id=0, canceled=True, cancel_reason=REASON)]
    assert registry.watcher_count() == 0


def test_a_watch_is_asked_again_only_when_the_auth_revision_moved() -> None:
    guard = Readable(b"/app/")
    store, registry, stream = _stream(guard)
    stream.handle(WatchCreateRequest(b"/app/", b"/app0"))
    for key in (b"/app/a", b"/app/b"):
        _put(store, registry, key)
    assert guard.asked == 0
    guard.touch()
    for key in (b"/app/c", b"/app/d"):
        _put(store, registry, key)
    assert guard.asked == 1
    assert [len(r.events) for r in _sent(stream)] == [0, 1, 1, 1, 1]
    assert guard.asked == 1  # the stream's sweep found it asked at this revision already


def test_a_watch_that_fell_behind_is_canceled_instead_of_caught_up() -> None:
    guard = Readable(b"/app/")
    store, registry, stream = _stream(guard, max_queued=1)
    stream.handle(WatchCreateRequest(b"/app/", b"/app0"))  # the outbox is full: deliveries go unsynced
    _put(store, registry, b"/app/a")
    guard.revoke(b"/app/")
    _put(store, registry, b"/app/b")
    assert _sent(stream) == [WatchResponse(watch_id=0, created=True),  # asked before any catch-up
                             WatchResponse(watch_id=0, canceled=True, cancel_reason=REASON)]
    assert registry.watcher_count() == 0


def test_a_refused_create_is_refused_with_its_reason() -> None:
    _, _, stream = _stream(Readable(b"/app/"))
    stream.handle(WatchCreateRequest(b"/other/", b"/other0"))
    assert _sent(stream) == [WatchResponse(watch_id=-1, created=True, canceled=True, cancel_reason=REASON)]
