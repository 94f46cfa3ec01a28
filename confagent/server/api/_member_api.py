"""The gateway's ``/v3/cluster/member/*`` paths: list, add, remove, update and promote, as etcd 3.4 answers.

What each request does is ``Handling``'s, shared with the gRPC front; this
module reads and writes the gateway's JSON. Requests and replies follow
etcd 3.4.23's gateway (recorded from a real etcd):
IDs are uint64 as strings, a member's empty fields are left out, and replies
carry a header without ``revision``. ``list`` and ``update`` answer from this
member's table; ``add``, ``remove`` and ``promote`` answer with the members as
the leader's table has them once the change applied (the node forwards them to
the leader: ``peers._member_calls``), with this member's header.

``watch_removal`` is how a member learns that it was removed when the news did
not reach it through the log (it was down, or cut off, when its removal
committed): while it hears no leader, it asks the other members (that have a
leader) for their member list; one that lists no such member settles it
(etcd's members answer a removed peer ``410 Gone``). It asks over the client
URLs, not the peer transport: the others no longer dial a removed member, so
an answer could not come back that way. Its HTTP client (httpx, whose transport
imports httpcore and, where installed, trio: 0.2-0.3 s of CPU) is made at the
first question: a lone member, or one that hears a leader, never asks one.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import orjson

from confagent import wire
from confagent.server.api._handling import Handling, json_header
from confagent.server.membership import Leadership, Member
from confagent.server.node import StoreNode

if TYPE_CHECKING:
    import httpx

__all__ = ["MemberApi", "watch_removal"]

Json = dict[str, Any]
UnaryHandler = Callable[[bytes], Awaitable[Json]]

REMOVAL_ASK_TIMEOUT_S = 2.5
"""Bounds each question ``watch_removal`` asks of another member."""
REMOVAL_POLL_S = 1.0
"""How long a member that hears no leader waits before asking the others whether it is still a
member, and between two rounds of questions."""


class MemberApi:
    """The cluster service's handlers for one member's gateway."""

    def __init__(self, handling: Handling) -> None:
        self.h = handling

    def handlers(self) -> dict[str, UnaryHandler]:
        return {
            "/v3/cluster/member/list": self.list,
            "/v3/cluster/member/add": self.add,
            "/v3/cluster/member/remove": self.remove,
            "/v3/cluster/member/update": self.update,
            "/v3/cluster/member/promote": self.promote,
        }

    @staticmethod
    def _members(members: tuple[Member, ...], header: wire.ResponseHeader) -> Json:
        """The answer of list, remove, update and promote: every member."""
        return wire.encode_member_list_response(members, json_header(header))

    async def list(self, body: bytes) -> Json:
        wire.loads(body)
        return self._members(*self.h.member_list())

    async def add(self, body: bytes) -> Json:
        d = wire.loads(body)
        peer_urls, is_learner = wire.decode_member_peer_urls(d), wire.decode_member_is_learner(d)
        member, members, header = await self.h.member_add(peer_urls, is_learner)
        return wire.encode_member_add_response(member, members, json_header(header))

    async def remove(self, body: bytes) -> Json:
        return self._members(*await self.h.member_remove(wire.decode_member_id(wire.loads(body))))

    async def update(self, body: bytes) -> Json:
        d = wire.loads(body)
        member_id = wire.decode_member_id(d)
        return self._members(*await self.h.member_update(member_id, lambda: wire.decode_member_peer_urls(d)))

    async def promote(self, body: bytes) -> Json:
        return self._members(*await self.h.member_promote(wire.decode_member_id(wire.loads(body))))


async def watch_removal(node: StoreNode) -> None:
    """Tell ``node`` it was removed (``learn_removed``) once, while it hears no leader, a member
    with a leader no longer lists it; the client asking them is made at the first question (module
    docstring)."""
    client: httpx.AsyncClient | None = None
    try:
        while not node.removed.is_set():
            await node.leadership.wait_until(_leaderless)
            await asyncio.sleep(REMOVAL_POLL_S)  # an election usually ends sooner: ask nobody then
            if not _leaderless(node.leadership) or not _others(node):
                continue
            client = client or _removal_client()
            if await _listed_nowhere(node, client):
                node.learn_removed()
    finally:
        if client is not None:
            await client.aclose()


def _removal_client() -> httpx.AsyncClient:
    import httpx  # noqa: PLC0415 - on the first question only (module docstring)

    return httpx.AsyncClient(timeout=REMOVAL_ASK_TIMEOUT_S, trust_env=False)


def _others(node: StoreNode) -> list[str]:
    """The client URL of each other member that has one."""
    me = node.config.member_id
    return [m.client_urls[0].rstrip("/") for m in node.member_list() if m.id != me and m.client_urls]


def _leaderless(leadership: Leadership) -> bool:
    return leadership.leader_id == 0


async def _listed_nowhere(node: StoreNode, client: httpx.AsyncClient) -> bool:
    import httpx  # noqa: PLC0415 - loaded by _removal_client already

    me = node.config.member_id
    for url in _others(node):
        try:
            if (await client.get(url + "/health")).status_code != 200:
                continue  # no leader there either: it knows no more than this member
            listed = orjson.loads((await client.post(url + "/v3/cluster/member/list", json={})).content)
            cluster_id = int(listed["header"]["cluster_id"])
            ids = {int(m["ID"]) for m in listed["members"]}
        except (httpx.HTTPError, orjson.JSONDecodeError, KeyError, TypeError, ValueError):
            continue
        if cluster_id == node.cluster_id:
            return me not in ids
    return False
