"""Starting and steering the bundled test node (crates/testnode).

The node is a separate process; tests steer it over its control API
(``/_testnode/...``) with urllib, independently of the client under test.
"""

from __future__ import annotations

import json
import os
import subprocess
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


class TestNode:
    """A running test node."""

    __test__ = False  # not a pytest test class

    def __init__(self, *args: str) -> None:
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
        """Adds a fault for `path` (kind: delay, status, drop)."""
        self.control("POST", "faults", {"path": path, "kind": kind, **options})
