"""confd's helper functions (confd.md §4.2) and the Go built-ins templates use (§4.3), one table each.

Every function is called from a template, as a global and, where it is one,
as a filter; the expected text is Go's result unless a row says confd's bug
is fixed (confd.md §10.6).
"""

from __future__ import annotations

import pytest

from confagent.errors import RenderError

from .support import out

KEYS = {"/b/x": "1", "/b/yy": "22", "/b/z": "333", "/json": '{"a": 1, "b": [1, 2], "c": 1.5}'}

# confd.md §4.2: base, dir, split, join, json, jsonArray, map, toUpper, toLower, contains, replace, trimSuffix
STRINGS = [
    ('{{ base("/a/b/c") }} {{ dir("/a/b/c") }} {{ base("") }} {{ dir("c") }}', "c /a/b . ."),
    ('{{ "/a/b" | base }} {{ "/a/b" | dir }}', "b /a"),
    ('{{ split("a,b,,c", ",") | join("|") }}', "a|b||c"),
    ('{{ split("", ",") | length }} {{ split("abc", "") | join("-") }}', "1 a-b-c"),
    ('{{ "a:b" | split(":") | join(" ") }}', "a b"),
    ('{{ join(["a", "b"], ", ") }}', "a, b"),
    ('{{ toUpper("abc") }} {{ toLower("ABC") }} {{ "x" | toUpper }}', "ABC abc X"),
    ('{{ contains("seafood", "foo") }} {{ contains("seafood", "bar") }}', "true false"),
    ('{{ replace("oink oink oink", "k", "ky", 2) }}', "oinky oinky oink"),
    ('{{ replace("oink oink oink", "oink", "moo", -1) }}', "moo moo moo"),
    ('{{ replace("aaa", "a", "b", 0) }} {{ replace("aaa", "a", "b") }}', "aaa bbb"),
    ('{{ trimSuffix("host.example.com", ".com") }} {{ "a.conf" | trimSuffix(".conf") }}', "host.example a"),
    ('{{ trimSuffix("abc", "x") }}', "abc"),
]
JSON = [
    ('{% set j = json(getv("/json")) %}{{ j.a }} {{ j["b"] | join(",") }} {{ j.c }}', "1 1,2 1.5"),
    ('{{ json("null") | length }} {{ jsonArray("null") | length }}', "0 0"),
    ('{% for x in jsonArray("[1, \\"two\\", true]") %}{{ x }};{% endfor %}', "1;two;true;"),
    ('{{ (getv("/json") | json).a }}', "1"),
    ('{% set m = map("k1", 1, "k2", "v") %}{{ m.k1 }}{{ m["k2"] }} {{ m | length }}', "1v 2"),
]
# confd.md §4.2: base64Encode/Decode, parseBool, atoi, add/sub/mul/div/mod, seq
NUMBERS = [
    ('{{ base64Encode("hello") }} {{ base64Decode("aGVsbG8=") }}', "aGVsbG8= hello"),
    ('{{ "é" | base64Encode | base64Decode }}', "é"),
    ('{{ base64Decode("aGVs\\nbG8=") }}', "hello"),  # Go's StdEncoding skips line breaks
    ('{% for s in ["1", "t", "T", "TRUE", "true", "True"] %}{{ parseBool(s) }} {% endfor %}', "true " * 6),
    ('{% for s in ["0", "f", "F", "FALSE", "false", "False"] %}{{ s|parseBool }} {% endfor %}', "false " * 6),
    ('{{ atoi("42") + 1 }} {{ atoi("-7") }} {{ atoi("+3") }} {{ "08" | atoi }}', "43 -7 3 8"),
    ("{{ add(2, 3) }} {{ sub(2, 3) }} {{ mul(-2, 3) }}", "5 -1 -6"),
    ("{{ div(7, 2) }} {{ div(-7, 2) }} {{ mod(7, 2) }} {{ mod(-7, 2) }} {{ mod(7, -2) }}", "3 -3 1 -1 1"),
    ('{{ add(atoi(getv("/b/x")), 1) }}', "2"),
    ("{{ seq(1, 4) | join(',') }} {{ seq(3, 3) | join(',') }} [{{ seq(4, 1) | join(',') }}]", "1,2,3,4 3 []"),
]
# confd.md §4.2: reverse, sortByLength, sortKVByLength (bugs fixed: reverse works on gets; stable sort)
LISTS = [
    ('{{ reverse(["a", "b", "c"]) | join(",") }}', "c,b,a"),
    ('{{ reverse(gets("/b/*")) | map(attribute="Key") | join(",") }}', "/b/z,/b/yy,/b/x"),  # was a no-op
    ('{{ reverse(getvs("/b/*")) | join(",") }}', "333,22,1"),
    ('{{ sortByLength(["ccc", "a", "bb", "d"]) | join(",") }}', "a,d,bb,ccc"),  # stable: a before d
    ('{{ ["xx", "y"] | sortByLength | join(",") }}', "y,xx"),
    ('{{ sortKVByLength(reverse(gets("/b/*"))) | map(attribute="Value") | join(",") }}', "333,1,22"),
]
# confd.md §4.3: Go built-ins that carry over (printf, len, index); and/or/not/eq are Jinja operators
GO_BUILTINS = [
    ('{{ printf("%s:%d", "web", 80) }}', "web:80"),
    ('{{ printf("%v %v %v", true, none, ["a", "b"]) }}', "true <nil> [a b]"),
    ('{{ printf("%+d|%-4d|%4d|%.1s|%#x|%6.2f", 5, 7, 7, "xyz", 255, 2.5) }}', "+5|7   |   7|x|0xff|  2.50"),
    ('{{ printf("%5s|%-5s|%05d|%.2f|%x|%q|%t|%%", "a", "b", 42, 3.14159, 255, "q", false) }}',
     "    a|b    |00042|3.14|ff|\"q\"|false|%"),
    ('{{ len(ls("/b")) }} {{ len("abc") }}', "3 3"),
    ('{{ index({"a": [10, 20]}, "a", 1) }}', "20"),
    ('{{ exists("/b/x") and getv("/b/x") == "1" }} {{ not exists("/nope") }}', "true true"),
    ("{{ true }} {{ false }} {{ 1 == 1 }}", "true false true"),  # Go spelling of booleans
]


