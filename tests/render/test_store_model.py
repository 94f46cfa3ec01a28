"""Store functions against the naive memkv model over random stores, prefixes and resource keys.

Reproduce a failure with the ``@reproduce_failure`` line hypothesis prints,
or rerun with ``--hypothesis-seed=<seed>``.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from confagent.render import KeyView, Scope
from confagent.render._reads import ReadLog
from confagent.render._store_functions import StoreFunctions
from tests.thoroughness import examples

from . import model

Store = dict[str, str]
SEGMENTS = st.sampled_from(["a", "b", "ab", "a-b", "c", "c0"])
PATHS = st.lists(SEGMENTS, min_size=1, max_size=4).map(lambda parts: "/" + "/".join(parts))
STORES = st.dictionaries(PATHS, st.sampled_from(["1", "2", "x", ""]), max_size=25)
PREFIXES = st.sampled_from(["/", "/a", "a", "/a/b", "/ab/"])
RESOURCE_KEYS = st.lists(st.sampled_from(["/", "", "/a", "/b", "/a/c", "c", "/ab"]), min_size=1, max_size=3)
QUERY_PATHS = st.one_of(st.just("/"), PATHS)
PATTERNS = st.lists(st.sampled_from(["/", "a", "b", "c", "*", "?", "[ab]", "[^a]", "-"]), max_size=7).map(
    lambda parts: "/" + "".join(parts)
)


def _functions(entries: Store, prefix: str, keys: list[str]) -> StoreFunctions:
    return StoreFunctions(KeyView(entries, 3), Scope(prefix, keys), ReadLog())


@settings(max_examples=examples(300))
@given(STORES, PREFIXES, RESOURCE_KEYS, QUERY_PATHS)
def test_ls_and_lsdir_match_the_model(entries: Store, prefix: str, keys: list[str], path: str) -> None:
    store = model.memkv(entries, prefix, keys)
    functions = _functions(entries, prefix, keys)
    assert functions.ls(path) == model.ls(store, path)
    assert functions.lsdir(path) == model.lsdir(store, path)


@settings(max_examples=examples(300))
@given(STORES, PREFIXES, RESOURCE_KEYS, PATTERNS)
def test_gets_and_getvs_match_the_model(entries: Store, prefix: str, keys: list[str], pattern: str) -> None:
    store = model.memkv(entries, prefix, keys)
    functions = _functions(entries, prefix, keys)
    expected = model.gets(store, pattern)
    assert [tuple(pair) for pair in functions.gets(pattern)] == expected
    assert functions.getvs(pattern) == sorted(value for _, value in expected)


@settings(max_examples=examples(200))
@given(STORES, PREFIXES, RESOURCE_KEYS, QUERY_PATHS)
def test_exists_and_getv_match_the_model(entries: Store, prefix: str, keys: list[str], key: str) -> None:
    store = model.memkv(entries, prefix, keys)
    functions = _functions(entries, prefix, keys)
    assert functions.exists(key) is (key in store)
    assert functions.getv(key, "<missing>") == store.get(key, "<missing>")


@given(STORES, st.dictionaries(PATHS, st.sampled_from(["n", "m"]), max_size=8), st.lists(PATHS, max_size=8))
def test_view_with_changes_matches_a_dict(entries: Store, puts: Store, deletes: list[str]) -> None:
    expected = dict(entries) | puts
    for key in deletes:
        expected.pop(key, None)
    view = KeyView(entries, 1).with_changes(puts, deletes, 2)
    assert dict(view) == expected
    assert list(view.sorted_keys) == sorted(expected)
    assert view.revision == 2
    assert dict(KeyView(entries, 1)) == entries  # the old view did not change


def test_view_with_many_changes_re_sorts() -> None:
    puts = {f"/k/{n:03d}": str(n) for n in range(100)}
    view = KeyView({"/a": "1"}, 1).with_changes(puts, ["/a"], 2)
    assert list(view.sorted_keys) == sorted(puts)
