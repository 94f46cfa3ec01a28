"""etcd's simple tokens as a pure table: who holds which token, until when.

Rules (etcd 3.4's ``auth/simple_token.go``):

- A token is 16 random letters (``a-zA-Z``), a dot, and the Raft index of the
  ``Authenticate`` entry that made it: ``"AbcdEfghIjklMnop.42"``. The letters
  come from the member that proposed it, so every member that applies the
  entry knows the same token.
- A token lives ``ttl_s`` (etcd's ``--auth-token-ttl``, 300 s by default) past
  its last use: each use renews it; an expired one is dropped (etcd sweeps
  every second; here a token past its time is dropped when it is looked up or
  :meth:`SimpleTokens.expire` runs).
- Deleting a user or changing its password drops that user's tokens (and
  nothing else does: revoking a role keeps them, the checks see the change).
  Disabling auth drops every token; while auth is disabled none is kept.

Time and randomness are parameters: ``now`` in seconds on any monotonic clock,
and a random source with ``randrange`` (a ``random.SystemRandom`` at the edge).
"""

from __future__ import annotations

import re
from typing import Protocol

from confagent.auth._commands import AuthDisable, AuthEnable, Command, UserChangePassword, UserDelete

__all__ = ["DEFAULT_TOKEN_TTL_S", "RandomSource", "SimpleTokens", "new_token_prefix", "token_index"]

DEFAULT_TOKEN_TTL_S = 300.0
TOKEN_LETTERS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
TOKEN_PREFIX_LENGTH = 16
_INDEX = re.compile(r"[+-]?[0-9]+")  # what Go's strconv.Atoi takes


class RandomSource(Protocol):
    def randrange(self, stop: int, /) -> int: ...


def new_token_prefix(random: RandomSource) -> str:
    """A simple token's random part: 16 letters drawn from ``random``."""
    return "".join(TOKEN_LETTERS[random.randrange(len(TOKEN_LETTERS))] for _ in range(TOKEN_PREFIX_LENGTH))


def token_index(token: str) -> int | None:
    """The Raft index a simple token names (the member waits until it has applied it), or
    ``None`` when ``token`` has not a simple token's shape (one dot, a decimal after it)."""
    parts = token.split(".")
    if len(parts) != 2 or not _INDEX.fullmatch(parts[1]):
        return None
    return int(parts[1])


class SimpleTokens:
    """The simple tokens a member holds: token -> (user, expiry)."""

    def __init__(self, ttl_s: float = DEFAULT_TOKEN_TTL_S, *, enabled: bool = False) -> None:
        self.ttl_s = ttl_s if ttl_s > 0 else DEFAULT_TOKEN_TTL_S
        self.enabled = enabled
        self._tokens: dict[str, tuple[str, float]] = {}

    def __len__(self) -> int:
        return len(self._tokens)

    def enable(self) -> None:
        self.enabled = True

    def disable(self) -> None:
        """Auth disabled: every token goes."""
        self.enabled = False
        self._tokens.clear()

    def assign(self, prefix: str, index: int, user: str, now: float) -> str:
        """The token of the ``Authenticate`` entry at ``index`` with ``prefix``, now ``user``'s.

        While auth is disabled the token is made but not kept (etcd does the same).
        """
        token = f"{prefix}.{index}"
        if not self.enabled:
            return token
        if token in self._tokens:
            raise AssertionError(f"simple token of entry {index} assigned twice")
        self._tokens[token] = (user, now + self.ttl_s)
        return token

    def user_of(self, token: str, now: float) -> str | None:
        """The user holding ``token``, renewing it; ``None`` for an unknown or expired token."""
        held = self._tokens.get(token)
        if held is None or token_index(token) is None:
            return None
        user, expiry = held
        if now > expiry:
            del self._tokens[token]
            return None
        self._tokens[token] = (user, now + self.ttl_s)
        return user

    def expire(self, now: float) -> int:
        """Drop every token past its time; how many went."""
        expired = [token for token, (_, expiry) in self._tokens.items() if now > expiry]
        for token in expired:
            del self._tokens[token]
        return len(expired)

    def invalidate_user(self, user: str) -> None:
        """Drop every token of ``user``."""
        for token in [token for token, (holder, _) in self._tokens.items() if holder == user]:
            del self._tokens[token]

    def applied(self, command: Command) -> None:
        """What a successfully applied ``command`` does to the tokens (etcd's ``invalidateUser``,
        ``enable`` and ``disable``)."""
        match command:
            case UserDelete(name=name) | UserChangePassword(name=name):
                self.invalidate_user(name)
            case AuthEnable():
                self.enable()
            case AuthDisable():
                self.disable()
