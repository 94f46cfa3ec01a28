"""Fleet-wide rolling reloads: agents (real processes) on one store reload at most N at a time.

Each agent's ``reload_cmd`` appends ``NAME start|end TIME CONTENT`` lines to a
shared file; a reload's interval lies inside its slot (the start is written
after the slot is taken, the end before it is given back), so counting
overlapping intervals counts slots held at once, whatever the timing. The
agents run on the etcd backend against a real etcd and against a confagent
store; one more case runs the embedded store, whose agent takes its slots
through its own client URL.
"""

from __future__ import annotations

import asyncio
import shlex
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from confagent.client import EtcdClient
from confagent.testing import AgentProcess, Keys, Processes, confagent_argv, free_port, until
from tests.agent.processes import text_of
from tests.agent.support import resource_toml, write_confdir

RELOAD_SH = """\
name=$1; dest=$2; log=$3; dir=$(dirname "$log")
echo "$name start $(date +%s.%N) $(cat "$dest")" >> "$log"
if [ "$name" = a ] && grep -q hold "$dest"; then
    touch "$dir/a-holding"
    i=0; while [ ! -e "$dir/release" ] && [ $i -lt 400 ]; do sleep 0.05; i=$((i+1)); done
fi
sleep 0.3
echo "$name end $(date +%s.%N) $(cat "$dest")" >> "$log"
"""
"""The reload: ``a`` reloading ``hold`` holds its slot until ``release`` exists (20 s at most)."""


@dataclass(frozen=True)
class Reload:
    name: str
    start_s: float
    end_s: float
    content: str


def reloads(log: Path) -> list[Reload]:
    """The finished reloads the shared log records, by agent, in order."""
    starts: dict[str, tuple[float, str]] = {}
    done: list[Reload] = []
    for line in (text_of(log) or "").splitlines():
        name, kind, at, *content = line.split()
        if kind == "start":
            starts[name] = (float(at), " ".join(content))
        else:
            start_s, what = starts.pop(name)
            done.append(Reload(name, start_s, float(at), what))
    return done


def most_at_once(done: list[Reload]) -> int:
    """The most reloads running at the same moment."""
    edges = sorted([(r.start_s, 1) for r in done] + [(r.end_s, -1) for r in done])
    running = peak = 0
    for _at, step in edges:
        running += step
        peak = max(peak, running)
    return peak


@pytest.fixture(params=[pytest.param("etcd_server", marks=[pytest.mark.system, pytest.mark.etcd]),
                        pytest.param("confagent_server", marks=pytest.mark.system)])
def store_url(request: pytest.FixtureRequest) -> str:
    url: str = request.getfixturevalue(request.param)
    return url


@dataclass
class Fleet:
    root: Path
    store_url: str
    key: str
    lock: str
    log: Path
    processes: Processes
    agents: dict[str, AgentProcess]

    def start(self, name: str, concurrency: int, *flags: str) -> AgentProcess:
        home = self.root / name
        dest = home / "out" / "app.conf"
        script = self.root / "reload.sh"
        extra = (f'create_dest_dirs = true\nreload_cmd = "sh {script} {name} {dest} {self.log}"\n'
                 f'reload_lock = "{self.lock}"\nreload_concurrency = {concurrency}')
        write_confdir(home, {"app.toml": resource_toml("app.tmpl", dest, f'["{self.key}"]', extra)},
                      {"app.tmpl": f'v={{{{ getv("{self.key}", "unset") }}}}\n'})
        agent = self.processes.agent(["--backend", "etcd", "--node", self.store_url, "--confdir", str(home),
                                      "--log-format", "json", "--reload-lock-ttl", "2", *flags],
                                     home / "agent.log", home)
        self.agents[name] = agent
        return agent

    def dest(self, name: str) -> str | None:
        return text_of(self.root / name / "out" / "app.conf")

    def reloaded(self, value: str, names: str) -> bool:
        finished = {r.name for r in reloads(self.log) if r.content == f"v={value}"}
        return all(self.dest(name) == f"v={value}\n" for name in names) and set(names) <= finished


@pytest.fixture
def fleet(tmp_path: Path, store_url: str, processes: Processes) -> Iterator[Fleet]:
    (tmp_path / "reload.sh").write_text(RELOAD_SH)
    run = uuid.uuid4().hex[:8]
    fleet = Fleet(tmp_path, store_url, f"/roll-{run}/v", f"/roll-{run}-locks/app", tmp_path / "reloads.log",
                  processes, {})
    try:
        yield fleet
    finally:
        (tmp_path / "release").touch()  # a killed agent's reload command ends
        for agent in fleet.agents.values():
            if agent.process.poll() is None:
                assert agent.stop() == 0


def test_a_change_every_agent_reads_reloads_at_most_n_at_once(fleet: Fleet) -> None:
    names = "abcde"
    for name in names:
        fleet.start(name, 2)
    until(lambda: fleet.reloaded("unset", names), "every agent's first render and reload", fleet.log)
    keys = Keys(fleet.store_url)
    try:
        keys.put(fleet.key, "new")
        until(lambda: fleet.reloaded("new", names), "every agent reloaded after the change", fleet.log)
    finally:
        keys.close()
    done = reloads(fleet.log)
    assert sorted(r.name for r in done) == sorted(names * 2)
    assert most_at_once(done) <= 2, done


