"""The agent on the zookeeper backend against a real ZooKeeper (Debian's), as confd runs on it.

A one-shot render of nested nodes with confd's mapping (a node with children is a directory whose own
data no template sees), also from a confd.toml with the node found in an SRV record and resource keys
ending in ``/*`` (confd's zookeeper backend strips it); a digest identity
the nodes' ACL refuses ending the one-shot run with an error naming the user and the node, and no
password in any output; the daemon following a create, a set and a delete by ZooKeeper's watches, and
going on through the server killed and restarted.
"""

from __future__ import annotations

from pathlib import Path

from kazoo.client import KazooClient
from kazoo.security import make_digest_acl

from confagent.testing import Processes, until
from tests.agent.processes import text_of
from tests.agent.support import resource_toml, write_confdir
from tests.backends.zookeeper_server import ZookeeperServer
from tests.dns_server import LoopbackDns

PASSWORD = "s3cret-zk"
TEMPLATE = ('url={{ getv("/db/url") }}\n'
            '{% for kv in gets("/web/*") %}{{ kv.key }}={{ kv.value }}\n{% endfor %}')


def _confdir(root: Path, template: str = TEMPLATE, keys: str = '["/db", "/web"]') -> Path:
    dest = root / "out" / "app.conf"
    write_confdir(root, {"app.toml": resource_toml("app.tmpl", dest, keys,
                                                   'prefix = "/app"\ncreate_dest_dirs = true')},
                  {"app.tmpl": template})
    return dest


def _put(zk: KazooClient, path: str, value: str, **acl: object) -> None:
    if zk.exists(path):
        zk.set(path, value.encode())
    else:
        zk.create(path, value.encode(), makepath=True, **acl)


def test_one_shot_render_of_nested_nodes_as_confd_maps_them(tmp_path: Path, processes: Processes) -> None:
    server = ZookeeperServer(processes, tmp_path / "zookeeper").start()
    with server.client() as zk:
        _put(zk, "/app/db/url", "db.example.com:5432")
        _put(zk, "/app/web", "a directory's data, which confd leaves out")
        _put(zk, "/app/web/a", "10.0.0.1:80")
        _put(zk, "/app/web/b/port", "8080")  # /web/b is a directory: only its leaf is a key
    template = TEMPLATE + ('{{ ls("/web") | join(",") }} port={{ getv("/web/b/port") }}\n'
                           '{{ exists("/web") }}\n')
    dest = _confdir(tmp_path, template)
    done = processes.confagent("run", "--onetime", "--backend", "zookeeper", "--node", server.node,
                               "--confdir", str(tmp_path))
    assert done.returncode == 0, done.stdout + done.stderr
    rendered = "url=db.example.com:5432\n/web/a=10.0.0.1:80\na,b port=8080\nfalse\n"
    assert text_of(dest) == rendered
    dest.unlink()  # the same from a confd.toml, the node from an SRV record, the keys ending in /* that
    _confdir(tmp_path, template, '["/db/*", "/web/*"]')  # confd's zookeeper backend strips, as confd runs
    config = tmp_path / "confd.toml"
    config.write_text(f'backend = "zookeeper"\nconfdir = "{tmp_path}"\nsrv_domain = "example.test"\n')
    dns = LoopbackDns({"_zookeeper._tcp.example.test.": [f"0 10 {server.port} 127.0.0.1."]})
    try:
        done = processes.confagent("run", "--onetime", "--config-file", str(config), "--srv-nameserver",
                                   dns.nameserver)
    finally:
        dns.close()
    assert (done.returncode, text_of(dest)) == (0, rendered), done.stdout + done.stderr


def test_a_refused_identity_ends_the_one_shot_run_naming_the_user_and_the_node(
        tmp_path: Path, processes: Processes) -> None:
    server = ZookeeperServer(processes, tmp_path / "zookeeper").start()
    with server.client(f"alice:{PASSWORD}") as zk:
        _put(zk, "/app", "", acl=[make_digest_acl("alice", PASSWORD, all=True)])
        _put(zk, "/app/db/url", "db1")
        _put(zk, "/app/web/a", "10.0.0.1")
    dest = _confdir(tmp_path)
    allowed = processes.confagent("run", "--onetime", "--backend", "zookeeper", "--node", server.node,
                                  "--username", "alice", "--confdir", str(tmp_path),
                                  env={"CONFAGENT_ZOOKEEPER_PASSWORD": PASSWORD})
    assert allowed.returncode == 0 and text_of(dest) == "url=db1\n/web/a=10.0.0.1\n", allowed.stderr
    dest.unlink()
    refused = processes.confagent("run", "--onetime", "--backend", "zookeeper", "--node", server.node,
                                  "--username", "alice", "--password", "wrong-pw", "--confdir", str(tmp_path))
    shown = refused.stdout + refused.stderr
    assert refused.returncode == 1 and not dest.exists(), shown
    refusal = f"zookeeper {server.node}: user 'alice' may not read /app (the node's ACL refuses it)"
    assert refusal in shown, shown
    assert "wrong-pw" not in shown and PASSWORD not in shown + allowed.stdout + allowed.stderr


def test_the_daemon_follows_the_nodes_through_a_server_restart(tmp_path: Path, processes: Processes) -> None:
    server = ZookeeperServer(processes, tmp_path / "zookeeper").start()
    with server.client() as zk:
        _put(zk, "/app/db/url", "db1")
    dest = _confdir(tmp_path)
    agent = processes.agent(["--backend", "zookeeper", "--node", server.node, "--confdir", str(tmp_path),
                             "--log-format", "json"], tmp_path / "agent.log", tmp_path)
    until(lambda: text_of(dest) == "url=db1\n", "the first render", agent.log)
    with server.client() as zk:
        _put(zk, "/app/web/a", "10.0.0.1")
        until(lambda: text_of(dest) == "url=db1\n/web/a=10.0.0.1\n", "the create", agent.log)
        _put(zk, "/app/db/url", "db2")
        until(lambda: text_of(dest) == "url=db2\n/web/a=10.0.0.1\n", "the set", agent.log)
    server.kill()
    until(lambda: '"event": "backend trouble"' in agent.log.read_text(), "the outage in the log", agent.log)
    assert agent.process.poll() is None and text_of(dest) == "url=db2\n/web/a=10.0.0.1\n"
    assert f"zookeeper {server.node}: " in agent.log.read_text()
    server.start()
    with server.client() as zk:
        zk.delete("/app/web", recursive=True)
        _put(zk, "/app/db/url", "db3")
    until(lambda: text_of(dest) == "url=db3\n", "the delete and set after the restart", agent.log)
    assert '"event": "backend recovered"' in agent.log.read_text()
    assert agent.stop() == 0
