"""The ``confagent`` command line: argument parsing and printing only.

Every command lives in a module with a ``register(subparsers)`` function that
adds its parser and sets ``handler`` to a callable ``(argparse.Namespace) -> int``
(the exit code). To add a command, write such a module and append its name
to :data:`COMMANDS`. A command line that starts with ``run`` or ``render``
(:data:`ALONE`) builds only that command's parser (its module's ``register``
takes ``only``): a one-shot render does not import every other command's
modules (about 60 ms of its start-up), nor build the other command's 80 flags
(2 ms); any other command line builds them all, so help and usage errors list
every command.
Such a command line also turns automatic garbage collection off before its
parsers are built (their imports are a third of a one-shot's start-up): see
``_run_cmd``'s docstring; the daemon turns it on again.

Errors reach :func:`main` as :class:`~confagent.errors.ConfagentError` and
are printed as one line, ``Error: <message>``, on stderr, with exit code 1
(etcdctl's convention); usage errors exit 2.

A command whose reader has gone (``confagent get --prefix / | head -1``) stops
at its next write, quietly, with exit code 141: the status a shell reports for
etcdctl and coreutils there (they die of SIGPIPE, 128 + 13), so ``set -o
pipefail`` scripts see what they see with etcdctl. Exiting by the signal itself
would say the same to a shell but skip the ``finally`` blocks and exit
handlers (connections closed, a registration's lease revoked), and 0 would
claim that all the output was delivered. SIGPIPE itself stays ignored
(Python's default): the servers' sockets must get EPIPE, not the signal.

The command line is read as etcdctl's (cobra's) is, where it differs from
argparse: a switch may be written ``--prefix=true`` (or ``=false``, and Go's
other spellings of a boolean), and the arguments of a command that takes
etcdctl's (``user``, ``role``: ``intermixed`` in its defaults) may come
before, between and after its flags (``role grant-permission app --prefix
readwrite /app/``).

The ``confagent`` program (``python -m confagent``, the ``confagent`` script)
is :func:`run_program`: ``main`` on the process's command line, then the
process's end, at once after a one-shot (``_process_end``).

Importing this package imports no command's libraries (the server, the
client, Jinja2, structlog): each handler imports what it uses.
"""

from __future__ import annotations

import argparse
import gc
import importlib
import os
import shutil
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from functools import cache
from typing import TYPE_CHECKING, NoReturn, cast

from confagent import __version__
from confagent.cli._common import add_global_options
from confagent.cli._process_end import end_process
from confagent.errors import ConfagentError

if TYPE_CHECKING:
    from _typeshed import SupportsWrite

__all__ = ["ALONE", "COMMANDS", "EXIT_BROKEN_PIPE", "EXIT_ERROR", "build_parser", "main", "run_program"]

EXIT_ERROR = 1
EXIT_INTERRUPTED = 130
EXIT_BROKEN_PIPE = 141
"""The reader of stdout has gone: 128 + SIGPIPE, what a shell reports for etcdctl."""

COMMANDS: tuple[str, ...] = (
    "_run_cmd", "_status_cmd", "_history_cmd", "_store_cmd", "_kv_cmd", "_lease_cmd", "_lock_cmd",
    "_cluster_cmd", "_maintenance_cmd", "_user_cmd", "_role_cmd", "_snapshot_cmd", "_register_cmd",
    "_metad_cmd", "_convert_cmd",
)
"""The modules of ``confagent.cli`` that register commands, in the order help lists them."""

ALONE = {"run": "_run_cmd", "render": "_run_cmd"}
"""A command line starting with one of these builds only its own parser, from this module (module doc)."""


class _Parser(argparse.ArgumentParser):
    """argparse's parser, its help written as any output (argparse drops a write error), its help
    formatters made for the terminal's width asked once (``_help_width``)."""

    def print_help(self, file: SupportsWrite[str] | None = None) -> None:
        (file or sys.stdout).write(self.format_help())

    def _get_formatter(self) -> argparse.HelpFormatter:
        formatter_class = cast("type[argparse.HelpFormatter]", self.formatter_class)  # all take width
        return formatter_class(prog=self.prog, width=_help_width())


