from __future__ import annotations

import asyncio
import http.server
import inspect
import json
import logging
import pickle
import secrets
import signal
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import calimero
from testnode import TestNode

# merobox's own tests, vendored, run in merobox's virtualenv by test_merobox.py
collect_ignore_glob = ["merobox_compat/*"]

#: The node releases the scenario suites run against: the oldest and the
#: newest the SDK speaks (the test node plays either, --node-version).
RELEASES = ("0.11.0-rc.25", "0.11.0-rc.83")


@pytest.fixture(scope="session")
def testnodes() -> Iterator[dict[str, TestNode]]:
    """The shared test nodes, one per release, started when first needed."""
    nodes: dict[str, TestNode] = {}
    yield nodes
    for node in nodes.values():
        node.stop()


@pytest.fixture(scope="session")
def testnode_session(testnodes: dict[str, TestNode]) -> TestNode:
    """The shared rc.25 test node."""
    return shared_node(testnodes, RELEASES[0])


def shared_node(testnodes: dict[str, TestNode], release: str) -> TestNode:
    node = testnodes.get(release)
    if node is None:
        node = testnodes[release] = TestNode("--allow-private-urls", node_version=release)
    return node


@pytest.fixture
def node_release(request: pytest.FixtureRequest) -> str:
    """The release the test's node plays: rc.25, or each of RELEASES in the
    modules that run against both (RELEASE_MODULES)."""
    return getattr(request, "param", RELEASES[0])


#: The admin account of the auth-mode test node.
AUTH_USER = "admin"
AUTH_PASSWORD = "test-node-password"


def _auth_testnode(release: str) -> TestNode:
    return TestNode(
        "--auth",
        "--auth-user",
        AUTH_USER,
        "--auth-password",
        AUTH_PASSWORD,
        "--access-ttl",
        "60",
        "--leeway",
        "5",
        node_version=release,
    )


@pytest.fixture(scope="session")
def auth_testnodes() -> Iterator[dict[str, TestNode]]:
    """The shared embedded-auth test nodes, one per release, started when
    first needed."""
    nodes: dict[str, TestNode] = {}
    yield nodes
    for node in nodes.values():
        node.stop()


def shared_auth_node(auth_testnodes: dict[str, TestNode], release: str) -> TestNode:
    node = auth_testnodes.get(release)
    if node is None:
        node = auth_testnodes[release] = _auth_testnode(release)
    return node


@pytest.fixture(scope="session")
def auth_node_session(auth_testnodes: dict[str, TestNode]) -> TestNode:
    """A second test node, in embedded auth mode (``--auth``), rc.25."""
    return shared_auth_node(auth_testnodes, RELEASES[0])


ALIVE_BODY = b'{"data":{"status":"alive"}}'


def answer_json(handler: http.server.BaseHTTPRequestHandler, body: bytes = ALIVE_BODY) -> None:
    """Answers 200 with a JSON body: for the small stand-in servers some
    tests put in front of the client (by default, what `health` answers)."""
    handler.send_response(200)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    handler.wfile.write(body)


def clear_credential_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No ``CALIMERO_*`` credentials in the environment (the connection
    would read them)."""
    for name in (
        "CALIMERO_USERNAME",
        "CALIMERO_PASSWORD",
        "CALIMERO_ACCESS_TOKEN",
        "CALIMERO_REFRESH_TOKEN",
    ):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def auth_node(auth_node_session: TestNode, monkeypatch: pytest.MonkeyPatch) -> TestNode:
    """The auth-mode test node, wiped clean (tokens, failures, clock); no
    ``CALIMERO_*`` credentials in the environment."""
    clear_credential_env(monkeypatch)
    auth_node_session.reset()
    return auth_node_session


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh home directory, so token caches land in the test's tmp_path."""
    monkeypatch.setenv("HOME", str(tmp_path))
    return tmp_path


