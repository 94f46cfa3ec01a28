"""Response bodies in metad's three formats, chosen by ``Accept`` (pure).

Rules (metad's conventions, with its content-type bug fixed):
1. ``Accept`` naming ``application/json`` gives JSON (``pretty`` indents it),
   one of the YAML types gives YAML, anything else plain text. The first
   recognised type in the header wins.
2. Text: a value is its raw text; a directory is one ``<path>\\t<value>``
   line per value, sorted, paths relative to the directory.
3. A write answers ``OK`` / ``{"code":200,"type":"OK"}``; an error answers
   its message / ``{"code":N,"message":...,"type":"ERROR"}``. Every body is
   labelled with its own format's content type (metad sends JSON errors as
   ``text/plain``).
"""

from __future__ import annotations

import enum
from typing import Any

import orjson
import yaml

from confagent.metad._tree import Node, leaves

__all__ = ["Format", "error_body", "negotiate", "ok_body", "render", "render_document"]

_YAML_TYPES = ("application/yaml", "application/x-yaml", "text/yaml", "text/x-yaml")


class Format(enum.Enum):
    """A response format and its content type."""

    TEXT = b"text/plain; charset=utf-8"
    JSON = b"application/json"
    YAML = b"application/yaml"

    @property
    def content_type(self) -> bytes:
        return self.value


def negotiate(accept: str) -> Format:
    """The format ``accept`` (an ``Accept`` header value) asks for (rule 1)."""
    for part in accept.split(","):
        media = part.split(";", 1)[0].strip().lower()
        if media == "application/json":
            return Format.JSON
        if media in _YAML_TYPES:
            return Format.YAML
    return Format.TEXT


def render(node: Node, fmt: Format, *, pretty: bool = False) -> bytes:
    """``node`` in ``fmt`` (rules 1-2)."""
    if fmt is Format.JSON:
        return _json(node, pretty)
    if fmt is Format.YAML:
        return _yaml(node)
    if isinstance(node, str):
        return node.encode()
    return b"".join(f"{path}\t{value}\n".encode() for path, value in leaves(node))


def render_document(value: object, fmt: Format, *, pretty: bool = False) -> tuple[bytes, bytes]:
    """A document that is not a tree (the rules): YAML when asked for, else JSON; and its content type."""
    if fmt is Format.YAML:
        return _yaml(value), Format.YAML.content_type
    return _json(value, pretty), Format.JSON.content_type


def ok_body(fmt: Format) -> bytes:
    """The body of a successful write (rule 3)."""
    return _structured({"code": 200, "type": "OK"}, fmt) if fmt is not Format.TEXT else b"OK"


def error_body(status: int, message: str, fmt: Format) -> bytes:
    """The body of an error (rule 3)."""
    if fmt is Format.TEXT:
        return message.encode()
    return _structured({"code": status, "message": message, "type": "ERROR"}, fmt)


def _structured(value: dict[str, Any], fmt: Format) -> bytes:
    return _json(value, False) if fmt is Format.JSON else _yaml(value)


def _json(value: object, pretty: bool) -> bytes:
    option = orjson.OPT_SORT_KEYS | (orjson.OPT_INDENT_2 | orjson.OPT_APPEND_NEWLINE if pretty else 0)
    return orjson.dumps(value, option=option)


def _yaml(value: object) -> bytes:
    text: str = yaml.safe_dump(value, default_flow_style=False, sort_keys=True, allow_unicode=True)
    return text.encode()
