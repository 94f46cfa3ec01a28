"""The agent's settings, one frozen dataclass per component, each checked by ``validate()``.

``AgentConfig`` groups them: ``run`` (modes and where resources live),
``backend`` (where keys come from), ``store`` (the embedded store),
``listener`` (``/health`` and ``/metrics``), ``log`` and ``history`` (the render history). Field types are
already checked when a config is loaded; ``validate()`` checks what a
component cannot run with, and raises a ``ConfigError`` whose ``key`` is the
field's name in ``confagent.toml`` (the loader adds where the value came from).
``AgentConfig.backend_config()`` gives ``confagent.backends.open_backend`` its options.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field, replace
from pathlib import Path

from confagent.backends import BACKEND_NAMES, EMBEDDED_STORE, BackendConfig
from confagent.errors import ConfigError
from confagent.resource import Wait, parse_wait
from confagent.settings import (
    BOOLEAN,
    DURATION,
    NEGATABLE,
    PATH,
    TEXT,
    FleetConfig,
    HistoryConfig,
    Kind,
    StoreConfig,
    TableReader,
    choice,
    parsed,
    setting,
    toml_naming,
)

__all__ = [
    "AGENT_BACKEND",
    "AGENT_STORE",
    "BACKENDS",
    "DEFAULT_CONFDIR",
    "DEFAULT_DATA_DIR",
    "DEFAULT_ETCD_NODES",
    "DEFAULT_INTERVAL_S",
    "DEFAULT_LOG_LEVEL",
    "DEFAULT_RELOAD_LOCK_TTL_S",
    "DEFAULT_RELOAD_LOCK_WAIT_S",
    "LOG_FORMATS",
    "LOG_LEVELS",
    "LOG_LEVEL_ALIASES",
    "NODELESS_BACKENDS",
    "SCHEMES",
    "AgentConfig",
    "DiscoveryConfig",
    "ListenerConfig",
    "LogConfig",
    "RunConfig",
    "log_level_named",
]

BACKENDS = BACKEND_NAMES
"""Supported backends; ``etcdv3`` is accepted as confd's other name for ``etcd``."""
DEFAULT_CONFDIR = Path("/etc/confagent")
DEFAULT_DATA_DIR = Path("/var/lib/confagent")
DEFAULT_ETCD_NODES = ("http://127.0.0.1:2379",)
DEFAULT_INTERVAL_S = 600.0
DEFAULT_RELOAD_LOCK_TTL_S = 10.0
DEFAULT_RELOAD_LOCK_WAIT_S = 60.0
LOG_LEVELS = ("debug", "info", "warning", "error")
"""What ``cli``'s ``configure_logging`` takes, and every command's ``--log-level``; confd's
(logrus) names are read as one of them (``LOG_LEVEL_ALIASES``, ``log_level_named``)."""
LOG_LEVEL_ALIASES = {"trace": "debug", "warn": "warning", "fatal": "error", "panic": "error"}
DEFAULT_LOG_LEVEL = "info"
LOG_FORMATS = ("auto", "console", "json")
NODELESS_BACKENDS = ("embedded", "file", "env")
"""Backends that read no ``nodes``, so that none are found in DNS for them."""
AGENT_STORE = replace(EMBEDDED_STORE, data_dir=DEFAULT_DATA_DIR)
"""``[store]`` unless configured: the embedded store's defaults, in ``DEFAULT_DATA_DIR``."""
AGENT_BACKEND = BackendConfig(store=AGENT_STORE)
"""The agent's backend unless configured: the embedded store in ``DEFAULT_DATA_DIR``."""


def log_level_named(name: str) -> str:
    """``name`` as ``LOG_LEVELS`` spells it: case and spaces ignored, confd's names mapped; a
    name that is no level comes back lower-cased, for the caller to refuse."""
    value = name.strip().lower()
    return LOG_LEVEL_ALIASES.get(value, value)


def _read_log_level(reader: TableReader, key: str, base: Path) -> object:
    return log_level_named(reader.required_string(key))


def _read_prefix(reader: TableReader, key: str, base: Path) -> object:
    value = reader.string(key, nonempty=False) or "/"
    if ".." in value.split("/"):
        raise reader.error(key, f"{value!r} must not contain '..'")
    return value if value.startswith("/") else "/" + value


