"""The redis backend's connections: nodes tried in order, the password, TLS, and how changes are noticed.

Rules:
1. ``nodes`` are tried in order, from the first, each time a connection is
   needed (confd's order); a connection that works is kept until it fails,
   and the subscription to notifications goes to its node first.
   When none answers, the error names every node and why: ``ClientError``
   when none could be reached, ``BackendError`` when one refused the password
   (or wanted one), naming the node.
2. Changes are noticed by keyspace notifications where the server sends
   them: ``notify-keyspace-events`` must hold ``K`` and the classes of
   strings, hashes, generic commands and expiry (``$hgx``, or ``A``). When it
   does not, the link tries ``CONFIG SET`` to add them; when the server
   refuses (``CONFIG`` renamed away, an ACL), changes are noticed by reading
   again every ``poll_interval_s``, and by the notifications the server may
   send all the same (its own configuration, unread). With notifications,
   a read every ``notified_read_s`` all the same notices a connection cut
   off without a word. Which one is logged, once per change of mode (a
   restarted server forgets a ``CONFIG SET``: it is tried again).
3. Every failure of redis-py is mapped here (``_mapped``): a connection or
   timeout problem is ``ClientError``, a refused password ``BackendError``
   naming the node, any other error reply ``BackendError``.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import redis.asyncio as aioredis
import redis.exceptions as rexc
import structlog
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from confagent.backends._redis_keys import RedisNode
from confagent.errors import BackendError, ClientError, ConfagentError

__all__ = ["NOTIFIED_READ_S", "NOTIFY_CLASSES", "RedisLink", "RedisOptions"]

T = TypeVar("T")
NOTIFIED_READ_S = 30.0
"""With notifications, the longest time between two reads: a subscription cut off without a word (a
network cut) is noticed by the next read failing."""
NOTIFY_CLASSES = "g$hx"
"""The notification classes a change of a string or hash makes: generic (del, rename, expire),
strings, hashes, expired keys (``A`` holds them all)."""


@dataclass(frozen=True, slots=True)
class RedisOptions:
    """How to reach the nodes.

    Attributes:
        username: an ACL user (redis 6), or "" for the default user.
        password: "" for none.
        ca_file, cert_file, key_file: TLS for ``rediss://`` nodes (a client certificate when the
            server asks for one).
        timeout_s: connect and command timeout.
        poll_interval_s: how often changes are read when the server sends no notifications.
        notified_read_s: how often they are read all the same when it does (rule 2).
    """

    username: str = ""
    password: str = ""
    ca_file: Path | None = None
    cert_file: Path | None = None
    key_file: Path | None = None
    timeout_s: float = 5.0
    poll_interval_s: float = 2.0
    notified_read_s: float = NOTIFIED_READ_S


class RedisLink:
    """Connections to the first redis node that answers (module rules)."""

    def __init__(self, nodes: Sequence[RedisNode], options: RedisOptions,
                 log: structlog.typing.FilteringBoundLogger | None = None) -> None:
        assert nodes, "at least one node"
        self.nodes = tuple(nodes)
        self.options = options
        self.log = log or structlog.get_logger("confagent.backends.redis")
        self._client: aioredis.Redis | None = None
        self._node: RedisNode | None = None
        self.notifying: bool | None = None
        """Whether changes come by notification (rule 2); None before the first watch."""

    @property
    def node(self) -> RedisNode | None:
        """The node of the kept connection."""
        return self._node

    async def call(self, request: Callable[[aioredis.Redis], Awaitable[T]]) -> T:
        """``request`` on the kept connection (a new one when there is none), errors mapped (rule 3)."""
        client, node = await self._kept()
        try:
            return await _mapping(node, request(client))
        except ClientError:
            await self._drop()
            raise

    async def _kept(self) -> tuple[aioredis.Redis, RedisNode]:
        """The kept client and its node, connected first when there is none (rule 1)."""
        if self._client is None or self._node is None:
            self._client, self._node = await self._connect()
        return self._client, self._node

    async def changes_noticed(self, patterns: Sequence[str], closed: asyncio.Event
                              ) -> AsyncGenerator[None, None]:
        """One item per burst of notifications on keys matching ``patterns``, or per poll interval
        (rule 2); the first at once, once subscribed. Ends when ``closed`` is set.

        The subscription is made on the node the reads go to (``call``'s) while it answers, with a
        client of its own.

        Raises:
            ClientError: the subscription's server went away.
        """
        client, node = await self._connect(first=self._node)
        subscription = client.pubsub()
        pubsub: aioredis.client.PubSub | None = subscription
        try:
            why = await self._notifications(client, node)
            try:
                await self._subscribe(subscription, node, patterns)
            except BackendError as error:  # channels refused by an ACL
                why, pubsub = why or str(error), None
            self._say_how(node, why)
            wait_s = self.options.poll_interval_s if why else self.options.notified_read_s
            yield
            while await _burst_unless(pubsub, node, closed, wait_s):
                yield
        finally:
            await subscription.aclose()
            await client.aclose()

    async def _subscribe(self, pubsub: aioredis.client.PubSub, node: RedisNode,
                         patterns: Sequence[str]) -> None:
        """Subscribe to the keyspace notifications of keys matching ``patterns``, and wait until the
        server confirms it: a read made after it cannot miss a write that is not notified.

        Raises:
            BackendError: the server refused (an ACL without the channels).
            ClientError: no confirmation within the timeout.
        """
        await _mapping(node, pubsub.psubscribe(*[node.keyspace_channel + p for p in patterns]))
        unconfirmed = len(patterns)
        try:
            async with asyncio.timeout(self.options.timeout_s):
                while unconfirmed:
                    message = await _mapping(node, pubsub.get_message(timeout=None))
                    if message is not None and message.get("type") == "psubscribe":
                        unconfirmed -= 1
        except TimeoutError:
            raise ClientError(f"redis node {node.text}: no answer to PSUBSCRIBE within "
                              f"{self.options.timeout_s:g} s") from None

    async def _notifications(self, client: aioredis.Redis, node: RedisNode) -> str:
        """Why ``node`` may not send the needed notifications after trying to turn them on, or "" when
        it does (rule 2)."""
        try:
            flags = str((await _mapping(node, client.config_get("notify-keyspace-events"))).get(
                "notify-keyspace-events") or "")
            if not _notifies(flags):
                await _mapping(node, client.config_set("notify-keyspace-events", _wanted(flags)))
                self.log.info("redis keyspace notifications turned on", node=node.text, flags=_wanted(flags))
        except BackendError as error:
            return str(error)  # CONFIG renamed away or refused by an ACL: poll
        return ""

    def _say_how(self, node: RedisNode, why: str) -> None:
        """Log how changes are noticed when that changed (rule 2)."""
        notifying = not why
        if notifying != self.notifying:
            if notifying:
                self.log.info("redis changes come by keyspace notifications", node=node.text)
            else:
                self.log.warning("redis changes are polled: keyspace notifications cannot be turned on",
                                 node=node.text, poll_interval_s=self.options.poll_interval_s, cause=why)
        self.notifying = notifying

    async def _connect(self, first: RedisNode | None = None) -> tuple[aioredis.Redis, RedisNode]:
        """A connection to the first node that answers a PING, ``first`` tried first (rule 1)."""
        failures: list[str] = []
        refused: list[str] = []
        for node in sorted(self.nodes, key=lambda node: node != first):
            client = self._client_for(node)
            try:
                await _mapping(node, client.ping())
            except BackendError as error:
                refused.append(str(error))
            except ClientError as error:
                failures.append(str(error))
            else:
                return client, node
            await client.aclose()
        if refused:
            raise BackendError("; ".join(refused + failures))
        raise ClientError(f"no redis node answered: {'; '.join(failures)}")

    def _client_for(self, node: RedisNode) -> aioredis.Redis:
        options = self.options
        common: dict[str, Any] = {
            "db": node.db, "username": options.username or None, "password": options.password or None,
            "socket_timeout": options.timeout_s, "socket_connect_timeout": options.timeout_s,
            "retry": Retry(NoBackoff(), 0), "retry_on_error": [], "protocol": 2,
        }
        if node.socket_path is not None:
            return aioredis.Redis(unix_socket_path=node.socket_path, **common)
        tls: dict[str, Any] = {}
        if node.tls:
            tls = {"ssl": True, "ssl_ca_certs": _text(options.ca_file),
                   "ssl_certfile": _text(options.cert_file), "ssl_keyfile": _text(options.key_file)}
        return aioredis.Redis(host=node.host, port=node.port, **common, **tls)

    async def _drop(self) -> None:
        client, self._client, self._node = self._client, None, None
        if client is not None:
            with contextlib.suppress(rexc.RedisError, OSError):  # a connection that already broke
                await client.aclose()

    async def close(self) -> None:
        await self._drop()


def _text(path: Path | None) -> str | None:
    return None if path is None else str(path)


def _notifies(flags: str) -> bool:
    classes = flags.replace("A", "g$lshzxetd")
    return "K" in flags and all(c in classes for c in NOTIFY_CLASSES)


def _wanted(flags: str) -> str:
    """``flags`` with ``K`` and the needed classes added."""
    return flags + "".join(c for c in "K" + NOTIFY_CLASSES if c not in flags.replace("A", "g$lshzxetd"))


async def _mapping(node: RedisNode, call: Awaitable[T]) -> T:
    """``await call``, redis-py's errors mapped (rule 3)."""
    try:
        return await call
    except rexc.RedisError as error:
        raise _mapped(error, node) from None
    except OSError as error:
        raise ClientError(f"redis node {node.text}: {_reason(error)}") from None


def _mapped(error: rexc.RedisError, node: RedisNode) -> ConfagentError:
    """redis-py's ``error`` at ``node`` as one of ours (rule 3)."""
    if _is_auth(error):
        return BackendError(f"redis node {node.text} refused the password: {_reason(error)}")
    if isinstance(error, rexc.ConnectionError | rexc.TimeoutError):
        return ClientError(f"redis node {node.text}: {_reason(error)}")
    return BackendError(f"redis node {node.text}: {_reason(error)}")


def _is_auth(error: Exception) -> bool:
    text = str(error)
    return isinstance(error, rexc.AuthenticationError | rexc.AuthenticationWrongNumberOfArgsError) or \
        text.startswith(("WRONGPASS", "NOAUTH", "invalid password", "Authentication required"))


def _reason(error: Exception) -> str:
    return str(error) or type(error).__name__


async def _burst_unless(pubsub: aioredis.client.PubSub | None, node: RedisNode, closed: asyncio.Event,
                        wait_s: float | None) -> bool:
    """Wait for a keyspace notification (taking the ones already there with it) or ``wait_s``, whichever
    comes first; False when ``closed`` is set first.

    Raises:
        ClientError: the subscription broke (the server went away).
    """
    stop = asyncio.ensure_future(closed.wait())
    message: asyncio.Future[Any] | None = None
    try:
        while True:
            waited = {stop}
            if pubsub is not None:
                message = asyncio.ensure_future(_mapping(node, pubsub.get_message(timeout=None)))
                waited.add(message)
            done, _ = await asyncio.wait(waited, timeout=wait_s, return_when=asyncio.FIRST_COMPLETED)
            if stop in done:
                return False
            if message is None or message not in done:
                return True  # the poll interval passed
            if message.result() is None or message.result().get("type") != "pmessage":
                continue
            assert pubsub is not None
            while await _mapping(node, pubsub.get_message(timeout=0.0)) is not None:
                pass  # the rest of the burst: one read covers them
            return True
    finally:
        pending = [task for task in (stop, message) if task is not None and not task.done()]
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
