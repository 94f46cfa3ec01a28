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

import os
import random
import time
from pathlib import Path

import httpx
import pytest

from confagent.testing import Processes, Writers, leader_of, unb64, until

ROUNDS = int(os.environ.get("CONFAGENT_FAULT_ROUNDS", "4"))
LEADER_WRITERS, FOLLOWER_WRITERS = 4, 1
SETTLE_TIMEOUT_S = 30.0
REQUEST_TIMEOUT_S = 3.0


def _check(url: str, acked: dict[str, int], seed: int) -> None:
    reply = httpx.post(url + "/v3/kv/range", json={"key": "AA==", "range_end": "AA=="}, timeout=30)
    body = reply.json()
    found = {unb64(kv["key"]): int(kv["mod_revision"]) for kv in body.get("kvs", [])}
    lost = {k: r for k, r in acked.items() if found.get(k) != r}
    assert not lost, f"seed {seed}: acknowledged writes lost or changed: {sorted(lost.items())[:10]}"
    current = int(body["header"]["revision"])
    assert sorted(found.values()) == list(range(2, current + 1)), (
        f"seed {seed}: revisions are not exactly 2..{current}")


@pytest.mark.slow
def test_leader_sigkill_under_writes_loses_no_acknowledged_write(tmp_path: Path,
                                                                 processes: Processes) -> None:
    seed = int(os.environ.get("CONFAGENT_FAULT_SEED", random.randrange(1 << 30)))
    print(f"fault seed: {seed} (CONFAGENT_FAULT_SEED={seed} reproduces)")
    rng = random.Random(seed)
    members = processes.running_cluster(tmp_path, 3)
    acked: dict[str, int] = {}
    for round_no in range(ROUNDS):
        leader = leader_of(members, deadline_s=SETTLE_TIMEOUT_S)
        followers = [m for m in members if m is not leader]
        targets = [leader] * LEADER_WRITERS + followers * FOLLOWER_WRITERS
        writers = Writers([m.url for m in targets], f"leader-kill/{round_no}",
                          request_timeout_s=REQUEST_TIMEOUT_S).start()
        until(writers.acknowledged_any, f"round {round_no}'s first acknowledged write")  # a busy machine
        time.sleep(rng.uniform(0.2, 0.8))  # can be slower than the pause; a random moment of the load
        leader.kill()
        time.sleep(rng.uniform(0.0, 0.5))  # writes go on a random while against the leaderless rest
        writers.stop()
        assert writers.acked, f"seed {seed}: round {round_no} acknowledged nothing"
        acked.update(writers.acked)
        leader.launch()
        leader.wait_healthy()
        _check(leader_of(members, deadline_s=SETTLE_TIMEOUT_S).url, acked, seed)
