"""bbolt's file format, read: the buckets and key/value pairs of a bbolt database (etcd's backend).

A bbolt file is pages of ``page_size`` bytes, page N at ``N * page_size``; one page
may run over the ``overflow`` pages after it. Little-endian throughout (version 2)::

    page header   id:u64 flags:u16 count:u16 overflow:u32           (16 bytes)
    meta          pages 0 and 1, after the header: magic:u32 (0xED0CDAED) version:u32 (2)
                  page_size:u32 flags:u32 root:(pgid:u64 sequence:u64) freelist:u64
                  high_water_pgid:u64 txid:u64 checksum:u64 (FNV-1a 64 of the 56 bytes before it)
    branch page   count x (pos:u32 ksize:u32 child:u64); key at pos from its element
    leaf page     count x (flags:u32 pos:u32 ksize:u32 vsize:u32); key then value at pos
                  from its element; flags 1: the value is a bucket
    bucket value  root:u64 sequence:u64; root 0 is an inline bucket, its leaf page follows
    freelist      count page ids (count 0xFFFF: the real count is the first u64)

Rules:

1. The meta page read is the valid one (magic, version, checksum) with the higher
   transaction ID, as bbolt's ``DB.meta`` chooses.
2. Every page reached is checked before anything of it is used: inside the file and
   below the high-water mark, its header's id its own, the type expected there, its
   elements and their keys and values inside it, reached once, not on the freelist;
   a bucket's keys ascend. A fault is one StorageError saying what and which page: no
   partial answer comes out of a damaged file.
3. Entries come out in key order, a nested bucket in its place (bbolt's ``ForEach``).

Pure: bytes in, values out.
"""

from __future__ import annotations

import itertools
import struct
from collections.abc import Iterator
from dataclasses import dataclass

from confagent.errors import StorageError

__all__ = ["BOLT_MAGIC", "BOLT_MAGIC_OFFSET", "BoltBucket", "BoltDb", "read_bolt"]

BOLT_MAGIC = 0xED0CDAED
BOLT_MAGIC_OFFSET = 16
"""Where a bbolt file's magic is: meta page 0, after its page header."""
_VERSION = 2
_PAGE = struct.Struct("<QHHI")
_META = struct.Struct("<IIII QQ QQQ Q")
_META_SUMMED = _META.size - 8
_BRANCH = struct.Struct("<IIQ")
_LEAF = struct.Struct("<IIII")
_BUCKET = struct.Struct("<QQ")
_PGID = struct.Struct("<Q")
_BRANCH_FLAG, _LEAF_FLAG, _META_FLAG, _FREELIST_FLAG = 0x01, 0x02, 0x04, 0x10
_BUCKET_LEAF_FLAG = 0x01
_NO_FREELIST = 0xFFFFFFFFFFFFFFFF
_PAGE_SIZES = tuple(1 << n for n in range(9, 17))
"""Where meta page 1 may be when page 0 is unreadable (bbolt then guesses the OS page size)."""
_FNV_OFFSET, _FNV_PRIME, _U64 = 0xCBF29CE484222325, 0x100000001B3, (1 << 64) - 1
_MAX_DEPTH = 64


@dataclass(frozen=True, slots=True)
class BoltBucket:
    """One bucket's entries in key order: a value, or a nested bucket (rule 3)."""

    entries: tuple[tuple[bytes, bytes | BoltBucket], ...]

    def bucket(self, name: bytes) -> BoltBucket | None:
        """The nested bucket ``name``, or None."""
        for key, value in self.entries:
            if key == name:
                return value if isinstance(value, BoltBucket) else None
        return None

    def pairs(self) -> Iterator[tuple[bytes, bytes]]:
        """The key/value pairs, nested buckets left out."""
        for key, value in self.entries:
            if not isinstance(value, BoltBucket):
                yield key, value


@dataclass(frozen=True, slots=True)
class BoltDb:
    """A bbolt database read whole (rule 2)."""

    page_size: int
    high_water: int
    """Pages in use: the database's size is ``high_water * page_size`` (bbolt's ``Tx.Size``)."""
    txid: int
    root: BoltBucket


