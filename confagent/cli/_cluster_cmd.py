"""``confagent endpoint status|health`` and the ``member`` commands (``_member_cmd``): etcdctl's output.

The client (httpx) is imported when a command runs (``run_client_command``), not when it registers.
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from confagent.cli._common import CommandBody, Subparsers, add_global_options, run_client_command
from confagent.cli._etcdctl_json import endpoint_health_json, endpoint_status_json
from confagent.cli._member_cmd import register_member_commands
from confagent.cli._output import Output, go_duration, status_row
from confagent.errors import ClientError, ConfagentError

if TYPE_CHECKING:
    from confagent.client import EtcdClient

__all__ = ["register"]

_STATUS_HEADER = ("endpoint", "ID", "version", "db size", "is leader", "is learner", "raft term",
                  "raft index", "raft applied index", "errors")
_HEALTH_HEADER = ("endpoint", "health", "took", "error")


def register(subparsers: Subparsers) -> None:
    endpoint = subparsers.add_parser("endpoint", help="status and health of each endpoint")
    commands = endpoint.add_subparsers(dest="endpoint_command", required=True, metavar="COMMAND")
    _leaf(commands, "status", "print the status of each endpoint", _status)
    _leaf(commands, "health", "check the health of each endpoint", _health)
    register_member_commands(subparsers)


def _leaf(commands: Subparsers, name: str, help_text: str, body: CommandBody) -> None:
    parser = commands.add_parser(name, help=help_text, description=help_text)
    add_global_options(parser, suppress=True)
    parser.set_defaults(handler=lambda args: run_client_command(body, args))


async def _status(client: EtcdClient, out: Output, args: argparse.Namespace) -> int:
    replies, failed = [], False
    for endpoint in client.endpoints:
        try:
            replies.append((endpoint, await client.status(endpoint)))
        except ConfagentError as error:
            print(f"Failed to get the status of endpoint {endpoint} ({error})", file=sys.stderr)
            failed = True
    if out.format == "json":
        out.json([endpoint_status_json(endpoint, reply) for endpoint, reply in replies])
    else:
        out.rows(_STATUS_HEADER, [status_row(endpoint, reply) for endpoint, reply in replies])
    if failed:
        raise ClientError("failed to get the status of every endpoint")
    return 0


async def _health(client: EtcdClient, out: Output, args: argparse.Namespace) -> int:
    results = []
    for endpoint in client.endpoints:
        try:
            took, error = go_duration(await client.health(endpoint)), ""
        except ConfagentError as failure:
            took, error = "", str(failure)
        results.append((endpoint, took, error))
    if out.format == "json":
        out.json([endpoint_health_json(e, not err, took, err) for e, took, err in results])
    elif out.format == "table":
        out.rows(_HEALTH_HEADER, [[e, "false" if err else "true", took, err]
                                  for e, took, err in results])
    for endpoint, took, error in results:
        if error:
            print(f"{endpoint} is unhealthy: failed to commit proposal: {error}", file=sys.stderr)
        elif out.format == "simple":
            out.line(f"{endpoint} is healthy: successfully committed proposal: took = {took}")
    if any(error for _, _, error in results):
        raise ClientError("unhealthy cluster")
    return 0
