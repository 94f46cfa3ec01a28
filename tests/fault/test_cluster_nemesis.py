"""Three- and five-member clusters under a nemesis, their histories checked for linearizability.

Clients put, get and compare-and-swap through the HTTP API on random members
while a nemesis SIGKILLs and restarts members, SIGSTOPs and resumes them, and
cuts members off through the fault proxy in front of each peer port. Each
round strikes a random minority at once (one member of three, one or two of
five), so the cluster should stay available as well as correct. A write
whose answer never came is recorded as unknown (it may or may not have taken
effect); the whole history must be linearizable for a key-value register.

With learners (issue 16): three voters and two learners, each learner behind a proxy too.
The nemesis strikes any learners besides the voters' minority. Clients send a share of
their requests to learners: a serializable get is answered from the learner's replica, and
must hold the key's value at the revision it answers with (read again from a voter at that
revision at the end), and revisions never go back from one read to a later one on the same
learner while it runs (restarted, it may answer from an older revision at first: a member
saves a commit index that alone moved with its next write, as etcd does); any other
request must be refused with etcd's answer, 503 and "etcdserver: rpc not supported for
learner" (tests/cluster/test_learner_refusals.py compares it with a real etcd 3.4
learner's), and takes no effect (its value, unique, would otherwise show up in the
history). Healed, each learner converges to the voters' keys and revision.

Bounded: CONFAGENT_NEMESIS_S seconds of faults (default 12), then healing and
final reads. Seeded: the seed is printed; CONFAGENT_FAULT_SEED reproduces the
nemesis' choices (the clients' timing is the machine's).
"""

from __future__ import annotations

import functools
import os
import random
import signal
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from confagent.testing import (
    Cas,
    FaultProxy,
    Get,
    HistoryRecorder,
    KvInput,
    KvOutput,
    PartitionMode,
    Processes,
    Put,
    ServerProcess,
    b64,
    check_linearizable,
    free_port,
    leader_of,
    store_learners,
    unb64,
    until,
)

NEMESIS_S = float(os.environ.get("CONFAGENT_NEMESIS_S", "12"))
KEYS_AT_ONCE = 3
OPS_PER_KEY = 150
"""Keys rotate so that no key's history grows past what the checker decides quickly."""
CLIENTS = 4
REQUEST_TIMEOUT_S = 3.0
LEARNERS = 2
LEARNER_SHARE = 0.25
"""Of a client's requests when the cluster has learners, the share sent to a learner."""
LEARNER_REFUSAL = (503, "etcdserver: rpc not supported for learner")


class Cluster:
    """Members behind peer proxies (the voters first, then any learners), and what the nemesis may do
    to them."""

    def __init__(self, members: list[ServerProcess], proxies: list[FaultProxy], voters: int) -> None:
        self.members = members
        self.proxies = proxies
        self.voters, self.learners = members[:voters], members[voters:]
        self.incarnations = [0] * len(members)
        """Each member's restarts so far: counted between its kill and its launch."""

    def kill_and_restart(self, i: int, rng: random.Random) -> None:
        self.members[i].kill()
        self.incarnations[i] += 1
        time.sleep(rng.uniform(0.2, 1.0))
        self.members[i].launch()

    def pause(self, i: int, rng: random.Random) -> None:
        process = self.members[i].process
        assert process is not None
        process.send_signal(signal.SIGSTOP)
        time.sleep(rng.uniform(0.5, 1.5))
        process.send_signal(signal.SIGCONT)

    def isolate(self, i: int, rng: random.Random) -> None:
        self.proxies[i].partition(PartitionMode.BLACKHOLE)
        time.sleep(rng.uniform(0.5, 2.0))
        self.proxies[i].heal()


@pytest.fixture(params=[(3, 0), (5, 0), (3, LEARNERS)],
                ids=lambda size: f"{size[0]}-members" + (f"-{size[1]}-learners" if size[1] else ""))
