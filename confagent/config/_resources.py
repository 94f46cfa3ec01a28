"""``load_resources``: ``CONFDIR/conf.d/**/*.toml`` and ``CONFDIR/templates/`` into a ``ResourceSet``.

Rules:
1. Resource files are every ``*.toml`` under ``conf.d`` (recursively, as
   confd), in lexical order of their relative paths; hidden files (editor
   leftovers like ``.#app.toml``) are skipped.
2. One bad resource does not stop the others: its ``ConfigError`` (naming
   the file and the key) goes to ``errors`` and the rest load. A missing
   ``conf.d`` directory is an error for the whole set; an empty one is an
   empty set (the agent decides that running with nothing is an error).
3. Templates are read here, all of them (includes and imports need their
   siblings), as UTF-8 text named by their path under ``templates/``, which
   is what a resource's ``src`` says; rendering never touches files.
4. A resource's keys are scoped under the global prefix and its own, nested
   (``/global`` + ``/app`` = ``/global/app``; confd replaces instead).
5. A relative ``dest`` is relative to the current directory (confd's rule)
   and made absolute; two resources may not write the same ``dest``.
6. Sizes are bounded: ``MAX_RESOURCE_BYTES`` per resource file,
   ``MAX_TEMPLATE_BYTES`` per template.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from types import MappingProxyType

from confagent.errors import ConfigError
from confagent.fsutil import read_at_most
from confagent.render import Scope
from confagent.resource import ResourceSpec, parse_resource

__all__ = ["MAX_RESOURCE_BYTES", "MAX_TEMPLATE_BYTES", "LoadedResource", "ResourceSet", "load_resources"]

MAX_RESOURCE_BYTES = 256 * 1024
MAX_TEMPLATE_BYTES = 4 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class LoadedResource:
    """A template resource ready to render: its spec, its template's name and its view of the keys."""

    name: str
    """The file's path under ``conf.d`` (``nginx.toml``, ``web/site.toml``): the resource's name."""
    spec: ResourceSpec
    """As parsed, with ``file`` the absolute path of the TOML file and ``dest`` absolute."""
    scope: Scope
    """The nested prefix and the keys: what the template may read."""

    @property
    def template(self) -> str:
        """The template's name in ``ResourceSet.templates``."""
        return self.spec.src


@dataclass(frozen=True, slots=True)
class ResourceSet:
    """Everything ``conf.d`` and ``templates`` hold, and what could not be loaded."""

    confdir: Path
    resources: tuple[LoadedResource, ...]
    templates: Mapping[str, str]
    """Template name (path under ``templates/``) -> text, for ``render.make_environment``."""
    errors: tuple[ConfigError, ...]
    """One per resource or template that could not be loaded, in file order."""


def load_resources(confdir: Path, prefix: str = "/", *, strip_star: bool = False) -> ResourceSet:
    """Load every resource and template under ``confdir`` (rules in the module doc).

    Args:
        confdir: the directory holding ``conf.d`` and ``templates``.
        prefix: the agent's global prefix, under which each resource's prefix nests.
        strip_star: every ``/*`` in the resources' keys means nothing (``render.Scope``; confd's
            redis backend).

    Raises:
        ConfigError: ``confdir/conf.d`` is not a directory that can be listed.
    """
    confdir = confdir.absolute()
    conf_d = confdir / "conf.d"
    if not conf_d.is_dir():
        raise ConfigError("is not a directory (resources live in CONFDIR/conf.d)", file=str(conf_d))
    templates_dir = confdir / "templates"
    templates, errors = _read_templates(templates_dir)
    resources: list[LoadedResource] = []
    dests: dict[str, str] = {}
    for path in _visible_files(conf_d, "*.toml"):
        try:
            resource = _load_resource(path, conf_d, prefix, templates, templates_dir, strip_star)
            _claim_dest(resource, dests)
        except ConfigError as error:
            errors.append(error)
        else:
            resources.append(resource)
    return ResourceSet(confdir, tuple(resources), MappingProxyType(templates), tuple(errors))


def _load_resource(
    path: Path, conf_d: Path, prefix: str, templates: Mapping[str, str], templates_dir: Path, strip_star: bool
) -> LoadedResource:
    spec = parse_resource(_read_text(path, MAX_RESOURCE_BYTES), str(path))
    if spec.src not in templates:
        found = "it is unreadable" if (templates_dir / spec.src).exists() else "there is no such file"
        raise ConfigError(f"template {spec.src!r} cannot be used: {found} in {templates_dir}",
                          file=str(path), key="template.src")
    spec = replace(spec, dest=os.path.abspath(spec.dest))
    scope = Scope(prefix=prefix.rstrip("/") + spec.prefix, keys=spec.keys, strip_star=strip_star)
    return LoadedResource(path.relative_to(conf_d).as_posix(), spec, scope)


def _claim_dest(resource: LoadedResource, dests: dict[str, str]) -> None:
    owner = dests.setdefault(resource.spec.dest, resource.spec.file)
    if owner != resource.spec.file:
        raise ConfigError(f"{resource.spec.dest} is already written by {owner}",
                          file=resource.spec.file, key="template.dest")


def _read_templates(templates_dir: Path) -> tuple[dict[str, str], list[ConfigError]]:
    templates: dict[str, str] = {}
    errors: list[ConfigError] = []
    if not templates_dir.is_dir():
        return templates, errors
    for path in _visible_files(templates_dir, "*"):
        try:
            templates[path.relative_to(templates_dir).as_posix()] = _read_text(path, MAX_TEMPLATE_BYTES)
        except ConfigError as error:
            errors.append(error)
    return templates, errors


def _visible_files(directory: Path, pattern: str) -> Iterator[Path]:
    """Regular files matching ``pattern`` below ``directory``, none hidden, in lexical order."""
    found = (path for path in directory.rglob(pattern) if path.is_file())
    visible = (path for path in found
               if not any(part.startswith(".") for part in path.relative_to(directory).parts))
    return iter(sorted(visible, key=lambda path: path.relative_to(directory).as_posix()))


def _read_text(path: Path, max_bytes: int) -> str:
    try:
        with path.open("rb") as file:
            data = read_at_most(file.fileno(), max_bytes + 1)
    except OSError as error:
        raise ConfigError(f"cannot read: {error.strerror}", file=str(path)) from None
    if len(data) > max_bytes:
        raise ConfigError(f"is larger than {max_bytes} bytes", file=str(path))
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise ConfigError(f"is not UTF-8 text (byte {error.start})", file=str(path)) from None

