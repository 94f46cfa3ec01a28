"""The process guard (tests/process_guard.py), on a small suite of its own run by a fresh pytest:
a test starting a process without the ``system`` mark fails, as does one starting etcdctl without
``etcd``, even when it catches the refusal; a marked test starts what it likes."""

from __future__ import annotations

import sys
from pathlib import Path

from confagent.testing import Processes

ROOT = Path(__file__).resolve().parents[1]
SUITE = '''
import asyncio
import subprocess

import pytest


def test_unmarked_run():
    subprocess.run(["true"], check=True)


def test_unmarked_asyncio_exec():
    async def start():
        await asyncio.create_subprocess_exec("true")

    asyncio.run(start())


def test_unmarked_refusal_caught():
    try:
        subprocess.run(["true"], check=True)
    except BaseException:
        pass


@pytest.mark.system
def test_marked_run():
    subprocess.run(["true"], check=True)


@pytest.mark.system
def test_etcdctl_marked_system_only():
    subprocess.run(["etcdctl", "version"], check=False)


@pytest.mark.system
@pytest.mark.etcd
def test_etcd_marked_starts_etcdctl():
    with pytest.raises(FileNotFoundError):
        subprocess.run(["/nonexistent/etcdctl", "version"], check=False)
'''


def test_unmarked_starts_fail_and_marked_ones_run(tmp_path: Path, processes: Processes) -> None:
    (tmp_path / "test_suite.py").write_text(SUITE)
    (tmp_path / "conftest.py").write_text('pytest_plugins = ["tests.process_guard"]\n')
    (tmp_path / "pytest.ini").write_text("[pytest]\nmarkers =\n    system: x\n    etcd: x\n")
    pytest = [sys.executable, "-m", "pytest", "-q", "-rA", "-p", "no:cacheprovider", "test_suite.py"]
    ran = processes.run(pytest, cwd=tmp_path, env={"PYTHONPATH": str(ROOT)})
    report = ran.stdout.decode()
    outcomes = {line.split()[1].split("::")[1]: line.split()[0] for line in report.splitlines()
                if line.startswith(("PASSED ", "FAILED "))}
    assert outcomes == {
        "test_unmarked_run": "FAILED", "test_unmarked_asyncio_exec": "FAILED",
        "test_unmarked_refusal_caught": "FAILED", "test_marked_run": "PASSED",
        "test_etcdctl_marked_system_only": "FAILED", "test_etcd_marked_starts_etcdctl": "PASSED",
    }, report
    assert "starts a process (true) but is not marked system: mark it system (use the fixture)" in report
    assert "starts etcdctl but is not marked etcd" in report
