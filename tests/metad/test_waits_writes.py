"""Long-poll decisions and write plans against simple models; client addresses; formats."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from confagent.errors import MetadRequestError
from confagent.metad import (
    ChangeLog,
    ClientAddresses,
    Format,
    Interest,
    Layout,
    Node,
    Space,
    WaitRegistry,
    delete_plan,
    flatten_value,
    merge_plan,
    negotiate,
    render,
    replace_plan,
)
from confagent.render import KeyView
from tests.metad.model import apply_txn, naive_tree, state_of
from tests.metad.test_state import MAP, _entries, _path
from tests.thoroughness import examples

IPS = ("10.0.0.1", "10.0.0.2", "10.0.0.3")
PATHS = ("/", "/a", "/a/b", "/m", "/n/c", "/b")
INTERESTS = [Interest(ip, kind, path) for ip in IPS for kind in ("root", "self") for path in PATHS]


def _changed(before: dict[str, str], after: dict[str, str]) -> frozenset[str]:
    return frozenset(k for k in before.keys() | after.keys() if before.get(k) != after.get(k))


@settings(max_examples=examples(300), deadline=None, print_blob=True)
@given(before=_entries(), after=_entries())
def test_a_change_wakes_exactly_the_requests_whose_answer_changed(
    before: dict[str, str], after: dict[str, str]
) -> None:
    old, new = state_of(before, 1), state_of(after, 2)
    registry: WaitRegistry[Interest] = WaitRegistry()
    for interest in INTERESTS:
        registry.add(interest, interest)
    woken = set(registry.woken(old, new, _changed(before, after)))
    assert woken == {i for i in INTERESTS if i.read(old) != i.read(new)}
    assert len(registry) == len(INTERESTS) - len(woken)


@settings(max_examples=examples(150), deadline=None, print_blob=True)
@given(history=st.lists(_entries(), min_size=1, max_size=5))
def test_prev_version_is_stale_whenever_the_answer_changed_since(history: list[dict[str, str]]) -> None:
    states = [state_of(entries, revision) for revision, entries in enumerate(history, start=1)]
    log = ChangeLog(1)
    for previous, entries, state in zip(history, history[1:], states[1:], strict=False):
        log.record(state.revision, _changed(previous, entries))
    current = states[-1]
    for interest in INTERESTS:
        assert not log.stale(interest, current, current.revision)
        assert log.stale(interest, current, current.revision + 1)  # a revision not reached yet
        for state in states:
            if interest.read(state) != interest.read(current):
                assert log.stale(interest, current, state.revision), (interest, state.revision)


def test_a_change_log_forgets_old_revisions_and_then_answers_at_once() -> None:
    log = ChangeLog(1, history_max=2)
    for revision in (2, 3, 4):
        log.record(revision, frozenset({"/unrelated"}))
    state = state_of({f"{MAP}/10.0.0.1/m": "/a"}, 4)
    interest = Interest("10.0.0.1", "self", "/")
    assert not log.stale(interest, state, 2)
    assert log.stale(interest, state, 1)


# -- writes -------------------------------------------------------------------------------

_json = st.recursive(st.one_of(st.text("xy", max_size=2), st.integers(-3, 3), st.booleans(), st.none()),
                     lambda children: st.dictionaries(st.sampled_from(["a", "b", "c"]), children, max_size=3),
                     max_leaves=6)


def _apply(store: dict[str, str], plan_txns: tuple[object, ...]) -> None:
    for txn in plan_txns:
        apply_txn(store, txn)  # type: ignore[arg-type]


def _outside(key: str, path: str) -> bool:
    """True when ``key`` is neither at/under ``path`` nor an ancestor of it (writes may touch those)."""
    return not (key == path or key.startswith(path + "/") or path.startswith(key + "/"))


@settings(max_examples=examples(300), deadline=None, print_blob=True)
@given(entries=_entries(), path=_path.filter(lambda p: not p.startswith("/_metad")), value=_json)
def test_merge_writes_the_values_and_keeps_everything_else(entries: dict[str, str], path: str,
                                                           value: object) -> None:
    values = flatten_value(path, value)
    store = dict(entries)
    _apply(store, merge_plan(Space.data(Layout()), KeyView(entries, 1), values).txns)
    for written, text in values.items():
        assert state_of(store).data(written) == text
    touched = [p for p in values]
    for key, text in entries.items():
        if all(_outside(key, p) for p in touched):
            assert store.get(key) == text, key


@settings(max_examples=examples(300), deadline=None, print_blob=True)
@given(entries=_entries(), path=st.one_of(st.just("/"), _path.filter(lambda p: not p.startswith("/_metad"))),
       value=_json)
def test_replace_makes_the_subtree_exactly_the_value_in_one_txn(entries: dict[str, str], path: str,
                                                                value: object) -> None:
    values = flatten_value(path, value)
    if "/" in values:
        with pytest.raises(MetadRequestError):
            replace_plan(Space.data(Layout()), KeyView(entries, 1), path, values)
        return
    store = dict(entries)
    plan = replace_plan(Space.data(Layout()), KeyView(entries, 1), path, values)
    assert len(plan.txns) <= 1
    _apply(store, plan.txns)
    expected = naive_tree(values, "" if path == "/" else path)
    got = state_of(store).data(path)
    assert got == (expected if expected is not None else ({} if path == "/" else None))
    for key, text in entries.items():
        if key.startswith("/_metad") or (path != "/" and _outside(key, path)):
            assert store.get(key) == text, key


@settings(max_examples=examples(200), deadline=None, print_blob=True)
@given(entries=_entries(), path=st.one_of(st.just("/"), _path.filter(lambda p: not p.startswith("/_metad"))),
       subs=st.lists(st.sampled_from(["a", "b", ""]), max_size=2))
def test_delete_removes_the_node_or_its_named_children_only(entries: dict[str, str], path: str,
                                                            subs: list[str]) -> None:
    store = dict(entries)
    _apply(store, delete_plan(Space.data(Layout()), path, subs).txns)
    targets = [f"{path.rstrip('/')}/{s}" for s in subs if s] or [path]
    state = state_of(store)
    for target in targets:
        assert state.data(target) in (None, {})
    for key, text in entries.items():
        if key.startswith("/_metad") or all(not (key == t or key.startswith(t.rstrip("/") + "/"))
                                            for t in targets):
            assert store.get(key) == text, key


def test_bad_writes_are_refused_with_a_reason() -> None:
    with pytest.raises(MetadRequestError, match="not a path segment"):
        flatten_value("/a", {"x/y": "1"})
    with pytest.raises(MetadRequestError, match="must not be a path"):
        delete_plan(Space.data(Layout()), "/a", ["b/c"])
    assert flatten_value("/p", {"n": 9090, "f": 2.50, "z": None, "l": ["x", True]}) == {
        "/p/n": "9090", "/p/f": "2.5", "/p/z": "", "/p/l/0": "x", "/p/l/1": "true"}


# -- addresses and formats ----------------------------------------------------------------

def test_forwarded_for_is_believed_only_from_trusted_proxies_and_read_from_the_right() -> None:
    loopback = ClientAddresses.from_cidrs(["127.0.0.0/8", "::1/128"])
    assert loopback.client_ip("127.0.0.1", "192.168.1.1") == "192.168.1.1"
    assert loopback.client_ip("10.1.1.1", "192.168.1.1") == "10.1.1.1"
    assert loopback.client_ip("127.0.0.1", "6.6.6.6, 192.168.1.1, 127.0.0.5") == "192.168.1.1"
    assert loopback.client_ip("127.0.0.1", "192.168.1.1, 127.0.0.5") == "192.168.1.1"
    assert loopback.client_ip("::ffff:127.0.0.1", "::ffff:10.0.0.7") == "10.0.0.7"
    assert ClientAddresses().client_ip("127.0.0.1", "192.168.1.1") == "127.0.0.1"
    with pytest.raises(MetadRequestError, match="not an IP address"):
        loopback.client_ip("127.0.0.1", "192.168.1.1, bogus")


def test_formats_follow_accept_and_text_lists_values_relative_to_the_node() -> None:
    assert negotiate("text/html, application/json;q=0.9") is Format.JSON
    assert negotiate("text/x-yaml") is Format.YAML
    assert negotiate("") is Format.TEXT
    node: Node = {"node": {"ip": "1", "name": "n"}, "a": "x"}
    assert render(node, Format.TEXT) == b"/a\tx\n/node/ip\t1\n/node/name\tn\n"
    assert render("v", Format.TEXT) == b"v"
    assert render(node, Format.JSON) == b'{"a":"x","node":{"ip":"1","name":"n"}}'
    assert render("v", Format.YAML).startswith(b"v")
