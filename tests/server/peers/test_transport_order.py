"""PeerTransport keeps the order of frames to one member, written at once or by the peer's task.

``send`` writes straight to an idle connection, or leaves the frames to the
peer's task (when told to, when the connection is busy, or for a snapshot, which
the task reports). Either way a member receives another's frames in send order.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Iterator
from contextlib import contextmanager

from confagent.raft import Entry, Message, MessageType, SnapshotMeta
from confagent.server.peers import PeerFrame, PeerTransport, TransportConfig
from confagent.server.peers._peer_codec import FRAME_HEADER, MAX_FRAME_BYTES, encode_frame
from confagent.server.peers._transport import _Peer
from confagent.testing import free_port

DEADLINE_S = 10.0


def _frame(n: int, rng: random.Random) -> Message:
    if rng.random() < 0.05:
        return Message(MessageType.SNAPSHOT, 2, 1, term=1, index=n, snapshot=SnapshotMeta(n, 1),
                       snapshot_data=b"s" * rng.randrange(1, 200_000))
    return Message(MessageType.APPEND, 2, 1, term=1, index=n, context=b"x" * rng.randrange(0, 3000))


async def _exchange(seed: int, count: int) -> tuple[list[int], list[tuple[int, bool]], int]:
    rng = random.Random(seed)
    urls = {1: f"http://127.0.0.1:{free_port()}", 2: f"http://127.0.0.1:{free_port()}"}
    received: list[int] = []
    reports: list[tuple[int, bool]] = []
    snapshots = 0

    def deliver(frame: PeerFrame) -> None:
        assert isinstance(frame, Message)
        received.append(frame.index)

    sender = PeerTransport(1, urls[1], urls, lambda _: None, lambda m, ok: reports.append((m, ok)))
    receiver = PeerTransport(2, urls[2], urls, deliver, lambda m, ok: None)
    await receiver.start()
    await sender.start()
    try:
        n = 0
        async with asyncio.timeout(DEADLINE_S):
            while n < count:
                batch = [_frame(n + i, rng) for i in range(rng.randrange(1, 8))]
                snapshots += sum(m.type is MessageType.SNAPSHOT for m in batch)
                n += len(batch)
                sender.send(batch, at_once=rng.random() < 0.7)
                if rng.random() < 0.3:
                    await asyncio.sleep(0)
            while len(received) < n:
                await asyncio.sleep(0.01)
    finally:
        await sender.stop()
        await receiver.stop()
    return received, reports, snapshots


def test_frames_arrive_in_send_order_whichever_way_they_are_written() -> None:
    for seed in range(3):
        received, reports, snapshots = asyncio.run(_exchange(seed, 400))
        assert received == list(range(len(received))) and len(received) >= 400, f"seed {seed}"
        assert reports == [(2, True)] * snapshots, f"seed {seed}"


async def _raw_to_receiver(chunks_seed: int) -> tuple[list[int], bool]:
    """Frames written to a member's peer port in random chunks (a byte at a time included), then, on a
    second connection, a header announcing a frame over the bound: the indexes delivered in order,
    and whether that second connection was dropped while the first one still delivers."""
    rng = random.Random(chunks_seed)
    url = f"http://127.0.0.1:{free_port()}"
    received: list[int] = []

    def deliver(frame: PeerFrame) -> None:
        assert isinstance(frame, Message)
        received.append(frame.index)

    receiver = PeerTransport(2, url, {2: url}, deliver, lambda m, ok: None)
    await receiver.start()
    port = int(url.rsplit(":", 1)[1])
    try:
        async with asyncio.timeout(DEADLINE_S):
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            data = b"".join(encode_frame(_frame(n, rng)) for n in range(40))
            while data:
                cut = rng.choice((1, 2, 5, rng.randrange(1, 70_000)))
                writer.write(data[:cut])
                data = data[cut:]
                await writer.drain()
                await asyncio.sleep(0)
            bad_reader, bad_writer = await asyncio.open_connection("127.0.0.1", port)
            bad_writer.write(FRAME_HEADER.pack(MAX_FRAME_BYTES + 1) + b"\x00" * 16)
            dropped = await bad_reader.read() == b""  # the member closed it
            writer.write(encode_frame(Message(MessageType.APPEND, 2, 1, term=1, index=40)))
            while len(received) < 41:
                await asyncio.sleep(0.01)
            writer.close()
            bad_writer.close()
    finally:
        await receiver.stop()
    return received, dropped


def test_frames_are_read_across_any_chunks_and_an_oversized_one_drops_its_connection_only() -> None:
    for seed in range(3):
        received, dropped = asyncio.run(_raw_to_receiver(seed))
        assert received == list(range(41))
        assert dropped


@contextmanager
def _recording_writes(written: list[int]) -> Iterator[None]:
    """While in it, each peer's ``write_now`` appends the peer's member ID to ``written`` first."""
    write_now = _Peer.write_now

    def recorded(peer: _Peer) -> None:
        written.append(peer.member_id)
        write_now(peer)

    _Peer.write_now = recorded  # type: ignore[method-assign]
    try:
        yield
    finally:
        _Peer.write_now = write_now  # type: ignore[method-assign]


async def _written_order(order: list[int], learners: tuple[int, ...] = ()) -> list[int]:
    """Members 2..7 listening, their connections up and idle, ``learners`` among them; one ``send``
    of an append to each in ``order``: the members written, in the order they were, -1 marking
    where ``send`` returned."""
    members = range(2, 8)
    urls = {m: f"http://127.0.0.1:{free_port()}" for m in (1, *members)}
    arrived: set[int] = set()
    receivers = [PeerTransport(m, urls[m], urls, lambda frame: arrived.add(frame.to), lambda m, ok: None)
                 for m in members]
    sender = PeerTransport(1, urls[1], urls, lambda _: None, lambda m, ok: None)
    sender.set_learners(learners)
    for transport in (*receivers, sender):
        await transport.start()
    written: list[int] = []
    try:
        async with asyncio.timeout(DEADLINE_S):
            sender.send([Message(MessageType.HEARTBEAT, m, 1, term=1) for m in members])
            while arrived != set(members):  # every connection up; now idle
                await asyncio.sleep(0.01)
            with _recording_writes(written):
                sender.send([Message(MessageType.APPEND, m, 1, term=1) for m in order])
                written.append(-1)
                while len(written) <= len(order):
                    await asyncio.sleep(0)
    finally:
        for transport in (sender, *receivers):
            await transport.stop()
    return written


def test_members_are_written_in_the_order_of_the_frames_sent() -> None:
    """A leader's Ready names its voters first (``raft._tracker`` rule 5): they are written first."""
    for order in ([7, 6, 5, 4, 3, 2], [4, 7, 2, 6, 3, 5]):
        assert asyncio.run(_written_order(order)) == [*order, -1]


