"""Reading a gateway answer into a value: a malformed answer becomes ClientError, once for every call."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from confagent import wire
from confagent.errors import ClientError, ConfagentError
from confagent.wire import ResponseHeader

__all__ = ["decoded", "header_of"]

T = TypeVar("T")


def header_of(body: dict[str, Any]) -> ResponseHeader:
    """The header of an answer that carries nothing else."""
    return wire.decode_header(body.get("header") or {})


def decoded(decoder: Callable[[dict[str, Any]], T], body: dict[str, Any]) -> T:
    """``decoder(body)``, a malformed answer mapped to ClientError."""
    try:
        return decoder(body)
    except ConfagentError:
        raise
    except (KeyError, TypeError, ValueError, AttributeError) as error:
        raise ClientError(f"a malformed answer: {error!r}") from error
