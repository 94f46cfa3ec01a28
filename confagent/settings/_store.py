"""``StoreConfig``: a store member's settings, declared once with etcd's flag names, defaults and meanings.

Every field is a ``confagent.settings.setting``: ``confagent store``'s flags
(``--initial-cluster``), the agent's ``[store]`` table (``initial_cluster``)
and its ``--store-*`` flags (``--store-initial-cluster``) are derived from
it, and ``validate`` checks them once, naming each setting as the source
that gave it does. The class defaults are etcd's; the agent's embedded store
starts from other ones (no client or peer listener: ``confagent.backends``).

Rules:
1. A member without peer URLs (``listen_peer_urls`` and
   ``initial_advertise_peer_urls`` empty) listens for no peer, and
   advertises etcd's default peer URL, from which its member ID derives (two
   agents on one host must not both want port 2380).
2. ``https://`` client URLs need ``cert_file`` and ``key_file``; ``https://``
   peer URLs (listened on, advertised, or another member's in
   ``initial_cluster``) need ``peer_cert_file`` and ``peer_key_file``.
3. With ``initial_cluster`` the member is one of a cluster: it is named
   there, with the peer URLs it advertises, and it listens for peers.
   ``initial_cluster_state = existing`` joins a running cluster after
   ``member add``, and needs ``initial_cluster`` to know it.

It lives here, below the server, because the agent's configuration and the
commands read it without loading the member's machinery; what a running
member is built from it (its ``NodeConfig``, ``ServerInfo`` and TLS) is
``confagent.server._bootstrap``'s.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from confagent.errors import ConfigError
from confagent.settings._auth_token import AuthTokenSpec, parse_auth_token
from confagent.settings._declare import Naming, flag_naming, setting
from confagent.settings._kinds import BOOLEAN, COUNT, DURATION, LIST, PATH, TEXT, URLS, Kind, choice

__all__ = ["DEFAULT_CLIENT_URLS", "DEFAULT_PEER_URLS", "INITIAL_CLUSTER_STATES", "StoreConfig", "is_url"]

DEFAULT_CLIENT_URLS = ("http://127.0.0.1:2379",)
DEFAULT_PEER_URLS = ("http://127.0.0.1:2380",)
INITIAL_CLUSTER_STATES = ("new", "existing")
BCRYPT_COSTS = range(4, 32)
"""Go's ``bcrypt.MinCost`` to ``MaxCost``: the costs ``--bcrypt-cost`` takes."""

AUTH_TOKEN = Kind(lambda reader, key, base: reader.parsed(key, lambda value: parse_auth_token(value, base)))
"""``--auth-token``'s text, read into an ``AuthTokenSpec`` (key files under the source's directory)."""
SECONDS = Kind(lambda reader, key, base: reader.integer(key, minimum=0), from_text=int)
"""A whole number of seconds, 0 or more."""
BCRYPT_COST = Kind(lambda reader, key, base: reader.integer(key, minimum=BCRYPT_COSTS.start,
                                                            maximum=BCRYPT_COSTS.stop - 1), from_text=int)


