"""Go's path rules: Clean, Base, Dir and Match, as confd's ``base``, ``dir`` and ``gets`` use them.

Tables are Go's documented behaviour (``path`` package docs and examples);
confd.md §4.1 says ``gets`` uses ``path.Match`` and §4.2 that ``base``/``dir``
are ``path.Base``/``path.Dir``.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from confagent.errors import RenderError
from confagent.render._paths import (
    base,
    clean,
    compile_glob,
    compile_glob_rest,
    dir_of,
    literal_prefix,
    prefix_end,
)

from .model import naive_match

CLEAN = [
    ("", "."), ("abc", "abc"), ("abc/def", "abc/def"), (".", "."), ("..", ".."), ("../..", "../.."),
    ("../../abc", "../../abc"), ("/abc", "/abc"), ("/", "/"), ("abc/", "abc"), ("abc/def/", "abc/def"),
    ("/abc/", "/abc"), ("//", "/"), ("abc//def//ghi", "abc/def/ghi"), ("//abc", "/abc"),
    ("abc/./def", "abc/def"), ("/./abc/def", "/abc/def"), ("abc/.", "abc"),
    ("abc/def/ghi/../jkl", "abc/def/jkl"), ("abc/def/../ghi/../jkl", "abc/jkl"), ("abc/def/..", "abc"),
    ("abc/def/../..", "."), ("/abc/def/../..", "/"), ("abc/def/../../..", ".."),
    ("/abc/def/../../..", "/"), ("abc/def/../../../ghi/jkl/../../../mno", "../../mno"),
    ("abc/./../def", "def"), ("abc//./../def", "def"), ("abc/../../././../def", "../../def"),
]
BASE = [
    ("", "."), (".", "."), ("/.", "."), ("/", "/"), ("////", "/"), ("x/", "x"), ("abc", "abc"),
    ("abc/def", "def"), ("a/b/.x", ".x"), ("a/b/c.", "c."), ("a/b/c.x", "c.x"), ("/services/web/a", "a"),
]
DIR = [
    ("", "."), (".", "."), ("/.", "/"), ("/", "/"), ("////", "/"), ("/foo", "/"), ("x/", "x"),
    ("abc", "."), ("abc/def", "abc"), ("abc////def", "abc"), ("a/b/.x", "a/b"), ("a/b/c.", "a/b"),
    ("/services/web/a", "/services/web"),
]
MATCH = [
    ("abc", "abc", True), ("*", "abc", True), ("*c", "abc", True), ("a*", "a", True), ("a*", "abc", True),
    ("a*", "ab/c", False), ("a*/b", "abc/b", True), ("a*/b", "a/c/b", False),
    ("a*b*c*d*e*/f", "axbxcxdxe/f", True), ("a*b*c*d*e*/f", "axbxcxdxexxx/f", True),
    ("a*b*c*d*e*/f", "axbxcxdxe/xxx/f", False), ("a*b*c*d*e*/f", "axbxcxdxexxx/fff", False),
    ("a*b?c*x", "abxbbxdbxebxczzx", True), ("a*b?c*x", "abxbbxdbxebxczzy", False),
    ("ab[c]", "abc", True), ("ab[b-d]", "abc", True), ("ab[e-g]", "abc", False), ("ab[^c]", "abc", False),
    ("ab[^b-d]", "abc", False), ("ab[^e-g]", "abc", True), ("a\\*b", "a*b", True), ("a\\*b", "ab", False),
    ("a?b", "a☺b", True), ("a[^a]b", "a☺b", True), ("a???b", "a☺b", False), ("[a-ζ]*", "\u03b1", True),
    ("*[a-ζ]", "A", False), ("a?b", "a/b", False), ("a*b", "a/b", False), ("[\\]a]", "]", True),
    ("[\\-]", "-", True), ("[x\\-]", "x", True), ("[x\\-]", "-", True), ("[x\\-]", "z", False),
    ("[\\-x]", "-", True), ("[\\-x]", "a", False), ("*x", "xxx", True), ("a[^b]c", "a/c", True),
    ("[z-a]", "m", False), ("[^z-a]", "m", True),
    ("/services/web/*", "/services/web/a", True), ("/services/web/*", "/services/web/a/port", False),
    ("/services/*/port", "/services/web/port", True), ("/*", "/", True),
]
BAD = ["[]a]", "[-]", "[x-]", "[-x]", "\\", "[a-b-c]", "[", "[^", "[^bc", "a[", "a/b[", "ab\\"]


@pytest.mark.parametrize(("path", "expected"), CLEAN)
def test_clean_is_go_path_clean(path: str, expected: str) -> None:
    assert clean(path) == expected


@pytest.mark.parametrize(("path", "expected"), BASE)
def test_base_is_go_path_base(path: str, expected: str) -> None:
    assert base(path) == expected


@pytest.mark.parametrize(("path", "expected"), DIR)
def test_dir_is_go_path_dir(path: str, expected: str) -> None:
    assert dir_of(path) == expected


@pytest.mark.parametrize(("pattern", "name", "expected"), MATCH)
def test_glob_is_go_path_match(pattern: str, name: str, expected: bool) -> None:
    assert bool(compile_glob(pattern).fullmatch(name)) is expected


@pytest.mark.parametrize("pattern", BAD)
def test_malformed_glob_is_an_error(pattern: str) -> None:
    with pytest.raises(RenderError, match="syntax error in pattern"):
        compile_glob(pattern)


def test_literal_prefix_stops_at_the_first_special_character() -> None:
    assert literal_prefix("/services/web/*") == "/services/web/"
    assert literal_prefix("/a/b") == "/a/b"
    assert literal_prefix("/a\\*") == "/a"
    assert literal_prefix("[ab]") == ""


def test_prefix_end_bounds_every_string_with_the_prefix() -> None:
    assert prefix_end("/a/") == "/a0"
    assert prefix_end("") is None
    assert prefix_end(chr(0x10FFFF)) is None


_PIECES = st.sampled_from(["a", "b", "/", "*", "?", "[ab]", "[^a]", "[/]"])


@given(st.lists(_PIECES, max_size=6).map("".join), st.text("ab/", max_size=8))
def test_glob_agrees_with_a_backtracking_model(pattern: str, name: str) -> None:
    assert bool(compile_glob(pattern).fullmatch(name)) is naive_match(pattern, name)


@given(st.text("ab/.", max_size=12))
def test_clean_is_idempotent_and_rooted_stays_rooted(path: str) -> None:
    cleaned = clean(path)
    assert clean(cleaned) == cleaned
    assert cleaned.startswith("/") == path.startswith("/")


@pytest.mark.parametrize("pattern", ["/app/*", "/app/a?/*", "/app/[ab]*/x", "/app/exact", "*", "/",
                                     r"/a\*b/*", "/app/[^/]/*", ""])
def test_the_rest_of_a_pattern_matches_as_the_whole_does(pattern: str) -> None:
    names = ["/app/a", "/app/ab/x", "/app/a1/z", "/app/b/x", "/app/exact", "/app/", "/a*b/c", "/a", "", "/",
             "/app/x/y", "/app//"]
    literal, rest = compile_glob_rest(pattern)
    assert literal == literal_prefix(pattern)
    for name in names:
        whole = compile_glob(pattern).fullmatch(name) is not None
        assert (name.startswith(literal) and rest.fullmatch(name, len(literal)) is not None) is whole, name


def test_a_malformed_rest_names_the_whole_pattern() -> None:
    with pytest.raises(RenderError, match=r"syntax error in pattern: /app/long/prefix/\[$"):
        compile_glob_rest("/app/long/prefix/[")
