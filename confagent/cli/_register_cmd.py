"""``confagent register KEY VALUE --ttl N``: keep a key in the store while this process runs.

An instance announces itself (``/services/web/<id>`` = ``host:port``) for as
long as it lives: the key is put with a lease that is renewed every TTL/3 and
put again with a new lease after a store outage longer than the TTL
(:class:`~confagent.client.Registration`). One log line on stderr when the key
is registered, re-registered or lost. SIGTERM or SIGINT revoke the lease, so
the key goes at once, and exit 0; a process killed outright leaves its key to
expire within the TTL. Endpoints and TLS come from the global flags, as for
``confagent kv``. The client (httpx) and structlog are imported when the
command runs, not when it registers.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
from typing import TYPE_CHECKING

from confagent.cli._common import Subparsers, add_global_options, run_client_command
from confagent.cli._log_level import add_log_level
from confagent.cli._output import Output

if TYPE_CHECKING:
    from confagent.client import EtcdClient, RegistrationEvent

__all__ = ["DEFAULT_TTL_S", "register"]

DEFAULT_TTL_S = 10

_MESSAGES = {
    # RegistrationEventKind's member names (the client is not imported at registration)
    "REGISTERED": "registered",
    "REREGISTERED": "re-registered",
    "LOST": "registration lost",
    "REVOKED": "registration revoked",
    "NOT_REVOKED": "registration not revoked; the key expires with its lease",
}
_WARNINGS = frozenset({"LOST", "NOT_REVOKED"})


def register(subparsers: Subparsers) -> None:
    help_text = "keep KEY=VALUE in the store under a lease while this runs (self-registration)"
    parser = subparsers.add_parser("register", help=help_text, description=help_text)
    add = parser.add_argument
    add("key", help="the key to register, e.g. /services/web/web-1")
    add("value", help="its value, e.g. 10.0.0.11:8080")
    add("--ttl", type=_ttl_s, default=DEFAULT_TTL_S, metavar="SECONDS",
        help=f"the lease's TTL: the key outlives a killed process by at most this (default: {DEFAULT_TTL_S})")
    add_log_level(parser)
    add_global_options(parser, suppress=True)
    parser.set_defaults(handler=lambda args: run_client_command(_register, args))


def _ttl_s(text: str) -> int:
    try:
        ttl_s = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid TTL {text!r}: whole seconds expected") from None
    if ttl_s < 1:
        raise argparse.ArgumentTypeError(f"invalid TTL {ttl_s}: at least 1 second")
    return ttl_s


async def _register(client: EtcdClient, out: Output, args: argparse.Namespace) -> int:
    """Run the registration until SIGTERM or SIGINT; 0 then (the lease is revoked on the way out)."""
    import structlog  # noqa: PLC0415 - see the module docstring

    from confagent.cli._logs import configure_logging  # noqa: PLC0415 - see the module docstring
    from confagent.client import Registration  # noqa: PLC0415 - see the module docstring

    configure_logging(args.log_level)
    log = structlog.get_logger("confagent.register")

    def on_event(event: RegistrationEvent) -> None:
        fields = {"key": event.key.decode(errors="replace"), "lease": f"{event.lease_id:016x}",
                  "ttl": event.ttl_s}
        if event.reason:
            fields["reason"] = event.reason
        emit = log.warning if event.kind.name in _WARNINGS else log.info
        emit(_MESSAGES[event.kind.name], **fields)

    registration = Registration(client, args.key.encode(), args.value.encode(), ttl_s=args.ttl,
                                on_event=on_event)
    task = asyncio.create_task(registration.run())
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, task.cancel)
    try:
        await task
    except asyncio.CancelledError:
        return 0
    finally:
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(signum)
