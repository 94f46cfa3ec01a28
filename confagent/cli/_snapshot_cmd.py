"""``confagent snapshot save|status|restore``: etcdctl 3.4's snapshot commands and output.

- ``save FILE`` downloads one member's snapshot into ``FILE.part``, fsyncs it, renames
  it to ``FILE`` and prints ``Snapshot saved at FILE``. A download that is not whole
  (cut short, or its SHA-256 does not match) leaves neither file behind.
- ``status FILE`` checks the file and prints its hash, revision, total keys and total
  size (``-w simple|json|table``, etcdctl's columns and JSON names); of a file etcd
  saved, etcdctl's figures.
- ``restore FILE`` writes a new data directory from the file, confagent's or one etcd
  3.4 saved, with etcdctl's flags and defaults; ``confagent store`` with the same flags
  then starts a new cluster from it (rules in ``confagent.server._restore``).

The server and the client (uvicorn, httpx) are imported when a command runs, not
when it registers.
"""

from __future__ import annotations

import argparse
import contextlib
import os
from collections.abc import AsyncGenerator, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from confagent.cli._common import Subparsers, add_global_options, run_client_command
from confagent.cli._output import Output, humanize_bytes
from confagent.errors import ConfigError, StorageError
from confagent.fsutil import remove_quietly, replace_file, write_fully

if TYPE_CHECKING:
    from confagent.client import EtcdClient
    from confagent.server import SnapshotStatus

__all__ = ["register"]

_STATUS_HEADER = ("hash", "revision", "total keys", "total size")
_FILE_MODE = 0o600

# etcdctl 3.4's defaults for ``snapshot restore``.
_DEFAULT_NAME = "default"
_DEFAULT_PEER_URL = "http://localhost:2380"
_DEFAULT_CLUSTER_TOKEN = "etcd-cluster"


def register(subparsers: Subparsers) -> None:
    snapshot = subparsers.add_parser("snapshot", help="save, inspect and restore store snapshots")
    commands = snapshot.add_subparsers(dest="snapshot_command", required=True, metavar="COMMAND")
    save = _leaf(commands, "save", "store a member's snapshot in a file")
    save.set_defaults(handler=lambda args: run_client_command(_save, args))
    status = _leaf(commands, "status", "print a snapshot file's hash, revision, keys and size")
    status.set_defaults(handler=_status)
    restore = _leaf(commands, "restore", "write a new member data directory from a snapshot file")
    _add_restore_flags(restore)
    restore.set_defaults(handler=_restore)


def _leaf(commands: Subparsers, name: str, help_text: str) -> argparse.ArgumentParser:
    parser = commands.add_parser(name, help=help_text, description=help_text)
    parser.add_argument("filename", metavar="FILE", type=Path, help="the snapshot file")
    add_global_options(parser, suppress=True)
    return parser


def _add_restore_flags(parser: argparse.ArgumentParser) -> None:
    add = parser.add_argument
    add("--data-dir", type=Path, help="path to the data directory (default: NAME.etcd)")
    add("--name", default=_DEFAULT_NAME,
        help=f"human-readable name for this member (default: {_DEFAULT_NAME})")
    initial_cluster = f"{_DEFAULT_NAME}={_DEFAULT_PEER_URL}"
    add("--initial-cluster", default=initial_cluster,
        help=f"initial cluster configuration for restore bootstrap (default: {initial_cluster})")
    add("--initial-cluster-token", default=_DEFAULT_CLUSTER_TOKEN,
        help=f"initial cluster token for the cluster during restore bootstrap "
             f"(default: {_DEFAULT_CLUSTER_TOKEN})")
    add("--initial-advertise-peer-urls", default=_DEFAULT_PEER_URL,
        help=f"this member's peer URLs to advertise to the rest of the cluster "
             f"(default: {_DEFAULT_PEER_URL})")
    add("--skip-hash-check", action="store_true",
        help="ignore the snapshot's integrity hash (accept a file that has none)")


# -- save ------------------------------------------------------------------------------


async def _save(client: EtcdClient, out: Output, args: argparse.Namespace) -> int:
    if len(client.endpoints) != 1:
        raise ConfigError(f"snapshot must be requested to one selected node, not multiple "
                          f"[{' '.join(client.endpoints)}]")
    target: Path = args.filename
    part = target.with_name(target.name + ".part")
    await _write_part(client.snapshot(client.endpoints[0]), part)
    try:
        replace_file(part, target)
    except OSError as error:
        remove_quietly(part)
        raise StorageError(f"{target}: cannot rename {part} to it: {error.strerror}") from error
    out.line(f"Snapshot saved at {target}")
    return 0


async def _write_part(chunks: AsyncGenerator[bytes, None], part: Path) -> None:
    """Write every chunk to ``part`` and fsync it; on any failure, remove ``part``."""
    with _storage_errors(f"{part}: cannot create"):
        fd = os.open(part, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, _FILE_MODE)
    try:
        with _storage_errors(f"{part}: cannot write"):
            try:
                async with contextlib.aclosing(chunks):
                    async for chunk in chunks:
                        write_fully(fd, chunk)
                os.fsync(fd)
            finally:
                os.close(fd)
    except BaseException:
        remove_quietly(part)
        raise


@contextlib.contextmanager
def _storage_errors(what: str) -> Iterator[None]:
    try:
        yield
    except OSError as error:
        raise StorageError(f"{what}: {error.strerror}") from error


# -- status and restore --------------------------------------------------------------------


def _status(args: argparse.Namespace) -> int:
    from confagent.server import read_snapshot_status  # noqa: PLC0415 - see the module docstring

    out = Output(args.write_out)
    status = read_snapshot_status(args.filename)
    if out.format == "json":
        out.json(_status_json(status))
    else:
        out.rows(_STATUS_HEADER, [_status_row(status)])
    return 0


def _status_json(status: SnapshotStatus) -> dict[str, int]:
    return {"hash": status.hash, "revision": status.revision,
            "totalKey": status.total_keys, "totalSize": status.total_size}


def _status_row(status: SnapshotStatus) -> list[str]:
    return [f"{status.hash:x}", str(status.revision), str(status.total_keys),
            humanize_bytes(status.total_size)]


def _restore(args: argparse.Namespace) -> int:
    from confagent.server import RestoreConfig, restore_snapshot  # noqa: PLC0415 - see the module docstring

    peer_urls = tuple(u.strip() for u in args.initial_advertise_peer_urls.split(",") if u.strip())
    restore_snapshot(RestoreConfig(
        snapshot_path=args.filename, data_dir=args.data_dir, name=args.name,
        initial_cluster=args.initial_cluster, initial_cluster_token=args.initial_cluster_token,
        initial_advertise_peer_urls=peer_urls, skip_hash_check=args.skip_hash_check))
    return 0
