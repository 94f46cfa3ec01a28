"""The fault proxy and the network of proxies, against echo servers on loopback."""

from __future__ import annotations

import gc
import socket
import socketserver
import threading
import time
import warnings
from collections.abc import Iterator

import pytest

from confagent.errors import ConfigError
from confagent.testing._procs import free_port
from confagent.testing._proxy import FaultProxy, Network, PartitionMode

ANSWER_TIMEOUT_S = 10.0  # bytes that must arrive: generous, never hit when things work
SILENCE_S = 0.3  # bytes that must not arrive: how long we listen for them


class EchoHandler(socketserver.BaseRequestHandler):
    """Greets with the server's name and a newline, then echoes until end of stream."""

    def handle(self) -> None:
        assert isinstance(self.server, EchoServer)
        conn: socket.socket = self.request
        try:
            conn.sendall(self.server.greeting)
            while data := conn.recv(65536):
                conn.sendall(data)
        except OSError:
            return


class EchoServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True

    def __init__(self, name: str) -> None:
        super().__init__(("127.0.0.1", 0), EchoHandler)
        self.greeting = f"{name}\n".encode()
        self.port: int = self.server_address[1]
        self.thread = threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.shutdown()
        self.server_close()
        self.thread.join()


@pytest.fixture
def echo() -> Iterator[EchoServer]:
    server = EchoServer("echo")
    yield server
    server.stop()


@pytest.fixture
def proxy(echo: EchoServer) -> Iterator[FaultProxy]:
    with FaultProxy(0, "127.0.0.1", echo.port) as fault_proxy:
        yield fault_proxy


def connect(port: int) -> socket.socket:
    return socket.create_connection(("127.0.0.1", port), timeout=ANSWER_TIMEOUT_S)


