"""Live events from a real merod 0.11.0-rc.25, over SSE and WebSocket, as
a blocking and as an async iterator: a JSON-RPC write arrives as a
StateMutation carrying the kv-store's events, a group membership change as
MemberAdded; changing the subscription while it runs."""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import os
from typing import Any

import pytest

import calimero
from e2e.conftest import WAIT

TRANSPORTS = ["sse", "ws"]


def next_event(sub: calimero.Subscription, kind: str = "StateMutation") -> dict[str, Any]:
    """The next event of type ``kind`` (others are skipped), or a failure
    after WAIT seconds instead of a hang."""
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


def emitted(event: dict[str, Any]) -> list[tuple[str, Any]]:
    """The app events of a StateMutation, their JSON decoded from bytes."""
    return [
        (e["kind"], json.loads(bytes(e["data"])) if e["data"] else None)
        for e in event["data"]["events"]
    ]


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_a_write_arrives_as_a_state_mutation(
    admin: calimero.Client, kv_context: str, transport: str
) -> None:
    with admin.subscribe(kv_context, transport=transport) as sub:
        assert sub.transport == transport and sub.context_ids == [kv_context]
        assert (sub.session_id is not None) == (transport == "sse")
        admin.call(kv_context, "set", {"key": "k1", "value": "v1"})
        event = next_event(sub)
        assert event["contextId"] == kv_context
        assert isinstance(event["data"]["newRoot"], str)
        assert emitted(event) == [("Inserted", {"key": "k1", "value": "v1"})]
        admin.call(kv_context, "set", {"key": "k1", "value": "v2"})
        assert emitted(next_event(sub)) == [("Updated", {"key": "k1", "value": "v2"})]
        admin.call(kv_context, "remove", {"key": "k1"})
        removed = next_event(sub)
        assert emitted(removed) == [("Removed", {"key": "k1"})]
        admin.call(kv_context, "get", {"key": "k1"})  # a read: no event
        # A write method that changes nothing still reports a mutation: no
        # app events, the same root.
        admin.call(kv_context, "remove", {"key": "k1"})
        unchanged = next_event(sub)
        assert unchanged["data"] == {"newRoot": removed["data"]["newRoot"], "events": []}
        admin.call(kv_context, "set", {"key": "k2", "value": "v"})
        assert emitted(next_event(sub)) == [("Inserted", {"key": "k2", "value": "v"})]
        admin.call(kv_context, "clear")
        assert emitted(next_event(sub)) == [("Cleared", None)]
    assert sub.closed


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_sync_status_events(admin: calimero.Client, kv_context: str, transport: str) -> None:
    """A lone node tells a context's subscribers how its sync goes."""
    with admin.subscribe(kv_context, transport=transport) as sub:
        admin.call(kv_context, "set", {"key": "k", "value": "v"})
        event = next_event(sub, "SyncStatus")
    assert event["contextId"] == kv_context
    assert event["data"]["syncState"]["state"] in {"syncing", "waitingForPeers", "idle"}
    assert event["data"]["failureCount"] == 0


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_two_contexts_on_one_subscription(
    admin: calimero.Client, kv_app: str, kv_namespace: str, kv_context: str, transport: str
) -> None:
    other = admin.create_context(kv_app, kv_namespace)["data"]["contextId"]
    try:
        with admin.subscribe([kv_context], transport=transport) as sub:
            sub.subscribe(other)
            assert sub.context_ids == [kv_context, other]
            admin.call(other, "set", {"key": "o", "value": "1"})
            assert next_event(sub)["contextId"] == other
            sub.unsubscribe(other)
            admin.call(other, "set", {"key": "o", "value": "2"})
            admin.call(kv_context, "set", {"key": "k", "value": "1"})
            assert next_event(sub)["contextId"] == kv_context
    finally:
        admin.delete_context(other)


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_the_async_iterator(open_node: Any, kv_context: str, transport: str) -> None:
    async def main() -> None:
        async with calimero.create_async_client(calimero.create_connection(open_node.url)) as c:
            async with await c.subscribe(kv_context, transport=transport) as sub:
                # A read cancelled by its timeout (nothing of ours yet; the
                # node may send a SyncStatus of its own).
                try:
                    early = await asyncio.wait_for(sub.__anext__(), 0.2)
                    assert early["type"] == "SyncStatus", early
                except asyncio.TimeoutError:
                    pass
                await c.call(kv_context, "set", {"key": "a1", "value": "v"})
                # The node also sends the context's SyncStatus events,
                # whenever it syncs: skipped.
                event = await asyncio.wait_for(sub.__anext__(), WAIT)
                while event["type"] == "SyncStatus":
                    event = await asyncio.wait_for(sub.__anext__(), WAIT)
                assert event["type"] == "StateMutation" and event["contextId"] == kv_context
                assert emitted(event) == [("Inserted", {"key": "a1", "value": "v"})]
                await c.call(kv_context, "set", {"key": "a2", "value": "v"})
                async for event in sub:
                    if event["type"] == "SyncStatus":
                        continue
                    assert emitted(event) == [("Inserted", {"key": "a2", "value": "v"})]
                    break
            assert sub.closed

    asyncio.run(main())


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_group_membership(admin: calimero.Client, kv_app: str, transport: str) -> None:
    ns = admin.create_namespace(kv_app, name="e2e-events")["data"]["namespaceId"]
    account = os.urandom(32).hex()
    try:
        with admin.subscribe(group_ids=ns, transport=transport) as sub:
            admin.add_group_members(ns, [{"identity": account, "role": "Member"}])
            event = next_event(sub, "MemberAdded")
            assert event["groupId"] == ns
            assert event["data"]["memberAccount"] == account
    finally:
        admin.delete_namespace(ns)
