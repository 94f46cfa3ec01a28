"""Distinct prefixes and prefix membership against a brute-force model; the backoff's bounds."""

from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

import confagent.backends
from confagent.backends import Backoff, BackoffPolicy, PrefixSet, _embedded, _file, distinct_prefixes
from confagent.errors import ConfigError

keys = st.text(alphabet="/ab\u00e9\U0001f600", max_size=5)


def test_distinct_prefixes_drop_covered_ones() -> None:
    assert distinct_prefixes(["/a/b", "/a", "/c", "/ab", "/c"]) == ("/a", "/c")
    assert distinct_prefixes(["/x", ""]) == ("",)


@given(st.lists(keys, min_size=1, max_size=6), st.lists(keys, max_size=20))
def test_prefix_set_agrees_with_the_model(prefixes: list[str], probes: list[str]) -> None:
    prefix_set = PrefixSet(prefixes)
    for prefix in prefix_set.prefixes:  # none covers another
        assert not any(p != prefix and prefix.startswith(p) for p in prefix_set.prefixes)
    low, high = prefix_set.covering_range()
    for key in [*probes, *prefixes]:
        expected = any(key.startswith(p) for p in prefixes)
        assert prefix_set.covers(key) == expected
        encoded = key.encode()
        if expected and encoded:  # the empty key is not a store key
            assert low <= encoded and (high == b"\0" or encoded < high)


def test_backend_classes_load_on_first_use() -> None:
    backends = confagent.backends
    assert (backends.EmbeddedBackend, backends.FileBackend) == (_embedded.EmbeddedBackend, _file.FileBackend)
    assert {"EmbeddedBackend", "EtcdBackend", "FileBackend"} <= set(dir(confagent.backends))
    with pytest.raises(AttributeError, match="has no attribute 'ConsulBackend'"):
        _ = confagent.backends.ConsulBackend  # type: ignore[attr-defined]


def test_backoff_grows_to_its_cap_with_jitter_and_resets() -> None:
    backoff = Backoff(BackoffPolicy(initial_s=0.1, max_s=1.0, multiplier=2.0, jitter=0.5),
                      random.Random(3))
    delays = [backoff.next_delay_s() for _ in range(8)]
    caps = [0.1, 0.2, 0.4, 0.8, 1.0, 1.0, 1.0, 1.0]
    assert all(cap / 2 <= delay <= cap for delay, cap in zip(delays, caps, strict=True))
    backoff.reset()
    assert backoff.next_delay_s(first_free=True) == 0.0
    assert 0.05 <= backoff.next_delay_s(first_free=True) <= 0.1


@pytest.mark.parametrize("policy", [
    {"initial_s": 0}, {"initial_s": 2, "max_s": 1}, {"multiplier": 0.5}, {"jitter": 1.5},
])
def test_bad_backoff_policies_are_refused(policy: dict[str, float]) -> None:
    with pytest.raises(ConfigError):
        BackoffPolicy(**policy)
