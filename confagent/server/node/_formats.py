"""Byte layouts the member's modules share: an entry's markers, a snapshot's users-and-roles part.

A leaf: it imports nothing of the member's, so that telling an entry's kind
(``_entries``) and taking a snapshot payload's key-value part (``_payload``)
load neither the auth state nor the store's messages, which the data-directory
reader of a one-shot does without (``_data_dir_reader`` rule 6).

* An entry this member proposes starts with a request ID of ``REQUEST_ID_BYTES``
  (``_proposals`` rule 1); after it, ``AUTH_COMMAND`` starts an auth command and
  ``WITH_CREDENTIALS`` a store command with its proposer's credentials (``_auth``
  rules 1-2; ``_entries`` rule 1 says what else an entry may hold).
* A snapshot payload's users-and-roles part (``_payload``) is ``AUTH_PART``, the
  part's length (``PART_LENGTH``) and its bytes (``_auth`` encodes what is
  inside), in front of the key-value part; absent for a store that never had auth.
"""

from __future__ import annotations

import struct

from confagent.errors import StorageError

__all__ = ["AUTH_COMMAND", "AUTH_PART", "PART_LENGTH", "REQUEST_ID_BYTES", "WITH_CREDENTIALS",
           "split_auth_part"]

REQUEST_ID_BYTES = 8
AUTH_COMMAND = b"\x01"
"""An entry's payload (after its request ID) that is an auth command. A store command is a msgpack array
and a member command starts with 0xc1: neither starts with 0x01 or 0x02."""
WITH_CREDENTIALS = b"\x02"
"""An entry's payload that is a store command with its proposer's credentials."""
AUTH_PART = b"CAAU"
PART_LENGTH = struct.Struct("<I")


def split_auth_part(data: bytes) -> tuple[bytes | None, bytes]:
    """The users-and-roles part's bytes of a snapshot payload (None when absent) and the key-value part
    after it.

    Raises:
        StorageError: the part cut short.
    """
    if not data.startswith(AUTH_PART):
        return None, data
    start = len(AUTH_PART) + PART_LENGTH.size
    if len(data) < start:
        raise StorageError("snapshot payload cut short in its auth state")
    (length,) = PART_LENGTH.unpack_from(data, len(AUTH_PART))
    if len(data) < start + length:
        raise StorageError("snapshot payload cut short in its auth state")
    return data[start:start + length], data[start + length:]
