"""Bringing a set of resources in line with one view: render, plan, then apply (or show) them together.

Rules:
1. Every resource of a pass renders from the same ``KeyView``: one revision.
2. A resource that fails (render, plan or apply) gets an ``Outcome`` with its
   error; it never stops the others.
3. The plans of a pass are applied in one ``ApplyBatch``, so resources
   sharing a ``reload_cmd`` reload once; each plan joins it as soon as it is
   made, and the stage files are written once every resource rendered (on
   threads: while the renders ran they fought them for the GIL,
   ``confagent.apply._staging`` rule 1); a destination with a command or a
   backup is renamed after every check, one without as soon as its file is
   durable (``confagent.apply``, phase 1).
4. In noop mode nothing is written and no command runs: each planned
   replace becomes a unified diff in its ``Outcome``.
5. ``log_outcome`` writes the one line an outcome deserves: ``applied``
   (resource, dest, revision, changed, duration_ms), in noop mode ``would
   apply`` (the same fields; nothing was written), ``reload deferred`` (a
   warning: no slot of its ``reload_lock`` was had, the file is as it was and
   the resource is tried again), or ``resource failed`` with the cause and
   the failing command's output; both name a stage file kept by
   ``keep_stage_file`` (``kept_stage``).
6. Resources with a ``reload_lock`` take their slot from ``reload_slots``
   (``confagent.apply`` rule 5); without it they are deferred.
7. With ``missing_only`` (a pass from the agent's cache, ``_daemon`` rule 11)
   only destinations that do not exist are written: a file that exists and
   differs may be newer than the cache (written after its last save), and a
   file going back in time is worse than one waiting for the store. Such a
   file is ``held`` (logged as such) until a pass from the store.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, NamedTuple

from confagent import render as rendering  # its environment, Jinja2's, on first use (_setup rule 6)
from confagent.apply import ApplyBatch, ApplyResult, ReloadSlots, plan_file
from confagent.config import LoadedResource
from confagent.errors import ApplyError, CommandFailed, ConfagentError, ReloadDeferred, RenderError
from confagent.render import KeyView, Reads
from confagent.resource import Plan, Replace, plan_diff

if TYPE_CHECKING:
    from structlog.typing import FilteringBoundLogger

    from confagent.apply import CommandResult
    from confagent.render import RenderEnvironment

__all__ = ["Outcome", "SyncOptions", "log_outcome", "sync_resources"]

Clock = Callable[[], float]


@dataclass(frozen=True, slots=True)
class SyncOptions:
    """How a pass treats destinations: ``noop`` shows diffs only, ``sync_only`` runs no command,
    ``keep_stage_file`` leaves a stage file that was not renamed (confd's ``-keep-stage-file``)."""

    noop: bool = False
    sync_only: bool = False
    keep_stage_file: bool = False
    missing_only: bool = False
    """Write only destinations that do not exist (rule 7)."""


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one pass did for one resource."""

    resource: str
    dest: str
    revision: int
    changed: bool
    """The destination was replaced (noop: would be)."""
    duration_ms: float
    error: ConfagentError | None = None
    reads: Reads | None = None
    """What the render read; None when it did not render."""
    diff: str = ""
    """Noop mode: the unified diff of the planned replace."""
    noop: bool = False
    """Noop mode: nothing was written and no command ran."""
    commands: tuple[CommandResult, ...] = ()
    kept_stage: str | None = None
    """``keep_stage_file``: the stage file left beside ``dest`` (it was not renamed)."""
    plan: Plan | None = None
    """What the pass planned for ``dest`` (the render history's diff); None when it did not render."""
    held: bool = False
    """``missing_only``: ``dest`` exists and differs, and was left as it is (rule 7)."""

    @property
    def ok(self) -> bool:
        return self.error is None

    def __repr__(self) -> str:
        """A short one, without the plan, reads and commands: a one-shot's outcomes are in the result of
        its task, which asyncio's runner formats twice as it ends (Python 3.11's ``signal.getsignal``
        formats the SIGINT handler naming the task): 1,000 outcomes with their plans' bytes took
        60-200 ms."""
        return (f"Outcome(resource={self.resource!r}, dest={self.dest!r}, revision={self.revision}, "
                f"changed={self.changed}, error={self.error!r})")


class _Prepared(NamedTuple):
    """One resource rendered and planned (a named tuple: a frozen slotted dataclass costs a one-shot 0.5-1 ms
    to create at start-up, a named tuple a tenth of it)."""

    resource: LoadedResource
    plan: Plan | None
    reads: Reads | None
    error: ConfagentError | None
    duration_ms: float


async def sync_resources(
    resources: Sequence[LoadedResource], env: RenderEnvironment, view: KeyView,
    options: SyncOptions, clock: Clock = time.monotonic, reload_slots: ReloadSlots | None = None,
) -> list[Outcome]:
    """Render every resource from ``view`` and apply (or diff) the results; one outcome each, in order
    (rule 6 for ``reload_slots``)."""
    if options.noop:
        return [_noop_outcome(_prepare(resource, env, view, clock), view.revision) for resource in resources]
    prepared, held, applying = list[_Prepared](), set[int](), list[_Prepared]()
    async with ApplyBatch(sync_only=options.sync_only, reload_slots=reload_slots,
                          keep_stage_files=options.keep_stage_file) as batch:
        for resource in resources:
            item = _prepare(resource, env, view, clock)
            prepared.append(item)
            if options.missing_only and _present(item.plan):
                held.add(id(item))
            elif item.plan is not None:
                applying.append(item)
                batch.add(item.plan)
        started = clock()
        results = dict(zip(map(id, applying), await batch.finish(), strict=True))
    apply_ms = (clock() - started) * 1000
    return [_applied_outcome(item, results.get(id(item)), view.revision, apply_ms, held=id(item) in held)
            for item in prepared]


def _present(plan: Plan | None) -> bool:
    """A replace of a destination that exists (rule 7)."""
    return isinstance(plan, Replace) and plan.previous is not None


def _prepare(resource: LoadedResource, env: RenderEnvironment, view: KeyView, clock: Clock) -> _Prepared:
    started = clock()
    try:
        rendered = rendering.render(env, resource.template, view, resource.scope)
    except RenderError as error:
        return _Prepared(resource, None, None, error, (clock() - started) * 1000)
    try:
        planned = plan_file(resource.spec, rendered.text.encode())
    except ApplyError as failure:
        return _Prepared(resource, None, rendered.reads, failure, (clock() - started) * 1000)
    return _Prepared(resource, planned, rendered.reads, None, (clock() - started) * 1000)


def _noop_outcome(item: _Prepared, revision: int) -> Outcome:
    resource = item.resource
    diff = plan_diff(item.plan) if isinstance(item.plan, Replace) else ""
    return Outcome(resource.name, resource.spec.dest, revision, changed=isinstance(item.plan, Replace),
                   duration_ms=item.duration_ms, error=item.error, reads=item.reads, diff=diff, noop=True,
                   plan=item.plan)


def _applied_outcome(item: _Prepared, result: ApplyResult | None, revision: int, apply_ms: float, *,
                     held: bool = False) -> Outcome:
    resource = item.resource
    if result is None:
        return Outcome(resource.name, resource.spec.dest, revision, changed=False,
                       duration_ms=item.duration_ms, error=item.error, reads=item.reads, held=held)
    return Outcome(resource.name, resource.spec.dest, revision, changed=result.replaced,
                   duration_ms=item.duration_ms + (apply_ms if isinstance(result.plan, Replace) else 0.0),
                   error=result.error, reads=item.reads, commands=result.commands,
                   kept_stage=None if result.kept_stage is None else str(result.kept_stage), plan=result.plan)


def log_outcome(log: FilteringBoundLogger, outcome: Outcome) -> None:
    """The one log line of an outcome (rule 5), plus a debug line per command that ran fine."""
    fields = {"resource": outcome.resource, "dest": outcome.dest, "revision": outcome.revision}
    for command in outcome.commands:
        if command.ok:
            log.debug("command ran", **fields, command=command.command, output=command.output,
                      duration_ms=round(command.duration_s * 1000, 3))
    if outcome.held:
        log.warning("held: the file differs from the agent's cache, which may be older", **fields)
        return
    if outcome.error is None:
        level = log.info if outcome.changed else log.debug
        level("would apply" if outcome.noop else "applied", **fields, changed=outcome.changed,
              duration_ms=round(outcome.duration_ms, 3))
        return
    extra: dict[str, object] = {} if outcome.kept_stage is None else {"kept_stage": outcome.kept_stage}
    if isinstance(outcome.error, ReloadDeferred):
        log.warning("reload deferred", **fields, cause=str(outcome.error), **extra)
        return
    if isinstance(outcome.error, CommandFailed):
        extra |= {"command": outcome.error.command, "output": outcome.error.output}
    log.error("resource failed", **fields, cause=str(outcome.error), **extra)
