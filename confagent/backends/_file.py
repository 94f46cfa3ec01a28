"""The ``file`` backend: YAML and JSON files (or directories of them) as keys, watched with watchfiles.

Rules:
1. ``paths`` are read in order, a directory's files (those whose name matches
   ``name_filter``, confd's ``-filter``; hidden files are skipped, editors
   leave them) in sorted order, recursively; a later file wins a key both
   define. Keys are flattened as confd does (``_flatten.py``).
2. The revision is a counter of this backend: 1 for the first read, +1 each
   time a re-read finds different data. The last ``history_max`` changes are
   kept, so ``changes(after=R)`` can replay from R; older ones are gone
   (``ResyncNeeded``).
3. A file that cannot be read or parsed keeps its last good data; the error
   (file and line) is raised by ``snapshot`` and by ``changes`` once the
   other files' changes were yielded. The next re-read tries again.
4. Files are re-read on every file-system event under the watched
   directories and at least every ``rescan_interval_s``, which also catches
   events lost before the watch started or by the kernel.
"""

from __future__ import annotations

import asyncio
import fnmatch
import os
from collections import deque
from collections.abc import AsyncGenerator, Sequence
from contextlib import aclosing
from pathlib import Path

import watchfiles

from confagent.backends._base import Change, Snapshot
from confagent.backends._flatten import flatten_document, parse_document
from confagent.backends._known import restricted
from confagent.backends._prefixes import PrefixSet
from confagent.errors import ConfigError, ResyncNeeded, SourceFileError

__all__ = ["FileBackend"]

HISTORY_MAX = 1024
"""Changes kept for ``changes(after=...)`` to replay."""
RESCAN_INTERVAL_S = 5.0
"""The longest time between two re-reads of the files, events or not."""
EVENT_QUIET_MS = 30
"""A burst of file-system events is handled this long after its last event."""
EVENT_BURST_MAX_MS = 1600
"""... or after this long, however long the burst lasts."""


