"""Helpers of the cluster tests: the gateway's JSON over HTTP, and which member leads."""

from __future__ import annotations

import base64
import time

import httpx

from confagent.testing import ServerProcess

__all__ = ["DEADLINE_S", "b64", "leader_of", "post"]

DEADLINE_S = 30.0


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def post(url: str, path: str, body: object) -> httpx.Response:
    return httpx.post(url + path, json=body, timeout=10)


def leader_of(members: list[ServerProcess]) -> ServerProcess:
    """The member every given member names as leader, once they agree (bounded wait).

    A member that does not answer or knows no leader, or a leader that is not
    among ``members`` (killed, not yet replaced), means: ask again.
    """
    deadline = time.monotonic() + DEADLINE_S
    while time.monotonic() < deadline:
        try:
            statuses = [post(m.url, "/v3/maintenance/status", {}).json() for m in members]
        except httpx.HTTPError:
            statuses = []
        leaders = {s.get("leader") for s in statuses}
        if len(leaders) == 1 and None not in leaders:
            for member, status in zip(members, statuses, strict=True):
                if status["header"]["member_id"] in leaders:
                    return member
        time.sleep(0.1)
    raise AssertionError("the members did not agree on a leader")
