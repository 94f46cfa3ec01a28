"""Logging set-up for every command: one format per process, console lines on a TTY, JSON lines otherwise.

Rules:
1. confagent's own lines are structlog's, rendered on stderr.
2. Every standard-library logger (uvicorn's ``uvicorn.error``, asyncio's,
   httpx's, ...) reaches the root logger's handler, whose formatter is
   structlog's (``ProcessorFormatter``) with the same renderer, so its lines
   look like the rest and name their ``logger``. uvicorn leaves its loggers to
   this set-up (``confagent.http_listener`` gives it no logging config). A
   second set-up replaces the first's handler; others' handlers stay.
3. The standard library's loggers speak from ``warning`` up (their ``info``
   is one line per HTTP request), or from ``error`` when that is the level.
"""

from __future__ import annotations

import logging
import sys
from typing import TextIO

import structlog

__all__ = ["configure_logging"]

_LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING, "error": logging.ERROR}


def configure_logging(level: str = "info", *, json: bool | None = None) -> None:
    """Log to stderr at ``level`` (``config.LOG_LEVELS``); ``json`` None means JSON unless
    stderr is a terminal."""
    as_json = not sys.stderr.isatty() if json is None else json
    renderer: structlog.typing.Processor = (
        structlog.processors.JSONRenderer() if as_json else structlog.dev.ConsoleRenderer())
    stamps: list[structlog.typing.Processor] = [
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    structlog.configure(
        processors=[structlog.contextvars.merge_contextvars, *stamps,
                    structlog.processors.format_exc_info, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(_LEVELS[level]),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=True,
    )
    _route_standard_logging(renderer, stamps, _LEVELS[level])


def _route_standard_logging(renderer: structlog.typing.Processor, stamps: list[structlog.typing.Processor],
                            level: int) -> None:
    """Rules 2-3: the root logger's handler formats through structlog's renderer."""
    handler = _Handler(sys.stderr)
    handler.setFormatter(structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[*stamps, structlog.stdlib.add_logger_name, structlog.processors.format_exc_info],
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer]))
    root = logging.getLogger()
    for previous in [h for h in root.handlers if isinstance(h, _Handler)]:
        root.removeHandler(previous)
    root.addHandler(handler)
    root.setLevel(max(level, logging.WARNING))


class _Handler(logging.StreamHandler[TextIO]):
    """The handler this module installs (rule 2), told apart from others'."""
