"""The gateway's ``/v3/cluster/member/*`` paths: list, add, remove, update and promote, as etcd 3.4 answers.

Requests and replies follow etcd 3.4.23's gateway (recorded from a real etcd):
IDs are uint64 as strings, a member's empty fields are left out, and replies
carry a header without ``revision``. ``list`` answers from this member's table;
``update`` is proposed here (any member may); ``add``, ``remove`` and
``promote`` are Raft membership changes, which only the leader proposes: a
follower forwards them to the leader's first client URL and relays its answer
(etcd's followers hand them to Raft, and forward promote over HTTP). A leader
asked to remove itself hands leadership over first, then forwards.

``watch_removal`` is how a member learns that it was removed when the news did
not reach it through the log (it was down, or cut off, when its removal
committed): while it hears no leader, it asks the other members (that have a
leader) for their member list; one that lists no such member settles it
(etcd's members answer a removed peer ``410 Gone``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import orjson

from confagent import wire
from confagent.errors import Internal, MemberNotFound, NoLeader, store_error_from
from confagent.raft import Role
from confagent.server._membership import check_peer_urls
from confagent.server._node import StoreNode

__all__ = ["MemberApi", "watch_removal"]

Json = dict[str, Any]
UnaryHandler = Callable[[bytes], Awaitable[Json]]

FORWARD_TIMEOUT_S = 10.0
"""A request forwarded to the leader waits this long for its answer."""
LEADER_POLL_S = 0.05
"""How often a member waiting for a (new) leader looks again."""
REMOVAL_POLL_S = 1.0
"""How often a member that hears no leader asks the others whether it is still a member."""

def _peer_urls(d: Json) -> tuple[str, ...]:
    return check_peer_urls(wire.decode_member_peer_urls(d))


class MemberApi:
    """The cluster service's handlers for one member's gateway."""

    def __init__(self, node: StoreNode, header: Callable[[], Json]) -> None:
        self.node = node
        self._header_with_revision = header

    def handlers(self) -> dict[str, UnaryHandler]:
        return {
            "/v3/cluster/member/list": self.list,
            "/v3/cluster/member/add": self.add,
            "/v3/cluster/member/remove": self.remove,
            "/v3/cluster/member/update": self.update,
            "/v3/cluster/member/promote": self.promote,
        }

    def _header(self) -> Json:
        header = self._header_with_revision()
        header.pop("revision", None)
        return header

    def _member_list_response(self) -> Json:
        """The answer of list, remove, update and promote: every member, as this one knows them."""
        return wire.encode_member_list_response(self.node.members.table.members(), self._header())

    async def list(self, body: bytes) -> Json:
        wire.loads(body)
        return self._member_list_response()

    async def add(self, body: bytes) -> Json:
        d = wire.loads(body)
        peer_urls, is_learner = _peer_urls(d), wire.decode_member_is_learner(d)
        if not self._leading():
            return await self._forward("/v3/cluster/member/add", body)
        member = await self.node.members.add(peer_urls, is_learner=is_learner)
        return wire.encode_member_add_response(member, self.node.members.table.members(), self._header())

    async def remove(self, body: bytes) -> Json:
        member_id = wire.decode_member_id(wire.loads(body))
        if member_id == self.node.config.member_id and self._leading() \
                and len(self.node.core.conf_state.voters) > 1:
            await self._hand_over()
        if not self._leading():
            return await self._forward("/v3/cluster/member/remove", body)
        await self.node.members.remove(member_id)
        return self._member_list_response()

    async def update(self, body: bytes) -> Json:
        d = wire.loads(body)
        member_id = wire.decode_member_id(d)
        if self.node.members.table.get(member_id) is None:
            raise MemberNotFound()  # etcd looks the member up before it reads the URLs
        await self.node.members.update(member_id, _peer_urls(d))
        return self._member_list_response()

    async def promote(self, body: bytes) -> Json:
        member_id = wire.decode_member_id(wire.loads(body))
        if not self._leading():
            return await self._forward("/v3/cluster/member/promote", body)
        await self.node.members.promote(member_id)
        return self._member_list_response()

    # -- to the leader --------------------------------------------------------------------
    def _leading(self) -> bool:
        return self.node.core.role is Role.LEADER

    async def _hand_over(self) -> None:
        """Hand leadership to another voter and wait until someone else leads (bounded)."""
        self.node.members.hand_over()
        try:
            async with asyncio.timeout(self.node.config.request_timeout_s):
                while self.node.leader_id in (0, self.node.config.member_id):
                    await asyncio.sleep(LEADER_POLL_S)
        except TimeoutError:
            raise NoLeader() from None

    async def _leader_client_url(self) -> str:
        """The leader's first client URL, waiting (bounded) for an election or for its publish
        entry to be applied here: a cluster just started may know neither yet.

        Raises:
            NoLeader: none known within the request timeout.
        """
        try:
            async with asyncio.timeout(self.node.config.request_timeout_s):
                while True:
                    leader = self.node.members.table.get(self.node.leader_id)
                    if leader is not None and leader.client_urls:
                        return leader.client_urls[0].rstrip("/")
                    await asyncio.sleep(LEADER_POLL_S)
        except TimeoutError:
            raise NoLeader() from None

    async def _forward(self, path: str, body: bytes) -> Json:
        """The leader's answer to ``body`` at ``path``, with this member's header.

        Raises:
            StoreError: the leader's refusal; NoLeader: no leader with a client URL is known.
        """
        url = await self._leader_client_url() + path
        try:
            async with httpx.AsyncClient(timeout=FORWARD_TIMEOUT_S, trust_env=False) as client:
                response = await client.post(url, content=body)
        except httpx.HTTPError as error:
            raise NoLeader(f"etcdserver: leader unreachable: {error!r}") from error
        try:
            reply = orjson.loads(response.content)
        except orjson.JSONDecodeError:
            raise Internal(f"etcdserver: the leader answered {response.status_code} without JSON") from None
        if response.status_code != 200:
            raise store_error_from(int(reply.get("code", 2)), str(reply.get("message", "")))
        if not isinstance(reply, dict):
            raise Internal(f"etcdserver: the leader answered {reply!r}")
        reply["header"] = self._header()
        return reply


async def watch_removal(node: StoreNode) -> None:
    """Set ``node.members.removed`` once a member with a leader no longer lists this one."""
    async with httpx.AsyncClient(timeout=FORWARD_TIMEOUT_S / 4, trust_env=False) as client:
        while not node.members.removed.is_set():
            await asyncio.sleep(REMOVAL_POLL_S)
            if node.leader_id == 0 and await _listed_nowhere(node, client):
                node.members.removed.set()


async def _listed_nowhere(node: StoreNode, client: httpx.AsyncClient) -> bool:
    me, table = node.config.member_id, node.members.table
    for member in table.members():
        if member.id == me or not member.client_urls:
            continue
        url = member.client_urls[0].rstrip("/")
        try:
            if (await client.get(url + "/health")).status_code != 200:
                continue  # no leader there either: it knows no more than this member
            listed = orjson.loads((await client.post(url + "/v3/cluster/member/list", json={})).content)
            cluster_id = int(listed["header"]["cluster_id"])
            ids = {int(m["ID"]) for m in listed["members"]}
        except (httpx.HTTPError, orjson.JSONDecodeError, KeyError, TypeError, ValueError):
            continue
        if cluster_id == table.cluster_id:
            return me not in ids
    return False
