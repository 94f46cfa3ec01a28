"""Which tokens a member hands out (``--auth-token``): the one place a ``TokenProvider`` is chosen.

``TokenSettings`` is the member's choice as a value (it travels in the node's
configuration); ``provider()`` makes the provider a member holds: ``SimpleTokens``
living ``simple_ttl_s`` past their last use, ``JwtTokens`` with the keys given,
or ``NoTokens`` (etcd's empty ``--auth-token``).
"""

from __future__ import annotations

from dataclasses import dataclass

from confagent.auth._jwt import JwtKeys, JwtTokens
from confagent.auth._tokens import DEFAULT_TOKEN_TTL_S, NoTokens, SimpleTokens, TokenProvider

__all__ = ["TOKEN_KINDS", "TokenSettings"]

TOKEN_KINDS = ("simple", "jwt", "")


@dataclass(frozen=True, slots=True)
class TokenSettings:
    """A member's tokens: ``kind`` (``simple``, ``jwt``, or ``""`` for none), the simple tokens'
    lifetime, the JWT keys (``kind`` ``jwt`` alone, and then required)."""

    kind: str = "simple"
    simple_ttl_s: float = DEFAULT_TOKEN_TTL_S
    jwt: JwtKeys | None = None

    def __post_init__(self) -> None:
        if self.kind not in TOKEN_KINDS or (self.jwt is not None) != (self.kind == "jwt"):
            raise ValueError(f"token kind {self.kind!r} with{'' if self.jwt else 'out'} JWT keys")

    def provider(self, *, enabled: bool) -> TokenProvider:
        """A new provider, for a store whose auth is ``enabled`` or not."""
        match self.kind:
            case "jwt":
                assert self.jwt is not None
                return JwtTokens(self.jwt)
            case "simple":
                return SimpleTokens(self.simple_ttl_s, enabled=enabled)
            case _:
                return NoTokens()