@dataclass(frozen=True, slots=True)
class _Meta:
    page_size: int
    root: int
    freelist: int
    high_water: int
    txid: int


def read_bolt(data: bytes) -> BoltDb:
    """Every bucket of a bbolt database's bytes, checked (module rules).

    Raises:
        StorageError: not a bbolt database, another version of it, or damaged; the message
            says what is wrong and where.
    """
    meta = _choose_meta(data)
    reader = _Reader(memoryview(data), meta)
    root = reader.bucket(meta.root, 0)
    reader.check_freelist()
    return BoltDb(meta.page_size, meta.high_water, meta.txid, root)


def _choose_meta(data: bytes) -> _Meta:
    if len(data) < _PAGE.size + _META.size:
        raise StorageError(f"not a bbolt database: {len(data)} bytes, shorter than its meta page")
    first, error = _meta_at(data, 0, 0)
    candidates = [first] if first is not None else []
    sizes = (first.page_size,) if first is not None else _PAGE_SIZES
    for size in sizes:
        second, second_error = _meta_at(data, size, 1)
        if second is not None:
            candidates.append(second)
            break
        error = error or second_error
    if not candidates:
        raise StorageError(error or "no valid meta page")
    return max(candidates, key=lambda m: m.txid)


def _meta_at(data: bytes, offset: int, page_id: int) -> tuple[_Meta | None, str | None]:
    if len(data) < offset + _PAGE.size + _META.size:
        return None, f"meta page {page_id} is cut short"
    start = offset + _PAGE.size
    magic, version, page_size, _, root, _, freelist, high_water, txid, checksum = \
        _META.unpack_from(data, start)
    if magic != BOLT_MAGIC:
        return None, f"not a bbolt database: meta page {page_id} has magic {magic:#x}"
    if version != _VERSION:
        return None, f"bbolt database version {version}, expected {_VERSION}"
    if checksum != 0 and checksum != _fnv64a(data[start:start + _META_SUMMED]):
        return None, f"meta page {page_id} fails its checksum"
    if page_size not in _PAGE_SIZES:
        return None, f"meta page {page_id} gives page size {page_size}"
    return _Meta(page_size, root, freelist, high_water, txid), None


def _fnv64a(data: bytes) -> int:
    value = _FNV_OFFSET
    for byte in data:
        value = ((value ^ byte) * _FNV_PRIME) & _U64
    return value


