"""Options every client command shares, and how a command runs: etcdctl's global flags.

Global flags may come before the command or after it (as with etcdctl): they
are declared on the top parser with their defaults and again on each command's
parser with suppressed defaults, so a flag given late overrides one given early.
The client (and httpx), asyncio and the output's formats (orjson and the store's
message types) are imported when a command runs, not when it registers:
``run`` and ``render`` register through this module and use none of them.

``--user NAME[:PASSWORD]`` and ``--password`` sign every command in, as
etcdctl's (``$CONFAGENT_USER`` and ``$CONFAGENT_PASSWORD`` stand for each
flag not given, as etcdctl reads ``$ETCDCTL_USER`` and ``$ETCDCTL_PASSWORD``:
a password need not sit on a command line): ``--password`` makes the whole of ``--user`` the
name; a name without a password is asked for on the terminal
(``Password: ``), and without a terminal the command says what is missing. A user or password left empty
signs nothing in (clientv3's rule). Credentials the server refuses end the
command before it runs, with etcd's words and etcdctl's exit code for a
client it could not create (2).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, TypeAlias

from confagent.cli._settings_flags import flag_type
from confagent.errors import ClientError, ConfigError, StoreError
from confagent.settings import parse_duration

if TYPE_CHECKING:
    from confagent.cli._output import Output
    from confagent.client import ClientConfig, Credentials, EtcdClient

__all__ = [
    "ENDPOINTS_ENV",
    "EXIT_BAD_ARGS",
    "EXIT_BAD_CONNECTION",
    "EXIT_BAD_FEATURE",
    "FORMATS",
    "PASSWORD_ENV",
    "USER_ENV",
    "CommandBody",
    "Subparsers",
    "add_global_options",
    "client_config",
    "duration_s",
    "lease_id_hex",
    "run_client_command",
    "usage_error",
]

ENDPOINTS_ENV = "CONFAGENT_ENDPOINTS"
USER_ENV = "CONFAGENT_USER"
PASSWORD_ENV = "CONFAGENT_PASSWORD"
EXIT_BAD_ARGS = 128
"""etcdctl's exit code for a usage error (a missing or malformed argument it checks itself)."""
EXIT_BAD_CONNECTION = 2
"""etcdctl's exit code when its client could not be made (credentials refused at sign-in)."""
EXIT_BAD_FEATURE = 4
"""etcdctl's exit code for an output format a command has no printer for."""
DEFAULT_ENDPOINTS = "http://127.0.0.1:2379"
FORMATS = ("simple", "json", "table")
"""``--write-out``'s formats, each printed by ``confagent.cli._output.Output``."""

CommandBody: TypeAlias = "Callable[[EtcdClient, Output, argparse.Namespace], Awaitable[int]]"
Subparsers: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"


duration_s = flag_type(parse_duration)
"""A duration flag's seconds: Go's syntax (``2s``, ``500us``, ``1m30s``) or a bare number of seconds, as
``confagent.settings.parse_duration`` reads every duration."""


def lease_id_hex(text: str) -> int:
    """A lease ID as etcdctl prints and reads it: hexadecimal."""
    try:
        return int(text, 16)
    except ValueError:
        raise argparse.ArgumentTypeError(f"bad lease ID arg ({text!r}), expecting ID in Hex") from None


def usage_error(message: str) -> int:
    """A usage error as etcdctl reports one it checks itself: ``Error: <message>``, exit code 128."""
    print(f"Error: {message}", file=sys.stderr)
    return EXIT_BAD_ARGS


