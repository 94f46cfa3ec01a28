"""Rendering confd-style templates with Jinja2: pure, over one revision of the store.

``make_environment(templates, host)`` builds the one Jinja2 environment of an
agent; ``render(env, name, view, scope)`` renders a template over a
``KeyView`` (every key at one revision) as a template resource with that
``Scope`` (prefix and keys) sees it, and returns the text, the revision and
the ``Reads`` (keys, prefixes, host inputs) it depended on. Every failure is a
``RenderError`` naming the template, the line and the key. No I/O here: the
clock, environment, DNS and file system come from the injected ``Host``
(``StaticHost`` gives fixed answers, for tests and dry runs). A ``KeyView``
never changes; ``with_changes`` makes the next one cheaply. ``prefix_end``
bounds the keys under a prefix in its sorted keys (``kv.prefix_end``'s rule
over code points, as a view's keys are text).

confd's functions (confd.md §4) keep their names and Go's semantics:
``{{ getv "/a" "x" }}`` becomes ``{{ getv("/a", "x") }}``, ``{{range gets
"/s/*"}}{{.Value}}{{end}}`` becomes ``{% for kv in gets("/s/*") %}{{ kv.Value
}}{% endfor %}`` (also ``kv.value``, or ``{% for k, v in ... %}``). Also from
Go: ``printf``, ``len``, ``index``, ``datetime().Format("2006-01-02")`` (and
``datetime.Format(...)``). Filters where they read well: ``base dir split json
jsonArray toUpper toLower trimSuffix base64Encode base64Decode parseBool atoi
sortByLength sortKVByLength`` (Jinja's own ``join``, ``replace`` and
``reverse`` filters stay Jinja's). Go's ``and``/``or``/``not``/``eq``/``lt`` are
Jinja operators; ``{{- -}}`` trims whitespace the same way.

Differences from confd, on purpose:

* Missing data fails loudly and explicitly: ``getv``/``get`` of a missing key,
  an undefined name, a failed DNS lookup (``lookupIP(name, default=[])`` for
  the old silence), and ``gets``/``getvs``/``ls``/``lsdir`` with
  ``required=True``.
* confd bugs fixed: ``reverse(gets(...))`` reverses; ``sortByLength`` is
  stable; ``ls "/"`` lists the top level; a bad glob is always an error.
* Jinja2 output rules: ``trim_blocks`` and ``lstrip_blocks`` are on (a line
  holding only a ``{% %}`` tag disappears); booleans print ``true``/``false``;
  other values print as Python does (a list prints ``['a', 'b']``, a JSON
  ``3.0`` prints ``3.0``; Go prints ``[a b]`` and ``3``).
* Store keys are used verbatim (confd cleans ``/a/`` to ``/a``); keys outside
  the resource's ``keys`` are invisible, as in confd, where they are never fetched.
* ``json`` keeps integral JSON numbers as ints (Go makes every number a float).
"""

from typing import TYPE_CHECKING

from confagent.lazy import lazy_exports
from confagent.render._host import SRV, Host
from confagent.render._paths import prefix_end
from confagent.render._reads import Reads
from confagent.render._scope import Scope
from confagent.render._store_functions import KVPair
from confagent.render._view import KeyView

if TYPE_CHECKING:
    from confagent.render._environment import (
        Rendered,
        RenderEnvironment,
        check_template,
        make_environment,
        render,
    )
    from confagent.render._gotime import GoTime
    from confagent.render._static_host import StaticHost

__all__ = [
    "SRV",
    "GoTime",
    "Host",
    "KVPair",
    "KeyView",
    "Reads",
    "RenderEnvironment",
    "Rendered",
    "Scope",
    "StaticHost",
    "check_template",
    "make_environment",
    "prefix_end",
    "render",
]

_LAZY_MODULES = {**dict.fromkeys(
    ("RenderEnvironment", "Rendered", "check_template", "make_environment", "render"), "_environment"),
    "GoTime": "_gotime", "StaticHost": "_static_host"}
"""Names of ``_environment``, the one module importing Jinja2, ``GoTime`` (a template asking for the
time loads it) and ``StaticHost`` (tests'): loaded on first use (``lazy_exports``), so that what only
reads keys, scopes and views (the configuration, the cache, the CLI) starts fast."""

if not TYPE_CHECKING:  # mypy reads the imports under TYPE_CHECKING instead, and checks every name
    __getattr__, __dir__ = lazy_exports(__name__, globals(), _LAZY_MODULES, rename=True)

for _name in set(__all__) - set(_LAZY_MODULES):
    globals()[_name].__module__ = __name__  # public names print as confagent.render.X, like the lazy ones
del _name, lazy_exports
