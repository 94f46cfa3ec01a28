"""``load_config``: defaults, then ``confagent.toml``, then command-line flags, into an ``AgentConfig``.

Rules:
1. Precedence is flag > file > default, as confd documents it (confd itself
   does the opposite, confd.md §2).
2. The file's top-level keys are confd's flag names in snake_case
   (``backend nodes prefix confdir interval watch onetime noop sync_only
   log_level client_cert client_key client_cakeys file filter basic_auth
   username password``) plus ``password_file``, ``log_format`` and ``wait``;
   ``[store]`` configures the embedded store with etcd's flag names in
   snake_case (``data_dir name initial_cluster listen_peer_urls`` ...; its
   flags are ``--store-data-dir``, ``--store-name`` ...) and ``[agent]``
   the agent's HTTP listener. Unknown keys are errors with a hint.
3. Overrides (what the command line gave; None means not given) use the same
   names, dotted for sections (``store.data_dir``); their errors name the
   flag (``flag_name``: ``--log-level``, ``--node``).
4. Relative paths in the file are relative to the file's directory; on the
   command line, to the current directory. Loaded paths are absolute.
5. Every error is a ``ConfigError`` naming where the value came from (the
   file, or ``command line``) and its key; TLS files and the file backend's
   files must exist.
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from confagent.backends import BackendConfig
from confagent.config._agent_config import AgentConfig, ListenerConfig, LogConfig, RunConfig
from confagent.errors import ConfigError
from confagent.settings import Read, StoreConfig, TableReader, declared

__all__ = ["COMMAND_LINE", "CONFIG_KEYS", "CONFIG_SECTIONS", "flag_name", "load_config"]

COMMAND_LINE = "command line"
"""The ``file`` of errors about command-line flags."""

@dataclass(frozen=True, slots=True)
class _Key:
    read: Read
    component: str
    """The ``AgentConfig`` field holding the value."""
    field: str
    """The component's field."""
    flag: str
    """The command-line flag that sets it."""


def _dotted(section: str, key: str) -> str:
    return f"{section}.{key}" if section else key


def _section_keys(section: str, component: str, settings: type, flag_prefix: str) -> dict[str, _Key]:
    """The keys of a section (``""``: the top level) whose component declares its settings
    (``confagent.settings``)."""
    return {_dotted(section, item.toml): _Key(item.kind.read, component, field, f"--{flag_prefix}{item.flag}")
            for field, item in declared(settings).items()}


_COMPONENTS = (("", "run", RunConfig, ""), ("", "backend", BackendConfig, ""), ("", "log", LogConfig, ""),
               ("store", "store", StoreConfig, "store-"), ("agent", "listener", ListenerConfig, ""))
"""Each component's TOML section (``""``: the top level), its ``AgentConfig`` field, its settings
class and the prefix of its flags."""
CONFIG_SECTIONS = tuple((section, settings, flag_prefix) for section, _, settings, flag_prefix in _COMPONENTS)
"""Each section (``""``: the top level), the settings class it holds and the prefix of their flags."""
CONFIG_KEYS: Mapping[str, _Key] = {
    key: target for section, component, settings, flag_prefix in _COMPONENTS
    for key, target in _section_keys(section, component, settings, flag_prefix).items()}
"""Every configuration key (dotted for sections), how it is read, where it goes and its flag."""

_SECTIONS = ("store", "agent")
_ALIASES = {"node": "nodes", "log-level": "log_level", "sync-only": "sync_only",
            "client_ca_keys": "client_cakeys", "client-ca-keys": "client_cakeys"}
"""confd's spellings of our keys, for "did you mean" hints."""


def flag_name(key: str) -> str:
    """The command-line flag of a configuration key: ``log_level`` -> ``--log-level``."""
    known = CONFIG_KEYS.get(key)
    return known.flag if known is not None else "--" + key.replace(".", "-").replace("_", "-")


