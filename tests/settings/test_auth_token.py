"""``--auth-token``, ``--auth-token-ttl`` and ``--bcrypt-cost`` read as etcd 3.4 reads them (which specs
etcd itself takes or refuses is tests/e2e/test_auth_tokens.py's differential test)."""

from __future__ import annotations

from pathlib import Path

import pytest

from confagent.errors import ConfigError
from confagent.settings import DEFAULT_JWT_TTL_S, AuthTokenSpec, JwtOptions, StoreConfig, parse_auth_token


def test_simple_is_the_default_and_takes_any_well_formed_options() -> None:
    assert StoreConfig().auth_token == AuthTokenSpec("simple") == parse_auth_token("simple")
    assert str(StoreConfig().auth_token) == "simple"
    assert parse_auth_token("simple,foo=bar").kind == "simple"
    assert parse_auth_token("").kind == ""  # etcd's token-less provider


def test_jwt_options(tmp_path: Path) -> None:
    text = "jwt,pub-key=k.pub,priv-key=/abs/k,sign-method=ES384,ttl=1m30s,color=red"
    spec = parse_auth_token(text, tmp_path)
    assert spec.kind == "jwt"
    assert spec.jwt == JwtOptions("ES384", 90.0, tmp_path / "k.pub", Path("/abs/k"), ("color",))
    assert parse_auth_token("jwt,pub-key=k,sign-method=RS256").jwt == JwtOptions(
        "RS256", DEFAULT_JWT_TTL_S, Path.cwd() / "k", None)


@pytest.mark.parametrize(("text", "words"), [
    ("bogus", "auth: invalid auth options (unknown token type 'bogus'"),
    ("jwt,priv-key", "auth: invalid auth options ('priv-key' is not NAME=VALUE)"),
    ("jwt,a=b=c", "auth: invalid auth options ('a=b=c' is not NAME=VALUE)"),
    ("simple,a=1,a=2", "auth: invalid auth options (a given twice)"),
    ("jwt,priv-key=k,sign-method=XX256", "auth: invalid auth options (invalid auth signature method 'XX256'"),
    ("jwt,priv-key=k", "auth: invalid auth options (invalid auth signature method ''"),
    ("jwt,priv-key=k,sign-method=RS256,ttl=5x", "auth: invalid auth options (ttl: "),
    ("jwt,sign-method=RS256", "auth: missing key data (priv-key or pub-key is required)"),
    ("jwt,pub-key=k,sign-method=HS256", "auth: missing key data (priv-key is required)"),
])
def test_refused_with_etcds_words(text: str, words: str) -> None:
    with pytest.raises(ValueError) as refused:
        parse_auth_token(text)
    assert str(refused.value).startswith(words)


def test_store_config_names_the_flag(tmp_path: Path) -> None:
    missing = tmp_path / "nope.key"
    config = StoreConfig(auth_token=parse_auth_token(f"jwt,priv-key={missing},sign-method=RS256"))
    with pytest.raises(ConfigError) as refused:
        config.validate()
    assert str(refused.value) == f"--auth-token: auth: invalid auth options (open {missing}: no such file)"
    for cost in (3, 32):
        words = f"^--bcrypt-cost: must be at least 4 and at most 31, not {cost}$"
        with pytest.raises(ConfigError, match=words):
            StoreConfig(bcrypt_cost=cost).validate()
    StoreConfig(bcrypt_cost=4).validate()
