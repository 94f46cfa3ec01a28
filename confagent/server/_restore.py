"""Restore a saved snapshot into a new data directory: etcdctl 3.4's ``snapshot restore``, offline.

The directory written is one that ``confagent store``, given the same ``--name``,
``--initial-cluster``, ``--initial-cluster-token`` and ``--initial-advertise-peer-urls``,
recovers as a member of a *new* cluster holding the snapshot's keys, revision and
leases; member and cluster IDs are derived from those flags, as etcd derives them::

    DATA_DIR/member/snap/<index>-<term>.snap   the saved payload at (RESTORED_INDEX, RESTORED_TERM),
                                               its membership the new cluster's voters
    DATA_DIR/member/wal/<seq>-<index>.wal      a log starting at that snapshot, committed up to it
    DATA_DIR/member/identity.json              the new member and cluster IDs

Restoring every member of a cluster from the same file, each with its own ``--name``,
gives members that agree on that state and elect a leader among themselves.

Rules:

1. Nothing is written before the file passed its checks (``read_saved_snapshot``) and
   the flags name this member consistently (etcd's messages otherwise).
2. An existing data directory is refused unless it is empty, with etcd's message
   ``data-dir "DIR" exists`` (etcd 3.4 refuses an empty one too; accepting it allows a
   mount point).
3. ``member/`` is built under a stage name inside the data directory and renamed into
   place last, then the directory is fsynced: a crash leaves no half-restored member.
4. The payload (the key-value state, no member table) is copied as it is; the new
   membership is in the snapshot metadata and ``identity.json``, and the member table
   of a node opening it comes from its flags (``membership._membership`` rule 4).
5. A file etcd 3.4 saved (``etcdctl snapshot save``, or a member's ``member/snap/db``
   with ``--skip-hash-check``) is read whole and checked as etcdctl checks it
   (``storage.read_etcd_snapshot``); its keys with their whole retained history, the
   revision and compaction point, leases with their keys, users and roles become the
   payload (``wire.etcd_store_state``), and its old membership is dropped as in rule 4.
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from confagent import wire
from confagent.errors import ConfigError, StorageError
from confagent.fsutil import fsync_directory
from confagent.raft import ConfState, HardState, SnapshotMeta
from confagent.server._bootstrap import initial_members_of
from confagent.server.membership import cluster_id_of
from confagent.server.node import wrap_auth
from confagent.server.storage import (
    Identity,
    MemberDirs,
    SnapshotFiles,
    Wal,
    is_etcd_snapshot,
    load_or_keep_identity,
    read_etcd_snapshot,
    read_saved_snapshot,
    storage_errors,
)
from confagent.settings import StoreConfig

__all__ = ["RESTORED_INDEX", "RESTORED_TERM", "RestoreConfig", "restore_snapshot"]

RESTORED_INDEX = 1
"""The Raft index a restored member's log starts after (a new cluster's history)."""
RESTORED_TERM = 1


@dataclass(frozen=True, slots=True)
class RestoreConfig:
    """``snapshot restore``'s flags, with etcdctl 3.4's names and defaults."""

    snapshot_path: Path
    data_dir: Path | None = None
    """Default: ``NAME.etcd``, as etcd's."""
    name: str = "default"
    initial_cluster: str = "default=http://localhost:2380"
    initial_cluster_token: str = "etcd-cluster"
    initial_advertise_peer_urls: tuple[str, ...] = ("http://localhost:2380",)
    skip_hash_check: bool = False

    @property
    def resolved_data_dir(self) -> Path:
        return self.data_dir or Path(f"{self.name}.etcd")

    def new_cluster(self) -> tuple[Identity, ConfState]:
        """This member's identity and the new cluster's voters, derived from the flags.

        Raises:
            ConfigError: ``--initial-cluster`` is malformed, lacks ``--name``, or gives this
                member other peer URLs than ``--initial-advertise-peer-urls``.
        """
        store = StoreConfig(name=self.name, data_dir=self.data_dir,
                            initial_advertise_peer_urls=self.initial_advertise_peer_urls,
                            initial_cluster=self.initial_cluster,
                            initial_cluster_token=self.initial_cluster_token)
        members = initial_members_of(store)
        me = next((m for m in members if m.name == self.name), None)
        if me is None:
            raise ConfigError(f"couldn't find local name {self.name!r} in the initial cluster "
                              f"configuration")
        if sorted(me.peer_urls) != sorted(self.initial_advertise_peer_urls):
            raise ConfigError(
                f"--initial-cluster has {self.name}={','.join(me.peer_urls)} but missing from "
                f"--initial-advertise-peer-urls={','.join(self.initial_advertise_peer_urls)}")
        voters = tuple(sorted(m.member_id for m in members))
        return Identity(me.member_id, cluster_id_of(voters)), ConfState(voters=voters)


def restore_snapshot(config: RestoreConfig) -> Identity:
    """Write a new data directory from a saved snapshot (module rules); the member's identity.

    Raises:
        StorageError: the snapshot file (confagent's or etcd's) is unreadable or fails its
            checks, or the data directory cannot be written (nothing is left in it then).
        ConfigError: the flags are inconsistent, or the data directory exists and is not empty.
    """
    identity, voters = config.new_cluster()
    data_dir = config.resolved_data_dir
    if data_dir.exists() and (not data_dir.is_dir() or any(data_dir.iterdir())):
        raise ConfigError(f'data-dir "{data_dir}" exists')
    payload = _payload(config.snapshot_path, config.skip_hash_check)
    meta = SnapshotMeta(index=RESTORED_INDEX, term=RESTORED_TERM, conf_state=voters)
    with storage_errors(f"restore: cannot write {data_dir}"):
        if not data_dir.exists():
            data_dir.mkdir(mode=0o700, parents=True)
            fsync_directory(data_dir.parent)
        stage = Path(tempfile.mkdtemp(prefix=".restore-", suffix=".stage", dir=data_dir))
        try:
            _write_member(stage, meta, payload, identity)
            MemberDirs.of(stage).member.rename(MemberDirs.of(data_dir).member)
        finally:
            shutil.rmtree(stage, ignore_errors=True)
        fsync_directory(data_dir)
    return identity


def _payload(path: Path, skip_hash_check: bool) -> bytes:
    """The snapshot payload in the file ``path``: confagent's saved snapshot, or etcd's (rule 5)."""
    try:
        content = path.read_bytes()
    except OSError as error:
        raise StorageError(f"{path}: cannot read the snapshot: {error.strerror}") from error
    if not is_etcd_snapshot(content):
        return read_saved_snapshot(path, skip_hash_check=skip_hash_check).image.data
    database = read_etcd_snapshot(path, content, skip_hash_check=skip_hash_check)
    return wrap_auth(database.auth, wire.etcd_store_state(database).encode())


def _write_member(data_dir: Path, meta: SnapshotMeta, payload: bytes, identity: Identity) -> None:
    """A member directory under ``data_dir`` whose log starts at the snapshot ``meta``."""
    SnapshotFiles(MemberDirs.of(data_dir).snap).save(meta, payload)
    wal, _ = Wal.open(data_dir)
    try:
        wal.mark_snapshot(meta)
        wal.append(HardState(term=meta.term, vote=0, commit=meta.index), ())
        wal.sync()
    finally:
        wal.close()
    load_or_keep_identity(data_dir, identity)
