"""A member's identity, fixed at its first start and kept in its data directory.

etcd keeps the member and cluster IDs in its write-ahead log's metadata and
ignores the flags on later starts; confagent keeps them in
``DATA_DIR/member/identity.json``, written atomically once. A restart with
other peer URLs (which would derive other IDs) keeps being the same member.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from confagent.errors import StorageError
from confagent.fsutil import write_file_atomically

__all__ = ["Identity", "load_or_keep_identity", "read_identity"]


@dataclass(frozen=True, slots=True)
class Identity:
    member_id: int
    cluster_id: int


def load_or_keep_identity(data_dir: Path, derived: Identity) -> Identity:
    """The identity stored in ``data_dir``; ``derived`` (from the flags) stored there if none is.

    Raises:
        StorageError: the identity file exists but cannot be read.
    """
    stored = read_identity(data_dir)
    if stored is not None:
        return stored
    path = _identity_path(data_dir)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        record = {"member_id": f"{derived.member_id:x}", "cluster_id": f"{derived.cluster_id:x}"}
        write_file_atomically(path, json.dumps(record, separators=(",", ":")).encode(), mode=0o644)
    except OSError as error:
        raise StorageError(f"{path}: cannot write: {error.strerror}") from error
    return derived


def read_identity(data_dir: Path) -> Identity | None:
    """The identity stored in ``data_dir``; None if none is.

    Raises:
        StorageError: the identity file exists but cannot be read.
    """
    path = _identity_path(data_dir)
    try:
        stored = json.loads(path.read_bytes())
        return Identity(int(stored["member_id"], 16), int(stored["cluster_id"], 16))
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise StorageError(f"{path}: not a member identity: {error}") from error


def _identity_path(data_dir: Path) -> Path:
    return data_dir / "member" / "identity.json"
