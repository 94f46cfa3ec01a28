"""``Scope``'s roots: a ``/*`` in a key is literal, as confd's etcd backend reads it, unless ``strip_star``
(confd's redis backend strips every ``/*``: confd.md §5)."""

from __future__ import annotations

import pytest

from confagent.render import Scope


@pytest.mark.parametrize(("prefix", "keys", "strip_star", "roots"), [
    ("/app", ("/web/*",), False, ("/app/web/*",)),
    ("/app", ("/web/*",), True, ("/app/web",)),
    ("/app", ("/*",), True, ("/app",)),
    ("/", ("/app/*/x/*", "/db"), True, ("/app/x", "/db")),
    ("/app", ("/web/*", "/web/a"), True, ("/app/web",)),
])
def test_a_star_is_literal_unless_stripped(prefix: str, keys: tuple[str, ...], strip_star: bool,
                                           roots: tuple[str, ...]) -> None:
    scope = Scope(prefix, keys, strip_star=strip_star)
    assert scope.roots == roots
    assert scope.keys == keys  # as the resource wrote them


@pytest.mark.parametrize("prefix", ["", "/", "myapp", "/myapp/"])
def test_relative_keys_are_each_keys_relative_name(prefix: str) -> None:
    scope = Scope(prefix=prefix, keys=("/",))
    store_keys = [scope.prefix_path.rstrip("/") + key for key in ("/", "/a", "/a/b", "/ab")]
    assert list(scope.relative_keys(store_keys)) == [scope.relative(key) for key in store_keys]
