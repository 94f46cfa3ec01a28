"""The real etcdctl 3.4 over gRPC (``--endpoints host:port``) against a real etcd and against
``confagent store``: each scenario runs the same commands against both fresh servers, in the same order,
and the outputs (simple, ``-w json``, ``-w table``), the errors and the exit codes are compared with IDs,
peer ports, raft terms and timings masked. Revisions are compared as they are: both servers start at
revision 1 and see the same writes.
"""

from __future__ import annotations

import base64
import json
import re
import signal
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from confagent.testing import Processes, ServerProcess, free_port, store_process, until
from tests.cli.support import Held, Tool, masked, rpc_errors

pytestmark = pytest.mark.etcd

Outcome = tuple[int, str, str]


@dataclass(frozen=True)
class Servers:
    etcd: ServerProcess
    ours: ServerProcess


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory, session_processes: Processes,
            etcd_binary: str) -> Iterator[Servers]:
    """A fresh etcd and a fresh confagent store for this module (members are added and removed,
    revisions compacted)."""
    base = tmp_path_factory.mktemp("etcdctl-grpc")
    pair = Servers(session_processes.etcd(base / "etcd"), session_processes.store(base / "ours"))
    try:
        yield pair
    finally:
        pair.ours.stop()
        pair.etcd.stop()


def grpc_endpoint(server: ServerProcess) -> str:
    """``host:port``, the way etcdctl users name an endpoint (no scheme: gRPC)."""
    return server.url.split("://", 1)[1]


class Ctl:
    """etcdctl against one server, each command's outcome masked."""

    def __init__(self, server: ServerProcess, processes: Processes, tmp_path: Path) -> None:
        self.tool = Tool("etcdctl", grpc_endpoint(server))
        self.processes, self.tmp_path = processes, tmp_path

    def __call__(self, *args: str, stdin: str = "") -> Outcome:
        done = self.processes.run(self.tool.argv(*args), env=self.tool.env, input=stdin.encode())
        return done.returncode, masked(done.stdout.decode()), rpc_errors(done.stderr.decode())

    def raw(self, *args: str) -> str:
        """The command's stdout as printed (for the IDs a scenario needs); it must succeed."""
        done = self.processes.run(self.tool.argv(*args), env=self.tool.env)
        assert done.returncode == 0, done.stderr
        return done.stdout.decode()

    def revision(self) -> int:
        """The server's current revision."""
        return int(json.loads(self.raw("get", "revision-probe", "-w", "json"))["header"]["revision"])

    def held(self, *args: str) -> Held:
        return Held(self.tool, self.processes, self.tmp_path, *args)


GETS = [  # key suffix, options
    ("", "--prefix"), ("", "--prefix", "-w", "json"), ("", "--prefix", "-w", "fields", "--limit", "1"),
    ("b", "--from-key", "--limit", "2"),
    ("", "--prefix", "--sort-by=VALUE", "--order=DESCEND", "--keys-only"),
    ("", "--prefix", "--sort-by=MODIFY", "--print-value-only"),
    ("", "--prefix", "--sort-by=CREATE", "--order=ASCEND", "--limit", "3", "-w", "json"),
    ("", "--prefix", "--sort-by=VERSION", "--keys-only"), ("", "--prefix", "--consistency=s", "-w", "json"),
    ("", "--prefix", "-w", "table"), ("", "--prefix", "--print-value-only", "-w", "table"),
    ("a", "--rev", "2"), ("a", "--rev", "100000"),
]

Scenario = Callable[[Ctl], list[Outcome]]
Both = Callable[[Scenario], list[Outcome]]


def same_on_both(servers: Servers, processes: Processes, tmp_path: Path, scenario: Scenario) -> list[Outcome]:
    etcd = Ctl(servers.etcd, processes, tmp_path / "etcd")
    confagent = Ctl(servers.ours, processes, tmp_path / "ours")
    _align(etcd, confagent)
    theirs = scenario(etcd)
    ours = scenario(confagent)
    assert ours == theirs
    return ours