class FileBackend:
    """Keys from YAML/JSON files (module rules)."""

    name = "file"
    watches = True

    def __init__(self, paths: Sequence[Path], *, name_filter: str = "*",
                 history_max: int = HISTORY_MAX, rescan_interval_s: float = RESCAN_INTERVAL_S) -> None:
        if not paths:
            raise ConfigError("file: the file backend needs at least one file or directory")
        self.paths = tuple(Path(p) for p in paths)
        self.name_filter = name_filter
        self.rescan_interval_s = rescan_interval_s
        self._revision = 0
        self._entries: dict[str, str] = {}
        self._good: dict[Path, dict[str, str]] = {}
        self._history: deque[Change] = deque(maxlen=history_max)
        self._lock = asyncio.Lock()
        self._stopped = asyncio.Event()

    async def snapshot(self, prefixes: Sequence[str]) -> Snapshot:
        """Re-read the files; every key under ``prefixes`` at the resulting revision.

        Raises:
            SourceFileError: a file cannot be read or parsed (names the file and line).
        """
        watched = PrefixSet(prefixes)
        errors = await self._refresh()
        if errors:
            raise errors[0]
        return Snapshot(self._revision, {k: v for k, v in self._entries.items() if watched.covers(k)})

    async def changes(self, prefixes: Sequence[str], after: int) -> AsyncGenerator[Change, None]:
        """The changes under ``prefixes`` after ``after``, as the files change (module rules).

        Raises:
            ResyncNeeded: the changes after ``after`` are no longer kept.
            SourceFileError: a file became unreadable or malformed.
        """
        watched = PrefixSet(prefixes)
        cursor = after
        async with aclosing(self._file_events()) as events:
            while True:
                errors = await self._refresh()
                for change in self._since(cursor):
                    cursor = change.revision
                    kept = restricted(change, watched)
                    if kept is not None:
                        yield kept
                if errors:
                    raise errors[0]
                if not await anext(events, False):
                    return  # closed

    async def close(self) -> None:
        """Stop watching; ``changes`` iterators end."""
        self._stopped.set()

    # -- reading -------------------------------------------------------------------------
    async def _refresh(self) -> list[SourceFileError]:
        """Re-read every file; record a new revision if the data changed; the files' errors."""
        async with self._lock:
            results = await asyncio.to_thread(self._read_all)
            errors: list[SourceFileError] = []
            good: dict[Path, dict[str, str]] = {}
            for path, result in results:
                if isinstance(result, SourceFileError):
                    errors.append(result)
                    good[path] = self._good.get(path, {})  # rule 3: the last good data stays
                else:
                    good[path] = result
            self._good = good
            merged: dict[str, str] = {}
            for data in good.values():
                merged.update(data)
            self._record(merged)
            return errors

    def _record(self, merged: dict[str, str]) -> None:
        if self._revision and merged == self._entries:
            return
        old, self._entries = self._entries, merged
        self._revision += 1
        if self._revision > 1:
            puts = {k: v for k, v in merged.items() if old.get(k) != v}
            self._history.append(Change(self._revision, puts, frozenset(old.keys() - merged.keys())))

    def _read_all(self) -> list[tuple[Path, dict[str, str] | SourceFileError]]:
        """(file, its keys or its error) for every file, in reading order (blocking I/O)."""
        results: list[tuple[Path, dict[str, str] | SourceFileError]] = []
        for path in self.paths:
            if path.is_dir():
                results.extend((file, _read_file(file)) for file in self._files_in(path))
            else:
                results.append((path, _read_file(path)))
        return results

    def _files_in(self, directory: Path) -> list[Path]:
        found: list[Path] = []
        for root, dirs, files in os.walk(directory):
            dirs[:] = sorted(d for d in dirs if not d.startswith("."))
            found.extend(Path(root, name) for name in sorted(files)
                         if not name.startswith(".") and fnmatch.fnmatchcase(name, self.name_filter))
        return found

    def _since(self, cursor: int) -> list[Change]:
        """The recorded changes after revision ``cursor``, oldest first."""
        if cursor == self._revision:
            return []
        history = self._history
        if cursor > self._revision or not history or history[0].revision > cursor + 1:
            raise ResyncNeeded(f"the file backend keeps changes from revision "
                               f"{history[0].revision if history else self._revision}, "
                               f"not from {cursor + 1}")
        return [change for change in history if change.revision > cursor]

    # -- watching ------------------------------------------------------------------------
    async def _file_events(self) -> AsyncGenerator[bool, None]:
        """One item per burst of relevant file-system events, or per ``rescan_interval_s``."""
        directories, files = self._watch_targets()

        def relevant(_change: watchfiles.Change, path: str) -> bool:
            return path in files or os.path.dirname(path) in directories

        try:
            async for _ in watchfiles.awatch(
                *sorted(directories | {os.path.dirname(f) for f in files}),
                watch_filter=relevant, debounce=EVENT_BURST_MAX_MS, step=EVENT_QUIET_MS,
                stop_event=self._stopped, rust_timeout=int(self.rescan_interval_s * 1000),
                yield_on_timeout=True, recursive=False,
            ):
                yield True
        except OSError as error:
            raise SourceFileError(str(error.filename or self.paths[0]),
                                  f"cannot watch: {error.strerror or error}") from error

    def _watch_targets(self) -> tuple[set[str], set[str]]:
        """(directories whose every file matters, single files), as absolute paths."""
        directories: set[str] = set()
        files: set[str] = set()
        for path in self.paths:
            absolute = path.resolve()
            if absolute.is_dir():
                directories.update(str(Path(root)) for root, _, _ in os.walk(absolute))
            else:
                files.add(str(absolute))
        return directories, files


def _read_file(path: Path) -> dict[str, str] | SourceFileError:
    try:
        text = path.read_bytes().decode()
    except OSError as error:
        return SourceFileError(str(path), f"cannot read: {error.strerror or error}")
    except UnicodeDecodeError as error:
        return SourceFileError(str(path), f"not UTF-8 at byte {error.start}")
    try:
        return flatten_document(str(path), parse_document(str(path), text))
    except SourceFileError as error:
        return error
