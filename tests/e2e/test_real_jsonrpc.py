"""JSON-RPC with core's kv-store app on a real merod 0.11.0-rc.25: every
method of the app, the envelope, and the errors (sync and async)."""

from __future__ import annotations

import asyncio
import json
import urllib.error
import urllib.request
from typing import Any

import pytest

import calimero
from e2e.conftest import MISSING


def test_every_kv_store_method(client: Any, kv_context: str) -> None:
    ctx = kv_context
    envelope = client.execute_function(ctx, "set", {"key": "hello", "value": "world"})
    assert envelope["jsonrpc"] == "2.0" and envelope["result"] == {"output": None}
    assert isinstance(envelope["id"], int)
    assert client.call(ctx, "get", {"key": "hello"}) == "world"
    assert client.call(ctx, "get", {"key": "missing"}) is None
    assert client.call(ctx, "get_unchecked", {"key": "hello"}) == "world"
    assert client.call(ctx, "get_result", {"key": "hello"}) == "world"
    assert client.call(ctx, "update_if_exists", {"key": "hello", "value": "again"}) is True
    assert client.call(ctx, "update_if_exists", {"key": "nope", "value": "x"}) is False
    assert client.call(ctx, "get_or_insert", {"key": "n", "value": "first"}) == "first"
    assert client.call(ctx, "get_or_insert", {"key": "n", "value": "second"}) == "first"
    assert client.call(ctx, "entries") == {"hello": "again", "n": "first"}
    assert client.call(ctx, "len") == 2
    assert client.call(ctx, "remove", {"key": "n"}) == "first"
    assert client.call(ctx, "remove", {"key": "n"}) is None
    assert client.call(ctx, "clear") is None
    assert client.call(ctx, "entries") == {}


def test_args_as_json_text_and_unicode(client: Any, kv_context: str) -> None:
    value = "zürich ✓ " + "x" * 10_000
    client.execute_function(kv_context, "set", json.dumps({"key": "k", "value": value}))
    assert client.execute_function(kv_context, "get", '{"key": "k"}')["result"] == {"output": value}


def test_a_method_the_app_lacks(client: Any, kv_context: str) -> None:
    with pytest.raises(calimero.RpcError) as info:
        client.call(kv_context, "no_such_method")
    assert info.value.type == "FunctionCallError"
    assert info.value.data == 'method "no_such_method" not found'
    assert info.value.status == 200  # JSON-RPC errors come in a 200


def test_bad_arguments(client: Any, kv_context: str) -> None:
    with pytest.raises(calimero.RpcError) as info:
        client.call(kv_context, "set", {"key": 1, "value": "v"})
    assert info.value.type == "FunctionCallError"
    assert "invalid type: integer `1`, expected a string" in info.value.data
    with pytest.raises(calimero.RpcError, match="missing field `key`"):
        client.call(kv_context, "set", {})
    with pytest.raises(ValueError, match="^args: "):
        client.execute_function(kv_context, "set", "{not json")  # refused before sending


def test_an_error_the_app_returns(client: Any, kv_context: str) -> None:
    """``get_result`` returns Err: the node sends the app's error JSON as a
    list of byte values; the message decodes it."""
    with pytest.raises(calimero.RpcError) as info:
        client.call(kv_context, "get_result", {"key": "nope"})
    assert info.value.type == "FunctionCallError"
    assert info.value.data.startswith("the method call returned an error: [123, 34,")
    assert '{"data":"nope","kind":"NotFound"}' in str(info.value)
    with pytest.raises(calimero.RpcError, match="guest panicked: key not found"):
        client.call(kv_context, "get_unchecked", {"key": "nope"})


def test_unknown_context(client: Any) -> None:
    """The node first looks for its own identity in the context: for an id
    it does not know that fails as a FunctionCallError. The all-zero id is
    where identities made by ``generate_context_identity`` are kept, so once
    one exists the lookup passes and the execution says ContextNotFound."""
    unknown = "00" * 31 + "01"
    with pytest.raises(calimero.RpcError) as info:
        client.call(unknown, "get", {"key": "k"})
    assert info.value.type == "FunctionCallError"
    assert info.value.data == "No owned identity found for this context"
    client.generate_context_identity()
    with pytest.raises(calimero.RpcError) as info:
        client.call(MISSING, "get", {"key": "k"})
    assert (info.value.type, info.value.data) == ("ContextNotFound", None)
    with pytest.raises(calimero.RpcError) as info:
        client.sync_status(unknown)
    assert info.value.type == "ContextNotFound"


def test_set_ephemeral(client: Any, kv_context: str) -> None:
    assert client.set_ephemeral(kv_context, {"cursor": 1}) == {}


def test_query_is_a_later_release(client: Any, kv_context: str) -> None:
    with pytest.raises(calimero.UnsupportedByNodeError, match="rc.83"):
        client.query(kv_context, "get", {"key": "k"})


def test_raw_jsonrpc_errors(open_node: Any, kv_context: str) -> None:
    """What the node answers to requests the client never sends."""
    request = urllib.request.Request(
        open_node.url + "/jsonrpc",
        data=b"{not json",
        headers={"Content-Type": "application/json"},
    )
    with pytest.raises(urllib.error.HTTPError) as http:
        urllib.request.urlopen(request, timeout=30)
    assert http.value.code == 400
    assert http.value.read().startswith(b"Failed to parse the request body as JSON")
    conn = calimero.create_connection(open_node.url)
    with pytest.raises(calimero.BadRequestError) as info:
        conn.request("POST", "/jsonrpc", "a JSON string")
    assert info.value.status == 422
    assert "expected struct Request" in info.value.message
    reply = conn.request(
        "POST", "/jsonrpc", {"jsonrpc": "2.0", "id": "abc", "method": "bogus", "params": {}}
    )
    assert reply["id"] == "abc"
    assert reply["error"]["type"] == "ParseError"
    assert "unknown variant `bogus`" in reply["error"]["data"]


def test_concurrent_calls_on_one_async_client(open_node: Any, kv_context: str) -> None:
    async def main() -> None:
        async with calimero.create_async_client(calimero.create_connection(open_node.url)) as c:
            await asyncio.gather(
                *(c.call(kv_context, "set", {"key": f"k{i}", "value": str(i)}) for i in range(24))
            )
            got = await asyncio.gather(
                *(c.call(kv_context, "get", {"key": f"k{i}"}) for i in range(24))
            )
            assert got == [str(i) for i in range(24)]
            assert await c.call(kv_context, "len") == 24

    asyncio.run(main())
