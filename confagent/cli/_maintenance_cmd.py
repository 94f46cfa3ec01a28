"""``confagent defrag``, ``alarm list|disarm`` and ``move-leader``: etcdctl 3.4's maintenance commands.

Output as etcdctl 3.4.23 prints it (recorded from it): ``defrag`` one line per
endpoint (``Finished defragmenting etcd member[EP]``, failures on stderr, exit 1
if any; ``--cluster`` takes the endpoints from the member list); ``alarm`` one
line per alarm (``memberID:N alarm:NAME ``), or etcdctl's JSON; ``move-leader
TARGET`` (a member ID in hex) finds the leader among the endpoints and asks it,
then ``Leadership transferred from LEADER to TARGET``. A missing or malformed
argument is etcdctl's usage error (exit 128). The client is imported when a
command runs, not when it registers.
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from confagent.cli._common import (
    CommandBody,
    Subparsers,
    add_global_options,
    run_client_command,
    usage_error,
)
from confagent.cli._output import Output
from confagent.errors import ConfagentError

if TYPE_CHECKING:
    from confagent.client import AlarmMember, EtcdClient

__all__ = ["register"]

_ALARM_NUMBERS = {"NONE": 0, "NOSPACE": 1, "CORRUPT": 2}
"""etcd's AlarmType numbers, as etcdctl's JSON prints them."""


def register(subparsers: Subparsers) -> None:
    defrag = _leaf(subparsers, "defrag", "defragment the storage of the members at the endpoints", _defrag)
    defrag.add_argument("--cluster", action="store_true",
                        help="use all endpoints from the cluster member list")
    alarm = subparsers.add_parser("alarm", help="list and disarm alarms")
    commands = alarm.add_subparsers(dest="alarm_command", required=True, metavar="COMMAND")
    _leaf(commands, "list", "list all alarms", _alarm_list)
    _leaf(commands, "disarm", "disarm all alarms", _alarm_disarm)
    move = _leaf(subparsers, "move-leader", "transfer leadership to another member", _move_leader)
    move.add_argument("target", nargs="?", default="", metavar="TARGET", help="the member ID, in hex")


def _leaf(commands: Subparsers, name: str, help_text: str, body: CommandBody) -> argparse.ArgumentParser:
    parser = commands.add_parser(name, help=help_text, description=help_text)
    add_global_options(parser, suppress=True)
    parser.set_defaults(handler=lambda args: run_client_command(body, args))
    return parser


async def _defrag(client: EtcdClient, out: Output, args: argparse.Namespace) -> int:
    endpoints = list(client.endpoints)
    if args.cluster:
        members = (await client.member_list()).response
        endpoints = [url for member in members for url in member.client_urls]
    failures = 0
    for endpoint in endpoints:
        try:
            await client.defragment(endpoint)
        except ConfagentError as error:
            print(f"Failed to defragment etcd member[{endpoint}] ({error})", file=sys.stderr)
            failures += 1
        else:
            out.line(f"Finished defragmenting etcd member[{endpoint}]")
    return 1 if failures else 0


def _print_alarms(out: Output, alarms: tuple[AlarmMember, ...]) -> None:
    if out.format == "json":
        listed = [{"memberID": a.member_id, "alarm": _ALARM_NUMBERS.get(a.alarm, 0)} for a in alarms]
        out.json({"alarms": listed} if listed else {})
        return
    for alarm in alarms:
        out.line(f"memberID:{alarm.member_id} alarm:{alarm.alarm} ")


async def _alarm_list(client: EtcdClient, out: Output, args: argparse.Namespace) -> int:
    out.require("simple", "json")
    _print_alarms(out, await client.alarm_list())
    return 0


async def _alarm_disarm(client: EtcdClient, out: Output, args: argparse.Namespace) -> int:
    out.require("simple", "json")
    _print_alarms(out, await client.alarm_disarm())
    return 0


async def _move_leader(client: EtcdClient, out: Output, args: argparse.Namespace) -> int:
    if not args.target:
        return usage_error("move-leader command needs 1 argument")
    try:
        target = int(args.target, 16)
    except ValueError:
        return usage_error(f'strconv.ParseUint: parsing "{args.target}": invalid syntax')
    if not 0 <= target < 1 << 64:
        return usage_error(f'strconv.ParseUint: parsing "{args.target}": value out of range')
    out.require("simple", "json")
    for endpoint in client.endpoints:
        status = await client.status(endpoint)
        if status.header.member_id == status.response.leader:
            await client.move_leader(endpoint, target)
            if out.format == "json":
                out.json({})
            else:
                out.line(f"Leadership transferred from {status.response.leader:x} to {target:x}")
            return 0
    return usage_error(f"no leader endpoint given at [{' '.join(client.endpoints)}]")
