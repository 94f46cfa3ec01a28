"""Simple tokens as etcd 3.4's simple_token.go keeps them: shape, expiry renewed by use, invalidation."""

from __future__ import annotations

import random
import re

import pytest

from confagent.auth import (
    DEFAULT_TOKEN_TTL_S,
    AuthDisable,
    AuthEnable,
    RoleAdd,
    SimpleTokens,
    UserChangePassword,
    UserDelete,
    UserGrantRole,
    new_token_prefix,
    token_index,
)


def test_a_token_is_16_letters_a_dot_and_the_entrys_index() -> None:
    prefix = new_token_prefix(random.Random(7))
    assert re.fullmatch(r"[a-zA-Z]{16}", prefix)
    assert prefix == new_token_prefix(random.Random(7)) != new_token_prefix(random.Random(8))
    tokens = SimpleTokens(enabled=True)
    token = tokens.assign_user(prefix, 42, "u", now=0.0)
    assert token == f"{prefix}.42" and token_index(token) == 42


@pytest.mark.parametrize(("token", "index"), [
    ("abc.12", 12), ("abc.+5", 5), ("abc.-5", -5), ("abc", None), ("abc.", None), ("a.b.1", None),
    ("abc.1x", None), ("abc. 1", None), ("", None),
])
def test_token_index_reads_what_etcd_reads(token: str, index: int | None) -> None:
    assert token_index(token) == index


def test_a_token_lives_its_ttl_past_its_last_use() -> None:
    tokens = SimpleTokens(ttl_s=10.0, enabled=True)
    token = tokens.assign_user("p" * 16, 1, "u", now=100.0)
    assert tokens.user_of(token, 110.0) == "u"  # at its expiry still good; renewed to 120
    assert tokens.user_of(token, 119.5) == "u"
    assert tokens.user_of(token, 129.6) is None  # past 129.5
    assert len(tokens) == 0
    assert tokens.user_of("nope.1", 0.0) is None


def test_expire_drops_what_is_past_its_time() -> None:
    tokens = SimpleTokens(ttl_s=5.0, enabled=True)
    first = tokens.assign_user("a" * 16, 1, "u", now=0.0)
    second = tokens.assign_user("b" * 16, 2, "v", now=3.0)
    assert tokens.expire(6.0) == 1
    assert tokens.user_of(first, 6.0) is None and tokens.user_of(second, 6.0) == "v"


def test_the_default_ttl_is_etcds_300_s() -> None:
    assert SimpleTokens().ttl_s == DEFAULT_TOKEN_TTL_S == 300.0
    assert SimpleTokens(ttl_s=0).ttl_s == 300.0


def test_a_token_assigned_while_auth_is_disabled_is_not_kept() -> None:
    tokens = SimpleTokens()
    token = tokens.assign_user("a" * 16, 1, "u", now=0.0)
    assert tokens.user_of(token, 0.0) is None


def test_a_token_assigned_twice_is_a_broken_invariant() -> None:
    tokens = SimpleTokens(enabled=True)
    tokens.assign_user("a" * 16, 1, "u", now=0.0)
    with pytest.raises(AssertionError):
        tokens.assign_user("a" * 16, 1, "v", now=0.0)


def test_deleting_a_user_or_changing_its_password_drops_its_tokens_and_nothing_else_does() -> None:
    tokens = SimpleTokens(enabled=True)
    u1, u2 = tokens.assign_user("a" * 16, 1, "u", 0.0), tokens.assign_user("b" * 16, 2, "u", 0.0)
    v = tokens.assign_user("c" * 16, 3, "v", 0.0)
    tokens.applied(UserGrantRole("u", "r"))
    tokens.applied(RoleAdd("r"))
    assert tokens.user_of(u1, 1.0) == "u"
    tokens.applied(UserChangePassword("u", b"h"))
    assert tokens.user_of(u1, 1.0) is None and tokens.user_of(u2, 1.0) is None
    assert tokens.user_of(v, 1.0) == "v"
    tokens.applied(UserDelete("v"))
    assert len(tokens) == 0


def test_disabling_auth_drops_every_token_and_enabling_starts_afresh() -> None:
    tokens = SimpleTokens()
    tokens.applied(AuthEnable())
    token = tokens.assign_user("a" * 16, 1, "u", 0.0)
    tokens.applied(AuthDisable())
    assert not tokens.enabled and tokens.user_of(token, 0.0) is None
    tokens.applied(AuthEnable())
    assert tokens.user_of(token, 0.0) is None
    assert tokens.user_of(tokens.assign_user("a" * 16, 1, "u", 0.0), 0.0) == "u"
