"""etcd's JWT tokens (``--auth-token jwt,...``): claims signed by one member, verified by any.

Rules (etcd 3.4's ``auth/jwt.go``, jwt-go's ``MapClaims``):

1. A token is a JWT signed with the configured method and private key whose
   claims are etcd's: ``username``, ``revision`` (the auth revision it was issued
   at) and ``exp`` (Unix seconds: issued + ``ttl``). Any member with the public key
   verifies it: no member keeps a table, so a token is good on every member, and
   nothing but ``exp`` ends it (auth disable, a password change, deleting the user
   do not; the checks see the user and its roles as they are, and a request whose
   revision is older than the store's is ``AuthOldRevision``, so clients sign in
   again).
2. A token verifies only with the configured method (the signer's check); then
   its ``exp`` (when present) must not be past, its ``nbf`` and ``iat`` (when
   present) not ahead; its ``username`` must be text and ``revision`` a number.
   Anything else stands for nobody (the edge answers ``InvalidAuthToken``).
3. A member given only the public key verifies but cannot issue: its
   ``Authenticate`` is ``VerifyOnly`` (etcd's ``ErrVerifyOnly``).
4. A signature is checked once per token: the claims of the ``VERIFIED_TOKENS``
   tokens used last are kept (a client sends its token with every request, and a
   check costs 60-100 us), and their time claims are checked on every use.

Pure: the claims go in and out here, time is an ``Instant``; signing and
verifying (PyJWT over the keys read from files) is the edge's ``JwtSigner``.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

from confagent.auth._commands import Command
from confagent.auth._tokens import Instant
from confagent.auth._values import AuthInfo
from confagent.errors import VerifyOnly

__all__ = ["VERIFIED_TOKENS", "JwtKeys", "JwtSigner", "JwtTokens", "credentials_from_claims", "jwt_claims"]

Claims = Mapping[str, object]
VERIFIED_TOKENS = 1024
"""Verified tokens whose claims a member keeps (rule 4)."""


class JwtSigner(Protocol):
    """Signs and verifies JWTs with one method and key pair (the edge's, with PyJWT)."""

    @property
    def can_sign(self) -> bool:
        """Whether it holds the private key (rule 3)."""
        ...

    def sign(self, claims: Claims) -> str:
        ...

    def verify(self, token: str) -> Claims | None:
        """The claims of a token signed with this method and key, else None; no claim checked."""
        ...


@dataclass(frozen=True, slots=True)
class JwtKeys:
    """A member's JWT signer and the lifetime of the tokens it issues (``ttl=``, default 5m)."""

    signer: JwtSigner
    ttl_s: float


def jwt_claims(who: AuthInfo, now_unix_s: float, ttl_s: float) -> dict[str, object]:
    """etcd's claims of a token for ``who`` issued now (rule 1), in Go's key order."""
    return {"exp": int(now_unix_s + ttl_s), "revision": who.revision, "username": who.user}


def credentials_from_claims(claims: Claims, now_unix_s: float) -> AuthInfo | None:
    """Who verified ``claims`` stand for at ``now_unix_s`` (rule 2), or None."""
    now_s = int(now_unix_s)
    for name, not_before in (("exp", False), ("iat", True), ("nbf", True)):
        at = claims.get(name)
        if at is None:
            continue
        if isinstance(at, bool) or not isinstance(at, int | float):
            return None
        if (now_s < int(at)) if not_before else (now_s > int(at)):
            return None
    user, revision = claims.get("username"), claims.get("revision")
    if not isinstance(user, str) or isinstance(revision, bool) or not isinstance(revision, int | float):
        return None
    return AuthInfo(user, int(revision))


class JwtTokens:
    """A ``TokenProvider`` of JWTs (module rules): it keeps nothing."""

    def __init__(self, keys: JwtKeys) -> None:
        self.keys = keys
        self._verified: OrderedDict[str, Claims] = OrderedDict()

    def assign(self, prefix: str, index: int, who: AuthInfo, now: Instant) -> str:
        """Rule 1 (``prefix`` and ``index`` unused); rule 3 raises ``VerifyOnly``."""
        signer = self.keys.signer
        if not signer.can_sign:
            raise VerifyOnly()
        return signer.sign(jwt_claims(who, now.unix_s, self.keys.ttl_s))

    def credentials_of(self, token: str, revision: int, now: Instant) -> AuthInfo | None:
        """Rule 2: the token's own user and revision (``revision``, the member's, is unused); rule 4."""
        claims = self._verified.get(token)
        if claims is None:
            claims = self.keys.signer.verify(token)
            if claims is None:
                return None
            self._verified[token] = claims
            if len(self._verified) > VERIFIED_TOKENS:
                self._verified.popitem(last=False)
        else:
            self._verified.move_to_end(token)
        return credentials_from_claims(claims, now.unix_s)

    def applied(self, command: Command) -> None:
        return None

    def awaited_index(self, token: str) -> int | None:
        return None

    def restored(self, enabled: bool) -> None:
        return None
