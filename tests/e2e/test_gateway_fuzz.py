"""Generated requests against every path of the store's gateway: nothing a client sends may wedge it.

Hypothesis draws batches of requests, each to one of the gateway's paths (the unary calls,
their ``/v3beta/`` and ``/v3/kv/lease/`` spellings, the watch, keep-alive and snapshot
streams, plain ``/version``, ``/health``, ``/metrics``), with a body that is mostly a JSON
object of the path's own fields holding values of the right kind, of a wrong kind, or of
no kind (bad base64, numbers as text, huge, negative, nested), and sometimes no JSON at all.
After each request: no 5xx but those etcd gives (``ETCD_5XX``). After each batch: the member
still takes a write and ``/health`` is true. One ``{}`` to ``/v3/cluster/member/remove``
once stopped every write of a member while it said it was healthy.

The seed is printed (shown when the test fails); ``CONFAGENT_FUZZ_SEED`` replays one, and
``CONFAGENT_FUZZ_REQUESTS`` runs longer (default ``DEFAULT_REQUESTS``).
"""

from __future__ import annotations

import os
import random
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis import strategies as st

from confagent.testing import Processes, ServerProcess, b64

DEFAULT_REQUESTS = 3000
BATCH = 50
REQUESTS = int(os.environ.get("CONFAGENT_FUZZ_REQUESTS", DEFAULT_REQUESTS))
SEED = int(os.environ.get("CONFAGENT_FUZZ_SEED") or random.SystemRandom().randrange(1 << 32))

REQUEST_TIMEOUT_S = 15.0
STREAM_READ_S = 0.3
"""A stream is read until it is quiet this long (a watch stays open), then closed."""

ETCD_5XX = {
    (500, 2, "etcdserver: re-configuration failed due to not enough started members"),
    (503, 14, "etcdserver: unhealthy cluster"),
}
"""The 5xx answers etcd 3.4 gives a one-member cluster to member calls: a voter added or the
last voter removed (500, code 2); a member change while a voter is not active (503)."""
GO_DECODING_ERROR = re.compile(
    r"json: |invalid character |unexpected (EOF|end of JSON input)$|EOF$|illegal base64 |unknown value ")
"""etcd's gateway answers a stream's body it cannot decode with 500, code 2 and Go's decoder's
message (``{"ID":[1]}`` to ``/v3/lease/keepalive``: ``json: cannot unmarshal array ...``)."""

# -- what a field holds ---------------------------------------------------------------------------
_UINT64_MAX = (1 << 64) - 1
_junk = st.recursive(
    st.none() | st.booleans() | st.integers(-(1 << 70), 1 << 70) | st.floats() | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=6)
"""A JSON value of no particular kind."""


_keys = st.sampled_from([b"", b"\0", b"a", b"a/", b"a/b", b"b", b"z", b"\xff", b"fuzz/key"]) \
    | st.binary(max_size=8)
_bytes = _keys.map(b64) | st.sampled_from(["", "=", "a", "!!", "YQ", "YQ==="]) | _junk
_INT64 = st.integers(-(1 << 63), (1 << 63) - 1)
_numbers = st.integers(-5, 50) | _INT64 | st.sampled_from([_UINT64_MAX, 1 << 64])
_int64 = _numbers.flatmap(lambda n: st.sampled_from([n, str(n), f" {n}", f"{n}x"])) | _junk
_bool = st.booleans() | st.sampled_from(["true", "false", 1, 0, "yes"]) | _junk
_enum = st.integers(-2, 5) | st.sampled_from([
    "NONE", "ASCEND", "DESCEND", "KEY", "VALUE", "VERSION", "CREATE", "MOD", "EQUAL", "GREATER", "LESS",
    "NOT_EQUAL", "NOPUT", "NODELETE", "GET", "ACTIVATE", "DEACTIVATE", "NOSPACE", "CORRUPT", "BOGUS"]) | _junk
_urls = st.lists(st.sampled_from(["http://127.0.0.1:1", "http://127.0.0.1:2", "https://10.0.0.1:2380",
                                  "notaurl", "", "http://", "unix://x"]) | _junk, max_size=3) | _junk


_name = st.text(max_size=6) | _junk


def _message(fields: dict[str, st.SearchStrategy[Any]]) -> st.SearchStrategy[dict[str, Any]]:
    """An object with some of ``fields`` (right kinds mostly), sometimes a stray field too."""
    known = st.fixed_dictionaries({}, optional=fields)
    stray = st.dictionaries(st.sampled_from(["bogus", "Key", "id", "ttl"]), _junk, max_size=1)
    return st.builds(lambda a, b: {**b, **a}, known, stray)


