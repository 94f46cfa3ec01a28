"""The zookeeper backend against a real ZooKeeper (Debian's): confd's key mapping, watches after create,
set and delete, nested nodes, digest identities and ACLs, and a server killed and restarted.

The mapping's expectations are confd's (shared/reference/confd.md §6: "recursive child walk", GetW and
ChildrenW per node): a node without children is a key named by its path, holding its data; a node with
children is walked and its own data is left out. One server serves the session (``zookeeper_session``,
conftest.py); each test keeps to a namespace of its own (``ns``). The conformance cases
(tests/backends/test_conformance.py) run against zookeeper too.
"""

from __future__ import annotations

import asyncio
import random
import threading
from collections.abc import Callable, Iterator
from contextlib import aclosing
from functools import partial
from pathlib import Path

import pytest
from kazoo.client import KazooClient
from kazoo.protocol.states import Callback, WatchedEvent
from kazoo.security import make_digest_acl

from confagent.backends import BackendConfig, CacheRecovered, PrefixCache
from confagent.backends._zookeeper import ZookeeperBackend, ZookeeperOptions
from confagent.backends._zookeeper_tree import TreeCopy, TreeWalk
from confagent.errors import BackendError, ClientError, ConfigError, ResyncNeeded
from confagent.testing import Processes
from tests.backends.harness import DEADLINE_S, FAST, Follower, next_change, run, survives_a_restart
from tests.backends.zookeeper_server import ZookeeperServer
from tests.certs import make_certs


@pytest.fixture
def zk(zookeeper_session: ZookeeperServer) -> Iterator[KazooClient]:
    """The test's own client for writing."""
    with zookeeper_session.client() as client:
        yield client


def _options(server: ZookeeperServer, **given: object) -> ZookeeperOptions:
    """Options for ``server``; a session waited for long enough for a loaded machine unless given."""
    return ZookeeperOptions(hosts=(server.node,), **{"dial_timeout_s": 30.0, **given})  # type: ignore[arg-type]


def _tree(zk: KazooClient, nodes: dict[str, str]) -> None:
    for path, data in nodes.items():
        if zk.exists(path):
            zk.set(path, data.encode())
        else:
            zk.create(path, data.encode(), makepath=True)


