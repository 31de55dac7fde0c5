"""AsyncClient: what only asyncio has (the shared scenarios run through
``AsyncDriven`` in the modules listed in conftest.BOTH_CLIENTS)."""

from __future__ import annotations

import asyncio
import inspect
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, Callable

import pytest

import calimero
from forking import passes_in_a_forked_child
from testnode import TestNode

#: Generous: only a broken feature waits this long.
WAIT = 20.0


def test_every_client_method_is_a_coroutine_with_the_same_signature() -> None:
    public = [n for n in dir(calimero.Client) if not n.startswith("_")]
    sync_only = {"connection", "closed", "close", "get_api_url", "with_options"}
    for name in public:
        if name in sync_only:
            continue
        sync = getattr(calimero.Client, name)
        coro = getattr(calimero.AsyncClient, name)
        assert inspect.iscoroutinefunction(coro), name
        assert inspect.signature(sync) == inspect.signature(coro), name
        assert coro.__doc__, name
    for name in sync_only:
        assert hasattr(calimero.AsyncClient, name)


def test_256_gathered_calls_complete_correctly(
    conn: calimero.ConnectionInfo, context_id: str
) -> None:
    async def main() -> None:
        client = calimero.create_async_client(conn)
        await asyncio.gather(
            *(
                client.call(context_id, "set", {"key": f"k{i}", "value": f"v{i}"})
                for i in range(256)
            )
        )
        values = await asyncio.gather(
            *(client.call(context_id, "get", {"key": f"k{i}"}) for i in range(256))
        )
        assert values == [f"v{i}" for i in range(256)]
        assert await client.call(context_id, "len") == 256

    asyncio.run(main())


def test_a_cancelled_call_is_cancelled_at_the_node(
    conn: calimero.ConnectionInfo, node: TestNode
) -> None:
    node.fault("/admin-api/health", "hold", times=1)

    async def main() -> None:
        client = calimero.create_async_client(conn)
        task = asyncio.ensure_future(client.with_options(timeout=WAIT).health())
        # Cancelled once the node holds it (not after a guessed delay).
        await asyncio.to_thread(node.wait_for_requests, "/admin-api/health", in_flight=True)
        start = time.monotonic()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        # Held until released: only the cancellation ended it.
        assert time.monotonic() - start < WAIT / 2
        assert await client.health() == {"data": {"status": "alive"}}

    asyncio.run(main())
    # The node saw the held request's connection end; it was never released.
    assert_request_ended(node, "/admin-api/health")


def test_wait_for_timeout_cancels_the_request(
    conn: calimero.ConnectionInfo, node: TestNode
) -> None:
    node.fault("/admin-api/peers", "hold", times=1)

    async def main() -> None:
        client = calimero.create_async_client(conn)
        call = asyncio.ensure_future(client.with_options(timeout=WAIT).get_peers_count())
        await asyncio.to_thread(node.wait_for_requests, "/admin-api/peers", in_flight=True)
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(call, 0.05)
        assert call.cancelled()

    asyncio.run(main())
    assert_request_ended(node, "/admin-api/peers")


def assert_request_ended(node: TestNode, path: str) -> None:
    """The node logged the end of the first request to `path` (its
    connection closed), in at most WAIT seconds."""
    deadline = time.monotonic() + WAIT
    while True:
        entry = next(r for r in node.requests() if r["path"] == path)
        if entry["finishedMs"] is not None:
            return
        assert time.monotonic() < deadline, f"the node never saw {path} end"
        time.sleep(0.01)


def test_bad_arguments_raise_when_awaited_and_nothing_is_sent(
    conn: calimero.ConnectionInfo, node: TestNode
) -> None:
    async def main() -> None:
        client = calimero.create_async_client(conn)
        coro = client.get_context("not-an-id")
        node.clear_requests()
        with pytest.raises(ValueError, match="context_id"):
            await coro
        with pytest.raises(TypeError, match="offset"):
            await client.list_contexts(offset="1")  # type: ignore[arg-type]

    asyncio.run(main())
    assert node.requests() == []


