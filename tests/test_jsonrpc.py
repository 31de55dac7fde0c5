"""JSON-RPC: execute, call, sync_status, set_ephemeral, and their errors."""

from __future__ import annotations

import pytest

import calimero
from testnode import TestNode

MISSING = "11111111111111111111111111111111"
OTHER_MISSING = "EMtpXdHZQLiqyPVVAzJWbnishYR1gPTvKKtWD3e2V6zo"


def test_execute_function_returns_the_envelope(client: calimero.Client, context_id: str) -> None:
    reply = client.execute_function(context_id, "set", '{"key": "hello", "value": "world"}')
    assert reply["jsonrpc"] == "2.0"
    assert reply["result"] == {"output": None}
    assert isinstance(reply["id"], int)
    reply = client.execute_function(context_id, "get", {"key": "hello"})
    assert reply["result"] == {"output": "world"}


def test_call_returns_the_output(client: calimero.Client, context_id: str) -> None:
    client.call(context_id, "set", {"key": "a", "value": "1"})
    client.call(context_id, "set", {"key": "b", "value": "2"})
    assert client.call(context_id, "entries") == {"a": "1", "b": "2"}
    assert client.call(context_id, "len") == 2
    assert client.call(context_id, "get", {"key": "missing"}) is None
    client.call(context_id, "remove", {"key": "a"})
    assert client.call(context_id, "entries") == {"b": "2"}


def test_state_changes_are_visible_in_the_context(client: calimero.Client, context_id: str) -> None:
    before = client.get_context(context_id)["data"]["contextStateHash"]
    client.call(context_id, "set", {"key": "k", "value": "v"})
    assert client.get_context(context_id)["data"]["contextStateHash"] != before


def test_execute_function_returns_a_jsonrpc_error_in_the_envelope(
    client: calimero.Client, context_id: str
) -> None:
    # as the official client did: the envelope, error included, is the answer
    reply = client.execute_function(context_id, "no_such_method", {})
    assert reply["jsonrpc"] == "2.0"
    assert "result" not in reply
    assert reply["error"] == {
        "type": "FunctionCallError",
        "data": 'method "no_such_method" not found',
    }
    reply = client.execute_function(MISSING, "get", '{"key": "k"}')
    assert reply["error"] == {"type": "ContextNotFound"}
    reply = client.execute_function(context_id, "get_result", {"key": "nope"})
    assert reply["error"]["data"].startswith("the method call returned an error: [123, 34")


def test_unknown_method_raises_rpc_error(client: calimero.Client, context_id: str) -> None:
    with pytest.raises(calimero.RpcError) as info:
        client.call(context_id, "no_such_method", {})
    err = info.value
    assert err.type == err.error_type == "FunctionCallError"
    assert err.data == 'method "no_such_method" not found'
    assert err.app_method == "no_such_method"
    assert err.status == 200
    assert "no_such_method" in str(err)


def test_unknown_context_raises_rpc_error(client: calimero.Client) -> None:
    # the all-zero id, as recorded on a real node
    with pytest.raises(calimero.RpcError) as info:
        client.call(MISSING, "get", {"key": "k"})
    assert info.value.type == "ContextNotFound"
    # any other unknown id fails the node's own-identity lookup first
    with pytest.raises(calimero.RpcError) as info:
        client.call(OTHER_MISSING, "get", {"key": "k"})
    assert info.value.type == "FunctionCallError"
    assert info.value.data == "No owned identity found for this context"
    with pytest.raises(calimero.RpcError) as info:
        client.set_ephemeral(OTHER_MISSING, b"x")
    assert info.value.type == "NoOwnedIdentity"


def test_guest_errors_are_decoded(client: calimero.Client, context_id: str) -> None:
    with pytest.raises(calimero.RpcError) as info:
        client.call(context_id, "get_result", {"key": "nope"})
    err = info.value
    assert err.guest_error == {"data": "nope", "kind": "NotFound"}
    assert err.data.startswith("the method call returned an error: [123, 34")
    assert '"kind":"NotFound"' in str(err)


