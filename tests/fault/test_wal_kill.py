"""kill -9 at random moments: every acknowledged entry survives, and the log stays contiguous.

A child process appends batches to the write-ahead log and prints the last index of each
batch only after its fsync returned (its acknowledgement). Now and then it writes a
snapshot marker and releases segments, and segments are small, so kills also land in
cuts and releases. The parent SIGKILLs it after a seeded number of acknowledgements,
reopens the log and checks it; then the next child goes on from there.

Reproduce a run with ``WAL_KILL_SEED=<seed printed by the test>``.
"""

from __future__ import annotations

import os
import random
import select
import subprocess
import sys
import time
from pathlib import Path

from confagent.server.storage import Wal, WalState
from confagent.testing import Processes

ROUNDS = 20
ACKS_BEFORE_KILL_MAX = 150
LINE_TIMEOUT_S = 30.0

CHILD = r"""
import asyncio, random, sys
from pathlib import Path
from confagent.raft._types import Entry, HardState, SnapshotMeta
from confagent.server.storage import Wal, WalWriter

data_dir, rng, mode = Path(sys.argv[1]), random.Random(int(sys.argv[2])), sys.argv[3]
wal, state = Wal.open(data_dir, segment_bytes=4096)
term, last = state.hard_state.term + 1, state.last_index

def next_batch():
    global last
    batch = [Entry(term, i, data=b"%d:" % i * rng.randint(1, 30))
             for i in range(last + 1, last + 1 + rng.randint(1, 8))]
    last = batch[-1].index
    return HardState(term, 1, last), batch

def marker():
    return SnapshotMeta(last, term) if rng.random() < 0.1 else None

def run_direct():
    while True:
        hard_state, batch = next_batch()
        wal.append(hard_state, batch)
        wal.sync()
        print(last, flush=True)
        if (meta := marker()) is not None:
            wal.mark_snapshot(meta)
            wal.sync()
            wal.release_to(meta.index)

async def run_writer():
    writer = WalWriter(wal)
    while True:
        hard_state, batch = next_batch()
        await writer.save(hard_state, batch, sync=True)
        print(last, flush=True)
        if (meta := marker()) is not None:
            await writer.save(None, (), sync=True, snapshot=meta)
            await writer.release_to(meta.index)

run_direct() if mode == "direct" else asyncio.run(run_writer())
"""


def output_after_acks(child: subprocess.Popen[bytes], count: int) -> bytes:
    """The child's output up to at least ``count`` lines, each awaited at most LINE_TIMEOUT_S."""
    assert child.stdout is not None
    fd, output = child.stdout.fileno(), b""
    while output.count(b"\n") < count:
        ready, _, _ = select.select([fd], [], [], LINE_TIMEOUT_S)
        chunk = os.read(fd, 65536) if ready else b""
        if not chunk:
            child.kill()
            _, errors = child.communicate()
            raise AssertionError(f"child stopped answering: {errors.decode()}")
        output += chunk
    return output


def kill_and_collect(child: subprocess.Popen[bytes], output: bytes) -> list[int]:
    """SIGKILL the child; every acknowledgement it printed before dying."""
    child.kill()
    rest, _ = child.communicate()
    return [int(line) for line in (output + rest).split(b"\n")[:-1]]  # a cut last line is no ack


def check(state: WalState, acknowledged: int) -> None:
    first = state.snapshot.index + 1 if state.snapshot else 1
    assert state.last_index >= acknowledged, f"acknowledged {acknowledged}, found {state.last_index}"
    assert [e.index for e in state.entries] == list(range(first, state.last_index + 1))
    for entry in state.entries:
        assert entry.data.startswith(b"%d:" % entry.index), entry


def test_acknowledged_entries_survive_kill_9(tmp_path: Path, processes: Processes) -> None:
    seed = int(os.environ.get("WAL_KILL_SEED", random.randrange(2**32)))
    print(f"WAL_KILL_SEED={seed}")
    rng = random.Random(seed)
    started, acknowledged = time.monotonic(), 0
    for round_number in range(ROUNDS):
        mode = "writer" if round_number % 2 else "direct"
        child = processes.popen(
            [sys.executable, "-c", CHILD, str(tmp_path), str(rng.getrandbits(32)), mode],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )
        output = output_after_acks(child, rng.randint(1, ACKS_BEFORE_KILL_MAX))
        acks = kill_and_collect(child, output)
        assert acks == sorted(acks) and acks[0] > acknowledged
        acknowledged = acks[-1]
        wal, state = Wal.open(tmp_path, segment_bytes=4096)
        wal.close()
        check(state, acknowledged)
    assert (tmp_path / "member" / "wal").is_dir()
    print(f"{ROUNDS} kills in {time.monotonic() - started:.1f} s, last acknowledged {acknowledged}")
