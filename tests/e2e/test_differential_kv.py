"""confagent against a real etcd 3.4: the same KV requests, the same answers.

Each test starts both servers fresh, so revisions line up, and sends every
request to both (see differential.py for what is compared).
"""

from __future__ import annotations

import pytest

from confagent.testing import b64
from tests.e2e.differential import Pair, prefix_end

pytestmark = pytest.mark.etcd

APP = {"key": b64("app/"), "range_end": prefix_end("app/")}


def _seed_app(pair: Pair) -> None:
    for name in "abcd":
        pair.same("/v3/kv/put", {"key": b64(f"app/{name}"), "value": b64(f"val-{name}")})
    pair.same("/v3/kv/put", {"key": b64("app/a"), "value": b64("val-z")})


def test_put_and_get_with_prev_kv_ignore_value_and_empty_values(pair: Pair) -> None:
    pair.same("/v3/kv/put", {"key": b64("foo"), "value": b64("bar")})
    pair.same("/v3/kv/put", {"key": b64("foo"), "value": b64("baz"), "prev_kv": True})
    pair.same("/v3/kv/put", {"key": b64("fresh"), "value": b64("v"), "prev_kv": True})
    pair.same("/v3/kv/put", {"key": b64("foo"), "ignore_value": True, "prev_kv": True})
    pair.same("/v3/kv/put", {"key": b64("empty")})
    pair.same("/v3/kv/range", {"key": b64("empty")})
    pair.same("/v3/kv/range", {"key": b64("foo")})
    pair.same("/v3/kv/range", {"key": b64("missing")})
    pair.same("/v3/kv/put", {"key": b64("bin"), "value": b64(bytes(range(256)))})
    pair.same("/v3/kv/range", {"key": b64("bin")})


@pytest.mark.parametrize("options", [
    {},
    {"limit": 2},
    {"limit": "3", "keys_only": True},
    {"count_only": True},
    {"revision": "3"},
    {"keys_only": True, "sort_order": "DESCEND", "sort_target": "KEY"},
    {"sort_order": "DESCEND", "sort_target": "MOD", "limit": 1},
    {"sort_target": "VALUE", "keys_only": True},
    {"sort_order": 2, "sort_target": 2, "keys_only": True},
    {"sort_order": "ASCEND", "sort_target": "VERSION"},
    {"min_mod_revision": "4", "keys_only": True},
    {"max_mod_revision": "3", "keys_only": True},
    {"min_create_revision": "4", "max_create_revision": "4", "keys_only": True},
    {"serializable": True},
    {"rangeEnd": prefix_end("app/"), "keysOnly": True, "countOnly": True},
])
def test_range_options(pair: Pair, options: dict[str, object]) -> None:
    _seed_app(pair)
    pair.same("/v3/kv/range", {**APP, **options})


def test_range_end_conventions(pair: Pair) -> None:
    _seed_app(pair)
    pair.same("/v3/kv/put", {"key": b64("zz"), "value": b64("1")})
    pair.same("/v3/kv/range", {"key": b64("app/c"), "range_end": b64("\0"), "keys_only": True})
    pair.same("/v3/kv/range", {"key": b64("\0"), "range_end": b64("\0"), "count_only": True})
    pair.same("/v3/kv/range", {"key": b64("app/c"), "range_end": b64("app/a")})
    pair.same("/v3/kv/range", {"key": b64("app/b"), "range_end": b64("app/d")})


def test_delete_range(pair: Pair) -> None:
    _seed_app(pair)
    pair.same("/v3/kv/deleterange", {"key": b64("app/b")})
    pair.same("/v3/kv/deleterange", {"key": b64("app/b")})
    pair.same("/v3/kv/deleterange", {**APP, "prev_kv": True})
    pair.same("/v3/kv/range", {**APP})
    pair.same("/v3/kv/put", {"key": b64("app/a"), "value": b64("again")})
    pair.same("/v3/kv/range", {"key": b64("app/a")})
    pair.same("/v3/kv/range", {"key": b64("app/a"), "revision": "5"})
    pair.same("/v3/kv/range", {"key": b64("app/a"), "revision": "7"})


