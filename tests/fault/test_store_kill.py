"""SIGKILL a store under concurrent writes, restart it, repeatedly: nothing acknowledged is lost.

Every put writes a new key, so after any number of crashes the store must
hold every acknowledged key with the revision it was acknowledged at, and
the revisions in use must be exactly 2..current (no gaps, no reuse).
Seeded: the seed is printed, and CONFAGENT_FAULT_SEED reproduces a run.
"""

from __future__ import annotations

import os
import random
import time
from pathlib import Path

import httpx
import pytest

from confagent.testing import Processes, ServerProcess, Writers, free_port, unb64, until

ROUNDS = int(os.environ.get("CONFAGENT_FAULT_ROUNDS", "6"))
WRITERS = 4


def _all_keys(url: str) -> dict[str, int]:
    reply = httpx.post(url + "/v3/kv/range", json={"key": "AA==", "range_end": "AA=="}, timeout=30)
    body = reply.json()
    return {unb64(kv["key"]): int(kv["mod_revision"])
            for kv in body.get("kvs", [])} | {"": int(body["header"]["revision"])}


@pytest.mark.slow
def test_sigkill_under_load_loses_no_acknowledged_write(tmp_path: Path, processes: Processes) -> None:
    seed = int(os.environ.get("CONFAGENT_FAULT_SEED", random.randrange(1 << 30)))
    print(f"fault seed: {seed} (CONFAGENT_FAULT_SEED={seed} reproduces)")
    rng = random.Random(seed)
    data_dir, port = tmp_path / "store", free_port()
    acked: dict[str, int] = {}
    server: ServerProcess | None = None
    for round_no in range(ROUNDS):
        server = processes.store(data_dir, port=port, args=("--snapshot-count", "300"))
        _check(server.url, acked, seed)
        writers = Writers([server.url] * WRITERS, f"crash/{round_no}").start()
        # The load under way (a busy machine can take longer than the pause below to answer the
        # first write), then a random moment of it: the pause is not a wait for a state.
        until(writers.acknowledged_any, f"round {round_no}'s first acknowledged write")
        time.sleep(rng.uniform(0.1, 0.8))
        server.kill()
        writers.stop()  # each ends at its first failed request: the server is gone
        assert not writers.refused, f"seed {seed}: refused before the kill: {writers.refused[:3]}"
        assert writers.acked, f"seed {seed}: round {round_no} acknowledged nothing"
        acked.update(writers.acked)
    server = processes.store(data_dir, port=port)
    try:
        _check(server.url, acked, seed)
    finally:
        server.stop()


def _check(url: str, acked: dict[str, int], seed: int) -> None:
    found = _all_keys(url)
    current = found.pop("")
    lost = {k: r for k, r in acked.items() if found.get(k) != r}
    assert not lost, f"seed {seed}: acknowledged writes lost or changed: {sorted(lost.items())[:10]}"
    revisions = sorted(found.values())
    assert revisions == list(range(2, current + 1)), (
        f"seed {seed}: revisions are not exactly 2..{current}")
