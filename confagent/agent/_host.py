"""``SystemHost``: the real outside world templates may ask about (``confagent.render.Host``).

Rules:
1. ``getenv`` reads the process environment at each call, ``now`` is the UTC
   wall clock, ``file_exists`` asks the file system.
2. ``lookup_ip`` resolves with the system resolver (``getaddrinfo``, so
   ``/etc/hosts`` counts, as Go's resolver does); it blocks the render, which
   is bounded by the resolver's own timeout. Failures are ``ResolveError``.
3. ``lookup_srv`` queries DNS with dnspython (the standard library has no SRV
   query), reading ``/etc/resolv.conf`` as Go's resolver does unless
   nameservers are given; records come back ordered by priority, then weight
   (heaviest first), then target and port, so a render is deterministic where
   Go shuffles equal weights. No answer, an unknown name or a timeout is a
   ``ResolveError``, which a template ignores with ``default=[]``.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Sequence
from datetime import UTC, datetime

from confagent.errors import ResolveError
from confagent.render import SRV

__all__ = ["SystemHost"]


SRV_TIMEOUT_S = 5.0
"""How long one SRV lookup may take by default, all nameservers and retries included."""


class SystemHost:
    """The process environment, the clock, the system resolver and the file system.

    ``nameservers`` (``(address, port)`` pairs) replace ``/etc/resolv.conf``'s for SRV lookups,
    each of which may take ``srv_timeout_s`` at most.
    """

    __slots__ = ("_nameservers", "_srv_timeout_s")

    def __init__(self, nameservers: Sequence[tuple[str, int]] = (),
                 srv_timeout_s: float = SRV_TIMEOUT_S) -> None:
        self._nameservers = tuple(nameservers)
        self._srv_timeout_s = srv_timeout_s

    def getenv(self, name: str) -> str | None:
        return os.environ.get(name)

    def now(self) -> datetime:
        return datetime.now(UTC)

    def lookup_ip(self, name: str) -> Sequence[str]:
        try:
            infos = socket.getaddrinfo(name, None, proto=socket.IPPROTO_TCP)
        except (socket.gaierror, UnicodeError) as error:
            raise ResolveError(f"lookup {name}: {error}") from None
        return sorted({str(info[4][0]) for info in infos})

    def lookup_srv(self, service: str, proto: str, name: str) -> Sequence[SRV]:
        import dns.exception  # noqa: PLC0415 - only templates that look up SRV records pay for it
        import dns.resolver  # noqa: PLC0415

        record = f"_{service}._{proto}.{name}" if service or proto else name
        resolver = dns.resolver.Resolver(configure=not self._nameservers)
        if self._nameservers:
            resolver.nameservers = [address for address, _port in self._nameservers]
            resolver.nameserver_ports = dict(self._nameservers)
        try:
            answer = resolver.resolve(record, "SRV", lifetime=self._srv_timeout_s, search=False)
        except dns.resolver.NXDOMAIN:
            raise ResolveError(f"lookup {record}: no such host") from None
        except dns.exception.DNSException as error:
            raise ResolveError(f"lookup {record}: {error}") from None
        found = [SRV(r.target.to_text(), r.port, r.priority, r.weight) for r in answer]
        return sorted(found, key=lambda srv: (srv.Priority, -srv.Weight, srv.Target, srv.Port))

    def file_exists(self, path: str) -> bool:
        return os.path.exists(path)