def test_learners_are_written_after_send_returns_in_the_order_of_the_frames() -> None:
    """Rule 2: frames to learners wait for the deferred callback, after what the caller does next
    (a leader's own save and its replies); the voters' are written within ``send``."""
    for order in ([7, 6, 5, 4, 3, 2], [4, 7, 2, 6, 3, 5]):
        written = asyncio.run(_written_order(order, learners=(6, 3)))
        assert written == [*(m for m in order if m not in (6, 3)), -1, *(m for m in order if m in (6, 3))]


async def _learner_batches(sends: int, batch_s: float) -> tuple[list[int], list[int]]:
    """Voter 2 and learner 3 listening, their connections up; ``sends`` sends of an append to each,
    one after the other within one step of the event loop, from a sender whose learners wait
    ``batch_s``: the members written, in order, and the indexes learner 3 received."""
    urls = {m: f"http://127.0.0.1:{free_port()}" for m in (1, 2, 3)}
    arrived: dict[int, list[int]] = {2: [], 3: []}

    def receiver(member: int) -> PeerTransport:
        return PeerTransport(member, urls[member], urls, lambda frame: arrived[frame.to].append(frame.index),
                             lambda m, ok: None)

    receivers = [receiver(2), receiver(3)]
    sender = PeerTransport(1, urls[1], urls, lambda _: None, lambda m, ok: None,
                           TransportConfig(learner_batch_s=batch_s))
    sender.set_learners([3])
    for transport in (*receivers, sender):
        await transport.start()
    written: list[int] = []
    try:
        async with asyncio.timeout(DEADLINE_S):
            sender.send([Message(MessageType.HEARTBEAT, m, 1, term=1) for m in (2, 3)])
            while not (arrived[2] and arrived[3]):  # both connections up; now idle
                await asyncio.sleep(0.01)
            arrived[3].clear()
            with _recording_writes(written):
                for n in range(1, sends + 1):
                    sender.send([Message(MessageType.APPEND, m, 1, term=1, index=n) for m in (2, 3)])
                while len(arrived[3]) < sends:
                    await asyncio.sleep(0.01)
    finally:
        for transport in (sender, *receivers):
            await transport.stop()
    return written, arrived[3]


