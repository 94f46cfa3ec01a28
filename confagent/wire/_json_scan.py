"""Go's encoding/json as etcd's gateway reads a request body: what it accepts, and its errors.

etcd 3.4's gateway reads a body with ``json.Decoder.Decode`` into a
``json.RawMessage`` and then lets jsonpb fill the protobuf message field by
field. This module is the first half: which bodies Go accepts, and the literal
message Go gives for each one it refuses ("unexpected EOF", "invalid character
'o' in literal null (expecting 'u')", ...). ``_json_fields`` is the second half.

Strategy:

- Fast path: ``orjson.loads`` of the whole body. Whatever orjson accepts, Go
  accepts too, with the same meaning.
- Slow path, for the bodies orjson refuses: a scanner that follows Go's
  ``scanner.go`` token by token finds either Go's error or the end of the first
  value. Go ignores what follows the first value, and accepts invalid UTF-8,
  lone surrogates and numbers beyond float64 that orjson refuses. The first value
  is then parsed by Python's json, with the literal text of every non-integer
  number kept as a :class:`RawNumber`, since Go quotes that text in its errors.

Rules: no I/O; every refusal is an :class:`~confagent.errors.InvalidArgument`
whose message is Go's.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Final

import orjson

from confagent.errors import InvalidArgument

__all__ = [
    "JsonObject",
    "RawNumber",
    "check_valid",
    "go_kind",
    "go_quote_char",
    "loads",
    "loads_exact",
    "next_value",
]

JsonObject = dict[str, Any]

_UNEXPECTED_EOF: Final = "unexpected EOF"
_END_OF_INPUT: Final = "unexpected end of JSON input"
_SPACE: Final = frozenset(b" \t\r\n")
_STRING_RUN: Final = re.compile(rb'[^"\\\x00-\x1f]*')
_HEX: Final = frozenset(b"0123456789abcdefABCDEF")
_DIGITS: Final = frozenset(b"0123456789")
_LITERALS: Final = {ord("t"): b"true", ord("f"): b"false", ord("n"): b"null"}
_CLOSER: Final = {ord("{"): ord("}"), ord("["): ord("]")}
# Python's int() refuses more digits than this; longer integers stay RawNumber.
_INT_DIGITS_MAX: Final = 64
_SIMPLE_ESCAPES: Final = frozenset(b'"\\/bfnrt')
_GO_CHAR_ESCAPES: Final = {7: "\\a", 8: "\\b", 9: "\\t", 10: "\\n", 11: "\\v", 12: "\\f", 13: "\\r"}
# Go's json limits nesting to this depth ("exceeded max depth").
_MAX_DEPTH: Final = 10000


@dataclass(frozen=True, slots=True)
class RawNumber:
    """A JSON number that is not an integer, with its literal text (``1.5``, ``1e3``)."""

    text: str


class _TruncatedInputError(Exception):
    """The input ended inside a value (never escapes this module)."""


def go_quote_char(c: int) -> str:
    """Go's ``quoteChar``: how a byte appears in a scanner error message."""
    if c == 0x27:
        return "'\\''"
    if c == 0x22:
        return "'\"'"
    if c == 0x5C:
        return "'\\\\'"
    if c in _GO_CHAR_ESCAPES:
        return f"'{_GO_CHAR_ESCAPES[c]}'"
    if c < 0x20 or c == 0x7F:
        return f"'\\x{c:02x}'"
    if 0x80 <= c <= 0xA0 or c == 0xAD:
        return f"'\\u{c:04x}'"
    return f"'{chr(c)}'"


def _invalid(c: int, context: str) -> InvalidArgument:
    return InvalidArgument(f"invalid character {go_quote_char(c)} {context}")


