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
