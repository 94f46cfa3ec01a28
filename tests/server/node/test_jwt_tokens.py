"""JWT tokens on a member: PyJWT's signer over keys from PEM text (``node._jwt_signer``), the provider
(``auth.JwtTokens``), and a real StoreNode handing them out through its log. Keys are made in-process
by ``cryptography``; the same flags against etcd 3.4 are tests/e2e/test_auth_tokens.py's."""

from __future__ import annotations

import asyncio
import base64
import json
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from confagent import auth
from confagent.auth import AuthInfo, Instant, JwtKeys, JwtTokens, Permission, PermissionType, TokenSettings
from confagent.errors import AuthOldRevision, VerifyOnly
from confagent.kv import PutRequest
from confagent.server.node import NodeConfig, StoreNode, jwt_signer

HASH = b"$2b$04$" + b"x" * 53
READWRITE = PermissionType.READWRITE
NOW = Instant(monotonic_s=5.0, unix_s=1_700_000_000.0)


def pems(key: Any) -> tuple[bytes, bytes]:
    private = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    public = key.public_key().public_bytes(serialization.Encoding.PEM,
                                           serialization.PublicFormat.SubjectPublicKeyInfo)
    return private, public


RSA = pems(rsa.generate_private_key(public_exponent=65537, key_size=2048))
OTHER_RSA = pems(rsa.generate_private_key(public_exponent=65537, key_size=2048))
EC = pems(ec.generate_private_key(ec.SECP256R1()))
HMAC_SECRET = b"s" * 64


def claims_of(token: str) -> dict[str, Any]:
    body = token.split(".")[1]
    decoded: dict[str, Any] = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    return decoded


@pytest.mark.parametrize(("method", "keys"), [("RS256", RSA), ("PS384", RSA), ("ES256", EC),
                                              ("HS512", (HMAC_SECRET, None))])
def test_a_token_signed_by_one_verifies_on_another_with_the_public_key(method: str, keys: Any) -> None:
    issuer = JwtTokens(JwtKeys(jwt_signer(method, keys[0], keys[1]), ttl_s=60))
    token = issuer.assign("ignored", 9, AuthInfo("alice", 4), NOW)
    assert claims_of(token) == {"exp": 1_700_000_060, "revision": 4, "username": "alice"}
    public_only = None if method.startswith("HS") else jwt_signer(method, None, keys[1])
    verifier = issuer if public_only is None else JwtTokens(JwtKeys(public_only, 60))
    assert verifier.credentials_of(token, 99, NOW) == AuthInfo("alice", 4)  # the token's revision
    assert verifier.credentials_of(token, 99, Instant(0, NOW.unix_s + 61)) is None  # expired
    assert verifier.credentials_of(token[:-4] + "AAAA", 99, NOW) is None  # badly signed
    assert verifier.credentials_of("abcdefghijklmnop.3", 99, NOW) is None  # a simple token


def test_a_verify_only_member_cannot_issue_and_other_keys_or_methods_do_not_verify() -> None:
    with pytest.raises(VerifyOnly, match=r"^auth: token signing attempted with verify-only key$"):
        JwtTokens(JwtKeys(jwt_signer("RS256", None, RSA[1]), 60)).assign("", 1, AuthInfo("a", 1), NOW)
    token = JwtTokens(JwtKeys(jwt_signer("RS256", *RSA), 60)).assign("", 1, AuthInfo("a", 1), NOW)
    for method, public in (("RS256", OTHER_RSA[1]), ("RS384", RSA[1])):
        assert JwtTokens(JwtKeys(jwt_signer(method, None, public), 60)).credentials_of(token, 1, NOW) is None


def test_keys_are_refused_as_etcd_refuses_them() -> None:
    with pytest.raises(ValueError, match=r"^auth: missing key data$"):
        jwt_signer("RS256", None, None)
    with pytest.raises(ValueError, match=r"^auth: missing key data$"):
        jwt_signer("HS256", None, b"anything")
    with pytest.raises(ValueError, match="not an EC key"):
        jwt_signer("ES256", RSA[0], None)
    with pytest.raises(ValueError, match="not a PEM key"):
        jwt_signer("RS256", b"-----BEGIN PRIVATE KEY-----\nnope\n-----END PRIVATE KEY-----\n", None)
    # etcd's pair check refuses only keys different in every part: two RSA keys share e = 65537
    signer = jwt_signer("RS256", RSA[0], OTHER_RSA[1])
    assert signer.verify(signer.sign({"username": "a"})) == {"username": "a"}


def test_a_member_hands_out_jwts_through_its_log(tmp_path: Path) -> None:
    tokens = TokenSettings("jwt", jwt=JwtKeys(jwt_signer("ES256", *EC), ttl_s=300))

    async def scenario() -> None:
        node = await StoreNode.open(NodeConfig(data_dir=tmp_path, member_id=1, cluster_id=1,
                                               auth_tokens=tokens))
        await node.start()
        try:
            for command in (auth.UserAdd("root", HASH), auth.UserGrantRole("root", "root"),
                            auth.UserAdd("app", HASH), auth.RoleAdd("app"), auth.UserGrantRole("app", "app"),
                            auth.RoleGrantPermission("app", Permission(b"a/", b"a0", READWRITE)),
                            auth.AuthEnable()):
                await node.propose_auth(command, None)
            token = await node.propose_auth(auth.Authenticate("app", "abcdefghijklmnop"), None)
            assert token is not None and set(claims_of(token)) == {"exp", "revision", "username"}
            app = node.auth.credentials_of(token, asyncio.get_running_loop().time())
            assert app == AuthInfo("app", node.auth.state.revision)
            await node.propose(PutRequest(b"a/x", b"1"), app)
            await node.propose_auth(auth.RoleAdd("later"), AuthInfo("root", node.auth.state.revision))
            later = node.auth.credentials_of(token, asyncio.get_running_loop().time())
            assert later == app  # still the revision it was issued at: the client signs in again
            with pytest.raises(AuthOldRevision):
                await node.propose(PutRequest(b"a/x", b"2"), later)
        finally:
            await node.stop()

    asyncio.run(scenario())


def test_verified_tokens_are_kept_within_a_bound_and_still_expire() -> None:
    tokens = JwtTokens(JwtKeys(jwt_signer("ES256", *EC), ttl_s=60))
    first = tokens.assign("", 1, AuthInfo("u0", 1), NOW)
    assert tokens.credentials_of(first, 1, NOW) == AuthInfo("u0", 1)
    assert tokens.credentials_of(first, 1, Instant(0, NOW.unix_s + 61)) is None  # kept, and expired
    for n in range(1, auth.VERIFIED_TOKENS + 1):
        token = tokens.assign("", 1, AuthInfo(f"u{n}", 1), NOW)
        assert tokens.credentials_of(token, 1, NOW) == AuthInfo(f"u{n}", 1)
    assert len(tokens._verified) == auth.VERIFIED_TOKENS and first not in tokens._verified
    assert tokens.credentials_of(first, 1, NOW) == AuthInfo("u0", 1)  # verified again
