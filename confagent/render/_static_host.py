"""``StaticHost``: a ``Host`` with fixed answers, for tests and dry runs.

Its own module, loaded on first use (``confagent.render``'s lazy names): the
agent renders with its ``SystemHost``, and a one-shot's start-up need not make
this class.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from confagent.errors import ResolveError
from confagent.render._host import SRV

__all__ = ["StaticHost"]


@dataclass(frozen=True, slots=True)
class StaticHost:
    """A ``Host`` with fixed answers, for tests and dry runs; its clock stands at Go's reference time."""

    environ: Mapping[str, str] = field(default_factory=dict)
    time: datetime = datetime(2006, 1, 2, 15, 4, 5, tzinfo=UTC)
    addresses: Mapping[str, Sequence[str]] = field(default_factory=dict)
    services: Mapping[tuple[str, str, str], Sequence[SRV]] = field(default_factory=dict)
    files: frozenset[str] = frozenset()

    def getenv(self, name: str) -> str | None:
        return self.environ.get(name)

    def now(self) -> datetime:
        return self.time

    def lookup_ip(self, name: str) -> Sequence[str]:
        if name not in self.addresses:
            raise ResolveError(f"lookup {name}: no such host")
        return self.addresses[name]

    def lookup_srv(self, service: str, proto: str, name: str) -> Sequence[SRV]:
        if (service, proto, name) not in self.services:
            raise ResolveError(f"lookup _{service}._{proto}.{name}: no such host")
        return self.services[service, proto, name]

    def file_exists(self, path: str) -> bool:
        return path in self.files