def test_errors_are_the_same_classes(conn: calimero.ConnectionInfo, node: TestNode) -> None:
    async def main() -> None:
        client = calimero.create_async_client(conn)
        with pytest.raises(calimero.NotFoundError) as info:
            await client.get_context("11111111111111111111111111111111")
        assert info.value.status == 404
        assert info.value.message == "Context not found"
        node.fault("/admin-api/peers", "status", status=503, body="busy", times=5)
        with pytest.raises(calimero.ServerError):
            await client.with_options(max_retries=0).get_peers_count()

    asyncio.run(main())


def test_the_event_loop_is_not_blocked_while_a_call_waits(
    conn: calimero.ConnectionInfo, node: TestNode
) -> None:
    # The call is held at the node until a coroutine on the same loop
    # releases it: it returns only if the loop ran while the call waited (a
    # blocked loop would hold it until the client's timeout).
    node.fault("/admin-api/health", "hold", times=1)

    async def main() -> bool:
        client = calimero.create_async_client(conn)
        released = asyncio.Event()

        async def release_once_held() -> None:
            await asyncio.to_thread(node.wait_for_requests, "/admin-api/health", in_flight=True)
            await asyncio.to_thread(node.release_held)
            released.set()

        helper = asyncio.ensure_future(release_once_held())
        assert await client.with_options(timeout=WAIT).health() == {"data": {"status": "alive"}}
        await helper
        return released.is_set()

    assert asyncio.run(main())


def test_async_blob_round_trip_with_progress(conn: calimero.ConnectionInfo, tmp_path: Path) -> None:
    data = bytes(range(256)) * 8192  # 2 MiB
    seen: list[tuple[int, int | None]] = []

    async def main() -> None:
        async with calimero.create_async_client(conn) as client:
            blob = await client.upload_blob(data, progress=lambda d, t: seen.append((d, t)))
            blob_id = blob["data"]["blob_id"]
            assert await client.download_blob(blob_id) == data
            target = tmp_path / "blob.bin"
            await client.download_blob_to_path(blob_id, target)
            assert target.read_bytes() == data
            async with await client.iter_blob(blob_id, chunk_size=65536) as chunks:
                assert chunks.size == len(data)
                parts = [c async for c in chunks]
            assert b"".join(parts) == data
        assert client.closed

    asyncio.run(main())
    done = [d for d, _ in seen]
    assert done == sorted(done) and done[-1] == len(data)
    assert all(t == len(data) for _, t in seen)


def test_cancelling_an_upload_stops_it(
    conn: calimero.ConnectionInfo, node: TestNode, tmp_path: Path
) -> None:
    path = tmp_path / "big.bin"
    size = 256 * 1024 * 1024
    with open(path, "wb") as f:
        f.truncate(size)  # sparse: 256 MiB of zeros
    seen: list[int] = []

    async def main() -> None:
        client = calimero.create_async_client(conn)
        task = asyncio.ensure_future(client.upload_blob(path, progress=lambda d, t: seen.append(d)))
        while not seen:
            await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        at_cancel = len(seen)
        # The worker thread stops at its next progress tick, which ends the
        # request: once the node saw it end, no callback can come any more.
        await asyncio.to_thread(assert_request_ended, node, "/admin-api/blobs")
        # At most the tick that was running when the task was cancelled.
        assert len(seen) <= at_cancel + 1
        assert seen[-1] < size

    asyncio.run(main())


