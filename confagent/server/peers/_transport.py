"""Peer transport: frames between store members over TCP (or TLS), one connection per direction.

The frames are Raft messages and the lease calls followers forward to the
leader (``_peer_codec``).

Rules:
1. ``send`` never blocks the Raft driver: each peer has a bounded queue; a full
   queue drops the frame and tells Raft the peer is unreachable (Raft resends
   what matters, as it does for any lost message; a lease call is asked again).
   An append is dropped the same way while the peer already holds
   ``queue_bytes`` unsent (queued here and in the connection's write buffer): a
   stalled or slow peer costs this member at most that plus one frame, whatever
   Raft lets go (a heartbeat answer frees an in-flight slot; etcd's rule too).
   A snapshot frame is never dropped so, but its payload is not copied (rule 2):
   a stalled peer holds at most ``queue_bytes`` plus one append and the heads of
   its frames, and a snapshot sent to many peers is held once for all of them.
2. One task per peer connects (with the project's jittered, capped backoff:
   ``confagent.backoff``), then writes
   everything queued as one batch per wake-up. While the connection is up and its
   send buffer empty, ``send`` writes what it queued at once instead (no wait for
   the task; the order holds, as every write goes through the one stream in call
   order), unless a snapshot is among it (the task reports those); the task is
   woken only for what could not be written so. Told not to write at once,
   ``send`` leaves the writes to one callback of the event loop, run after those
   already scheduled (``call_soon``), for all the peers it touched: a leader's
   commit news to fifty learners costs one callback, not fifty task wake-ups.
   Frames to learners (``set_learners``) wait longer: one timer callback writes
   them for all learners ``learner_batch_s`` after the first of them was queued,
   or one callback at once (the next loop turn) when no append with entries was
   written to learners in the last ``learner_batch_s`` (a heartbeat does not
   count): a put now and then reaches them at once; under load the puts of each
   wait share one write. A learner counts for
   no commit and no reply, so a leader's appends to its voters, its own save (on
   the loop when its WAL writer is idle) and the replies a Ready made possible
   come before its writes to fifty learners (a fifth of a leader's samples with
   fifty, mostly the kernel's loopback delivery); and as
   Raft sends a learner its next append only once one in flight is answered
   (``RaftConfig.max_inflight_learner_appends``), the wait batches the puts of
   that time into one append, one write and one answer per learner, where each
   put cost the leader one of each per learner. A learner's files follow a put
   up to ``learner_batch_s`` later, and at once when the leader is not busy.
   Peers are written in the order of the frames given (a leader's Ready names its
   voters first: ``raft._tracker`` rule 5).
   Frames are encoded once per ``send`` (``encode_frames``): an append alike for
   many peers, as to learners at one position, is encoded once for all, and a
   frame's chunks are written as they are (``writelines``): a snapshot's payload
   or a large shared tail waits in every write buffer it is in as one object, never
   a copy per peer (uvloop's transports hold what they are given; asyncio's own
   join it).
3. Inbound frames are decoded and handed to the driver's ``deliver`` callback in
   arrival order; a frame that cannot be read closes that connection only.
4. Snapshot messages report their fate (delivered or not) back to Raft.
5. ``https://`` peer URLs use TLS as ``PeerTls`` says (``_peer_tls``); a peer
   whose handshake fails is treated as unreachable, on either side.
6. A peer whose URL this member cannot dial (``https://`` without
   ``--peer-cert-file``, or no ``HOST:PORT``) is kept, unreachable from here,
   and says why once: adding it is a committed membership change, which must
   apply on every member whatever its settings (etcd's would fail to connect too).
7. ``stop`` ends within a bound whatever the peers do: a connection that ends
   is dropped (``abort``: what the kernel holds still goes out, what a peer that
   reads nothing left buffered here does not; Raft resends), and the tasks get
   ``TASK_STOP_S`` once cancelled (``confagent.tasks``).
"""

from __future__ import annotations

import asyncio
import random
import ssl
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import cast
from urllib.parse import urlsplit

import structlog

from confagent.backoff import Backoff, BackoffPolicy
from confagent.errors import ConfigError, PeerError
from confagent.raft import Message, MessageType
from confagent.server.peers._peer_codec import (
    FRAME_HEADER,
    MAX_FRAME_BYTES,
    Chunks,
    PeerFrame,
    decode_frame,
    encode_frames,
)
from confagent.server.peers._peer_tls import PeerTls
from confagent.tasks import cancel_and_wait

__all__ = ["PeerTransport", "TransportConfig"]

log = structlog.get_logger("confagent.peers")

Deliver = Callable[[PeerFrame], None]
Report = Callable[[int, bool], None]
"""``report(member, delivered)``: True when a snapshot reached the peer; False when messages
to it were lost (it is unreachable, and a snapshot in flight did not arrive)."""


