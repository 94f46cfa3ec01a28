"""Free loopback ports for tests: spans free when drawn, apart from the last ones drawn, per xdist worker."""

from __future__ import annotations

import socket

import pytest

from confagent.testing import _procs, free_port


def test_a_span_is_free_and_apart_from_the_spans_drawn_before_it() -> None:
    spans = [range(start, start + 64) for start in (free_port(span=64) for _ in range(8))]
    for i, span in enumerate(spans):
        assert all(span.stop <= other.start or other.stop <= span.start for other in spans[:i])
        for port in span:
            with socket.socket() as sock:
                sock.bind(("127.0.0.1", port))


def test_a_port_taken_is_never_drawn(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_procs, "_worker_slice", lambda span: (20_000, 20_010 - span))
    with socket.socket() as held:
        held.bind(("127.0.0.1", 20_004))
        starts = set()
        for _ in range(30):
            _procs._HANDED_OUT.clear()
            starts.add(free_port(span=4))
    assert starts and not any(20_004 in range(start, start + 4) for start in starts), starts


@pytest.mark.parametrize("worker", range(4))
def test_each_xdist_worker_draws_from_its_own_slice(worker: int, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYTEST_XDIST_WORKER", f"gw{worker}")
    monkeypatch.setenv("PYTEST_XDIST_WORKER_COUNT", "4")
    low, high = _procs._worker_slice(64)
    share = (_procs._ephemeral_range()[0] - 10_000) // 4
    assert (low, high) == (10_000 + worker * share, 10_000 + (worker + 1) * share - 64)
