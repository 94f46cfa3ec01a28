"""etcdctl's spellings against a real etcd: the top-level ``get``, ``put``, ``del``, ``txn`` and
``compaction`` (aliases of ``kv ...``), and ``--hex``, compared with etcdctl 3.4 byte for byte.

(``watch`` and ``watch --hex`` are compared in test_cli's watch test.)
"""

from __future__ import annotations

from pathlib import Path

from confagent.testing import Processes
from tests.cli.support import etcdctl, ours, same_output

BINARY_VALUE = b"x\x00\xff\n"


def _put_fixture_keys(url: str, prefix: str) -> None:
    etcdctl(url, "put", prefix + "a", "1")
    etcdctl(url, "put", prefix + "b", "")
    etcdctl(url, "put", prefix + "c", stdin=BINARY_VALUE)
    etcdctl(url, "put", prefix + "é", "unicode key")


def test_top_level_spellings_match_etcdctl_and_kv(etcd_server: str, prefix: str) -> None:
    _put_fixture_keys(etcd_server, prefix)
    for args in (["get", prefix, "--prefix"], ["get", prefix + "a", "-w", "json"],
                 ["get", prefix, "--prefix", "--keys-only", "--limit", "2"]):
        assert same_output(etcd_server, args) == same_output(etcd_server, ["kv", *args])
    for args in (["put", prefix + "p", "v2", "--prev-kv"], ["del", prefix + "p", "--prev-kv"]):
        outputs = []
        for tool, argv in ((ours, args), (ours, ["kv", *args]), (etcdctl, args)):
            etcdctl(etcd_server, "put", prefix + "p", "v1")
            run = tool(etcd_server, *argv)
            assert run.returncode == 0, run.stderr
            outputs.append(run.stdout)
        assert outputs[0] == outputs[1] == outputs[2], outputs
    script = f'value("{prefix}a") = "1"\n\nget {prefix}a\n\nget {prefix}b\n\n'.encode()
    assert same_output(etcd_server, ["txn"], stdin=script).startswith(b"SUCCESS\n")


def test_hex_output_matches_etcdctl(etcd_server: str, prefix: str) -> None:
    _put_fixture_keys(etcd_server, prefix)
    for args in (
        ["get", prefix, "--prefix", "--hex"],
        ["--hex", "get", prefix, "--prefix", "--print-value-only"],
        ["get", prefix, "--prefix", "--keys-only", "--hex"],
        ["get", prefix, "--prefix", "--hex", "-w", "json"],
    ):
        same_output(etcd_server, args)
    assert ours(etcd_server, "get", prefix + "c", "--hex").stdout == (
        rb"\x" + r"\x".join(f"{b:02x}" for b in (prefix + "c").encode()).encode()
        + b"\n\\x78\\x00\\xff\\x0a\n")
    txn = (f'value("{prefix}a") = "1"\n\nget {prefix}c\nput {prefix}t x --prev-kv\n\n'
           f"get {prefix}b\n\n").encode()
    for args in (["put", prefix + "c", "new", "--prev-kv", "--hex"],
                 ["del", prefix + "c", "--prev-kv", "--hex"],
                 ["txn", "--hex"]):
        outputs = []
        for tool in (ours, etcdctl):
            etcdctl(etcd_server, "put", prefix + "c", stdin=BINARY_VALUE)
            etcdctl(etcd_server, "put", prefix + "t", "old")
            run = tool(etcd_server, *args, stdin=txn if "txn" in args else b"")
            assert run.returncode == 0, run.stderr
            outputs.append(run.stdout)
        assert outputs[0] == outputs[1], args
        assert b"\\x78\\x00\\xff\\x0a" in outputs[0]


def test_compaction_matches_etcdctl(tmp_path: Path, etcd_processes: Processes) -> None:
    """On an etcd of its own: the session's keeps its history for the other tests."""
    server = etcd_processes.etcd(tmp_path / "etcd")
    try:
        for value in "1234":
            etcdctl(server.url, "put", "k", value)
        outputs = [ours(server.url, "compaction", "2").stdout,
                   ours(server.url, "kv", "compaction", "3", "--physical").stdout,
                   ours(server.url, "kv", "compact", "4").stdout,
                   etcdctl(server.url, "compaction", "5", "--physical").stdout]
        assert outputs == [f"compacted revision {n}\n".encode() for n in range(2, 6)]
        again = ours(server.url, "compaction", "5")
        assert (again.returncode, again.stderr) == (
            1, b"Error: etcdserver: mvcc: required revision has been compacted\n")
    finally:
        server.stop()