def receive(sock: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            break
        data += chunk
    return data


def assert_silent(sock: socket.socket) -> None:
    sock.settimeout(SILENCE_S)
    with pytest.raises(TimeoutError):
        sock.recv(1)
    sock.settimeout(ANSWER_TIMEOUT_S)


def assert_reset(sock: socket.socket) -> None:
    """The connection is gone: reset, or (if the reset raced the greeting) closed."""
    try:
        while sock.recv(65536):
            pass
    except ConnectionResetError:
        return


def assert_rejected(port: int) -> None:
    """A new connection is reset, at once or (if the reset came first) while connecting."""
    try:
        sock = connect(port)
    except ConnectionResetError:
        return
    with sock:
        assert_reset(sock)


def greeted(sock: socket.socket, name: str = "echo") -> None:
    assert receive(sock, len(name) + 1) == f"{name}\n".encode()


def test_forwards_a_large_stream_both_ways_intact(proxy: FaultProxy) -> None:
    payload = bytes(range(256)) * 8192  # 2 MiB
    with connect(proxy.port) as sock:
        greeted(sock)
        sender = threading.Thread(target=sock.sendall, args=(payload,))
        sender.start()
        assert receive(sock, len(payload)) == payload
        sender.join()


def test_end_of_stream_is_passed_on(proxy: FaultProxy) -> None:
    with connect(proxy.port) as sock:
        greeted(sock)
        sock.sendall(b"last words")
        sock.shutdown(socket.SHUT_WR)
        assert receive(sock, 100) == b"last words", "then the server's end of stream"


@pytest.mark.parametrize("host", ["10.0.0.1", "0.0.0.0", "localhost", "::1", "example.com"])
def test_refuses_targets_off_loopback(host: str) -> None:
    with pytest.raises(ConfigError, match="loopback"):
        FaultProxy(0, host, 80)


def test_a_port_in_use_is_a_config_error(proxy: FaultProxy) -> None:
    with pytest.raises(ConfigError, match="cannot listen"):
        FaultProxy(proxy.port, "127.0.0.1", 80)


def test_blackhole_holds_open_connections_until_heal(proxy: FaultProxy) -> None:
    with connect(proxy.port) as sock:
        greeted(sock)
        proxy.partition(PartitionMode.BLACKHOLE)
        assert proxy.mode is PartitionMode.BLACKHOLE
        sock.sendall(b"held")
        assert_silent(sock)
        proxy.heal()
        assert receive(sock, 4) == b"held"
        assert proxy.connection_count == 1


def test_blackhole_accepts_new_connections_and_forwards_nothing(proxy: FaultProxy) -> None:
    proxy.partition()
    with connect(proxy.port) as sock:
        sock.sendall(b"hello")
        assert_silent(sock)
        proxy.heal()
        greeted(sock)
        assert receive(sock, 5) == b"hello"


def test_reject_resets_open_and_new_connections(proxy: FaultProxy) -> None:
    with connect(proxy.port) as sock:
        greeted(sock)
        proxy.partition(PartitionMode.REJECT)
        assert_reset(sock)
    assert_rejected(proxy.port)
    assert proxy.connection_count == 0
    proxy.heal()
    with connect(proxy.port) as sock:
        greeted(sock)


def test_reject_after_blackhole_resets_the_held_connections(proxy: FaultProxy) -> None:
    with connect(proxy.port) as sock:
        proxy.partition(PartitionMode.BLACKHOLE)
        proxy.partition(PartitionMode.REJECT)
        assert_reset(sock)


def test_delay_holds_each_direction(proxy: FaultProxy) -> None:
    with connect(proxy.port) as sock:
        greeted(sock)
        proxy.delay(100)
        started = time.monotonic()
        sock.sendall(b"slow")
        assert receive(sock, 4) == b"slow"
        assert time.monotonic() - started >= 0.2, "100 ms there and 100 ms back"
        proxy.delay(0)
        sock.sendall(b"fast")
        assert receive(sock, 4) == b"fast"


def test_a_target_that_is_down_resets_the_client() -> None:
    with FaultProxy(0, "127.0.0.1", free_port()) as down:
        assert_rejected(down.port)


def test_close_resets_connections_stops_the_thread_and_the_listener(echo: EchoServer) -> None:
    fault_proxy = FaultProxy(0, "127.0.0.1", echo.port)
    thread_name = f"fault-proxy:{fault_proxy.port}"
    assert thread_name in {thread.name for thread in threading.enumerate()}
    with connect(fault_proxy.port) as sock:
        greeted(sock)
        fault_proxy.close()
        assert_reset(sock)
    fault_proxy.close()
    with pytest.raises(AssertionError, match="closed"):
        fault_proxy.heal()
    assert thread_name not in {thread.name for thread in threading.enumerate()}
    with pytest.raises(ConnectionRefusedError):
        connect(fault_proxy.port)


def test_connections_accepted_while_closing_are_reset_not_left_to_the_collector(echo: EchoServer) -> None:
    """Rule 6: clients that connect as ``close`` is called leave no unclosed socket in the proxy (an
    unclosed one surfaces as a ResourceWarning in whatever test the collector happens to run in)."""
    for _ in range(20):
        fault_proxy = FaultProxy(0, "127.0.0.1", echo.port)
        fault_proxy.partition(PartitionMode.BLACKHOLE)
        clients = [connect(fault_proxy.port) for _ in range(8)]
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", ResourceWarning)
            fault_proxy.close()
            gc.collect()
        assert [str(warning.message) for warning in caught] == []
        for sock in clients:
            with sock:
                assert_reset(sock)


# -- the network ----------------------------------------------------------------------------------


@pytest.fixture
def cluster() -> Iterator[tuple[Network, dict[int, EchoServer]]]:
    servers = {node: EchoServer(f"node-{node}") for node in (1, 2, 3)}
    try:
        with Network({node: server.port for node, server in servers.items()}) as network:
            yield network, servers
    finally:
        for server in servers.values():
            server.stop()


def reachable(network: Network, source: int, target: int) -> bool:
    """Whether ``source``'s connection reaches ``target`` (the links are cut with REJECT, or forward)."""
    try:
        with connect(network.port(source, target)) as sock:
            sock.sendall(b"ping")
            expected = f"node-{target}\nping".encode()
            return receive(sock, len(expected)) == expected
    except (ConnectionResetError, BrokenPipeError):
        return False


def reachable_pairs(network: Network) -> set[tuple[int, int]]:
    return {(i, j) for i in (1, 2, 3) for j in (1, 2, 3) if i != j and reachable(network, i, j)}


ALL_PAIRS = {(1, 2), (1, 3), (2, 1), (2, 3), (3, 1), (3, 2)}


def test_every_directed_link_has_its_own_proxy(cluster: tuple[Network, dict[int, EchoServer]]) -> None:
    network, _ = cluster
    assert len({network.port(i, j) for i, j in ALL_PAIRS}) == 6
    assert reachable_pairs(network) == ALL_PAIRS


def test_isolate_partition_and_heal(cluster: tuple[Network, dict[int, EchoServer]]) -> None:
    network, _ = cluster
    network.isolate(1, PartitionMode.REJECT)
    assert reachable_pairs(network) == {(2, 3), (3, 2)}
    network.partition([{1, 2}, {3}], PartitionMode.REJECT)
    assert reachable_pairs(network) == {(1, 2), (2, 1)}
    network.partition([{1, 3}], PartitionMode.REJECT)
    assert reachable_pairs(network) == {(1, 3), (3, 1)}, "node 2, in no group, is alone"
    network.heal_all()
    assert reachable_pairs(network) == ALL_PAIRS


def test_one_way_cut_and_blackhole(cluster: tuple[Network, dict[int, EchoServer]]) -> None:
    network, _ = cluster
    network.link(1, 2).partition(PartitionMode.BLACKHOLE)
    with connect(network.port(1, 2)) as sock:
        assert_silent(sock)
        assert reachable(network, 2, 1)
        network.heal_all()
        greeted(sock, "node-2")


def test_partition_names_only_known_nodes(cluster: tuple[Network, dict[int, EchoServer]]) -> None:
    network, _ = cluster
    with pytest.raises(AssertionError, match="no such nodes"):
        network.partition([{1, 9}])
