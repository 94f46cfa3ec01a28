"""Auth tokens and their flags on the store side, against a real etcd 3.4 where it can answer:
``--auth-token`` specs taken or refused alike, JWTs with etcd's claims that verify with the public key
(and across servers), a verify-only member, a token good on every member of a 3-member cluster
(simple and JWT), a simple token unused past ``--auth-token-ttl``, and ``--bcrypt-cost`` in the
stored hash. Key pairs are made by openssl; every port is a free one from the kit.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import jwt
import pytest

from confagent.testing import Processes, ServerProcess, b64, free_port, post, unb64, until

PASSWORDS = {"root": "rootpw", "alice": "alicepw"}


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory, subprocesses: None) -> Path:
    """An RSA and an EC key pair (``rsa.key``/``rsa.pub``, ``ec.key``/``ec.pub``), made by openssl."""
    directory = tmp_path_factory.mktemp("keys")
    for argv in (["genrsa", "-out", "rsa.key", "2048"],
                 ["rsa", "-in", "rsa.key", "-pubout", "-out", "rsa.pub"],
                 ["ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", "ec.key"],
                 ["ec", "-in", "ec.key", "-pubout", "-out", "ec.pub"]):
        subprocess.run(["openssl", *argv], cwd=directory, check=True, capture_output=True)
    return directory


def rs256(keys: Path, *, private: bool = True) -> str:
    priv = f"priv-key={keys / 'rsa.key'}," if private else ""
    return f"jwt,pub-key={keys / 'rsa.pub'},{priv}sign-method=RS256"


def starts(start: Callable[[], ServerProcess]) -> bool:
    """Whether a server comes up healthy (True) or exits (False), as the kit reports it."""
    try:
        start()
    except RuntimeError as error:
        if " exited with " in str(error):
            return False
        raise
    return True


@pytest.mark.parametrize("spec", [
    "simple", "", "simple,color=red", "RS256", "RS256 public key alone", "ES256", "PS384 with ttl=10m",
    "HS256", "unknown option", "bogus", "jwt,priv-key", "duplicate option", "XX256", "missing file", "no key",
    "ES256 with an RSA key", "ttl=5x",
])
def test_both_take_or_refuse_the_same_auth_token_specs(spec: str, keys: Path, tmp_path: Path,
                                                       etcd_processes: Processes) -> None:
    rsa, ec = f"pub-key={keys / 'rsa.pub'},priv-key={keys / 'rsa.key'}", f"priv-key={keys / 'ec.key'}"
    text = {
        "RS256": rs256(keys), "RS256 public key alone": rs256(keys, private=False),
        "ES256": f"jwt,{ec},sign-method=ES256", "PS384 with ttl=10m": f"jwt,{rsa},sign-method=PS384,ttl=10m",
        "HS256": f"jwt,priv-key={keys / 'rsa.key'},sign-method=HS256",
        "unknown option": f"jwt,{rsa},sign-method=RS256,color=red",
        "duplicate option": f"jwt,{rsa},{rsa},sign-method=RS256", "XX256": f"jwt,{rsa},sign-method=XX256",
        "missing file": f"jwt,priv-key={tmp_path / 'none.key'},sign-method=RS256",
        "no key": "jwt,sign-method=RS256", "ES256 with an RSA key": f"jwt,{rsa},sign-method=ES256",
        "ttl=5x": f"jwt,{rsa},sign-method=RS256,ttl=5x",
    }.get(spec, spec)
    args = ["--auth-token", text]
    etcd = starts(lambda: etcd_processes.etcd(tmp_path / "etcd", args=args))
    ours = starts(lambda: etcd_processes.store(tmp_path / "ours", args=args))
    assert ours == etcd, f"etcd {'took' if etcd else 'refused'} --auth-token {text!r}"
    if not ours:
        assert not (tmp_path / "ours").exists(), "nothing is started for a refused spec"
        log = (tmp_path / "ours.log").read_text()
        assert "Error: --auth-token: auth: " in log or "Error: --auth-token: the " in log, log


def enable_auth(url: str) -> None:
    """root (role root) and alice (role app: read-write on /app/), then auth on; every call answered 200."""
    app = {"key": b64("/app/"), "range_end": b64("/app0"), "permType": "READWRITE"}
    for path, body in (("user/add", {"name": "root", "password": PASSWORDS["root"]}),
                       ("user/grant", {"user": "root", "role": "root"}), ("role/add", {"name": "app"}),
                       ("role/grant", {"name": "app", "perm": app}),
                       ("user/add", {"name": "alice", "password": PASSWORDS["alice"]}),
                       ("user/grant", {"user": "alice", "role": "app"}), ("enable", {})):
        answer = post(url, f"/v3/auth/{path}", body)
        assert answer.status_code == 200, (path, answer.text)


def sign_in(url: str, user: str) -> httpx.Response:
    return post(url, "/v3/auth/authenticate", {"name": user, "password": PASSWORDS[user]})


def token_of(url: str, user: str) -> str:
    answer = sign_in(url, user)
    assert answer.status_code == 200, answer.text
    token: str = answer.json()["token"]
    return token


def as_token(url: str, path: str, body: object, token: str) -> httpx.Response:
    return httpx.post(url + path, json=body, headers={"Authorization": token}, timeout=10.0)


def started_pair(processes: Processes, tmp_path: Path, name: str, args: list[str]) -> tuple[str, str]:
    """An etcd and a confagent store with ``args``, auth enabled on each alike: their URLs."""
    with ThreadPoolExecutor(2) as pool:
        etcd = pool.submit(processes.etcd, tmp_path / f"{name}-etcd", args=args)
        ours = pool.submit(processes.store, tmp_path / f"{name}-ours", args=args)
    urls = (etcd.result().url, ours.result().url)
    for url in urls:
        enable_auth(url)
    return urls


def test_jwts_carry_etcds_claims_verify_with_the_public_key_and_pass_between_servers(
        keys: Path, tmp_path: Path, etcd_processes: Processes) -> None:
    etcd, ours = started_pair(etcd_processes, tmp_path, "full", ["--auth-token", rs256(keys)])
    public = (keys / "rsa.pub").read_bytes()
    tokens = {url: token_of(url, "alice") for url in (etcd, ours)}
    claims = {url: jwt.decode(token, public, algorithms=["RS256"]) for url, token in tokens.items()}
    assert {url: jwt.get_unverified_header(token) for url, token in tokens.items()} == {
        url: {"alg": "RS256", "typ": "JWT"} for url in (etcd, ours)}
    assert sorted(claims[ours]) == sorted(claims[etcd]) == ["exp", "revision", "username"]
    assert claims[ours]["username"] == claims[etcd]["username"] == "alice"
    assert claims[ours]["revision"] == claims[etcd]["revision"]
    for issuer, user in ((etcd, ours), (ours, etcd)):  # one's token is good on the other: same keys
        put = as_token(user, "/v3/kv/put", {"key": b64("/app/x"), "value": b64(issuer)}, tokens[issuer])
        assert put.status_code == 200, put.text
        got = as_token(user, "/v3/kv/range", {"key": b64("/app/x")}, tokens[issuer]).json()
        assert unb64(got["kvs"][0]["value"]) == issuer
    forged = tokens[ours][:-6] + ("AAAAAA" if not tokens[ours].endswith("AAAAAA") else "BBBBBB")
    refused = {url: as_token(url, "/v3/kv/range", {"key": b64("/app/x")}, forged) for url in (etcd, ours)}
    assert refused[ours].status_code == refused[etcd].status_code
    assert refused[ours].json() == refused[etcd].json()


def test_an_expired_jwt_is_refused_alike(keys: Path, tmp_path: Path, etcd_processes: Processes) -> None:
    urls = started_pair(etcd_processes, tmp_path, "expiry", ["--auth-token", rs256(keys) + ",ttl=1s"])
    tokens = {url: token_of(url, "alice") for url in urls}
    unverified = {"verify_signature": False}
    expiry = max(int(jwt.decode(token, options=unverified)["exp"]) for token in tokens.values())
    # exp is in whole Unix seconds, compared with the servers' clock, the test's own
    until(lambda: time.time() > expiry + 1, "every token's exp passed")
    etcd, ours = (as_token(url, "/v3/kv/range", {"key": b64("/app/x")}, tokens[url]) for url in urls)
    assert (ours.status_code, ours.json()) == (etcd.status_code, etcd.json())
    assert ours.json()["error"] == "etcdserver: invalid auth token"


def test_a_member_with_the_public_key_alone_verifies_but_cannot_issue(
        keys: Path, tmp_path: Path, etcd_processes: Processes) -> None:
    args = ["--auth-token", rs256(keys, private=False)]
    etcd, ours = started_pair(etcd_processes, tmp_path, "public", args)
    answers = {url: sign_in(url, "alice") for url in (etcd, ours)}
    assert answers[ours].status_code == answers[etcd].status_code
    assert answers[ours].json() == answers[etcd].json()
    assert "verify-only" in answers[ours].json()["error"]
    issuer = etcd_processes.store(tmp_path / "issuer", args=["--auth-token", rs256(keys)]).url
    enable_auth(issuer)
    token = token_of(issuer, "alice")
    for url in (etcd, ours):
        got = as_token(url, "/v3/kv/range", {"key": b64("/app/x")}, token)
        assert got.status_code == 200, got.text


def applied_index(url: str) -> int:
    return int(post(url, "/v3/maintenance/status", {}).json()["raftAppliedIndex"])


@pytest.mark.parametrize("kind", ["simple", "jwt"])
def test_a_token_from_one_member_is_good_on_the_others(kind: str, keys: Path, tmp_path: Path,
                                                        processes: Processes) -> None:
    args = ["--auth-token", rs256(keys)] if kind == "jwt" else []
    members = processes.running_cluster(tmp_path / "cluster", 3, args=args)
    urls = [member.url for member in members]
    enable_auth(urls[0])
    token = token_of(urls[0], "alice")
    if kind == "jwt":
        # A simple token names its entry, which a member waits to have applied before it tells who
        # the token is (as etcd's), and the roles come before it in the log. A JWT names no entry:
        # a read on a member that has not yet applied the roles is checked against the older ones
        # (before its linearizable wait, unlike etcd), so this test lets them arrive first.
        issued_at = applied_index(urls[0])
        until(lambda: all(applied_index(url) >= issued_at for url in urls[1:]),
              "every member applied the roles and auth enable")
    put = as_token(urls[1], "/v3/kv/put", {"key": b64("/app/k"), "value": b64(kind)}, token)
    assert put.status_code == 200, put.text
    got = as_token(urls[2], "/v3/kv/range", {"key": b64("/app/k")}, token)
    assert got.status_code == 200 and unb64(got.json()["kvs"][0]["value"]) == kind, got.text
    refused = as_token(urls[2], "/v3/kv/range", {"key": b64("/other")}, token)
    assert refused.json()["error"] == "etcdserver: permission denied", refused.text


def test_a_simple_token_unused_past_the_ttl_is_refused(tmp_path: Path, etcd_processes: Processes) -> None:
    ttl_s = 2
    urls = started_pair(etcd_processes, tmp_path, "ttl", ["--auth-token-ttl", str(ttl_s)])
    tokens = {url: token_of(url, "alice") for url in urls}
    for url in urls:
        assert as_token(url, "/v3/kv/range", {"key": b64("/app/x")}, tokens[url]).status_code == 200
    last_use = time.monotonic()  # after every use was answered: each server's last use was before it
    # etcd drops expired tokens in a sweep once a second: past TTL + that second, both must have let go
    until(lambda: time.monotonic() > last_use + ttl_s + 1.5, "the token's TTL and etcd's sweep passed")
    answers = {url: as_token(url, "/v3/kv/range", {"key": b64("/app/x")}, tokens[url]) for url in urls}
    etcd, ours = (answers[url] for url in urls)
    assert (ours.status_code, ours.json()) == (etcd.status_code, etcd.json())
    assert ours.json()["error"] == "etcdserver: invalid auth token"
    again = token_of(urls[1], "alice")
    assert as_token(urls[1], "/v3/kv/range", {"key": b64("/app/x")}, again).status_code == 200


def test_bcrypt_cost_is_the_stored_hashs_cost(tmp_path: Path, etcd_processes: Processes) -> None:
    urls = started_pair(etcd_processes, tmp_path, "cost", ["--bcrypt-cost", "5"])
    prefixes = {}
    for url, name in zip(urls, ("etcd", "ours"), strict=True):
        path = tmp_path / f"{name}.db"
        saved = etcd_processes.run(["etcdctl", "--endpoints", url, "--user", f"root:{PASSWORDS['root']}",
                                    "snapshot", "save", str(path)], env={"ETCDCTL_API": "3"})
        assert saved.returncode == 0, saved.stderr
        data = path.read_bytes()
        costs = (b"$2a$05$", b"$2b$05$", b"$2a$10$", b"$2b$10$")
        prefixes[name] = {prefix for prefix in costs if prefix in data}
    assert prefixes == {"etcd": {b"$2a$05$"}, "ours": {b"$2b$05$"}}  # Go writes 2a, the bcrypt package 2b


def test_our_refusals_name_the_flag(tmp_path: Path, processes: Processes) -> None:
    for args, words in ((["--bcrypt-cost", "3"], "--bcrypt-cost: must be at least 4 and at most 31, not 3"),
                        (["--auth-token-ttl", "-1"], "--auth-token-ttl: must be at least 0, not -1")):
        run = processes.confagent("store", "--data-dir", str(tmp_path / "d"), "--listen-client-urls",
                                  f"http://127.0.0.1:{free_port()}", *args)
        assert run.returncode != 0 and words in run.stderr, run.stderr
        assert not (tmp_path / "d").exists()
