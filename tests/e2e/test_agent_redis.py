"""The agent on the redis backend against a real redis-server (Debian's), as confd runs on it.

A one-shot render with confd's ``--separator`` and the password as confd takes it (``--client-key``);
the daemon following a SET, an HSET and a DEL by keyspace notifications, and going on through the
server killed and restarted; a refused password ending the one-shot run with an error naming the node,
and no password in any output.
"""

from __future__ import annotations

import uuid
from pathlib import Path

from confagent.testing import Processes, until
from tests.agent.processes import text_of
from tests.agent.support import resource_toml, write_confdir
from tests.backends.redis_server import RedisServer

PASSWORD = f"pw-{uuid.uuid4().hex[:8]}"
TEMPLATE = ('url={{ getv("/db/url") }}\n'
            '{% for kv in gets("/web/*") %}{{ kv.key }}={{ kv.value }}\n{% endfor %}')


def _confdir(root: Path, keys: str = '["/db", "/web"]') -> Path:
    dest = root / "out" / "app.conf"
    write_confdir(root, {"app.toml": resource_toml("app.tmpl", dest, keys,
                                                   'prefix = "/app"\ncreate_dest_dirs = true')},
                  {"app.tmpl": TEMPLATE})
    return dest


def test_one_shot_render_with_the_separator_and_the_password_as_confd_takes_it(
        tmp_path: Path, processes: Processes) -> None:
    server = RedisServer(processes, tmp_path / "redis", password=PASSWORD).start()
    with server.client() as client:
        client.set("app:db:url", "db.example.com:5432")
        client.hset("app:web", mapping={"a": "10.0.0.1:80", "b": "10.0.0.2:80"})
    dest = _confdir(tmp_path)
    done = processes.confagent("run", "--onetime", "--backend", "redis", "--node", server.node,
                               "--separator", ":", "--client-key", PASSWORD, "--confdir", str(tmp_path))
    assert done.returncode == 0, done.stdout + done.stderr
    assert text_of(dest) == "url=db.example.com:5432\n/web/a=10.0.0.1:80\n/web/b=10.0.0.2:80\n"
    assert PASSWORD not in done.stdout + done.stderr


def test_a_confd_toml_for_redis_carries_over(tmp_path: Path, processes: Processes) -> None:
    """confd's own file: backend, nodes with the database, separator and the password in client_key;
    a resource's keys with ``/*``, which confd's redis backend strips."""
    server = RedisServer(processes, tmp_path / "redis", password=PASSWORD).start()
    with server.client() as client:
        client.select(3)
        client.set("app:db:url", "db3.example.com")
        client.hset("app:web", "a", "10.0.0.3:80")
    dest = _confdir(tmp_path, '["/db/*", "/web/*"]')
    confd_toml = tmp_path / "confd.toml"
    confd_toml.write_text(f'backend = "redis"\nnodes = ["{server.node}/3"]\nseparator = ":"\n'
                          f'client_key = "{PASSWORD}"\nconfdir = "{tmp_path}"\nonetime = true\n')
    done = processes.confagent("run", "--config-file", str(confd_toml))
    assert done.returncode == 0, done.stdout + done.stderr
    assert text_of(dest) == "url=db3.example.com\n/web/a=10.0.0.3:80\n"


def test_a_refused_password_ends_the_one_shot_run_naming_the_node(tmp_path: Path,
                                                                  processes: Processes) -> None:
    server = RedisServer(processes, tmp_path / "redis", password=PASSWORD).start()
    dest = _confdir(tmp_path)
    done = processes.confagent("run", "--onetime", "--backend", "redis", "--node", server.node,
                               "--password", "wrong-pw", "--confdir", str(tmp_path))
    shown = done.stdout + done.stderr
    assert done.returncode == 1 and not dest.exists(), shown
    assert f"redis node {server.node} refused the password" in shown, shown
    assert "wrong-pw" not in shown and PASSWORD not in shown


def test_the_daemon_follows_the_keys_through_a_server_restart(tmp_path: Path, processes: Processes) -> None:
    server = RedisServer(processes, tmp_path / "redis", password=PASSWORD).start()
    client = server.client()
    client.set("/app/db/url", "db1")
    dest = _confdir(tmp_path)
    password_file = tmp_path / "password"
    password_file.write_text(PASSWORD + "\n")
    agent = processes.agent(["--backend", "redis", "--node", server.node, "--password-file",
                             str(password_file), "--confdir", str(tmp_path), "--log-format", "json"],
                            tmp_path / "agent.log", tmp_path)
    until(lambda: text_of(dest) == "url=db1\n", "the first render", agent.log)
    client.hset("/app/web", "a", "10.0.0.1")
    until(lambda: text_of(dest) == "url=db1\n/web/a=10.0.0.1\n", "the HSET", agent.log)
    until(lambda: "redis changes come by keyspace notifications" in agent.log.read_text(),
          "the log saying how changes are noticed", agent.log)
    client.set("/app/db/url", "db2")
    until(lambda: text_of(dest) == "url=db2\n/web/a=10.0.0.1\n", "the SET", agent.log)
    client.close()
    server.kill()
    until(lambda: '"event": "backend trouble"' in agent.log.read_text(), "the outage in the log", agent.log)
    assert agent.process.poll() is None and text_of(dest) == "url=db2\n/web/a=10.0.0.1\n"
    assert f"redis node {server.node}: " in agent.log.read_text()
    server.start()
    with server.client() as client:
        client.delete("/app/web")
        client.set("/app/db/url", "db3")
    until(lambda: text_of(dest) == "url=db3\n", "the DEL and SET after the restart", agent.log)
    assert '"event": "backend recovered"' in agent.log.read_text()
    assert PASSWORD not in agent.log.read_text()
    assert agent.stop() == 0


def test_the_daemon_polls_a_server_that_cannot_notify(tmp_path: Path, processes: Processes) -> None:
    """CONFIG renamed away: no notifications can be turned on; the agent says so and polls."""
    server = RedisServer(processes, tmp_path / "redis", config_disabled=True).start()
    client = server.client()
    client.set("/app/db/url", "db1")
    dest = _confdir(tmp_path)
    agent = processes.agent(["--backend", "redis", "--node", server.node, "--redis-poll-interval", "200ms",
                             "--confdir", str(tmp_path), "--log-format", "json"],
                            tmp_path / "agent.log", tmp_path)
    until(lambda: text_of(dest) == "url=db1\n", "the first render", agent.log)
    client.set("/app/db/url", "db2")
    until(lambda: text_of(dest) == "url=db2\n", "the SET, polled", agent.log)
    log = agent.log.read_text()
    assert "redis changes are polled: keyspace notifications cannot be turned on" in log
    assert '"poll_interval_s": 0.2' in log
    client.close()
    assert agent.stop() == 0
