"""The direct lane (crates/core/src/lane.rs): a blocking call over plain
HTTP, and a blob downloaded into memory, go out on the calling thread's
own keep-alive connection, written and read on its socket, without
reqwest. What reqwest did for those requests must still happen: redirects
followed, the environment's proxy used, a connection the node closed while
idle replaced without losing or repeating the request, timeouts, a
download checked and its stall detected."""

from __future__ import annotations

import hashlib
import http.server
import time
from collections.abc import Iterator
from typing import Any

import pytest

import calimero
from conftest import answer_json
from localservers import PATHS, ClosingServer, full_listen_queue, serving, through
from testnode import TestNode

HEALTH = "/admin-api/health"
ALIVE = {"data": {"status": "alive"}}


@pytest.mark.parametrize("path", PATHS)
def test_a_redirect_is_followed_and_the_request_sent_once(
    node: TestNode, path: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    through(path, monkeypatch)
    client = calimero.create_client(calimero.create_connection(node.url, max_retries=0))
    node.fault("/admin-api/peers", "status", status=307, headers={"location": HEALTH})
    assert client.connection.get("/admin-api/peers") == ALIVE
    # A POST answered 303 was acted on: it is not sent again; the client
    # GETs the new location, without the body.
    node.fault("/admin-api/contexts", "status", status=303, headers={"location": HEALTH})
    assert client.connection.request("POST", "/admin-api/contexts", {"a": 1}) == ALIVE
    assert [(r["method"], r["path"]) for r in node.requests()] == [
        ("GET", "/admin-api/peers"),
        ("GET", HEALTH),
        ("POST", "/admin-api/contexts"),
        ("GET", HEALTH),
    ]


class _Recorder(http.server.BaseHTTPRequestHandler):
    """Answers every request with ALIVE and records its request target."""

    seen: list[str]
    authorization: list[str | None]

    def _answer(self) -> None:
        self.seen.append(f"{self.command} {self.path}")
        self.authorization.append(self.headers.get("authorization"))
        length = int(self.headers.get("content-length") or 0)
        if length:
            self.rfile.read(length)
        answer_json(self)

    do_GET = do_POST = _answer

    def log_message(self, *args: Any) -> None:
        pass


def _recorder(name: str) -> type[_Recorder]:
    return type(name, (_Recorder,), {"seen": [], "authorization": []})


@pytest.fixture
def proxy() -> Iterator[tuple[str, list[str]]]:
    """A forward proxy that answers for every host itself."""
    handler = _recorder("Proxy")
    with serving(handler) as url:
        yield url, handler.seen


@pytest.fixture
def elsewhere() -> Iterator[tuple[str, type[_Recorder]]]:
    """Another origin (another port) that answers every request."""
    handler = _recorder("Elsewhere")
    with serving(handler) as url:
        yield url, handler


@pytest.mark.parametrize("path", PATHS)
def test_a_token_is_not_sent_to_another_origin_a_redirect_names(
    node: TestNode,
    elsewhere: tuple[str, type[_Recorder]],
    path: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    through(path, monkeypatch)
    other, seen = elsewhere
    conn = calimero.create_connection(node.url, access_token="secret-token", max_retries=0)
    client = calimero.create_client(conn)
    node.fault("/admin-api/peers", "status", status=307, headers={"location": f"{other}/there"})
    assert client.connection.get("/admin-api/peers") == ALIVE
    assert seen.seen == ["GET /there"]
    assert seen.authorization == [None]
    sent = [r for r in node.requests() if r["path"] == "/admin-api/peers"]
    assert len(sent) == 1
    assert sent[0]["headers"].get("authorization", "").startswith("Bearer ")


@pytest.mark.parametrize("variable", ["HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"])
def test_requests_go_through_the_proxy_the_environment_names(
    proxy: tuple[str, list[str]], variable: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    proxy_url, seen = proxy
    for name in ("HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy", "NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv(variable, proxy_url)
    # A host no resolver knows: only the proxy can answer for it.
    node = "http://calimero-node.invalid:2428"
    client = calimero.create_client(calimero.create_connection(node, max_retries=0))
    assert client.health() == ALIVE
    assert client.connection.request("POST", "/admin-api/contexts", {"a": 1}) == ALIVE
    assert seen == [
        f"GET {node}{HEALTH}",
        f"POST {node}/admin-api/contexts",
    ]


def test_without_a_proxy_the_host_is_reached_directly(
    proxy: tuple[str, list[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    # The control of the test above: NO_PROXY names the host, so the
    # request goes to it and fails there, not at the proxy.
    proxy_url, seen = proxy
    monkeypatch.setenv("HTTP_PROXY", proxy_url)
    monkeypatch.setenv("NO_PROXY", "calimero-node.invalid")
    client = calimero.create_client(
        calimero.create_connection("http://calimero-node.invalid:2428", max_retries=0)
    )
    with pytest.raises(calimero.NetworkError):
        client.health()
    assert seen == []


@pytest.mark.parametrize("path", PATHS)
def test_a_connection_the_node_closed_while_idle_is_replaced(
    path: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    through(path, monkeypatch)
    server = ClosingServer()
    try:
        # No retries: only the lane's own resend of an unsent request can
        # save the second call.
        client = calimero.create_client(calimero.create_connection(server.url, max_retries=0))
        assert client.health() == ALIVE
        assert server.closed.acquire(timeout=10)
        assert client.connection.request("POST", "/admin-api/contexts", {"a": 1}) == ALIVE
        assert server.closed.acquire(timeout=10)
        assert client.health() == ALIVE
        # Each request was sent once, each on a connection of its own.
        assert server.requests == [
            f"GET {HEALTH} HTTP/1.1".encode(),
            b"POST /admin-api/contexts HTTP/1.1",
            f"GET {HEALTH} HTTP/1.1".encode(),
        ]
        assert server.connections == 3
    finally:
        server.close()


@pytest.fixture
def unanswered_url() -> Iterator[str]:
    with full_listen_queue() as url:
        yield url


@pytest.mark.parametrize("path", PATHS)
def test_the_connect_timeout_bounds_a_connection_that_never_opens(
    path: str, unanswered_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    through(path, monkeypatch)
    conn = calimero.create_connection(unanswered_url, connect_timeout=0.3, max_retries=0)
    client = calimero.create_client(conn)
    start = time.monotonic()
    with pytest.raises(calimero.RequestTimeoutError):
        client.health()
    # The connect timeout, not the request's 60 s.
    assert time.monotonic() - start < 10


class _SlowRedirects(http.server.BaseHTTPRequestHandler):
    """`/a` redirects to `/b`, `/b` answers; each after 0.4 s."""

    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        time.sleep(0.4)
        if self.path == "/a":
            self.send_response(307)
            self.send_header("Location", "/b")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        answer_json(self)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.mark.parametrize("path", PATHS)
def test_the_request_timeout_covers_a_chain_of_redirects(
    path: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    through(path, monkeypatch)
    with serving(_SlowRedirects) as url:
        client = calimero.create_client(calimero.create_connection(url, max_retries=0))
        # Each hop alone is within the timeout; the two together are not.
        assert client.with_options(timeout=5).connection.get("/a") == ALIVE
        with pytest.raises(calimero.RequestTimeoutError):
            client.with_options(timeout=0.6).connection.get("/a")


BLOB_ID = "EMtpXdHZQLiqyPVVAzJWbnishYR1gPTvKKtWD3e2V6zo"
CONTENT = bytes(range(256)) * 256  # 64 KiB


class _Blob(http.server.BaseHTTPRequestHandler):
    """Serves CONTENT as a blob, with its hash; counts connections. `stall`:
    sends 1 KiB of it, then nothing for 2 s; `corrupt`: one byte changed;
    `trickle`: chunked, in 8 parts 0.1 s apart."""

    protocol_version = "HTTP/1.1"
    stall = False
    corrupt = False
    trickle = False
    connections: list[int]

    def setup(self) -> None:
        super().setup()
        self.connections.append(1)

    def do_GET(self) -> None:
        self.send_response(200)
        if self.trickle:
            self.send_header("Transfer-Encoding", "chunked")
            self.send_header("X-Blob-Hash", hashlib.sha256(CONTENT).hexdigest())
            self.end_headers()
            part = len(CONTENT) // 8
            for at in range(0, len(CONTENT), part):
                time.sleep(0.1)
                self.wfile.write(b"%x\r\n%s\r\n" % (part, CONTENT[at : at + part]))
                self.wfile.flush()
            self.wfile.write(b"0\r\n\r\n")
            return
        self.send_header("Content-Length", str(len(CONTENT)))
        self.send_header("X-Blob-Id", BLOB_ID)
        self.send_header("X-Blob-Hash", hashlib.sha256(CONTENT).hexdigest())
        self.end_headers()
        if self.stall:
            self.wfile.write(CONTENT[:1024])
            self.wfile.flush()
            time.sleep(2)
            return
        self.wfile.write(b"x" + CONTENT[1:] if self.corrupt else CONTENT)

    def log_message(self, *args: Any) -> None:
        pass


def _stand_in_client(url: str, **options: Any) -> calimero.Client:
    """A client of the stand-in, which plays rc.25 (no release probe)."""
    conn = calimero.create_connection(url, max_retries=0, node_version="0.11.0-rc.25", **options)
    return calimero.create_client(conn)


def _blob_server(**kind: bool) -> tuple[type[_Blob], list[int]]:
    connections: list[int] = []
    return type("Blob", (_Blob,), {"connections": connections, **kind}), connections


@pytest.mark.parametrize("path", PATHS)
def test_a_downloaded_blob_is_whole_and_its_connection_serves_the_next_call(
    path: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    through(path, monkeypatch)
    handler, connections = _blob_server()
    with serving(handler) as url:
        client = _stand_in_client(url)
        assert client.download_blob(BLOB_ID) == CONTENT
        assert client.download_blob(BLOB_ID, verify=False) == CONTENT
        # Read to its end, each download gave its connection back.
        assert len(connections) == 1


@pytest.mark.parametrize("path", PATHS)
def test_a_download_that_differs_from_its_hash_is_refused(
    path: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    through(path, monkeypatch)
    handler, _ = _blob_server(corrupt=True)
    with serving(handler) as url:
        client = _stand_in_client(url)
        with pytest.raises(calimero.MalformedResponseError, match="SHA-256"):
            client.download_blob(BLOB_ID)
        assert client.download_blob(BLOB_ID, verify=False)[1:] == CONTENT[1:]


@pytest.mark.parametrize("path", PATHS)
def test_a_download_that_stops_coming_times_out(path: str, monkeypatch: pytest.MonkeyPatch) -> None:
    through(path, monkeypatch)
    handler, _ = _blob_server(stall=True)
    with serving(handler) as url:
        client = _stand_in_client(url, timeout=0.3)
        start = time.monotonic()
        with pytest.raises(calimero.RequestTimeoutError, match="no data moved for 0.3 s"):
            client.download_blob(BLOB_ID)
        assert time.monotonic() - start < 1.5


class _TooLarge(http.server.BaseHTTPRequestHandler):
    """Answers 413 as soon as the head is in, and closes without reading
    the body (a node's body limit)."""

    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:
        body = b'{"error": "too big"}'
        self.send_response(413)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)
        self.close_connection = True

    def log_message(self, *args: Any) -> None:
        pass


def test_an_answer_the_node_sends_before_reading_the_whole_body_is_the_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # More than the sockets' buffers hold: the write breaks when the node
    # closes. The lane then reads the node's answer (reqwest reports the
    # broken pipe).
    through("direct lane", monkeypatch)
    with serving(_TooLarge) as url:
        client = _stand_in_client(url)
        with pytest.raises(calimero.ClientError, match="HTTP 413 .*too big"):
            client.connection.request("POST", "/admin-api/contexts", {"a": "x" * (16 << 20)})
        # The next call makes a new connection.
        with pytest.raises(calimero.ClientError, match="HTTP 413"):
            client.connection.request("POST", "/admin-api/contexts", {"a": 1})


@pytest.mark.parametrize("path", PATHS)
def test_a_slow_download_that_keeps_moving_is_not_cut_off(
    path: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # 0.8 s in all, at most 0.1 s between parts: the timeout (0.3 s) is
    # for a download without data, not for the whole download.
    through(path, monkeypatch)
    handler, _ = _blob_server(trickle=True)
    with serving(handler) as url:
        assert _stand_in_client(url, timeout=0.3).download_blob(BLOB_ID) == CONTENT
