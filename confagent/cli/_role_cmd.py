"""``confagent role add|get|list|delete|grant-permission|revoke-permission`` and ``confagent auth
enable|disable``: etcdctl 3.4's commands, arguments and output.

Output as etcdctl 3.4.23 prints it (recorded from it): ``simple`` is its
lines (a role's permissions under ``KV Read:`` and ``KV Write:``, keys raw),
``json`` the answer as etcdctl marshals it; ``table`` has no printer for these
answers, and as etcdctl the command is made and then refused (exit code 4).
``auth enable`` adds the root role and grants it to root when only that is
missing, then enables, as etcdctl does; both ``auth`` commands print their one
line in every format. A missing argument is etcdctl's usage error (its
message, exit code 128). A permission's keys are etcdctl's: a key, a key and
an end, ``--prefix`` or ``--from-key``; an empty key means every key
(``\\x00`` on).
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Any

from confagent.cli._common import (
    EXIT_BAD_FEATURE,
    CommandBody,
    Subparsers,
    add_global_options,
    run_client_command,
    usage_error,
)
from confagent.cli._etcdctl_json import auth_header_json, auth_names_json, role_get_json
from confagent.cli._output import Output
from confagent.errors import ConfigError, RootRoleNotExist
from confagent.kv._keys import FROM_KEY, prefix_end

if TYPE_CHECKING:
    from confagent.client import EtcdClient, Permission, Reply, ResponseHeader

__all__ = ["leaf_command", "register", "show", "show_header", "show_role"]


def register(subparsers: Subparsers) -> None:
    role = subparsers.add_parser("role", help="role related commands")
    commands = role.add_subparsers(dest="role_command", required=True, metavar="COMMAND")
    for name, help_text, body in (("add", "adds a new role", _add),
                                  ("get", "gets detailed information of a role", _get),
                                  ("delete", "deletes a role", _delete)):
        leaf_command(commands, name, help_text, body,
                     arity=(1, f"role {name} command requires role name as its argument"))
    leaf_command(commands, "list", "lists all roles", _list,
                 arity=(0, "role list command requires no arguments"))
    for name, help_text, body in (("grant-permission", "grants a key to a role", _grant),
                                  ("revoke-permission", "revokes a key from a role", _revoke)):
        parser = leaf_command(commands, name, help_text, body)
        parser.add_argument("--prefix", action="store_true", help="a permission on the keys under KEY")
        parser.add_argument("--from-key", action="store_true",
                            help="a permission on the keys from KEY on (byte order)")
    auth = subparsers.add_parser("auth", help="enable or disable authentication, or ask its status")
    commands = auth.add_subparsers(dest="auth_command", required=True, metavar="COMMAND")
    for name, help_text, body in (("enable", "enables authentication", _enable),
                                  ("disable", "disables authentication", _disable),
                                  ("status", "returns authentication status (etcd 3.5's call)", _status)):
        leaf_command(commands, name, help_text, body,
                     arity=(0, f"auth {name} command does not accept any arguments"))


def leaf_command(commands: Subparsers, name: str, help_text: str, body: CommandBody, *,
                 arity: tuple[int, str] | None = None) -> argparse.ArgumentParser:
    """A command taking etcdctl's arguments (before, between and after its flags: ``intermixed``) and
    the global flags; with ``arity`` (how many arguments, and etcdctl's words when another number is
    given) they are counted before the client is made."""
    parser = commands.add_parser(name, help=help_text, description=help_text)
    parser.add_argument("args", nargs="*", metavar="ARG")
    add_global_options(parser, suppress=True)

    def handler(args: argparse.Namespace) -> int:
        if arity is not None and len(args.args) != arity[0]:
            return usage_error(arity[1])
        return run_client_command(body, args)

    parser.set_defaults(handler=handler, intermixed=True)
    return parser


def show(out: Output, json_value: dict[str, Any], *lines: bytes | str) -> int:
    """An Auth answer printed in ``out``'s format; the exit code (etcdctl's 4 for ``table``)."""
    if out.format == "json":
        out.json(json_value)
    elif out.format == "table":
        print(f"Error: {out.format} not supported as output format", file=sys.stderr)
        return EXIT_BAD_FEATURE
    else:
        for line in lines:
            out.line(line)
    return 0


def show_role(out: Output, name: str, reply: Reply[tuple[Permission, ...]]) -> int:
    """A role's permissions, as ``role get`` (and ``user get --detail``) print them."""
    from confagent.client import PermissionType  # noqa: PLC0415 - the client loads when a command runs

    def lines(*types: PermissionType) -> list[bytes]:
        return [b"\t" + _keys(p) for p in reply.response if p.type in types]

    both = PermissionType.READWRITE
    return show(out, role_get_json(reply), f"Role {name}", "KV Read:",
                *lines(PermissionType.READ, both), "KV Write:", *lines(PermissionType.WRITE, both))


