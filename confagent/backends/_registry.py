"""Choosing a backend by name: ``BackendConfig`` (confd's option names) and ``open_backend``.

=========  ===============================================  ==============================
name       reads                                            options used
=========  ===============================================  ==============================
embedded   a store in this process (the default), alone     store (a ``StoreConfig``: its
           or a member of a cluster                         data_dir, its cluster)
etcd       an etcd v3 cluster or confagent store nodes      nodes, client_cert, client_key,
                                                            client_cakeys, timeouts, basic_auth,
                                                            username, password, password_file
file       YAML/JSON files and directories                  files, file_filter
env        environment variables                            environ
metad      a metadata service's data port (``/self/...``)   nodes, command_timeout_s
redis      strings and hashes of redis servers, tried in    nodes, separator, client_key (or
           order, with confd's key mapping                  password, password_file), username,
                                                            client_cert, client_cakeys
zookeeper  a ZooKeeper tree, with confd's key mapping and   nodes, username, password (or
           watches                                          password_file), client_cert,
                                                            client_key, client_cakeys
=========  ===============================================  ==============================

Each opener imports its backend's module when called (``env``'s is light), so
a process pays for the libraries of the one backend it opens (the store's
uvicorn, the etcd client's httpx, the file backend's PyYAML and watchfiles),
not for all of them.

Credentials (``etcd``): confd's ``basic_auth``, ``username`` and ``password``
(a username alone turns ``basic_auth`` on: confd would ignore it). So that a
password need not sit on a command line or in ``confagent.toml``, it may come
from ``password_file`` (its first line) or from ``$CONFAGENT_ETCD_PASSWORD``,
in that order after ``password``. The client signs in with them and signs in
again when its token expires; refused credentials are an error naming the user.

Credentials (``redis``): confd takes the redis password from ``client_key``,
and so does this backend when no ``client_cert`` is given (with a client
certificate, ``client_key`` is its key, for a TLS server that asks for one);
``password``, ``password_file`` or ``$CONFAGENT_REDIS_PASSWORD`` give it
plainly instead, and ``username`` names an ACL user (redis 6).

Credentials (``zookeeper``): ``username`` and ``password`` are a digest identity
(``user:password``) added to the session; the password may come from
``password_file`` or ``$CONFAGENT_ZOOKEEPER_PASSWORD`` instead. Its nodes are
``HOST:PORT`` (confd's default ``127.0.0.1:2181``); ``client_cakeys`` (and
``client_cert`` with ``client_key``) turn on TLS to the servers' secure port.
"""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from confagent.backends._base import Backend
from confagent.backends._env import EnvBackend
from confagent.errors import ConfigError
from confagent.settings import (
    BOOLEAN,
    DURATION,
    PATH,
    PATHS,
    TEXT,
    URLS,
    Kind,
    Naming,
    StoreConfig,
    choice,
    is_url,
    setting,
    toml_naming,
)

if TYPE_CHECKING:
    from confagent.backends._redis_link import RedisOptions
    from confagent.backends._zookeeper import ZookeeperOptions
    from confagent.client import ClientConfig, Credentials

__all__ = ["BACKENDS", "BACKEND_NAMES", "DEFAULT_ETCD_NODE", "DEFAULT_REDIS_NODE", "EMBEDDED_STORE",
           "PASSWORD_ENV", "REDIS_PASSWORD_ENV", "STAR_STRIPPING_BACKENDS", "ZOOKEEPER_PASSWORD_ENV",
           "BackendConfig", "GivenPath",
           "embedded_store", "open_backend", "zookeeper_host"]