class SecretWatch:
    """Everything a test's client code said: each ClientError made (its
    str, repr, attributes and pickle) and each ``calimero`` log line, plus
    any object handed to :meth:`see` (its repr and str)."""

    def __init__(self) -> None:
        self.errors: list[BaseException] = []
        self.lines: list[str] = []
        self.objects: list[str] = []
        self.secrets: list[str] = []

    def see(self, *objects: object) -> None:
        for obj in objects:
            self.objects += [repr(obj), str(obj)]

    def texts(self) -> list[str]:
        out = list(self.lines) + list(self.objects)
        for e in self.errors:
            out += [str(e), repr(e), pickle.dumps(e).decode("latin-1")]
            for name in ("message", "body", "url", "headers", "auth_error", "data"):
                out.append(json.dumps(getattr(e, name, None), default=str))
        return out

    def leaks(self, tokens: list[str]) -> list[tuple[str, str]]:
        """(secret, text) for every secret found in a text. A JWT is looked
        for whole and by its claims and signature parts (its header part is
        the same in every token)."""
        needles: set[str] = set(self.secrets)
        for token in tokens:
            needles.add(token)
            needles.update(part for part in token.split(".")[1:] if len(part) >= 16)
        return [(n, t) for t in self.texts() for n in needles if n and n in t]


class _Lines(logging.Handler):
    def __init__(self, lines: list[str]) -> None:
        super().__init__(logging.DEBUG)
        self.lines = lines

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


