"""Go's literals as text/template reads them: strings, raw strings, characters and numbers.

Rules: a string is Go's interpreted string (escapes ``\\a \\b \\f \\n \\r \\t
\\v \\\\ \\" \\xNN \\NNN \\uNNNN \\UNNNNNNNN``, ``\\xNN`` and ``\\NNN`` being
bytes of UTF-8), a raw string keeps everything but carriage returns, a
character constant is its code point, and a number is an int when Go's
parser makes it one (``1e3`` is a float, ``0x10``, ``0o17``, ``017``, ``0b1``,
``1_000`` are ints). A literal Go refuses raises ``ValueError`` with the reason.
"""

from __future__ import annotations

import re

__all__ = ["char_value", "number_value", "string_value"]

_SIMPLE = {"a": b"\a", "b": b"\b", "f": b"\f", "n": b"\n", "r": b"\r", "t": b"\t", "v": b"\v", "\\": b"\\"}
_INT = re.compile(r"[+-]?(?:0[xX][0-9a-fA-F_]+|0[oO][0-7_]+|0[bB][01_]+|0[0-7_]*|[1-9][0-9_]*)")
_EXPONENT = r"(?:[eE][+-]?[0-9_]+)?"
_FLOAT = re.compile(rf"[+-]?(?:[0-9][0-9_]*\.?[0-9_]*{_EXPONENT}|\.[0-9][0-9_]*{_EXPONENT})")


def string_value(literal: str) -> str:
    """The value of a Go string literal, ``"..."`` or a raw ```...```."""
    if literal.startswith("`"):
        return literal[1:-1].replace("\r", "")
    return _unescape(literal[1:-1], '"')


def char_value(literal: str) -> int:
    """The code point of a character constant ``'x'``."""
    text = _unescape(literal[1:-1], "'")
    if len(text) != 1:
        raise ValueError(f"malformed character constant: {literal}")
    return ord(text)


def number_value(literal: str) -> int | float:
    """An int or a float as Go's template parser makes it."""
    if "i" in literal:
        raise ValueError(f"complex constants are not supported: {literal}")
    if _INT.fullmatch(literal):
        sign = -1 if literal.startswith("-") else 1
        digits = literal.lstrip("+-").replace("_", "")
        if len(digits) > 1 and digits[0] == "0" and digits[1].isdigit():
            digits = "0o" + digits[1:]
        return sign * int(digits, 0)
    if _FLOAT.fullmatch(literal) and any(char.isdigit() for char in literal):
        return float(literal.replace("_", ""))
    if literal.lower().lstrip("+-").startswith("0x"):
        return float.fromhex(literal.replace("_", ""))
    raise ValueError(f"bad number syntax: {literal!r}")


def _unescape(body: str, quote: str) -> str:
    out = bytearray()
    index = 0
    while index < len(body):
        char = body[index]
        if char != "\\":
            out += char.encode()
            index += 1
            continue
        index, piece = _escape(body, index + 1, quote)
        out += piece
    try:
        return out.decode()
    except UnicodeDecodeError as error:
        raise ValueError("invalid UTF-8 in a string constant") from error


def _escape(body: str, index: int, quote: str) -> tuple[int, bytes]:
    """The bytes of the escape starting after a backslash at ``index``, and where it ends."""
    code = body[index : index + 1]
    if code in _SIMPLE:
        return index + 1, _SIMPLE[code]
    if code == quote:
        return index + 1, quote.encode()
    sizes = {"x": 2, "u": 4, "U": 8}
    if code in sizes:
        digits = body[index + 1 : index + 1 + sizes[code]]
        if len(digits) != sizes[code] or not all(c in "0123456789abcdefABCDEF" for c in digits):
            raise ValueError(f"invalid escape \\{code}{digits}")
        value = int(digits, 16)
        if code == "x":
            return index + 3, bytes([value])
        return index + 1 + sizes[code], chr(value).encode()
    digits = body[index : index + 3]
    if len(digits) == 3 and all(c in "01234567" for c in digits) and int(digits, 8) < 256:
        return index + 3, bytes([int(digits, 8)])
    raise ValueError(f"unknown escape sequence \\{code}")
