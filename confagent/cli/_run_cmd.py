"""``confagent run`` (the agent) and ``confagent render`` (one pass; ``--check`` for CI).

confd's flags work with two dashes (``--backend etcd --node URL --confdir DIR
--prefix P --onetime --watch --interval N --noop --sync-only --log-level L``),
plus the embedded store's (``--data-dir``, ``--listen-client-urls``) and the
agent's own (``--wait``, ``--log-format``, ``--listen``). A flag given wins
over ``confagent.toml`` (``--config-file``; the default file may be absent).

Exit codes: ``run`` 0 on a clean stop; with ``--onetime`` 0 only if every
resource succeeded, else 1. ``render --check``: 0 when every file is up to
date, 2 when any would change, 1 on any error.
"""

from __future__ import annotations

import argparse
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, TypeVar

import uvloop

from confagent.agent import Agent, ConfigSource, RunReport
from confagent.cli._common import Subparsers
from confagent.cli._logs import configure_logging
from confagent.config import DEFAULT_CONFDIR, LOG_FORMATS, AgentConfig

__all__ = ["DEFAULT_CONFIG_FILE", "EXIT_CHANGES", "EXIT_FAILED", "register"]

DEFAULT_CONFIG_FILE = DEFAULT_CONFDIR / "confagent.toml"
EXIT_FAILED = 1
EXIT_CHANGES = 2
"""``render --check``: some file is not what the templates render."""

T = TypeVar("T")

_OVERRIDES = {
    # argparse dest -> configuration key (confagent.config.CONFIG_KEYS)
    "backend": "backend", "nodes": "nodes", "confdir": "confdir", "prefix": "prefix",
    "onetime": "onetime", "watch": "watch", "interval": "interval", "noop": "noop",
    "sync_only": "sync_only", "wait": "wait", "log_level": "log_level", "log_format": "log_format",
    "client_cert": "client_cert", "client_key": "client_key", "client_cakeys": "client_cakeys",
    "files": "file", "filter": "filter", "data_dir": "store.data_dir",
    "listen_client_urls": "store.listen_client_urls", "listen": "agent.listen",
}


def register(subparsers: Subparsers) -> None:
    run = subparsers.add_parser(
        "run", help="run the agent: keep configuration files in sync with the store",
        description="Render conf.d's template resources and keep them in sync (confd's flags, "
                    "with two dashes; flags win over the configuration file).")
    _add_agent_flags(run)
    run.set_defaults(handler=_run)
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
        help=f"the agent's configuration file (default: {DEFAULT_CONFIG_FILE}, if it exists)")
    add("--backend", help="embedded (default), etcd (or etcdv3), file or env")
    add("--node", dest="nodes", action="append", metavar="URL",
        help="an etcd endpoint; repeat for several (default: http://127.0.0.1:2379)")
    add("--confdir", help=f"the directory holding conf.d/ and templates/ (default: {DEFAULT_CONFDIR})")
    add("--prefix", help="the global key prefix; resource prefixes nest under it")
    add("--client-cert", help="TLS client certificate for the etcd backend")
    add("--client-key", help="TLS client key for the etcd backend")
    add("--client-cakeys", "--client-ca-keys", dest="client_cakeys", help="CA bundle for the etcd backend")
    add("--file", dest="files", action="append", metavar="PATH",
        help="file backend: a YAML/JSON file or directory; repeat for several")
    add("--filter", help="file backend: glob for file names in directories (default: *)")
    add("--data-dir", help="embedded backend: the store's data directory")
    add("--listen-client-urls", metavar="URLS",
        help="embedded backend: also serve the etcd API here (comma-separated URLs)")
    add("--sync-only", action="store_true", default=None, help="write files but run no check or reload")
    add("--log-level", help="debug, info, warning or error (confd's names work too)")
    add("--log-format", choices=LOG_FORMATS, help="auto (console on a terminal), console or json")
    if not modes:
        return
    add("--onetime", action="store_true", default=None, help="render everything once and exit")
    add("--watch", action=argparse.BooleanOptionalAction, default=None,
        help="render on every change (default); --no-watch polls every --interval")
    add("--interval", metavar="SECONDS",
        help="seconds (or a duration like 30s) between full renders (default: 600)")
    add("--noop", action="store_true", default=None, help="print a diff per file; change nothing")
    add("--wait", metavar="MIN:MAX", help="default quiescence window of resources, e.g. 200ms:2s")
    add("--listen", metavar="HOST:PORT", help="serve /health, /metrics and /v1/status here")


def config_source(args: argparse.Namespace) -> ConfigSource:
    """Where the agent's configuration comes from: the file and the flags given."""
    overrides = {key: getattr(args, dest, None) for dest, key in _OVERRIDES.items()}
    if isinstance(overrides["store.listen_client_urls"], str):
        overrides["store.listen_client_urls"] = overrides["store.listen_client_urls"].split(",")
    path = args.config_file or DEFAULT_CONFIG_FILE
    return ConfigSource(path, overrides, missing_ok=args.config_file is None)


def _start(args: argparse.Namespace) -> tuple[Agent, AgentConfig]:
    source = config_source(args)
    config = source.load()
    formats = {"auto": None, "console": False, "json": True}
    configure_logging(config.log.level, json=formats[config.log.format])
    return Agent(source), config


def _run(args: argparse.Namespace) -> int:
    agent, config = _start(args)
    if config.run.onetime:
        report = _run_loop(agent.run_once())
        return 0 if report.ok else EXIT_FAILED
    _run_loop(agent.run())
    return 0


def _render(args: argparse.Namespace) -> int:
    agent, _config = _start(args)
    report: RunReport = _run_loop(agent.check() if args.check else agent.run_once())
    if not report.ok:
        return EXIT_FAILED
    return EXIT_CHANGES if args.check and report.changed else 0


def _run_loop(main: Coroutine[Any, Any, T]) -> T:
    return uvloop.run(main)
