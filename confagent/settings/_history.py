"""``HistoryConfig``: the render history's settings (``[history]``, ``--history-*``), declared once.

Rules:
1. The history is on by default, in ``history.db`` under the agent's state
   directory (the embedded store's data directory, ``data_dir``) unless
   ``path`` names another file.
2. It is bounded twice: records older than ``max_age`` and records beyond
   the newest ``max_records`` are deleted; a diff longer than
   ``max_diff_bytes`` is cut there (and says so).
3. ``secret_keys`` are glob patterns matched, case-insensitively, against
   the last segment of a key's name; the values of keys that match are
   masked in what the history shows (diffs, changed keys) unless asked for
   on the local database (``--show-secrets``).
4. ``one_shot``: ``--onetime`` and ``render --check`` record too (off by
   default: a cron job of one-shot runs would fill the history with passes).
"""

from __future__ import annotations

from dataclasses import dataclass
from fnmatch import fnmatchcase
from functools import lru_cache
from pathlib import Path

from confagent.errors import ConfigError
from confagent.settings._declare import setting
from confagent.settings._kinds import BOOLEAN, COUNT, DURATION, LIST, NEGATABLE, PATH

__all__ = ["DEFAULT_HISTORY_MAX_AGE_S", "DEFAULT_HISTORY_MAX_DIFF_BYTES", "DEFAULT_HISTORY_MAX_RECORDS",
           "DEFAULT_SECRET_KEYS", "HISTORY_FILE_NAME", "HistoryConfig"]

HISTORY_FILE_NAME = "history.db"
DEFAULT_HISTORY_MAX_AGE_S = 30 * 24 * 3600.0
DEFAULT_HISTORY_MAX_RECORDS = 10_000
DEFAULT_HISTORY_MAX_DIFF_BYTES = 64 * 1024
DEFAULT_SECRET_KEYS = "*password*,*secret*,*token*,*key*"


@dataclass(frozen=True, slots=True)
class HistoryConfig:
    """Where the render history is kept and how much of it (module rules)."""

    enabled: bool = setting(True, flag="history", kind=NEGATABLE, toml="enabled",
                            help="record every apply and refused apply; --no-history records nothing")
    path: Path | None = setting(None, flag="history-path", kind=PATH, toml="path", metavar="FILE",
                                default_text="history.db in the store's data_dir",
                                help="the SQLite file the render history is kept in")
    max_age_s: float = setting(DEFAULT_HISTORY_MAX_AGE_S, flag="history-max-age", kind=DURATION,
                               toml="max_age", metavar="DURATION",
                               help="records older than this are deleted")
    max_records: int = setting(DEFAULT_HISTORY_MAX_RECORDS, flag="history-max-records", kind=COUNT,
                               toml="max_records", metavar="N", help="only the newest N records are kept")
    max_diff_bytes: int = setting(DEFAULT_HISTORY_MAX_DIFF_BYTES, flag="history-max-diff-bytes", kind=COUNT,
                                  toml="max_diff_bytes", metavar="BYTES",
                                  help="a record's diff is cut at this many bytes")
    secret_keys: str = setting(DEFAULT_SECRET_KEYS, flag="history-secret-keys", kind=LIST, toml="secret_keys",
                               metavar="GLOB,GLOB",
                               help="keys whose last segment matches one of these (any case) have "
                                    "their values masked")
    one_shot: bool = setting(False, flag="history-one-shot", kind=BOOLEAN, toml="one_shot",
                             help="--onetime and render --check runs record too")

    @property
    def secret_patterns(self) -> tuple[str, ...]:
        return _patterns(self.secret_keys)

    def is_secret(self, key: str) -> bool:
        """Whether ``key``'s value is masked (rule 3)."""
        name = key.rstrip("/").rpartition("/")[2].lower()
        return any(fnmatchcase(name, pattern) for pattern in _patterns(self.secret_keys))

    def database(self, data_dir: Path) -> Path:
        """The history's file, ``data_dir`` being the agent's state directory (rule 1)."""
        return self.path if self.path is not None else data_dir / HISTORY_FILE_NAME

    def validate(self) -> None:
        if self.max_age_s <= 0:
            raise ConfigError(f"must be more than 0 s, not {self.max_age_s:g} s", key="history.max_age")


@lru_cache(maxsize=16)
def _patterns(secret_keys: str) -> tuple[str, ...]:
    return tuple(pattern.strip().lower() for pattern in secret_keys.split(",") if pattern.strip())
