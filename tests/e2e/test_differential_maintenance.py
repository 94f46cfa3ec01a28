"""confagent against a real etcd 3.4: the maintenance calls etcdctl's defrag, alarm and move-leader make."""

from __future__ import annotations

import pytest

from tests.e2e.differential import Answer, Pair, normalize

pytestmark = pytest.mark.etcd


@pytest.mark.parametrize(("path", "body"), [
    ("/v3/maintenance/defragment", {}),
    ("/v3/maintenance/alarm", {"action": "GET"}),
    ("/v3/maintenance/alarm", {}),
    ("/v3/maintenance/alarm", {"action": "DEACTIVATE", "memberID": "1", "alarm": "NOSPACE"}),
    ("/v3/maintenance/transfer-leadership", {}),
    ("/v3/maintenance/transfer-leadership", {"targetID": "5"}),
    ("/v3/maintenance/transfer-leadership", {"targetID": "-1"}),
    ("/v3/maintenance/transfer-leadership", {"targetID": "x"}),
])
def test_maintenance_calls_answer_as_etcd(pair: Pair, path: str, body: dict[str, object]) -> None:
    pair.same(path, body)


@pytest.mark.parametrize("path", ["/v3/maintenance/defragment", "/v3/maintenance/transfer-leadership"])
def test_malformed_bodies(pair: Pair, path: str) -> None:
    pair.same(path, raw=b"{bad")


def test_moving_leadership_to_the_leader_itself_succeeds(pair: Pair) -> None:
    answers = []
    for client in (pair.etcd, pair.ours):
        me = client.post("/v3/maintenance/status", json={}).json()["header"]["member_id"]
        answers.append(Answer.of(client.post("/v3/maintenance/transfer-leadership", json={"targetID": me})))
    theirs, ours = answers
    assert (ours.status, normalize(ours.body)) == (theirs.status, normalize(theirs.body)) == (200, {})
