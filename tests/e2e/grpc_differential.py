"""Differential testing kit over gRPC: the same calls to a real etcd 3.4 and to confagent, answers compared.

A client here is what any gRPC client is: a grpcio channel calling methods by
path with the messages of ``confagent.wire._pb`` (no generated stubs). An
answer is its status code, its details and its messages as protobuf's own JSON
form (field names as in the .proto files, int64 as strings, zero fields left
out), with what legitimately differs between two servers dropped: cluster and
member IDs and the Raft term in headers, and whatever a test names in ``mask``.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import pytest
from google.protobuf import message_factory
from google.protobuf.descriptor import MethodDescriptor
from google.protobuf.json_format import MessageToDict
from google.protobuf.message import Message

from confagent.testing import Processes, ServerProcess
from confagent.wire._pb import health_pb2, rpc_pb2, v3election_pb2, v3lock_pb2

Json = Any
Metadata = tuple[tuple[str, str], ...]
"""A call's metadata (``(("token", token),)`` for a signed-in call)."""
CALL_TIMEOUT_S = 10.0
VOLATILE_HEADER_FIELDS = frozenset({"cluster_id", "member_id", "raft_term"})
_FILES = (rpc_pb2.DESCRIPTOR, v3lock_pb2.DESCRIPTOR, v3election_pb2.DESCRIPTOR, health_pb2.DESCRIPTOR)


def method(path: str) -> MethodDescriptor:
    """The method at ``/package.Service/Method``."""
    service_name, name = path.strip("/").split("/")
    for file in _FILES:
        for service in file.services_by_name.values():
            if service.full_name == service_name:
                return service.methods_by_name[name]
    raise KeyError(path)


def response_type(path: str) -> type[Message]:
    """The class of the messages the method at ``path`` answers."""
    return message_factory.GetMessageClass(method(path).output_type)


def as_json(message: Message) -> Json:
    """protobuf's own JSON form of ``message``, field names as the .proto spells them."""
    return MessageToDict(message, preserving_proto_field_name=True)


def normalize(value: Json, mask: Iterable[str] = ()) -> Json:
    """Drop the header fields two servers disagree on and the fields named in ``mask``, anywhere."""
    masked = frozenset(mask)
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            if key in masked:
                continue
            kept = item
            if key == "header" and isinstance(item, dict):
                kept = {k: v for k, v in item.items() if k not in VOLATILE_HEADER_FIELDS}
            out[key] = normalize(kept, masked)
        return out
    if isinstance(value, list):
        return [normalize(item, masked) for item in value]
    return value


@dataclass(frozen=True)
class Answer:
    """A call's status, details and messages (protobuf JSON), as one server gave them."""

    code: grpc.StatusCode
    details: str
    messages: tuple[Json, ...]

    def normalized(self, mask: Iterable[str] = ()) -> tuple[str, str, Json]:
        return self.code.name, self.details, normalize(list(self.messages), mask)

    @property
    def body(self) -> Json:
        """The one message of a unary call's answer (None after an error)."""
        return self.messages[0] if self.messages else None


def _error_answer(error: grpc.RpcError, messages: list[Json]) -> Answer:
    assert isinstance(error, grpc.Call)
    return Answer(error.code(), error.details() or "", tuple(messages))


class Server:
    """One server's channel; unary and server-streaming calls by path."""

    def __init__(self, url: str, channel: grpc.Channel | None = None) -> None:
        self.url = url
        self.channel = channel or grpc.insecure_channel(url.removeprefix("http://"),
                                                        options=[("grpc.use_local_subchannel_pool", 1)])

    def close(self) -> None:
        self.channel.close()

    def unary(self, path: str, request: Message | bytes, timeout_s: float = CALL_TIMEOUT_S,
              metadata: Metadata = ()) -> Answer:
        parse = response_type(path).FromString
        call = self.channel.unary_unary(path, request_serializer=_serializer, response_deserializer=parse)
        try:
            answer = call(request, timeout=timeout_s, metadata=metadata)
            return Answer(grpc.StatusCode.OK, "", (as_json(answer),))
        except grpc.RpcError as error:
            return _error_answer(error, [])

    def stream(self, path: str, requests: Iterable[Message | bytes], *, count: int | None = None,
               timeout_s: float = CALL_TIMEOUT_S, bidi: bool = False, metadata: Metadata = ()) -> Answer:
        """A streaming call: ``requests`` sent (then half-closed), answers read until the end or ``count``.
        ``bidi``: sent as a client stream whatever the method is (any number of request messages)."""
        descriptor = method(path)
        parse = response_type(path).FromString
        if descriptor.client_streaming or bidi:
            call = self.channel.stream_stream(path, request_serializer=_serializer,
                                              response_deserializer=parse)
            responses = call(iter(list(requests)), timeout=timeout_s, metadata=metadata)
        else:
            call_one = self.channel.unary_stream(path, request_serializer=_serializer,
                                                 response_deserializer=parse)
            responses = call_one(next(iter(requests)), timeout=timeout_s, metadata=metadata)
        messages: list[Json] = []
        try:
            for response in responses:
                messages.append(as_json(response))
                if count is not None and len(messages) >= count:
                    responses.cancel()
                    return Answer(grpc.StatusCode.OK, "", tuple(messages))
        except grpc.RpcError as error:
            return _error_answer(error, messages)
        return Answer(grpc.StatusCode.OK, "", tuple(messages))


def _serializer(message: Message | bytes) -> bytes:
    return message if isinstance(message, bytes) else message.SerializeToString()


