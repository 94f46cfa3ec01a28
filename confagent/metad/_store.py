"""The store under the service: a backend to read and watch (the agent's own), and a writer for it.

``open_store`` gives the ``embedded`` store (in this process, written through
its node) or an ``etcd`` cluster (written through the same ``EtcdClient`` the
``EtcdBackend`` watches with). Nothing here is specific to metad but the
``StoreWriter`` answer: the revision a write can be seen at, or 0 when it
changed nothing (so the service does not wait for a change that never comes).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from confagent.backends import Backend, BackendConfig
from confagent.errors import ConfigError
from confagent.kv import DeleteRangeResponse, TxnRequest

if TYPE_CHECKING:
    from confagent.backends import EmbeddedBackend
    from confagent.client import EtcdClient

__all__ = ["StoreWriter", "open_store"]


class StoreWriter(Protocol):
    async def apply(self, txn: TxnRequest) -> int:
        """Apply ``txn``; the revision it was applied at, or 0 when it changed no key.

        Raises:
            StoreError: the store refused the txn.
            ClientError: no endpoint answered (``AmbiguousWrite``: the outcome is unknown).
        """
        ...


class _EmbeddedWriter:
    def __init__(self, backend: EmbeddedBackend) -> None:
        self._backend = backend

    async def apply(self, txn: TxnRequest) -> int:
        applied = await self._backend.node.propose(txn)
        return applied.revision if applied.events else 0


class _EtcdWriter:
    def __init__(self, client: EtcdClient) -> None:
        self._client = client

    async def apply(self, txn: TxnRequest) -> int:
        reply = await self._client.txn(txn)
        deleted_only = all(isinstance(r, DeleteRangeResponse) for r in reply.response.responses)
        if deleted_only and not any(r.deleted for r in reply.response.responses
                                    if isinstance(r, DeleteRangeResponse)):
            return 0
        return reply.header.revision


async def open_store(config: BackendConfig) -> tuple[Backend, StoreWriter]:
    """The backend ``config`` names (``embedded`` or ``etcd``), started, and its writer.

    Raises:
        ConfigError: another backend is named, or an option is wrong.
        StorageError: the embedded store's data directory cannot be used.
    """
    config.validate()
    if config.backend == "embedded":
        from confagent.backends import EmbeddedBackend  # noqa: PLC0415 - the store's libraries on use

        embedded = await EmbeddedBackend.start_member(config.store)
        return embedded, _EmbeddedWriter(embedded)
    if config.backend == "etcd":
        from confagent.backends import EtcdBackend  # noqa: PLC0415 - httpx on use
        from confagent.client import EtcdClient  # noqa: PLC0415

        client = EtcdClient(config.client_config())
        return EtcdBackend(client), _EtcdWriter(client)
    raise ConfigError(f"metad serves from the embedded store or etcd, not {config.backend!r}",
                      key="--backend")