@dataclass(frozen=True, slots=True)
class RunConfig:
    """How the agent runs and where its template resources are (confd's mode flags)."""

    confdir: Path = setting(DEFAULT_CONFDIR, flag="confdir", kind=PATH, metavar="DIR",
                            help="the directory holding conf.d/ and templates/")
    """Holds ``conf.d/`` (resources) and ``templates/``, as in confd."""
    prefix: str = setting("/", flag="prefix", kind=Kind(_read_prefix), metavar="PREFIX",
                          help="the global key prefix; resource prefixes nest under it")
    """The global key prefix; a resource's ``prefix`` nests under it (confd replaces it instead)."""
    interval_s: float = setting(DEFAULT_INTERVAL_S, flag="interval", kind=DURATION, metavar="SECONDS",
                                help="seconds (or a duration like 30s) between full renders")
    """Seconds between full re-renders: the poll period without ``watch``; with ``watch``,
    a resync that also restores destinations changed behind the agent's back."""
    watch: bool = setting(True, flag="watch", kind=NEGATABLE,
                          help="render on every change; --no-watch polls every --interval")
    """Render on every change (confd's default is polling; here watching is)."""
    onetime: bool = setting(False, flag="onetime", kind=BOOLEAN, help="render everything once and exit")
    """Render everything once and exit; wins over ``watch``."""
    noop: bool = setting(False, flag="noop", kind=BOOLEAN, help="print a diff per file; change nothing")
    """Render and show a diff per file; change nothing, run no command."""
    sync_only: bool = setting(False, flag="sync-only", kind=BOOLEAN,
                              help="write files but run no check or reload")
    """Write files but run neither ``check_cmd`` nor ``reload_cmd``."""
    keep_stage_file: bool = setting(False, flag="keep-stage-file", kind=BOOLEAN,
                                    help="leave a stage file that was not renamed over its destination "
                                         "(a failed check_cmd) beside it")
    """confd's ``-keep-stage-file``: a stage file that was not renamed (its check failed, its reload
    slot was not had) stays beside the destination. Only a file that differs is staged, and noop
    mode stages nothing, so in-sync and noop passes leave none (confd's leave one each)."""
    wait: Wait | None = setting(None, flag="wait", kind=parsed(parse_wait), metavar="MIN:MAX",
                                help="the quiescence window of resources that set no wait, e.g. 200ms:2s")
    """The default quiescence window of resources that set none (None: render at once)."""
    reload_lock_ttl_s: float = setting(DEFAULT_RELOAD_LOCK_TTL_S, flag="reload-lock-ttl", kind=DURATION,
                                       metavar="SECONDS",
                                       help="the lease of the reload slots this agent holds: a dead "
                                            "agent's slot is free this long after it died")
    """The TTL of the session the agent's reload slots (``reload_lock``) are held under."""
    reload_lock_wait_s: float = setting(DEFAULT_RELOAD_LOCK_WAIT_S, flag="reload-lock-wait", kind=DURATION,
                                        metavar="SECONDS",
                                        help="the longest a reload waits for a slot of its reload_lock "
                                             "before it is deferred and tried again")
    """How long a reload waits for a slot of its ``reload_lock``; then it is deferred (file untouched)."""

    def validate(self) -> None:
        if not self.prefix.startswith("/"):
            raise ConfigError(f"{self.prefix!r} must start with '/'", key="prefix")
        if self.interval_s <= 0:
            raise ConfigError(f"must be more than 0 s, not {self.interval_s:g} s", key="interval")
        if self.reload_lock_ttl_s < 1:
            raise ConfigError(f"must be at least 1 s (a lease's TTL), not {self.reload_lock_ttl_s:g} s",
                              key="reload_lock_ttl")
        if self.reload_lock_wait_s <= 0:
            raise ConfigError(f"must be more than 0 s, not {self.reload_lock_wait_s:g} s",
                              key="reload_lock_wait")


SCHEMES = ("http", "https")


def _read_srv_domain(reader: TableReader, key: str, base: Path) -> object:
    return reader.required_string(key).strip().rstrip(".")


def _read_nameserver(reader: TableReader, key: str, base: Path) -> object:
    """``IP``, ``IP:PORT`` or ``[IPv6]:PORT`` as ``IP:PORT`` (port 53 by default)."""
    value = reader.required_string(key).strip()
    host, sep, port = value.rpartition(":")
    if not sep or (":" in host and not host.startswith("[")):  # no port, or a bare IPv6 address
        host, port = value, "53"
    try:
        address = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        address = None
    if address is None or not port.isdigit() or not 0 < int(port) < 65536:
        raise reader.error(key, f"{value!r} is not an IP address with an optional :PORT")
    return f"{address}:{port}"


