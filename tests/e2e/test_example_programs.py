"""The nginx and haproxy examples' production lines, run against the real programs (Debian's) on loopback.

Each test installs an example as its README says (its commented production
block in effect, the paths of ``/etc/...`` moved into a temporary directory),
starts the program in the foreground with a hand-written first configuration
that the agent then takes over, and keeps a client sending requests through
it while upstreams are added, removed and a broken change is refused. Every
wait polls an observable condition with a bound: an ``applied`` or
``resource failed`` line in the agent's log, the program's worker replaced
(a reload is over), answers from the upstreams.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tomllib
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from confagent.resource import fill_command
from confagent.testing import AgentProcess, Keys, Processes, free_port, until
from tests.agent.processes import agent_with_store, text_of
from tests.agent.support import EXAMPLES, seed_store
from tests.e2e.programs import (
    ProxyProcess,
    Traffic,
    nginx_main_config,
    start_haproxy,
    start_nginx,
    upstreams,
)

NAMES = ("web-1", "web-2", "web-3")
BROKEN_SERVER = "127.0.0.1:99999"  # both programs refuse the port
ANSWERS_AFTER_RELOAD = 30  # a removed upstream would be in every other answer (round robin over two or three)
_PRODUCTION_LINE = re.compile(r"^# ([a-z_]+) = (.*)$")


def production_resource(text: str, paths: Mapping[str, str]) -> str:
    """A conf.d resource with its ``# Production`` block in effect, its ``/etc`` paths moved by ``paths``."""
    head, marker, block = text.partition("# Production")
    assert marker, "the example's resource has no production block"
    production = {m[1]: m[2] for line in block.splitlines() if (m := _PRODUCTION_LINE.match(line))}
    assert {"dest", "check_cmd", "reload_cmd"} <= production.keys(), production
    kept = [line for line in head.splitlines() if line.partition(" = ")[0] not in production]
    text = "\n".join(kept + [f"{key} = {value}" for key, value in production.items()]) + "\n"
    for old, new in paths.items():
        text = text.replace(old, new)
    assert "/etc/" not in text and "/run/" not in text, text
    return text


@dataclass(frozen=True)
class Setup:
    """One example installed for a test: the agent's directory, the file it renders, the program, the keys."""

    agent_root: Path
    dest: Path
    servers_prefix: str
    program: ProxyProcess
    proxy: str

    def server_key(self, name: str) -> str:
        return self.servers_prefix + name


def _install(example: str, agent_root: Path, paths: Mapping[str, str]) -> None:
    shutil.copytree(EXAMPLES / example / "templates", agent_root / "templates")
    (agent_root / "conf.d").mkdir()
    for resource in (EXAMPLES / example / "conf.d").glob("*.toml"):
        (agent_root / "conf.d" / resource.name).write_text(production_resource(resource.read_text(), paths))


def _nginx_paths(nginx_dir: Path) -> dict[str, str]:
    """Where the nginx examples' production paths are in a test: nginx-check.sh in the repository."""
    return {"/etc/confagent/": f"{EXAMPLES / 'nginx'}/", "/etc/nginx": str(nginx_dir)}


@contextmanager
def _nginx(tmp_path: Path, servers: Mapping[str, str]) -> Iterator[Setup]:
    nginx_dir, proxy = tmp_path / "nginx", f"127.0.0.1:{free_port()}"
    config = nginx_main_config(nginx_dir)
    (nginx_dir / "conf.d" / "web.conf").write_text(  # the hand-written file the agent takes over
        f"upstream web {{ server {servers['web-1']}; }}\n"
        f"server {{ listen {proxy}; location / {{ proxy_pass http://web; }} }}\n")
    _install("nginx", tmp_path / "agent", _nginx_paths(nginx_dir))
    seeded = {f"/services/web/{name}": servers[name] for name in ("web-1", "web-2")}
    seed_store(tmp_path / "agent" / "data", {"/services/web/_config/listen": proxy, **seeded})
    program = start_nginx(config)
    try:
        yield Setup(tmp_path / "agent", nginx_dir / "conf.d" / "web.conf", "/services/web/", program, proxy)
    finally:
        program.stop()


@contextmanager
def _haproxy(tmp_path: Path, servers: Mapping[str, str]) -> Iterator[Setup]:
    haproxy_dir, proxy = tmp_path / "haproxy", f"127.0.0.1:{free_port()}"
    haproxy_dir.mkdir()
    main = haproxy_dir / "haproxy.cfg"
    main.write_text((EXAMPLES / "haproxy/haproxy.cfg").read_text().replace("bind :80", f"bind {proxy}"))
    backends = haproxy_dir / "backends.cfg"  # the hand-written file the agent takes over
    backends.write_text("".join(f"backend {name}\n    server web-1 {servers['web-1']}\n"
                                for name in ("api", "static")))
    _install("haproxy", tmp_path / "agent", {"/etc/haproxy": str(haproxy_dir),
                                             "/run/haproxy.pid": str(haproxy_dir / "haproxy.pid")})
    prefix = "/haproxy/backends/api/servers/"
    seed_store(tmp_path / "agent" / "data", {"/haproxy/backends/static/servers/web-1": servers["web-1"],
                                             **{prefix + n: servers[n] for n in ("web-1", "web-2")}})
    program = start_haproxy([main, backends], haproxy_dir / "haproxy.pid")
    try:
        yield Setup(tmp_path / "agent", backends, prefix, program, proxy)
    finally:
        program.stop()


