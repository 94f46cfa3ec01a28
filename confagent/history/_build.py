"""From what a pass did for one resource to its ``HistoryRecord``, pure: the result, keys, diff, commands.

Rules:
1. ``Applied`` is what the builder reads of the agent's outcome of one
   resource (``confagent.agent.Outcome`` is one): the history does not import
   the agent, which is above it.
2. ``ResourceMemory`` keeps, per resource, what its last render read (the
   keys under its ``Reads`` with their values, as ``Inputs``) so that the
   next record lists the keys that changed since. A render that failed keeps
   the reads of the render before it, and its record lists what changed
   under those. A resource reading a large prefix costs a pointer comparison
   per key, in C, not a dictionary of its inputs: 10,000 keys in 0.7 ms
   instead of 2.8 (bench/README.md, issue 15).
3. The commands an outcome ran come in order: ``check_cmd`` first when the
   resource has one, then ``reload_cmd``, then the reload after a rollback.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Protocol

from confagent.errors import CheckFailed, ConfagentError, ReloadDeferred, ReloadFailed, RenderError
from confagent.history._record import (
    APPLIED,
    CHECK_FAILED,
    FAILED,
    RELOAD_FAILED,
    TEMPLATE_ERROR,
    WOULD_APPLY,
    CommandRecord,
    HistoryRecord,
    Inputs,
    cap_diff,
    changed_keys,
    tail,
)
from confagent.render import KeyView, Reads
from confagent.resource import Plan, Replace, plan_diff
from confagent.settings import HistoryConfig

__all__ = ["MAX_SECRET_NAMES", "Applied", "CommandRun", "ResourceMemory", "records_of"]

MAX_SECRET_NAMES = 1_000_000
"""Key names whose secrecy ``ResourceMemory`` remembers; past this it starts again (a bound)."""


class CommandRun(Protocol):
    """A command's result as ``confagent.apply.CommandResult`` gives it."""

    @property
    def command(self) -> str: ...
    @property
    def exit_code(self) -> int | None: ...
    @property
    def output(self) -> str: ...
    @property
    def timed_out(self) -> bool: ...
    @property
    def duration_s(self) -> float: ...


class Applied(Protocol):
    """One resource's outcome of a pass (rule 1)."""

    @property
    def resource(self) -> str: ...
    @property
    def dest(self) -> str: ...
    @property
    def revision(self) -> int: ...
    @property
    def changed(self) -> bool: ...
    @property
    def duration_ms(self) -> float: ...
    @property
    def error(self) -> ConfagentError | None: ...
    @property
    def reads(self) -> Reads | None: ...
    @property
    def plan(self) -> Plan | None: ...
    @property
    def noop(self) -> bool: ...
    @property
    def commands(self) -> Sequence[CommandRun]: ...


class ResourceMemory:
    """What each resource's last render read (rule 2); owned by one thread."""

    def __init__(self) -> None:
        self._reads: dict[str, Reads] = {}
        self._inputs: dict[str, Inputs] = {}
        self._named: set[str] = set()
        """The key names whose secrecy was asked (``MAX_SECRET_NAMES`` kept) ..."""
        self._secret: set[str] = set()
        """... and those that are secret."""
        self._span_secrets: dict[tuple[str, str], tuple[Sequence[str], frozenset[str]]] = {}
        """Per resource and prefix read: the keys under it last time and which of them are secret."""

    def secrets(self, resource: str, inputs: Inputs, config: HistoryConfig) -> tuple[str, ...]:
        """The values of the secret keys among ``inputs``, sorted. A prefix whose keys are those of the
        resource's last render keeps its secret names: a comparison of pointers, in C; other keys are looked
        up in two set operations, in C, once their names are known."""
        if len(self._named) > MAX_SECRET_NAMES:
            self._named.clear()
            self._secret.clear()
            self._span_secrets.clear()
        secret = self._secret_names(inputs.singles.keys(), config)
        for prefix, (keys, _) in inputs.spans.items():
            known = self._span_secrets.get((resource, prefix))
            names = known[1] if known is not None and known[0] == keys else frozenset(
                self._secret_names(keys, config))
            self._span_secrets[resource, prefix] = keys, names  # this render's list: the last one is let go
            secret |= names
        if not secret:
            return ()
        return tuple(sorted({value for key in secret if (value := inputs.get(key)) is not None}))

    def _secret_names(self, names: Iterable[str], config: HistoryConfig) -> set[str]:
        if not self._named.issuperset(names):
            new = set(names) - self._named
            self._named |= new
            self._secret.update(key for key in new if config.is_secret(key))
        return self._secret.intersection(names)

    def remember(self, applied: Applied, view: KeyView) -> tuple[Inputs, Inputs | None]:
        """The inputs of this render and of the previous one (None: none known); remembers these."""
        reads = applied.reads or self._reads.get(applied.resource)
        current = _NO_INPUTS if reads is None else Inputs.read(reads, view)
        previous = self._inputs.get(applied.resource)
        if applied.reads is not None:
            self._reads[applied.resource] = applied.reads
            self._inputs[applied.resource] = current
        return current, previous


_NO_INPUTS = Inputs({}, {})


def records_of(outcomes: Sequence[Applied], view: KeyView, memory: ResourceMemory, config: HistoryConfig,
               *, host: str, time_s: float) -> list[HistoryRecord]:
    """The records of one pass's outcomes, all rendered from ``view`` (module rules)."""
    records = []
    for applied in outcomes:
        current, previous = memory.remember(applied, view)
        if isinstance(applied.error, ReloadDeferred) or (applied.error is None and not applied.changed):
            continue
        diff, truncated = cap_diff(plan_diff(applied.plan) if isinstance(applied.plan, Replace) else "",
                                   config.max_diff_bytes)
        secrets = memory.secrets(applied.resource, current, config)
        records.append(HistoryRecord(
            time_s=time_s, host=host, resource=applied.resource, dest=applied.dest, revision=applied.revision,
            result=_result(applied), error=None if applied.error is None else str(applied.error),
            changed_keys=changed_keys(previous, current), diff=diff, diff_truncated=truncated,
            commands=_commands(applied), duration_ms=applied.duration_ms,
            rolled_back=isinstance(applied.error, ReloadFailed) and applied.error.rolled_back,
            secrets=secrets))
    return records


def _result(applied: Applied) -> str:
    error = applied.error
    if error is None:
        return WOULD_APPLY if applied.noop else APPLIED
    if isinstance(error, RenderError):
        return TEMPLATE_ERROR
    if isinstance(error, CheckFailed):
        return CHECK_FAILED
    if isinstance(error, ReloadFailed):
        return RELOAD_FAILED
    return FAILED


def _commands(applied: Applied) -> tuple[CommandRecord, ...]:
    has_check = isinstance(applied.plan, Replace) and bool(applied.plan.spec.check_cmd)
    roles = (["check"] if has_check else []) + ["reload", "reload after rollback"]
    return tuple(CommandRecord(role, run.command, run.exit_code, tail(run.output), run.duration_s * 1000,
                               run.timed_out)
                 for role, run in zip(roles, applied.commands, strict=False))
