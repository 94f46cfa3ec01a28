"""Flags derived from a settings dataclass (``confagent.settings``): one per declared field.

``add_setting_flags`` declares them (``--{prefix}{flag}``, the field's help and
the default of the component it configures), leaving each unset (None) unless
given. ``given_settings`` collects what was given, by TOML key, for
``confagent.config.load_config`` or ``settings_from_flags``, which reads
them with the same readers as a TOML table and names a bad one by its flag.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Collection, Mapping
from pathlib import Path
from typing import Any, TypeVar

from confagent.settings import DURATION, Setting, TableReader, declared, go_duration_text

__all__ = ["add_setting_flags", "flag_type", "given_settings", "settings_from_flags"]

T = TypeVar("T")


def flag_type(parse: Callable[[str], T]) -> Callable[[str], T]:
    """``parse`` as an argparse ``type``: its ``ValueError`` becomes the flag's error, worded as it is."""
    def parse_flag(text: str) -> T:
        try:
            return parse(text)
        except ValueError as error:
            raise argparse.ArgumentTypeError(str(error)) from None
    parse_flag.__name__ = getattr(parse, "__name__", "value")
    return parse_flag


def add_setting_flags(parser: argparse.ArgumentParser, component: type, defaults: object, *,
                      prefix: str = "", help_prefix: str = "", only: Collection[str] | None = None,
                      aliases: Mapping[str, tuple[str, ...]] | None = None) -> None:
    """A flag for each setting ``component`` declares, its help showing ``defaults``' value.

    Args:
        prefix: put before each flag's name (``store-``); the destination is the flag's name
            in snake_case, as argparse would make it.
        help_prefix: put before each help text (``embedded store: ``).
        only: these fields' flags alone (None: every field's).
        aliases: field -> more spellings of its flag (``--data-dir`` for ``--store-data-dir``).
    """
    for field, item in declared(component).items():
        if only is not None and field not in only:
            continue
        own_aliases = () if prefix else item.flag_aliases
        names = [f"--{prefix}{item.flag}", *own_aliases, *(aliases or {}).get(field, ())]
        shown = _default_help(getattr(defaults, field), item, f"--{prefix}{item.flag}")
        options: dict[str, Any] = {"dest": _dest(prefix, item), "default": None,
                                   "help": help_prefix + item.help + shown}
        if item.kind.negatable:
            options["action"] = argparse.BooleanOptionalAction
        elif item.kind.switch:
            options["action"] = "store_true"
        else:
            options["metavar"] = item.metavar
            if item.kind.from_text is not None:
                options["type"] = flag_type(item.kind.from_text)
            if item.kind.repeat:
                options["action"] = "append"
        parser.add_argument(*names, **options)


def given_settings(args: argparse.Namespace, component: type, prefix: str = "", *,
                   section: str = "") -> dict[str, object]:
    """TOML key (dotted under ``section``, if any) -> value, for each flag of ``component`` given."""
    settings = declared(component).values()
    given = {f"{section}.{item.toml}" if section else item.toml: getattr(args, _dest(prefix, item), None)
             for item in settings}
    return {key: value for key, value in given.items() if value is not None}


def settings_from_flags(component: type[T], args: argparse.Namespace) -> T:
    """``component`` with the flags given (``add_setting_flags`` without a prefix) over its defaults.

    Raises:
        ConfigError: a value its setting cannot take; ``key`` is the flag.
    """
    settings = declared(component)
    by_key = {item.toml: item for item in settings.values()}
    reader = TableReader(given_settings(args, component), file="", section="", fields=by_key,
                         naming=lambda key: f"--{by_key[key].flag}")
    values = {field: item.kind.read(reader, item.toml, Path.cwd())
              for field, item in settings.items() if reader.has(item.toml)}
    return component(**values)


def _dest(prefix: str, item: Setting) -> str:
    return (prefix + item.flag).replace("-", "_")


def _default_help(value: object, item: Setting, flag: str) -> str:
    """`` (default: X)``: ``value`` as the help shows it (``flag`` for true), else the setting's word
    for an empty default."""
    if value is True:
        shown: str | None = flag
    elif value is None or value is False or value in ((), ""):
        shown = item.default_text
    elif item.kind is DURATION and isinstance(value, int | float):
        shown = go_duration_text(value)  # as etcd's help shows a duration: 10m0s
    elif isinstance(value, float):
        shown = f"{value:g}"
    elif isinstance(value, tuple):
        shown = ",".join(map(str, value))
    else:
        shown = str(value)
    return f" (default: {shown})" if shown else ""
