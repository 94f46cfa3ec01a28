"""The agent's settings, one frozen dataclass per component, each checked by ``validate()``.

``AgentConfig`` groups them: ``run`` (modes and where resources live),
``backend`` (where keys come from), ``store`` (the embedded store),
``listener`` (``/health`` and ``/metrics``) and ``log``. Field types are
already checked when a config is loaded; ``validate()`` checks what a
component cannot run with, and raises a ``ConfigError`` whose ``key`` is the
field's name in ``confagent.toml`` (the loader adds where the value came from).
``AgentConfig.backend_config()`` gives ``confagent.backends.open_backend`` its options.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from pathlib import Path
from urllib.parse import urlsplit

from confagent.backends import BackendConfig, EmbeddedMember
from confagent.errors import ConfigError
from confagent.resource import Wait

__all__ = [
    "BACKENDS",
    "DEFAULT_CONFDIR",
    "DEFAULT_DATA_DIR",
    "DEFAULT_ETCD_NODES",
    "DEFAULT_INTERVAL_S",
    "DEFAULT_LOG_LEVEL",
    "INITIAL_CLUSTER_STATES",
    "LOG_FORMATS",
    "LOG_LEVELS",
    "LOG_LEVEL_ALIASES",
    "AgentConfig",
    "BackendSettings",
    "ListenerConfig",
    "LogConfig",
    "RunConfig",
    "StoreSettings",
    "log_level_named",
]

BACKENDS = ("embedded", "etcd", "file", "env", "metad")
"""Supported backends; ``etcdv3`` is accepted as confd's other name for ``etcd``."""
DEFAULT_CONFDIR = Path("/etc/confagent")
DEFAULT_DATA_DIR = Path("/var/lib/confagent")
DEFAULT_ETCD_NODES = ("http://127.0.0.1:2379",)
DEFAULT_INTERVAL_S = 600.0
LOG_LEVELS = ("debug", "info", "warning", "error")
"""What ``cli``'s ``configure_logging`` takes, and every command's ``--log-level``; confd's
(logrus) names are read as one of them (``LOG_LEVEL_ALIASES``, ``log_level_named``)."""
LOG_LEVEL_ALIASES = {"trace": "debug", "warn": "warning", "fatal": "error", "panic": "error"}
DEFAULT_LOG_LEVEL = "info"
LOG_FORMATS = ("auto", "console", "json")
INITIAL_CLUSTER_STATES = ("new", "existing")
"""``[store] initial_cluster_state``: etcd's ``--initial-cluster-state`` values."""


def log_level_named(name: str) -> str:
    """``name`` as ``LOG_LEVELS`` spells it: case and spaces ignored, confd's names mapped; a
    name that is no level comes back lower-cased, for the caller to refuse."""
    value = name.strip().lower()
    return LOG_LEVEL_ALIASES.get(value, value)


@dataclass(frozen=True, slots=True)
class RunConfig:
    """How the agent runs and where its template resources are (confd's mode flags)."""

    confdir: Path = DEFAULT_CONFDIR
    """Holds ``conf.d/`` (resources) and ``templates/``, as in confd."""
    prefix: str = "/"
    """The global key prefix; a resource's ``prefix`` nests under it (confd replaces it instead)."""
    interval_s: float = DEFAULT_INTERVAL_S
    """Seconds between full re-renders: the poll period without ``watch``; with ``watch``,
    a resync that also restores destinations changed behind the agent's back."""
    watch: bool = True
    """Render on every change (confd's default is polling; here watching is)."""
    onetime: bool = False
    """Render everything once and exit; wins over ``watch``."""
    noop: bool = False
    """Render and show a diff per file; change nothing, run no command."""
    sync_only: bool = False
    """Write files but run neither ``check_cmd`` nor ``reload_cmd``."""
    wait: Wait | None = None
    """The default quiescence window of resources that set none (None: render at once)."""

    def validate(self) -> None:
        if not self.prefix.startswith("/"):
            raise ConfigError(f"{self.prefix!r} must start with '/'", key="prefix")
        if self.interval_s <= 0:
            raise ConfigError(f"must be more than 0 s, not {self.interval_s:g} s", key="interval")


