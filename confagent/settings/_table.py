"""Typed reads of one TOML table, where every problem is a ``ConfigError`` naming file and key.

Rules:
1. A ``TableReader`` knows the table's field names: any other key is an error
   at once, with a "did you mean" hint for near misses (``check-cmd`` ->
   ``check_cmd``) and for names other tools use (``FIELD_ALIASES``).
2. Each read names the key as a dotted TOML path (``template.mode``) and says
   what was expected and what was found; absent keys give the default.
3. Value parsers (durations, modes) raise ``ValueError``; the reader turns
   that into the ``ConfigError`` for the key.

Shared by ``parse_resource`` and the global configuration loader.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from typing import TypeVar

from confagent.errors import ConfigError

__all__ = ["TableReader"]

T = TypeVar("T")


class TableReader:
    """Reads the fields of one TOML table (rules in the module doc).

    Args:
        table: the decoded table.
        file: where it came from, as errors should name it.
        section: the table's dotted name (``template``), or ``""`` for the top level.
        fields: every key the table may hold.
        aliases: keys other tools spell differently -> the name here, for hints.
        naming: how errors name a key, given its dotted name (a flag, for a command line's
            values); None: the dotted name.

    Raises:
        ConfigError: the table holds a key that is not in ``fields``.
    """

    def __init__(
        self, table: Mapping[str, object], *, file: str, section: str, fields: Collection[str],
        aliases: Mapping[str, str] | None = None, naming: Callable[[str], str] | None = None,
    ) -> None:
        self.table = table
        self.file = file
        self.section = section
        self._naming = naming
        for key in table:
            if key not in fields:
                raise self.error(key, _unknown_key_message(key, fields, aliases or {}))

    def key_path(self, key: str) -> str:
        """The name of ``key`` as errors print it (its dotted name, unless ``naming`` says otherwise)."""
        dotted = f"{self.section}.{key}" if self.section else key
        return self._naming(dotted) if self._naming is not None else dotted

    def error(self, key: str, message: str) -> ConfigError:
        """A ConfigError for ``key`` of this table."""
        return ConfigError(message, file=self.file, key=self.key_path(key))

    def has(self, key: str) -> bool:
        return key in self.table

    def string(self, key: str, default: str | None = None, *, nonempty: bool = True) -> str | None:
        """A string field; ``nonempty`` refuses ``""``."""
        value = self.table.get(key)
        if value is None:
            return default
        if not isinstance(value, str):
            raise self.error(key, f"must be a string, not {_describe(value)}")
        if nonempty and not value.strip():
            raise self.error(key, "must not be empty")
        return value

    def required_string(self, key: str) -> str:
        value = self.string(key)
        if value is None:
            raise self.error(key, "is required")
        return value

    def boolean(self, key: str, default: bool) -> bool:
        value = self.table.get(key, default)
        if not isinstance(value, bool):
            raise self.error(key, f"must be true or false, not {_describe(value)}")
        return value

    def integer(self, key: str, *, minimum: int, maximum: int | None = None) -> int | None:
        """An integer field within ``[minimum, maximum]``, or None when absent."""
        value = self.table.get(key)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.error(key, f"must be an integer, not {_describe(value)}")
        if value < minimum or (maximum is not None and value > maximum):
            upper = "" if maximum is None else f" and at most {maximum}"
            raise self.error(key, f"must be at least {minimum}{upper}, not {value}")
        return value

    def strings(self, key: str) -> tuple[str, ...] | None:
        """An array of non-empty strings (a single string is taken as a one-item array)."""
        value = self.table.get(key)
        if value is None:
            return None
        items = [value] if isinstance(value, str) else value
        if not isinstance(items, list) or not all(isinstance(item, str) for item in items):
            raise self.error(key, f"must be an array of strings, not {_describe(value)}")
        if any(not item.strip() for item in items):
            raise self.error(key, "must not hold an empty string")
        return tuple(items)

    def parsed(self, key: str, parse: Callable[[object], T]) -> T | None:
        """A field read by a value parser that raises ValueError; None when absent."""
        value = self.table.get(key)
        if value is None:
            return None
        try:
            return parse(value)
        except ValueError as error:
            raise self.error(key, str(error)) from None

    def choice(self, key: str, choices: Collection[str], default: str) -> str:
        value = self.string(key, default)
        assert value is not None
        if value not in choices:
            raise self.error(key, f"{value!r} is not one of {', '.join(sorted(choices))}")
        return value

    def table_at(self, key: str) -> Mapping[str, object]:
        """A sub-table (``[store]``); empty when absent."""
        value = self.table.get(key, {})
        if not isinstance(value, dict):
            raise self.error(key, f"must be a table ([{self.key_path(key)}]), not {_describe(value)}")
        return value


def _unknown_key_message(key: str, fields: Collection[str], aliases: Mapping[str, str]) -> str:
    suggestion = aliases.get(key)
    if suggestion is None:
        import difflib  # noqa: PLC0415 - only for a mistake; a one-shot's start-up need not load it

        close = difflib.get_close_matches(key.replace("-", "_").lower(), list(fields), n=1, cutoff=0.7)
        suggestion = close[0] if close else None
    hint = f"; did you mean {suggestion!r}?" if suggestion else f" (known: {', '.join(sorted(fields))})"
    return f"unknown key{hint}"


def _describe(value: object) -> str:
    names = {bool: "a boolean", int: "an integer", float: "a number", str: "a string",
             list: "an array", dict: "a table"}
    return f"{names.get(type(value), type(value).__name__)} ({value!r})"
