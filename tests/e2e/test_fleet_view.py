"""The fleet view end to end: three agents on one store publish their summaries; ``confagent status --fleet``.

Agent ``a`` runs the embedded store (its summary goes over the store's client
URL), ``b`` and ``c`` read it with ``--backend etcd`` (over their client);
``c``'s check_cmd fails. A killed agent's summary goes when its lease expires;
``a``'s status page follows them all.
"""

from __future__ import annotations

import json
from pathlib import Path

import httpx

from confagent.agent._fleet import FLEET_PREFIX, FleetRow, fleet_rows
from confagent.testing import Keys, Processes, free_port, until
from confagent.testing._gateway import b64, unb64
from tests.agent.processes import agent_with_store, text_of
from tests.agent.support import resource_toml, write_confdir

_TTL = "2s"


def _confdir(root: Path, check_cmd: str, keys: str = '["/app"]') -> Path:
    dest = root / "out" / "app.conf"
    write_confdir(root, {"app.toml": resource_toml("app.tmpl", dest, keys,
                                                   f"create_dest_dirs = true\ncheck_cmd = '{check_cmd}'")},
                  {"app.tmpl": 'v={{ getv("/app/v", "unset") }}\n'})
    return dest


def _fleet(keys: Keys) -> dict[str, FleetRow]:
    end = FLEET_PREFIX[:-1] + chr(ord(FLEET_PREFIX[-1]) + 1)
    answer = keys.client.post("/v3/kv/range", json={"key": b64(FLEET_PREFIX), "range_end": b64(end)})
    answer.raise_for_status()
    values = [unb64(kv["value"]).encode() for kv in answer.json().get("kvs", [])]
    return {row.host: row for row in fleet_rows(values)}


def _writes(keys: Keys, host: str) -> int:
    """How many times ``host``'s summary was written since its lease was granted (its key's version)."""
    answer = keys.client.post("/v3/kv/range", json={"key": b64(FLEET_PREFIX + host)})
    answer.raise_for_status()
    return int(answer.json()["kvs"][0]["version"])


def test_status_fleet_lists_every_host_marks_the_failing_one_and_forgets_a_dead_one(
        tmp_path: Path, processes: Processes) -> None:
    publish = ["--fleet-publish", "--fleet-ttl", _TTL, "--log-format", "json"]
    roots = {name: tmp_path / name for name in "abc"}
    # a reads every key, the summaries too: they must not make it write its own again and again
    dests = {name: _confdir(root, "false" if name == "c" else "true", '["/"]' if name == "a" else '["/app"]')
             for name, root in roots.items()}
    listen = f"127.0.0.1:{free_port()}"
    fleet_a = f'[fleet]\npublish = true\nname = "a"\nttl = "{_TTL}"\n[agent]\nlisten = "{listen}"\n'

    def page_hosts() -> list[str]:  # a's status page: its fleet section, followed from the store
        answer = httpx.get(f"http://{listen}/v1/page", timeout=5.0)
        return [host["host"] for host in answer.json()["fleet"]] if answer.status_code == 200 else []
    with agent_with_store(processes, roots["a"], fleet_a) as (agent_a, keys):
        url = str(keys.client.base_url).rstrip("/")
        others = {name: processes.agent(["--backend", "etcd", "--node", url, "--confdir", str(roots[name]),
                                         "--fleet-name", name, *publish], roots[name] / "agent.log",
                                        roots[name]) for name in "bc"}
        revision = keys.put("/app/v", "1")
        until(lambda: all(text_of(dests[name]) == "v=1\n" for name in "ab"), "a and b render", agent_a.log)

        def converged() -> bool:  # b and c may have read their first snapshot after the put
            rows = _fleet(keys)
            return (sorted(rows) == ["a", "b", "c"] and all(row.revision >= revision for row in rows.values())
                    and not any(row.behind for row in rows.values()))

        until(converged, "three summaries of the put's view", others["c"].log)
        rows = _fleet(keys)
        assert [name for name, _ in rows["c"].failing] == ["app.toml"] and not rows["a"].failing
        assert text_of(dests["c"]) is None  # its check failed: the file was not installed

        table = processes.confagent("status", "--fleet", "--endpoints", url)
        assert table.returncode == 1, table.stderr  # a failing host
        cells = [[cell.strip() for cell in line.strip("|").split("|")] for line in table.stdout.splitlines()
                 if line.startswith("|")]
        assert [(row[0], row[2], row[3]) for row in cells[1:]] == \
            [("a", "yes", "-"), ("b", "yes", "-"), ("c", "yes", "app.toml")], table.stdout
        answer = processes.confagent("status", "--fleet", "-w", "json", "--endpoints", url)
        hosts = json.loads(answer.stdout)["hosts"]
        assert [(h["host"], h["behind"], [f["resource"] for f in h["failing"]]) for h in hosts] == \
            [("a", False, []), ("b", False, []), ("c", False, ["app.toml"])]

        until(lambda: page_hosts() == ["a", "b", "c"], "a's page lists the three hosts", agent_a.log)
        assert _writes(keys, "a") <= 3  # its first, after the first render, after the put: not per summary

        others["b"].kill()
        until(lambda: sorted(_fleet(keys)) == ["a", "c"], "b's summary gone with its lease", agent_a.log)
        until(lambda: page_hosts() == ["a", "c"], "a's page without b", agent_a.log)
        others["c"].stop()
        assert sorted(_fleet(keys)) == ["a"]  # a stopped agent revokes its lease: gone at once
