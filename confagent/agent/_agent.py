"""``Agent``: the composition root — configuration in, backend opened, resources rendered, files applied.

Three ways to run, all from one ``ConfigSource``:

* ``run()``: the daemon (``Daemon``): watch the store, or poll it every
  ``interval`` without ``watch``; until SIGTERM/SIGINT, after which it
  ends the batch in flight and stops within ``STOP_TIMEOUT_S``.
* ``run_once()``: ``--onetime``: one snapshot, every resource rendered and
  applied (or diffed with ``noop``) once; ``RunReport.ok`` only if every
  resource loaded and succeeded. With every resource broken it opens no
  backend and fails after their errors, in one more line (``NO_RESOURCE``).
  The snapshot's request goes first; then, while the store answers, the
  Jinja environment is made (Jinja2 imported: ``_setup`` rule 6) and the
  templates compiled on the event loop. Beside a running agent (its
  embedded store's data directory held) it reads through that store
  (``open_one_shot_backend``).
* ``check()``: ``render --check``: ``run_once`` in noop mode, for CI.

With ``[agent] listen`` (``--listen``) the daemon serves ``/health``,
``/metrics`` and ``/v1/status`` (``AgentListener``) from the moment its
configuration loaded, before the backend opens; it tells systemd how it is
doing when started with ``NOTIFY_SOCKET`` (``SystemdNotifier``).

Backends are opened here and always closed again. Noop diffs go to ``out``
(stdout); log lines go through structlog (configured by the CLI; its
logger may be given, as the CLI's one-shot gives one that imports structlog
at its first line, ``confagent.cli._logs`` rule 4). The
daemon's modules (the listener's uvicorn, hot reload's watchfiles) are
imported by ``run`` only: ``--onetime`` does not pay for them, nor for the
status board and the systemd notifier (``status``, ``notifier``: made at
their first use, which a one-shot pass never makes).
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property, partial
from typing import TYPE_CHECKING, TextIO

from confagent.agent._discovery import discover_nodes
from confagent.agent._host import SystemHost
from confagent.agent._one_shot_backend import open_one_shot_backend
from confagent.agent._setup import (
    ConfigSource,
    Setup,
    compile_templates,
    load_configuration,
    load_setup,
    log_resource_errors,
    with_environment,
)
from confagent.agent._sync import Outcome, SyncOptions, log_outcome, sync_resources
from confagent.backends import Backend, open_backend
from confagent.config import AgentConfig, ResourceSet
from confagent.errors import ConfigError
from confagent.render import Host, KeyView
from confagent.tasks import TASK_STOP_S

if TYPE_CHECKING:
    from structlog.typing import FilteringBoundLogger

    from confagent.agent._daemon import Daemon
    from confagent.agent._listener import AgentListener, StatusApp
    from confagent.agent._notify import SystemdNotifier
    from confagent.agent._status import StatusBoard

__all__ = ["STOP_TIMEOUT_S", "Agent", "RunReport"]

STOP_TIMEOUT_S = 10.0
"""After the batch in flight, the longest a stop (SIGTERM, SIGINT) takes: the daemon's tasks get
``TASK_STOP_S``, the backend (the embedded store: requests in flight, peers, its log) and the
listener the rest; whatever is still closing then is abandoned, with an error logged."""


@dataclass(frozen=True, slots=True)
class RunReport:
    """What a one-shot pass did: every outcome, and the resources that did not even load."""

    outcomes: tuple[Outcome, ...]
    load_errors: tuple[ConfigError, ...]

    @property
    def ok(self) -> bool:
        """Every resource loaded, rendered and applied (or would apply, in noop mode)."""
        return not self.load_errors and all(outcome.ok for outcome in self.outcomes)

    @property
    def changed(self) -> bool:
        """A destination was replaced (noop: would be)."""
        return any(outcome.changed for outcome in self.outcomes)


class Agent:
    """The agent, built from where its configuration comes from.

    Args:
        source: the configuration file and command-line overrides.
        host: what templates may ask the outside world (tests pass a ``StaticHost``).
        out: where noop diffs are printed.
        clock: monotonic seconds, for debouncing and durations.
        log: where its lines go; None: structlog's logger ``confagent.agent``.
    """

    def __init__(self, source: ConfigSource, *, host: Host | None = None, out: TextIO | None = None,
                 clock: Callable[[], float] = time.monotonic,
                 log: FilteringBoundLogger | None = None) -> None:
        self.source = source
        self.host: Host = host or SystemHost()
        self.out = out or sys.stdout
        self.clock = clock
        self.log: FilteringBoundLogger = log if log is not None else _default_logger()
        self._daemon: Daemon | None = None

    @cached_property
    def status(self) -> StatusBoard:
        """What the daemon reports about itself (``run``); made at first use (module docstring)."""
        from confagent.agent._status import StatusBoard  # noqa: PLC0415 - see the module docstring

        return StatusBoard()

    @cached_property
    def notifier(self) -> SystemdNotifier:
        """How the daemon tells systemd how it is doing (``NOTIFY_SOCKET``); made at first use."""
        from confagent.agent._notify import SystemdNotifier  # noqa: PLC0415 - see the module docstring

        return SystemdNotifier.from_environ()

    def load(self) -> Setup:
        """The configuration and resources, loaded now; broken resources logged.

        Raises:
            ConfigError: the configuration is unusable or holds no resource.
        """
        setup = load_setup(self.source, self.host)
        log_resource_errors(self.log, setup.resources)
        return setup

    async def run(self) -> None:
        """The daemon, until SIGTERM or SIGINT (``Daemon``); then closed within ``STOP_TIMEOUT_S``.

        Raises:
            ConfigError: the configuration is unusable or holds no resource.
            MemberStopped: the embedded store's member was removed from its cluster, or
                failed (at start, or while serving: the files stay as they are).
            ConfagentError: the backend cannot be opened (the embedded store's data directory).
        """
        from confagent.agent._listener import AgentListener, StatusApp  # noqa: PLC0415 - see the module docstring

        setup = self.load()
        app = StatusApp(self.status)
        app.page.history_config = setup.config.history
        app.page.show_secrets = setup.config.listener.page_show_secrets
        address = setup.config.listener.address
        listener = None if address is None else AgentListener(app, *address)
        backend: Backend | None = None
        try:
            if listener is not None:
                await listener.start()
                self.log.info("agent listener started", listen=f"{listener.host}:{listener.port}")
            backend = await open_backend(await discover_nodes(setup.config, self.host))
            await self._serve(setup, app, backend)
        finally:
            await self._close(backend, listener)

    async def _serve(self, setup: Setup, app: StatusApp, backend: Backend) -> None:
        from confagent.agent._daemon import Daemon  # noqa: PLC0415 - see the module docstring

        app.probe = lambda: _revision_of(backend, setup if self._daemon is None else self._daemon.setup)
        if backend.name == "embedded":  # the store's modules are loaded only then
            from confagent.agent._page import membership_of  # noqa: PLC0415 - see the module docstring
            from confagent.backends import EmbeddedBackend  # noqa: PLC0415

            assert isinstance(backend, EmbeddedBackend)
            app.page.membership = partial(membership_of, backend.node)
        self.log.info("agent started", backend=backend.name, resources=len(setup.resources.resources),
                      prefixes=list(setup.prefixes), watch=setup.config.run.watch and backend.watches,
                      interval_s=setup.config.run.interval_s)
        self._daemon = Daemon(setup, backend, self.source, self.host, out=self.out, log=self.log,
                              clock=self.clock, status=self.status, notifier=self.notifier)
        try:
            await self._daemon.serve()
        finally:
            self._daemon = None

    async def _close(self, backend: Backend | None, listener: AgentListener | None) -> None:
        """Close the backend, then the listener, within what ``STOP_TIMEOUT_S`` leaves them; what
        is still closing then is abandoned (logged). "agent stopped" once the backend was open."""
        bound = asyncio.timeout(STOP_TIMEOUT_S - TASK_STOP_S)
        try:
            async with bound:
                if backend is not None:
                    await backend.close()
                if listener is not None:
                    await listener.stop()
        except TimeoutError:
            if not bound.expired():
                raise
            self.log.error("stop cut short: still closing after the bound", bound_s=STOP_TIMEOUT_S)
        if backend is not None:
            self.log.info("agent stopped")

    def stop(self) -> None:
        """Make ``run`` return after the batch in flight, as SIGTERM does (no effect when not serving)."""
        if self._daemon is not None:
            self._daemon.stop()

    async def run_once(self, *, noop: bool | None = None) -> RunReport:
        """Render and apply every resource once, from one snapshot (``--onetime``).

        Args:
            noop: show diffs and change nothing; None: as configured.

        Raises:
            ConfigError: the configuration is unusable or holds no resource.
            ConfagentError: the backend cannot be opened or read.
        """
        config, resources = load_configuration(self.source)
        log_resource_errors(self.log, resources)
        if not resources.resources:
            from confagent.agent._status import NO_RESOURCE  # noqa: PLC0415 - see the module docstring

            self.log.error(NO_RESOURCE, broken=len(resources.errors))
            return RunReport((), resources.errors)
        run = config.run
        options = SyncOptions(noop=run.noop if noop is None else noop, sync_only=run.sync_only,
                              keep_stage_file=run.keep_stage_file)
        locks = any(resource.spec.reload_lock for resource in resources.resources)
        backend = await open_one_shot_backend(await discover_nodes(config, self.host), self.log,
                                              snapshot_only=not locks)
        slots = None
        try:
            if locks:
                from confagent.agent._reload_slots import StoreReloadSlots  # noqa: PLC0415 - httpx when used

                slots = StoreReloadSlots.for_backend(backend, config, self.log)
            snapshot, setup = await asyncio.gather(backend.snapshot(resources.prefixes),
                                                   self._compiled(config, resources))
            view = KeyView(snapshot.entries, snapshot.revision)
            outcomes = await sync_resources(resources.resources, setup.env, view, options, self.clock,
                                            reload_slots=slots)
        finally:
            try:
                if slots is not None:
                    await slots.close()
            finally:
                await backend.close()
        for outcome in outcomes:
            log_outcome(self.log, outcome)
            if outcome.diff:  # an empty write is a system call of its own
                self.out.write(outcome.diff)
        self.out.flush()
        history = config.history
        if history.enabled and history.one_shot:
            from confagent.history import record_now  # noqa: PLC0415 - sqlite3 only when asked for

            await asyncio.to_thread(record_now, history, config.history_path, outcomes, view, log=self.log)
        return RunReport(tuple(outcomes), resources.errors)

    async def _compiled(self, config: AgentConfig, resources: ResourceSet) -> Setup:
        """The setup of a one-shot pass, its templates compiled, made while the store answers the
        snapshot's request: ``gather`` started that first (``_setup`` rule 6)."""
        setup = with_environment(config, resources, self.host)
        await compile_templates(setup)
        return setup

    async def check(self) -> RunReport:
        """``run_once`` in noop mode: the diffs of every file that would change (``render --check``)."""
        return await self.run_once(noop=True)


def _default_logger() -> FilteringBoundLogger:
    import structlog  # noqa: PLC0415 - see the module docstring

    logger: FilteringBoundLogger = structlog.get_logger("confagent.agent")
    return logger


async def _revision_of(backend: Backend, setup: Setup) -> int:
    """The backend's revision, read now under the running resources' prefixes (the listener's probe
    while the backend is in trouble).

    Raises:
        ConfigError: no resource to render, so nothing to read (the health says why).
        ConfagentError: the backend did not answer.
    """
    if setup.idle:
        from confagent.agent._status import NO_RESOURCE  # noqa: PLC0415 - the daemon's, loaded already

        raise ConfigError(NO_RESOURCE)
    return (await backend.snapshot(setup.prefixes)).revision
