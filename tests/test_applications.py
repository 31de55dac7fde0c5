"""Applications and packages against the test node."""

from __future__ import annotations

import hashlib
import http.server
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

import calimero
from conftest import make_wasm
from testnode import TestNode

#: rc.25's dev install (a .wasm with metadata) and install from a URL; the
#: rc.31+ forms are in test_node_releases.py.
RC25_ONLY = pytest.mark.releases("0.11.0-rc.25")

MISSING_APP = "11111111111111111111111111111111"


@RC25_ONLY
def test_install_dev_list_get(client: calimero.Client, tmp_path: Path, node: TestNode) -> None:
    path = make_wasm(tmp_path)
    reply = client.install_dev_application(str(path), b"meta", package="com.x.kv", version="1.2.0")
    app_id = reply["data"]["applicationId"]
    body = node.requests()[-1]
    assert body["method"] == "POST" and body["path"] == "/admin-api/install-dev-application"
    apps = client.list_applications()["data"]["apps"]
    assert [a["id"] for a in apps] == [app_id]
    app = client.get_application(app_id)["data"]["application"]
    assert app["metadata"] == list(b"meta")
    assert app["size"] == path.stat().st_size
    assert app["source"] == f"file://{path}"
    assert (app["package"], app["version"]) == ("com.x.kv", "1.2.0")
    # the same content installs as the same application
    again = client.install_dev_application(str(path))["data"]["applicationId"]
    assert again == app_id


@RC25_ONLY
def test_install_dev_missing_file_is_a_server_error(client: calimero.Client) -> None:
    with pytest.raises(calimero.ServerError) as info:
        client.install_dev_application("/nonexistent/app.wasm")
    assert info.value.status == 500
    assert info.value.message == "application file not found at /nonexistent/app.wasm"


def test_get_unknown_application(client: calimero.Client) -> None:
    with pytest.raises(calimero.NotFoundError, match="Application not found"):
        client.get_application(MISSING_APP)


def test_uninstall(client: calimero.Client, app_id: str) -> None:
    assert client.uninstall_application(app_id) == {"data": {"applicationId": app_id}}
    assert client.list_applications()["data"]["apps"] == []


def test_versions_and_abi(client: calimero.Client, app_id: str) -> None:
    versions = client.list_application_versions(app_id)["data"]
    assert isinstance(versions, list)
    assert any(v["version"] == "1.0.0" for v in versions)
    abi = client.get_application_abi(app_id)["data"]
    assert abi["schema_version"] == "wasm-abi/1"
    assert {m["name"] for m in abi["methods"]} >= {"set", "get", "remove", "entries", "len"}
    with pytest.raises(calimero.NotFoundError):
        client.get_application_abi(MISSING_APP)


@RC25_ONLY
def test_application_without_an_abi(client: calimero.Client, tmp_path: Path) -> None:
    path = make_wasm(tmp_path, "plain.wasm", abi=False)
    app_id = client.install_dev_application(str(path))["data"]["applicationId"]
    with pytest.raises(calimero.BadRequestError, match="no usable embedded ABI"):
        client.get_application_abi(app_id)


def test_packages(client: calimero.Client, app_id: str) -> None:
    assert client.list_packages() == {"packages": ["com.example.kv"]}
    assert client.list_package_versions("com.example.kv") == {"versions": ["1.0.0"]}
    latest = client.get_latest_package_version("com.example.kv")
    assert latest == {"applicationId": app_id, "version": "1.0.0"}
    assert client.list_package_versions("com.none") == {"versions": []}


@pytest.fixture
def file_server(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A local HTTP server serving tmp_path (the test node is started with
    --allow-private-urls so it may fetch from loopback)."""

    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *a, **kw):
            super().__init__(*a, directory=str(tmp_path), **kw)

        def log_message(self, *a):  # quiet
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", tmp_path
    server.shutdown()


@RC25_ONLY
def test_install_from_url_with_hash(client: calimero.Client, file_server) -> None:
    base, directory = file_server
    path = make_wasm(directory, "remote.wasm")
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    reply = client.install_application(f"{base}/remote.wasm", digest, package="p", version="2.0.0")
    app_id = reply["data"]["applicationId"]
    app = client.get_application(app_id)["data"]["application"]
    assert app["source"] == f"{base}/remote.wasm"
    with pytest.raises(calimero.ServerError):
        client.install_application(f"{base}/remote.wasm", "ab" * 32)  # wrong hash
    with pytest.raises(calimero.ServerError):
        client.install_application(f"{base}/missing.wasm")


def test_install_from_loopback_url_is_refused_by_a_real_node_config(tmp_path: Path) -> None:
    strict = TestNode()  # without --allow-private-urls, like merod
    try:
        client = calimero.create_client(calimero.create_connection(strict.url))
        with pytest.raises(calimero.BadRequestError, match="non-public address"):
            client.install_application("http://127.0.0.1:9/app.wasm")
    finally:
        strict.stop()


def test_bad_install_arguments_send_nothing(client: calimero.Client, node: TestNode) -> None:
    with pytest.raises(ValueError, match="^url: "):
        client.install_application("file:///srv/app.wasm")
    with pytest.raises(ValueError, match="^hash: "):
        client.install_application("https://example.com/a.wasm", "zz")
    with pytest.raises(ValueError, match="^path: "):
        client.install_dev_application("/srv/../etc/passwd")
    with pytest.raises(TypeError, match="^metadata: "):
        client.install_dev_application("/srv/a.wasm", object())
    assert node.requests() == []
