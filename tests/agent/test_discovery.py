"""``discover_nodes``: the backend's nodes from an SRV record on a loopback DNS server, as confd does."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator

import pytest

from confagent.agent import SystemHost
from confagent.agent._discovery import discover_nodes
from confagent.config import load_config
from confagent.errors import ResolveError
from tests.dns_server import LoopbackDns

ZONE = {
    "_etcd._tcp.example.test.": ["10 60 2379 b.example.test.", "10 60 2379 a.example.test.",
                                 "0 10 2380 c.example.test.", "10 80 2379 d.example.test."],
    "_etcdv3._tcp.example.test.": ["0 0 2379 v3.example.test."],
    "_own._tcp.example.test.": ["0 0 4001 own.example.test."],
}


@pytest.fixture
def dns_server() -> Iterator[LoopbackDns]:
    server = LoopbackDns(ZONE)
    yield server
    server.close()


def nodes(dns_server: LoopbackDns, **overrides: object) -> tuple[str, ...]:
    config = load_config(None, overrides, environ={})
    host = SystemHost(nameservers=[dns_server.address])
    return asyncio.run(discover_nodes(config, host)).nodes


def test_etcd_nodes_in_priority_then_weight_order_with_the_scheme(dns_server: LoopbackDns) -> None:
    assert nodes(dns_server, backend="etcd", srv_domain="example.test") == (
        "http://c.example.test:2380", "http://d.example.test:2379", "http://a.example.test:2379",
        "http://b.example.test:2379")
    assert nodes(dns_server, backend="etcd", srv_domain="example.test", scheme="https")[0] == (
        "https://c.example.test:2380")


def test_the_record_names_the_backend_as_written_and_etcdv3_takes_no_scheme(dns_server: LoopbackDns) -> None:
    assert nodes(dns_server, backend="etcdv3", srv_domain="example.test", scheme="https") == (
        "http://v3.example.test:2379",)


def test_srv_record_wins_over_srv_domain_and_the_found_nodes_over_given_ones(dns_server: LoopbackDns) -> None:
    assert nodes(dns_server, backend="etcd", srv_domain="elsewhere.test", nodes=["http://10.0.0.1:2379"],
                 srv_record="_own._tcp.example.test.") == ("http://own.example.test:4001",)


def test_without_a_record_the_nodes_are_the_configured_ones(dns_server: LoopbackDns) -> None:
    assert nodes(dns_server, backend="etcd", nodes=["http://10.0.0.1:2379"]) == ("http://10.0.0.1:2379",)
    assert nodes(dns_server, backend="env", srv_domain="example.test") == ()  # confd ignores it for env


def test_srv_nameserver_is_asked_instead_of_the_hosts_resolver(dns_server: LoopbackDns) -> None:
    config = load_config(None, {"backend": "etcd", "srv_domain": "example.test",
                                "srv_nameserver": dns_server.nameserver}, environ={})
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as silent:  # the host's resolver is never asked
        silent.bind(("127.0.0.1", 0))
        host = SystemHost(nameservers=[silent.getsockname()], srv_timeout_s=0.1)
        found = asyncio.run(discover_nodes(config, host)).nodes
    assert found[0] == "http://c.example.test:2380"


def test_a_record_that_does_not_resolve_is_an_error_naming_it(dns_server: LoopbackDns) -> None:
    with pytest.raises(ResolveError) as caught:
        nodes(dns_server, backend="etcdv3", srv_domain="nowhere.test")
    assert str(caught.value) == ("cannot get the etcdv3 backend's nodes from SRV record "
                                 "_etcdv3._tcp.nowhere.test.: no such host")
