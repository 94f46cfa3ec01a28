"""confd's pure helper functions (confd.md §4.2), plus the Go built-ins templates rely on.

Each keeps confd's name and Go's semantics; ``HELPERS`` maps names to
functions (Jinja globals) and ``FILTERS`` the ones that read well as filters
(``{{ key | base }}``) and do not shadow a Jinja filter. Fixed confd bugs:

* ``reverse`` reverses any list, including what ``gets`` returns (confd's
  type switch silently ignored it), and returns a new list;
* ``sortByLength``/``sortKVByLength`` are stable and return new lists;
* ``div``/``mod`` by zero is an error naming the function.

Go's escapers ``html``, ``js`` and ``urlquery`` are here too (Go 1.19's
funcs.go), for templates converted from confd's (``confagent convert``).
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any
from urllib.parse import quote_plus

from confagent.errors import RenderError
from confagent.render._paths import base, dir_of
from confagent.render._store_functions import KVPair, require_str

__all__ = ["FILTERS", "HELPERS", "go_string"]

_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1
_ATOI_SYNTAX = re.compile(r"[+-]?[0-9]+")
_BOOLS = {"1": True, "t": True, "T": True, "TRUE": True, "true": True, "True": True,
          "0": False, "f": False, "F": False, "FALSE": False, "false": False, "False": False}
_PRINTF_VERB = re.compile(r"%([-+# 0]*)([0-9]*)((?:\.[0-9]*)?)([a-zA-Z%])")
"""A Go verb: flags, width, precision, letter."""
_HTML = {"\0": "\ufffd", '"': "&#34;", "'": "&#39;", "&": "&amp;", "<": "&lt;", ">": "&gt;"}
_JS = {"\\": "\\\\", "'": "\\'", '"': '\\"', "<": "\\u003C", ">": "\\u003E", "&": "\\u0026", "=": "\\u003D"}


def split(text: str, separator: str) -> list[str]:
    """Go's ``strings.Split``: an empty separator splits into characters."""
    if separator == "":
        return list(require_str("split", text))
    return require_str("split", text).split(separator)


def join(items: Sequence[str], separator: str) -> str:
    return separator.join(items)


def replace(text: str, old: str, new: str, count: int = -1) -> str:
    """Go's ``strings.Replace``: at most ``count`` replacements, all when negative."""
    return require_str("replace", text).replace(old, new, count if count >= 0 else -1)


def trim_suffix(text: str, suffix: str) -> str:
    return require_str("trimSuffix", text).removesuffix(suffix)


def contains(text: str, part: str) -> bool:
    return part in require_str("contains", text)


def to_upper(text: str) -> str:
    return require_str("toUpper", text).upper()


def to_lower(text: str) -> str:
    return require_str("toLower", text).lower()


def json_object(text: str) -> dict[str, Any]:
    """A JSON object; ``null`` gives an empty one. Integers stay ints, other numbers are floats."""
    decoded = _json("json", text)
    if decoded is None:
        return {}
    if not isinstance(decoded, dict):
        raise RenderError(f"json: cannot unmarshal {_json_kind(decoded)} into an object")
    return decoded


def json_array(text: str) -> list[Any]:
    """A JSON array; ``null`` gives an empty one."""
    decoded = _json("jsonArray", text)
    if decoded is None:
        return []
    if not isinstance(decoded, list):
        raise RenderError(f"jsonArray: cannot unmarshal {_json_kind(decoded)} into an array")
    return decoded


def make_map(*items: Any) -> dict[str, Any]:
    """``map k1 v1 k2 v2 ...`` as a dict; an odd count or a non-string key is an error."""
    if len(items) % 2:
        raise RenderError("map: invalid map call (odd number of arguments)")
    keys, values = items[0::2], items[1::2]
    if not all(isinstance(key, str) for key in keys):
        raise RenderError("map: map keys must be strings")
    return dict(zip(keys, values, strict=True))


def base64_encode(text: str) -> str:
    return base64.b64encode(require_str("base64Encode", text).encode()).decode("ascii")


def base64_decode(text: str) -> str:
    """Standard (padded) base64 to text; line breaks are ignored, as Go does."""
    cleaned = require_str("base64Decode", text).replace("\r", "").replace("\n", "")
    try:
        return base64.b64decode(cleaned, validate=True).decode()
    except (binascii.Error, ValueError) as error:
        raise RenderError(f"base64Decode: illegal base64 data: {error}") from error


