"""Differential testing kit: the same requests to a real etcd and to confagent, answers compared.

Answers are compared as parsed JSON, after dropping what legitimately
differs between two servers: cluster and member IDs and the Raft term in
headers. Everything else — statuses, fields present or omitted, revisions,
error codes and messages — must be equal.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
import orjson

from confagent import kv
from confagent.testing import b64

Json = Any


def prefix_end(prefix: str) -> str:
    """etcd's range_end for a prefix, as the JSON gateway spells it (base64)."""
    return b64(kv.prefix_end(prefix.encode()))


_VOLATILE_HEADER_FIELDS = ("cluster_id", "member_id", "raft_term")


def normalize(value: Json) -> Json:
    """Drop the fields two servers legitimately disagree on, anywhere in the answer."""
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            kept = item
            if key == "header" and isinstance(item, dict):
                kept = {k: v for k, v in item.items() if k not in _VOLATILE_HEADER_FIELDS}
            out[key] = normalize(kept)
        return out
    if isinstance(value, list):
        return [normalize(item) for item in value]
    return value


@dataclass(frozen=True)
class Answer:
    status: int
    body: Json
    grpc_metadata: str | None = None
    """The gateway's ``Grpc-Metadata-Content-Type`` header: etcd sends it on successes, not on errors."""

    @classmethod
    def of(cls, response: httpx.Response) -> Answer:
        content, metadata = response.content, response.headers.get("grpc-metadata-content-type")
        if response.headers.get("content-type", "").startswith("application/json"):
            if b"\n" in content.strip():
                return cls(response.status_code, [orjson.loads(line) for line in content.splitlines()
                                                  if line.strip()], metadata)
            return cls(response.status_code, orjson.loads(content) if content else None, metadata)
        return cls(response.status_code, content.decode(errors="replace"), metadata)


class Pair:
    """Two servers, one request at a time to both."""

    def __init__(self, etcd_url: str, ours_url: str) -> None:
        self.etcd = httpx.Client(base_url=etcd_url, timeout=10.0)
        self.ours = httpx.Client(base_url=ours_url, timeout=10.0)

    def close(self) -> None:
        self.etcd.close()
        self.ours.close()

    def call(self, path: str, body: Json = None, *, raw: bytes | None = None,
             method: str = "POST") -> tuple[Answer, Answer]:
        content = raw if raw is not None else (b"" if body is None else orjson.dumps(body))
        theirs = Answer.of(self.etcd.request(method, path, content=content))
        ours = Answer.of(self.ours.request(method, path, content=content))
        return theirs, ours

    def same(self, path: str, body: Json = None, *, raw: bytes | None = None,
             method: str = "POST") -> Answer:
        """Send to both; assert equal answers; return etcd's."""
        theirs, ours = self.call(path, body, raw=raw, method=method)
        assert ours.status == theirs.status, (
            f"{method} {path} {body or raw!r}: status {ours.status} != etcd's {theirs.status}\n"
            f"ours: {ours.body}\netcd: {theirs.body}")
        assert normalize(ours.body) == normalize(theirs.body), (
            f"{method} {path} {body or raw!r}:\nours: {ours.body}\netcd: {theirs.body}")
        assert ours.grpc_metadata == theirs.grpc_metadata, (
            f"{method} {path} {body or raw!r}: Grpc-Metadata-Content-Type {ours.grpc_metadata!r} "
            f"!= etcd's {theirs.grpc_metadata!r}")
        return theirs

    def same_error(self, path: str, body: Json = None, *, raw: bytes | None = None) -> Answer:
        """Errors: status and gRPC code must match; the message too unless it is Go's JSON text."""
        return self.same(path, body, raw=raw)
