"""The ``metad`` backend: a metadata service's data port, so a host renders ``/self/...`` about itself.

As the yunify confd fork's ``-backend metad``: keys are the data port's
paths as the host sees them (``/self/node/ip``, ``/nodes/1/name``), read with
``Accept: application/json`` and flattened; changes come by long-poll.

Rules:
1. A prefix is read as a metad path: the path itself and what is under it
   (``/self`` holds ``/self/node/ip``, not ``/selfish``; the agent's
   prefixes are such paths). Several prefixes are read in ONE request, to
   their deepest common ancestor, so a snapshot is one version.
2. Flattening is the fork's: an object's members become segments, an array
   item with a ``name`` member is indexed by that name (else by position),
   booleans and numbers print as Go prints them, ``null`` is ``"null"``.
   A 404 is no keys (the host is not mapped yet), not an error.
3. The revision is ``X-Metad-Version``: with ``confagent metad`` the store
   revision, equal on every instance over one store.
4. ``changes`` long-polls ``?wait=true&prev_version=<revision>`` (with
   ``timeout=`` for ``confagent metad``; a read timeout past it is just "no
   change" for a metad that ignores it). Every answer newer than the last is
   diffed with it and yielded, even when empty, so the revision advances; a
   version that goes back (a metad restarted with its counter reset) or the
   same version with other data raises ``ResyncNeeded``.
5. ``nodes`` are tried in order from the last one that answered; a node
   that fails is left for the next, and the failure raises ``ClientError``
   (the cache resumes after a backoff, from the state kept here).
"""

from __future__ import annotations

import posixpath
from collections.abc import AsyncGenerator, Sequence
from typing import Any

import httpx

from confagent.backends._base import Change, Snapshot
from confagent.backends._flatten import go_scalar
from confagent.errors import BackendError, ClientError, ConfigError, ResyncNeeded

__all__ = ["POLL_S", "MetadBackend"]

POLL_S = 60.0
"""How long one long-poll asks the service to wait before answering unchanged."""

_Entries = dict[str, str]


class MetadBackend:
    """Keys from a metadata service's data port (module rules).

    Args:
        nodes: data port URLs (``http://10.0.0.2:80``), tried in order (rule 5).
        timeout_s: connect and read timeout of a plain read.
        poll_s: the wait of one long-poll (rule 4).
        local_address: the source address of requests (the service answers ``/self`` for
            it), when the host has several; None lets the system choose.
    """

    name = "metad"
    watches = True

    def __init__(self, nodes: Sequence[str], *, timeout_s: float = 5.0, poll_s: float = POLL_S,
                 local_address: str | None = None) -> None:
        if not nodes:
            raise ConfigError("the metad backend needs a node: its data port, http://HOST:PORT", key="nodes")
        self.nodes = tuple(node.rstrip("/") for node in nodes)
        self.poll_s = poll_s
        self._timeout_s = timeout_s
        transport = httpx.AsyncHTTPTransport(local_address=local_address)
        self._http = httpx.AsyncClient(timeout=httpx.Timeout(timeout_s), trust_env=False, transport=transport,
                                       headers={"Accept": "application/json"})
        self._node = 0
        self._known: dict[tuple[str, ...], tuple[int, _Entries]] = {}
        self._closed = False

    async def snapshot(self, prefixes: Sequence[str]) -> Snapshot:
        """Every key under ``prefixes`` at one version (rule 1).

        Raises:
            ClientError: no node answered.
            BackendError: a node answered with an error status.
        """
        roots = _roots(prefixes)
        version, entries = await self._read(roots, {})
        self._known[roots] = (version, entries)
        return Snapshot(version, entries)

    async def changes(self, prefixes: Sequence[str], after: int) -> AsyncGenerator[Change, None]:
        """The changes under ``prefixes`` after version ``after``, by long-poll (rule 4).

        Raises:
            ResyncNeeded: the data at ``after`` is not known here, or the version went back.
            ClientError, BackendError: as ``snapshot``.
        """
        roots = _roots(prefixes)
        cursor, entries = await self._base(roots, after)
        while not self._closed:
            query = {"wait": "true", "prev_version": str(cursor), "timeout": f"{self.poll_s:g}"}
            try:
                version, fresh = await self._read(roots, query, read_timeout_s=self.poll_s + self._timeout_s)
            except _PollTimedOut:
                continue
            except Exception:
                if self._closed:
                    return  # closing the HTTP client broke the poll
                raise
            if version < cursor or (version == cursor and fresh != entries):
                raise ResyncNeeded(f"metad answered version {version} after {cursor} with other data")
            if version == cursor:
                continue
            change = Change(version, {k: v for k, v in fresh.items() if entries.get(k) != v},
                            frozenset(entries.keys() - fresh.keys()))
            cursor, entries = version, fresh
            self._known[roots] = (cursor, entries)
            yield change

    async def close(self) -> None:
        self._closed = True
        await self._http.aclose()

    async def _base(self, roots: tuple[str, ...], after: int) -> tuple[int, _Entries]:
        """The data at version ``after``: kept from the last read, or read now if still current."""
        known = self._known.get(roots)
        if known is not None and known[0] == after:
            return known
        version, entries = await self._read(roots, {})
        if version != after:
            raise ResyncNeeded(f"the data at metad version {after} is not known (now at {version})")
        self._known[roots] = (version, entries)
        return version, entries

    async def _read(self, roots: tuple[str, ...], query: dict[str, str], *,
                    read_timeout_s: float | None = None) -> tuple[int, _Entries]:
        """GET the common ancestor of ``roots`` from the first node that answers (rule 5)."""
        path = _ancestor(roots)
        failures: list[str] = []
        for _ in self.nodes:
            node = self.nodes[self._node]
            try:
                response = await self._get(node + path, query, read_timeout_s)
            except httpx.ReadTimeout:
                if read_timeout_s is not None:
                    raise _PollTimedOut() from None
                failures.append(f"{node}: no answer within {self._timeout_s:g} s")
            except httpx.HTTPError as error:
                failures.append(f"{node}: {error or type(error).__name__}")
            else:
                return _version(response), _entries_of(response, path, roots)
            self._node = (self._node + 1) % len(self.nodes)
            if read_timeout_s is not None:
                break  # a failed long-poll is reported; the cache resumes on the next node
        raise ClientError(f"no metad node answered {path}: {'; '.join(failures)}")

    async def _get(self, url: str, query: dict[str, str], read_timeout_s: float | None) -> httpx.Response:
        timeout = httpx.Timeout(self._timeout_s, read=read_timeout_s) if read_timeout_s else None
        if timeout is None:
            return await self._http.get(url, params=query)
        return await self._http.get(url, params=query, timeout=timeout)


