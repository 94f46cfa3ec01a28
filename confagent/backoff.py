"""Jittered exponential backoff between attempts to reach a store, bounded.

The n-th failure in a row waits ``min(max_s, initial_s * multiplier**(n-1))``
shortened by a random fraction of at most ``jitter`` ("equal jitter"), so
many agents (or registrants) that lost the same store do not come back in lockstep.
Randomness is injected (``random.Random``) so tests can fix it.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from confagent.errors import ConfigError

__all__ = ["Backoff", "BackoffPolicy"]


@dataclass(frozen=True, slots=True)
class BackoffPolicy:
    """The bounds of a backoff; validated on creation."""

    initial_s: float = 0.1
    max_s: float = 10.0
    multiplier: float = 2.0
    jitter: float = 0.5
    """The largest fraction of a delay taken off at random (0: no jitter, 1: anywhere in [0, d])."""

    def __post_init__(self) -> None:
        if not 0 < self.initial_s <= self.max_s:
            raise ConfigError(f"backoff: need 0 < initial_s <= max_s, got {self.initial_s}, {self.max_s}")
        if self.multiplier < 1:
            raise ConfigError(f"backoff: multiplier must be >= 1, got {self.multiplier}")
        if not 0 <= self.jitter <= 1:
            raise ConfigError(f"backoff: jitter must be within [0, 1], got {self.jitter}")


class Backoff:
    """Counts failures in a row and says how long to wait before the next attempt."""

    def __init__(self, policy: BackoffPolicy, rng: random.Random) -> None:
        self.policy = policy
        self.failures = 0
        self._rng = rng

    def next_delay_s(self, *, first_free: bool = False) -> float:
        """Count one more failure; the seconds to wait before trying again.

        With ``first_free``, the first failure in a row waits 0 (for problems one
        retry usually fixes, such as a compacted watch); the next ones back off.
        """
        self.failures += 1
        if first_free and self.failures == 1:
            return 0.0
        policy = self.policy
        exponent = min(self.failures - (2 if first_free else 1), 64)  # the cap is reached long before
        delay = min(policy.max_s, policy.initial_s * policy.multiplier ** exponent)
        return delay * (1 - policy.jitter * self._rng.random())

    def reset(self) -> None:
        """An attempt succeeded: the next failure waits ``initial_s`` again."""
        self.failures = 0