def _reloaded(setup: Setup, agent: AgentProcess, revision: int, workers_before: set[int]) -> None:
    """Wait for the agent to have applied ``revision`` and the program to have replaced its worker."""
    until(lambda: any(int(str(e["revision"])) >= revision and e["changed"] for e in agent.events("applied")),
          f"revision {revision} applied", agent.log)
    until(lambda: len(workers := setup.program.workers()) == 1 and not set(workers) & workers_before,
          "the old worker gone and one new worker", agent.log)


def _answers_after(traffic: Traffic, mark: int, count: int, agent: AgentProcess) -> list[str]:
    """``count`` answers to requests started after the ``mark``-th (the one in flight then is skipped)."""
    until(lambda: len(traffic.answers) > mark + count or not traffic.running, f"{count} answers", agent.log)
    return traffic.answers[mark + 1:mark + 1 + count]


def _scenario(processes: Processes, setup: Setup, servers: Mapping[str, str]) -> None:
    until(lambda: setup.program.master_pid() is not None or setup.program.process.poll() is not None,
          "the program's pid file", setup.program.log)
    assert setup.program.process.poll() is None, setup.program.log.read_text()
    with Traffic(setup.proxy) as traffic:
        until(lambda: "web-1" in traffic.answers, "an answer through the hand-written configuration")
        workers = set(setup.program.workers())
        with agent_with_store(processes, setup.agent_root) as (agent, keys):
            _takes_over(setup, agent, traffic, workers)
            _adds_and_removes(setup, agent, keys, traffic, servers)
            _refuses_a_broken_change(setup, agent, keys, traffic)
    assert traffic.failures == [], traffic.failures[:5]
    assert len(traffic.answers) > 3 * ANSWERS_AFTER_RELOAD


def _takes_over(setup: Setup, agent: AgentProcess, traffic: Traffic, workers: set[int]) -> None:
    _reloaded(setup, agent, 1, workers)
    mark = len(traffic.answers)
    until(lambda: {"web-1", "web-2"} <= set(traffic.answers[mark + 1:]), "both seeded upstreams", agent.log)


def _adds_and_removes(setup: Setup, agent: AgentProcess, keys: Keys, traffic: Traffic,
                      servers: Mapping[str, str]) -> None:
    workers = set(setup.program.workers())
    _reloaded(setup, agent, keys.put(setup.server_key("web-3"), servers["web-3"]), workers)
    mark = len(traffic.answers)
    until(lambda: "web-3" in traffic.answers[mark + 1:], "the added upstream serving", agent.log)
    workers = set(setup.program.workers())
    _reloaded(setup, agent, keys.delete(setup.server_key("web-1")), workers)
    after = _answers_after(traffic, len(traffic.answers), ANSWERS_AFTER_RELOAD, agent)
    assert set(after) == {"web-2", "web-3"}, after


def _refuses_a_broken_change(setup: Setup, agent: AgentProcess, keys: Keys, traffic: Traffic) -> None:
    before, workers = text_of(setup.dest), set(setup.program.workers())
    keys.put(setup.server_key("web-4"), BROKEN_SERVER)
    until(lambda: bool(agent.events("resource failed")), "the check to refuse the change", agent.log)
    failure = agent.events("resource failed")[0]
    assert "check_cmd exited 1" in str(failure["cause"]) and "99999" in str(failure["output"]), failure
    assert text_of(setup.dest) == before and set(setup.program.workers()) == workers
    after = _answers_after(traffic, len(traffic.answers), ANSWERS_AFTER_RELOAD, agent)
    assert set(after) == {"web-2", "web-3"}, after


def test_nginx_example_checks_and_reloads_a_live_nginx_without_failing_a_request(
        tmp_path: Path, processes: Processes) -> None:
    with upstreams(NAMES) as servers, _nginx(tmp_path, servers) as setup:
        _scenario(processes, setup, servers)


def test_haproxy_example_checks_and_reloads_a_live_haproxy_without_failing_a_request(
        tmp_path: Path, processes: Processes) -> None:
    with upstreams(NAMES) as servers, _haproxy(tmp_path, servers) as setup:
        _scenario(processes, setup, servers)


@pytest.mark.usefixtures("subprocesses")  # nginx -t, through the example's check command
def test_nginx_registry_example_check_passes_its_upstream_and_refuses_a_broken_one(tmp_path: Path) -> None:
    nginx_dir = tmp_path / "nginx"
    nginx_main_config(nginx_dir)
    (nginx_dir / "conf.d" / "site.conf").write_text(  # the site whose proxy_pass uses the rendered upstream
        f"server {{ listen 127.0.0.1:{free_port()}; location / {{ proxy_pass http://web; }} }}\n")
    resource = production_resource((EXAMPLES / "nginx-registry/conf.d/upstream.toml").read_text(),
                                   _nginx_paths(nginx_dir))
    spec = tomllib.loads(resource)["template"]
    expected = (EXAMPLES / "nginx-registry/expected/nginx/upstream.conf").read_text()
    for text, exit_code in ((expected, 0), (expected.replace("10.0.0.12:8080", BROKEN_SERVER), 1)):
        staged = tmp_path / "staged.conf"
        staged.write_text(text)
        command = fill_command(spec["check_cmd"], {"src": str(staged), "dest": spec["dest"]})
        result = subprocess.run(["/bin/sh", "-c", command], capture_output=True, text=True, timeout=30,
                                check=False)
        assert result.returncode == exit_code, (command, result.stderr)
    assert f'invalid port in upstream "{BROKEN_SERVER}" in {spec["dest"]}:4' in result.stderr
