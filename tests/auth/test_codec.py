"""The auth commands in the log and the auth state in snapshots: round trips and refusals."""

from __future__ import annotations

import contextlib

import msgpack  # type: ignore[import-untyped]
import pytest
from hypothesis import given
from hypothesis import strategies as st

from confagent.auth import (
    AuthDisable,
    AuthEnable,
    Authenticate,
    AuthState,
    Command,
    Permission,
    PermissionType,
    RoleAdd,
    RoleDelete,
    RoleGrantPermission,
    RoleRevokePermission,
    UserAdd,
    UserChangePassword,
    UserDelete,
    UserGrantRole,
    UserRevokeRole,
    apply,
    decode_command,
    decode_state,
    encode_command,
    encode_state,
)
from confagent.errors import AuthError, StorageError

NAMES = st.sampled_from(["", "root", "u", "v", "é", "r", "s"])
KEYS = st.binary(max_size=3)
HASHES = st.binary(min_size=1, max_size=8)
PERMISSIONS = st.builds(Permission, KEYS, KEYS, st.sampled_from(PermissionType))

commands: st.SearchStrategy[Command] = st.one_of(
    st.just(AuthEnable()), st.just(AuthDisable()), st.builds(Authenticate, NAMES, st.text(max_size=16)),
    st.builds(UserAdd, NAMES, st.none() | HASHES), st.builds(UserDelete, NAMES),
    st.builds(UserChangePassword, NAMES, HASHES), st.builds(UserGrantRole, NAMES, NAMES),
    st.builds(UserRevokeRole, NAMES, NAMES), st.builds(RoleAdd, NAMES), st.builds(RoleDelete, NAMES),
    st.builds(RoleGrantPermission, NAMES, PERMISSIONS), st.builds(RoleRevokePermission, NAMES, KEYS, KEYS),
)


def applied(state: AuthState, sequence: list[Command]) -> AuthState:
    for command in sequence:
        with contextlib.suppress(AuthError):
            state = apply(state, command)
    return state


@given(commands)
def test_every_command_survives_the_log(command: Command) -> None:
    assert decode_command(encode_command(command)) == command


@given(st.lists(commands, max_size=40))
def test_a_state_survives_a_snapshot_and_applies_on_as_the_original(sequence: list[Command]) -> None:
    state = applied(AuthState(), sequence[:30])
    snapshot = encode_state(state)
    restored = decode_state(snapshot)
    assert restored == state
    assert encode_state(restored) == snapshot
    assert applied(restored, sequence[30:]) == applied(state, sequence[30:])
    assert encode_state(state) == snapshot  # apply made new states, and left this one as it was


def test_a_grant_costs_its_name_key_and_range_end_plus_9_bytes_in_the_log() -> None:
    grant = RoleGrantPermission("app", Permission(b"/app/", b"/app0", PermissionType.READ))
    assert len(encode_command(grant)) == len("app") + len(b"/app/") + len(b"/app0") + 9


@pytest.mark.parametrize("fields", [[2, 0], [0, 0], [True, 0], ["1", 0]])
def test_an_unknown_command_format_is_refused_naming_it(fields: list[object]) -> None:
    with pytest.raises(StorageError, match=r"auth command format"):
        decode_command(msgpack.packb(fields))


@pytest.mark.parametrize("data", [
    b"", b"\xc1", msgpack.packb(1), msgpack.packb([1, 99]), msgpack.packb([1, 4]),
    msgpack.packb([1, 4, b"bytes-not-str"]), msgpack.packb([1, 3, "u", "not-bytes"]),
    msgpack.packb([1, 10, "r", b"a", b"", 7]), msgpack.packb([1, 10, "r", b"a", b"", True]),
    msgpack.packb([1, 0, "extra"]),
])
def test_a_broken_command_is_refused(data: bytes) -> None:
    with pytest.raises(StorageError, match="undecodable auth command"):
        decode_command(data)


@pytest.mark.parametrize("data", [
    msgpack.packb([2, False, 1, [], []]), msgpack.packb([1, 0, 1, [], []]), msgpack.packb([1, False, 1, []]),
    msgpack.packb([1, False, 1, [["u", None, False, ["b", "a"]]], []]),  # roles out of order
    msgpack.packb([1, False, 1, [["u", None, False, []], ["u", None, False, []]], []]),
    msgpack.packb([1, False, 1, [], [["r", [[b"a", b"", 3]]]]]),
    msgpack.packb([1, False, 1, [], [["r", [[b"a", b""]]]]]),
    b"\x93",
])
def test_a_broken_state_is_refused(data: bytes) -> None:
    with pytest.raises(StorageError, match=r"undecodable auth state"):
        decode_state(data)


def test_a_refusal_names_what_it_read() -> None:
    with pytest.raises(StorageError, match=r"format 2, expected 1"):
        decode_state(msgpack.packb([2, False, 1, [], []]))
