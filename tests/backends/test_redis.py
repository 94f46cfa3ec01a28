"""The redis backend against real redis-servers (Debian's): confd's key mapping, database selection,
keyspace notifications and polling, passwords, TLS, nodes in order, and a server killed and restarted.

The mapping's expectations are confd's documented ones (shared/reference/confd.md: ``-separator``
"replaces / in keys and strips the leading /"; nodes ``host:port/db``; GET of strings, the fields of
hashes). The conformance cases (tests/backends/test_conformance.py) run against redis too.
"""

from __future__ import annotations

import asyncio
import random
import sys
from contextlib import aclosing
from functools import partial
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from confagent.backends import BackendConfig, CacheRecovered, PrefixCache
from confagent.backends._redis import RedisBackend
from confagent.backends._redis_keys import RedisNode, from_redis, parse_node, scan_pattern, to_redis
from confagent.backends._redis_link import RedisLink, RedisOptions
from confagent.backends._registry import GivenPath
from confagent.errors import BackendError, ClientError, ConfigError, UndecodableKey
from confagent.testing import FaultProxy, PartitionMode, Processes, free_port, until_async
from tests.backends.harness import FAST, Follower, next_change, run, survives_a_restart
from tests.backends.redis_server import RedisServer
from tests.certs import make_certs


@pytest.mark.parametrize(("key", "separator", "redis_key"), [
    ("/app/db/url", "/", "/app/db/url"),  # the default separator: keys as they are
    ("/app/db/url", ":", "app:db:url"),  # -separator: '/' replaced, the leading one stripped
    ("/app/db/url", ".", "app.db.url"),
    ("/", ":", ""),
])
def test_keys_map_to_redis_keys_as_confd_maps_them(key: str, separator: str, redis_key: str) -> None:
    assert to_redis(key, separator) == redis_key
    if redis_key:
        assert from_redis(redis_key, separator) == key


def test_a_scan_pattern_matches_its_prefix_literally() -> None:
    assert scan_pattern("/app", "/") == "/app*"
    assert scan_pattern("/app/", ":") == "app:*"
    assert scan_pattern("/a[1]?*\\", "/") == "/a\\[1\\]\\?\\*\\\\*"


@pytest.mark.parametrize(("text", "node"), [
    ("127.0.0.1:6380", RedisNode("127.0.0.1:6380", port=6380)),
    ("10.0.0.5:6380/2", RedisNode("10.0.0.5:6380/2", host="10.0.0.5", port=6380, db=2)),  # host:port/db
    ("http://10.0.0.5:6380/2", RedisNode("10.0.0.5:6380/2", host="10.0.0.5", port=6380, db=2)),
    ("redis.internal", RedisNode("redis.internal", host="redis.internal")),
    ("/run/redis/redis.sock", RedisNode("/run/redis/redis.sock", socket_path="/run/redis/redis.sock")),
    ("rediss://10.0.0.5:6390/1", RedisNode("rediss://10.0.0.5:6390/1", host="10.0.0.5", port=6390, db=1,
                                           tls=True)),
])
def test_nodes_are_read_as_confd_reads_them(text: str, node: RedisNode) -> None:
    assert parse_node(text) == node


@pytest.mark.parametrize(("text", "words"), [
    ("127.0.0.1:6379/x", "the database after '/' must be a number"),
    ("127.0.0.1:port", "no valid port"),
    ("redis://user:pw@127.0.0.1:6379", "give the password with password"),
    ("ftp://127.0.0.1:6379", "is not a redis node"),
])
def test_bad_nodes_are_named(text: str, words: str) -> None:
    with pytest.raises(ConfigError, match=words) as caught:
        parse_node(text)
    assert text in str(caught.value)


