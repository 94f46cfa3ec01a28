"""The fleet view: each agent's summary in the store it reads, and the table of every host's.

Rules:
1. The key space of the store is the user's. The fleet view reserves one
   prefix of it, ``FLEET_PREFIX`` (``/confagent/fleet/``): an agent with
   ``[fleet] publish`` writes its summary at ``/confagent/fleet/<name>``,
   nothing else, and nothing at all without it. With auth on, the agent's
   user needs write access to that prefix (``role grant-permission ROLE
   readwrite /confagent/fleet/ --prefix``); a refusal is logged saying so.
2. A summary is small JSON: the host's name, the newest revision it rendered
   (``StatusBoard.converged_revision``: the summaries' own writes not counted),
   its failing resources (name, the error cut at ``ERROR_CHARS``) and when it
   last changed (Unix seconds). It is written only when it changes (the
   revision or the failing set), under the lease of one ``Session``: the
   session's keep-alives refresh it, a dead agent's key goes when the lease
   expires, and a lost lease is granted again and the summary written anew.
3. Publishing never blocks a pass: the publisher follows the ``StatusBoard``
   in its own task; a write that fails is logged and tried again after the
   agent's backoff (``PUBLISH_RETRY``), with the summary current by then.
4. The publisher also follows every host's summary into the board for the
   status page (``confagent.agent._fleet_watch``). The reader (``fleet_rows``)
   turns the prefix's keys into rows, by name; a host is ``behind`` (did not
   converge) when it rendered an older revision than the newest any host
   rendered and its view's digest differs from that host's (agents that first
   read the same keys at different revisions have converged all the same).
   Hosts reading different keys are compared on revisions alone. Values that
   are not summaries are skipped.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import random
import socket
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import structlog

from confagent.agent._fleet_watch import FleetWatch
from confagent.agent._reload_slots import store_client_config
from confagent.agent._status import FLEET_PREFIX, RESULT_FAILED, StatusBoard
from confagent.backends import Backend, EtcdBackend
from confagent.backoff import Backoff, BackoffPolicy
from confagent.client import EtcdClient, Session, replace_session
from confagent.config import AgentConfig
from confagent.errors import ConfagentError, PermissionDenied
from confagent.tasks import cancel_and_wait

__all__ = ["ERROR_CHARS", "FLEET_PREFIX", "PUBLISH_RETRY", "FleetPublisher", "FleetRow", "Summary",
           "fleet_rows", "summary_of"]

ERROR_CHARS = 200
"""A failing resource's error is cut to this many characters (rule 2)."""
PUBLISH_RETRY = BackoffPolicy(initial_s=0.2, max_s=10.0)
"""The wait after a failed write of the summary: 0.2 s doubling up to 10 s, with jitter (rule 3)."""

Logger = structlog.typing.FilteringBoundLogger


@dataclass(frozen=True, slots=True)
class Summary:
    """One agent's state as the fleet sees it (rule 2); ``at_s`` is left out of comparisons."""

    host: str
    revision: int
    failing: tuple[tuple[str, str], ...]
    """(resource, short error) of each failing resource, by name."""
    view: str = ""
    """The digest of the keys at ``revision`` (``confagent.agent._view_digest``)."""

    def encode(self, at_s: float) -> bytes:
        return json.dumps({"host": self.host, "revision": self.revision, "view": self.view,
                           "failing": [{"resource": name, "error": error} for name, error in self.failing],
                           "at": round(at_s, 3)}, separators=(",", ":")).encode()


def summary_of(board: StatusBoard, host: str) -> Summary:
    """The summary of what ``board`` knows now (rule 2)."""
    failing = tuple((status.resource, (status.error or "")[:ERROR_CHARS])
                    for status in board.resources if status.result == RESULT_FAILED)
    return Summary(host, board.converged_revision, failing, board.converged_digest)


@dataclass(frozen=True, slots=True)
class FleetRow:
    """One host of the fleet view (rule 4)."""

    host: str
    revision: int
    failing: tuple[tuple[str, str], ...]
    at_s: float
    behind: bool

    def as_json(self, now_s: float) -> dict[str, object]:
        return {"host": self.host, "revision": self.revision, "behind": self.behind,
                "failing": [{"resource": name, "error": error} for name, error in self.failing],
                "at": self.at_s, "age_s": round(max(0.0, now_s - self.at_s), 3)}


def fleet_rows(values: Iterable[bytes]) -> tuple[FleetRow, ...]:
    """The rows of the summaries ``values`` (the prefix's values), by host (rule 4)."""
    read = [decoded for decoded in map(_decode, values) if decoded is not None]
    newest = max(read, key=lambda item: item[0].revision, default=None)

    def behind(summary: Summary) -> bool:
        return (newest is not None and summary.revision < newest[0].revision
                and not (summary.view and summary.view == newest[0].view))

    return tuple(sorted((FleetRow(summary.host, summary.revision, summary.failing, at_s, behind(summary))
                         for summary, at_s in read), key=lambda row: row.host))