def parse_bool(text: str) -> bool:
    """Go's ``strconv.ParseBool``: 1 t T TRUE true True, 0 f F FALSE false False."""
    if require_str("parseBool", text) not in _BOOLS:
        raise RenderError(f'parseBool: strconv.ParseBool: parsing "{text}": invalid syntax')
    return _BOOLS[text]


def atoi(text: str) -> int:
    """Go's ``strconv.Atoi``: an optional sign and decimal digits, in the int64 range."""
    if not _ATOI_SYNTAX.fullmatch(require_str("atoi", text)):
        raise RenderError(f'atoi: strconv.Atoi: parsing "{text}": invalid syntax')
    number = int(text)
    if not _INT64_MIN <= number <= _INT64_MAX:
        raise RenderError(f'atoi: strconv.Atoi: parsing "{text}": value out of range')
    return number


def add(a: int, b: int) -> int:
    return _int("add", a) + _int("add", b)


def sub(a: int, b: int) -> int:
    return _int("sub", a) - _int("sub", b)


def mul(a: int, b: int) -> int:
    return _int("mul", a) * _int("mul", b)


def div(a: int, b: int) -> int:
    """Go's integer division: truncates toward zero (``div -7 2`` is -3)."""
    dividend, divisor = _int("div", a), _nonzero("div", b)
    quotient = abs(dividend) // abs(divisor)
    return quotient if (dividend < 0) == (divisor < 0) else -quotient


def mod(a: int, b: int) -> int:
    """Go's remainder: it has the sign of the dividend (``mod -7 2`` is -1)."""
    dividend, divisor = _int("mod", a), _nonzero("mod", b)
    return dividend - div(dividend, divisor) * divisor


def seq(first: int, last: int) -> list[int]:
    """``first`` to ``last`` inclusive; empty when ``first > last``."""
    return list(range(_int("seq", first), _int("seq", last) + 1))


def reverse(items: Sequence[Any]) -> list[Any]:
    """A reversed copy of any list (confd's did nothing for ``gets`` results)."""
    return list(reversed(items))


def sort_by_length(items: Sequence[str]) -> list[str]:
    return sorted(items, key=len)


def sort_kv_by_length(pairs: Sequence[KVPair]) -> list[KVPair]:
    return sorted(pairs, key=lambda pair: len(pair.Key))


def printf(layout: str, *args: Any) -> str:
    """Go's ``printf`` for the common verbs: ``%s %v %d %f %q %t %x %o %e %g %%`` with flags and widths."""
    values = iter(args)
    used = 0

    def verb(match: re.Match[str]) -> str:
        nonlocal used
        letter = match.group(4)
        if letter == "%":
            return "%"
        used += 1
        try:
            value = next(values)
        except StopIteration:
            raise RenderError(f"printf: missing argument for %{letter} in {layout!r}") from None
        return _printf_verb(match, value)

    text = _PRINTF_VERB.sub(verb, require_str("printf", layout))
    if used < len(args):
        raise RenderError(f"printf: {len(args) - used} extra argument(s) for {layout!r}")
    return text


def index(collection: Any, *keys: Any) -> Any:
    """Go's ``index x 1 2``: ``x[1][2]``; a missing key or index is an error."""
    item = collection
    for key in keys:
        try:
            item = item[key]
        except (KeyError, IndexError, TypeError) as error:
            raise RenderError(f"index: no item {key!r} in {type(item).__name__}") from error
    return item


def html(*args: Any) -> str:
    """Go's ``html``: ``< > & ' "`` as entities, NUL as U+FFFD, over Go's text of ``args`` (``_go_text``)."""
    return "".join(_HTML.get(char, char) for char in _go_text(args))


def js(*args: Any) -> str:
    """Go's ``js``: quotes, backslash, ``< > & =`` and control characters as JavaScript escapes."""
    out = []
    for char in _go_text(args):
        if char in _JS:
            out.append(_JS[char])
        elif char < " ":
            out.append(f"\\u00{ord(char):02X}")
        elif char > "\x7f" and not char.isprintable():
            out.append(f"\\u{ord(char):04X}")
        else:
            out.append(char)
    return "".join(out)


def urlquery(*args: Any) -> str:
    """Go's ``urlquery`` (``url.QueryEscape``): a space as ``+``, all but ``A-Za-z0-9-_.~`` as ``%XX``."""
    return quote_plus(_go_text(args), safe="")


