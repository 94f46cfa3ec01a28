"""Download a member's snapshot over ``POST /v3/maintenance/snapshot``, checking it is whole.

The stream (etcd 3.4's gateway, and confagent's) is one ``{"result": {...}}`` line per
chunk: ``blob`` holds the bytes, ``remaining_bytes`` what follows this chunk (left out
when zero, i.e. on the last chunk); one more message then carries the SHA-256 of all
the chunks. The chunks and the digest, written one after the other, are the saved file
(etcd's layout: the database, then its SHA-256).

A stream that ends before the digest, carries a digest that does not match, or goes
on after it, raises :class:`~confagent.errors.ClientError` once every chunk before the
fault has been yielded: the caller must not keep what it wrote.
"""

from __future__ import annotations

import binascii
import hashlib
from collections.abc import AsyncGenerator
from typing import Any

import httpx

from confagent import wire
from confagent.client._transport import error_from_response, parse_json
from confagent.errors import ClientError, StoreError

__all__ = ["SNAPSHOT_PATH", "download_snapshot"]

SNAPSHOT_PATH = "/v3/maintenance/snapshot"


class _DigestCheck:
    """Follows the stream's messages: chunks, then the digest that must match them."""

    def __init__(self, endpoint: str) -> None:
        self._endpoint = endpoint
        self._sha256 = hashlib.sha256()
        self._last_chunk_seen = False
        self.complete = False

    def accept(self, result: dict[str, Any]) -> bytes:
        """The bytes one message adds to the file. Raises ClientError when out of order."""
        blob = _blob(result, self._endpoint)
        if self.complete:
            raise ClientError(f"{self._endpoint}: the snapshot stream went on after its sha256")
        if self._last_chunk_seen:
            if blob != self._sha256.digest():
                raise ClientError(f"{self._endpoint}: the snapshot's sha256 does not match "
                                  f"its bytes (expected {blob.hex()}, got {self._sha256.hexdigest()})")
            self.complete = True
            return blob
        self._sha256.update(blob)
        self._last_chunk_seen = int(result.get("remaining_bytes", 0)) == 0
        return blob


def _blob(result: dict[str, Any], endpoint: str) -> bytes:
    try:
        return binascii.a2b_base64(str(result.get("blob", "")), strict_mode=True)
    except binascii.Error as error:
        raise ClientError(f"{endpoint}: the snapshot stream has a malformed blob: {error}") from None


def _stream_error(error: Any, endpoint: str) -> StoreError | ClientError:
    """The error a gateway stream ended with (``{"error": {"grpc_code", "message", ...}}``)."""
    if not isinstance(error, dict):
        return ClientError(f"{endpoint}: the snapshot stream failed: {error!r}")
    return wire.decode_stream_error(error)


async def download_snapshot(http: httpx.AsyncClient, endpoint: str) -> AsyncGenerator[bytes, None]:
    """The bytes of ``endpoint``'s snapshot file as they arrive (module doc).

    Raises:
        StoreError: the member refused the request.
        ClientError: the member could not be reached, or the stream broke or was not whole.
    """
    check = _DigestCheck(endpoint)
    try:
        async with http.stream("POST", endpoint.rstrip("/") + SNAPSHOT_PATH, content=b"{}") as response:
            if response.status_code != 200:
                await response.aread()
                raise error_from_response(response, endpoint)
            async for line in response.aiter_lines():
                if not line.strip():
                    continue
                message = parse_json(line.encode(), endpoint)
                if "error" in message:
                    raise _stream_error(message["error"], endpoint)
                yield check.accept(message.get("result") or {})
    except httpx.HTTPError as error:
        raise ClientError(f"{endpoint}: the snapshot download failed: {error!r}") from error
    if not check.complete:
        raise ClientError(f"{endpoint}: the snapshot stream ended before its sha256: "
                          f"the download is incomplete")
