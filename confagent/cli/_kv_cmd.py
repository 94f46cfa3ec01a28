"""``confagent kv get|put|del|watch|txn|compact``: etcdctl's key-value commands and output.

etcdctl's spellings work too, with the same flags and output: ``confagent get``,
``put``, ``del``, ``watch``, ``txn`` and ``compaction`` (also ``kv compaction``).
``put`` and ``del`` take ``--fenced`` beyond etcdctl's flags: under ``confagent lock
NAME COMMAND``, the write is applied only while that lock is held (``confagent.client.Fence``).
The client (and httpx) is imported when a command runs, not when it registers.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from contextlib import aclosing
from dataclasses import dataclass
from typing import TYPE_CHECKING

from confagent.cli._common import CommandBody, Subparsers, add_global_options, run_client_command
from confagent.cli._etcdctl_json import delete_json, get_json, put_json, txn_json, watch_json
from confagent.cli._kv_requests import (
    add_del_flags,
    add_get_flags,
    add_put_flags,
    delete_request,
    put_request,
    range_request,
)
from confagent.cli._output import Output
from confagent.cli._txn_syntax import parse_txn
from confagent.kv import DeleteRangeResponse, PutResponse, RequestOp, ResponseOp, prefix_range
from confagent.wire import Reply, ResponseHeader

if TYPE_CHECKING:
    from confagent.client import EtcdClient
    from confagent.kv._messages import WatchResponse

__all__ = ["EXIT_WATCH_CANCELED", "register"]

# etcdctl's ExitInterrupted, used when the server cancels a watch.
EXIT_WATCH_CANCELED = 5


def register(subparsers: Subparsers) -> None:
    """``kv get|put|del|watch|txn|compact``, and each at the top level under etcdctl's name."""
    kv = subparsers.add_parser("kv", help="read, write and watch keys (etcdctl's commands)")
    commands = kv.add_subparsers(dest="kv_command", required=True, metavar="COMMAND")
    for command in _COMMANDS:
        aliases = [command.etcdctl_name] if command.etcdctl_name != command.name else []
        _add_parser(commands, command.name, command.help, command, aliases=aliases)
    for command in _COMMANDS:
        _add_parser(subparsers, command.etcdctl_name, f"kv {command.name}: {command.help}", command)


def _add_parser(subparsers: Subparsers, name: str, help_text: str, command: _Command,
                aliases: Sequence[str] = ()) -> None:
    parser = subparsers.add_parser(name, help=help_text, description=help_text, aliases=aliases)
    command.add_flags(parser)
    add_global_options(parser, suppress=True)
    parser.set_defaults(handler=lambda args: run_client_command(command.body, args))


def _add_watch_flags(parser: argparse.ArgumentParser) -> None:
    add = parser.add_argument
    add("key")
    add("range_end", nargs="?", default="")
    add("--prefix", action="store_true", help="watch the keys with this prefix")
    add("--rev", type=int, default=0, help="start at this revision (default: 0, from now)")
    add("--prev-kv", action="store_true", help="print the previous key-value of each event")


def _add_txn_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-i", "--interactive", action="store_true", help="print prompts")


def _add_compact_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("revision", type=int)
    parser.add_argument("--physical", action="store_true",
                        help="wait until the compaction is applied to the backend")


async def _get(client: EtcdClient, out: Output, args: argparse.Namespace) -> int:
    out.require("simple", "json")
    reply = await client.range(range_request(args))
    if out.format == "json":
        out.json(get_json(reply))
    else:
        out.get(reply.response, value_only=args.print_value_only, count_only=args.count_only)
    return 0


AddFlags = Callable[[argparse.ArgumentParser], None]


def _fenced(add_flags: AddFlags) -> AddFlags:
    """``add_flags`` and ``--fenced``: write only while the lock the command runs under is held."""
    def add(parser: argparse.ArgumentParser) -> None:
        add_flags(parser)
        parser.add_argument("--fenced", action="store_true", help=(
            "write only while the lock in ETCD_LOCK_KEY, taken at ETCD_LOCK_REV, is held "
            "(confagent lock NAME COMMAND sets them); refused otherwise, exit 1"))
    return add


