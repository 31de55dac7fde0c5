"""Real merod nodes for tests/e2e, started by the test run (tests/realnode.py).

Four nodes, each started the first time a test needs it and stopped (its
home directory removed) at the end of the run:

- ``open_node``: the default auth mode (``proxy``: the node checks nothing);
- ``auth_node``: embedded auth, admin account ``admin`` /
  ``e2e-admin-password``, access tokens that live ``E2E_ACCESS_TTL`` seconds
  (the node accepts them 60 s longer), so a refresh crosses a real expiry;
- ``peers``: two open nodes, the second bootstrapped to the first.

The binary is ``$CALIMERO_MEROD_BIN`` or ``../shared/node/merod``; without
one, every test here is skipped with that reason. Running nodes can be
named instead (then nothing is started for that fixture):
``CALIMERO_E2E_NODE_URL`` (open), ``CALIMERO_E2E_AUTH_NODE_URL`` with
``CALIMERO_E2E_USERNAME`` / ``CALIMERO_E2E_PASSWORD`` /
``CALIMERO_E2E_ACCESS_TTL``, ``CALIMERO_E2E_PEER_URLS`` (two URLs, comma
separated). Apps are installed from a path on the node's own disk:
``CALIMERO_E2E_APP_PATH`` (the kv-store) and ``CALIMERO_E2E_BLOBS_APP_PATH``,
else the ``.wasm`` files beside the binary.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pytest
from realnode import RealNode, app_path, merod_binary

import calimero
from conftest import AsyncDriven, clear_credential_env

MEROD, NO_MEROD = merod_binary()

#: The auth node's access-token lifetime (seconds) when the run starts it.
E2E_ACCESS_TTL = 5
USERNAME = "admin"
PASSWORD = "e2e-admin-password"

#: The longest a test waits for something another process does (a sync, an
#: event); only a broken feature waits this long.
WAIT = 90.0

#: A well-formed id that no node has (32 zero bytes in base58).
MISSING = "11111111111111111111111111111111"

T = TypeVar("T")


def pytest_collection_modifyitems(config: Any, items: list[Any]) -> None:
    """Marks every test here ``e2e``; the refresh across a real expiry runs
    last, so the rest of the run counts towards its wait."""
    here = Path(__file__).parent
    last = []
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.e2e)
            if "refresh_across_a_real_expiry" in item.nodeid:
                last.append(item)
    for item in last:
        items.remove(item)
        items.append(item)


@dataclass
class ExternalNode:
    """A node named by URL: started and stopped by someone else."""

    url: str
    username: str | None = None
    password: str | None = None
    access_ttl: int | None = None

    def stop(self) -> None:
        pass


Node = Any  # RealNode | ExternalNode


@pytest.fixture(autouse=True)
def _a_node_to_run_against() -> None:
    """Without a binary and without a node named by URL, every test here
    is skipped with the reason (also the few that need no node)."""
    urls = ("CALIMERO_E2E_NODE_URL", "CALIMERO_E2E_AUTH_NODE_URL", "CALIMERO_E2E_PEER_URLS")
    if MEROD is None and not any(os.environ.get(name) for name in urls):
        pytest.skip(NO_MEROD)


def _merod() -> Path:
    if MEROD is None:
        pytest.skip(NO_MEROD)
    return MEROD


@pytest.fixture(scope="session")
def open_node() -> Iterator[Node]:
    url = os.environ.get("CALIMERO_E2E_NODE_URL")
    node = ExternalNode(url) if url else RealNode(_merod(), "e2e-open")
    yield node
    node.stop()


@pytest.fixture(scope="session")
def auth_node() -> Iterator[Node]:
    url = os.environ.get("CALIMERO_E2E_AUTH_NODE_URL")
    if url:
        node: Node = ExternalNode(
            url,
            os.environ.get("CALIMERO_E2E_USERNAME"),
            os.environ.get("CALIMERO_E2E_PASSWORD"),
            int(os.environ.get("CALIMERO_E2E_ACCESS_TTL") or 0) or None,
        )
    else:
        node = RealNode(
            _merod(),
            "e2e-auth",
            auth=True,
            username=USERNAME,
            password=PASSWORD,
            access_ttl=E2E_ACCESS_TTL,
        )
    yield node
    node.stop()


@pytest.fixture(scope="session")
def peers() -> Iterator[tuple[Node, Node]]:
    """Two peered open nodes (the second bootstraps to the first), peered
    when given: ``/admin-api/peers`` counts one on each."""
    urls = [u.strip() for u in os.environ.get("CALIMERO_E2E_PEER_URLS", "").split(",") if u]
    if urls:
        if len(urls) != 2:
            pytest.fail("CALIMERO_E2E_PEER_URLS names two nodes, comma separated")
        yield ExternalNode(urls[0]), ExternalNode(urls[1])
        return
    first = RealNode(_merod(), "e2e-peer1", sync_interval_ms=1000)
    try:
        second = RealNode(_merod(), "e2e-peer2", bootstrap=[first.multiaddr], sync_interval_ms=1000)
    except BaseException:
        first.stop()
        raise
    try:
        for node in (first, second):
            client = calimero.create_client(calimero.create_connection(node.url))
            wait_for(lambda c=client: c.get_peers_count()["count"] >= 1, "the nodes to peer")
        yield first, second
    finally:
        second.stop()
        first.stop()


@pytest.fixture
def merod_node_factory() -> Iterator[Callable[..., RealNode]]:
    """Starts extra nodes for one test (``RealNode`` arguments); stops them after."""
    started: list[RealNode] = []

    def start(name: str, **options: Any) -> RealNode:
        node = RealNode(_merod(), name, **options)
        started.append(node)
        return node

    yield start
    for node in started:
        node.stop()


def _app(env: str, name: str) -> str:
    given = os.environ.get(env)
    if given:
        return given
    found = app_path(MEROD, name) if MEROD else None
    if found is None:
        pytest.skip(f"set {env} (the path of {name} on the node's disk)")
    return str(found)


@pytest.fixture(scope="session")
def kv_store_path() -> str:
    """core's apps/kv-store at the node's tag, on the node's disk."""
    return _app("CALIMERO_E2E_APP_PATH", "kv_store.wasm")


