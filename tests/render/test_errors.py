"""Every render failure is one RenderError naming the template, the line and the key (DESIGN.md rules)."""

from __future__ import annotations

import pytest

from confagent.errors import ConfagentError, RenderError
from confagent.render import KeyView, Scope, StaticHost, check_template, make_environment, render

NGINX = "templates/nginx.conf.tmpl"
KEYS = KeyView({"/services/web/a": "10.0.0.1:80", "/bad": "{not json"}, 5)

# (template text, line, message, key)
CASES = [
    ("upstream {\n{% for x in gets('/services/web/*') %}\n  server {{ x.Value }};\n{% endfor %}\n"
     "}\n{{ getv('/services/web/b') }}\n", 6, "key not found: /services/web/b", "/services/web/b"),
    ("a\nb\n{{ missing_name }}\n", 3, "'missing_name' is undefined", None),
    ("{{ get('/services/web/a').Nope }}", 1, "'confagent.render.KVPair object' has no attribute 'Nope'",
     None),
    ("\n\n{{ json(getv('/bad')) }}", 3, "json: invalid JSON: Expecting property name", None),
    ("{% for x in [1] %}\n{{ 1 // 0 }}\n{% endfor %}", 2, "ZeroDivisionError: integer division", None),
    ("{{ 'a' + 1 }}", 1, 'TypeError: can only concatenate str (not "int") to str', None),
    ("line\n{% include 'templates/missing.tmpl' %}", 2, "template not found: templates/missing.tmpl", None),
]


@pytest.mark.parametrize(("text", "line", "message", "key"), CASES)
def test_errors_name_template_line_and_key(text: str, line: int, message: str, key: str | None) -> None:
    env = make_environment({NGINX: text}, StaticHost())
    with pytest.raises(RenderError) as caught:
        render(env, NGINX, KEYS, Scope())
    error = caught.value
    assert (error.template, error.line, error.key) == (NGINX, line, key)
    assert error.message.startswith(message)
    assert str(error).startswith(f"{NGINX}:{line}: {message}")
    assert isinstance(error, ConfagentError)


def test_syntax_errors_give_the_line_at_render_and_at_check() -> None:
    env = make_environment({NGINX: "ok\n{% for x in %}\n{% endfor %}\n"}, StaticHost())
    for attempt in (lambda: render(env, NGINX, KEYS), lambda: check_template(env, NGINX)):
        with pytest.raises(RenderError) as caught:
            attempt()
        assert (caught.value.template, caught.value.line) == (NGINX, 2)
        assert caught.value.message == "Expected an expression, got 'end of statement block'"


def test_an_error_inside_an_included_template_names_that_template() -> None:
    templates = {
        NGINX: "a\n{% include 'templates/part.tmpl' %}\n",
        "templates/part.tmpl": "x\ny\n{{ getv('/no') }}",
    }
    env = make_environment(templates, StaticHost())
    with pytest.raises(RenderError) as caught:
        render(env, NGINX, KEYS)
    assert str(caught.value) == "templates/part.tmpl:3: key not found: /no"


def test_a_missing_template_has_no_line() -> None:
    env = make_environment({}, StaticHost())
    with pytest.raises(RenderError) as caught:
        render(env, "templates/none.tmpl", KEYS)
    assert str(caught.value) == "templates/none.tmpl: template not found: templates/none.tmpl"
    assert caught.value.line is None


def test_check_template_accepts_good_text_and_changed_text_is_recompiled() -> None:
    templates = {NGINX: "{{ getv('/services/web/a') }}"}
    env = make_environment(templates, StaticHost())
    check_template(env, NGINX)
    assert render(env, NGINX, KEYS).text == "10.0.0.1:80"
    templates[NGINX] = "new {{ ls('/services') | join(',') }}"
    assert render(env, NGINX, KEYS).text == "new web"


def test_render_error_without_template_is_just_the_message() -> None:
    assert str(RenderError("boom", key="/k")) == "boom"
    assert str(RenderError("boom", template="t.tmpl")) == "t.tmpl: boom"
