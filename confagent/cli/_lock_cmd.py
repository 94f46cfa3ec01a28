"""``confagent lock NAME [COMMAND ...]`` and ``confagent elect NAME [PROPOSAL]``: etcdctl's, over the
lock and election services.

``lock`` takes the lock NAME under a session of ``--ttl`` seconds (etcdctl's
10). With a COMMAND it runs it holding the lock, ``ETCD_LOCK_KEY`` and
``ETCD_LOCK_REV`` in its environment (the revision is the lock's fencing
token: ``confagent put --fenced`` in the command writes only while the lock
is held), then unlocks; a command that fails is ``Error: exit status N`` (or
``Error: signal: NAME``), exit 1, as etcdctl says it. SIGINT and SIGTERM are
passed on to the command, which ends first. Without a COMMAND it prints the
lock's key as ``get`` prints it and holds the lock until SIGINT or SIGTERM
(unlock, exit 0), or until its session is lost (``Error: session expired``).

``elect NAME PROPOSAL`` campaigns, prints the leader's key and value once
elected, and leads until SIGINT or SIGTERM (resign, exit 0) or until its
session is lost (``Error: elect: session expired``). ``elect --listen NAME``
prints the leader's key and value each time it changes, until interrupted.

A signal while waiting for the lock or the election ends the wait: the key
queued is released, ``Error: context canceled``, exit 1. Usage errors are
etcdctl's (its message, exit 128). The client is imported when a command
runs, not when it registers.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
from collections.abc import Awaitable, Iterator
from contextlib import aclosing, contextmanager
from typing import TYPE_CHECKING, TypeVar

from confagent.cli._common import Subparsers, add_global_options, run_client_command, usage_error
from confagent.cli._etcdctl_json import get_json
from confagent.cli._output import Output
from confagent.errors import ClientError, ConfagentError
from confagent.kv import KeyValue, RangeResponse
from confagent.wire import Reply

if TYPE_CHECKING:
    from confagent.client import EtcdClient, Lock

__all__ = ["DEFAULT_LOCK_TTL_S", "register"]

T = TypeVar("T")

DEFAULT_LOCK_TTL_S = 10
"""etcdctl's ``lock --ttl`` default."""
_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def register(subparsers: Subparsers) -> None:
    help_text = "acquire a named lock (while COMMAND runs, or until interrupted)"
    lock = subparsers.add_parser("lock", help=help_text, description=help_text)
    lock.add_argument("name", nargs="?", default="", metavar="NAME")
    lock.add_argument("command", nargs="*", metavar="COMMAND",
                      help="run this holding the lock, with ETCD_LOCK_KEY and ETCD_LOCK_REV set")
    lock.add_argument("--ttl", type=int, default=DEFAULT_LOCK_TTL_S, metavar="SECONDS",
                      help=f"timeout for the session (default: {DEFAULT_LOCK_TTL_S})")
    add_global_options(lock, suppress=True)
    lock.set_defaults(handler=lambda args: run_client_command(_lock, args))

    help_text = "observe and take part in a leader election"
    elect = subparsers.add_parser("elect", help=help_text, description=help_text)
    elect.add_argument("name", nargs="?", default="", metavar="NAME")
    elect.add_argument("proposal", nargs="?", default=None, metavar="PROPOSAL")
    elect.add_argument("-l", "--listen", action="store_true", help="observation mode")
    add_global_options(elect, suppress=True)
    elect.set_defaults(handler=lambda args: run_client_command(_elect, args))


@contextmanager
def _signals() -> Iterator[asyncio.Event]:
    """An event set by SIGINT or SIGTERM while the block runs."""
    loop, received = asyncio.get_running_loop(), asyncio.Event()
    for signum in _SIGNALS:
        loop.add_signal_handler(signum, received.set)
    try:
        yield received
    finally:
        for signum in _SIGNALS:
            loop.remove_signal_handler(signum)