class GrpcPair:
    """A real etcd and a confagent store, the same call to both."""

    def __init__(self, etcd_url: str, ours_url: str, *, etcd_channel: grpc.Channel | None = None,
                 ours_channel: grpc.Channel | None = None) -> None:
        self.etcd = Server(etcd_url, etcd_channel)
        self.ours = Server(ours_url, ours_channel)

    def close(self) -> None:
        self.etcd.close()
        self.ours.close()

    def both(self, path: str, request: Message | bytes) -> tuple[Answer, Answer]:
        return self.etcd.unary(path, request), self.ours.unary(path, request)

    def same(self, path: str, request: Message | bytes, *, mask: Iterable[str] = ()) -> Answer:
        """Send to both; assert equal answers (``mask``'s fields and the volatile header fields aside);
        return etcd's."""
        theirs, ours = self.both(path, request)
        assert_same(path, request, theirs, ours, mask)
        return theirs

    def same_as(self, who: Who, path: str, request: Message | bytes, *, mask: Iterable[str] = ()) -> Answer:
        """:meth:`same`, the call made as ``who`` on each server."""
        theirs = self.etcd.unary(path, request, metadata=who.etcd)
        ours = self.ours.unary(path, request, metadata=who.ours)
        assert_same(f"{path} as {who.name}", request, theirs, ours, mask)
        return theirs

    def same_stream(self, path: str, requests: Iterable[Message | bytes], *, count: int | None = None,
                    mask: Iterable[str] = ()) -> Answer:
        sent = list(requests)
        theirs = self.etcd.stream(path, sent, count=count)
        ours = self.ours.stream(path, sent, count=count)
        assert_same(path, sent, theirs, ours, mask)
        return theirs


def assert_same(path: str, request: object, theirs: Answer, ours: Answer, mask: Iterable[str] = ()) -> None:
    masked = list(mask)
    assert ours.normalized(masked) == theirs.normalized(masked), (
        f"{path} {request!r}:\nours: {ours}\netcd: {theirs}")


@dataclass
class Who:
    """A caller of a pair: the metadata its calls carry to etcd and to confagent (tokens differ)."""

    name: str
    etcd: Metadata = ()
    ours: Metadata = ()


def sign_in(pair: GrpcPair, name: str, password: str) -> Who:
    """``name`` signed in on both servers (Authenticate's answers compared, tokens aside)."""
    request = rpc_pb2.AuthenticateRequest(name=name, password=password)
    theirs, ours = pair.both("/etcdserverpb.Auth/Authenticate", request)
    assert_same("Authenticate", name, theirs, ours, ["token"])
    return Who(name, (("token", theirs.body["token"]),), (("token", ours.body["token"]),))


def start_pair(base: Path, processes: Processes, *, store_args: tuple[str, ...] = (),
               etcd_args: tuple[str, ...] = ()) -> tuple[ServerProcess, ServerProcess]:
    """A fresh etcd and a fresh confagent store, started concurrently."""
    with ThreadPoolExecutor(2) as pool:
        etcd = pool.submit(processes.etcd, base / "etcd", args=etcd_args)
        ours = pool.submit(processes.store, base / "ours", args=store_args)
        return etcd.result(), ours.result()


def pair_fixture(tmp_path_factory: pytest.TempPathFactory, processes: Processes,
                 args: tuple[str, ...] = ()) -> Iterator[GrpcPair]:
    """The body of a module's pair fixture: one etcd and one store for the module (``args`` to both),
    stopped after it."""
    etcd, ours = start_pair(tmp_path_factory.mktemp("grpc-pair"), processes, store_args=args, etcd_args=args)
    pair = GrpcPair(etcd.url, ours.url)
    try:
        yield pair
    finally:
        pair.close()
        ours.stop()
        etcd.stop()


class Stream:
    """A bidirectional call held open: messages sent one at a time, answers read as they come."""

    def __init__(self, server: Server, path: str, timeout_s: float = 60.0, metadata: Metadata = ()) -> None:
        self._requests: queue.Queue[Message | bytes | None] = queue.Queue()
        self._answers: queue.Queue[Json | Answer] = queue.Queue()
        call = server.channel.stream_stream(path, request_serializer=_serializer,
                                            response_deserializer=response_type(path).FromString)
        self.call = call(iter(self._requests.get, None), timeout=timeout_s, metadata=metadata)
        self.end: Answer | None = None
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        try:
            for response in self.call:
                self._answers.put(as_json(response))
            self._answers.put(Answer(grpc.StatusCode.OK, "", ()))
        except grpc.RpcError as error:
            self._answers.put(_error_answer(error, []))

    def send(self, message: Message | bytes) -> None:
        self._requests.put(message)

    def done_writing(self) -> None:
        self._requests.put(None)

    def read(self, count: int, timeout_s: float = CALL_TIMEOUT_S) -> list[Json]:
        """The next ``count`` answers, fewer if the call ends (then ``end`` is set) or by ``timeout_s``."""
        messages: list[Json] = []
        deadline = time.monotonic() + timeout_s
        while len(messages) < count and self.end is None:
            try:
                answer = self._answers.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                break
            if isinstance(answer, Answer):
                self.end = answer
            else:
                messages.append(answer)
        return messages

    def read_until(self, done: Callable[[list[Json]], bool], timeout_s: float = CALL_TIMEOUT_S) -> list[Json]:
        """Answers until ``done(answers so far)``, the call's end or ``timeout_s``."""
        messages: list[Json] = []
        deadline = time.monotonic() + timeout_s
        while not done(messages) and self.end is None and time.monotonic() < deadline:
            messages += self.read(1, max(0.0, deadline - time.monotonic()))
        return messages

    def finish(self) -> Answer:
        """Half-close, read to the end; the call's status."""
        self.done_writing()
        self.read_until(lambda _: False)
        assert self.end is not None, "the call did not end"
        return self.end

    def cancel(self) -> None:
        self.call.cancel()