@dataclass(frozen=True, slots=True)
class BackendSettings:
    """Where keys come from: the embedded store, an etcd cluster, YAML/JSON files or the environment."""

    backend: str = "embedded"
    nodes: tuple[str, ...] = ()
    """etcd endpoints (``http(s)://host:port``); empty means ``DEFAULT_ETCD_NODES``."""
    client_cert: Path | None = None
    client_key: Path | None = None
    client_cakeys: Path | None = None
    """TLS for the etcd backend: client certificate, its key, the CA bundle."""
    files: tuple[Path, ...] = ()
    """The file backend's YAML/JSON files or directories (confd's ``-file``)."""
    filter: str = "*"
    """The file backend's glob for file names in those directories (confd's ``-filter``)."""

    @property
    def endpoints(self) -> tuple[str, ...]:
        return self.nodes or DEFAULT_ETCD_NODES

    def validate(self) -> None:
        if self.backend not in BACKENDS:
            raise ConfigError(f"{self.backend!r} is not one of {', '.join(BACKENDS)}", key="backend")
        for url in self.nodes:
            parts = urlsplit(url)
            if parts.scheme not in ("http", "https") or not parts.hostname or parts.path not in ("", "/"):
                raise ConfigError(f"{url!r} is not http(s)://HOST:PORT", key="nodes")
        if self.backend == "metad" and not self.nodes:
            raise ConfigError("is required by the metad backend (its data port, http://HOST:PORT)",
                              key="nodes")
        if self.backend != "metad":
            self._check_used("nodes", self.nodes, "etcd")
        for name in ("client_cert", "client_key", "client_cakeys"):
            self._check_used(name, getattr(self, name), "etcd")
        if self.client_cert is not None and self.client_key is None:
            raise ConfigError("needs client_key as well", key="client_cert")
        if self.client_key is not None and self.client_cert is None:
            raise ConfigError("needs client_cert as well", key="client_key")
        self._check_used("file", self.files, "file")
        if self.backend == "file" and not self.files:
            raise ConfigError("is required by the file backend (a YAML or JSON file, or a directory)",
                              key="file")

    def _check_used(self, key: str, value: object, backend: str) -> None:
        if value and self.backend != backend:
            raise ConfigError(f"is only used by the {backend} backend, and the backend is {self.backend}",
                              key=key)


@dataclass(frozen=True, slots=True)
class StoreSettings(EmbeddedMember):
    """The embedded store (``[store]``), with etcd's flag names: a lone member in a data directory,
    or, with ``initial_cluster``, one member of a cluster whose local replica the agent renders from.
    The member's fields are ``EmbeddedMember``'s; the store's own two follow.
    """

    data_dir: Path = DEFAULT_DATA_DIR
    listen_client_urls: tuple[str, ...] = ()
    """Serve the etcd API too (so ``confagent kv put`` reaches the store); empty: no listener."""

    @property
    def peer_urls(self) -> tuple[str, ...]:
        return self.initial_advertise_peer_urls or self.listen_peer_urls

    def member(self) -> EmbeddedMember:
        """The embedded backend's cluster options these settings give."""
        return EmbeddedMember(**{item.name: getattr(self, item.name) for item in fields(EmbeddedMember)})

    def initial_members(self) -> dict[str, tuple[str, ...]]:
        """NAME -> peer URLs from ``initial_cluster`` (a name repeats once per URL).

        Raises:
            ConfigError: an item is not ``NAME=http://HOST:PORT``.
        """
        members: dict[str, tuple[str, ...]] = {}
        for item in filter(None, (part.strip() for part in self.initial_cluster.split(","))):
            name, sep, url = item.partition("=")
            if not sep or not name or not _is_url(url):
                raise ConfigError(f"{item!r} is not NAME=http://HOST:PORT", key="store.initial_cluster")
            members[name] = (*members.get(name, ()), url)
        return members

    def validate(self) -> None:
        for key in ("listen_client_urls", "advertise_client_urls", "listen_peer_urls",
                    "initial_advertise_peer_urls"):
            for url in getattr(self, key):
                if not _is_url(url):
                    raise ConfigError(f"{url!r} is not http(s)://HOST:PORT", key=f"store.{key}")
        for key in ("listen_peer_urls", "initial_advertise_peer_urls"):
            for url in getattr(self, key):
                if url.startswith("https:"):
                    raise ConfigError(f"{url}: peer TLS is not configurable in [store]; use http://",
                                      key=f"store.{key}")
        if self.initial_cluster_state not in INITIAL_CLUSTER_STATES:
            raise ConfigError(f"{self.initial_cluster_state!r} is not one of "
                              f"{', '.join(INITIAL_CLUSTER_STATES)}", key="store.initial_cluster_state")
        members = self.initial_members()
        if not members:
            if self.initial_cluster_state == "existing":
                raise ConfigError("is required to join an existing cluster (its members and this one)",
                                  key="store.initial_cluster")
            return
        self._validate_member(members)

    def _validate_member(self, members: dict[str, tuple[str, ...]]) -> None:
        if self.name not in members:
            raise ConfigError(f"{self.name!r} is not a member of initial_cluster "
                              f"({', '.join(sorted(members))})", key="store.name")
        if not self.listen_peer_urls:
            raise ConfigError("is required with initial_cluster (where the other members reach this one)",
                              key="store.listen_peer_urls")
        if sorted(members[self.name]) != sorted(self.peer_urls):
            key = "initial_advertise_peer_urls" if self.initial_advertise_peer_urls else "listen_peer_urls"
            raise ConfigError(f"{', '.join(self.peer_urls)} is not what initial_cluster gives {self.name} "
                              f"({', '.join(members[self.name])})", key=f"store.{key}")