@pytest.fixture(scope="session")
def blobs_app_path() -> str:
    """core's apps/blobs at the node's tag, on the node's disk."""
    return _app("CALIMERO_E2E_BLOBS_APP_PATH", "blobs.wasm")


# ------------------------------------------------------------------ clients


@pytest.fixture(scope="session")
def admin(open_node: Node) -> calimero.Client:
    """A plain ``Client`` of the open node, for setting things up."""
    return calimero.create_client(calimero.create_connection(open_node.url))


@pytest.fixture(params=["sync", "async"])
def client(
    open_node: Node, request: pytest.FixtureRequest, event_loop_thread: asyncio.AbstractEventLoop
) -> Any:
    """A ``Client`` of the open node on a fresh connection, and the same
    through an ``AsyncClient`` (driven by conftest.AsyncDriven)."""
    conn = calimero.create_connection(open_node.url)
    if request.param == "async":
        return AsyncDriven(calimero.create_async_client(conn), event_loop_thread)
    return calimero.create_client(conn)


@pytest.fixture(scope="session")
def kv_app(admin: calimero.Client, kv_store_path: str) -> str:
    """The kv-store installed on the open node (its application id)."""
    reply = admin.install_dev_application(
        kv_store_path, package="com.calimero.kv-store", version="0.11.0-rc.25"
    )
    return reply["data"]["applicationId"]


@pytest.fixture(scope="session")
def kv_namespace(admin: calimero.Client, kv_app: str) -> str:
    return admin.create_namespace(kv_app, name="e2e-kv")["data"]["namespaceId"]


@pytest.fixture
def kv_context(admin: calimero.Client, kv_app: str, kv_namespace: str) -> Iterator[str]:
    """A fresh kv-store context in the namespace, deleted after the test."""
    ctx = admin.create_context(kv_app, kv_namespace)["data"]["contextId"]
    yield ctx
    admin.delete_context(ctx)


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh home directory, so token caches land in the test's tmp_path."""
    monkeypatch.setenv("HOME", str(tmp_path))
    clear_credential_env(monkeypatch)
    return tmp_path


def wait_for(check: Callable[[], T], what: str, timeout: float = WAIT) -> T:
    """Calls ``check`` until it returns something true (a ClientError counts
    as not yet), and returns that; fails after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    last: object = None
    while True:
        try:
            result = check()
            if result:
                return result
            last = result
        except calimero.ClientError as e:
            last = e
        if time.monotonic() > deadline:
            pytest.fail(f"waited {timeout:.0f} s for {what}; last: {last!r}")
        time.sleep(0.25)


# --------------------------------------------------------- the refresh clock


@pytest.fixture(scope="session", autouse=True)
def first_login(request: pytest.FixtureRequest) -> dict[str, calimero.JwtToken] | None:
    """When the run holds the refresh test: logs in to the auth node as the
    run starts (a token pair for the sync and one for the async variant),
    so the wait for their expiry (exp + the node's 60 s leeway) overlaps
    the other tests instead of adding to them."""
    if not any("refresh_across_a_real_expiry" in i.nodeid for i in request.session.items):
        return None
    try:
        node = request.getfixturevalue("auth_node")
        if not (node.username and node.password and node.access_ttl):
            return None
        conn = calimero.create_connection(node.url, interactive=False)
        return {kind: conn.login(node.username, node.password) for kind in ("sync", "async")}
    except (pytest.skip.Exception, Exception):
        return None  # the auth tests say why
