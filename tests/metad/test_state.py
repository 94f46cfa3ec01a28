"""The metad core's views: access rules, /self, the root view, the reference examples, and a model."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import confagent.metad
from confagent.errors import MetadRequestError
from confagent.metad import AccessRule, AccessTree, Layout, MetadState, Node, parse_rules, subtree
from confagent.render import KeyView
from tests.metad.model import naive_tree, state_of
from tests.thoroughness import examples

MAP = "/_metad/mapping/default"
RULE = "/_metad/rule/default"

REFERENCE = {
    "/nodes/1/ip": "192.168.1.1", "/nodes/1/name": "node1",
    "/nodes/2/ip": "192.168.1.2", "/nodes/2/name": "n2",
    "/clusters/cl-1/env/secret": "s1", "/clusters/cl-1/name": "cl-1",
    f"{MAP}/192.168.1.1/node": "/nodes/1", f"{MAP}/192.168.1.1/cluster": "/clusters/cl-1",
    f"{MAP}/192.168.1.2/node": "/nodes/2",
    f"{RULE}/192.168.1.2": '[{"path":"/","mode":0},{"path":"/nodes","mode":1},'
                           '{"path":"/nodes/*/ip","mode":0},{"path":"/nodes/2","mode":1}]',
}


def test_a_mapped_host_reads_its_mapped_paths_and_its_self_as_in_metad() -> None:
    state = state_of(REFERENCE, 6)
    assert state.root_view("192.168.1.1", "/") == {
        "clusters": {"cl-1": {"env": {"secret": "s1"}, "name": "cl-1"}},
        "nodes": {"1": {"ip": "192.168.1.1", "name": "node1"}},
        "self": {"cluster": {"env": {"secret": "s1"}, "name": "cl-1"},
                 "node": {"ip": "192.168.1.1", "name": "node1"}},
    }
    assert state.root_view("192.168.1.1", "/nodes/2") is None
    assert state.self_view("192.168.1.1", "/node/name") == "node1"
    assert state.self_view("192.168.1.1", "/nowhere") is None


def test_rules_beat_the_mapping_and_an_exact_rule_beats_the_wildcard() -> None:
    state = state_of(REFERENCE)
    assert state.root_view("192.168.1.2", "/") == {
        "nodes": {"1": {"name": "node1"}, "2": {"ip": "192.168.1.2", "name": "n2"}},
        "self": {"node": {"ip": "192.168.1.2", "name": "n2"}},
    }
    assert state.root_view("192.168.1.2", "/clusters") is None


def test_a_host_with_neither_mapping_nor_rules_reads_nothing_not_even_the_root() -> None:
    state = state_of(REFERENCE)
    assert state.root_view("10.9.9.9", "/") is None
    assert state.self_view("10.9.9.9", "/") is None


def test_mapped_data_deleted_entirely_is_an_empty_directory() -> None:
    entries = {k: v for k, v in REFERENCE.items() if not k.startswith("/nodes/1/")}
    state = state_of(entries)
    assert state.self_view("192.168.1.1", "/node") == {}
    assert state.self_view("192.168.1.1", "/node/ip") is None
    assert "node" not in (state.self_view("192.168.1.1", "/") or {})


def test_stored_rules_that_do_not_parse_read_nothing() -> None:
    state = state_of({**REFERENCE, f"{RULE}/192.168.1.1": "not json"})
    assert state.root_view("192.168.1.1", "/nodes/1") is None


def test_the_data_prefix_and_the_reserved_keys() -> None:
    layout = Layout(prefix="/app", group="g")
    keys = {"/app/a/b": "1", "/apple": "x", "/_metad/mapping/g/10.0.0.1/k": "/a"}
    state = MetadState(layout, KeyView(keys, 3))
    assert state.data("/") == {"a": {"b": "1"}}
    assert state.self_view("10.0.0.1", "/") == {"k": {"b": "1"}}
    bare = state_of({"/a": "1", "/_metad/mapping/default/10.0.0.1/k": "/a"})
    assert bare.data("/") == {"a": "1"}
    assert bare.data("/_metad") is None


def test_rule_parsing_names_what_is_wrong() -> None:
    assert parse_rules("h", [{"path": "/a/", "mode": 1}]) == (AccessRule("/a", 1),)
    for bad, words in (({}, "JSON array"), ([{"path": "a", "mode": 1}], "absolute"),
                       ([{"path": "/a", "mode": 5}], "invalid access mode 5"),
                       ([{"path": "/a", "mode": True}], "invalid access mode"),
                       ([{"path": "/a", "mode": 1}, {"path": "/a/", "mode": 0}], "twice")):
        with pytest.raises(MetadRequestError, match=words):
            parse_rules("h", bad)


def test_access_filter_keeps_only_readable_values() -> None:
    tree = AccessTree([AccessRule("/", 0), AccessRule("/a/*/x", 1)])
    data: Node = {"a": {"1": {"x": "1", "y": "2"}, "2": {"y": "3"}}, "b": "4"}
    assert tree.filter(data, "/") == {"a": {"1": {"x": "1"}}}
    assert tree.can_read("/a/7/x/deeper") and not tree.can_read("/a/7")


# -- models -------------------------------------------------------------------------------

_segment = st.sampled_from(["a", "b", "c", "_metad"])
_path = st.lists(_segment, min_size=1, max_size=4).map(lambda s: "/" + "/".join(s))
_ips = st.sampled_from(["10.0.0.1", "10.0.0.2"])
_values = st.sampled_from(["1", "2"])


@st.composite
def _entries(draw: st.DrawFn) -> dict[str, str]:
    entries = draw(st.dictionaries(_path, _values, max_size=12))
    for ip in draw(st.lists(_ips, max_size=2, unique=True)):
        names = st.sampled_from(["m", "n"])
        for name, target in draw(st.dictionaries(names, _path, min_size=1, max_size=2)).items():
            entries[f"{MAP}/{ip}/{name}"] = target
        if draw(st.booleans()):
            rules = draw(st.lists(st.tuples(st.sampled_from(["/", "/a", "/a/*", "/b/c", "/*/b"]),
                                            st.sampled_from([0, 1])), max_size=3, unique_by=lambda r: r[0]))
            entries[f"{RULE}/{ip}"] = str([{"path": p, "mode": m} for p, m in rules]).replace("'", '"')
    return entries


@settings(max_examples=examples(300), deadline=None, print_blob=True)
@given(entries=_entries(), root=st.one_of(st.just(""), _path))
def test_subtree_by_bisection_equals_a_scan(entries: dict[str, str], root: str) -> None:
    view = KeyView(entries, 1)
    got = subtree(view, root or None, root + "/")
    assert got == naive_tree(entries, root)


@settings(max_examples=examples(200), deadline=None, print_blob=True)
@given(before=_entries(), after=_entries())
def test_an_updated_state_equals_one_built_from_scratch(before: dict[str, str],
                                                        after: dict[str, str]) -> None:
    changed = {k for k in before.keys() | after.keys() if before.get(k) != after.get(k)}
    incremental = state_of(before, 1).updated(KeyView(after, 2), changed)
    fresh = state_of(after, 2)
    for ip in ("10.0.0.1", "10.0.0.2", "10.0.0.3"):
        for path in ("/", "/a", "/a/b", "/m", "/n/c"):
            assert incremental.root_view(ip, path) == fresh.root_view(ip, path)
            assert incremental.self_view(ip, path) == fresh.self_view(ip, path)


CORE = ("_paths", "_tree", "_access", "_mapping", "_state", "_waits", "_writes", "_formats", "_proxies")
EDGE = ("confagent.backends", "confagent.client", "confagent.server", "confagent.metad._store",
        "confagent.metad._service", "confagent.metad._server", "confagent.metad._http")
IO = {"asyncio", "socket", "os", "subprocess", "time", "threading", "httpx", "starlette", "uvicorn"}


def test_the_core_modules_import_no_io() -> None:
    package = Path(confagent.metad.__file__).parent
    for name in CORE:
        tree = ast.parse((package / f"{name}.py").read_text())
        imported = {alias.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import)
                    for alias in node.names}
        imported |= {node.module.split(".")[0] for node in ast.walk(tree)
                     if isinstance(node, ast.ImportFrom) and node.module}
        assert not imported & IO, (name, imported & IO)
        edge = [m for m in _modules(tree) if m.startswith(EDGE)]
        assert not edge, (name, edge)


def _modules(tree: ast.Module) -> set[str]:
    return {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module}
