"""The agent's durable cache file (``confagent.agent._saved_view``): its round trip, mode, refusals and
the debounced saver; the status board's stale state."""

from __future__ import annotations

import asyncio
import stat
from pathlib import Path

import pytest
import structlog

from confagent.agent import Outcome, StatusBoard
from confagent.agent._saved_view import (
    SAVED_VIEW_FILE,
    SavedView,
    ViewSaver,
    check_saved_view,
    load_saved_view,
    save_view,
)
from confagent.errors import StorageError
from confagent.render import KeyView
from confagent.testing import free_port, until_async
from tests.agent.support import DEADLINE_S, make_agent, resource_toml, run, write_confdir

CLUSTER = 0xCDF818194E3A8C32


def _saved(revision: int = 7, **entries: str) -> SavedView:
    view = KeyView({f"/app/{k}": v for k, v in (entries or {"a": "1", "é": "ü"}).items()}, revision)
    return SavedView(view, CLUSTER, "etcd", ("http://127.0.0.1:2379",), ("/app",), 1700000000.0)


def _check(path: Path, saved: SavedView, *, backend: str = "etcd",
           nodes: tuple[str, ...] = ("http://127.0.0.1:2379",), cluster_id: int | None = None,
           prefixes: tuple[str, ...] = ("/app",)) -> None:
    check_saved_view(path, saved, backend=backend, nodes=nodes, cluster_id=cluster_id, prefixes=prefixes)


def test_a_saved_view_reads_back_whole_with_mode_0600(tmp_path: Path) -> None:
    path = tmp_path / "state" / SAVED_VIEW_FILE  # the directory is made
    save_view(path, _saved())
    loaded = load_saved_view(path)
    assert loaded == _saved()
    assert loaded is not None and loaded.revision == 7 and dict(loaded.view) == {"/app/a": "1", "/app/é": "ü"}
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [p.name for p in path.parent.iterdir()] == [SAVED_VIEW_FILE]  # no stage file left
    assert load_saved_view(tmp_path / "none") is None


@pytest.mark.parametrize("damage", ["truncated", "flipped", "no body", "header", "format"])
def test_a_damaged_file_is_refused_naming_it(tmp_path: Path, damage: str) -> None:
    path = tmp_path / SAVED_VIEW_FILE
    save_view(path, _saved())
    data = path.read_bytes()
    head, _, body = data.partition(b"\n")
    damaged = {"truncated": data[:-5], "flipped": head + b"\n" + body.replace(b'"1"', b'"2"'),
               "no body": head, "header": b"{not json\n" + body,
               "format": head.replace(b'"format":1', b'"format":2') + b"\n" + body}[damage]
    path.write_bytes(damaged)
    with pytest.raises(StorageError, match=str(path)) as error:
        load_saved_view(path)
    assert "refused" in str(error.value)
    if damage in ("truncated", "flipped", "no body"):
        assert "truncated or corrupt" in str(error.value)
    if damage == "format":
        assert "format 2" in str(error.value)


def test_a_cache_that_does_not_fit_the_agent_is_refused(tmp_path: Path) -> None:
    path, saved = tmp_path / SAVED_VIEW_FILE, _saved()
    _check(path, saved)
    _check(path, saved, cluster_id=CLUSTER, nodes=("http://127.0.0.1:2379", "http://127.0.0.1:3379"))
    _check(path, saved, prefixes=("/app/web",))  # under a saved prefix
    with pytest.raises(StorageError, match="from cluster cdf818194e3a8c32, this member belongs to "
                                           "cluster 1f"):
        _check(path, saved, cluster_id=0x1F)
    with pytest.raises(StorageError, match="from the etcd backend, the agent runs embedded"):
        _check(path, saved, backend="embedded")
    with pytest.raises(StorageError, match="none of which is configured"):
        _check(path, saved, nodes=("http://10.0.0.1:2379",))
    with pytest.raises(StorageError, match="holds no keys under /other"):
        _check(path, saved, prefixes=("/app", "/other"))


def test_the_saver_writes_the_newest_view_at_most_once_per_period(tmp_path: Path) -> None:
    path = tmp_path / SAVED_VIEW_FILE
    writes: list[int] = []

    async def scenario() -> None:
        saver = ViewSaver(path, structlog.get_logger(), every_s=3600.0)
        saver.offer(_saved(1))
        for _ in range(1000):  # a bounded wait: the first write is due at once
            if path.exists():
                break
            await asyncio.sleep(0.01)
        writes.append(_revision(path))
        saver.offer(_saved(2))
        saver.offer(_saved(3))  # within the period: only the newest is written, on flush
        writes.append(_revision(path))
        await saver.flush()
        writes.append(_revision(path))
        saver.offer(_saved(3))  # not newer: nothing to do
        await saver.flush()

    asyncio.run(scenario())
    assert writes == [1, 1, 3]


