"""``--log-level``: one flag for every command that logs, one set of levels, its default shown.

The levels are ``config.LOG_LEVELS``; confd's (logrus) names are read as one
of them (``config.log_level_named``), on the command line as in confagent.toml.
"""

from __future__ import annotations

import argparse

from confagent.config import DEFAULT_LOG_LEVEL, LOG_LEVEL_ALIASES, LOG_LEVELS, log_level_named

__all__ = ["add_log_level"]

_NAMES = f"{', '.join(LOG_LEVELS[:-1])} or {LOG_LEVELS[-1]}"


def add_log_level(parser: argparse.ArgumentParser, *, file_decides: bool = False) -> None:
    """Add ``--log-level LEVEL`` to ``parser``; its value is one of ``LOG_LEVELS``.

    Args:
        file_decides: the command reads confagent.toml, which may set the level: the flag
            then defaults to None (not given) and the help shows the configuration's default.
    """
    parser.add_argument(
        "--log-level", type=_level, default=None if file_decides else DEFAULT_LOG_LEVEL, metavar="LEVEL",
        help=f"{_NAMES}; confd's {', '.join(LOG_LEVEL_ALIASES)} work too (default: {DEFAULT_LOG_LEVEL})")


def _level(text: str) -> str:
    level = log_level_named(text)
    if level not in LOG_LEVELS:
        raise argparse.ArgumentTypeError(f"{text!r} is not one of {_NAMES}")
    return level