PASSWORD_ENV = "CONFAGENT_ETCD_PASSWORD"
"""The etcd backend's password when neither ``password`` nor ``password_file`` gives one."""
DEFAULT_ETCD_NODE = "http://127.0.0.1:2379"
"""etcd's client port (confd still defaults to the v2 port 4001)."""
REDIS_PASSWORD_ENV = "CONFAGENT_REDIS_PASSWORD"
"""The redis backend's password when ``password``, ``password_file`` and ``client_key`` give none."""
DEFAULT_REDIS_NODE = "127.0.0.1:6379"
"""confd's default redis node."""
ZOOKEEPER_PASSWORD_ENV = "CONFAGENT_ZOOKEEPER_PASSWORD"
"""The zookeeper backend's password when neither ``password`` nor ``password_file`` gives one."""
DEFAULT_ZOOKEEPER_NODE = "127.0.0.1:2181"
"""confd's default zookeeper node."""
EMBEDDED_STORE = StoreConfig(listen_client_urls=(), listen_peer_urls=())
"""The embedded store's settings unless configured: a lone member serving no client URL and listening
for no peer (it advertises etcd's default peer URL, from which its ID derives); no data directory."""


def embedded_store(data_dir: Path | None, listen_client_urls: Sequence[str] = (),
                   **settings: Any) -> StoreConfig:
    """``EMBEDDED_STORE`` in ``data_dir``, serving ``listen_client_urls``, with other ``settings`` given."""
    urls = tuple(listen_client_urls)
    return replace(EMBEDDED_STORE, data_dir=data_dir, listen_client_urls=urls, **settings)


STAR_STRIPPING_BACKENDS = ("redis", "zookeeper")
"""The backends under which a resource's keys lose every ``/*``, as confd's redis and zookeeper backends
strip it (``render.Scope``'s ``strip_star``): ``keys = ["/app/*"]`` reads ``/app``."""
BACKEND_NAMES = ("embedded", "etcd", "file", "env", "metad", "redis", "zookeeper")
"""Every backend ``open_backend`` opens (``BACKENDS``); ``etcdv3`` is read as confd's name for ``etcd``."""
CONFD_NAMES = {"etcdv3": "etcd"}
ENDPOINTS = replace(URLS, repeat=True)
NODE_BACKENDS = ("etcd", "metad", "redis", "zookeeper")
"""The backends that read ``nodes``."""


class GivenPath(type(Path())):  # type: ignore[misc]  # the concrete Path class of this system
    """A path that remembers its text as given: confd's redis backend reads ``client_key`` as the password."""

    given: str

    @classmethod
    def of(cls, text: str, base: Path) -> GivenPath:
        """``text`` as an absolute path (relative ones under ``base``), remembering ``text``."""
        path = Path(text).expanduser()
        made = cls(path if path.is_absolute() else base / path)
        made.given = text
        return made


CLIENT_KEY = Kind(lambda reader, key, base: GivenPath.of(reader.required_string(key), base))
"""A path, also kept as given (``GivenPath``)."""


