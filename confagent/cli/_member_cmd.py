"""``confagent member add|remove|update|promote|list``: etcdctl 3.4's member commands and output.

Output as etcdctl 3.4.23 prints it (recorded from it): ``simple`` is one line
(``Member <id> added to cluster <cluster>`` and, for ``add``, the
``ETCD_*`` lines to start the new member with), ``json`` is the response as
etcdctl marshals it, ``table`` exists for ``list`` only. A missing or
malformed argument is etcdctl's usage error: its message, exit code 128.
The client (httpx) is imported when a command runs, not when it registers.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, TypeAlias

from confagent.cli._common import (
    CommandBody,
    Subparsers,
    add_global_options,
    run_client_command,
    usage_error,
)
from confagent.cli._etcdctl_json import member_list_json
from confagent.cli._output import Output, member_rows
from confagent.errors import ConfigError

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from confagent.client import EtcdClient, Member, Reply

__all__ = ["register_member_commands"]

_MEMBER_HEADER = ("ID", "Status", "Name", "Peer Addrs", "Client Addrs", "Is Learner")

_MemberCall: TypeAlias = "Callable[[int, list[str]], Awaitable[Reply[tuple[Member, ...]]]]"
"""A change to one member, given its ID and the peer URLs (empty unless the change takes them)."""


def register_member_commands(subparsers: Subparsers) -> None:
    member = subparsers.add_parser("member", help="cluster membership")
    commands = member.add_subparsers(dest="member_command", required=True, metavar="COMMAND")
    _leaf(commands, "list", "list the members of the cluster", _list)
    add = _leaf(commands, "add", "add a member to the cluster", _add, positional="name")
    add.add_argument("--peer-urls", default="", help="comma-separated peer URLs of the new member")
    add.add_argument("--learner", action="store_true", help="add the member as a learner")
    _leaf(commands, "remove", "remove a member from the cluster", _remove, positional="member_id")
    update = _leaf(commands, "update", "update a member's peer URLs", _update, positional="member_id")
    update.add_argument("--peer-urls", default="", help="comma-separated new peer URLs")
    _leaf(commands, "promote", "promote a learner to a voting member", _promote, positional="member_id")


def _leaf(commands: Subparsers, name: str, help_text: str, body: CommandBody,
          positional: str | None = None) -> argparse.ArgumentParser:
    parser = commands.add_parser(name, help=help_text, description=help_text)
    if positional is not None:
        parser.add_argument(positional, nargs="?", default="", metavar=positional.upper())
    add_global_options(parser, suppress=True)
    parser.set_defaults(handler=lambda args: run_client_command(body, args))
    return parser


def _member_id(args: argparse.Namespace) -> int:
    if not args.member_id:
        raise ConfigError("member ID is not provided")
    try:
        return int(args.member_id, 16)
    except ValueError:
        raise ConfigError(f'bad member ID arg (strconv.ParseUint: parsing "{args.member_id}": '
                          f"invalid syntax), expecting ID in Hex") from None


def _peer_urls(args: argparse.Namespace) -> list[str]:
    urls = [url.strip() for url in args.peer_urls.split(",") if url.strip()]
    if not urls:
        raise ConfigError("member peer urls not provided")
    return urls


async def _list(client: EtcdClient, out: Output, args: argparse.Namespace) -> int:
    reply = await client.member_list()
    if out.format == "json":
        out.json(member_list_json(reply))
    else:
        out.rows(_MEMBER_HEADER, member_rows(reply.response))
    return 0


async def _add(client: EtcdClient, out: Output, args: argparse.Namespace) -> int:
    from confagent.client import Reply  # noqa: PLC0415 - see the module docstring

    try:
        if not args.name:
            raise ConfigError("member name not provided")
        peer_urls = _peer_urls(args)
    except ConfigError as error:
        return usage_error(str(error))
    out.require("simple", "json")
    reply = await client.member_add(peer_urls, is_learner=args.learner)
    added, members = reply.response
    if out.format == "json":
        listed = member_list_json(Reply(reply.header, members))
        (member,) = member_list_json(Reply(reply.header, (added,)))["members"]
        out.json({"header": listed["header"], "member": member, **listed})
        return 0
    out.line(f"Member {added.id:16x} added to cluster {reply.header.cluster_id:16x}")
    out.line()
    for line in _start_lines(args.name, added, members):
        out.line(line)
    return 0


def _start_lines(name: str, added: Member, members: tuple[Member, ...]) -> list[str]:
    """The environment etcdctl prints to start the new member with (every member's peer URLs,
    under its name; the new one's under the name given)."""
    cluster = ",".join(f"{name if m.id == added.id else m.name}={url}"
                       for m in members for url in m.peer_urls)
    return [f'ETCD_NAME="{name}"', f'ETCD_INITIAL_CLUSTER="{cluster}"',
            f'ETCD_INITIAL_ADVERTISE_PEER_URLS="{",".join(added.peer_urls)}"',
            'ETCD_INITIAL_CLUSTER_STATE="existing"']


async def _remove(client: EtcdClient, out: Output, args: argparse.Namespace) -> int:
    return await _change(out, args, "removed from", lambda member_id, _: client.member_remove(member_id))


async def _update(client: EtcdClient, out: Output, args: argparse.Namespace) -> int:
    return await _change(out, args, "updated in", client.member_update, with_peer_urls=True)


async def _promote(client: EtcdClient, out: Output, args: argparse.Namespace) -> int:
    return await _change(out, args, "promoted in", lambda member_id, _: client.member_promote(member_id))


async def _change(out: Output, args: argparse.Namespace, done: str, call: _MemberCall, *,
                  with_peer_urls: bool = False) -> int:
    """``remove``, ``update`` and ``promote``: etcdctl's usage errors, then the call and its one line."""
    try:
        member_id = _member_id(args)
        peer_urls = _peer_urls(args) if with_peer_urls else []
    except ConfigError as error:
        return usage_error(str(error))
    out.require("simple", "json")
    reply = await call(member_id, peer_urls)
    if out.format == "json":
        out.json(member_list_json(reply))
    else:
        out.line(f"Member {member_id:16x} {done} cluster {reply.header.cluster_id:16x}")
    return 0
