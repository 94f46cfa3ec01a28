"""From a member's settings (``confagent.settings.StoreConfig``) to what runs it.

The initial members with their IDs (derived from peer URLs and the cluster
token as etcd derives them), who this member is (``ServerInfo``), its
node's configuration (``NodeConfig``), its client and peer TLS, and its auth
tokens (``--auth-token``: the JWT key files are read here, once, and a key that
does not load is a ``ConfigError`` naming the flag before anything starts).

The JWT signer's module (PyJWT and ``cryptography.x509``: 30-40 ms of a
member's start) is imported only when ``--auth-token jwt,...`` asks for it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from confagent import auth
from confagent.errors import ConfigError
from confagent.http_listener import ListenerTls
from confagent.server.api import ServerInfo
from confagent.server.membership import Member, cluster_id_of, member_id_of
from confagent.server.node import NodeConfig
from confagent.server.peers import PeerTls
from confagent.settings import StoreConfig, flag_naming

__all__ = ["MemberInfo", "client_tls_of", "initial_members_of", "node_config_of", "peer_tls_of",
           "server_info_of", "token_settings_of"]


@dataclass(frozen=True, slots=True)
class MemberInfo:
    """A member as the flags describe it (``--initial-cluster``). What ``member list`` shows
    is the live member table (``membership._membership``), which members publish into through the log."""

    member_id: int
    name: str
    peer_urls: tuple[str, ...]


def initial_members_of(config: StoreConfig) -> tuple[MemberInfo, ...]:
    """Every initial member, with IDs derived as etcd derives them; this one alone if none."""
    initial = config.initial_members() or {config.name: config.peer_urls}
    return tuple(MemberInfo(member_id_of(urls, config.initial_cluster_token), name, urls)
                 for name, urls in sorted(initial.items()))


def server_info_of(config: StoreConfig) -> ServerInfo:
    members = initial_members_of(config)
    me = next(m for m in members if m.name == config.name)
    return ServerInfo(member_id=me.member_id, cluster_id=cluster_id_of(m.member_id for m in members))


def node_config_of(config: StoreConfig, tokens: auth.TokenSettings | None = None) -> NodeConfig:
    """The node's configuration; ``tokens`` as ``token_settings_of(config)`` made them (read when not
    given)."""
    members = initial_members_of(config)
    me = next(m for m in members if m.name == config.name)
    peers = {m.member_id: m.peer_urls[0] for m in members} if len(members) > 1 else {}
    return NodeConfig(data_dir=config.resolved_data_dir, member_id=me.member_id,
                      cluster_id=cluster_id_of(m.member_id for m in members),
                      snapshot_entries=config.snapshot_entries, peers=peers,
                      listen_peer_url=config.listen_peer_urls[0] if config.listen_peer_urls else "",
                      peer_tls=peer_tls_of(config),
                      name=config.name, client_urls=config.client_urls,
                      initial_members=tuple(Member(m.member_id, m.peer_urls) for m in members),
                      joining=config.initial_cluster_state == "existing",
                      cluster_token=config.initial_cluster_token, max_learners=config.max_learners,
                      auth_tokens=tokens or token_settings_of(config))


def token_settings_of(config: StoreConfig) -> auth.TokenSettings:
    """The member's tokens from ``--auth-token`` and ``--auth-token-ttl``, JWT keys read from their files.

    Raises:
        ConfigError: a key file that cannot be read or holds no key of the method's kind (etcd's
            words when it has some); ``key`` is ``--auth-token``.
    """
    spec, ttl_s = config.auth_token, float(config.auth_token_ttl_s or auth.DEFAULT_TOKEN_TTL_S)
    options = spec.jwt
    if options is None:
        return auth.TokenSettings(spec.kind, ttl_s)
    key = flag_naming(StoreConfig)("auth_token")
    from confagent.server.node import jwt_signer  # noqa: PLC0415 - PyJWT only for JWT tokens (docstring)
    try:
        signer = jwt_signer(options.sign_method, _read(options.private_key, key),
                            _read(options.public_key, key))
    except ValueError as error:
        raise ConfigError(str(error), key=key) from None
    return auth.TokenSettings("jwt", ttl_s, auth.JwtKeys(signer, options.ttl_s))


def _read(path: Path | None, key: str) -> bytes | None:
    if path is None:
        return None
    try:
        return path.read_bytes()
    except OSError as error:
        raise ConfigError(f"auth: invalid auth options ({path}: {error.strerror})", key=key) from None


def client_tls_of(config: StoreConfig) -> ListenerTls | None:
    """Client-facing TLS (``--cert-file`` and friends), for the ``https://`` client URLs."""
    if config.cert_file is None or config.key_file is None:
        return None
    return ListenerTls(config.cert_file, config.key_file, config.trusted_ca_file, config.client_cert_auth)


def peer_tls_of(config: StoreConfig) -> PeerTls | None:
    """TLS between members (``--peer-cert-file`` and friends), for ``https://`` peer URLs."""
    if config.peer_cert_file is None or config.peer_key_file is None:
        return None
    return PeerTls(config.peer_cert_file, config.peer_key_file, config.peer_trusted_ca_file,
                   config.peer_client_cert_auth)
