"""``confagent store``: run an embedded store member with etcd's flags, meanings and defaults.

The flags are derived from ``confagent.settings.StoreConfig``, where each is
declared once (the agent's ``[store]`` and ``--store-*`` flags come from the
same declaration). The server (uvicorn) and uvloop are imported when the
command runs, not when it registers.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
from collections.abc import Coroutine
from typing import Any

from confagent.cli._log_level import add_log_level
from confagent.cli._settings_flags import add_setting_flags, settings_from_flags
from confagent.settings import StoreConfig

__all__ = ["register"]


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "store", help="run an etcd-compatible store member",
        description="Run a store member. Flags are etcd's, with etcd's meanings and defaults.")
    add_setting_flags(parser, StoreConfig, StoreConfig())
    add_log_level(parser)
    parser.set_defaults(handler=_run)


def _run(args: argparse.Namespace) -> int:
    from confagent.cli._logs import configure_logging  # noqa: PLC0415 - see the module docstring

    configure_logging(args.log_level)
    config = settings_from_flags(StoreConfig, args)
    config.validate()
    _run_loop(_serve(config))
    return 0


def _run_loop(main: Coroutine[Any, Any, None]) -> None:
    import uvloop  # noqa: PLC0415 - see the module docstring

    uvloop.run(main)


async def _serve(config: StoreConfig) -> None:
    from confagent.server import StoreServer  # noqa: PLC0415 - see the module docstring

    server = StoreServer(config)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await server.start()
    try:
        await server.run_until(stop)
    finally:
        await server.stop()
