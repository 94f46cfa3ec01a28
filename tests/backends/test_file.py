"""The file backend: confd's flattening, directories and filters, broken files, replay limits."""

from __future__ import annotations

import os
from contextlib import aclosing
from pathlib import Path

import pytest

from confagent.backends import FileBackend
from confagent.backends._flatten import flatten_document, parse_document
from confagent.errors import ResyncNeeded, SourceFileError
from tests.backends.harness import next_change, run

# (document, keys) as confd's file backend flattens them (confd.md §6, backends/file nodeWalk).
FLATTENING = [
    ("a: {b: c}", {"/a/b": "c"}),
    ("a: [x, y]", {"/a/0": "x", "/a/1": "y"}),
    ("a: [{n: 1}, [2, 3]]", {"/a/0/n": "1", "/a/1/0": "2", "/a/1/1": "3"}),
    ("n: 42\nt: true\nf: no\nneg: -7", {"/n": "42", "/t": "true", "/f": "false", "/neg": "-7"}),
    ("x: 2.50\ny: 1e3\nz: 1.5e+20\nw: 3.0", {"/x": "2.5", "/y": "1000", "/z": "150000000000000000000",
                                            "/w": "3"}),
    ("d: 2024-01-02\ne: ''\nnull_one: ~\nempty_map: {}\nempty_list: []", {"/d": "2024-01-02", "/e": ""}),
    ("80: web\n'a/': {'/b': v}", {"/80": "web", "/a/b": "v"}),
    ("", {}),
]


@pytest.mark.parametrize(("text", "keys"), FLATTENING)
def test_flattening_matches_confd(text: str, keys: dict[str, str]) -> None:
    assert flatten_document("t.yaml", parse_document("t.yaml", text)) == keys


def test_json_files_are_read_as_json() -> None:
    document = parse_document("t.json", '{"a": {"b": [1, 2.5, true, null]}}')
    assert flatten_document("t.json", document) == {"/a/b/0": "1", "/a/b/1": "2.5", "/a/b/2": "true"}


@pytest.mark.parametrize(("name", "text", "where"), [
    ("bad.yaml", "a: b\n  c: d: e\n", "bad.yaml:2: mapping values are not allowed here"),
    ("bad.json", '{"a":\n 1,}', "bad.json:2: Expecting property name"),
    ("list.yaml", "- a\n- b\n", "list.yaml: the top level must be a mapping, not a list"),
    ("key.yaml", "? [a, b]\n: c\n", "key.yaml:1: found unhashable key"),
    ("bin.yaml", "a: {? !!binary aGk=\n: c}",
     "bin.yaml: under /a: a mapping key must be a scalar, not bytes"),
])
def test_bad_documents_name_the_file_and_line(name: str, text: str, where: str) -> None:
    with pytest.raises(SourceFileError) as caught:
        flatten_document(name, parse_document(name, text))
    assert str(caught.value).startswith(where)


def test_directories_files_and_filters(tmp_path: Path) -> None:
    (tmp_path / "conf" / "sub").mkdir(parents=True)
    (tmp_path / "conf" / "a.yaml").write_text("app: {x: from-a, y: a}")
    (tmp_path / "conf" / "sub" / "b.yaml").write_text("app: {x: from-b}")
    (tmp_path / "conf" / ".a.yaml.swp").write_text("not: [yaml")
    (tmp_path / "conf" / "notes.txt").write_text("ignored by the filter")
    (tmp_path / "last.json").write_text('{"app": {"y": "last"}}')

    async def body() -> None:
        backend = FileBackend([tmp_path / "conf", tmp_path / "last.json"], name_filter="*.yaml")
        snap = await backend.snapshot(["/"])
        assert dict(snap.entries) == {"/app/x": "from-b", "/app/y": "last"} and snap.revision == 1
        await backend.close()

    run(body)


def test_a_broken_file_keeps_its_last_good_data(tmp_path: Path) -> None:
    good, other = tmp_path / "good.yaml", tmp_path / "other.yaml"
    good.write_text("app: {a: '1'}")
    other.write_text("app: {b: '1'}")

    async def body() -> None:
        backend = FileBackend([good, other], rescan_interval_s=1.0)
        start = (await backend.snapshot(["/app"])).revision
        async with aclosing(backend.changes(["/app"], start)) as changes:
            _replace(good, "app: {a: '2'\n  broken")
            _replace(other, "app: {b: '2'}")
            with pytest.raises(SourceFileError) as caught:
                while True:  # the other file's change comes first, then the error
                    change = await next_change(changes)
                    assert dict(change.puts) == {"/app/b": "2"}
        assert str(caught.value).startswith(f"{good}:2: ")
        with pytest.raises(SourceFileError):
            await backend.snapshot(["/app"])
        _replace(good, "app: {a: '3'}")
        fixed = await backend.snapshot(["/app"])
        assert dict(fixed.entries) == {"/app/a": "3", "/app/b": "2"}
        await backend.close()

    run(body)


def test_changes_older_than_the_kept_history_ask_for_a_resync(tmp_path: Path) -> None:
    path = tmp_path / "data.yaml"
    path.write_text("a: '0'")

    async def body() -> None:
        backend = FileBackend([path], history_max=2)
        start = (await backend.snapshot(["/"])).revision
        for value in "123":
            _replace(path, f"a: '{value}'")
            await backend.snapshot(["/"])
        with pytest.raises(ResyncNeeded):
            async with aclosing(backend.changes(["/"], start)) as changes:
                await next_change(changes)
        async with aclosing(backend.changes(["/"], start + 1)) as changes:
            assert dict((await next_change(changes)).puts) == {"/a": "2"}
        await backend.close()

    run(body)


def _replace(path: Path, text: str) -> None:
    staged = path.with_name(f".{path.name}.tmp")
    staged.write_text(text)
    os.replace(staged, path)
