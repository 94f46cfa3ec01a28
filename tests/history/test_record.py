"""The history's pure parts: changed keys, the inputs of a render, masking, the diff's cap, the records a pass
makes, and the bounds; and that they import no I/O."""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from confagent.errors import CheckFailed, ConfagentError, ReloadDeferred, ReloadFailed, RenderError
from confagent.history import (
    MASK,
    Bounds,
    HistoryRecord,
    Inputs,
    KeyChange,
    ResourceMemory,
    changed_keys,
    inputs_of,
    mask,
    records_of,
)
from confagent.history._record import cap_diff, tail
from confagent.render import KeyView, Reads
from confagent.render._reads import ReadLog
from confagent.resource import FileAttributes, FileState, Plan, Replace, ResourceSpec
from confagent.settings import HistoryConfig

PURE_MODULES = ("_record.py", "_build.py")
IO = {"asyncio", "os", "socket", "sqlite3", "threading", "time", "subprocess", "queue"}


def test_the_pure_modules_import_no_io() -> None:
    package = Path(__file__).resolve().parents[2] / "confagent" / "history"
    for name in PURE_MODULES:
        for node in ast.walk(ast.parse((package / name).read_text())):
            names = ([alias.name for alias in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            assert not {n.split(".")[0] for n in names} & IO, (name, names)


def _singles(values: dict[str, str]) -> Inputs:
    return Inputs(values, {})


def test_changed_keys_compare_two_renders_inputs() -> None:
    first, second = _singles({"/a": "1", "/b": "2", "/c": "3"}), _singles({"/a": "1", "/b": "9", "/d": "4"})
    assert changed_keys(None, _singles({"/b": "2", "/a": "1"})) == (KeyChange("/a", "1"),
                                                                     KeyChange("/b", "2"))
    assert changed_keys(first, second) == (KeyChange("/b", "9"), KeyChange("/c", None), KeyChange("/d", "4"))
    assert changed_keys(_singles({"/a": "1"}), _singles({"/a": "1"})) == ()


def test_a_prefix_read_again_is_compared_key_by_key() -> None:
    first = KeyView({f"/svc/{i:03d}": f"v{i}" for i in range(300)} | {"/one": "1"}, 2)
    reads = Reads(keys=frozenset({"/one"}), prefixes=("/svc/",))
    second = first.with_changes({"/svc/007": "new"}, ["/svc/200"], 3)
    third = second.with_changes({"/svc/007": "new", "/svc/999": "added"}, [], 4)  # a put of the same value
    one, two, three = (Inputs.read(reads, view) for view in (first, second, third))
    assert changed_keys(one, two) == (KeyChange("/svc/007", "new"), KeyChange("/svc/200", None))
    assert changed_keys(two, three) == (KeyChange("/svc/999", "added"),)
    assert changed_keys(three, three) == ()
    regrouped = Reads(keys=frozenset({"/svc/001"}), prefixes=("/one",))  # read alone now: not a change
    moved = Inputs.read(regrouped, third)
    gone = sorted(set(three.as_dict()) - {"/svc/001", "/one"})
    assert changed_keys(three, moved) == tuple(KeyChange(key, None) for key in gone)


def test_the_inputs_are_the_keys_read_and_every_key_under_the_prefixes_read() -> None:
    view = KeyView({"/a": "1", "/app/x": "2", "/app/y": "3", "/apq": "4", "/b": "5"}, 7)
    reads = Reads(keys=frozenset({"/a", "/missing"}), prefixes=("/app/",))
    assert inputs_of(reads, view) == {"/a": "1", "/app/x": "2", "/app/y": "3"}


def test_mask_replaces_every_secret_the_longest_first() -> None:
    assert mask("pw=abc abcd x", ["abc", "abcd", ""]) == f"pw={MASK} {MASK} x"
    assert mask("nothing", []) == "nothing"


def test_secret_keys_are_matched_on_the_last_segment_in_any_case() -> None:
    config = HistoryConfig()
    assert [config.is_secret(key) for key in ("/db/Password", "/api/TOKEN", "/tls/key", "/keys/host",
                                              "/app/secret_file", "/app/url")] == [
        True, True, True, False, True, False]
    assert HistoryConfig(secret_keys="pin").is_secret("/a/PIN") and not HistoryConfig(
        secret_keys="pin").is_secret("/a/password")


def test_a_long_diff_is_cut_at_a_whole_line_and_output_keeps_its_end() -> None:
    diff = "".join(f"+line {index}\n" for index in range(100))
    cut, truncated = cap_diff(diff, 50)
    assert truncated and len(cut.encode()) <= 50 and cut.endswith("\n") and diff.startswith(cut)
    assert cap_diff(diff, 10_000) == (diff, False)
    assert tail("x" * 10 + "end", 5) == "x" * 2 + "end"


def test_bounds_say_which_records_go() -> None:
    bounds = Bounds(max_age_s=60, max_records=10)
    assert bounds.oldest_time_s(1000) == 940 and bounds.oldest_id(25) == 16


@dataclass(frozen=True)
class _Run:
    command: str
    exit_code: int | None
    output: str = ""
    timed_out: bool = False
    duration_s: float = 0.01


@dataclass(frozen=True)
class _Applied:
    resource: str
    dest: str
    revision: int
    changed: bool
    duration_ms: float = 1.0
    error: ConfagentError | None = None
    reads: Reads | None = None
    plan: Plan | None = None
    noop: bool = False
    commands: tuple[_Run, ...] = ()


def _replace(old: bytes, new: bytes, check: str | None = "check") -> Replace:
    spec = ResourceSpec(file="a.toml", src="a.tmpl", dest="/etc/a.conf", keys=("/",), check_cmd=check,
                        reload_cmd="reload")
    attributes = FileAttributes(0, 0, 0o644)
    return Replace(spec, new, attributes, FileState(old, attributes), ())


def _records(*applied: _Applied, view: KeyView, memory: ResourceMemory | None = None) -> list[HistoryRecord]:
    return records_of(applied, view, memory or ResourceMemory(), HistoryConfig(), host="h", time_s=5.0)


def test_a_pass_records_what_it_changed_or_refused_and_nothing_else() -> None:
    reads = Reads(keys=frozenset({"/a", "/db/password"}))
    memory = ResourceMemory()
    first = KeyView({"/a": "1", "/db/password": "pw1"}, 2)
    unchanged = _Applied("r", "/etc/a.conf", 2, changed=False, reads=reads)
    assert _records(unchanged, view=first, memory=memory) == []
    second = KeyView({"/a": "2", "/db/password": "pw1"}, 3)
    (record,) = _records(_Applied("r", "/etc/a.conf", 3, changed=True, reads=reads,
                                  plan=_replace(b"a=1 pw1\n", b"a=2 pw1\n"),
                                  commands=(_Run("check", 0), _Run("reload", 0))), view=second, memory=memory)
    assert (record.result, record.revision, record.host, record.time_s) == ("applied", 3, "h", 5.0)
    assert record.changed_keys == (KeyChange("/a", "2"),)
    assert "-a=1 pw1\n+a=2 pw1\n" in record.diff and record.secrets == ("pw1",)
    assert f"+a=2 {MASK}" in str(record.as_json()["diff"])
    assert [(c.role, c.exit_code) for c in record.commands] == [("check", 0), ("reload", 0)]
    deferred = ReloadDeferred("no slot", dest="/etc/a.conf")
    assert _records(_Applied("r", "/etc/a.conf", 3, changed=False, error=deferred, reads=reads),
                    view=second, memory=memory) == []


def test_the_secrets_under_a_prefix_follow_its_keys() -> None:
    memory, reads = ResourceMemory(), Reads(prefixes=("/app/",))
    first = KeyView({"/app/url": "u", "/app/token": "t1"}, 2)
    plan = _replace(b"old\n", b"new\n")
    views = [first, first.with_changes({"/app/token": "t2"}, [], 3),
             first.with_changes({"/app/db_password": "pw"}, [], 4), first.with_changes({}, ["/app/token"], 5)]
    secrets = [_records(_Applied("r", "/etc/a.conf", view.revision, changed=True, reads=reads, plan=plan),
                        view=view, memory=memory)[0].secrets for view in views]
    assert secrets == [("t1",), ("t2",), ("pw", "t1"), ()]


def test_each_refusal_has_its_result() -> None:
    view = KeyView({"/a": "1"}, 4)
    plan = _replace(b"old\n", b"new\n", check=None)
    cases = [
        (RenderError("a.tmpl:1: key not found: /a"), None, "template error", ()),
        (CheckFailed("check_cmd exited 1", dest="/etc/a.conf", command="c", exit_code=1, output="no"),
         _replace(b"old\n", b"new\n"), "check failed", (_Run("check", 1, "no"),)),
        (ReloadFailed("reload_cmd exited 1", dest="/etc/a.conf", command="r", exit_code=1, output="",
                      rolled_back=True), plan, "reload failed", (_Run("r", 1), _Run("r", 0))),
        (ConfagentError("cannot replace the file"), plan, "failed", ()),
    ]
    for error, planned, result, commands in cases:
        (record,) = _records(_Applied("r", "/etc/a.conf", 4, changed=False, error=error, plan=planned,
                                      commands=commands), view=view)
        assert (record.result, record.error) == (result, str(error))
    (rolled,) = _records(_Applied("r", "/etc/a.conf", 4, changed=False, error=cases[2][0], plan=plan,
                                  commands=cases[2][3]), view=view)
    assert rolled.rolled_back and [c.role for c in rolled.commands] == ["reload", "reload after rollback"]


def test_a_record_reads_back_as_it_was_stored() -> None:
    (record,) = _records(_Applied("r", "/etc/a.conf", 3, changed=True, reads=Reads(keys=frozenset({"/a"})),
                                  plan=_replace(b"x\n", b"y\n"), commands=(_Run("check", 0),)),
                         view=KeyView({"/a": "1"}, 3))
    assert HistoryRecord.from_stored(7, record.stored_json()) == HistoryRecord(
        **{**{f: getattr(record, f) for f in record.__dataclass_fields__}, "id": 7})


_KEYS = st.text(alphabet="/ab\U0001f600z", max_size=6)


@given(st.dictionaries(_KEYS, st.text(max_size=2)), st.lists(_KEYS, max_size=3), st.lists(_KEYS, max_size=3))
def test_the_inputs_are_what_a_scan_of_every_key_finds(entries: dict[str, str], keys: list[str],
                                                       prefixes: list[str]) -> None:
    reads = ReadLog()
    for key in keys:
        reads.key(key)
    for prefix in prefixes:
        reads.prefix(prefix)
    frozen = reads.freeze()
    expected = {key: value for key, value in entries.items()
                if key in frozen.keys or any(key.startswith(prefix) for prefix in frozen.prefixes)}
    assert inputs_of(frozen, KeyView(entries, 1)) == expected


def _reads(keys: list[str], prefixes: list[str]) -> Reads:
    reads = ReadLog()
    for key in keys:
        reads.key(key)
    for prefix in prefixes:
        reads.prefix(prefix)
    return reads.freeze()


_READS = st.builds(_reads, st.lists(_KEYS, max_size=3), st.lists(_KEYS, max_size=3))
_VALUES = st.dictionaries(_KEYS, st.text(max_size=2))


@given(_VALUES, _VALUES, st.lists(_KEYS, max_size=4), _READS, _READS)
def test_changed_keys_are_every_key_whose_value_differs(entries: dict[str, str], puts: dict[str, str],
                                                         deletes: list[str], before: Reads,
                                                         after: Reads) -> None:
    first = KeyView(entries, 1)
    second = first.with_changes(puts, deletes, 2)  # sharing what did not change, as the agent's views do
    for reads_before, view_before in ((before, first), (after, first), (after, KeyView(entries, 1))):
        previous, current = inputs_of(reads_before, view_before), inputs_of(after, second)
        expected = tuple(KeyChange(key, current.get(key)) for key in sorted(previous.keys() | current.keys())
                         if previous.get(key) != current.get(key))
        assert changed_keys(Inputs.read(reads_before, view_before), Inputs.read(after, second)) == expected
