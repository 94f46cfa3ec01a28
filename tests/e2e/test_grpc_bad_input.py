"""Bad input through gRPC, against a real etcd 3.4 and confagent alike: malformed messages (unary and
inside streams), unknown services and methods, messages past the receive limit, streams abandoned
half-way, a client that never reads its watch stream. After each, both servers keep serving and hold
no watcher the client left behind (``etcd_debugging_mvcc_watcher_total`` on /metrics, both servers'
name for it).
"""

from __future__ import annotations

import socket
import struct
from collections.abc import Iterator

import grpc
import hpack
import httpx
import pytest

from confagent.testing import DEADLINE_S, Processes, until
from confagent.wire._pb import health_pb2, rpc_pb2, v3election_pb2, v3lock_pb2
from tests.e2e.grpc_differential import Answer, GrpcPair, Server, Stream, pair_fixture

RANGE = "/etcdserverpb.KV/Range"
PUT = "/etcdserverpb.KV/Put"
WATCH = "/etcdserverpb.Watch/Watch"
KEEPALIVE = "/etcdserverpb.Lease/LeaseKeepAlive"
OBSERVE = "/v3electionpb.Election/Observe"
UNMARSHAL = ("grpc: error unmarshalling request: ", "grpc: failed to unmarshal the received message ")
MALFORMED = b"\x0a\xff\x01abc"  # field 1, length-delimited, 255 bytes announced, 3 sent


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory, session_processes: Processes,
         etcd_binary: str) -> Iterator[GrpcPair]:
    yield from pair_fixture(tmp_path_factory, session_processes)


def metric(server: Server, name: str) -> float:
    text = httpx.get(server.url + "/metrics", timeout=10).text
    return sum(float(line.split()[-1]) for line in text.splitlines() if line.startswith(name + " "))


def watchers(server: Server) -> float:
    return metric(server, "etcd_debugging_mvcc_watcher_total")


def _serving(pair: GrpcPair) -> None:
    """Each server still answers a write and a read, and holds no watcher."""
    pair.same(PUT, rpc_pb2.PutRequest(key=b"alive", value=b"yes"))
    pair.same(RANGE, rpc_pb2.RangeRequest(key=b"alive"))
    for server in (pair.etcd, pair.ours):
        until(lambda s=server: watchers(s) == 0, f"no watcher left at {server.url}")


def _same_refusal(theirs: Answer, ours: Answer) -> None:
    """Same code; the same details, but for the parser's own words after grpc-go's."""
    assert ours.code == theirs.code, (ours, theirs)
    words = [w for w in UNMARSHAL if theirs.details.startswith(w)]
    if words:
        assert ours.details.startswith(words[0]), (ours, theirs)
    else:
        assert ours.details == theirs.details


@pytest.mark.parametrize("path", [
    RANGE, PUT, "/etcdserverpb.KV/Txn", "/etcdserverpb.Lease/LeaseGrant",
    "/etcdserverpb.Cluster/MemberAdd",
    "/etcdserverpb.Maintenance/Alarm", "/etcdserverpb.Maintenance/Status", "/v3lockpb.Lock/Lock",
    "/v3electionpb.Election/Campaign", "/grpc.health.v1.Health/Check", "/etcdserverpb.Auth/UserGet",
])
def test_a_malformed_message_is_refused_and_nothing_changes(pair: GrpcPair, path: str) -> None:
    theirs, ours = pair.both(path, MALFORMED)
    assert theirs.code == grpc.StatusCode.INTERNAL
    _same_refusal(theirs, ours)
    _serving(pair)


@pytest.mark.parametrize("path", [WATCH, KEEPALIVE])
def test_a_malformed_message_inside_a_stream_ends_it(pair: GrpcPair, path: str) -> None:
    first = rpc_pb2.WatchRequest(create_request=rpc_pb2.WatchCreateRequest(key=b"w")) if path == WATCH \
        else rpc_pb2.LeaseKeepAliveRequest(ID=1)
    theirs, ours = (server.stream(path, [first, MALFORMED]) for server in (pair.etcd, pair.ours))
    _same_refusal(theirs, ours)
    if path == KEEPALIVE:  # answered in turn; a watch's 'created' may or may not precede the end
        assert len(ours.messages) == len(theirs.messages) == 1
    _serving(pair)


