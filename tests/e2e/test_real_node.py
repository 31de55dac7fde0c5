"""The same scenarios against a real merod node.

Run only when CALIMERO_E2E_NODE_URL is set (a node in the default, open
auth mode). Context and JSON-RPC scenarios also need CALIMERO_E2E_APP_PATH:
the path of a kv-store .wasm on the node's own disk (core's apps/kv-store).
Auth scenarios need CALIMERO_E2E_AUTH_NODE_URL (a node in embedded auth
mode), and CALIMERO_E2E_USERNAME / CALIMERO_E2E_PASSWORD for the ones that
log in.
"""

from __future__ import annotations

import json
import os
import time
import urllib.request
from pathlib import Path

import pytest

import calimero

pytestmark = pytest.mark.e2e

URL = os.environ.get("CALIMERO_E2E_NODE_URL", "")
APP_PATH = os.environ.get("CALIMERO_E2E_APP_PATH")
AUTH_URL = os.environ.get("CALIMERO_E2E_AUTH_NODE_URL")
USERNAME = os.environ.get("CALIMERO_E2E_USERNAME")
PASSWORD = os.environ.get("CALIMERO_E2E_PASSWORD")
MISSING = "11111111111111111111111111111111"


@pytest.fixture(scope="module")
def client() -> calimero.Client:
    return calimero.create_client(calimero.create_connection(URL))


def test_system(client: calimero.Client) -> None:
    assert client.health() == {"data": {"status": "alive"}}
    assert client.ready()["data"]["status"] == "ready"
    assert client.is_authed() == {"data": {"status": "alive"}}
    assert isinstance(client.get_peers_count()["count"], int)
    assert "localPeerId" in client.get_network_status()
    assert "namespaces" in client.get_usage()
    assert "publicKey" in client.generate_context_identity()["data"]
    assert client.connection.detect_auth_mode() == "none"


def test_lists(client: calimero.Client) -> None:
    assert isinstance(client.list_applications()["data"]["apps"], list)
    assert isinstance(client.list_contexts(limit=5)["data"]["contexts"], list)
    assert isinstance(client.list_namespaces()["data"], list)
    assert isinstance(client.list_packages()["packages"], list)


def test_errors(client: calimero.Client) -> None:
    with pytest.raises(calimero.NotFoundError, match="Context not found"):
        client.get_context(MISSING)
    with pytest.raises(calimero.NotFoundError, match="Application not found"):
        client.get_application(MISSING)
    with pytest.raises(calimero.RpcError) as info:
        client.call(MISSING, "get", {"key": "k"})
    # which of the two depends on the node's store (see the test node's jsonrpc.rs)
    assert info.value.type in ("ContextNotFound", "FunctionCallError")
    with pytest.raises(calimero.RpcError) as info:
        client.sync_status(MISSING)
    assert info.value.type == "ContextNotFound"
    with pytest.raises(calimero.BadRequestError, match="non-public"):
        client.install_application("http://127.0.0.1:9/app.wasm")
    with pytest.raises(calimero.ServerError, match="application file not found"):
        client.install_dev_application("/nonexistent/app.wasm")
    with pytest.raises(ValueError, match="^context_id: "):
        client.get_context("nope")


@pytest.mark.skipif(not APP_PATH, reason="set CALIMERO_E2E_APP_PATH (a kv-store wasm on the node)")
def test_application_namespace_context_and_jsonrpc(client: calimero.Client) -> None:
    assert APP_PATH
    app_id = client.install_dev_application(APP_PATH, package="com.e2e.kv", version="1.0.0")[
        "data"
    ]["applicationId"]
    assert client.get_application(app_id)["data"]["application"]["id"] == app_id
    ns_id = client.create_namespace(app_id, name="e2e")["data"]["namespaceId"]
    assert client.get_namespace(ns_id)["data"]["namespaceId"] == ns_id
    assert "accountId" in client.get_node_identity()["data"]
    ctx_id = client.create_context(app_id, ns_id)["data"]["contextId"]
    try:
        assert client.get_context(ctx_id)["data"]["id"] == ctx_id
        assert client.get_context_group(ctx_id) == {"data": ns_id}
        assert client.get_context_identities(ctx_id)["data"]["identities"]
        assert client.get_context_identities_owned(ctx_id)["data"]["identities"]
        assert client.get_context_storage(ctx_id)["data"]["sizeInBytes"] >= 0
        ids = [c["id"] for c in client.get_contexts_for_application(app_id)["data"]["contexts"]]
        assert ctx_id in ids
        envelope = client.execute_function(ctx_id, "set", '{"key": "hello", "value": "world"}')
        assert envelope["result"] == {"output": None}
        assert client.call(ctx_id, "get", {"key": "hello"}) == "world"
        assert client.call(ctx_id, "entries") == {"hello": "world"}
        with pytest.raises(calimero.RpcError) as info:
            client.call(ctx_id, "no_such_method")
        assert info.value.type == "FunctionCallError"
        status = client.sync_status(ctx_id)
        assert status["contextId"] == ctx_id
        assert client.sync_context(ctx_id) == {"data": None}
        assert client.sync_all_contexts() == {"data": None}
    finally:
        client.delete_context(ctx_id)


@pytest.mark.skipif(not AUTH_URL, reason="set CALIMERO_E2E_AUTH_NODE_URL")
def test_auth_node_requires_a_token() -> None:
    assert AUTH_URL
    conn = calimero.create_connection(AUTH_URL)
    assert conn.detect_auth_mode() == calimero.AuthMode("required")
    client = calimero.create_client(conn)
    assert client.health() == {"data": {"status": "alive"}}  # public route
    with pytest.raises(calimero.AuthenticationError) as info:
        client.list_contexts()
    assert info.value.status == 401
    assert info.value.body == ""


@pytest.mark.skipif(
    not (AUTH_URL and USERNAME and PASSWORD),
    reason="set CALIMERO_E2E_AUTH_NODE_URL, CALIMERO_E2E_USERNAME and CALIMERO_E2E_PASSWORD",
)
def test_tokens_cached_the_merobox_way_are_used(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """merobox logs in with POST /auth/token and writes the cache file; a
    connection with the same node_name then calls protected routes."""
    assert AUTH_URL
    monkeypatch.setenv("HOME", str(tmp_path))
    body = {
        "auth_method": "user_password",
        "public_key": USERNAME,
        "client_name": AUTH_URL,
        "timestamp": int(time.time()),
        "provider_data": {"username": USERNAME, "password": PASSWORD},
    }
    request = urllib.request.Request(
        AUTH_URL.rstrip("/") + "/auth/token",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as resp:
        tokens = json.loads(resp.read())["data"]
    cache = Path(calimero.get_token_cache_path("e2e-auth-node"))
    cache.parent.mkdir(parents=True, exist_ok=True)
    cache.write_text(
        json.dumps(
            {
                "access_token": tokens["access_token"],
                "refresh_token": tokens["refresh_token"],
                "node_url": AUTH_URL,
                "auth_method": "user_password",
                "username": USERNAME,
            }
        )
    )
    client = calimero.create_client(calimero.create_connection(AUTH_URL, "e2e-auth-node"))
    assert isinstance(client.list_contexts()["data"]["contexts"], list)
    assert "publicKey" in client.generate_context_identity()["data"]
