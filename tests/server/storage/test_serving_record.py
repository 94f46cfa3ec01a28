"""The serving record: a running member says in its data directory where a client on this host reaches it."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

from confagent.errors import DataDirInUse, StorageError
from confagent.server import StoreServer, read_serving_record
from confagent.server.storage import serving_record_path, write_serving_record
from confagent.server.storage._serving import dialable
from confagent.settings import StoreConfig
from confagent.testing import free_port


@pytest.mark.parametrize(("url", "expected"), [
    ("http://0.0.0.0:2379", "http://127.0.0.1:2379"),
    ("https://[::]:2379", "https://[::1]:2379"),
    ("http://10.0.0.1:2379", "http://10.0.0.1:2379"),
    ("http://localhost:2379", "http://localhost:2379"),
])
def test_a_wildcard_host_is_dialled_on_loopback(url: str, expected: str) -> None:
    assert dialable(url) == expected


def test_written_while_serving_and_removed_on_stop(tmp_path: Path) -> None:
    port = free_port()
    config = StoreConfig(data_dir=tmp_path, listen_client_urls=(f"http://0.0.0.0:{port}",),
                         listen_peer_urls=())

    async def body() -> None:
        server = StoreServer(config)
        await server.start()
        try:
            record = read_serving_record(tmp_path)
            assert record is not None
            assert (record.pid, record.member_id, record.client_urls) == (
                os.getpid(), server.info.member_id, (f"http://127.0.0.1:{port}",))
            assert record.written_by_a_live_process()
            with pytest.raises(DataDirInUse, match="is in use by another process"):
                await StoreServer(config).start()
        finally:
            await server.stop()
        assert read_serving_record(tmp_path) is None

    asyncio.run(asyncio.wait_for(body(), 30))


def test_a_member_without_client_urls_says_so(tmp_path: Path) -> None:
    async def body() -> None:
        server = StoreServer(StoreConfig(data_dir=tmp_path, listen_client_urls=(), listen_peer_urls=()))
        await server.start()
        try:
            record = read_serving_record(tmp_path)
            assert record is not None and record.client_urls == ()
        finally:
            await server.stop()

    asyncio.run(asyncio.wait_for(body(), 30))


def test_a_record_left_by_a_dead_process_is_not_believed(tmp_path: Path) -> None:
    (tmp_path / "member").mkdir()
    write_serving_record(tmp_path, 1, 2, ["http://127.0.0.1:2379"])
    path = serving_record_path(tmp_path)
    path.write_text(path.read_text().replace(f'"pid":{os.getpid()}', '"pid":999999999'))
    record = read_serving_record(tmp_path)
    assert record is not None and record.pid == 999999999 and not record.written_by_a_live_process()
    path.write_text("{not json")
    with pytest.raises(StorageError, match=f"{path}: not a serving record"):
        read_serving_record(tmp_path)
