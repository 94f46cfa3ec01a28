"""``confagent history``: what the agent did to each file — from its listener, or its database directly.

``confagent history [DEST|RESOURCE] [--since DURATION] [-w table|json]``
lists the newest records (``--limit``, 20 by default), of one destination or
resource if given; ``confagent history show ID`` prints one record: its
fields, each command with its exit code and output, and the file's diff,
coloured on a terminal (not under ``$NO_COLOR``).

Where from: the running agent's listener (``--listen``, else the ``[agent]
listen`` of ``--config-file``) when it answers, else the history's database
(``--database``, else ``[history] path`` or ``history.db`` in the store's
``data_dir``). Values of secret keys are masked either way; ``--show-secrets``
shows them, and reads the database (the listener never sends them). Exit
code 0, or 1 when no record answers (``show`` of an unknown id) or nothing
can be read. httpx is imported when the command runs and asks a listener.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from confagent.cli._common import Subparsers, duration_s, usage_error
from confagent.cli._output import render_table
from confagent.cli._run_cmd import DEFAULT_CONFIG_FILE
from confagent.errors import ClientError

__all__ = ["DEFAULT_HISTORY_LIMIT", "history_rows", "register"]

DEFAULT_HISTORY_LIMIT = 20
_HEADER = ("id", "time", "resource", "dest", "revision", "result", "changed keys")
_COLOURS = {"+": "\x1b[32m", "-": "\x1b[31m", "@": "\x1b[36m"}
_RESET = "\x1b[0m"


def register(subparsers: Subparsers) -> None:
    parser = subparsers.add_parser(
        "history", help="what the agent did to each file: applies and refused applies, with their diffs",
        description="List the agent's render history (newest first), or show one record with 'show ID'.")
    parser.add_argument("words", nargs="*", metavar="DEST|RESOURCE | show ID",
                        help="a destination or resource to list, or 'show ID'")
    parser.add_argument("--since", type=duration_s, metavar="DURATION",
                        help="only records of the last DURATION (1h, 30m, 90s)")
    parser.add_argument("--limit", type=int, default=DEFAULT_HISTORY_LIMIT, metavar="N",
                        help=f"at most N records (default: {DEFAULT_HISTORY_LIMIT})")
    parser.add_argument("-w", "--write-out", choices=("table", "json"), default=argparse.SUPPRESS,
                        help="table or json (default: table)")
    parser.add_argument("--show-secrets", action="store_true",
                        help="show the values of secret keys (reads the local database)")
    parser.add_argument("--listen", metavar="HOST:PORT",
                        help="the agent's listener (default: [agent] listen of the config file)")
    parser.add_argument("--database", type=Path, metavar="FILE",
                        help="the history's file (default: [history] path, else history.db in the data_dir)")
    parser.add_argument("--config-file", type=Path, default=None,
                        help=f"the agent's configuration file (default: {DEFAULT_CONFIG_FILE}, if it exists)")
    parser.add_argument("--timeout", type=duration_s, default=5.0, metavar="DURATION",
                        help="how long to wait for the agent's answer (default: 5s)")
    parser.set_defaults(handler=_history)


def _history(args: argparse.Namespace) -> int:
    words = list(args.words)
    if words[:1] == ["show"]:
        if len(words) != 2 or not words[1].isdigit():
            return usage_error("history show takes one record ID")
        return _show(args, int(words[1]))
    if len(words) > 1:
        return usage_error("history takes at most one DEST or RESOURCE (or 'show ID')")
    since_s = None if args.since is None else time.time() - args.since
    records = _Source(args).records(words[0] if words else None, since_s, args.limit)
    if getattr(args, "write_out", "table") == "json":
        print(json.dumps(records, indent=2))
    else:
        print(render_table(_HEADER, history_rows(records)))
    return 0


def _show(args: argparse.Namespace, record_id: int) -> int:
    record = _Source(args).record(record_id)
    if record is None:
        print(f"Error: no history record {record_id}", file=sys.stderr)
        return 1
    if getattr(args, "write_out", "table") == "json":
        print(json.dumps(record, indent=2))
        return 0
    sys.stdout.write(_describe(record))
    colour = sys.stdout.isatty() and not os.environ.get("NO_COLOR")
    sys.stdout.write("".join(_coloured(line) if colour else line
                             for line in str(record["diff"]).splitlines(keepends=True)))
    if record.get("diff_truncated"):
        print("(the diff was cut at [history] max_diff_bytes)")
    return 0


def history_rows(records: list[dict[str, Any]]) -> list[list[str]]:
    """One table row per record."""
    return [[str(r["id"]), _when(r["time"]), str(r["resource"]), str(r["dest"]), str(r["revision"]),
             str(r["result"]), _keys(r["changed_keys"])] for r in records]


def _keys(changes: list[dict[str, Any]], limit: int = 3) -> str:
    names = [str(change["key"]) + ("" if change["value"] is not None else " (deleted)") for change in changes]
    return ", ".join(names[:limit]) + (f" +{len(names) - limit}" if len(names) > limit else "")


def _when(unix_s: float) -> str:
    return datetime.fromtimestamp(unix_s, UTC).isoformat(timespec="seconds")


def _describe(record: dict[str, Any]) -> str:
    rolled_back = " (rolled back)" if record["rolled_back"] else ""
    lines = [f"record {record['id']}: {record['result']}{rolled_back}",
             f"  time      {_when(record['time'])} on {record['host']}",
             f"  resource  {record['resource']} -> {record['dest']}",
             f"  revision  {record['revision']}", f"  duration  {record['duration_ms']} ms"]
    if record.get("error"):
        lines.append(f"  error     {record['error']}")
    for change in record["changed_keys"]:
        shown = "(deleted)" if change["value"] is None else repr(change["value"])
        lines.append(f"  key       {change['key']} = {shown}")
    for command in record.get("commands", []):
        ended = "timed out" if command["timed_out"] else f"exit {command['exit_code']}"
        lines.append(f"  {command['role']}: {command['command']} ({ended}, {command['duration_ms']} ms)")
        lines.extend(f"    | {line}" for line in str(command["output"]).splitlines())
    return "\n".join(lines) + "\n"


def _coloured(line: str) -> str:
    colour = None if line.startswith(("+++", "---")) else _COLOURS.get(line[:1])
    return line if colour is None else f"{colour}{line.rstrip(chr(10))}{_RESET}\n"


class _Source:
    """The listener when it answers, else the database (module docstring)."""

    def __init__(self, args: argparse.Namespace) -> None:
        self._args = args
        self._listen: str | None = args.listen
        self._database: Path | None = args.database
        if self._listen is None or self._database is None:
            from confagent.config import load_config  # noqa: PLC0415 - only when a flag is missing

            config = load_config(args.config_file or DEFAULT_CONFIG_FILE, {},
                                 missing_ok=args.config_file is None)
            self._listen = self._listen or config.listener.listen
            self._database = self._database or config.history_path

    def records(self, target: str | None, since_s: float | None, limit: int) -> list[dict[str, Any]]:
        query = {"limit": str(limit)} | ({} if target is None else {"target": target}) | (
            {} if since_s is None else {"since": repr(since_s)})
        answer = self._ask("", query)
        if answer is not None:
            return list(answer["records"])
        from confagent.history import read_records  # noqa: PLC0415 - sqlite3 when used

        assert self._database is not None
        return [record.summary_json(show_secrets=self._args.show_secrets) for record in
                read_records(self._database, target=target, since_s=since_s, limit=limit)]

    def record(self, record_id: int) -> dict[str, Any] | None:
        answer = self._ask(f"/{record_id}", {})
        if answer is not None:
            return None if answer.get("missing") else answer
        from confagent.history import read_record  # noqa: PLC0415 - sqlite3 when used

        assert self._database is not None
        found = read_record(self._database, record_id)
        return None if found is None else found.as_json(show_secrets=self._args.show_secrets)

    def _ask(self, path: str, query: dict[str, str]) -> dict[str, Any] | None:
        """The listener's answer; None when the database is to be read (no listener, or not answering)."""
        if self._listen is None or self._args.show_secrets:
            return None
        import httpx  # noqa: PLC0415 - see the module docstring

        url = f"http://{self._listen}/v1/history{path}"
        try:
            answer = httpx.get(url, params=query, timeout=self._args.timeout)
        except httpx.TransportError:
            return None  # no agent there: its database
        if answer.status_code == 404 and path:
            return {"missing": True}
        try:
            answer.raise_for_status()
            document: dict[str, Any] = answer.json()
        except (httpx.HTTPError, ValueError) as error:
            raise ClientError(f"{url}: no history: {answer.text.strip() or error}") from error
        return document
