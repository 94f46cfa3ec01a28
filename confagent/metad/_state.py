"""``MetadState``: the metadata of one group at one store revision, and every view of it a host gets (pure).

Rules:
1. A state wraps one ``KeyView`` (the data, mapping and rule keys at one
   revision) and never changes; ``updated(view, changed)`` gives the next
   one, re-reading only the hosts whose mapping or rule keys changed.
2. ``X-Metad-Version`` is the state's revision: the store's, so every metad
   over the same store agrees on it and it survives restarts.
3. A host's access: its rules if it has any (a stored rule value that is
   not valid JSON rules reads nothing), else its mapped paths, else nothing
   (``_access.py``).
4. ``root_view(ip, path)``: the data at ``path`` the host may read; ``/``
   also holds the host's ``self``. ``self_view(ip, path)``: the host's
   mapping with each data path replaced by its readable data; a mapped path
   whose data is gone shows as an empty directory. None means 404.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import orjson

from confagent.errors import MetadRequestError
from confagent.metad._access import AccessRule, AccessTree, parse_rules
from confagent.metad._mapping import follow_mapping, mapped_paths
from confagent.metad._paths import Layout
from confagent.metad._tree import Node, subtree
from confagent.render import KeyView

__all__ = ["MetadState"]


class MetadState:
    """The metadata at one revision (module rules). Build the first with ``MetadState(layout)``."""

    __slots__ = ("_access", "_mappings", "_rules", "layout", "view")

    def __init__(self, layout: Layout, view: KeyView | None = None) -> None:
        self.layout = layout
        self.view = view if view is not None else KeyView()
        self._mappings: dict[str, Node] = {}
        self._rules: dict[str, tuple[AccessRule, ...]] = {}
        self._access: dict[str, AccessTree] = {}
        self._reread(self._hosts_in(self.view))

    @property
    def revision(self) -> int:
        return self.view.revision

    def updated(self, view: KeyView, changed: Iterable[str]) -> MetadState:
        """The state at ``view``, whose keys ``changed`` since this one's (rule 1)."""
        state = MetadState.__new__(MetadState)
        state.layout, state.view = self.layout, view
        state._mappings, state._rules = dict(self._mappings), dict(self._rules)
        state._access = dict(self._access)
        hosts = {host for key in changed if (host := self.layout.host_of(key)) is not None}
        state._reread({ip for _kind, ip in hosts})
        return state

    # -- hosts ---------------------------------------------------------------------------
    def _hosts_in(self, view: KeyView) -> set[str]:
        return {host[1] for key in view.sorted_keys if (host := self.layout.host_of(key)) is not None}

    def _reread(self, ips: Iterable[str]) -> None:
        for ip in ips:
            self._access.pop(ip, None)
            mapping = subtree(self.view, None, self.layout.mapping_key(ip) + "/")
            if isinstance(mapping, dict):
                self._mappings[ip] = mapping
            else:
                self._mappings.pop(ip, None)
            rules = _stored_rules(ip, self.view.get(self.layout.rule_key(ip)))
            if rules is None:
                self._rules.pop(ip, None)
            else:
                self._rules[ip] = rules

    def mapping(self, ip: str) -> Node | None:
        """The mapping of host ``ip``; None when it has none."""
        return self._mappings.get(ip)

    def access(self, ip: str) -> AccessTree | None:
        """What host ``ip`` may read (rule 3); None when it may read nothing at all."""
        tree = self._access.get(ip)
        if tree is None:
            tree = self._access_of(ip)
            if tree is not None:
                self._access[ip] = tree  # a memo of a value derived from immutable data
        return tree

    def _access_of(self, ip: str) -> AccessTree | None:
        if ip in self._rules:
            return AccessTree(self._rules[ip])
        mapping = self._mappings.get(ip)
        return AccessTree.of_paths(mapped_paths(mapping)) if mapping is not None else None

    # -- views ---------------------------------------------------------------------------
    def data(self, path: str) -> Node | None:
        """The raw data at ``path`` (no access rules); None when there is none."""
        layout = self.layout
        if path == "/":
            hidden = None if layout.prefix else (lambda key: layout.data_path(key) is None)
            return subtree(self.view, None, layout.data_root, hidden) or {}
        if layout.reserved(path):
            return None
        leaf = layout.data_key(path)
        return subtree(self.view, leaf, leaf + "/")

    def root_view(self, ip: str, path: str) -> Node | None:
        """The data at ``path`` host ``ip`` may read, plus ``self`` at ``/`` (rule 4)."""
        access = self.access(ip)
        if access is None:
            return None
        raw = self.data(path)
        visible = access.filter(raw, path) if raw is not None else None
        if path != "/":
            return visible
        root: dict[str, Node] = dict(visible) if isinstance(visible, dict) else {}
        own = self.self_view(ip, "/")
        if own is not None:
            root["self"] = own
        return root

    def self_view(self, ip: str, path: str) -> Node | None:
        """The host's own metadata at ``path`` below ``/self`` (rule 4)."""
        mapping = self._mappings.get(ip)
        access = self.access(ip)
        if mapping is None or access is None:
            return None
        target = follow_mapping(mapping, path)
        if target is None:
            return None
        if target.data_path is not None:
            node = self._readable(access, target.data_path)
            if node is None and path_is_mapped_leaf(mapping, path):
                return {}
            return node
        assert target.mapping is not None
        return self._expanded(access, target.mapping)

    def _expanded(self, access: AccessTree, mapping: dict[str, Node]) -> dict[str, Node]:
        out: dict[str, Node] = {}
        for name, child in mapping.items():
            node = self._readable(access, child) if isinstance(child, str) else self._expanded(access, child)
            if node is not None:
                out[name] = node
        return out

    def _readable(self, access: AccessTree, path: str) -> Node | None:
        raw = self.data(path)
        return access.filter(raw, path) if raw is not None else None

    def scope(self, ip: str, kind: str, path: str) -> tuple[str, ...]:
        """The data paths whose subtrees make up view ``kind`` (``root``/``self``) of ``path``."""
        if kind == "root":
            return (path,)
        mapping = self._mappings.get(ip)
        target = follow_mapping(mapping, path) if mapping is not None else None
        if target is None:
            return ()
        if target.data_path is not None:
            return (target.data_path,)
        return tuple(mapped_paths(target.mapping or {}))

    # -- management reads ----------------------------------------------------------------
    def mappings(self) -> Mapping[str, Node]:
        """Every host's mapping (do not modify)."""
        return self._mappings

    def rules(self, hosts: Iterable[str] | None = None) -> dict[str, list[dict[str, Any]]]:
        """``{host: [{"path", "mode"}, ...]}`` of ``hosts`` (all with rules when None)."""
        wanted = self._rules.keys() if hosts is None else [h for h in hosts if h in self._rules]
        return {host: [rule.to_json() for rule in self._rules[host]] for host in sorted(wanted)}


def path_is_mapped_leaf(mapping: Node, path: str) -> bool:
    """True when ``path`` ends exactly at a mapped data path (not inside its data)."""
    node = mapping
    for segment in (s for s in path.split("/") if s):
        if not isinstance(node, dict) or segment not in node:
            return False
        node = node[segment]
    return isinstance(node, str)


def _stored_rules(ip: str, text: str | None) -> tuple[AccessRule, ...] | None:
    """The rules stored for ``ip``; ``()`` (read nothing) when the stored value is not valid rules."""
    if text is None:
        return None
    try:
        return parse_rules(ip, orjson.loads(text))
    except (orjson.JSONDecodeError, MetadRequestError):
        return ()
