"""A member's auth store: etcd's users, roles and tokens, applied from the log, kept in snapshots.

The rules are the pure core's (``confagent.auth``); this module is where the
member meets them: what an auth entry holds, who is checked when, and which
tokens this member knows.

Rules (etcd 3.4's ``authApplierV3`` and ``simpleTokenTTLKeeper``):

1. An auth command travels through the Raft log (``AUTH_COMMAND``: the proposer's
   credentials, then the command) and is applied on every member alike. Every
   command but ``Authenticate`` needs the proposer to hold the role ``root`` at the
   moment it applies, while auth is enabled (``check_admin``).
2. A write proposed while auth is enabled carries its proposer's credentials
   (``WITH_CREDENTIALS``) and is checked when it applies, against the state then
   (``check_write``): a write whose credentials were read at an older auth revision
   fails with ``AuthOldRevision``, and the client signs in again.
3. ``Authenticate``'s token comes from the member's one ``auth.TokenProvider``
   (``--auth-token``, ``auth.TokenSettings``) as the entry applies. A simple token
   is the proposer's random prefix and the entry's index: every member assigns the
   same token, so it is good on each; it lives ``--auth-token-ttl`` after its last
   use; the tokens of a user go when the user is deleted or its password changes,
   all of them when auth is disabled. A JWT is signed by each member that applies
   the entry (the proposer's is the answer) and verified by any with the public key;
   a member that only verifies refuses the ``Authenticate`` it proposed.
4. The auth state travels in snapshots, in front of the key-value state
   (``wrap_auth``); a payload without it is a store that never had auth.
5. Who calls (etcd's ``AuthInfoFromCtx``): the client edge sets ``CALLER`` in the task
   serving a call, and everything that task does asks ``credentials()``: the user a
   token names (``InvalidAuthToken`` for a token this member does not hold, auth
   enabled or not: etcd reads the token first, and no simple token is held while
   auth is disabled); None while auth is disabled (nobody is asked); without a
   token, a client certificate's common name; with neither, empty credentials
   (``UserEmpty`` wherever a user is wanted).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable
from contextvars import ContextVar
from dataclasses import dataclass

import msgpack  # type: ignore[import-untyped]

from confagent import auth
from confagent.auth import AuthInfo, AuthState, Instant, PermissionCache, TokenSettings
from confagent.errors import InvalidAuthToken, StorageError
from confagent.kv import (
    DeleteRangeRequest,
    KvStore,
    LeaseRevokeRequest,
    PutRequest,
    RangeRequest,
    Request,
    TxnRequest,
)
from confagent.server.node._formats import (
    AUTH_COMMAND,
    AUTH_PART,
    PART_LENGTH,
    WITH_CREDENTIALS,
    split_auth_part,
)

__all__ = [
    "AUTH_COMMAND",
    "CALLER",
    "WITH_CREDENTIALS",
    "Caller",
    "MemberAuth",
    "auth_command",
    "split_credentials",
    "unwrap_auth",
    "with_credentials",
    "wrap_auth",
]


@dataclass(frozen=True, slots=True)
class Caller:
    """What a call said about who it is (rule 5): its token, its certificate's common name."""

    token: str = ""
    common_name: str = ""


CALLER: ContextVar[Caller] = ContextVar("confagent_caller")
"""Who the call being served is; each front sets it in the task serving the call (unset: nobody)."""
_NOBODY = Caller()


def with_credentials(credentials: AuthInfo, command: bytes) -> bytes:
    """An entry payload: a store command (``kv.encode_request``) proposed with ``credentials``."""
    packed: bytes = msgpack.packb((credentials.user, credentials.revision, command))
    return WITH_CREDENTIALS + packed


def auth_command(credentials: AuthInfo | None, command: auth.Command) -> bytes:
    """An entry payload: an auth command proposed with ``credentials`` (rule 1)."""
    user, revision = (credentials.user, credentials.revision) if credentials is not None else ("", 0)
    packed: bytes = msgpack.packb((user, revision, auth.encode_command(command)))
    return AUTH_COMMAND + packed


def _split(payload: bytes) -> tuple[AuthInfo, bytes]:
    """The credentials and the command an auth or credentialed payload holds.

    Raises:
        StorageError: undecodable (a damaged or foreign entry).
    """
    try:
        user, revision, command = msgpack.unpackb(payload[1:], raw=False)
    except (ValueError, TypeError, msgpack.UnpackException) as error:
        raise StorageError(f"undecodable credentials in an entry: {error}") from error
    return AuthInfo(user, revision), command


def split_credentials(payload: bytes) -> tuple[AuthInfo, bytes]:
    """A ``WITH_CREDENTIALS`` payload's credentials and store command (``kv.decode_request``'s input)."""
    return _split(payload)


