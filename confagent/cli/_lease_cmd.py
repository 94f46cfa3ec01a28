"""``confagent lease grant|revoke|keepalive|timetolive|list``: etcdctl's lease commands and output."""

from __future__ import annotations

import argparse
import asyncio
from typing import TYPE_CHECKING

from confagent.cli._common import Subparsers, add_global_options, lease_id_hex, run_client_command
from confagent.cli._etcdctl_json import (
    header_json,
    lease_grant_json,
    lease_keepalive_json,
    lease_leases_json,
    lease_time_to_live_json,
)
from confagent.cli._output import Output
from confagent.errors import LeaseNotFound, StoreError

if TYPE_CHECKING:
    from confagent.client import EtcdClient

__all__ = ["register"]


def register(subparsers: Subparsers) -> None:
    lease = subparsers.add_parser("lease", help="grant, renew and revoke leases")
    commands = lease.add_subparsers(dest="lease_command", required=True, metavar="COMMAND")
    specs = (
        ("grant", "grant a lease with a TTL in seconds", _add_ttl, _grant, ()),
        ("revoke", "revoke a lease (deleting its keys)", _add_id, _revoke, ()),
        ("keepalive", "keep a lease alive until interrupted", _add_keepalive, _keepalive,
         ("keep-alive",)),
        ("timetolive", "show a lease's remaining TTL", _add_timetolive, _time_to_live, ()),
        ("list", "list the active leases", lambda p: None, _list, ()),
    )
    for name, help_text, add_flags, body, aliases in specs:
        parser = commands.add_parser(name, help=help_text, description=help_text,
                                     aliases=list(aliases))
        add_flags(parser)
        add_global_options(parser, suppress=True)
        parser.set_defaults(handler=lambda args, body=body: run_client_command(body, args))


def _add_ttl(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("ttl", type=int, help="seconds")


def _add_id(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("id", type=lease_id_hex, help="lease ID (hex)")


def _add_keepalive(parser: argparse.ArgumentParser) -> None:
    _add_id(parser)
    parser.add_argument("--once", action="store_true", help="renew once and exit")


def _add_timetolive(parser: argparse.ArgumentParser) -> None:
    _add_id(parser)
    parser.add_argument("--keys", action="store_true", help="list the keys attached")


async def _grant(client: EtcdClient, out: Output, args: argparse.Namespace) -> int:
    out.require("simple", "json")
    try:
        reply = await client.lease_grant(args.ttl)
    except StoreError as error:
        raise type(error)(f"failed to grant lease ({error.message})") from error
    if out.format == "json":
        out.json(lease_grant_json(reply))
    else:
        out.line(f"lease {reply.response.id:016x} granted with TTL({reply.response.ttl}s)")
    return 0


async def _revoke(client: EtcdClient, out: Output, args: argparse.Namespace) -> int:
    out.require("simple", "json")
    try:
        header = await client.lease_revoke(args.id)
    except StoreError as error:
        raise type(error)(f"failed to revoke lease ({error.message})") from error
    if out.format == "json":
        out.json({"header": header_json(header)})
    else:
        out.line(f"lease {args.id:016x} revoked")
    return 0


async def _keepalive(client: EtcdClient, out: Output, args: argparse.Namespace) -> int:
    """Renew every TTL/3 seconds (as clientv3 does) until the lease is gone or interrupted."""
    out.require("simple", "json")
    while True:
        reply = await client.lease_keepalive_once(args.id)
        ttl_s = reply.response.ttl_s
        if ttl_s <= 0:
            if args.once:
                raise LeaseNotFound()
            out.line(f"lease {args.id:016x} expired or revoked.")
            return 0
        if out.format == "json":
            out.json(lease_keepalive_json(reply))
        else:
            out.line(f"lease {args.id:016x} keepalived with TTL({ttl_s})")
        if args.once:
            return 0
        await asyncio.sleep(max(ttl_s / 3, 0.5))


async def _time_to_live(client: EtcdClient, out: Output, args: argparse.Namespace) -> int:
    out.require("simple", "json")
    reply = await client.lease_time_to_live(args.id, keys=args.keys)
    if out.format == "json":
        out.json(lease_time_to_live_json(reply))
        return 0
    r = reply.response
    if r.granted_ttl_s == 0 and r.ttl_s == -1:
        out.line(f"lease {args.id:016x} already expired")
        return 0
    text = f"lease {args.id:016x} granted with TTL({r.granted_ttl_s}s), remaining({r.ttl_s}s)"
    if args.keys:
        names = " ".join(k.decode(errors="replace") for k in r.keys)
        text += f", attached keys([{names}])"
    out.line(text)
    return 0


async def _list(client: EtcdClient, out: Output, args: argparse.Namespace) -> int:
    out.require("simple", "json")
    reply = await client.leases()
    if out.format == "json":
        out.json(lease_leases_json(reply))
        return 0
    out.line(f"found {len(reply.response)} leases")
    for lease_id in reply.response:
        out.line(f"{lease_id:016x}")
    return 0
