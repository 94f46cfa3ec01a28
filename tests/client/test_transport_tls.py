"""How the client verifies servers: the configured TLS, httpx's CA bundle, or, for plain-HTTP
endpoints only, a context that loads no CA bundle and trusts no certificate."""

from __future__ import annotations

import ssl
from pathlib import Path

import certifi

from confagent.client import ClientTls
from confagent.client._transport import server_verification


def test_plain_http_endpoints_load_no_ca_bundle_and_trust_nothing() -> None:
    context = server_verification(("http://127.0.0.1:2379", "HTTP://10.0.0.2:2379"), None)
    assert isinstance(context, ssl.SSLContext)
    assert context.cert_store_stats()["x509_ca"] == 0
    assert context.verify_mode is ssl.CERT_REQUIRED and context.check_hostname


def test_an_https_endpoint_gets_the_default_ca_bundle() -> None:
    assert server_verification(("http://127.0.0.1:2379", "https://etcd.example:2379"), None) is True


def test_configured_tls_wins_even_for_plain_http_endpoints() -> None:
    context = server_verification(("http://127.0.0.1:2379",), ClientTls(ca_file=Path(certifi.where())))
    assert isinstance(context, ssl.SSLContext)
    assert context.cert_store_stats()["x509_ca"] > 0
