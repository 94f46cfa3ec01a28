"""SIGKILL a three-member cluster's leader under writes, repeatedly: nothing acknowledged is lost.

The leader sends its appends while its own fsync runs (``Ready.send_before_persist``),
so a leader killed at a random moment under load often dies between sending entries
and making them durable. Every acknowledged put (each a fresh key, most of them
proposed on the leader itself, the rest forwarded by followers) must then be on the
cluster at the revision it was acknowledged at, and revisions must be exactly
2..current: no write applied twice, none lost.
Seeded: the seed is printed, and CONFAGENT_FAULT_SEED reproduces the kill times.
"""

from __future__ import annotations

import base64
import contextlib
import os
import random
import threading
import time
from pathlib import Path

import httpx
import pytest

from confagent.testing import ServerProcess, store_cluster

ROUNDS = int(os.environ.get("CONFAGENT_FAULT_ROUNDS", "4"))
LEADER_WRITERS, FOLLOWER_WRITERS = 4, 1
SETTLE_TIMEOUT_S = 30.0
REQUEST_TIMEOUT_S = 3.0


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def _leader(members: list[ServerProcess]) -> ServerProcess:
    """The member every member names as leader (bounded wait)."""
    deadline = time.monotonic() + SETTLE_TIMEOUT_S
    while time.monotonic() < deadline:
        with contextlib.suppress(httpx.HTTPError, KeyError, ValueError):
            replies = [httpx.post(m.url + "/v3/maintenance/status", json={}, timeout=1.0).json()
                       for m in members]
            leaders = {reply["leader"] for reply in replies}
            for member, reply in zip(members, replies, strict=True):
                if leaders == {reply["header"]["member_id"]}:
                    return member
        time.sleep(0.05)
    raise AssertionError("the members did not agree on a leader")


class Writers:
    """Threads putting fresh keys until stopped or their member dies; what was acknowledged."""

    def __init__(self, targets: list[ServerProcess], round_no: int) -> None:
        self.acked: dict[str, int] = {}
        self.stop = threading.Event()
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._write, args=(n, member.url, round_no))
                         for n, member in enumerate(targets)]

    def start(self) -> None:
        for thread in self._threads:
            thread.start()

    def join(self) -> None:
        self.stop.set()
        for thread in self._threads:
            thread.join(REQUEST_TIMEOUT_S + 10)

    def _write(self, writer: int, url: str, round_no: int) -> None:
        with httpx.Client(base_url=url, timeout=REQUEST_TIMEOUT_S) as client:
            for i in range(100_000):
                if self.stop.is_set():
                    return
                key = f"leader-kill/{round_no}/{writer}/{i}"
                try:
                    reply = client.post("/v3/kv/put", json={"key": _b64(key), "value": _b64(key)})
                except httpx.HTTPError:
                    return  # the member died or the write timed out: its fate is unknown
                if reply.status_code != 200:
                    continue  # refused (no leader yet): it took no effect, or its fate is unknown
                with self._lock:
                    self.acked[key] = int(reply.json()["header"]["revision"])


def _check(url: str, acked: dict[str, int], seed: int) -> None:
    reply = httpx.post(url + "/v3/kv/range", json={"key": "AA==", "range_end": "AA=="}, timeout=30)
    body = reply.json()
    found = {base64.b64decode(kv["key"]).decode(): int(kv["mod_revision"]) for kv in body.get("kvs", [])}
    lost = {k: r for k, r in acked.items() if found.get(k) != r}
    assert not lost, f"seed {seed}: acknowledged writes lost or changed: {sorted(lost.items())[:10]}"
    current = int(body["header"]["revision"])
    assert sorted(found.values()) == list(range(2, current + 1)), (
        f"seed {seed}: revisions are not exactly 2..{current}")


@pytest.mark.slow
def test_leader_sigkill_under_writes_loses_no_acknowledged_write(tmp_path: Path) -> None:
    seed = int(os.environ.get("CONFAGENT_FAULT_SEED", random.randrange(1 << 30)))
    print(f"fault seed: {seed} (CONFAGENT_FAULT_SEED={seed} reproduces)")
    rng = random.Random(seed)
    members = store_cluster(tmp_path, 3)
    for member in members:
        member.launch()
    acked: dict[str, int] = {}
    try:
        for member in members:
            member.wait_healthy()
        for round_no in range(ROUNDS):
            leader = _leader(members)
            followers = [m for m in members if m is not leader]
            writers = Writers([leader] * LEADER_WRITERS + followers * FOLLOWER_WRITERS, round_no)
            writers.start()
            time.sleep(rng.uniform(0.2, 0.8))  # a random moment of the load, not a wait for a state
            leader.kill()
            time.sleep(rng.uniform(0.0, 0.5))
            writers.join()
            assert writers.acked, f"seed {seed}: round {round_no} acknowledged nothing"
            acked.update(writers.acked)
            leader.launch()
            leader.wait_healthy()
            _check(_leader(members).url, acked, seed)
    finally:
        for member in members:
            member.stop()