def test_the_password_comes_from_client_key_as_confd_reads_it_or_from_password(tmp_path: Path) -> None:
    quirk = BackendConfig(backend="redis", client_key=GivenPath.of("s3cret//x", tmp_path))
    quirk.validate()
    assert quirk.redis_options().password == "s3cret//x"
    password_file = tmp_path / "password"
    password_file.write_text("from-file\n")
    assert BackendConfig(backend="redis", password_file=password_file).redis_options().password == "from-file"
    assert BackendConfig(backend="redis", password="plain", username="app").redis_options().username == "app"
    both = BackendConfig(backend="redis", client_key=GivenPath.of("a", tmp_path), password="b")
    with pytest.raises(ConfigError, match="is the redis password"):
        both.validate()
    with pytest.raises(ConfigError, match="only used by the redis backend"):
        BackendConfig(backend="etcd", separator=":").validate()
    with pytest.raises(ConfigError, match="must be more than 0 s"):
        BackendConfig(backend="redis", poll_interval_s=0).validate()


def _server(processes: Processes, tmp_path: Path, **options: object) -> RedisServer:
    return RedisServer(processes, tmp_path / "redis", **options).start()  # type: ignore[arg-type]


def _backend(server: RedisServer, *, separator: str = "/", db: int = 0, **options: object) -> RedisBackend:
    node = parse_node(f"{server.node}/{db}" if db else server.node)
    return RedisBackend([node], RedisOptions(**options), separator=separator)  # type: ignore[arg-type]


def test_strings_and_hashes_map_to_keys_with_the_separator(tmp_path: Path, processes: Processes) -> None:
    server = _server(processes, tmp_path)
    with server.client() as client:
        client.set("app:db:url", "db.example.com:5432")
        client.hset("app:web", mapping={"a": "10.0.0.1", "b": "10.0.0.2"})
        client.rpush("app:queue", "not read")  # confd reads strings and hashes only
        client.set("apple:x", "a string prefix")
        client.set("other:x", "outside")
        client.set("/app/slash", "a key of the '/' separator")
        client.select(2)
        client.set("app:db:url", "in database 2")

    async def body() -> None:
        backend = _backend(server, separator=":")
        try:
            snap = await backend.snapshot(["/app"])
            assert dict(snap.entries) == {"/app/db/url": "db.example.com:5432", "/app/web/a": "10.0.0.1",
                                          "/app/web/b": "10.0.0.2", "/apple/x": "a string prefix"}
            assert dict((await backend.snapshot(["/app/web"])).entries) == {
                "/app/web/a": "10.0.0.1", "/app/web/b": "10.0.0.2"}
        finally:
            await backend.close()
        in_db2 = _backend(server, separator=":", db=2)
        try:
            assert dict((await in_db2.snapshot(["/app"])).entries) == {"/app/db/url": "in database 2"}
        finally:
            await in_db2.close()
        slash = _backend(server)
        try:
            assert dict((await slash.snapshot(["/app"])).entries) == {
                "/app/slash": "a key of the '/' separator"}
        finally:
            await slash.close()

    run(body)


def test_changes_follow_set_del_hset_hdel_and_expiry_by_notification(tmp_path: Path,
                                                                     processes: Processes) -> None:
    server = _server(processes, tmp_path)
    client = server.client()

    async def body() -> None:
        backend = _backend(server)
        try:
            with capture_logs() as logs:
                start = (await backend.snapshot(["/app"])).revision
                async with aclosing(backend.changes(["/app"], start)) as changes:
                    steps = [
                        (lambda: client.set("/app/a", "1"), {"/app/a": "1"}, set()),
                        (lambda: client.hset("/app/h", mapping={"x": "1", "y": "2"}),
                         {"/app/h/x": "1", "/app/h/y": "2"}, set()),
                        (lambda: client.hdel("/app/h", "x"), {}, {"/app/h/x"}),
                        (lambda: client.delete("/app/a"), {}, {"/app/a"}),
                        (lambda: client.set("/app/t", "short", px=1500), {"/app/t": "short"}, set()),
                        (lambda: None, {}, {"/app/t"}),  # it expires: redis sends "expired"
                    ]
                    for write, puts, deletes in steps:
                        write()
                        change = await next_change(changes)
                        assert (dict(change.puts), set(change.deletes)) == (puts, deletes)
            assert backend.link.notifying is True
            assert any(log["event"] == "redis changes come by keyspace notifications" for log in logs), logs
        finally:
            await backend.close()

    run(body)
    client.close()


