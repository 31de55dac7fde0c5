"""Code written for the official calimero-client-py 0.6.31, unchanged,
against the real merod 0.11.0-rc.25 it was built for: its imports, its
positional call patterns (``install_dev_application(path, metadata)``,
``create_context(app, namespace, params_json)``,
``execute_function(ctx, method, args_json, executor_public_key)``, JSON
text for members, metadata and invitations), its token cache. Only what
0.6.31 returned as error data is an exception now (docs/migrating.md)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from calimero_client_py import (
    AuthMode,
    Client,
    ConnectionInfo,
    JwtToken,
    create_client,
    create_connection,
    get_token_cache_path,
)
from e2e.conftest import wait_for


def test_a_kv_store_session(open_node: Any, kv_store_path: str) -> None:
    connection = create_connection(open_node.url, "node1")
    assert isinstance(connection, ConnectionInfo)
    client = create_client(connection)
    assert isinstance(client, Client)
    assert client.get_api_url() == open_node.url
    assert connection.detect_auth_mode() == AuthMode("none")
    assert str(connection.detect_auth_mode()) == "none"

    app = client.install_dev_application(kv_store_path, b"{}")
    app_id = app["data"]["applicationId"]
    assert client.get_application(app_id)["data"]["application"]["metadata"] == list(b"{}")
    assert app_id in [a["id"] for a in client.list_applications()["data"]["apps"]]
    versions = client.list_application_versions(app_id)["data"]
    assert versions[0]["blobId"]

    namespace = client.create_namespace(app_id, "migrated")["data"]["namespaceId"]
    assert client.get_namespace(namespace)["data"]["name"] == "migrated"
    created = client.create_context(app_id, namespace, json.dumps({}))["data"]
    context_id, executor = created["contextId"], created["memberPublicKey"]
    assert client.get_context(context_id)["data"]["id"] == context_id
    assert client.get_context_identities(context_id)["data"]["identities"] == [executor]
    assert client.get_context_storage(context_id)["data"]["sizeInBytes"] >= 0
    assert len(client.list_contexts()["data"]["contexts"]) >= 1

    result = client.execute_function(
        context_id, "set", json.dumps({"key": "k", "value": "v"}), executor
    )
    assert result["result"] == {"output": None}
    result = client.execute_function(context_id, "get", json.dumps({"key": "k"}), executor)
    assert result["result"]["output"] == "v"
    result = client.execute_function(context_id, "entries", "{}", "")
    assert result["result"]["output"] == {"k": "v"}
    assert client.sync_context(context_id) == {"data": None}
    assert client.sync_all_contexts() == {"data": None}

    blob = client.upload_blob(b"0.6.31 bytes", context_id)["data"]["blob_id"]
    assert client.download_blob(blob, context_id) == b"0.6.31 bytes"
    assert client.get_blob_info(blob)["data"]["size"] == len(b"0.6.31 bytes")
    assert blob in [b["blob_id"] for b in client.list_blobs()["data"]["blobs"]]
    assert client.delete_blob(blob)["deleted"] is True

    assert client.create_context_alias("kv-0631", context_id) == {"data": None}
    assert client.lookup_context_alias("kv-0631") == {"data": {"value": context_id}}
    assert client.delete_context_alias("kv-0631") == {"data": None}
    assert client.create_alias_generic("kv-0631-generic", context_id, None) == {"data": None}
    assert client.delete_context_alias("kv-0631-generic") == {"data": None}

    account = client.get_node_identity()["data"]["accountId"]
    member = "ab" * 32
    client.add_group_members(namespace, json.dumps([{"identity": member, "role": "Member"}]))
    roles = {m["identity"]: m["role"] for m in client.list_group_members(namespace)["members"]}
    assert roles == {account: "Admin", member: "Member"}
    client.update_member_role(namespace, member, "Admin")
    client.remove_group_members(namespace, json.dumps([member]))
    group = client.create_group_in_namespace(namespace, "team")["data"]["groupId"]
    client.set_group_metadata(group, json.dumps({"name": "Team", "data": {}}))
    assert client.get_group_metadata(group)["data"]["name"] == "Team"
    assert client.list_namespace_groups(namespace)["data"][0]["groupId"] == group
    client.set_member_capabilities(group, account, 1)
    assert client.get_member_capabilities(group, account)["data"]["capabilities"] == 1
    invitation = client.create_namespace_invitation(namespace)["data"]["invitation"]
    assert invitation["inviter_account"] == account
    assert "publicKey" in client.generate_context_identity()["data"]
    assert client.get_peers_count()["count"] == 0

    assert client.delete_context(context_id) == {"data": {"isDeleted": True}}
    assert client.delete_group(group)["data"]["isDeleted"] is True
    assert client.delete_namespace(namespace)["data"]["isDeleted"] is True


def test_a_namespace_joined_from_the_second_node(
    peers: tuple[Any, Any], kv_store_path: str
) -> None:
    """Invitations pass between the nodes as JSON text, as 0.6.31 code did."""
    node1 = create_client(create_connection(peers[0].url, "node1"))
    node2 = create_client(create_connection(peers[1].url, "node2"))
    app_id = node1.install_dev_application(kv_store_path)["data"]["applicationId"]
    namespace = node1.create_namespace(app_id, "shared")["data"]["namespaceId"]
    context_id = node1.create_context(app_id, namespace, "{}")["data"]["contextId"]
    node1.execute_function(context_id, "set", json.dumps({"key": "k", "value": "v"}), "")
    invitation = node1.create_namespace_invitation(namespace)["data"]["invitation"]
    joined = node2.join_namespace(namespace, json.dumps(invitation))["data"]
    assert joined["namespaceId"] == namespace
    assert node2.join_context(context_id)["data"]["contextId"] == context_id
    node2.sync_context(context_id)

    def read() -> Any:
        return node2.execute_function(context_id, "get", json.dumps({"key": "k"}), "")

    # Until the state has synced the node answers a JSON-RPC error, which
    # execute_function returns in its envelope, as 0.6.31 did.
    assert wait_for(lambda: (read().get("result") or {}).get("output") == "v", "the key to sync")
    assert node2.leave_context(context_id)["data"]["contextId"] == context_id


def test_a_token_cached_by_merobox(auth_node: Any, home: Path) -> None:
    """merobox logs in and writes the cache; 0.6.31 code connects with the
    node name and uses it."""
    if not (auth_node.username and auth_node.password):
        pytest.skip("set CALIMERO_E2E_USERNAME and CALIMERO_E2E_PASSWORD for the auth node")
    login = create_connection(auth_node.url, interactive=False)
    token = login.login(auth_node.username, auth_node.password)
    assert isinstance(token, JwtToken) and token.access_token and not token.is_expired()
    path = Path(get_token_cache_path("merobox-node"))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        json.dumps(
            {
                "access_token": token.access_token,
                "refresh_token": token.refresh_token,
                "expires_at": token.expires_at,
                "node_url": auth_node.url,
                "auth_method": "user_password",
                "username": auth_node.username,
            }
        )
    )
    connection = create_connection(auth_node.url, "merobox-node")
    assert connection.detect_auth_mode() == AuthMode("required")
    client = create_client(connection)
    assert isinstance(client.list_contexts()["data"]["contexts"], list)
    assert client.get_peers_count() == {"count": 0}
