"""The outside world a template may ask about, injected so that rendering stays pure.

``Host`` is what the agent gives (the real environment, clock, resolver and
file system) and tests replace with ``StaticHost`` (``_static_host``). ``HostFunctions`` are
confd's ``getenv datetime lookupIP lookupIPV4 lookupIPV6 lookupSRV
fileExists`` over a host, noting in the render's ``ReadLog`` that the output
depends on it. Differences from confd (confd.md §4.2, §10.6):

* A failed DNS lookup is a render error, not a silent empty list; pass
  ``default=[]`` to get the old leniency explicitly.
* ``datetime`` is also usable as ``datetime.Format(layout)`` (confd's
  ``{{datetime.Format "..."}}``); a render that uses it is marked ``clock``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from confagent.errors import RenderError, ResolveError
from confagent.render._reads import ReadLog
from confagent.render._store_functions import require_str

if TYPE_CHECKING:
    from confagent.render._gotime import GoTime

__all__ = ["SRV", "Host", "HostFunctions"]


@dataclass(frozen=True, slots=True)
class SRV:
    """One SRV record, with Go's ``net.SRV`` field names (``Target`` keeps its final dot)."""

    Target: str
    Port: int
    Priority: int = 0
    Weight: int = 0

    @property
    def target(self) -> str:
        return self.Target

    @property
    def port(self) -> int:
        return self.Port

    @property
    def priority(self) -> int:
        return self.Priority

    @property
    def weight(self) -> int:
        return self.Weight


class Host(Protocol):
    """What templates may learn from outside the store. Lookups raise ``ResolveError``."""

    def getenv(self, name: str) -> str | None:
        """The environment variable ``name``, None when unset."""
        ...

    def now(self) -> datetime:
        """The current time, timezone-aware."""
        ...

    def lookup_ip(self, name: str) -> Sequence[str]:
        """The addresses of host ``name`` as text (IPv4 and IPv6)."""
        ...

    def lookup_srv(self, service: str, proto: str, name: str) -> Sequence[SRV]:
        """The records of ``_service._proto.name`` (of ``name`` when service and proto are empty)."""
        ...

    def file_exists(self, path: str) -> bool:
        """Whether ``path`` exists (only "does not exist" is False)."""
        ...


class Clock:
    """confd's ``datetime``: call it for a ``GoTime``, or use a ``GoTime`` method on it directly.

    ``GoTime`` (its class and its layout's regexes) is loaded by the first template that asks for the
    time: most render none.
    """

    __slots__ = ("_host", "_log")

    def __init__(self, host: Host, log: ReadLog) -> None:
        self._host = host
        self._log = log

    def __call__(self) -> GoTime:
        from confagent.render._gotime import GoTime  # noqa: PLC0415 - see the class docstring

        self._log.clock = True
        return GoTime(self._host.now())

    def __getattr__(self, name: str) -> Any:
        from confagent.render._gotime import GoTime  # noqa: PLC0415 - see the class docstring

        if name.startswith("_") or not hasattr(GoTime, name):
            raise AttributeError(name)
        return getattr(self(), name)


class HostFunctions:
    """The host functions of one render."""

    __slots__ = ("_host", "_log")

    def __init__(self, host: Host, log: ReadLog) -> None:
        self._host = host
        self._log = log

    def functions(self) -> dict[str, Callable[..., Any]]:
        """The functions under confd's names."""
        return {
            "getenv": self.getenv, "datetime": Clock(self._host, self._log), "lookupIP": self.lookup_ip,
            "lookupIPV4": self.lookup_ipv4, "lookupIPV6": self.lookup_ipv6, "lookupSRV": self.lookup_srv,
            "fileExists": self.file_exists,
        }

    def getenv(self, name: str, default: str = "") -> str:
        """The variable ``name``; ``default`` when it is unset *or empty* (as confd)."""
        self._log.environment = True
        return self._host.getenv(require_str("getenv", name)) or default

    def lookup_ip(self, name: str, default: Sequence[str] | None = None) -> list[str]:
        """The addresses of ``name``, sorted as text; ``default`` or an error when it does not resolve."""
        self._log.dns = True
        try:
            return sorted(self._host.lookup_ip(require_str("lookupIP", name)))
        except ResolveError as error:
            if default is None:
                raise RenderError(f"lookupIP: {error}", key=name) from error
            return list(default)

    def lookup_ipv4(self, name: str, default: Sequence[str] | None = None) -> list[str]:
        return [address for address in self.lookup_ip(name, default) if "." in address]

    def lookup_ipv6(self, name: str, default: Sequence[str] | None = None) -> list[str]:
        return [address for address in self.lookup_ip(name, default) if ":" in address]

    def lookup_srv(
        self, service: str, proto: str, name: str, default: Sequence[SRV] | None = None
    ) -> list[SRV]:
        """The SRV records, in confd's order (target, port, priority, weight as one string)."""
        self._log.dns = True
        try:
            records = self._host.lookup_srv(service, proto, require_str("lookupSRV", name))
        except ResolveError as error:
            if default is None:
                raise RenderError(f"lookupSRV: {error}", key=name) from error
            return list(default)
        return sorted(records, key=lambda r: f"{r.Target}{r.Port}{r.Priority}{r.Weight}")

    def file_exists(self, path: str) -> bool:
        self._log.files = True
        return self._host.file_exists(require_str("fileExists", path))
