"""Timeouts, retries, response limits, broken answers, TLS roots and the
plain-HTTP warning: what a user gets when the node or the network
misbehaves (docs/faults.md lists every row and its test)."""

from __future__ import annotations

import http.server
import logging
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import calimero
from conftest import answer_json
from testnode import TestNode

HEALTH = "/admin-api/health"


def hits(node: TestNode, path: str) -> int:
    return sum(1 for r in node.requests() if r["path"] == path)


# ---- timeouts ----


def test_a_per_call_timeout(node: TestNode, client: calimero.Client) -> None:
    node.fault(HEALTH, "hold", times=1)  # never answered
    fast = client.with_options(timeout=0.3)
    start = time.monotonic()
    with pytest.raises(calimero.RequestTimeoutError) as info:
        fast.health()
    # The call's own 0.3 s, not the connection's 60 s.
    assert time.monotonic() - start < 30
    assert isinstance(info.value, TimeoutError)
    # The original keeps its own timeout, and shares the pool.
    assert client.connection.timeout == 60.0
    assert fast.connection.timeout == 0.3
    assert client.health()["data"]["status"] == "alive"


def test_with_options_validates(client: calimero.Client) -> None:
    with pytest.raises(ValueError, match="^timeout: "):
        client.with_options(timeout=0)
    with pytest.raises(ValueError, match="^max_retries: "):
        client.with_options(max_retries=-1)
    with pytest.raises(TypeError, match="^max_retries: "):
        client.with_options(max_retries="3")  # type: ignore[arg-type]


# ---- retries ----


@pytest.mark.parametrize("status", [429, 502, 503, 504])
def test_safe_requests_are_retried_on_busy_answers(
    node: TestNode, client: calimero.Client, status: int
) -> None:
    node.fault(HEALTH, "status", status=status, body={"error": "busy"},
               headers={"retry-after": "0"}, times=2)  # fmt: skip
    assert client.health()["data"]["status"] == "alive"
    assert hits(node, HEALTH) == 3


def test_retries_stop_at_max_retries(node: TestNode, client: calimero.Client) -> None:
    node.fault(HEALTH, "status", status=503, body={"error": "busy"},
               headers={"retry-after": "0"}, times=5)  # fmt: skip
    with pytest.raises(calimero.ServerError):
        client.with_options(max_retries=1).health()
    assert hits(node, HEALTH) == 2
    node.clear_requests()
    with pytest.raises(calimero.ServerError):
        client.with_options(max_retries=0).health()
    assert hits(node, HEALTH) == 1


def test_retry_after_is_honoured(node: TestNode, client: calimero.Client) -> None:
    node.fault(HEALTH, "status", status=429, body={"error": "slow down"},
               headers={"retry-after": "0.4"}, times=1)  # fmt: skip
    start = time.monotonic()
    client.health()
    assert time.monotonic() - start >= 0.4


def test_a_post_that_reached_the_node_is_never_replayed(
    node: TestNode, client: calimero.Client
) -> None:
    path = "/admin-api/identity/context"
    node.fault(path, "status", status=503, body={"error": "busy"},
               headers={"retry-after": "0"}, times=1)  # fmt: skip
    with pytest.raises(calimero.ServerError):
        client.generate_context_identity()
    assert hits(node, path) == 1


def test_a_server_error_is_not_retried(node: TestNode, client: calimero.Client) -> None:
    node.fault(HEALTH, "status", status=500, body={"error": "boom"}, times=1)
    with pytest.raises(calimero.ServerError):
        client.health()
    assert hits(node, HEALTH) == 1


def test_put_and_delete_are_retried(
    node: TestNode, client: calimero.Client, namespace_id: str
) -> None:
    account = client.get_node_identity()["data"]["accountId"]
    path = f"/admin-api/groups/{namespace_id}/members/{account}/capabilities"
    node.fault(path, "status", method="PUT", status=503, body={"error": "busy"},
               headers={"retry-after": "0"}, times=1)  # fmt: skip
    assert client.set_member_capabilities(namespace_id, account, 1) == {}
    blob = client.upload_blob(b"retried")["data"]["blob_id"]
    path = f"/admin-api/blobs/{blob}"
    node.fault(path, "status", method="DELETE", status=502, body={"error": "gateway"},
               headers={"retry-after": "0"}, times=1)  # fmt: skip
    assert client.delete_blob(blob)["deleted"] is True


