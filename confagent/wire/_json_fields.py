"""jsonpb's rules for one field of an etcd message: reading a request's, with Go's error messages.

After Go has read a body (``_json_scan``), jsonpb fills the message field by
field, in proto field order, and stops at the first error. Each reader here
takes the decoded JSON value of one field (``None`` when absent or null, which
jsonpb treats alike) and returns the protobuf value or raises
:class:`~confagent.errors.InvalidArgument` with the message etcd sends:

- int64: a JSON number, or a string holding one (jsonpb drops the quotes and
  lets encoding/json read the rest, hence "invalid character 'e' in literal
  true (expecting 'r')" for ``"ten"``).
- bool: only ``true``/``false``.
- bytes: strict standard base64 with padding, except that ``\\r`` and ``\\n``
  are skipped, as Go's decoder does; errors name Go's byte offset.
- enums: a name (unknown → ``unknown value "UP" for enum ...``) or a number.

Writing: :func:`b64` is how jsonpb writes a bytes field, in requests and
responses alike.

Known difference: etcd accepts any int32 for an enum (``"sort_order":7``);
the message values are IntEnums, so an undefined number is refused here with
``unknown value 7 for enum ...``.
"""

from __future__ import annotations

import binascii
import re
from binascii import b2a_base64
from collections.abc import Mapping
from enum import IntEnum
from typing import Any, Final, TypeVar

from confagent.errors import InvalidArgument
from confagent.wire._enums import enum_member
from confagent.wire._json_scan import JsonObject, RawNumber, check_valid, go_kind

__all__ = [
    "GoUnknownNumberText",
    "b64",
    "pick",
    "read_bool",
    "read_bytes",
    "read_enum",
    "read_enum_number",
    "read_int64",
    "read_message",
    "read_repeated",
    "read_string",
    "read_uint64",
]

E = TypeVar("E", bound=IntEnum)

_INT64_MIN: Final = -(1 << 63)
_INT64_MAX: Final = (1 << 63) - 1
_INT32_MIN: Final = -(1 << 31)
_INT32_MAX: Final = (1 << 31) - 1
_UINT64_MAX: Final = (1 << 64) - 1
_PLAIN_INT: Final = re.compile(r"[ \t\n\r]*(-?(?:0|[1-9][0-9]*))[ \t\n\r]*")
_B64_ALPHABET: Final = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
_B64_VALUE: Final = {c: i for i, c in enumerate(_B64_ALPHABET)}
_NEWLINES: Final = (0x0A, 0x0D)
_PAD: Final = 0x3D


class GoUnknownNumberText(InvalidArgument):
    """A non-integer number whose literal text orjson did not keep.

    The message quotes Python's rendering of the float, which may differ from
    the literal Go would quote (``1e3`` is read as ``1000.0``). Callers that
    still hold the body re-read it with ``loads_exact`` for Go's exact text.
    """


def b64(data: bytes) -> str:
    """Standard padded base64, as the gateway writes bytes fields."""
    return b2a_base64(data, newline=False).decode("ascii")


def pick(d: JsonObject, proto_name: str, json_name: str) -> Any:
    """The value of a field given by either name; the lowerCamel name wins, as in jsonpb."""
    if json_name in d:
        return d[json_name]
    return d.get(proto_name)


def _type_error(value: object, go_type: str) -> InvalidArgument:
    return InvalidArgument(f"json: cannot unmarshal {go_kind(value)} into Go value of type {go_type}")


def _number_error(text: str, go_type: str) -> InvalidArgument:
    return InvalidArgument(f"json: cannot unmarshal number {text} into Go value of type {go_type}")


def _bounded_int(value: object, low: int, high: int, go_type: str) -> int:
    """An integer in [low, high] from a JSON number as decoded, or Go's error."""
    if type(value) is int:
        if low <= value <= high:
            return value
        raise _number_error(str(value), go_type)
    if isinstance(value, RawNumber):
        raise _number_error(value.text, go_type)
    if isinstance(value, float):
        raise GoUnknownNumberText(
            f"json: cannot unmarshal number {value!r} into Go value of type {go_type}"
        )
    raise _type_error(value, go_type)


def read_int64(value: object) -> int:
    """An int64 field: a number or a string holding one."""
    if value is None:
        return 0
    if isinstance(value, str):
        return _int64_from_text(value)
    return _bounded_int(value, _INT64_MIN, _INT64_MAX, "int64")


def read_uint64(value: object) -> int:
    """A uint64 field (a member ID): read as an int64 is, within uint64's bounds (``-0`` too is refused)."""
    if value is None:
        return 0
    if isinstance(value, str):
        return _int_from_text(value, 0, _UINT64_MAX, "uint64")
    return _bounded_int(value, 0, _UINT64_MAX, "uint64")


def _int64_from_text(text: str) -> int:
    return _int_from_text(text, _INT64_MIN, _INT64_MAX, "int64")


