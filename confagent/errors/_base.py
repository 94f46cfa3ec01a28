"""The root of the tree: every error confagent raises derives from ConfagentError."""

from __future__ import annotations

__all__ = [
    "ConfagentError",
]


class ConfagentError(Exception):
    """Base of every error confagent raises."""
