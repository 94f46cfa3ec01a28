"""A minimal keep-alive HTTP/1.1 client over asyncio streams, for load generation only.

httpx costs the client ~1 ms of CPU per request, so with a 2-core machine a
benchmark using it measures the client, not the server. This client does one
thing: POST a body on a kept-alive connection and read the answer (with a
Content-Length or chunked), so the servers, not the client, are the limit.
"""

from __future__ import annotations

import asyncio
from urllib.parse import urlsplit

__all__ = ["RawConnection"]


class RawConnection:
    """One kept-alive connection; one request at a time."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, host: str) -> None:
        self._reader = reader
        self._writer = writer
        self._host = host.encode()

    @classmethod
    async def open(cls, url: str) -> RawConnection:
        parts = urlsplit(url)
        host, port = parts.hostname or "127.0.0.1", parts.port or 80
        reader, writer = await asyncio.open_connection(host, port)
        return cls(reader, writer, f"{host}:{port}")

    def send_post(self, path: str, body: bytes) -> None:
        self._writer.write(b"POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\n"
                           b"Content-Length: %d\r\n\r\n%s" % (path.encode(), self._host, len(body), body))

    async def post(self, path: str, body: bytes) -> tuple[int, bytes]:
        self.send_post(path, body)
        return await self.read_response()

    async def read_response(self) -> tuple[int, bytes]:
        head = await self._reader.readuntil(b"\r\n\r\n")
        lines = head.split(b"\r\n")
        status = int(lines[0].split(b" ", 2)[1])
        headers = {k.strip().lower(): v.strip() for k, _, v in (ln.partition(b":") for ln in lines[1:] if ln)}
        if b"content-length" in headers:
            return status, await self._reader.readexactly(int(headers[b"content-length"]))
        chunks: list[bytes] = []
        while True:
            size = int((await self._reader.readuntil(b"\r\n")).strip(), 16)
            chunk = await self._reader.readexactly(size + 2)
            if size == 0:
                return status, b"".join(chunks)
            chunks.append(chunk[:-2])

    async def read_chunk(self) -> bytes:
        """The next chunk of a streamed response whose head was read with ``read_head``."""
        size = int((await self._reader.readuntil(b"\r\n")).strip(), 16)
        return (await self._reader.readexactly(size + 2))[:-2]

    async def read_head(self) -> int:
        head = await self._reader.readuntil(b"\r\n\r\n")
        return int(head.split(b" ", 2)[1])

    async def close(self) -> None:
        self._writer.close()
        await self._writer.wait_closed()
