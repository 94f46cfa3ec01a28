"""``confagent status``: each resource of a running agent, from its listener's ``/v1/status``.

The agent must run with ``--listen HOST:PORT`` (or ``[agent] listen``);
``confagent status`` asks ``--listen`` if given, else the ``[agent] listen`` of
``--config-file`` (the agent's default file when it exists), else 127.0.0.1:9271. Prints a table
(resource, dest, revision, result, last success; the error under a failed
resource; a line saying so while the agent renders from its cache, stale),
or the agent's JSON document with ``-w json``. Exit code 0 when
every resource's last pass succeeded, 1 otherwise (unreachable agent too).
httpx is imported when the command runs, not when it registers.

``confagent status --fleet`` reads the fleet view instead: the summaries the
agents with ``[fleet] publish`` keep under ``/confagent/fleet/`` in the store
(``--endpoints``, else $CONFAGENT_ENDPOINTS, else 127.0.0.1:2379; a user from
$CONFAGENT_USER and $CONFAGENT_PASSWORD), one line per host: its last revision rendered, whether it
reached the newest revision any host rendered, its failing resources and the
age of its summary. Exit code 0 when every host converged and none fails.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from confagent.cli._common import Subparsers, client_config, duration_s
from confagent.cli._output import render_table
from confagent.cli._run_cmd import DEFAULT_CONFIG_FILE
from confagent.errors import ClientError

__all__ = ["DEFAULT_LISTEN", "register", "status_rows"]

DEFAULT_LISTEN = "127.0.0.1:9271"
_HEADER = ("resource", "dest", "revision", "result", "last success")
_FLEET_HEADER = ("host", "revision", "converged", "failing", "age")


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
    parser.add_argument("--fleet", action="store_true",
                        help="list every agent publishing under /confagent/fleet/ in the store instead")
    parser.add_argument("--endpoints", default=None,
                        help="with --fleet: the store's comma-separated endpoints, else $CONFAGENT_ENDPOINTS "
                             "(default: http://127.0.0.1:2379)")
    parser.set_defaults(handler=_status)


def _listen_address(args: argparse.Namespace) -> str:
    """``--listen``, else the configuration file's ``[agent] listen``, else the default."""
    if args.listen:
        return str(args.listen)
    from confagent.config import load_config  # noqa: PLC0415 - only when no --listen is given

    config = load_config(args.config_file or DEFAULT_CONFIG_FILE, {}, missing_ok=args.config_file is None)
    return config.listener.listen or DEFAULT_LISTEN


def _status(args: argparse.Namespace) -> int:
    if args.fleet:
        return _fleet(args)
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


def _fleet(args: argparse.Namespace) -> int:
    """``status --fleet`` (module docstring)."""
    import asyncio  # noqa: PLC0415 - see the module docstring
    import time  # noqa: PLC0415

    from confagent.agent._fleet import FLEET_PREFIX, fleet_rows  # noqa: PLC0415
    from confagent.client import EtcdClient  # noqa: PLC0415

    options = argparse.Namespace(endpoints=args.endpoints, tls_ca=None, tls_cert=None, tls_key=None, user="",
                                 password="", dial_timeout=2.0, command_timeout=args.timeout)

    async def read() -> list[bytes]:
        async with EtcdClient(client_config(options)) as client:
            await client.login()
            reply = await client.get(FLEET_PREFIX.encode(), prefix=True)
            return [kv.value for kv in reply.response.kvs]

    rows = fleet_rows(asyncio.run(read()))
    now_s = time.time()
    if args.write_out == "json":
        print(json.dumps({"hosts": [row.as_json(now_s) for row in rows]}, indent=2))
    else:
        print(render_table(_FLEET_HEADER, [
            [row.host, str(row.revision), "no" if row.behind else "yes",
             ", ".join(name for name, _ in row.failing) or "-", f"{max(0.0, now_s - row.at_s):.0f}s"]
            for row in rows]))
        for row in rows:
            for name, error in row.failing:
                print(f"{row.host} {name}: {error}")
    return 0 if rows and not any(row.behind or row.failing for row in rows) else 1


def status_rows(resources: Sequence[Mapping[str, Any]]) -> list[list[str]]:
    """One table row per resource."""
    return [[str(r["resource"]), str(r["dest"]), str(r["revision"]), str(r["result"]),
             _when(r.get("last_success"))] for r in resources]


def _when(unix_s: float | None) -> str:
    if unix_s is None:
        return "never"
    return datetime.fromtimestamp(unix_s, UTC).isoformat(timespec="seconds")
