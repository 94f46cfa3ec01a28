"""confd's store functions over a KeyView, as a template resource with a prefix and keys sees them.

Expected outputs are confd's documented (and verified) behaviour, confd.md §4.1
(functions) and §5 (prefix and key rules); each table names its section.
"""

from __future__ import annotations

import dataclasses

import pytest

from confagent.errors import RenderError
from confagent.render import KeyView, KVPair, Reads, Scope
from confagent.render._reads import ReadLog
from confagent.render._store_functions import StoreFunctions

from .support import out, render_text

STORE = {
    "/fn/a": "1", "/fn/b": "2", "/fn/c/d": "3", "/fn/c/e": "4",
    "/words/x": "zeta", "/words/y": "alpha", "/words/z": "omega",
    "/empty": "",
}

# confd.md §4.1, one row per documented rule.
TABLE_4_1 = [
    ('{{ getv("/fn/a") }}', "1"),
    ('{{ getv("/fn/missing", "dflt") }}', "dflt"),
    ('[{{ getv("/fn/missing", "") }}]', "[]"),  # an empty default is honoured (verified)
    ('[{{ getv("/empty") }}]', "[]"),
    ('{{ get("/fn/a").Key }}={{ get("/fn/a").Value }}', "/fn/a=1"),
    ('{{ get("/fn/a").key }}={{ get("/fn/a").value }}', "/fn/a=1"),
    ('{{ exists("/fn/a") }} {{ exists("fn/a") }} {{ exists("/fn") }}', "true false false"),
    ('{% for kv in gets("/fn/*") %}{{ kv.Key }}={{ kv.Value }} {% endfor %}', "/fn/a=1 /fn/b=2 "),
    ('{% for k, v in gets("/fn/c/*") %}{{ k }}={{ v }} {% endfor %}', "/fn/c/d=3 /fn/c/e=4 "),
    ('{{ gets("/nothing/*") | length }}', "0"),  # empty, not an error (DOC-BUG in confd's docs)
    ('{{ getvs("/words/*") | join(",") }}', "alpha,omega,zeta"),  # sorted by value (verified)
    ('{{ getvs("/nothing/*") | length }}', "0"),
    ('{{ ls("/fn") | join(",") }}', "a,b,c"),
    ('{{ ls("/fn/a") | join(",") }}', "a"),  # a leaf lists its own base name (verified)
    ('{{ ls("/nothing") | length }}', "0"),
    ('{{ lsdir("/fn") | join(",") }}', "c"),
    ('{{ lsdir("/fn/c") | length }}', "0"),
    ('{{ ls("/") | join(",") }}', "empty,fn,words"),  # the root lists the top level (memkv bug fixed)
    ('{{ lsdir("/") | join(",") }}', "fn,words"),
    ('{{ gets("/*/?") | map(attribute="Key") | join(",") }}', "/fn/a,/fn/b,/words/x,/words/y,/words/z"),
    ('{{ gets("/fn/[ab]") | map(attribute="Value") | join(",") }}', "1,2"),
]


@pytest.mark.parametrize(("template", "expected"), TABLE_4_1)
def test_store_functions_follow_confd(template: str, expected: str) -> None:
    assert out(template, STORE) == expected


# confd.md §5: keys are joined to the prefix, and templates use keys relative to it.
PREFIXED = {
    "/myapp/database/url": "db://x", "/myapp/databasex/url": "nope", "/myapp/upstream/a": "10.0.0.1",
    "/myapp/upstream/b": "10.0.0.2", "/myapp": "root-value", "/other/key": "outside",
}
TABLE_5 = [
    ("/myapp", ("/",), '{{ getv("/database/url") }}', "db://x"),
    ("myapp", ("database",), '{{ getv("/database/url") }}', "db://x"),  # prefix gets its leading /
    ("/myapp/", ("/",), '{{ getv("/database/url") }}', "db://x"),
    ("/myapp", ("/database",), '{{ exists("/databasex/url") }}', "false"),  # /database is not /databasex
    ("/myapp", ("/database",), '{{ getv("/upstream/a", "unseen") }}', "unseen"),  # outside `keys`
    ("/myapp", ("/",), '{{ getv("/") }}', "root-value"),  # "/" is the prefix key itself
    ("/myapp", ("/",), '{{ exists("/other/key") }}', "false"),
    ("/", ("/other",), '{{ getv("/other/key") }}', "outside"),
    ("/myapp", ("/upstream",), '{{ getvs("/upstream/*") | join(" ") }}', "10.0.0.1 10.0.0.2"),
    ("/myapp", ("/upstream", "/database"), '{{ ls("/") | join(",") }}', "database,upstream"),
    ("/myapp", ("/",), '{{ ls("/") | join(",") }}', "database,databasex,upstream"),
    ("/myapp", ("/upstream/*",), '{{ ls("/upstream") | length }}', "0"),  # "/*" is literal
    ("/myapp", ("/",), '{{ gets("/*") | map(attribute="Key") | join(",") }}', "/"),
    ("/myapp", ("/../other",), '{{ exists("/../other/key") }}', "false"),  # roots cannot leave the prefix
]


@pytest.mark.parametrize(("prefix", "keys", "template", "expected"), TABLE_5)
def test_prefix_and_keys_follow_confd(prefix: str, keys: list[str], template: str, expected: str) -> None:
    assert out(template, PREFIXED, prefix, keys) == expected


