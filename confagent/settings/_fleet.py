"""``FleetConfig``: whether the agent publishes its summary for the fleet view (``[fleet]``), declared once.

Rules:
1. Publishing is opt-in (``publish``): the store's key space is the user's,
   so nothing is written there unless asked for. The summary goes under the
   reserved prefix ``/confagent/fleet/`` (``confagent.agent._fleet``), one
   key per ``name`` (the host name by default; agents sharing a host give
   each its own).
2. The key is written under a lease of ``ttl``: a dead agent's summary is
   gone at most ``ttl`` after it died.
"""

from __future__ import annotations

from dataclasses import dataclass

from confagent.errors import ConfigError
from confagent.settings._declare import setting
from confagent.settings._kinds import BOOLEAN, DURATION, TEXT

__all__ = ["DEFAULT_FLEET_TTL_S", "FleetConfig"]

DEFAULT_FLEET_TTL_S = 30.0


@dataclass(frozen=True, slots=True)
class FleetConfig:
    """The agent's summary in the store for ``confagent status --fleet`` (module rules)."""

    publish: bool = setting(False, flag="fleet-publish", kind=BOOLEAN, toml="publish",
                            help="publish a summary of this agent's state under /confagent/fleet/ in the "
                                 "store it reads (embedded or etcd), for status --fleet and the page")
    name: str | None = setting(None, flag="fleet-name", kind=TEXT, toml="name", metavar="NAME",
                               default_text="the host name",
                               help="this agent's name in the fleet view (its key under /confagent/fleet/)")
    ttl_s: float = setting(DEFAULT_FLEET_TTL_S, flag="fleet-ttl", kind=DURATION, toml="ttl",
                           metavar="DURATION",
                           help="the lease of the published summary: a dead agent's goes this long after")

    def validate(self) -> None:
        if self.ttl_s < 1:
            raise ConfigError(f"must be at least 1 s (a lease's TTL), not {self.ttl_s:g} s", key="fleet.ttl")
        if self.name is not None and (not self.name or "/" in self.name):
            raise ConfigError(f"{self.name!r} must be a non-empty name without '/'", key="fleet.name")
