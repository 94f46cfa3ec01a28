"""load_resources: conf.d and templates as confd lays them out; one broken resource never stops the rest."""

from __future__ import annotations

from pathlib import Path

import pytest

from confagent.config import MAX_TEMPLATE_BYTES, load_resources
from confagent.errors import ConfigError
from confagent.render import KeyView, StaticHost, make_environment, render


def resource(name: str, src: str, dest: str, keys: str = '["/"]', extra: str = "") -> tuple[str, str]:
    return name, f'[template]\nsrc = "{src}"\ndest = "{dest}"\nkeys = {keys}\n{extra}'


def confdir(tmp_path: Path, resources: list[tuple[str, str]], templates: dict[str, str | bytes]) -> Path:
    for name, text in resources:
        path = tmp_path / "conf.d" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    (tmp_path / "conf.d").mkdir(exist_ok=True)
    for name, content in templates.items():
        path = tmp_path / "templates" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content)
    return tmp_path


def test_one_broken_resource_does_not_stop_the_others(tmp_path: Path) -> None:
    root = confdir(tmp_path, [
        resource("a.toml", "a.tmpl", "/out/a"),
        ("b.toml", "[template]\nsrc = 'a.tmpl'\ndest = '/out/b'\nkeys = ['/']\nmode = '644'\n"),
        ("c.toml", "this is not toml ["),
        resource("d.toml", "missing.tmpl", "/out/d"),
        resource("e.toml", "sub/e.tmpl", "/out/e"),
    ], {"a.tmpl": "a", "sub/e.tmpl": "e"})
    loaded = load_resources(root)
    assert [r.name for r in loaded.resources] == ["a.toml", "e.toml"]
    assert [(e.file, e.key) for e in loaded.errors] == [
        (str(root / "conf.d/b.toml"), "template.mode"),
        (str(root / "conf.d/c.toml"), None),
        (str(root / "conf.d/d.toml"), "template.src"),
    ]
    assert "there is no such file" in loaded.errors[2].message


def test_templates_are_read_and_render_by_src_name(tmp_path: Path) -> None:
    templates = {"app.tmpl": '{% include "common/head.tmpl" %}url={{ getv("/db/url") }}\n',
                 "common/head.tmpl": "# generated\n"}
    root = confdir(tmp_path, [resource("app.toml", "app.tmpl", "/out/app", '["/db"]', 'prefix = "myapp"')],
                   dict(templates))
    loaded = load_resources(root)
    assert dict(loaded.templates) == templates
    (app,) = loaded.resources
    assert app.template == "app.tmpl"
    env = make_environment(loaded.templates, StaticHost())
    view = KeyView({"/myapp/db/url": "pg://x", "/other/db/url": "no"}, 7)
    rendered = render(env, app.template, view, app.scope)
    assert (rendered.text, rendered.revision) == ("# generated\nurl=pg://x\n", 7)


@pytest.mark.parametrize(("global_prefix", "resource_prefix", "nested"), [
    ("/", "", "/"), ("/", "myapp", "/myapp"), ("/production", "", "/production"),
    ("/production", "/myapp", "/production/myapp"), ("/production/", "myapp/", "/production/myapp"),
])
def test_prefixes_nest(tmp_path: Path, global_prefix: str, resource_prefix: str, nested: str) -> None:
    root = confdir(tmp_path, [resource("a.toml", "a", "/out/a", '["/db"]', f'prefix = "{resource_prefix}"')],
                   {"a": ""})
    (loaded,) = load_resources(root, global_prefix).resources
    assert loaded.scope.prefix_path == nested
    assert loaded.scope.roots == ((nested.rstrip("/") + "/db"),)


