"""The etcd v3.4 JSON gateway as a raw ASGI application.

Paths, methods, statuses and bodies follow etcd's grpc-gateway as recorded in
shared/reference/etcd-v3-json.md: every RPC is ``POST /v3/<service>/<method>``,
``/v3beta/`` is the same API, errors are ``{"error","message","code"}`` with the
gateway's HTTP status, and plain ``GET /version``, ``/health``, ``/metrics``.
The unary handlers take a decoded JSON object and return a JSON-ready dict;
watch and lease keep-alive are streams (``_streams.py``); the lock and
election paths are a front of their own over the member's services
(``_lock_api.py``). On a learner member, ``/v3/`` requests pass
``_learner.py``'s table first, which refuses most of them.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any, cast

import orjson

from confagent import auth, wire
from confagent.errors import StoreError
from confagent.server.api._asgi import (
    JSON,
    PROMETHEUS,
    TEXT,
    BodyTooLarge,
    Receive,
    Scope,
    Send,
    read_body,
    send_bytes,
)
from confagent.server.api._handling import AuthAnswer, Handling, json_header
from confagent.server.api._learner import check_served_by_learner, refuse_stream
from confagent.server.api._limits import message_too_large
from confagent.server.api._lock_api import WAITING_PATHS, ClientLeft, LockApi, while_connected
from confagent.server.api._member_api import MemberApi
from confagent.server.api._metrics import Metrics
from confagent.server.api._snapshot_stream import SnapshotStream
from confagent.server.api._streams import StreamHandlers
from confagent.server.node import CALLER, Caller, answered

__all__ = ["GatewayApp"]

Json = dict[str, Any]
UnaryHandler = Callable[[bytes], Awaitable[Json]]

HEALTH_PUBLISH_WAIT_S = 1.0
"""How long ``/health`` on a member just started waits for its publish entry to be applied."""
HEALTH_PROGRESS_WAIT_S = 1.0
"""How long ``/health`` waits for its probe entry to be applied (etcd's quorum get: 1 s)."""

BODY_LIMIT_BYTES = 8 * 1024 * 1024
"""Bodies past this are refused unread; smaller ones are decoded and measured as etcd does."""


class GatewayApp:
    """ASGI callable serving the etcd JSON API of one store member."""

    def __init__(self, handling: Handling, metrics: Metrics, progress_interval_s: float) -> None:
        self.h = handling
        self.node = node = handling.node
        self.info = handling.info
        self.metrics = metrics
        self._streams = StreamHandlers(node, self._header, progress_interval_s, handling.watch_guard)
        self._locks = LockApi(handling, self._header)
        self._downloads: dict[str, Callable[[Receive, Send], Awaitable[None]]] = {
            "/v3/maintenance/snapshot": SnapshotStream(handling.snapshot_image),
            "/v3/election/observe": self._locks.observe,
        }
        self._unary: dict[str, UnaryHandler] = {
            "/v3/kv/range": self._range,
            "/v3/kv/put": self._put,
            "/v3/kv/deleterange": self._delete_range,
            "/v3/kv/txn": self._txn,
            "/v3/kv/compaction": self._compaction,
            "/v3/lease/grant": self._lease_grant,
            "/v3/lease/revoke": self._lease_revoke,
            "/v3/kv/lease/revoke": self._lease_revoke,
            "/v3/lease/timetolive": self._lease_time_to_live,
            "/v3/kv/lease/timetolive": self._lease_time_to_live,
            "/v3/lease/leases": self._lease_leases,
            "/v3/kv/lease/leases": self._lease_leases,
            "/v3/maintenance/status": self._status,
            "/v3/maintenance/alarm": self._alarm,
            "/v3/maintenance/defragment": self._defragment,
            "/v3/maintenance/hash": self._hash,
            "/v3/maintenance/transfer-leadership": self._move_leader,
        }
        self._unary.update({path: self._auth_call(method) for path, method in wire.AUTH_PATHS.items()})
        self._unary.update(MemberApi(handling).handlers())
        self._unary.update(self._locks.handlers())
        self._plain: dict[str, Callable[[], Awaitable[tuple[int, bytes, bytes]]]] = {
            "/version": self._version,
            "/health": self._health,
            "/metrics": self._metrics,
        }

    def close_streams(self) -> None:
        """End the open watch, keepalive and observe streams: the member is stopping."""
        self._streams.close()
        self._locks.close()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        path: str = scope["path"]
        if path.startswith("/v3beta/"):
            path = "/v3/" + path[len("/v3beta/"):]
        method: str = scope["method"]
        if path.startswith("/v3/") and _certificate_named(scope) and self.node.auth.enabled:
            await send_bytes(send, 400, _CERTIFICATE_NAMED, content_type=TEXT)  # before CORS, as etcd
        elif method == "OPTIONS":
            await send_bytes(send, 200, b"", content_type=None)
        elif path.startswith("/v3/"):
            token = _authorization(scope)
            if token:  # who calls, for this request's task (``node's CALLER``), once the member can tell
                CALLER.set(Caller(token))
                wait = self.node.token_wait(token)
                if wait is not None:
                    await wait
            await self._gateway(path, method, receive, send)
        elif path in self._plain and method in ("GET", "HEAD"):
            status, body, content_type = await self._plain[path]()
            await send_bytes(send, status, body, content_type=content_type)
        else:
            await send_bytes(send, 404, b"404 page not found\n", content_type=TEXT)

    async def _gateway(self, path: str, method: str, receive: Receive, send: Send) -> None:
        handler = self._unary.get(path)
        stream = self._streams.get(path) or self._downloads.get(path)
        if handler is None and stream is None:
            await send_bytes(send, 404, b"Not Found\n", content_type=TEXT)
        elif method != "POST":
            await send_bytes(send, 405, b"Method Not Allowed\n", content_type=TEXT)
        elif stream is not None and self.node.is_learner:
            await refuse_stream(path, receive, send)
        elif stream is not None:
            await stream(receive, send)
        else:
            assert handler is not None
            await self._serve_unary(path, handler, receive, send)

    async def _serve_unary(self, path: str, handler: UnaryHandler, receive: Receive,
                           send: Send) -> None:
        try:
            body = await read_body(receive, BODY_LIMIT_BYTES)
            if self.node.is_learner:
                check_served_by_learner(path, body)
            if path in WAITING_PATHS:
                reply = await while_connected(receive, handler(body))
            else:
                reply = await handler(body)
        except ClientLeft:
            return
        except BodyTooLarge as too_large:
            await self._send_error(send, path, message_too_large(too_large.size * 3 // 4))
            return
        except StoreError as error:
            await self._send_error(send, path, error)
            return
        self.metrics.request(path, 200)
        await send_bytes(send, 200, orjson.dumps(reply))

    async def _send_error(self, send: Send, path: str, error: StoreError) -> None:
        self.metrics.request(path, error.http_status)
        await send_bytes(send, error.http_status, wire.encode_error_body(error))

    def _header(self, revision: int | None = None) -> Json:
        return json_header(self.h.header(revision))

    # -- kv ---------------------------------------------------------------------------
    async def _range(self, body: bytes) -> Json:
        response, header = await self.h.range(wire.decode_body(body, wire.decode_range_request))
        return wire.encode_range_response(response, json_header(header))

    async def _put(self, body: bytes) -> Json:
        response, header = await answered(self.h.put, wire.decode_body(body, wire.decode_put_request))
        return wire.encode_put_response(response, json_header(header))

    async def _delete_range(self, body: bytes) -> Json:
        request = wire.decode_body(body, wire.decode_delete_range_request)
        response, header = await answered(self.h.delete_range, request)
        return wire.encode_delete_range_response(response, json_header(header))

    async def _txn(self, body: bytes) -> Json:
        response, header = await answered(self.h.txn, wire.decode_body(body, wire.decode_txn_request))
        return wire.encode_txn_response(response, json_header(header), header.revision)

    async def _compaction(self, body: bytes) -> Json:
        header = await answered(self.h.compact, wire.decode_body(body, wire.decode_compaction_request))
        return {"header": json_header(header)}

    def _auth_call(self, method: str) -> UnaryHandler:
        """``/v3/auth/...``: the Auth service's ``method`` (``Handling.auth_call``)."""
        async def call(body: bytes) -> Json:
            request = wire.decode_body(body, partial(wire.decode_auth_request, method))
            answer, header = await self.h.auth_call(method, request)
            return _json_auth_answer(method, answer, json_header(header))
        return call

    # -- leases -----------------------------------------------------------------------
    async def _lease_grant(self, body: bytes) -> Json:
        ttl, lease_id = wire.decode_body(body, wire.decode_lease_grant_request)
        response, header = await self.h.lease_grant(ttl, lease_id)
        return wire.encode_lease_grant_response(response, json_header(header))

    async def _lease_revoke(self, body: bytes) -> Json:
        header = await self.h.lease_revoke(wire.decode_body(body, wire.decode_lease_id))
        return {"header": json_header(header)}

    async def _lease_time_to_live(self, body: bytes) -> Json:
        lease_id, with_keys = wire.decode_body(body, wire.decode_lease_time_to_live_request)
        ttl, header = await self.h.lease_time_to_live(lease_id, with_keys)
        return wire.encode_lease_time_to_live_response(json_header(header), ttl.lease_id, ttl.ttl_s,
                                                       ttl.granted_ttl_s, ttl.keys)

    async def _lease_leases(self, body: bytes) -> Json:
        wire.loads(body)
        lease_ids, header = self.h.lease_leases()
        return wire.encode_lease_leases_response(json_header(header), lease_ids)

    # -- maintenance ------------------------------------------------------------------------
    async def _status(self, body: bytes) -> Json:
        wire.loads(body)
        status, header = self.h.status()
        return wire.encode_status_response(status, json_header(header))

    async def _alarm(self, body: bytes) -> Json:
        wire.loads(body)
        self.h.alarm()
        return {}

    async def _hash(self, body: bytes) -> Json:
        """Hash (etcd's .proto gives HashKV the same path; etcd's gateway answers Hash's)."""
        wire.loads(body)
        hash_value, _, header = self.h.hash_kv(0)
        return {"header": json_header(header), **({"hash": hash_value} if hash_value else {})}

    async def _defragment(self, body: bytes) -> Json:
        wire.loads(body)
        self.h.defragment()
        return {}

    async def _move_leader(self, body: bytes) -> Json:
        await self.h.move_leader(wire.decode_body(body, wire.decode_move_leader_request))
        return {}

    # -- plain HTTP ------------------------------------------------------------------------
    async def _version(self) -> tuple[int, bytes, bytes]:
        body = {"etcdserver": self.info.etcd_version, "etcdcluster": self.info.cluster_version}
        return 200, orjson.dumps(body), JSON

    async def _health(self) -> tuple[int, bytes, bytes]:
        """etcd 3.4's answer, text/plain with a JSON body: healthy when a leader is known and an
        entry proposed now is committed and applied within ``HEALTH_PROGRESS_WAIT_S`` (etcd makes
        a quorum get through Raft): a member that cannot make progress is not healthy, whatever
        it knows of a leader. etcd serves nothing before this member's name and client URLs are
        published: a member just started waits for that, bounded."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(HEALTH_PUBLISH_WAIT_S):
                await self.node.published.wait()
        healthy = self.node.leader_id != 0 and self.node.published.is_set()
        if healthy:
            try:
                await self.node.confirm_progress(HEALTH_PROGRESS_WAIT_S)
            except StoreError:
                healthy = False
        return (200 if healthy else 503), orjson.dumps({"health": str(healthy).lower()}), TEXT

    async def _metrics(self) -> tuple[int, bytes, bytes]:
        self.metrics.observe_store(self.node)
        return 200, self.metrics.render(), PROMETHEUS


_CERTIFICATE_NAMED = (b"CommonName of client sending a request against gateway will be ignored and not "
                      b"used as expected\n")
"""etcd 3.4's answer (400) to a gateway request whose client certificate has a common name while auth is
on: the gateway would call as nobody, not as that name."""


def _certificate_named(scope: Scope) -> bool:
    """Whether the request's client certificate has a common name (``_port_protocol`` rule 3)."""
    extensions: dict[str, Any] = cast(dict[str, Any], scope.get("extensions") or {})
    return bool(extensions.get("tls", {}).get("client_cert_name"))


def _authorization(scope: Scope) -> str:
    """The token an ``Authorization`` header carries (grpc-gateway hands it on as metadata)."""
    for name, value in scope["headers"]:
        if name == b"authorization":
            return bytes(value).decode("utf-8", "replace")
    return ""


def _json_auth_answer(method: str, answer: AuthAnswer, header: Json) -> Json:
    """An Auth call's answer as the gateway writes it (``Handling.auth_call``)."""
    if isinstance(answer, str):
        return wire.encode_authenticate_response(answer, header)
    if method == "AuthStatus":
        enabled, revision = cast(tuple[bool, int], answer)
        return wire.encode_auth_status_response(enabled, revision, header)
    if method == "RoleGet":
        return wire.encode_role_get_response(cast(tuple[auth.Permission, ...], answer), header)
    if answer is not None:
        return wire.encode_auth_names_response(method, cast(tuple[str, ...], answer), header)
    return {"header": header}
