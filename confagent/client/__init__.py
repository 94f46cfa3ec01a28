"""The async etcd v3 JSON client, with endpoint failover; the same code talks to confagent and etcd.

Errors: a refusal by the server is the matching
:class:`~confagent.errors.StoreError` (``Compacted``, ``LeaseNotFound``, ...);
no answer is a :class:`~confagent.errors.ClientError`; a write whose outcome
is unknown is :class:`~confagent.errors.AmbiguousWrite`, never retried.

:class:`Registration` keeps a key alive under a lease for self-registration.
A :class:`Session` keeps a lease alive for what is held under it: a
:class:`Lock` (``async with client.lock(name, ttl_s=10) as lock``), whose
:class:`Fence` guards the holder's writes (``client.fenced``), and a candidate
of an :class:`Election` (``client.election(name)``: campaign, proclaim,
leader, observe, resign). A :class:`Semaphore` (``client.semaphore(name, n)``)
is one of N slots under a name, held as a lock is: what rolling reloads take.

With :class:`Credentials` in its :class:`ClientConfig`, a client signs in as
that user and sends the token with every call, signing in again when it
expires; ``client.auth`` (:class:`Auth`) is etcd's Auth service: users, roles
and the key-range :class:`Permission` each role holds.
"""

from confagent.client._auth import Auth, permission_range_end
from confagent.client._client import ClientConfig, EtcdClient
from confagent.client._credentials import Credentials
from confagent.client._election import Election
from confagent.client._lock import LOCK_KEY_ENV, LOCK_REV_ENV, Fence, Lock
from confagent.client._registration import (
    REGISTRATION_RETRY,
    Registration,
    RegistrationEvent,
    RegistrationEventKind,
)
from confagent.client._renewal import RenewalAction, RenewalSchedule, RenewalStep
from confagent.client._semaphore import SLOTS_MAX, Semaphore
from confagent.client._session import SESSION_TTL_S, Session, replace_session
from confagent.client._transport import ClientTls
from confagent.client._watch import RESUMES_MAX
from confagent.wire import (
    AlarmMember,
    LeaderKey,
    LeaseKeepAlive,
    LeaseTimeToLive,
    Member,
    Permission,
    PermissionType,
    Reply,
    ResponseHeader,
    Status,
)

__all__ = [
    "LOCK_KEY_ENV",
    "LOCK_REV_ENV",
    "REGISTRATION_RETRY",
    "RESUMES_MAX",
    "SESSION_TTL_S",
    "SLOTS_MAX",
    "AlarmMember",
    "Auth",
    "ClientConfig",
    "ClientTls",
    "Credentials",
    "Election",
    "EtcdClient",
    "Fence",
    "LeaderKey",
    "LeaseKeepAlive",
    "LeaseTimeToLive",
    "Lock",
    "Member",
    "Permission",
    "PermissionType",
    "Registration",
    "RegistrationEvent",
    "RegistrationEventKind",
    "RenewalAction",
    "RenewalSchedule",
    "RenewalStep",
    "Reply",
    "ResponseHeader",
    "Semaphore",
    "Session",
    "Status",
    "permission_range_end",
    "replace_session",
]
