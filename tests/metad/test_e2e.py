"""``confagent metad`` as a process on loopback: /self by address, long-poll, rules, bad input, two instances.

Clients bind to other 127.0.0.x addresses, so the service sees each as a
different host. One process serves the module; each test uses hosts and
paths of its own.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from confagent.testing import Processes, eventually
from tests.metad.support import Metad, client_from, start_metad

PROXY = "127.0.0.3"


@pytest.fixture(scope="module")
def metad(tmp_path_factory: pytest.TempPathFactory, session_processes: Processes) -> Iterator[Metad]:
    server = start_metad(session_processes, tmp_path_factory.mktemp("metad"),
                         "--trusted-proxies", f"{PROXY}/32")
    try:
        yield server
    finally:
        server.stop()


def _seed(metad: Metad, host: str, ns: str) -> None:
    assert metad.manage("PUT", f"/v1/data/{ns}", {
        "nodes": {"n1": {"ip": "10.0.0.1", "name": "one"}, "n2": {"ip": "10.0.0.2", "name": "two"}},
        "clusters": {"c": {"name": "main"}}}).text == "OK"
    assert metad.manage("PUT", f"/v1/mapping/{host}", {
        "node": f"/{ns}/nodes/n1", "cluster": f"/{ns}/clusters/c"}).status_code == 200


def test_a_mapped_address_reads_its_self_and_nothing_else(metad: Metad) -> None:
    _seed(metad, "127.0.0.2", "self1")
    with client_from("127.0.0.2") as host, client_from("127.0.0.1") as stranger:
        mine = host.get(metad.data_url + "/self")
        assert mine.status_code == 200, mine.text
        assert mine.text.splitlines() == ["/cluster/name\tmain", "/node/ip\t10.0.0.1", "/node/name\tone"]
        assert host.get(metad.data_url + "/self/node/name").text == "one"
        as_json = host.get(metad.data_url + "/self", headers={"Accept": "application/json"})
        assert as_json.json() == {"cluster": {"name": "main"}, "node": {"ip": "10.0.0.1", "name": "one"}}
        assert as_json.headers["content-type"] == "application/json"
        assert int(as_json.headers["x-metad-version"]) > 0
        assert host.get(metad.data_url + "/self1/nodes/n2").status_code == 404
        assert host.get(metad.data_url + "/self1/nodes/n1/ip").text == "10.0.0.1"
        assert stranger.get(metad.data_url + "/self").status_code == 404
        assert stranger.get(metad.data_url + "/").status_code == 404


def test_forwarded_for_counts_only_from_a_trusted_proxy(metad: Metad) -> None:
    _seed(metad, "192.0.2.7", "xff")
    forwarded = {"X-Forwarded-For": "198.51.100.1, 192.0.2.7"}
    with client_from(PROXY) as proxy, client_from("127.0.0.1") as other:
        assert proxy.get(metad.data_url + "/self/node/name", headers=forwarded).text == "one"
        assert other.get(metad.data_url + "/self/node/name", headers=forwarded).status_code == 404
        bad = proxy.get(metad.data_url + "/self", headers={"X-Forwarded-For": "not-an-ip"})
        assert bad.status_code == 400 and "not an IP address" in bad.text


def test_long_poll_wakes_on_a_visible_change_and_times_out_otherwise(metad: Metad) -> None:
    _seed(metad, "127.0.0.6", "poll")
    with client_from("127.0.0.6", timeout_s=20) as host, ThreadPoolExecutor(2) as pool:
        first = host.get(metad.data_url + "/self/node")
        version = int(first.headers["x-metad-version"])
        waiting = pool.submit(host.get, metad.data_url + "/self/node",
                              params={"wait": "true", "prev_version": str(version), "timeout": "15"})
        eventually(lambda: _waiting(metad), lambda n: n >= 1)
        metad.manage("PUT", "/v1/data/poll/nodes/n2/name", '"unseen"')  # not mapped: no wake
        metad.manage("PUT", "/v1/data/poll/nodes/n1/name", '"renamed"')
        woken = waiting.result(timeout=20)
        assert woken.text.splitlines() == ["/ip\t10.0.0.1", "/name\trenamed"]
        new_version = int(woken.headers["x-metad-version"])
        assert new_version > version
        again = host.get(metad.data_url + "/self/node", params={"wait": "true", "prev_version": str(version)},
                         timeout=10)  # stale: answered at once with the new data
        assert "renamed" in again.text
        started = time.monotonic()
        quiet = host.get(metad.data_url + "/self/node",
                         params={"wait": "true", "prev_version": str(new_version), "timeout": "0.5"})
        assert time.monotonic() - started >= 0.45
        assert quiet.text == woken.text


def test_a_client_that_leaves_stops_waiting(metad: Metad) -> None:
    _seed(metad, "127.0.0.7", "leave")
    with client_from("127.0.0.7", timeout_s=0.3) as host, pytest.raises(httpx.ReadTimeout):
        host.get(metad.data_url + "/self", params={"wait": "true"})
    eventually(lambda: _waiting(metad), lambda n: n == 0)


def test_rules_filter_what_a_host_reads_and_what_wakes_it(metad: Metad) -> None:
    _seed(metad, "127.0.0.4", "rules")
    rules = [{"path": "/", "mode": 0}, {"path": "/rules/nodes", "mode": 1},
             {"path": "/rules/nodes/*/ip", "mode": 0}, {"path": "/rules/nodes/n2", "mode": 1}]
    assert metad.manage("PUT", "/v1/rule", {"127.0.0.4": rules}).text == "OK"
    assert metad.manage("GET", "/v1/rule", hosts="127.0.0.4").json() == {"127.0.0.4": rules}
    with client_from("127.0.0.4", timeout_s=20) as host, ThreadPoolExecutor(1) as pool:
        view = host.get(metad.data_url + "/rules/nodes", headers={"Accept": "application/json"})
        assert view.json() == {"n1": {"name": "one"}, "n2": {"ip": "10.0.0.2", "name": "two"}}
        assert host.get(metad.data_url + "/rules/clusters").status_code == 404
        version = view.headers["x-metad-version"]
        waiting = pool.submit(host.get, metad.data_url + "/rules/nodes",
                              params={"wait": "true", "prev_version": version, "timeout": "15"})
        eventually(lambda: _waiting(metad), lambda n: n >= 1)
        metad.manage("PUT", "/v1/data/rules/nodes/n1/ip", '"10.9.9.9"')  # hidden by the rules
        metad.manage("PUT", "/v1/data/rules/nodes/n1/zone", '"z1"')
        assert waiting.result(timeout=20).text.splitlines()[:2] == ["/n1/name\tone", "/n1/zone\tz1"]
    assert metad.manage("DELETE", "/v1/rule", hosts="127.0.0.4").text == "OK"
    assert metad.manage("GET", "/v1/rule", hosts="127.0.0.4").json() == {}


@pytest.mark.parametrize(("method", "path", "body", "params", "reason"), [
    ("PUT", "/v1/data/x", "{not json", {}, "not JSON"),
    ("PUT", "/v1/mapping", {"not-an-ip": {"a": "/b"}}, {}, "should be an IP address"),
    ("PUT", "/v1/mapping/10.1.1.1", {"a": "relative"}, {}, "absolute path"),
    ("PUT", "/v1/rule", {"10.1.1.1": [{"path": "/", "mode": 5}]}, {}, "invalid access mode 5"),
    ("DELETE", "/v1/rule", None, {}, "hosts"),
    ("DELETE", "/v1/data/x", None, {"subs": "a/b"}, "must not be a path"),
    ("PUT", "/v1/data/_metad/mapping", {"a": "1"}, {}, "service's own"),
    ("POST", "/v1/data", '"scalar"', {}, "root is a directory"),
])
def test_bad_input_is_a_400_with_the_reason(metad: Metad, method: str, path: str, body: object,
                                            params: dict[str, str], reason: str) -> None:
    response = metad.manage(method, path, body, **params)
    assert response.status_code == 400, response.text
    assert reason in response.text
    bad_wait = httpx.get(metad.data_url + "/", params={"wait": "true", "prev_version": "x"})
    assert bad_wait.status_code == 400


def test_replace_and_delete_and_reads_of_the_management_api(metad: Metad) -> None:
    metad.manage("PUT", "/v1/data/mgmt", {"a": {"b": "1", "c": "2"}, "d": 9090})
    assert metad.manage("GET", "/v1/data/mgmt/d").text == "9090"
    metad.manage("POST", "/v1/data/mgmt/a", {"e": "3"})
    assert metad.manage("GET", "/v1/data/mgmt", pretty="true").text.splitlines() == ["/a/e\t3", "/d\t9090"]
    metad.manage("DELETE", "/v1/data/mgmt", subs="a,,")
    assert metad.manage("GET", "/v1/data/mgmt").text == "/d\t9090\n"
    metad.manage("DELETE", "/v1/data/mgmt")
    assert metad.manage("GET", "/v1/data/mgmt").status_code == 404
    assert metad.manage("PATCH", "/v1/data/mgmt").status_code == 405
    assert metad.manage("GET", "/v1/mapping/bogus").status_code == 400


def test_two_instances_over_one_store_agree(tmp_path: Path, processes: Processes) -> None:
    store = processes.store(tmp_path / "store")
    first = start_metad(processes, tmp_path, "--backend", "etcd", "--node", store.url, name="first")
    second = start_metad(processes, tmp_path, "--backend", "etcd", "--node", store.url, name="second")
    try:
        first.manage("PUT", "/v1/mapping/127.0.0.8", {"node": "/agree/n"})
        second.manage("PUT", "/v1/data/agree/n", {"name": "x"})
        with client_from("127.0.0.8", timeout_s=20) as host, ThreadPoolExecutor(1) as pool:
            answers = eventually(lambda: [host.get(m.data_url + "/self") for m in (first, second)],
                                 lambda rs: all(r.status_code == 200 for r in rs)
                                 and rs[0].text == rs[1].text == "/node/name\tx\n"
                                 and rs[0].headers["x-metad-version"] == rs[1].headers["x-metad-version"])
            version = answers[0].headers["x-metad-version"]
            waiting = pool.submit(host.get, first.data_url + "/self",
                                  params={"wait": "true", "prev_version": version, "timeout": "15"})
            eventually(lambda: _waiting(first), lambda n: n >= 1)
            second.manage("PUT", "/v1/data/agree/n/name", '"y"')
            assert waiting.result(timeout=20).text == "/node/name\ty\n"
    finally:
        second.stop()
        first.stop()
        store.stop()


def _waiting(metad: Metad) -> int:
    metrics = httpx.get(metad.manage_url + "/metrics").text
    line = next(ln for ln in metrics.splitlines() if ln.startswith("confagent_metad_waiting_requests "))
    return int(float(line.split()[1]))
