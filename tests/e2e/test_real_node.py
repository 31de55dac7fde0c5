"""The same scenarios against a real merod node.

Run only when CALIMERO_E2E_NODE_URL is set (a node in the default, open
auth mode). Context and JSON-RPC scenarios also need CALIMERO_E2E_APP_PATH:
the path of a kv-store .wasm on the node's own disk (core's apps/kv-store).
Auth scenarios need CALIMERO_E2E_AUTH_NODE_URL (a node in embedded auth
mode), and CALIMERO_E2E_USERNAME / CALIMERO_E2E_PASSWORD for the ones that
log in; CALIMERO_E2E_ACCESS_TTL (the auth node's access_token_expiry, when
short) adds a refresh across a real expiry (it waits exp + 60 s).
"""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path

import pytest

import calimero

pytestmark = pytest.mark.e2e

URL = os.environ.get("CALIMERO_E2E_NODE_URL", "")
APP_PATH = os.environ.get("CALIMERO_E2E_APP_PATH")
AUTH_URL = os.environ.get("CALIMERO_E2E_AUTH_NODE_URL")
USERNAME = os.environ.get("CALIMERO_E2E_USERNAME")
PASSWORD = os.environ.get("CALIMERO_E2E_PASSWORD")
ACCESS_TTL = int(os.environ.get("CALIMERO_E2E_ACCESS_TTL") or 0)
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


LOGIN = pytest.mark.skipif(
    not (AUTH_URL and USERNAME and PASSWORD),
    reason="set CALIMERO_E2E_AUTH_NODE_URL, CALIMERO_E2E_USERNAME and CALIMERO_E2E_PASSWORD",
)


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("HOME", str(tmp_path))
    return tmp_path


@LOGIN
def test_login_and_authenticated_calls(home: Path) -> None:
    """Credentials log in when the node asks; the tokens land in the cache
    file of node_name in merobox's format, and a connection that has only
    the node_name uses them."""
    assert AUTH_URL
    conn = calimero.create_connection(
        AUTH_URL, "e2e-auth-node", username=USERNAME, password=PASSWORD, interactive=False
    )
    client = calimero.create_client(conn)
    assert isinstance(client.list_contexts()["data"]["contexts"], list)
    token = conn.token
    assert token is not None and token.refresh_token
    record = json.loads(Path(calimero.get_token_cache_path("e2e-auth-node")).read_text())
    assert record["access_token"] == token.access_token
    assert record["node_url"] == AUTH_URL.rstrip("/")
    assert record["auth_method"] == "user_password"
    assert record["username"] == USERNAME
    again = calimero.create_client(
        calimero.create_connection(AUTH_URL, "e2e-auth-node", interactive=False)
    )
    assert "publicKey" in again.generate_context_identity()["data"]
    assert again.connection.token == token


@LOGIN
def test_explicit_login_and_a_wrong_password(home: Path) -> None:
    assert AUTH_URL and USERNAME and PASSWORD
    conn = calimero.create_connection(AUTH_URL, interactive=False)
    with pytest.raises(calimero.AuthenticationError, match="Invalid username or password"):
        conn.login(USERNAME, PASSWORD + "-wrong")
    token = conn.login(USERNAME, PASSWORD)
    assert conn.token == token
    assert isinstance(calimero.create_client(conn).list_contexts()["data"]["contexts"], list)


@LOGIN
def test_tokens_cached_the_merobox_way_are_used(home: Path) -> None:
    """merobox writes {access_token, node_url, auth_method, refresh_token,
    expires_at, username}; a connection with the same node_name uses it."""
    assert AUTH_URL and USERNAME and PASSWORD
    tokens = calimero.create_connection(AUTH_URL, interactive=False).login(USERNAME, PASSWORD)
    cache = Path(calimero.get_token_cache_path("e2e-merobox-node"))
    cache.parent.mkdir(parents=True, exist_ok=True)
    cache.write_text(
        json.dumps(
            {
                "access_token": tokens.access_token,
                "node_url": AUTH_URL,
                "auth_method": "user_password",
                "refresh_token": tokens.refresh_token,
                "expires_at": tokens.expires_at,
                "username": USERNAME,
            }
        )
    )
    client = calimero.create_client(
        calimero.create_connection(AUTH_URL, "e2e-merobox-node", interactive=False)
    )
    assert isinstance(client.list_contexts()["data"]["contexts"], list)
    assert "publicKey" in client.generate_context_identity()["data"]


@LOGIN
@pytest.mark.skipif(
    not ACCESS_TTL or ACCESS_TTL > 30,
    reason="set CALIMERO_E2E_ACCESS_TTL to the node's (short) access_token_expiry",
)
def test_refresh_across_a_real_expiry(home: Path) -> None:
    """Past exp + the node's 60 s leeway the guard answers token_expired; the
    client refreshes once for every thread and replays. The connections here
    have no credentials, so a second refresh (a reused refresh token) or a
    refused one would fail the calls instead of being hidden by a login."""
    assert AUTH_URL and USERNAME and PASSWORD and ACCESS_TTL
    first = calimero.create_connection(AUTH_URL, "e2e-refresh-node", interactive=False).login(
        USERNAME, PASSWORD
    )
    conn = calimero.create_connection(AUTH_URL, "e2e-refresh-node", interactive=False)
    client = calimero.create_client(conn)
    assert conn.token == first
    client.list_contexts()
    assert first.expires_at is not None
    time.sleep(max(0.0, first.expires_at + 60 + 2 - time.time()))
    errors: list[BaseException] = []

    def call() -> None:
        try:
            for _ in range(3):
                client.list_contexts()
        except BaseException as e:  # any failure fails the test
            errors.append(e)

    threads = [threading.Thread(target=call) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    renewed = conn.token
    assert renewed is not None and renewed != first
    assert renewed.refresh_token != first.refresh_token
    record = json.loads(Path(calimero.get_token_cache_path("e2e-refresh-node")).read_text())
    assert record["access_token"] == renewed.access_token
    # another connection of the node_name adopts the rotated token
    other = calimero.create_client(
        calimero.create_connection(AUTH_URL, "e2e-refresh-node", interactive=False)
    )
    other.list_contexts()
    assert other.connection.token == renewed


def test_async_client_against_a_real_node() -> None:
    import asyncio

    async def main() -> None:
        conn = calimero.create_connection(URL)
        async with calimero.create_async_client(conn) as client:
            health = await asyncio.gather(*(client.health() for _ in range(32)))
            assert health == [{"data": {"status": "alive"}}] * 32
            with pytest.raises(calimero.NotFoundError, match="Context not found"):
                await client.get_context(MISSING)
            contexts = await client.list_contexts(limit=5)
            assert isinstance(contexts["data"]["contexts"], list)
        assert conn.closed

    asyncio.run(main())