def test_changes_are_polled_where_notifications_cannot_be_turned_on(tmp_path: Path,
                                                                    processes: Processes) -> None:
    server = _server(processes, tmp_path, config_disabled=True)
    client = server.client()

    async def body() -> None:
        backend = _backend(server, poll_interval_s=0.1)
        try:
            with capture_logs() as logs:
                start = (await backend.snapshot(["/app"])).revision
                async with aclosing(backend.changes(["/app"], start)) as changes:
                    client.set("/app/a", "1")
                    assert dict((await next_change(changes)).puts) == {"/app/a": "1"}
                    client.hset("/app/h", "f", "v")
                    assert dict((await next_change(changes)).puts) == {"/app/h/f": "v"}
            assert backend.link.notifying is False
            polled = [log for log in logs if log["event"].startswith("redis changes are polled")]
            assert polled and polled[0]["poll_interval_s"] == 0.1 and "CONFIG" in polled[0]["cause"], logs
        finally:
            await backend.close()

    run(body)
    client.close()


def test_a_refused_or_missing_password_is_an_error_naming_the_node(tmp_path: Path,
                                                                   processes: Processes) -> None:
    server = _server(processes, tmp_path, password="right-pw")
    with server.client() as client:
        client.set("/app/a", "1")

    async def body() -> None:
        for password, words in (("wrong-pw", "refused the password: "), ("", "refused the password: ")):
            backend = _backend(server, password=password)
            try:
                with pytest.raises(BackendError) as caught:
                    await backend.snapshot(["/app"])
                assert f"redis node {server.node} {words}" in str(caught.value), caught.value
                assert "right-pw" not in str(caught.value)
            finally:
                await backend.close()
        backend = _backend(server, password="right-pw")
        try:
            assert dict((await backend.snapshot(["/app"])).entries) == {"/app/a": "1"}
        finally:
            await backend.close()

    run(body)


def test_an_acl_user_signs_in_and_polls_where_config_is_not_allowed(tmp_path: Path,
                                                                    processes: Processes) -> None:
    server = _server(processes, tmp_path, users=("app on >app-pw ~* &* +@all -config",
                                                 "quiet on >quiet-pw ~* resetchannels +@all -config"))
    client = server.client()
    client.set("/app/a", "1")

    async def body() -> None:
        refused = _backend(server, username="app", password="wrong-pw")
        try:
            with pytest.raises(BackendError, match=f"redis node {server.node} refused the password"):
                await refused.snapshot(["/app"])
        finally:
            await refused.close()
        backend = _backend(server, username="app", password="app-pw", poll_interval_s=0.1)
        try:
            with capture_logs() as logs:
                start = (await backend.snapshot(["/app"])).revision
                async with aclosing(backend.changes(["/app"], start)) as changes:
                    client.set("/app/a", "2")
                    assert dict((await next_change(changes)).puts) == {"/app/a": "2"}
            assert backend.link.notifying is False
            polled = [log for log in logs if log["event"].startswith("redis changes are polled")]
            assert polled and "no permissions to run the 'config|get' command" in polled[0]["cause"], logs
        finally:
            await backend.close()
        no_channels = _backend(server, username="quiet", password="quiet-pw", poll_interval_s=0.1)
        try:  # its ACL allows no channel either: PSUBSCRIBE is refused, and it polls alone
            start = (await no_channels.snapshot(["/app"])).revision
            async with aclosing(no_channels.changes(["/app"], start)) as changes:
                client.set("/app/a", "3")
                assert dict((await next_change(changes)).puts) == {"/app/a": "3"}
        finally:
            await no_channels.close()

    run(body)
    client.close()


