"""When to renew a lease and when to take it as lost: a pure core, shared by everything the client keeps
under a lease (a registration, a lock's or an election's session).

:class:`RenewalSchedule` decides; its owner makes the calls it asks for and
reports how they went, with times on its own monotonic clock (time and
randomness are parameters). Rules:

1. A grant or a renewal sent at time ``s`` and answered with TTL ``t``: the
   lease lives until ``s + t`` at least. The next renewal is ``t/3`` later
   (clientv3's rhythm).
2. A renewal answered with TTL 0: the lease is gone (expired or revoked): lost.
3. A call without an answer (no endpoint reachable, "unavailable", an
   ambiguous write): try again after a jittered exponential backoff; while the
   lease may still live, no later than ``t/3`` and no later than its deadline.
4. A failure at or past the lease's deadline: the store was unreachable for
   longer than the TTL, so the lease must be taken as expired: lost.

What a loss means is the owner's business: a registration starts over with a
new lease (the step after a loss says REGISTER), a session ends.
"""

from __future__ import annotations

import enum
import random
from dataclasses import dataclass

from confagent.backoff import Backoff, BackoffPolicy

__all__ = ["RenewalAction", "RenewalSchedule", "RenewalStep"]


class RenewalAction(enum.Enum):
    REGISTER = "register"
    """Grant a new lease (and, for a registration, put the key with it)."""
    RENEW = "renew"
    """Renew the current lease once."""


@dataclass(frozen=True, slots=True)
class RenewalStep:
    """What to do next: ``action`` after ``delay_s``. ``lost`` marks the outcome that lost the lease."""

    action: RenewalAction
    delay_s: float
    lost: bool = False

    def __post_init__(self) -> None:
        assert self.delay_s >= 0, f"a step's delay must be >= 0, got {self.delay_s}"


class RenewalSchedule:
    """The renew / grant-again decisions of the module rules, over times the caller passes in.

    Times are float seconds on the caller's monotonic clock; ``deadline_s`` is
    when the lease expires at the latest by what the store last said (None: no
    lease is believed alive).
    """

    def __init__(self, retry: BackoffPolicy, rng: random.Random) -> None:
        self._backoff = Backoff(retry, rng)
        self.ttl_s = 0
        self.deadline_s: float | None = None

    @property
    def alive(self) -> bool:
        return self.deadline_s is not None

    def start(self) -> RenewalStep:
        return RenewalStep(RenewalAction.REGISTER, 0.0)

    def registered(self, ttl_s: int, *, sent_at_s: float) -> RenewalStep:
        """The grant (with TTL ``ttl_s``) and the put sent from ``sent_at_s`` on succeeded."""
        return self._alive(ttl_s, sent_at_s)

    def renewed(self, ttl_s: int, *, sent_at_s: float) -> RenewalStep:
        """A renewal sent at ``sent_at_s`` was answered with ``ttl_s`` (rules 1 and 2)."""
        if ttl_s <= 0:
            return self._lose(delay_s=0.0)
        return self._alive(ttl_s, sent_at_s)

    def failed(self, now_s: float) -> RenewalStep:
        """A call got no answer at ``now_s`` (rules 3 and 4)."""
        delay_s = self._backoff.next_delay_s()
        if self.deadline_s is None:
            return RenewalStep(RenewalAction.REGISTER, delay_s)
        if now_s >= self.deadline_s:
            return self._lose(delay_s)
        return RenewalStep(RenewalAction.RENEW, min(delay_s, self.ttl_s / 3, self.deadline_s - now_s))

    def _alive(self, ttl_s: int, sent_at_s: float) -> RenewalStep:
        assert ttl_s > 0, f"a live lease has a positive TTL, got {ttl_s}"
        self._backoff.reset()
        self.ttl_s = ttl_s
        self.deadline_s = sent_at_s + ttl_s
        return RenewalStep(RenewalAction.RENEW, ttl_s / 3)

    def _lose(self, delay_s: float) -> RenewalStep:
        lost = self.deadline_s is not None
        self.deadline_s = None
        return RenewalStep(RenewalAction.REGISTER, delay_s, lost=lost)