def cluster(request: pytest.FixtureRequest, tmp_path: Path, processes: Processes) -> Iterator[Cluster]:
    voters, learners = request.param
    args = ("--max-learners", str(learners)) if learners else ()
    ports = [(free_port(), free_port()) for _ in range(voters + learners)]
    proxies = [FaultProxy(advertised, "127.0.0.1", listening) for listening, advertised in ports]
    members = processes.cluster(tmp_path, voters, args=args, peer_ports=ports[:voters])
    for member in members:
        member.launch()
    try:
        for member in members:
            member.wait_healthy()
        if learners:
            members += map(processes.server, store_learners(
                leader_of(members).url, tmp_path, learners, args=args, peer_ports=ports[voters:]))
            for member in members[voters:]:
                member.start()
        yield Cluster(members, proxies, voters)
    finally:
        for member in members:
            process = member.process
            if process is not None and process.poll() is None:
                process.send_signal(signal.SIGCONT)
            member.stop()
        for proxy in proxies:
            proxy.close()


class KeyRotation:
    """Hands out the current key generation; a new one every ``OPS_PER_KEY * KEYS_AT_ONCE`` ops."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._count = 0

    def next_generation(self) -> int:
        with self._lock:
            self._count += 1
            return self._count // (OPS_PER_KEY * KEYS_AT_ONCE)


@dataclass(frozen=True)
class LearnerRead:
    """A serializable get a learner answered: ``value`` at ``revision``, between ``call_ns`` and
    ``return_ns`` (the recorder's clock), from the learner's ``incarnation``-th process."""

    learner: int
    incarnation: int
    key: str
    value: str | None
    revision: int
    call_ns: int
    return_ns: int


class Client(threading.Thread):
    """One client: random operations on random members until told to stop."""

    def __init__(self, number: int, cluster: Cluster, recorder: HistoryRecorder[KvInput, KvOutput],
                 stop: threading.Event, seed: int, keys: KeyRotation) -> None:
        super().__init__(daemon=True)
        self.number, self.cluster, self.recorder, self.stop_event = number, cluster, recorder, stop
        self.keys = keys
        self.rng = random.Random(seed)
        self.written = 0
        self.learner_reads: list[LearnerRead] = []
        self.not_refused: list[str] = []
        """Requests other than a serializable get that a learner answered otherwise than etcd's learner."""

    def run(self) -> None:
        with httpx.Client(timeout=REQUEST_TIMEOUT_S) as http:
            while not self.stop_event.is_set():
                if self.cluster.learners and self.rng.random() < LEARNER_SHARE:
                    self._ask_learner(http, self.rng.randrange(len(self.cluster.learners)), self._key())
                    continue
                member = self.rng.choice(self.cluster.voters)
                key = self._key()
                kind = self.rng.random()
                if kind < 0.4:
                    self._get(http, member, key)
                elif kind < 0.75:
                    self._put(http, member, key)
                else:
                    self._cas(http, member, key)

    def _ask_learner(self, http: httpx.Client, learner: int, key: str) -> None:
        """A serializable get, recorded apart from the history; or any other request, which must be
        refused (it is left out of the history: its unique value must never show up)."""
        url = self.cluster.learners[learner].url
        incarnation = self.cluster.incarnations[len(self.cluster.voters) + learner]
        serializable: object = {"key": b64(key), "serializable": True}
        path, body = "/v3/kv/range", serializable
        if self.rng.random() < 0.5:
            put = {"key": b64(key), "value": b64(self._value())}
            refused: list[tuple[str, object]] = [("/v3/kv/range", {"key": b64(key)}), ("/v3/kv/put", put),
                                                 ("/v3/kv/txn", {"success": [{"request_put": put}]})]
            path, body = self.rng.choice(refused)
        call_ns = time.monotonic_ns()
        try:
            reply = http.post(url + path, json=body)
        except httpx.HTTPError:
            return  # the learner is down, stopped or cut off: nothing to say
        if body is serializable and reply.status_code == 200:
            answer = reply.json()
            kvs = answer.get("kvs")
            self.learner_reads.append(LearnerRead(
                learner, incarnation, key, unb64(kvs[0].get("value", "")) if kvs else None,
                int(answer["header"]["revision"]), call_ns, time.monotonic_ns()))
        elif body is not serializable and (reply.status_code, _error(reply)) != LEARNER_REFUSAL:
            self.not_refused.append(f"learner {learner} {path} {body}: {reply.status_code} {reply.text}")

    def _key(self) -> str:
        generation = self.keys.next_generation()
        return f"k{generation}-{self.rng.randrange(KEYS_AT_ONCE)}"

    def _value(self) -> str:
        self.written += 1
        return f"c{self.number}-{self.written}"

    def _get(self, http: httpx.Client, member: ServerProcess, key: str) -> None:
        token = self.recorder.call(self.number, Get(key))
        try:
            reply = http.post(member.url + "/v3/kv/range", json={"key": b64(key)})
        except httpx.HTTPError:
            self.recorder.failed(token)  # a read that failed changed nothing either way
            return
        if reply.status_code != 200:
            self.recorder.failed(token)
            return
        kvs = reply.json().get("kvs")
        value = unb64(kvs[0].get("value", "")) if kvs else None
        self.recorder.ret(token, value)

    def _put(self, http: httpx.Client, member: ServerProcess, key: str) -> None:
        value = self._value()
        token = self.recorder.call(self.number, Put(key, value))
        self._write(http, member, "/v3/kv/put", {"key": b64(key), "value": b64(value)}, token,
                    lambda body: None)

    def _cas(self, http: httpx.Client, member: ServerProcess, key: str) -> None:
        expected = self.rng.choice([None, *(f"c{c}-{n}" for c in range(CLIENTS)
                                             for n in range(max(1, self.written - 3), self.written + 1))])
        new = self._value()
        token = self.recorder.call(self.number, Cas(key, expected, new))
        compare = ({"key": b64(key), "target": "VERSION", "result": "EQUAL", "version": "0"}
                   if expected is None else
                   {"key": b64(key), "target": "VALUE", "result": "EQUAL", "value": b64(expected)})
        body = {"compare": [compare], "success": [{"request_put": {"key": b64(key), "value": b64(new)}}]}
        self._write(http, member, "/v3/kv/txn", body, token, lambda answer: bool(answer.get("succeeded")))

    def _write(self, http: httpx.Client, member: ServerProcess, path: str, body: object,
               token: object, output_of: object) -> None:
        try:
            reply = http.post(member.url + path, json=body)
        except httpx.HTTPError:
            self.recorder.unknown(token)  # type: ignore[arg-type]
            return
        if reply.status_code == 200:
            self.recorder.ret(token, output_of(reply.json()))  # type: ignore[arg-type, operator]
        else:
            self.recorder.unknown(token)  # type: ignore[arg-type]  # e.g. timed out: may still commit


def _error(reply: httpx.Response) -> object:
    """The ``error`` of a JSON answer; the body's text otherwise."""
    try:
        return reply.json().get("error")
    except ValueError:
        return reply.text


def _strike(faults: Sequence[tuple[Callable[[int, random.Random], None], int]], seed: int) -> None:
    """Run each fault on its member at the same time; each thread has its own seeded rng."""
    threads = [threading.Thread(target=fault, args=(member, random.Random(seed + member)))
               for fault, member in faults]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def _nemesis(cluster: Cluster, rng: random.Random, until: float) -> list[str]:
    done = []
    kinds = (cluster.kill_and_restart, cluster.pause, cluster.isolate)
    voters, members = len(cluster.voters), len(cluster.members)
    while time.monotonic() < until:
        struck = rng.sample(range(voters), rng.randint(1, (voters - 1) // 2))
        if members > voters:  # any learners besides: they count towards no quorum
            struck += rng.sample(range(voters, members), rng.randint(0, members - voters))
        faults = [(rng.choice(kinds), member) for member in struck]
        _strike(faults, rng.randrange(1 << 30))
        done.append(" + ".join(f"{fault.__name__}({member})" for fault, member in faults))
        time.sleep(rng.uniform(0.2, 1.0))
    return done


@pytest.mark.slow
def test_histories_under_kills_pauses_and_partitions_are_linearizable(cluster: Cluster) -> None:
    seed = int(os.environ.get("CONFAGENT_FAULT_SEED", random.randrange(1 << 30)))
    print(f"nemesis seed: {seed} (CONFAGENT_FAULT_SEED={seed} reproduces the nemesis)")
    rng = random.Random(seed)
    recorder: HistoryRecorder[KvInput, KvOutput] = HistoryRecorder()
    stop = threading.Event()
    keys = KeyRotation()
    clients = [Client(n, cluster, recorder, stop, seed + n, keys) for n in range(CLIENTS)]
    for client in clients:
        client.start()
    faults = _nemesis(cluster, rng, time.monotonic() + NEMESIS_S)
    for member in cluster.members:
        member.wait_healthy()
    time.sleep(1.0)  # clients work against the healed cluster for a moment
    stop.set()
    for client in clients:
        client.join(REQUEST_TIMEOUT_S + 5)
    history = recorder.history()
    answered = sum(1 for op in history if op.return_ns != float("inf"))
    assert answered > 50, f"seed {seed}: too few answered operations ({answered}) to say anything"
    result = check_linearizable(history, timeout_s=120)
    assert result.ok is True, (
        f"seed {seed}, faults {faults}: {'not linearizable' if result.ok is False else 'undecided'}\n"
        f"{result.explanation}")
    if cluster.learners:
        _check_learners(cluster, clients, seed)


def _check_learners(cluster: Cluster, clients: Sequence[Client], seed: int) -> None:
    """The learners refused all but serializable gets, answered those from the committed state at their
    revision, never went back in revision, and converge to the voters' state (module doc)."""
    not_refused = [text for client in clients for text in client.not_refused]
    assert not not_refused, f"seed {seed}: a learner answered what etcd's refuses: {not_refused[:5]}"
    reads = sorted((read for client in clients for read in client.learner_reads), key=lambda r: r.call_ns)
    assert len(reads) > 10, f"seed {seed}: too few serializable reads answered by learners ({len(reads)})"
    voter = leader_of(cluster.voters)
    with httpx.Client(timeout=REQUEST_TIMEOUT_S * 10) as http:
        for read in reads:
            at = http.post(voter.url + "/v3/kv/range", json={"key": b64(read.key), "revision": read.revision})
            kvs = at.json().get("kvs")
            assert (unb64(kvs[0].get("value", "")) if kvs else None) == read.value, (
                f"seed {seed}: learner {read.learner} answered {read.value!r} for {read.key} at revision "
                f"{read.revision}, where the voters hold {at.text}")
    for earlier in reads:
        later = [r for r in reads if (r.learner, r.incarnation) == (earlier.learner, earlier.incarnation)
                 and r.call_ns > earlier.return_ns]
        assert all(r.revision >= earlier.revision for r in later), (
            f"seed {seed}: learner {earlier.learner} went back from revision {earlier.revision}")
    expected = _everything(voter, serializable=False)
    for learner in cluster.learners:
        until(functools.partial(_holds, learner, expected), f"learner {learner.data_dir.name} to converge",
              learner.log_path)


def _holds(learner: ServerProcess, state: tuple[str, list[tuple[str, str, str]]]) -> bool:
    return _everything(learner, serializable=True) == state


def _everything(member: ServerProcess, *, serializable: bool) -> tuple[str, list[tuple[str, str, str]]]:
    """The member's revision and every key with its value and mod revision."""
    body = httpx.post(member.url + "/v3/kv/range", json={"key": "AA==", "range_end": "AA==",
                                                         "serializable": serializable}, timeout=30).json()
    return body["header"]["revision"], [(kv["key"], kv.get("value", ""), kv["mod_revision"])
                                        for kv in body.get("kvs", [])]