@pytest.mark.parametrize("path", [
    "/etcdserverpb.Maintenance/Snapshot", OBSERVE, "/grpc.health.v1.Health/Watch"])
def test_a_malformed_request_of_a_server_stream(pair: GrpcPair, path: str) -> None:
    theirs, ours = (server.stream(path, [MALFORMED]) for server in (pair.etcd, pair.ours))
    _same_refusal(theirs, ours)
    _serving(pair)


@pytest.mark.parametrize("path", ["/etcdserverpb.KV/Nothing", "/etcdserverpb.Nothing/Range", "/x", "/",
                                  "//", "/etcdserverpb.KV/Range/"])
def test_unknown_services_and_methods(pair: GrpcPair, path: str) -> None:
    theirs, ours = (server.channel.unary_unary(path) for server in (pair.etcd, pair.ours))
    answers = []
    for call in (theirs, ours):
        try:
            call(b"", timeout=10)
            answers.append((grpc.StatusCode.OK, ""))
        except grpc.RpcError as error:
            assert isinstance(error, grpc.Call)
            answers.append((error.code(), error.details()))
    assert answers[1] == answers[0]
    _serving(pair)


@pytest.mark.parametrize("path", [PUT, WATCH, "/etcdserverpb.KV/Nothing"])
def test_a_compressed_call(pair: GrpcPair, path: str) -> None:
    """A client compressing with gzip: grpc-go's refusal (etcd installs no decompressor), or the
    unknown method's first."""
    answers = []
    for server in (pair.etcd, pair.ours):
        with grpc.insecure_channel(server.url.removeprefix("http://"), compression=grpc.Compression.Gzip,
                                   options=[("grpc.use_local_subchannel_pool", 1)]) as channel:
            call = channel.unary_unary(path, request_serializer=rpc_pb2.PutRequest.SerializeToString)
            try:
                call(rpc_pb2.PutRequest(key=b"gz", value=b"v" * 1000), timeout=10)
                answers.append((grpc.StatusCode.OK, ""))
            except grpc.RpcError as error:
                assert isinstance(error, grpc.Call)
                answers.append((error.code(), error.details()))
    assert answers[1] == answers[0]
    assert answers[0][0] == grpc.StatusCode.UNIMPLEMENTED
    _serving(pair)


@pytest.mark.parametrize(("path", "count"), [
    (RANGE, 0), (RANGE, 2), ("/grpc.health.v1.Health/Check", 0),
    ("/etcdserverpb.Maintenance/Snapshot", 0), ("/etcdserverpb.Maintenance/Snapshot", 2)])
def test_a_call_sending_no_message_or_more_than_one(pair: GrpcPair, path: str, count: int) -> None:
    """A unary call or a server stream whose client half-closes before a message ('EOF'), or sends two
    (the first is the request)."""
    empty = b""  # every message of these calls may be empty
    answers = [server.stream(path, [empty] * count, bidi=True) for server in (pair.etcd, pair.ours)]
    assert answers[1].code == answers[0].code and answers[1].details == answers[0].details, answers
    if "Snapshot" not in path:  # a snapshot's chunks are as many as its size needs
        assert len(answers[1].messages) == len(answers[0].messages), answers
    _serving(pair)


def test_messages_past_the_receive_limit(pair: GrpcPair) -> None:
    big = rpc_pb2.PutRequest(key=b"big", value=b"v" * (3 * 1024 * 1024))
    pair.same(PUT, big)
    watch = rpc_pb2.WatchRequest(create_request=rpc_pb2.WatchCreateRequest(key=b"k" * (3 * 1024 * 1024)))
    theirs, ours = (server.stream(WATCH, [watch]) for server in (pair.etcd, pair.ours))
    assert (ours.code, ours.details) == (theirs.code, theirs.details)
    assert theirs.code.name == "RESOURCE_EXHAUSTED"
    _serving(pair)


