"""Code written for the official client 0.6.31 runs unchanged, and so does
code written for this package's exception tree.

The official client raised ``RuntimeError("Client error: HTTP 404: ...")``
for every node, network and authentication failure, and returned JSON-RPC
errors inside the envelope ``execute_function`` answers with. Here failures
raise ``ClientError`` subclasses, which are ``RuntimeError``s, and
``execute_function`` still returns the envelope, errors included; ``call``
is the method that raises ``RpcError``.
"""

from __future__ import annotations

import json
import pickle
import re

import pytest

import calimero
from testnode import TestNode

MISSING = "11111111111111111111111111111111"


def test_every_client_error_is_a_runtime_error() -> None:
    for name in calimero.errors.__all__:
        cls = getattr(calimero, name)
        assert issubclass(cls, RuntimeError), name
        if cls is not calimero.InvalidArgumentError:
            assert issubclass(cls, calimero.ClientError), name
    # the builtin bases of our tree stay
    assert issubclass(calimero.NetworkError, ConnectionError)
    assert issubclass(calimero.RequestTimeoutError, TimeoutError)
    assert issubclass(calimero.UnsupportedByNodeError, NotImplementedError)
    # bad arguments are ValueErrors, not client errors, and also RuntimeErrors
    assert issubclass(calimero.InvalidArgumentError, ValueError)
    assert not issubclass(calimero.InvalidArgumentError, calimero.ClientError)


def test_argument_errors_the_official_client_raised_as_runtime_errors(
    client: calimero.Client, node: TestNode
) -> None:
    """0.6.31 parsed hex ids, install hashes and JSON text only inside the
    call and raised ``RuntimeError`` for them; here they are refused before
    sending, with an error that ``except ValueError`` and ``except
    RuntimeError`` both catch."""
    node.clear_requests()
    calls = [
        lambda: client.create_namespace_invitation("not-hex"),
        lambda: client.create_group_in_namespace("not-hex", "g"),
        lambda: client.install_application("http://127.0.0.1:9/app.wasm", "zz"),
        lambda: client.execute_function(MISSING, "set", "{not json"),
        lambda: client.get_context("not base58!"),
    ]
    for call in calls:
        text = _official_style(call)
        assert text != "no failure" and ": " in text, text
        with pytest.raises(ValueError):
            call()
    assert node.requests() == []


def _official_style(call) -> str:
    """How code written for 0.6.31 handled a failure."""
    try:
        call()
    except RuntimeError as e:
        return str(e)
    return "no failure"


def test_official_style_except_runtime_error_catches_node_failures(
    client: calimero.Client, context_id: str
) -> None:
    text = _official_style(lambda: client.download_blob(MISSING))
    assert "HTTP 404" in text
    assert text.endswith("Blob not found locally or in network")
    assert "HTTP 404" in _official_style(lambda: client.get_context(MISSING))
    # 0.6.31 called a route rc.25 lacks and failed with a 404 RuntimeError
    text = _official_style(lambda: client.list_context_identity_aliases(context_id))
    assert "identity-alias" in text


def test_official_style_catches_network_failures_and_timeouts(node: TestNode) -> None:
    down = calimero.create_client(calimero.create_connection("http://127.0.0.1:9", max_retries=0))
    try:
        down.health()
    except RuntimeError as e:  # 0.6.31: RuntimeError("Client error: error sending request ...")
        assert isinstance(e, calimero.NetworkError)
        assert isinstance(e, ConnectionError)
    else:
        pytest.fail("an unreachable node did not raise")
    node.fault("/admin-api/health", "delay", delayMs=3000, times=1)
    slow = calimero.create_client(calimero.create_connection(node.url, timeout=0.5, max_retries=0))
    try:
        slow.health()
    except RuntimeError as e:
        assert isinstance(e, calimero.RequestTimeoutError)
        assert isinstance(e, TimeoutError)
    else:
        pytest.fail("a slow node did not time out")


def test_str_keeps_the_status_first_and_the_node_message_last(client: calimero.Client) -> None:
    """0.6.31: ``"Client error: HTTP 404: Blob not found locally or in
    network"``. merobox reads the status with ``re.match(r"HTTP (\\d{3})\\b",
    message.removeprefix("Client error: "))`` and looks for ``"blob not
    found"`` in ``str(e).lower()``."""
    with pytest.raises(RuntimeError) as info:
        client.download_blob(MISSING)
    text = str(info.value)
    match = re.match(r"HTTP (\d{3})\b", text.removeprefix("Client error: "))
    assert match and match.group(1) == "404"
    assert text.endswith(": " + info.value.message)
    with pytest.raises(RuntimeError) as info:
        client.delete_blob(MISSING)
    assert "blob not found" in str(info.value).lower()


def test_official_style_reads_jsonrpc_errors_from_the_envelope(
    client: calimero.Client, context_id: str
) -> None:
    # merobox's execute step: result["error"]["type"] and ["data"]
    result = client.execute_function(context_id, "invalid_method", json.dumps({}))
    assert "error" in result
    assert result["error"]["type"] == "FunctionCallError"
    assert "not found" in result["error"]["data"]
    result = client.execute_function(context_id, "set", json.dumps({"key": "k", "value": "v"}), "")
    assert "error" not in result
    assert result["result"] == {"output": None}
    result = client.execute_function(context_id=context_id, method="get", args='{"key": "k"}')
    assert result["result"]["output"] == "v"
    # a missing argument and a wrong type are the guest's errors, also returned
    assert client.execute_function(context_id, "get", "{}")["error"]["type"]
    assert client.execute_function(context_id, "set", '{"key": 1, "value": "v"}')["error"]["type"]


def test_our_tree_runs_unchanged(client: calimero.Client, context_id: str) -> None:
    with pytest.raises(calimero.NotFoundError) as info:
        client.get_context(MISSING)
    assert info.value.status == 404
    assert info.value.message == "Context not found"
    with pytest.raises(calimero.RpcError) as rpc:
        client.call(context_id, "invalid_method")
    assert rpc.value.type == "FunctionCallError"
    with pytest.raises(calimero.ClientError):
        client.call(MISSING, "get", {"key": "k"})
    # and they still pickle as what they are
    again = pickle.loads(pickle.dumps(info.value))
    assert type(again) is calimero.NotFoundError
    assert isinstance(again, RuntimeError)


def test_the_seed_pattern_sorts_each_failure_into_its_clause(
    client: calimero.Client, conn: calimero.ConnectionInfo
) -> None:
    """``except calimero.ClientError`` before ``except ValueError`` before
    ``except RuntimeError``: node failures land in the first, bad arguments
    in the second, internal failures (a closed connection) in the third."""

    def clause(call) -> str:
        try:
            call()
        except calimero.ClientError:
            return "ClientError"
        except ValueError:
            return "ValueError"
        except RuntimeError:
            return "RuntimeError"
        return "none"

    assert clause(lambda: client.get_context(MISSING)) == "ClientError"
    assert clause(lambda: client.call(MISSING, "get", {"key": "k"})) == "ClientError"
    assert clause(lambda: client.get_context("not base58!")) == "ValueError"
    assert clause(lambda: client.create_namespace_invitation("not-hex")) == "ValueError"
    closed = calimero.create_client(calimero.create_connection(conn.api_url))
    closed.close()
    assert clause(closed.health) == "RuntimeError"
