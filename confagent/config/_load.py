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
   flags are ``--store-data-dir``, ``--store-name`` ...), ``[agent]``
   the agent's HTTP listener and ``[history]`` the render history
   (``enabled path max_age max_records ...``; flags ``--history``,
   ``--history-path`` ...). Unknown keys are errors with a hint.
3. Overrides (what the command line gave; None means not given) use the same
   names, dotted for sections (``store.data_dir``); their errors name the
   flag (``flag_name``: ``--log-level``, ``--node``).
4. Relative paths in the file are relative to the file's directory; on the
   command line, to the current directory. Loaded paths are absolute.
5. Every error is a ``ConfigError`` naming where the value came from (the
   file, or ``command line``) and its key; TLS files and the file backend's
   files must exist.
6. A file named ``confd.toml`` is confd's (``confagent.config._confd_file``):
   its keys are read as the confagent keys that mean the same, over confd's
   defaults, and its errors name the key as the file writes it, with its line.
7. The environment, as confd reads it, below everything else:
   ``$CONFD_CLIENT_CERT``, ``$CONFD_CLIENT_KEY`` and ``$CONFD_CLIENT_CAKEYS``
   when the file and the flags left that setting empty, for the backends
   that use them (``etcd``; ``redis``, whose password confd takes from the
   client key); ``$ETCDCTL_PEERS`` (``URL,URL``) as the ``etcd`` backend's
   nodes when no node is given and none are found in DNS (``srv_domain``,
   ``srv_record``).
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any, NamedTuple

from confagent.backends import BackendConfig
from confagent.config._agent_config import AgentConfig, DiscoveryConfig, ListenerConfig, LogConfig, RunConfig
from confagent.errors import ConfigError
from confagent.settings import FleetConfig, HistoryConfig, Read, StoreConfig, TableReader, declared

__all__ = ["COMMAND_LINE", "CONFIG_KEYS", "CONFIG_SECTIONS", "flag_name", "load_config"]

COMMAND_LINE = "command line"
"""The ``file`` of errors about command-line flags."""

class _Key(NamedTuple):
    """How one key of ``confagent.toml`` is read and where its value goes (a tuple: cheaper to make than a
    dataclass, and the one-shot's start-up makes the class)."""

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
               ("", "discovery", DiscoveryConfig, ""), ("store", "store", StoreConfig, "store-"),
               ("agent", "listener", ListenerConfig, ""), ("history", "history", HistoryConfig, ""),
               ("fleet", "fleet", FleetConfig, ""))
"""Each component's TOML section (``""``: the top level), its ``AgentConfig`` field, its settings
class and the prefix of its flags."""
CONFIG_SECTIONS = tuple((section, settings, flag_prefix) for section, _, settings, flag_prefix in _COMPONENTS)
"""Each section (``""``: the top level), the settings class it holds and the prefix of their flags."""
CONFIG_KEYS: Mapping[str, _Key] = {
    key: target for section, component, settings, flag_prefix in _COMPONENTS
    for key, target in _section_keys(section, component, settings, flag_prefix).items()}
"""Every configuration key (dotted for sections), how it is read, where it goes and its flag."""

_CONFD_FILE_NAME = "confd.toml"
"""A configuration file of this name is confd's (rule 6; ``_confd_file.is_confd_file``, not imported
for a confagent.toml)."""
_SECTIONS = ("store", "agent", "history", "fleet")
_ALIASES = {"node": "nodes", "log-level": "log_level", "sync-only": "sync_only",
            "client_ca_keys": "client_cakeys", "client-ca-keys": "client_cakeys",
            "keepstagefile": "keep_stage_file", "keep-stage-file": "keep_stage_file",
            "srv-domain": "srv_domain", "srv-record": "srv_record"}
"""confd's spellings of our keys, for "did you mean" hints in a confagent.toml (a file named confd.toml
takes confd's spellings: rule 6)."""


def flag_name(key: str) -> str:
    """The command-line flag of a configuration key: ``log_level`` -> ``--log-level``."""
    known = CONFIG_KEYS.get(key)
    return known.flag if known is not None else "--" + key.replace(".", "-").replace("_", "-")


def load_config(
    path: Path | None, overrides: Mapping[str, object], *, missing_ok: bool = False,
    environ: Mapping[str, str] | None = None,
) -> AgentConfig:
    """The agent's configuration: defaults, then the file at ``path``, then ``overrides`` (rules above).

    Args:
        path: ``confagent.toml`` (or a ``confd.toml``, rule 6), or None for none.
        overrides: command-line values by configuration key (``interval``,
            ``store.data_dir``); None values are ignored.
        missing_ok: a missing ``path`` is no error (the default file's case).
        environ: the environment read by rule 7 (None: the process's).

    Raises:
        ConfigError: unreadable or invalid TOML, an unknown key, a bad value,
            a setting the agent cannot run with, a missing TLS file.
    """
    layers: list[_Layer] = []
    file: Path | None = None
    if path is not None and not (missing_ok and not path.exists()):
        file = path.absolute()
        layers.extend(_read_file(file))
    layers.append(_read_overrides(overrides))
    layers.insert(0, _read_environment(layers, os.environ if environ is None else environ))
    values: dict[str, object] = {}
    names: dict[str, tuple[str, str]] = {}
    backend_name = "embedded"
    for layer in layers:
        values.update(layer.values)
        names.update({key: layer.name(key) for key in layer.values})
        backend_name = layer.backend_name or backend_name
    config = _build(values, file, backend_name)
    _validate(config, names, file)
    return config