class _FirstRetry(logging.Handler):
    """Sets `seen` at the first ``calimero.retry`` record."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.seen = threading.Event()

    def emit(self, record: logging.LogRecord) -> None:
        self.seen.set()


@pytest.fixture
def retries() -> Iterator[_FirstRetry]:
    """The retries the client logs (``calimero.retry``, at DEBUG)."""
    logger = logging.getLogger("calimero.retry")
    handler = _FirstRetry()
    level = logger.level
    logger.setLevel(logging.DEBUG)
    logger.addHandler(handler)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


def test_a_refused_connection_is_retried_even_for_a_post(retries: _FirstRetry) -> None:
    # The port is held bound but not listening: the first attempt is refused
    # (nothing was sent). Once the client says it will retry, the node comes
    # up on that port and the retry gets through.
    held = socket.socket()
    held.bind(("127.0.0.1", 0))
    port = held.getsockname()[1]
    started: list[TestNode] = []

    def start_at_first_retry() -> None:
        assert retries.seen.wait(60)
        held.close()
        started.append(TestNode("--port", str(port)))

    starter = threading.Thread(target=start_at_first_retry)
    starter.start()
    client = calimero.create_client(
        calimero.create_connection(f"http://127.0.0.1:{port}", max_retries=6)
    )
    try:
        reply = client.generate_context_identity()
        assert "publicKey" in reply["data"]
    finally:
        retries.seen.set()
        starter.join()
        held.close()
        for node in started:
            node.stop()


def test_a_refused_connection_without_retries_fails_at_once(
    refused_url: str, retries: _FirstRetry
) -> None:
    client = calimero.create_client(calimero.create_connection(refused_url, max_retries=0))
    with pytest.raises(calimero.NetworkError) as info:
        client.health()
    assert isinstance(info.value, ConnectionError)
    assert not retries.seen.is_set()  # no retry, so no wait for one
    # Allowed one, it takes it.
    with pytest.raises(calimero.NetworkError):
        client.with_options(max_retries=1).health()
    assert retries.seen.is_set()


# ---- broken answers ----


def test_a_connection_reset_mid_body(node: TestNode, client: calimero.Client) -> None:
    node.fault(HEALTH, "reset", afterBytes=5, times=1)
    with pytest.raises(calimero.NetworkError):
        client.health()
    assert client.health()["data"]["status"] == "alive"  # the pool recovers


def test_a_truncated_body(node: TestNode, client: calimero.Client) -> None:
    node.fault(HEALTH, "truncate", afterBytes=20, times=1)
    with pytest.raises(calimero.NetworkError):
        client.health()


def test_malformed_json(node: TestNode, client: calimero.Client) -> None:
    node.fault(HEALTH, "status", status=200, body="{not json", times=1)
    with pytest.raises(calimero.MalformedResponseError, match="not JSON"):
        client.health()


def test_json_nested_too_deep(node: TestNode, client: calimero.Client) -> None:
    """100 000 levels of nesting: refused at 128 levels by the decoder
    (fuzzed as json_decode), not a stack overflow."""
    deep = "[" * 100_000 + "]" * 100_000
    node.fault(HEALTH, "status", status=200, body=deep, times=1)
    with pytest.raises(calimero.MalformedResponseError, match="recursion limit"):
        client.health()
    assert client.health()["data"]["status"] == "alive"


def test_a_wrong_content_type(node: TestNode, client: calimero.Client) -> None:
    node.fault(HEALTH, "status", status=200, body="<html>hi</html>",
               contentType="text/html", times=1)  # fmt: skip
    with pytest.raises(calimero.MalformedResponseError):
        client.health()


def test_an_oversize_answer_is_refused(node: TestNode) -> None:
    conn = calimero.create_connection(node.url, max_response_bytes=1 << 20)
    client = calimero.create_client(conn)
    assert conn.max_response_bytes == 1 << 20
    node.fault(HEALTH, "oversize", size=3 << 20, times=1)
    with pytest.raises(calimero.MalformedResponseError, match="max_response_bytes"):
        client.health()
    node.fault(HEALTH, "oversize", size=512 << 10, times=1)
    assert len(client.health()["data"]) > 500_000


def test_a_huge_error_body_is_cut(node: TestNode, client: calimero.Client) -> None:
    node.fault(HEALTH, "status", status=500, body="e" * 2_000_000, times=1)
    with pytest.raises(calimero.ServerError) as info:
        client.health()
    assert len(info.value.body) <= 4096


def test_a_5xx_and_a_dropped_connection(node: TestNode, client: calimero.Client) -> None:
    node.fault(HEALTH, "status", status=500, body={"error": "boom"}, times=1)
    with pytest.raises(calimero.ServerError, match="boom"):
        client.health()
    node.fault(HEALTH, "drop", times=1)
    with pytest.raises(calimero.NetworkError):
        client.health()


# ---- security ----


def test_a_token_over_plain_http_to_another_host_warns_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # 192.0.2.1 (TEST-NET-1) is never this machine; nothing answers there.
    conn = calimero.create_connection(
        "http://192.0.2.1:9", access_token="not-a-real-token", connect_timeout=0.2, max_retries=0
    )
    client = calimero.create_client(conn)
    with caplog.at_level(logging.WARNING, logger="calimero"):
        for _ in range(2):
            with pytest.raises((calimero.NetworkError, calimero.RequestTimeoutError)):
                client.health()
    warnings = [r for r in caplog.records if r.name == "calimero.security"]
    assert len(warnings) == 1
    assert "plain HTTP" in warnings[0].getMessage()
    assert "not-a-real-token" not in warnings[0].getMessage()


def test_no_warning_for_loopback_or_without_a_token(
    node: TestNode, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="calimero"):
        calimero.create_client(calimero.create_connection(node.url, access_token="t")).health()
        calimero.create_client(calimero.create_connection(node.url)).health()
    assert [r for r in caplog.records if r.name == "calimero.security"] == []


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """An https server on loopback whose certificate a private CA signed."""
    d = tmp_path_factory.mktemp("tls")

    def openssl(*args: str) -> None:
        subprocess.run(["openssl", *args], cwd=d, check=True, capture_output=True)

    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key",
            "-out", "ca.pem", "-days", "2", "-subj", "/CN=calimero test CA")  # fmt: skip
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "srv.key", "-out", "srv.csr",
            "-subj", "/CN=localhost")  # fmt: skip
    (d / "ext.cnf").write_text("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
    openssl("x509", "-req", "-in", "srv.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
            "-CAcreateserial", "-out", "srv.pem", "-days", "2", "-extfile", "ext.cnf")  # fmt: skip

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            answer_json(self)

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(d / "srv.pem", d / "srv.key")
    server.socket = ctx.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"https://localhost:{server.server_address[1]}", d / "ca.pem"
    server.shutdown()


@pytest.mark.skipif(not __import__("shutil").which("openssl"), reason="needs openssl")
def test_tls_with_a_custom_ca(tls_server: tuple[str, Path]) -> None:
    url, ca = tls_server
    untrusted = calimero.create_client(calimero.create_connection(url, max_retries=0))
    with pytest.raises(calimero.NetworkError, match="(?i)certificate|issuer"):
        untrusted.health()
    for given in (ca, str(ca), ca.read_bytes()):
        trusted = calimero.create_client(calimero.create_connection(url, ca_cert=given))
        assert trusted.health() == {"data": {"status": "alive"}}
    with pytest.raises(ValueError, match="^ca_cert: "):
        calimero.create_connection(url, ca_cert=b"not a certificate")
    with pytest.raises(FileNotFoundError):
        calimero.create_connection(url, ca_cert="/no/such/ca.pem")