RECONNECT_BACKOFF = BackoffPolicy(initial_s=0.05, max_s=2.0)
"""Between failed connection attempts to one peer."""


@dataclass(frozen=True, slots=True)
class TransportConfig:
    queue_messages: int = 4096
    """Messages waiting for one peer before new ones are dropped."""
    queue_bytes: int = 4 << 20
    """Unsent bytes held for one peer (queued and in its write buffer) past which appends to
    it are dropped (rule 1): four appends of ``RaftConfig.max_append_bytes``."""
    backoff: BackoffPolicy = RECONNECT_BACKOFF
    learner_batch_s: float = 0.03
    """How long frames to learners wait to be written together, unless no entries were written
    to them in as long (rule 2): the most a learner's appends are delayed, and, at a put every few
    milliseconds, the puts one append carries."""
    connect_timeout_s: float = 2.0
    """Bounds a connection attempt, TLS handshake included (on both sides)."""
    tls: PeerTls | None = None
    """Certificates for ``https://`` peer URLs; None when every peer URL is ``http://``."""


@dataclass(frozen=True, slots=True)
class _PeerAddress:
    host: str
    port: int
    ssl: ssl.SSLContext | None


def _address(url: str, tls: PeerTls | None, *, listening: bool) -> _PeerAddress:
    """Where a peer URL points, with the TLS context it needs to listen on or dial it (rule 5).

    Raises:
        ConfigError: not an http(s)://HOST:PORT URL, or https without usable certificates.
    """
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname or not parts.port:
        raise ConfigError(f"peer URL {url!r} is not http(s)://HOST:PORT")
    if parts.scheme == "http":
        return _PeerAddress(parts.hostname, parts.port, None)
    if tls is None:
        raise ConfigError(f"peer URL {url} needs --peer-cert-file and --peer-key-file")
    context = tls.server_context() if listening else tls.client_context()
    return _PeerAddress(parts.hostname, parts.port, context)


