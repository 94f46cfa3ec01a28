"""Saved snapshot files: a body in whole 512-byte pages, as etcdctl's ``snapshot save`` wants it,
and files written before the padding read the same."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from confagent.errors import StorageError
from confagent.kv import KvStore, PutRequest
from confagent.raft import ConfState, SnapshotMeta
from confagent.server.storage import (
    PAGE_BYTES,
    SnapshotImage,
    encode_image,
    encode_with_digest,
    read_saved_snapshot,
)


@pytest.fixture(params=[0, 1, 300])
def image(request: pytest.FixtureRequest) -> SnapshotImage:
    kv = KvStore()
    for i in range(request.param):
        kv.apply(PutRequest(key=b"k%d" % i, value=b"v" * i))
    meta = SnapshotMeta(index=7, term=2, conf_state=ConfState(voters=(1,)))
    return SnapshotImage(meta, kv.revision, kv.key_count(), kv.snapshot())


def test_the_body_is_whole_pages_then_its_sha256(tmp_path: Path, image: SnapshotImage) -> None:
    body, digest = encode_with_digest(image)
    assert len(body) % PAGE_BYTES == 0 and body.startswith(encode_image(image))
    assert digest == hashlib.sha256(body).digest()
    path = tmp_path / "snap.db"
    path.write_bytes(body + digest)
    saved = read_saved_snapshot(path)
    assert saved.image == image and saved.size_bytes == len(body)


def test_a_file_without_padding_reads_the_same(tmp_path: Path, image: SnapshotImage) -> None:
    body = encode_image(image)
    path = tmp_path / "old.db"
    path.write_bytes(body + hashlib.sha256(body).digest())
    assert read_saved_snapshot(path).image == image


def test_a_padded_file_with_a_wrong_sha256_is_refused(tmp_path: Path, image: SnapshotImage) -> None:
    body, digest = encode_with_digest(image)
    path = tmp_path / "bad.db"
    path.write_bytes(body + bytes(b ^ 1 for b in digest))
    with pytest.raises(StorageError, match="expected sha256"):
        read_saved_snapshot(path)
