"""``read_data_dir``: a member's data directory read into its key-value state, without a member or a server;
``read_data_dir_keys``: only the keys that exist at its revision, which a one-shot reads.

A one-shot pass (``run --onetime``, ``render --check``) on the embedded store
needs the keys, not a member: starting one replays the same log, then elects
itself, binds its listeners and waits for a ReadIndex round. This reads the
newest snapshot and the log after it (``storage.read_storage``) and applies the
entries to a ``KvStore`` as a member applies them (``_entries``: one decoding
of each, the same auth checks), writing nothing and taking no lock.

Rules:
1. A lone voter's log is all committed (every entry durable there had its
   quorum of one), so every entry is applied, as the member started on the
   directory applies them once it has elected itself. The member is a lone voter
   when its newest snapshot names it as the only voter, or names none (a member
   bootstrapped alone: the caller knows it from its settings), and no membership
   change follows in the log. Otherwise only the entries the log records as
   committed are applied, and ``DataDirView.lone_voter`` says the state may
   trail its cluster's (a caller then asks the cluster instead).
2. A torn tail is left out, as the member cuts it; a newer snapshot file that
   does not read back whole is passed over for an older one, as the member sets
   it aside (here nothing is renamed).
3. A directory a running member holds is read all the same: what it sees is
   what that member has made durable, which includes every write it has
   acknowledged (a write is answered after its fsync), and perhaps a few
   committed but not yet answered. A segment or snapshot file released while it
   is read makes it read again, up to ``READ_ATTEMPTS`` times.
4. Errors name the path: no store's data there, a file that cannot be read, a
   damaged log or snapshot (``StorageError``).
5. Lease deadlines are the leader's and are not kept on disk: keys under a lease
   stay until a revoke is in the log, as the member started on the directory
   serves them (it gives every lease its full TTL again).
6. ``read_data_dir_keys`` gives the keys and values ``read_data_dir``'s state
   holds at its revision. When no store command is to be applied after the
   snapshot (a member that stopped took one at its applied index: ``node`` rule
   9), they are read from the snapshot's bytes without restoring the store
   (``kv.LiveKeys.of_snapshot``: no version, index or history is built);
   otherwise the state is replayed as ``read_data_dir`` does and its keys read.
   That first way loads no more than it reads with: the log's and the snapshot's
   decoding, the payload's key-value part (``_payload.kv_data_of``: users and
   roles passed over) and ``LiveKeys``; the store, the auth state and the store's
   messages are imported where the state is replayed (test_imports.py holds it).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from confagent.errors import StorageError, StoreError
from confagent.kv import LiveKeys
from confagent.raft import Entry, SnapshotMeta
from confagent.server.node._entries import EntryKind, apply_store_command, entry_kind
from confagent.server.node._formats import REQUEST_ID_BYTES
from confagent.server.node._payload import Payload, kv_data_of
from confagent.server.storage import Identity, RecoveryReport, StoredState, read_identity, read_storage

if TYPE_CHECKING:
    from confagent.kv import KvStore
    from confagent.server.node._auth import MemberAuth

__all__ = ["READ_ATTEMPTS", "DataDirKeys", "DataDirView", "read_data_dir", "read_data_dir_keys"]

READ_ATTEMPTS = 3
"""How many times a directory whose files a running member released while they were read is read (rule 3)."""


@dataclass(frozen=True, slots=True)
class DataDirView:
    """A data directory's key-value state, as read (module rules)."""

    kv: KvStore
    """The state with every applied entry; nothing else holds it."""
    member_id: int
    cluster_id: int
    lone_voter: bool
    """Every entry in the log was applied (rule 1); False: only those recorded as committed."""
    applied_index: int
    report: RecoveryReport
    """What the member would repair on opening: a torn tail, broken snapshots (rule 2)."""


@dataclass(frozen=True, slots=True)
class DataDirKeys:
    """A data directory's keys at its revision, as read (rule 6); the other fields as ``DataDirView``'s."""

    keys: LiveKeys
    """Every key that exists at ``keys.revision``, with its value."""
    member_id: int
    cluster_id: int
    lone_voter: bool
    applied_index: int
    report: RecoveryReport


def read_data_dir(data_dir: Path, *, min_lease_ttl: int = 2) -> DataDirView:
    """The key-value state of the member whose data directory is ``data_dir`` (module rules). Blocking.

    Raises:
        StorageError: no store's data in ``data_dir``, or a file unreadable or damaged (names it).
    """
    identity, stored = _read(data_dir)
    return _replayed(data_dir, identity, stored, min_lease_ttl)


