"""The member table (``_membership``): checks and changes as etcd makes them, encodings, snapshot wrapping."""

from __future__ import annotations

import msgpack  # type: ignore[import-untyped]
import pytest
from hypothesis import given
from hypothesis import strategies as st

from confagent.errors import (
    MemberBadURLs,
    MemberExists,
    MemberNotFound,
    MemberNotLearner,
    PeerURLExists,
    StorageError,
    TooManyLearners,
)
from confagent.kv import KvStore, PutRequest
from confagent.raft import ConfChange, ConfChangeType, ConfState, SnapshotMeta
from confagent.server.membership import (
    Member,
    MemberCommand,
    MemberTable,
    check_peer_urls,
    start_membership,
    unwrap_snapshot,
    wrap_snapshot,
)
from confagent.server.membership._membership import (
    ChangeContext,
    CommandKind,
    ready_to_add_voter,
    ready_to_promote,
    ready_to_remove,
)

A = Member(1, ("http://127.0.0.1:1",), "a", ("http://127.0.0.1:11",))
B = Member(2, ("http://127.0.0.1:2",), "b", ("http://127.0.0.1:12",))
C = Member(3, ("http://127.0.0.1:3",))


def _table(*members: Member) -> MemberTable:
    return MemberTable(0xC1, members)


def _add(member_id: int, url: str, *, learner: bool = False) -> tuple[ConfChange, ChangeContext]:
    kind = ConfChangeType.ADD_LEARNER if learner else ConfChangeType.ADD_VOTER
    return ConfChange(kind, member_id), ChangeContext(b"r", (url,))


def _apply(table: MemberTable, change: ConfChange, context: ChangeContext) -> None:
    table.check_change(change.type, change.node_id, context)
    table.apply_change(change, context)


def test_an_added_learner_is_promoted_then_removed_and_remembered() -> None:
    table = _table(A)
    _apply(table, *_add(5, "http://127.0.0.1:5", learner=True))
    assert table.get(5) == Member(5, ("http://127.0.0.1:5",), is_learner=True)
    _apply(table, ConfChange(ConfChangeType.ADD_VOTER, 5), ChangeContext(b"r", promote=True))
    assert table.get(5) == Member(5, ("http://127.0.0.1:5",))
    _apply(table, ConfChange(ConfChangeType.REMOVE, 5), ChangeContext(b"r"))
    assert table.members() == (A,) and table.removed == {5}


@pytest.mark.parametrize(("change", "context", "error"), [
    (ConfChange(ConfChangeType.REMOVE, 9), ChangeContext(b""), MemberNotFound),
    (ConfChange(ConfChangeType.ADD_VOTER, 9), ChangeContext(b"", promote=True), MemberNotFound),
    (ConfChange(ConfChangeType.ADD_VOTER, 2), ChangeContext(b"", promote=True), MemberNotLearner),
    (ConfChange(ConfChangeType.ADD_VOTER, 2), ChangeContext(b"", ("http://x:9",)), MemberExists),
    (ConfChange(ConfChangeType.ADD_VOTER, 9), ChangeContext(b"", ("http://127.0.0.1:2",)), PeerURLExists),
    (ConfChange(ConfChangeType.ADD_LEARNER, 9), ChangeContext(b"", ("http://x:9",)), TooManyLearners),
])
def test_changes_etcd_refuses_are_refused_with_its_errors(
        change: ConfChange, context: ChangeContext, error: type[Exception]) -> None:
    table = _table(A, B, Member(4, ("http://127.0.0.1:4",), is_learner=True))
    before = table.encode()
    with pytest.raises(error):
        table.check_change(change.type, change.node_id, context)
    assert table.encode() == before


def test_publish_and_update_change_attributes_and_check_urls() -> None:
    table = _table(A, C)
    publish = MemberCommand(CommandKind.PUBLISH, 3, ("http://127.0.0.1:13",), "c")
    table.check_command(publish)
    table.apply_command(publish)
    assert table.get(3) == Member(3, ("http://127.0.0.1:3",), "c", ("http://127.0.0.1:13",))
    with pytest.raises(PeerURLExists):
        table.check_command(MemberCommand(CommandKind.UPDATE, 3, A.peer_urls))
    with pytest.raises(MemberNotFound):
        table.check_command(MemberCommand(CommandKind.UPDATE, 7, ("http://127.0.0.1:7",)))
    assert MemberCommand.decode(publish.encode()) == publish


