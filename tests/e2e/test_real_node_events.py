"""Live events against a real merod node (CALIMERO_E2E_NODE_URL, and
CALIMERO_E2E_APP_PATH: a kv-store .wasm on the node's own disk): a JSON-RPC
write arrives as a StateMutation over SSE and over a WebSocket, and a group
membership change as MemberAdded."""

from __future__ import annotations

import concurrent.futures
import os
from collections.abc import Iterator
from typing import Any

import pytest

import calimero

pytestmark = pytest.mark.e2e

URL = os.environ.get("CALIMERO_E2E_NODE_URL", "")
APP_PATH = os.environ.get("CALIMERO_E2E_APP_PATH")
WAIT = 30.0


def next_event(sub: calimero.Subscription, kind: str) -> dict[str, Any]:
    """The next event of type ``kind`` (others, e.g. presence, are skipped)."""
    pool = concurrent.futures.ThreadPoolExecutor(1)

    def find() -> dict[str, Any]:
        for event in sub:
            if event.get("type") == kind:
                return event
        raise AssertionError("the subscription ended")

    try:
        return pool.submit(find).result(timeout=WAIT)
    finally:
        pool.shutdown(wait=False)


@pytest.fixture(scope="module")
def client() -> calimero.Client:
    return calimero.create_client(calimero.create_connection(URL))


@pytest.fixture(scope="module")
def setup(client: calimero.Client) -> Iterator[tuple[str, str]]:
    if not APP_PATH:
        pytest.skip("set CALIMERO_E2E_APP_PATH (a kv-store wasm on the node)")
    app_id = client.install_dev_application(APP_PATH, package="com.e2e.kv", version="1.0.0")[
        "data"
    ]["applicationId"]
    ns_id = client.create_namespace(app_id, name="e2e-events")["data"]["namespaceId"]
    ctx_id = client.create_context(app_id, ns_id)["data"]["contextId"]
    yield ns_id, ctx_id
    client.delete_context(ctx_id)


@pytest.mark.parametrize("transport", ["sse", "ws"])
def test_a_write_arrives(client: calimero.Client, setup: tuple[str, str], transport: str) -> None:
    _, ctx_id = setup
    with client.subscribe(ctx_id, transport=transport) as sub:
        client.call(ctx_id, "set", {"key": f"e2e-{transport}", "value": "v"})
        event = next_event(sub, "StateMutation")
        assert event["contextId"] == ctx_id
        assert isinstance(event["data"]["newRoot"], str)


def test_group_membership(client: calimero.Client, setup: tuple[str, str]) -> None:
    ns_id, _ = setup
    account = "cd" * 32
    with client.subscribe(group_ids=ns_id) as sub:
        client.add_group_members(ns_id, [{"identity": account, "role": "Member"}])
        event = next_event(sub, "MemberAdded")
        assert event["groupId"] == ns_id
        assert event["data"]["memberAccount"] == account