def test_transfers_reuse_a_warm_thread_and_run_side_by_side_when_gathered(
    conn: calimero.ConnectionInfo, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Threads of its own: none left idle by other tests to take a call.
    monkeypatch.setattr(calimero._client, "_WORKERS", calimero._client._Workers())
    data = b"x" * 300_000
    barrier = threading.Barrier(3, timeout=WAIT)

    def thread_of(seen: list[threading.Thread]) -> Callable[[int, int | None], None]:
        return lambda done, total: seen.append(threading.current_thread())

    def meet(done: int, total: int | None) -> None:
        if done == 0:  # the first tick, before any byte is sent
            barrier.wait()

    async def main() -> None:
        client = calimero.create_async_client(conn)
        first: list[threading.Thread] = []
        second: list[threading.Thread] = []
        await client.upload_blob(data, progress=thread_of(first))
        await client.upload_blob(data, progress=thread_of(second))
        # One call after another: the same thread (its connections warm),
        # the SDK's own, not the loop's default executor.
        assert {t.name for t in first} == {"calimero-transfer"}
        assert set(first) == set(second)
        # Three at once: three threads, or the barrier would time out.
        await asyncio.gather(*(client.upload_blob(data, progress=meet) for _ in range(3)))

    asyncio.run(main())


def test_a_transfer_that_outlives_its_loop_ends_quietly() -> None:
    from calimero._client import _Workers

    workers = _Workers()
    started, release = threading.Event(), threading.Event()
    failures: list[threading.ExceptHookArgs] = []

    holder: list[threading.Thread] = []

    def hold() -> None:
        holder.append(threading.current_thread())
        started.set()
        release.wait(WAIT)

    async def begin() -> None:
        task = asyncio.ensure_future(workers.run(asyncio.get_running_loop(), hold))
        await asyncio.to_thread(started.wait, WAIT)
        task.cancel()

    async def again() -> threading.Thread:
        call = workers.run(asyncio.get_running_loop(), threading.current_thread)
        return await asyncio.wait_for(call, WAIT)

    hook = threading.excepthook
    threading.excepthook = failures.append
    try:
        asyncio.run(begin())  # the loop closes with the call still running
        release.set()
        deadline = time.monotonic() + WAIT
        while not workers._idle:  # back among the idle ones
            assert time.monotonic() < deadline, "the thread never went idle"
            time.sleep(0.01)
        # Its answer found the loop closed; the thread takes the next call
        # (one that died never would).
        assert asyncio.run(again()) is holder[0]
    finally:
        threading.excepthook = hook
    assert failures == []


@pytest.mark.skipif(not hasattr(os, "fork"), reason="fork")
def test_a_forked_child_runs_transfers_on_threads_of_its_own(
    conn: calimero.ConnectionInfo,
) -> None:
    async def upload() -> bool:
        client = calimero.create_async_client(conn)
        return bool((await client.upload_blob(b"f" * 1000))["data"]["blob_id"])

    assert asyncio.run(upload())  # the parent has an idle transfer thread
    # In the child, that thread is not there.
    assert passes_in_a_forked_child(lambda: asyncio.run(upload()), WAIT)
    assert asyncio.run(upload())  # the parent's thread still serves it


def test_idle_transfer_threads_end_and_errors_reach_the_awaiting_task() -> None:
    from calimero._client import _Workers

    workers = _Workers()
    workers.IDLE = 0.05

    def boom(kind: type[BaseException]) -> None:
        raise kind("boom")

    async def main() -> tuple[threading.Thread, threading.Thread]:
        loop = asyncio.get_running_loop()

        def call(fn: Callable[..., Any], *args: Any) -> Any:
            return asyncio.wait_for(workers.run(loop, fn, *args), WAIT)

        one = await call(threading.current_thread)
        with pytest.raises(ValueError, match="boom"):
            await call(boom, ValueError)
        # A future cannot hold a StopIteration: it arrives as RuntimeError.
        with pytest.raises(RuntimeError, match="StopIteration"):
            await call(boom, StopIteration)
        deadline = time.monotonic() + WAIT
        while one.is_alive() and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        two = await call(threading.current_thread)
        return one, two

    one, two = asyncio.run(main())
    assert not one.is_alive()  # idle past IDLE: ended
    assert two is not one  # and the next call started another


def test_transfers_beyond_the_cap_wait_and_a_cancelled_one_never_runs() -> None:
    from calimero._client import _Workers

    workers = _Workers()
    workers.MOST = 2
    go = threading.Event()
    ran: list[tuple[int, threading.Thread]] = []

    def work(i: int) -> int:
        ran.append((i, threading.current_thread()))
        go.wait(WAIT)
        return i

    async def main() -> list[int]:
        loop = asyncio.get_running_loop()
        calls = [workers.run(loop, work, i) for i in range(4)]
        skipped = workers.run(loop, work, 99)
        skipped.cancel()  # its task gave up before a thread was free
        deadline = time.monotonic() + WAIT
        while len(ran) < 2 and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.05)
        assert sorted(i for i, _ in ran) == [0, 1]  # two threads, two calls
        go.set()
        return list(await asyncio.wait_for(asyncio.gather(*calls), WAIT))

    assert asyncio.run(main()) == [0, 1, 2, 3]
    assert sorted(i for i, _ in ran) == [0, 1, 2, 3]  # 99 never ran
    assert len({t for _, t in ran}) == 2