@pytest.fixture
def secret_watch(
    auth_node: TestNode, home: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[SecretWatch]:
    """Records every exception and log line of the test, then fails it if
    any holds a token the auth node minted, a token in a cache file, or the
    password."""
    watch = SecretWatch()
    watch.secrets.append(AUTH_PASSWORD)
    original = calimero.errors.ClientError.__init__

    def recording_init(self: calimero.ClientError, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        watch.errors.append(self)

    monkeypatch.setattr(calimero.errors.ClientError, "__init__", recording_init)
    logger = logging.getLogger("calimero")
    handler = _Lines(watch.lines)
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        yield watch
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
    tokens = auth_node.issued_tokens()
    for cache in home.glob(".merobox/auth_cache/*.json"):
        try:
            record = json.loads(cache.read_text())
        except ValueError:
            continue
        if isinstance(record, dict):
            tokens += [v for k, v in record.items() if k.endswith("token") and isinstance(v, str)]
    leaks = watch.leaks(tokens)
    assert not leaks, f"secrets leaked into messages: {leaks[:3]}"


@pytest.fixture
def node(testnodes: dict[str, TestNode], node_release: str) -> TestNode:
    """The shared test node of the test's release, wiped clean for each
    test."""
    node = shared_node(testnodes, node_release)
    node.reset()
    return node


@pytest.fixture
def refused_url() -> Iterator[str]:
    """A local URL whose connections are refused: a port this test holds
    bound but not listening, so nothing can listen there meanwhile (as
    something may on a fixed port such as 1 or 9)."""
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        yield f"http://127.0.0.1:{held.getsockname()[1]}"


@pytest.fixture
def conn(node: TestNode) -> calimero.ConnectionInfo:
    return calimero.create_connection(node.url)


#: Test modules whose scenarios run twice: through ``Client`` and through
#: ``AsyncClient`` (driven by :class:`AsyncDriven`).
BOTH_CLIENTS = {
    "test_aliases",
    "test_applications",
    "test_blobs",
    "test_contexts",
    "test_error_paths",
    "test_groups",
    "test_jsonrpc",
    "test_namespace_membership",
    "test_system",
}


#: Test modules whose tests run against each release of RELEASES (the
#: scenario suites and the bad-input sweep). A test limited to some
#: releases says so with ``@pytest.mark.releases("0.11.0-rc.25", ...)``.
RELEASE_MODULES = BOTH_CLIENTS | {
    "test_bad_input",
    "test_validation",
    "test_node_releases",
    "test_transport",
}


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    module = metafunc.module.__name__.rsplit(".", 1)[-1]
    if "client" in metafunc.fixturenames and module in BOTH_CLIENTS:
        metafunc.parametrize("client", ["sync", "async"], indirect=True)
    if "node" in metafunc.fixturenames and module in RELEASE_MODULES:
        marker = metafunc.definition.get_closest_marker("releases")
        releases = [r for r in RELEASES if marker is None or r in marker.args]
        metafunc.parametrize(
            "node_release", releases, indirect=True, ids=[r.split("-")[-1] for r in releases]
        )


class AsyncDriven:
    """An ``AsyncClient`` with blocking methods, so the sync scenarios run
    through it unchanged: each coroutine method is awaited on an event loop
    in a background thread; ``iter_blob``'s async iterator is driven the
    same way. Anything else is the ``AsyncClient``'s own attribute."""

    def __init__(self, inner: calimero.AsyncClient, loop: asyncio.AbstractEventLoop) -> None:
        self.inner = inner
        self.loop = loop

    def run(self, awaitable: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(awaitable, self.loop).result(timeout=120)

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self.inner, name)
        if name == "with_options":
            return lambda **options: AsyncDriven(attr(**options), self.loop)
        if not inspect.iscoroutinefunction(attr):
            return attr

        def call(*args: Any, **kwargs: Any) -> Any:
            result = self.run(attr(*args, **kwargs))
            if isinstance(result, calimero.AsyncBlobChunks):
                return _DrivenChunks(result, self)
            return result

        return call


class _DrivenChunks:
    def __init__(self, chunks: calimero.AsyncBlobChunks, driver: AsyncDriven) -> None:
        self.chunks = chunks
        self.driver = driver

    def __iter__(self) -> _DrivenChunks:
        return self

    def __next__(self) -> bytes:
        async def step() -> bytes | None:
            try:
                return await self.chunks.__anext__()
            except StopAsyncIteration:
                return None

        chunk = self.driver.run(step())
        if chunk is None:
            raise StopIteration
        return chunk

    def close(self) -> None:
        self.driver.run(self.chunks.aclose())

    def __enter__(self) -> _DrivenChunks:
        self.driver.run(self.chunks.__aenter__())
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.driver.run(self.chunks.__aexit__(*exc_info))

    def __getattr__(self, name: str) -> Any:
        return getattr(self.chunks, name)


@pytest.fixture(scope="session")
def event_loop_thread() -> Iterator[asyncio.AbstractEventLoop]:
    """An event loop running in a background thread, for AsyncDriven."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    yield loop
    loop.call_soon_threadsafe(loop.stop)
    thread.join(timeout=10)


@pytest.fixture
def client(
    conn: calimero.ConnectionInfo, request: pytest.FixtureRequest, event_loop_thread: Any
) -> Any:
    """A ``Client``; in the BOTH_CLIENTS modules also an ``AsyncClient``
    driven through :class:`AsyncDriven`."""
    if getattr(request, "param", "sync") == "async":
        return AsyncDriven(calimero.create_async_client(conn), event_loop_thread)
    return calimero.create_client(conn)


B58_ALPHABET = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"


def rc(node: TestNode) -> int:
    """The release number the node plays (25 for 0.11.0-rc.25)."""
    return int(node.release_info()["rc"])


def is_wire_id(value: str, node: TestNode) -> bool:
    """Whether `value` is a 32-byte id as the node's release writes it:
    base58 up to rc.26, 64 lowercase hex from rc.27."""
    if rc(node) >= 27:
        return len(value) == 64 and all(c in "0123456789abcdef" for c in value)
    return 32 <= len(value) <= 44 and all(c in B58_ALPHABET for c in value)


def make_wasm(directory: Path, name: str = "app.wasm", abi: bool = True) -> Path:
    """A file the test node accepts as an application (unique content); with
    `abi`, it carries the section name that gives it the kv-store's ABI."""
    path = directory / name
    marker = b"calimero_abi_v1" if abi else b""
    path.write_bytes(b"\0asm\x01\0\0\0" + secrets.token_bytes(64) + marker)
    return path


def install_app(
    client: Any, node: TestNode, tmp_path: Path, package: str = "com.example.kv"
) -> str:
    """Installs an application the node's release takes from a dev install:
    a `.wasm` (unique content) up to rc.31, a signed `.mpk` bundle from
    rc.32 (the test node writes it). Returns its id."""
    if node.release_info()["rc"] >= 32:
        path = node.bundle(package, "1.0.0")["path"]
        return client.install_dev_application(path)["data"]["applicationId"]
    path = make_wasm(tmp_path, f"{package}.wasm")
    reply = client.install_dev_application(str(path), package=package, version="1.0.0")
    return reply["data"]["applicationId"]


@pytest.fixture
def app_id(client: calimero.Client, node: TestNode, tmp_path: Path) -> str:
    return install_app(client, node, tmp_path)


@pytest.fixture
def namespace_id(client: calimero.Client, app_id: str) -> str:
    return client.create_namespace(app_id, name="kv-ns")["data"]["namespaceId"]


@pytest.fixture
def context_id(client: calimero.Client, app_id: str, namespace_id: str) -> str:
    return client.create_context(app_id, namespace_id)["data"]["contextId"]


@pytest.fixture
def sigint_handler() -> Iterator[None]:
    """Python's own SIGINT handler for the test. A process started with
    SIGINT ignored (a background job of a non-interactive shell, as a CI
    runner may start it) keeps it ignored, and Ctrl-C never becomes a
    KeyboardInterrupt: the tests of what an interrupt does install the
    handler a terminal's Python has."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
