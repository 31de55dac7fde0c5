"""The examples run against the test node and print real answers."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import make_wasm
from testnode import TestNode

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


@pytest.mark.parametrize("script", ["quickstart.py", "async_quickstart.py"])
def test_example_runs(script: str, node: TestNode, tmp_path: Path) -> None:
    wasm = make_wasm(tmp_path)
    env = {**os.environ, "CALIMERO_NODE_URL": node.url, "HOME": str(tmp_path)}
    done = subprocess.run(
        [sys.executable, str(EXAMPLES / script), str(wasm)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    if script == "async_quickstart.py":
        assert "read back: 64 values, first 0 last 63" in done.stdout
        assert "not found: 404 Context not found" in done.stdout
    else:
        assert "health" in done.stdout