@dataclass(frozen=True, slots=True)
class StoreConfig:
    """A member's settings, as etcd's flags name them (module rules)."""

    name: str = setting("default", flag="name", kind=TEXT, metavar="NAME",
                        help="human-readable name of this member")
    data_dir: Path | None = setting(None, flag="data-dir", kind=PATH, metavar="DIR",
                                    help="path to the data directory", default_text="NAME.etcd")
    listen_client_urls: tuple[str, ...] = setting(
        DEFAULT_CLIENT_URLS, flag="listen-client-urls", kind=URLS, metavar="URLS", default_text="none",
        help="URLs to listen on for client traffic")
    advertise_client_urls: tuple[str, ...] = setting(
        (), flag="advertise-client-urls", kind=URLS, metavar="URLS", default_text="the listen client URLs",
        help="client URLs to advertise to the rest of the cluster")
    listen_peer_urls: tuple[str, ...] = setting(
        DEFAULT_PEER_URLS, flag="listen-peer-urls", kind=URLS, metavar="URLS", default_text="none",
        help="URLs to listen on for peer traffic")
    initial_advertise_peer_urls: tuple[str, ...] = setting(
        (), flag="initial-advertise-peer-urls", kind=URLS, metavar="URLS",
        default_text="the listen peer URLs",
        help="this member's peer URLs to advertise to the rest of the cluster")
    initial_cluster: str = setting(
        "", flag="initial-cluster", kind=LIST, metavar="NAME=URL,...", default_text="this member alone",
        help="initial cluster configuration for bootstrapping, NAME=PEER_URL[,...]")
    initial_cluster_token: str = setting(
        "etcd-cluster", flag="initial-cluster-token", kind=TEXT, metavar="TOKEN",
        help="initial cluster token for the cluster during bootstrap, mixed into member and cluster IDs")
    initial_cluster_state: str = setting(
        "new", flag="initial-cluster-state", kind=choice(*INITIAL_CLUSTER_STATES), metavar="new|existing",
        help="new for a new cluster, existing to join one after 'member add'")
    cert_file: Path | None = setting(None, flag="cert-file", kind=PATH, metavar="FILE",
                                     help="path to the client server TLS cert file")
    key_file: Path | None = setting(None, flag="key-file", kind=PATH, metavar="FILE",
                                    help="path to the client server TLS key file")
    client_cert_auth: bool = setting(False, flag="client-cert-auth", kind=BOOLEAN,
                                     help="enable client cert authentication")
    trusted_ca_file: Path | None = setting(None, flag="trusted-ca-file", kind=PATH, metavar="FILE",
                                           help="path to the client server TLS trusted CA file")
    peer_cert_file: Path | None = setting(None, flag="peer-cert-file", kind=PATH, metavar="FILE",
                                          help="path to the peer server TLS cert file")
    peer_key_file: Path | None = setting(None, flag="peer-key-file", kind=PATH, metavar="FILE",
                                         help="path to the peer server TLS key file")
    peer_client_cert_auth: bool = setting(False, flag="peer-client-cert-auth", kind=BOOLEAN,
                                          help="enable peer client cert authentication")
    peer_trusted_ca_file: Path | None = setting(None, flag="peer-trusted-ca-file", kind=PATH, metavar="FILE",
                                                help="path to the peer server TLS trusted CA file")
    snapshot_entries: int = setting(20_000, flag="snapshot-count", kind=COUNT, metavar="N",
                                    help="applied entries between snapshots")
    watch_progress_notify_interval_s: float = setting(
        600.0, flag="experimental-watch-progress-notify-interval", kind=DURATION, metavar="DURATION",
        help="interval of progress notifications to watchers that ask: seconds, or a duration like "
             "10m, 30s, 500ms")
    auth_token: AuthTokenSpec = setting(
        AuthTokenSpec(), flag="auth-token", kind=AUTH_TOKEN, metavar="SPEC",
        help="auth token type and options: simple, or jwt,pub-key=FILE,priv-key=FILE,sign-method=METHOD"
             "[,ttl=DURATION] (METHOD: RS256, PS256, ES256, HS256 and their 384 and 512)")
    auth_token_ttl_s: int = setting(
        300, flag="auth-token-ttl", kind=SECONDS, metavar="SECONDS",
        help="seconds a simple token lives past its last use (0: 300)")
    max_learners: int = setting(
        1, flag="max-learners", kind=COUNT, metavar="N", flag_aliases=("--experimental-max-learners",),
        help="learners the cluster may hold at once (etcd 3.5's --experimental-max-learners; etcd 3.4's "
             "limit is 1): raise it on every member for a fleet whose hosts each keep a replica")
    bcrypt_cost: int = setting(
        10, flag="bcrypt-cost", kind=BCRYPT_COST, metavar="N",
        help=f"cost of bcrypt's hashing of users' passwords, {BCRYPT_COSTS.start} to {BCRYPT_COSTS.stop - 1}")

    @property
    def resolved_data_dir(self) -> Path:
        return self.data_dir or Path(f"{self.name}.etcd")

    @property
    def peer_urls(self) -> tuple[str, ...]:
        """The peer URLs this member advertises (rule 1)."""
        return self.initial_advertise_peer_urls or self.listen_peer_urls or DEFAULT_PEER_URLS

    @property
    def client_urls(self) -> tuple[str, ...]:
        return self.advertise_client_urls or self.listen_client_urls

    def validate(self, name: Naming | None = None) -> None:
        """Check what a member cannot run with (module rules).

        Args:
            name: how the source names a field (``flag_naming``, the default, or ``toml_naming``);
                errors are keyed by it and mention other settings by it.

        Raises:
            ConfigError: ``key`` names the setting at fault.
        """
        name = name or flag_naming(StoreConfig)
        for field in ("listen_client_urls", "advertise_client_urls", "listen_peer_urls",
                      "initial_advertise_peer_urls"):
            for url in getattr(self, field):
                if not is_url(url):
                    raise ConfigError(f"{url!r} is not http(s)://HOST:PORT", key=name(field))
        if self.initial_cluster_state not in INITIAL_CLUSTER_STATES:
            raise ConfigError(f"{self.initial_cluster_state!r} is not one of "
                              f"{', '.join(INITIAL_CLUSTER_STATES)}", key=name("initial_cluster_state"))
        self._validate_tls(name, "")
        self._validate_tls(name, "peer_")
        self._validate_auth(name)
        members = self.initial_members(name)
        self._validate_https(name, members)
        if members:
            self._validate_member(name, members)
        elif self.initial_cluster_state == "existing":
            raise ConfigError("is required to join an existing cluster (its members and this one)",
                              key=name("initial_cluster"))

    def _validate_tls(self, name: Naming, prefix: str) -> None:
        """The client (``prefix`` empty) or peer (``peer_``) TLS files: both or none, existing, and a CA
        for client certificate authentication."""
        cert, key, ca, auth = (f"{prefix}cert_file", f"{prefix}key_file", f"{prefix}trusted_ca_file",
                               f"{prefix}client_cert_auth")
        for given, other in ((cert, key), (key, cert)):
            if getattr(self, given) is not None and getattr(self, other) is None:
                raise ConfigError(f"needs {name(other)} as well", key=name(given))
        for field in (cert, key, ca):
            path = getattr(self, field)
            if path is not None and not path.is_file():
                raise ConfigError(f"no such file: {path}", key=name(field))
        if getattr(self, auth) and getattr(self, ca) is None:
            raise ConfigError(f"{name(auth)} needs {name(ca)}", key=name(auth))

    def _validate_auth(self, name: Naming) -> None:
        """The values a flag's reading cannot check: the bcrypt cost given to the dataclass, the JWT key
        files (``_auth_token`` rule 4; what they hold is read when the member starts)."""
        if self.bcrypt_cost not in BCRYPT_COSTS:
            raise ConfigError(f"must be at least {BCRYPT_COSTS.start} and at most {BCRYPT_COSTS.stop - 1}, "
                              f"not {self.bcrypt_cost}", key=name("bcrypt_cost"))
        options = self.auth_token.jwt
        for path in (options.public_key, options.private_key) if options is not None else ():
            if path is not None and not path.is_file():
                raise ConfigError(f"auth: invalid auth options (open {path}: no such file)",
                                  key=name("auth_token"))

    def _validate_https(self, name: Naming, members: dict[str, tuple[str, ...]]) -> None:
        """Rule 2."""
        for url in self.listen_client_urls:
            if url.startswith("https:") and (self.cert_file is None or self.key_file is None):
                raise ConfigError(f"{url} needs {name('cert_file')} and {name('key_file')}",
                                  key=name("listen_client_urls"))
        if self.peer_cert_file is not None:
            return
        initial = tuple(url for urls in members.values() for url in urls)
        for field, urls in (("listen_peer_urls", self.listen_peer_urls),
                            ("initial_advertise_peer_urls", self.initial_advertise_peer_urls),
                            ("initial_cluster", initial)):
            for url in urls:
                if url.startswith("https:"):
                    raise ConfigError(f"{url} needs {name('peer_cert_file')} and {name('peer_key_file')} "
                                      f"(peer TLS)", key=name(field))

    def _validate_member(self, name: Naming, members: dict[str, tuple[str, ...]]) -> None:
        """Rule 3."""
        if self.name not in members:
            raise ConfigError(f"{self.name!r} is not a member of {name('initial_cluster')} "
                              f"({', '.join(sorted(members))})", key=name("name"))
        if not self.listen_peer_urls:
            raise ConfigError(f"is required with {name('initial_cluster')} (where the other members "
                              f"reach this one)", key=name("listen_peer_urls"))
        if sorted(members[self.name]) != sorted(self.peer_urls):
            field = "initial_advertise_peer_urls" if self.initial_advertise_peer_urls else "listen_peer_urls"
            raise ConfigError(f"{', '.join(self.peer_urls)} is not what {name('initial_cluster')} gives "
                              f"{self.name} ({', '.join(members[self.name])})", key=name(field))

    def initial_members(self, name: Naming | None = None) -> dict[str, tuple[str, ...]]:
        """NAME -> peer URLs, from ``initial_cluster`` (a name repeats once per URL).

        Raises:
            ConfigError: an item is not ``NAME=http(s)://HOST:PORT``.
        """
        members: dict[str, tuple[str, ...]] = {}
        for item in filter(None, (part.strip() for part in self.initial_cluster.split(","))):
            member, sep, url = item.partition("=")
            if not sep or not member or not is_url(url):
                key = (name or flag_naming(StoreConfig))("initial_cluster")
                raise ConfigError(f"{item!r} is not NAME=http://HOST:PORT", key=key)
            members[member] = (*members.get(member, ()), url)
        return members


def is_url(url: str, *, port_required: bool = True) -> bool:
    """Whether ``url`` is ``http(s)://HOST:PORT`` (an optional trailing ``/``; the port optional unless
    ``port_required``)."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname) \
        and (port is not None or not port_required) and parts.path in ("", "/")