def read_data_dir_keys(data_dir: Path) -> DataDirKeys:
    """The keys at the revision of the member whose data directory is ``data_dir`` (rule 6). Blocking.

    Raises:
        StorageError: no store's data in ``data_dir``, or a file unreadable or damaged (names it).
    """
    identity, stored = _read(data_dir)
    meta, state = stored.report.snapshot, stored.state
    lone = _lone_voter(identity.member_id, state.snapshot, state.entries)
    tail = _to_apply(state.entries, lone, state.hard_state.commit)
    if meta is None or stored.snapshot_data is None or \
            any(entry_kind(entry) is EntryKind.STORE for entry in tail):
        view = _replayed(data_dir, identity, stored, 2)
        return DataDirKeys(LiveKeys.of_store(view.kv), view.member_id, view.cluster_id, view.lone_voter,
                           view.applied_index, view.report)
    with _snapshot_named(data_dir, meta):
        keys = LiveKeys.of_snapshot(kv_data_of(stored.snapshot_data))
    applied = tail[-1].index if tail else meta.index
    return DataDirKeys(keys, identity.member_id, identity.cluster_id, lone, applied, stored.report)


def _read(data_dir: Path) -> tuple[Identity, StoredState]:
    """The directory's identity and what a member would start from (rules 2-4)."""
    identity = read_identity(data_dir)
    if identity is None:
        what = "does not exist" if not data_dir.exists() else \
            "holds no store's data (no member/identity.json)"
        raise StorageError(f"data_dir: {data_dir} {what}")
    return identity, _read_storage(data_dir)


def _replayed(data_dir: Path, identity: Identity, stored: StoredState, min_lease_ttl: int) -> DataDirView:
    """The snapshot's state with the log's entries applied (rule 1)."""
    kv, auth = _snapshot_state(data_dir, stored, min_lease_ttl)
    state = stored.state
    lone = _lone_voter(identity.member_id, state.snapshot, state.entries)
    applied = state.snapshot.index if state.snapshot is not None else 0
    for entry in _to_apply(state.entries, lone, state.hard_state.commit):
        _apply(kv, auth, entry)
        applied = entry.index
    return DataDirView(kv, identity.member_id, identity.cluster_id, lone, applied, stored.report)


def _to_apply(entries: tuple[Entry, ...], lone: bool, commit: int) -> tuple[Entry, ...]:
    """The entries applied: a lone voter's every one, another's up to its recorded commit (rule 1)."""
    if lone or not entries or entries[-1].index <= commit:
        return entries
    return tuple(entry for entry in entries if entry.index <= commit)


def _read_storage(data_dir: Path) -> StoredState:
    """``read_storage``, again when a file went away meanwhile (rule 3)."""
    for attempt in range(1, READ_ATTEMPTS + 1):
        try:
            return read_storage(data_dir)
        except FileNotFoundError as error:
            if attempt == READ_ATTEMPTS:
                raise StorageError(f"data_dir: {data_dir}: {error.filename} went away while read, "
                                   f"{READ_ATTEMPTS} times (a member releasing its files)") from error
        except OSError as error:
            raise StorageError(f"data_dir: {data_dir}: cannot read {error.filename}: {error.strerror}") \
                from error
    raise AssertionError("unreachable")


def _snapshot_state(data_dir: Path, stored: StoredState, min_lease_ttl: int) -> tuple[KvStore, MemberAuth]:
    """The key-value and auth state of the snapshot the log replays from (an empty store without one)."""
    from confagent.kv import KvStore  # noqa: PLC0415 - rule 6
    from confagent.server.node._auth import MemberAuth  # noqa: PLC0415 - rule 6

    meta = stored.report.snapshot
    if stored.snapshot_data is None or meta is None:
        return KvStore(min_lease_ttl=min_lease_ttl), MemberAuth()
    with _snapshot_named(data_dir, meta):
        payload = Payload.read(stored.snapshot_data)
        kv = KvStore.restore(payload.kv_data, min_lease_ttl=min_lease_ttl)
    return kv, MemberAuth(payload.auth_state)


@contextlib.contextmanager
def _snapshot_named(data_dir: Path, meta: SnapshotMeta) -> Iterator[None]:
    """A ``StorageError`` inside the block names the snapshot file (rule 4)."""
    try:
        yield
    except StorageError as error:
        path = data_dir / "member" / "snap" / f"{meta.index:016x}-{meta.term:016x}.snap"
        raise StorageError(f"{path}: {error}") from error


def _lone_voter(member_id: int, snapshot: SnapshotMeta | None, entries: tuple[Entry, ...]) -> bool:
    """Rule 1."""
    voters = snapshot.conf_state.voters if snapshot is not None else ()
    if voters and voters != (member_id,):
        return False
    return not any(entry_kind(entry) is EntryKind.CONF_CHANGE for entry in entries)


def _apply(kv: KvStore, auth: MemberAuth, entry: Entry) -> None:
    """A committed entry's effect on the key-value and auth state, as ``Applier.apply`` has it."""
    kind = entry_kind(entry)
    payload = entry.data[REQUEST_ID_BYTES:]
    try:
        if kind is EntryKind.STORE:
            apply_store_command(kv, auth, payload)
        elif kind is EntryKind.AUTH:
            auth.apply(payload, entry.index, 0.0)  # the time only dates tokens, which are not kept
    except StoreError:
        pass  # refused on every member alike: it changed nothing (``_entries`` rule 2)