async def _fenced_op(client: EtcdClient, op: RequestOp) -> tuple[ResponseHeader, ResponseOp]:
    """``op`` in a txn fenced by the lock the command runs under (``--fenced``).

    Raises:
        LockLost: that lock is no longer held; nothing was written.
    """
    from confagent.client import Fence  # noqa: PLC0415 - see the module docstring

    reply = await client.fenced(Fence.from_environ(os.environ), op)
    return reply.header, reply.response.responses[0]


async def _put(client: EtcdClient, out: Output, args: argparse.Namespace) -> int:
    out.require("simple", "json")
    request = put_request(args, sys.stdin.buffer.read)
    if args.fenced:
        header, response = await _fenced_op(client, request)
        assert isinstance(response, PutResponse)
        reply = Reply(header, response)
    else:
        reply = await client.put(request.key, request.value, lease=request.lease,
                                 prev_kv=request.prev_kv, ignore_value=request.ignore_value,
                                 ignore_lease=request.ignore_lease)
    if out.format == "json":
        out.json(put_json(reply))
    else:
        out.put(reply.response)
    return 0


async def _delete(client: EtcdClient, out: Output, args: argparse.Namespace) -> int:
    out.require("simple", "json")
    request = delete_request(args)
    if args.fenced:
        header, response = await _fenced_op(client, request)
        assert isinstance(response, DeleteRangeResponse)
        reply = Reply(header, response)
    else:
        reply = await client.delete(request.key, request.range_end, prev_kv=request.prev_kv)
    if out.format == "json":
        out.json(delete_json(reply))
    else:
        out.delete(reply.response)
    return 0


async def _watch(client: EtcdClient, out: Output, args: argparse.Namespace) -> int:
    """Print events until interrupted; a cancel by the server ends with etcdctl's message."""
    out.require("simple", "json")
    key, range_end = args.key.encode(), args.range_end.encode()
    if args.prefix:
        key, range_end = prefix_range(key)
    replies = client.watch(key, range_end, start_revision=args.rev, prev_kv=args.prev_kv,
                           resume=True)
    async with aclosing(replies):
        async for reply in replies:
            _print_watch(out, reply)
    print("Error: watch is canceled by the server", file=sys.stderr)
    return EXIT_WATCH_CANCELED


def _print_watch(out: Output, reply: Reply[WatchResponse]) -> None:
    response = reply.response
    if response.canceled:
        reason = response.cancel_reason or (
            "etcdserver: mvcc: required revision has been compacted"
            if response.compact_revision else "")
        out.line(f"watch was canceled ({reason})")
    elif response.events:
        if out.format == "json":
            out.json(watch_json(reply))
        else:
            out.watch(reply)


async def _txn(client: EtcdClient, out: Output, args: argparse.Namespace) -> int:
    out.require("simple", "json")
    prompt = out.line if args.interactive else (lambda _: None)
    request = parse_txn(iter(sys.stdin.readline, ""), prompt)
    reply = await client.txn(request)
    if out.format == "json":
        out.json(txn_json(reply))
    else:
        out.txn(reply.response)
    return 0


async def _compact(client: EtcdClient, out: Output, args: argparse.Namespace) -> int:
    await client.compact(args.revision, physical=args.physical)
    out.line(f"compacted revision {args.revision}")
    return 0


@dataclass(frozen=True, slots=True)
class _Command:
    name: str
    """Its name under ``confagent kv``."""
    etcdctl_name: str
    """etcdctl's name, which is also a top-level command (``confagent get``)."""
    help: str
    add_flags: Callable[[argparse.ArgumentParser], None]
    body: CommandBody


_COMMANDS = (
    _Command("get", "get", "get a key or a range of keys", add_get_flags, _get),
    _Command("put", "put", "put a key (the value from stdin when omitted)", _fenced(add_put_flags), _put),
    _Command("del", "del", "delete a key or a range of keys", _fenced(add_del_flags), _delete),
    _Command("watch", "watch", "watch a key or a range until interrupted", _add_watch_flags, _watch),
    _Command("txn", "txn", "run a transaction read from stdin (etcdctl's txn syntax)",
             _add_txn_flags, _txn),
    _Command("compact", "compaction", "compact the history up to a revision", _add_compact_flags,
             _compact),
)
