"""How thorough the generated tests are: the full run's counts, and the fast loop's share of them.

Rule: every example or seed count a test states goes through :func:`examples`. In
the full run (``scripts/test``, CI) it is the count as written; in the fast loop
(``pytest -m "not system"``, tests/conftest.py switches it on) it is
``FAST_LOOP_SHARE`` of it, at least ``FAST_LOOP_MIN``, so the loop stays well under a
minute while every property still runs. Hypothesis tests that state no count get
the ``fast-loop`` profile's ``max_examples`` there.
"""

from __future__ import annotations

__all__ = ["FAST_LOOP_MIN", "FAST_LOOP_SHARE", "examples", "fast_loop"]

FAST_LOOP_SHARE = 0.2
FAST_LOOP_MIN = 10

_fast_loop = [False]


def fast_loop(on: bool) -> None:
    """Switch the fast loop's counts on or off (before the test modules are imported)."""
    _fast_loop[0] = on


def examples(full: int) -> int:
    """``full`` in the full run; its ``FAST_LOOP_SHARE`` (at least ``FAST_LOOP_MIN``) in the fast loop."""
    return max(FAST_LOOP_MIN, round(full * FAST_LOOP_SHARE)) if _fast_loop[0] else full
