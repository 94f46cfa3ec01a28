"""Choosing a backend by name: ``BackendConfig`` (confd's option names) and ``open_backend``.

=========  ===============================================  ==============================
name       reads                                            options used
=========  ===============================================  ==============================
embedded   a store in this process (the default), alone     store (a ``StoreConfig``: its
           or a member of a cluster                         data_dir, its cluster)
etcd       an etcd v3 cluster or confagent store nodes      nodes, client_cert, client_key,
                                                            client_cakeys, timeouts
file       YAML/JSON files and directories                  files, file_filter
env        environment variables                            environ
metad      a metadata service's data port (``/self/...``)   nodes, command_timeout_s
=========  ===============================================  ==============================

Each opener imports its backend's module when called (``env``'s is light), so
a process pays for the libraries of the one backend it opens (the store's
uvicorn, the etcd client's httpx, the file backend's PyYAML and watchfiles),
not for all of them.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from confagent.backends._base import Backend
from confagent.backends._env import EnvBackend
from confagent.errors import ConfigError
from confagent.settings import StoreConfig

if TYPE_CHECKING:
    from confagent.client import ClientConfig

__all__ = ["BACKENDS", "DEFAULT_ETCD_NODE", "EMBEDDED_STORE", "BackendConfig", "embedded_store",
           "open_backend"]

DEFAULT_ETCD_NODE = "http://127.0.0.1:2379"
"""etcd's client port (confd still defaults to the v2 port 4001)."""
EMBEDDED_STORE = StoreConfig(listen_client_urls=(), listen_peer_urls=())
"""The embedded store's settings unless configured: a lone member serving no client URL and listening
for no peer (it advertises etcd's default peer URL, from which its ID derives); no data directory."""


def embedded_store(data_dir: Path | None, listen_client_urls: Sequence[str] = (),
                   **settings: Any) -> StoreConfig:
    """``EMBEDDED_STORE`` in ``data_dir``, serving ``listen_client_urls``, with other ``settings`` given."""
    urls = tuple(listen_client_urls)
    return replace(EMBEDDED_STORE, data_dir=data_dir, listen_client_urls=urls, **settings)


@dataclass(frozen=True, slots=True)
class BackendConfig:
    """What ``open_backend`` needs; each backend reads only its own options (module table).

    Attributes:
        backend: the backend's name.
        nodes: etcd endpoints (``http(s)://host:port``), tried in order with failover.
        client_cert, client_key, client_cakeys: TLS client certificate, its key, the CA bundle.
        dial_timeout_s, command_timeout_s: per attempt on one etcd endpoint.
        store: the embedded store's settings (``EMBEDDED_STORE`` unless given; ``data_dir`` is required).
        files: the file backend's files and directories.
        file_filter: which names in those directories are read (confd's ``-filter``).
        environ: the env backend's variables (None: the process environment).
    """

    backend: str = "embedded"
    nodes: tuple[str, ...] = ()
    client_cert: Path | None = None
    client_key: Path | None = None
    client_cakeys: Path | None = None
    dial_timeout_s: float = 2.0
    command_timeout_s: float = 5.0
    store: StoreConfig = EMBEDDED_STORE
    files: tuple[Path, ...] = ()
    file_filter: str = "*"
    environ: Mapping[str, str] | None = None

    def validate(self) -> None:
        """Raises ConfigError naming the option that is wrong."""
        if self.backend not in BACKENDS:
            raise ConfigError(f"backend: unknown backend {self.backend!r} "
                              f"(one of {', '.join(sorted(BACKENDS))})")
        if self.backend == "embedded" and self.store.data_dir is None:
            raise ConfigError("data_dir: the embedded backend needs a data directory")
        if self.backend == "file" and not self.files:
            raise ConfigError("file: the file backend needs at least one file or directory")
        if self.client_key is not None and self.client_cert is None:
            raise ConfigError("client_key: given without client_cert")
        for option, path in (("client_cert", self.client_cert), ("client_key", self.client_key),
                             ("client_cakeys", self.client_cakeys)):
            if path is not None and not path.is_file():
                raise ConfigError(f"{option}: no such file: {path}")
        for node in self.nodes:
            if not node.startswith(("http://", "https://")):
                raise ConfigError(f"node: {node!r} is not an http:// or https:// URL")

    def client_config(self) -> ClientConfig:
        """The etcd client settings these options give."""
        from confagent.client import ClientConfig, ClientTls  # noqa: PLC0415 - httpx on use (module doc)

        tls = None
        if self.client_cert or self.client_cakeys:
            tls = ClientTls(ca_file=self.client_cakeys, cert_file=self.client_cert,
                            key_file=self.client_key)
        return ClientConfig(endpoints=self.nodes or (DEFAULT_ETCD_NODE,),
                            dial_timeout_s=self.dial_timeout_s,
                            command_timeout_s=self.command_timeout_s, tls=tls)


async def _open_embedded(config: BackendConfig) -> Backend:
    from confagent.backends._embedded import EmbeddedBackend  # noqa: PLC0415 - on use (module doc)

    return await EmbeddedBackend.start_member(config.store)


async def _open_etcd(config: BackendConfig) -> Backend:
    from confagent.backends._etcd import EtcdBackend  # noqa: PLC0415 - on use (module doc)

    return EtcdBackend.connect(config.client_config())


async def _open_file(config: BackendConfig) -> Backend:
    from confagent.backends._file import FileBackend  # noqa: PLC0415 - on use (module doc)

    return FileBackend(config.files, name_filter=config.file_filter)


async def _open_env(config: BackendConfig) -> Backend:
    return EnvBackend(config.environ)


async def _open_metad(config: BackendConfig) -> Backend:
    from confagent.backends._metad import MetadBackend  # noqa: PLC0415 - on use (module doc)

    return MetadBackend(config.nodes, timeout_s=config.command_timeout_s)


BACKENDS: Mapping[str, Callable[[BackendConfig], Awaitable[Backend]]] = {
    "embedded": _open_embedded,
    "etcd": _open_etcd,
    "file": _open_file,
    "env": _open_env,
    "metad": _open_metad,
}
"""Backend name -> how to open it."""


async def open_backend(config: BackendConfig) -> Backend:
    """The backend ``config.backend`` names, opened (the embedded store is started).

    Raises:
        ConfigError: a bad option (names it), or the embedded store's listen URL is unusable.
        StorageError: the embedded store's data directory cannot be used.
    """
    config.validate()
    return await BACKENDS[config.backend](config)