def test_streams_abandoned_half_way_leave_nothing_behind(pair: GrpcPair) -> None:
    """A client cancels its calls, another closes its channel with calls open: no watcher, observer or
    keep-alive is left, and both servers serve on."""
    pair.same("/etcdserverpb.Lease/LeaseGrant", rpc_pb2.LeaseGrantRequest(TTL=60, ID=77))
    pair.same("/v3electionpb.Election/Campaign",
              v3election_pb2.CampaignRequest(name=b"ab", lease=77, value=b"v"))
    for close_channel in (False, True):
        for server in (pair.etcd, pair.ours):
            client = Server(server.url)
            streams = [Stream(client, WATCH), Stream(client, KEEPALIVE), Stream(client, OBSERVE)]
            for watch_id in range(3):
                streams[0].send(rpc_pb2.WatchRequest(create_request=rpc_pb2.WatchCreateRequest(
                    key=b"ab/%d" % watch_id)))
            streams[1].send(rpc_pb2.LeaseKeepAliveRequest(ID=77))
            streams[2].send(v3election_pb2.LeaderRequest(name=b"ab"))
            assert [len(s.read(n)) for s, n in zip(streams, (3, 1, 1), strict=True)] == [3, 1, 1]
            until(lambda s=server: watchers(s) >= 4, f"the watchers counted at {server.url}")
            if close_channel:
                client.close()
            else:
                for stream in streams:
                    stream.cancel()
                client.close()
        _serving(pair)
    pair.same("/etcdserverpb.Lease/LeaseRevoke", rpc_pb2.LeaseRevokeRequest(ID=77))
    pair.same("/v3lockpb.Lock/Unlock", v3lock_pb2.UnlockRequest(key=b"none"))
    pair.same("/grpc.health.v1.Health/Check", health_pb2.HealthCheckRequest())


def test_a_deadline_ends_a_watch_and_a_snapshot_abandoned_half_way(pair: GrpcPair) -> None:
    """A watch stream whose deadline passes ends DEADLINE_EXCEEDED and leaves no watcher; a snapshot
    stream cancelled after its first message leaves the member serving."""
    for server in (pair.etcd, pair.ours):
        pair.same(PUT, rpc_pb2.PutRequest(key=b"snap/%d" % len(server.url), value=b"v" * 100_000))
    create = rpc_pb2.WatchRequest(create_request=rpc_pb2.WatchCreateRequest(key=b"deadline"))
    ends = [Stream(server, WATCH, timeout_s=1.0) for server in (pair.etcd, pair.ours)]
    for stream in ends:
        stream.send(create)
    for stream in ends:
        stream.read_until(lambda _: False, timeout_s=30)
    # The client's deadline, or the server's when its trailers come first: etcd's watch then ends
    # UNKNOWN 'context deadline exceeded' (its handler's context error), ours DEADLINE_EXCEEDED.
    for stream in ends:
        assert stream.end is not None, "the call did not end"
        assert stream.end.code == grpc.StatusCode.DEADLINE_EXCEEDED or (
            stream.end.code, stream.end.details) == (grpc.StatusCode.UNKNOWN, "context deadline exceeded"), (
            [stream.end for stream in ends])
    for server in (pair.etcd, pair.ours):
        first = server.stream("/etcdserverpb.Maintenance/Snapshot", [rpc_pb2.SnapshotRequest()], count=1,
                              timeout_s=60)
        assert (first.code, len(first.messages)) == (grpc.StatusCode.OK, 1), (server.url, first.details)
    _serving(pair)


# -- a client that never reads ------------------------------------------------------------------
def _frame(kind: int, flags: int, stream_id: int, payload: bytes) -> bytes:
    return struct.pack(">I", len(payload))[1:] + bytes((kind, flags)) + struct.pack(">I", stream_id) + payload


def _literal(name: bytes, value: bytes) -> bytes:
    """HPACK: a literal header field without indexing, new name, no Huffman (lengths under 127)."""
    return b"\x00" + bytes((len(name),)) + name + bytes((len(value),)) + value


def _never_reading_watch(url: str, request: rpc_pb2.WatchRequest) -> socket.socket:
    """A raw HTTP/2 connection that opens a Watch, sends ``request`` and then reads nothing: it never
    grants flow-control credit, nor drains its socket."""
    host, port = url.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)), timeout=10)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    headers = b"".join(_literal(n, v) for n, v in (
        (b":method", b"POST"), (b":scheme", b"http"), (b":path", WATCH.encode()),
        (b":authority", f"{host}:{port}".encode()), (b"content-type", b"application/grpc"),
        (b"te", b"trailers")))
    message = request.SerializeToString()
    data = b"\0" + struct.pack(">I", len(message)) + message
    sock.sendall(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + _frame(4, 0, 0, b"") + _frame(1, 4, 1, headers)
                 + _frame(0, 0, 1, data))
    return sock


