"""The agent's durable cache: the last view of the store it rendered from, so that it can start offline.

Rules:
1. The file (``SAVED_VIEW_FILE`` in the agent's state directory, the
   store's ``data_dir``) holds one view: every key under the watched
   prefixes at one revision, with the cluster id it was read from, the
   backend and its nodes, and the prefixes. Two lines: a JSON header
   (``format``, those fields, the body's length and SHA-256), then the
   entries as one JSON object. ``FORMAT`` is bumped when the layout changes;
   a file of another format is refused, never guessed at.
2. It is written as every file the agent owns is (``confagent.fsutil``):
   a stage file beside it, fsynced, renamed over it, the directory fsynced;
   mode 0600 (values may be secrets). A reader sees the old view or the new
   one, never a mix. A write that fails is logged (once, until one succeeds)
   and the agent goes on: the cache serves only a later start.
3. ``ViewSaver`` writes after the daemon's passes, debounced: at most once
   per ``SAVE_EVERY_S``, the newest view offered, on a thread (a write costs
   an fsync or two; a burst of changes costs one write); ``flush`` on stop
   writes what is still pending. Only views read from the backend are
   offered, never the one loaded from this file.
4. ``load_saved_view`` refuses (``StorageError``, naming the file and why) a
   truncated or corrupt file, another format, and ``check_saved_view`` one
   that does not fit the running agent: another backend, nodes none of
   which are configured now, another cluster (where the cluster id is known
   without the store: the embedded member's), prefixes that do not cover
   the resources' (a resource added since would render from missing keys).
   A missing file is no error: there is no cache yet.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import orjson
import structlog

from confagent.errors import StorageError
from confagent.fsutil import write_file_atomically
from confagent.render import KeyView

__all__ = ["FORMAT", "SAVED_VIEW_FILE", "SAVE_EVERY_S", "SavedView", "ViewSaver", "check_saved_view",
           "load_saved_view", "save_view"]

FORMAT = 1
SAVED_VIEW_FILE = "agent-cache.json"
SAVE_EVERY_S = 1.0
"""The shortest time between two writes of the file (rule 3)."""


@dataclass(frozen=True, slots=True)
class SavedView:
    """One view as the file holds it (rule 1)."""

    view: KeyView
    cluster_id: int
    backend: str
    nodes: tuple[str, ...]
    prefixes: tuple[str, ...]
    saved_at_s: float = 0.0
    """Unix time of the write."""

    @property
    def revision(self) -> int:
        return self.view.revision


def save_view(path: Path, saved: SavedView) -> None:
    """Write ``saved`` to ``path`` durably and atomically, mode 0600 (rules 1-2).

    Raises:
        StorageError: the file cannot be written (named, with the OS's reason).
    """
    body = orjson.dumps(dict(saved.view.items()))
    header = orjson.dumps({
        "format": FORMAT, "revision": saved.revision, "cluster_id": f"{saved.cluster_id:x}",
        "backend": saved.backend, "nodes": list(saved.nodes), "prefixes": list(saved.prefixes),
        "saved_at": saved.saved_at_s or time.time(), "keys": len(saved.view),
        "length": len(body), "sha256": hashlib.sha256(body).hexdigest()})
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_file_atomically(path, header + b"\n" + body, mode=0o600)
    except OSError as error:
        raise StorageError(f"{path}: the agent's cache cannot be written: "
                           f"{error.strerror or error}") from None


def load_saved_view(path: Path) -> SavedView | None:
    """The view in ``path``; None when there is no file (rule 4).

    Raises:
        StorageError: the file is unreadable, truncated, corrupt or of another format.
    """
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as error:
        raise StorageError(f"{path}: the agent's cache cannot be read: {error.strerror or error}") from None
    head, newline, body = data.partition(b"\n")
    try:
        header = orjson.loads(head)
        if not isinstance(header, dict):
            raise ValueError("no header")
        if header.get("format") != FORMAT:
            raise StorageError(f"{path}: the agent's cache is of format {header.get('format')!r}, "
                               f"this agent reads format {FORMAT}; refused")
        if not newline or len(body) != header["length"] or \
                hashlib.sha256(body).hexdigest() != header["sha256"]:
            raise StorageError(f"{path}: the agent's cache is truncated or corrupt (its length or "
                               "checksum does not match its header); refused")
        entries = orjson.loads(body)
        return SavedView(KeyView(entries, int(header["revision"])), int(header["cluster_id"], 16),
                         str(header["backend"]), tuple(header["nodes"]), tuple(header["prefixes"]),
                         float(header["saved_at"]))
    except (ValueError, KeyError, TypeError) as error:  # orjson.JSONDecodeError is a ValueError
        raise StorageError(f"{path}: the agent's cache is corrupt ({error}); refused") from None


def check_saved_view(path: Path, saved: SavedView, *, backend: str, nodes: Sequence[str],
                     cluster_id: int | None, prefixes: Sequence[str]) -> None:
    """Refuse ``saved`` when it does not fit the running agent (rule 4).

    Args:
        cluster_id: the cluster the backend belongs to when known without reaching it, else None.

    Raises:
        StorageError: why the cache is not used, naming ``path``.
    """
    refused = f"{path}: the agent's cache (revision {saved.revision}) is refused: "
    if saved.backend != backend:
        raise StorageError(refused + f"it came from the {saved.backend} backend, the agent runs {backend}")
    if nodes and saved.nodes and not set(nodes) & set(saved.nodes):
        raise StorageError(refused + f"it came from {', '.join(saved.nodes)}, none of which is configured")
    if cluster_id is not None and saved.cluster_id != cluster_id:
        raise StorageError(refused + f"it came from cluster {saved.cluster_id:x}, this member belongs "
                           f"to cluster {cluster_id:x}")
    uncovered = [p for p in prefixes if not any(p.startswith(held) for held in saved.prefixes)]
    if uncovered:
        raise StorageError(refused + f"it holds no keys under {', '.join(uncovered)}")


class ViewSaver:
    """Writes the views offered to ``path``, debounced (rule 3); ``flush`` before the process ends."""

    def __init__(self, path: Path, log: structlog.typing.FilteringBoundLogger, *,
                 every_s: float = SAVE_EVERY_S) -> None:
        self.path = path
        self._log = log
        self._every_s = every_s
        self._pending: SavedView | None = None
        self._saved_revision = 0
        self._last_write_s = -every_s
        self._task: asyncio.Task[None] | None = None
        self._failing = False

    def offer(self, saved: SavedView) -> None:
        """Save ``saved`` soon, unless it is not newer than what was written."""
        if saved.revision <= self._saved_revision:
            return
        self._pending = saved
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._write_pending(), name="confagent-saved-view")

    async def _write_pending(self) -> None:
        loop = asyncio.get_running_loop()
        while self._pending is not None:
            await asyncio.sleep(max(0.0, self._last_write_s + self._every_s - loop.time()))
            saved, self._pending = self._pending, None
            if saved is None:
                return
            self._last_write_s = loop.time()
            await self._write(saved)

    async def _write(self, saved: SavedView) -> None:
        try:
            await asyncio.to_thread(save_view, self.path, saved)
        except StorageError as error:
            if not self._failing:
                self._log.error("the agent's cache not saved", revision=saved.revision, cause=str(error))
            self._failing = True
            return
        self._failing = False
        self._saved_revision = max(self._saved_revision, saved.revision)

    async def flush(self) -> None:
        """Write what is pending now (the daemon stops)."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        saved, self._pending = self._pending, None
        if saved is not None:
            await self._write(saved)
