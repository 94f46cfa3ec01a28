"""Access rules: which data paths a host may read (pure).

Rules (metad's ``store/access.go``):
1. A rule is ``{"path": "/nodes", "mode": 1}``: mode 1 reads, mode 0 forbids.
2. Rules form a tree of path segments, in which ``*`` matches any one
   segment. A path is walked from the root, taking the exact child when there
   is one and the ``*`` child otherwise (an exact child wins even when the
   ``*`` branch goes deeper); the deepest rule met on the walk decides.
3. A path no rule decides is forbidden. A host with rules uses them; a
   host with only a mapping may read exactly its mapped data paths
   (``AccessTree.of_paths``); a host with neither reads nothing.
4. ``filter`` keeps the values of a tree that the rules let through and the
   directories that still hold one; a wholly readable subtree is returned as
   it is, without a copy.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from confagent.errors import MetadRequestError
from confagent.metad._paths import clean_path, path_segments
from confagent.metad._tree import Node

__all__ = ["FORBIDDEN", "READ", "AccessRule", "AccessTree", "parse_rules"]

FORBIDDEN = 0
READ = 1
WILDCARD = "*"


@dataclass(frozen=True, slots=True)
class AccessRule:
    """One rule: ``mode`` (``READ`` or ``FORBIDDEN``) for ``path`` and below."""

    path: str
    mode: int

    def __post_init__(self) -> None:
        assert self.mode in (FORBIDDEN, READ), self.mode
        assert self.path == clean_path(self.path), self.path

    def to_json(self) -> dict[str, Any]:
        return {"path": self.path, "mode": self.mode}


def parse_rules(host: str, value: Any) -> tuple[AccessRule, ...]:
    """A host's rules from their JSON (a list of ``{"path", "mode"}``).

    Raises:
        MetadRequestError: not such a list, a path that is not absolute, a mode not 0 or 1,
            or one path twice.
    """
    if not isinstance(value, list):
        raise MetadRequestError(f"the rules of {host} must be a JSON array of {{\"path\", \"mode\"}}")
    rules: list[AccessRule] = []
    for item in value:
        if not isinstance(item, dict) or set(item) - {"path", "mode"}:
            raise MetadRequestError(f"a rule of {host} must be an object with \"path\" and \"mode\", "
                                    f"not {item!r}")
        path, mode = item.get("path"), item.get("mode")
        if not isinstance(path, str) or not path.startswith("/"):
            raise MetadRequestError(f"a rule of {host} has path {path!r}: an absolute path is needed")
        if type(mode) is not int or mode not in (FORBIDDEN, READ):
            raise MetadRequestError(f"invalid access mode {mode!r} for {path} of {host}: "
                                    f"0 (forbidden) or 1 (read)")
        rules.append(AccessRule(clean_path(path), mode))
    paths = [rule.path for rule in rules]
    if len(set(paths)) != len(paths):
        raise MetadRequestError(f"the rules of {host} name a path twice")
    return tuple(rules)


class _RuleNode:
    """A node of the rule tree; built once by ``AccessTree`` and never changed after."""

    __slots__ = ("exact", "mode", "star")

    def __init__(self) -> None:
        self.exact: dict[str, _RuleNode] = {}
        self.star: _RuleNode | None = None
        self.mode: int | None = None

    def child(self, segment: str) -> _RuleNode | None:
        return self.exact.get(segment) or self.star


class AccessTree:
    """What one host may read (module rules)."""

    __slots__ = ("_root",)

    def __init__(self, rules: Iterable[AccessRule]) -> None:
        self._root = _RuleNode()
        for rule in rules:
            node = self._root
            for segment in path_segments(rule.path):
                if segment == WILDCARD:
                    node.star = node.star or _RuleNode()
                    node = node.star
                else:
                    node = node.exact.setdefault(segment, _RuleNode())
            node.mode = rule.mode

    @classmethod
    def of_paths(cls, paths: Iterable[str]) -> AccessTree:
        """Read exactly ``paths`` and what is under them (a host with a mapping and no rules)."""
        return cls(AccessRule(path, READ) for path in paths)

    def can_read(self, path: str) -> bool:
        """True when the value at data path ``path`` is readable."""
        _node, mode = self._walk(path)
        return mode == READ

    def filter(self, node: Node, path: str) -> Node | None:
        """What of ``node`` (the data at ``path``) is readable; None when nothing is (rule 4)."""
        rule, mode = self._walk(path)
        return _filtered(node, rule, mode)

    def _walk(self, path: str) -> tuple[_RuleNode | None, int | None]:
        """The rule node reached by ``path`` (None past the tree's leaves) and the deciding mode."""
        node: _RuleNode | None = self._root
        mode = self._root.mode
        for segment in path_segments(path):
            node = node.child(segment) if node is not None else None
            if node is None:
                break
            if node.mode is not None:
                mode = node.mode
        return node, mode


def _filtered(node: Node, rule: _RuleNode | None, mode: int | None) -> Node | None:
    if rule is None or (not rule.exact and rule.star is None):
        return node if mode == READ else None
    if isinstance(node, str):
        return node if mode == READ else None
    kept: dict[str, Node] = {}
    for name, child in node.items():
        child_rule = rule.child(name)
        child_mode = child_rule.mode if child_rule is not None and child_rule.mode is not None else mode
        visible = _filtered(child, child_rule, child_mode)
        if visible is not None:
            kept[name] = visible
    return kept or None
