"""What a set of .proto files says on the wire, as one flat table: for comparing ours with etcd's.

:func:`compile_protos` runs grpcio-tools' protoc in this process (no child
process) into a ``FileDescriptorSet``; :func:`wire_table` reads the named files
out of it into ``{"etcdserverpb.RangeRequest.limit": "3 optional int64", ...}``:
every message (nested ones included) and its fields (number, label, type, the
message or enum type named, the oneof it belongs to), every enum and its
values, every service and its methods (request and response types, streaming
flags), and each file's package. Options, comments, json names and the order of
declarations are left out: they are not the protocol. :func:`differences`
names every entry that is missing, extra or different.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterable
from pathlib import Path

from google.protobuf import descriptor_pb2
from grpc_tools import protoc

__all__ = ["compile_protos", "differences", "wire_table"]

_Field = descriptor_pb2.FieldDescriptorProto
_TYPES = {number: name.removeprefix("TYPE_").lower() for name, number in _Field.Type.items()}
_LABELS = {number: name.removeprefix("LABEL_").lower() for name, number in _Field.Label.items()}


def compile_protos(files: Iterable[str], includes: Iterable[Path]) -> descriptor_pb2.FileDescriptorSet:
    """``files`` (paths relative to an include directory) compiled with their imports."""
    well_known = Path(protoc.__file__).parent / "_proto"
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "set.pb"
        args = ["protoc", *(f"-I{path}" for path in (*includes, well_known)), "--include_imports",
                f"--descriptor_set_out={out}", *files]
        assert protoc.main(args) == 0, f"protoc failed on {list(files)} (its message is above)"
        return descriptor_pb2.FileDescriptorSet.FromString(out.read_bytes())


def wire_table(descriptors: descriptor_pb2.FileDescriptorSet, files: Iterable[str]) -> dict[str, str]:
    """The wire facts of ``files`` (names as compiled), keyed by fully qualified name."""
    wanted = set(files)
    table: dict[str, str] = {}
    for proto in descriptors.file:
        if proto.name not in wanted:
            continue
        wanted.discard(proto.name)
        table[f"file {proto.name}"] = f"package {proto.package} {proto.syntax}"
        for message in proto.message_type:
            _message(table, proto.package, message)
        for enum in proto.enum_type:
            _enum(table, proto.package, enum)
        for service in proto.service:
            _service(table, proto.package, service)
    assert not wanted, f"not compiled: {sorted(wanted)}"
    return table


def _message(table: dict[str, str], scope: str, message: descriptor_pb2.DescriptorProto) -> None:
    name = f"{scope}.{message.name}"
    table[name] = "message"
    oneofs = [oneof.name for oneof in message.oneof_decl]
    for field in message.field:
        kind = _TYPES[field.type] + (f" {field.type_name.lstrip('.')}" if field.type_name else "")
        oneof = f" oneof {oneofs[field.oneof_index]}" if field.HasField("oneof_index") else ""
        optional = " proto3_optional" if field.proto3_optional else ""
        table[f"{name}.{field.name}"] = f"{field.number} {_LABELS[field.label]} {kind}{oneof}{optional}"
    for nested in message.nested_type:
        _message(table, name, nested)
    for enum in message.enum_type:
        _enum(table, name, enum)


def _enum(table: dict[str, str], scope: str, enum: descriptor_pb2.EnumDescriptorProto) -> None:
    name = f"{scope}.{enum.name}"
    table[name] = "enum"
    for value in enum.value:
        table[f"{name}.{value.name}"] = f"= {value.number}"


def _service(table: dict[str, str], scope: str, service: descriptor_pb2.ServiceDescriptorProto) -> None:
    name = f"{scope}.{service.name}"
    table[name] = "service"
    for method in service.method:
        request = ("stream " if method.client_streaming else "") + method.input_type.lstrip(".")
        response = ("stream " if method.server_streaming else "") + method.output_type.lstrip(".")
        table[f"/{name}/{method.name}"] = f"({request}) returns ({response})"


def differences(ours: dict[str, str], theirs: dict[str, str]) -> list[str]:
    """One line per entry that differs: ``name: ours != theirs``, ``missing``, or ``extra``."""
    lines = []
    for name in sorted(ours.keys() | theirs.keys()):
        if name not in ours:
            lines.append(f"{name}: missing (etcd: {theirs[name]})")
        elif name not in theirs:
            lines.append(f"{name}: extra ({ours[name]})")
        elif ours[name] != theirs[name]:
            lines.append(f"{name}: {ours[name]} != etcd's {theirs[name]}")
    return lines
