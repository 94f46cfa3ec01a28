"""The ``zookeeper`` backend: a ZooKeeper tree as keys, with confd's key mapping and watches (kazoo).

Rules:
1. Key mapping, confd's (``_zookeeper_tree.py``): a node without children
   is a key, named by its path, whose value is the node's data ("" when it
   has none); a node with children is a directory whose own data is left
   out, as confd leaves it out. A prefix is a plain string prefix (``_base``
   rule 1): ``/app/db`` reads the children of ``/app`` whose names start
   with ``db``, and everything below them.
2. A read walks the tree, arming a watch on everything it reads. ZooKeeper
   has no read of several nodes at one moment: what the watches that fired
   during a walk concern is read again before the read is recorded (rule 4),
   so a snapshot is the tree at one moment unless it changes for longer than
   ``FOLLOW_ROUNDS`` rounds of reads.
3. Revisions are a counter of this backend (``KnownKeys``, ``_known.py``):
   +1 for each read that finds other data under its prefixes. Reads run one
   at a time (one session sees the tree in order, so a later read sees it at
   least as new): a revision never brings back older data.
4. ``changes`` starts from the copy of the tree its snapshot read (else it
   walks once), then waits until watches fire and reads again only
   what they concern (``TreeCopy.follow``), which arms those watches again
   (ZooKeeper's watches fire once; confd arms GetW and ChildrenW again after
   each event too, and reads every key again). It walks everything again
   when the connection was lost, when more than ``EVENTS_MAX`` watches
   fired at once, or when another read recorded news first (its own copy
   could be behind the watches not yet handed to it).
5. The session is kazoo's, kept by its own threads, which reconnect with at
   most ``RECONNECT_DELAY_MAX_S`` between attempts. While it is not
   connected (the server down or restarting, the session lost), ``snapshot``
   waits ``dial_timeout_s`` for it and raises ``ClientError``, and ``changes``
   raises ``ClientError``: the cache keeps its view, backs off and comes back
   with a snapshot, as after an etcd outage. Watches do not survive a lost
   connection in kazoo; the next walk arms them on the session it has.
6. Credentials are a digest identity (``user:password``, zkCli's ``addauth
   digest``) added to the session. ZooKeeper takes any digest identity and
   checks each node's ACL when it is read: a node the ACL refuses is a
   ``BackendError`` naming the user and the node.
7. kazoo's calls block: reads run in a worker thread (``asyncio.to_thread``).
   Its watch and state callbacks run in its threads and only hand over to
   the event loop (``call_soon_threadsafe``), once per burst.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import AsyncGenerator, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kazoo.client import KazooClient, KazooState
from kazoo.protocol.states import Callback

from confagent.backends._base import Change, Snapshot
from confagent.backends._known import KnownKeys, restricted
from confagent.backends._prefixes import PrefixSet
from confagent.backends._zookeeper_tree import TreeCopy, TreeWalk
from confagent.errors import BackendError, ClientError, UndecodableKey

__all__ = ["ZookeeperBackend", "ZookeeperOptions"]

SESSION_TIMEOUT_S = 10.0
"""The session timeout asked of the server (it bounds it by its own min and max)."""
RECONNECT_DELAY_MAX_S = 1.0
"""The longest wait between two attempts to reach a server (kazoo's connection retry)."""
EVENTS_MAX = 10_000
"""Fired watches a ``changes`` iterator keeps to follow; past that it walks everything again (rule 4)."""
FOLLOW_ROUNDS = 10
"""Rounds of reads one record of ``changes`` follows fired watches for (rule 4)."""
SETTLE_MAX_S = 1.0
"""The longest wait for kazoo to hand over the watches fired so far."""

Event = tuple[str, str]
"""A fired watch: (kazoo's event type, the node's path)."""


@dataclass(frozen=True, slots=True)
class ZookeeperOptions:
    """Where the servers are and how to reach them.

    Attributes:
        hosts: ``HOST:PORT`` of each server; the session moves between them.
        username, password: the digest identity (rule 6); none when ``username`` is "".
        ca_file, cert_file, key_file: TLS to the servers' secure port when ``ca_file`` or
            ``cert_file`` is given (the server's certificate checked against ``ca_file``).
        dial_timeout_s: how long a read waits for a session.
        timeout_s: how long a read waits for each answer.
    """

    hosts: tuple[str, ...]
    username: str = ""
    password: str = ""
    ca_file: Path | None = None
    cert_file: Path | None = None
    key_file: Path | None = None
    dial_timeout_s: float = 2.0
    timeout_s: float = 5.0

    def __post_init__(self) -> None:
        assert self.hosts, "at least one zookeeper host"

    @property
    def tls(self) -> bool:
        return self.ca_file is not None or self.cert_file is not None

    @property
    def who(self) -> str:
        """Whom the servers see, for errors."""
        return f"user {self.username!r}" if self.username else "a client without credentials"


@dataclass(eq=False)
class _Listener:
    """One ``changes`` iterator's share of the fired watches (rule 4)."""

    wake: asyncio.Event = field(default_factory=asyncio.Event)
    events: list[Event] = field(default_factory=list)
    walk_all: bool = True
    """Read everything again: the first read, a lost connection, too many events."""
    synced: int = -1
    """The revision its last read was recorded at."""

    def heard(self, fired: Sequence[Event | None]) -> None:
        for event in fired:
            if event is None or len(self.events) >= EVENTS_MAX:
                self.walk_all = True
                self.events.clear()
            elif not self.walk_all:
                self.events.append(event)
        self.wake.set()


class ZookeeperBackend:
    """Keys from a ZooKeeper tree (module rules).

    Must be made in the event loop it serves (kazoo's callbacks are handed to it).
    """

    name = "zookeeper"
    watches = True

    def __init__(self, options: ZookeeperOptions) -> None:
        self.options = options
        self._loop = asyncio.get_running_loop()
        self._known = KnownKeys(self.name)
        self._listeners: set[_Listener] = set()
        self._live = asyncio.Event()
        self._closed = False
        self._reading = asyncio.Lock()
        self._handed: tuple[TreeCopy, _Listener] | None = None
        self._pending_lock = threading.Lock()
        self._pending: list[Event | None] = []
        self._client = _kazoo_client(options)
        self._client.add_listener(self._on_state)
        self._client.start_async()

    async def snapshot(self, prefixes: Sequence[str]) -> Snapshot:
        """Every key under ``prefixes``, walked now (rules 1 to 3).

        Raises:
            ClientError: no session within ``dial_timeout_s``, or a server stopped answering.
            BackendError: a node's ACL refuses the read (names the user and the node).
        """
        copy, listener = TreeCopy(prefixes), _Listener()
        self._listeners.add(listener)
        try:
            entries, problems, revision = await self._follow(copy, listener)
        except BaseException:
            self._listeners.discard(listener)
            raise
        self._hand_over(copy, listener)
        return Snapshot(revision, entries, tuple(problems.values()))

    async def changes(self, prefixes: Sequence[str], after: int) -> AsyncGenerator[Change, None]:
        """The changes under ``prefixes`` after ``after``, read again as watches fire (rule 4).

        Raises:
            ResyncNeeded: the changes after ``after`` are not kept.
            ClientError: the session was lost, or a server stopped answering (rule 5).
            BackendError: as ``snapshot``.
        """
        copy, listener = self._taken(prefixes, after)
        cursor = after
        try:
            while not self._closed:
                listener.wake.clear()
                await self._follow(copy, listener)
                for change in self._known.since(cursor):
                    cursor = change.revision
                    kept = restricted(change, copy.watched)
                    if kept is not None:
                        yield kept
                await listener.wake.wait()
                if not self._closed and not self._live.is_set():
                    raise ClientError(f"zookeeper {self._hosts}: the connection was lost")
        finally:
            self._listeners.discard(listener)

    async def close(self) -> None:
        """Close the session; ``changes`` iterators end."""
        self._closed = True
        self._wake()
        await asyncio.to_thread(_stop, self._client)

    # -- reading -------------------------------------------------------------------------
    def _hand_over(self, copy: TreeCopy, listener: _Listener) -> None:
        """Keep the last snapshot's copy, and hear on for it: the ``changes`` that usually follows it
        starts from it, and need not walk everything again (rule 4)."""
        if self._handed is not None:
            self._listeners.discard(self._handed[1])
        self._handed = (copy, listener)

    def _taken(self, prefixes: Sequence[str], after: int) -> tuple[TreeCopy, _Listener]:
        """The last snapshot's copy if it read ``prefixes`` at ``after``; else a new one (heard from now)."""
        handed, self._handed = self._handed, None
        if handed is not None:
            copy, listener = handed
            if copy.watched.prefixes == PrefixSet(prefixes).prefixes and listener.synced == after:
                return handed
            self._listeners.discard(listener)
        listener = _Listener()
        self._listeners.add(listener)
        return TreeCopy(prefixes), listener

    @property
    def _hosts(self) -> str:
        return ",".join(self.options.hosts)

    def _walk(self) -> TreeWalk:
        return TreeWalk(self._client, self._on_watch, self.options.timeout_s, self._hosts, self.options.who)

    async def _follow(self, copy: TreeCopy, listener: _Listener,
                      ) -> tuple[dict[str, str], dict[str, BackendError], int]:
        """Bring ``copy`` up to date (rules 2 and 4) and record it: its keys, the undecodable ones'
        errors, and the revision it is known at."""
        async with self._reading:
            await self._connected()
            walk = self._walk()
            for _ in range(FOLLOW_ROUNDS):
                if listener.walk_all or listener.synced != self._known.revision:
                    listener.walk_all, listener.synced = False, self._known.revision
                    listener.events.clear()  # what fired until now, the walk reads
                    await asyncio.to_thread(copy.reload, walk)
                elif listener.events:
                    events, listener.events = listener.events, []
                    await asyncio.to_thread(copy.follow, walk, events)
                else:
                    break
                # the watches a change fires all reach us before a read sees it: take them in this
                # record too, so that a change of several nodes at once (a multi) is one revision
                await asyncio.to_thread(self._settle, walk)
            entries, problems = _decoded(copy.values)
            listener.synced = self._record(copy.watched, entries, problems, listener)
        return entries, problems, listener.synced

    def _record(self, watched: PrefixSet, entries: dict[str, str], problems: dict[str, BackendError],
                reader: _Listener | None) -> int:
        """Record a read (``KnownKeys``); when it found news, the other ``changes`` hear of it at once."""
        before = self._known.revision
        revision = self._known.record(watched, entries, problems)
        if revision != before:
            for listener in self._listeners:
                if listener is not reader:
                    listener.wake.set()
        return revision

    async def _connected(self) -> None:
        if self._live.is_set():
            return
        try:
            async with asyncio.timeout(self.options.dial_timeout_s):
                await self._live.wait()
        except TimeoutError:
            raise ClientError(f"zookeeper {self._hosts}: no session (no server answered within "
                              f"{self.options.dial_timeout_s} s)") from None

    def _settle(self, walk: TreeWalk) -> None:
        """Wait until kazoo has run the callbacks of every watch the server fired before now, so
        ``_wake`` is on its way: a round trip brings their notifications in (a round that only
        dropped deleted nodes read nothing), then a marker is queued behind their callbacks (kazoo's
        one callback thread runs them in order)."""
        walk.caught_up()
        done = threading.Event()
        self._client.handler.dispatch_callback(Callback("watch", done.set, ()))
        done.wait(SETTLE_MAX_S)

    # -- kazoo's threads -----------------------------------------------------------------
    def _on_watch(self, event: Any) -> None:
        """A watch fired (kazoo's thread), or a walk found a missing parent there (None).

        A lost connection fires every watch at once: one hand-over to the loop serves them all.
        """
        whole = event is None or event.path is None or event.type == "NONE"
        fired = None if whole else (event.type, event.path)
        with self._pending_lock:
            first = not self._pending
            self._pending.append(fired)
        if first:
            self._call_in_loop(self._wake)

    def _on_state(self, state: str) -> None:
        """kazoo's connection state changed (its connection thread: hand over, never block)."""
        self._call_in_loop(self._state_changed, state == KazooState.CONNECTED)

    def _call_in_loop(self, function: Callable[..., None], *args: object) -> None:
        with contextlib.suppress(RuntimeError):  # the loop is closed: nobody is left to tell
            self._loop.call_soon_threadsafe(function, *args)

    def _state_changed(self, live: bool) -> None:
        if live:
            self._live.set()
        else:
            self._live.clear()
        self._wake()

    def _wake(self) -> None:
        """Hand the fired watches to every ``changes`` iterator, and wake them."""
        with self._pending_lock:
            fired, self._pending = self._pending, []
        for listener in self._listeners:
            listener.heard(fired)


def _decoded(raw: dict[str, bytes]) -> tuple[dict[str, str], dict[str, BackendError]]:
    entries: dict[str, str] = {}
    problems: dict[str, BackendError] = {}
    for key, value in raw.items():
        try:
            entries[key] = value.decode()
        except UnicodeDecodeError:
            problems[key] = UndecodableKey(key.encode(), "value")
    return entries, problems


def _kazoo_client(options: ZookeeperOptions) -> KazooClient:
    """A kazoo client for ``options``, not started (rules 5 and 6)."""
    auth = [("digest", f"{options.username}:{options.password}")] if options.username else None
    tls: dict[str, Any] = {}
    if options.tls:
        tls = {"use_ssl": True, "verify_certs": options.ca_file is not None,
               "ca": str(options.ca_file) if options.ca_file else None,
               "certfile": str(options.cert_file) if options.cert_file else None,
               "keyfile": str(options.key_file) if options.key_file else None}
    retry = {"max_tries": -1, "delay": 0.1, "backoff": 2, "max_delay": RECONNECT_DELAY_MAX_S}
    return KazooClient(hosts=",".join(options.hosts), timeout=SESSION_TIMEOUT_S, auth_data=auth,
                       connection_retry=retry, logger=_quiet_logger(), **tls)


def _quiet_logger() -> logging.Logger:
    """kazoo's logger: its lines about each lost connection go nowhere; the cache reports the trouble."""
    logger = logging.getLogger("confagent.backends.zookeeper.kazoo")
    if not logger.handlers:
        logger.addHandler(logging.NullHandler())
        logger.propagate = False
    return logger


def _stop(client: KazooClient) -> None:
    client.stop()
    client.close()
