"""Fixtures of the store's own tests."""

from __future__ import annotations

import resource
import signal
from collections.abc import Iterator

import pytest

from confagent.server.storage._wal import PREALLOCATE_BYTES


@pytest.fixture
def file_size_limit() -> Iterator[int]:
    """Make files past the first step of space a log allocates ahead, plus 64 KiB, fail to
    grow with EFBIG (a real failing write, no fake)."""
    limit = PREALLOCATE_BYTES + 64 * 1024
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    previous_handler = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, hard))
    try:
        yield limit
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
        signal.signal(signal.SIGXFSZ, previous_handler)
