"""Every error class a real merod 0.11.0-rc.25 can produce on one machine,
with the fields the client fills in (sync and async)."""

from __future__ import annotations

import os
import pickle
from typing import Any

import pytest
from realnode import free_port

import calimero
from e2e.conftest import MISSING


def test_not_found(client: Any, open_node: Any) -> None:
    with pytest.raises(calimero.NotFoundError) as info:
        client.get_context(MISSING)
    e = info.value
    assert isinstance(e, calimero.HttpError) and isinstance(e, calimero.ClientError)
    assert (e.status, e.message) == (404, "Context not found")
    assert e.body == '{"error":"Context not found"}'
    assert e.url == f"{open_node.url}/admin-api/contexts/{MISSING}"
    assert e.headers["content-type"] == "application/json"
    again = pickle.loads(pickle.dumps(e))
    assert (type(again), again.status, again.message) == (type(e), e.status, e.message)


def test_a_route_the_node_lacks(open_node: Any) -> None:
    """The router's own 404 has an empty body."""
    conn = calimero.create_connection(open_node.url)
    with pytest.raises(calimero.NotFoundError) as info:
        conn.get("/admin-api/nope")
    assert (info.value.status, info.value.body) == (404, "")


def test_bad_request(client: Any, kv_app: str) -> None:
    with pytest.raises(calimero.BadRequestError) as info:
        client.connection.request("POST", "/admin-api/contexts", {"applicationId": kv_app})
    assert info.value.status == 400
    assert info.value.message.startswith("Invalid JSON data: Failed to deserialize")


def test_conflict(client: Any, kv_app: str) -> None:
    name = "dup-" + os.urandom(4).hex()
    client.create_application_alias(name, kv_app)
    try:
        with pytest.raises(calimero.ConflictError) as info:
            client.create_application_alias(name, kv_app)
        assert info.value.status == 409
    finally:
        client.delete_application_alias(name)


def test_permission_denied(client: Any, kv_app: str) -> None:
    bytecode = client.get_application(kv_app)["data"]["application"]["blob"]["bytecode"]
    with pytest.raises(calimero.PermissionDeniedError) as info:
        client.delete_blob(bytecode)
    assert info.value.status == 403


def test_server_error_as_plain_text(client: Any) -> None:
    with pytest.raises(calimero.ServerError) as info:
        client.install_dev_application("/nonexistent/app.wasm")
    assert info.value.status == 500
    assert (
        info.value.message
        == info.value.body
        == "application file not found at /nonexistent/app.wasm"
    )


def test_rpc_error(client: Any, kv_context: str) -> None:
    with pytest.raises(calimero.RpcError) as info:
        client.call(kv_context, "no_such_method")
    e = info.value
    assert isinstance(e, calimero.ClientError) and not isinstance(e, calimero.HttpError)
    assert (e.type, e.data) == ("FunctionCallError", 'method "no_such_method" not found')
    again = pickle.loads(pickle.dumps(e))
    assert (again.type, again.data) == (e.type, e.data)


def test_network_error_when_nothing_listens() -> None:
    client = calimero.create_client(
        calimero.create_connection(f"http://127.0.0.1:{free_port()}", max_retries=0)
    )
    with pytest.raises(calimero.NetworkError) as info:
        client.health()
    assert isinstance(info.value, ConnectionError)
    with pytest.raises(calimero.NetworkError):
        client.connection.detect_auth_mode()  # 0.6.31 answered "none" here


def test_refused_before_sending(client: Any) -> None:
    """Bad arguments and calls of later releases never reach the node."""
    with pytest.raises(ValueError, match="^context_id: "):
        client.get_context("nope")
    with pytest.raises(ValueError, match="^blob_id: "):
        client.get_blob_info("0" * 63)
    with pytest.raises(calimero.UnsupportedByNodeError) as info:
        client.list_account_applications()
    assert isinstance(info.value, NotImplementedError) and isinstance(info.value, RuntimeError)
    assert "0.11.0-rc.25" in str(info.value)
    with pytest.raises(calimero.UnsupportedByNodeError):
        client.install_application("com.calimero.kv-store", "1.0.0")  # by coordinates: rc.31+


def test_authentication_required(auth_node: Any, home: Any) -> None:
    client = calimero.create_client(calimero.create_connection(auth_node.url, interactive=False))
    with pytest.raises(calimero.AuthenticationError) as info:
        client.list_contexts()
    assert (info.value.status, info.value.body) == (401, "")
