"""``confagent run`` (the agent) and ``confagent render`` (one pass; ``--check`` for CI).

confd's flags work with two dashes (``--backend etcd --node URL --confdir DIR
--prefix P --onetime --watch --interval N --noop --sync-only --log-level L``),
plus the embedded store's: every flag of ``confagent store`` after ``--store-``
(``--store-data-dir``, ``--store-listen-client-urls``, ``--store-name``,
``--store-initial-cluster``, ``--store-peer-cert-file`` ...; ``--data-dir``
and ``--listen-client-urls`` work too; derived from ``StoreConfig``'s
declaration), and the agent's own (``--wait``, ``--log-format``, ``--listen``).
A flag given wins over ``confagent.toml`` (``--config-file``; the default
file may be absent), or over a ``confd.toml`` given there (confd's keys).
confd's ``--srv-domain``, ``--srv-record`` and ``--scheme`` find the backend's
nodes in DNS (``--srv-nameserver`` asks another server than resolv.conf's),
and ``--keep-stage-file`` is confd's too.

Exit codes: ``run`` 0 on a clean stop; with ``--onetime`` 0 only if every
resource succeeded, else 1. ``render --check``: 0 when every file is up to
date, 2 when any would change, 1 on any error.

Registering the commands imports nothing heavy: the agent (and with it
Jinja2, the backend, structlog and uvloop) is imported by the handlers.

Garbage collection: ``confagent.cli.main`` turns automatic collection off
before it builds these commands' parsers, and the handlers before they
import the agent (for a caller of the handlers alone). A one-shot pass
(``run --onetime``, ``render``) runs without it: what it allocates is
bounded by one snapshot and one render per resource, the process exits after
it, and the collections its imports and the decoding of a large snapshot
would trigger cost 20-30 ms of CPU (100 resources over 10,000 keys). The
daemon turns it back on before it serves, and freezes what its first full
pass leaves (``confagent.agent._daemon``, rule 7). A one-shot freezes what
it leaves as it exits (``gc.freeze`` as an exit handler, run once the
threads are joined): the interpreter's last collection runs whether
collection is on or off, and would walk every object of the snapshot, the
templates and the imports to find no cycle worth breaking in a process
about to end (33-53 ms of CPU at 100 resources over 10,000 keys). And the
``confagent`` program then ends at once, once every exit handler has run
(``_process_end``): the modules' teardown would free them one by one (8-18
ms). The freeze still serves ``main`` called in a process of its caller's.

The event loop: the daemon runs on uvloop's; a one-shot pass on asyncio's
own, which its few reads and writes do not tell apart, and which is loaded
already (importing uvloop and making its loop: about 4 ms of the pass).

Logging: a one-shot pass sets structlog up at its first line that passes the
level (``confagent.cli._logs`` rule 4); with the ``embedded`` backend, whose
member logs through structlog's own loggers, before it starts one
(``confagent.agent._one_shot_backend`` rule 7): reading the data directory
itself, it logs only through the pass's logger.
"""

from __future__ import annotations

import argparse
import asyncio
import atexit
import gc
from pathlib import Path
from typing import TYPE_CHECKING

from confagent.backends import BackendConfig
from confagent.cli._common import Subparsers
from confagent.cli._log_level import add_log_level
from confagent.cli._process_end import end_quickly
from confagent.cli._settings_flags import add_setting_flags, given_settings
from confagent.config import (
    CONFIG_SECTIONS,
    DEFAULT_CONFDIR,
    AgentConfig,
    DiscoveryConfig,
    ListenerConfig,
    LogConfig,
    RunConfig,
)
from confagent.settings import FleetConfig, HistoryConfig, StoreConfig

if TYPE_CHECKING:
    from confagent.agent import Agent, ConfigSource

__all__ = ["DEFAULT_CONFIG_FILE", "EXIT_CHANGES", "EXIT_FAILED", "register"]

DEFAULT_CONFIG_FILE = DEFAULT_CONFDIR / "confagent.toml"
EXIT_FAILED = 1
EXIT_CHANGES = 2
"""``render --check``: some file is not what the templates render."""

_RENDER_RUN_FLAGS = ("confdir", "prefix", "sync_only")
"""``render`` takes no mode flags (``--onetime``, ``--watch``, ``--interval``, ``--noop``, ``--wait``,
``--listen``): it renders once."""

_STORE_FLAG_ALIASES = {"data_dir": ("--data-dir",), "listen_client_urls": ("--listen-client-urls",)}
"""The embedded store's flags before they had the ``--store-`` prefix."""