def _align(*ctls: Ctl) -> None:
    """Writes to the servers behind until both are at the same revision (a scenario that failed half
    way must not shift the next one's revisions)."""
    revisions = [ctl.revision() for ctl in ctls]
    for ctl, revision in zip(ctls, revisions, strict=True):
        for _ in range(max(revisions) - revision):
            ctl.raw("put", "grpc-align", "")


@pytest.fixture
def prefix() -> str:
    return f"grpc-{uuid.uuid4().hex[:6]}/"


@pytest.fixture
def both(servers: Servers, processes: Processes, tmp_path: Path) -> Both:
    """Runs a scenario against etcd, then against confagent, and asserts the same outcomes."""
    (tmp_path / "etcd").mkdir()
    (tmp_path / "ours").mkdir()
    return lambda scenario: same_on_both(servers, processes, tmp_path, scenario)


def test_endpoint_status_health_and_hashkv(both: Both) -> None:
    """First in the module: a store never compacted says so with compact revision -1, as etcd's."""
    def scenario(ctl: Ctl) -> list[Outcome]:
        return [_status(ctl("endpoint", "status")),
                _status(ctl("endpoint", "status", "-w", "json", "--cluster")),
                _status(ctl("endpoint", "status", "-w", "table")),
                _took(ctl("endpoint", "health")), _took(ctl("endpoint", "health", "--cluster", "-w", "json")),
                _took(ctl("endpoint", "health", "-w", "table")),
                _hash(ctl("endpoint", "hashkv", "-w", "json")), _hash(ctl("endpoint", "hashkv", "--cluster")),
                ctl("endpoint", "hashkv", "--rev", "100000")]

    both(scenario)


def test_put_get_del_with_their_options(both: Both, prefix: str) -> None:
    p = prefix

    def scenario(ctl: Ctl) -> list[Outcome]:
        out = [ctl("put", p + k, "v" + k) for k in "cabed"]
        out += [ctl("put", p + "a", "x", "--prev-kv"), ctl("put", p + "a", "--ignore-value"),
                ctl("put", p + "zz", "--ignore-value"), ctl("put", p + "a", "y", "--ignore-lease"),
                ctl("put", p + "a", "y", "--lease", "1234")]
        for suffix, *args in GETS:
            out.append(ctl("get", p + suffix, *args))
        out.append(ctl("get", p + "a", p + "c", "-w", "json"))
        out += [ctl("del", p + "a", "--prev-kv"), ctl("del", p + "b", "--from-key", "-w", "json"),
                ctl("del", p, "--prefix"), ctl("del", p + "nothing"), ctl("get", p, "--prefix", "-w", "json")]
        return out

    outcomes = both(scenario)
    assert outcomes[0] == (0, "OK\n", "")


def test_txn_from_stdin(both: Both, prefix: str) -> None:
    p = prefix
    script = (f'value("{p}a") = "1"\nmod("{p}b") > "0"\n\nput {p}r ok\nget {p}a --prefix\n\n'
              f'put {p}r no\n\n')

    def scenario(ctl: Ctl) -> list[Outcome]:
        out = [ctl("put", p + "a", "1"), ctl("put", p + "b", "2")]
        out += [ctl("txn", "-i", stdin=script), ctl("txn", "-w", "json", stdin=script),
                ctl("txn", "-w", "table", stdin=script),
                ctl("txn", stdin=f'version("{p}a") = "7"\n\nput {p}s 1\n\ndel {p}a --prev-kv\nget {p}a\n\n'),
                ctl("txn", "-w", "json", stdin=f'create("{p}c") = "0"\n\nput {p}c 1 --prev-kv\n\n\n'),
                ctl("txn", stdin="bad\n"), ctl("txn", stdin=f'\n\nput {p}x\n\n'),
                ctl("txn", stdin=f'\n\nget {p}a --rev 100000\n\n'), ctl("get", p, "--prefix")]
        return out

    outcomes = both(scenario)
    assert outcomes[2][1].startswith("compares:\n")


