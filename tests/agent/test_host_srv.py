"""``SystemHost.lookup_srv`` against a real DNS server on loopback (dnspython answers the queries)."""

from __future__ import annotations

import socket
from collections.abc import Iterator, Mapping

import pytest

from confagent.agent import SystemHost
from confagent.errors import ResolveError
from confagent.render import SRV
from tests.dns_server import LoopbackDns

ZONE: Mapping[str, list[str]] = {
    "_etcd._tcp.example.com.": [
        "10 60 2379 b.example.com.", "10 60 2379 a.example.com.",
        "0 10 2380 c.example.com.", "10 80 2379 d.example.com.",
    ],
    "plain.example.com.": ["5 5 80 web.example.com."],
}


@pytest.fixture
def dns_server() -> Iterator[LoopbackDns]:
    server = LoopbackDns(ZONE)
    yield server
    server.close()


def test_srv_records_come_back_in_priority_then_weight_order(dns_server: LoopbackDns) -> None:
    host = SystemHost(nameservers=[dns_server.address])
    assert host.lookup_srv("etcd", "tcp", "example.com") == [
        SRV("c.example.com.", 2380, 0, 10),
        SRV("d.example.com.", 2379, 10, 80),
        SRV("a.example.com.", 2379, 10, 60),
        SRV("b.example.com.", 2379, 10, 60),
    ]


def test_empty_service_and_proto_look_the_name_up_directly(dns_server: LoopbackDns) -> None:
    host = SystemHost(nameservers=[dns_server.address])
    assert host.lookup_srv("", "", "plain.example.com") == [SRV("web.example.com.", 80, 5, 5)]


def test_an_unknown_name_is_a_resolve_error_naming_the_record(dns_server: LoopbackDns) -> None:
    host = SystemHost(nameservers=[dns_server.address])
    with pytest.raises(ResolveError, match=r"lookup _x\._tcp\.nowhere\.example: no such host"):
        host.lookup_srv("x", "tcp", "nowhere.example")


def test_a_silent_nameserver_is_a_resolve_error() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as silent:
        silent.bind(("127.0.0.1", 0))
        host = SystemHost(nameservers=[silent.getsockname()], srv_timeout_s=0.3)
        with pytest.raises(ResolveError, match=r"lookup _etcd\._tcp\.example\.com: "):
            host.lookup_srv("etcd", "tcp", "example.com")