def test_a_server_refusing_scripts_is_read_as_confd_reads_it(tmp_path: Path, processes: Processes) -> None:
    server = _server(processes, tmp_path, extra=('rename-command EVAL ""',))
    with server.client() as client:
        client.set("app:db:url", "db1")
        client.hset("app:web", mapping={"a": "1", "b": "2"})
        client.rpush("app:queue", "not read")

    async def body() -> None:
        backend = _backend(server, separator=":")
        try:
            with capture_logs() as logs:
                for _ in range(2):  # the second read goes straight to confd's way
                    snap = await backend.snapshot(["/app"])
                    assert dict(snap.entries) == {"/app/db/url": "db1", "/app/web/a": "1", "/app/web/b": "2"}
            warned = [log for log in logs if log["event"].startswith("redis refuses scripts")]
            assert len(warned) == 1 and "eval" in warned[0]["cause"].lower(), logs
        finally:
            await backend.close()

    run(body)


def test_a_unix_socket_node(tmp_path: Path, processes: Processes) -> None:
    server = _server(processes, tmp_path, unix_socket=True)
    with server.client() as client:
        client.set("/app/a", "over the socket")

    async def body() -> None:
        backend = RedisBackend([parse_node(str(server.socket_path))])
        try:
            assert dict((await backend.snapshot(["/app"])).entries) == {"/app/a": "over the socket"}
        finally:
            await backend.close()

    run(body)


def test_tls_with_a_client_certificate(tmp_path: Path, processes: Processes) -> None:
    certs = make_certs(tmp_path / "certs")
    server = _server(processes, tmp_path, tls_dir=certs)
    with server.client() as client:
        client.set("/app/a", "over TLS")

    async def body() -> None:
        backend = _backend(server, ca_file=certs / "ca.crt", cert_file=certs / "client.crt",
                           key_file=certs / "client.key")
        try:
            assert server.node.startswith("rediss://")
            assert dict((await backend.snapshot(["/app"])).entries) == {"/app/a": "over TLS"}
        finally:
            await backend.close()
        untrusted = _backend(server)  # the system's CAs do not know the test CA
        try:
            with pytest.raises(ClientError, match=f"redis node {server.node}"):
                await untrusted.snapshot(["/app"])
        finally:
            await untrusted.close()

    run(body)


def test_nodes_are_tried_in_order(tmp_path: Path, processes: Processes) -> None:
    server = _server(processes, tmp_path)
    down = f"127.0.0.1:{free_port()}"
    with server.client() as client:
        client.set("/app/a", "1")

    async def body() -> None:
        link = RedisLink([parse_node(down), parse_node(server.node)], RedisOptions(timeout_s=2))
        backend = RedisBackend([], link=link)
        try:
            assert dict((await backend.snapshot(["/app"])).entries) == {"/app/a": "1"}
            assert link.node is not None and link.node.text == server.node
        finally:
            await backend.close()
        alone = RedisBackend([parse_node(down)], RedisOptions(timeout_s=2))
        try:
            with pytest.raises(ClientError, match=f"no redis node answered: redis node {down}: "):
                await alone.snapshot(["/app"])
        finally:
            await alone.close()

    run(body)


def test_the_subscription_goes_to_the_node_the_reads_go_to(tmp_path: Path, processes: Processes) -> None:
    """The first node comes up after the reads went to the second: the notifications are the second's."""
    second = _server(processes, tmp_path)
    first = RedisServer(processes, tmp_path / "first")

    async def body() -> None:
        backend = RedisBackend([parse_node(f"127.0.0.1:{first.port}"), parse_node(second.node)],
                               RedisOptions(timeout_s=2, notified_read_s=600))
        try:
            start = (await backend.snapshot(["/app"])).revision
            await asyncio.to_thread(first.start)
            async with aclosing(backend.changes(["/app"], start)) as changes:
                await asyncio.to_thread(_write, second, "/app/a", "read after subscribing")
                assert dict((await next_change(changes)).puts) == {"/app/a": "read after subscribing"}
                await asyncio.to_thread(_write, second, "/app/a", "notified")  # no read for 600 s else
                assert dict((await next_change(changes)).puts) == {"/app/a": "notified"}
        finally:
            await backend.close()

    run(body)