def test_an_agent_killed_holding_its_slot_frees_it_when_its_lease_expires(fleet: Fleet) -> None:
    a, b = fleet.start("a", 1), fleet.start("b", 1, "--reload-lock-wait", "60")
    until(lambda: fleet.reloaded("unset", "ab"), "both agents' first reloads", fleet.log)
    keys = Keys(fleet.store_url)
    try:
        keys.put(fleet.key, "hold")
        until((fleet.root / "a-holding").exists, "a reloading, holding the only slot", fleet.log)
        keys.put(fleet.key, "after")
        until(lambda: bool(b.events("waiting for a reload slot")), "b waiting for the slot a holds", b.log)
        killed_s = time.time()
        a.kill()
        until(lambda: fleet.reloaded("after", "b"), "b reloaded once a's lease expired", fleet.log)
    finally:
        keys.close()
    a_held_from = next(r.start_s for r in _started(fleet.log) if r.name == "a" and r.content == "v=hold")
    later = [r for r in reloads(fleet.log) if r.name == "b" and r.start_s > a_held_from]
    assert later and all(r.start_s > killed_s for r in later), later
    assert b.events("reload slot taken")


def _hold_every_slot(fleet: Fleet) -> int:
    """Take the lock's one slot as a holder that is not an agent; its lease."""
    async def hold() -> int:
        async with EtcdClient([fleet.store_url]) as etcd:
            lease = (await etcd.lease_grant(60)).response.id
            await etcd.put(f"{fleet.lock}/{lease:x}".encode(), b"test", lease=lease)
            return lease
    return asyncio.run(hold())


def _release(fleet: Fleet, lease: int) -> None:
    async def revoke() -> None:
        async with EtcdClient([fleet.store_url]) as etcd:
            await etcd.lease_revoke(lease)
    asyncio.run(revoke())


def test_a_reload_that_gets_no_slot_in_time_is_deferred_then_done(fleet: Fleet) -> None:
    lease = _hold_every_slot(fleet)
    agent = fleet.start("a", 1, "--reload-lock-wait", "0.5")
    until(lambda: len(agent.events("reload deferred")) >= 2, "the reload deferred, and again", agent.log)
    cause = str(agent.events("reload deferred")[0]["cause"])
    assert "all 1 were still held after 0.5 s" in cause and "the file was left as it was" in cause
    assert fleet.dest("a") is None and not reloads(fleet.log)
    _release(fleet, lease)
    until(lambda: fleet.reloaded("unset", "a"), "the reload once the slot is free", fleet.log)


def test_stopping_ends_the_wait_for_a_slot(fleet: Fleet) -> None:
    lease = _hold_every_slot(fleet)
    try:
        agent = fleet.start("a", 1, "--reload-lock-wait", "600")
        until(lambda: bool(agent.events("waiting for a reload slot")), "the agent waiting", agent.log)
        assert agent.stop() == 0  # within the kit's bound, far below the wait's
        assert "the agent is stopping" in str(agent.events("reload deferred")[0]["cause"])
        assert agent.events("agent stopped") and fleet.dest("a") is None
    finally:
        _release(fleet, lease)


def _started(log: Path) -> list[Reload]:
    """Every reload that started (an unfinished one's end is its start)."""
    found = []
    for line in (text_of(log) or "").splitlines():
        name, kind, at, *content = line.split()
        if kind == "start":
            found.append(Reload(name, float(at), float(at), " ".join(content)))
    return found


def test_the_embedded_store_holds_slots_through_its_client_url(tmp_path: Path, processes: Processes) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    held = shlex.join(confagent_argv("kv", "get", "--prefix", "/locks/app/", "--keys-only",
                                     "--endpoints", url))
    served = _embedded_agent(processes, tmp_path / "served", f"{held} >> {tmp_path / 'seen'}",
                             "--store-listen-client-urls", url)
    unserved = _embedded_agent(processes, tmp_path / "unserved", "true")  # no client URL: no slots
    until(lambda: bool(text_of(tmp_path / "seen")), "the reload, run holding its slot", served.log)
    assert text_of(tmp_path / "served" / "out" / "app.conf") == "v=unset\n"
    assert (text_of(tmp_path / "seen") or "").startswith("/locks/app/"), text_of(tmp_path / "seen")
    until(lambda: bool(unserved.events("reload deferred")), "the reload deferred for want of a slot",
          unserved.log)
    assert "no store holds the slots" in str(unserved.events("reload deferred")[0]["cause"])
    assert text_of(tmp_path / "unserved" / "out" / "app.conf") is None
    assert served.stop() == 0
    assert unserved.stop() == 0


def _embedded_agent(processes: Processes, home: Path, reload_cmd: str, *flags: str) -> AgentProcess:
    dest = home / "out" / "app.conf"
    extra = f'create_dest_dirs = true\nreload_cmd = "{reload_cmd}"\nreload_lock = "/locks/app"'
    write_confdir(home, {"app.toml": resource_toml("app.tmpl", dest, '["/v"]', extra)},
                  {"app.tmpl": 'v={{ getv("/v", "unset") }}\n'})
    return processes.agent(["--confdir", str(home), "--log-format", "json", "--store-data-dir",
                            str(home / "data"), *flags], home / "agent.log", home)
