"""Choosing a backend by name: ``BackendConfig`` (confd's option names) and ``open_backend``.

=========  ===============================================  ==============================
name       reads                                            options used
=========  ===============================================  ==============================
embedded   a store in this process (the default), alone     data_dir, listen_client_urls,
           or a member of a cluster                         member
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

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from confagent.backends._base import Backend
from confagent.backends._env import EnvBackend
from confagent.errors import ConfigError

if TYPE_CHECKING:
    from confagent.client import ClientConfig

__all__ = ["BACKENDS", "DEFAULT_ETCD_NODE", "BackendConfig", "EmbeddedMember", "open_backend"]

DEFAULT_ETCD_NODE = "http://127.0.0.1:2379"
"""etcd's client port (confd still defaults to the v2 port 4001)."""


@dataclass(frozen=True, slots=True)
class EmbeddedMember:
    """The embedded store's place in a cluster, as etcd's flags of the same names set it.

    The default is a lone member. With ``initial_cluster`` naming peers the
    store is one member of a Raft cluster, and the backend renders from its
    local replica once a ReadIndex round says it is caught up. The embedded
    backend turns these into a ``confagent.server.StoreConfig``, which checks them.
    """

    name: str = "default"
    """This member's name in ``initial_cluster``."""
    listen_peer_urls: tuple[str, ...] = ()
    """Where other members reach this one; required in a cluster."""
    initial_advertise_peer_urls: tuple[str, ...] = ()
    """This member's peer URLs as the others dial them (default: ``listen_peer_urls``)."""
    initial_cluster: str = ""
    """Every member at bootstrap, ``NAME=PEER_URL,...``; empty: a lone member."""
    initial_cluster_state: str = "new"
    """``new`` bootstraps the cluster; ``existing`` joins one after ``confagent member add``."""
    initial_cluster_token: str = "etcd-cluster"
    """Mixed into member and cluster IDs, so two clusters with the same URLs differ."""
    advertise_client_urls: tuple[str, ...] = ()
    """The client URLs the cluster lists for this member (default: the client listener's)."""


@dataclass(frozen=True, slots=True)
class BackendConfig:
    """What ``open_backend`` needs; each backend reads only its own options (module table).

    Attributes:
        backend: the backend's name.
        nodes: etcd endpoints (``http(s)://host:port``), tried in order with failover.
        client_cert, client_key, client_cakeys: TLS client certificate, its key, the CA bundle.
        dial_timeout_s, command_timeout_s: per attempt on one etcd endpoint.
        data_dir: the embedded store's data directory.
        listen_client_urls: where the embedded store also serves the etcd API (none: in-process only).
        member: the embedded store's cluster (the default: a lone member).
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
    data_dir: Path | None = None
    listen_client_urls: tuple[str, ...] = ()
    member: EmbeddedMember = field(default_factory=EmbeddedMember)
    files: tuple[Path, ...] = ()
    file_filter: str = "*"
    environ: Mapping[str, str] | None = None

    def validate(self) -> None:
        """Raises ConfigError naming the option that is wrong."""
        if self.backend not in BACKENDS:
            raise ConfigError(f"backend: unknown backend {self.backend!r} "
                              f"(one of {', '.join(sorted(BACKENDS))})")
        if self.backend == "embedded" and self.data_dir is None:
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

    assert config.data_dir is not None, "validated"
    return await EmbeddedBackend.start_member(config.data_dir, config.listen_client_urls, config.member)


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
