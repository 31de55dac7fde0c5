"""Starting and steering the bundled test node (crates/testnode).

The node is a separate process; tests steer it over its control API
(``/_testnode/...``) with urllib, independently of the client under test.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def testnode_binary() -> Path:
    """The test node binary: $CALIMERO_TESTNODE_BIN, else target/{debug,release},
    built with cargo when missing."""
    env = os.environ.get("CALIMERO_TESTNODE_BIN")
    if env:
        return Path(env)
    for profile in ("debug", "release"):
        candidate = ROOT / "target" / profile / "calimero-testnode"
        if candidate.exists():
            return candidate
    subprocess.run(["cargo", "build", "-q", "-p", "calimero-testnode"], cwd=ROOT, check=True)
    return ROOT / "target" / "debug" / "calimero-testnode"


def bench_node(node_url: str | None) -> tuple[str, TestNode | None]:
    """The node a benchmark runs against: `node_url` when given, else a
    test node it starts (the release build when there is one, unless
    $CALIMERO_TESTNODE_BIN names another). The node is None for a URL."""
    if node_url:
        return node_url, None
    release = ROOT / "target" / "release" / "calimero-testnode"
    if release.exists():
        os.environ.setdefault("CALIMERO_TESTNODE_BIN", str(release))
    node = TestNode()
    return node.url, node


class TestNode:
    """A running test node. ``args`` are the binary's flags; ``node_version``
    (``"0.11.0-rc.N"``, 25 <= N <= 83) picks the merod release it answers
    as, the same as passing ``"--node-version", "0.11.0-rc.N"`` (default:
    rc.25). ``publish`` puts ``"PACKAGE@VERSION"`` packages in its registry
    from the start (``--publish``, what ``install_application(package,
    version)`` installs from on rc.31+)."""

    __test__ = False  # not a pytest test class

    def __init__(
        self,
        *args: str,
        node_version: str | None = None,
        publish: tuple[str, ...] = (),
    ) -> None:
        if node_version is not None:
            args = ("--node-version", node_version, *args)
        for coordinates in publish:
            args = (*args, "--publish", coordinates)
        self.process = subprocess.Popen(
            [str(testnode_binary()), "--host", "127.0.0.1", "--port", "0", *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline().strip()
        if not line.startswith("listening on "):
            self.stop()
            raise RuntimeError(f"the test node did not start: {line!r}")
        self.url = line.removeprefix("listening on ")

    def stop(self) -> None:
        if self.process.poll() is None:
            if self.process.stdin:
                self.process.stdin.close()  # the node exits at stdin EOF
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def control(self, method: str, path: str, body: Any = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(
            self.url + "/_testnode/" + path,
            data=data,
            method=method,
            headers={"Content-Type": "application/json"} if data is not None else {},
        )
        with urllib.request.urlopen(req, timeout=10) as resp:
            raw = resp.read()
        return json.loads(raw) if raw else None

    def reset(self) -> None:
        self.control("POST", "reset")

    def requests(self) -> list[dict[str, Any]]:
        """Every (non-control) request the node received, in order."""
        return self.control("GET", "requests")["requests"]

    def clear_requests(self) -> None:
        self.control("DELETE", "requests")

    def fault(self, path: str, kind: str, **options: Any) -> None:
        """Adds a fault for `path` (kind: delay, status, drop, reset,
        truncate, oversize, hold)."""
        self.control("POST", "faults", {"path": path, "kind": kind, **options})

    def release_held(self) -> int:
        """Lets the requests held by ``hold`` faults go on (and any later
        one, until the faults are cleared); answers how many were held."""
        return int(self.control("POST", "faults/release")["released"])

    def wait_for_requests(
        self, path: str, count: int = 1, *, in_flight: bool = False, timeout: float = 20.0
    ) -> list[dict[str, Any]]:
        """The logged requests to `path` once there are `count` of them
        (with `in_flight`, `count` not yet answered): a condition to wait
        on instead of a sleep. AssertionError after `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while True:
            found = [
                r
                for r in self.requests()
                if r["path"] == path and not (in_flight and r["finishedMs"] is not None)
            ]
            if len(found) >= count:
                return found
            assert time.monotonic() < deadline, f"{count} request(s) to {path} never came"
            time.sleep(0.005)

    # ---------------------------------------------------------------- auth mode

    def auth(self, **settings: Any) -> dict[str, Any]:
        """Reads (no arguments) or changes the auth settings of a node started
        with ``--auth``: accessTtl, refreshTtl, leeway (seconds), clockOffset,
        advanceClock (seconds added to the node's clock)."""
        if settings:
            return self.control("POST", "auth", settings)
        return self.control("GET", "auth")

    def expire_access_tokens(self) -> None:
        """Moves the node's clock past the expiry (and leeway) of every access
        token minted so far; tokens minted from now on live an hour."""
        settings = self.auth()
        self.auth(
            accessTtl=3600,
            advanceClock=settings["accessTtl"] + settings["leeway"] + 1,
        )

    def mint(self, **options: Any) -> dict[str, str]:
        """A token pair of a new family without a login (permissions,
        nodeUrl, accessTtl)."""
        return self.control("POST", "auth/mint", options)

    def revoke_all(self) -> int:
        return self.control("POST", "auth/revoke", {})["revoked"]

    def issued_tokens(self) -> list[str]:
        """Every token the node minted since its last reset."""
        return self.control("GET", "auth/tokens")["tokens"]

    def count(self, path: str) -> int:
        """How many logged requests went to ``path``."""
        return sum(1 for r in self.requests() if r["path"] == path)

    # ----------------------------------------------------------------- releases

    def release_info(self) -> dict[str, Any]:
        """The release the node answers as: ``{"nodeVersion", "rc",
        "features": {name: bool}, "routes": [{"method", "path", "since",
        "until", "served"}]}`` (the routes that come and go)."""
        return self.control("GET", "release")

    @property
    def node_version(self) -> str:
        """``"0.11.0-rc.N"``."""
        return self.release_info()["nodeVersion"]

    def publish(
        self, package: str, version: str, *, abi: bool = True, signed: bool = True
    ) -> dict[str, Any]:
        """Publishes ``package@version`` in the node's own registry (what
        ``POST /admin-api/install-application {package, version}`` installs
        from, rc.31+) until the next reset: ``{"package", "version",
        "applicationId"}`` (the id it installs under; None when unsigned).
        ``abi``: the wasm carries the kv-store ABI; ``signed``: with a
        signature block (the node refuses a bundle without one)."""
        return self.control(
            "POST",
            "registry",
            {"package": package, "version": version, "abi": abi, "signed": signed},
        )

    def registry(self) -> list[dict[str, str]]:
        """What the registry holds: ``[{"package", "version"}]``."""
        return self.control("GET", "registry")["packages"]

    def bundle(
        self, package: str, version: str, *, abi: bool = True, signed: bool = True
    ) -> dict[str, Any]:
        """Writes an ``.mpk`` bundle the node can install with
        ``install_dev_application(path)`` (the only dev install from rc.32):
        ``{"path", "applicationId"}``."""
        return self.control(
            "POST",
            "bundles",
            {"package": package, "version": version, "abi": abi, "signed": signed},
        )
