"""The functions a confd template may call, and what each becomes in Jinja.

Rules:
1. ``FUNCTIONS`` is every name confd's templates know: Go's built-ins and
   confd's (confd.md §4). A name outside it is a syntax error, as in Go.
2. ``RESULT_KINDS`` is what each call returns, as far as the converter must
   know: a string, int or bool prints as it is; anything else is printed
   through ``printf "%v"`` (Go's printing); a list's elements have a kind too.
3. ``UNSUPPORTED`` names the built-ins with no faithful Jinja form here; a
   template calling one is reported, not converted.
4. ``LENIENT_DNS``: confd's DNS helpers answer an empty list when a name does
   not resolve; confagent's fail unless given a default, so the converted
   call passes ``[]`` (confd's behaviour, said explicitly).
"""

from __future__ import annotations

__all__ = ["DIRECT_PRINT", "ELEMENT_KINDS", "FUNCTIONS", "LENIENT_DNS", "RESULT_KINDS", "UNSUPPORTED"]

ELEMENT_KINDS = {"kvs": "kv", "strs": "str", "ints": "int", "list": "any", "srvs": "any"}
"""The kinds of list, and the kind of their elements."""

DIRECT_PRINT = frozenset({"str", "int", "bool"})
"""Kinds Jinja prints as Go does (booleans through the environment's finalize)."""

RESULT_KINDS = {
    # confd's store functions (memkv)
    "getv": "str", "get": "kv", "exists": "bool", "gets": "kvs", "getvs": "strs", "ls": "strs",
    "lsdir": "strs",
    # confd's helpers
    "base": "str", "dir": "str", "split": "strs", "join": "str", "json": "map", "jsonArray": "list",
    "map": "map", "getenv": "str", "datetime": "time", "toUpper": "str", "toLower": "str",
    "contains": "bool", "replace": "str", "trimSuffix": "str", "lookupIP": "strs", "lookupIPV4": "strs",
    "lookupIPV6": "strs", "lookupSRV": "srvs", "fileExists": "bool", "base64Encode": "str",
    "base64Decode": "str", "parseBool": "bool", "atoi": "int", "add": "int", "sub": "int", "mul": "int",
    "div": "int", "mod": "int", "seq": "ints", "reverse": "any", "sortByLength": "strs",
    "sortKVByLength": "kvs",
    # Go's built-ins
    "and": "any", "or": "any", "not": "bool", "eq": "bool", "ne": "bool", "lt": "bool", "le": "bool",
    "gt": "bool", "ge": "bool", "len": "int", "index": "any", "printf": "str", "html": "str", "js": "str",
    "urlquery": "str",
}

UNSUPPORTED = {
    "print": "print (fmt.Sprint's spacing rules)",
    "println": "println (fmt.Sprintln's spacing rules)",
    "slice": "slice (Go slices strings by bytes)",
    "call": "call (no function values in confd's data)",
}

FUNCTIONS = frozenset(RESULT_KINDS) | frozenset(UNSUPPORTED)

LENIENT_DNS = frozenset({"lookupIP", "lookupIPV4", "lookupIPV6", "lookupSRV"})