def test_a_client_that_never_reads_its_watch_stream(pair: GrpcPair) -> None:
    """Many events for a watch whose client reads nothing: the member serves other clients meanwhile,
    holds the slow watcher unsynced instead of queueing its events without bound, and lets it go
    when the client leaves."""
    create = rpc_pb2.WatchRequest(create_request=rpc_pb2.WatchCreateRequest(key=b"slow/",
                                                                            range_end=b"slow0"))
    stuck = [_never_reading_watch(server.url, create) for server in (pair.etcd, pair.ours)]
    try:
        for server in (pair.etcd, pair.ours):
            until(lambda s=server: watchers(s) == 1, f"the stuck watcher at {server.url}")
        others = [Stream(server, WATCH) for server in (pair.etcd, pair.ours)]
        for other in others:
            other.send(rpc_pb2.WatchRequest(create_request=rpc_pb2.WatchCreateRequest(key=b"slow/last")))
            assert other.read(1)[0]["created"]
        value = b"v" * 8192  # past what the stream may hold: its 4 MiB of replies and 256 queued
        for i in range(1500):
            for server in (pair.etcd, pair.ours):
                put = rpc_pb2.PutRequest(key=b"slow/%d" % (i % 50), value=value)
                assert server.unary(PUT, put).code.name == "OK"
        pair.same(PUT, rpc_pb2.PutRequest(key=b"slow/last", value=b"end"))
        for other in others:
            assert [e["kv"]["value"] for m in other.read(1) for e in m["events"]] == ["ZW5k"]
            other.cancel()
        assert metric(pair.ours, "etcd_debugging_mvcc_slow_watcher_total") == 1
    finally:
        for sock in stuck:
            sock.close()
    _serving(pair)


_SETTINGS = _frame(4, 0, 0, b"")
_RANGE_HEADERS = b"".join(_literal(n, v) for n, v in (
    (b":method", b"POST"), (b":scheme", b"http"), (b":path", RANGE.encode()), (b":authority", b"x"),
    (b"content-type", b"application/grpc"), (b"te", b"trailers")))


@pytest.mark.parametrize("after_preface", [
    bytes(range(256)) * 4,  # not frames at all
    _SETTINGS + _frame(1, 4, 1, b"\xff" * 40),  # a header block HPACK cannot read
    _SETTINGS + _frame(0, 1, 1, b"\0\0\0\0\0"),  # DATA on a stream never opened
    _SETTINGS + _frame(1, 4, 1, _RANGE_HEADERS) + _frame(0, 1, 1, b"\0\0\0\0\x64abc"),  # a cut message
    _SETTINGS + _frame(1, 4, 2, _RANGE_HEADERS),  # an even (server-side) stream id
    _SETTINGS + _frame(8, 0, 0, b"\0\0\0\0"),  # a window update of 0
    b"",  # the preface, then nothing
], ids=["garbage", "bad-hpack", "data-first", "cut-message", "even-stream", "zero-window", "preface-only"])
def test_broken_http2_leaves_the_member_serving(pair: GrpcPair, after_preface: bytes) -> None:
    """Bytes no HTTP/2 client sends, each on its own connection then closed: each server keeps
    serving others."""
    for server in (pair.etcd, pair.ours):
        host, port = server.url.removeprefix("http://").split(":")
        with socket.create_connection((host, int(port)), timeout=10) as sock:
            sock.sendall(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + after_preface)
            sock.settimeout(0.5)
            try:
                while sock.recv(65536):
                    pass  # whatever it answers, until it closes or goes quiet
            except (TimeoutError, ConnectionResetError):
                pass
    _serving(pair)


