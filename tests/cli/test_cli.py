"""``python -m confagent`` against a real etcd, its output compared with etcdctl 3.4's for the same commands.

Commands that change the store run twice from the same starting state (set up
with etcdctl), once per tool, so their outputs can be compared byte for byte.
"""

from __future__ import annotations

import os
import re
import select
import subprocess
import time
from collections.abc import Iterator

import orjson
import pytest

from confagent.testing import confagent_argv
from confagent.wire import b64
from tests.cli.support import ETCDCTL, etcdctl, ours, same_output


def test_get_matches_etcdctl(etcd_server: str, prefix: str) -> None:
    for name, value in (("a", "1"), ("b", ""), ("c", "x y\nz")):
        etcdctl(etcd_server, "put", prefix + name, value)
    for args in (
        ["kv", "get", prefix + "a"],
        ["kv", "get", prefix, "--prefix"],
        ["kv", "get", prefix, "--prefix", "--keys-only"],
        ["kv", "get", prefix, "--prefix", "--print-value-only"],
        ["kv", "get", prefix, "--prefix", "--limit", "2", "--sort-by", "VALUE", "--order", "DESCEND"],
        ["kv", "get", prefix + "a", prefix + "c"],
        ["kv", "get", prefix + "b", "--from-key", "--limit", "1"],
        ["kv", "get", prefix + "missing"],
        ["kv", "get", prefix, "--prefix", "-w", "json"],
    ):
        same_output(etcd_server, args)
    assert ours(etcd_server, "kv", "get", prefix, "--prefix", "--count-only").stdout == b"3\n"


def test_put_and_del_match_etcdctl(etcd_server: str, prefix: str) -> None:
    key = prefix + "k"
    for args in (["kv", "put", key, "v2", "--prev-kv"], ["kv", "del", prefix, "--prefix", "--prev-kv"]):
        outputs = []
        for tool in (ours, etcdctl):
            etcdctl(etcd_server, "put", key, "v1")
            run = tool(etcd_server, *(args if tool is ours else args[1:]))
            assert run.returncode == 0, run.stderr
            outputs.append(run.stdout)
        assert outputs[0] == outputs[1]
    assert ours(etcd_server, "kv", "put", key, stdin=b"from\nstdin\n").stdout == b"OK\n"
    assert etcdctl(etcd_server, "get", key, "--print-value-only").stdout == b"from\nstdin\n\n"


def test_txn_matches_etcdctl(etcd_server: str, prefix: str) -> None:
    script = (f'mod("{prefix}t") > "0"\nvalue("{prefix}t") = "v1"\n\n'
              f'put {prefix}t "new value"\nget {prefix}t\ndel {prefix}none\n\n'
              f"put {prefix}t failed\n\n").encode()
    outputs = []
    for tool, args in ((ours, ("kv", "txn")), (etcdctl, ("txn",))):
        etcdctl(etcd_server, "put", prefix + "t", "v1")
        outputs.append(tool(etcd_server, *args, stdin=script).stdout)
    assert outputs[0] == outputs[1]
    assert outputs[0].startswith(b"SUCCESS\n\nOK\n")
    refused = ours(etcd_server, "kv", "txn", stdin=b"bogus\n\n")
    assert refused.returncode != 0 and refused.stderr == b"Error: malformed comparison: bogus\n"


def test_leases_match_etcdctl(etcd_server: str, prefix: str) -> None:
    granted = ours(etcd_server, "lease", "grant", "60").stdout.decode()
    match = re.fullmatch(r"lease ([0-9a-f]{16}) granted with TTL\(60s\)\n", granted)
    assert match is not None, granted
    lease = match.group(1)
    assert ours(etcd_server, "kv", "put", prefix + "l", "v", "--lease", lease).returncode == 0
    remaining = re.compile(rb"remaining\(\d+s\)")  # counts down between the two runs
    mine = ours(etcd_server, "lease", "timetolive", lease, "--keys").stdout
    theirs = etcdctl(etcd_server, "lease", "timetolive", lease, "--keys").stdout
    assert remaining.sub(b"#", mine) == remaining.sub(b"#", theirs)
    same_output(etcd_server, ["lease", "keepalive", lease, "--once"],
                ["lease", "keep-alive", lease, "--once"])
    assert f"{lease}\n".encode() in ours(etcd_server, "lease", "list").stdout
    assert ours(etcd_server, "lease", "revoke", lease).stdout == f"lease {lease} revoked\n".encode()
    same_output(etcd_server, ["lease", "timetolive", lease])
    again = ours(etcd_server, "lease", "revoke", lease)
    assert again.returncode == 1
    assert again.stderr == b"Error: failed to revoke lease (etcdserver: requested lease not found)\n"


def _without_moving_numbers(text: bytes) -> bytes:
    """Status rows with the db size and raft indexes (which move on their own) blanked."""
    return re.sub(rb"\d+(?:\.\d)? [kMG]?B|\b\d{2,}\b", b"#", text)


