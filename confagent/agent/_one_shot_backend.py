"""``open_one_shot_backend``: a one-shot pass's backend, read through the running store when another process
holds the embedded store's data directory.

``confagent render --check`` in CI, or ``run --onetime``, on a host where the
agent runs from the same data directory cannot open that directory: the
running member holds its write-ahead log (``DataDirInUse``). Reading through
the running member is what ``--backend etcd --node URL`` would do by hand.

Rules:
1. The backend is opened as configured. Only when the embedded store's data
   directory is held by another process (an agent, or ``confagent store``)
   does the pass read through that process's client URL instead, over the
   etcd API: linearizable reads, so it sees what the running member has
   committed, as the running agent renders it. The daemon never does this:
   two daemons on one data directory is a mistake, reported as such.
2. Where the running member listens comes from the serving record it wrote in
   its data directory (``confagent.server.storage._serving`` says why that source and
   not the configuration's ``[store]`` settings or the member's published
   URLs); the URL must answer as the record's member before it is used.
3. When it cannot be read through (no record from a live process, no client
   URL, no answer, another member answering), ``DataDirInUse`` says exactly
   that, and how to point ``--backend etcd --node`` at the running member.
4. The configuration's client TLS settings (``client_cakeys``,
   ``client_cert``, ``client_key``) serve an ``https`` URL, as for ``etcd``.
5. A pass that needs only the snapshot (no ``reload_lock``, which takes its
   slots through the backend's client) reads an ``etcd`` backend over gRPC
   when ``GrpcSnapshotBackend`` serves its configuration: etcd's gateway
   answers 5-8 times slower, and httpx's stack is not imported.
6. The embedded store of a lone member (``DataDirBackend.serves``) is read from
   its data directory without starting a member (``DataDirBackend``): the same
   keys at the same revision, held by a running member or not (what it sees of
   a running one is what that member made durable: every write it acknowledged).
   A cluster member's directory, or one holding no store yet, is opened as before
   (rules 1-3).
7. A member started for the pass logs through structlog's own loggers, which a
   deferred logging set-up (``confagent.cli._logs`` rule 4) does not reach: the
   pass's logger is bound once before (``log.bind()``), which makes the set-up
   then. Reading the data directory (rule 6) logs only through the pass's logger.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from confagent.backends import Backend, BackendConfig, open_backend
from confagent.errors import ConfagentError, DataDirInUse

if TYPE_CHECKING:
    from structlog.typing import FilteringBoundLogger

__all__ = ["open_one_shot_backend"]

_HOW = ("check against it with --backend etcd --node URL (and --client-cakeys for an https URL), "
        "URL being one of its client URLs")


async def open_one_shot_backend(config: BackendConfig, log: FilteringBoundLogger, *,
                                snapshot_only: bool = False) -> Backend:
    """The backend ``config`` names, or the running store holding its data directory (rule 1); with
    ``snapshot_only``, read over gRPC where it can be (rule 5); a lone member's data directory read
    without a member (rule 6).

    Raises:
        DataDirInUse: the data directory is held, and cannot be read through (rule 3).
        StorageError: the data directory is damaged (names the file).
        ConfagentError: as ``open_backend``.
    """
    if config.backend == "embedded" and config.store.data_dir is not None:
        from confagent.backends import DataDirBackend  # noqa: PLC0415 - the store's storage when used

        if DataDirBackend.serves(config.store):
            read = await DataDirBackend.read(config.store.data_dir)
            if read is not None:
                log.info("read the data directory without a member", data_dir=str(config.store.data_dir),
                         revision=read.view.keys.revision)
                return read
    if snapshot_only and config.backend == "etcd":
        from confagent.backends import GrpcSnapshotBackend  # noqa: PLC0415 - hpack and protobuf when used

        if GrpcSnapshotBackend.serves(config):
            return GrpcSnapshotBackend.for_config(config)
    if config.backend == "embedded":
        log.bind()  # rule 7
    try:
        return await open_backend(config)
    except DataDirInUse:
        data_dir = config.store.data_dir
        if data_dir is None:
            raise
        backend, url, pid = await _through_running_store(config, data_dir)
    log.info("data directory in use: reading through its running store", data_dir=str(data_dir),
             pid=pid, node=url)
    return backend


async def _through_running_store(config: BackendConfig, data_dir: Path) -> tuple[Backend, str, int]:
    """An ``etcd`` backend on the running member's client URL, checked (rules 2-3); with the URL and pid."""
    from confagent.backends import EtcdBackend  # noqa: PLC0415 - httpx only on this path
    from confagent.client import EtcdClient  # noqa: PLC0415 - httpx only on this path
    from confagent.server import read_serving_record, serving_record_path  # noqa: PLC0415 - loaded already

    record = read_serving_record(data_dir)
    if record is None or not record.written_by_a_live_process():
        raise DataDirInUse(f"data_dir: {data_dir} is in use by another process, which has not said where it "
                           f"serves clients ({serving_record_path(data_dir)} is missing or stale); "
                           f"if it is a store with a client URL, {_HOW}")
    if not record.client_urls:
        raise DataDirInUse(
            f"data_dir: {data_dir} is in use by a running store (pid {record.pid}) that serves no client "
            f"URL, so it cannot be read through: give it one ([store] listen_client_urls = "
            f'["http://127.0.0.1:2379"], or --store-listen-client-urls http://127.0.0.1:2379) and '
            f"restart it; then this reads through it, as --backend etcd --node http://127.0.0.1:2379 does")
    failures: list[str] = []
    for url in record.client_urls:
        through = replace(config, backend="etcd", nodes=(url,))
        through.validate()
        client = EtcdClient(through.client_config())
        try:
            answer = await client.status(url)
        except ConfagentError as error:
            failures.append(f"{url}: {error}")
        else:
            if answer.header.member_id == record.member_id:
                return EtcdBackend(client), url, record.pid
            failures.append(f"{url} answers as member {answer.header.member_id:x}, "
                            f"not as {record.member_id:x}")
        await client.aclose()
    raise DataDirInUse(f"data_dir: {data_dir} is in use by a running store (pid {record.pid}) serving "
                       f"{', '.join(record.client_urls)}, which could not be read through "
                       f"({'; '.join(failures)}); {_HOW}")