def test_a_watch_sees_history_and_the_puts_made_after_it_starts(both: Both, prefix: str) -> None:
    p = prefix
    last_c, last_a = f"DELETE\n{p}c\n5\n{p}c\n\n", f"DELETE\n{p}a\n\n"

    def scenario(ctl: Ctl) -> list[Outcome]:
        out = [ctl("put", p + "a", "1")]
        start = str(ctl.revision())
        out += [ctl("put", p + "a", "2"), ctl("put", p + "b", "3"), ctl("del", p + "a")]
        watches = {ctl.held("watch", p, "--prefix", "--rev", start, "--prev-kv"): last_c,
                   ctl.held("watch", p, "--prefix", "--rev", start, "-w", "json"): f"DELETE {p}c\n",
                   ctl.held("watch", p + "a", "--rev", start): last_a}
        live = ctl.held("watch", p, "--prefix", "--prev-kv", "--rev", str(ctl.revision() + 1))
        watches[live] = last_c
        out += [ctl("put", p + "c", "4"), ctl("put", p + "c", "5"), ctl("del", p, "--prefix")]
        until(lambda: all(_watched(masked(watch.out.read_text())).rsplit("{", 1)[0].endswith(last)
                          for watch, last in watches.items()), "the watches to print the last event")
        return out + [(code, _watched(masked(text)), err) for code, text, err in
                      (watch.stop(signal.SIGTERM) for watch in watches)]

    outcomes = both(scenario)
    assert outcomes[-1][1] == f"PUT\n{p}c\n4\nPUT\n{p}c\n4\n{p}c\n5\nDELETE\n{p}b\n3\n{p}b\n\n" + last_c


def _watched(text: str) -> str:
    """A watch's output (masked); ``-w json`` lines as the events they carry, one line each (how etcd
    groups catch-up events in responses depends on timing), each under its type and key."""
    if not text.startswith("{"):
        return text
    answers = [json.loads(re.sub(r":(ID|T)\b", ":0", line)) for line in text.splitlines()]
    events = [event for answer in answers for event in answer["Events"]]
    return "".join(f"{('PUT', 'DELETE')[e.get('type', 0)]} {base64.b64decode(e['kv']['key']).decode()}\n"
                   + json.dumps(e["kv"], sort_keys=True) for e in events)


def test_a_watch_from_a_compacted_revision_and_compaction(both: Both, prefix: str) -> None:
    p = prefix

    def scenario(ctl: Ctl) -> list[Outcome]:
        out = [ctl("put", p + "a", str(i)) for i in range(3)]
        now = ctl.revision()
        out += [ctl("compaction", str(now - 1)), ctl("compaction", "1"), ctl("compaction", "100000"),
                ctl("watch", p, "--prefix", "--rev", "2"), ctl("watch", p, "--rev", "2", "-w", "json"),
                ctl("get", p + "a", "--rev", "2"), ctl("compaction", "--physical", str(now)),
                ctl("get", p + "a", "-w", "json")]
        return out

    outcomes = both(scenario)
    assert outcomes[3][0] == 0 and outcomes[6][0] == 5


def test_leases(both: Both, prefix: str) -> None:
    p = prefix

    def scenario(ctl: Ctl) -> list[Outcome]:
        granted = ctl("lease", "grant", "600", "-w", "json")
        lease = ctl.raw("lease", "grant", "600").split()[1]
        out = [granted, ctl("put", p + "a", "1", "--lease", lease),
               ctl("put", p + "b", "2", "--lease", lease),
               _keys_sorted(ctl("lease", "timetolive", lease, "--keys")),
               ctl("lease", "keep-alive", "--once", lease),
               ctl("lease", "keep-alive", "--once", lease, "-w", "json"),
               ctl("put", p + "a", "3", "--ignore-lease"), ctl("get", p, "--prefix", "-w", "json"),
               ctl("lease", "revoke", lease), ctl("get", p, "--prefix"),
               ctl("lease", "timetolive", lease), ctl("lease", "timetolive", lease, "-w", "json"),
               ctl("lease", "revoke", lease), ctl("lease", "keep-alive", "--once", lease),
               ctl("lease", "grant", "0"), ctl("lease", "grant", "x")]
        return out

    outcomes = both(scenario)
    assert outcomes[3][1].startswith("lease ID granted with TTL(600s), remaining(")


