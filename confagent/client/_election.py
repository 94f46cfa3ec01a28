"""An election over etcd's election service: campaign, proclaim, leader, observe, resign.

Usage::

    async with client.election(b"/elections/scheduler", ttl_s=10) as election:
        await election.campaign(b"host-a")      # returns once this candidate leads
        await election.proclaim(b"host-a:8080")
        ...                                      # lead; election.lost is set if the lease is lost
    # leaving resigns (if leading) and closes the session

    async for kv in client.election(b"/elections/scheduler").observe():
        ...  # the leader's key-value, each time it changes (no session needed)

Rules:

1. A candidate campaigns under a session (``_session``) of its own unless one
   is given; a LeaderKey (name, key, create revision, lease) proves its
   leadership to Proclaim and Resign, and its ``rev`` fences the leader's writes
   as a lock's revision does (``Fence``).
2. Leaving resigns a leadership still held, then closes a session of its own.
3. ``leader`` and ``observe`` need no session: they read.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator
from types import TracebackType
from typing import Protocol

import httpx
import orjson

from confagent import wire
from confagent.client._lock import Fence
from confagent.client._session import SESSION_TTL_S, LeaseCalls, Session
from confagent.client._transport import Transport, parse_json
from confagent.errors import ClientError, ConfagentError, ConfigError, ElectionNotLeader, store_error_from
from confagent.kv import KeyValue
from confagent.wire import CampaignRequest, LeaderKey, Reply, ResponseHeader

__all__ = ["Election", "ElectionCalls", "observe_leaders"]

RESIGN_TIMEOUT_S = 2.0


class ElectionCalls(LeaseCalls, Protocol):
    """The calls an election makes (``EtcdClient`` has them)."""

    async def campaign(self, request: CampaignRequest) -> Reply[LeaderKey]: ...
    async def proclaim(self, leader: LeaderKey, value: bytes) -> ResponseHeader: ...
    async def leader(self, name: bytes) -> Reply[KeyValue]: ...
    def observe(self, name: bytes) -> AsyncGenerator[Reply[KeyValue], None]: ...
    async def resign(self, leader: LeaderKey) -> ResponseHeader: ...


class Election:
    """The election ``name`` as one candidate (and observer) sees it (module rules)."""

    def __init__(self, calls: ElectionCalls, name: bytes, *, ttl_s: int = SESSION_TTL_S,
                 session: Session | None = None) -> None:
        if not name:
            raise ConfigError("an election needs a name")
        self.name = name
        self.leader_key: LeaderKey | None = None
        """This candidate's LeaderKey while it leads (rule 1)."""
        self._calls = calls
        self._own_session = session is None
        self.session = session or Session(calls, ttl_s=ttl_s)
        self._entered = False

    @property
    def lost(self) -> asyncio.Event:
        """Set once the session is lost (or closed): a leadership held is gone."""
        return self.session.lost

    @property
    def fence(self) -> Fence:
        """The fence of this candidate's leadership (rule 1)."""
        assert self.leader_key is not None, "not leading"
        return Fence(self.leader_key.key, self.leader_key.rev)

    async def __aenter__(self) -> Election:
        if self._own_session:
            await self.session.start()
        self._entered = True
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None,
                        exc: BaseException | None, tb: TracebackType | None) -> None:
        try:
            with contextlib.suppress(ConfagentError, TimeoutError):
                async with asyncio.timeout(RESIGN_TIMEOUT_S):
                    await self.resign()
        finally:
            if self._own_session:
                await self.session.close()

    async def campaign(self, value: bytes) -> LeaderKey:
        """Campaign with ``value``; this candidate's LeaderKey once it leads.

        Raises:
            ConcurrencyError: refused (an unknown lease, "election: not leader").
        """
        assert self._entered, "campaign inside async with"
        request = CampaignRequest(name=self.name, lease=self.session.lease_id, value=value)
        self.leader_key = (await self._calls.campaign(request)).response
        return self.leader_key

    async def proclaim(self, value: bytes) -> None:
        """The leader's new value.

        Raises:
            ElectionNotLeader: this candidate does not lead (any more), or never campaigned.
        """
        if self.leader_key is None:
            raise ElectionNotLeader()
        await self._calls.proclaim(self.leader_key, value)

    async def resign(self) -> None:
        """Give up leadership, if held; nothing otherwise."""
        leader, self.leader_key = self.leader_key, None
        if leader is not None:
            await self._calls.resign(leader)

    async def leader(self) -> KeyValue:
        """The leader's key-value (rule 3).

        Raises:
            ElectionNoLeader: nobody leads.
        """
        return (await self._calls.leader(self.name)).response

    async def observe(self) -> AsyncGenerator[KeyValue, None]:
        """The leader's key-value now (or once someone campaigns), then each change (rule 3)."""
        async with contextlib.aclosing(self._calls.observe(self.name)) as replies:
            async for reply in replies:
                yield reply.response


async def observe_leaders(transport: Transport, name: bytes,
                          dial_timeout_s: float) -> AsyncGenerator[Reply[KeyValue], None]:
    """The messages of one ``/v3/election/observe`` stream, on the first endpoint that answers.

    Raises:
        StoreError: the server refused, or ended the stream with an error.
        ClientError: no endpoint answered, or the stream broke or ended.
    """
    body = orjson.dumps(wire.encode_leader_request(name))
    endpoint, response = await transport.post("/v3/election/observe", body, retry_safe=True, stream=True,
                                              timeout=httpx.Timeout(None, connect=dial_timeout_s))
    try:
        async for line in response.aiter_lines():
            if line.strip():
                yield _leader_message(parse_json(line.encode(), endpoint), endpoint)
    except httpx.TransportError as error:
        raise ClientError(f"{endpoint}: the observe stream broke: {error!r}") from error
    finally:
        await response.aclose()
    raise ClientError(f"{endpoint}: the observe stream ended")


def _leader_message(d: dict[str, object], endpoint: str) -> Reply[KeyValue]:
    error = d.get("error")
    if isinstance(error, dict):
        raise store_error_from(int(error.get("grpc_code", 2)), str(error.get("message", "")))
    result = d.get("result")
    if not isinstance(result, dict):
        raise ClientError(f"{endpoint}: a malformed observe message: {d!r:.200}")
    return wire.decode_leader_response(result)
