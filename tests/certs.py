"""Certificates for TLS tests, made by openssl: a CA, a server certificate for 127.0.0.1 and a client
certificate, each signed by the CA (``ca.crt``, ``server.crt``/``.key``, ``client.crt``/``.key``), and
a client certificate for each of ``users`` whose common name is the user's name (``NAME.crt``/``.key``:
under ``--client-cert-auth`` a call without a token is made as that user)."""

from __future__ import annotations

import subprocess
from collections.abc import Sequence
from pathlib import Path

from confagent.testing import Processes, ServerProcess, free_port, store_process

__all__ = ["launch_tls_pair", "make_certs"]


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def make_certs(directory: Path, users: tuple[str, ...] = ()) -> Path:
    """Write the CA, server and client files (and ``users``' client files) into ``directory``; it is
    returned."""
    directory.mkdir(parents=True, exist_ok=True)
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.crt",
             "-days", "2", "-subj", "/CN=test-ca", cwd=directory)
    clients = [(name, "extendedKeyUsage=clientAuth") for name in ("client", *users)]
    for name, extra in [("server", "subjectAltName=IP:127.0.0.1"), *clients]:
        _openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{name}.key", "-out", f"{name}.csr",
                 "-subj", f"/CN={name}", cwd=directory)
        (directory / f"{name}.ext").write_text(extra + "\n")
        _openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
                 "-CAcreateserial", "-out", f"{name}.crt", "-days", "2", "-extfile", f"{name}.ext",
                 cwd=directory)
    return directory


def launch_tls_pair(processes: Processes, base: Path, etcd_binary: str, tls: Sequence[str],
                    ) -> tuple[ServerProcess, ServerProcess]:
    """etcd and confagent, each on an https client URL with the flags ``tls``, launched (the caller
    waits until each answers, in its own way)."""
    url, peer = f"https://127.0.0.1:{free_port()}", f"http://127.0.0.1:{free_port()}"
    etcd = processes.server(ServerProcess("etcd", url, base / "etcd", [
        etcd_binary, "--name", "test", "--data-dir", str(base / "etcd"), "--listen-client-urls", url,
        "--advertise-client-urls", url, "--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
        "--initial-cluster", f"test={peer}", "--log-level", "error", *tls], base / "etcd.log"))
    ours = processes.server(store_process(f"https://127.0.0.1:{free_port()}", base / "ours", [
        "--name", "test", "--listen-peer-urls", f"http://127.0.0.1:{free_port()}", *tls]))
    for server in (etcd, ours):
        server.launch()
    return etcd, ours