@cache
def _help_width() -> int:
    """The width argparse's help is formatted to, as it computes it (the terminal's columns less 2), asked
    once per process: argparse makes a help formatter for each argument added, only to check its
    metavar, and each asked the terminal again (58 times for ``render``'s parser, half of its 4 ms)."""
    return shutil.get_terminal_size().columns - 2


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The parser of every command, or only of ``command`` when it is one of ``ALONE``."""
    parser: argparse.ArgumentParser = _Parser(
        prog="confagent",
        description="Configuration files kept in sync with an etcd-compatible store.")
    parser.add_argument("--version", action="version", version=f"confagent {__version__}")
    add_global_options(parser, suppress=False)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    alone = ALONE.get(command or "")
    if alone is not None:
        importlib.import_module(f"{__name__}.{alone}").register(commands, only=command)
        return parser
    for name in COMMANDS:
        importlib.import_module(f"{__name__}.{name}").register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; its exit code (EXIT_BROKEN_PIPE when stdout's reader has gone)."""
    try:
        with _flushed_stdout():
            return _run(argv)
    except BrokenPipeError:
        _discard_stdout()
        return EXIT_BROKEN_PIPE


def run_program() -> NoReturn:
    """The ``confagent`` program: :func:`main` on ``sys.argv``, then the process's end (``_process_end``)."""
    end_process(main())


@contextmanager
def _flushed_stdout() -> Iterator[None]:
    """Flush stdout on the way out, so that a reader gone shows here (after help too)."""
    try:
        yield
    finally:
        sys.stdout.flush()


def _discard_stdout() -> None:
    """Point stdout at /dev/null: what is still buffered goes there at exit, not to a traceback."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, sys.stdout.fileno())
    finally:
        os.close(devnull)


_GO_BOOLEANS = {"1": True, "t": True, "true": True, "0": False, "f": False, "false": False}
"""Go's strconv.ParseBool, lower-cased."""


def _parse(argv: Sequence[str] | None) -> argparse.Namespace:
    """The command line, read as the module docstring says."""
    given = list(sys.argv[1:] if argv is None else argv)
    if given and given[0] in ALONE:
        gc.disable()  # see the module docstring
    parser = build_parser(given[0] if given else None)
    args, extras = parser.parse_known_args(_go_switches(given, _switches(_command_parser(parser, given))))
    if extras and (not getattr(args, "intermixed", False) or any(e.startswith("-") for e in extras)):
        parser.error(f"unrecognized arguments: {' '.join(extras)}")
    if extras:
        args.args = [*args.args, *extras]
    return args


def _command_parser(parser: argparse.ArgumentParser, argv: list[str]) -> argparse.ArgumentParser:
    """The parser of the command ``argv`` names (``role grant-permission``'s), else ``parser``."""
    for token in argv:
        commands = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
        if not commands:
            break
        parser = commands[0].choices.get(token, parser)
    return parser


def _switches(parser: argparse.ArgumentParser) -> set[str]:
    """The ``--`` spellings of the plain switches (``store_true``) of one command's ``parser``."""
    return {option for action in parser._actions if isinstance(action, argparse._StoreTrueAction)
            for option in action.option_strings if option.startswith("--")}


def _go_switches(argv: list[str], switches: set[str]) -> list[str]:
    """``argv`` with ``--switch=true`` as ``--switch`` and ``--switch=false`` left out (up to ``--``)."""
    out: list[str] = []
    for index, token in enumerate(argv):
        if token == "--":
            return out + argv[index:]
        name, equals, value = token.partition("=")
        if equals and name in switches and value.lower() in _GO_BOOLEANS:
            out.extend([name] if _GO_BOOLEANS[value.lower()] else [])
        else:
            out.append(token)
    return out


def _run(argv: Sequence[str] | None) -> int:
    args = _parse(argv)
    try:
        code: int = args.handler(args)
    except ConfagentError as error:
        print(f"Error: {error}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    return code
