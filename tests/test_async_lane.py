"""Awaited calls on the direct lane, polled by the event loop on its own
thread (crates/python/src/asyncio.rs, `call_awaitable`; the core's
`runtime::on_loop`): over plain HTTP with no proxy, an `AsyncClient` call
is written and read on the loop thread's keep-alive connection, waiting in
`loop.add_reader`, not on a runtime thread. What the runtime path did must
still hold: calls side by side, the loop free while a call waits, the
timeout, cancellation closing the request, a slow answer read whole, a
redirect followed, a connection the node closed while idle replaced."""

from __future__ import annotations

import asyncio
import http.server
import json
import os
import socket
import threading
import time
from typing import Any

import pytest

import calimero
from conftest import answer_json
from localservers import PATHS, ClosingServer, full_listen_queue, serving, through

ALIVE = {"data": {"status": "alive"}}


def _async_client(url: str, **options: Any) -> calimero.AsyncClient:
    conn = calimero.create_connection(url, max_retries=0, node_version="0.11.0-rc.25", **options)
    return calimero.create_async_client(conn)


class _Ports(http.server.BaseHTTPRequestHandler):
    """Keep-alive; answers ALIVE and records each request's client port."""

    protocol_version = "HTTP/1.1"
    ports: list[int]

    def do_GET(self) -> None:
        self.ports.append(self.client_address[1])
        answer_json(self)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.mark.parametrize("path", PATHS)