def test_options_take_confd_nodes_and_a_digest_identity(tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    default = BackendConfig(backend="zookeeper")
    default.validate()
    assert default.zookeeper_options().hosts == ("127.0.0.1:2181",)  # confd's default node
    given = BackendConfig(backend="zookeeper", nodes=("http://10.0.0.1:2182", "http://zk.internal"),
                          username="alice", password="pw")
    given.validate()
    options = given.zookeeper_options()
    assert options.hosts == ("10.0.0.1:2182", "zk.internal:2181") and not options.tls
    srv = BackendConfig(backend="zookeeper", nodes=("zk1.example.com:2191", "zk2.example.com"))
    srv.validate()  # the bare HOST:PORT of confd's -node and of SRV discovery
    assert srv.zookeeper_options().hosts == ("zk1.example.com:2191", "zk2.example.com:2181")
    for bad in ("zk1:port", "alice@zk1:2181", "zk1:2181/chroot"):
        with pytest.raises(ConfigError, match=f"{bad!r} is not a zookeeper node"):
            BackendConfig(backend="zookeeper", nodes=(bad,)).validate()
    assert (options.username, options.password) == ("alice", "pw")
    password_file = tmp_path / "password"
    password_file.write_text("from-file\n")
    assert BackendConfig(backend="zookeeper", username="alice",
                         password_file=password_file).zookeeper_options().password == "from-file"
    monkeypatch.setenv("CONFAGENT_ZOOKEEPER_PASSWORD", "from-env")
    assert BackendConfig(backend="zookeeper", username="alice").zookeeper_options().password == "from-env"
    monkeypatch.delenv("CONFAGENT_ZOOKEEPER_PASSWORD")
    with pytest.raises(ConfigError, match="no password for user 'alice'"):
        BackendConfig(backend="zookeeper", username="alice").zookeeper_options()
    with pytest.raises(ConfigError, match="needs username as well"):
        BackendConfig(backend="zookeeper", password="pw").validate()
    with pytest.raises(ConfigError, match="is only used by the etcd backend"):
        BackendConfig(backend="zookeeper", basic_auth=True, username="alice").validate()


def test_the_tree_maps_to_keys_as_confd_maps_it(zookeeper_session: ZookeeperServer, zk: KazooClient,
                                                ns: str) -> None:
    _tree(zk, {f"{ns}/app": "a directory's data", f"{ns}/app/db/url": "db:5432", f"{ns}/app/db/user": "u",
               f"{ns}/app/empty": "", f"{ns}/app/a/b/c/d": "deep", f"{ns}/apple/x": "1", f"{ns}/other": "no"})

    async def body() -> None:
        backend = ZookeeperBackend(_options(zookeeper_session))
        try:
            whole = await backend.snapshot([f"{ns}/app"])
            tree = await backend.snapshot([f"{ns}/app/"])
            one = await backend.snapshot([f"{ns}/app/db/url"])
            missing = await backend.snapshot([f"{ns}/nothing/"])
        finally:
            await backend.close()
        leaves = {f"{ns}/app/db/url": "db:5432", f"{ns}/app/db/user": "u", f"{ns}/app/empty": "",
                  f"{ns}/app/a/b/c/d": "deep"}
        assert dict(whole.entries) == {**leaves, f"{ns}/apple/x": "1"}  # a string prefix, as etcd's
        assert dict(tree.entries) == leaves  # /app's own data is left out, as confd leaves it
        assert dict(one.entries) == {f"{ns}/app/db/url": "db:5432"}
        assert dict(missing.entries) == {}
        assert whole.revision == tree.revision == one.revision == missing.revision

    run(body)


def test_watches_follow_create_set_and_delete(zookeeper_session: ZookeeperServer, zk: KazooClient,
                                              ns: str) -> None:
    _tree(zk, {f"{ns}/app/a": "1"})

    async def body() -> None:
        backend = ZookeeperBackend(_options(zookeeper_session))
        try:
            snap = await backend.snapshot([f"{ns}/app/"])
            assert dict(snap.entries) == {f"{ns}/app/a": "1"}
            async with aclosing(backend.changes([f"{ns}/app/"], snap.revision)) as changes:
                await asyncio.to_thread(zk.set, f"{ns}/app/a", b"2")
                change = await next_change(changes)
                assert (dict(change.puts), change.deletes) == ({f"{ns}/app/a": "2"}, frozenset())
                assert change.revision == snap.revision + 1
                await asyncio.to_thread(zk.create, f"{ns}/app/b/c", b"3", makepath=True)
                assert dict((await next_change(changes)).puts) == {f"{ns}/app/b/c": "3"}
                await asyncio.to_thread(zk.create, f"{ns}/app/a/child", b"4")  # the key becomes a directory
                change = await next_change(changes)
                assert (dict(change.puts), change.deletes) == ({f"{ns}/app/a/child": "4"},
                                                               frozenset({f"{ns}/app/a"}))
                await asyncio.to_thread(zk.delete, f"{ns}/app/b", recursive=True)
                assert (await next_change(changes)).deletes == {f"{ns}/app/b/c"}
                await asyncio.to_thread(zk.set, f"{ns}/app/a/child", b"5")
                assert dict((await next_change(changes)).puts) == {f"{ns}/app/a/child": "5"}
        finally:
            await backend.close()

    run(body)


class _CountingWalk(TreeWalk):
    """A walk that counts its reads."""

    reads = 0

    def _list(self, path: str) -> object:
        self.reads += 1
        return super()._list(path)

    def _get(self, path: str) -> object:
        self.reads += 1
        return super()._get(path)


def test_a_copy_follows_the_watches_that_fired_reading_only_what_they_concern(
        zookeeper_session: ZookeeperServer, zk: KazooClient, ns: str) -> None:
    """Each kind of change, followed from its events alone, leaves the copy as a fresh walk reads the
    tree: a key set, created, turned into a directory and back, a subtree deleted, a root added under the
    prefixes' parent, the parent deleted and created again."""
    fired: list[WatchedEvent] = []
    walk = _CountingWalk(zk, fired.append, 5.0, zookeeper_session.node, "test")
    copy = TreeCopy([f"{ns}/app/", f"{ns}/web"])
    _tree(zk, {f"{ns}/app/a": "1", f"{ns}/web/x": "2", f"{ns}/other/y": "3",
               **{f"{ns}/app/many/k{i:03d}": str(i) for i in range(200)}})
    copy.reload(walk)
    steps: list[tuple[str, Callable[[], object], int]] = [
        ("set a key", lambda: zk.set(f"{ns}/app/a", b"1b"), 1),
        ("create a key", lambda: zk.create(f"{ns}/app/b", b"new"), 3),
        ("a key becomes a directory", lambda: zk.create(f"{ns}/app/a/c", b"c"), 4),
        ("a directory becomes a key", lambda: zk.delete(f"{ns}/app/a/c"), 4),
        ("a subtree goes", lambda: zk.delete(f"{ns}/app/many", recursive=True), 2),
        ("a root comes", lambda: zk.create(f"{ns}/web2/z", b"z", makepath=True), 4),
        ("outside the prefixes", lambda: zk.create(f"{ns}/other/w", b"w"), 0),
        ("the parent goes", lambda: zk.delete(f"{ns}/app", recursive=True), 2),
        ("the parent comes back", lambda: zk.create(f"{ns}/app/d", b"d", makepath=True), 4),
    ]
    for what, step, reads_max in steps:
        fired.clear()
        step()
        _settle(zk)
        walk.reads = 0
        copy.follow(walk, [(event.type, event.path) for event in fired])
        fresh = TreeWalk(zk, lambda _event: None, 5.0, zookeeper_session.node, "test").read(copy.parents)
        assert copy.values == fresh, what
        assert walk.reads <= reads_max, (what, walk.reads)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_copy_follows_random_changes_as_a_fresh_walk_reads_them(
        zookeeper_session: ZookeeperServer, zk: KazooClient, ns: str, seed: int) -> None:
    """Seeded random creates, sets, deletes (of keys and of subtrees) and multis of them, on a small tree
    under two prefixes and beside them, keys becoming directories and back; after each, the copy followed
    from its events alone is the tree."""
    rng = random.Random(seed)
    fired: list[WatchedEvent] = []
    walk = TreeWalk(zk, fired.append, 5.0, zookeeper_session.node, "test")
    copy = TreeCopy([f"{ns}/a/", f"{ns}/b"])
    names = [f"{ns}/{top}/{rest}" for top in ("a", "b", "bb", "c")  # x and x/y: keys, then directories
             for rest in ("k", "l", "x", "x/k", "x/l", "x/y", "x/y/k")]
    copy.reload(walk)
    for step in range(60):
        fired.clear()
        _random_change(zk, rng, names)
        _settle(zk)
        copy.follow(walk, [(event.type, event.path) for event in fired])
        fresh = TreeWalk(zk, lambda _event: None, 5.0, zookeeper_session.node, "test").read(copy.parents)
        assert copy.values == fresh, (seed, step)


def _random_change(zk: KazooClient, rng: random.Random, names: list[str]) -> None:
    """One random write: a set or create of a node, a delete of one (with what is below it), or a multi
    of two of them."""
    transaction = zk.transaction()
    for path in rng.sample(names, rng.choice((1, 2))):
        stat = zk.exists(path)
        if stat is not None and rng.random() < 0.4:
            for child in sorted(zk.get_children(path)):
                zk.delete(f"{path}/{child}", recursive=True)
            transaction.delete(path)
        elif stat is not None:
            transaction.set_data(path, str(rng.random()).encode())
        else:
            zk.ensure_path(path.rpartition("/")[0])
            transaction.create(path, str(rng.random()).encode())
    transaction.commit()


def _settle(zk: KazooClient) -> None:
    """Wait until kazoo has run the callbacks of every watch fired so far."""
    done = threading.Event()
    zk.handler.dispatch_callback(Callback("watch", done.set, ()))
    assert done.wait(10)


def test_changes_start_from_the_copy_their_snapshot_read(zookeeper_session: ZookeeperServer, zk: KazooClient,
                                                          ns: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The cache's snapshot, then changes from its revision: one walk of the tree, not two; changes from
    another revision, or of other prefixes, walk their own."""
    walks: list[str] = []
    reload = TreeCopy.reload

    def counted(copy: TreeCopy, walk: TreeWalk) -> None:
        walks.append(",".join(copy.watched.prefixes))
        reload(copy, walk)

    monkeypatch.setattr(TreeCopy, "reload", counted)
    _tree(zk, {f"{ns}/app/a": "1"})

    async def body() -> None:
        backend = ZookeeperBackend(_options(zookeeper_session))
        try:
            snap = await backend.snapshot([f"{ns}/app/"])
            async with aclosing(backend.changes([f"{ns}/app/"], snap.revision)) as changes:
                await asyncio.to_thread(zk.set, f"{ns}/app/a", b"2")
                assert dict((await next_change(changes)).puts) == {f"{ns}/app/a": "2"}
            assert walks == [f"{ns}/app/"]
            other = await backend.snapshot([f"{ns}/app/"])
            async with aclosing(backend.changes([f"{ns}/"], other.revision)) as changes:
                await asyncio.to_thread(zk.set, f"{ns}/app/a", b"3")
                assert dict((await next_change(changes)).puts) == {f"{ns}/app/a": "3"}
            assert walks == [f"{ns}/app/", f"{ns}/app/", f"{ns}/"]
        finally:
            await backend.close()

    run(body)


def test_a_prefix_created_later_is_seen(zookeeper_session: ZookeeperServer, zk: KazooClient, ns: str) -> None:
    """The prefix's parent did not exist: an existence watch notices it (confd watches nothing there)."""

    async def body() -> None:
        backend = ZookeeperBackend(_options(zookeeper_session))
        try:
            snap = await backend.snapshot([f"{ns}/late/db/"])
            assert dict(snap.entries) == {}
            async with aclosing(backend.changes([f"{ns}/late/db/"], snap.revision)) as changes:
                await asyncio.to_thread(zk.create, f"{ns}/late/db/url", b"x", makepath=True)
                assert dict((await next_change(changes)).puts) == {f"{ns}/late/db/url": "x"}
        finally:
            await backend.close()

    run(body)


def test_changes_from_an_unknown_revision_need_a_resync(zookeeper_session: ZookeeperServer, ns: str) -> None:
    async def body() -> None:
        backend = ZookeeperBackend(_options(zookeeper_session))
        try:
            snap = await backend.snapshot([f"{ns}/"])
            with pytest.raises(ResyncNeeded, match="zookeeper backend keeps the changes"):
                async with aclosing(backend.changes([f"{ns}/"], snap.revision + 5)) as changes:
                    await next_change(changes)
        finally:
            await backend.close()

    run(body)


def test_a_node_the_acl_refuses_names_the_user_and_the_node(zookeeper_session: ZookeeperServer,
                                                            zk: KazooClient, ns: str) -> None:
    _tree(zk, {f"{ns}/open/a": "1"})
    zk.create(f"{ns}/secret", b"", acl=[make_digest_acl("alice", "s3cret", all=True)])
    with zookeeper_session.client("alice:s3cret") as alice:
        alice.create(f"{ns}/secret/db", b"pw")

    async def read(**identity: str) -> dict[str, str]:
        backend = ZookeeperBackend(_options(zookeeper_session, **identity))
        try:
            return dict((await backend.snapshot([f"{ns}/"])).entries)
        finally:
            await backend.close()

    assert run(lambda: read(username="alice", password="s3cret")) == {f"{ns}/open/a": "1",
                                                                     f"{ns}/secret/db": "pw"}
    with pytest.raises(BackendError, match=f"user 'alice' may not read {ns}/secret") as refused:
        run(lambda: read(username="alice", password="wrong"))
    assert "wrong" not in str(refused.value)
    with pytest.raises(BackendError, match=f"a client without credentials may not read {ns}/secret"):
        run(read)


@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")  # kazoo 2.11 leaves a socket
# whose TLS handshake failed to the garbage collector (a ResourceWarning each refused attempt)
def test_tls_with_a_client_certificate(tmp_path: Path, processes: Processes) -> None:
    """The options as the agent's flags give them: --client-ca-keys, --client-cert, --client-key."""
    certs = make_certs(tmp_path / "certs")
    server = ZookeeperServer(processes, tmp_path / "zookeeper", tls_dir=certs).start()
    with server.client() as zk:
        _tree(zk, {"/app/a": "over TLS"})
    node = f"http://{server.tls_node}"
    signed = BackendConfig(backend="zookeeper", nodes=(node,), client_cakeys=certs / "ca.crt",
                           client_cert=certs / "client.crt", client_key=certs / "client.key",
                           dial_timeout_s=30.0)
    unsigned = BackendConfig(backend="zookeeper", nodes=(node,), client_cakeys=certs / "ca.crt",
                             dial_timeout_s=1.0)
    plain = BackendConfig(backend="zookeeper", nodes=(node,), dial_timeout_s=1.0)

    async def read(config: BackendConfig) -> dict[str, str]:
        config.validate()
        backend = ZookeeperBackend(config.zookeeper_options())
        try:
            return dict((await backend.snapshot(["/app/"])).entries)
        finally:
            await backend.close()

    assert run(lambda: read(signed)) == {"/app/a": "over TLS"}
    for refused in (unsigned, plain):  # no client certificate; no TLS at all
        with pytest.raises(ClientError, match=f"zookeeper {server.tls_node}: no session"):
            run(lambda: read(refused))  # noqa: B023 - run at once


def test_no_server_is_a_client_error(processes: Processes, tmp_path: Path) -> None:
    server = ZookeeperServer(processes, tmp_path)  # never started: nothing listens on its port

    async def body() -> None:
        backend = ZookeeperBackend(_options(server, dial_timeout_s=0.3))
        try:
            with pytest.raises(ClientError, match=f"zookeeper {server.node}: no session"):
                await backend.snapshot(["/"])
        finally:
            await backend.close()

    run(body)


def test_a_killed_and_restarted_server_is_survived(tmp_path: Path, processes: Processes) -> None:
    """As an etcd outage: the cache keeps its view, reports the trouble, backs off, and recovers."""
    server = ZookeeperServer(processes, tmp_path).start()
    _write(server, "/app/a", "1")
    options = _options(server, dial_timeout_s=0.5, timeout_s=1.0)
    run(lambda: survives_a_restart(ZookeeperBackend(options), "/app/", server, partial(_write, server)))


def test_a_lost_session_is_survived(zookeeper_session: ZookeeperServer, zk: KazooClient, ns: str) -> None:
    """The session closed under the backend (by a second client taking it over and closing it): its
    watches are gone; the cache reports the trouble, the backend gets a new session and arms them again."""
    _tree(zk, {f"{ns}/app/a": "1"})

    async def body() -> None:
        backend = ZookeeperBackend(_options(zookeeper_session, dial_timeout_s=0.5, timeout_s=1.0))
        follower = Follower(PrefixCache(backend, [f"{ns}/app/"], FAST, rng=random.Random(7)))
        try:
            assert dict((await follower.update()).view) == {f"{ns}/app/a": "1"}
            session = backend._client.client_id
            await asyncio.to_thread(_close_session, zookeeper_session, session)
            trouble = await follower.trouble()
            assert isinstance(trouble.error, ClientError), trouble
            await follower.until(lambda e: isinstance(e, CacheRecovered), DEADLINE_S)
            assert backend._client.client_id[0] != session[0]  # a new session
            await asyncio.to_thread(zk.set, f"{ns}/app/a", b"2")
            await follower.until(lambda e: dict(getattr(e, "view", {})) == {f"{ns}/app/a": "2"})
        finally:
            await follower.stop()
            await backend.close()

    run(body)


def _close_session(server: ZookeeperServer, session: tuple[int, bytes]) -> None:
    thief = KazooClient(hosts=server.node, client_id=session)
    thief.start(timeout=30)
    thief.stop()
    thief.close()


def _write(server: ZookeeperServer, path: str, value: str) -> None:
    with server.client() as zk:
        _tree(zk, {path: value})
