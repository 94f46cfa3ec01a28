"""``Reads``: a change the reads do not cover never changes the output.

The property test renders random store-function calls, changes one random key
(put or delete) and, when ``reads.affected_by`` says the change is unrelated,
renders again and expects the same text.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from confagent.render import KeyView, Reads, Scope, StaticHost, make_environment, render
from confagent.render._reads import ReadLog
from tests.thoroughness import examples

from .test_store_model import PATHS, PATTERNS, PREFIXES, QUERY_PATHS, RESOURCE_KEYS, STORES

CALLS = st.one_of(
    QUERY_PATHS.map(lambda p: f'getv("{p}", "-")'),
    QUERY_PATHS.map(lambda p: f'exists("{p}")'),
    QUERY_PATHS.map(lambda p: f'ls("{p}") | join(",")'),
    QUERY_PATHS.map(lambda p: f'lsdir("{p}") | join(",")'),
    PATTERNS.map(lambda p: f'gets("{p}") | map(attribute="Key") | join(",")'),
    PATTERNS.map(lambda p: f'getvs("{p}") | join(",")'),
)


@settings(max_examples=examples(300))
@given(
    STORES, PREFIXES, RESOURCE_KEYS, st.lists(CALLS, min_size=1, max_size=4), PATHS,
    st.one_of(st.none(), st.sampled_from(["1", "new"])),
)
def test_changes_outside_the_reads_do_not_change_the_output(
    entries: dict[str, str], prefix: str, keys: list[str], calls: list[str], changed: str, value: str | None
) -> None:
    env = make_environment({"t": "|".join(f"{{{{ {call} }}}}" for call in calls)}, StaticHost())
    scope = Scope(prefix, keys)
    before = render(env, "t", KeyView(entries, 1), scope)
    puts, deletes = ({changed: value}, []) if value is not None else ({}, [changed])
    after = render(env, "t", KeyView(entries, 1).with_changes(puts, deletes, 2), scope)
    if not before.reads.affected_by(changed):
        assert after.text == before.text, (before.reads, changed)


def test_freeze_keeps_outermost_prefixes_and_drops_covered_keys() -> None:
    log = ReadLog()
    for prefix in ("/a/b/", "/a/", "/c/", "/a/bc"):
        log.prefix(prefix)
    for key in ("/a/x", "/b", "/c"):
        log.key(key)
    log.dns = True
    reads = log.freeze()
    assert reads == Reads(frozenset({"/b", "/c"}), ("/a/", "/c/"), dns=True)
    assert reads.uses_host
    assert [reads.affected_by(k) for k in ("/a/", "/a/q/r", "/b", "/b/x", "/c", "/c/x", "/0")] == [
        True, True, True, False, True, True, False,
    ]


def test_host_inputs_are_flagged() -> None:
    text = '{{ getenv("X") }}{{ datetime().Year() }}{{ fileExists("/f") }}'
    env = make_environment({"t": text}, StaticHost())
    reads = render(env, "t", KeyView(), Scope()).reads
    assert (reads.environment, reads.clock, reads.files, reads.dns) == (True, True, True, False)
