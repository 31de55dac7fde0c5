"""Local stand-ins for a node, and the switch between the direct lane and
reqwest, shared by the transport tests (tests/test_transport.py for
blocking calls, tests/test_async_lane.py for awaited ones)."""

from __future__ import annotations

import contextlib
import http.server
import socket
import threading
import time
from collections.abc import Iterator

import pytest

PATHS = ["direct lane", "reqwest"]


def through(path: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Sends calls to loopback by the direct lane, or (with a proxy
    variable, and NO_PROXY naming loopback) through reqwest."""
    for name in ("HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy", "NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    if path == "reqwest":
        monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")
        monkeypatch.setenv("NO_PROXY", "127.0.0.1")


@contextlib.contextmanager
def serving(handler: type[http.server.BaseHTTPRequestHandler]) -> Iterator[str]:
    """Runs `handler` on a loopback port for the block; yields its URL."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


class ClosingServer:
    """Answers one request per connection, keep-alive announced, and
    closes it a moment later."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.connections = 0
        self.requests: list[bytes] = []
        self.closed = threading.Semaphore(0)
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            with conn:
                data = b""
                while b"\r\n\r\n" not in data:
                    chunk = conn.recv(65536)
                    if not chunk:
                        break
                    data += chunk
                if not data:
                    continue
                head, _, rest = data.partition(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n")[1:]:
                    name, _, value = line.partition(b":")
                    if name.strip().lower() == b"content-length":
                        length = int(value)
                while len(rest) < length:
                    rest += conn.recv(65536)
                self.requests.append(head.split(b"\r\n")[0])
                body = b'{"data":{"status":"alive"}}'
                conn.sendall(
                    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                    b"Connection: keep-alive\r\n"
                    + f"Content-Length: {len(body)}\r\n\r\n".encode()
                    + body
                )
                # Closed once the client has read the answer and its call
                # has returned: it only learns of it at its next request.
                time.sleep(0.2)
                conn.shutdown(socket.SHUT_RDWR)
            self.closed.release()

    def close(self) -> None:
        self.sock.close()


@contextlib.contextmanager
def full_listen_queue() -> Iterator[str]:
    """The URL of a port whose listen queue is full: connecting to it hangs
    (the kernel drops further SYNs) until the client gives up."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(0)
    fillers = []
    for _ in range(4):
        s = socket.socket()
        s.setblocking(False)
        s.connect_ex(server.getsockname())
        fillers.append(s)
    try:
        yield f"http://127.0.0.1:{server.getsockname()[1]}"
    finally:
        for s in fillers:
            s.close()
        server.close()
