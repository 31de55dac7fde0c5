"""Live events against the test node: ``client.subscribe(...)`` over SSE and
WebSocket, as a blocking and as an async iterator; the node's
``StateMutation`` on a JSON-RPC write and group membership events; a cut
stream (reconnect marker, counter, the next event); unsubscribe; close; a
slow consumer; giving up after ``max_reconnects``; auth mode with an
expired token refreshed."""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import os
import select
import signal
import threading
import time
from pathlib import Path
from typing import Any

import pytest

import calimero
from conftest import AUTH_PASSWORD, AUTH_USER, make_wasm
from testnode import TestNode

#: Generous: only a broken feature waits this long.
WAIT = 20.0

TRANSPORTS = ["sse", "ws"]


def next_event(sub: calimero.Subscription, timeout: float = WAIT) -> dict[str, Any]:
    """``next(sub)`` on a helper thread, so a missing event fails the test
    instead of hanging it (the thread ends when the subscription closes)."""
    pool = concurrent.futures.ThreadPoolExecutor(1)
    try:
        return pool.submit(next, sub).result(timeout=timeout)
    finally:
        pool.shutdown(wait=False)


def set_key(client: calimero.Client, context_id: str, key: str, value: str = "v") -> None:
    client.call(context_id, "set", {"key": key, "value": value})


def emitted(event: dict[str, Any]) -> list[tuple[str, Any]]:
    """The app events of a StateMutation, their JSON decoded from bytes."""
    return [
        (e["kind"], json.loads(bytes(e["data"])) if e["data"] else None)
        for e in event["data"]["events"]
    ]


def assert_mutation(event: dict[str, Any], context_id: str, key: str) -> None:
    assert event["contextId"] == context_id
    assert event["type"] == "StateMutation"
    assert isinstance(event["data"]["newRoot"], str)
    assert emitted(event) == [("Inserted", {"key": key, "value": "v"})]


@pytest.fixture
def second_context(client: calimero.Client, app_id: str, namespace_id: str) -> str:
    return client.create_context(app_id, namespace_id)["data"]["contextId"]


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_a_write_arrives_as_a_state_mutation(
    client: calimero.Client, context_id: str, transport: str
) -> None:
    with client.subscribe(context_ids=[context_id], transport=transport) as sub:
        assert isinstance(sub, calimero.Subscription)
        assert sub.transport == transport
        assert sub.context_ids == [context_id]
        assert (sub.session_id is not None) == (transport == "sse")
        set_key(client, context_id, "k1")
        assert_mutation(next_event(sub), context_id, "k1")
        client.call(context_id, "remove", {"key": "k1"})
        removed = next_event(sub)
        assert emitted(removed) == [("Removed", {"key": "k1"})]
        assert removed["data"]["newRoot"] != ""
    assert sub.closed


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_the_async_iterator(conn: calimero.ConnectionInfo, context_id: str, transport: str) -> None:
    client = calimero.create_async_client(conn)

    async def set_key(context_id: str, key: str) -> None:
        await client.call(context_id, "set", {"key": key, "value": "v"})

    async def main() -> None:
        async with await client.subscribe(context_id, transport=transport) as sub:
            assert isinstance(sub, calimero.Subscription)
            # Nothing yet: a read that times out is cancelled, and no later
            # event is lost to it.
            with pytest.raises(asyncio.TimeoutError):
                await asyncio.wait_for(sub.__anext__(), 0.1)
            await set_key(context_id, "a1")
            assert_mutation(await asyncio.wait_for(sub.__anext__(), WAIT), context_id, "a1")
            # The loop stays free while waiting: a concurrent task runs.
            ticks = 0

            async def tick() -> None:
                nonlocal ticks
                while True:
                    ticks += 1
                    await asyncio.sleep(0.01)

            ticker = asyncio.create_task(tick())
            await set_key(context_id, "a2")
            async for event in sub:
                assert_mutation(event, context_id, "a2")
                break
            ticker.cancel()
            assert ticks > 0
            # Changing the ids from a coroutine.
            assert await sub.aunsubscribe(context_id) is not None
            assert sub.context_ids == []
            assert await sub.asubscribe(context_id) is not None
            await sub.aclose()
            with pytest.raises(StopAsyncIteration):
                await asyncio.wait_for(sub.__anext__(), WAIT)

    asyncio.run(main())


