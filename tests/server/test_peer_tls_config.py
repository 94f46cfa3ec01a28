"""Peer TLS settings: etcd's --peer-* flags reach the store's config, and bad combinations are
refused with the flag named before anything starts."""

from __future__ import annotations

import ssl
import subprocess
from pathlib import Path

import pytest

from confagent.cli import build_parser
from confagent.cli._settings_flags import settings_from_flags
from confagent.errors import ConfigError
from confagent.server import PeerTls
from confagent.server._bootstrap import node_config_of, peer_tls_of
from confagent.settings import StoreConfig


@pytest.fixture(scope="module")
def key_pair(tmp_path_factory: pytest.TempPathFactory, subprocesses: None) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 and its key, made by openssl."""
    directory = tmp_path_factory.mktemp("pair")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                    "-nodes", "-keyout", "peer.key", "-out", "peer.crt", "-days", "2",
                    "-subj", "/CN=peer", "-addext", "subjectAltName=IP:127.0.0.1"],
                   cwd=directory, check=True, capture_output=True)
    return directory / "peer.crt", directory / "peer.key"


def test_the_store_command_takes_etcds_peer_tls_flags(key_pair: tuple[Path, Path]) -> None:
    cert, key = key_pair
    args = build_parser().parse_args([
        "store", "--name", "a", "--listen-peer-urls", "https://127.0.0.1:2380",
        "--initial-cluster", "a=https://127.0.0.1:2380", "--peer-cert-file", str(cert),
        "--peer-key-file", str(key), "--peer-trusted-ca-file", str(cert), "--peer-client-cert-auth"])
    config = settings_from_flags(StoreConfig, args)
    assert peer_tls_of(config) == PeerTls(cert, key, cert, client_cert_auth=True)
    config.validate()
    assert node_config_of(config).peer_tls == peer_tls_of(config)


@pytest.mark.parametrize("urls", [
    {"listen_peer_urls": ("https://127.0.0.1:2380",)},
    {"initial_cluster": "default=http://127.0.0.1:2380,b=https://127.0.0.1:2381"},
])
def test_https_peer_urls_need_certificates(urls: dict[str, object]) -> None:
    with pytest.raises(ConfigError, match="needs --peer-cert-file and --peer-key-file"):
        StoreConfig(**urls).validate()  # type: ignore[arg-type]


def test_missing_files_and_client_auth_without_a_ca_are_named(key_pair: tuple[Path, Path],
                                                             tmp_path: Path) -> None:
    cert, key = key_pair
    with pytest.raises(ConfigError, match="--peer-key-file: no such file"):
        StoreConfig(peer_cert_file=cert, peer_key_file=tmp_path / "absent.key").validate()
    with pytest.raises(ConfigError, match="--peer-client-cert-auth needs --peer-trusted-ca-file"):
        StoreConfig(peer_cert_file=cert, peer_key_file=key, peer_client_cert_auth=True).validate()
    with pytest.raises(ConfigError, match="cannot load"):
        PeerTls(key, cert).server_context()  # the two files swapped


def test_a_trusted_ca_makes_the_listener_require_peer_certificates(key_pair: tuple[Path, Path]) -> None:
    cert, key = key_pair
    assert PeerTls(cert, key).server_context().verify_mode == ssl.CERT_NONE
    assert PeerTls(cert, key, cert).server_context().verify_mode == ssl.CERT_REQUIRED  # as etcd 3.4
    dialing = PeerTls(cert, key, cert).client_context()
    assert dialing.verify_mode == ssl.CERT_REQUIRED and dialing.check_hostname
