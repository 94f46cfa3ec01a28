"""The ZooKeeper tree under some prefixes: walking it with confd's key mapping (``TreeWalk``), and a copy
kept current from the nodes whose watches fired (``TreeCopy``). Blocking kazoo calls: run in a worker
thread.

Rules:
1. Key mapping, confd's: a node without children is a key, named by its
   path, whose value is the node's data; a node with children is a
   directory whose own data is left out.
2. A prefix ``/a/b`` names its *roots*: the children of its *parent* ``/a``
   whose names begin with ``b`` (a plain string prefix), and everything
   below them. A walk reads level by level, each level's requests pipelined
   (at most ``PIPELINE_MAX`` in flight), and every read arms a watch: a
   child watch on every node, a data watch on every key, an existence watch
   on a parent that does not exist.
3. ``TreeCopy.follow`` brings the copy up to date from the (type, path) of
   the watches that fired, reading only what they concern: a key's data; a
   node's children (walking those that came, dropping those that went; a
   node whose last child went becomes a key, one that got a child stops
   being one); a parent's roots. Each of those reads arms again the watch
   that fired, so every node of the copy keeps its watches armed, and the
   copy stays the tree's as long as every fired watch reaches ``follow``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

from kazoo.client import KazooClient
from kazoo.exceptions import (
    ConnectionClosedError,
    ConnectionLoss,
    KazooException,
    NoAuthError,
    NoNodeError,
    SessionExpiredError,
)
from kazoo.handlers.threading import KazooTimeoutError

from confagent.backends._prefixes import PrefixSet
from confagent.errors import BackendError, ClientError

__all__ = ["PIPELINE_MAX", "TreeCopy", "TreeWalk", "Watcher", "child_path", "parents_of"]

PIPELINE_MAX = 1000
"""Requests of one walk in flight at once."""

Watcher = Callable[[Any], None]


def child_path(parent: str, name: str) -> str:
    return f"/{name}" if parent == "/" else f"{parent}/{name}"


def parents_of(prefixes: Iterable[str]) -> dict[str, tuple[str, ...]]:
    """Each prefix's parent -> the beginnings of the names of its roots (rule 2)."""
    stems: dict[str, tuple[str, ...]] = {}
    for prefix in prefixes:
        parent, _, stem = prefix.rpartition("/")
        stems[parent or "/"] = (*stems.get(parent or "/", ()), stem)
    return stems


class TreeWalk:
    """Reads of the tree for one session, each arming its watch (rule 2).

    Args:
        client: the started kazoo client.
        watch: called (in kazoo's thread) with each fired watch's event; with None when a missing
            parent appeared during a walk (read everything again).
        timeout_s: how long each answer is waited for.
        hosts, who: the servers and the identity, for errors.
    """

    def __init__(self, client: KazooClient, watch: Watcher, timeout_s: float, hosts: str, who: str) -> None:
        self.client = client
        self.watch = watch
        self.timeout_s = timeout_s
        self.hosts = hosts
        self.who = who

    def read(self, parents: dict[str, tuple[str, ...]]) -> dict[str, bytes]:
        """Every key under the roots of ``parents`` (``parents_of``) with its data.

        Raises:
            ClientError: the session was lost, or a server did not answer in time.
            BackendError: a node's ACL refuses the read (names the user and the node).
        """
        roots: list[str] = []
        for parent, names in self._each(list(parents), self._list):
            roots.extend(self._roots_in(parent, names, parents[parent]))
        return self.subtrees(roots)

    def roots(self, parent: str, stems: Sequence[str]) -> list[str]:
        """The roots under ``parent`` now (none if it is missing: then its creation is watched)."""
        return self._roots_in(parent, self._answer(parent, self._list(parent)), stems)

    def subtrees(self, level: list[str]) -> dict[str, bytes]:
        """Every key at or below the nodes ``level`` with its data."""
        values: dict[str, bytes] = {}
        while level:
            listed = self._each(level, self._list)
            level, leaves = [], []
            for path, children in listed:
                if children:
                    level.extend(child_path(path, name) for name in children)
                elif children is not None:
                    leaves.append(path)
            for path, answer in self._each(leaves, self._get):
                if answer is not None:
                    values[path] = answer[0]
        return values

    def children(self, path: str) -> list[str] | None:
        """``path``'s children's names; None when it is gone."""
        names: list[str] | None = self._answer(path, self._list(path))
        return names

    def data(self, path: str) -> bytes | None:
        """``path``'s data; None when it is gone."""
        answer = self._answer(path, self._get(path))
        return None if answer is None else bytes(answer[0])

    def caught_up(self) -> None:
        """Return once every watch notification the server sent until now has reached the session:
        a round trip (the server sends a session's notifications before its later answers)."""
        self._answer("/", self.client.exists_async("/"))

    def _roots_in(self, parent: str, names: list[str] | None, stems: Sequence[str]) -> list[str]:
        if names is None:
            self._await_creation(parent)
            return []
        return [child_path(parent, name) for name in names if any(name.startswith(s) for s in stems)]

    def _list(self, path: str) -> Any:
        return self.client.get_children_async(path, watch=self.watch)

    def _get(self, path: str) -> Any:
        return self.client.get_async(path, watch=self.watch)

    def _await_creation(self, path: str) -> None:
        """Arm an existence watch on ``path``, which was missing; if it is there by now, say so."""
        if self._answer(path, self.client.exists_async(path, watch=self.watch)) is not None:
            self.watch(None)

    def _each(self, paths: list[str], ask: Callable[[str], Any]) -> list[tuple[str, Any]]:
        """(path, its answer or None when the node is gone) for each path, ``PIPELINE_MAX`` at a time."""
        answers: list[tuple[str, Any]] = []
        for start in range(0, len(paths), PIPELINE_MAX):
            pending = [(path, ask(path)) for path in paths[start:start + PIPELINE_MAX]]
            answers.extend((path, self._answer(path, result)) for path, result in pending)
        return answers

    def _answer(self, path: str, pending: Any) -> Any:
        """The answer of one request about ``path``; None when the node does not exist."""
        try:
            return pending.get(timeout=self.timeout_s)
        except NoNodeError:
            return None  # gone since its parent was listed: the parent's child watch fired
        except NoAuthError:
            raise BackendError(f"zookeeper {self.hosts}: {self.who} may not read {path} "
                               f"(the node's ACL refuses it)") from None
        except KazooTimeoutError:
            raise ClientError(f"zookeeper {self.hosts}: no answer within {self.timeout_s} s "
                              f"reading {path}") from None
        except (ConnectionLoss, ConnectionClosedError, SessionExpiredError) as error:
            raise ClientError(f"zookeeper {self.hosts}: the connection was lost reading {path} "
                              f"({type(error).__name__})") from None
        except KazooException as error:
            raise BackendError(f"zookeeper {self.hosts}: reading {path} failed: "
                               f"{type(error).__name__} {error}".rstrip()) from None