class LoopHandoffs:
    """Sees what other threads hand to an event loop: the native side
    queues an awaited result and wakes the loop through a socket it
    registers with ``loop.add_reader`` (on a loop without readers, with
    ``loop.call_soon_threadsafe``). Both are looked up on the loop object,
    so instance attributes see every call; made before the loop's first
    awaited call, which registers the socket."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.scheduled = threading.Event()
        self.fds: list[int] = []
        schedule, add_reader = loop.call_soon_threadsafe, loop.add_reader

        def spy(*args: Any, **kwargs: Any) -> Any:
            self.scheduled.set()
            return schedule(*args, **kwargs)

        def reader(fd: Any, *args: Any) -> Any:
            self.fds.append(fd)
            return add_reader(fd, *args)

        loop.call_soon_threadsafe = spy  # type: ignore[method-assign]
        loop.add_reader = reader  # type: ignore[method-assign]

    def wait(self, timeout: float) -> bool:
        """Whether a result was handed over (the socket became readable, or
        a callback was scheduled) within `timeout` seconds; the loop has not
        taken it (it is blocked by the caller)."""
        deadline = time.monotonic() + timeout
        while not self.scheduled.is_set():
            if self.fds and select.select(self.fds, [], [], 0.01)[0]:
                return True
            if not self.fds:
                time.sleep(0.01)
            if time.monotonic() > deadline:
                return False
        return True


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_a_read_cancelled_as_its_event_arrives_loses_nothing(
    client: calimero.Client, conn: calimero.ConnectionInfo, context_id: str, transport: str
) -> None:
    """The interleaving forced: the event reaches a read, which completes on
    the client's runtime; the read is cancelled before the event loop takes
    the result. The event must stay for the next read."""
    aclient = calimero.create_async_client(conn)

    async def main() -> None:
        handoffs = LoopHandoffs(asyncio.get_running_loop())
        async with await aclient.subscribe(context_id, transport=transport) as sub:
            read = asyncio.ensure_future(sub.__anext__())
            await asyncio.sleep(0)  # the read starts and waits
            # The loop is blocked from here on: the write's event arrives and
            # the read's result is handed to the loop, which cannot take it yet.
            set_key(client, context_id, "first")
            assert handoffs.wait(WAIT), "the read never completed"
            read.cancel()
            with pytest.raises(asyncio.CancelledError):
                await read
            set_key(client, context_id, "second")
            assert_mutation(await asyncio.wait_for(sub.__anext__(), WAIT), context_id, "first")
            assert_mutation(await asyncio.wait_for(sub.__anext__(), WAIT), context_id, "second")

    asyncio.run(main())


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_an_event_arriving_while_a_read_is_being_cancelled_is_kept(
    client: calimero.Client, conn: calimero.ConnectionInfo, context_id: str, transport: str
) -> None:
    """The order of issue 19: a read is cancelled, and the next write's event
    arrives before the cancellation has reached the client's runtime (here
    because the loop is blocked; on a busy machine because a thread is
    descheduled). The read still waiting there must not take the event."""
    aclient = calimero.create_async_client(conn)

    async def main() -> None:
        async with await aclient.subscribe(context_id, transport=transport) as sub:
            with client.subscribe(context_id, transport=transport) as probe:
                read = asyncio.ensure_future(sub.__anext__())
                await asyncio.sleep(0)  # the read starts and waits
                # Cancelled: asyncio runs the cancellation's callbacks (which
                # tell the runtime) only when the loop runs again.
                read.cancel()
                set_key(client, context_id, "first")
                # The event reached this client (the probe's stream), and
                # with a little more time the waiting read's stream too. The
                # grace only makes the old failure certain; the fixed code
                # passes whatever the timing.
                assert_mutation(next_event(probe), context_id, "first")
                time.sleep(0.1)
                with pytest.raises(asyncio.CancelledError):
                    await read
                set_key(client, context_id, "second")
                assert_mutation(await asyncio.wait_for(sub.__anext__(), WAIT), context_id, "first")
                assert_mutation(await asyncio.wait_for(sub.__anext__(), WAIT), context_id, "second")

    asyncio.run(main())


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_a_cut_stream_reconnects_visibly(
    client: calimero.Client, node: TestNode, context_id: str, transport: str
) -> None:
    with client.subscribe(context_id, transport=transport) as sub:
        session = sub.session_id
        assert node.control("POST", "events/drop") == {"dropped": 1}
        marker = next_event(sub)
        assert marker == {
            "type": "reconnected",
            "transport": transport,
            "attempt": 1,
            "reconnects": 1,
        }
        assert sub.reconnects == 1
        # SSE resumes its session (Last-Event-ID), re-subscribed either way.
        assert sub.session_id == session
        set_key(client, context_id, "after")
        assert_mutation(next_event(sub), context_id, "after")
    if transport == "sse":
        resumed = [r for r in node.requests() if r["path"] == "/sse"][1]
        assert resumed["headers"]["last-event-id"].startswith(f"{session}-")


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_unsubscribe_stops_a_context(
    client: calimero.Client, context_id: str, second_context: str, transport: str
) -> None:
    with client.subscribe(context_id, transport=transport) as sub:
        answer = sub.subscribe(context_ids=[second_context])
        if transport == "sse":
            assert answer == {"status": "subscribed", "contexts": [second_context], "groups": []}
        else:
            assert answer == {"contextIds": [second_context]}
        assert sub.context_ids == [context_id, second_context]
        sub.unsubscribe(context_id)
        assert sub.context_ids == [second_context]
        set_key(client, context_id, "not-seen")
        set_key(client, second_context, "seen")
        assert_mutation(next_event(sub), second_context, "seen")


def test_a_refused_subscribe_raises_and_changes_nothing(
    client: calimero.Client, node: TestNode, context_id: str, second_context: str
) -> None:
    with client.subscribe(context_id) as sub:
        node.fault(
            "/sse/subscription",
            "status",
            status=403,
            body={"error": "Forbidden: not the session owner"},
            times=1,
        )
        with pytest.raises(calimero.PermissionDeniedError, match="not the session owner"):
            sub.subscribe(second_context)
        assert sub.context_ids == [context_id]
        set_key(client, context_id, "still")
        assert_mutation(next_event(sub), context_id, "still")


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_group_membership_events(
    client: calimero.Client, namespace_id: str, transport: str
) -> None:
    account = "ab" * 32
    with client.subscribe(group_ids=namespace_id.upper(), transport=transport) as sub:
        assert sub.group_ids == [namespace_id]
        client.add_group_members(namespace_id, [{"identity": account, "role": "Member"}])
        assert next_event(sub) == {
            "groupId": namespace_id,
            "type": "MemberAdded",
            "data": {"memberAccount": account, "role": "Member"},
        }
        client.remove_group_members(namespace_id, [account])
        assert next_event(sub) == {
            "groupId": namespace_id,
            "type": "MemberRemoved",
            "data": {"memberAccount": account},
        }


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_close_ends_the_iterator(client: calimero.Client, context_id: str, transport: str) -> None:
    sub = client.subscribe(context_id, transport=transport)
    # Closed from another thread while the iterator waits.
    timer = threading.Timer(0.2, sub.close)
    timer.start()
    with pytest.raises(StopIteration):
        next_event(sub)
    timer.join()
    assert sub.closed
    assert list(sub) == []
    with pytest.raises(ValueError, match="closed"):
        sub.subscribe(context_id)
    assert "closed" in repr(sub)


@pytest.mark.skipif(os.name != "posix", reason="signals")
@pytest.mark.usefixtures("sigint_handler")
def test_ctrl_c_interrupts_a_waiting_iterator(client: calimero.Client, context_id: str) -> None:
    with client.subscribe(context_id) as sub:
        # Should Ctrl-C not work, the fallback closes it: StopIteration, a failure.
        fallback = threading.Timer(WAIT, sub.close)
        interrupt = threading.Timer(0.3, os.kill, (os.getpid(), signal.SIGINT))
        fallback.start()
        try:
            with pytest.raises(KeyboardInterrupt):
                # Started in the block: wherever the signal lands (on a busy
                # machine, possibly before next() waits), it is raised here.
                interrupt.start()
                next(sub)
        finally:
            interrupt.join()
            fallback.cancel()
        # The subscription is still usable.
        set_key(client, context_id, "after-interrupt")
        assert_mutation(next_event(sub), context_id, "after-interrupt")


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_a_slow_consumer_blocks_no_other_call(
    client: calimero.Client, context_id: str, second_context: str, transport: str
) -> None:
    with client.subscribe(context_id, transport=transport, buffer=1) as sub:
        # Nobody reads: the buffer fills and the stream stops being read.
        for i in range(40):
            set_key(client, context_id, f"k{i}")
        pool = concurrent.futures.ThreadPoolExecutor(2)
        try:
            assert pool.submit(client.call, context_id, "len", None).result(WAIT) == 40
            assert pool.submit(client.list_contexts).result(WAIT)["data"]["contexts"]
            # The subscription still takes commands...
            pool.submit(sub.subscribe, second_context).result(WAIT)
        finally:
            pool.shutdown(wait=False)
        # ...and still delivers, from the first event on.
        assert_mutation(next_event(sub), context_id, "k0")


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_gives_up_after_max_reconnects(
    client: calimero.Client, node: TestNode, context_id: str, transport: str
) -> None:
    with client.subscribe(context_id, transport=transport, max_reconnects=2) as sub:
        node.fault(f"/{transport}", "drop")
        node.control("POST", "events/drop")
        with pytest.raises(calimero.NetworkError):
            next_event(sub)
        assert sub.reconnects == 0
        assert list(sub) == []
    attempts = [r for r in node.requests() if r["path"] == f"/{transport}"]
    assert len(attempts) == 3  # the first connection and two attempts


def test_no_reconnect_when_zero(client: calimero.Client, node: TestNode, context_id: str) -> None:
    with client.subscribe(context_id, max_reconnects=0) as sub:
        node.control("POST", "events/drop")
        with pytest.raises(calimero.NetworkError):
            next_event(sub)


def test_bad_arguments_fail_before_any_io(client: calimero.Client, node: TestNode) -> None:
    good = "1" * 32  # base58 of 32 zero bytes
    node.clear_requests()
    with pytest.raises(ValueError, match=r"context_ids\[1\]"):
        client.subscribe([good, "not-an-id"])
    with pytest.raises(ValueError, match=r"group_ids\[0\]"):
        client.subscribe(group_ids=["xyz"])
    with pytest.raises(ValueError, match="transport"):
        client.subscribe(good, transport="mqtt")
    with pytest.raises(ValueError, match="max_reconnects"):
        client.subscribe(good, max_reconnects=-1)
    with pytest.raises(ValueError, match="buffer"):
        client.subscribe(good, buffer=0)
    with pytest.raises(TypeError, match=r"context_ids\[0\]"):
        client.subscribe([1])
    with pytest.raises(TypeError, match="group_ids"):
        client.subscribe(group_ids=5)
    assert node.requests() == []


def test_an_unreachable_node_raises_at_subscribe(refused_url: str) -> None:
    conn = calimero.create_connection(refused_url, connect_timeout=2)
    for transport in TRANSPORTS:
        with pytest.raises(calimero.NetworkError):
            calimero.create_client(conn).subscribe(transport=transport)


# ----------------------------------------------------------------- auth mode


@pytest.mark.usefixtures("secret_watch")
@pytest.mark.parametrize("transport", TRANSPORTS)
def test_auth_mode_with_an_expired_token_refreshed(
    auth_node: TestNode, tmp_path: Path, transport: str
) -> None:
    conn = calimero.create_connection(
        auth_node.url, username=AUTH_USER, password=AUTH_PASSWORD, interactive=False
    )
    client = calimero.create_client(conn)
    app_id = client.install_dev_application(str(make_wasm(tmp_path)))["data"]["applicationId"]
    ns_id = client.create_namespace(app_id)["data"]["namespaceId"]
    context_id = client.create_context(app_id, ns_id)["data"]["contextId"]

    # Without a token the node refuses the stream.
    anonymous = calimero.create_connection(auth_node.url, interactive=False)
    with pytest.raises(calimero.AuthenticationError):
        calimero.create_client(anonymous).subscribe(context_id, transport=transport)

    # The token expires: subscribing refreshes it once, then streams.
    auth_node.expire_access_tokens()
    auth_node.clear_requests()
    with client.subscribe(context_id, transport=transport) as sub:
        log = auth_node.requests()
        assert [r["path"] for r in log][:3] == [f"/{transport}", "/auth/refresh", f"/{transport}"]
        assert log[2]["headers"]["authorization"].startswith("Bearer ")
        assert "token" not in (log[2]["query"] or "")
        set_key(client, context_id, "k")
        assert_mutation(next_event(sub), context_id, "k")

        # Expired again while connected, then cut: the reconnect refreshes.
        auth_node.expire_access_tokens()
        auth_node.control("POST", "events/drop")
        assert next_event(sub)["type"] == "reconnected"
        set_key(client, context_id, "k2")
        assert_mutation(next_event(sub), context_id, "k2")
        assert auth_node.count("/auth/refresh") == 2
        assert "token" not in repr(sub).lower()


def test_async_subscribe_checks_arguments_and_connects(
    conn: calimero.ConnectionInfo, context_id: str
) -> None:
    async def main() -> None:
        with pytest.raises(ValueError, match=r"context_ids\[0\]"):
            await calimero.create_async_client(conn).subscribe(["nope"])
        sub = await calimero.create_async_client(conn).subscribe(context_id, transport="ws")
        assert sub.transport == "ws"
        sub.close()
        assert await asyncio.wait_for(_drain(sub), WAIT) == []

    asyncio.run(main())


async def _drain(sub: calimero.Subscription) -> list[dict[str, Any]]:
    return [event async for event in sub]


def test_a_closed_connection_cannot_subscribe(
    conn: calimero.ConnectionInfo, context_id: str
) -> None:
    client = calimero.create_client(conn)
    conn.close()
    for transport in TRANSPORTS:
        with pytest.raises(RuntimeError, match="closed"):
            client.subscribe(context_id, transport=transport)
