"""The ``etcd`` backend: a real etcd v3 cluster, or confagent store nodes, over the JSON API.

Snapshot: the ranges of every distinct prefix in one txn (one request, one
revision). More than ``MAX_TXN_OPS`` prefixes take several txns, the later
ones pinned with ``revision=`` to the first one's revision, as confd does.

Changes: ONE watch stream over the key range covering every distinct
prefix, from ``after + 1``; events outside the prefixes are dropped here.
Why not one stream per prefix: merging streams needs each stream's progress
("nothing below R is coming"), and etcd's JSON gateway cannot request
progress on demand, so a quiet stream would hold back every other one. One
stream gives whole revisions in order for free (etcd never splits a
revision's events across watch messages unless ``fragment`` is asked for),
at the cost of carrying the events of unwatched keys that sort between the
prefixes. A broken stream is resumed by the client (``resume=True``) from the
first revision not yet delivered; when that fails too, ``changes`` raises
``ClientError`` and the caller resumes later. A watch canceled for compaction
raises ``Compacted``; canceled for any other reason, ``ResyncNeeded``.

Signed in as a user (``ClientConfig.credentials``), a snapshot refused with
``permission denied`` is asked again prefix by prefix (a count of each), so
that the error names the user and the prefixes it may not read.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Sequence
from contextlib import aclosing

from confagent.backends._base import Change, Snapshot
from confagent.backends._prefixes import PrefixSet
from confagent.backends._store_events import changes_of_events, snapshot_of
from confagent.client import ClientConfig, EtcdClient
from confagent.errors import ClientError, Compacted, PermissionDenied, ResyncNeeded
from confagent.kv import MAX_TXN_OPS, KeyValue, RangeRequest, RangeResponse, TxnRequest, prefix_range

__all__ = ["EtcdBackend"]


class EtcdBackend:
    """Keys from an etcd v3 cluster through ``EtcdClient`` (endpoint failover, TLS client certs).

    Args:
        client: a preconfigured client; closed with the backend.
    """

    name = "etcd"
    watches = True

    def __init__(self, client: EtcdClient) -> None:
        self._client = client
        self._closed = False

    @property
    def client(self) -> EtcdClient:
        """The backend's client, for other calls to the same store (the agent's reload slots);
        the backend closes it."""
        return self._client

    @classmethod
    def connect(cls, config: ClientConfig) -> EtcdBackend:
        """A backend with its own client for ``config`` (endpoints, timeouts, TLS)."""
        return cls(EtcdClient(config))

    async def snapshot(self, prefixes: Sequence[str]) -> Snapshot:
        """Every key under ``prefixes`` at one revision (module docstring).

        Raises:
            StoreError: the store refused (``Compacted`` if it compacted between two txns;
                ``PermissionDenied`` naming the user and the prefixes it may not read).
            ClientError: no endpoint answered.
        """
        ranges = [RangeRequest(*prefix_range(p.encode())) for p in PrefixSet(prefixes).prefixes]
        try:
            return await self._snapshot(ranges)
        except PermissionDenied as error:
            raise await self._denied(ranges, error) from None

    async def _snapshot(self, ranges: Sequence[RangeRequest]) -> Snapshot:
        revision = cluster_id = 0
        kvs: list[KeyValue] = []
        for start in range(0, len(ranges), MAX_TXN_OPS):
            chunk = [RangeRequest(r.key, r.range_end, revision=revision)
                     for r in ranges[start:start + MAX_TXN_OPS]]
            reply = await self._client.txn(TxnRequest(success=tuple(chunk)))
            revision = revision or reply.header.revision
            cluster_id = cluster_id or reply.header.cluster_id
            for response in reply.response.responses:
                if not isinstance(response, RangeResponse):
                    raise ClientError(f"a txn of ranges answered with {type(response).__name__}")
                kvs.extend(response.kvs)
        return snapshot_of(revision, kvs, cluster_id)

    async def _denied(self, ranges: Sequence[RangeRequest], error: PermissionDenied) -> PermissionDenied:
        """``error``, its text naming the user and the prefixes it may not read (each asked alone)."""
        denied: list[str] = []
        for r in ranges:
            try:
                await self._client.range(RangeRequest(r.key, r.range_end, count_only=True))
            except PermissionDenied:
                denied.append(r.key.decode(errors="replace"))
        credentials = self._client.config.credentials
        user = f"user {credentials.user!r}" if credentials is not None else "the user of its certificate"
        return error.with_context(f": {user} may not read {', '.join(denied) or 'these prefixes'}")

    async def changes(self, prefixes: Sequence[str], after: int) -> AsyncGenerator[Change, None]:
        """The changes under ``prefixes`` after ``after``, one per revision (module docstring).

        Raises:
            Compacted: revision ``after + 1`` is compacted.
            ResyncNeeded: the store canceled the watch for another reason.
            ClientError: the store stayed unreachable through the client's resumes.
        """
        watched = PrefixSet(prefixes)
        key, range_end = watched.covering_range()
        covers = (lambda _key: True) if len(watched.prefixes) == 1 else watched.covers
        stream = self._client.watch(key, range_end, start_revision=after + 1, resume=True)
        try:
            async with aclosing(stream) as replies:
                async for reply in replies:
                    response = reply.response
                    if response.canceled:
                        raise _cancel_error(response.compact_revision, response.cancel_reason)
                    for change in changes_of_events(response.events, covers):
                        yield change
        except Exception:
            if self._closed:
                return  # closing the client broke the stream (httpx then refuses to reopen it)
            raise
        raise ClientError("the watch stream ended")

    async def close(self) -> None:
        self._closed = True
        await self._client.aclose()


def _cancel_error(compact_revision: int, reason: str) -> Compacted | ResyncNeeded:
    if compact_revision:
        return Compacted(f"etcdserver: mvcc: required revision has been compacted "
                         f"(compacted at {compact_revision})")
    return ResyncNeeded(f"the store canceled the watch: {reason or 'no reason given'}")