class _Scanner:
    """Finds the end of one JSON value in ``data`` or raises Go's error for it."""

    __slots__ = ("data", "end", "pos")

    def __init__(self, data: bytes, pos: int) -> None:
        self.data = data
        self.pos = pos
        self.end = len(data)

    def skip_space(self) -> None:
        data, pos, end = self.data, self.pos, self.end
        while pos < end and data[pos] in _SPACE:
            pos += 1
        self.pos = pos

    def peek(self) -> int:
        if self.pos >= self.end:
            raise _TruncatedInputError
        return self.data[self.pos]

    def value(self) -> None:
        """Scan one value; containers iteratively, with an explicit stack."""
        stack: list[int] = []
        self.skip_space()
        self._begin_value(stack)
        while stack:
            self.skip_space()
            c = self.peek()
            self.pos += 1
            if stack[-1] == ord("{"):
                if c == ord(","):
                    self._object_key()
                elif c == ord("}"):
                    stack.pop()
                    continue
                else:
                    raise _invalid(c, "after object key:value pair")
            elif c == ord(","):
                pass
            elif c == ord("]"):
                stack.pop()
                continue
            else:
                raise _invalid(c, "after array element")
            self.skip_space()
            self._begin_value(stack)

    def _begin_value(self, stack: list[int]) -> None:
        """Scan a scalar, or open a container (pushing it) and its first member."""
        while True:
            c = self.peek()
            if c in _CLOSER:
                if len(stack) >= _MAX_DEPTH:
                    raise InvalidArgument("exceeded max depth")
                self.pos += 1
                self.skip_space()
                if self.peek() == _CLOSER[c]:
                    self.pos += 1
                    return
                stack.append(c)
                if c == ord("{"):
                    self._object_key(first=True)
                    self.skip_space()
                continue
            self._scalar(c)
            return

    def _object_key(self, first: bool = False) -> None:
        if not first:
            self.skip_space()
        c = self.peek()
        if c != ord('"'):
            raise _invalid(c, "looking for beginning of object key string")
        self.pos += 1
        self._string_rest()
        self.skip_space()
        c = self.peek()
        if c != ord(":"):
            raise _invalid(c, "after object key")
        self.pos += 1

    def _scalar(self, c: int) -> None:
        if c == ord('"'):
            self.pos += 1
            self._string_rest()
        elif c == ord("-") or c in _DIGITS:
            self._number()
        elif c in _LITERALS:
            self._literal(_LITERALS[c])
        else:
            raise _invalid(c, "looking for beginning of value")

    def _string_rest(self) -> None:
        data = self.data
        while True:
            run = _STRING_RUN.match(data, self.pos)
            assert run is not None
            self.pos = run.end()
            c = self.peek()
            self.pos += 1
            if c == ord('"'):
                return
            if c != ord("\\"):
                raise _invalid(c, "in string literal")
            c = self.peek()
            self.pos += 1
            if c == ord("u"):
                for _ in range(4):
                    h = self.peek()
                    if h not in _HEX:
                        raise _invalid(h, "in \\u hexadecimal character escape")
                    self.pos += 1
            elif c not in _SIMPLE_ESCAPES:
                raise _invalid(c, "in string escape code")

    def _digits(self) -> None:
        data, pos, end = self.data, self.pos, self.end
        while pos < end and data[pos] in _DIGITS:
            pos += 1
        self.pos = pos

    def _need_digit(self, context: str) -> None:
        c = self.peek()
        if c not in _DIGITS:
            raise _invalid(c, context)
        self._digits()

    def _number(self) -> None:
        """Scan a number; one that ends with the input is complete (a container is not)."""
        if self.peek() == ord("-"):
            self.pos += 1
            self._need_digit("in numeric literal")
        elif self.data[self.pos] == ord("0"):
            self.pos += 1
        else:
            self._digits()
        if self.pos < self.end and self.data[self.pos] == ord("."):
            self.pos += 1
            self._need_digit("after decimal point in numeric literal")
        if self.pos < self.end and self.data[self.pos] in b"eE":
            self.pos += 1
            if self.peek() in b"+-":
                self.pos += 1
            self._need_digit("in exponent of numeric literal")

    def _literal(self, word: bytes) -> None:
        for expected in word:
            c = self.peek()
            if c != expected:
                raise _invalid(c, f"in literal {word.decode()} (expecting {go_quote_char(expected)})")
            self.pos += 1


def check_valid(text: bytes) -> None:
    """Go's ``checkValid``: ``text`` must be exactly one JSON value, spaces around allowed."""
    scanner = _Scanner(text, 0)
    try:
        scanner.value()
    except _TruncatedInputError:
        raise InvalidArgument(_END_OF_INPUT) from None
    scanner.skip_space()
    if scanner.pos < scanner.end:
        raise _invalid(text[scanner.pos], "after top-level value")


def next_value(buffer: bytes, *, final: bool) -> tuple[JsonObject | None, int]:
    """Decode the first JSON object of a stream, as Go's ``json.Decoder`` does.

    Used for bodies that hold several objects (``/v3/watch``, ``/v3/lease/keepalive``).

    Args:
        buffer: bytes received so far.
        final: no more bytes will come; an unfinished value is then an error.

    Returns:
        ``(object, consumed)``; ``(None, consumed)`` when the buffer holds only
        spaces, or (unless ``final``) an unfinished value: wait for more bytes.

    Raises:
        InvalidArgument: Go's message for the first malformed value.
    """
    scanner = _Scanner(buffer, 0)
    scanner.skip_space()
    start = scanner.pos
    if start == len(buffer):
        return None, start
    try:
        scanner.value()
    except _TruncatedInputError:
        if final:
            raise InvalidArgument(_UNEXPECTED_EOF) from None
        return None, 0
    return _as_object(_parse_exact(buffer[start : scanner.pos])), scanner.pos


def loads(body: bytes) -> JsonObject:
    """Decode a unary request body as etcd does: empty means ``{}``, extra bytes are ignored.

    Raises:
        InvalidArgument: with Go's message for a malformed body or a non-object.
    """
    try:
        value = orjson.loads(body)
    except orjson.JSONDecodeError:
        return loads_exact(body)
    return _as_object(value)


def loads_exact(body: bytes) -> JsonObject:
    """Like :func:`loads`, always on the slow path: non-integer numbers stay :class:`RawNumber`."""
    found, _ = next_value(body, final=True)
    return {} if found is None else found


def go_kind(value: object) -> str:
    """The JSON kind Go names in "json: cannot unmarshal <kind> into Go value of type ..."."""
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, str):
        return "string"
    if isinstance(value, dict):
        return "object"
    if isinstance(value, list):
        return "array"
    return "number"


def _as_object(value: object) -> JsonObject:
    if value is None:
        return {}
    if isinstance(value, dict):
        return value
    raise InvalidArgument(
        f"json: cannot unmarshal {go_kind(value)} into Go value of type map[string]json.RawMessage"
    )


def _parse_int(text: str) -> int | RawNumber:
    return int(text) if len(text) <= _INT_DIGITS_MAX else RawNumber(text)


def _parse_exact(text: bytes) -> Any:
    """Parse one value already checked by the scanner; Go replaces invalid UTF-8 by U+FFFD."""
    try:
        return json.loads(
            text.decode("utf-8", "replace"), parse_float=RawNumber, parse_int=_parse_int
        )
    except RecursionError:
        raise InvalidArgument("exceeded max depth") from None
