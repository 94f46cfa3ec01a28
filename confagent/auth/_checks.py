"""The permission check of every request against the auth state: etcd 3.4's rules, one function per shape.

A key check (etcd's ``isOpPermitted``) decides, in this order:

1. auth disabled: allowed;
2. no credentials (revision 0): ``UserEmpty``;
3. credentials checked at an older auth revision than the state's: ``AuthOldRevision``
   (etcd's clients authenticate again and retry);
4. an unknown user: ``PermissionDenied``; a user holding the role ``root``: allowed;
5. otherwise the union of the user's roles' permissions of that kind decides
   (:mod:`confagent.auth._intervals`): it must hold the whole range, or the key.

What each request needs (etcd's ``apply_auth.go``):

- range and watch: READ on their range;
- put: WRITE on its key; WRITE on every key already attached to its lease; with
  ``prev_kv``, READ on its key;
- delete range: with ``prev_kv``, READ on its range; WRITE on its range;
- txn: READ on every compare's range, then each op of the success branch, then
  of the failure branch: a range READ, a put WRITE on its key (no lease nor
  prev_kv check inside a txn, as etcd), a delete as above, a nested txn
  recursively (etcd 3.4.23 leaves nested txns unchecked, a hole later etcd
  closed; confagent checks them);
- lease revoke: WRITE on every attached key; lease time-to-live asking for the
  keys: READ on every attached key (etcd 3.4.23 checks nothing there; later
  etcd checks this);
- the admin calls (users, roles, auth enable/disable, maintenance): the role
  ``root`` (``check_admin``); a user may get itself, and a role it holds.

A :class:`PermissionCache` keeps each user's merged intervals for one auth
revision, as etcd keeps its ``rangePermCache``, so a check does not merge the
roles again; it is bounded and forgets every entry when the revision moves on.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from confagent.auth._intervals import Interval, Union, interval, union
from confagent.auth._values import ROOT, AuthInfo, AuthState, PermissionType, has_role
from confagent.errors import AuthOldRevision, PermissionDenied, UserEmpty, UserNotFound
from confagent.kv import (
    Compare,
    DeleteRangeRequest,
    PutRequest,
    RangeRequest,
    RequestOp,
    TxnRequest,
    WatchCreateRequest,
)

__all__ = [
    "LeaseKeys",
    "MergedPermissions",
    "PermissionCache",
    "check_admin",
    "check_delete_range",
    "check_lease_revoke",
    "check_lease_time_to_live",
    "check_put",
    "check_range",
    "check_role_get",
    "check_txn",
    "check_user_get",
    "check_watch",
    "is_admin",
    "merged_permissions",
]

LeaseKeys = Callable[[int], Iterable[bytes]]
"""The keys attached to a lease (none for an unknown lease or lease 0): the store's lessor answers."""


def _no_lease_keys(lease: int) -> Iterable[bytes]:
    return ()


@dataclass(frozen=True, slots=True)
class MergedPermissions:
    """One user's READ and WRITE permissions over all its roles, each merged into one union."""

    read: Union
    write: Union


def merged_permissions(state: AuthState, user: str) -> MergedPermissions:
    """The union of ``user``'s roles' permissions, as etcd's ``getMergedPerms`` builds it
    (a role that is gone adds nothing)."""
    read: list[Interval] = []
    write: list[Interval] = []
    found = state.users.get(user)
    for role_name in found.roles if found is not None else ():
        role = state.roles.get(role_name)
        for perm in role.permissions if role is not None else ():
            covered = interval(perm.key, perm.range_end)
            if perm.type != PermissionType.WRITE:
                read.append(covered)
            if perm.type != PermissionType.READ:
                write.append(covered)
    return MergedPermissions(union(read), union(write))


class PermissionCache:
    """Merged permissions per user at one auth revision, at most ``max_users`` of them.

    Pure and bounded: an entry is good for the revision it was made at; a new
    revision empties the cache, and when full the oldest entry goes.
    """

    def __init__(self, max_users: int = 1024) -> None:
        self._max_users = max_users
        self._revision = 0
        self._merged: dict[str, MergedPermissions] = {}

    def get(self, state: AuthState, user: str) -> MergedPermissions:
        """``merged_permissions(state, user)``, made once per revision."""
        if state.revision != self._revision:
            self._merged.clear()
            self._revision = state.revision
        merged = self._merged.get(user)
        if merged is None:
            if len(self._merged) >= self._max_users:
                del self._merged[next(iter(self._merged))]
            merged = self._merged[user] = merged_permissions(state, user)
        return merged


def _check_key(state: AuthState, info: AuthInfo | None, key: bytes, range_end: bytes,
               write: bool, cache: PermissionCache | None) -> None:
    """etcd's ``isOpPermitted``: the module's steps 1 to 5, for one key or range."""
    if not state.enabled:
        return
    if info is None or info.revision == 0:
        raise UserEmpty()
    if info.revision < state.revision:
        raise AuthOldRevision()
    user = state.users.get(info.user)
    if user is None:
        raise PermissionDenied()
    if ROOT in user.roles:
        return
    merged = cache.get(state, info.user) if cache is not None else merged_permissions(state, info.user)
    if not (merged.write if write else merged.read).holds(key, range_end):
        raise PermissionDenied()