@pytest.mark.parametrize(("template", "expected"), STRINGS + JSON + NUMBERS + LISTS + GO_BUILTINS)
def test_helpers_follow_go(template: str, expected: str) -> None:
    assert out(template, KEYS) == expected


FAILURES = [
    ('{{ json("{bad") }}', "json: invalid JSON: Expecting property name enclosed in double quotes"),
    ('{{ json("[1]") }}', "json: cannot unmarshal array into an object"),
    ('{{ jsonArray("{}") }}', "jsonArray: cannot unmarshal object into an array"),
    ('{{ map("a") }}', "map: invalid map call (odd number of arguments)"),
    ('{{ map(1, 2) }}', "map: map keys must be strings"),
    ('{{ base64Decode("!!") }}', "base64Decode: illegal base64 data"),
    ('{{ parseBool("yes") }}', 'parseBool: strconv.ParseBool: parsing "yes": invalid syntax'),
    ('{{ atoi("1_000") }}', 'atoi: strconv.Atoi: parsing "1_000": invalid syntax'),
    ('{{ atoi(" 1") }}', 'atoi: strconv.Atoi: parsing " 1": invalid syntax'),
    ('{{ atoi("9223372036854775808") }}', 'atoi: strconv.Atoi: parsing "9223372036854775808": value out'),
    ("{{ div(1, 0) }}", "div: runtime error: integer divide by zero"),  # confd.md §4.2 (verified)
    ("{{ mod(1, 0) }}", "mod: runtime error: integer divide by zero"),
    ('{{ add("1", 2) }}', "add: expected an integer, got str (use atoi)"),
    ('{{ printf("%d %d", 1) }}', "printf: missing argument for %d in '%d %d'"),
    ('{{ printf("%d", 1, 2) }}', "printf: 1 extra argument(s) for '%d'"),
    ('{{ printf("%d", "x") }}', "printf: %d of str"),
    ('{{ index({"a": 1}, "b") }}', "index: no item 'b' in dict"),
    ("{{ toUpper(1) }}", "toUpper: expected a string, got int"),
]


@pytest.mark.parametrize(("template", "message"), FAILURES)
def test_helper_misuse_is_a_render_error(template: str, message: str) -> None:
    with pytest.raises(RenderError) as caught:
        out(template, KEYS)
    assert caught.value.message.startswith(message)
    assert caught.value.line == 1