@dataclass(frozen=True, slots=True)
class BackendConfig:
    """Where keys come from, with confd's option names; each backend reads only its own (module table).

    The options a flag or ``confagent.toml`` sets are declared with ``setting`` (confd's flag
    and key); ``dial_timeout_s``, ``command_timeout_s`` (per attempt on one etcd endpoint) and
    ``environ`` (the env backend's variables; None: the process environment) are set by code.
    """

    backend: str = setting("embedded", flag="backend", kind=choice(*BACKEND_NAMES, aliases=CONFD_NAMES),
                           metavar="NAME",
                           help="embedded, etcd (or etcdv3), file, env, metad, redis or zookeeper")
    nodes: tuple[str, ...] = setting((), flag="node", toml="nodes", kind=ENDPOINTS, metavar="URL",
                                     default_text=DEFAULT_ETCD_NODE,
                                     help="an etcd endpoint, http(s)://HOST:PORT (redis: HOST:PORT[/DB] or "
                                          "rediss://HOST:PORT[/DB]; zookeeper: HOST:PORT); repeat for "
                                          "several")
    client_cert: Path | None = setting(None, flag="client-cert", kind=PATH, metavar="FILE",
                                       help="TLS client certificate for the etcd backend (and redis over rediss://)")
    client_key: Path | None = setting(None, flag="client-key", kind=CLIENT_KEY, metavar="FILE",
                                      help="TLS client key for the etcd backend (for redis without "
                                           "--client-cert: the password, as confd reads it)")
    client_cakeys: Path | None = setting(None, flag="client-ca-keys", toml="client_cakeys", kind=PATH,
                                         metavar="FILE", flag_aliases=("--client-cakeys",),
                                         help="CA bundle for the etcd backend (and redis over rediss://)")
    files: tuple[Path, ...] = setting((), flag="file", kind=PATHS, metavar="PATH",
                                      help="file backend: a YAML/JSON file or directory; repeat for several")
    file_filter: str = setting("*", flag="filter", kind=TEXT, metavar="GLOB",
                               help="file backend: glob for file names in directories")
    basic_auth: bool = setting(False, flag="basic-auth", kind=BOOLEAN,
                               help="sign in to the etcd backend as --username (implied by --username)")
    username: str = setting("", flag="username", kind=TEXT, metavar="NAME",
                            help="etcd and redis backends: the user to sign in as")
    password: str = setting("", flag="password", kind=TEXT, metavar="PASSWORD", secret=True,
                            help=f"etcd and redis backends: the password (else --password-file, else "
                                 f"${PASSWORD_ENV} or ${REDIS_PASSWORD_ENV})")
    password_file: Path | None = setting(None, flag="password-file", kind=PATH, metavar="FILE",
                                         help="etcd and redis backends: a file whose first line is the "
                                              "password")
    separator: str = setting("/", flag="separator", kind=TEXT, metavar="SEP",
                             help="redis backend: what stands for '/' in redis keys (confd's -separator)")
    poll_interval_s: float = setting(2.0, flag="redis-poll-interval", toml="redis_poll_interval",
                                     kind=DURATION, metavar="DURATION",
                                     help="redis backend: how often to read when the server sends no "
                                          "keyspace notifications")
    dial_timeout_s: float = 2.0
    command_timeout_s: float = 5.0
    environ: Mapping[str, str] | None = None
    store: StoreConfig = EMBEDDED_STORE
    """The embedded store's settings (``data_dir`` is required); ``[store]`` in ``confagent.toml``."""

    @property
    def endpoints(self) -> tuple[str, ...]:
        """``nodes``, or etcd's default client URL."""
        return self.nodes or (DEFAULT_ETCD_NODE,)

    def validate(self, name: Naming | None = None) -> None:
        """Check what the backend cannot open with.

        Args:
            name: how the source names an option (``toml_naming``; the default names ``nodes``
                ``node``, as confd's flag).

        Raises:
            ConfigError: ``key`` names the option at fault.
        """
        name = name or _option_name
        if self.backend not in BACKENDS:
            raise ConfigError(f"unknown backend {self.backend!r} (one of {', '.join(BACKEND_NAMES)})",
                              key=name("backend"))
        if self.backend == "embedded" and self.store.data_dir is None:
            raise ConfigError("the embedded backend needs a data directory", key="data_dir")
        self._validate_nodes(name)
        self._validate_tls(name)
        self._validate_credentials(name)
        for path in self.files:
            if not path.exists():
                raise ConfigError(f"{str(path)!r} does not exist", key=name("files"))
        self._check_used(name, "files", "file")
        if self.backend == "file" and not self.files:
            raise ConfigError("is required by the file backend (a YAML or JSON file, or a directory)",
                              key=name("files"))

    def _validate_nodes(self, name: Naming) -> None:
        if self.backend == "redis":
            from confagent.backends._redis_keys import parse_node  # noqa: PLC0415 - pure, on use

            for node in self.nodes:
                parse_node(node)
        elif self.backend == "zookeeper":
            for node in self.nodes:
                zookeeper_host(node)
        else:
            for url in self.nodes:
                if not is_url(url, port_required=False):
                    raise ConfigError(f"{url!r} is not http(s)://HOST:PORT", key=name("nodes"))
        if self.backend == "metad" and not self.nodes:
            raise ConfigError("is required by the metad backend (its data port, http://HOST:PORT)",
                              key=name("nodes"))
        if self.nodes and self.backend not in NODE_BACKENDS:
            self._check_used(name, "nodes", "etcd")
        if self.separator != "/":
            self._check_used(name, "separator", "redis")
        if self.poll_interval_s <= 0:
            raise ConfigError(f"must be more than 0 s, got {self.poll_interval_s:g}",
                              key=name("poll_interval_s"))

    def _validate_tls(self, name: Naming) -> None:
        for field in ("client_cert", "client_key", "client_cakeys"):
            if self.backend not in ("redis", "zookeeper"):
                self._check_used(name, field, "etcd")
        for field in ("client_cert", "client_key", "client_cakeys"):
            if field == "client_key" and self._key_is_redis_password:
                continue  # confd's redis password (module docstring)
            path = getattr(self, field)
            if path is not None and not path.is_file():
                raise ConfigError(f"no such file: {path} (it does not exist or is not a file)",
                                  key=name(field))
        for given, other in (("client_cert", "client_key"), ("client_key", "client_cert")):
            if getattr(self, given) is not None and getattr(self, other) is None \
                    and not self._key_is_redis_password:
                raise ConfigError(f"needs {name(other)} as well", key=name(given))

    @property
    def _key_is_redis_password(self) -> bool:
        """``client_key`` is confd's redis password: the redis backend, and no client certificate."""
        return self.backend == "redis" and self.client_cert is None

    def _validate_credentials(self, name: Naming) -> None:
        for field in ("basic_auth", "username", "password", "password_file"):
            if self.backend not in ("redis", "zookeeper") or field == "basic_auth":
                self._check_used(name, field, "etcd")
        if self.password and self.password_file is not None:
            raise ConfigError(f"give one of {name('password')} and {name('password_file')}",
                              key=name("password"))
        if self._key_is_redis_password and self.client_key is not None and (self.password or
                                                                            self.password_file):
            raise ConfigError(f"is the redis password (as confd reads it): give it or "
                              f"{name('password')}/{name('password_file')}, not both", key=name("client_key"))
        if self.password_file is not None and not self.password_file.is_file():
            raise ConfigError(f"no such file: {self.password_file} (it does not exist or is not a file)",
                              key=name("password_file"))
        if self.backend == "redis":
            return  # a password alone is redis's default user's
        for field in ("basic_auth", "password", "password_file"):
            if getattr(self, field) and not self.username:
                raise ConfigError(f"needs {name('username')} as well", key=name(field))

    def credentials(self) -> Credentials | None:
        """The user to sign in as with its password (module docstring), or None.

        Raises:
            ConfigError: the password file cannot be read, or no password is given anywhere.
        """
        from confagent.client import Credentials  # noqa: PLC0415 - httpx on use (module doc)

        if not self.username:
            return None
        password = self.password or self._password_from_file() or os.environ.get(PASSWORD_ENV, "")
        if not password:
            raise ConfigError(f"no password for user {self.username!r}: give password, password_file "
                              f"or ${PASSWORD_ENV}", key="password")
        return Credentials(self.username, password)

    def _password_from_file(self) -> str:
        if self.password_file is None:
            return ""
        try:
            lines = self.password_file.read_text().splitlines()
        except (OSError, UnicodeDecodeError) as error:
            raise ConfigError(f"cannot read {self.password_file}: {error}", key="password_file") from None
        return lines[0] if lines else ""

    def zookeeper_options(self) -> ZookeeperOptions:
        """The zookeeper backend's settings (module docstring for the identity and TLS).

        Raises:
            ConfigError: the password file cannot be read, or a username has no password anywhere.
        """
        from confagent.backends._zookeeper import ZookeeperOptions  # noqa: PLC0415 - kazoo on use

        password = self.password or self._password_from_file() or os.environ.get(ZOOKEEPER_PASSWORD_ENV, "")
        if self.username and not password:
            raise ConfigError(f"no password for user {self.username!r}: give password, password_file "
                              f"or ${ZOOKEEPER_PASSWORD_ENV}", key="password")
        hosts = tuple(zookeeper_host(node) for node in self.nodes)
        return ZookeeperOptions(hosts=hosts or (DEFAULT_ZOOKEEPER_NODE,), username=self.username,
                                password=password, ca_file=self.client_cakeys, cert_file=self.client_cert,
                                key_file=self.client_key, dial_timeout_s=self.dial_timeout_s,
                                timeout_s=self.command_timeout_s)

    def redis_options(self) -> RedisOptions:
        """The redis backend's connection settings (module docstring for the password).

        Raises:
            ConfigError: the password file cannot be read.
        """
        from confagent.backends._redis_link import RedisOptions  # noqa: PLC0415 - redis-py on use

        quirk = ""
        if self._key_is_redis_password and self.client_key is not None:
            quirk = getattr(self.client_key, "given", str(self.client_key))
        password = (self.password or self._password_from_file() or quirk
                    or os.environ.get(REDIS_PASSWORD_ENV, ""))
        return RedisOptions(username=self.username, password=password, ca_file=self.client_cakeys,
                            cert_file=self.client_cert,
                            key_file=None if self._key_is_redis_password else self.client_key,
                            timeout_s=self.command_timeout_s, poll_interval_s=self.poll_interval_s)

    def _check_used(self, name: Naming, field: str, backend: str) -> None:
        if getattr(self, field) and self.backend != backend:
            raise ConfigError(f"is only used by the {backend} backend, and the backend is {self.backend}",
                              key=name(field))

    def client_config(self) -> ClientConfig:
        """The etcd client settings these options give."""
        from confagent.client import ClientConfig, ClientTls  # noqa: PLC0415 - httpx on use (module doc)

        tls = None
        if self.client_cert or self.client_cakeys:
            tls = ClientTls(ca_file=self.client_cakeys, cert_file=self.client_cert,
                            key_file=self.client_key)
        return ClientConfig(endpoints=self.endpoints,
                            dial_timeout_s=self.dial_timeout_s,
                            command_timeout_s=self.command_timeout_s, tls=tls,
                            credentials=self.credentials())


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