def test_bad_guest_arguments(client: calimero.Client, context_id: str) -> None:
    with pytest.raises(calimero.RpcError, match="guest panicked"):
        client.call(context_id, "set", {"key": 1})


def test_args_validation_happens_before_sending(
    client: calimero.Client, context_id: str, node: TestNode
) -> None:
    node.clear_requests()
    with pytest.raises(ValueError, match="^args: a string must be JSON text"):
        client.execute_function(context_id, "set", "{not json")
    with pytest.raises(TypeError, match="^args: set is not JSON-serialisable"):
        client.call(context_id, "set", {1, 2})
    with pytest.raises(TypeError, match="^args: dict keys must be str"):
        client.call(context_id, "set", {1: "x"})
    with pytest.raises(ValueError, match="^args: .* not a finite number"):
        client.call(context_id, "set", {"k": float("inf")})
    with pytest.raises(ValueError, match="^executor_public_key: "):
        client.execute_function(context_id, "get", {}, "not-a-key")
    with pytest.raises(ValueError, match="^method: "):
        client.call(context_id, "")
    deep: list = []
    for _ in range(10_000):
        deep = [deep]
    with pytest.raises(ValueError, match="^args: nested more than 128 levels deep"):
        client.call(context_id, "set", deep)
    assert node.requests() == []


def test_executor_public_key_is_accepted_for_compatibility(
    client: calimero.Client, context_id: str
) -> None:
    member = client.get_context_identities_owned(context_id)["data"]["identities"][0]
    reply = client.execute_function(context_id, "len", "{}", member)
    assert reply["result"]["output"] == 0
    assert client.execute_function(context_id, "len", "{}", "")["result"]["output"] == 0


def test_big_and_nested_values_round_trip(client: calimero.Client, context_id: str) -> None:
    value = "x" * 100_000
    client.call(context_id, "set", {"key": "big", "value": value})
    assert client.call(context_id, "get", {"key": "big"}) == value
    unicode = "héllo ✓ \U0001f600"
    client.call(context_id, "set", {"key": unicode, "value": unicode})
    assert client.call(context_id, "get", {"key": unicode}) == unicode


def test_sync_status(client: calimero.Client, context_id: str) -> None:
    status = client.sync_status(context_id)
    assert status["contextId"] == context_id
    assert status["isInitialized"] is True
    assert status["syncState"] == {"state": "idle"}
    with pytest.raises(calimero.RpcError) as info:
        client.sync_status(MISSING)
    assert info.value.type == "ContextNotFound"


def test_set_ephemeral(client: calimero.Client, context_id: str) -> None:
    assert client.set_ephemeral(context_id, b"here") == {}
    assert client.set_ephemeral(context_id, b"x" * 16384) == {}
    # more than the node takes is refused before sending
    with pytest.raises(ValueError, match="^state: expected at most 16384 bytes"):
        client.set_ephemeral(context_id, b"x" * 16385)


def test_http_level_jsonrpc_failures(
    client: calimero.Client, node: TestNode, context_id: str
) -> None:
    node.fault("/jsonrpc", "status", status=422, body="Failed to deserialize", times=1)
    with pytest.raises(calimero.BadRequestError):
        client.call(context_id, "len")
    node.fault("/jsonrpc", "status", status=200, body="<html>", times=1)
    with pytest.raises(calimero.MalformedResponseError):
        client.call(context_id, "len")
    # execute_function returns JSON-RPC errors, but HTTP failures still raise
    node.fault("/jsonrpc", "status", status=422, body="Failed to deserialize", times=1)
    with pytest.raises(calimero.BadRequestError):
        client.execute_function(context_id, "len")
    node.fault("/jsonrpc", "status", status=200, body="<html>", times=1)
    with pytest.raises(calimero.MalformedResponseError):
        client.execute_function(context_id, "len")
    node.fault("/jsonrpc", "status", status=503, body="down", times=1)
    with pytest.raises(calimero.ServerError):
        client.execute_function(context_id, "len")
