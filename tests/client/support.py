"""What the client tests share: a bounded event loop per test body and a client to the store under test."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import TypeVar

from confagent.client import ClientConfig, EtcdClient

__all__ = ["connect", "run"]

T = TypeVar("T")


def run(body: Callable[[], Awaitable[T]]) -> T:
    """Run a test body on a fresh event loop, bounded so a hang fails instead of stalling."""

    async def bounded() -> T:
        return await asyncio.wait_for(body(), 30)

    return asyncio.run(bounded())


@asynccontextmanager
async def connect(*urls: str, dial_timeout_s: float = 1.0,
                  command_timeout_s: float = 3.0) -> AsyncIterator[EtcdClient]:
    async with EtcdClient(ClientConfig(endpoints=urls, dial_timeout_s=dial_timeout_s,
                                       command_timeout_s=command_timeout_s)) as client:
        yield client
