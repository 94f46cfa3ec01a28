"""The ``zookeeper`` backend: a ZooKeeper tree as keys, with confd's key mapping and watches (kazoo).

Rules:
1. Key mapping, confd's: a node without children is a key, named by its
   path, whose value is the node's data ("" when it has none); a node with
   children is a directory whose own data is left out, as confd leaves it
   out, and whose children are walked. A prefix is a plain string prefix
   (``_base`` rule 1): ``/app/db`` reads the children of ``/app`` whose names
   start with ``db``, and everything below them.
2. A read walks the tree level by level, each level's requests pipelined on
   the one session (at most ``PIPELINE_MAX`` in flight), and arms a watch on
   what it reads: a child watch on every node, a data watch on every key,
   and an existence watch on a prefix's parent that does not exist yet.
   ZooKeeper has no read of several nodes at one moment: a walk during which
   a watch fired is walked again (up to ``WALK_ATTEMPTS`` times), and a watch
   that fires after it brings another walk at once.
3. Revisions are a counter of this backend (``KnownKeys``, ``_known.py``):
   +1 for each read that finds other data under its prefixes. Reads run one
   at a time (one session sees the tree in order, so a later read sees it at
   least as new): a revision never brings back older data.
4. ``changes`` walks, yields what differs from what was known, then waits
   until any watch fires (ZooKeeper's watches fire once: each walk arms them
   again, as confd arms GetW and ChildrenW again after each event) and walks
   again.
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
7. kazoo's calls block: walks run in a worker thread (``asyncio.to_thread``).
   Its watch and state callbacks run in its threads and only hand over to
   the event loop (``call_soon_threadsafe``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import AsyncGenerator, Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kazoo.client import KazooClient, KazooState
from kazoo.exceptions import (
    ConnectionClosedError,
    ConnectionLoss,
    KazooException,
    NoAuthError,
    NoNodeError,
    SessionExpiredError,
)
from kazoo.handlers.threading import KazooTimeoutError

from confagent.backends._base import Change, Snapshot
from confagent.backends._known import KnownKeys, restricted
from confagent.backends._prefixes import PrefixSet
from confagent.errors import BackendError, ClientError, UndecodableKey

__all__ = ["ZookeeperBackend", "ZookeeperOptions"]

SESSION_TIMEOUT_S = 10.0
"""The session timeout asked of the server (it bounds it by its own min and max)."""
RECONNECT_DELAY_MAX_S = 1.0
"""The longest wait between two attempts to reach a server (kazoo's connection retry)."""
WALK_ATTEMPTS = 3
"""Walks of one read when watches fire during them (rule 2)."""
PIPELINE_MAX = 1000
"""Requests of one walk in flight at once."""

Watcher = Callable[[Any], None]


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
        self._listeners: set[asyncio.Event] = set()
        self._live = asyncio.Event()
        self._closed = False
        self._fired = 0
        self._fired_lock = threading.Lock()
        self._wake_pending = False
        self._reading = asyncio.Lock()
        self._client = _kazoo_client(options)
        self._client.add_listener(self._on_state)
        self._client.start_async()

    async def snapshot(self, prefixes: Sequence[str]) -> Snapshot:
        """Every key under ``prefixes``, walked now (rules 1 and 2).

        Raises:
            ClientError: no session within ``dial_timeout_s``, or a server stopped answering.
            BackendError: a node's ACL refuses the read (names the user and the node).
        """
        entries, problems, revision = await self._read_and_record(PrefixSet(prefixes), None)
        return Snapshot(revision, entries, tuple(problems.values()))

    async def changes(self, prefixes: Sequence[str], after: int) -> AsyncGenerator[Change, None]:
        """The changes under ``prefixes`` after ``after``, walked again each time a watch fires (rule 4).

        Raises:
            ResyncNeeded: the changes after ``after`` are not kept.
            ClientError: the session was lost, or a server stopped answering (rule 5).
            BackendError: as ``snapshot``.
        """
        watched = PrefixSet(prefixes)
        cursor = after
        noticed = asyncio.Event()
        self._listeners.add(noticed)
        try:
            while not self._closed:
                noticed.clear()
                await self._read_and_record(watched, noticed)
                for change in self._known.since(cursor):
                    cursor = change.revision
                    kept = restricted(change, watched)
                    if kept is not None:
                        yield kept
                await noticed.wait()
                if not self._closed and not self._live.is_set():
                    raise ClientError(f"zookeeper {self._hosts}: the connection was lost")
        finally:
            self._listeners.discard(noticed)

    async def close(self) -> None:
        """Close the session; ``changes`` iterators end."""
        self._closed = True
        self._wake()
        await asyncio.to_thread(_stop, self._client)

    # -- reading -------------------------------------------------------------------------
    @property
    def _hosts(self) -> str:
        return ",".join(self.options.hosts)

    async def _read_and_record(self, watched: PrefixSet, reader: asyncio.Event | None,
                               ) -> tuple[dict[str, str], dict[str, BackendError], int]:
        """Read ``watched`` and record what was read, one read at a time (rule 3): a read that began
        later sees the tree at least as new, so what is recorded never goes back."""
        async with self._reading:
            entries, problems = await self._read(watched)
            return entries, problems, self._record(watched, entries, problems, reader)

    async def _read(self, watched: PrefixSet) -> tuple[dict[str, str], dict[str, BackendError]]:
        """The keys under ``watched`` (decoded, and the undecodable ones' errors), walked (rule 2)."""
        await self._connected()
        raw: dict[str, bytes] = {}
        for _ in range(WALK_ATTEMPTS):
            fired = self._fired
            walk = _TreeWalk(self._client, self._on_watch, self.options, self._hosts)
            raw = await asyncio.to_thread(walk.read, watched.prefixes)
            if self._fired == fired:
                break
        return _decoded(raw)

    def _record(self, watched: PrefixSet, entries: dict[str, str], problems: dict[str, BackendError],
                reader: asyncio.Event | None) -> int:
        """Record a read (``KnownKeys``); when it found news, the other ``changes`` hear of it at once."""
        before = self._known.revision
        revision = self._known.record(watched, entries, problems)
        if revision != before:
            for listener in self._listeners:
                if listener is not reader:
                    listener.set()
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

    # -- kazoo's threads -----------------------------------------------------------------
    def _on_watch(self, _event: object) -> None:
        """Any watch fired (kazoo's thread, or a walk's): every ``changes`` walks again.

        A lost connection fires every watch at once: one hand-over to the loop serves them all.
        """
        with self._fired_lock:
            self._fired += 1
            pending, self._wake_pending = self._wake_pending, True
        if not pending:
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
        with self._fired_lock:
            self._wake_pending = False
        for listener in self._listeners:
            listener.set()


class _TreeWalk:
    """One walk of the tree under some prefixes, in a worker thread (rules 1 and 2)."""

    def __init__(self, client: KazooClient, watch: Watcher, options: ZookeeperOptions, hosts: str) -> None:
        self.client = client
        self.watch = watch
        self.options = options
        self.hosts = hosts

    def read(self, prefixes: Iterable[str]) -> dict[str, bytes]:
        """Every key under ``prefixes`` with its data.

        Raises:
            ClientError, BackendError: as ``ZookeeperBackend.snapshot``.
        """
        values: dict[str, bytes] = {}
        level = self._roots(prefixes)
        while level:
            listed = self._each(level, self._list)
            level, leaves = [], []
            for path, children in listed:
                if children:
                    level.extend(_child(path, name) for name in children)
                elif children is not None:
                    leaves.append(path)
            for path, answer in self._each(leaves, self._get):
                if answer is not None:
                    values[path] = answer[0]
        return values

    def _roots(self, prefixes: Iterable[str]) -> list[str]:
        """The nodes a prefix names whole: its parent's children whose names start with its last part."""
        stems: dict[str, list[str]] = {}
        for prefix in prefixes:
            parent, _, stem = prefix.rpartition("/")
            stems.setdefault(parent or "/", []).append(stem)
        roots: list[str] = []
        for parent, children in self._each(list(stems), self._list):
            if children is None:
                self._await_creation(parent)
                continue
            roots.extend(_child(parent, name) for name in children
                         if any(name.startswith(stem) for stem in stems[parent]))
        return roots

    def _list(self, path: str) -> Any:
        return self.client.get_children_async(path, watch=self.watch)

    def _get(self, path: str) -> Any:
        return self.client.get_async(path, watch=self.watch)

    def _await_creation(self, path: str) -> None:
        """Arm an existence watch on ``path``, which was missing; if it is there by now, walk again."""
        if self._answer(path, self.client.exists_async(path, watch=self.watch)) is not None:
            self.watch(None)

    def _each(self, paths: list[str], ask: Callable[[str], Any]) -> list[tuple[str, Any]]:
        """(path, its answer or None when the node is gone) for each path, ``PIPELINE_MAX`` at a time."""
        answers: list[tuple[str, Any]] = []
        for start in range(0, len(paths), PIPELINE_MAX):
            chunk = paths[start:start + PIPELINE_MAX]
            pending = [(path, ask(path)) for path in chunk]
            answers.extend((path, self._answer(path, result)) for path, result in pending)
        return answers

    def _answer(self, path: str, pending: Any) -> Any:
        """The answer of one request about ``path``; None when the node does not exist (rule 5, 6 errors)."""
        try:
            return pending.get(timeout=self.options.timeout_s)
        except NoNodeError:
            return None  # gone since its parent was listed: the parent's child watch fired
        except NoAuthError:
            raise BackendError(f"zookeeper {self.hosts}: {self.options.who} may not read {path} "
                               f"(the node's ACL refuses it)") from None
        except KazooTimeoutError:
            raise ClientError(f"zookeeper {self.hosts}: no answer within {self.options.timeout_s} s "
                              f"reading {path}") from None
        except (ConnectionLoss, ConnectionClosedError, SessionExpiredError) as error:
            raise ClientError(f"zookeeper {self.hosts}: the connection was lost reading {path} "
                              f"({type(error).__name__})") from None
        except KazooException as error:
            raise BackendError(f"zookeeper {self.hosts}: reading {path} failed: "
                               f"{type(error).__name__} {error}".rstrip()) from None


def _child(parent: str, name: str) -> str:
    return f"/{name}" if parent == "/" else f"{parent}/{name}"


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
