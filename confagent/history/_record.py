"""The render history's values, pure: a record of one apply, the keys that changed, masking and bounds.

Rules:
1. A ``HistoryRecord`` is what one pass did to one resource that it
   changed or failed to change: applied, would apply (noop), check failed,
   reload failed (rolled back or not), template error, failed. A pass that
   found the file in sync, and a reload deferred for want of a slot (tried
   again every few seconds), make none.
2. ``changed_keys`` are the keys the render read whose values differ from
   what the resource's previous render read (``KeyChange.value`` None: the
   key is gone); a resource's first render since the agent started has no
   previous one, and every key it read is listed.
3. The record keeps the values as they are; masking is done when it is
   shown: ``secrets`` are the values of the keys read whose names are secret
   (``HistoryConfig.is_secret``), and ``as_json(show_secrets=False)``
   replaces every occurrence of each, in the diff, the commands' output and
   the changed keys, by ``MASK``.
4. A diff longer than ``max_diff_bytes`` is cut at the last whole line
   before it, and ``diff_truncated`` says so; a command's output keeps its
   last ``OUTPUT_TAIL_BYTES``.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from itertools import compress
from operator import ne
from types import MappingProxyType
from typing import Any, NamedTuple

from confagent.render import KeyView, Reads

__all__ = ["MASK", "OUTPUT_TAIL_BYTES", "RESULTS", "CommandRecord", "HistoryRecord", "KeyChange",
           "cap_diff", "changed_keys", "inputs_of", "mask", "tail"]

MASK = "****"
OUTPUT_TAIL_BYTES = 4096
"""How much of a command's output a record keeps (its end: errors come last)."""

APPLIED = "applied"
WOULD_APPLY = "would apply"
CHECK_FAILED = "check failed"
RELOAD_FAILED = "reload failed"
TEMPLATE_ERROR = "template error"
FAILED = "failed"
RESULTS = (APPLIED, WOULD_APPLY, CHECK_FAILED, RELOAD_FAILED, TEMPLATE_ERROR, FAILED)


@dataclass(frozen=True, slots=True)
class KeyChange:
    key: str
    value: str | None
    """Its value at the record's revision; None when it was deleted."""


@dataclass(frozen=True, slots=True)
class CommandRecord:
    """One command run for the record's destination."""

    role: str
    """``check``, ``reload`` or ``reload after rollback``."""
    command: str
    exit_code: int | None
    """None: killed for its timeout."""
    output: str
    """The tail of its output (rule 4)."""
    duration_ms: float
    timed_out: bool = False

    def as_json(self, hide: Callable[[str], str]) -> dict[str, object]:
        """Shown: ``hide`` masks what must not be (``HistoryRecord.as_json``)."""
        return {"role": self.role, "command": hide(self.command), "exit_code": self.exit_code,
                "output": hide(self.output), "duration_ms": round(self.duration_ms, 3),
                "timed_out": self.timed_out}


