"""Registration: the renewal schedule as a pure core (a model, seeded), and the library call against
a real etcd and a confagent store (register, renew, lost and registered again, revoke on exit).
"""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from contextlib import AbstractAsyncContextManager
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from confagent.backoff import BackoffPolicy
from confagent.client import (
    REGISTRATION_RETRY,
    EtcdClient,
    Registration,
    RegistrationEvent,
    RegistrationEventKind,
    RenewalAction,
    RenewalSchedule,
    RenewalStep,
)
from confagent.errors import ClientError, ConfigError, LeaseTTLTooLarge
from confagent.kv import MAX_LEASE_TTL
from confagent.testing import Processes, free_port, until_async
from tests.client import support
from tests.client.support import run
from tests.thoroughness import examples

Kind = RegistrationEventKind
REGISTER, RENEW = RenewalAction.REGISTER, RenewalAction.RENEW
NO_JITTER = BackoffPolicy(initial_s=0.2, max_s=5.0, jitter=0.0)


# -- the schedule -------------------------------------------------------------------------


def _schedule(retry: BackoffPolicy = NO_JITTER, seed: int = 0) -> RenewalSchedule:
    return RenewalSchedule(retry, random.Random(seed))


def test_registers_at_once_then_renews_every_third_of_the_ttl() -> None:
    schedule = _schedule()
    assert schedule.start() == RenewalStep(REGISTER, 0.0)
    assert schedule.registered(6, sent_at_s=10.0) == RenewalStep(RENEW, 2.0)
    assert schedule.deadline_s == 16.0
    assert schedule.renewed(6, sent_at_s=12.5) == RenewalStep(RENEW, 2.0)
    assert schedule.deadline_s == 18.5


def test_a_renewal_answered_with_ttl_0_loses_the_key_and_registers_again_at_once() -> None:
    schedule = _schedule()
    schedule.registered(6, sent_at_s=0.0)
    assert schedule.renewed(0, sent_at_s=2.0) == RenewalStep(REGISTER, 0.0, lost=True)
    assert not schedule.alive


def test_failures_before_the_deadline_retry_the_renewal_in_time() -> None:
    schedule = _schedule(BackoffPolicy(initial_s=1.0, max_s=30.0, jitter=0.0))
    schedule.registered(6, sent_at_s=0.0)  # deadline 6
    assert schedule.failed(2.0) == RenewalStep(RENEW, 1.0)
    assert schedule.failed(3.0) == RenewalStep(RENEW, 2.0)  # backoff 2, within ttl/3
    assert schedule.failed(5.0) == RenewalStep(RENEW, 1.0)  # backoff 4: capped at the deadline
    assert schedule.alive


def test_a_failure_past_the_deadline_loses_the_key_once_then_backs_off() -> None:
    schedule = _schedule()
    schedule.registered(3, sent_at_s=0.0)
    assert schedule.failed(3.0) == RenewalStep(REGISTER, 0.2, lost=True)
    assert schedule.failed(3.5) == RenewalStep(REGISTER, 0.4)  # no second "lost"
    assert schedule.registered(3, sent_at_s=4.0) == RenewalStep(RENEW, 1.0)
    assert schedule.failed(4.5) == RenewalStep(RENEW, 0.2)  # a success reset the backoff


def test_failed_registrations_back_off_exponentially_up_to_the_cap() -> None:
    schedule = _schedule()
    delays = [schedule.failed(float(i)).delay_s for i in range(8)]
    assert delays == pytest.approx([0.2, 0.4, 0.8, 1.6, 3.2, 5.0, 5.0, 5.0])


def test_jitter_shortens_each_delay_by_at_most_its_fraction() -> None:
    schedule = _schedule(BackoffPolicy(initial_s=1.0, max_s=1.0, jitter=0.5), seed=7)
    delays = [schedule.failed(0.0).delay_s for _ in range(50)]
    assert all(0.5 <= d <= 1.0 for d in delays) and len(set(delays)) > 1


class _LeaseModel:
    """What the store knows of the lease: alive until ``deadline_s`` (None: no live lease)."""

    def __init__(self) -> None:
        self.deadline_s: float | None = None

    def answer(self, action: RenewalAction, outcome: str, ttl_s: int, sent_s: float, now_s: float,
               schedule: RenewalSchedule) -> tuple[RenewalStep, bool]:
        """Feed ``outcome`` to the schedule; the step and whether the model says the key was lost."""
        if outcome == "fail":
            lost = self.deadline_s is not None and now_s >= self.deadline_s
            if lost:
                self.deadline_s = None
            return schedule.failed(now_s), lost
        if action is REGISTER:
            self.deadline_s = sent_s + ttl_s
            return schedule.registered(ttl_s, sent_at_s=sent_s), False
        if outcome == "expired":
            self.deadline_s = None
            return schedule.renewed(0, sent_at_s=sent_s), True
        self.deadline_s = sent_s + ttl_s
        return schedule.renewed(ttl_s, sent_at_s=sent_s), False


_OUTCOMES = st.lists(st.tuples(st.sampled_from(["ok", "fail", "expired"]), st.integers(1, 30),
                               st.floats(0.0, 12.0)), max_size=80)