@dataclass(frozen=True, slots=True)
class DiscoveryConfig:
    """Where the backend's nodes are found in DNS, as confd finds them (``confagent.agent`` discovery).

    ``srv_record`` is the SRV record to read; without it, ``srv_domain`` names
    ``_<backend>._tcp.<srv_domain>.``, the backend as written (``etcdv3``'s record is
    ``_etcdv3._tcp``: ``backend_name``, set by the loader). The records' targets replace
    the configured nodes; ``scheme`` is put before them for the ``etcd`` backend. As in
    confd, the ``env`` backend ignores them; the other backends without nodes refuse them.
    """

    srv_domain: str | None = setting(None, flag="srv-domain", kind=Kind(_read_srv_domain), metavar="DOMAIN",
                                     help="find the backend's nodes in the SRV record "
                                          "_<backend>._tcp.DOMAIN.")
    srv_record: str | None = setting(None, flag="srv-record", kind=TEXT, metavar="RECORD",
                                     help="find the backend's nodes in this SRV record (over --srv-domain)")
    scheme: str = setting("http", flag="scheme", kind=choice(*SCHEMES), metavar="SCHEME",
                          help="http or https: the scheme of the nodes found in SRV records")
    srv_nameserver: str | None = setting(None, flag="srv-nameserver", kind=Kind(_read_nameserver),
                                         metavar="IP[:PORT]", default_text="/etc/resolv.conf's",
                                         help="the DNS server asked for SRV records (Consul's DNS "
                                              "interface: 127.0.0.1:8600)")
    backend_name: str = "embedded"
    """The backend as the configuration wrote it (``etcdv3``), for the record's name."""

    @property
    def record(self) -> str | None:
        """The SRV record to read; None when nodes are not discovered."""
        if self.srv_record is not None:
            return self.srv_record
        if self.srv_domain is None:
            return None
        return f"_{self.backend_name}._tcp.{self.srv_domain}."

    @property
    def nameserver(self) -> tuple[str, int] | None:
        """``srv_nameserver`` as (address, port)."""
        if self.srv_nameserver is None:
            return None
        host, _, port = self.srv_nameserver.rpartition(":")
        return host, int(port)

    def validate(self, backend: BackendConfig) -> None:
        if self.record is None:
            if self.srv_nameserver is not None:
                raise ConfigError("needs srv_domain or srv_record", key="srv_nameserver")
            return
        if backend.backend in NODELESS_BACKENDS and backend.backend != "env":  # confd ignores it for env
            key = "srv_record" if self.srv_record is not None else "srv_domain"
            raise ConfigError(f"the {backend.backend} backend reads no nodes, so none are found in DNS",
                              key=key)


@dataclass(frozen=True, slots=True)
class ListenerConfig:
    """The agent's own HTTP listener (``[agent]``): ``/health`` and Prometheus ``/metrics``."""

    listen: str | None = setting(None, flag="listen", kind=TEXT, metavar="HOST:PORT",
                                 help="serve /health, /metrics, /v1/status and the status page here")
    """``HOST:PORT`` (``127.0.0.1:9271``), or None for no listener."""
    page_show_secrets: bool = setting(False, flag="page-show-secrets", kind=BOOLEAN,
                                      help="show secret keys' values on the status page (else masked)")
    """The status page shows the values of keys matching ``[history] secret_keys`` instead of masking them."""

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

    level: str = setting(DEFAULT_LOG_LEVEL, flag="log-level", kind=Kind(_read_log_level), metavar="LEVEL",
                         help="debug, info, warning or error")
    """Its flag is every command's ``--log-level`` (``confagent.cli``)."""
    format: str = setting("auto", flag="log-format", kind=choice(*LOG_FORMATS), metavar="FORMAT",
                          help="auto (console on a terminal), console or json")

    def validate(self) -> None:
        if self.level not in LOG_LEVELS:
            raise ConfigError(f"{self.level!r} is not one of {', '.join(LOG_LEVELS)}", key="log_level")
        if self.format not in LOG_FORMATS:
            raise ConfigError(f"{self.format!r} is not one of {', '.join(LOG_FORMATS)}", key="log_format")


@dataclass(frozen=True, slots=True)
class AgentConfig:
    """Everything the agent is configured with, checked by ``validate()`` before it starts."""

    run: RunConfig = field(default_factory=RunConfig)
    backend: BackendConfig = AGENT_BACKEND
    """Where keys come from; its ``store`` is the embedded store (``[store]``): a lone member, or one
    member of a cluster whose local replica the agent renders from (``confagent.settings.StoreConfig``)."""
    listener: ListenerConfig = field(default_factory=ListenerConfig)
    log: LogConfig = field(default_factory=LogConfig)
    discovery: DiscoveryConfig = field(default_factory=DiscoveryConfig)
    history: HistoryConfig = field(default_factory=HistoryConfig)
    """The render history (``[history]``), kept under ``history_path``."""
    fleet: FleetConfig = field(default_factory=FleetConfig)
    """The agent's summary for the fleet view (``[fleet]``)."""
    file: Path | None = None
    """The configuration file read, if any."""

    def validate(self) -> None:
        """Raises:
        ConfigError: a setting the agent cannot run with; ``key`` names it.
        """
        self.run.validate()
        self.backend.validate(toml_naming(BackendConfig))
        try:
            self.store.validate(toml_naming(StoreConfig))
        except ConfigError as error:
            raise ConfigError(error.message, key=f"store.{error.key}") from None
        self.listener.validate()
        self.log.validate()
        self.discovery.validate(self.backend)
        self.history.validate()
        self.fleet.validate()

    @property
    def store(self) -> StoreConfig:
        """The embedded store's settings (``[store]``)."""
        return self.backend.store

    @property
    def history_path(self) -> Path:
        """The render history's file: ``[history] path``, else ``history.db`` in the store's data directory
        (the agent's state directory, whatever the backend)."""
        return self.history.database(self.store.resolved_data_dir)

    def backend_config(self) -> BackendConfig:
        """The options ``confagent.backends.open_backend`` takes: ``backend``, an etcd backend's endpoints
        filled in."""
        if self.backend.backend != "etcd":
            return self.backend
        return replace(self.backend, nodes=self.backend.endpoints)
