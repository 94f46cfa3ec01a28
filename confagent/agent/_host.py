"""``SystemHost``: the real outside world templates may ask about (``confagent.render.Host``).

Rules:
1. ``getenv`` reads the process environment at each call, ``now`` is the UTC
   wall clock, ``file_exists`` asks the file system.
2. ``lookup_ip`` resolves with the system resolver (``getaddrinfo``, so
   ``/etc/hosts`` counts, as Go's resolver does); it blocks the render, which
   is bounded by the resolver's own timeout. Failures are ``ResolveError``.
3. ``lookup_srv`` needs a DNS library the agent does not ship (the standard
   library has no SRV query): it raises a ``ResolveError`` saying so, which a
   template turns into a render error, or ignores with ``default=[]``.
   Decided on purpose: a half-built resolver of our own would fail in ways
   ``/etc/resolv.conf`` users would not expect.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Sequence
from datetime import UTC, datetime

from confagent.errors import ResolveError
from confagent.render import SRV

__all__ = ["SystemHost"]


class SystemHost:
    """The process environment, the clock, the system resolver and the file system."""

    __slots__ = ()

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
        record = f"_{service}._{proto}.{name}" if service or proto else name
        raise ResolveError(f"lookup {record}: SRV lookups need a DNS resolver library (dnspython), "
                           "which this agent does not ship; use lookupIP, or default=[]")

    def file_exists(self, path: str) -> bool:
        return os.path.exists(path)
