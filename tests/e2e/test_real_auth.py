"""A real merod 0.11.0-rc.25 in embedded auth mode: what is public, login
(from credentials, explicitly, from merobox's token cache), the token cache
file, tokens on every transport, logout, and a refresh across a real expiry
(sync and async). The node's access tokens live a few seconds; it accepts
them 60 s past their expiry and refuses a refresh before that, so the
refresh test waits for exp + 60 s (the run logs in as it starts, and runs
that test last)."""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import threading
import time
from pathlib import Path
from typing import Any

import pytest

import calimero
from conftest import AsyncDriven


def _with_credentials(auth_node: Any, node_name: str) -> calimero.ConnectionInfo:
    """A connection to the auth node with its credentials, caching tokens
    under `node_name`, never prompting."""
    return calimero.create_connection(
        auth_node.url,
        node_name,
        username=auth_node.username,
        password=auth_node.password,
        interactive=False,
    )


def _login_needs(node: Any) -> None:
    if not (node.username and node.password):
        pytest.skip("set CALIMERO_E2E_USERNAME and CALIMERO_E2E_PASSWORD for the auth node")


@pytest.fixture(params=["sync", "async"])
def make_client(request: pytest.FixtureRequest, event_loop_thread: Any) -> Any:
    """``make_client(conn)``: a ``Client``, or an ``AsyncClient`` driven
    through conftest.AsyncDriven."""

    def make(conn: calimero.ConnectionInfo) -> Any:
        if request.param == "async":
            return AsyncDriven(calimero.create_async_client(conn), event_loop_thread)
        return calimero.create_client(conn)

    return make


def test_public_routes_and_the_probe(auth_node: Any, home: Path) -> None:
    conn = calimero.create_connection(auth_node.url, interactive=False)
    assert conn.detect_auth_mode() == calimero.AuthMode("required")
    client = calimero.create_client(conn)
    assert client.health() == {"data": {"status": "alive"}}
    assert client.ready() == {"data": {"status": "ready"}}
    assert client.is_authed() == {"data": {"status": "alive"}}  # says nothing about tokens
    assert "# TYPE" in client.get_metrics()
    for call in (client.list_contexts, client.get_peers_count, client.list_blobs):
        with pytest.raises(calimero.AuthenticationError) as info:
            call()
        assert (info.value.status, info.value.body) == (401, "")
    with pytest.raises(calimero.AuthenticationError):
        client.call("11111111111111111111111111111111", "get", {"key": "k"})  # /jsonrpc too


def test_login_from_credentials_and_the_cache_file(
    auth_node: Any, home: Path, make_client: Any
) -> None:
    """Credentials log in when the node first asks; the tokens land in the
    cache file of node_name in merobox's format, and a connection that has
    only the node_name uses them."""
    _login_needs(auth_node)
    conn = _with_credentials(auth_node, "e2e-auth-node")
    assert conn.token is None  # nothing sent yet
    client = make_client(conn)
    assert isinstance(client.list_contexts()["data"]["contexts"], list)
    token = conn.token
    assert token is not None and token.refresh_token and token.expires_at
    if auth_node.access_ttl:
        assert abs(token.expires_at - time.time() - auth_node.access_ttl) < 30
    path = Path(calimero.get_token_cache_path("e2e-auth-node"))
    assert path.parent == home / ".merobox" / "auth_cache"
    record = json.loads(path.read_text())
    assert record["access_token"] == token.access_token
    assert record["refresh_token"] == token.refresh_token
    assert record["node_url"] == auth_node.url.rstrip("/")
    assert (record["auth_method"], record["username"]) == ("user_password", auth_node.username)
    assert path.stat().st_mode & 0o077 == 0  # private to the user
    again = make_client(
        calimero.create_connection(auth_node.url, "e2e-auth-node", interactive=False)
    )
    assert "publicKey" in again.generate_context_identity()["data"]
    assert again.connection.token == token


def test_explicit_login_and_a_wrong_password(auth_node: Any, home: Path) -> None:
    _login_needs(auth_node)
    conn = calimero.create_connection(auth_node.url, interactive=False)
    with pytest.raises(calimero.AuthenticationError, match="Invalid username or password") as info:
        conn.login(auth_node.username, auth_node.password + "-wrong")
    assert info.value.status == 401
    assert auth_node.password not in str(info.value) + repr(info.value)
    token = conn.login(auth_node.username, auth_node.password)
    assert conn.token == token
    assert isinstance(calimero.create_client(conn).list_contexts()["data"]["contexts"], list)


def test_tokens_cached_the_merobox_way_are_used(auth_node: Any, home: Path) -> None:
    """merobox writes {access_token, node_url, auth_method, refresh_token,
    expires_at, username}; a connection with the same node_name uses it."""
    _login_needs(auth_node)
    tokens = calimero.create_connection(auth_node.url, interactive=False).login(
        auth_node.username, auth_node.password
    )
    cache = Path(calimero.get_token_cache_path("e2e-merobox-node"))
    cache.parent.mkdir(parents=True, exist_ok=True)
    cache.write_text(
        json.dumps(
            {
                "access_token": tokens.access_token,
                "node_url": auth_node.url,
                "auth_method": "user_password",
                "refresh_token": tokens.refresh_token,
                "expires_at": tokens.expires_at,
                "username": auth_node.username,
            }
        )
    )
    client = calimero.create_client(
        calimero.create_connection(auth_node.url, "e2e-merobox-node", interactive=False)
    )
    assert isinstance(client.list_contexts()["data"]["contexts"], list)