MISSING = [
    ('{{ getv("/fn/missing") }}', "key not found: /fn/missing", "/fn/missing"),
    ('{{ get("/fn/missing").Value }}', "key not found: /fn/missing", "/fn/missing"),
    ('{{ getv("fn/a") }}', "key not found: fn/a (template keys start with '/')", "fn/a"),  # §5.4
    ('{{ gets("/fn/[") }}', "syntax error in pattern: /fn/[", None),
    ('{{ gets("/nothing/*", required=True) }}', "gets: no keys match /nothing/*", "/nothing/*"),
    ('{{ getvs("/nothing/*", required=True) }}', "getvs: no keys match /nothing/*", "/nothing/*"),
    ('{{ ls("/nothing", required=True) }}', "ls: nothing under /nothing", "/nothing"),
    ('{{ lsdir("/fn/c", required=True) }}', "lsdir: no directories under /fn/c", "/fn/c"),
    ("{{ getv(3) }}", "getv: expected a string, got int", None),
]


@pytest.mark.parametrize(("template", "message", "key"), MISSING)
def test_missing_data_is_a_render_error_naming_the_key(template: str, message: str, key: str | None) -> None:
    with pytest.raises(RenderError) as caught:
        render_text(template, STORE)
    assert caught.value.message == message
    assert caught.value.key == key
    assert str(caught.value) == f"templates/test.tmpl:1: {message}"


def test_missing_key_under_a_prefix_names_the_store_key_too() -> None:
    with pytest.raises(RenderError, match=r"key not found: /db \(store key /myapp/db\)"):
        render_text('{{ getv("/db") }}', PREFIXED, "/myapp")
    with pytest.raises(RenderError, match=r"key not found: /upstream/a \(outside the resource's keys\)"):
        render_text('{{ getv("/upstream/a") }}', PREFIXED, "/myapp", ("/database",))


def test_required_lists_pass_when_something_matches() -> None:
    assert out('{{ ls("/fn", required=True) | join(",") }}', STORE) == "a,b,c"


def test_kvpair_keeps_go_and_python_names() -> None:
    pair = KVPair("/a", "1")
    assert (pair.Key, pair.Value, pair.key, pair.value, tuple(pair)) == ("/a", "1", "/a", "1", ("/a", "1"))


def test_the_pairs_gets_returns_are_kvpairs_as_made_by_their_class() -> None:
    # gets fills their slots directly (_store_functions._pair): equal, hashed, printed and frozen alike
    pairs = StoreFunctions(KeyView({"/s/a": "1", "/s/b": "2"}, 1), Scope(), ReadLog()).gets("/s/*")
    made = [KVPair("/s/a", "1"), KVPair("/s/b", "2")]
    assert (pairs, list(map(hash, pairs)), list(map(repr, pairs))) == (made, list(map(hash, made)),
                                                                         list(map(repr, made)))
    assert all(type(pair) is KVPair for pair in pairs)
    with pytest.raises(dataclasses.FrozenInstanceError):
        pairs[0].Key = "/x"  # type: ignore[misc]


def test_keys_are_used_verbatim() -> None:
    store = {"/app/dir/": "slash", "/app/dir/x": "1"}
    assert out('{{ getv("/dir/") }} {{ exists("/dir") }} {{ ls("/") | join(",") }}', store, "/app") == (
        "slash false dir"
    )
    assert out('{{ ls("/dir") | join(",") }}', store, "/app") == "x"


def test_ls_does_not_mix_siblings_that_share_a_name_prefix() -> None:
    store = {"/a/c": "1", "/a/c-x": "2", "/a/c/y": "3", "/a/c0": "4", "/a/c/z/w": "5", "/ab/q": "6"}
    assert out('{{ ls("/a") | join(",") }}|{{ lsdir("/a") | join(",") }}', store) == "c,c-x,c0|c"


# Reads: what the agent may skip renders on.
def _reads(template: str, prefix: str = "/", keys: tuple[str, ...] = ("/",)) -> Reads:
    return render_text(template, PREFIXED | STORE, prefix, keys).reads


def test_reads_record_exact_keys_present_or_missing() -> None:
    reads = _reads('{{ getv("/database/url") }}{{ exists("/nope") }}', "/myapp")
    assert reads.keys == {"/myapp/database/url", "/myapp/nope"}
    assert reads.prefixes == ()
    assert reads.affected_by("/myapp/nope")
    assert not reads.affected_by("/myapp/database/url/x")
    assert not reads.uses_host


def test_reads_record_ranges_for_lists_and_globs() -> None:
    reads = _reads('{{ gets("/upstream/*") }}{{ ls("/database") }}{{ getv("/upstream/a") }}', "/myapp")
    assert reads.prefixes == ("/myapp/database/", "/myapp/upstream/")
    assert reads.keys == {"/myapp/database"}  # ls also reads the leaf itself; /upstream/a is in a range
    assert reads.affected_by("/myapp/upstream/new")
    assert reads.affected_by("/myapp/database")
    assert not reads.affected_by("/myapp/upstreamx")
    assert not reads.affected_by("/other/key")


def test_reads_skip_keys_outside_the_resource() -> None:
    reads = _reads('{{ exists("/upstream/a") }}{{ getv("/database/url") }}', "/myapp", ("/database",))
    assert reads.keys == {"/myapp/database/url"}


def test_a_glob_from_the_top_reads_the_whole_prefix() -> None:
    reads = _reads('{{ gets("/*") }}', "/myapp")
    assert reads.prefixes == ("/myapp/",)
    assert reads.keys == {"/myapp"}