async def _open_redis(config: BackendConfig) -> Backend:
    from confagent.backends._redis import RedisBackend  # noqa: PLC0415 - redis-py on use (module doc)
    from confagent.backends._redis_keys import parse_node  # noqa: PLC0415

    nodes = [parse_node(node) for node in config.nodes or (DEFAULT_REDIS_NODE,)]
    return RedisBackend(nodes, config.redis_options(), separator=config.separator)


async def _open_zookeeper(config: BackendConfig) -> Backend:
    from confagent.backends._zookeeper import ZookeeperBackend  # noqa: PLC0415 - kazoo on use (module doc)

    return ZookeeperBackend(config.zookeeper_options())


def zookeeper_host(node: str) -> str:
    """A zookeeper node as kazoo takes it, ``HOST:PORT``: confd's ``HOST[:PORT]`` (port 2181 by default),
    also as the node option writes it (``http://HOST:PORT``) and as SRV discovery gives it.

    Raises:
        ConfigError: not a node address (names the node).
    """
    text = node.removeprefix("http://")
    parts = urlsplit("//" + text)
    try:
        port = parts.port
    except ValueError:
        port = -1
    if not parts.hostname or port == -1 or parts.username or parts.password or parts.path.strip("/") \
            or parts.query or parts.fragment:
        raise ConfigError(f"{text!r} is not a zookeeper node (HOST:PORT)", key="node")
    default_port = DEFAULT_ZOOKEEPER_NODE.rpartition(":")[2]
    return parts.netloc.rstrip("/") if port is not None else f"{parts.netloc}:{default_port}"


BACKENDS: Mapping[str, Callable[[BackendConfig], Awaitable[Backend]]] = {
    "embedded": _open_embedded,
    "etcd": _open_etcd,
    "file": _open_file,
    "env": _open_env,
    "metad": _open_metad,
    "redis": _open_redis,
    "zookeeper": _open_zookeeper,
}
"""Backend name -> how to open it."""
assert tuple(BACKENDS) == BACKEND_NAMES, "one list of backends"


def _option_name(field: str) -> str:
    """An option as confd names it: its ``-node`` flag for ``nodes``, else its key in ``confagent.toml``."""
    return "node" if field == "nodes" else toml_naming(BackendConfig)(field)


async def open_backend(config: BackendConfig) -> Backend:
    """The backend ``config.backend`` names, opened (the embedded store is started).

    Raises:
        ConfigError: a bad option (names it), or the embedded store's listen URL is unusable.
        StorageError: the embedded store's data directory cannot be used.
    """
    config.validate()
    return await BACKENDS[config.backend](config)
