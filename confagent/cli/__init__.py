"""The ``confagent`` command line: argument parsing and printing only.

Every command lives in a module with a ``register(subparsers)`` function that
adds its parser and sets ``handler`` to a callable ``(argparse.Namespace) -> int``
(the exit code). To add a command, write such a module and append its
``register`` to :data:`COMMANDS`. Errors reach :func:`main` as
:class:`~confagent.errors.ConfagentError` and are printed as one line,
``Error: <message>``, on stderr, with exit code 1 (etcdctl's convention);
usage errors exit 2.

Importing this package imports no command's libraries (the server, the
client, Jinja2, structlog): each handler imports what it uses.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

from confagent import __version__
from confagent.cli import (
    _cluster_cmd,
    _kv_cmd,
    _lease_cmd,
    _metad_cmd,
    _register_cmd,
    _run_cmd,
    _snapshot_cmd,
    _status_cmd,
    _store_cmd,
)
from confagent.cli._common import Subparsers, add_global_options
from confagent.errors import ConfagentError

__all__ = ["COMMANDS", "EXIT_ERROR", "build_parser", "main"]

EXIT_ERROR = 1
EXIT_INTERRUPTED = 130

Register = Callable[[Subparsers], None]

COMMANDS: list[Register] = [
    _run_cmd.register,
    _status_cmd.register,
    _store_cmd.register,
    _kv_cmd.register,
    _lease_cmd.register,
    _cluster_cmd.register,
    _snapshot_cmd.register,
    _register_cmd.register,
    _metad_cmd.register,
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="confagent",
        description="Configuration files kept in sync with an etcd-compatible store.")
    parser.add_argument("--version", action="version", version=f"confagent {__version__}")
    add_global_options(parser, suppress=False)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for register in COMMANDS:
        register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; its exit code."""
    args = build_parser().parse_args(argv)
    try:
        code: int = args.handler(args)
    except ConfagentError as error:
        print(f"Error: {error}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    return code
