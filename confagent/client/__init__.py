"""The async etcd v3 JSON client, with endpoint failover; the same code talks to confagent and etcd.

Errors: a refusal by the server is the matching
:class:`~confagent.errors.StoreError` (``Compacted``, ``LeaseNotFound``, ...);
no answer is a :class:`~confagent.errors.ClientError`; a write whose outcome
is unknown is :class:`~confagent.errors.AmbiguousWrite`, never retried.

:class:`Registration` keeps a key alive under a lease for self-registration.
"""

from confagent.client._client import ClientConfig, EtcdClient
from confagent.client._registration import (
    REGISTRATION_RETRY,
    Registration,
    RegistrationEvent,
    RegistrationEventKind,
    RenewalAction,
    RenewalSchedule,
    RenewalStep,
)
from confagent.client._transport import ClientTls
from confagent.client._watch import RESUMES_MAX
from confagent.wire import LeaseKeepAlive, LeaseTimeToLive, Member, Reply, ResponseHeader, Status

__all__ = [
    "REGISTRATION_RETRY",
    "RESUMES_MAX",
    "ClientConfig",
    "ClientTls",
    "EtcdClient",
    "LeaseKeepAlive",
    "LeaseTimeToLive",
    "Member",
    "Registration",
    "RegistrationEvent",
    "RegistrationEventKind",
    "RenewalAction",
    "RenewalSchedule",
    "RenewalStep",
    "Reply",
    "ResponseHeader",
    "Status",
]