#: A program whose transfer is still running when its loop ends: the
#: interpreter's exit waits for it, and no transfer thread is left.
EXIT_WHILE_TRANSFERRING = """
import asyncio, atexit, sys, threading, time
import calimero

ticks = []

def progress(done, total):
    ticks.append(done)
    time.sleep(0.05)

async def main():
    client = calimero.create_async_client(calimero.create_connection(sys.argv[1]))
    task = asyncio.ensure_future(client.upload_blob(sys.argv[2], progress=progress))
    while not ticks:
        await asyncio.sleep(0.01)
    # asyncio.run cancels the task; its thread is busy with the transfer

def report():
    alive = [t for t in threading.enumerate() if t.name == "calimero-transfer"]
    print("alive", len(alive), "ticks", len(ticks), flush=True)

atexit.register(report)  # runs after the interpreter joined its threads
asyncio.run(main())
"""


def test_the_interpreters_exit_waits_for_a_running_transfer(node: TestNode, tmp_path: Path) -> None:
    path = tmp_path / "big.bin"
    with open(path, "wb") as f:
        f.truncate(64 * 1024 * 1024)
    script = tmp_path / "exit.py"
    script.write_text(EXIT_WHILE_TRANSFERRING)
    done = subprocess.run(
        [sys.executable, str(script), node.url, str(path)],
        capture_output=True,
        text=True,
        timeout=WAIT * 3,
    )
    assert done.returncode == 0, done.stderr
    assert "Fatal" not in done.stderr
    # The busy thread ended (its transfer stopped at its next tick), and
    # so did any idle one, before the interpreter went on.
    assert done.stdout.startswith("alive 0 "), done.stdout


def test_clients_and_connections_are_context_managers(node: TestNode) -> None:
    with calimero.create_connection(node.url) as conn:
        with calimero.create_client(conn) as client:
            assert client.health() == {"data": {"status": "alive"}}
        assert conn.closed and client.closed
    with pytest.raises(RuntimeError, match="closed"):
        client.health()
    conn2 = calimero.create_connection(node.url)
    conn2.close()
    conn2.close()  # twice is harmless
    with pytest.raises(RuntimeError, match="closed"):
        conn2.get("/admin-api/health")

    async def main() -> None:
        conn3 = calimero.create_connection(node.url)
        async with calimero.create_async_client(conn3) as aclient:
            assert await aclient.health() == {"data": {"status": "alive"}}
        with pytest.raises(RuntimeError, match="closed"):
            await aclient.health()
        conn4 = calimero.create_connection(node.url)
        aclient4 = calimero.AsyncClient(conn4)
        await aclient4.aclose()
        assert aclient4.closed and conn4.closed

    asyncio.run(main())


def test_a_with_options_copy_shares_the_close(node: TestNode) -> None:
    client = calimero.create_client(calimero.create_connection(node.url))
    fast = client.with_options(timeout=5)
    assert isinstance(fast, calimero.Client)
    assert fast.connection.timeout == 5
    client.close()
    assert fast.closed


def test_async_client_needs_a_connection() -> None:
    with pytest.raises(TypeError, match="connection"):
        calimero.AsyncClient("http://127.0.0.1:1")  # type: ignore[arg-type]


def test_identity_alias_methods_raise_unsupported_in_async(conn: calimero.ConnectionInfo) -> None:
    async def main() -> None:
        client = calimero.create_async_client(conn)
        with pytest.raises(calimero.UnsupportedByNodeError):
            await client.list_context_identity_aliases("11111111111111111111111111111111")

    asyncio.run(main())