def test_tokens_given_and_every_transport(
    auth_node: Any, home: Path, make_client: Any, kv_store_path: str
) -> None:
    """A token passed in works for the admin API, JSON-RPC and both event
    streams (which carry it as ``?token=``)."""
    _login_needs(auth_node)
    tokens = calimero.create_connection(auth_node.url, interactive=False).login(
        auth_node.username, auth_node.password
    )
    conn = calimero.create_connection(
        auth_node.url,
        access_token=tokens.access_token,
        refresh_token=tokens.refresh_token,
        interactive=False,
    )
    client = make_client(conn)
    app = client.install_dev_application(kv_store_path)["data"]["applicationId"]
    ns = client.create_namespace(app, name="e2e-auth")["data"]["namespaceId"]
    ctx = client.create_context(app, ns)["data"]["contextId"]
    try:
        for transport in ("sse", "ws"):
            with client.subscribe(ctx, transport=transport) as sub:
                client.call(ctx, "set", {"key": transport, "value": "v"})
                event = _next_mutation(sub)
                assert event["contextId"] == ctx
        assert client.call(ctx, "entries") == {"sse": "v", "ws": "v"}
        blob = client.upload_blob(b"authed blob")["data"]["blob_id"]
        assert client.download_blob(blob) == b"authed blob"
        client.delete_blob(blob)
    finally:
        client.delete_context(ctx)
        client.delete_namespace(ns)


def _next_mutation(sub: calimero.Subscription) -> dict[str, Any]:
    pool = concurrent.futures.ThreadPoolExecutor(1)

    def find() -> dict[str, Any]:
        for event in sub:
            if event["type"] == "StateMutation":
                return event
        raise AssertionError("the subscription ended")

    try:
        return pool.submit(find).result(timeout=90)
    finally:
        pool.shutdown(wait=False)


def test_a_token_is_bound_to_the_host_it_was_minted_for(auth_node: Any, home: Path) -> None:
    """rc.25 puts the node URL the client logged in with in the token and
    refuses it on another host name of the same node."""
    _login_needs(auth_node)
    if "127.0.0.1" not in auth_node.url:
        pytest.skip("needs the node on 127.0.0.1")
    tokens = calimero.create_connection(auth_node.url, interactive=False).login(
        auth_node.username, auth_node.password
    )
    elsewhere = calimero.create_connection(
        auth_node.url.replace("127.0.0.1", "localhost"),
        access_token=tokens.access_token,
        interactive=False,
    )
    with pytest.raises(calimero.AuthenticationError) as info:
        calimero.create_client(elsewhere).list_contexts()
    assert info.value.status == 401


def test_logout_forgets_the_tokens(auth_node: Any, home: Path) -> None:
    """rc.25 has no logout route: the client forgets its tokens and deletes
    the cache file; without credentials the next call is refused."""
    _login_needs(auth_node)
    conn = _with_credentials(auth_node, "e2e-logout-node")
    client = calimero.create_client(conn)
    client.list_contexts()
    path = Path(calimero.get_token_cache_path("e2e-logout-node"))
    assert path.exists()
    conn.logout()
    assert conn.token is None and not path.exists()
    with pytest.raises(calimero.AuthenticationError):
        client.list_contexts()


@pytest.mark.parametrize("kind", ["sync", "async"])
def test_refresh_across_a_real_expiry(
    auth_node: Any, home: Path, first_login: dict[str, calimero.JwtToken] | None, kind: str
) -> None:
    """Past exp + the node's 60 s leeway the node answers token_expired; the
    client refreshes once for every concurrent caller, replays, and stores
    the rotated pair. The connection has no credentials, so a second
    refresh (a reused refresh token) or a refused one would fail the calls
    instead of being hidden by a login."""
    _login_needs(auth_node)
    if not auth_node.access_ttl or auth_node.access_ttl > 30:
        pytest.skip("set CALIMERO_E2E_ACCESS_TTL to the auth node's (short) access_token_expiry")
    first = (first_login or {}).get(kind) or calimero.create_connection(
        auth_node.url, interactive=False
    ).login(auth_node.username, auth_node.password)
    name = f"e2e-refresh-{kind}"
    cache = Path(calimero.get_token_cache_path(name))
    cache.parent.mkdir(parents=True, exist_ok=True)
    cache.write_text(
        json.dumps(
            {
                "access_token": first.access_token,
                "refresh_token": first.refresh_token,
                "expires_at": first.expires_at,
                "node_url": auth_node.url,
                "auth_method": "user_password",
                "username": auth_node.username,
            }
        )
    )
    conn = calimero.create_connection(auth_node.url, name, interactive=False)
    assert first.expires_at is not None
    time.sleep(max(0.0, first.expires_at + 60 + 2 - time.time()))
    if kind == "sync":
        client = calimero.create_client(conn)
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
    else:

        async def main() -> None:
            async with calimero.create_async_client(conn) as client:
                await asyncio.gather(*(client.list_contexts() for _ in range(16)))

        asyncio.run(main())
    renewed = conn.token
    assert renewed is not None and renewed != first
    assert renewed.refresh_token != first.refresh_token
    record = json.loads(cache.read_text())
    assert record["access_token"] == renewed.access_token
    # another connection of the node_name adopts the rotated pair
    other = calimero.create_client(
        calimero.create_connection(auth_node.url, name, interactive=False)
    )
    other.list_contexts()
    assert other.connection.token == renewed
    # the consumed refresh token is refused for good
    with pytest.raises(calimero.AuthenticationError):
        stale = calimero.create_connection(
            auth_node.url,
            access_token=first.access_token,
            refresh_token=first.refresh_token,
            interactive=False,
        )
        calimero.create_client(stale).list_contexts()
