"""A txn of ranges only is served as a read (etcd 3.4's ``EtcdServer.Txn``): it answers, and the log does not
grow by it, on a real etcd and on confagent's store alike (the one-shot's snapshot is such txns)."""

from __future__ import annotations

import httpx

from confagent.testing import b64, unb64


def _raft_index(client: httpx.Client) -> int:
    return int(client.post("/v3/maintenance/status", json={}).json()["raftIndex"])


def test_a_txn_of_ranges_answers_without_entering_the_log(own_server: str) -> None:
    with httpx.Client(base_url=own_server, timeout=30) as client:
        for i in range(3):
            client.post("/v3/kv/put", json={"key": b64(f"/r/{i}"), "value": b64(f"v{i}")}).raise_for_status()
        before = _raft_index(client)
        ranges = [{"request_range": {"key": b64(f"/r/{i}")}} for i in range(3)]
        for serializable in (False, True):
            compare = {"key": b64("/r/0"), "target": "VALUE", "result": "EQUAL", "value": b64("v0")}
            body = {"compare": [compare],
                    "success": [{"request_range": {**op["request_range"], "serializable": serializable}}
                                for op in ranges]}
            answer = client.post("/v3/kv/txn", json=body).json()
            assert answer["succeeded"] is True
            assert [unb64(r["response_range"]["kvs"][0]["value"]) for r in answer["responses"]] == \
                ["v0", "v1", "v2"]
        assert _raft_index(client) == before
        client.post("/v3/kv/txn", json={"success": [{"request_put": {"key": b64("/r/w"), "value": b64("w")}},
                                                    *ranges]}).raise_for_status()
        assert _raft_index(client) > before  # a txn with a write does