def _keys_sorted(outcome: Outcome) -> Outcome:
    """A lease's attached keys in byte order: etcd lists them from a Go map, in any order."""
    code, out, err = outcome
    head, found, rest = out.partition("attached keys([")
    if found:
        keys, _, tail = rest.partition("])")
        out = f"{head}{found}{' '.join(sorted(keys.split()))}]){tail}"
    return code, out, err


def test_lease_list(both: Both) -> None:
    def scenario(ctl: Ctl) -> list[Outcome]:
        ids = []
        for _ in range(2):
            ids.append(ctl.raw("lease", "grant", "600").split()[1])
        found = set(ctl.raw("lease", "list").split()) & set(ids)  # other tests' sessions may hold leases
        out: list[Outcome] = [(0, str(len(found)), "")]
        out += [ctl("lease", "revoke", lease) for lease in ids]
        return out

    assert both(scenario)[0] == (0, "2", "")


def test_members(both: Both) -> None:
    def scenario(ctl: Ctl) -> list[Outcome]:
        out = [ctl("member", "list"), ctl("member", "list", "-w", "json"),
               ctl("member", "list", "-w", "table"),
               _by_id(ctl("member", "add", "n2", "--learner", "--peer-urls", "http://127.0.0.1:39999"))]
        members = json.loads(ctl.raw("member", "list", "-w", "json"))["members"]
        added = f"{next(m['ID'] for m in members if not m.get('name')):x}"
        out += [_by_id(ctl("member", "list", "-w", "table")),
                ctl("member", "update", added, "--peer-urls", "http://127.0.0.1:39998"),
                ctl("member", "promote", added), ctl("member", "remove", added),
                ctl("member", "remove", added), ctl("member", "promote", "1234"), ctl("member", "add"),
                ctl("member", "add", "x"), ctl("member", "list", "-w", "json")]
        return out

    outcomes = both(scenario)
    assert "unstarted" in outcomes[4][1]


def _by_id(outcome: Outcome) -> Outcome:
    """Members come in the order of their (random) IDs: lines and the initial cluster's names sorted."""
    code, text, err = outcome
    text = re.sub(r'(ETCD_INITIAL_CLUSTER=")([^"]*)',
                  lambda found: found[1] + ",".join(sorted(found[2].split(","))), text)
    return code, "".join(sorted(text.splitlines(keepends=True))), err


def _status(outcome: Outcome) -> Outcome:
    """Sizes (etcd's is its bbolt file's), version, raft index and term masked."""
    code, text, err = outcome
    text = re.sub(r"\b3\.4\.\d+\b", "VERSION", text)
    text = re.sub(r'"(dbSize|dbSizeInUse|raftIndex|raftTerm|raftAppliedIndex)":\d+,?', "", text)
    text = re.sub(r"(ADDR, ID, VERSION, )[^,]+(, \w+, \w+, )\d+, \d+, \d+", r"\1SIZE\2N", text)
    text = re.sub(r"(\| VERSION \|)[^|]+(\|[^|]+\|[^|]+\|)[^|]+\|[^|]+\|[^|]+\|", r"\1SIZE\2N|", text)
    return code, text, err


def _took(outcome: Outcome) -> Outcome:
    code, text, err = outcome
    return code, re.sub(r"(took = |\"took\":\"|\| )[0-9.]+[µm]?s", r"\1T", text), err


def _hash(outcome: Outcome) -> Outcome:
    """The hash itself differs (etcd hashes its bbolt pages); the rest is compared."""
    code, text, err = outcome
    return code, re.sub(r'("hash":|ADDR, )\d+', r"\1H", text), err


