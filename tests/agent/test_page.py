"""The status page's routes without a browser: assets and their headers, the document and its masking,
the event stream's framing and records, and that nothing is computed while no page is open."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import orjson

from confagent.agent import AgentListener, Outcome, StatusApp, StatusBoard
from confagent.agent._fleet import FLEET_PREFIX, Summary
from confagent.agent._page import ASSETS, SECURITY_HEADERS, StatusPage, sse_event
from confagent.history import MASK
from confagent.render import KeyView, Reads
from confagent.settings import HistoryConfig
from confagent.testing import Keys, free_port, until_async
from tests.agent.support import DEADLINE_S, make_agent, resource_toml, run, seed_store, write_confdir
from tests.agent.test_listener import running_agent

_KEYS = {"/app/url": "db1:5432", "/app/db_password": "hunter2", "/app/api_token": "t0k", "/other/x": "1"}


def _board(revision: int = 5) -> StatusBoard:
    board = StatusBoard()
    board.set_resources([("a.toml", "/etc/a")])
    board.saw_revision(revision)
    _render(board, revision, _KEYS)
    return board


def _render(board: StatusBoard, revision: int, keys: dict[str, str]) -> None:
    view = KeyView(sorted(keys.items()), revision)
    reads = Reads(keys=frozenset({"/other/x"}), prefixes=("/app/",))
    board.record([Outcome("a.toml", "/etc/a", revision, changed=True, duration_ms=1.0, reads=reads)], view)


@asynccontextmanager
async def _listening(app: StatusApp) -> AsyncIterator[httpx.AsyncClient]:
    listener = AgentListener(app, "127.0.0.1", 0)
    await listener.start()
    try:
        async with httpx.AsyncClient(base_url=listener.url, timeout=DEADLINE_S) as http:
            yield http
    finally:
        await listener.stop()


def test_the_page_and_its_assets_carry_the_security_headers() -> None:
    async def body() -> None:
        async with _listening(StatusApp(_board())) as http:
            for path, (_name, content_type) in ASSETS.items():
                answer = await http.get(path)
                assert answer.status_code == 200 and answer.headers["content-type"] == content_type
                for name, value in SECURITY_HEADERS:
                    assert answer.headers[name.decode()] == value.decode(), (path, name)
                assert (await http.head(path)).content == b""
                assert (await http.post(path)).status_code == 405
            csp = (await http.get("/")).headers["content-security-policy"]
            assert "frame-ancestors 'none'" in csp and "script-src 'self'" in csp and "unsafe" not in csp
            events = await http.head("/v1/events")  # answered at once, no stream
            assert events.status_code == 200 and events.content == b""
            assert (await http.post("/v1/events")).status_code == 405
            document = await http.get("/v1/page")
            assert document.headers["x-frame-options"] == "DENY" and document.json()["resources"]

    run(body)


def test_the_page_has_no_inline_script_and_loads_nothing_from_elsewhere() -> None:
    async def body() -> None:
        async with _listening(StatusApp(StatusBoard())) as http:
            html = (await http.get("/")).text
            scripts = re.findall(r"<script\b[^>]*>(.*?)</script>", html, re.S)
            assert scripts == [""]  # one script, from its own file
            assert not re.search(r"\son[a-z]+=|\sstyle=|<style", html)
            for path in ASSETS:
                text = (await http.get(path)).text
                assert "://" not in text, path  # every URL is the listener's own
            assert 'name="viewport"' in html and "@media (max-width" in (await http.get("/page.css")).text

    run(body)


def test_the_document_shows_each_resources_keys_masking_secret_ones() -> None:
    board = _board()
    document = StatusPage(board).document()
    (resource,) = document["resources"]  # type: ignore[misc]
    assert resource["keys"] == [{"key": "/app/api_token", "value": MASK},
                                {"key": "/app/db_password", "value": MASK},
                                {"key": "/app/url", "value": "db1:5432"}, {"key": "/other/x", "value": "1"}]
    assert resource["prefixes"] == ["/app/"] and resource["keys_more"] == 0
    assert document["backend_reachable"] is True and document["revision_lag"] == 0
    assert document["membership"] is None and document["health"] is True
    custom = StatusPage(board, HistoryConfig(secret_keys="*url*")).document()
    assert {k["key"]: k["value"] for k in custom["resources"][0]["keys"]}["/app/url"] == MASK  # type: ignore[index]
    shown = StatusPage(board, show_secrets=True).document()
    assert {"key": "/app/db_password", "value": "hunter2"} in shown["resources"][0]["keys"]  # type: ignore[index]
    board.backend_failed("connection refused")
    troubled = StatusPage(board).document()
    assert troubled["backend_reachable"] is False and troubled["backend_trouble"] == "connection refused"


def test_an_event_is_one_line_of_json_whatever_the_values_hold() -> None:
    framed = sse_event("status", {"value": "two\nlines\r\n", "x": 1})
    name, data, end = framed.split(b"\n", 2)
    assert name == b"event: status" and data.startswith(b"data: ") and end == b"\n"
    assert orjson.loads(data[len(b"data: "):]) == {"value": "two\nlines\r\n", "x": 1}


async def _next_event(lines: AsyncIterator[str]) -> tuple[str, dict[str, object]]:
    name = ""
    async for line in lines:
        if line.startswith("event: "):
            name = line[len("event: "):]
        elif line.startswith("data: "):
            return name, orjson.loads(line[len("data: "):])
    raise AssertionError("the stream ended")


def test_the_stream_sends_the_status_then_each_change_and_nothing_without_a_page() -> None:
    board = _board()
    app = StatusApp(board)

    async def body() -> None:
        for revision in (6, 7):  # no page open: no watcher woken, no document built
            board.saw_revision(revision)
            _render(board, revision, _KEYS | {"/app/url": f"db{revision}"})
        assert (board.wakes, app.page.documents_built) == (0, 0)
        async with _listening(app) as http, http.stream("GET", "/v1/events") as events:
            assert events.headers["content-type"] == "text/event-stream; charset=utf-8"
            assert events.headers["content-security-policy"].startswith("default-src 'none'")
            lines = events.aiter_lines()
            assert await anext(lines) == "retry: 2000"
            name, first = await _next_event(lines)
            assert name == "status" and first["rendered_revision"] == 7
            _render(board, 8, _KEYS | {"/app/url": "db8"})
            name, second = await _next_event(lines)
            keys = {k["key"]: k["value"] for k in second["resources"][0]["keys"]}  # type: ignore[index]
            assert name == "status" and second["rendered_revision"] == 8 and keys["/app/url"] == "db8"
            assert keys["/app/db_password"] == MASK and board.wakes >= 1
        await until_async(lambda: board.watchers == 0, "the server to see the page go")
        wakes, built = board.wakes, app.page.documents_built
        _render(board, 9, _KEYS)
        board.saw_revision(9)
        assert (board.wakes, app.page.documents_built) == (wakes, built)  # the page closed: nothing again

    run(body)


def test_a_running_agent_shows_its_membership_and_secrets_only_when_set_to(
        tmp_path: Path, subprocesses: None) -> None:
    out = tmp_path / "a.out"
    write_confdir(tmp_path, {"a.toml": resource_toml("a.tmpl", out, '["/app"]')},
                  {"a.tmpl": 'url={{ getv("/app/url") }} {{ getv("/app/db_password") }}\n'})
    seed_store(tmp_path / "data", {"/app/url": "db1", "/app/db_password": "hunter2"})

    async def page_of(**overrides: object) -> dict[str, object]:
        port = free_port()
        agent, _out = make_agent(tmp_path, tmp_path / "data", **{"agent.listen": f"127.0.0.1:{port}"},
                                 **overrides)
        async with running_agent(agent), httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
            await until_async(lambda: agent.status.fully_rendered, "the first render")
            document: dict[str, object] = (await http.get("/v1/page")).json()
            return document

    async def body() -> None:
        masked = await page_of()
        keys = {k["key"]: k["value"] for k in masked["resources"][0]["keys"]}  # type: ignore[index]
        assert keys == {"/app/db_password": MASK, "/app/url": "db1"}
        membership = masked["membership"]
        assert isinstance(membership, dict) and membership["is_leader"] is True
        assert [member["name"] for member in membership["members"]] == ["default"]
        assert isinstance(masked["next_full_pass"], float)  # when a failed resource is tried again
        shown = await page_of(**{"agent.page_show_secrets": True})
        assert {"key": "/app/db_password", "value": "hunter2"} in shown["resources"][0]["keys"]  # type: ignore[index]
        assert shown["secrets_shown"] is True

    run(body)


def test_the_stream_sends_every_record_with_its_diff_as_puts_are_rendered(
        tmp_path: Path, subprocesses: None) -> None:
    out = tmp_path / "a.out"
    write_confdir(tmp_path, {"a.toml": resource_toml("a.tmpl", out, '["/app"]')},
                  {"a.tmpl": 'url={{ getv("/app/url") }}\n'})
    seed_store(tmp_path / "data", {"/app/url": "db0"})
    port, client_url = free_port(), f"http://127.0.0.1:{free_port()}"
    agent, _out = make_agent(tmp_path, tmp_path / "data", **{"agent.listen": f"127.0.0.1:{port}",
                                                             "store.listen_client_urls": [client_url]})

    async def body() -> None:
        async with running_agent(agent), httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}",
                                                           timeout=DEADLINE_S) as http:
            await until_async(lambda: agent.status.fully_rendered and agent.status.history is not None
                              and agent.status.history.recorded == 1, "the first render recorded")
            keys = Keys(client_url)
            async with http.stream("GET", "/v1/events") as events:
                lines = events.aiter_lines()
                assert (await _next_event(lines))[0] == "status"
                records = []
                for value in ("db1", "db2", "db3"):  # each record once, none held back by the one before
                    await asyncio.to_thread(keys.put, "/app/url", value)
                    while True:
                        name, event = await _next_event(lines)
                        if name == "record":
                            records.append(event)
                            break
                    assert f"+url={value}" in str(event["diff"])
            keys.close()
        assert [record["id"] for record in records] == [2, 3, 4]

    run(body)


def test_the_fleet_section_lists_every_host_live_and_marks_the_ones_behind() -> None:
    board = _board()
    app = StatusApp(board)
    assert app.page.document()["fleet"] is None  # the agent publishes nothing: no section

    def summary(host: str, revision: int, failing: tuple[tuple[str, str], ...] = ()) -> tuple[bytes, bytes]:
        value = Summary(host, revision, failing, view=f"v{revision}").encode(0.0)
        return (FLEET_PREFIX + host).encode(), value

    async def body() -> None:
        board.fleet_changed(dict([summary("a", 5), summary("b", 4)]))
        async with _listening(app) as http, http.stream("GET", "/v1/events") as events:
            lines = events.aiter_lines()
            assert await anext(lines) == "retry: 2000"
            _, first = await _next_event(lines)
            assert [(h["host"], h["revision"], h["behind"]) for h in first["fleet"]] == [  # type: ignore[index]
                ("a", 5, False), ("b", 4, True)]
            failing = (("app.toml", "check_cmd exited 1"),)
            board.fleet_changed(dict([summary("a", 5), summary("b", 5, failing)]))
            _, second = await _next_event(lines)
            hosts = {h["host"]: h for h in second["fleet"]}  # type: ignore[index, union-attr]
            assert not hosts["b"]["behind"] and hosts["b"]["failing"] == [
                {"resource": "app.toml", "error": "check_cmd exited 1"}]

    run(body)
