"""Commands piped into ``head`` end quietly, as etcdctl does: no traceback, exit status 141.

141 is what a shell reports for etcdctl and coreutils in ``... | head -1`` (they die of
SIGPIPE, 128 + 13). Two kinds of pipe: a real ``| head -1`` pipeline, and a pipe whose
reader is gone before the command writes (``head`` already exited), which makes the
first write fail every time.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from confagent.testing import Processes, ServerProcess, b64, confagent_argv, free_port

EXIT_BROKEN_PIPE = 141
LONG_KEYS = 4096
"""With 100-byte values, ~500 kB of ``get --prefix`` output: far more than a pipe holds."""
LONG_PREFIX = "/long/"
CONFAGENT = confagent_argv()


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory, session_processes: Processes) -> Iterator[ServerProcess]:
    """A fresh store (``member add`` changes it) holding LONG_KEYS keys under LONG_PREFIX."""
    server = session_processes.store(tmp_path_factory.mktemp("pipes") / "data")
    try:
        with httpx.Client(timeout=30) as client:
            for start in range(0, LONG_KEYS, 128):
                ops = [{"requestPut": {"key": b64(f"{LONG_PREFIX}{i:05d}"), "value": b64("v" * 100)}}
                       for i in range(start, start + 128)]
                client.post(f"{server.url}/v3/kv/txn", json={"success": ops}).raise_for_status()
        yield server
    finally:
        server.stop()


def piped_into_head(argv: list[str]) -> tuple[bytes, int, bytes]:
    """``argv | head -1``: what head printed, the command's exit status and its stderr."""
    command = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert command.stdout is not None and command.stderr is not None
    head = subprocess.Popen(["head", "-1"], stdin=command.stdout, stdout=subprocess.PIPE)
    command.stdout.close()  # head holds the only read end: when it exits, writes fail
    printed, _ = head.communicate(timeout=60)
    errors = command.stderr.read()
    command.stderr.close()
    return printed, command.wait(timeout=60), errors


def reader_gone(argv: list[str]) -> tuple[int, bytes]:
    """``argv`` writing into a pipe nobody reads any more: its exit status and stderr."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        done = subprocess.run(argv, stdout=write_end, stderr=subprocess.PIPE, timeout=60,
                              check=False)
    finally:
        os.close(write_end)
    return done.returncode, done.stderr


def test_long_get_prefix_into_head_ends_quietly(store: ServerProcess) -> None:
    for spelling in (["kv", "get"], ["get"]):
        printed, status, errors = piped_into_head(
            [*CONFAGENT, *spelling, LONG_PREFIX, "--prefix", "--endpoints", store.url])
        assert printed == f"{LONG_PREFIX}00000\n".encode()
        assert (status, errors) == (EXIT_BROKEN_PIPE, b"")


@pytest.mark.parametrize("args", [
    ["member", "list"],
    ["endpoint", "status", "-w", "table"],
    ["lease", "grant", "60"],
    ["put", "/piped/k", "v"],
    ["kv", "get", LONG_PREFIX, "--prefix", "-w", "json"],
    ["--help"],
    ["kv", "get", "--help"],
], ids=" ".join)
def test_commands_whose_reader_is_gone_end_quietly(store: ServerProcess, args: list[str]) -> None:
    status, errors = reader_gone([*CONFAGENT, *args, "--endpoints", store.url])
    assert (status, errors) == (EXIT_BROKEN_PIPE, b"")


@pytest.mark.usefixtures("subprocesses")
def test_render_check_whose_reader_is_gone_ends_quietly(tmp_path: Path) -> None:
    """The agent's one-shot pass prints its diffs to stdout."""
    (tmp_path / "conf.d").mkdir()
    (tmp_path / "templates").mkdir()
    (tmp_path / "conf.d" / "a.toml").write_text(
        f'[template]\nsrc = "a.tmpl"\ndest = "{tmp_path}/a.conf"\nkeys = ["/app"]\n')
    (tmp_path / "templates" / "a.tmpl").write_text('{{ getv("/app/a") }}\n')
    (tmp_path / "data.yaml").write_text("app: {a: hello}\n")
    status, errors = reader_gone([*CONFAGENT, "render", "--check", "--confdir", str(tmp_path),
                                  "--backend", "file", "--file", str(tmp_path / "data.yaml")])
    assert status == EXIT_BROKEN_PIPE and b"Traceback" not in errors and b"Error" not in errors


def test_member_add_into_head_ends_quietly(store: ServerProcess) -> None:
    add = [*CONFAGENT, "member", "add", "new", "--learner", "--endpoints", store.url, "--peer-urls"]
    printed, status, errors = piped_into_head([*add, f"http://127.0.0.1:{free_port()}"])
    assert printed.startswith(b"Member ") and printed.count(b"\n") == 1
    assert errors == b"" and status in (0, EXIT_BROKEN_PIPE)  # head may exit after the last line
    _remove_learners(store.url)  # a cluster takes one learner at a time
    assert reader_gone([*add, f"http://127.0.0.1:{free_port()}"]) == (EXIT_BROKEN_PIPE, b"")
    _remove_learners(store.url)


def _remove_learners(url: str) -> None:
    with httpx.Client(timeout=10) as client:
        members = client.post(f"{url}/v3/cluster/member/list", json={}).json()["members"]
        for member in members:
            if member.get("isLearner"):
                client.post(f"{url}/v3/cluster/member/remove",
                            json={"ID": member["ID"]}).raise_for_status()


def test_watch_into_head_ends_at_the_next_event(store: ServerProcess) -> None:
    """A watcher whose reader is gone stops at its next write, as etcdctl's does."""
    watch = subprocess.Popen([*CONFAGENT, "watch", "/watched/", "--prefix", "--endpoints", store.url],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert watch.stdout is not None and watch.stderr is not None
    head = subprocess.Popen(["head", "-1"], stdin=watch.stdout, stdout=subprocess.PIPE)
    watch.stdout.close()
    try:
        deadline = time.monotonic() + 30
        with httpx.Client(timeout=5) as client:
            while watch.poll() is None:  # the first events may come before the watch starts
                assert time.monotonic() < deadline, "the watcher did not stop"
                client.post(f"{store.url}/v3/kv/put", json={"key": b64("/watched/k"),
                                                            "value": b64("v")})
                with contextlib.suppress(subprocess.TimeoutExpired):
                    watch.wait(timeout=0.2)
        assert head.communicate(timeout=10)[0] == b"PUT\n"
        assert (watch.returncode, watch.stderr.read()) == (EXIT_BROKEN_PIPE, b"")
    finally:
        for proc in (watch, head):
            if proc.poll() is None:
                proc.kill()
                proc.wait(10)
        watch.stderr.close()