def test_txn_compares_branches_and_nesting(pair: Pair) -> None:
    _seed_app(pair)
    foo = b64("foo")
    pair.same("/v3/kv/put", {"key": foo, "value": b64("baz")})
    value_is_baz = [{"key": foo, "target": "VALUE", "result": "EQUAL", "value": b64("baz")}]
    branch = {"success": [{"request_put": {"key": foo, "value": b64("qux"), "prev_kv": True}},
                          {"request_range": {"key": foo}}],
              "failure": [{"request_range": {"key": foo}}]}
    pair.same("/v3/kv/txn", {"compare": value_is_baz, **branch})
    pair.same("/v3/kv/txn", {"compare": value_is_baz, **branch})
    lock = b64("lock")
    create = {"compare": [{"key": lock, "target": "VERSION", "result": "EQUAL", "version": "0"}],
              "success": [{"request_put": {"key": lock, "value": b64("me")}}],
              "failure": [{"request_range": {"key": lock}}]}
    pair.same("/v3/kv/txn", create)
    pair.same("/v3/kv/txn", create)
    pair.same("/v3/kv/txn", {"compare": [
        {"key": foo, "target": "CREATE", "result": "EQUAL", "create_revision": "7"},
        {"key": foo, "target": "MOD", "result": "LESS", "mod_revision": "100"}],
        "success": [{"request_delete_range": {"key": lock, "prev_kv": True}}]})
    pair.same("/v3/kv/txn", {"compare": [{**APP, "target": "MOD", "result": "GREATER",
                                          "mod_revision": "1"}]})
    pair.same("/v3/kv/txn", {"compare": [{"key": b64("missing"), "target": "VALUE",
                                          "result": "NOT_EQUAL", "value": b64("zzz")}]})
    pair.same("/v3/kv/txn", {})
    pair.same("/v3/kv/txn", {"compare": [{"key": foo}]})
    pair.same("/v3/kv/txn", {"compare": [{"key": foo, "target": 3, "result": 1, "value": "YQ=="}]})
    pair.same("/v3/kv/txn", {"success": [
        {"request_put": {"key": b64("m/1"), "value": b64("a")}},
        {"request_put": {"key": b64("m/2"), "value": b64("b")}},
        {"request_delete_range": {"key": b64("x")}},
        {"request_range": {"key": b64("m/"), "range_end": prefix_end("m/")}}]})
    pair.same("/v3/kv/txn", {
        "compare": [{"key": b64("m/1"), "target": "VERSION", "result": "EQUAL", "version": "1"}],
        "success": [{"request_txn": {
            "compare": [{"key": b64("m/2"), "target": "VALUE", "result": "EQUAL",
                         "value": b64("nope")}],
            "success": [{"request_put": {"key": b64("m/3"), "value": b64("inner-success")}}],
            "failure": [{"request_put": {"key": b64("m/3"), "value": b64("inner-failure")}}]}},
            {"request_range": {"key": b64("m/1"), "count_only": True}}]})


def test_compaction_and_compacted_reads(pair: Pair) -> None:
    _seed_app(pair)
    pair.same("/v3/kv/compaction", {"revision": "4", "physical": True})
    pair.same_error("/v3/kv/compaction", {"revision": "4"})
    pair.same_error("/v3/kv/compaction", {"revision": "3"})
    pair.same_error("/v3/kv/compaction", {})
    pair.same_error("/v3/kv/compaction", {"revision": "1000"})
    pair.same_error("/v3/kv/range", {**APP, "revision": "3"})
    pair.same("/v3/kv/range", {**APP, "revision": "4"})
    pair.same_error("/v3/kv/range", {**APP, "revision": "99"})
    pair.same_error("/v3/kv/txn", {"success": [{"request_range": {"key": b64("app/a"),
                                                                  "revision": "2"}}]})
    pair.same("/v3/kv/txn", {"success": [{"request_range": {"key": b64("app/a")}}],
                             "failure": [{"request_range": {"key": b64("app/a"),
                                                            "revision": "2"}}]})


