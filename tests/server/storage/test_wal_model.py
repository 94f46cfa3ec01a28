"""Property: whatever is appended, marked, synced, cut and released, a reopen recovers the model.

The model is a plain dict from index to entry with Raft's rules written out directly:
an append replaces the suffix from its first index; a marker whose (index, term) the log
holds moves what it covers aside (``covered``), any other marker drops the whole log.
Released segments may take covered entries with them, but only those at or below the
release point: the log kept must replay from any snapshot after it. Hypothesis prints
the failing operation list, which reproduces the run.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field, replace
from pathlib import Path

from hypothesis import example, given, settings
from hypothesis import strategies as st

from confagent.raft._types import Entry, HardState, SnapshotMeta
from confagent.server.storage import Wal, WalState
from tests.thoroughness import examples

SEGMENT_BYTES = 256


@dataclass
class Model:
    term: int = 1
    hard_state: HardState = field(default_factory=HardState)
    snapshot: SnapshotMeta = field(default_factory=SnapshotMeta)
    log: dict[int, Entry] = field(default_factory=dict)
    covered: list[Entry] = field(default_factory=list)
    released_to: int = 0
    """No covered entry after this index may be released."""

    @property
    def last_index(self) -> int:
        return max(self.log, default=self.snapshot.index)

    def append(self, batch: list[Entry]) -> None:
        for index in [index for index in self.log if index >= batch[0].index]:
            del self.log[index]
        self.log.update((entry.index, entry) for entry in batch)

    def mark(self, meta: SnapshotMeta) -> None:
        held = self.log.get(meta.index)
        if held is not None and held.term == meta.term:
            self.covered += [self.log[index] for index in sorted(self.log) if index <= meta.index]
            self.log = {index: entry for index, entry in self.log.items() if index > meta.index}
        else:
            self.log = {}
            self.covered = []
        self.snapshot = meta

    def state(self) -> WalState:
        snapshot = self.snapshot if self.snapshot.index else None
        return WalState(self.hard_state, snapshot, tuple(self.log[i] for i in sorted(self.log)))


appends = st.tuples(st.just("append"), st.integers(0, 5), st.integers(1, 6), st.booleans(),
                    st.integers(0, 120))
hard_states = st.tuples(st.just("hard_state"), st.integers(0, 3))
marks = st.tuples(st.just("mark"), st.integers(1, 8), st.booleans())
plain = st.tuples(st.sampled_from(["sync", "flush", "reopen"]))
releases = st.tuples(st.just("release"), st.integers(-3, 3))
operations = st.lists(st.one_of(appends, appends, hard_states, marks, plain, releases),
                      max_size=40)


def run(wal: Wal, model: Model, operation: tuple[object, ...]) -> None:
    match operation:
        case ("append", int(back), int(count), bool(bump), int(size)):
            model.term += bump
            first = max(model.snapshot.index + 1, model.last_index + 1 - back)
            batch = [Entry(model.term, index, data=bytes([index % 251]) * size)
                     for index in range(first, first + count)]
            wal.append(None, batch)
            model.append(batch)
        case ("hard_state", int(vote)):
            model.hard_state = HardState(model.term, vote, model.hard_state.commit + 1)
            wal.append(model.hard_state, ())
        case ("mark", int(ahead), bool(matching)):
            index = model.snapshot.index + ahead
            held = model.log.get(index)
            if held is not None and matching:
                term = held.term
            else:
                model.term += 1
                term = model.term
            wal.mark_snapshot(SnapshotMeta(index, term))
            model.mark(SnapshotMeta(index, term))
        case ("sync",):
            wal.sync()
        case ("flush",):
            wal.flush()
        case ("release", int(slack)):
            wal.release_to(model.snapshot.index + slack)
            model.released_to = max(model.released_to, model.snapshot.index + min(slack, 0))


def assert_recovers(state: WalState, model: Model) -> None:
    """The state is the model's, its covered entries a suffix of the model's reaching past the release
    point, and a start from any of them replays the log from there."""
    assert replace(state, covered=()) == model.state()
    kept = state.covered
    assert list(kept) == model.covered[len(model.covered) - len(kept):]
    assert [e for e in model.covered if e.index > model.released_to] == [
        e for e in kept if e.index > model.released_to]
    for position, entry in enumerate(kept):
        started = state.starting_at(SnapshotMeta(entry.index, entry.term), "test")
        assert started.entries == kept[position + 1:] + state.entries
        assert started.hard_state.commit >= model.snapshot.index


@settings(max_examples=examples(150), deadline=None)
@given(operations)
@example([("append", 0, 1, False, 0), ("append", 0, 5, False, 2), ("append", 1, 1, False, 0), ("sync",),
          *[("append", 0, 1, False, 0)] * 4, ("mark", 6, False), ("sync",), ("release", 0)])
# ^ entries 1-6 in one segment, 7-10 then a marker (6, 2) the log does not hold in the next: once the
#   first was released, replay took 7-10 for the marker's continuation
def test_a_reopened_log_equals_the_model(script: list[tuple[object, ...]]) -> None:
    with tempfile.TemporaryDirectory() as directory:
        data_dir = Path(directory)
        model = Model()
        wal, _ = Wal.open(data_dir, segment_bytes=SEGMENT_BYTES)
        for operation in script:
            if operation == ("reopen",):
                wal.close()
                wal, state = Wal.open(data_dir, segment_bytes=SEGMENT_BYTES)
                assert_recovers(state, model)
            else:
                run(wal, model, operation)
        wal.close()
        wal, state = Wal.open(data_dir, segment_bytes=SEGMENT_BYTES)
        wal.close()
        assert_recovers(state, model)