@dataclass(frozen=True, slots=True)
class HistoryRecord:
    """What one pass did for one resource (rule 1); ``id`` is 0 until it is stored."""

    time_s: float
    """Unix time when the pass ended."""
    host: str
    resource: str
    dest: str
    revision: int
    """The store revision the pass rendered from."""
    result: str
    error: str | None = None
    changed_keys: tuple[KeyChange, ...] = ()
    diff: str = ""
    diff_truncated: bool = False
    commands: tuple[CommandRecord, ...] = ()
    duration_ms: float = 0.0
    rolled_back: bool = False
    secrets: tuple[str, ...] = field(default=(), repr=False)
    """The values to mask when shown (rule 3)."""
    id: int = 0

    def __post_init__(self) -> None:
        assert self.result in RESULTS, self.result

    @property
    def ok(self) -> bool:
        return self.error is None

    def summary_json(self, *, show_secrets: bool = False) -> dict[str, object]:
        """Every field but the diff and the commands' output."""
        hide = _identity if show_secrets or not self.secrets else partial(mask, secrets=self.secrets)
        return self._summary(hide)

    def as_json(self, *, show_secrets: bool = False) -> dict[str, object]:
        """The whole record, values of secret keys masked unless ``show_secrets`` (rule 3)."""
        hide = _identity if show_secrets or not self.secrets else partial(mask, secrets=self.secrets)
        document = self._summary(hide)
        document["diff"] = hide(self.diff)
        document["diff_truncated"] = self.diff_truncated
        document["commands"] = [command.as_json(hide) for command in self.commands]
        return document

    def stored_json(self) -> dict[str, object]:
        """Everything, secrets included, for the database (``from_stored`` reads it back)."""
        document = self._summary(_identity)
        document["diff"] = self.diff
        document["diff_truncated"] = self.diff_truncated
        document["commands"] = [_command_fields(command) for command in self.commands]
        document["secrets"] = list(self.secrets)
        return document

    def _summary(self, hide: Callable[[str], str]) -> dict[str, object]:
        return {"id": self.id, "time": self.time_s, "host": self.host, "resource": self.resource,
                "dest": self.dest, "revision": self.revision, "result": self.result,
                "error": None if self.error is None else hide(self.error),
                "changed_keys": [{"key": change.key, "value": None if change.value is None
                                  else hide(change.value)} for change in self.changed_keys],
                "duration_ms": round(self.duration_ms, 3), "rolled_back": self.rolled_back,
                "exit_codes": [command.exit_code for command in self.commands]}

    @staticmethod
    def from_stored(record_id: int, document: Mapping[str, Any]) -> HistoryRecord:
        """The record ``stored_json`` wrote, with its database id."""
        return HistoryRecord(
            time_s=float(document["time"]), host=str(document["host"]), resource=str(document["resource"]),
            dest=str(document["dest"]), revision=int(document["revision"]), result=str(document["result"]),
            error=document["error"], diff=str(document["diff"]),
            diff_truncated=bool(document["diff_truncated"]),
            changed_keys=tuple(KeyChange(item["key"], item["value"]) for item in document["changed_keys"]),
            commands=tuple(CommandRecord(**item) for item in document["commands"]),
            duration_ms=float(document["duration_ms"]), rolled_back=bool(document["rolled_back"]),
            secrets=tuple(document["secrets"]), id=record_id)


def _command_fields(command: CommandRecord) -> dict[str, object]:
    return {"role": command.role, "command": command.command, "exit_code": command.exit_code,
            "output": command.output, "duration_ms": command.duration_ms, "timed_out": command.timed_out}


_NO_SPANS: Mapping[str, tuple[Sequence[str], Sequence[str]]] = MappingProxyType({})


class Inputs(NamedTuple):
    """What one render read (rule 2), kept to be compared with the next render's.

    ``singles`` are the keys read one by one with their values; ``spans`` give, for each prefix read, the keys
    under it in order and their values, as two lists taken from the ``KeyView``. A view shares its unchanged
    keys and values with the view it was made from (``KeyView.with_changes``), so comparing two renders'
    lists is a pointer comparison per key, in C: a resource reading a prefix of 10,000 keys is compared in
    well under a millisecond, where two dictionaries of its inputs took several.
    """

    singles: Mapping[str, str]
    spans: Mapping[str, tuple[Sequence[str], Sequence[str]]]

    @staticmethod
    def read(reads: Reads, view: KeyView) -> Inputs:
        """The keys ``reads`` covers that ``view`` holds, with their values."""
        singles = {key: view[key] for key in reads.keys if key in view}
        if not reads.prefixes:
            return Inputs(singles, _NO_SPANS)
        keys = view.sorted_keys
        spans = {}
        for prefix in reads.prefixes:
            start = bisect_left(keys, prefix)
            end = bisect_left(keys, _after(prefix), start) if prefix else len(keys)
            under = keys[start:end]
            spans[prefix] = (under, list(view.values_of(under)))  # in C: no Python call per key
        return Inputs(singles, spans)

    def get(self, key: str) -> str | None:
        """The value read for ``key``; None when the render did not read it (or it was absent)."""
        value = self.singles.get(key)
        if value is not None or not self.spans:
            return value
        for prefix, (keys, values) in self.spans.items():
            if key.startswith(prefix):
                index = bisect_left(keys, key)
                if index < len(keys) and keys[index] == key:
                    return values[index]
        return None

    def as_dict(self) -> dict[str, str]:
        inputs = dict(self.singles)
        for keys, values in self.spans.values():
            inputs.update(zip(keys, values, strict=True))
        return inputs


