"""etcdctl's txn input: compares, a blank line, success ops, a blank line, failure ops.

::

    mod("key1") > "0"
    value("key2") = "x"

    put key1 "new value"
    get key2 --prefix

    del key1

A compare is ``TARGET("key") OP "operand"`` with TARGET one of ver/version,
c/create, m/mod, val/value, lease and OP one of ``= != < >``; an op line is a
``get``, ``put`` or ``del`` command line with its flags, words split and quoted
as etcdctl's ``argify`` does. The messages of refused lines are etcdctl's.
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Callable, Iterator
from typing import NoReturn

from confagent.cli._kv_requests import (
    add_del_flags,
    add_get_flags,
    add_put_flags,
    delete_request,
    put_request,
    range_request,
)
from confagent.errors import ConfigError
from confagent.kv._messages import Compare, CompareResult, CompareTarget, RequestOp, TxnRequest

__all__ = ["argify", "go_unquote", "parse_compare", "parse_op", "parse_txn"]

_WORD = re.compile(r"\"(?:[^\"\\]|\\.)*\"|'[^']*'|[^'\"\s]\S*[^'\"\s]?")
_COMPARE_REST = re.compile(r'"((?:[^"\\]|\\.)*)"\)\s+(\S+)\s+"((?:[^"\\]|\\.)*)"')
_ESCAPE = re.compile(r"\\(x[0-9a-fA-F]{2}|u[0-9a-fA-F]{4}|U[0-9a-fA-F]{8}|[0-7]{3}|.)", re.S)
_SIMPLE_ESCAPES = {"a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v",
                   "\\": "\\", '"': '"', "'": "'"}
_TARGETS = {"ver": CompareTarget.VERSION, "version": CompareTarget.VERSION,
            "c": CompareTarget.CREATE, "create": CompareTarget.CREATE,
            "m": CompareTarget.MOD, "mod": CompareTarget.MOD,
            "val": CompareTarget.VALUE, "value": CompareTarget.VALUE, "lease": CompareTarget.LEASE}
_RESULTS = {"=": CompareResult.EQUAL, "==": CompareResult.EQUAL, "!=": CompareResult.NOT_EQUAL,
            ">": CompareResult.GREATER, "<": CompareResult.LESS}


def go_unquote(body: str) -> str:
    """The text of a Go double-quoted string literal, without its quotes."""

    def escape(match: re.Match[str]) -> str:
        code = match.group(1)
        if code in _SIMPLE_ESCAPES:
            return _SIMPLE_ESCAPES[code]
        if code[0] in "xuU":
            return chr(int(code[1:], 16))
        if code[0] in "01234567" and len(code) == 3:
            return chr(int(code, 8))
        raise ConfigError(f"invalid escape \\{code}")

    return _ESCAPE.sub(escape, body)


def argify(line: str) -> list[str]:
    """Split a line into words: "double" (Go escapes) and 'single' quotes group."""
    words = []
    for word in _WORD.findall(line):
        if word.startswith("'"):
            words.append(word[1:-1])
        elif word.startswith('"'):
            words.append(go_unquote(word[1:-1]))
        else:
            words.append(word)
    return words


def parse_compare(line: str) -> Compare:
    target_name, paren, rest = line.partition("(")
    match = _COMPARE_REST.fullmatch(rest.strip()) if paren else None
    if match is None:
        raise ConfigError(f"malformed comparison: {line}")
    key, op, operand_text = (go_unquote(match.group(1)), match.group(2), go_unquote(match.group(3)))
    target = _TARGETS.get(target_name.strip())
    if target is None:
        raise ConfigError(f"malformed comparison: {line} (unknown target {target_name})")
    result = _RESULTS.get(op)
    if result is None:
        raise ConfigError(f"malformed comparison: {line} (unknown op {op})")
    operand: int | bytes
    if target is CompareTarget.VALUE:
        operand = operand_text.encode()
    else:
        try:
            operand = int(operand_text, 10)
        except ValueError:
            raise ConfigError(f"invalid txn compare request: {line}") from None
    return Compare(key=key.encode(), target=target, result=result, operand=operand)


class _OpParser(argparse.ArgumentParser):
    """An argparse parser that raises instead of exiting."""

    def error(self, message: str) -> NoReturn:
        raise ConfigError(message)


def _op_parsers(read_stdin: Callable[[], bytes]) -> dict[str, tuple[argparse.ArgumentParser,
                                                                    Callable[..., RequestOp]]]:
    parsers: dict[str, tuple[argparse.ArgumentParser, Callable[..., RequestOp]]] = {}
    for name, add_flags, build in (
        ("get", add_get_flags, range_request),
        ("put", add_put_flags, lambda a: put_request(a, read_stdin)),
        ("del", add_del_flags, delete_request),
    ):
        parser = _OpParser(prog=name, add_help=False, exit_on_error=False)
        add_flags(parser)
        parsers[name] = (parser, build)
    return parsers


def parse_op(line: str, read_stdin: Callable[[], bytes] = lambda: b"") -> RequestOp:
    words = argify(line)
    if len(words) < 2:
        raise ConfigError(f"invalid txn compare request: {line}")
    found = _op_parsers(read_stdin).get(words[0])
    if found is None:
        raise ConfigError(f"invalid txn request: {line}")
    parser, build = found
    try:
        return build(parser.parse_args(words[1:]))
    except (ConfigError, argparse.ArgumentError):
        raise ConfigError(f"invalid txn request: {line}") from None


def _section(lines: Iterator[str], *, eof_is_error: bool) -> Iterator[str]:
    """The stripped lines up to a blank one (end of input ends the section too)."""
    for raw in lines:
        line = raw.strip()
        if not line:
            return
        yield line
    if eof_is_error:
        raise ConfigError("EOF")


def parse_txn(lines: Iterator[str], prompt: Callable[[str], None] = lambda _: None) -> TxnRequest:
    """The TxnRequest an etcdctl txn script describes; ``prompt`` shows the interactive hints."""
    prompt("compares:")
    compare = tuple(parse_compare(line) for line in _section(lines, eof_is_error=True))
    prompt("success requests (get, put, del):")
    success = tuple(parse_op(line) for line in _section(lines, eof_is_error=False))
    prompt("failure requests (get, put, del):")
    failure = tuple(parse_op(line) for line in _section(lines, eof_is_error=False))
    return TxnRequest(compare=compare, success=success, failure=failure)
