"""``plan``: what applying a render to a destination takes — nothing, or a replace.

Rules:
1. A destination is in sync when it exists and its bytes, owner, group and
   mode all equal the target's; then the plan is ``NoChange`` and no command
   runs. Anything else is a ``Replace`` listing every ``Difference`` (confd
   logs the same four: md5, uid, gid, mode).
2. The target's owner, group and mode come from the resource where it gives
   them; otherwise an existing file keeps its own and a new file gets the
   agent's ids and ``DEFAULT_MODE`` (``target_attributes``).
3. Pure: the caller reads the destination (``FileState``) and resolves owner
   and group names to ids; the apply package carries the plan out.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from confagent.resource._spec import DEFAULT_MODE, ResourceSpec
from confagent.resource._values import MAX_MODE, format_mode

__all__ = [
    "Difference",
    "FileAttributes",
    "FileState",
    "NoChange",
    "Plan",
    "Replace",
    "plan",
    "target_attributes",
]


@dataclass(frozen=True, slots=True)
class FileAttributes:
    """A file's owner, group and permission bits (``st_mode & 0o7777``)."""

    uid: int
    gid: int
    mode: int

    def __post_init__(self) -> None:
        assert self.uid >= 0 and self.gid >= 0, f"ids are never negative: {self}"
        assert 0 <= self.mode <= MAX_MODE, f"mode holds permission bits only: {self.mode:o}"


@dataclass(frozen=True, slots=True)
class FileState:
    """What a destination holds now: its bytes and attributes (None for "absent" where used)."""

    content: bytes
    attributes: FileAttributes


@dataclass(frozen=True, slots=True)
class Difference:
    """One way a destination differs from its target; ``str()`` reads ``mode 0600 -> 0644``."""

    attribute: str
    """``file`` (absent), ``content``, ``uid``, ``gid`` or ``mode``."""
    current: str
    wanted: str

    def __str__(self) -> str:
        return f"{self.attribute} {self.current} -> {self.wanted}"


@dataclass(frozen=True, slots=True)
class NoChange:
    """The destination is in sync: write nothing, run nothing."""

    spec: ResourceSpec


@dataclass(frozen=True, slots=True)
class Replace:
    """Replace the destination, in this order (each step only if the one before succeeded):

    1. stage: write ``content`` to a new file in the destination's directory,
       fsync it, give it ``target``'s owner, group and mode;
    2. check: run ``check_cmd`` on the stage file; on failure delete it, dest untouched;
    3. rename the stage file over the destination, fsync the directory;
    4. reload: run ``reload_cmd``; on failure, if ``spec.rollback``, put ``previous``
       back the same way (or remove the file when there was none) and reload again.
    """

    spec: ResourceSpec
    content: bytes
    target: FileAttributes
    previous: FileState | None
    """The destination as it was when planned: what a rollback restores."""
    differences: tuple[Difference, ...]

    @property
    def dest(self) -> str:
        return self.spec.dest


Plan = NoChange | Replace


def target_attributes(
    owner_ids: tuple[int | None, int | None], mode: int | None, current: FileState | None,
    agent_ids: tuple[int, int],
) -> FileAttributes:
    """The owner, group and mode a destination should have (rule 2).

    Args:
        owner_ids: the resource's uid and gid (names already resolved), None where not given.
        mode: the resource's mode, or None.
        current: the destination now, or None when absent.
        agent_ids: the agent's effective uid and gid, for a new file.
    """
    fallback = current.attributes if current is not None else FileAttributes(*agent_ids, DEFAULT_MODE)
    uid, gid = owner_ids
    return FileAttributes(
        uid=fallback.uid if uid is None else uid,
        gid=fallback.gid if gid is None else gid,
        mode=fallback.mode if mode is None else mode,
    )


def plan(spec: ResourceSpec, rendered: bytes, current: FileState | None, target: FileAttributes) -> Plan:
    """``NoChange`` when ``current`` holds ``rendered`` with ``target``'s attributes, else ``Replace``."""
    differences = _differences(rendered, current, target)
    if not differences:
        return NoChange(spec)
    return Replace(spec=spec, content=rendered, target=target, previous=current, differences=differences)


def _differences(
    rendered: bytes, current: FileState | None, target: FileAttributes
) -> tuple[Difference, ...]:
    if current is None:
        return (Difference("file", "absent", f"{len(rendered)} bytes"),)
    found: list[Difference] = []
    if current.content != rendered:
        found.append(Difference("content", _fingerprint(current.content), _fingerprint(rendered)))
    now = current.attributes
    if now.uid != target.uid:
        found.append(Difference("uid", str(now.uid), str(target.uid)))
    if now.gid != target.gid:
        found.append(Difference("gid", str(now.gid), str(target.gid)))
    if now.mode != target.mode:
        found.append(Difference("mode", format_mode(now.mode), format_mode(target.mode)))
    return tuple(found)


def _fingerprint(content: bytes) -> str:
    return f"{len(content)} bytes sha256:{hashlib.sha256(content).hexdigest()[:12]}"
