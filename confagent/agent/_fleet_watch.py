"""``FleetWatch``: every agent's summary under ``/confagent/fleet/``, followed live for the status page.

Rules:
1. An agent that publishes its summary (``[fleet] publish``) also follows the
   prefix with the same client: one read of it, then a watch from the next
   revision (resumed by the client when the stream breaks). Each change
   replaces the board's ``fleet`` (key -> summary) and wakes the board's
   watchers, so an open page shows every host live; with no page open the
   board builds nothing.
2. A watch the store cancels (compaction) or that fails is started again
   with a fresh read after the publisher's backoff; the failure is logged.
"""

from __future__ import annotations

import asyncio
from contextlib import aclosing

import structlog

from confagent.agent._status import FLEET_PREFIX, StatusBoard
from confagent.backoff import Backoff
from confagent.client import EtcdClient
from confagent.errors import ConfagentError

__all__ = ["FleetWatch"]

Logger = structlog.typing.FilteringBoundLogger


class FleetWatch:
    """Follows the fleet's summaries into ``board.fleet`` (module rules)."""

    def __init__(self, client: EtcdClient, board: StatusBoard, *, log: Logger, backoff: Backoff) -> None:
        self._client = client
        self._board = board
        self._log = log
        self._backoff = backoff

    async def follow(self) -> None:
        """Until cancelled (rules 1, 2)."""
        while True:
            try:
                await self._read_and_watch()
            except ConfagentError as error:
                self._log.warning("fleet summaries not followed; trying again", prefix=FLEET_PREFIX,
                                  cause=str(error))
            await asyncio.sleep(self._backoff.next_delay_s())

    async def _read_and_watch(self) -> None:
        prefix = FLEET_PREFIX.encode()
        reply = await self._client.get(prefix, prefix=True)
        summaries = {kv.key: kv.value for kv in reply.response.kvs}
        self._board.fleet_changed(dict(summaries))
        after = reply.header.revision
        stream = self._client.watch(prefix, prefix=True, start_revision=after + 1, resume=True)
        async with aclosing(stream) as replies:
            async for answer in replies:
                if answer.response.canceled:
                    return
                self._backoff.reset()
                for event in answer.response.events:
                    if event.type.name == "DELETE":  # by name: the agent's layer does not import kv
                        summaries.pop(event.kv.key, None)
                    else:
                        summaries[event.kv.key] = event.kv.value
                if answer.response.events:
                    self._board.fleet_changed(dict(summaries))

