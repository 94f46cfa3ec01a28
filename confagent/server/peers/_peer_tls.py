"""TLS between store members, with etcd's ``--peer-*`` flags and meanings.

Rules:
1. A member listens with TLS when its ``--listen-peer-urls`` is ``https://``,
   and dials a peer with TLS when that peer's URL is ``https://``; either needs
   ``--peer-cert-file`` and ``--peer-key-file``.
2. The one certificate serves both ends: it is the server certificate of the
   listener and the client certificate presented when dialing a peer (so it
   needs both serverAuth and clientAuth usage, as etcd's peer certificates do).
3. A dialed peer's certificate must chain to ``--peer-trusted-ca-file`` (the
   system's roots without one) and name the host of the peer's URL.
4. With ``--peer-trusted-ca-file`` (``--peer-client-cert-auth`` needs one) the
   listener refuses a peer that presents no certificate, or one not signed by
   that CA. etcd 3.4 does the same: a trusted CA alone already requires client
   certificates on the peer port.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass

from confagent.errors import ConfigError
from confagent.http_listener import ListenerTls

__all__ = ["PeerTls"]


@dataclass(frozen=True, slots=True)
class PeerTls(ListenerTls):
    """Peer TLS files and policy: ``ListenerTls``'s fields, set by etcd's ``--peer-*`` flags."""

    def server_context(self) -> ssl.SSLContext:
        """The listener's context (rules 2 and 4).

        Raises:
            ConfigError: a file cannot be read as a certificate, key or CA bundle.
        """
        context = self._context(ssl.Purpose.CLIENT_AUTH)
        context.verify_mode = ssl.CERT_REQUIRED if self.trusted_ca_file is not None else ssl.CERT_NONE
        return context

    def client_context(self) -> ssl.SSLContext:
        """The dialing side's context (rules 2 and 3); raises as ``server_context``."""
        return self._context(ssl.Purpose.SERVER_AUTH)

    def _context(self, purpose: ssl.Purpose) -> ssl.SSLContext:
        ca = str(self.trusted_ca_file) if self.trusted_ca_file is not None else None
        try:
            context = ssl.create_default_context(purpose, cafile=ca)
            context.load_cert_chain(str(self.cert_file), str(self.key_file))
        except OSError as error:  # ssl.SSLError is one
            raise ConfigError(f"peer TLS: cannot load --peer-cert-file {self.cert_file}, "
                              f"--peer-key-file {self.key_file} or --peer-trusted-ca-file {ca}: "
                              f"{error}") from error
        return context
