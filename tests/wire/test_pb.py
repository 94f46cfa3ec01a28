"""confagent/wire/_pb is what scripts/genproto makes of proto/ now, and loads with the installed protobuf."""

from __future__ import annotations

import importlib
import importlib.util
import re
import shutil
from importlib.machinery import SourceFileLoader
from pathlib import Path
from types import ModuleType

from google import protobuf

from confagent.wire._pb import rpc_pb2, v3election_pb2

ROOT = Path(__file__).resolve().parents[2]
COMMITTED = ROOT / "confagent" / "wire" / "_pb"


def _genproto() -> ModuleType:
    """scripts/genproto as a module: it runs protoc in this process, starting no other."""
    path = ROOT / "scripts" / "genproto"
    spec = importlib.util.spec_from_loader("genproto", SourceFileLoader("genproto", str(path)))
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _stale(genproto: ModuleType, out: Path) -> list[str]:
    """The files of the committed package that differ from what ``genproto`` writes into ``out``."""
    fresh = {path.name: path.read_text() for path in genproto.generate(out)}
    committed = {path.name: path.read_text() for path in COMMITTED.iterdir() if path.is_file()}
    return sorted(name for name in fresh.keys() | committed.keys() if fresh.get(name) != committed.get(name))


def test_the_committed_modules_are_what_genproto_makes(tmp_path: Path) -> None:
    stale = _stale(_genproto(), tmp_path)
    assert not stale, f"confagent/wire/_pb is not current ({stale}): run scripts/genproto"


def test_a_proto_changed_without_regenerating_is_caught(tmp_path: Path) -> None:
    genproto = _genproto()
    copy = tmp_path / "proto"
    shutil.copytree(ROOT / "proto", copy)
    genproto.PROTO_ROOT = copy  # type: ignore[attr-defined]
    kv = copy / "etcd" / "mvcc" / "mvccpb" / "kv.proto"
    kv.write_text(kv.read_text().replace("int64 lease = 6;", "int64 lease = 7;"))
    assert _stale(genproto, tmp_path / "out") == ["kv_pb2.py"]


def test_every_module_passes_protobufs_version_check() -> None:
    """Importing a module runs the generated code's check against the protobuf runtime; the runtime
    is the one pyproject.toml allows (the major version of the code, at least its minor)."""
    for path in sorted(COMMITTED.glob("*_pb2.py")):
        module = importlib.import_module(f"confagent.wire._pb.{path.stem}")
        made_by = re.search(r"^# Protobuf Python Version: (\d+)\.(\d+)\.", path.read_text(), re.MULTILINE)
        assert made_by, path
        major, minor = (int(part) for part in made_by.groups())
        runtime = tuple(int(part) for part in protobuf.__version__.split(".")[:2])
        assert runtime[0] == major and runtime >= (major, minor), protobuf.__version__
        assert module.DESCRIPTOR.name.endswith(f"{path.stem.removesuffix('_pb2')}.proto")


def test_messages_carry_etcds_names_and_their_own_module() -> None:
    assert rpc_pb2.RangeRequest.DESCRIPTOR.full_name == "etcdserverpb.RangeRequest"
    assert rpc_pb2.RangeRequest.__module__ == "confagent.wire._pb.rpc_pb2"
    kv = v3election_pb2.LeaderResponse.DESCRIPTOR.fields_by_name["kv"].message_type
    assert kv is not None and kv.full_name == "mvccpb.KeyValue"
    method = rpc_pb2.DESCRIPTOR.services_by_name["KV"].methods_by_name["Range"]
    assert f"/{method.containing_service.full_name}/{method.name}" == "/etcdserverpb.KV/Range"