async def _unless(stop: asyncio.Event, call: Awaitable[T]) -> T:
    """``call``'s result, unless ``stop`` is set first: then it is cancelled, and 'context canceled'."""
    task = asyncio.ensure_future(call)
    stopped = asyncio.ensure_future(stop.wait())
    try:
        await asyncio.wait((task, stopped), return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopped.cancel()
        if not task.done():
            task.cancel()
            await asyncio.wait((task,))
    if task.cancelled():
        raise ClientError("context canceled")
    return task.result()


async def _first_set(*events: asyncio.Event) -> None:
    waits = [asyncio.ensure_future(event.wait()) for event in events]
    try:
        await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for wait in waits:
            wait.cancel()


def _print_get(out: Output, reply: Reply[RangeResponse]) -> None:
    if out.format == "json":
        out.json(get_json(reply))
    else:
        out.get(reply.response)


async def _lock(client: EtcdClient, out: Output, args: argparse.Namespace) -> int:
    if not args.name:
        return usage_error("lock takes a lock name argument and an optional command to execute")
    if not args.command:
        out.require("simple", "json")
    with _signals() as stop:
        lock = client.lock(args.name.encode(), ttl_s=args.ttl)
        await _unless(stop, lock.__aenter__())
        try:
            if args.command:
                return await _run_holding(lock, args.command)
            reply = await client.get(lock.key)
            if not reply.response.kvs:
                raise ClientError("lock lost on init")
            _print_get(out, reply)
            await _first_set(stop, lock.lost)
            if not stop.is_set():
                raise ClientError("session expired")
            return 0
        finally:
            await lock.__aexit__(None, None, None)


async def _run_holding(lock: Lock, command: list[str]) -> int:
    """Run ``command`` with the lock's key and revision in its environment (module docstring)."""
    from confagent.client import LOCK_KEY_ENV, LOCK_REV_ENV  # noqa: PLC0415 - see the module docstring

    env = {**os.environ, LOCK_KEY_ENV: lock.key.decode(errors="surrogateescape"),
           LOCK_REV_ENV: str(lock.revision)}
    try:
        child = await asyncio.create_subprocess_exec(*command, env=env)
    except FileNotFoundError:
        raise ClientError(f'exec: "{command[0]}": executable file not found in $PATH') from None
    except OSError as error:
        raise ClientError(f'exec: "{command[0]}": {error.strerror}') from None
    loop = asyncio.get_running_loop()
    for signum in _SIGNALS:
        loop.add_signal_handler(signum, child.send_signal, signum)
    lost = asyncio.ensure_future(_warn_when_lost(lock))
    try:
        code = await child.wait()
    finally:
        lost.cancel()
        for signum in _SIGNALS:
            loop.remove_signal_handler(signum)
    if code < 0:
        name = signal.strsignal(-code) or f"signal {-code}"
        raise ClientError(f"signal: {name[:1].lower()}{name[1:]}")
    if code > 0:
        raise ClientError(f"exit status {code}")
    return 0


async def _warn_when_lost(lock: Lock) -> None:
    await lock.lost.wait()
    print(f"confagent lock: the session of {lock.key.decode(errors='replace')} was lost: the lock is no "
          f"longer held, and writes fenced by ETCD_LOCK_REV={lock.revision} are refused", file=sys.stderr)


async def _elect(client: EtcdClient, out: Output, args: argparse.Namespace) -> int:
    if not args.name:
        return usage_error("elect takes one election name argument and an optional proposal argument")
    if args.proposal is None and not args.listen:
        return usage_error("no proposal argument but -l not set")
    if args.proposal is not None and args.listen:
        return usage_error("proposal given but -l is set")
    out.require("simple", "json")
    with _signals() as stop:
        if args.listen:
            return await _unless_quiet(stop, _observe(client, out, args.name.encode()))
        return await _campaign(client, out, stop, args.name.encode(), args.proposal.encode())


async def _unless_quiet(stop: asyncio.Event, call: Awaitable[int]) -> int:
    """``call``'s exit code, or 0 once ``stop`` is set (etcdctl's observer ends quietly)."""
    try:
        return await _unless(stop, call)
    except ClientError:
        if stop.is_set():
            return 0
        raise


async def _observe(client: EtcdClient, out: Output, name: bytes) -> int:
    async with aclosing(client.observe(name)) as leaders:
        try:
            async for reply in leaders:
                _print_leader(out, reply)
        except ConfagentError:
            pass
    raise ClientError("elect: observer lost")


def _print_leader(out: Output, reply: Reply[KeyValue]) -> None:
    _print_get(out, Reply(reply.header, RangeResponse(kvs=(reply.response,), count=1)))


async def _campaign(client: EtcdClient, out: Output, stop: asyncio.Event, name: bytes,
                    proposal: bytes) -> int:
    election = client.election(name)
    async with election:
        leader = await _unless(stop, election.campaign(proposal))
        _print_get(out, await client.get(leader.key))
        await _first_set(stop, election.lost)
        if not stop.is_set():
            raise ClientError("elect: session expired")
    return 0
