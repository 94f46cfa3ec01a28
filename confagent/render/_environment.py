"""The one Jinja2 environment of an agent, and ``render``: template + view + scope -> text.

Rules:
1. One ``RenderEnvironment`` per agent, built by ``make_environment``:
   undefined names raise (``StrictUndefined``), nothing is escaped, the final
   newline is kept, ``trim_blocks``/``lstrip_blocks`` drop the line of a
   ``{% ... %}`` tag, and ``true``/``false`` print as in Go.
2. Templates come as text, from a mapping the agent owns: a render reads the
   mapping, and a template whose text object changed is compiled again.
3. Every render reads one ``KeyView`` (one revision) through one ``Scope``;
   its store and host functions are passed as template variables, so a
   ``{% import %}`` that needs them says ``with context``.
4. Every failure leaves as ``RenderError``, with the innermost template and
   line the traceback names (an included template's own line, not the
   includer's), and the key when a store function failed.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Any

import jinja2

from confagent.errors import ConfagentError, RenderError
from confagent.render._helpers import FILTERS, HELPERS, go_string
from confagent.render._host import Host, HostFunctions
from confagent.render._reads import ReadLog, Reads
from confagent.render._scope import Scope
from confagent.render._store_functions import StoreFunctions
from confagent.render._view import KeyView

__all__ = ["RenderEnvironment", "Rendered", "check_template", "make_environment", "render"]

_TEMPLATE_FAULTS = (jinja2.TemplateError, ConfagentError, TypeError, ValueError, ArithmeticError,
                    LookupError, AttributeError, RecursionError)
"""What a template's own content can make fail; anything else is a bug and propagates."""

_ALL_KEYS = Scope()
_MIN_CACHED_TEMPLATES = 400
"""Jinja's default; the cache holds every template of an agent with more, so no pass recompiles any."""


@dataclass(frozen=True, slots=True)
class Rendered:
    """The output of one render and what it depended on."""

    text: str
    revision: int
    """The store revision of every key the template read."""
    reads: Reads


class _TextLoader(jinja2.BaseLoader):
    """Templates from a name -> text mapping; the name is also the file name in errors."""

    def __init__(self, templates: Mapping[str, str]) -> None:
        self.templates = templates

    def get_source(
        self, environment: jinja2.Environment, template: str
    ) -> tuple[str, str, Callable[[], bool]]:
        text = self.templates.get(template)
        if text is None:
            raise jinja2.TemplateNotFound(template)
        return text, template, lambda: self.templates.get(template) is text

    def list_templates(self) -> list[str]:
        return sorted(self.templates)


class RenderEnvironment:
    """The Jinja2 environment with confd's functions, and the host they ask."""

    __slots__ = ("_loader", "host", "jinja")

    def __init__(self, templates: Mapping[str, str], host: Host) -> None:
        self._loader = _TextLoader(templates)
        self.host = host
        self.jinja = jinja2.Environment(
            loader=self._loader,
            undefined=jinja2.StrictUndefined,
            autoescape=False,
            keep_trailing_newline=True,
            trim_blocks=True,
            lstrip_blocks=True,
            auto_reload=True,
            finalize=_finalize,
            extensions=["jinja2.ext.loopcontrols"],
            cache_size=max(_MIN_CACHED_TEMPLATES, len(templates)),
        )
        self.jinja.globals.update(HELPERS)
        self.jinja.filters.update(FILTERS)

    @property
    def templates(self) -> Mapping[str, str]:
        return self._loader.templates


def make_environment(templates: Mapping[str, str], host: Host) -> RenderEnvironment:
    """The environment an agent renders every template with.

    Args:
        templates: template name -> text. Names appear in errors, so use the
            path an operator knows (``templates/nginx.conf.tmpl``). The mapping
            is read at every render; replacing a text recompiles it.
        host: the environment, clock, resolver and file system templates may ask.
    """
    return RenderEnvironment(templates, host)


def check_template(env: RenderEnvironment, template_name: str) -> None:
    """Compile a template (and cache it) without rendering it.

    Raises:
        RenderError: the template is missing or its syntax is wrong.
    """
    try:
        env.jinja.get_template(template_name)
    except jinja2.TemplateError as error:
        raise _render_error(error, template_name, env) from error


def render(env: RenderEnvironment, template_name: str, view: KeyView, scope: Scope = _ALL_KEYS) -> Rendered:
    """Render a template over the keys of ``view`` that ``scope`` lets it see.

    Raises:
        RenderError: bad syntax, an undefined name, a missing key, bad data for a
            helper, or a failed lookup; nothing is written anywhere.
    """
    log = ReadLog()
    variables = StoreFunctions(view, scope, log).functions() | HostFunctions(env.host, log).functions()
    try:
        text = env.jinja.get_template(template_name).render(variables)
    except _TEMPLATE_FAULTS as error:
        raise _render_error(error, template_name, env) from error
    return Rendered(text, view.revision, log.freeze())


def _render_error(error: BaseException, template_name: str, env: RenderEnvironment) -> RenderError:
    """The RenderError for ``error``, placed at its template and line."""
    key = error.key if isinstance(error, RenderError) else None
    if isinstance(error, jinja2.TemplateSyntaxError):
        return RenderError(error.message or "syntax error", template=error.name or template_name,
                           line=error.lineno, key=key)
    template, line = _location(error.__traceback__, env.templates) or (template_name, None)
    return RenderError(_message(error), template=template, line=line, key=key)


def _message(error: BaseException) -> str:
    if isinstance(error, RenderError):
        return error.message
    if isinstance(error, jinja2.TemplateNotFound):
        return f"template not found: {error.name}"
    if isinstance(error, ConfagentError | jinja2.TemplateError):
        return str(error)
    return f"{type(error).__name__}: {error}"


def _location(traceback: TracebackType | None, templates: Mapping[str, str]) -> tuple[str, int] | None:
    """The innermost template frame of a traceback Jinja rewrote to template names and lines."""
    found = None
    while traceback is not None:
        name = traceback.tb_frame.f_code.co_filename
        if name in templates:
            found = (name, traceback.tb_lineno)
        traceback = traceback.tb_next
    return found


def _finalize(value: Any) -> Any:
    """Print booleans as Go does (``true``), so config files get the spelling they expect.

    Called for every value a template prints (100 renders of 100 keys: 20,000 calls): ``bool`` has no
    subclass, so its class is compared, which costs half of ``isinstance``."""
    return go_string(value) if value.__class__ is bool else value