@settings(max_examples=examples(300), deadline=None)
@given(seed=st.integers(0, 2**32 - 1), outcomes=_OUTCOMES)
def test_the_schedule_matches_the_lease_model(seed: int, outcomes: list[tuple[str, int, float]]) -> None:
    """Against a model of the lease: the action, ``lost`` exactly on the transitions, retries in time.

    Hypothesis prints ``seed`` and the outcomes of any failing run, which reproduce it.
    """
    retry = REGISTRATION_RETRY
    schedule, model = RenewalSchedule(retry, random.Random(seed)), _LeaseModel()
    step, now_s = schedule.start(), 0.0
    for outcome, ttl_s, duration_s in outcomes:
        now_s += step.delay_s
        sent_s, now_s = now_s, now_s + duration_s
        assert step.action is (RENEW if model.deadline_s is not None else REGISTER)
        was_alive = model.deadline_s is not None
        step, lost = model.answer(step.action, outcome, ttl_s, sent_s, now_s, schedule)
        assert step.lost == lost
        assert schedule.alive == (model.deadline_s is not None) and schedule.deadline_s == model.deadline_s
        assert 0.0 <= step.delay_s <= max(retry.max_s, ttl_s / 3)
        if outcome == "fail" and was_alive and not lost:
            assert model.deadline_s is not None and now_s + step.delay_s <= model.deadline_s
        if outcome == "ok":
            assert step == RenewalStep(RENEW, ttl_s / 3)


# -- the library call against real servers -------------------------------------------------


@pytest.fixture
def key() -> bytes:
    return f"/test-registration/{uuid.uuid4().hex[:8]}".encode()


def connect(*urls: str) -> AbstractAsyncContextManager[EtcdClient]:
    """A client with short time-outs: the outage cases wait for them."""
    return support.connect(*urls, dial_timeout_s=0.5, command_timeout_s=2.0)


async def _lease_of(etcd: EtcdClient, key: bytes) -> int | None:
    kvs = (await etcd.get(key)).response.kvs
    return kvs[0].lease if kvs else None


def test_the_key_lives_under_a_renewed_lease_and_goes_on_exit(store_url: str, key: bytes) -> None:
    events: list[RegistrationEvent] = []

    async def body() -> None:
        async with connect(store_url) as etcd:
            async with Registration(etcd, key, b"10.0.0.1:80", ttl_s=2, on_event=events.append) as reg:
                lease_id = await reg.wait_registered()
                (kv,) = (await etcd.get(key)).response.kvs
                assert (kv.value, kv.lease) == (b"10.0.0.1:80", lease_id)
                ttl = (await etcd.lease_time_to_live(lease_id, keys=True)).response
                assert ttl.keys == (key,) and ttl.granted_ttl_s == 2
                until_s = time.monotonic() + 3.5  # past the TTL: only renewals keep the key
                while time.monotonic() < until_s:
                    assert await _lease_of(etcd, key) == lease_id
                    await asyncio.sleep(0.1)
            assert (await etcd.get(key)).response.kvs == ()
            assert (await etcd.lease_time_to_live(lease_id)).response.ttl_s == -1
            assert reg.lease_id is None

    run(body)
    assert [e.kind for e in events] == [Kind.REGISTERED, Kind.REVOKED]
    assert all(e.key == key and e.ttl_s == 2 for e in events)


def test_a_lease_revoked_behind_its_back_is_noticed_and_the_key_put_again(
    store_url: str, key: bytes
) -> None:
    events: list[RegistrationEvent] = []

    async def body() -> None:
        async with connect(store_url) as etcd, Registration(
            etcd, key, b"v", ttl_s=3, on_event=events.append
        ) as reg:
            first = await reg.wait_registered()
            await etcd.lease_revoke(first)

            async def registered_again() -> bool:
                return reg.lease_id not in (None, first)

            await until_async(registered_again, "a new lease", deadline_s=15.0)
            assert await _lease_of(etcd, key) == reg.lease_id

    run(body)
    assert [e.kind for e in events] == [Kind.REGISTERED, Kind.LOST, Kind.REREGISTERED, Kind.REVOKED]
    assert "expired or was revoked" in events[1].reason


def test_registers_once_the_store_comes_up(tmp_path: Path, key: bytes, processes: Processes) -> None:
    port = free_port()
    quick = BackoffPolicy(initial_s=0.05, max_s=0.5)

    async def body() -> None:
        async with connect(f"http://127.0.0.1:{port}") as etcd, Registration(
            etcd, key, b"v", ttl_s=5, retry=quick
        ) as reg:
            server = await asyncio.to_thread(processes.store, tmp_path / "data", port=port)
            try:
                lease_id = await reg.wait_registered()
                assert await _lease_of(etcd, key) == lease_id
                await reg.stop()
                assert (await etcd.get(key)).response.kvs == ()
            finally:
                await asyncio.to_thread(server.stop)

    run(body)


def test_a_ttl_the_store_refuses_ends_the_registration_with_its_error(store_url: str, key: bytes) -> None:
    async def body() -> None:
        async with connect(store_url) as etcd:
            with pytest.raises(LeaseTTLTooLarge):
                async with Registration(etcd, key, b"v", ttl_s=MAX_LEASE_TTL + 1) as reg:
                    await reg.wait_registered()
            assert (await etcd.get(key)).response.kvs == ()

    run(body)


def test_waiting_on_a_stopped_registration_is_an_error(store_url: str, key: bytes) -> None:
    async def body() -> None:
        async with connect(store_url) as etcd:
            reg = Registration(etcd, key, b"v", ttl_s=5)
            async with reg:
                await reg.stop()
                with pytest.raises(ClientError, match="stopped"):
                    await reg.wait_registered()

    run(body)


@pytest.mark.parametrize(("key", "ttl_s", "revoke_timeout_s"), [
    (b"", 5, 1.0), (b"/k", 0, 1.0), (b"/k", 5, 0.0),
])
def test_bad_parameters_are_refused(key: bytes, ttl_s: int, revoke_timeout_s: float) -> None:
    async def body() -> None:
        async with connect("http://127.0.0.1:1") as etcd:
            with pytest.raises(ConfigError):
                Registration(etcd, key, b"v", ttl_s=ttl_s, revoke_timeout_s=revoke_timeout_s)

    run(body)
