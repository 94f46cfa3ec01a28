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
4. A one-shot pass may put the set-up off (``deferred``): importing
   structlog (with its renderers) is a tenth of a one-shot's start-up, and at
   ``--log-level warning`` a pass that succeeds logs nothing. The level and
   format are kept; a stand-in handler takes the root logger's place; each
   ``deferred_logger`` drops the calls its level filters without importing
   structlog, and the first line that passes (from it, or a standard-library
   record reaching the stand-in) makes the set-up as rule 1-3 say and goes
   out through it: the lines are the same as with the set-up made at once.
   Only for a process whose every structlog line comes through a
   ``deferred_logger`` (a module logging through ``structlog.get_logger``
   itself, as the embedded store's do, would log unconfigured), or that
   makes the set-up before such a module logs: any call of a deferred logger
   other than a filtered level's, ``bind()`` included, makes it.
"""

from __future__ import annotations

import logging
import sys
from typing import TYPE_CHECKING, Any, TextIO, cast

if TYPE_CHECKING:
    import structlog

__all__ = ["configure_logging", "deferred_logger"]

_LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING, "error": logging.ERROR}
_FILTERED = {"debug": logging.DEBUG, "info": logging.INFO, "msg": logging.INFO, "warning": logging.WARNING,
             "warn": logging.WARNING}
"""The calls of a ``FilteringBoundLogger`` that its level may drop (``error`` and up always pass)."""


def configure_logging(level: str = "info", *, json: bool | None = None, deferred: bool = False) -> None:
    """Log to stderr at ``level`` (``config.LOG_LEVELS``); ``json`` None means JSON unless
    stderr is a terminal; ``deferred``: at the first line that passes (rule 4)."""
    global _pending  # noqa: PLW0603 - the process's one logging set-up, as structlog's own
    _pending = _Pending(level, json)
    if deferred:
        _route_standard_logging(_StandIn(_pending), _LEVELS[level])
    else:
        _pending.apply()


def deferred_logger(name: str) -> structlog.typing.FilteringBoundLogger:
    """structlog's logger ``name``, which imports structlog at its first line that passes (rule 4)."""
    if _pending is None or _pending.done:
        import structlog  # noqa: PLC0415 - rule 4

        return cast("structlog.typing.FilteringBoundLogger", structlog.get_logger(name))
    return cast("structlog.typing.FilteringBoundLogger", _DeferredLogger(name, _pending))


class _Pending:
    """The set-up asked for, made once (rule 4)."""

    def __init__(self, level: str, json: bool | None) -> None:
        self.level = _LEVELS[level]
        self.done = False
        self._args = (level, json)

    def apply(self) -> None:
        if not self.done:
            self.done = True
            _configure_now(*self._args)


_pending: _Pending | None = None


class _DeferredLogger:
    """Drops what the level filters; anything else makes the set-up and goes to structlog's logger."""

    def __init__(self, name: str, pending: _Pending) -> None:
        self._name = name
        self._pending = pending
        self._logger: Any = None

    def __getattr__(self, method: str) -> Any:
        if self._logger is None:
            if _FILTERED.get(method, logging.CRITICAL) < self._pending.level:
                return _drop
            import structlog  # noqa: PLC0415 - rule 4

            self._pending.apply()
            self._logger = structlog.get_logger(self._name)
        return getattr(self._logger, method)


def _drop(*_args: Any, **_kwargs: Any) -> None:
    """A filtered call: nothing."""


class _StandIn(logging.Handler):
    """The root logger's handler until the set-up is made: the first record makes it (rule 4)."""

    def __init__(self, pending: _Pending) -> None:
        super().__init__()
        self._pending = pending

    def emit(self, record: logging.LogRecord) -> None:
        self._pending.apply()
        for handler in logging.getLogger().handlers:
            if isinstance(handler, _Handler):
                handler.handle(record)


def _configure_now(level: str, json: bool | None) -> None:
    """Rules 1-3."""
    import structlog  # noqa: PLC0415 - rule 4

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
    handler = _Handler(sys.stderr)
    handler.setFormatter(structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[*stamps, structlog.stdlib.add_logger_name, structlog.processors.format_exc_info],
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer]))
    _route_standard_logging(handler, _LEVELS[level])


def _route_standard_logging(handler: logging.Handler, level: int) -> None:
    """Rules 2-3: ``handler`` (structlog's renderer, or the stand-in) replaces this module's previous one."""
    root = logging.getLogger()
    for previous in [h for h in root.handlers if isinstance(h, _Handler | _StandIn)]:
        root.removeHandler(previous)
    root.addHandler(handler)
    root.setLevel(max(level, logging.WARNING))


class _Handler(logging.StreamHandler[TextIO]):
    """The handler this module installs (rule 2), told apart from others'."""
