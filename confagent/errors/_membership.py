"""Membership changes refused, with etcd's codes and messages."""

from __future__ import annotations

from confagent.errors._store import StoreError

__all__ = [
    "LearnerNotReady",
    "MemberBadURLs",
    "MemberExists",
    "MemberNotFound",
    "MemberNotLearner",
    "MembershipError",
    "NotEnoughStartedMembers",
    "PeerURLExists",
    "TooManyLearners",
]


class MembershipError(StoreError):
    """A membership change refused: by the checks before proposing, or when its entry is applied."""


class MemberNotFound(MembershipError):
    code = 5
    default_message = "etcdserver: member not found"


class MemberExists(MembershipError):
    code = 9
    default_message = "etcdserver: member ID already exist"


class PeerURLExists(MembershipError):
    code = 9
    default_message = "etcdserver: Peer URLs already exists"


class MemberBadURLs(MembershipError):
    code = 3
    default_message = "etcdserver: given member URLs are invalid"


class MemberNotLearner(MembershipError):
    code = 9
    default_message = "etcdserver: can only promote a learner member"


class LearnerNotReady(MembershipError):
    code = 9
    default_message = "etcdserver: can only promote a learner member which is in sync with leader"


class TooManyLearners(MembershipError):
    code = 9
    default_message = "etcdserver: too many learner members in cluster"


class NotEnoughStartedMembers(MembershipError):
    """etcd 3.4's gateway answers this one with code 2 (unknown), HTTP 500."""

    code = 2
    default_message = "etcdserver: re-configuration failed due to not enough started members"
