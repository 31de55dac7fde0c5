"""Applications and packages against a real merod 0.11.0-rc.25: core's
kv-store and blobs apps installed from their path on the node's disk
(sync and async)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

import calimero
from e2e.conftest import MISSING


def test_install_dev_of_the_kv_store(client: Any, kv_app: str, kv_store_path: str) -> None:
    """Installing the same file again gives the same id."""
    again = client.install_dev_application(
        kv_store_path, package="com.calimero.kv-store", version="0.11.0-rc.25"
    )
    assert again == {"data": {"applicationId": kv_app}}
    apps = {a["id"]: a for a in client.list_applications()["data"]["apps"]}
    app = apps[kv_app]
    assert app["source"] == f"file://{kv_store_path}"
    assert app["size"] == os.path.getsize(kv_store_path)
    assert (app["package"], app["version"], app["metadata"]) == (
        "com.calimero.kv-store",
        "0.11.0-rc.25",
        [],
    )
    assert client.get_application(kv_app) == {"data": {"application": app}}


def test_abi_of_the_kv_store(client: Any, kv_app: str, kv_store_path: str) -> None:
    abi = client.get_application_abi(kv_app)["data"]
    assert abi["schema_version"] == "wasm-abi/1"
    methods = {m["name"] for m in abi["methods"]}
    assert methods == {
        "init",
        "set",
        "get",
        "get_unchecked",
        "get_result",
        "update_if_exists",
        "get_or_insert",
        "entries",
        "len",
        "remove",
        "clear",
    }
    beside = kv_store_path.removesuffix(".wasm") + ".abi.json"
    try:
        with open(beside) as f:
            assert abi == json.load(f)  # as the node built it, byte for byte
    except FileNotFoundError:
        pass


def test_versions_and_packages(client: Any, tmp_path: Path) -> None:
    """rc.25 keeps one version record per application: installing the same
    bytes under another version replaces it, and without package and
    version the record becomes ``unknown`` / ``0.0.0``. The id depends on
    the bytes, the path and the metadata, never on package or version."""
    package = f"com.e2e.{tmp_path.name.replace('_', '-')}"
    path = _wasm(tmp_path)
    app_id = client.install_dev_application(path, package=package, version="1.0.0")["data"][
        "applicationId"
    ]
    assert package in client.list_packages()["packages"]
    assert client.list_package_versions(package) == {"versions": ["1.0.0"]}
    assert client.get_latest_package_version(package) == {
        "applicationId": app_id,
        "version": "1.0.0",
    }
    [record] = client.list_application_versions(app_id)["data"]
    assert (record["package"], record["version"]) == (package, "1.0.0")
    bumped = client.install_dev_application(path, package=package, version="1.0.1")
    assert bumped["data"]["applicationId"] == app_id
    assert client.list_package_versions(package) == {"versions": ["1.0.1"]}
    plain = client.install_dev_application(path)["data"]["applicationId"]
    assert plain == app_id
    app = client.get_application(app_id)["data"]["application"]
    assert (app["package"], app["version"]) == ("unknown", "0.0.0")
    assert client.list_package_versions(package) == {"versions": []}
    assert client.get_latest_package_version(package) == {"applicationId": None, "version": None}
    with_metadata = client.install_dev_application(path, b"{}")["data"]["applicationId"]
    assert with_metadata != app_id
    assert client.get_application(with_metadata)["data"]["application"]["metadata"] == [123, 125]
    copy = tmp_path / "copy.wasm"
    copy.write_bytes(Path(path).read_bytes())
    assert client.install_dev_application(str(copy))["data"]["applicationId"] != app_id


def test_the_blobs_app_installs_with_its_abi(client: Any, blobs_app_path: str) -> None:
    app_id = client.install_dev_application(
        blobs_app_path, package="com.calimero.blobs", version="0.11.0-rc.25"
    )["data"]["applicationId"]
    app = client.get_application(app_id)["data"]["application"]
    assert (app["package"], app["version"]) == ("com.calimero.blobs", "0.11.0-rc.25")
    names = {m["name"] for m in client.get_application_abi(app_id)["data"]["methods"]}
    assert {"upload_file", "list_files", "get_file", "delete_file"} <= names


def test_uninstall(client: Any, tmp_path: Path) -> None:
    """An app no context uses is removed; the node forgets it."""
    app_id = client.install_dev_application(_wasm(tmp_path))["data"]["applicationId"]
    assert client.uninstall_application(app_id) == {"data": {"applicationId": app_id}}
    with pytest.raises(calimero.NotFoundError, match="Application not found"):
        client.get_application(app_id)


def test_install_errors(client: Any, tmp_path: Path) -> None:
    with pytest.raises(calimero.ServerError) as info:
        client.install_dev_application("/nonexistent/app.wasm")
    assert info.value.status == 500
    assert info.value.body == "application file not found at /nonexistent/app.wasm"  # text/plain
    with pytest.raises(calimero.BadRequestError, match="non-public address"):
        client.install_application("http://127.0.0.1:9/app.wasm")  # the node's SSRF guard
    with pytest.raises(ValueError, match="^url: "):
        client.install_application("file:///tmp/app.wasm")  # refused before sending
    with pytest.raises(calimero.NotFoundError, match="Application not found"):
        client.get_application(MISSING)
    with pytest.raises(calimero.BadRequestError, match="no usable embedded ABI"):
        client.get_application_abi(
            client.install_dev_application(_wasm(tmp_path))["data"]["applicationId"]
        )


def _wasm(directory: Path) -> str:
    """A stand-in application, unique to the test: the wasm magic and a few
    random bytes (no ABI; it installs, but would not run)."""
    path = directory / "stand-in.wasm"
    path.write_bytes(b"\0asm\x01\0\0\0" + os.urandom(32))
    return str(path)
