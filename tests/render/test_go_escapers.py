"""Go's ``html``, ``js`` and ``urlquery`` in the render environment: the text Go 1.19's escapers give
(checked against Go itself by tests/convert/test_corpus.py's escapers case)."""

from __future__ import annotations

import pytest

from confagent.render import KeyView, StaticHost, make_environment, render


@pytest.mark.parametrize(("template", "expected"), [
    ("{{ html('<a href=\"x\">&\\'') }}", "&lt;a href=&#34;x&#34;&gt;&amp;&#39;"),
    ("{{ html('a\\x00b') }}", "a\ufffdb"),
    ("{{ js('<a href=\"x\">&\\'') }}", "\\u003Ca href\\u003D\\\"x\\\"\\u003E\\u0026\\'"),
    ("{{ js('a\\\\b\\x01\\u2028é') }}", "a\\\\b\\u0001\\u2028é"),
    ("{{ urlquery('a b&c=d/é~_.-') }}", "a+b%26c%3Dd%2F%C3%A9~_.-"),
    ("{{ html(1, 2, 'x', 3) }}", "1 2x3"),
    ("{{ urlquery([1, 2]) }}", "%5B1+2%5D"),
])
def test_go_escapers(template: str, expected: str) -> None:
    env = make_environment({"t": template}, StaticHost())
    assert render(env, "t", KeyView()).text == expected
