"""``open_one_shot_backend`` beside real store members in this process: it reads through the member holding
a cluster member's data directory, and refuses a record that would send it to another store (a lone
member's directory is read without a member: tests/e2e/test_agent_beside_running.py)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import structlog

from confagent.agent._one_shot_backend import open_one_shot_backend
from confagent.backends import BackendConfig, EmbeddedBackend, embedded_store
from confagent.errors import DataDirInUse
from confagent.server.storage import serving_record_path
from confagent.settings import StoreConfig
from confagent.testing import free_port
from tests.agent.support import run, write

LOG = structlog.get_logger("test")


def member_store(data_dir: Path) -> StoreConfig:
    """The one-shot's settings for ``data_dir`` as a member of a cluster of two: a lone member's directory
    is read without a member (``_one_shot_backend`` rule 6), a cluster member's is opened as rules 1-3
    say, which these tests are about."""
    peers = {name: f"http://127.0.0.1:{free_port()}" for name in ("default", "other")}
    return embedded_store(data_dir, initial_cluster=",".join(f"{n}={u}" for n, u in peers.items()),
                          initial_advertise_peer_urls=(peers["default"],),
                          listen_peer_urls=(peers["default"],))


def test_reads_through_the_member_holding_the_data_directory(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}"

    async def body() -> None:
        holder = await EmbeddedBackend.start(tmp_path, listen_client_urls=[url])
        try:
            await write(holder, {"/app/v": "1"})
            backend = await open_one_shot_backend(BackendConfig(store=member_store(tmp_path)), LOG)
            try:
                assert backend.name == "etcd"
                snapshot = await backend.snapshot(["/app"])
                assert dict(snapshot.entries) == {"/app/v": "1"}
            finally:
                await backend.close()
        finally:
            await holder.close()

    run(body)


def test_a_record_naming_another_store_is_refused(tmp_path: Path) -> None:
    other_url = f"http://127.0.0.1:{free_port()}"

    async def body() -> None:
        holder = await EmbeddedBackend.start(tmp_path / "held")
        other = await EmbeddedBackend.start_member(embedded_store(tmp_path / "other", [other_url],
                                                                  initial_cluster_token="other"))
        try:
            record = serving_record_path(tmp_path / "held")
            text = record.read_text()
            record.write_text(text.replace('"client_urls":[]', f'"client_urls":["{other_url}"]'))
            with pytest.raises(DataDirInUse, match=f"{other_url} answers as member [0-9a-f]+, not as"):
                await open_one_shot_backend(BackendConfig(store=member_store(tmp_path / "held")), LOG)
            record.write_text(record.read_text().replace(f'"pid":{os.getpid()}', '"pid":999999999'))
            unsaid = r"by another process, which has not said where it serves clients \(.*serving.json is"
            with pytest.raises(DataDirInUse, match=unsaid):
                await open_one_shot_backend(BackendConfig(store=member_store(tmp_path / "held")), LOG)
        finally:
            await other.close()
            await holder.close()

    run(body)
