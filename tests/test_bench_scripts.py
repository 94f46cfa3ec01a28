"""Every benchmark starts as bench/README.md runs it (``python bench/NAME.py``) and measures the tree it
is in: its imports resolve and its options parse, whichever confagent the interpreter has installed."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.bench_modules import load_bench_module

ROOT = Path(__file__).resolve().parents[1]
SCRIPTS = sorted((ROOT / "bench").glob("*_bench.py"))
CHECK = """
import runpy, sys
path = sys.argv[1]
sys.argv, sys.path[0] = [path, "--help"], path.rsplit("/", 1)[0]  # as `python bench/NAME.py --help` has them
try:
    runpy.run_path(path, run_name="__main__")
except SystemExit as end:
    assert end.code in (0, None), end.code
import os
print(os.environ["PYTHONPATH"].split(os.pathsep)[0])
import confagent  # the one the benchmark loaded, or would load (one that imports it only in its children)
print(confagent.__file__)
"""


def test_there_are_benchmarks_to_check() -> None:
    assert len(SCRIPTS) >= 10


@pytest.mark.usefixtures("subprocesses")
def test_every_benchmark_imports_this_trees_confagent_and_parses_its_options(tmp_path: Path) -> None:
    """Started together from another directory, with no PYTHONPATH: ``--help`` answers, the confagent
    a benchmark loaded is this tree's, and so is the one its processes would load (PYTHONPATH)."""
    env = {name: value for name, value in os.environ.items() if name != "PYTHONPATH"}
    running = {script.name: subprocess.Popen([sys.executable, "-c", CHECK, str(script)], cwd=tmp_path,
                                             env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
               for script in SCRIPTS}
    for name, process in running.items():
        out, err = process.communicate(timeout=120)
        assert process.returncode == 0, f"{name}: {err.decode()[-2000:]}"
        assert out.decode().splitlines()[-2:] == [str(ROOT), str(ROOT / "confagent" / "__init__.py")], name


@pytest.mark.usefixtures("subprocesses")
def test_a_process_given_another_trees_environment_imports_that_tree_even_from_this_ones_root(
        tmp_path: Path) -> None:
    """``--base TREE`` (bench/_tree.tree_env): ``python -m confagent`` started in this tree's root, where a
    benchmark is run from, loads the other tree's confagent, not the one in its working directory."""
    tree_env = load_bench_module("_tree").tree_env
    other = tmp_path / "other"
    (other / "confagent").mkdir(parents=True)
    (other / "confagent" / "__main__.py").write_text("print(__file__)\n")
    (other / "confagent" / "__init__.py").write_text("")
    done = subprocess.run([sys.executable, "-m", "confagent"], cwd=ROOT, env=os.environ | tree_env(other),
                          capture_output=True, text=True, timeout=60, check=True)
    assert done.stdout.strip() == str(other.resolve() / "confagent" / "__main__.py")
