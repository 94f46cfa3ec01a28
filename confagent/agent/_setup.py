"""What the agent runs with, loaded as one value: configuration, resources and the Jinja environment.

Rules:
1. ``ConfigSource`` remembers where the configuration comes from (the file
   and the command line), so that SIGHUP loads it again the same way.
2. ``load_setup`` raises ``ConfigError`` for a configuration the agent cannot
   run with: a bad file or flag, a missing ``conf.d``, or no resource at all
   (confd exits 0 with nothing configured; a silent success is a trap).
   A broken resource is not such an error: it is in ``resources.errors``,
   even when it is the only one: a set of broken resources loads with no
   resource to render (``Setup.idle``), so that the daemon can wait for
   ``conf.d`` to be fixed and a one-shot pass can fail after naming them.
3. ``keep_running`` merges a reloaded set with the running one: a resource
   whose file broke keeps running as it was, if its template is still there.
4. ``log_resource_errors`` writes one line per resource that did not load.
5. The environment keeps compiled templates on disk between runs
   (``attach_template_cache``): a later run loads them instead of compiling.
   ``compile_templates`` compiles (and caches) every resource's template
   ahead of the renders, one per turn of the event loop, so that it can run
   while the store answers a snapshot's request without holding up the
   request or the reading of its answer. A template that does not compile
   is compiled again by its render, which reports the error for its resource.
6. Jinja2 is imported when the environment is made (``with_environment``),
   not with this module: a one-shot pass loads its configuration
   (``load_configuration``), asks the store for its snapshot, and makes the
   environment (Jinja2's import, 40 ms of CPU at load 2) while the store
   answers.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from contextlib import suppress
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

from confagent.backends import STAR_STRIPPING_BACKENDS
from confagent.config import AgentConfig, LoadedResource, ResourceSet, load_config, load_resources
from confagent.errors import ConfigError, RenderError

if TYPE_CHECKING:
    from structlog.typing import FilteringBoundLogger

    from confagent.render import Host, RenderEnvironment

__all__ = ["ConfigSource", "Setup", "compile_templates", "keep_running", "load_configuration", "load_setup",
           "log_resource_errors", "with_environment"]


@dataclass(frozen=True, slots=True)
class ConfigSource:
    """Where the configuration comes from: ``load_config``'s arguments, kept for reloads."""

    path: Path | None
    overrides: Mapping[str, object] = field(default_factory=dict)
    missing_ok: bool = False
    """A missing ``path`` is no error (the default file's case, as confd)."""

    def load(self) -> AgentConfig:
        return load_config(self.path, self.overrides, missing_ok=self.missing_ok)


@dataclass(frozen=True, slots=True)
class Setup:
    """A loaded configuration: the settings, the resources and the environment to render them in."""

    config: AgentConfig
    resources: ResourceSet
    env: RenderEnvironment

    @property
    def by_name(self) -> dict[str, LoadedResource]:
        return {resource.name: resource for resource in self.resources.resources}

    @property
    def idle(self) -> bool:
        """No resource to render: every one in ``conf.d`` is broken (rule 2)."""
        return not self.resources.resources

    @property
    def prefixes(self) -> tuple[str, ...]:
        """Every key prefix a resource may read: the cache watches these (``ResourceSet.prefixes``)."""
        return self.resources.prefixes


def load_setup(source: ConfigSource, host: Host) -> Setup:
    """Load the configuration and every resource (rules 1-2), and make their environment.

    Raises:
        ConfigError: the configuration is unusable, or there is no resource to run.
    """
    return with_environment(*load_configuration(source), host)


def load_configuration(source: ConfigSource) -> tuple[AgentConfig, ResourceSet]:
    """The configuration and every resource, without their environment (rules 1-2, 6).

    Raises:
        ConfigError: the configuration is unusable, or there is no resource to run.
    """
    config = source.load()
    resources = load_resources(config.run.confdir, config.run.prefix,
                               strip_star=config.backend.backend in STAR_STRIPPING_BACKENDS)
    if not resources.resources and not resources.errors:
        raise ConfigError("holds no template resource (*.toml); there is nothing to do",
                          file=str(resources.confdir / "conf.d"))
    return config, resources


def with_environment(config: AgentConfig, resources: ResourceSet, host: Host) -> Setup:
    """The setup of ``config`` and ``resources``: their Jinja environment made, its cache on disk
    attached (rules 5-6)."""
    from confagent.agent._template_cache import attach_template_cache  # noqa: PLC0415 - Jinja2 (rule 6)
    from confagent.render import make_environment  # noqa: PLC0415 - Jinja2 (rule 6)

    env = make_environment(resources.templates, host)
    attach_template_cache(env)
    return Setup(config, resources, env)


async def compile_templates(setup: Setup) -> None:
    """Compile every resource's template into the environment's cache, yielding between two (rule 5)."""
    from confagent.render import check_template  # noqa: PLC0415 - loaded with the environment (rule 6)

    for template in dict.fromkeys(resource.template for resource in setup.resources.resources):
        with suppress(RenderError):  # its render reports it (rule 5)
            check_template(setup.env, template)
        await asyncio.sleep(0)


def keep_running(new: Setup, running: Setup) -> Setup:
    """``new``, with the running version of each resource whose file no longer loads (rule 3)."""
    broken = {error.file for error in new.resources.errors}
    loaded = {resource.spec.file for resource in new.resources.resources}
    kept = tuple(resource for resource in running.resources.resources
                 if resource.spec.file in broken and resource.spec.file not in loaded
                 and resource.template in new.resources.templates)
    if not kept:
        return new
    resources = replace(new.resources, resources=tuple(sorted(
        new.resources.resources + kept, key=lambda resource: resource.name)))
    return replace(new, resources=resources)


def log_resource_errors(log: FilteringBoundLogger, resources: ResourceSet) -> None:
    """One line per resource or template that could not be loaded (rule 4)."""
    for error in resources.errors:
        log.error("resource not loaded", file=error.file, key=error.key, cause=error.message)
