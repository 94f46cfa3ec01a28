"""Damage on disk: torn tails are truncated away and reported, damage before readable records is an error."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import pytest

from confagent.errors import StorageError
from confagent.raft._types import Entry, HardState
from confagent.server.storage import TornTail, Wal, WalState
from confagent.server.storage._wal_records import decode_segment


def entries(first: int, last: int) -> list[Entry]:
    return [Entry(1, index, data=b"value-%d" % index) for index in range(first, last + 1)]


def only_segment(data_dir: Path) -> Path:
    (segment,) = (data_dir / "member" / "wal").glob("*.wal")
    return segment


def records_end(segment: Path) -> int:
    """Where the segment's records end (the zeros of the space allocated ahead follow)."""
    return decode_segment(segment.read_bytes(), "test").valid_bytes


def write_log(data_dir: Path) -> tuple[Path, bytes, int]:
    """Five synced batches; returns the segment, its records' bytes (without the space allocated
    ahead), and where the last record starts."""
    wal, _ = Wal.open(data_dir)
    for index in range(1, 5):
        wal.append(HardState(1, 1, index - 1), entries(index, index))
        wal.sync()
    segment = only_segment(data_dir)
    last_record_offset = records_end(segment)
    wal.append(None, entries(5, 5))
    wal.close()
    return segment, segment.read_bytes()[:records_end(segment)], last_record_offset


def expected_without_last_record(torn_tail: TornTail | None = None) -> WalState:
    return WalState(HardState(1, 1, 3), None, tuple(entries(1, 4)), torn_tail=torn_tail)


def cut_after(segment: Path, last_record: int, written: bytes, reason: str) -> TornTail:
    """What open says it cut: from the last record's start to the last byte ``written`` that is
    not zero (zeros after it cannot be told from the space allocated ahead)."""
    return TornTail(str(segment), last_record, len(written.rstrip(b"\0")) - last_record, reason)


def test_a_torn_tail_of_every_length_is_truncated_and_the_log_goes_on(tmp_path: Path) -> None:
    segment, content, last_record = write_log(tmp_path)
    assert len(content) - last_record > 20

    for cut in range(last_record, len(content)):
        segment.write_bytes(content[:cut])
        wal, state = Wal.open(tmp_path)
        torn = None  # cut between records: nothing is torn
        if cut > last_record:
            assert state.torn_tail is not None and "cut short" in state.torn_tail.reason, f"cut at {cut}"
            torn = cut_after(segment, last_record, content[:cut], state.torn_tail.reason)
        assert state == expected_without_last_record(torn), f"cut at {cut}"
        assert records_end(segment) == last_record, f"cut at {cut}"
        wal.append(None, [Entry(2, 5, data=b"after")])
        wal.close()
        wal, state = Wal.open(tmp_path)
        wal.close()
        assert state.entries[-1] == Entry(2, 5, data=b"after"), f"cut at {cut}"
        assert state.torn_tail is None, "a repaired log is whole"


def test_a_flipped_byte_in_the_last_record_is_a_torn_tail(tmp_path: Path) -> None:
    segment, content, last_record = write_log(tmp_path)

    for position in range(last_record, len(content)):
        damaged = bytearray(content)
        damaged[position] ^= 0xFF
        segment.write_bytes(damaged)
        wal, state = Wal.open(tmp_path)
        wal.close()
        assert state.torn_tail is not None, f"flip at {position}"
        torn = cut_after(segment, last_record, bytes(damaged), state.torn_tail.reason)
        assert state == expected_without_last_record(torn), f"flip at {position}"
        assert records_end(segment) == last_record, f"flip at {position}"


def test_zeros_to_the_end_are_the_space_allocated_ahead_not_a_torn_tail(tmp_path: Path) -> None:
    segment, content, last_record = write_log(tmp_path)
    assert segment.stat().st_size > len(content), "the log allocates space ahead of its records"
    segment.write_bytes(content[:last_record] + bytes(4096))

    wal, state = Wal.open(tmp_path)
    wal.close()
    assert state == expected_without_last_record()
    assert records_end(segment) == last_record


def test_zeros_then_bytes_are_a_torn_tail_and_zeros_before_a_record_an_error(tmp_path: Path) -> None:
    segment, content, last_record = write_log(tmp_path)
    segment.write_bytes(content[:last_record] + bytes(100) + b"\x07")
    torn = cut_after(segment, last_record, content[:last_record] + bytes(100) + b"\x07",
                     "impossible record length 0")
    wal, state = Wal.open(tmp_path)
    wal.close()
    assert state == expected_without_last_record(torn)

    segment.write_bytes(content[:last_record] + bytes(100) + content[last_record:])
    with pytest.raises(StorageError, match=f"offset {last_record} .*readable records follow it"):
        Wal.open(tmp_path)


def test_a_flipped_byte_before_readable_records_names_the_file_and_offset(tmp_path: Path) -> None:
    segment, content, _ = write_log(tmp_path)
    offsets = [offset for offset, _ in decode_segment(content, "test").records]
    middle, following = offsets[len(offsets) // 2], offsets[len(offsets) // 2 + 1]

    for position in range(middle, following):
        damaged = bytearray(content)
        damaged[position] ^= 0xFF
        segment.write_bytes(damaged)
        with pytest.raises(StorageError) as raised:
            Wal.open(tmp_path)
        message = str(raised.value)
        assert str(segment) in message and f"offset {middle} " in message, message
        assert segment.read_bytes() == damaged, "nothing is truncated on an error"


def test_damage_at_the_end_of_an_older_segment_is_an_error(tmp_path: Path) -> None:
    wal, _ = Wal.open(tmp_path, segment_bytes=200)
    for index in range(1, 30):
        wal.append(None, entries(index, index))
        wal.sync()
    wal.close()
    first = min((tmp_path / "member" / "wal").glob("*.wal"))
    content = first.read_bytes()
    first.write_bytes(content[:-3])

    with pytest.raises(StorageError, match=f"{first}: damaged record at offset .*not the last"):
        Wal.open(tmp_path)


def test_a_checksummed_record_of_an_unknown_type_is_an_error_not_a_tail(tmp_path: Path) -> None:
    segment, content, _ = write_log(tmp_path)
    body = b"\x09unknown"
    segment.write_bytes(content + struct.pack("<II", len(body), zlib.crc32(body)) + body)

    with pytest.raises(StorageError, match=rf"offset {len(content)} has a valid checksum"):
        Wal.open(tmp_path)