class _Reader:
    """Walks the pages from the root bucket, checking each (rule 2)."""

    def __init__(self, data: memoryview, meta: _Meta) -> None:
        self.data = data
        self.meta = meta
        self.reached: set[int] = {0, 1}

    def bucket(self, root: int, depth: int) -> BoltBucket:
        entries: list[tuple[bytes, bytes | BoltBucket]] = []
        self._walk(root, depth, entries)
        _check_ascending(entries, f"the bucket at page {root}")
        return BoltBucket(tuple(entries))

    def _walk(self, page_id: int, depth: int, out: list[tuple[bytes, bytes | BoltBucket]]) -> None:
        if depth > _MAX_DEPTH:
            raise StorageError(f"page {page_id}: pages nested deeper than {_MAX_DEPTH}")
        page, flags, count = self._page(page_id)
        if flags == _BRANCH_FLAG:
            for _, child in _branch_elements(page, count, page_id):
                self._walk(child, depth + 1, out)
        elif flags == _LEAF_FLAG:
            out.extend(self._leaf(page, count, f"page {page_id}", depth))
        else:
            raise StorageError(f"page {page_id}: type {flags:#x} where a branch or leaf page belongs")

    def _page(self, page_id: int) -> tuple[memoryview, int, int]:
        size = self.meta.page_size
        if page_id < 2 or page_id >= self.meta.high_water:
            raise StorageError(f"page {page_id}: out of bounds (pages in use: {self.meta.high_water})")
        start = page_id * size
        if start + _PAGE.size > len(self.data):
            raise StorageError(f"page {page_id}: past the end of the file ({len(self.data)} bytes)")
        stored_id, flags, count, overflow = _PAGE.unpack_from(self.data, start)
        if stored_id != page_id:
            raise StorageError(f"page {page_id}: its header says page {stored_id}")
        end = start + (overflow + 1) * size
        if end > len(self.data):
            raise StorageError(f"page {page_id}: runs past the end of the file ({len(self.data)} bytes)")
        if page_id + overflow >= self.meta.high_water:
            raise StorageError(f"page {page_id}: its {overflow} overflow pages run out of bounds "
                               f"(pages in use: {self.meta.high_water})")
        for spanned in range(page_id, page_id + overflow + 1):
            if spanned in self.reached:
                raise StorageError(f"page {spanned}: multiple references")
            self.reached.add(spanned)
        return self.data[start:end], flags, count

    def _leaf(self, page: memoryview, count: int, where: str,
              depth: int) -> Iterator[tuple[bytes, bytes | BoltBucket]]:
        for flags, key, value in _leaf_elements(page, count, where):
            if flags & _BUCKET_LEAF_FLAG:
                yield key, self._nested(value, f"{where}, bucket {bytes(key)!r}", depth)
            else:
                yield key, value

    def _nested(self, value: bytes, where: str, depth: int) -> BoltBucket:
        if len(value) < _BUCKET.size:
            raise StorageError(f"{where}: bucket header cut short")
        root, _ = _BUCKET.unpack_from(value)
        if root != 0:
            return self.bucket(root, depth + 1)
        inline = memoryview(value)[_BUCKET.size:]
        if len(inline) < _PAGE.size:
            raise StorageError(f"{where}: inline page cut short")
        _, flags, count, _ = _PAGE.unpack_from(inline)
        if flags != _LEAF_FLAG:
            raise StorageError(f"{where}: inline page of type {flags:#x}, expected a leaf")
        entries = list(self._leaf(inline, count, f"{where} (inline)", depth + 1))
        _check_ascending(entries, where)
        return BoltBucket(tuple(entries))

    def check_freelist(self) -> None:
        """The freelist page is one, and no page reached is on it (rule 2)."""
        if self.meta.freelist == _NO_FREELIST:
            return
        page, flags, count = self._page(self.meta.freelist)
        if flags != _FREELIST_FLAG:
            raise StorageError(f"page {self.meta.freelist}: type {flags:#x} where the freelist belongs")
        first = _PAGE.size
        if count == 0xFFFF:
            (count,), first = _PGID.unpack_from(page, first), first + _PGID.size
        if first + count * _PGID.size > len(page):
            raise StorageError(f"page {self.meta.freelist}: freelist of {count} ids runs past its page")
        for index in range(count):
            (free,) = _PGID.unpack_from(page, first + index * _PGID.size)
            if free in self.reached:
                raise StorageError(f"page {free}: reachable and on the freelist")


def _branch_elements(page: memoryview, count: int, page_id: int) -> Iterator[tuple[bytes, int]]:
    if _PAGE.size + count * _BRANCH.size > len(page):
        raise StorageError(f"page {page_id}: {count} branch elements run past its end")
    for index in range(count):
        at = _PAGE.size + index * _BRANCH.size
        pos, ksize, child = _BRANCH.unpack_from(page, at)
        if at + pos + ksize > len(page):
            raise StorageError(f"page {page_id}: branch element {index}'s key runs past the page")
        yield bytes(page[at + pos:at + pos + ksize]), child


def _leaf_elements(page: memoryview, count: int, where: str) -> Iterator[tuple[int, bytes, bytes]]:
    if _PAGE.size + count * _LEAF.size > len(page):
        raise StorageError(f"{where}: {count} leaf elements run past its end")
    for index in range(count):
        at = _PAGE.size + index * _LEAF.size
        flags, pos, ksize, vsize = _LEAF.unpack_from(page, at)
        start = at + pos
        if start + ksize + vsize > len(page):
            raise StorageError(f"{where}: leaf element {index} runs past the page")
        yield flags, bytes(page[start:start + ksize]), bytes(page[start + ksize:start + ksize + vsize])


def _check_ascending(entries: list[tuple[bytes, bytes | BoltBucket]], where: str) -> None:
    for (before, _), (after, _) in itertools.pairwise(entries):
        if before >= after:
            raise StorageError(f"{where}: keys out of order ({before!r} before {after!r})")
