"""What the kv, lease and cluster commands print, in etcdctl 3.4's formats.

``simple`` is etcdctl's line format (keys and values written raw, binary
safe; with ``--hex`` each byte as ``\\xNN``), ``json`` is etcdctl's JSON (see
``_etcdctl_json``), ``table`` is tablewriter's box, which etcdctl offers for
the endpoint and member commands only. Formatting helpers reproduce Go's
``time.Duration`` and go-humanize's byte sizes, which etcdctl prints. The
client (httpx) is named in annotations only: the client commands import this
module when they register (``run`` and ``render`` do not: ``--write-out``'s
choices are ``confagent.cli._common.FORMATS``).
"""

from __future__ import annotations

import math
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, BinaryIO

import orjson

from confagent.errors import ConfigError
from confagent.kv._messages import (
    DeleteRangeResponse,
    EventType,
    KeyValue,
    PutResponse,
    RangeResponse,
    TxnResponse,
    WatchResponse,
)

if TYPE_CHECKING:
    from confagent.client import Member, Reply, Status

__all__ = [
    "Output",
    "go_duration",
    "hex_escaped",
    "humanize_bytes",
    "member_rows",
    "status_row",
]

_SIZES = ("B", "kB", "MB", "GB", "TB", "PB", "EB")


class Output:
    """Writes to stdout in one format; keys and values go out as they are, or as hex.

    etcdctl 3.4's ``--hex`` changes the keys and values of the simple format
    only: its JSON carries them in base64 either way.
    """

    def __init__(self, fmt: str, stream: BinaryIO | None = None, *, hex_bytes: bool = False) -> None:
        self.format = fmt
        self.hex_bytes = hex_bytes
        self._stream = stream if stream is not None else sys.stdout.buffer

    def require(self, *formats: str) -> None:
        """Refuse a format this command has no printer for (etcdctl exits 4 the same way)."""
        if self.format not in formats:
            raise ConfigError(f"{self.format} not supported as output format")

    def line(self, data: bytes | str = b"") -> None:
        self._stream.write((data.encode() if isinstance(data, str) else data) + b"\n")
        self._stream.flush()

    def json(self, value: Any) -> None:
        self.line(orjson.dumps(value))

    def key_value(self, kv: KeyValue, *, value_only: bool = False) -> None:
        if not value_only:
            self.line(self._bytes(kv.key))
        self.line(self._bytes(kv.value))

    def _bytes(self, data: bytes) -> bytes:
        return hex_escaped(data) if self.hex_bytes else data

    def get(self, r: RangeResponse, *, value_only: bool = False, count_only: bool = False) -> None:
        if count_only:
            self.line(str(r.count))
            return
        for kv in r.kvs:
            self.key_value(kv, value_only=value_only)

    def put(self, r: PutResponse) -> None:
        self.line("OK")
        if r.prev_kv is not None:
            self.key_value(r.prev_kv)

    def delete(self, r: DeleteRangeResponse) -> None:
        self.line(str(r.deleted))
        for kv in r.prev_kvs:
            self.key_value(kv)

    def txn(self, r: TxnResponse) -> None:
        self.line("SUCCESS" if r.succeeded else "FAILURE")
        for op in r.responses:
            self.line()
            if isinstance(op, RangeResponse):
                self.get(op)
            elif isinstance(op, PutResponse):
                self.put(op)
            elif isinstance(op, DeleteRangeResponse):
                self.delete(op)
            else:
                self.txn(op)

    def watch(self, reply: Reply[WatchResponse]) -> None:
        for e in reply.response.events:
            self.line("DELETE" if e.type is EventType.DELETE else "PUT")
            if e.prev_kv is not None:
                self.key_value(e.prev_kv)
            self.key_value(e.kv)

    def rows(self, header: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
        """Rows as etcdctl prints them: joined by ", " (simple) or in a table."""
        if self.format == "table":
            self.line(render_table(header, rows))
        else:
            for row in rows:
                self.line(", ".join(row))


def hex_escaped(data: bytes) -> bytes:
    """etcdctl's ``--hex``: every byte as ``\\x`` and two lowercase hex digits."""
    return b"".join(b"\\x%02x" % byte for byte in data)


def render_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """tablewriter's box as etcdctl configures it: header centred, cells right-aligned."""
    titles = [h.upper() for h in header]
    widths = [max(len(cell) for cell in column) for column in zip(titles, *rows, strict=True)]
    rule = "+" + "+".join("-" * (w + 2) for w in widths) + "+"

    def centred(text: str, width: int) -> str:
        gap = width - len(text)
        return " " * (gap // 2) + text + " " * (gap - gap // 2)

    head = "|" + "|".join(f" {centred(t, w)} " for t, w in zip(titles, widths, strict=True)) + "|"
    body = ["|" + "|".join(f" {c.rjust(w)} " for c, w in zip(row, widths, strict=True)) + "|"
            for row in rows]
    return "\n".join([rule, head, rule, *body, rule])


def status_row(endpoint: str, reply: Reply[Status]) -> list[str]:
    s = reply.response
    return [
        endpoint, f"{reply.header.member_id:x}", s.version, humanize_bytes(s.db_size),
        _go_bool(s.leader == reply.header.member_id), _go_bool(s.is_learner),
        str(s.raft_term), str(s.raft_index), str(s.raft_applied_index), ", ".join(s.errors),
    ]


def member_rows(members: Sequence[Member]) -> list[list[str]]:
    return [[f"{m.id:x}", "started" if m.name else "unstarted", m.name, ",".join(m.peer_urls),
             ",".join(m.client_urls), _go_bool(m.is_learner)] for m in members]


def _go_bool(value: bool) -> str:
    return "true" if value else "false"


def humanize_bytes(size: int) -> str:
    """go-humanize's ``Bytes``: SI units, one decimal below 10 (``25 kB``, ``1.5 MB``)."""
    if size < 10:
        return f"{size} B"
    exponent = min(math.floor(math.log(size, 1000)), len(_SIZES) - 1)
    value = math.floor(size / 1000**exponent * 10 + 0.5) / 10
    return f"{value:.1f} {_SIZES[exponent]}" if value < 10 else f"{value:.0f} {_SIZES[exponent]}"


def go_duration(seconds: float) -> str:
    """Go's ``time.Duration.String()`` for a non-negative duration (``1.188194ms``)."""
    ns = round(seconds * 1e9)
    if ns < 1000:
        return f"{ns}ns"
    if ns < 1_000_000:
        return _trim(f"{ns / 1e3:.3f}") + "µs"
    if ns < 1_000_000_000:
        return _trim(f"{ns / 1e6:.6f}") + "ms"
    minutes, rest_ns = divmod(ns, 60_000_000_000)
    text = _trim(f"{rest_ns / 1e9:.9f}") + "s"
    hours, minutes = divmod(minutes, 60)
    if hours:
        return f"{hours}h{minutes}m{text}"
    return f"{minutes}m{text}" if minutes else text


def _trim(number: str) -> str:
    return number.rstrip("0").rstrip(".") if "." in number else number
