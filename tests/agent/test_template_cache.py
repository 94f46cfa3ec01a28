"""Compiled templates kept on disk between runs (``attach_template_cache``): a later environment renders
from the cached code, an edited template is compiled again, a failure of the cache is a miss, and a
directory another user could write is not used."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path

import pytest

from confagent.agent._template_cache import attach_template_cache
from confagent.errors import RenderError
from confagent.render import KeyView, RenderEnvironment, StaticHost, make_environment, render

VIEW = KeyView({"/app/a": "1", "/app/b": "2"}, 5)
LOOP = "{% for kv in gets('/app/*') %}{{ kv.key }}={{ kv.value }}\n{% endfor %}"


@pytest.fixture
def temp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The temporary directory Jinja's default cache directory is made in, the test's own."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    return tmp_path


def cached_env(templates: dict[str, str]) -> RenderEnvironment:
    env = make_environment(templates, StaticHost())
    attach_template_cache(env)
    return env


def cache_files(temp: Path) -> list[Path]:
    return sorted((temp / f"_jinja2-cache-{os.getuid()}").glob("confagent-*.cache"))


def test_a_later_environment_renders_from_the_cached_code(temp: Path) -> None:
    assert render(cached_env({"t": LOOP}), "t", VIEW).text == "/app/a=1\n/app/b=2\n"
    [entry] = cache_files(temp)
    compiled = entry.read_bytes()
    later = cached_env({"t": LOOP})
    later.jinja.compile = None  # type: ignore[assignment,method-assign]  # compiling now would fail
    assert render(later, "t", VIEW).text == "/app/a=1\n/app/b=2\n"
    assert entry.read_bytes() == compiled


def test_an_edited_template_is_compiled_again(temp: Path) -> None:
    render(cached_env({"t": LOOP}), "t", VIEW)
    assert render(cached_env({"t": "{{ getv('/app/a') }}!\n"}), "t", VIEW).text == "1!\n"
    assert render(cached_env({"t": LOOP}), "t", VIEW).text == "/app/a=1\n/app/b=2\n"


def test_other_options_have_their_own_entries(temp: Path) -> None:
    lines = "{% for kv in gets('/app/*') %}\n{{ kv.key }}\n{% endfor %}"
    assert render(cached_env({"t": lines}), "t", VIEW).text == "/app/a\n/app/b\n"
    other = make_environment({"t": lines}, StaticHost())
    other.jinja.trim_blocks = False
    attach_template_cache(other)
    assert render(other, "t", VIEW).text == "\n/app/a\n\n/app/b\n"
    assert len(cache_files(temp)) == 2


@pytest.mark.parametrize("damage", [
    lambda data: b"", lambda data: data[:3], lambda data: data[:40], lambda data: data[:-7],
    lambda data: data[:12] + bytes(len(data) - 12), lambda data: data[:-30] + b"\xff" * 30,
], ids=["empty", "in the magic", "in the checksum", "in the code", "zeroed after the magic", "code garbled"])
def test_a_damaged_entry_is_a_miss(temp: Path, damage: Callable[[bytes], bytes]) -> None:
    render(cached_env({"t": LOOP}), "t", VIEW)
    [entry] = cache_files(temp)
    entry.write_bytes(damage(entry.read_bytes()))
    assert render(cached_env({"t": LOOP}), "t", VIEW).text == "/app/a=1\n/app/b=2\n"


def test_errors_keep_their_template_and_line(temp: Path) -> None:
    source = "line one\n{{ getv('/app/missing') }}\n"
    for _ in range(2):  # compiled, then from the cache
        with pytest.raises(RenderError, match="key not found: /app/missing") as caught:
            render(cached_env({"templates/t.tmpl": source}), "templates/t.tmpl", VIEW)
        assert (caught.value.template, caught.value.line) == ("templates/t.tmpl", 2)


@pytest.mark.skipif(os.getuid() != 0, reason="gives a directory to another user: root only")
def test_a_directory_of_another_user_is_not_used(temp: Path) -> None:
    theirs = temp / f"_jinja2-cache-{os.getuid()}"
    theirs.mkdir(mode=0o700)
    os.chown(theirs, 65534, 65534)
    env = cached_env({"t": LOOP})
    assert env.jinja.bytecode_cache is None
    assert render(env, "t", VIEW).text == "/app/a=1\n/app/b=2\n"
    assert not cache_files(temp)
