"""The JWT core's claims: etcd's names out, jwt-go's time checks in (``auth._jwt``, time a parameter)."""

from __future__ import annotations

import pytest

from confagent.auth import AuthInfo, credentials_from_claims, jwt_claims


def test_claims_are_etcds_in_gos_order() -> None:
    claims = jwt_claims(AuthInfo("alice", 7), now_unix_s=1_000.9, ttl_s=300)
    assert list(claims.items()) == [("exp", 1_300), ("revision", 7), ("username", "alice")]
    assert credentials_from_claims(claims, 1_000) == AuthInfo("alice", 7)


@pytest.mark.parametrize(("claims", "now", "who"), [
    ({"exp": 100, "revision": 3, "username": "u"}, 100, AuthInfo("u", 3)),  # the last second still holds
    ({"exp": 100, "revision": 3, "username": "u"}, 101, None),
    ({"revision": 3.0, "username": "u"}, 10**12, AuthInfo("u", 3)),  # no exp: no end (jwt-go)
    ({"nbf": 50, "revision": 3, "username": "u"}, 49, None),
    ({"iat": 50, "revision": 3, "username": "u"}, 50, AuthInfo("u", 3)),
    ({"iat": 50, "revision": 3, "username": "u"}, 49, None),
    ({"exp": "100", "revision": 3, "username": "u"}, 1, None),
    ({"exp": 100, "revision": True, "username": "u"}, 1, None),
    ({"exp": 100, "revision": 3}, 1, None),
    ({"exp": 100, "username": "u"}, 1, None),
])
def test_time_and_shape(claims: dict[str, object], now: int, who: AuthInfo | None) -> None:
    assert credentials_from_claims(claims, now) == who
