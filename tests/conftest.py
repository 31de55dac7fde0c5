from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import calimero
from testnode import TestNode


@pytest.fixture(scope="session")
def testnode_session() -> Iterator[TestNode]:
    node = TestNode("--allow-private-urls")
    yield node
    node.stop()


@pytest.fixture
def node(testnode_session: TestNode) -> TestNode:
    """The shared test node, wiped clean for each test."""
    testnode_session.reset()
    return testnode_session


@pytest.fixture
def conn(node: TestNode) -> calimero.ConnectionInfo:
    return calimero.create_connection(node.url)


@pytest.fixture
def client(conn: calimero.ConnectionInfo) -> calimero.Client:
    return calimero.create_client(conn)


def make_wasm(directory: Path, name: str = "app.wasm", abi: bool = True) -> Path:
    """A file the test node accepts as an application (unique content); with
    `abi`, it carries the section name that gives it the kv-store's ABI."""
    path = directory / name
    marker = b"calimero_abi_v1" if abi else b""
    path.write_bytes(b"\0asm\x01\0\0\0" + secrets.token_bytes(64) + marker)
    return path


@pytest.fixture
def app_id(client: calimero.Client, tmp_path: Path) -> str:
    path = make_wasm(tmp_path)
    reply = client.install_dev_application(str(path), package="com.example.kv", version="1.0.0")
    return reply["data"]["applicationId"]


@pytest.fixture
def namespace_id(client: calimero.Client, app_id: str) -> str:
    return client.create_namespace(app_id, name="kv-ns")["data"]["namespaceId"]


@pytest.fixture
def context_id(client: calimero.Client, app_id: str, namespace_id: str) -> str:
    return client.create_context(app_id, namespace_id)["data"]["contextId"]


def pytest_collection_modifyitems(config: Any, items: list[Any]) -> None:
    if os.environ.get("CALIMERO_E2E_NODE_URL"):
        return
    skip = pytest.mark.skip(reason="set CALIMERO_E2E_NODE_URL to run against a real node")
    for item in items:
        if "e2e" in item.keywords:
            item.add_marker(skip)
