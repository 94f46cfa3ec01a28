"""Fixtures of the CLI tests."""

from __future__ import annotations

import uuid

import pytest


@pytest.fixture
def prefix() -> str:
    """Keys of the test's own, under a prefix no other test uses."""
    return f"test-cli/{uuid.uuid4().hex[:8]}/"