def test_defrag_alarms_and_move_leader_errors(both: Both) -> None:
    def scenario(ctl: Ctl) -> list[Outcome]:
        return [ctl("defrag"), ctl("defrag", "--cluster"), ctl("alarm", "list"), ctl("alarm", "disarm"),
                ctl("-w", "json", "alarm", "list"), ctl("move-leader", "5"), ctl("move-leader"),
                ctl("move-leader", "zz")]

    outcomes = both(scenario)
    refused = "etcdserver: bad leader transferee"
    assert outcomes[5] == (1, "", f"rpc error: code = FailedPrecondition desc = {refused}\n"
                                  f"Error: {refused}\n")


def test_lock_runs_a_command_holding_it(both: Both, prefix: str) -> None:
    name = prefix + "lock"

    def scenario(ctl: Ctl) -> list[Outcome]:
        out = [ctl("lock", name, "--", "sh", "-c", 'echo "$ETCD_LOCK_KEY"; echo "${ETCD_LOCK_REV:+rev}"'),
               ctl("lock", name, "--", "sh", "-c", "exit 3"), ctl("lock", name, "true"), ctl("lock")]
        holder = ctl.held("lock", name)
        until(lambda: len(holder.lines()) >= 1, "the lock to be held")
        waiter = ctl.held("lock", name, "--", "echo", "got it")
        until(lambda: len(ctl.raw("get", name, "--prefix", "--keys-only").split()) == 2,
              "the waiter to queue")
        out.append(ctl("get", name, "--prefix", "--sort-by=CREATE", "--keys-only"))
        out.append(_masked_held(holder.stop(signal.SIGINT)))
        until(lambda: waiter.process.poll() is not None, "the waiter to take the lock and run its command")
        out.append(_masked_held(waiter.stop(signal.SIGTERM)))
        out.append(ctl("get", name, "--prefix"))
        return out

    outcomes = both(scenario)
    assert outcomes[0] == (0, f"{name}/ID\nrev\n", "")


def test_a_lock_whose_holder_is_killed_passes_on_when_its_lease_expires(both: Both, prefix: str) -> None:
    """A holder SIGKILLed keeps its key until its session's lease expires (--ttl 2); the waiter's watch
    on the key then lets it through."""
    name = prefix + "killed"

    def scenario(ctl: Ctl) -> list[Outcome]:
        holder = ctl.held("lock", "--ttl", "2", name)
        until(lambda: len(holder.lines()) >= 1, "the lock to be held")
        waiter = ctl.held("lock", name, "--", "echo", "after the holder's lease")
        until(lambda: len(ctl.raw("get", name, "--prefix", "--keys-only").split()) == 2,
              "the waiter to queue")
        holder.process.kill()
        until(lambda: waiter.process.poll() is not None, "the waiter to take the lock")
        return [(waiter.process.returncode, waiter.out.read_text(), ""),
                ctl("get", name, "--prefix", "--keys-only")]

    assert both(scenario)[0] == (0, "after the holder's lease\n", "")


def _masked_held(outcome: Outcome) -> Outcome:
    code, text, err = outcome
    return code, masked(text), err


def test_elect_campaigns_and_a_listener_follows_the_leaders(both: Both, prefix: str) -> None:
    name = prefix + "election"

    def scenario(ctl: Ctl) -> list[Outcome]:
        listener = ctl.held("elect", "--listen", name)
        first = ctl.held("elect", name, "one")
        until(lambda: len(first.lines()) >= 2 and len(listener.lines()) >= 2, "the first leader, seen")
        second = ctl.held("elect", name, "two")
        out = [_masked_held(first.stop(signal.SIGINT))]
        until(lambda: len(second.lines()) >= 2, "the second campaign to win")
        until(lambda: len(listener.lines()) >= 4, "the listener to see the second leader")
        out += [_masked_held(second.stop(signal.SIGINT))]
        # A listener that lost its observer says so at once; one still observing waits for its signal.
        assert listener.process.poll() is None, listener.err.read_text()
        out += [_masked_held(listener.stop(signal.SIGINT)), ctl("elect"), ctl("elect", name, "a", "b"),
                ctl("get", name, "--prefix", "-w", "json")]
        return out

    outcomes = both(scenario)
    assert outcomes[2] == (0, f"{name}/ID\none\n{name}/ID\ntwo\n", "")


