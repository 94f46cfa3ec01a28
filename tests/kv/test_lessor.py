"""Lessor: lease deadlines on a clock passed in as plain floats."""

from __future__ import annotations

import pytest

from confagent.errors import LeaseNotFound
from confagent.kv import Lessor


def test_remaining_counts_down_in_whole_seconds() -> None:
    lessor = Lessor()
    lessor.grant(1, 30, now=100.0)
    assert lessor.remaining(1, 100.0) == 30
    assert lessor.remaining(1, 100.2) == 29  # etcd truncates: a fresh 30 s lease says 29
    assert lessor.remaining(1, 129.5) == 0
    assert lessor.remaining(2, 100.0) == -1


def test_renew_restarts_the_ttl() -> None:
    lessor = Lessor()
    lessor.grant(1, 10, now=0.0)
    assert lessor.renew(1, now=8.0) == 10
    assert lessor.expired(now=12.0, limit=10) == []
    assert lessor.expired(now=18.0, limit=10) == [1]


def test_an_unknown_or_expired_lease_cannot_be_renewed() -> None:
    lessor = Lessor()
    with pytest.raises(LeaseNotFound):
        lessor.renew(1, now=0.0)
    lessor.grant(1, 10, now=0.0)
    with pytest.raises(LeaseNotFound):
        lessor.renew(1, now=10.0)


def test_expired_leases_come_oldest_first_and_at_most_limit() -> None:
    lessor = Lessor()
    for lease_id, ttl in [(1, 30), (2, 10), (3, 20), (4, 100)]:
        lessor.grant(lease_id, ttl, now=0.0)
    assert lessor.next_deadline() == 10.0
    assert lessor.expired(now=50.0, limit=2) == [2, 3]
    assert lessor.expired(now=50.0, limit=2) == [1]
    assert lessor.expired(now=50.0, limit=2) == []


def test_an_unrevoked_expired_lease_is_reported_again_after_the_retry_interval() -> None:
    lessor = Lessor(retry_interval_s=3.0)
    lessor.grant(1, 5, now=0.0)
    assert lessor.expired(now=5.0, limit=10) == [1]
    assert lessor.next_deadline() == 8.0
    assert lessor.expired(now=7.9, limit=10) == []
    assert lessor.expired(now=8.0, limit=10) == [1]
    lessor.revoke(1)
    assert lessor.expired(now=100.0, limit=10) == []
    assert lessor.next_deadline() is None
    lessor.revoke(1)  # twice is harmless


def test_promote_gives_every_lease_a_full_ttl_from_now() -> None:
    lessor = Lessor()
    lessor.grant(9, 5, now=0.0)
    lessor.promote(now=1000.0, ttls={1: 60, 2: 5})
    assert lessor.remaining(9, 1000.0) == -1
    assert (lessor.remaining(1, 1000.0), lessor.remaining(2, 1000.0)) == (60, 5)
    assert lessor.next_deadline() == 1005.0
    lessor.demote()
    assert lessor.next_deadline() is None and lessor.expired(now=1e9, limit=10) == []


def test_keepalives_do_not_grow_memory() -> None:
    lessor = Lessor()
    for lease_id in range(10):
        lessor.grant(lease_id, 60, now=0.0)
    for tick in range(10_000):
        lessor.renew(tick % 10, now=tick / 100)
    assert len(lessor._heap) <= 2 * 10 + 64  # stale entries are dropped, not hoarded
    assert lessor.next_deadline() == pytest.approx(99.9 + 60)  # lease 0, renewed at tick 9990