class _PollTimedOut(Exception):
    """A long-poll's read timed out: no change (a metad that ignores ``timeout=``)."""


def _roots(prefixes: Sequence[str]) -> tuple[str, ...]:
    return tuple(sorted({posixpath.normpath("/" + p.lstrip("/")) for p in prefixes})) or ("/",)


def _ancestor(roots: tuple[str, ...]) -> str:
    """The deepest path holding every root: ``/self/a``, ``/self/b`` -> ``/self``."""
    common = posixpath.commonpath(roots)
    return common if common.startswith("/") else "/"


def _version(response: httpx.Response) -> int:
    text = response.headers.get("X-Metad-Version", "0")
    if not text.isdigit():
        raise BackendError(f"metad sent X-Metad-Version {text!r}, not a version number")
    return int(text)


def _entries_of(response: httpx.Response, path: str, roots: tuple[str, ...]) -> _Entries:
    if response.status_code == 404:
        return {}
    if response.status_code != 200:
        request_id = response.headers.get("X-Metad-Requestid", "?")
        raise BackendError(f"metad answered {path} with {response.status_code} (request {request_id}): "
                           f"{response.text[:200]}")
    try:
        document = response.json()
    except ValueError as error:
        raise BackendError(f"metad answered {path} with something that is not JSON: {error}") from None
    entries: _Entries = {}
    _flatten(entries, "" if path == "/" else path, document)
    return {key: value for key, value in entries.items() if _within(key, roots)}


def _flatten(entries: _Entries, path: str, value: Any) -> None:
    """Rule 2, the fork's flattening."""
    if isinstance(value, dict):
        for name, child in value.items():
            _flatten(entries, f"{path}/{name}", child)
    elif isinstance(value, list):
        for index, child in enumerate(value):
            name = child.get("name") if isinstance(child, dict) else None
            _flatten(entries, f"{path}/{name if isinstance(name, str) and name else index}", child)
    else:
        entries[path or "/"] = "null" if value is None else (go_scalar(value) or str(value))


def _within(key: str, roots: tuple[str, ...]) -> bool:
    return any(root in ("/", key) or key.startswith(root + "/") for root in roots)