def test_a_learners_frames_of_several_sends_are_written_together_by_the_timer() -> None:
    """Rule 2: each send writes the voter at once; the learner's frames wait for one timer callback,
    which writes them all in one batch, in order (a leader's puts of ``learner_batch_s`` in one write)."""
    written, received = asyncio.run(_learner_batches(3, 0.05))
    assert written == [2, 2, 2, 3]
    assert received == [1, 2, 3]



async def _learner_writes_after_quiet() -> tuple[list[int], list[int], list[int]]:
    """Learner 3 listening, from a sender whose learners wait a minute: a heartbeat, then an append of
    an entry, each sent once the one before arrived, then a second append of an entry: the members
    written by the time the first append arrived, after a few loop turns following the second, and
    the indexes learner 3 received by then."""
    urls = {m: f"http://127.0.0.1:{free_port()}" for m in (1, 3)}
    arrived: list[int] = []
    receiver = PeerTransport(3, urls[3], urls, lambda frame: arrived.append(frame.index), lambda m, ok: None)
    sender = PeerTransport(1, urls[1], urls, lambda _: None, lambda m, ok: None,
                           TransportConfig(learner_batch_s=60.0))
    sender.set_learners([3])
    for transport in (receiver, sender):
        await transport.start()
    written: list[int] = []

    async def arrival(index: int) -> None:
        while index not in arrived:
            await asyncio.sleep(0.01)

    try:
        async with asyncio.timeout(DEADLINE_S):
            with _recording_writes(written):
                sender.send([Message(MessageType.HEARTBEAT, 3, 1, term=1, index=1)])
                await arrival(1)  # the peer's task connects, then writes what the callback left
                sender.send([Message(MessageType.APPEND, 3, 1, term=1, index=2, entries=(Entry(1, 3),))])
                await arrival(2)
                first = list(written)
                sender.send([Message(MessageType.APPEND, 3, 1, term=1, index=3, entries=(Entry(1, 4),))])
                for _ in range(20):
                    await asyncio.sleep(0)
                second = list(written)
    finally:
        for transport in (sender, receiver):
            await transport.stop()
    return first, second, arrived


def test_a_learners_entries_after_a_quiet_wait_are_written_at_once_the_next_wait() -> None:
    """Rule 2: with no entries written to learners in the last ``learner_batch_s`` (a heartbeat does not
    count) an append to one goes out on the next loop turn (a put now and then is not delayed); one
    sent within the wait waits for the timer at its end (here a minute away: not written)."""
    first, second, arrived = asyncio.run(_learner_writes_after_quiet())
    assert first == [3, 3]
    assert second == [3, 3]
    assert arrived == [1, 2]
