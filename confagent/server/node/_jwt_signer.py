"""A member's JWT signer (``--auth-token jwt,...``): PyJWT over the keys read from their PEM text.

The claims and their checks are the auth core's (``confagent.auth._jwt``); this
module signs and verifies them, and turns key files' text into keys.

Rules (etcd 3.4's ``auth/options.go`` and ``auth/jwt.go``):

1. ``RS*`` and ``PS*`` take RSA keys, ``ES*`` EC keys (PEM, PKCS#1, SEC 1 or PKCS#8 and
   SubjectPublicKeyInfo), ``HS*`` the private key file's bytes as the secret.
2. Without a private key the signer verifies only; without either key it is
   ``auth: missing key data``.
3. Given both, they must match as etcd checks it: an RSA pair whose exponent and
   modulus both differ, or an EC pair whose curve and both coordinates differ, is
   ``auth: public and private keys don't match``; tokens then verify with the
   private key's own public half, as etcd's do.
4. A token verifies only with the configured method (``alg``); the time claims are
   left to the core, on the member's clock.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

__all__ = ["PyJwtSigner", "jwt_signer"]

_TIME_CLAIMS_LEFT_TO_THE_CORE: Any = {"verify_exp": False, "verify_nbf": False, "verify_iat": False,
                                      "verify_aud": False, "verify_iss": False}


class PyJwtSigner:
    """An ``auth.JwtSigner`` with PyJWT (module rules)."""

    def __init__(self, sign_method: str, verify_key: Any, signing_key: Any | None) -> None:
        self.sign_method = sign_method
        self._verify_key = verify_key
        self._signing_key = signing_key

    @property
    def can_sign(self) -> bool:
        return self._signing_key is not None

    def sign(self, claims: Mapping[str, object]) -> str:
        assert self._signing_key is not None, "a verify-only signer signs nothing"
        return jwt.encode(dict(claims), self._signing_key, algorithm=self.sign_method)

    def verify(self, token: str) -> Mapping[str, object] | None:
        try:
            claims: dict[str, object] = jwt.decode(token, self._verify_key, algorithms=[self.sign_method],
                                                   options=_TIME_CLAIMS_LEFT_TO_THE_CORE)
        except jwt.InvalidTokenError:
            return None
        return claims


def jwt_signer(sign_method: str, private_pem: bytes | None, public_pem: bytes | None) -> PyJwtSigner:
    """The signer of ``sign_method`` from PEM text (rules 1-3).

    Raises:
        ValueError: etcd's refusal, or what the PEM text is not.
    """
    if sign_method.startswith("HS"):
        if not private_pem:
            raise ValueError("auth: missing key data")
        return PyJwtSigner(sign_method, private_pem, private_pem)
    elliptic = sign_method.startswith("ES")
    private = _loaded(private_pem, elliptic, private=True)
    public = _loaded(public_pem, elliptic, private=False)
    if private is None:
        if public is None:
            raise ValueError("auth: missing key data")
        return PyJwtSigner(sign_method, public, None)
    if public is not None and _mismatched(private.public_key(), public):
        raise ValueError("auth: public and private keys don't match")
    return PyJwtSigner(sign_method, private.public_key(), private)


def _loaded(pem: bytes | None, elliptic: bool, *, private: bool) -> Any:
    if not pem:
        return None
    which = "private" if private else "public"
    try:
        key: Any = serialization.load_pem_private_key(pem, None) if private \
            else serialization.load_pem_public_key(pem)
    except (ValueError, TypeError) as error:
        raise ValueError(f"the {which} key is not a PEM key: {error}") from None
    kinds: tuple[type[Any], ...] = (ec.EllipticCurvePrivateKey, ec.EllipticCurvePublicKey) if elliptic \
        else (rsa.RSAPrivateKey, rsa.RSAPublicKey)
    if not isinstance(key, kinds):
        raise ValueError(f"the {which} key is not an {'EC' if elliptic else 'RSA'} key")
    return key


def _mismatched(mine: Any, given: Any) -> bool:
    """Rule 3: only keys different in every part are refused."""
    a, b = mine.public_numbers(), given.public_numbers()
    if isinstance(mine, rsa.RSAPublicKey):
        return bool(a.e != b.e and a.n != b.n)
    return bool(a.curve.name != b.curve.name and a.x != b.x and a.y != b.y)
