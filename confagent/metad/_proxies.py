"""Who is asking: the client address of a data-port request, ``X-Forwarded-For`` included (pure).

Rules:
1. Without trusted proxies the client is the TCP peer, whatever the headers say.
2. A request whose TCP peer is a trusted proxy is from the address its
   ``X-Forwarded-For`` names: the list (headers joined, comma-separated) is
   read from the right, skipping trusted proxies; the first other address is
   the client, or the leftmost when every one is trusted. metad takes the
   whole header as one address, so a chain ``a, b`` fails there.
3. A malformed address in a trusted request's header is a
   ``MetadRequestError`` (400), never a guess.
4. ``--xff`` alone trusts loopback proxies (``127.0.0.0/8`` and ``::1``);
   ``--trusted-proxies`` names the proxies instead.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass

from confagent.errors import ConfigError, MetadRequestError
from confagent.metad._paths import normalize_ip

__all__ = ["LOOPBACK_PROXIES", "ClientAddresses"]

_Network = ipaddress.IPv4Network | ipaddress.IPv6Network

LOOPBACK_PROXIES = ("127.0.0.0/8", "::1/128")


@dataclass(frozen=True, slots=True)
class ClientAddresses:
    """How a request's client address is found (module rules).

    Attributes:
        trusted: networks of the proxies whose ``X-Forwarded-For`` is believed (empty: nobody's).
    """

    trusted: tuple[_Network, ...] = ()

    @classmethod
    def from_cidrs(cls, cidrs: Iterable[str]) -> ClientAddresses:
        """Trust the proxies in ``cidrs`` (``10.0.0.0/8``, ``192.168.1.10``).

        Raises:
            ConfigError: a CIDR does not parse (``key`` is ``--trusted-proxies``).
        """
        networks: list[_Network] = []
        for cidr in cidrs:
            try:
                networks.append(ipaddress.ip_network(cidr.strip(), strict=False))
            except ValueError:
                raise ConfigError(f"{cidr!r} is not an IP network (CIDR)", key="--trusted-proxies") from None
        return cls(tuple(networks))

    def client_ip(self, peer: str, forwarded_for: str | None) -> str:
        """The client address of a request from TCP peer ``peer`` with that header (module rules).

        Raises:
            MetadRequestError: the peer is trusted and the header names something not an address.
        """
        client = normalize_ip(peer) or peer
        if not forwarded_for or not self._trusts(client):
            return client
        hops = [hop.strip() for hop in forwarded_for.split(",")]
        addresses: list[str] = []
        for hop in hops:
            address = normalize_ip(hop)
            if address is None:
                raise MetadRequestError(f"X-Forwarded-For holds {hop!r}, which is not an IP address")
            addresses.append(address)
        for address in reversed(addresses[1:]):
            if not self._trusts(address):
                return address
        return addresses[0]

    def _trusts(self, address: str) -> bool:
        if not self.trusted:
            return False
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False  # not an IP peer (a Unix socket): never a proxy
        return any(ip in network for network in self.trusted)