_RANGE = {"key": _bytes, "range_end": _bytes, "limit": _int64, "revision": _int64, "sort_order": _enum,
          "sort_target": _enum, "serializable": _bool, "keys_only": _bool, "count_only": _bool,
          "min_mod_revision": _int64, "max_mod_revision": _int64, "min_create_revision": _int64,
          "max_create_revision": _int64}
_PUT = {"key": _bytes, "value": _bytes, "lease": _int64, "prev_kv": _bool, "ignore_value": _bool,
        "ignore_lease": _bool}
_DELETE = {"key": _bytes, "range_end": _bytes, "prev_kv": _bool}
_COMPARE = {"result": _enum, "target": _enum, "key": _bytes, "range_end": _bytes, "version": _int64,
            "create_revision": _int64, "mod_revision": _int64, "value": _bytes, "lease": _int64}


def _txn(depth: int) -> st.SearchStrategy[dict[str, Any]]:
    ops = {"request_range": _message(_RANGE), "request_put": _message(_PUT),
           "request_delete_range": _message(_DELETE)}
    if depth < 2:
        ops["request_txn"] = st.deferred(lambda: _txn(depth + 1))
    op = _message(ops) | _junk
    ops_list = st.lists(op, max_size=3) | _junk
    return _message({"compare": st.lists(_message(_COMPARE) | _junk, max_size=3) | _junk,
                     "success": ops_list, "failure": ops_list})


_WATCH_CREATE = {"key": _bytes, "range_end": _bytes, "start_revision": _int64, "progress_notify": _bool,
                 "filters": st.lists(_enum, max_size=2) | _junk, "prev_kv": _bool, "watch_id": _int64,
                 "fragment": _bool}
PATHS: dict[str, st.SearchStrategy[dict[str, Any]]] = {
    "/v3/kv/range": _message(_RANGE),
    "/v3/kv/put": _message(_PUT),
    "/v3/kv/deleterange": _message(_DELETE),
    "/v3/kv/txn": _txn(0),
    "/v3/kv/compaction": _message({"revision": _int64, "physical": _bool}),
    "/v3/lease/grant": _message({"TTL": _int64, "ID": _int64}),
    "/v3/lease/revoke": _message({"ID": _int64}),
    "/v3/kv/lease/revoke": _message({"ID": _int64}),
    "/v3/lease/timetolive": _message({"ID": _int64, "keys": _bool}),
    "/v3/kv/lease/timetolive": _message({"ID": _int64, "keys": _bool}),
    "/v3/lease/leases": _message({}),
    "/v3/kv/lease/leases": _message({}),
    "/v3/lease/keepalive": _message({"ID": _int64}),
    "/v3/watch": _message({"create_request": _message(_WATCH_CREATE) | _junk,
                           "cancel_request": _message({"watch_id": _int64}) | _junk,
                           "progress_request": _message({}) | _junk}),
    "/v3/maintenance/status": _message({}),
    "/v3/maintenance/alarm": _message({"action": _enum, "memberID": _int64, "alarm": _enum}),
    "/v3/maintenance/snapshot": _message({}),
    "/v3/cluster/member/list": _message({}),
    # Learners only: a voter added to a one-member cluster is accepted (etcd's way to grow one) and
    # leaves it without a quorum until the new member starts, in etcd as here.
    "/v3/cluster/member/add": st.builds(lambda d: {**d, "isLearner": True}, _message({"peerURLs": _urls})),
    "/v3/cluster/member/remove": _message({"ID": _int64}),
    "/v3/cluster/member/update": _message({"ID": _int64, "peerURLs": _urls}),
    "/v3/cluster/member/promote": _message({"ID": _int64}),
    # The Auth calls that change nothing here (no user is added, auth stays off): each a refusal or a list.
    "/v3/auth/authenticate": _message({"name": _name, "password": _name}),
    "/v3/auth/user/get": _message({"name": _name}),
    "/v3/auth/user/list": _message({}),
    "/v3/auth/user/revoke": _message({"name": _name, "role": _name}),
    "/v3/auth/role/get": _message({"role": _name}),
    "/v3/auth/role/list": _message({}),
    "/v3/auth/role/revoke": _message({"role": _name, "key": _bytes, "range_end": _bytes}),
}
STREAMS = {"/v3/watch", "/v3/lease/keepalive", "/v3/maintenance/snapshot"}
PLAIN = ["/version", "/health", "/metrics", "/", "/v3/", "/v3/kv/bogus"]
_RAW_BODIES = [b"", b"{", b"[]", b"null", b"1", b'"x"', b"{}}", b"\xff\xfe", b'{"key":"YQ==",}',
               b"[" * 200 + b"]" * 200, b'{"a":' * 60 + b"1" + b"}" * 60]