@pytest.mark.parametrize("urls", [[], ["notaurl"], ["127.0.0.1:5"], ["http://h:1/path"], ["http://h:x"]])
def test_bad_peer_urls_are_refused(urls: list[str]) -> None:
    with pytest.raises(MemberBadURLs):
        check_peer_urls(urls)


def test_strict_reconfiguration_counts_started_members_as_etcd_3_4_does() -> None:
    lone = _table(A)
    assert ready_to_add_voter(lone)  # a started lone voter may take a second one
    assert not ready_to_remove(lone, A.id)
    assert ready_to_remove(lone, 42)  # not a member: the apply says "member not found"
    two_unstarted = _table(A, Member(2, ("http://127.0.0.1:2",)))
    assert not ready_to_add_voter(two_unstarted)
    assert ready_to_promote(_table(A, B))
    assert not ready_to_promote(_table(A, Member(2, ("h",)), Member(3, ("i",)), Member(4, ("j",))))


def test_a_snapshot_carries_the_table_and_an_old_payload_loads_without_one() -> None:
    kv = KvStore()
    kv.apply(PutRequest(key=b"k", value=b"v"))
    table = _table(A, B)
    table.removed = frozenset({7})
    loaded, data = unwrap_snapshot(wrap_snapshot(table, kv.snapshot()))
    assert loaded is not None and loaded.encode() == table.encode()
    assert KvStore.restore(data).snapshot() == kv.snapshot()
    assert unwrap_snapshot(kv.snapshot()) == (None, kv.snapshot())
    with pytest.raises(StorageError):
        unwrap_snapshot(b"CAMT\x05\x00\x00\x00junk!")


@given(st.lists(st.tuples(st.integers(1, 2**64 - 1), st.text(max_size=8), st.booleans()), max_size=6),
       st.frozensets(st.integers(1, 2**64 - 1), max_size=4))
def test_tables_round_trip(rows: list[tuple[int, str, bool]], removed: frozenset[int]) -> None:
    table = MemberTable(2**64 - 1, (Member(i, (f"http://h:{n}",), name, (), learner)
                                    for n, (i, name, learner) in enumerate(rows)), removed)
    assert MemberTable.decode(table.encode()).encode() == table.encode()


def test_conf_change_context_travels_after_the_fixed_part() -> None:
    context = ChangeContext(b"12345678", ("http://127.0.0.1:5",), promote=False)
    change = ConfChange(ConfChangeType.ADD_LEARNER, 5, context.encode())
    decoded = ConfChange.decode(change.encode())
    assert decoded == change and ChangeContext.decode(decoded.context) == context


def test_a_member_starts_with_the_newest_snapshots_membership_else_the_flags() -> None:
    meta = SnapshotMeta(9, 2, ConfState(voters=(1, 2), learners=(5,)))
    assert start_membership(5, (1, 2, 5), False, meta) == ((1, 2), (5,), False)
    assert start_membership(7, (1, 2), False, meta) == ((1, 2), (5,), True)
    assert start_membership(5, (1, 2, 5), True, None) == ((1, 2), (), True)
    assert start_membership(1, (1, 2), False, None) == ((1, 2), (), False)


@pytest.mark.parametrize("limit", [1, 2, 5, 50])
def test_learners_are_added_up_to_the_limit_the_change_carries(limit: int) -> None:
    table = _table(A, B)
    for n in range(limit):
        change = ConfChange(ConfChangeType.ADD_LEARNER, 100 + n)
        _apply(table, change, ChangeContext(b"r", (f"http://127.0.0.1:{100 + n}",), max_learners=limit))
    before = table.encode()
    with pytest.raises(TooManyLearners, match="too many learner members in cluster"):
        table.check_change(ConfChangeType.ADD_LEARNER, 99,
                           ChangeContext(b"r", ("http://127.0.0.1:99",), max_learners=limit))
    assert table.encode() == before
    # a voter is no learner: the limit does not count it, nor stop its addition
    _apply(table, *_add(98, "http://127.0.0.1:98"))


def test_a_context_written_without_a_limit_counts_etcd_3_4s() -> None:
    old = msgpack.packb([1, b"id", ["http://127.0.0.1:5"], False], use_bin_type=True)
    assert ChangeContext.decode(old) == ChangeContext(b"id", ("http://127.0.0.1:5",), False, 1)
    with pytest.raises(StorageError):
        ChangeContext.decode(msgpack.packb([1, b"id", [], False, 3, "extra"], use_bin_type=True))
    limited = ChangeContext(b"id", (), max_learners=20)
    assert ChangeContext.decode(limited.encode()) == limited