def test_cluster_commands_match_etcdctl(etcd_server: str) -> None:
    for fmt in ("simple", "table", "json"):
        same_output(etcd_server, ["member", "list", "-w", fmt])
    for fmt in ("simple", "table"):
        mine = ours(etcd_server, "endpoint", "status", "-w", fmt).stdout
        theirs = etcdctl(etcd_server, "endpoint", "status", "-w", fmt).stdout
        assert _without_moving_numbers(mine) == _without_moving_numbers(theirs)
    status = orjson.loads(ours(etcd_server, "endpoint", "status", "-w", "json").stdout)
    assert status[0]["Endpoint"] == etcd_server and status[0]["Status"]["version"] == "3.4.23"
    health = ours(etcd_server, "endpoint", "health").stdout.decode()
    assert re.fullmatch(re.escape(etcd_server)
                        + r" is healthy: successfully committed proposal: took = [\d.]+[µm]?s\n",
                        health)


_WATCH_SPELLINGS = [(["kv", "watch"], []), (["watch"], ["--hex"]), (["watch"], ["-w", "json", "--hex"])]


def _shown(data: str, flags: list[str]) -> bytes:
    """How a key or value appears in a watcher's output with these flags."""
    if "json" in flags:
        return b64(data.encode()).encode()
    if "--hex" in flags:
        return "".join(f"\\x{byte:02x}" for byte in data.encode()).encode()
    return data.encode()


@pytest.fixture(params=_WATCH_SPELLINGS, ids=lambda p: " ".join(p[0] + p[1]))
def watchers(request: pytest.FixtureRequest, etcd_server: str,
             prefix: str) -> Iterator[tuple[list[subprocess.Popen[bytes]], list[str]]]:
    """``watch --prefix --prev-kv`` by both tools, with the flags of the parameter; stopped (by pid)
    at the end."""
    spelling, flags = request.param
    procs = [
        subprocess.Popen(confagent_argv(*spelling, prefix, "--prefix", "--prev-kv", *flags,
                                        "--endpoints", etcd_server), stdout=subprocess.PIPE),
        subprocess.Popen([ETCDCTL, f"--endpoints={etcd_server}", "watch", prefix, "--prefix",
                          "--prev-kv", *flags], stdout=subprocess.PIPE,
                         env={**os.environ, "ETCDCTL_API": "3"}),
    ]
    try:
        yield procs, flags
    finally:
        for proc in procs:
            proc.kill()
            proc.wait(10)
            if proc.stdout is not None:
                proc.stdout.close()


def test_watch_matches_etcdctl(etcd_server: str, prefix: str,
                               watchers: tuple[list[subprocess.Popen[bytes]], list[str]]) -> None:
    procs, flags = watchers
    ready, done = _shown("ready", flags), _shown("done", flags)
    # A watch starts "from now": write markers until both have seen one.
    deadline = time.monotonic() + 20
    outputs = [bytearray(), bytearray()]
    while not all(ready in out for out in outputs):
        assert time.monotonic() < deadline, outputs
        etcdctl(etcd_server, "put", prefix + "marker", "ready")
        _read_available(procs, outputs)
    etcdctl(etcd_server, "put", prefix + "w", "1")
    etcdctl(etcd_server, "put", prefix + "w", "2")
    etcdctl(etcd_server, "del", prefix + "w")
    etcdctl(etcd_server, "put", prefix + "end", "done")
    while not all(done in out and out.endswith(b"\n") for out in outputs):
        assert time.monotonic() < deadline, outputs
        _read_available(procs, outputs)
    after_markers = [bytes(out[out.index(b"\n", out.rindex(ready)) + 1:]) for out in outputs]
    assert after_markers[0] == after_markers[1]
    if flags == []:
        assert after_markers[0].startswith(f"PUT\n{prefix}w\n1\n".encode())
    assert _shown(prefix + "w", flags) in after_markers[0]


def _read_available(procs: list[subprocess.Popen[bytes]], outputs: list[bytearray]) -> None:
    """Append what each watcher has printed, waiting at most 0.2 s for anything."""
    fds = {proc.stdout.fileno(): out for proc, out in zip(procs, outputs, strict=True)
           if proc.stdout is not None}
    readable, _, _ = select.select(list(fds), [], [], 0.2)
    for fd in readable:
        fds[fd].extend(os.read(fd, 65536))


def test_errors_are_one_line(etcd_server: str) -> None:
    table = ours(etcd_server, "kv", "get", "x", "-w", "table")
    assert table.returncode != 0
    assert table.stderr == b"Error: table not supported as output format\n"
    dead = ours("http://127.0.0.1:1", "kv", "get", "x", "--dial-timeout", "500ms")
    assert dead.returncode == 1
    assert dead.stderr.startswith(b"Error: no endpoint answered") and dead.stderr.count(b"\n") == 1
