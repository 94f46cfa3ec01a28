"""``confagent status``: each resource of a running agent, from its listener's ``/v1/status``.

The agent must run with ``--listen HOST:PORT`` (or ``[agent] listen``);
``confagent status`` asks ``--listen`` if given, else the ``[agent] listen`` of
``--config-file`` (the agent's default file when it exists), else 127.0.0.1:9271. Prints a table
(resource, dest, revision, result, last success; the error under a failed
resource; a line saying so while the agent renders from its cache, stale),
or the agent's JSON document with ``-w json``. Exit code 0 when
every resource's last pass succeeded, 1 otherwise (unreachable agent too).
httpx is imported when the command runs, not when it registers.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from confagent.cli._common import Subparsers, duration_s
from confagent.cli._output import render_table
from confagent.cli._run_cmd import DEFAULT_CONFIG_FILE
from confagent.errors import ClientError

__all__ = ["DEFAULT_LISTEN", "register", "status_rows"]

DEFAULT_LISTEN = "127.0.0.1:9271"
_HEADER = ("resource", "dest", "revision", "result", "last success")


def register(subparsers: Subparsers) -> None:
    parser = subparsers.add_parser(
        "status", help="show each resource of a running agent: last revision rendered and result",
        description="Ask a running agent (started with --listen) for the state of its resources.")
    parser.add_argument("--listen", metavar="HOST:PORT",
                        help="the agent's listener, its --listen (default: [agent] listen of the "
                             f"config file, else {DEFAULT_LISTEN})")
    parser.add_argument("--config-file", type=Path, default=None,
                        help=f"the agent's configuration file (default: {DEFAULT_CONFIG_FILE}, if it exists)")
    parser.add_argument("-w", "--write-out", choices=("table", "json"), default=argparse.SUPPRESS,
                        help="table or json (default: table)")
    parser.add_argument("--timeout", type=duration_s, default=5.0, metavar="DURATION",
                        help="how long to wait for the agent's answer (default: 5s)")
    parser.set_defaults(handler=_status)


def _listen_address(args: argparse.Namespace) -> str:
    """``--listen``, else the configuration file's ``[agent] listen``, else the default."""
    if args.listen:
        return str(args.listen)
    from confagent.config import load_config  # noqa: PLC0415 - only when no --listen is given

    config = load_config(args.config_file or DEFAULT_CONFIG_FILE, {}, missing_ok=args.config_file is None)
    return config.listener.listen or DEFAULT_LISTEN


def _status(args: argparse.Namespace) -> int:
    document = fetch_status(_listen_address(args), timeout_s=args.timeout)
    if args.write_out == "json":
        print(json.dumps(document, indent=2))
    else:
        print(render_table(_HEADER, status_rows(document["resources"])))
        for resource in document["resources"]:
            if resource.get("error"):
                print(f"{resource['resource']}: {resource['error']}")
        if document.get("stale"):
            print(f"agent stale: rendering from its cache since revision {document['stale_since_revision']}")
        if document.get("reason"):
            print(f"agent not healthy: {document['reason']}")
    return 0 if all(r["result"] == "ok" for r in document["resources"]) else 1


def fetch_status(listen: str, *, timeout_s: float) -> dict[str, Any]:
    """The agent's ``/v1/status`` document.

    Raises:
        ClientError: the agent does not answer, or answers something else than its status.
    """
    import httpx  # noqa: PLC0415 - see the module docstring

    url = f"http://{listen}/v1/status"
    try:
        answer = httpx.get(url, timeout=timeout_s)
        answer.raise_for_status()
        document: dict[str, Any] = answer.json()
    except (httpx.HTTPError, ValueError) as error:
        raise ClientError(f"{url}: no agent status: {error}") from error
    if not isinstance(document.get("resources"), list):
        raise ClientError(f"{url}: not an agent's status document")
    return document


def status_rows(resources: Sequence[Mapping[str, Any]]) -> list[list[str]]:
    """One table row per resource."""
    return [[str(r["resource"]), str(r["dest"]), str(r["revision"]), str(r["result"]),
             _when(r.get("last_success"))] for r in resources]


def _when(unix_s: float | None) -> str:
    if unix_s is None:
        return "never"
    return datetime.fromtimestamp(unix_s, UTC).isoformat(timespec="seconds")
