"""A ``confd.toml`` read as confd reads it: confd's keys, put in ``confagent.toml``'s names.

Rules:
1. A configuration file is confd's when it is named ``confd.toml`` (confd's
   own is ``/etc/confd/confd.toml``); any other file is a ``confagent.toml``.
   The name decides, not the keys: most of confd's keys are confagent's too,
   and a file means one thing whatever it holds.
2. Its keys are confd's (``CONFD_KEYS``: confd.md §2, with confd's spellings,
   ``log-level``, ``sync-only``, ``keepstagefile``), matched as confd's TOML
   decoder matches them: the exact name, else case-insensitively
   (``OneTime``, ``LOG-LEVEL``). Each becomes the confagent key that means
   the same, so its value is read, checked and layered (flag > file >
   default) as that key's is; errors name the key as the file writes it,
   with the file's line.
3. confd's keys for what confagent does not serve (``NOT_SERVED``: vault's
   sign-in, dynamodb's table, the PGP keyring ...), and a backend of confd's
   that confagent does not serve (``consul``, ``vault`` ...), are an error
   naming the key, unless they hold nothing (``""``, ``false``, ``0``, ``[]``: nothing is
   asked of them). ``client_insecure``, which confd passes to nothing, is
   taken and ignored. A key of ``NOT_SERVED`` that confagent has come to
   declare (a backend's own option) is read as confagent's.
4. Any other key is an error naming the key, the file and its line, with a
   "did you mean" among confd's keys; confagent's own keys (``wait``,
   ``[store]`` ...) belong in a ``confagent.toml``, and the error says so.
5. Where confd's defaults differ from confagent's, a confd.toml that does
   not say gets confd's (``CONFD_DEFAULTS``: the ``etcd`` backend, confdir
   ``/etc/confd``); flags still win over them.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from confagent.backends import BACKEND_NAMES
from confagent.errors import ConfigError

__all__ = ["CONFD_DEFAULTS", "CONFD_FILE_NAME", "CONFD_KEYS", "NOT_SERVED", "ConfdDocument", "is_confd_file",
           "read_confd_document"]

CONFD_FILE_NAME = "confd.toml"
CONFD_KEYS: Mapping[str, str] = {
    "backend": "backend", "nodes": "nodes", "confdir": "confdir", "interval": "interval",
    "watch": "watch", "onetime": "onetime", "noop": "noop", "sync-only": "sync_only",
    "keepstagefile": "keep_stage_file", "prefix": "prefix", "log-level": "log_level",
    "srv_domain": "srv_domain", "srv_record": "srv_record", "scheme": "scheme",
    "client_cert": "client_cert", "client_key": "client_key", "client_cakeys": "client_cakeys",
    "basic_auth": "basic_auth", "username": "username", "password": "password",
    "file": "file", "filter": "filter",
}
"""confd's key -> the ``confagent.toml`` key that means the same."""
IGNORED = ("client_insecure",)
"""confd's keys that confd itself passes to nothing."""
NOT_SERVED: Mapping[str, str] = {
    "auth_type": "vault's sign-in", "auth_token": "vault's token", "app_id": "vault's app-id sign-in",
    "user_id": "vault's app-id sign-in", "role_id": "vault's AppRole sign-in",
    "secret_id": "vault's AppRole sign-in", "path": "vault's auth mount path",
    "table": "the dynamodb backend", "separator": "the redis backend's key separator",
    "secret_keyring": "PGP decryption (removed from confd too)",
}
"""confd's keys for what confagent does not serve -> what they configure in confd."""
CONFD_BACKENDS = ("etcd", "etcdv3", "consul", "vault", "zookeeper", "redis", "env", "file", "dynamodb", "ssm",
                  "rancher")
"""Every backend confd has; those not in ``confagent.backends.BACKEND_NAMES`` are not served."""
CONFD_DEFAULTS: Mapping[str, object] = {"backend": "etcd", "confdir": "/etc/confd"}
"""confd's defaults where confagent's differ (rule 5), as TOML values."""

_KEY_AT_LINE = re.compile(r"""\s*(?:\[+\s*)?(?:"([^"]*)"|'([^']*)'|([A-Za-z0-9_-]+))""")