class _Peer:
    """The outbound side towards one member."""

    def __init__(self, member_id: int, url: str, config: TransportConfig, report: Report,
                 rng: random.Random) -> None:
        self.member_id = member_id
        self.url = url
        self.address: _PeerAddress | None = None
        try:
            self.address = _address(url, config.tls, listening=False)
        except ConfigError as error:  # rule 6
            log.warning("cannot dial a member; it stays unreachable from here", member=f"{member_id:x}",
                        cause=str(error))
        self._config = config
        self._report = report
        self._rng = rng
        self._queue: list[tuple[PeerFrame, Chunks]] = []
        self._queued_bytes = 0
        self._wake = asyncio.Event()
        self._stream: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None
        self.task: asyncio.Task[None] | None = None

    def offer(self, frame: PeerFrame, chunks: Chunks) -> None:
        """Queue ``frame``, encoded as ``chunks``."""
        full = len(self._queue) >= self._config.queue_messages
        if full or (isinstance(frame, Message) and frame.type is MessageType.APPEND
                    and self.unsent_bytes() >= self._config.queue_bytes):
            self._report(self.member_id, False)
            return
        self._queue.append((frame, chunks))
        self._queued_bytes += sum(map(len, chunks))

    def unsent_bytes(self) -> int:
        """Bytes held for this peer: queued, and in the connection's write buffer (rule 1)."""
        buffered = 0 if self._stream is None else self._stream[1].transport.get_write_buffer_size()
        return self._queued_bytes + buffered

    def _take_queue(self) -> list[tuple[PeerFrame, Chunks]]:
        batch, self._queue, self._queued_bytes = self._queue, [], 0
        return batch

    @staticmethod
    def _write(writer: asyncio.StreamWriter, batch: list[tuple[PeerFrame, Chunks]]) -> int:
        """Write ``batch``'s chunks as they are (rule 2); the snapshots among them."""
        writer.writelines([chunk for _, chunks in batch for chunk in chunks])
        return sum(isinstance(frame, Message) and frame.type is MessageType.SNAPSHOT for frame, _ in batch)

    def write_now(self) -> None:
        """Write the queue at once if the connection is up and idle (rule 2); else wake the task."""
        if not self._queue:
            return
        if self._stream is None:
            self._wake.set()
            return
        reader, writer = self._stream
        if (reader.at_eof() or writer.is_closing() or writer.transport.get_write_buffer_size()
                or any(isinstance(f, Message) and f.type is MessageType.SNAPSHOT for f, _ in self._queue)):
            self._wake.set()
            return
        self._write(writer, self._take_queue())

    async def run(self) -> None:
        backoff = Backoff(self._config.backoff, self._rng)
        while True:
            try:
                # Not ``wait_for``: on 3.11 it can swallow the cancellation that stops this task
                # when the connection is made (or refused) in the same loop iteration (rule 7).
                async with asyncio.timeout(self._config.connect_timeout_s):
                    reader, writer = await self._connect()
            except (OSError, TimeoutError):
                self._fail_queued()
                await asyncio.sleep(backoff.next_delay_s())
                continue
            backoff.reset()
            self._stream = (reader, writer)
            try:
                await self._write_until_broken(reader, writer)
            except OSError:
                self._report(self.member_id, False)
            finally:
                self._stream = None
                writer.transport.abort()  # a graceful close would wait on a peer that may read nothing

    async def _connect(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        address = self.address
        if address is None:
            raise OSError(f"cannot dial {self.url}")  # rule 6: unreachable, as a peer that refuses
        if address.ssl is None:
            return await asyncio.open_connection(address.host, address.port)
        return await asyncio.open_connection(address.host, address.port, ssl=address.ssl,
                                             server_hostname=address.host)

    async def _write_until_broken(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            batch = self._take_queue()
            if not batch:
                continue  # ``write_now`` wrote it
            # The peer never writes on this connection: EOF means it went away. Writes to a
            # closed transport vanish without an error, so look before every batch.
            if reader.at_eof() or writer.is_closing():
                raise ConnectionResetError(f"peer {self.member_id:x} closed the connection")
            snapshots = self._write(writer, batch)
            del batch  # the write buffer holds what is unsent; the frames need not wait with it
            await writer.drain()
            for _ in range(snapshots):
                self._report(self.member_id, True)

    def _fail_queued(self) -> None:
        if self._queue:
            self._take_queue()
            self._report(self.member_id, False)


class _Inbound(asyncio.Protocol):
    """One peer's connection to this member: frames read as their bytes arrive, in order (rule 3).

    Frames are cut from the bytes received and delivered there and then: no reader task
    wakes per frame, so an answer from each of many learners costs the leader one callback.
    """

    def __init__(self, deliver: Deliver, connections: set[asyncio.Transport]) -> None:
        self._deliver = deliver
        self._connections = connections
        self._buffer = bytearray()
        self._transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)  # uvloop's is not asyncio's class
        self._connections.add(self._transport)

    def connection_lost(self, exc: Exception | None) -> None:
        if self._transport is not None:
            self._connections.discard(self._transport)  # the peer went away; it reconnects by itself

    def data_received(self, data: bytes) -> None:
        buffer = self._buffer
        buffer += data
        start = 0
        try:
            while len(buffer) - start >= FRAME_HEADER.size:
                (length,) = FRAME_HEADER.unpack_from(buffer, start)
                if length > MAX_FRAME_BYTES:
                    raise PeerError(f"peer frame of {length} bytes is over {MAX_FRAME_BYTES}")
                end = start + FRAME_HEADER.size + length
                if len(buffer) < end:
                    break
                with memoryview(buffer) as view:  # released before the buffer shrinks
                    frame = decode_frame(bytes(view[start + FRAME_HEADER.size:end]))
                start = end
                self._deliver(frame)
        except PeerError as error:
            log.warning("dropping a peer connection", error=str(error))
            buffer.clear()
            assert self._transport is not None
            self._transport.abort()
            return
        finally:
            if start:
                del buffer[:start]


RETIRE_S = 1.0
"""How long a removed member's connection stays up after its removal was applied."""


async def _retire(task: asyncio.Task[None]) -> None:
    try:
        await asyncio.sleep(RETIRE_S)
    finally:
        task.cancel()


class PeerTransport:
    """Sends to the other members and listens for them."""

    def __init__(self, member_id: int, listen_url: str, peers: Mapping[int, str], deliver: Deliver,
                 report: Report, config: TransportConfig | None = None,
                 rng: random.Random | None = None) -> None:
        self.member_id = member_id
        self._config = config or TransportConfig()
        self._listen = _address(listen_url, self._config.tls, listening=True)
        self._deliver = deliver
        rng = rng or random.Random()
        self._report, self._rng = report, rng
        self._peers = {m: _Peer(m, url, self._config, report, rng)
                       for m, url in peers.items() if m != member_id}
        self._retiring: set[asyncio.Task[None]] = set()
        self._deferred: dict[_Peer, None] = {}
        """Peers sent to with ``at_once`` False, written by one callback soon (rule 2)."""
        self._learners_due: dict[_Peer, None] = {}
        """Learners sent to, written together by one callback (rule 2)."""
        self._learners_timer: asyncio.TimerHandle | asyncio.Handle | None = None
        self._learners_quiet_at = 0.0
        """Loop time from which a frame to learners is written at once, not after the wait:
        ``learner_batch_s`` after the last write of entries to them (rule 2)."""
        self._learners_entries_due = False
        """Whether an append with entries is among the learners' frames due."""
        self._learners: frozenset[int] = frozenset()
        self._server: asyncio.Server | None = None
        self._inbound: set[asyncio.Transport] = set()

    async def start(self) -> None:
        host, port, context = self._listen.host, self._listen.port, self._listen.ssl
        try:
            self._server = await asyncio.get_running_loop().create_server(
                self._inbound_connection, host, port, ssl=context,
                ssl_handshake_timeout=self._config.connect_timeout_s if context else None)
        except OSError as error:
            raise ConfigError(f"--listen-peer-urls: cannot listen on {host}:{port}: "
                              f"{error.strerror}") from error
        for peer in self._peers.values():
            peer.task = asyncio.create_task(peer.run(), name=f"peer {peer.member_id:x}")

    def send(self, frames: Iterable[PeerFrame], *, at_once: bool = True) -> None:
        """Queue frames for their ``to`` members, written at once where a connection is idle
        (rule 2) unless not ``at_once``; frames to members not known are dropped."""
        touched: dict[_Peer, None] = {}  # written in the frames' order: a leader's voters first
        deferred: dict[_Peer, None] = {}
        learners: dict[_Peer, None] = {}
        known = [frame for frame in frames if frame.to in self._peers]
        for frame, chunks in zip(known, encode_frames(known), strict=True):
            peer = self._peers[frame.to]
            peer.offer(frame, chunks)
            if frame.to in self._learners:
                learners[peer] = None
                self._learners_entries_due |= isinstance(frame, Message) and bool(frame.entries)
            else:
                (touched if at_once else deferred)[peer] = None
        for peer in touched:
            peer.write_now()
        if deferred:
            if not self._deferred:
                asyncio.get_running_loop().call_soon(self._write_deferred)
            self._deferred.update(deferred)
        if learners:
            if self._learners_timer is None:
                self._schedule_learners()
            self._learners_due.update(learners)

    def _schedule_learners(self) -> None:
        """The learners' write: the next loop turn if no entries were written to them in the last
        ``learner_batch_s``, else ``learner_batch_s`` from now (rule 2)."""
        loop = asyncio.get_running_loop()
        self._learners_timer = (loop.call_later(self._config.learner_batch_s, self._write_learners)
                                if loop.time() < self._learners_quiet_at
                                else loop.call_soon(self._write_learners))

    def _write_deferred(self) -> None:
        deferred, self._deferred = self._deferred, {}
        for peer in deferred:
            peer.write_now()

    def _write_learners(self) -> None:
        due, self._learners_due, self._learners_timer = self._learners_due, {}, None
        if self._learners_entries_due:
            self._learners_quiet_at = asyncio.get_running_loop().time() + self._config.learner_batch_s
            self._learners_entries_due = False
        for peer in due:
            peer.write_now()

    def set_learners(self, members: Iterable[int]) -> None:
        """The members that are learners now: frames to them are written by the timer (rule 2)."""
        self._learners = frozenset(members)

    def unsent_bytes(self, member_id: int) -> int:
        """Bytes held unsent for ``member_id`` (0 for a member not known): at most
        ``queue_bytes`` plus one frame (rule 1)."""
        peer = self._peers.get(member_id)
        return 0 if peer is None else peer.unsent_bytes()

    def peer_urls(self) -> dict[int, str]:
        """Member ID -> the URL this transport dials it at."""
        return {m: peer.url for m, peer in self._peers.items()}

    def add_peer(self, member_id: int, url: str) -> None:
        """Start sending to a member added to the cluster (at once if started, else on ``start``)."""
        if member_id == self.member_id or member_id in self._peers:
            return
        peer = _Peer(member_id, url, self._config, self._report, self._rng)
        self._peers[member_id] = peer
        if self._server is not None:
            peer.task = asyncio.create_task(peer.run(), name=f"peer {member_id:x}")

    def remove_peer(self, member_id: int) -> None:
        """Stop sending to a member removed from the cluster. Its connection lives on for
        ``RETIRE_S``, so what is queued (news that its removal committed) still goes out."""
        peer = self._peers.pop(member_id, None)
        if peer is not None and peer.task is not None:
            retiring = asyncio.create_task(_retire(peer.task), name=f"retire peer {member_id:x}")
            self._retiring.add(retiring)
            retiring.add_done_callback(self._retiring.discard)

    async def stop(self) -> None:
        """Stop listening and end every connection and task, within ``TASK_STOP_S`` (rule 7)."""
        if self._server is not None:
            self._server.close()
        if self._learners_timer is not None:
            self._learners_timer.cancel()
        for inbound in list(self._inbound):
            inbound.abort()  # nothing more is read from it
        tasks = [p.task for p in self._peers.values() if p.task] + list(self._retiring)
        stuck = await cancel_and_wait(tasks)
        if stuck:
            log.error("peer tasks did not stop; abandoned", tasks=stuck)

    def _inbound_connection(self) -> _Inbound:
        return _Inbound(self._deliver, self._inbound)
