"""KvStore against the dict-per-revision model, driven by hypothesis.

Every command is applied to both; results, errors, events, reads at any past
revision, watch history, leases and revisions must agree, also across a
snapshot and restore. Reproduce a failure with the ``@reproduce_failure`` line
hypothesis prints, or rerun with ``--hypothesis-seed=<seed>``.
"""

from __future__ import annotations

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from confagent.errors import StoreError
from confagent.kv import CompactionRequest, KvStore, RangeRequest, Request, validate
from tests.thoroughness import examples

from .model import ModelStore
from .strategies import (
    LEASE_IDS,
    compaction_requests,
    put_requests,
    range_requests,
    write_requests,
)


class StoreAgainstModel(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.store = KvStore()
        self.model = ModelStore()

    def _both(self, request: Request) -> None:
        expected = self.model.outcome(request)
        try:
            applied = self.store.apply(request)
        except StoreError as error:
            assert type(error) is expected, (request, error, expected)
            return
        assert not isinstance(expected, type), (request, applied, expected)
        assert (applied.revision, applied.response, applied.events) == expected, request

    @rule(request=put_requests())
    def put(self, request: Request) -> None:
        self.write(request)

    @rule(request=write_requests())
    def write(self, request: Request) -> None:
        try:
            validate(request)
        except StoreError:
            return  # refused before proposing: never reaches the store
        self._both(request)

    @rule(request=compaction_requests())
    def compact(self, request: Request) -> None:
        self._both(request)

    @rule(back=st.integers(min_value=0, max_value=2), physical=st.booleans())
    def compact_recent(self, back: int, physical: bool) -> None:
        self._both(CompactionRequest(self.model.revision - back, physical))

    @rule(request=range_requests())
    def read(self, request: RangeRequest) -> None:
        try:
            expected: object = self.model.range(request)
        except StoreError as error:
            expected = type(error)
        try:
            got: object = self.store.range(request)
        except StoreError as error:
            got = type(error)
        assert got == expected, request

    @rule(start=st.integers(min_value=0, max_value=45))
    def history(self, start: int) -> None:
        try:
            expected: object = self.model.history(start)
        except StoreError as error:
            expected = type(error)
        try:
            got: object = list(self.store.history(start))
        except StoreError as error:
            got = type(error)
        assert got == expected, start

    @rule(after=st.integers(min_value=0, max_value=1))
    def history_from_compaction(self, after: int) -> None:
        self.history(self.model.compact_revision + after)

    @rule()
    def snapshot_and_restore(self) -> None:
        data = self.store.snapshot()
        self.store = KvStore.restore(data)
        assert self.store.snapshot() == data

    @invariant()
    def same_state(self) -> None:
        assert self.store.revision == self.model.revision
        assert self.store.compact_revision == self.model.compact_revision
        assert self.store.key_count() == len(self.model.states[-1])
        assert self.store.lease_ids() == tuple(self.model.leases)
        for lease_id in LEASE_IDS:
            assert self.store.lease(lease_id) == self.model.lease(lease_id)


StoreAgainstModel.TestCase.settings = settings(
    max_examples=examples(150), stateful_step_count=50, deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestStoreAgainstModel = StoreAgainstModel.TestCase
