"""Three- and five-member clusters under a nemesis, their histories checked for linearizability.

Clients put, get and compare-and-swap through the HTTP API on random members
while a nemesis SIGKILLs and restarts members, SIGSTOPs and resumes them, and
cuts members off through the fault proxy in front of each peer port. Each
round strikes a random minority at once (one member of three, one or two of
five), so the cluster should stay available as well as correct. A write
whose answer never came is recorded as unknown (it may or may not have taken
effect); the whole history must be linearizable for a key-value register.

Bounded: CONFAGENT_NEMESIS_S seconds of faults (default 12), then healing and
final reads. Seeded: the seed is printed; CONFAGENT_FAULT_SEED reproduces the
nemesis' choices (the clients' timing is the machine's).
"""

from __future__ import annotations

import os
import random
import signal
import threading
import time
from collections.abc import Callable, Iterator, Sequence
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
    unb64,
)

NEMESIS_S = float(os.environ.get("CONFAGENT_NEMESIS_S", "12"))
KEYS_AT_ONCE = 3
OPS_PER_KEY = 150
"""Keys rotate so that no key's history grows past what the checker decides quickly."""
CLIENTS = 4
REQUEST_TIMEOUT_S = 3.0


class Cluster:
    """Members behind peer proxies, and what the nemesis may do to them."""

    def __init__(self, members: list[ServerProcess], proxies: list[FaultProxy]) -> None:
        self.members = members
        self.proxies = proxies

    def kill_and_restart(self, i: int, rng: random.Random) -> None:
        self.members[i].kill()
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


@pytest.fixture(params=[3, 5], ids=lambda size: f"{size}-members")
def cluster(request: pytest.FixtureRequest, tmp_path: Path, processes: Processes) -> Iterator[Cluster]:
    size: int = request.param
    ports = [(free_port(), free_port()) for _ in range(size)]
    proxies = [FaultProxy(advertised, "127.0.0.1", listening) for listening, advertised in ports]
    members = processes.cluster(tmp_path, size, peer_ports=ports)
    for member in members:
        member.launch()
    try:
        for member in members:
            member.wait_healthy()
        yield Cluster(members, proxies)
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


class Client(threading.Thread):
    """One client: random operations on random members until told to stop."""

    def __init__(self, number: int, cluster: Cluster, recorder: HistoryRecorder[KvInput, KvOutput],
                 stop: threading.Event, seed: int, keys: KeyRotation) -> None:
        super().__init__(daemon=True)
        self.number, self.cluster, self.recorder, self.stop_event = number, cluster, recorder, stop
        self.keys = keys
        self.rng = random.Random(seed)
        self.written = 0

    def run(self) -> None:
        with httpx.Client(timeout=REQUEST_TIMEOUT_S) as http:
            while not self.stop_event.is_set():
                member = self.rng.choice(self.cluster.members)
                key = self._key()
                kind = self.rng.random()
                if kind < 0.4:
                    self._get(http, member, key)
                elif kind < 0.75:
                    self._put(http, member, key)
                else:
                    self._cas(http, member, key)

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
    size = len(cluster.members)
    while time.monotonic() < until:
        struck = rng.sample(range(size), rng.randint(1, (size - 1) // 2))
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
