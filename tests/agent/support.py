"""Helpers for agent tests: a data directory with keys in it, an agent over it, bounded async runs."""

from __future__ import annotations

import asyncio
import io
import json
from collections.abc import Awaitable, Callable, Iterable, Mapping
from pathlib import Path
from typing import TypeVar

from confagent.agent import Agent, ConfigSource
from confagent.backends import EmbeddedBackend
from confagent.kv import DeleteRangeRequest, PutRequest, RequestOp, TxnRequest
from confagent.render import StaticHost

T = TypeVar("T")
DEADLINE_S = 20.0
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def run(body: Callable[[], Awaitable[T]]) -> T:
    """Run a test body on a fresh event loop, bounded so that a hang fails instead of stalling."""

    async def bounded() -> T:
        return await asyncio.wait_for(body(), 45)

    return asyncio.run(bounded())


async def write(backend: EmbeddedBackend, puts: Mapping[str, str], deletes: Iterable[str] = ()) -> None:
    """One revision putting and deleting keys through the store node."""
    ops: tuple[RequestOp, ...] = (*(PutRequest(k.encode(), v.encode()) for k, v in puts.items()),
                                  *(DeleteRangeRequest(k.encode()) for k in deletes))
    await backend.node.propose(TxnRequest(success=ops))


def seed_store(data_dir: Path, entries: Mapping[str, str]) -> None:
    """Create a store in ``data_dir`` holding ``entries`` (one revision), and stop it."""

    async def body() -> None:
        backend = await EmbeddedBackend.start(data_dir)
        try:
            if entries:
                await write(backend, entries)
        finally:
            await backend.close()

    run(body)


def example_keys(name: str) -> dict[str, str]:
    keys: dict[str, str] = json.loads((EXAMPLES / name / "keys.json").read_text())
    return keys


def make_agent(confdir: Path, data_dir: Path, **overrides: object) -> tuple[Agent, io.StringIO]:
    """An agent over the embedded store in ``data_dir`` with a fixed host; its noop output buffer."""
    out = io.StringIO()
    source = ConfigSource(None, {"confdir": confdir, "store.data_dir": data_dir, **overrides})
    return Agent(source, host=StaticHost(), out=out), out


def write_confdir(root: Path, resources: Mapping[str, str], templates: Mapping[str, str]) -> Path:
    """``root/conf.d/<name>`` and ``root/templates/<name>`` with the texts given."""
    (root / "conf.d").mkdir(parents=True, exist_ok=True)
    for folder, files in (("conf.d", resources), ("templates", templates)):
        for name, text in files.items():
            path = root / folder / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
    return root


def resource_toml(src: str, dest: Path | str, keys: str = '["/"]', extra: str = "") -> str:
    return f'[template]\nsrc = "{src}"\ndest = "{dest}"\nkeys = {keys}\n{extra}\n'
