"""Groups: creation, hierarchy, members, roles, capabilities, metadata,
settings, upgrades, migrations, invitations and ownership proofs."""

from __future__ import annotations

import time
from typing import Any

import pytest

import calimero
from calimero import Capability
from conftest import rc
from testnode import TestNode

OTHER_ACCOUNT = "ab" * 32


@pytest.fixture
def account(client: calimero.Client, namespace_id: str) -> str:
    return client.get_node_identity()["data"]["accountId"]


@pytest.fixture
def group_id(client: calimero.Client, namespace_id: str) -> str:
    return client.create_group_in_namespace(namespace_id, "team")["data"]["groupId"]


def last_body(node: TestNode) -> Any:
    import json

    return json.loads(node.requests()[-1]["body"])


def test_create_get_and_delete(client: calimero.Client, app_id: str, namespace_id: str) -> None:
    group_id = client.create_group(app_id, "sub", namespace_id)["data"]["groupId"]
    info = client.get_group_info(group_id)["data"]
    assert info["groupId"] == group_id
    assert info["targetApplicationId"] == app_id
    assert info["memberCount"] == 1
    assert {"defaultCapabilities", "subgroupVisibility", "groupStateHash", "appKey"} <= set(info)
    assert {"groupId": group_id, "name": "sub"} in client.list_subgroups(namespace_id)["subgroups"]
    assert client.delete_group(group_id) == {"data": {"isDeleted": True}}


def test_groups_in_a_namespace(client: calimero.Client, node: TestNode, namespace_id: str) -> None:
    open_id = client.create_group_in_namespace(namespace_id, "open one", visibility="open")
    assert last_body(node) == {"groupName": "open one", "visibility": "open"}
    open_id = open_id["data"]["groupId"]
    plain_id = client.create_group_in_namespace(namespace_id)["data"]["groupId"]
    # Sent explicitly: an rc.83 node makes a subgroup open when it is absent.
    assert last_body(node) == {"visibility": "restricted"}
    groups = client.list_namespace_groups(namespace_id)["data"]
    assert {g["groupId"] for g in groups} == {open_id, plain_id}
    assert client.get_group_info(open_id)["data"]["subgroupVisibility"] == "open"
    assert client.get_group_info(plain_id)["data"]["subgroupVisibility"] == "restricted"
    with pytest.raises(ValueError, match="^visibility: expected one of open, restricted"):
        client.create_group_in_namespace(namespace_id, visibility="public")


def test_reparent(client: calimero.Client, app_id: str, namespace_id: str, group_id: str) -> None:
    child = client.create_group(app_id, "child", group_id)["data"]["groupId"]
    assert child in {g["groupId"] for g in client.list_subgroups(group_id)["subgroups"]}
    assert client.reparent_group(child, namespace_id) == {"reparented": True}
    assert child not in {g["groupId"] for g in client.list_subgroups(group_id)["subgroups"]}


def test_members_roles_and_removal(
    client: calimero.Client, node: TestNode, group_id: str, account: str
) -> None:
    assert client.list_group_members(group_id)["members"][0]["identity"] == account
    assert (
        client.add_group_members(group_id, [{"identity": OTHER_ACCOUNT, "role": "read-only"}]) == {}
    )
    assert last_body(node) == {"members": [{"identity": OTHER_ACCOUNT, "role": "ReadOnly"}]}
    # JSON text, as the official client took it, and bare identities.
    client.add_group_members(group_id, f'["{"cd" * 32}"]')
    assert last_body(node) == {"members": [{"identity": "cd" * 32, "role": "Member"}]}
    roles = {m["identity"]: m["role"] for m in client.list_group_members(group_id)["members"]}
    assert roles[OTHER_ACCOUNT] == "ReadOnly" and roles["cd" * 32] == "Member"
    assert client.update_member_role(group_id, OTHER_ACCOUNT, "ADMIN") == {}
    assert last_body(node) == {"role": "Admin"}
    assert client.remove_group_members(group_id, [OTHER_ACCOUNT, "cd" * 32]) == {}
    remaining = [m["identity"] for m in client.list_group_members(group_id)["members"]]
    assert remaining == [account]


def test_member_pages(client: calimero.Client, node: TestNode, group_id: str) -> None:
    client.list_group_members(group_id, offset=0, limit=1)
    assert node.requests()[-1]["query"] == "offset=0&limit=1"
    assert len(client.list_group_members(group_id, limit=1)["members"]) == 1


