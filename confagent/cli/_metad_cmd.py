"""``confagent metad``: the metadata service — metad's flags, with dashes.

``--backend embedded|etcd --node URL --prefix P --group G --listen HOST:PORT
--listen-manage HOST:PORT --xff``, plus ``--trusted-proxies CIDR,...`` (the
proxies whose ``X-Forwarded-For`` is believed; ``--xff`` alone means
loopback proxies), the embedded store's ``--data-dir`` and
``--listen-client-urls``, etcd's TLS files and the credentials the agent's
etcd backend takes (``--username``, ``--password``, ``--password-file``,
``--basic-auth``, ``$CONFAGENT_ETCD_PASSWORD``: flags derived from
``BackendConfig``'s declarations), and the bounds ``--wait-max``
(longest long-poll) and ``--write-visible-timeout``. Runs until SIGTERM or
SIGINT; exit 0 on a clean stop, 1 on an error.

The service (uvicorn, the client), structlog and uvloop are imported when
the command runs, not when it registers; so the listen addresses left out
take ``MetadConfig``'s defaults, which the help repeats.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from confagent.backends import BackendConfig
from confagent.cli._common import Subparsers, duration_s
from confagent.cli._log_level import add_log_level
from confagent.cli._settings_flags import add_setting_flags, settings_from_flags

if TYPE_CHECKING:
    from confagent.metad import MetadConfig

__all__ = ["register"]

DEFAULT_DATA_DIR = Path("/var/lib/confagent/metad")
_CREDENTIALS = ("basic_auth", "username", "password", "password_file")
"""The etcd backend's settings whose flags metad takes as the agent does."""


def register(subparsers: Subparsers) -> None:
    parser = subparsers.add_parser(
        "metad", help="serve host metadata (metad's API): /self for each host, a management API",
        description="A metadata service over the embedded store or etcd: hosts read their own "
                    "metadata from the data port (GET /self/...), operators write data, host "
                    "mappings and access rules through the management API (/v1/data, /v1/mapping, "
                    "/v1/rule).")
    add = parser.add_argument
    add("--backend", choices=("embedded", "etcd"), default="embedded", help="the store (default: embedded)")
    add("--node", dest="nodes", action="append", default=[], metavar="URL",
        help="etcd backend: an endpoint; repeat for several (default: http://127.0.0.1:2379)")
    add("--data-dir", type=Path, default=None,
        help=f"embedded backend: the store's data directory (default: {DEFAULT_DATA_DIR})")
    add("--listen-client-urls", default="", metavar="URLS",
        help="embedded backend: also serve the etcd API here (comma-separated URLs)")
    add("--client-cert", type=Path, help="etcd backend: TLS client certificate")
    add("--client-key", type=Path, help="etcd backend: TLS client key")
    add("--client-ca-keys", dest="client_cakeys", type=Path, help="etcd backend: CA bundle")
    add_setting_flags(parser, BackendConfig, BackendConfig(), only=_CREDENTIALS)
    add("--prefix", default="", help="the store key prefix of the data (default: none)")
    add("--group", default="default", help="the namespace of mappings and rules (default: default)")
    add("--listen", metavar="HOST:PORT", help="the data port (default: :80, every interface)")
    add("--listen-manage", metavar="HOST:PORT",
        help="the management API; it has no authentication (default: 127.0.0.1:9611)")
    add("--xff", action="store_true",
        help="take the client address from X-Forwarded-For, when sent by a trusted proxy "
             "(loopback unless --trusted-proxies is given)")
    add("--trusted-proxies", default="", metavar="CIDR,...",
        help="the proxies whose X-Forwarded-For is honoured (implies --xff)")
    add("--wait-max", type=duration_s, default=300.0, metavar="DURATION",
        help="the longest a ?wait=true request is held before it is answered unchanged (default: 5m)")
    add("--write-visible-timeout", type=duration_s, default=5.0, metavar="DURATION",
        help="the longest a write waits to be visible before it is answered (default: 5s)")
    add_log_level(parser)
    parser.set_defaults(handler=_run)


def config_from(args: argparse.Namespace) -> MetadConfig:
    """The service's settings from the parsed flags (validated when the server starts)."""
    from confagent.backends import embedded_store  # noqa: PLC0415 - see the module docstring
    from confagent.metad import MetadConfig, ServiceLimits  # noqa: PLC0415 - see the module docstring

    data_dir = args.data_dir
    if args.backend == "embedded" and data_dir is None:
        data_dir = DEFAULT_DATA_DIR
    addresses = {name: getattr(args, name) for name in ("listen", "listen_manage")
                 if getattr(args, name) is not None}
    credentials = settings_from_flags(BackendConfig, argparse.Namespace(
        **{field: getattr(args, field) for field in _CREDENTIALS}))
    store = replace(credentials, backend=args.backend, nodes=tuple(args.nodes), client_cert=args.client_cert,
                    client_key=args.client_key, client_cakeys=args.client_cakeys,
                    store=embedded_store(data_dir, _split(args.listen_client_urls)))
    return MetadConfig(
        store=store, prefix=args.prefix,
        group=args.group, xff=args.xff, trusted_proxies=_split(args.trusted_proxies),
        limits=ServiceLimits(wait_max_s=args.wait_max, visible_timeout_s=args.write_visible_timeout),
        **addresses)


def _split(text: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in text.split(",") if part.strip())


def _run(args: argparse.Namespace) -> int:
    import uvloop  # noqa: PLC0415 - see the module docstring

    from confagent.cli._logs import configure_logging  # noqa: PLC0415 - see the module docstring

    configure_logging(args.log_level)
    config = config_from(args)
    config.validate()
    uvloop.run(_serve(config))
    return 0


async def _serve(config: MetadConfig) -> None:
    import structlog  # noqa: PLC0415 - see the module docstring

    from confagent.backends import CacheRecovered, CacheTrouble  # noqa: PLC0415 - see the module docstring
    from confagent.metad import MetadServer  # noqa: PLC0415 - see the module docstring

    log = structlog.get_logger("confagent.metad")

    def trouble(event: CacheTrouble | CacheRecovered) -> None:
        if isinstance(event, CacheRecovered):
            log.info("store recovered", revision=event.revision, failures=event.failures,
                     down_s=round(event.down_s, 3))
        else:
            log.warning("store trouble", error=str(event.error), retry_in_s=round(event.retry_in_s, 3))

    server = MetadServer(config, on_trouble=trouble)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    stopped = asyncio.create_task(stop.wait())
    starting = asyncio.create_task(server.start())  # waits for the store's first snapshot
    try:
        await asyncio.wait((starting, stopped), return_when=asyncio.FIRST_COMPLETED)
        if not starting.done():
            return  # stopped while waiting for the store
        starting.result()
        log.info("serving", data=server.data_url, manage=server.manage_url, backend=config.store.backend,
                 group=config.group, prefix=config.prefix or "/", revision=server.service.state.revision)
        ended = asyncio.create_task(server.wait_stopped())
        await asyncio.wait((stopped, ended), return_when=asyncio.FIRST_COMPLETED)
        ended.cancel()
    finally:
        stopped.cancel()
        starting.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await starting
        await server.stop()
