"""Token providers: what ``Authenticate`` hands out and what a call's token stands for.

``TokenProvider`` is the one seam: a member holds one provider, chosen by
``TokenSettings.provider()`` from ``--auth-token`` (``simple``, ``jwt`` in
``_jwt``, or none), and asks it for a token when an ``Authenticate`` entry applies
and for the credentials of every call's token. ``SimpleTokens`` is etcd's simple
token table; ``NoTokens`` etcd's "nop" provider (``--auth-token ''``: every
``Authenticate`` fails).

Rules of simple tokens (etcd 3.4's ``auth/simple_token.go``):

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

Time and randomness are parameters: ``now`` is an ``Instant`` (simple tokens read
its monotonic seconds, JWTs its Unix seconds), and a random source with
``randrange`` (a ``random.SystemRandom`` at the edge).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Protocol

from confagent.auth._commands import AuthDisable, AuthEnable, Command, UserChangePassword, UserDelete
from confagent.auth._values import AuthInfo
from confagent.errors import AuthFailed

__all__ = ["DEFAULT_TOKEN_TTL_S", "Instant", "NoTokens", "RandomSource", "SimpleTokens", "TokenProvider",
           "new_token_prefix", "token_index"]

DEFAULT_TOKEN_TTL_S = 300.0
TOKEN_LETTERS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
TOKEN_PREFIX_LENGTH = 16
_INDEX = re.compile(r"[+-]?[0-9]+")  # what Go's strconv.Atoi takes


class RandomSource(Protocol):
    def randrange(self, stop: int, /) -> int: ...


@dataclass(frozen=True, slots=True)
class Instant:
    """Now, on the two clocks tokens use: a monotonic one (simple tokens' lifetimes) and the Unix
    time (a JWT's ``exp``, which every member reads alike)."""

    monotonic_s: float
    unix_s: float


class TokenProvider(Protocol):
    """What a member asks of its tokens (module docstring); every call is made on the member's
    loop, in log order for ``assign`` and ``applied``."""

    def assign(self, prefix: str, index: int, who: AuthInfo, now: Instant) -> str:
        """The token of the ``Authenticate`` entry at ``index`` with ``prefix`` (random letters its
        proposer put in it), for ``who`` (its user and the auth revision it applied at).

        Raises:
            AuthError: this member cannot issue one (etcd's error, the proposer's answer).
        """
        ...

    def credentials_of(self, token: str, revision: int, now: Instant) -> AuthInfo | None:
        """Who ``token`` stands for now (``revision``: the member's auth revision), or None."""
        ...

    def applied(self, command: Command) -> None:
        """What an applied auth command does to the tokens."""
        ...

    def awaited_index(self, token: str) -> int | None:
        """The log index a member must have applied before it can tell who ``token`` is (a simple
        token's entry: etcd's simple tokens wait for it), or None."""
        ...

    def restored(self, enabled: bool) -> None:
        """The auth state was replaced by a snapshot's, with auth ``enabled`` or not."""
        ...


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
    """The simple tokens a member holds: token -> (user, expiry). A ``TokenProvider`` through
    ``assign``, ``credentials_of``, ``applied`` and ``restored``."""

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

    def awaited_index(self, token: str) -> int | None:
        """The index of the entry that made ``token`` (its suffix), while auth is enabled."""
        return token_index(token) if self.enabled else None

    def restored(self, enabled: bool) -> None:
        """Tokens stay only while auth stays enabled."""
        if enabled:
            self.enable()
        else:
            self.disable()

    def assign(self, prefix: str, index: int, who: AuthInfo, now: Instant) -> str:
        """The token of the ``Authenticate`` entry at ``index`` with ``prefix``, now ``who``'s.

        While auth is disabled the token is made but not kept (etcd does the same).
        """
        return self.assign_user(prefix, index, who.user, now.monotonic_s)

    def credentials_of(self, token: str, revision: int, now: Instant) -> AuthInfo | None:
        """The user holding ``token`` at the member's ``revision`` (renewing it), or None."""
        user = self.user_of(token, now.monotonic_s)
        return AuthInfo(user, revision) if user is not None else None

    def assign_user(self, prefix: str, index: int, user: str, now: float) -> str:
        """``assign`` on the monotonic clock alone."""
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


class NoTokens:
    """etcd's "nop" provider (``--auth-token ''``): no token is ever issued or known."""

    def assign(self, prefix: str, index: int, who: AuthInfo, now: Instant) -> str:
        raise AuthFailed()

    def credentials_of(self, token: str, revision: int, now: Instant) -> AuthInfo | None:
        return None

    def applied(self, command: Command) -> None:
        return None

    def awaited_index(self, token: str) -> int | None:
        return None

    def restored(self, enabled: bool) -> None:
        return None
