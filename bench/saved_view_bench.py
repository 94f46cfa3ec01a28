"""The agent's durable cache (``confagent.agent._saved_view``): what one write and one read of it cost.

Writes a view of ``--keys`` keys (``/app/svcNNN/kNNNNNN`` = an address) to
``agent-cache.json`` in a temporary directory with ``save_view`` (encode,
SHA-256, stage file, fsync, rename, directory fsync), then reads it back with
``load_saved_view`` (checksum, decode), ``--rounds`` times, and prints the
file's size and the best and median milliseconds of each. The daemon writes
at most once per ``SAVE_EVERY_S`` on a thread, so the write's cost bounds
what the cache takes from a busy agent. Asserts nothing about time.

    python bench/saved_view_bench.py [--keys 10000] [--rounds 7]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import _tree  # noqa: F401 - this tree's confagent first

from confagent.agent._saved_view import SAVE_EVERY_S, SAVED_VIEW_FILE, SavedView, load_saved_view, save_view
from confagent.render import KeyView


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keys", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    view = KeyView({f"/app/svc{i // 100:03d}/k{i:06d}": f"10.0.{i % 256}.{i % 200}:8080"
                    for i in range(args.keys)}, 12345)
    saved = SavedView(view, 0xCDF818194E3A8C32, "etcd", ("http://127.0.0.1:2379",), ("/app",), time.time())
    writes: list[float] = []
    reads: list[float] = []
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / SAVED_VIEW_FILE
        for _ in range(args.rounds):
            started = time.perf_counter()
            save_view(path, saved)
            writes.append((time.perf_counter() - started) * 1000)
            started = time.perf_counter()
            load_saved_view(path)
            reads.append((time.perf_counter() - started) * 1000)
        size_kib = path.stat().st_size / 1024
    print(f"{args.keys} keys, {size_kib:.0f} KiB; written at most every {SAVE_EVERY_S:g} s")
    print(f"write: best {min(writes):.1f} ms, median {statistics.median(writes):.1f} ms")
    print(f"read:  best {min(reads):.1f} ms, median {statistics.median(reads):.1f} ms")


if __name__ == "__main__":
    main()
