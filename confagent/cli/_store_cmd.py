"""``confagent store``: run an embedded store member with etcd's flags, meanings and defaults.

The server (uvicorn) and uvloop are imported when the command runs, not when it registers.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
from collections.abc import Coroutine
from pathlib import Path
from typing import TYPE_CHECKING, Any

from confagent.cli._common import duration_s
from confagent.cli._log_level import add_log_level

if TYPE_CHECKING:
    from confagent.server import StoreConfig

__all__ = ["register", "store_config_from"]


def _urls(value: str) -> tuple[str, ...]:
    return tuple(u.strip() for u in value.split(",") if u.strip())


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "store", help="run an etcd-compatible store member",
        description="Run a store member. Flags are etcd's, with etcd's meanings and defaults.")
    add = parser.add_argument
    add("--name", default="default", help="human-readable name of this member (default: default)")
    add("--data-dir", type=Path, help="path to the data directory (default: NAME.etcd)")
    add("--listen-client-urls", type=_urls, default=("http://127.0.0.1:2379",),
        help="URLs to listen on for client traffic (default: http://127.0.0.1:2379)")
    add("--advertise-client-urls", type=_urls, default=(),
        help="client URLs to advertise to the rest of the cluster (default: the listen client URLs)")
    add("--listen-peer-urls", type=_urls, default=("http://127.0.0.1:2380",),
        help="URLs to listen on for peer traffic (default: http://127.0.0.1:2380)")
    add("--initial-advertise-peer-urls", type=_urls, default=(),
        help="this member's peer URLs to advertise to the rest of the cluster "
             "(default: the listen peer URLs)")
    add("--initial-cluster", default="",
        help="initial cluster configuration for bootstrapping, NAME=PEER_URL[,...] "
             "(default: this member alone)")
    add("--initial-cluster-token", default="etcd-cluster",
        help="initial cluster token for the cluster during bootstrap (default: etcd-cluster)")
    add("--initial-cluster-state", choices=("new", "existing"), default="new",
        help="new for a new cluster, existing to join one (default: new)")
    add("--cert-file", type=Path, help="path to the client server TLS cert file")
    add("--key-file", type=Path, help="path to the client server TLS key file")
    add("--client-cert-auth", action="store_true", help="enable client cert authentication")
    add("--trusted-ca-file", type=Path, help="path to the client server TLS trusted CA file")
    add("--peer-cert-file", type=Path, help="path to the peer server TLS cert file")
    add("--peer-key-file", type=Path, help="path to the peer server TLS key file")
    add("--peer-client-cert-auth", action="store_true", help="enable peer client cert authentication")
    add("--peer-trusted-ca-file", type=Path, help="path to the peer server TLS trusted CA file")
    add("--snapshot-count", type=int, default=20_000,
        help="applied entries between snapshots (default: 20000)")
    add("--experimental-watch-progress-notify-interval", type=duration_s, default=600.0,
        metavar="DURATION", help="interval of progress notifications to watchers that ask, "
        "as etcd's flag: 10m, 30s, 500ms (default: 10m)")
    add_log_level(parser)
    parser.set_defaults(handler=_run)


def store_config_from(args: argparse.Namespace) -> StoreConfig:
    from confagent.server import PeerTls, StoreConfig, TlsConfig  # noqa: PLC0415 - see the module docstring

    tls = None
    if args.cert_file or args.key_file:
        tls = TlsConfig(cert_file=args.cert_file or Path(), key_file=args.key_file or Path(),
                        trusted_ca_file=args.trusted_ca_file,
                        client_cert_auth=args.client_cert_auth)
    peer_tls = None
    if args.peer_cert_file or args.peer_key_file:
        peer_tls = PeerTls(cert_file=args.peer_cert_file or Path(),
                           key_file=args.peer_key_file or Path(),
                           trusted_ca_file=args.peer_trusted_ca_file,
                           client_cert_auth=args.peer_client_cert_auth)
    return StoreConfig(
        name=args.name, data_dir=args.data_dir,
        listen_client_urls=args.listen_client_urls,
        advertise_client_urls=args.advertise_client_urls,
        listen_peer_urls=args.listen_peer_urls,
        initial_advertise_peer_urls=args.initial_advertise_peer_urls,
        initial_cluster=args.initial_cluster,
        initial_cluster_token=args.initial_cluster_token,
        initial_cluster_state=args.initial_cluster_state,
        tls=tls, peer_tls=peer_tls, snapshot_entries=args.snapshot_count,
        watch_progress_notify_interval_s=args.experimental_watch_progress_notify_interval,
    )


def _run(args: argparse.Namespace) -> int:
    from confagent.cli._logs import configure_logging  # noqa: PLC0415 - see the module docstring

    configure_logging(args.log_level)
    config = store_config_from(args)
    config.validate()
    _run_loop(_serve(config))
    return 0


def _run_loop(main: Coroutine[Any, Any, None]) -> None:
    import uvloop  # noqa: PLC0415 - see the module docstring

    uvloop.run(main)


async def _serve(config: StoreConfig) -> None:
    from confagent.server import StoreServer  # noqa: PLC0415 - see the module docstring

    server = StoreServer(config)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await server.start()
    try:
        await server.run_until(stop)
    finally:
        await server.stop()
