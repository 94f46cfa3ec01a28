"""Every member call with every kind of member ID, sent to a real etcd 3.4 and to confagent: the
same answers, and after each one the member still takes a write and says it is healthy.

Each server is one voter with a learner added (and never started). The IDs: none given (0),
0 itself, one that is no member, the voter's own, the learner's. A change naming no member
must be refused before it reaches the log (etcd answers ``member not found``); one that once
reached the log with ID 0 stopped every later write of a confagent member.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from confagent.testing import Processes, ServerProcess, b64, post

LEARNER_PEER = "http://127.0.0.1:1"
"""The learner's peer URL: nothing listens there, so it stays a learner that never caught up."""

ID_KINDS = ("absent", "zero", "unknown", "self", "learner")
STEPS = [(call, kind) for call in ("promote", "update", "remove") for kind in ID_KINDS if kind != "learner"]
STEPS += [("promote", "learner"), ("update", "learner"), ("remove", "learner")]
"""Every call with every kind of ID. The learner's update and removal come last: etcd 3.4.23 lists
an updated learner as a voter (a bug fixed later), which changes its answers to later calls."""


def _ids(url: str) -> dict[str, Any]:
    """The ``ID`` field each kind sends (None: left out), and the peer URLs an update sends."""
    members = post(url, "/v3/cluster/member/list", {}).json()["members"]
    voter = next(m for m in members if not m.get("isLearner"))
    learner = next(m for m in members if m.get("isLearner"))
    return {"absent": None, "zero": "0", "unknown": "123", "self": voter["ID"], "learner": learner["ID"],
            "peers": {"self": voter["peerURLs"], "learner": learner["peerURLs"]}}


def _body(call: str, kind: str, ids: dict[str, Any]) -> dict[str, Any]:
    body: dict[str, Any] = {} if ids[kind] is None else {"ID": ids[kind]}
    if call == "update":  # etcd 3.4.23 panics on an update of a member without peer URLs
        body["peerURLs"] = ids["peers"].get(kind, ["http://127.0.0.1:9"])
    return body


def _shape(value: Any) -> Any:
    """A success's structure: keys and kinds of values, members unordered, no header."""
    if isinstance(value, dict):
        return {k: _shape(v) for k, v in value.items() if k != "header"}
    if isinstance(value, list):
        return sorted((_shape(v) for v in value), key=repr)
    return type(value).__name__


def _still_serving(url: str, step: str) -> None:
    """A write answered in time, and /health true: what a call must never take away."""
    put = httpx.post(url + "/v3/kv/put", json={"key": b64("after"), "value": b64(step)}, timeout=5)
    assert put.status_code == 200, f"after {step}: put answered {put.status_code} {put.text}"
    health = httpx.get(url + "/health", timeout=5)
    assert (health.status_code, health.json()) == (200, {"health": "true"}), f"after {step}"


def _script(url: str) -> list[tuple[str, int, Any]]:
    """Every call with every ID kind; each answer (an error's body, a success's shape)."""
    added = post(url, "/v3/cluster/member/add", {"peerURLs": [LEARNER_PEER], "isLearner": True})
    assert added.status_code == 200, added.text
    ids = _ids(url)
    answers = []
    for call, kind in STEPS:
        step = f"{call} {kind}"
        reply = post(url, f"/v3/cluster/member/{call}", _body(call, kind, ids))
        body = reply.json()
        if (call, kind) == ("update", "learner"):
            body = {}  # both accept it; etcd then lists the learner as a voter, confagent as a learner
        answers.append((step, reply.status_code, body if reply.status_code != 200 else _shape(body)))
        _still_serving(url, step)
    return answers


@pytest.fixture
def servers(tmp_path: Path, etcd_processes: Processes) -> tuple[ServerProcess, ServerProcess]:
    """(a real etcd, a confagent store), one fresh member each, started side by side."""
    with ThreadPoolExecutor(2) as pool:
        etcd = pool.submit(etcd_processes.etcd, tmp_path / "etcd")
        ours = pool.submit(etcd_processes.store, tmp_path / "ours")
    return etcd.result(), ours.result()


def test_member_calls_with_every_kind_of_id_answer_as_etcd_and_leave_writes_working(
        servers: tuple[ServerProcess, ServerProcess]) -> None:
    etcd, ours = servers
    theirs = _script(etcd.url)
    assert len(theirs) == len(ID_KINDS) * 3
    assert _script(ours.url) == theirs


def test_a_member_this_one_cannot_dial_is_added_as_etcd_adds_it(
        servers: tuple[ServerProcess, ServerProcess]) -> None:
    """An https:// peer URL on a member without peer TLS: etcd adds it (and cannot reach it); applying
    the addition once stopped a confagent member's driver, as the peer could not be dialed."""
    answers = []
    for server in servers:
        body = {"peerURLs": ["https://127.0.0.1:4"], "isLearner": True}
        added = post(server.url, "/v3/cluster/member/add", body)
        answers.append((added.status_code, _shape(added.json())))
        _still_serving(server.url, "an https:// learner added")
        removed = post(server.url, "/v3/cluster/member/remove", {"ID": added.json()["member"]["ID"]})
        assert removed.status_code == 200, removed.text
        _still_serving(server.url, "the https:// learner removed")
    assert answers[0] == answers[1]