def is_confd_file(path: Path) -> bool:
    """Whether ``path`` is read as confd's configuration (rule 1)."""
    return path.name == CONFD_FILE_NAME


@dataclass(frozen=True, slots=True)
class ConfdDocument:
    """A confd.toml as ``confagent.toml``'s top level, and how to name its keys as the file does."""

    file: str
    table: dict[str, object]
    """confagent key -> the file's value."""
    written: dict[str, str] = field(default_factory=dict)
    """confagent key -> the key as the file writes it."""
    lines: dict[str, int] = field(default_factory=dict)
    """A key as the file writes it -> its line (1-based)."""

    def name(self, key: str) -> str:
        """A confagent key as the file writes it."""
        return self.written.get(key, key)

    def where(self, key: str) -> str:
        """``FILE:LINE`` of a confagent key (``FILE`` alone when not found)."""
        line = self.lines.get(self.name(key))
        return self.file if line is None else f"{self.file}:{line}"


def read_confd_document(document: Mapping[str, object], text: str, file: str,
                        confagent_keys: Collection[str]) -> ConfdDocument:
    """confd's keys of ``document`` as confagent's (rules 2-4).

    Args:
        document: the decoded TOML.
        text: the file's text, where keys' lines are found.
        file: the file, as errors name it.
        confagent_keys: every top-level ``confagent.toml`` key (rules 3 and 4).

    Raises:
        ConfigError: a key confagent does not serve, an unknown key, or one key written twice.
    """
    lines = _key_lines(text)
    read = ConfdDocument(file, {}, {}, lines)
    by_folded = {key.lower(): key for key in CONFD_KEYS.keys() | IGNORED | NOT_SERVED.keys()}
    for written, value in document.items():
        confd_key = written if written in by_folded.values() else by_folded.get(written.lower())
        at = f"{file}:{lines[written]}" if written in lines else file
        if confd_key is None:
            raise ConfigError(_unknown(written, by_folded.values(), confagent_keys), file=at, key=written)
        target = CONFD_KEYS.get(confd_key) or (confd_key if confd_key in confagent_keys else None)
        if target is None:
            if confd_key in NOT_SERVED and _holds_something(value):
                raise ConfigError(f"confd's key for {NOT_SERVED[confd_key]}, which confagent does not serve",
                                  file=at, key=written)
            continue
        if target in read.table:
            raise ConfigError(f"written twice (as {read.written[target]!r} too)", file=at, key=written)
        if target == "backend":
            _check_backend(value, at, written)
        read.table[target] = value
        read.written[target] = written
    return read


def _check_backend(value: object, at: str, written: str) -> None:
    name = value.strip().lower() if isinstance(value, str) else ""
    if name in CONFD_BACKENDS and name not in BACKEND_NAMES and name != "etcdv3":
        raise ConfigError(f"confd's {name} backend, which confagent does not serve (it serves "
                          f"{', '.join(BACKEND_NAMES)})", file=at, key=written)


def _holds_something(value: object) -> bool:
    return value not in ("", False, [], {})  # False == 0 == 0.0


def _unknown(key: str, confd_keys: Collection[str], confagent_keys: Collection[str]) -> str:
    close = difflib.get_close_matches(key.lower().replace("_", "-"), list(confd_keys), n=1, cutoff=0.7)
    close = close or difflib.get_close_matches(key.lower(), list(confd_keys), n=1, cutoff=0.7)
    if close:
        return f"not one of confd's keys; did you mean {close[0]!r}?"
    if key in confagent_keys:
        return ("is confagent's key, not confd's: a confd.toml holds confd's keys only; put confagent's "
                "settings in a confagent.toml")
    return f"not one of confd's keys ({', '.join(sorted(confd_keys))})"


def _key_lines(text: str) -> dict[str, int]:
    """The line of each top-level key (or table) of a TOML text, by its name: where errors point."""
    lines: dict[str, int] = {}
    in_table = False
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        header = stripped.startswith("[")
        if in_table and not header:
            continue
        match = _KEY_AT_LINE.match(stripped)
        if match is not None:
            name = next(group for group in match.groups() if group is not None)
            lines.setdefault(name, number)
        in_table = in_table or header
    return lines