def inputs_of(reads: Reads, view: KeyView) -> dict[str, str]:
    """The keys ``reads`` covers that ``view`` holds, with their values."""
    return Inputs.read(reads, view).as_dict()


def _after(prefix: str) -> str:
    """The smallest text above every text starting with ``prefix`` (its last character moved up one)."""
    return prefix[:-1] + chr(ord(prefix[-1]) + 1)


_NOTHING: tuple[Sequence[str], Sequence[str]] = ((), ())
"""A prefix's keys and values in a render that did not read it."""


def changed_keys(previous: Inputs | None, current: Inputs) -> tuple[KeyChange, ...]:
    """The keys whose values differ between two renders' inputs, sorted (rule 2).

    The candidates are found group by group (``_span_changes``); a key may be a candidate only because it
    moved from one group to another, so with prefixes read each is kept only if its value differs.
    """
    if previous is None:
        return tuple(KeyChange(key, value) for key, value in sorted(current.as_dict().items()))
    candidates = {key for key, _ in current.singles.items() ^ previous.singles.items()}  # in C
    if current.spans or previous.spans:
        for prefix in current.spans.keys() | previous.spans.keys():
            before, now = previous.spans.get(prefix, _NOTHING), current.spans.get(prefix, _NOTHING)
            candidates.update(_span_changes(before, now))
        return tuple(KeyChange(key, value) for key in sorted(candidates)
                     if (value := current.get(key)) != previous.get(key))
    return tuple(KeyChange(key, current.singles.get(key)) for key in sorted(candidates))


def _span_changes(previous: tuple[Sequence[str], Sequence[str]],
                  current: tuple[Sequence[str], Sequence[str]]) -> Iterable[str]:
    """The keys of one prefix whose values may differ: with the same keys in both (the common case), those
    whose values are not the same objects and not equal, found in C; otherwise every key of either side
    whose value differs."""
    (old_keys, old_values), (keys, values) = previous, current
    if old_keys == keys:  # a pointer comparison per key when the views share them
        return compress(keys, map(ne, old_values, values))
    differ = set(zip(old_keys, old_values, strict=True)) ^ set(zip(keys, values, strict=True))
    return (key for key, _ in differ)


def _identity(text: str) -> str:
    return text


def mask(text: str, secrets: Iterable[str]) -> str:
    """``text`` with every occurrence of each secret replaced by ``MASK``, the longest first."""
    for secret in sorted((s for s in set(secrets) if s), key=len, reverse=True):
        text = text.replace(secret, MASK)
    return text


def cap_diff(diff: str, max_bytes: int) -> tuple[str, bool]:
    """``diff`` cut at the last whole line within ``max_bytes``; whether it was cut (rule 4)."""
    encoded = diff.encode()
    if len(encoded) <= max_bytes:
        return diff, False
    head = encoded[:max_bytes].decode(errors="ignore")
    return head[:head.rfind("\n") + 1], True


def tail(output: str, max_bytes: int = OUTPUT_TAIL_BYTES) -> str:
    """The end of a command's output, at most ``max_bytes`` of it (rule 4)."""
    encoded = output.encode()
    return output if len(encoded) <= max_bytes else encoded[-max_bytes:].decode(errors="ignore")