def _revision(path: Path) -> int:
    loaded = load_saved_view(path)
    assert loaded is not None
    return loaded.revision


def test_the_board_says_stale_since_the_caches_revision_until_the_backend_answers() -> None:
    board = StatusBoard(wall_clock=lambda: 1700000000.0)
    board.set_resources([("a", "/etc/a")])
    board.backend_failed("connection refused")
    board.rendering_from_cache(41)
    board.record([Outcome("a", "/etc/a", 41, changed=False, duration_ms=1.0)])
    document = board.as_json()
    assert document["stale"] is True and document["stale_since_revision"] == 41
    assert document["cache_revision"] == 41
    assert board.health().reason == ("backend not connected: connection refused; "
                                     "stale: rendering from the agent's cache at revision 41")
    board.backend_recovered()  # the listener's probe had an answer: the daemon's view is still the cache
    assert board.health().reason == "stale: rendering from the agent's cache at revision 41"
    board.saw_revision(45)
    assert board.health().ok
    document = board.as_json()
    assert document["stale"] is False and document["stale_since_revision"] is None


@pytest.mark.parametrize("watch", [True, False], ids=["watch", "interval"])
def test_the_daemon_renders_from_the_cache_while_etcd_does_not_answer(
        tmp_path: Path, watch: bool, subprocesses: None) -> None:
    """In this process: an etcd backend whose node refuses connections (nothing listens on its port)."""
    url = f"http://127.0.0.1:{free_port()}"
    dest = tmp_path / "app.conf"
    write_confdir(tmp_path, {"app.toml": resource_toml("app.tmpl", dest, '["/app"]')},
                  {"app.tmpl": 'v={{ getv("/app/v") }}\n'})
    view = KeyView({"/app/v": "cached"}, 9)
    save_view(tmp_path / "data" / SAVED_VIEW_FILE, SavedView(view, CLUSTER, "etcd", (url,), ("/app",)))
    agent, _ = make_agent(tmp_path, tmp_path / "data", backend="etcd", nodes=(url,), watch=watch,
                          interval="0.05")

    async def body() -> dict[str, object]:
        task = asyncio.create_task(agent.run())
        try:
            await until_async(lambda: dest.exists() and agent.status.fully_rendered,
                              "the render from the cache")
            return agent.status.as_json()
        finally:
            agent.stop()
            await asyncio.wait_for(task, DEADLINE_S)

    document = run(body)
    assert dest.read_text() == "v=cached\n"
    assert document["stale"] is True and document["stale_since_revision"] == 9
    saved = load_saved_view(tmp_path / "data" / SAVED_VIEW_FILE)
    assert saved is not None and saved.revision == 9  # the cache's own view is never saved again


def test_a_render_from_the_cache_writes_missing_files_and_never_takes_one_back(
        tmp_path: Path, subprocesses: None) -> None:
    """The cache's last save can trail the last render (SIGKILL within its second): a file that exists
    and differs may be newer than the cache, and is held as it is; a missing one is written."""
    url = f"http://127.0.0.1:{free_port()}"
    kept, missing = tmp_path / "kept.conf", tmp_path / "missing.conf"
    write_confdir(tmp_path, {"kept.toml": resource_toml("app.tmpl", kept, '["/app"]'),
                             "missing.toml": resource_toml("app.tmpl", missing, '["/app"]')},
                  {"app.tmpl": 'v={{ getv("/app/v", "unset") }}\n'})
    kept.write_text("v=newer\n")  # rendered from a revision after the cache's
    save_view(tmp_path / "data" / SAVED_VIEW_FILE,
              SavedView(KeyView({}, 3), CLUSTER, "etcd", (url,), ("/app",)))
    agent, _ = make_agent(tmp_path, tmp_path / "data", backend="etcd", nodes=(url,), interval="0.05")

    async def body() -> None:
        task = asyncio.create_task(agent.run())
        try:
            await until_async(lambda: missing.exists() and agent.status.fully_rendered,
                              "the render from the cache")
        finally:
            agent.stop()
            await asyncio.wait_for(task, DEADLINE_S)

    with structlog.testing.capture_logs() as logs:
        run(body)
    assert (kept.read_text(), missing.read_text()) == ("v=newer\n", "v=unset\n")
    assert {entry["dest"] for entry in logs if entry["event"].startswith("held")} == {str(kept)}
