"""proto/ says on the wire what etcd 3.4 says: compared, field by field, with Debian's etcd sources.

Debian's golang-etcd-server-dev installs etcd 3.4.23's .proto files under
/usr/share/gocode/src (scripts/test installs it when missing; a missing package
is an error with the hint, never a skip). They import gogoproto's options and
grpc-gateway's HTTP annotations, which the packages it depends on install too, so
they compile as they are with these include paths. proto/ mirrors etcd's import
paths, so each of our files has the same name as the etcd file it stands for.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.wire.descriptors import compile_protos, differences, wire_table

ROOT = Path(__file__).resolve().parents[2]
OURS = ROOT / "proto"
GOCODE = Path("/usr/share/gocode/src")
THEIR_INCLUDES = (
    GOCODE / "go.etcd.io",  # etcd/etcdserver/etcdserverpb/rpc.proto, ...
    GOCODE / "github.com/gogo/protobuf",  # gogoproto/gogo.proto
    GOCODE / "github.com/grpc-ecosystem/grpc-gateway/third_party/googleapis",  # google/api/annotations.proto
    GOCODE / "google.golang.org/grpc/debian/missing-sources/grpc/grpc-proto/master",  # grpc/health/v1
)
FILES = (
    "etcd/etcdserver/etcdserverpb/rpc.proto",
    "etcd/mvcc/mvccpb/kv.proto",
    "etcd/auth/authpb/auth.proto",
    "etcd/lease/leasepb/lease.proto",
    "etcd/etcdserver/api/v3lock/v3lockpb/v3lock.proto",
    "etcd/etcdserver/api/v3election/v3electionpb/v3election.proto",
    "grpc/health/v1/health.proto",
)
INSTALL_HINT = "etcd's .proto files are missing: run scripts/test, or apt-get install golang-etcd-server-dev"


@pytest.fixture(scope="module")
def theirs() -> dict[str, str]:
    missing = [name for name in FILES if not any((path / name).is_file() for path in THEIR_INCLUDES)]
    if missing:
        pytest.fail(f"{INSTALL_HINT} ({missing[0]})")
    return wire_table(compile_protos(FILES, THEIR_INCLUDES), FILES)


def _ours(root: Path = OURS) -> dict[str, str]:
    return wire_table(compile_protos(FILES, (root,)), FILES)


def test_every_file_in_proto_is_compared() -> None:
    assert sorted(str(path.relative_to(OURS)) for path in OURS.rglob("*.proto")) == sorted(FILES)


def test_ours_say_on_the_wire_what_etcds_say(theirs: dict[str, str]) -> None:
    ours = _ours()
    assert differences(ours, theirs) == []
    # The table holds what the protocol is made of (a spot check that it reads everything):
    assert ours["etcdserverpb.RangeRequest.limit"] == "3 optional int64"
    assert ours["etcdserverpb.Compare.value"] == "7 optional bytes oneof target_union"
    assert ours["etcdserverpb.WatchCreateRequest.FilterType.NODELETE"] == "= 1"
    assert ours["etcdserverpb.WatchResponse.events"] == "11 repeated message mvccpb.Event"
    assert ours["/etcdserverpb.Watch/Watch"] == (
        "(stream etcdserverpb.WatchRequest) returns (stream etcdserverpb.WatchResponse)")
    assert ours["/v3electionpb.Election/Observe"] == (
        "(v3electionpb.LeaderRequest) returns (stream v3electionpb.LeaderResponse)")
    assert ours["/grpc.health.v1.Health/Check"] == (
        "(grpc.health.v1.HealthCheckRequest) returns (grpc.health.v1.HealthCheckResponse)")
    assert len(ours) == 472  # 7 files, 9 services, 48 methods, 115 messages, 10 enums and their fields


# Each change to our files that the comparison must catch, and the line it must then report.
MUTATIONS = [
    pytest.param("etcd/etcdserver/etcdserverpb/rpc.proto", "  int64 limit = 3;", "  int64 limit = 30;",
                 "etcdserverpb.RangeRequest.limit: 30 optional int64 != etcd's 3 optional int64",
                 id="field-number"),
    pytest.param("etcd/mvcc/mvccpb/kv.proto", "  int64 lease = 6;", "  uint64 lease = 6;",
                 "mvccpb.KeyValue.lease: 6 optional uint64 != etcd's 6 optional int64", id="field-type"),
    pytest.param("etcd/etcdserver/etcdserverpb/rpc.proto", "  repeated string peerURLs = 1;",
                 "  string peerURLs = 1;",
                 "etcdserverpb.MemberAddRequest.peerURLs: 1 optional string != etcd's 1 repeated string",
                 id="label"),
    pytest.param("etcd/etcdserver/etcdserverpb/rpc.proto", "    NODELETE = 1;", "    NODELETE = 2;",
                 "etcdserverpb.WatchCreateRequest.FilterType.NODELETE: = 2 != etcd's = 1", id="enum-value"),
    pytest.param("etcd/etcdserver/etcdserverpb/rpc.proto", "returns (stream LeaseKeepAliveResponse)",
                 "returns (LeaseKeepAliveResponse)",
                 "/etcdserverpb.Lease/LeaseKeepAlive: (stream etcdserverpb.LeaseKeepAliveRequest) returns "
                 "(etcdserverpb.LeaseKeepAliveResponse) != etcd's (stream etcdserverpb.LeaseKeepAliveRequest)"
                 " returns (stream etcdserverpb.LeaseKeepAliveResponse)", id="streaming"),
    pytest.param("etcd/etcdserver/api/v3lock/v3lockpb/v3lock.proto", "  rpc Unlock(UnlockRequest)",
                 "  rpc Release(UnlockRequest)",
                 "/v3lockpb.Lock/Unlock: missing (etcd: (v3lockpb.UnlockRequest) returns "
                 "(v3lockpb.UnlockResponse))", id="method-name"),
    pytest.param("grpc/health/v1/health.proto", "package grpc.health.v1;", "package grpc.health;",
                 "file grpc/health/v1/health.proto: package grpc.health proto3 != etcd's package "
                 "grpc.health.v1 proto3", id="package"),
]


@pytest.mark.parametrize(("path", "old", "new", "reported"), MUTATIONS)
def test_the_comparison_catches_a_change(theirs: dict[str, str], tmp_path: Path, path: str, old: str,
                                         new: str, reported: str) -> None:
    copy = tmp_path / "proto"
    shutil.copytree(OURS, copy)
    text = (copy / path).read_text()
    assert text.count(old) == 1, old
    (copy / path).write_text(text.replace(old, new))
    assert reported in differences(_ours(copy), theirs)