def _decode(value: bytes) -> tuple[Summary, float] | None:
    try:
        document = json.loads(value)
        failing = tuple((str(item["resource"]), str(item["error"])) for item in document["failing"])
        summary = Summary(str(document["host"]), int(document["revision"]), failing,
                          str(document.get("view", "")))
        return summary, float(document["at"])
    except (ValueError, TypeError, KeyError):
        return None


class FleetPublisher:
    """Writes the agent's summary under ``FLEET_PREFIX`` while the daemon runs (module rules).

    Args:
        client: a client of the store the agent reads; closed with the publisher if ``own_client``.
        host: the agent's name in the fleet.
        ttl_s: the lease of the summary.
    """

    def __init__(self, client: EtcdClient, *, host: str, ttl_s: float, log: Logger,
                 own_client: bool = True, wall_clock: Callable[[], float] = time.time) -> None:
        self._client = client
        self._own_client = own_client
        self._host = host
        self._key = (FLEET_PREFIX + host).encode()
        self._ttl_s = max(1, math.ceil(ttl_s))
        self._log = log
        self._wall_clock = wall_clock
        self._session: Session | None = None
        self._written: Summary | None = None
        self._backoff = Backoff(PUBLISH_RETRY, random.Random())
        self.writes = 0
        """Summaries written since start (rule 2: once per change, not per keep-alive)."""

    @classmethod
    def for_backend(cls, backend: Backend, config: AgentConfig, log: Logger) -> FleetPublisher | None:
        """The publisher of an agent reading ``backend``: over the etcd backend's client or the embedded
        store's client URL (as the reload slots); None for a backend with no store to write to."""
        fleet = config.fleet
        host = fleet.name or socket.gethostname()
        if isinstance(backend, EtcdBackend):
            return cls(backend.client, host=host, ttl_s=fleet.ttl_s, log=log, own_client=False)
        client_config = store_client_config(backend, config)
        if client_config is None:
            return None
        return cls(EtcdClient(client_config), host=host, ttl_s=fleet.ttl_s, log=log)

    async def follow(self, board: StatusBoard) -> None:
        """Publish ``board``'s summary on each change until cancelled (rules 2, 3), and follow every
        host's into ``board.fleet`` for the status page (``FleetWatch``)."""
        wake = board.watch()
        backoff = Backoff(PUBLISH_RETRY, random.Random())
        watch = FleetWatch(self._client, board, log=self._log, backoff=backoff)
        watching = asyncio.create_task(watch.follow(), name="confagent-fleet-watch")
        try:
            while True:
                if await self._publish(summary_of(board, self._host)):
                    await self._until_changed(wake)
                else:
                    await self._retry_wait(wake)
        finally:
            board.unwatch(wake)
            await cancel_and_wait([watching])

    async def _until_changed(self, wake: asyncio.Queue[None]) -> None:
        """Wait for the board to change or the session to be lost (then it is written anew)."""
        session = self._session
        waits: list[asyncio.Future[object]] = [asyncio.ensure_future(wake.get())]
        if session is not None:
            waits.append(asyncio.ensure_future(session.lost.wait()))
        try:
            await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiting in waits:
                waiting.cancel()

    async def _retry_wait(self, wake: asyncio.Queue[None]) -> None:
        """The backoff after a failed write; changes meanwhile are taken up by the next try (rule 3)."""
        await asyncio.sleep(self._backoff.next_delay_s())
        with contextlib.suppress(asyncio.QueueEmpty):
            wake.get_nowait()

    async def _publish(self, summary: Summary) -> bool:
        """Write ``summary`` if it changed or the lease was lost; False when the write failed."""
        session = self._session
        if summary == self._written and session is not None and not session.lost.is_set():
            return True
        try:
            if session is None or session.lost.is_set():
                session = await self._new_session()
            await self._client.put(self._key, summary.encode(self._wall_clock()), lease=session.lease_id)
        except PermissionDenied as error:
            self._log.error("fleet summary refused: the agent's user needs write access to the prefix",
                            prefix=FLEET_PREFIX, key=self._key.decode(), cause=str(error))
            return False
        except ConfagentError as error:
            self._log.warning("fleet summary not written; trying again", key=self._key.decode(),
                              cause=str(error))
            return False
        self._written = summary
        self._backoff.reset()
        self.writes += 1
        return True

    async def _new_session(self) -> Session:
        lost, self._session = self._session, None
        session = self._session = await replace_session(lost, self._client, self._ttl_s)
        self._written = None
        return session

    async def close(self) -> None:
        """Revoke the lease (the summary goes at once) and close the client."""
        session, self._session = self._session, None
        try:
            if session is not None:
                await session.close()
        finally:
            if self._own_client:
                await self._client.aclose()
