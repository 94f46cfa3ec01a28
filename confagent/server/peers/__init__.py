"""Between store members: the peer transport and the calls that travel over it.

- ``_transport``: frames between members over TCP or TLS, one connection per
  direction, bounded queues, never blocking the Raft driver (``PeerTransport``).
- ``_peer_codec``: the frames on the wire (msgpack with a length prefix): Raft
  messages, and the queries and answers of calls only the leader answers.
- ``_peer_tls``: etcd's ``--peer-*`` TLS settings (``PeerTls``).
- ``_catch_up``: the snapshot a leader sends followers behind its compacted log,
  read or encoded once in a worker thread and shared (``CatchUpSnapshot``).
- ``_leader_calls``: a call made on any member that the leader answers, forwarded
  by a follower (``LeaderCalls``), of two kinds: lease keep-alive and
  time-to-live (``_lease_forward``), and member add, remove and promote
  (``_member_calls``).

It imports ``confagent.server.membership`` (frames carry members; a member
change is proposed by ``MemberChanges``) and no other part of the server; the
node imports it.
"""

from confagent.server.peers._catch_up import CatchUpSnapshot
from confagent.server.peers._leader_calls import SendFrames
from confagent.server.peers._lease_forward import ForwardConfig, LeaseForwarder
from confagent.server.peers._member_calls import MemberCalls
from confagent.server.peers._peer_codec import (
    LeaseAnswer,
    LeaseOp,
    LeaseQuery,
    MemberAnswer,
    MemberQuery,
    PeerFrame,
)
from confagent.server.peers._peer_tls import PeerTls
from confagent.server.peers._transport import PeerTransport, TransportConfig

__all__ = [
    "CatchUpSnapshot",
    "ForwardConfig",
    "LeaseAnswer",
    "LeaseForwarder",
    "LeaseOp",
    "LeaseQuery",
    "MemberAnswer",
    "MemberCalls",
    "MemberQuery",
    "PeerFrame",
    "PeerTls",
    "PeerTransport",
    "SendFrames",
    "TransportConfig",
]
