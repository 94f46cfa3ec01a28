"""etcd's key range of a prefix, held once in kv and read by the client, the CLI and the backends."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from confagent.kv import FROM_KEY, prefix_end, prefix_range

keys = st.binary(max_size=4).map(lambda key: key.replace(b"\x01", b"\xff"))  # 0xff runs are the edge


def test_prefix_end() -> None:
    assert prefix_end(b"app/") == b"app0"
    assert prefix_end(b"a\xff\xff") == b"b"
    assert prefix_end(b"\xff") == b"\0"


@given(keys.filter(bool), keys)
def test_prefix_range_holds_exactly_the_keys_with_the_prefix(prefix: bytes, key: bytes) -> None:
    low, high = prefix_range(prefix)
    assert (low, high) == (prefix, prefix_end(prefix))
    within = low <= key and (high == FROM_KEY or key < high)
    assert within == key.startswith(prefix)


def test_prefix_range_of_the_empty_prefix_is_every_key() -> None:
    assert prefix_range(b"") == (b"\0", b"\0")