def test_capabilities_and_auto_follow(
    client: calimero.Client, node: TestNode, group_id: str, account: str
) -> None:
    caps = Capability.CAN_CREATE_CONTEXT | Capability.MANAGE_MEMBERS
    assert client.set_member_capabilities(group_id, account, caps) == {}
    assert last_body(node) == {"capabilities": 9}
    assert client.get_member_capabilities(group_id, account) == {"data": {"capabilities": 9}}
    assert client.set_member_auto_follow(group_id, account, True, False) == {}
    assert last_body(node) == {"autoFollowContexts": True, "autoFollowSubgroups": False}
    assert client.set_default_capabilities(group_id, Capability.CAN_JOIN_OPEN_SUBGROUPS) == {}
    assert client.get_group_info(group_id)["data"]["defaultCapabilities"] == 4
    with pytest.raises(ValueError, match="^capabilities: "):
        client.set_member_capabilities(group_id, account, 2**32)


def test_member_devices(client: calimero.Client, group_id: str, account: str) -> None:
    members = client.list_member_devices(group_id)["members"]
    assert members[0]["account"] == account
    assert {"deviceId", "signingKey"} <= set(members[0]["devices"][0])


def test_metadata_of_group_member_and_context(
    client: calimero.Client, namespace_id: str, context_id: str, account: str
) -> None:
    record = {"name": "Team", "data": {"colour": "blue"}}
    assert client.set_group_metadata(namespace_id, record) == {}
    got = client.get_group_metadata(namespace_id)["data"]
    assert (got["name"], got["data"]) == ("Team", {"colour": "blue"})
    assert {"updatedAt", "updatedBy"} <= set(got)
    assert client.get_member_metadata(namespace_id, account) == {"data": None}
    assert client.set_member_metadata(namespace_id, account, '{"data": {"k": "v"}}') == {}
    assert client.get_member_metadata(namespace_id, account)["data"]["data"] == {"k": "v"}
    assert client.set_context_metadata(namespace_id, context_id, {"name": "ctx"}) == {}
    assert client.get_context_metadata(namespace_id, context_id)["data"]["name"] == "ctx"


def test_settings(client: calimero.Client, node: TestNode, group_id: str) -> None:
    assert client.set_subgroup_visibility(group_id, "open") == {}
    assert client.get_group_info(group_id)["data"]["subgroupVisibility"] == "open"
    with pytest.warns(DeprecationWarning):
        client.set_default_visibility(group_id, "restricted")
    assert client.get_group_info(group_id)["data"]["subgroupVisibility"] == "restricted"
    policy = client.get_tee_admission_policy(group_id)
    assert policy["enabled"] is False and policy["allowedMrtd"] == []
    # rc.83 wants RTMR1 to RTMR3 as well (swift-sdk Rc83SurfaceTests).
    rtmrs = {f"allowed_rtmr{i}": [f"{i}b" * 48] for i in (1, 2, 3)} if rc(node) >= 83 else {}
    assert client.set_tee_admission_policy(group_id, allowed_mrtd=["aa" * 48], **rtmrs) == {}
    assert last_body(node) == {
        "allowedMrtd": ["aa" * 48],
        **{f"allowedRtmr{i}": [f"{i}b" * 48] for i in (1, 2, 3) if rtmrs},
        "acceptMock": False,
    }
    assert client.get_tee_admission_policy(group_id)["allowedMrtd"] == ["aa" * 48]
    with pytest.raises(calimero.BadRequestError):
        client.set_tee_admission_policy(group_id)  # no MRTD and no mock


def test_upgrades_and_migrations(
    client: calimero.Client, node: TestNode, app_id: str, namespace_id: str
) -> None:
    assert client.get_group_upgrade_status(namespace_id) == {"data": None}
    reply = client.upgrade_group(namespace_id, app_id)
    assert last_body(node) == {
        "targetApplicationId": app_id,
        "cascade": False,
        "forceCodeOnly": False,
    }
    assert reply["data"]["groupId"] == namespace_id
    assert reply["data"]["status"] in ("in_progress", "completed")
    retried = client.retry_group_upgrade(namespace_id)
    assert retried["data"]["groupId"] == namespace_id
    assert isinstance(client.get_cascade_status(namespace_id)["data"], list)
    status = client.get_migration_status(namespace_id)
    assert {"targetVersion", "expectedMembers", "rollup", "members"} <= set(status)
    assert client.abort_migration(namespace_id) == {"namespaceId": namespace_id, "aborted": False}