def _keys(p: Permission) -> bytes:
    if not p.range_end:
        return p.key
    text = b"[%s, %s)" % (p.key, p.range_end) if p.range_end != FROM_KEY else b"[%s, <open ended>" % p.key
    return text + b" (prefix %s)" % p.key if prefix_end(p.key) == p.range_end else text


def show_header(out: Output, header: ResponseHeader, line: bytes | str) -> int:
    """An answer carrying its header alone, and the line etcdctl prints for it."""
    return show(out, auth_header_json(header), line)


async def _add(client: EtcdClient, out: Output, args: argparse.Namespace) -> int:
    (name,) = args.args
    return show_header(out, await client.auth.role_add(name), f"Role {name} created")


async def _delete(client: EtcdClient, out: Output, args: argparse.Namespace) -> int:
    (name,) = args.args
    return show_header(out, await client.auth.role_delete(name), f"Role {name} deleted")


async def _get(client: EtcdClient, out: Output, args: argparse.Namespace) -> int:
    (name,) = args.args
    return show_role(out, name, await client.auth.role_get(name))


async def _list(client: EtcdClient, out: Output, args: argparse.Namespace) -> int:
    reply = await client.auth.role_list()
    return show(out, auth_names_json(reply, "roles"), *reply.response)


def _perm_range(args: argparse.Namespace, given: list[str]) -> tuple[bytes, bytes]:
    """etcdctl's ``permRange``: the key and range end of a permission's arguments.

    Raises:
        ConfigError: flags that do not go together (etcdctl's words).
    """
    key = given[0].encode()
    if not key:
        if args.prefix and args.from_key:
            raise ConfigError("--from-key and --prefix flags are mutually exclusive")
        return FROM_KEY, FROM_KEY if args.prefix or args.from_key else b""
    if len(given) == 1:
        if args.prefix and args.from_key:
            raise ConfigError("--from-key and --prefix flags are mutually exclusive")
        return key, prefix_end(key) if args.prefix else FROM_KEY if args.from_key else b""
    if args.prefix or args.from_key:
        raise ConfigError(f"unexpected endkey argument with --{'prefix' if args.prefix else 'from-key'} flag")
    return key, given[1].encode()


async def _grant(client: EtcdClient, out: Output, args: argparse.Namespace) -> int:
    from confagent.client import PermissionType  # noqa: PLC0415 - the client loads when a command runs

    given = list(args.args)
    if len(given) < 3:
        return usage_error("role grant command requires role name, permission type, "
                           "and key [endkey] as its argument")
    if given[1].upper() not in PermissionType.__members__:
        return usage_error(f"invalid permission type: {given[1]}")
    try:
        key, range_end = _perm_range(args, given[2:])
    except ConfigError as error:
        return usage_error(str(error))
    header = await client.auth.role_grant_permission(given[0], PermissionType[given[1].upper()], key,
                                                     range_end)
    return show_header(out, header, f"Role {given[0]} updated")


async def _revoke(client: EtcdClient, out: Output, args: argparse.Namespace) -> int:
    given = list(args.args)
    if len(given) < 2:
        return usage_error("role revoke-permission command requires role name and key [endkey] "
                           "as its argument")
    try:
        key, range_end = _perm_range(args, given[1:])
    except ConfigError as error:
        return usage_error(str(error))
    header = await client.auth.role_revoke_permission(given[0], key, range_end)
    role, shown = given[0], given[1].encode()
    if not range_end:
        line = b"Permission of key %s is revoked from role %s" % (shown, role.encode())
    elif range_end != FROM_KEY:
        line = b"Permission of range [%s, %s) is revoked from role %s" % (shown, range_end, role.encode())
    else:
        line = b"Permission of range [%s, <open ended> is revoked from role %s" % (shown, role.encode())
    return show_header(out, header, line)


async def _enable(client: EtcdClient, out: Output, args: argparse.Namespace) -> int:
    while True:
        try:
            await client.auth.enable()
            break
        except RootRoleNotExist:
            await client.auth.role_add("root")
            await client.auth.user_grant_role("root", "root")
    out.line("Authentication Enabled")
    return 0


async def _disable(client: EtcdClient, out: Output, args: argparse.Namespace) -> int:
    await client.auth.disable()
    out.line("Authentication Disabled")
    return 0


async def _status(client: EtcdClient, out: Output, args: argparse.Namespace) -> int:
    """etcdctl 3.5's ``auth status``: etcd 3.4 has no such call (it answers 404 Not Found)."""
    enabled, revision = (await client.auth.status()).response
    out.line(f"Authentication Status: {'true' if enabled else 'false'}")
    out.line(f"AuthRevision: {revision}")
    return 0