@dataclass(frozen=True)
class Call:
    method: str
    path: str
    body: bytes

    def __str__(self) -> str:
        return f"{self.method} {self.path} {self.body[:300]!r}"


def _encode(value: Any) -> bytes:
    try:
        return orjson.dumps(value)
    except (TypeError, orjson.JSONEncodeError):  # NaN, integers past 64 bits: write them as Python does
        return repr(value).encode()


@st.composite
def calls(draw: st.DrawFn) -> Call:
    choice = draw(st.integers(0, 19))
    if choice == 0:
        method = draw(st.sampled_from(["GET", "HEAD", "PUT"]))
        return Call(method, draw(st.sampled_from([*PATHS, *PLAIN])), b"")
    if choice == 1:
        return Call("GET", draw(st.sampled_from(PLAIN)), b"")
    path = draw(st.sampled_from(sorted(PATHS)))
    if draw(st.integers(0, 9)) == 0:
        path = "/v3beta/" + path.removeprefix("/v3/")
    if choice == 2:
        return Call("POST", path, draw(st.sampled_from(_RAW_BODIES) | st.binary(max_size=40)))
    if choice == 3:
        return Call("POST", path, _encode(draw(_junk)))
    return Call("POST", path, _encode(draw(PATHS[path.replace("/v3beta/", "/v3/")])))


# -- sending and checking -------------------------------------------------------------------------
def _send(client: httpx.Client, call: Call) -> tuple[int, bytes]:
    """The status and (the first part of) the body; a stream is closed once quiet."""
    if call.path.replace("/v3beta/", "/v3/") not in STREAMS or call.method != "POST":
        response = client.request(call.method, call.path, content=call.body)
        return response.status_code, response.content
    timeout = httpx.Timeout(REQUEST_TIMEOUT_S, read=STREAM_READ_S)
    with client.stream("POST", call.path, content=call.body, timeout=timeout) as response:
        received = b""
        try:
            for chunk in response.iter_bytes():
                received += chunk
        except httpx.ReadTimeout:
            pass  # a watch or keep-alive stays open: what came first is enough
        return response.status_code, received


def _check_answer(call: Call, status: int, body: bytes, before: list[str]) -> None:
    if status < 500:
        return
    try:
        error = orjson.loads(body)
        answer = (status, error.get("code"), error.get("message"))
    except (orjson.JSONDecodeError, AttributeError):
        answer = (status, None, body[:200].decode(errors="replace"))
    stream_decoding = call.path.replace("/v3beta/", "/v3/") in STREAMS and answer[:2] == (500, 2) \
        and GO_DECODING_ERROR.match(str(answer[2])) is not None
    earlier = "\n  ".join(before)
    assert answer in ETCD_5XX or stream_decoding, (
        f"{call} answered {answer}, a 5xx etcd does not give (seed {SEED}); "
        f"earlier in the batch:\n  {earlier}")


def _check_serving(client: httpx.Client, answered: list[str]) -> None:
    put = client.post("/v3/kv/put", json={"key": b64(b"fuzz/alive"), "value": b64(b"yes")}, timeout=10)
    health = client.get("/health", timeout=10)
    sent = "\n  ".join(answered)
    assert (put.status_code, health.status_code) == (200, 200), (
        f"after this batch the member no longer serves (put {put.status_code} {put.text!r}, health "
        f"{health.status_code} {health.text!r}); seed {SEED}; the batch:\n  {sent}")


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory, session_processes: Processes) -> Iterator[ServerProcess]:
    server = session_processes.store(tmp_path_factory.mktemp("fuzz") / "data")
    try:
        yield server
    finally:
        server.stop()


def test_no_generated_request_wedges_the_member_or_gets_a_5xx_etcd_would_not_give(
        store: ServerProcess, tmp_path: Path) -> None:
    print(f"gateway fuzz: seed {SEED} (CONFAGENT_FUZZ_SEED={SEED}), {REQUESTS} requests")
    with httpx.Client(base_url=store.url, timeout=REQUEST_TIMEOUT_S) as client:

        @seed(SEED)
        @settings(max_examples=max(1, REQUESTS // BATCH), deadline=None, database=None,
                  phases=[Phase.generate], suppress_health_check=list(HealthCheck))
        @given(st.lists(calls(), min_size=BATCH, max_size=BATCH))
        def batch_keeps_the_member_serving(batch: list[Call]) -> None:
            answered: list[str] = []
            for call in batch:
                status, body = _send(client, call)
                _check_answer(call, status, body, answered)
                answered.append(f"{call} -> {status} {body[:120]!r}")
            _check_serving(client, answered)

        batch_keeps_the_member_serving()