@pytest.mark.parametrize(("path", "body"), [
    ("/v3/kv/put", {"key": "!!!!"}),
    ("/v3/kv/put", {"key": "-_-_"}),
    ("/v3/kv/put", {"key": "Zm8"}),
    ("/v3/kv/put", {"key": "Zm9v", "value": "YmFyx"}),
    ("/v3/kv/put", {}),
    ("/v3/kv/put", {"value": "YmFy"}),
    ("/v3/kv/range", {}),
    ("/v3/kv/deleterange", {}),
    ("/v3/kv/txn", {"compare": [{"target": "VERSION"}]}),
    ("/v3/kv/put", {"key": "Zm9v", "prev_kv": "yes"}),
    ("/v3/kv/range", {"key": "Zm9v", "sort_order": "UP"}),
    ("/v3/kv/put", {"key": "Zm9v", "value": "YQ==", "ignore_value": True}),
    ("/v3/kv/put", {"key": "Zm9v", "lease": "5", "ignore_lease": True}),
    ("/v3/kv/put", {"key": "bm9uZQ==", "ignore_value": True}),
    ("/v3/kv/txn", {"success": [{}]}),
    ("/v3/kv/txn", {"success": [{"request_put": {"key": "YQ=="}}, {"request_put": {"key": "YQ=="}}]}),
    ("/v3/kv/txn", {"success": [{"request_put": {"key": "YQ=="}},
                                {"request_delete_range": {"key": "YQ=="}}]}),
    ("/v3/kv/txn", {"success": [{"request_put": {"key": b64(f"k{i}")}} for i in range(129)]}),
    ("/v3/kv/put", {"key": "Zm9v", "lease": "12345"}),
])
def test_bad_requests_get_etcds_errors(pair: Pair, path: str, body: dict[str, object]) -> None:
    pair.same_error(path, body)
    pair.same("/v3/kv/range", {"key": b64("\0"), "range_end": b64("\0"), "count_only": True})


@pytest.mark.parametrize("raw", [b'{"key":"Zm9v",', b"not json", b"", b"[]", b'{"key":1}'])
def test_malformed_bodies(pair: Pair, raw: bytes) -> None:
    pair.same_error("/v3/kv/put", raw=raw)


def test_value_size_limits(pair: Pair) -> None:
    pair.same("/v3/kv/put", {"key": b64("big"), "value": b64(b"x" * 1_572_764)})
    pair.same_error("/v3/kv/put", {"key": b64("big"), "value": b64(b"x" * 1_600_000)})
    pair.same_error("/v3/kv/put", {"key": b64("big"), "value": b64(b"x" * 2_200_000)})


def test_paths_methods_and_plain_endpoints(pair: Pair) -> None:
    pair.same("/v3/kv/range", None, method="GET")
    pair.same("/v3/kv/nothing", {})
    pair.same("/v3alpha/kv/range", {"key": b64("a")})
    pair.same("/v3beta/kv/put", {"key": b64("a"), "value": b64("b")})
    pair.same("/v3beta/kv/range", {"key": b64("a")})
    pair.same("/health", None, method="GET")
    pair.same("/v3/kv/range", None, method="OPTIONS")
    pair.same("/v3/maintenance/alarm", {"action": "GET"})


def _shape(value: object) -> object:
    """The fields present, recursively, without their values (for answers whose values differ)."""
    if isinstance(value, dict):
        return {key: _shape(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_shape(item) for item in value[:1]]
    return type(value).__name__


def test_status_member_list_and_version_have_etcds_shape(pair: Pair) -> None:
    pair.same("/v3/kv/put", {"key": b64("a"), "value": b64("b")})
    for path in ("/v3/maintenance/status", "/v3/cluster/member/list"):
        theirs, ours = pair.call(path, {})
        assert ours.status == theirs.status == 200
        assert _shape(ours.body) == _shape(theirs.body), f"{path}: {ours.body} vs {theirs.body}"
    theirs, ours = pair.call("/version", method="GET")
    assert ours.body == theirs.body
    ours_status = pair.call("/v3/maintenance/status", {})[1].body
    assert ours_status["leader"] == ours_status["header"]["member_id"]
    assert int(ours_status["raftAppliedIndex"]) == int(ours_status["raftIndex"]) >= 2


def test_metrics_are_prometheus_text(pair: Pair) -> None:
    pair.same("/v3/kv/put", {"key": b64("a"), "value": b64("b")})
    reply = pair.ours.get("/metrics")
    assert reply.status_code == 200 and reply.headers["content-type"].startswith("text/plain")
    lines = reply.text.splitlines()
    assert "etcd_debugging_mvcc_current_revision 2.0" in lines
    assert any(line.startswith('confagent_http_requests_total{path="/v3/kv/put",status="200"}')
               for line in lines)
