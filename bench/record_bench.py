"""What one render history record costs the agent's event loop: ``records_of`` for one resource (issue 15).

The agent builds a pass's records on its loop (``confagent.history`` rule 1), so their cost is the
loop's. One resource reads one key and, unless ``--keys`` is 0, a prefix holding that many keys (each
size in turn); each sample changes one key (under the prefix when there is one: a new view made as
the agent makes it, ``with_changes``) and times ``records_of`` for the resource's apply: the inputs
read, compared with the previous render's, the secret keys found, the diff of a small file. Prints
the best and median microseconds per record.

With ``--base TREE`` each size is measured in a process importing that checkout and one importing this
tree, ``--rounds`` times in turn, and the ratio of the medians is printed (a before/after comparison).

Usage: python bench/record_bench.py [--keys 0,100,10000] [--samples 200] [--rounds 3] [--base TREE]

In-process; nothing is written. A benchmark, not a test: it asserts nothing about time.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from _tree import tree_env  # this tree first on sys.path

from confagent.errors import ConfagentError
from confagent.history import ResourceMemory, records_of
from confagent.render import KeyView, Reads
from confagent.resource import FileAttributes, FileState, Plan, Replace, ResourceSpec
from confagent.settings import HistoryConfig


@dataclass(frozen=True)
class _Applied:
    """One resource's apply, as ``confagent.history.Applied`` reads it."""

    revision: int
    reads: Reads
    plan: Plan
    resource: str = "r"
    dest: str = "/etc/r.conf"
    changed: bool = True
    duration_ms: float = 1.0
    error: ConfagentError | None = None
    noop: bool = False
    commands: tuple[()] = field(default=())


def micros_per_record(keys: int, samples: int) -> list[float]:
    """``samples`` timings of one record, microseconds (module docstring)."""
    spec = ResourceSpec(file="r.toml", src="r.tmpl", dest="/etc/r.conf", keys=("/",))
    attributes = FileAttributes(0, 0, 0o644)
    plan = Replace(spec, b"v=2\n", attributes, FileState(b"v=1\n", attributes), ())
    reads = Reads(keys=frozenset({"/one"}), prefixes=("/svc/",) if keys else ())
    view = KeyView({f"/svc/k{i:05d}": f"value {i}" for i in range(keys)} | {"/one": "1"}, 1)
    memory, config = ResourceMemory(), HistoryConfig()
    records_of([_Applied(1, reads, plan)], view, memory, config, host="h", time_s=1.0)
    timings = []
    for revision in range(2, samples + 2):
        changed = f"/svc/k{revision % keys:05d}" if keys else "/one"
        view = view.with_changes({changed: f"v{revision}"}, [], revision)
        started = time.perf_counter()
        records_of([_Applied(revision, reads, plan)], view, memory, config, host="h", time_s=1.0)
        timings.append((time.perf_counter() - started) * 1e6)
    return timings


def in_process(tree: Path, keys: int, samples: int) -> list[float]:
    """``micros_per_record`` in a process importing ``tree``'s confagent: imported before this module, whose
    ``_tree`` puts this tree first on ``sys.path``, so that its subpackages come from ``tree`` too."""
    code = ("import json, sys, confagent; "
            f"sys.path.insert(0, {str(Path(__file__).parent)!r}); import record_bench; "
            "print(confagent.__file__); "
            f"print(json.dumps(record_bench.micros_per_record({keys}, {samples})))")
    answer = subprocess.run([sys.executable, "-c", code], env=tree_env(tree), capture_output=True, text=True,
                            check=True, timeout=300)
    loaded, timings = answer.stdout.splitlines()[-2:]
    assert Path(loaded).is_relative_to(tree.resolve()), f"{loaded} is not {tree}'s"
    return list(json.loads(timings))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--keys", default="0,100,10000",
                        help="keys under the prefix, comma-separated (0: no prefix read)")
    parser.add_argument("--samples", type=int, default=200, help="records timed per size and round")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds with --base")
    parser.add_argument("--base", type=Path, help="another checkout, measured in turn with this one")
    args = parser.parse_args(argv)
    this = Path(__file__).resolve().parents[1]
    for keys in (int(size) for size in args.keys.split(",")):
        if args.base is None:
            timings = micros_per_record(keys, args.samples)
            print(f"{keys:>6} keys: best {min(timings):8.1f} us, median {statistics.median(timings):8.1f} us")
            continue
        medians: dict[str, list[float]] = {"base": [], "this": []}
        for _ in range(args.rounds):
            for name, tree in (("base", args.base), ("this", this)):
                medians[name].append(statistics.median(in_process(tree, keys, args.samples)))
        base, ours = statistics.median(medians["base"]), statistics.median(medians["this"])
        print(f"{keys:>6} keys: base {base:8.1f} us, this tree {ours:8.1f} us, {ours / base:.3f}x "
              f"(medians of {args.rounds} rounds)")


if __name__ == "__main__":
    main()