def test_keys_and_values_that_are_not_utf8_are_left_out_and_reported(tmp_path: Path,
                                                                     processes: Processes) -> None:
    server = _server(processes, tmp_path)
    client = server.client()
    client.set("/app/ok", "1")

    async def body() -> None:
        backend = _backend(server)
        try:
            start = (await backend.snapshot(["/app"])).revision
            async with aclosing(backend.changes(["/app"], start)) as changes:
                client.set(b"/app/bad\xff", b"v")
                bad_key = await next_change(changes)
                client.set("/app/ok", b"\xfe")
                bad_value = await next_change(changes)
            assert not bad_key.puts and not bad_key.deletes
            assert [type(p) for p in bad_key.problems] == [UndecodableKey]
            assert bad_value.deletes == {"/app/ok"} and "value" in str(bad_value.problems[0])
            snap = await backend.snapshot(["/app"])
            assert dict(snap.entries) == {} and len(snap.problems) == 2
        finally:
            await backend.close()

    run(body)
    client.close()


def test_a_killed_and_restarted_server_is_survived(tmp_path: Path, processes: Processes) -> None:
    """As an etcd outage: the cache keeps its view, reports the trouble, backs off, and recovers."""
    server = _server(processes, tmp_path)
    _write(server, "/app/a", "1")
    run(lambda: survives_a_restart(_backend(server, timeout_s=1), "/app", server, partial(_write, server)))


def test_a_network_cut_under_notifications_is_noticed_and_survived(tmp_path: Path,
                                                                   processes: Processes) -> None:
    """A cut cable sends no reset and no notification: the read every ``notified_read_s`` notices it."""
    server = _server(processes, tmp_path)
    _write(server, "/app/a", "1")

    async def body() -> None:
        with FaultProxy(0, "127.0.0.1", server.port) as proxy:
            node = parse_node(f"127.0.0.1:{proxy.port}")
            backend = RedisBackend([node], RedisOptions(timeout_s=0.5, notified_read_s=0.3))
            follower = Follower(PrefixCache(backend, ["/app"], FAST, rng=random.Random(7)))
            try:
                assert dict((await follower.update()).view) == {"/app/a": "1"}
                await until_async(lambda: backend.link.notifying is True, "the subscription")
                await asyncio.to_thread(proxy.partition, PartitionMode.BLACKHOLE)
                trouble = await follower.trouble()
                assert isinstance(trouble.error, ClientError) and node.text in str(trouble.error), trouble
                await asyncio.to_thread(_write, server, "/app/a", "2")
                await asyncio.to_thread(proxy.heal)
                await follower.until(lambda e: isinstance(e, CacheRecovered))
                await follower.until(lambda e: dict(getattr(e, "view", {})) == {"/app/a": "2"})
            finally:
                await follower.stop()
                await backend.close()

    run(body)


def _write(server: RedisServer, key: str, value: str) -> None:
    with server.client() as client:
        client.set(key, value)


def test_redis_py_is_imported_only_when_the_backend_opens(processes: Processes) -> None:
    """The agent, its configuration and a redis BackendConfig checked load no redis-py; opening loads it."""
    checked = ("import sys, confagent.cli, confagent.agent, confagent.config\n"
               "from confagent.backends import BackendConfig\n"
               "BackendConfig(backend='redis', nodes=('127.0.0.1:1/2',), separator=':').validate()\n")
    opened = ("import asyncio\nfrom confagent.backends import BackendConfig, open_backend\n"
              "asyncio.run(open_backend(BackendConfig(backend='redis')))\n")
    for statement, loaded in ((checked, False), (opened, True)):
        done = processes.run([sys.executable, "-c", statement + "import sys\nprint('redis' in sys.modules)"],
                             cwd=Path(__file__).resolve().parents[2])
        assert done.stdout.decode().split() == [str(loaded)], done.stderr.decode()