def _go_text(args: tuple[Any, ...]) -> str:
    """The text Go's escapers escape: one string as it is, else ``fmt.Sprint``'s (a space between two
    operands when neither is a string)."""
    if len(args) == 1 and isinstance(args[0], str):
        return args[0]
    out = []
    for position, arg in enumerate(args):
        if position and not isinstance(arg, str) and not isinstance(args[position - 1], str):
            out.append(" ")
        out.append(go_string(arg))
    return "".join(out)


def go_string(value: Any) -> str:
    """How Go's ``%v`` prints a value: ``true``, ``<nil>``, ``[a b]``, ``map[k:v]``."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "<nil>"
    if isinstance(value, list | tuple):
        return "[" + " ".join(go_string(item) for item in value) + "]"
    if isinstance(value, dict):
        return "map[" + " ".join(f"{go_string(k)}:{go_string(v)}" for k, v in sorted(value.items())) + "]"
    if isinstance(value, KVPair):
        return "{" + f"{value.Key} {value.Value}" + "}"
    return str(value)


def _printf_verb(verb: re.Match[str], value: Any) -> str:
    marks, width, precision, letter = verb.groups()
    text_spec = f"{'<' if '-' in marks else '>'}{width}{precision}"
    try:
        if letter in "sv":
            return format(go_string(value), text_spec)
        if letter == "t":
            return format(go_string(bool(value)), text_spec)
        if letter == "q":
            return format(json.dumps(go_string(value), ensure_ascii=False), text_spec)
        if letter in "dxXobeEfFgG" and not isinstance(value, bool):
            return format(value, _number_spec(marks, width, precision) + letter.replace("F", "f"))
    except (ValueError, TypeError) as error:
        raise RenderError(f"printf: %{letter} of {type(value).__name__}: {error}") from error
    raise RenderError(f"printf: bad verb %{letter} for {type(value).__name__}")


def _number_spec(marks: str, width: str, precision: str) -> str:
    """Go's number flags as a Python format spec: ``-`` left, ``+``/space sign, ``#`` prefix, ``0`` pad."""
    align = "<" if "-" in marks else ""
    sign = "+" if "+" in marks else (" " if " " in marks else "")
    zero = "0" if "0" in marks and "-" not in marks else ""
    return f"{align}{sign}{'#' if '#' in marks else ''}{zero}{width}{precision}"


def _json(function: str, text: str) -> Any:
    try:
        return json.loads(require_str(function, text))
    except json.JSONDecodeError as error:
        raise RenderError(f"{function}: invalid JSON: {error}") from error


def _json_kind(value: Any) -> str:
    kinds = {dict: "object", list: "array", str: "string", bool: "bool", int: "number", float: "number"}
    return kinds.get(type(value), type(value).__name__)


def _int(function: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise RenderError(f"{function}: expected an integer, got {type(value).__name__} (use atoi)")
    return value


def _nonzero(function: str, value: Any) -> int:
    number = _int(function, value)
    if number == 0:
        raise RenderError(f"{function}: runtime error: integer divide by zero")
    return number


HELPERS: Mapping[str, Callable[..., Any]] = {
    "base": base, "dir": dir_of, "split": split, "join": join, "json": json_object, "jsonArray": json_array,
    "map": make_map, "toUpper": to_upper, "toLower": to_lower, "contains": contains, "replace": replace,
    "trimSuffix": trim_suffix, "base64Encode": base64_encode, "base64Decode": base64_decode,
    "parseBool": parse_bool, "atoi": atoi, "add": add, "sub": sub, "mul": mul, "div": div, "mod": mod,
    "seq": seq, "reverse": reverse, "sortByLength": sort_by_length, "sortKVByLength": sort_kv_by_length,
    "printf": printf, "index": index, "len": len, "html": html, "js": js, "urlquery": urlquery,
}
"""Every pure helper under its confd (or Go built-in) name."""

FILTERS: Mapping[str, Callable[..., Any]] = {
    name: HELPERS[name]
    for name in ("base", "dir", "split", "json", "jsonArray", "toUpper", "toLower", "trimSuffix",
                 "base64Encode", "base64Decode", "parseBool", "atoi", "sortByLength", "sortKVByLength")
}
"""Helpers that read well as filters and do not shadow one of Jinja's (``join``, ``replace``, ``reverse``)."""
