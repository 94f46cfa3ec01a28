"""Fixtures shared by every test folder, and the markers they set: ``system`` and ``etcd``.

Processes. A test starts processes only through the fixtures here: ``processes``
(a ``confagent.testing.Processes``: stores, agents, etcd, commands, each stopped
when the test ends), ``etcd_processes`` (the same, for a test that starts an
etcd of its own), ``session_processes`` (for fixtures that outlive a test),
``etcd_server`` and ``confagent_server`` (session-scoped servers; their client
URLs), ``own_etcd`` and ``own_server`` (a fresh server of the test's own, for
state no other test may see, such as auth turned on), and ``subprocesses``
for a test that starts processes some other way (the code under test's check
and reload commands, a shell pipeline). A test that
uses any of them, directly or through another fixture, is marked ``system``;
one that uses ``etcd_server`` or ``etcd_binary`` is marked ``etcd`` too. A
fixture parametrized over servers marks the parameters that start one
(``pytest.param(..., marks=SYSTEM)``). So ``pytest -m "not system"`` is the fast
loop: the pure cores, the codecs, and the I/O parts that run in this process.

Servers on loopback sockets inside the test's own process (a store node, a
client against it, the agent's listener) stay in the fast loop: they start in
milliseconds, and tests/server's 159 cases take a few seconds.

The rule is checked, not trusted (tests/process_guard.py): while a test runs,
starting a process fails it unless it is marked ``system``, and starting etcd
or etcdctl unless it is marked ``etcd`` too, so a wrong mark cannot hide in the
fast loop. In the fast loop (a mark expression
with ``not system``) the generated tests run a share of their examples and seeds
(tests/thoroughness.py); the full run runs them all.

Every process a test starts imports confagent from this tree (``PYTHONPATH``
names it first), whichever confagent the interpreter has installed.

Tests that use the session servers must leave no state others depend on: use
keys under a prefix of their own. A missing etcd binary is an error with the
install hint, never a skip.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import settings

from confagent.testing import Processes
from tests import thoroughness

pytest_plugins = ["tests.process_guard"]

TREE = Path(__file__).resolve().parents[1]
os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, (str(TREE), os.environ.get("PYTHONPATH"))))

SYSTEM_FIXTURES = frozenset({"processes", "session_processes", "subprocesses"})
"""Using one of these (or a fixture that does) marks a test ``system``."""
ETCD_FIXTURES = frozenset({"etcd_server", "etcd_binary"})
"""Using one of these (or a fixture that does) marks a test ``etcd`` and ``system``."""


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark each test from the fixtures it uses (their whole closure), so no mark can be forgotten."""
    for item in items:
        used = set(getattr(item, "fixturenames", ()))
        if used & ETCD_FIXTURES:
            item.add_marker(pytest.mark.etcd)
        if used & (SYSTEM_FIXTURES | ETCD_FIXTURES):
            item.add_marker(pytest.mark.system)


@pytest.fixture
def processes() -> Iterator[Processes]:
    """Start processes through this; each is stopped by its pid when the test ends."""
    started = Processes()
    try:
        yield started
    finally:
        started.close()


@pytest.fixture(scope="session")
def session_processes() -> Iterator[Processes]:
    """:func:`processes` for fixtures that outlive one test; stopped when the session ends."""
    started = Processes()
    try:
        yield started
    finally:
        started.close()


@pytest.fixture
def etcd_processes(processes: Processes, etcd_binary: str) -> Processes:
    """:func:`processes` for a test that starts etcd of its own (marks it ``etcd``)."""
    return processes


@pytest.fixture(scope="session")
def subprocesses() -> None:
    """Declares that the test starts processes some other way: the code under test's check and reload
    commands, a shell pipeline, a fresh interpreter."""


@pytest.fixture(scope="session")
def etcd_binary() -> str:
    """The path of a real etcd 3.4 (Debian's etcd-server); an error with the install hint when missing."""
    binary = shutil.which("etcd") or "/usr/bin/etcd"
    if not Path(binary).exists():
        pytest.fail("etcd is not installed: apt-get install etcd-server (scripts/test does)")
    return binary


@pytest.fixture(scope="session")
def etcd_server(tmp_path_factory: pytest.TempPathFactory, session_processes: Processes,
                etcd_binary: str) -> str:
    """The URL of a real etcd started for this session."""
    return session_processes.etcd(tmp_path_factory.mktemp("etcd-session") / "data").url


OWN_SERVER_ARGS = ("--bcrypt-cost", "4")
"""The servers of a test's own hash passwords at bcrypt's lowest cost: a sign-in costs about a
millisecond instead of 70 (etcd's cost 10), and an auth test signs in at every step."""


@pytest.fixture
def own_etcd(tmp_path: Path, etcd_processes: Processes) -> str:
    """The URL of a real etcd of the test's own: for state no test may share (auth turned on)."""
    return etcd_processes.etcd(tmp_path / "own-etcd", args=OWN_SERVER_ARGS).url


@pytest.fixture
def own_confagent(tmp_path: Path, processes: Processes) -> str:
    """The URL of a ``confagent store`` of the test's own: for state no test may share (auth turned on)."""
    return processes.store(tmp_path / "own-confagent", args=OWN_SERVER_ARGS).url


@pytest.fixture(params=[pytest.param("own_etcd", marks=[pytest.mark.system, pytest.mark.etcd]),
                        pytest.param("own_confagent", marks=[pytest.mark.system])])
def own_server(request: pytest.FixtureRequest) -> str:
    """The URL of a server of the test's own, of each kind the test runs against."""
    url: str = request.getfixturevalue(request.param)
    return url


@pytest.fixture(scope="session")
def confagent_server(tmp_path_factory: pytest.TempPathFactory, session_processes: Processes) -> str:
    """The URL of a ``confagent store`` process started for this session."""
    return session_processes.store(tmp_path_factory.mktemp("confagent-session") / "data").url


settings.register_profile("untimed", deadline=None)
settings.load_profile("untimed")
"""Tests never fail on timing: no example has a deadline (hypothesis's 200 ms fails slow examples on a
loaded machine)."""

FAST_LOOP_MARKS = "not system"
"""A mark expression holding this runs the fast loop's share of generated examples."""


def pytest_configure(config: pytest.Config) -> None:
    if FAST_LOOP_MARKS in (config.option.markexpr or ""):
        thoroughness.fast_loop(True)
        settings.register_profile("fast-loop", settings.get_profile("untimed"),
                                  max_examples=thoroughness.examples(100))
        settings.load_profile("fast-loop")