def _is_url(url: str) -> bool:
    """Whether ``url`` is ``http(s)://HOST:PORT`` (an optional trailing ``/``)."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname) and port is not None \
        and parts.path in ("", "/")


@dataclass(frozen=True, slots=True)
class ListenerConfig:
    """The agent's own HTTP listener (``[agent]``): ``/health`` and Prometheus ``/metrics``."""

    listen: str | None = None
    """``HOST:PORT`` (``127.0.0.1:9271``), or None for no listener."""

    @property
    def address(self) -> tuple[str, int] | None:
        """The listen address as (host, port); None when disabled."""
        if self.listen is None:
            return None
        host, _, port = self.listen.rpartition(":")
        return host.strip("[]"), int(port)

    def validate(self) -> None:
        if self.listen is None:
            return
        host, sep, port = self.listen.rpartition(":")
        if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ConfigError(f"{self.listen!r} is not HOST:PORT", key="agent.listen")


@dataclass(frozen=True, slots=True)
class LogConfig:
    """Logging: level, and format (``auto``: console on a terminal, JSON lines otherwise)."""

    level: str = DEFAULT_LOG_LEVEL
    format: str = "auto"

    def validate(self) -> None:
        if self.level not in LOG_LEVELS:
            raise ConfigError(f"{self.level!r} is not one of {', '.join(LOG_LEVELS)}", key="log_level")
        if self.format not in LOG_FORMATS:
            raise ConfigError(f"{self.format!r} is not one of {', '.join(LOG_FORMATS)}", key="log_format")


@dataclass(frozen=True, slots=True)
class AgentConfig:
    """Everything the agent is configured with, checked by ``validate()`` before it starts."""

    run: RunConfig = field(default_factory=RunConfig)
    backend: BackendSettings = field(default_factory=BackendSettings)
    store: StoreSettings = field(default_factory=StoreSettings)
    listener: ListenerConfig = field(default_factory=ListenerConfig)
    log: LogConfig = field(default_factory=LogConfig)
    file: Path | None = None
    """The configuration file read, if any."""

    def validate(self) -> None:
        """Raises:
        ConfigError: a setting the agent cannot run with; ``key`` names it.
        """
        for component in (self.run, self.backend, self.store, self.listener, self.log):
            component.validate()

    def backend_config(self) -> BackendConfig:
        """The options ``confagent.backends.open_backend`` takes, from ``backend`` and ``store``."""
        settings = self.backend
        return BackendConfig(
            backend=settings.backend, nodes=settings.endpoints, client_cert=settings.client_cert,
            client_key=settings.client_key, client_cakeys=settings.client_cakeys,
            data_dir=self.store.data_dir, listen_client_urls=self.store.listen_client_urls,
            member=self.store.member(), files=settings.files, file_filter=settings.filter)