def test_relative_dest_is_relative_to_the_current_directory(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = confdir(tmp_path / "etc", [resource("a.toml", "a", "out/a.conf")], {"a": ""})
    monkeypatch.chdir(tmp_path)
    (loaded,) = load_resources(root).resources
    assert loaded.spec.dest == str(tmp_path / "out" / "a.conf")
    assert loaded.spec.file == str(root / "conf.d" / "a.toml")


def test_two_resources_may_not_write_one_file(tmp_path: Path) -> None:
    root = confdir(tmp_path, [resource("a.toml", "t", "/out/x"), resource("b.toml", "t", "/out/../out/x")],
                   {"t": ""})
    loaded = load_resources(root)
    assert [r.name for r in loaded.resources] == ["a.toml"]
    (error,) = loaded.errors
    assert (error.file, error.key) == (str(root / "conf.d/b.toml"), "template.dest")
    assert f"already written by {root / 'conf.d/a.toml'}" in error.message


def test_recursive_lexical_order_skipping_hidden_and_other_files(tmp_path: Path) -> None:
    root = confdir(tmp_path, [
        resource("b.toml", "t", "/out/b"), resource("a/z.toml", "t", "/out/az"),
        resource("c.toml.bak", "t", "/1"),
        resource(".#b.toml", "t", "/out/2"), resource(".hidden/x.toml", "t", "/out/3"),
    ], {"t": "", ".t.swp": b"\xff"})
    loaded = load_resources(root)
    assert [r.name for r in loaded.resources] == ["a/z.toml", "b.toml"]
    assert (loaded.errors, list(loaded.templates)) == ((), ["t"])


def test_files_found_as_rglob_finds_them_symlinked_directories_not_entered(tmp_path: Path) -> None:
    root = confdir(tmp_path, [resource("a.toml", "t", "/out/a"), resource("sub/b.TOML", "t", "/out/b")],
                   {"t": "", "dir.tmpl/inner": "in a directory named like a file"})
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "c.toml").write_text(resource("", "t", "/out/c")[1])
    (root / "conf.d" / "linked").symlink_to(outside, target_is_directory=True)
    (root / "conf.d" / "file.toml").symlink_to(outside / "c.toml")
    (root / "conf.d" / "broken.toml").symlink_to(tmp_path / "nowhere.toml")
    (root / "conf.d" / "dir.toml").mkdir()
    loaded = load_resources(root)
    found = sorted(path.relative_to(root / "conf.d").as_posix() for path in (root / "conf.d").rglob("*.toml")
                   if path.is_file())
    assert [r.name for r in loaded.resources] == found == ["a.toml", "file.toml"]
    assert sorted(loaded.templates) == ["dir.tmpl/inner", "t"]


def test_bad_templates_are_errors_of_their_own(tmp_path: Path) -> None:
    resources = [resource("a.toml", "bin.tmpl", "/out/a"), resource("b.toml", "ok.tmpl", "/out/b")]
    root = confdir(tmp_path, resources,
                   {"bin.tmpl": b"\xff\xfe", "ok.tmpl": "ok", "huge.tmpl": "x" * (MAX_TEMPLATE_BYTES + 1)})
    loaded = load_resources(root)
    assert [r.name for r in loaded.resources] == ["b.toml"]
    messages = {(e.file, e.key): e.message for e in loaded.errors}
    assert "not UTF-8" in messages[(str(root / "templates/bin.tmpl"), None)]
    assert "larger than" in messages[(str(root / "templates/huge.tmpl"), None)]
    assert "unreadable" in messages[(str(root / "conf.d/a.toml"), "template.src")]


def test_missing_templates_directory(tmp_path: Path) -> None:
    root = confdir(tmp_path, [resource("a.toml", "a.tmpl", "/out/a")], {})
    (error,) = load_resources(root).errors
    assert error.key == "template.src"
    assert "no such file" in error.message


def test_empty_conf_d_is_an_empty_set(tmp_path: Path) -> None:
    loaded = load_resources(confdir(tmp_path, [], {}))
    assert (loaded.resources, loaded.errors, dict(loaded.templates)) == ((), (), {})


def test_missing_conf_d_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_resources(tmp_path)
    assert caught.value.file == str(tmp_path / "conf.d")
