"""confd's Go templates converted to Jinja for confagent's render environment: pure, text in, text out.

``convert_template(text, name)`` parses a Go text/template (Go 1.19's
grammar: ``if``/``else if``/``else``, ``range`` with ``else`` and ``$i, $v
:=``, ``with``, variables and ``$``, pipelines, ``define``/``template``/
``block``, comments, trim markers, and the built-in and confd functions) and
returns a ``Conversion``: the Jinja text that renders the same bytes with
``confagent.render``'s environment, or the ``Finding``s (line, column,
message) of what has no faithful Jinja form, in which case there is no text:
a file is converted whole or not at all. A Go syntax error is a
``RenderError`` naming the file, line and column. No I/O here: the
``confagent convert`` command reads and writes the files.

Known differences, for data a template does not expect (not reported, as
they depend on the data, not on the template):

* a key missing from a map (``.key`` of ``json``'s map, ``index $m "key"``)
  is a render error, where Go gives the zero value (``<no value>``, false);
* ``range`` over nil is an error, where Go runs the ``else`` branch;
* ``len`` counts a string's characters where the converter cannot tell it is
  a string (Go counts bytes; ``getv``'s, ``.Key``'s and ``.Value``'s are known);
* ``eq``/``lt``... of values of different types are false or an error, where
  Go always errs; ``sortByLength`` keeps equal lengths in order (confd's
  ``sort.Sort`` may not, from 13 items).
"""

from __future__ import annotations

from dataclasses import dataclass

from confagent.convert._emitter import Finding, emit
from confagent.convert._functions import FUNCTIONS
from confagent.convert._parser import parse

__all__ = ["Conversion", "Finding", "convert_template"]


@dataclass(frozen=True, slots=True)
class Conversion:
    """The Jinja text of one template, or why it was not converted."""

    jinja: str | None
    """None when ``findings`` is not empty."""
    findings: tuple[Finding, ...] = ()


def convert_template(text: str, name: str) -> Conversion:
    """The Jinja form of the Go template ``text`` (the file ``name``, for errors).

    Raises:
        RenderError: ``text`` is not a valid Go template (file:line: column: what).
    """
    jinja, findings = emit(parse(text, name, FUNCTIONS))
    if findings:
        return Conversion(None, tuple(findings))
    return Conversion(jinja)
