"""A naive model of confd's memkv store, for property tests of the store functions.

It does what confd does, the slow way: fetch every key of the resource (the
prefix joined to each resource key, ``k == root`` or ``k`` under ``root/``),
store it relative to the prefix, then answer ``ls``/``lsdir`` by memkv's
path-term comparison (with the root fixed so that ``/`` splits into one
term) and ``gets`` by testing every key against a backtracking glob.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from confagent.render._paths import base, clean, dir_of


def memkv(entries: Mapping[str, str], prefix: str, keys: Sequence[str]) -> dict[str, str]:
    """The relative store confd builds for a resource (clean keys only)."""
    prefix_path = clean("/" + prefix)
    roots = [clean(f"{prefix_path}/{key}") if key else prefix_path for key in keys]
    fetched = {
        key: value
        for key, value in entries.items()
        for root in roots
        if key == root or key.startswith(root.rstrip("/") + "/")
    }
    if prefix_path == "/":
        return fetched
    under = prefix_path + "/"
    inside = {key: value for key, value in fetched.items() if key == prefix_path or key.startswith(under)}
    return {"/" + key[len(under) :]: value for key, value in inside.items()}


def _terms(path: str) -> list[str]:
    cleaned = clean(path)
    return [""] if cleaned == "/" else cleaned.split("/")


def _strip(key: str, path: str) -> str:
    return key.removeprefix(path).removeprefix("/")


def ls(store: Mapping[str, str], path: str) -> list[str]:
    names = set()
    prefix = _terms(path)
    for key in store:
        if key == path and path != "/":
            names.add(base(key))
            continue
        if _terms(dir_of(key))[: len(prefix)] == prefix:
            names.add(_strip(key, path).split("/")[0])
    return sorted(names - {""})  # the prefix key itself has no name below "/"


def lsdir(store: Mapping[str, str], path: str) -> list[str]:
    names = set()
    prefix = _terms(path)
    for key in store:
        items = _terms(dir_of(key))
        if key.startswith(path) and items[: len(prefix)] == prefix and len(items) > len(prefix):
            names.add(items[len(prefix)])
    return sorted(names)


def gets(store: Mapping[str, str], pattern: str) -> list[tuple[str, str]]:
    return sorted((key, value) for key, value in store.items() if naive_match(pattern, key))


def naive_match(pattern: str, name: str) -> bool:
    """Backtracking glob over (already valid) patterns made of literals, ``*``, ``?`` and ``[..]``."""
    if not pattern:
        return not name
    head = pattern[0]
    if head == "*":
        return any(naive_match(pattern[1:], name[i:]) for i in range(len(name) + 1) if "/" not in name[:i])
    if not name:
        return False
    if head == "?":
        return name[0] != "/" and naive_match(pattern[1:], name[1:])
    if head == "[":
        close = pattern.index("]", 2)
        body = pattern[1:close]
        negated = body.startswith("^")
        chars = body[1:] if negated else body
        return (name[0] in chars) != negated and naive_match(pattern[close + 1 :], name[1:])
    return head == name[0] and naive_match(pattern[1:], name[1:])