def test_snapshot_save_then_restore_and_read_back(servers: Servers, processes: Processes, tmp_path: Path,
                                                  prefix: str) -> None:
    ctl = Ctl(servers.ours, processes, tmp_path)
    for i in range(3):
        assert ctl("put", f"{prefix}{i}", f"value {i}") == (0, "OK\n", "")
    saved = tmp_path / "saved.db"
    assert ctl("snapshot", "save", str(saved)) == (0, f"Snapshot saved at {saved}\n", "")
    theirs = Ctl(servers.etcd, processes, tmp_path)("snapshot", "save", str(tmp_path / "etcd.db"))
    assert theirs == (0, f"Snapshot saved at {tmp_path / 'etcd.db'}\n", "")
    restored_dir, peer = tmp_path / "restored", f"http://127.0.0.1:{free_port()}"
    done = processes.confagent("snapshot", "restore", str(saved), "--data-dir", str(restored_dir),
                               "--name", "r", "--initial-cluster", f"r={peer}",
                               "--initial-advertise-peer-urls", peer)
    assert done.returncode == 0, done.stderr
    restored = processes.server(store_process(f"http://127.0.0.1:{free_port()}", restored_dir, [
        "--name", "r", "--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
        "--initial-cluster", f"r={peer}"])).start()
    back = Ctl(restored, processes, tmp_path)
    assert back("get", prefix, "--prefix", "--print-value-only") == (
        0, "value 0\nvalue 1\nvalue 2\n", "")
    assert back("put", prefix + "3", "after") == (0, "OK\n", "")


def test_make_mirror_from_confagent_to_etcd_and_back(servers: Servers, processes: Processes, tmp_path: Path,
                                                     prefix: str) -> None:
    """etcdctl make-mirror reads a source by paged ranges at one revision, then watches from it, and
    writes the destination with txns: each server as source and as destination."""
    ours, etcd = Ctl(servers.ours, processes, tmp_path), Ctl(servers.etcd, processes, tmp_path)
    for i in range(5):
        ours.raw("put", f"{prefix}k{i}", f"v{i}")
    there = ours.held("make-mirror", "--prefix", prefix, "--dest-prefix", prefix + "copy/", etcd.tool.url)
    copied = [f"{prefix}copy/k{i}" for i in range(5)]
    until(lambda: etcd.raw("get", prefix + "copy/", "--prefix", "--keys-only").split() == copied,
          "the keys mirrored to etcd", there.err)
    ours.raw("put", prefix + "k5", "v5")
    ours.raw("del", prefix + "k0")
    changed = [*copied[1:], prefix + "copy/k5"]
    until(lambda: etcd.raw("get", prefix + "copy/", "--prefix", "--keys-only").split() == changed,
          "the later changes mirrored to etcd", there.err)
    there.stop(signal.SIGTERM)
    back = etcd.held("make-mirror", "--prefix", prefix + "copy/", "--dest-prefix", prefix + "back/",
                     ours.tool.url)
    until(lambda: ours.raw("get", prefix + "back/", "--prefix", "--print-value-only").split()
          == ["v1", "v2", "v3", "v4", "v5"], "the keys mirrored back to confagent", back.err)
    back.stop(signal.SIGTERM)


def test_check_datascale(both: Both) -> None:
    """10,000 puts of 1 KiB from 50 clients, the memory they took read from the server's /metrics
    (``process_resident_memory_bytes``), the keys deleted, the history compacted and defragmented."""

    def scenario(ctl: Ctl) -> list[Outcome]:
        code, out, err = ctl("check", "datascale", "--load", "s", "--auto-compact", "--auto-defrag")
        verdict = re.sub(r"[0-9.]+ MB", "N MB", out.splitlines()[-1] if out else "")
        return [(code, verdict, err), ctl("get", "/etcdctl-check-datascale/", "--prefix", "--keys-only")]

    assert both(scenario)[0] == (0, "PASS: Approximate system memory used : N MB.", "")