def _int_from_text(text: str, low: int, high: int, go_type: str) -> int:
    """An integer field given as a string: jsonpb drops the quotes and lets encoding/json read the rest."""
    plain = _PLAIN_INT.fullmatch(text)
    if plain is not None:
        literal = plain.group(1)
        if low == 0 and literal.startswith("-"):
            raise _number_error(literal, go_type)
        return _bounded_int(int(literal), low, high, go_type)
    check_valid(text.encode("utf-8", "surrogatepass"))
    literal = text.strip(" \t\n\r")
    head = literal[0]
    if head == "n":
        return 0
    if head in "-0123456789":
        raise _number_error(literal, go_type)
    kinds = {"t": "bool", "f": "bool", '"': "string", "{": "object", "[": "array"}
    raise InvalidArgument(f"json: cannot unmarshal {kinds[head]} into Go value of type {go_type}")


def read_bool(value: object) -> bool:
    if value is None:
        return False
    if isinstance(value, bool):
        return value
    raise _type_error(value, "bool")


def read_bytes(value: object) -> bytes:
    """A bytes field: base64 text, or (as Go allows) an array of numbers 0..255."""
    if value is None:
        return b""
    if isinstance(value, str):
        return _base64(value)
    if isinstance(value, list):
        return bytes(0 if item is None else _bounded_int(item, 0, 255, "uint8") for item in value)
    raise _type_error(value, "[]uint8")


def _base64(text: str) -> bytes:
    size = len(text)
    if size % 4 == 0 and text.find("=", 0, size - 2) < 0:
        try:
            return binascii.a2b_base64(text, strict_mode=True)
        except (binascii.Error, ValueError):
            pass
    decoded = _go_base64(text.encode("utf-8", "surrogatepass"))
    if isinstance(decoded, int):
        raise InvalidArgument(f"illegal base64 data at input byte {decoded}")
    return decoded


def _go_base64(data: bytes) -> bytes | int:
    """Go's ``base64.StdEncoding.Decode``: the bytes, or the offset of the first bad byte."""
    out = bytearray()
    pos, size = 0, len(data)
    while True:
        quantum: list[int] = []
        while len(quantum) < 4:
            if pos == size:
                return bytes(out) if not quantum else pos - len(quantum)
            c = data[pos]
            pos += 1
            if c in _B64_VALUE:
                quantum.append(_B64_VALUE[c])
            elif c in _NEWLINES:
                continue
            elif c != _PAD or len(quantum) < 2:
                return pos - 1
            else:
                return _go_base64_padding(data, pos, quantum, out)
        out += _join_quantum(quantum)


def _go_base64_padding(data: bytes, pos: int, quantum: list[int], out: bytearray) -> bytes | int:
    """The end of Go's decode after a "=": a second "=" if needed, then only newlines."""
    size = len(data)
    if len(quantum) == 2:
        while pos < size and data[pos] in _NEWLINES:
            pos += 1
        if pos == size:
            return size
        if data[pos] != _PAD:
            return pos - 1
        pos += 1
    while pos < size and data[pos] in _NEWLINES:
        pos += 1
    if pos < size:
        return pos
    return bytes(out + _join_quantum(quantum))


def _join_quantum(quantum: list[int]) -> bytes:
    bits = 0
    for sextet in quantum:
        bits = (bits << 6) | sextet
    bits >>= 8 - 2 * len(quantum)  # drop the padding bits: 0, 2 or 4
    return bits.to_bytes(len(quantum) - 1, "big")


def read_enum_number(value: object, names: Mapping[str, int], go_type: str) -> int:
    """An enum field as jsonpb reads it: a known name, or any int32."""
    if value is None:
        return 0
    if isinstance(value, str):
        number = names.get(value)
        if number is None:
            raise InvalidArgument(f"unknown value {_go_quote(value)} for enum {go_type}")
        return number
    return _bounded_int(value, _INT32_MIN, _INT32_MAX, go_type)


def read_enum(value: object, enum: type[E], go_type: str) -> E:
    """An enum field as a member of ``enum`` (names are the proto names)."""
    return enum_member(read_enum_number(value, enum.__members__, go_type), enum, go_type)


def read_string(value: object) -> str:
    """A string field: absent or null means empty."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    raise _type_error(value, "string")


def read_message(value: object) -> JsonObject:
    """A nested message field: an object; absent or null means the empty message."""
    if value is None:
        return {}
    if isinstance(value, dict):
        return value
    raise _type_error(value, "map[string]json.RawMessage")


def read_repeated(value: object) -> list[Any]:
    """A repeated field: an array; absent or null means empty."""
    if value is None:
        return []
    if isinstance(value, list):
        return value
    raise _type_error(value, "[]json.RawMessage")


def _go_quote(text: str) -> str:
    """Go's ``%q`` of a short string (enough for enum names)."""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"')
    escaped = "".join(ch if ch.isprintable() else f"\\u{ord(ch):04x}" for ch in escaped)
    return f'"{escaped}"'
