"""The Auth service's client codec: the request bodies etcd 3.4's gateway takes, and its answers read.

The bodies and answers below are the ones a real etcd 3.4.23 took and gave on
``/v3/auth/*`` (the client's tests in tests/client/test_auth.py send them).
"""

from __future__ import annotations

import pytest

from confagent import wire
from confagent.wire import Permission, PermissionType

HEADER = {"cluster_id": "15118495548433857066", "member_id": "13668033151171901709", "revision": "1",
          "raft_term": "2"}


def test_requests_name_users_and_roles_with_each_message_s_own_field() -> None:
    assert wire.encode_authenticate_request("root", "pw") == {"name": "root", "password": "pw"}
    assert wire.encode_user_add_request("bob", "p", False) == {"name": "bob", "password": "p"}
    assert wire.encode_user_add_request("carol", "", True) == {"name": "carol",
                                                               "options": {"no_password": True}}
    assert wire.encode_user_request("bob") == {"name": "bob"}
    assert wire.encode_user_request("bob", "q") == {"name": "bob", "password": "q"}
    assert wire.encode_user_role_request("bob", "app", grant=True) == {"user": "bob", "role": "app"}
    assert wire.encode_user_role_request("bob", "app", grant=False) == {"name": "bob", "role": "app"}
    assert wire.encode_role_request("r2", add=True) == {"name": "r2"}
    assert wire.encode_role_request("r2") == {"role": "r2"}
    assert wire.encode_role_revoke_permission_request("r2", b"/a", b"/b") == {
        "role": "r2", "key": "L2E=", "range_end": "L2I="}
    assert wire.encode_role_revoke_permission_request("", b"", b"") == {}


@pytest.mark.parametrize(("perm", "body"), [
    (Permission(b"/a", b"/b", PermissionType.READWRITE),
     {"permType": "READWRITE", "key": "L2E=", "range_end": "L2I="}),
    (Permission(b"/c", type=PermissionType.WRITE), {"permType": "WRITE", "key": "L2M="}),
    (Permission(b"/m", b"\x00", PermissionType.READ), {"key": "L20=", "range_end": "AA=="}),
])
def test_a_permission_goes_with_its_type_by_name_and_read_left_out(perm: Permission,
                                                                   body: dict[str, str]) -> None:
    assert wire.encode_role_grant_permission_request("r2", perm) == {"name": "r2", "perm": body}


def test_answers_decode_with_their_header() -> None:
    token = wire.decode_authenticate_response({"header": HEADER, "token": "rzRmiWCGGTqBdeKX.31"})
    assert token.response == "rzRmiWCGGTqBdeKX.31"
    assert token.header.revision == 1 and token.header.member_id == 13668033151171901709
    users = wire.decode_auth_names_response({"header": HEADER, "users": ["alice", "root"]}, "users")
    assert users.response == ("alice", "root")
    assert wire.decode_auth_names_response({"header": HEADER}, "roles").response == ()


def test_a_role_s_permissions_read_by_name_or_number_absent_type_being_read() -> None:
    gateway = {"header": HEADER, "perm": [
        {"permType": "READWRITE", "key": "L2FwcC8=", "range_end": "L2FwcDA="},
        {"permType": "WRITE", "key": "L2s="}, {"key": "L20=", "range_end": "AA=="}]}
    expected = (Permission(b"/app/", b"/app0", PermissionType.READWRITE),
                Permission(b"/k", type=PermissionType.WRITE), Permission(b"/m", b"\x00", PermissionType.READ))
    assert wire.decode_role_get_response(gateway).response == expected
    go_json = {"perm": [{"permType": 2, "key": "L2FwcC8=", "range_end": "L2FwcDA="},
                        {"permType": 1, "key": "L2s="}, {"key": "L20=", "range_end": "AA=="}]}
    assert wire.decode_role_get_response(go_json).response == expected
    assert wire.decode_role_get_response({"header": HEADER}).response == ()


@pytest.mark.parametrize("perm_type", ["ADMIN", 3, -1])
def test_a_permission_type_etcd_does_not_define_is_a_value_error(perm_type: object) -> None:
    with pytest.raises(ValueError, match=r"permission type|is not a valid"):
        wire.decode_role_get_response({"perm": [{"permType": perm_type, "key": "L2E="}]})
