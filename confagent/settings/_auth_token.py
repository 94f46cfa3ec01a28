"""``--auth-token``: etcd 3.4's token specification read into a value (``AuthTokenSpec``).

Rules (etcd 3.4's ``decomposeOpts`` and ``NewTokenProvider`` in ``auth/store.go``,
``jwtOptions`` in ``auth/options.go``):

1. The text is cut at commas: the first item is the token type, every other item
   is one ``NAME=VALUE`` (no ``=``, or a second one, and a name given twice are
   refused), whatever the type.
2. The types are ``simple`` (random tokens held by every member), ``jwt`` (signed
   tokens) and the empty text (no tokens: every ``Authenticate`` fails, etcd's "nop"
   provider); any other is refused.
3. ``jwt`` takes ``sign-method`` (jwt-go's names: ``RS``, ``PS``, ``ES`` or ``HS``
   with ``256``, ``384`` or ``512``), ``pub-key`` and ``priv-key`` (files; a
   relative path is under the source's directory) and ``ttl`` (a Go duration,
   default 5m). ``HS*`` signs with the private key file's bytes. Other option names
   are ignored, as etcd ignores them (with a warning): they are kept in ``unknown``.
4. Refusals carry etcd's words: ``auth: invalid auth options`` for a malformed
   text, an unknown type, a bad ``ttl`` or method; ``auth: missing key data`` for a
   ``jwt`` without a key it can use. Whether the files exist and hold keys of the
   method's kind is the caller's check (``StoreConfig.validate``; the member's
   bootstrap reads them).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from confagent.settings._duration import go_duration_ns

__all__ = ["DEFAULT_JWT_TTL_S", "JWT_METHODS", "AuthTokenSpec", "JwtOptions", "parse_auth_token"]

DEFAULT_JWT_TTL_S = 300.0
"""etcd's ``DefaultTTL`` of a JWT (5 minutes)."""
JWT_METHODS = tuple(f"{family}{bits}" for family in ("RS", "PS", "ES", "HS") for bits in (256, 384, 512))
"""The signing methods jwt-go knows and etcd can key."""
TOKEN_TYPES = ("simple", "jwt", "")
INVALID_OPTIONS = "auth: invalid auth options"
MISSING_KEY = "auth: missing key data"


@dataclass(frozen=True, slots=True)
class JwtOptions:
    """A ``jwt`` token's options (rule 3)."""

    sign_method: str
    ttl_s: float = DEFAULT_JWT_TTL_S
    public_key: Path | None = None
    private_key: Path | None = None
    unknown: tuple[str, ...] = ()
    """Option names etcd does not know, ignored."""

    @property
    def family(self) -> str:
        """``RS``, ``PS``, ``ES`` or ``HS``."""
        return self.sign_method[:2]


@dataclass(frozen=True, slots=True)
class AuthTokenSpec:
    """What ``--auth-token`` says: the token type and, for ``jwt``, its options."""

    text: str = "simple"
    """The flag's text, as given."""
    jwt: JwtOptions | None = None

    @property
    def kind(self) -> str:
        """``simple``, ``jwt`` or ``""`` (no tokens)."""
        return self.text.split(",", 1)[0]

    def __str__(self) -> str:
        return self.text


def parse_auth_token(value: object, base: Path | None = None) -> AuthTokenSpec:
    """``--auth-token``'s text as a spec (module rules); relative key paths under ``base``.

    Raises:
        ValueError: etcd's refusal, with what was wrong.
    """
    if not isinstance(value, str):
        raise ValueError(f"must be a string like \"simple\" or \"jwt,sign-method=RS256,...\", not {value!r}")
    kind, *items = value.split(",")
    options: dict[str, str] = {}
    for item in items:
        pair = item.split("=")
        if len(pair) != 2:
            raise ValueError(f"{INVALID_OPTIONS} ({item!r} is not NAME=VALUE)")
        if pair[0] in options:
            raise ValueError(f"{INVALID_OPTIONS} ({pair[0]} given twice)")
        options[pair[0]] = pair[1]
    if kind not in TOKEN_TYPES:
        raise ValueError(f"{INVALID_OPTIONS} (unknown token type {kind!r}: simple or jwt)")
    if kind != "jwt":
        return AuthTokenSpec(value)
    return AuthTokenSpec(value, _jwt_options(options, base or Path.cwd()))


def _jwt_options(options: dict[str, str], base: Path) -> JwtOptions:
    """Rule 3."""
    ttl_s = DEFAULT_JWT_TTL_S
    if options.get("ttl"):
        try:
            ttl_s = go_duration_ns(options["ttl"]) / 1e9
        except ValueError as error:
            raise ValueError(f"{INVALID_OPTIONS} (ttl: {error})") from None
    method = options.get("sign-method", "")
    if method not in JWT_METHODS:
        raise ValueError(f"{INVALID_OPTIONS} (invalid auth signature method {method!r}: one of "
                         f"{', '.join(JWT_METHODS)})")
    public, private = (_path(options.get(name, ""), base) for name in ("pub-key", "priv-key"))
    if private is None and (public is None or method.startswith("HS")):
        raise ValueError(f"{MISSING_KEY} (priv-key{'' if method.startswith('HS') else ' or pub-key'} "
                         f"is required)")
    unknown = tuple(sorted(set(options) - {"ttl", "sign-method", "pub-key", "priv-key"}))
    return JwtOptions(method, ttl_s, public, private, unknown)


def _path(text: str, base: Path) -> Path | None:
    if not text:
        return None
    path = Path(text).expanduser()
    return path if path.is_absolute() else base / path
