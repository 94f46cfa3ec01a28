"""SIGKILL a store under concurrent writes, restart it, repeatedly: nothing acknowledged is lost.

Every put writes a new key, so after any number of crashes the store must
hold every acknowledged key with the revision it was acknowledged at, and
the revisions in use must be exactly 2..current (no gaps, no reuse).
Seeded: the seed is printed, and CONFAGENT_FAULT_SEED reproduces a run.
"""

from __future__ import annotations

import base64
import os
import random
import threading
import time
from pathlib import Path

import httpx
import pytest

from confagent.testing import ServerProcess, free_port, start_store

ROUNDS = int(os.environ.get("CONFAGENT_FAULT_ROUNDS", "6"))
WRITERS = 4


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


class Writers:
    """Threads putting fresh keys until the server dies; what was acknowledged, at which revision."""

    def __init__(self, url: str, round_no: int) -> None:
        self.url = url
        self.round_no = round_no
        self.acked: dict[str, int] = {}
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._write, args=(w,)) for w in range(WRITERS)]

    def start(self) -> None:
        for thread in self._threads:
            thread.start()

    def join(self) -> None:
        for thread in self._threads:
            thread.join(30)

    def _write(self, writer: int) -> None:
        with httpx.Client(base_url=self.url, timeout=5.0) as client:
            for i in range(100_000):
                key = f"crash/{self.round_no}/{writer}/{i}"
                try:
                    reply = client.post("/v3/kv/put", json={"key": _b64(key), "value": _b64(key)})
                except httpx.HTTPError:
                    return  # the server died: this write's fate is unknown, and that is allowed
                assert reply.status_code == 200, reply.text
                with self._lock:
                    self.acked[key] = int(reply.json()["header"]["revision"])


def _all_keys(url: str) -> dict[str, int]:
    reply = httpx.post(url + "/v3/kv/range", json={"key": "AA==", "range_end": "AA=="}, timeout=30)
    body = reply.json()
    return {base64.b64decode(kv["key"]).decode(): int(kv["mod_revision"])
            for kv in body.get("kvs", [])} | {"": int(body["header"]["revision"])}


@pytest.mark.slow
def test_sigkill_under_load_loses_no_acknowledged_write(tmp_path: Path) -> None:
    seed = int(os.environ.get("CONFAGENT_FAULT_SEED", random.randrange(1 << 30)))
    print(f"fault seed: {seed} (CONFAGENT_FAULT_SEED={seed} reproduces)")
    rng = random.Random(seed)
    data_dir, port = tmp_path / "store", free_port()
    acked: dict[str, int] = {}
    server: ServerProcess | None = None
    for round_no in range(ROUNDS):
        server = start_store(data_dir, port=port, args=("--snapshot-count", "300"))
        _check(server.url, acked, seed)
        writers = Writers(server.url, round_no)
        writers.start()
        time.sleep(rng.uniform(0.1, 0.8))
        server.kill()
        writers.join()
        assert writers.acked, f"seed {seed}: round {round_no} acknowledged nothing"
        acked.update(writers.acked)
    server = start_store(data_dir, port=port)
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