def add_global_options(parser: argparse.ArgumentParser, *, suppress: bool) -> None:
    """etcdctl's global flags; ``suppress`` leaves them unset unless given (command parsers)."""

    def default(value: object) -> object:
        return argparse.SUPPRESS if suppress else value

    group = parser.add_argument_group("global options")
    add = group.add_argument
    add("--endpoints", default=default(None),
        help=f"comma-separated endpoints, else ${ENDPOINTS_ENV} (default: {DEFAULT_ENDPOINTS})")
    add("-w", "--write-out", choices=FORMATS, default=default("simple"),
        help="output format: simple, json or table (default: simple)")
    add("--hex", action="store_true", default=default(False),
        help="print keys and values as \\x-escaped hex in the simple format (as etcdctl)")
    add("--dial-timeout", type=duration_s, default=default(2.0), metavar="DURATION",
        help="dial timeout for client connections (default: 2s)")
    add("--command-timeout", type=duration_s, default=default(5.0), metavar="DURATION",
        help="timeout for short running commands, per endpoint (default: 5s)")
    add("--cacert", dest="tls_ca", type=Path, default=default(None),
        help="CA bundle to verify TLS servers")
    add("--cert", dest="tls_cert", type=Path, default=default(None),
        help="client TLS certificate file")
    add("--key", dest="tls_key", type=Path, default=default(None), help="client TLS key file")
    add("--user", default=default(""), metavar="NAME[:PASSWORD]",
        help=f"sign in as this user, else ${USER_ENV} (the password is asked for when not given)")
    add("--password", default=default(""),
        help=f"the password of --user (then --user is the name alone), else ${PASSWORD_ENV}")


def _endpoint_url(text: str) -> str:
    text = text.strip()
    return text if "://" in text else f"http://{text}"


def client_config(args: argparse.Namespace) -> ClientConfig:
    """The client configuration the global flags and the environment describe."""
    from confagent.client import ClientConfig, ClientTls  # noqa: PLC0415 - see the module docstring

    raw = args.endpoints or os.environ.get(ENDPOINTS_ENV) or DEFAULT_ENDPOINTS
    endpoints = tuple(_endpoint_url(e) for e in raw.split(",") if e.strip())
    if not endpoints:
        raise ConfigError("--endpoints: no endpoint given")
    if args.tls_key is not None and args.tls_cert is None:
        raise ConfigError("--key needs --cert")
    tls = None
    if args.tls_ca is not None or args.tls_cert is not None:
        tls = ClientTls(ca_file=args.tls_ca, cert_file=args.tls_cert, key_file=args.tls_key)
    return ClientConfig(endpoints=endpoints, dial_timeout_s=args.dial_timeout,
                        command_timeout_s=args.command_timeout, tls=tls, credentials=_credentials(args))


def _credentials(args: argparse.Namespace) -> Credentials | None:
    """``--user`` and ``--password`` as etcdctl reads them (module docstring)."""
    from confagent.client import Credentials  # noqa: PLC0415 - see the module docstring

    user = args.user or os.environ.get(USER_ENV, "")
    given_password = args.password or os.environ.get(PASSWORD_ENV, "")
    if not user:
        return None
    if given_password:
        return Credentials(user, given_password)
    name, colon, password = user.partition(":")
    if colon:
        return Credentials(name, password)
    if not sys.stdin.isatty():
        raise ConfigError(f"--user {name}: no password given and no terminal to ask for it on "
                          f"(give --user {name}:PASSWORD or --password)")
    import getpass  # noqa: PLC0415 - see the module docstring

    return Credentials(name, getpass.getpass("Password: "))


def run_client_command(body: CommandBody, args: argparse.Namespace) -> int:
    """Run ``body`` with a client built from the global flags; its exit code."""
    import asyncio  # noqa: PLC0415 - see the module docstring

    from confagent.cli._output import Output  # noqa: PLC0415
    from confagent.client import EtcdClient  # noqa: PLC0415

    config = client_config(args)
    output = Output(args.write_out, hex_bytes=args.hex)

    async def main() -> int:
        async with EtcdClient(config) as client:
            try:
                await client.login()
            except (StoreError, ClientError) as error:
                print(f"Error: {error.message if isinstance(error, StoreError) else error}", file=sys.stderr)
                return EXIT_BAD_CONNECTION
            return await body(client, output, args)

    return asyncio.run(main())