def test_an_awaited_call_uses_the_loop_threads_own_connection(
    path: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On the lane, an awaited call takes the keep-alive connection a
    blocking call on the same thread left (the thread's own pool); through
    reqwest it takes the runtime's pool, a connection of its own."""
    through(path, monkeypatch)
    handler = type("Ports", (_Ports,), {"ports": []})
    with serving(handler) as url:
        conn = calimero.create_connection(url, max_retries=0, node_version="0.11.0-rc.25")
        blocking = calimero.create_client(conn)
        awaited = calimero.create_async_client(conn)

        async def main() -> list[Any]:
            first = blocking.health()
            return [first, await awaited.health(), await awaited.health()]

        assert asyncio.run(main()) == [ALIVE] * 3
        ports = handler.ports
        assert len(ports) == 3
        if path == "direct lane":
            assert len(set(ports)) == 1, ports
        else:
            assert ports[1] != ports[0] and ports[2] == ports[1], ports


class _Barrier(http.server.BaseHTTPRequestHandler):
    """Answers only once `barrier` requests are in at once (a 503 when they
    never are)."""

    protocol_version = "HTTP/1.1"
    barrier: threading.Barrier

    def do_GET(self) -> None:
        try:
            self.barrier.wait(timeout=10)
        except threading.BrokenBarrierError:
            self.send_response(503)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        answer_json(self)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.mark.parametrize("path", PATHS)
def test_gathered_awaited_calls_are_in_flight_together(
    path: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    through(path, monkeypatch)
    calls = 12
    handler = type("Barrier", (_Barrier,), {"barrier": threading.Barrier(calls)})
    with serving(handler) as url:
        client = _async_client(url, timeout=30)

        async def main() -> list[Any]:
            return await asyncio.gather(*(client.health() for _ in range(calls)))

        assert asyncio.run(main()) == [ALIVE] * calls
        # And again, on the connections the first round left.
        handler.barrier = threading.Barrier(calls)
        assert asyncio.run(main()) == [ALIVE] * calls


class _Silent:
    """Accepts connections and reads requests, never answers; records when
    the client closes each connection."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.requests = 0
        self.closed = threading.Semaphore(0)
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._hold, args=(conn,), daemon=True).start()

    def _hold(self, conn: socket.socket) -> None:
        with conn:
            seen = b""
            while True:
                chunk = conn.recv(65536)
                if not chunk:
                    self.closed.release()
                    return
                seen += chunk
                if b"\r\n\r\n" in seen:
                    self.requests += 1
                    seen = b""

    def close(self) -> None:
        self.sock.close()


async def _ticking(until: asyncio.Future[Any]) -> int:
    """How many 10 ms sleeps the loop ran while `until` was pending."""
    ticks = 0
    while not until.done():
        await asyncio.sleep(0.01)
        ticks += 1
    return ticks


@pytest.mark.parametrize("path", PATHS)
def test_an_awaited_call_without_an_answer_times_out_while_the_loop_runs(
    path: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    through(path, monkeypatch)
    server = _Silent()
    try:
        client = _async_client(server.url, timeout=0.5)

        async def main() -> tuple[float, int]:
            start = time.monotonic()
            call = asyncio.ensure_future(client.health())
            ticks = await _ticking(call)
            with pytest.raises(calimero.RequestTimeoutError):
                await call
            return time.monotonic() - start, ticks

        took, ticks = asyncio.run(main())
        assert 0.45 <= took < 5, took
        # The loop ran its other work all the while (a blocked loop ticks
        # once, after the call).
        assert ticks >= 10, ticks
        # The timed-out request's connection is closed, not kept.
        assert server.closed.acquire(timeout=5)
    finally:
        server.close()


@pytest.mark.parametrize("path", PATHS)
def test_cancelling_an_awaited_call_closes_its_request(
    path: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    through(path, monkeypatch)
    server = _Silent()
    try:
        client = _async_client(server.url, timeout=60)

        async def main() -> None:
            call = asyncio.ensure_future(client.health())
            for _ in range(500):
                if server.requests:
                    break
                await asyncio.sleep(0.01)
            assert server.requests == 1
            call.cancel()
            with pytest.raises(asyncio.CancelledError):
                await call

        asyncio.run(main())
        # The node sees the request closed long before its 60 s timeout.
        assert server.closed.acquire(timeout=5)
    finally:
        server.close()


class _Trickle(http.server.BaseHTTPRequestHandler):
    """A 1 MB JSON answer, chunked, in 8 parts 0.1 s apart."""

    protocol_version = "HTTP/1.1"
    answer = json.dumps({"data": {"status": "alive", "pad": "x" * 1_000_000}}).encode()

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        part = len(self.answer) // 8 + 1
        for at in range(0, len(self.answer), part):
            piece = self.answer[at : at + part]
            self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
            self.wfile.flush()
            time.sleep(0.1)
        self.wfile.write(b"0\r\n\r\n")

    def log_message(self, *args: Any) -> None:
        pass


@pytest.mark.parametrize("path", PATHS)
def test_a_slow_answer_is_read_whole_while_the_loop_runs(
    path: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    through(path, monkeypatch)
    with serving(_Trickle) as url:
        client = _async_client(url, timeout=30)

        async def main() -> tuple[Any, int]:
            call = asyncio.ensure_future(client.health())
            ticks = await _ticking(call)
            return await call, ticks

        answer, ticks = asyncio.run(main())
        assert answer == json.loads(_Trickle.answer)
        assert ticks >= 20, ticks


class _Redirect(http.server.BaseHTTPRequestHandler):
    """The health route redirects (307) to `/there`, which answers."""

    protocol_version = "HTTP/1.1"
    seen: list[str]

    def do_GET(self) -> None:
        self.seen.append(self.path)
        if self.path == "/admin-api/health":
            self.send_response(307)
            self.send_header("Location", "/there")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        answer_json(self)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.mark.parametrize("path", PATHS)
def test_an_awaited_call_follows_a_redirect_once(
    path: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    through(path, monkeypatch)
    handler = type("Redirect", (_Redirect,), {"seen": []})
    with serving(handler) as url:
        client = _async_client(url)
        assert asyncio.run(client.health()) == ALIVE
        assert handler.seen == ["/admin-api/health", "/there"]


@pytest.mark.parametrize("path", PATHS)
def test_an_awaited_call_replaces_a_connection_the_node_closed_while_idle(
    path: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    through(path, monkeypatch)
    server = ClosingServer()
    try:
        client = _async_client(server.url)

        async def main() -> list[Any]:
            answers = [await client.health()]
            assert await asyncio.to_thread(server.closed.acquire, True, 10)
            answers.append(await client.health())
            return answers

        assert asyncio.run(main()) == [ALIVE, ALIVE]
        assert server.connections == 2
    finally:
        server.close()


def test_an_awaited_call_to_a_port_that_never_accepts_meets_the_connect_timeout(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    through("direct lane", monkeypatch)
    with full_listen_queue() as url:
        client = _async_client(url, connect_timeout=0.3)
        start = time.monotonic()
        with pytest.raises(calimero.RequestTimeoutError):
            asyncio.run(client.health())
        assert time.monotonic() - start < 10


def test_an_awaited_call_done_at_once_still_lets_the_loop_run() -> None:
    """A call whose first poll ends it (here: its connection is closed; on
    loopback, an answer already there) completes at the loop's next turn:
    awaiting a call always lets the loop run its other tasks."""
    client = _async_client("http://127.0.0.1:9")
    client.close()

    async def main() -> list[int]:
        ran: list[int] = []
        asyncio.get_running_loop().call_soon(ran.append, 1)
        with pytest.raises(RuntimeError, match="closed"):
            await client.health()
        return ran

    assert asyncio.run(main()) == [1]


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="counts /proc/self/fd")
def test_event_loops_closed_one_after_another_leave_no_descriptors(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Each loop gets its own wake-up socket pair and epoll instance; a
    loop closed with its deadline timer still pending (every call waited
    once) must free them."""
    through("direct lane", monkeypatch)
    handler = type("Ports", (_Ports,), {"ports": []})
    with serving(handler) as url:
        client = _async_client(url)
        asyncio.run(client.health())
        before = len(os.listdir("/proc/self/fd"))
        for _ in range(40):
            assert asyncio.run(client.health()) == ALIVE
        grown = len(os.listdir("/proc/self/fd")) - before
        # Three per loop were kept before (120 here); the last loop's stay
        # with its thread.
        assert grown <= 6, grown
