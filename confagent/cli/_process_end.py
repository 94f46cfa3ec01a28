"""How the ``confagent`` process ends: a one-shot ends at once, once its exit handlers have run.

Rules:
1. ``end_process(code)`` ends the process of the ``confagent`` program
   (``python -m confagent``, the ``confagent`` script) with ``code``: as
   ``sys.exit(code)`` does, unless the command asked for a quick end
   (``end_quickly``: ``run --onetime`` and ``render``).
2. A quick end does what an ordinary end does that anyone can see: every
   exit handler (``atexit``: logging's flush, a weakref finalizer, one a
   caller registered) runs, then stdout and stderr are flushed; then
   ``os._exit(code)``. What it skips is the interpreter's teardown, every
   module's objects freed one by one and a last collection (8-18 ms of a
   100-resource one-shot's CPU), memory the kernel takes back at once. A
   one-shot writes its files through descriptors it closes (``fsutil``), so
   no buffered file is left for the teardown to flush.
3. A non-daemon thread still alive, or stdout or stderr failing to flush,
   makes it an ordinary end: the interpreter joins the thread (before the
   exit handlers, as always), or reports the failed flush (exit code 120).
4. Only ``main``'s return ends so: ``main(argv)`` itself returns, for tests
   and callers in a process of their own, and an exception escaping it
   goes through the ordinary end (its traceback, exit code 1).
"""

from __future__ import annotations

import atexit
import os
import sys
import threading
from typing import NoReturn

__all__ = ["end_process", "end_quickly"]

_quick_end = False


def end_quickly() -> None:
    """Let this process end at once when the command returns (rule 2): a one-shot, which leaves nothing
    that needs the interpreter's teardown."""
    global _quick_end  # noqa: PLW0603 - the process's own state, as atexit's registry is
    _quick_end = True


def end_process(code: int) -> NoReturn:
    """End the process with ``code``: at once after a one-shot (rules 2-3), else as ``sys.exit`` does."""
    if _quick_end and not _other_threads_alive():
        atexit._run_exitfuncs()  # every handler, each error printed as the interpreter's end prints it
        if _flushed(sys.stdout) and _flushed(sys.stderr):
            os._exit(code)
    sys.exit(code)


def _other_threads_alive() -> bool:
    """Whether a thread the interpreter would wait for at exit runs besides this one (rule 3)."""
    current = threading.current_thread()
    return any(thread is not current and not thread.daemon for thread in threading.enumerate())


def _flushed(stream: object) -> bool:
    """Whether ``stream`` (sys.stdout or sys.stderr, maybe None or closed) holds nothing unwritten now."""
    flush = getattr(stream, "flush", None)
    if flush is None:
        return True
    try:
        flush()
    except (OSError, ValueError):
        return False
    return True
