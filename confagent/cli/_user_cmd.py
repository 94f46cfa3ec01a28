"""``confagent user add|get|list|delete|passwd|grant-role|revoke-role``: etcdctl 3.4's user commands.

Output as etcdctl 3.4.23 prints it (recorded from it), in the formats of
``_role_cmd``; ``get --detail`` prints the user's roles' permissions as
``role get`` does. A new password is etcdctl's: ``add NAME:PASSWORD``,
``--new-user-password``, ``--no-password`` (a user who signs in by
certificate only), or asked for twice on the terminal (``--interactive``, the
default; without a terminal the command says what is missing), or with
``--interactive=false`` the first word of stdin. A missing argument or a
password refused before sending is etcdctl's usage error (exit code 128).
"""

from __future__ import annotations

import argparse
import getpass
import sys
from typing import TYPE_CHECKING

from confagent.cli._common import Subparsers, usage_error
from confagent.cli._etcdctl_json import auth_names_json
from confagent.cli._output import Output
from confagent.cli._role_cmd import leaf_command, show, show_header, show_role
from confagent.errors import ConfigError

if TYPE_CHECKING:
    from confagent.client import EtcdClient

__all__ = ["register"]


def _go_bool(text: str) -> bool:
    """A Go boolean flag's value (``--interactive=false``)."""
    value = {"1": True, "t": True, "true": True, "0": False, "f": False, "false": False}.get(text.lower())
    if value is None:
        raise argparse.ArgumentTypeError(f"invalid boolean value {text!r}")
    return value


def _interactive_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--interactive", type=_go_bool, nargs="?", const=True, default=True,
                        metavar="BOOL",
                        help="ask for the password on the terminal; false: read stdin (default: true)")


def register(subparsers: Subparsers) -> None:
    user = subparsers.add_parser("user", help="user related commands")
    commands = user.add_subparsers(dest="user_command", required=True, metavar="COMMAND")
    add = leaf_command(commands, "add", "adds a new user (NAME or NAME:PASSWORD)", _add,
                       arity=(1, "user add command requires user name as its argument"))
    _interactive_flag(add)
    add.add_argument("--new-user-password", default="", help="the new user's password")
    add.add_argument("--no-password", action="store_true",
                     help="a user without password (signs in by certificate only)")
    get = leaf_command(commands, "get", "gets detailed information of a user", _get,
                       arity=(1, "user get command requires user name as its argument"))
    get.add_argument("--detail", action="store_true", help="show the permissions of the user's roles")
    leaf_command(commands, "list", "lists all users", _list,
                 arity=(0, "user list command requires no arguments"))
    leaf_command(commands, "delete", "deletes a user", _delete,
                 arity=(1, "user delete command requires user name as its argument"))
    passwd = leaf_command(commands, "passwd", "changes the password of a user", _passwd,
                          arity=(1, "user passwd command requires user name as its argument"))
    _interactive_flag(passwd)
    leaf_command(commands, "grant-role", "grants a role to a user", _grant_role,
                 arity=(2, "user grant command requires user name and role name as its argument"))
    leaf_command(commands, "revoke-role", "revokes a role from a user", _revoke_role,
                 arity=(2, "user revoke-role requires user name and role name as its argument"))


def _new_password(name: str, interactive: bool) -> str:
    """The password of ``name`` from stdin's first word, or asked twice on the terminal.

    Raises:
        ConfigError: no terminal, an empty password, or two different ones (etcdctl's words).
    """
    if not interactive:
        words = sys.stdin.read().split(maxsplit=1)
        return words[0] if words else ""
    if not sys.stdin.isatty():
        raise ConfigError(f"no password given for {name} and no terminal to ask for it on (give "
                          f"{name}:PASSWORD, --new-user-password, or --interactive=false and stdin)")
    password = getpass.getpass(f"Password of {name}: ")
    if not password:
        raise ConfigError("empty password")
    if getpass.getpass(f"Type password of {name} again for confirmation: ") != password:
        raise ConfigError("given passwords are different")
    return password


def _name_and_password(args: argparse.Namespace) -> tuple[str, str]:
    """``user add``'s user and password (module docstring). Raises ConfigError as ``_new_password``."""
    (given,) = args.args
    if args.no_password:
        return given, ""
    if args.new_user_password:
        return given, args.new_user_password
    name, colon, password = given.partition(":")
    if not colon:
        return given, _new_password(given, args.interactive)
    if not name:
        raise ConfigError("empty user name is not allowed")
    return name, password


async def _add(client: EtcdClient, out: Output, args: argparse.Namespace) -> int:
    try:
        name, password = _name_and_password(args)
    except ConfigError as error:
        return usage_error(str(error))
    header = await client.auth.user_add(name, password, no_password=args.no_password)
    return show_header(out, header, f"User {name} created")


async def _get(client: EtcdClient, out: Output, args: argparse.Namespace) -> int:
    (name,) = args.args
    reply = await client.auth.user_get(name)
    if not args.detail:
        return show(out, auth_names_json(reply, "roles"), f"User: {name}",
                    "Roles:" + "".join(f" {role}" for role in reply.response))
    out.line(f"User: {name}")
    for role in reply.response:
        out.line()
        if code := show_role(out, role, await client.auth.role_get(role)):
            return code
    return 0


async def _list(client: EtcdClient, out: Output, args: argparse.Namespace) -> int:
    reply = await client.auth.user_list()
    return show(out, auth_names_json(reply, "users"), *reply.response)


async def _delete(client: EtcdClient, out: Output, args: argparse.Namespace) -> int:
    (name,) = args.args
    return show_header(out, await client.auth.user_delete(name), f"User {name} deleted")


async def _passwd(client: EtcdClient, out: Output, args: argparse.Namespace) -> int:
    (name,) = args.args
    try:
        password = _new_password(name, args.interactive)
    except ConfigError as error:
        return usage_error(str(error))
    return show_header(out, await client.auth.user_change_password(name, password), "Password updated")


async def _grant_role(client: EtcdClient, out: Output, args: argparse.Namespace) -> int:
    user, role = args.args
    header = await client.auth.user_grant_role(user, role)
    return show_header(out, header, f"Role {role} is granted to user {user}")


async def _revoke_role(client: EtcdClient, out: Output, args: argparse.Namespace) -> int:
    user, role = args.args
    header = await client.auth.user_revoke_role(user, role)
    return show_header(out, header, f"Role {role} is revoked from user {user}")
