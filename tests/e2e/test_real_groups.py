"""Namespaces and groups on one real merod 0.11.0-rc.25: members and roles,
capabilities, metadata, subgroups, visibility, invitations and proofs, and
what the node refuses (sync and async). Joining from a second node is in
test_real_two_nodes."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

import calimero

#: An account that is not a member of anything (64 hex).
STRANGER = "cd" * 32


@pytest.fixture
def namespace(admin: calimero.Client, kv_app: str) -> Iterator[str]:
    ns = admin.create_namespace(kv_app, name="e2e-groups")["data"]["namespaceId"]
    yield ns
    admin.delete_namespace(ns)


@pytest.fixture(scope="session")
def account(admin: calimero.Client, kv_namespace: str) -> str:
    return admin.get_node_identity()["data"]["accountId"]


def test_namespaces(client: Any, kv_app: str, namespace: str, account: str) -> None:
    listed = {n["namespaceId"]: n for n in client.list_namespaces()["data"]}
    entry = listed[namespace]
    assert entry["name"] == "e2e-groups" and entry["targetApplicationId"] == kv_app
    assert (entry["memberCount"], entry["contextCount"], entry["subgroupCount"]) == (1, 0, 0)
    assert client.get_namespace(namespace) == {"data": entry}
    for_app = client.list_namespaces_for_application(kv_app)["data"]
    assert namespace in [n["namespaceId"] for n in for_app]
    assert client.list_namespaces(limit=1)["data"] == client.list_namespaces()["data"][:1]
    assert client.list_group_members(namespace) == {
        "members": [{"identity": account, "role": "Admin"}]
    }
    usage = {u["namespaceId"]: u for u in client.get_usage()["namespaces"]}
    assert usage[namespace]["memberCount"] == 1
    assert client.get_group_info(namespace)["data"]["groupId"] == namespace


def test_delete_a_namespace(client: Any, kv_app: str) -> None:
    ns = client.create_namespace(kv_app)["data"]["namespaceId"]
    assert client.delete_namespace(ns) == {"data": {"isDeleted": True}}
    with pytest.raises(calimero.NotFoundError, match="No namespace identity found"):
        client.get_namespace(ns)


def test_a_group_in_a_namespace(client: Any, namespace: str, account: str) -> None:
    group = client.create_group_in_namespace(namespace, "team", visibility="open")["data"][
        "groupId"
    ]
    assert client.list_namespace_groups(namespace) == {"data": [{"groupId": group, "name": "team"}]}
    assert client.list_subgroups(namespace) == {"subgroups": [{"groupId": group, "name": "team"}]}
    info = client.get_group_info(group)["data"]
    assert info["groupId"] == group and info["subgroupVisibility"] == "open"
    assert (info["memberCount"], info["contextCount"], info["defaultCapabilities"]) == (1, 0, 0)
    assert client.get_namespace(namespace)["data"]["subgroupCount"] == 1
    synced = client.sync_group(group)["data"]
    assert synced["groupId"] == group and synced["memberCount"] == 1
    assert client.delete_group(group) == {"data": {"isDeleted": True}}
    assert client.list_namespace_groups(namespace) == {"data": []}


def test_members_and_roles(client: Any, namespace: str, account: str) -> None:
    """A subgroup takes only members of its namespace: another account is
    answered 200 and left out."""
    group = client.create_group_in_namespace(namespace, "team")["data"]["groupId"]
    assert client.add_group_members(group, [{"identity": STRANGER, "role": "Member"}]) == {}
    assert STRANGER not in _members(client, group)
    assert client.add_group_members(namespace, [{"identity": STRANGER, "role": "Member"}]) == {}
    assert _members(client, namespace) == {account: "Admin", STRANGER: "Member"}
    assert client.add_group_members(group, [{"identity": STRANGER, "role": "read-only"}]) == {}
    assert _members(client, group) == {account: "Admin", STRANGER: "ReadOnly"}
    assert client.update_member_role(group, STRANGER, "admin") == {}
    assert _members(client, group)[STRANGER] == "Admin"
    assert client.remove_group_members(group, [STRANGER]) == {}
    assert _members(client, group) == {account: "Admin"}
    assert client.remove_group_members(namespace, [STRANGER]) == {}
    assert _members(client, namespace) == {account: "Admin"}
    with pytest.raises(ValueError, match="role"):
        client.add_group_members(group, [{"identity": STRANGER, "role": "owner"}])


def _members(client: Any, group: str) -> dict[str, str]:
    return {m["identity"]: m["role"] for m in client.list_group_members(group)["members"]}


def test_capabilities_and_visibility(client: Any, namespace: str, account: str) -> None:
    group = client.create_group_in_namespace(namespace, "caps")["data"]["groupId"]
    caps = calimero.Capability.CAN_CREATE_CONTEXT | calimero.Capability.CAN_INVITE_MEMBERS
    assert client.get_member_capabilities(group, account) == {"data": {"capabilities": 0}}
    assert client.set_member_capabilities(group, account, caps) == {}
    assert client.get_member_capabilities(group, account) == {"data": {"capabilities": 3}}
    assert client.set_default_capabilities(group, 4) == {}
    assert client.get_group_info(group)["data"]["defaultCapabilities"] == 4
    assert client.get_group_info(group)["data"]["subgroupVisibility"] == "restricted"
    assert client.set_subgroup_visibility(group, "open") == {}
    assert client.get_group_info(group)["data"]["subgroupVisibility"] == "open"
    assert client.set_member_auto_follow(group, account, True, False) == {}
    with pytest.raises(calimero.ServerError, match="Internal server error"):
        client.get_member_capabilities(group, STRANGER)  # rc.25: not a member is a 500


def test_metadata(
    client: Any, admin: calimero.Client, kv_app: str, namespace: str, account: str
) -> None:
    group = client.create_group_in_namespace(namespace, "meta")["data"]["groupId"]
    assert client.get_group_metadata(group)["data"]["name"] == "meta"
    assert client.set_group_metadata(group, {"name": "Team", "data": {"k": "v"}}) == {}
    meta = client.get_group_metadata(group)["data"]
    assert (meta["name"], meta["data"]) == ("Team", {"k": "v"})
    assert client.get_group_info(group)["data"]["metadata"]["name"] == "Team"
    assert client.set_member_metadata(group, account, {"name": "me"}) == {}
    assert client.get_member_metadata(group, account)["data"]["name"] == "me"
    listed = client.list_group_members(group)["members"]
    assert {"identity": account, "role": "Admin", "name": "me"} in listed
    ctx = admin.create_context(kv_app, namespace)["data"]["contextId"]
    try:
        assert client.set_context_metadata(namespace, ctx, {"name": "kv"}) == {}
        assert client.get_context_metadata(namespace, ctx)["data"]["name"] == "kv"
    finally:
        admin.delete_context(ctx)


def test_subgroups_reparent_and_cascading_delete(client: Any, namespace: str) -> None:
    parent = client.create_group_in_namespace(namespace, "parent")["data"]["groupId"]
    child = client.create_group_in_namespace(namespace, "child")["data"]["groupId"]
    assert client.reparent_group(child, parent) == {"reparented": True}
    assert client.list_subgroups(parent) == {"subgroups": [{"groupId": child, "name": "child"}]}
    inherited = client.join_subgroup_inheritance(child)["data"]
    assert inherited["groupId"] == child
    assert client.delete_group(parent) == {"data": {"isDeleted": True}}
    for gone in (parent, child):  # the child went with its parent
        with pytest.raises(calimero.ServerError, match="Internal server error"):
            client.get_group_info(gone)


def test_contexts_of_a_group(
    client: Any, admin: calimero.Client, kv_app: str, namespace: str
) -> None:
    ctx = admin.create_context(kv_app, namespace)["data"]["contextId"]
    try:
        assert client.list_group_contexts(namespace) == {"data": [{"contextId": ctx}]}
        assert client.list_group_contexts(namespace, limit=10, offset=1) == {"data": []}
        assert client.detach_context_from_group(namespace, ctx) == {}
        assert client.list_group_contexts(namespace) == {"data": []}
        assert client.get_context_group(ctx) == {"data": None}
    finally:
        admin.delete_context(ctx)


def test_a_direct_group_is_a_namespace(client: Any, kv_app: str) -> None:
    group = client.create_group(kv_app, "direct")["data"]["groupId"]
    assert client.get_namespace(group)["data"]["name"] == "direct"
    client.delete_namespace(group)


def test_invitations_and_proofs(client: Any, namespace: str) -> None:
    invite = client.create_namespace_invitation(namespace)["data"]
    assert invite["groupName"] == "e2e-groups"
    body = invite["invitation"]
    assert set(body) == {
        "invitation",
        "inviter_signature",
        "inviter_account",
        "application_id",
        "app_key",
    }
    assert body["invitation"]["invited_role"] == 1 and len(body["invitation"]["group_id"]) == 32
    # rc.25 reads expiration_timestamp as seconds from now (default a year)
    before = int(time.time())
    timed = client.create_namespace_invitation(namespace, None, 3600)["data"]["invitation"]
    assert before + 3600 - 5 <= timed["invitation"]["expiration_timestamp"] <= time.time() + 3605
    assert body["invitation"]["expiration_timestamp"] >= before + 365 * 86400 - 5
    recursive = client.create_namespace_invitation(namespace, True)["data"]["invitations"]
    assert recursive[0]["groupId"] == namespace
    group = client.create_group_in_namespace(namespace, "invited")["data"]["groupId"]
    assert set(client.create_group_invitation(group)["data"]) == {"invitation", "groupName"}
    expires = int(time.time() * 1000) + 60_000
    proof = client.issue_namespace_ownership_proof(namespace, "aud", "subj", "ab" * 16, expires)
    assert set(proof) == {"signerPublicKey", "signedPayload", "signature"}


def test_governance_state(client: Any, namespace: str) -> None:
    group = client.create_group_in_namespace(namespace, "gov")["data"]["groupId"]
    assert client.get_tee_admission_policy(group)["enabled"] is False
    assert client.get_group_upgrade_status(group) == {"data": None}
    assert "rollup" in client.get_migration_status(namespace)
    assert client.abort_migration(namespace) == {"namespaceId": namespace, "aborted": False}
    member_devices = client.list_member_devices(group)["members"]
    assert member_devices and member_devices[0]["devices"]


def test_what_rc25_refuses(client: Any, namespace: str) -> None:
    """Routes of later releases raise before any request; rc.25's own
    failures for what a lone node cannot do are 500s."""
    with pytest.raises(calimero.UnsupportedByNodeError, match="rc.83"):
        client.change_namespace_admin(namespace, "ab" * 32)
    with pytest.raises(calimero.UnsupportedByNodeError, match="rc.28"):
        client.list_account_devices()
    with pytest.raises(calimero.ServerError):
        client.leave_namespace(namespace)  # the only admin
    with pytest.raises(calimero.ServerError, match="Failed to generate attestation"):
        client.tee_fleet_join(namespace)
