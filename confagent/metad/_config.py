"""``MetadConfig``: everything ``confagent metad`` is configured with, checked by ``validate()``.

Defaults are metad's: data port ``:80`` (every interface), management API
``127.0.0.1:9611`` (loopback: it has no authentication), group ``default``,
no data prefix. The store is the embedded one (metad's ``local``, but
durable) or an etcd cluster.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from confagent.backends import BackendConfig
from confagent.errors import ConfigError
from confagent.metad._paths import Layout
from confagent.metad._proxies import LOOPBACK_PROXIES, ClientAddresses
from confagent.metad._service import ServiceLimits
from confagent.settings import flag_naming

__all__ = ["DEFAULT_LISTEN", "DEFAULT_LISTEN_MANAGE", "MetadConfig", "parse_address"]

DEFAULT_LISTEN = ":80"
DEFAULT_LISTEN_MANAGE = "127.0.0.1:9611"
STORE_BACKENDS = ("embedded", "etcd")
EMBEDDED = BackendConfig()
"""metad's store unless configured: the embedded one, whose data directory must be given."""


@dataclass(frozen=True, slots=True)
class MetadConfig:
    """The service's settings (flags of ``confagent metad``).

    Attributes:
        store: where the data lives: the backend options (``confagent.backends.BackendConfig``), of
            which metad takes ``embedded`` (its ``data_dir`` and ``listen_client_urls``) or ``etcd``
            (its ``nodes`` and client TLS).
        prefix: the store key prefix of the data.
        group: the namespace of mappings and rules.
        listen: the data port, ``HOST:PORT`` (empty host: every interface).
        listen_manage: the management API, ``HOST:PORT``.
        xff: honour ``X-Forwarded-For`` (from loopback proxies unless ``trusted_proxies`` is set).
        trusted_proxies: CIDRs of the proxies whose ``X-Forwarded-For`` is honoured.
        limits: wait and visibility bounds.
    """

    store: BackendConfig = EMBEDDED
    prefix: str = ""
    group: str = "default"
    listen: str = DEFAULT_LISTEN
    listen_manage: str = DEFAULT_LISTEN_MANAGE
    xff: bool = False
    trusted_proxies: tuple[str, ...] = ()
    limits: ServiceLimits = field(default_factory=ServiceLimits)

    def validate(self) -> None:
        """Raises:
        ConfigError: a setting the service cannot run with; ``key`` names the flag.
        """
        if self.store.backend not in STORE_BACKENDS:
            raise ConfigError(f"{self.store.backend!r} is not one of {', '.join(STORE_BACKENDS)}",
                              key="--backend")
        if self.store.backend == "embedded" and self.store.store.data_dir is None:
            raise ConfigError("the embedded store needs a data directory", key="--data-dir")
        if self.limits.wait_max_s <= 0 or self.limits.visible_timeout_s <= 0:
            raise ConfigError("must be more than 0 s", key="--wait-max")
        parse_address(self.listen, "--listen")
        parse_address(self.listen_manage, "--listen-manage")
        self.layout()
        self.client_addresses()
        self.store.validate(flag_naming(BackendConfig))

    def layout(self) -> Layout:
        return Layout(self.prefix, self.group)

    def client_addresses(self) -> ClientAddresses:
        """Whose ``X-Forwarded-For`` is honoured: the trusted proxies, loopback for ``--xff`` alone."""
        if self.trusted_proxies:
            return ClientAddresses.from_cidrs(self.trusted_proxies)
        return ClientAddresses.from_cidrs(LOOPBACK_PROXIES if self.xff else ())


def parse_address(text: str, option: str) -> tuple[str, int]:
    """``HOST:PORT`` -> ``(host, port)``; an empty host is every IPv4 interface, ``[::1]`` is ``::1``.

    Raises:
        ConfigError: not ``HOST:PORT`` with a port in 0-65535 (``key`` is ``option``).
    """
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or int(port) > 65535:
        raise ConfigError(f"{text!r} is not HOST:PORT", key=option)
    return host.strip("[]") or "0.0.0.0", int(port)