def register(subparsers: Subparsers, only: str | None = None) -> None:
    """Add ``run`` and ``render``, or only the one ``only`` names (``confagent.cli.ALONE``)."""
    if only in (None, "run"):
        _register_run(subparsers)
    if only in (None, "render"):
        _register_render(subparsers)


def _register_run(subparsers: Subparsers) -> None:
    run = subparsers.add_parser(
        "run", help="run the agent: keep configuration files in sync with the store",
        description="Render conf.d's template resources and keep them in sync (confd's flags, "
                    "with two dashes; flags win over the configuration file). SIGTERM or SIGINT "
                    "stops the agent after the batch in flight, within 10 s more; SIGHUP reloads "
                    "the configuration.")
    _add_agent_flags(run)
    run.set_defaults(handler=_run)


def _register_render(subparsers: Subparsers) -> None:
    render = subparsers.add_parser(
        "render", help="render every resource once (--check: only report what would change)",
        description="Render every template resource once. With --check nothing is written: the diffs "
                    "are printed and the exit code is 0 (up to date), 2 (would change) or 1 (error).")
    _add_agent_flags(render, modes=False)
    render.add_argument("--check", action="store_true",
                        help="change nothing; print diffs; exit 2 if any file would change")
    render.set_defaults(handler=_render)


def _add_agent_flags(parser: argparse.ArgumentParser, *, modes: bool = True) -> None:
    add = parser.add_argument
    add("--config-file", type=Path, default=None,
        help=f"the agent's configuration file (default: {DEFAULT_CONFIG_FILE}, if it exists); "
             "a file named confd.toml is read as confd's")
    defaults = AgentConfig()
    add_setting_flags(parser, BackendConfig, defaults.backend)
    add_setting_flags(parser, DiscoveryConfig, defaults.discovery)
    add_setting_flags(parser, RunConfig, defaults.run, only=None if modes else _RENDER_RUN_FLAGS)
    add_setting_flags(parser, StoreConfig, defaults.store, prefix="store-", help_prefix="embedded store: ",
                      aliases=_STORE_FLAG_ALIASES)
    add_log_level(parser, file_decides=True)
    add_setting_flags(parser, LogConfig, defaults.log, only=("format",))
    add_setting_flags(parser, HistoryConfig, defaults.history)  # render --check too: --history-one-shot
    if modes:
        add_setting_flags(parser, ListenerConfig, defaults.listener)
        add_setting_flags(parser, FleetConfig, defaults.fleet)


def config_source(args: argparse.Namespace) -> ConfigSource:
    """Where the agent's configuration comes from: the file and the flags given."""
    from confagent.agent import ConfigSource  # noqa: PLC0415 - see the module docstring

    overrides = {key: value for section, settings, prefix in CONFIG_SECTIONS
                 for key, value in given_settings(args, settings, prefix, section=section).items()}
    path = args.config_file or DEFAULT_CONFIG_FILE
    return ConfigSource(path, overrides, missing_ok=args.config_file is None)


def _start(args: argparse.Namespace, *, render: bool) -> tuple[Agent, AgentConfig]:
    gc.disable()  # see the module docstring
    from confagent.agent import Agent  # noqa: PLC0415 - see the module docstring
    from confagent.cli._logs import configure_logging, deferred_logger  # noqa: PLC0415 - see the module docstring

    source = config_source(args)
    config = source.load()
    formats = {"auto": None, "console": False, "json": True}
    deferred = render or config.run.onetime  # see the module docstring
    configure_logging(config.log.level, json=formats[config.log.format], deferred=deferred)
    return Agent(source, log=deferred_logger("confagent.agent")), config


def _end_as_a_one_shot() -> None:
    """Leave no work to the process's end: see the module docstring."""
    atexit.register(gc.freeze)
    end_quickly()


def _run(args: argparse.Namespace) -> int:
    agent, config = _start(args, render=False)
    if config.run.onetime:
        _end_as_a_one_shot()
        report = asyncio.run(agent.run_once())  # the event loop: see the module docstring
        return 0 if report.ok else EXIT_FAILED
    gc.enable()  # the daemon runs for long (module docstring)
    import uvloop  # noqa: PLC0415 - see the module docstring

    uvloop.run(agent.run())
    return 0


def _render(args: argparse.Namespace) -> int:
    agent, _config = _start(args, render=True)
    _end_as_a_one_shot()
    report = asyncio.run(agent.check() if args.check else agent.run_once())
    if not report.ok:
        return EXIT_FAILED
    return EXIT_CHANGES if args.check and report.changed else 0