class MemberAuth:
    """The auth state this member applied, its tokens, and the checks made against them."""

    def __init__(self, state: AuthState | None = None, *, tokens: TokenSettings | None = None) -> None:
        self.state = state or AuthState()
        self.tokens = (tokens or TokenSettings()).provider(enabled=self.state.enabled)
        self.cache = PermissionCache()
        self._changed: list[Callable[[], None]] = []

    def on_change(self, listener: Callable[[], None]) -> None:
        """Call ``listener`` after each auth command applied and each state installed (the watch
        streams ask their open watches again: ``WatchRegistry.wake_all``)."""
        self._changed.append(listener)

    @property
    def enabled(self) -> bool:
        return self.state.enabled

    # -- applying entries ----------------------------------------------------------------
    def apply(self, payload: bytes, index: int, now: float) -> str | None:
        """Apply an ``AUTH_COMMAND`` payload of the entry at ``index`` (rule 1); ``Authenticate``'s
        token, else None.

        Raises:
            AuthError: etcd's refusal; nothing changed.
            StorageError: an undecodable payload.
        """
        credentials, encoded = _split(payload)
        command = auth.decode_command(encoded)
        if not isinstance(command, auth.Authenticate):
            auth.check_admin(self.state, credentials if credentials.user else None)
        self.state = auth.apply(self.state, command)
        for listener in self._changed:
            listener()
        self.tokens.applied(command)
        if isinstance(command, auth.Authenticate):
            who = AuthInfo(command.name, self.state.revision)
            return self.tokens.assign(command.simple_token, index, who, _instant(now))
        return None

    def check_write(self, credentials: AuthInfo, request: Request, kv: KvStore) -> None:
        """Rule 2: raises etcd's error unless ``credentials`` may make ``request`` now."""
        state, cache = self.state, self.cache
        if isinstance(request, PutRequest):
            auth.check_put(state, credentials, request, lambda lease: _lease_keys(kv, lease), cache)
        elif isinstance(request, DeleteRangeRequest):
            auth.check_delete_range(state, credentials, request, cache)
        elif isinstance(request, TxnRequest):
            auth.check_txn(state, credentials, request, cache)
        elif isinstance(request, LeaseRevokeRequest):
            auth.check_lease_revoke(state, credentials, _lease_keys(kv, request.id), cache)

    # -- who calls, tokens -------------------------------------------------------------------
    def credentials(self) -> AuthInfo | None:
        """The calling task's credentials (rule 5).

        Raises:
            InvalidAuthToken: a token this member does not hold.
        """
        caller = CALLER.get(_NOBODY)
        if caller.token:  # read first, auth enabled or not (etcd's AuthInfoFromCtx)
            found = self.credentials_of(caller.token, asyncio.get_running_loop().time())
            if found is None:
                raise InvalidAuthToken()
            return found if self.state.enabled else None
        if not self.state.enabled:
            return None
        if caller.common_name:
            return AuthInfo(caller.common_name, self.state.revision)
        return AuthInfo()

    def check_read(self, request: RangeRequest) -> None:
        """Raises the calling task's refusal of ``request`` (reads are checked when made)."""
        credentials = self.credentials()
        if credentials is not None:
            auth.check_range(self.state, credentials, request, self.cache)

    def credentials_of(self, token: str, now: float) -> AuthInfo | None:
        """The credentials a token stands for at ``now`` (the loop's clock; a simple token is
        renewed), None when unknown, expired or forged."""
        return self.tokens.credentials_of(token, self.state.revision, _instant(now))

    # -- snapshots ------------------------------------------------------------------------
    def restored(self, state: AuthState) -> None:
        """Become ``state`` (a snapshot installed): tokens stay only while auth stays enabled."""
        self.state = state
        self.tokens.restored(state.enabled)
        for listener in self._changed:
            listener()


def _instant(monotonic_s: float) -> Instant:
    """Now for the tokens: the loop's clock given, and the Unix time (a JWT's ``exp``)."""
    return Instant(monotonic_s, time.time())


def _lease_keys(kv: KvStore, lease_id: int) -> Iterable[bytes]:
    lease = kv.lease(lease_id)
    return lease.keys if lease is not None else ()


def wrap_auth(state: AuthState, kv_data: bytes) -> bytes:
    """The key-value state's snapshot bytes with the auth state in front (rule 4)."""
    if state == AuthState():
        return kv_data  # never had auth: the payload older members wrote
    encoded = auth.encode_state(state)
    return b"".join((AUTH_PART, PART_LENGTH.pack(len(encoded)), encoded, kv_data))


def unwrap_auth(data: bytes) -> tuple[AuthState, bytes]:
    """The auth state (the default one when absent) and the key-value state's bytes.

    Raises:
        StorageError: an auth section cut short or undecodable.
    """
    encoded, kv_data = split_auth_part(data)
    return (AuthState() if encoded is None else auth.decode_state(encoded)), kv_data
