"""YAML and JSON documents flattened to key paths, as confd's file backend does.

Rules (confd's ``nodeWalk``):
1. A mapping's entries become path segments: ``{a: {b: c}}`` -> ``/a/b = c``.
2. A list's items are numbered from 0: ``{a: [x, y]}`` -> ``/a/0 = x``, ``/a/1 = y``.
3. Scalars print as Go prints them: ``true``/``false``, integers in decimal,
   floats without an exponent or a trailing ``.0`` (``1e3`` -> ``1000``,
   ``2.50`` -> ``2.5``); ``null`` and empty collections give no key.
4. Segments are joined as ``path.Join`` does: ``{"a/": {"/b": 1}}`` -> ``/a/b``.
5. YAML dates stay the text they were written as (yaml.v2 keeps them strings).
6. The top level must be a mapping (or empty). Every problem is a
   ``SourceFileError`` naming the file and, where known, the line.

Differences from confd, on purpose: a mapping key that is not a string
(``80: web``) is printed like a value instead of crashing, and a ``.json``
file is read with a JSON parser (exact JSON, line numbers in errors).
"""

from __future__ import annotations

import json
import math
import posixpath
import re
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import yaml

from confagent.errors import SourceFileError

__all__ = ["flatten_document", "go_scalar", "parse_document"]


class _Loader(yaml.SafeLoader):
    """SafeLoader resolving scalars as yaml.v2 does: no timestamps (they stay strings), and
    floats with an exponent but no dot or exponent sign (``1e3``, ``1.0e3``) are floats."""


_TIMESTAMP = "tag:yaml.org,2002:timestamp"
_Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != _TIMESTAMP]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)[eE][-+]?[0-9]+$"),
    list("-+.0123456789"),
)


def parse_document(path: str, text: str) -> Any:
    """The document in ``text`` (JSON when ``path`` ends in ``.json``, YAML otherwise).

    Raises:
        SourceFileError: the text does not parse; names ``path`` and the line.
    """
    if path.endswith(".json"):
        try:
            return json.loads(text)
        except json.JSONDecodeError as error:
            raise SourceFileError(path, error.msg, line=error.lineno) from None
    try:
        return yaml.load(text, Loader=_Loader)  # a SafeLoader subclass
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        problem = error.problem or error.context or "invalid YAML"
        raise SourceFileError(path, problem, line=mark.line + 1 if mark else None) from None
    except yaml.YAMLError as error:
        raise SourceFileError(path, str(error)) from None


def flatten_document(path: str, document: Any) -> dict[str, str]:
    """The key paths and values of a parsed document (module rules).

    Raises:
        SourceFileError: the top level is not a mapping, or a key is not a scalar.
    """
    if document is None:
        return {}
    if not isinstance(document, dict):
        raise SourceFileError(path, f"the top level must be a mapping, not {_kind(document)}")
    return dict(_walk(path, document, "/"))


def _walk(path: str, node: Any, key: str) -> Iterator[tuple[str, str]]:
    if isinstance(node, dict):
        for name, child in node.items():
            segment = go_scalar(name)
            if segment is None:
                raise SourceFileError(path, f"under {key}: a mapping key must be a scalar, "
                                            f"not {_kind(name)}")
            yield from _walk(path, child, posixpath.normpath(posixpath.join(key, segment.lstrip("/"))))
    elif isinstance(node, list):
        for index, child in enumerate(node):
            yield from _walk(path, child, posixpath.join(key, str(index)))
    else:
        value = go_scalar(node)
        if value is not None:
            yield key, value


def go_scalar(value: Any) -> str | None:
    """``value`` as confd's file backend prints it; None for null and anything not a scalar."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return _go_float(value)
    return None


def _go_float(value: float) -> str:
    """Go's ``strconv.FormatFloat(v, 'f', -1, 64)``: shortest round-trip digits, no exponent."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    text = format(Decimal(repr(value)), "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text


def _kind(value: Any) -> str:
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return type(value).__name__