class TreeCopy:
    """The keys under some prefixes as the reads left them (rule 3)."""

    def __init__(self, prefixes: Iterable[str]) -> None:
        self.watched = PrefixSet(prefixes)
        self.parents = parents_of(self.watched.prefixes)
        self.values: dict[str, bytes] = {}

    def reload(self, walk: TreeWalk) -> None:
        """Walk everything again."""
        self.values = walk.read(self.parents)

    def follow(self, walk: TreeWalk, events: Iterable[tuple[str, str]]) -> None:
        """Read again what the fired watches' (type, path) concern (rule 3)."""
        for kind, path in dict.fromkeys(events):
            if path in self.parents:
                self._roots_again(walk, path)
            elif not self.watched.covers(path):
                continue  # a watch armed by a read of other prefixes
            elif kind == "CHANGED":
                self._data_again(walk, path)
            elif kind == "DELETED":
                self._drop(path)
            else:
                self._children_again(walk, path)

    def _roots_again(self, walk: TreeWalk, parent: str) -> None:
        stems = self.parents[parent]
        now = set(walk.roots(parent, stems))
        before = {path for path in self._below(parent)
                  if any(path.rpartition("/")[2].startswith(stem) for stem in stems)}
        for gone in before - now:
            self._drop(gone)
        self.values.update(walk.subtrees(sorted(now - before)))

    def _data_again(self, walk: TreeWalk, path: str) -> None:
        if path not in self.values:
            return  # a directory's data, which no key holds
        data = walk.data(path)
        if data is None:
            self._drop(path)
        else:
            self.values[path] = data

    def _children_again(self, walk: TreeWalk, path: str) -> None:
        children = walk.children(path)
        if children is None:
            self._drop(path)
            return
        before = self._below(path)
        if not children:  # a key now (again)
            for gone in before:
                self._drop(gone)
            data = walk.data(path)
            if data is None:
                self._drop(path)  # gone since it was listed
            else:
                self.values[path] = data
            return
        self.values.pop(path, None)  # a directory now
        now = {child_path(path, name) for name in children}
        for gone in before - now:
            self._drop(gone)
        self.values.update(walk.subtrees(sorted(now - before)))

    def _below(self, path: str) -> set[str]:
        """The children of ``path`` the copy holds keys at or below."""
        start = "/" if path == "/" else path + "/"
        return {start + key[len(start):].partition("/")[0] for key in self.values if key.startswith(start)}

    def _drop(self, path: str) -> None:
        """Forget ``path`` and everything below it (a key has nothing below it: one step)."""
        if self.values.pop(path, None) is not None:
            return
        below = "/" if path == "/" else path + "/"
        for key in [key for key in self.values if key == path or key.startswith(below)]:
            del self.values[key]
