"""Shared helpers for the render tests: render one template text over some keys."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from confagent.render import KeyView, Rendered, Scope, StaticHost, make_environment, render
from confagent.render._host import Host

TEMPLATE = "templates/test.tmpl"


def render_text(
    text: str,
    entries: Mapping[str, str] | None = None,
    prefix: str = "/",
    keys: Sequence[str] = ("/",),
    host: Host | None = None,
    revision: int = 1,
) -> Rendered:
    """Render ``text`` as ``templates/test.tmpl`` over ``entries`` as a resource with ``prefix``/``keys``."""
    env = make_environment({TEMPLATE: text}, host or StaticHost())
    return render(env, TEMPLATE, KeyView(entries or {}, revision), Scope(prefix, keys))


def out(text: str, entries: Mapping[str, str] | None = None, prefix: str = "/",
        keys: Sequence[str] = ("/",), host: Host | None = None) -> str:
    """Only the rendered text."""
    return render_text(text, entries, prefix, keys, host).text