def test_sync_contexts_and_detach(
    client: calimero.Client, namespace_id: str, context_id: str
) -> None:
    synced = client.sync_group(namespace_id)["data"]
    assert synced["groupId"] == namespace_id and synced["contextCount"] == 1
    assert client.list_group_contexts(namespace_id)["data"][0]["contextId"] == context_id
    assert client.detach_context_from_group(namespace_id, context_id) == {}
    assert client.list_group_contexts(namespace_id) == {"data": []}


def test_inheritance_and_legacy_invitations(
    client: calimero.Client, namespace_id: str, account: str
) -> None:
    sub = client.create_group_in_namespace(namespace_id, "open", visibility="open")["data"][
        "groupId"
    ]
    joined = client.join_subgroup_inheritance(sub)["data"]
    assert joined["groupId"] == sub and "memberPublicKey" in joined
    invitation = client.create_group_invitation(sub)["data"]["invitation"]
    assert {"invitation", "inviter_signature"} <= set(invitation)
    # Redeeming it as a member already is accepted, as on the real node.
    joined = client.join_group(invitation)["data"]
    assert joined["groupId"] == sub and joined["memberAccount"] == account


def test_ownership_proofs(client: calimero.Client, namespace_id: str, context_id: str) -> None:
    expires = int(time.time() * 1000) + 60_000
    proof = client.issue_ownership_proof(
        namespace_id, "aud", context_id, "subj", "ab" * 16, expires
    )
    assert set(proof) == {"signerPublicKey", "signedPayload", "signature"}
    ns_proof = client.issue_namespace_ownership_proof(
        namespace_id, "aud", "subj", "cd" * 32, expires
    )
    assert set(ns_proof) == {"signerPublicKey", "signedPayload", "signature"}
    with pytest.raises(ValueError, match="^nonce: "):
        client.issue_namespace_ownership_proof(namespace_id, "aud", "subj", "abc", expires)


def test_leave_group(client: calimero.Client, app_id: str, namespace_id: str) -> None:
    sub = client.create_group_in_namespace(namespace_id, "to leave")["data"]["groupId"]
    client.add_group_members(sub, [{"identity": OTHER_ACCOUNT, "role": "Admin"}])
    left = client.leave_group(sub)["data"]
    assert left["groupId"] == sub
    with pytest.raises(calimero.PermissionDeniedError):
        client.list_group_members(sub)


def test_unknown_group_ids(client: calimero.Client) -> None:
    with pytest.raises(ValueError, match="^group_id: expected 64 hexadecimal"):
        client.get_group_info("not-hex")


def foreign_group(node: TestNode, app_id: str, **spec: Any) -> str:
    """A group made by "another node" (the test node's control route)."""
    return node.control("POST", "groups", {"applicationId": app_id, **spec})["groupId"]


def test_a_non_member_is_refused(
    client: calimero.Client, node: TestNode, app_id: str, namespace_id: str
) -> None:
    # A subgroup of our namespace that this node was never added to.
    hidden = foreign_group(node, app_id, parentGroupId=namespace_id)
    for call in (
        lambda: client.list_group_members(hidden),
        lambda: client.list_group_contexts(hidden),
        lambda: client.list_member_devices(hidden),
    ):
        with pytest.raises(calimero.PermissionDeniedError) as info:
            call()
        assert "not a member" in info.value.message


def test_a_plain_member_cannot_administer(
    client: calimero.Client, node: TestNode, app_id: str
) -> None:
    # The node is a Member there: admin-only writes fail as the real node
    # fails them, with its untyped 500 before rc.44 and a typed 403 from it
    # (core: parse_api_error).
    group = foreign_group(node, app_id, role="Member")
    assert client.list_group_members(group)["members"]
    refused = calimero.PermissionDeniedError if rc(node) >= 44 else calimero.ServerError
    with pytest.raises(refused):
        client.add_group_members(group, ["ef" * 32])
    with pytest.raises(refused):
        client.set_default_capabilities(group, 0)


def test_the_last_admin_cannot_step_down(
    client: calimero.Client, group_id: str, account: str, node: TestNode
) -> None:
    # 500 before rc.44, a typed 409 (MembershipError::LastAdmin) from it.
    refused = calimero.ConflictError if rc(node) >= 44 else calimero.ServerError
    with pytest.raises(refused):
        client.update_member_role(group_id, account, "Member")
    with pytest.raises(refused):
        client.leave_group(group_id)