class _Layer(NamedTuple):
    """The values one source gives, and how it names each key in errors: (where, key). A tuple, as _Key."""

    values: dict[str, object]
    name: Callable[[str], tuple[str, str]]
    backend_name: str | None = None
    """``backend`` as written (``etcdv3``), if given: the SRV record's name (``DiscoveryConfig``)."""


def _backend_written(table: Mapping[str, object]) -> str | None:
    value = table.get("backend")
    return value.strip().lower() if isinstance(value, str) else None


def _read_file(file: Path) -> list[_Layer]:
    try:
        text = file.read_text(encoding="utf-8")
        document = tomllib.loads(text)
    except OSError as error:
        raise ConfigError(f"cannot read: {error.strerror}", file=str(file)) from None
    except UnicodeDecodeError:
        raise ConfigError("is not UTF-8 text", file=str(file)) from None
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"not valid TOML: {error}", file=str(file)) from None
    if file.name != _CONFD_FILE_NAME:
        values = _read_tables(document, str(file), file.parent, None)
        return [_Layer(values, lambda key: (str(file), key), _backend_written(document))]
    return _read_confd_file(document, text, file)


def _read_confd_file(document: Mapping[str, object], text: str, file: Path) -> list[_Layer]:
    """A confd.toml's layers (rule 6): confd's defaults, then the file's keys."""
    from confagent.config._confd_file import (  # noqa: PLC0415 - only for a confd.toml (rule 6)
        CONFD_DEFAULTS,
        read_confd_document,
    )

    top_keys = [key for key in CONFIG_KEYS if "." not in key] + list(_SECTIONS)
    confd = read_confd_document(document, text, str(file), top_keys)
    try:
        values = _read_tables(confd.table, str(file), file.parent, confd.name)
    except ConfigError as error:
        raise ConfigError(error.message, file=confd.where(_key_named(confd.written, error.key)),
                          key=error.key) from None
    defaults = _read_tables(CONFD_DEFAULTS, str(file), file.parent, None)
    return [_Layer(defaults, lambda key: (str(file), key), _backend_written(CONFD_DEFAULTS)),
            _Layer(values, lambda key: (confd.where(key), confd.name(key)), _backend_written(confd.table))]


def _key_named(written: Mapping[str, str], name: str | None) -> str:
    """The confagent key a file writes as ``name``."""
    return next((key for key, as_written in written.items() if as_written == name), name or "")


def _read_overrides(overrides: Mapping[str, object]) -> _Layer:
    nested: dict[str, Any] = {}
    for key, value in overrides.items():
        if value is None:
            continue
        section, _, name = key.rpartition(".")
        table = nested.setdefault(section, {}) if section else nested
        table[name] = _as_toml(value)
    values = _read_tables(nested, COMMAND_LINE, Path.cwd(), flag_name)
    return _Layer(values, lambda key: (COMMAND_LINE, flag_name(key)), _backend_written(nested))


_CONFD_ENVIRONMENT = {"client_cert": "CONFD_CLIENT_CERT", "client_key": "CONFD_CLIENT_KEY",
                      "client_cakeys": "CONFD_CLIENT_CAKEYS", "nodes": "ETCDCTL_PEERS"}
"""The settings confd takes from the environment when nothing else set them (rule 7)."""
_CLIENT_TLS_BACKENDS = ("etcd", "redis")
"""The backends taking ``client_cert``, ``client_key`` and ``client_cakeys`` (rule 7)."""


def _read_environment(layers: list[_Layer], environ: Mapping[str, str]) -> _Layer:
    """The environment's values (rule 7) for the settings ``layers`` leave empty."""
    given: dict[str, object] = {}
    for layer in layers:
        given.update(layer.values)
    backend = given.get("backend", "embedded")
    table: dict[str, object] = {}
    if backend in _CLIENT_TLS_BACKENDS:
        table = {key: environ[name] for key, name in _CONFD_ENVIRONMENT.items()
                 if environ.get(name) and key not in given}
        if backend != "etcd" or "srv_domain" in given or "srv_record" in given:
            table.pop("nodes", None)
    variable = {key: f"${name}" for key, name in _CONFD_ENVIRONMENT.items()}
    values = _read_tables(table, "environment", Path.cwd(), lambda key: variable.get(key, key))
    return _Layer(values, lambda key: ("environment", variable.get(key, key)))


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


def _build(values: Mapping[str, object], file: Path | None, backend_name: str) -> AgentConfig:
    """An ``AgentConfig``: its defaults, each component's fields replaced by the values given."""
    defaults = AgentConfig()
    components = tuple(component for _, component, _, _ in _COMPONENTS)
    fields: dict[str, dict[str, Any]] = {name: {} for name in components}  # typed by each _Key.read
    for key, value in values.items():
        target = CONFIG_KEYS[key]
        fields[target.component][target.field] = value
    built = {name: replace(getattr(defaults, name), **fields[name]) for name in components}
    backend = replace(built.pop("backend"), store=built.pop("store"))
    discovery = replace(built.pop("discovery"), backend_name=backend_name)
    return AgentConfig(**built, backend=backend, discovery=discovery, file=file)


def _validate(config: AgentConfig, names: Mapping[str, tuple[str, str]], file: Path | None) -> None:
    try:
        config.validate()
    except ConfigError as error:
        key = error.key or ""
        origin, shown = names.get(key) or (str(file) if file is not None else COMMAND_LINE, key)
        if origin == COMMAND_LINE:
            shown = flag_name(key)
        raise ConfigError(error.message, file=origin, key=shown or None) from None


def _as_toml(value: object) -> object:
    """A command-line value as TOML would give it: paths as strings, sequences as lists."""
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, tuple | list):
        return [_as_toml(item) for item in value]
    return value