def load_config(
    path: Path | None, overrides: Mapping[str, object], *, missing_ok: bool = False
) -> AgentConfig:
    """The agent's configuration: defaults, then the file at ``path``, then ``overrides`` (rules above).

    Args:
        path: ``confagent.toml``, or None for none.
        overrides: command-line values by configuration key (``interval``,
            ``store.data_dir``); None values are ignored.
        missing_ok: a missing ``path`` is no error (the default file's case).

    Raises:
        ConfigError: unreadable or invalid TOML, an unknown key, a bad value,
            a setting the agent cannot run with, a missing TLS file.
    """
    values: dict[str, object] = {}
    origins: dict[str, str] = {}
    file: Path | None = None
    if path is not None and not (missing_ok and not path.exists()):
        file = path.absolute()
        layer = _read_file(file)
        values.update(layer)
        origins.update(dict.fromkeys(layer, str(file)))
    given = _read_overrides(overrides)
    values.update(given)
    origins.update(dict.fromkeys(given, COMMAND_LINE))
    config = _build(values, file)
    _validate(config, origins, file)
    return config


def _read_file(file: Path) -> dict[str, object]:
    try:
        document = tomllib.loads(file.read_text(encoding="utf-8"))
    except OSError as error:
        raise ConfigError(f"cannot read: {error.strerror}", file=str(file)) from None
    except UnicodeDecodeError:
        raise ConfigError("is not UTF-8 text", file=str(file)) from None
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"not valid TOML: {error}", file=str(file)) from None
    return _read_tables(document, str(file), file.parent, None)


def _read_overrides(overrides: Mapping[str, object]) -> dict[str, object]:
    nested: dict[str, Any] = {}
    for key, value in overrides.items():
        if value is None:
            continue
        section, _, name = key.rpartition(".")
        table = nested.setdefault(section, {}) if section else nested
        table[name] = _as_toml(value)
    return _read_tables(nested, COMMAND_LINE, Path.cwd(), flag_name)


def _read_tables(
    document: Mapping[str, object], source: str, base: Path, naming: Callable[[str], str] | None
) -> dict[str, object]:
    """The values of ``document``'s keys; errors name keys by ``naming`` (flags, for a command line)."""
    top_fields = [key for key in CONFIG_KEYS if "." not in key] + list(_SECTIONS)
    top = TableReader(document, file=source, section="", fields=top_fields, aliases=_ALIASES, naming=naming)
    readers = [top] + [
        TableReader(top.table_at(section), file=source, section=section, naming=naming,
                    fields=[key.partition(".")[2] for key in CONFIG_KEYS if key.startswith(section + ".")])
        for section in _SECTIONS
    ]
    values: dict[str, object] = {}
    for reader in readers:
        for key in reader.table:
            dotted = _dotted(reader.section, key)
            if dotted in CONFIG_KEYS:  # not a section name
                values[dotted] = CONFIG_KEYS[dotted].read(reader, key, base)
    return values


def _build(values: Mapping[str, object], file: Path | None) -> AgentConfig:
    """An ``AgentConfig``: its defaults, each component's fields replaced by the values given."""
    defaults = AgentConfig()
    components = ("run", "backend", "store", "listener", "log")
    fields: dict[str, dict[str, Any]] = {name: {} for name in components}  # typed by each _Key.read
    for key, value in values.items():
        target = CONFIG_KEYS[key]
        fields[target.component][target.field] = value
    built = {name: replace(getattr(defaults, name), **fields[name]) for name in components}
    backend = replace(built.pop("backend"), store=built.pop("store"))
    return AgentConfig(**built, backend=backend, file=file)


def _validate(config: AgentConfig, origins: Mapping[str, str], file: Path | None) -> None:
    try:
        config.validate()
    except ConfigError as error:
        key = error.key or ""
        origin = origins.get(key) or (str(file) if file is not None else COMMAND_LINE)
        shown = flag_name(key) if origin == COMMAND_LINE else key
        raise ConfigError(error.message, file=origin, key=shown or None) from None


def _as_toml(value: object) -> object:
    """A command-line value as TOML would give it: paths as strings, sequences as lists."""
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, tuple | list):
        return [_as_toml(item) for item in value]
    return value