def check_range(state: AuthState, info: AuthInfo | None, request: RangeRequest,
                cache: PermissionCache | None = None) -> None:
    """Raises etcd's error unless ``info`` may read ``request``'s range."""
    _check_key(state, info, request.key, request.range_end, False, cache)


def check_watch(state: AuthState, info: AuthInfo | None, request: WatchCreateRequest,
                cache: PermissionCache | None = None) -> None:
    """Raises etcd's error unless ``info`` may watch ``request``'s range."""
    _check_key(state, info, request.key, request.range_end, False, cache)


def check_put(state: AuthState, info: AuthInfo | None, request: PutRequest,
              lease_keys: LeaseKeys = _no_lease_keys, cache: PermissionCache | None = None) -> None:
    """Raises etcd's error unless ``info`` may write ``request``'s key, the keys of its lease,
    and read its key when it asks for the previous value."""
    _check_key(state, info, request.key, b"", True, cache)
    for key in lease_keys(request.lease) if request.lease else ():
        _check_key(state, info, key, b"", True, cache)
    if request.prev_kv:
        _check_key(state, info, request.key, b"", False, cache)


def check_delete_range(state: AuthState, info: AuthInfo | None, request: DeleteRangeRequest,
                       cache: PermissionCache | None = None) -> None:
    """Raises etcd's error unless ``info`` may delete ``request``'s range (and read it, with prev_kv)."""
    _check_key(state, info, request.key, request.range_end, True, cache)
    if request.prev_kv:
        _check_key(state, info, request.key, request.range_end, False, cache)


def check_txn(state: AuthState, info: AuthInfo | None, request: TxnRequest,
              cache: PermissionCache | None = None) -> None:
    """Raises etcd's error unless ``info`` may make every compare and every op of both branches."""
    for compare in request.compare:
        _check_compare(state, info, compare, cache)
    for op in (*request.success, *request.failure):
        _check_op(state, info, op, cache)


def _check_compare(state: AuthState, info: AuthInfo | None, compare: Compare,
                   cache: PermissionCache | None) -> None:
    _check_key(state, info, compare.key, compare.range_end, False, cache)


def _check_op(state: AuthState, info: AuthInfo | None, op: RequestOp, cache: PermissionCache | None) -> None:
    match op:
        case RangeRequest():
            check_range(state, info, op, cache)
        case PutRequest():
            _check_key(state, info, op.key, b"", True, cache)
        case DeleteRangeRequest():
            if op.prev_kv:
                _check_key(state, info, op.key, op.range_end, False, cache)
            _check_key(state, info, op.key, op.range_end, True, cache)
        case TxnRequest():
            check_txn(state, info, op, cache)


def check_lease_revoke(state: AuthState, info: AuthInfo | None, keys: Iterable[bytes],
                       cache: PermissionCache | None = None) -> None:
    """Raises etcd's error unless ``info`` may write every key attached to the lease revoked."""
    for key in keys:
        _check_key(state, info, key, b"", True, cache)


def check_lease_time_to_live(state: AuthState, info: AuthInfo | None, keys: Iterable[bytes],
                             cache: PermissionCache | None = None) -> None:
    """Raises etcd's error unless ``info`` may read every key attached to the lease (asked
    when a time-to-live request asks for the keys)."""
    for key in keys:
        _check_key(state, info, key, b"", False, cache)


def check_admin(state: AuthState, info: AuthInfo | None) -> None:
    """Raises etcd's error unless auth is disabled or ``info``'s user holds the role ``root``.

    Raises:
        UserEmpty: no credentials. UserNotFound: an unknown user.
        PermissionDenied: a user without the role ``root``.
    """
    if not state.enabled:
        return
    if info is None or not info.user:
        raise UserEmpty()
    user = state.users.get(info.user)
    if user is None:
        raise UserNotFound()
    if ROOT not in user.roles:
        raise PermissionDenied()


def is_admin(state: AuthState, user: str) -> bool:
    """Whether ``user`` may make the admin calls now (auth disabled, or it holds ``root``)."""
    try:
        check_admin(state, AuthInfo(user, state.revision))
    except (UserEmpty, UserNotFound, PermissionDenied):
        return False
    return True


def check_user_get(state: AuthState, info: AuthInfo | None, name: str) -> None:
    """Raises ``check_admin``'s error unless ``info`` asks about its own user."""
    try:
        check_admin(state, info)
    except (UserEmpty, UserNotFound, PermissionDenied):
        if name != (info.user if info is not None else ""):
            raise


def check_role_get(state: AuthState, info: AuthInfo | None, role: str) -> None:
    """Raises ``check_admin``'s error unless ``info``'s user holds ``role``."""
    try:
        check_admin(state, info)
    except (UserEmpty, UserNotFound, PermissionDenied):
        if not has_role(state, info.user if info is not None else "", role):
            raise
