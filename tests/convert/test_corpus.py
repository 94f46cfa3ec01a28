"""The corpus (corpus.py): Go's text/template gives each case's expected output, and the converted Jinja,
rendered by confagent.render with the same keys, gives the same bytes; bad input is refused by both, at
the same line, and what has no faithful Jinja form is reported where it stands."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from confagent.convert import convert_template
from confagent.errors import RenderError
from confagent.render import KeyView, StaticHost, make_environment, render
from tests.convert.conftest import GoTemplates, go_sequence
from tests.convert.corpus import CASES, ENV, KEYS, REFUSED, REPORTED, Case, Refused, Reported


def rendered(template: str, name: str = "t.tmpl") -> str:
    """The Jinja that ``convert_template`` makes of ``template``, rendered over KEYS and ENV."""
    conversion = convert_template(template, name)
    assert conversion.jinja is not None, conversion.findings
    env = make_environment({name: conversion.jinja}, StaticHost(environ=ENV))
    return render(env, name, KeyView(KEYS)).text


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_the_converted_template_renders_what_go_renders(case: Case) -> None:
    assert rendered(case.template, f"{case.name}.tmpl") == case.expected


def test_go_gives_the_corpus_expected_outputs(go_templates: GoTemplates) -> None:
    outputs = go_templates.outputs({case.name: case.template for case in CASES}, KEYS, ENV)
    assert outputs == {case.name: case.expected for case in CASES}


@pytest.mark.parametrize("case", REFUSED, ids=[case.name for case in REFUSED])
def test_a_go_syntax_error_names_the_file_and_line(case: Refused) -> None:
    with pytest.raises(RenderError) as raised:
        convert_template(case.template, f"templates/{case.name}.tmpl")
    assert (raised.value.template, raised.value.line) == (f"templates/{case.name}.tmpl", case.line)
    assert str(raised.value).startswith(f"templates/{case.name}.tmpl:{case.line}: ")


def test_go_refuses_the_refused_at_the_same_lines(go_templates: GoTemplates) -> None:
    results = go_templates.run({case.name: case.template for case in REFUSED}, KEYS)
    assert {name: (result.stage, result.error_line) for name, result in results.items()} == {
        case.name: ("parse", case.line) for case in REFUSED}


@pytest.mark.parametrize("case", REPORTED, ids=[case.name for case in REPORTED])
def test_what_has_no_faithful_form_is_reported_where_it_stands(case: Reported) -> None:
    conversion = convert_template(case.template, "t.tmpl")
    assert conversion.jinja is None
    assert tuple((finding.line, finding.column) for finding in conversion.findings) == case.at


def test_go_runs_the_reported_templates(go_templates: GoTemplates) -> None:
    """They are valid Go, reported for their meaning (the undefined template fails only when executed)."""
    results = go_templates.run({case.name: case.template for case in REPORTED}, KEYS)
    assert {name: result.stage for name, result in results.items() if result.error} == {
        "undefined_template": "execute"}


# Whitespace and trim markers: random texts and actions, each trim marker on or off, in and around
# if/range/with blocks; Go and the converted Jinja must give the same bytes.
_WHITESPACE = st.text(alphabet=" \t\r\nab{}%#-", max_size=6)
_TRIM_LEFT, _TRIM_RIGHT = st.sampled_from(["", "- "]), st.sampled_from(["", " -"])


@st.composite
def _action(draw: st.DrawFn, inner: str) -> str:
    return "{{" + draw(_TRIM_LEFT) + inner + draw(_TRIM_RIGHT) + "}}"


@st.composite
def _piece(draw: st.DrawFn, depth: int = 0) -> str:
    kinds = ["text", "print", "comment", "variable", "assign"] + (["block"] if depth < 2 else [])
    kind = draw(st.sampled_from(kinds))
    if kind == "text":
        return draw(_WHITESPACE)
    if kind == "print":
        return draw(_action(draw(st.sampled_from(['"x"', "1", 'getv "/app/name"', "$"]).map(
            lambda inner: inner if inner != "$" else '"$"'))))
    if kind == "comment":
        return draw(_action("/* c */"))
    if kind == "variable":
        return draw(_action('$v := "y"')) + draw(_action("$v"))
    if kind == "assign":  # a variable set inside a range, read after it
        inner = draw(_action("range seq 1 2")) + draw(_action("$w = .")) + draw(_action("end"))
        return draw(_action('$w := "y"')) + inner + draw(_action("$w"))
    opening = draw(st.sampled_from(["if true", "if false", "range seq 1 2", "with getv \"/app/name\"",
                                    "range split \"\" \",\""]))
    body = "".join(draw(st.lists(_piece(depth + 1), max_size=3)))
    other = "".join(draw(st.lists(_piece(depth + 1), max_size=2)))
    middle = (draw(_action("else")) + other) if draw(st.booleans()) else ""
    return draw(_action(opening)) + body + middle + draw(_action("end"))


_TEMPLATE = st.lists(_piece(), max_size=6).map("".join)


@settings(max_examples=8, deadline=None)
@given(templates=st.lists(_TEMPLATE, min_size=40, max_size=40))
def test_whitespace_and_trim_markers_as_go(go_templates: GoTemplates, templates: list[str]) -> None:
    """(A text ending in ``{`` before an action makes ``{{{``, which both refuse.)"""
    named = go_sequence(templates)
    results = go_templates.run(named, KEYS, ENV)
    assert {name: result.stage for name, result in results.items() if result.error} == {
        name: "parse" for name, result in results.items() if result.error}
    assert {name: ours(text) for name, text in named.items()} == {
        name: None if result.error else result.output for name, result in results.items()}


def ours(template: str) -> str | None:
    """``rendered``, None for a template the converter refuses as Go's parser would."""
    try:
        return rendered(template)
    except RenderError:
        return None


def test_a_dns_helper_whose_name_does_not_resolve_gives_an_empty_list_as_in_confd() -> None:
    """confd's lookupIP/lookupSRV swallow a DNS error; confagent's fail unless given a default: converted
    calls pass ``[]``."""
    template = '{{range lookupIP "nowhere.invalid"}}x{{else}}none{{end}} {{len (lookupSRV "a" "b" "c")}}'
    assert rendered(template) == "none 0"


def test_time_and_file_helpers_convert_to_the_environments() -> None:
    """``datetime`` (Go's time.Time, called as confd's docs show it) and ``fileExists``, over a fixed host:
    the clock at Go's reference time, one file."""
    template = '{{(datetime).Format "2006-01-02"}} {{datetime.Format "15:04 MST"}} {{fileExists "/etc/x"}} ' \
               '{{fileExists "/nope"}}'
    conversion = convert_template(template, "t.tmpl")
    assert conversion.jinja is not None, conversion.findings
    env = make_environment({"t.tmpl": conversion.jinja}, StaticHost(files=frozenset({"/etc/x"})))
    assert render(env, "t.tmpl", KeyView()).text == "2006-01-02 15:04 UTC true false"


def test_a_key_missing_from_a_map_is_an_error_where_go_prints_no_value(go_templates: GoTemplates) -> None:
    """A known difference (confagent.convert's docstring, README): data the template does not expect."""
    templates = {"field": '{{$m := json "{}"}}{{$m.a}}', "index": '{{index (json "{}") "a"}}'}
    assert go_templates.outputs(templates, KEYS) == {"field": "<no value>", "index": "<no value>"}
    for template in templates.values():
        with pytest.raises(RenderError):
            rendered(template)
