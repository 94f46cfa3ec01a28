"""Kinds of setting values: how each is read from a TOML table, or from a flag's text.

A flag's value is read by the same reader as a TOML key: the command line's
values are put in a table of their own (text as TOML strings, a switch as
``true``, an integer flag's text as an integer: ``Kind.from_text``), so a
value means the same and is refused with the same words wherever it comes
from. Relative paths resolve against the ``base`` a source gives (the TOML
file's directory, or the current directory for flags).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from confagent.settings._duration import parse_duration
from confagent.settings._table import TableReader

__all__ = ["BOOLEAN", "COUNT", "DURATION", "LIST", "NEGATABLE", "PATH", "PATHS", "TEXT", "URLS", "Kind",
           "Read", "choice", "parsed"]

Read = Callable[[TableReader, str, Path], object]
"""Reads one present key of a table; the path resolves relative paths."""


@dataclass(frozen=True, slots=True)
class Kind:
    """How a setting's value is read."""

    read: Read
    switch: bool = False
    """A flag that takes no value (``--client-cert-auth``) and sets ``true``."""
    negatable: bool = False
    """A switch with a ``--no-`` form that sets ``false``."""
    from_text: Callable[[str], object] | None = None
    """What a flag's text becomes before it is read (``int``); None: it is read as a TOML string."""
    repeat: bool = False
    """The flag may be given several times, each adding to a list (``--node A --node B``)."""


def _absolute(text: str, base: Path) -> Path:
    """``text`` as a path, relative ones under ``base``."""
    path = Path(text).expanduser()
    return path if path.is_absolute() else base / path


def _with_scheme(url: str) -> str:
    """``host:port`` as ``http://host:port``; no trailing ``/``."""
    return (url if "://" in url else "http://" + url).rstrip("/")


def _items(reader: TableReader, key: str) -> list[str]:
    """A comma-separated string, or an array of them, as its non-empty items."""
    return [part.strip() for item in reader.strings(key) or () for part in item.split(",") if part.strip()]


def choice(*values: str, aliases: dict[str, str] | None = None) -> Kind:
    """One of ``values`` (case and spaces ignored; ``aliases`` maps other names to them)."""
    def read(reader: TableReader, key: str, base: Path) -> object:
        value = reader.required_string(key).strip().lower()
        value = (aliases or {}).get(value, value)
        if value not in values:
            raise reader.error(key, f"{value!r} is not one of {', '.join(values)}")
        return value
    return Kind(read)


def parsed(parse: Callable[[object], object]) -> Kind:
    """A value read by a parser raising ``ValueError`` (``parse_wait``)."""
    return Kind(lambda reader, key, base: reader.parsed(key, parse))


def _integer_at_least(minimum: int) -> Read:
    return lambda reader, key, base: reader.integer(key, minimum=minimum)


TEXT = Kind(lambda reader, key, base: reader.string(key))
"""A non-empty string."""
BOOLEAN = Kind(lambda reader, key, base: reader.boolean(key, False), switch=True)
NEGATABLE = Kind(BOOLEAN.read, switch=True, negatable=True)
"""A boolean whose flag has a ``--no-`` form (``--watch``, ``--no-watch``)."""
COUNT = Kind(_integer_at_least(1), from_text=int)
"""An integer of at least 1."""
DURATION = Kind(lambda reader, key, base: reader.parsed(key, parse_duration), from_text=parse_duration)
"""Seconds: Go's duration syntax or a number (``confagent.settings.parse_duration``)."""
PATH = Kind(lambda reader, key, base: _absolute(reader.required_string(key), base))
PATHS = Kind(lambda reader, key, base: tuple(_absolute(item, base) for item in reader.strings(key) or ()),
             repeat=True)
URLS = Kind(lambda reader, key, base: tuple(_with_scheme(item) for item in _items(reader, key)))
"""``URL,URL`` or an array of URLs; ``host:port`` is ``http://host:port``."""
LIST = Kind(lambda reader, key, base: ",".join(_items(reader, key)))
"""etcd's ``A,B,C`` list (``--initial-cluster``), or an array of items: kept as one ``A,B,C`` string."""
