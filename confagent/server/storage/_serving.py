"""The serving record: where the member running from a data directory takes client requests, written there.

A one-shot pass (``confagent render --check``, ``run --onetime``) beside a
running agent cannot open the agent's data directory: its write-ahead log is
locked by the running member (``DataDirInUse``). It can read through that
member's client URL instead, if it can know it. How it knows:

``DATA_DIR/member/serving.json`` holds ``{"pid", "member_id", "cluster_id",
"client_urls"}``, written by the running member once its client listeners
are bound, removed when it stops. Why this and not another source:

* The configuration's ``[store] listen_client_urls`` is what the checker was
  given, not necessarily what the running member was: flags override the
  file, CI may pass another file, and a host of ``0.0.0.0`` is not an
  address to dial.
* The member's published client URLs (its attributes in the Raft log) are
  the *advertised* ones, meant for other hosts and possibly unreachable from
  this one, and reading them means replaying a log another process appends
  to, without its lock.
* The record comes from the process holding the lock, after its sockets were
  bound: the exact ports, with wildcard hosts turned into loopback
  (``dialable``), since a reader of the data directory is on this host.

Rules:
1. The record is written after the lock is taken and the listeners are
   bound (no client URL: an empty list, which says so), and removed by a
   clean stop while the lock is still held.
2. A crash leaves the record behind but releases the lock: a record is
   believed only while the data directory is locked and its ``pid`` is
   alive (``written_by_a_live_process``), and the next member to run there
   writes its own. A reader also checks that the URL answers with the
   record's member ID, so that a record cannot send it to a member of other
   peer URLs or another cluster token. (Two lone members with etcd's
   defaults share an ID: for them the live ``pid`` is what vouches, and a
   stale record's pid is dead unless the system reused it meanwhile.)
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import orjson

from confagent.errors import StorageError
from confagent.fsutil import remove_quietly, write_file_atomically

__all__ = ["ServingRecord", "dialable", "read_serving_record", "remove_serving_record", "serving_record_path",
           "write_serving_record"]

_WILDCARDS = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}


@dataclass(frozen=True, slots=True)
class ServingRecord:
    """Who runs from a data directory, and where a client on this host reaches it."""

    pid: int
    member_id: int
    cluster_id: int
    client_urls: tuple[str, ...]
    """Dialable from this host; empty: the member serves no client URL."""

    def written_by_a_live_process(self) -> bool:
        """The process that wrote the record still runs (rule 2; another user's counts)."""
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True


def serving_record_path(data_dir: Path) -> Path:
    return data_dir / "member" / "serving.json"


def dialable(url: str) -> str:
    """``url`` with a wildcard host (``0.0.0.0``, ``[::]``) replaced by loopback, which reaches it here."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if host not in _WILDCARDS:
        return url
    loopback = _WILDCARDS[host]
    netloc = f"[{loopback}]" if ":" in loopback else loopback
    if parts.port is not None:
        netloc += f":{parts.port}"
    return urlunsplit(parts._replace(netloc=netloc))


def write_serving_record(data_dir: Path, member_id: int, cluster_id: int, client_urls: Sequence[str]) -> None:
    """Say that this process serves ``data_dir`` on ``client_urls`` (rule 1).

    Raises:
        StorageError: the file cannot be written.
    """
    path = serving_record_path(data_dir)
    body = {"pid": os.getpid(), "member_id": f"{member_id:x}", "cluster_id": f"{cluster_id:x}",
            "client_urls": [dialable(url) for url in client_urls]}
    try:
        write_file_atomically(path, orjson.dumps(body), mode=0o644)
    except OSError as error:
        raise StorageError(f"{path}: cannot write: {error.strerror}") from error


def remove_serving_record(data_dir: Path) -> None:
    """Rule 1: a clean stop leaves no record."""
    remove_quietly(serving_record_path(data_dir))


def read_serving_record(data_dir: Path) -> ServingRecord | None:
    """The record in ``data_dir``; None when there is none.

    Raises:
        StorageError: the file exists but is not a serving record.
    """
    path = serving_record_path(data_dir)
    try:
        stored = orjson.loads(path.read_bytes())
        urls = stored["client_urls"]
        if not isinstance(urls, list) or not all(isinstance(url, str) for url in urls):
            raise TypeError("client_urls is not a list of URLs")
        return ServingRecord(int(stored["pid"]), int(stored["member_id"], 16), int(stored["cluster_id"], 16),
                             tuple(urls))
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise StorageError(f"{path}: not a serving record: {error}") from error
