"""``lazy_exports``: names load on first use, are kept, and unknown names fail as attributes do."""

from __future__ import annotations

import pytest

import confagent.kv
from confagent.fsutil import stage_file
from confagent.lazy import lazy_exports


def test_a_name_loads_from_its_module_and_is_kept() -> None:
    namespace: dict[str, object] = {}
    load, names = lazy_exports("confagent", namespace, {"stage_file": "fsutil"})
    assert load("stage_file") is stage_file
    assert namespace["stage_file"] is stage_file
    assert names() == ["stage_file"]


def test_an_unknown_name_is_an_attribute_error_naming_the_package() -> None:
    load, _ = lazy_exports("confagent.kv", {}, {})
    with pytest.raises(AttributeError, match=r"module 'confagent\.kv' has no attribute 'Nope'"):
        load("Nope")
    with pytest.raises(AttributeError):
        _ = confagent.kv.Nope  # type: ignore[attr-defined]


def test_dir_lists_lazy_names_before_they_load() -> None:
    assert {"KvStore", "WatchHub", "encode_request", "RangeRequest"} <= set(dir(confagent.kv))
