"""An agent over its embedded store with etcd's auth turned on through its client URL (with the real
etcdctl): the agent reads its own store in-process and goes on rendering, while clients of the same
store need a user, as on etcd."""

from __future__ import annotations

from pathlib import Path

from confagent.testing import Processes, until
from tests.agent.processes import agent_with_store, text_of
from tests.agent.support import resource_toml, write_confdir
from tests.cli.support import Tool


def test_the_agent_renders_from_its_embedded_store_with_auth_enabled(tmp_path: Path, processes: Processes,
                                                                     etcd_binary: str) -> None:
    dest = tmp_path / "out" / "app.conf"
    resource = resource_toml("app.tmpl", dest, '["/app"]', "create_dest_dirs = true")
    write_confdir(tmp_path, {"app.toml": resource}, {"app.tmpl": 'v={{ getv("/app/v", "unset") }}\n'})
    with agent_with_store(processes, tmp_path) as (agent, keys):
        etcdctl = Tool("etcdctl", str(keys.client.base_url).rstrip("/"))
        for args in (("user", "add", "root:rootpw"), ("user", "grant-role", "root", "root"),
                     ("auth", "enable")):
            assert etcdctl.run(processes, *args)[0] == 0, args
        refused = (1, "", "Error: etcdserver: user name is empty\n")
        assert etcdctl.run(processes, "put", "/app/v", "1") == refused
        assert etcdctl.run(processes, "--user", "root:rootpw", "put", "/app/v", "7") == (0, "OK\n", "")
        until(lambda: text_of(dest) == "v=7\n", "the agent's render after auth was enabled", agent.log)
        assert agent.process.poll() is None
