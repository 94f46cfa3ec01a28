"""Every command's help: each flag that has a default names it the same way, ``(default: X)``."""

from __future__ import annotations

import argparse
import re
from collections.abc import Iterator

from confagent.cli import build_parser
from confagent.config import BACKENDS, CONFIG_KEYS, AgentConfig, flag_name
from confagent.settings import DURATION, Kind, declared, go_duration_text

_DEFAULT = re.compile(r"\(default: [^)]*\)")
_NO_DEFAULT = (None, argparse.SUPPRESS, "", (), [])


def _parsers(parser: argparse.ArgumentParser) -> Iterator[argparse.ArgumentParser]:
    """The parser and every command's under it, each once (aliases share a parser)."""
    yield parser
    seen: set[int] = set()
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                if id(sub) not in seen:
                    seen.add(id(sub))
                    yield from _parsers(sub)


def _flags(parser: argparse.ArgumentParser) -> Iterator[argparse.Action]:
    """The flags that take a value (not ``--help``, ``--version`` or store_true switches)."""
    for action in parser._actions:
        if action.option_strings and action.nargs != 0 and action.dest not in ("help", "version"):
            yield action


def _action(parser: argparse.ArgumentParser, flag: str) -> argparse.Action:
    return next(a for a in parser._actions if flag in a.option_strings)


def _shown(value: object, kind: Kind | None = None) -> str:
    """A configuration default as the help shows it: a duration as Go writes it, as etcd's help does."""
    if kind is DURATION and isinstance(value, int | float):
        return go_duration_text(value)
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, tuple):
        return ",".join(map(str, value))
    return str(value)


def test_every_flag_with_a_default_shows_it() -> None:
    missing = [f"{parser.prog} {action.option_strings[0]}: {action.help}"
               for parser in _parsers(build_parser()) for action in _flags(parser)
               if action.default not in _NO_DEFAULT and "(default: " not in (action.help or "")]
    assert not missing, "\n".join(missing)


def test_the_agent_flags_show_the_configuration_defaults() -> None:
    """``run`` and ``render`` flags default to None (the file decides): their help names
    what applies when neither a flag nor the file sets the key."""
    parsers = [p for p in _parsers(build_parser()) if p.prog.split()[-1] in ("run", "render")]
    wrong = []
    for parser in parsers:
        for key, where in CONFIG_KEYS.items():
            flags = [a for a in parser._actions if flag_name(key) in a.option_strings]
            component = getattr(AgentConfig(), where.component)
            default = getattr(component, where.field)
            if not flags or default in _NO_DEFAULT or default is False:
                continue
            kind = declared(type(component))[where.field].kind
            shown = flag_name(key) if default is True else _shown(default, kind)
            if f"(default: {shown})" not in (flags[0].help or ""):
                wrong.append(f"{parser.prog} {flag_name(key)} (default: {shown}): {flags[0].help}")
    assert len(parsers) == 2
    assert not wrong, "\n".join(wrong)


def test_defaults_are_spelled_one_way() -> None:
    """No ``(default)``, ``default X`` or ``X (default)``: only ``(default: X)``."""
    odd = [f"{parser.prog} {action.option_strings[0]}: {action.help}"
           for parser in _parsers(build_parser()) for action in parser._actions
           if action.option_strings and "default" in _DEFAULT.sub("", action.help or "")]
    assert not odd, "\n".join(odd)


def test_run_backend_help_names_every_backend() -> None:
    for command in ("run", "render"):
        parser = next(p for p in _parsers(build_parser()) if p.prog.split()[-1] == command)
        text = _action(parser, "--backend").help or ""
        assert all(re.search(rf"\b{name}\b", text) for name in BACKENDS), text
