"""Declaring a setting once: a dataclass field whose metadata says how every source names and reads it.

A component's settings are one frozen dataclass (``StoreConfig``,
``BackendConfig``, ``RunConfig`` ...). Each field made with ``setting()``
carries a ``Setting``: its help, how its value is read (a ``Kind``), its
flag (etcd's or confd's name) and its TOML key. Everything else is derived
from that one declaration: the TOML loader (``confagent.config``), the
commands' flags and their help with the default (``confagent.cli``), and the
names a component's ``validate()`` gives in its errors (``Naming``). No
setting of these components has an environment variable (etcd's ``ETCD_*``
are not read); the client commands' ``CONFAGENT_ENDPOINTS`` is theirs, and
the etcd backend's password may come from ``$CONFAGENT_ETCD_PASSWORD``
(``confagent.backends``), so that it need not sit on a command line.

Why not typed-settings or pydantic-settings, which derive the same from one
class: import cost, since ``confagent run --onetime`` starts a process per
render and start-up is most of its time (``bench/README.md``). Measured on
the 2-core development machine, ``python3 -X importtime -c 'import X'``,
best of three at load 1-2: ``typed_settings`` 46 ms (attrs, cattrs),
``pydantic_settings`` 128 ms (pydantic and its core, python-dotenv). This
declaration is dataclass metadata, and ``import confagent.config`` went from
77.0 / 76.1 ms to 79.0 / 77.7 ms (best of 10, two rounds, the commit before
and after the store and backend models; the store's 19-field dataclass and
the settings package). ``python bench/agent_bench.py --only oneshot
--attempts 7``, before and after alternating twice at load 2.2-3.2: the
``run --onetime`` process best 504 / 626 ms before, 544 / 559 ms after,
within the run-to-run noise (the standard-library anchor moved 178-244 ms).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any

from confagent.settings._kinds import Kind

__all__ = ["Naming", "Setting", "declared", "flag_naming", "setting", "toml_naming"]

Naming = Callable[[str], str]
"""A field's name -> how one source names it to the user (``--initial-cluster``, ``initial_cluster``)."""

_METADATA_KEY = "confagent.setting"


@dataclass(frozen=True, slots=True)
class Setting:
    """How one field is named and read by every source."""

    help: str
    """What it does, as a flag's help says it (the default is added to it)."""
    kind: Kind
    flag: str
    """Its flag without dashes (etcd's or confd's name): ``initial-cluster``."""
    toml: str
    """Its key in its TOML table: ``initial_cluster``."""
    metavar: str | None = None
    default_text: str | None = None
    """How help shows an empty default (``NAME.etcd``, ``this member alone``)."""
    flag_aliases: tuple[str, ...] = ()
    """Other spellings of the flag, with dashes (``--client-cakeys``)."""


def setting(default: Any, *, help: str, kind: Kind, flag: str, toml: str | None = None,
            metavar: str | None = None, default_text: str | None = None,
            flag_aliases: tuple[str, ...] = (), secret: bool = False) -> Any:
    """A dataclass field holding a ``Setting``; the TOML key defaults to the flag in snake_case.
    A ``secret`` (a password) is left out of the dataclass's ``repr``, so no log line shows it."""
    declared_as = Setting(help=help, kind=kind, flag=flag, toml=toml or flag.replace("-", "_"),
                          metavar=metavar, default_text=default_text, flag_aliases=flag_aliases)
    return dataclasses.field(default=default, metadata={_METADATA_KEY: declared_as}, repr=not secret)


def declared(component: type) -> dict[str, Setting]:
    """The settings of a settings dataclass, by field name, in declaration order."""
    return _declared(component)


@cache
def _declared(component: type) -> dict[str, Setting]:
    return {item.name: item.metadata[_METADATA_KEY] for item in dataclasses.fields(component)
            if _METADATA_KEY in item.metadata}


def flag_naming(component: type, prefix: str = "") -> Naming:
    """Fields named by their flags, ``--{prefix}{flag}`` (``--store-initial-cluster``)."""
    settings = declared(component)
    return lambda field: f"--{prefix}{settings[field].flag}"


def toml_naming(component: type) -> Naming:
    """Fields named by their TOML keys."""
    settings = declared(component)
    return lambda field: settings[field].toml