def _raw_status(url: str, after_preface: bytes) -> list[tuple[str, str]]:
    """What a raw HTTP/2 client reads on stream 1 after sending ``after_preface``: its content type,
    status and message (grpc-go sends an empty one) once the stream ends, or a reset's error code (zttp
    resets again, STREAM_CLOSED, at frames that follow on a stream it reset; grpc-go ignores them:
    only the first reset counts); empty if the connection ends first."""
    host, port = url.removeprefix("http://").split(":")
    decoder, fields, data = hpack.Decoder(), [], b""
    with socket.create_connection((host, int(port)), timeout=DEADLINE_S) as sock:
        sock.sendall(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + after_preface)
        while chunk := sock.recv(65536):
            data += chunk
            while len(data) >= 9 and len(data) >= 9 + int.from_bytes(data[:3], "big"):
                size, kind, flags = int.from_bytes(data[:3], "big"), data[3], data[4]
                payload, on_1, data = data[9:9 + size], int.from_bytes(data[5:9], "big") == 1, data[9 + size:]
                if kind == 1 and on_1:  # HEADERS: every one decoded, the table is the connection's
                    fields += [(n, v) for n, v in decoder.decode(payload)
                               if n in ("content-type", "grpc-status", "grpc-message")]
                    if flags & 1:
                        return fields
                elif kind == 1:
                    decoder.decode(payload)
                elif kind == 3 and on_1:
                    return [*fields, ("RST_STREAM", payload.hex())]
    return fields


@pytest.mark.parametrize("body", [
    _frame(0, 1, 1, b"\0\0\0\0\x64abc"),  # a message cut by the end of its stream
    _frame(0, 1, 1, b"\0\0\0"),  # half a message prefix
    _frame(0, 1, 1, b""),  # no message
    _frame(0, 1, 1, b"\x01\0\0\0\x01x"),  # flagged compressed, no grpc-encoding named
], ids=["cut-message", "cut-prefix", "no-message", "flagged-compressed"])
def test_a_unary_calls_broken_body_gets_etcds_status(pair: GrpcPair, body: bytes) -> None:
    theirs, ours = (_raw_status(server.url, _SETTINGS + _frame(1, 4, 1, _RANGE_HEADERS) + body)
                    for server in (pair.etcd, pair.ours))
    assert ours == theirs and theirs
    _serving(pair)


def _headers(**changed: str | None) -> bytes:
    fields = {":method": "POST", ":scheme": "http", ":path": RANGE, ":authority": "x",
              "content-type": "application/grpc", "te": "trailers", **changed}
    return b"".join(_literal(n.encode(), v.encode()) for n, v in fields.items() if v is not None)


@pytest.mark.parametrize("changed", [
    {"content-type": "text/plain"}, {"content-type": None}, {"content-type": "application/grpc+proto"},
    {"content-type": "application/grpc;proto"}, {"content-type": "application/grpc+"},
    {"content-type": "application/grpcx"}, {"te": None}, {":method": "GET"},
    {"grpc-timeout": "abc"}, {"grpc-timeout": "5"}, {"grpc-timeout": "123456789S"}, {"grpc-timeout": "5X"},
    {"grpc-timeout": "99999999H"}, {"grpc-encoding": "identity"},
], ids=lambda changed: "-".join(f"{k}={v}" for k, v in changed.items()))
def test_request_headers_read_as_grpc_go_reads_them(pair: GrpcPair, changed: dict[str, str | None]) -> None:
    """A call with headers no gRPC library sends: reset as no gRPC call, or served, as etcd does."""
    message = _frame(0, 1, 1, b"\0\0\0\0\x03\x0a\x01a")  # Range of "a", then the stream's end
    theirs, ours = (_raw_status(server.url, _SETTINGS + _frame(1, 4, 1, _headers(**changed)) + message)
                    for server in (pair.etcd, pair.ours))
    assert ours == theirs and theirs
    _serving(pair)


_CUT_BODIES = {"cut-message": b"\0\0\0\0\x64abc", "cut-prefix": b"\0\0\0", "none": b""}


@pytest.mark.parametrize(("path", "body"), [
    pytest.param(path, body, id=f"{path.rpartition('/')[2]}-{name}")
    for path in (WATCH, KEEPALIVE, "/etcdserverpb.Maintenance/Snapshot", OBSERVE)
    for name, body in _CUT_BODIES.items() if (path, name) != (WATCH, "none")])  # a watch stays open
def test_a_streaming_calls_broken_body_gets_etcds_status(pair: GrpcPair, path: str, body: bytes) -> None:
    """A streaming call whose client ends half-way through a message, or sends none."""
    theirs, ours = (_raw_status(server.url, _SETTINGS + _frame(1, 4, 1, _headers(**{":path": path}))
                                + _frame(0, 1, 1, body)) for server in (pair.etcd, pair.ours))
    assert ours == theirs and theirs
    _serving(pair)
