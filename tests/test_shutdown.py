"""The interpreter exits cleanly whatever the client has in flight: async
calls being completed or cancelled, an async subscription, blocking calls
in daemon threads, log lines (issue 19).

Each run is a subprocess (``tests/data/exit_in_flight.py``) that exits with
all of these going at once. Before the fix about one exit in six crashed
("Fatal Python error: PyGILState_Release: thread state ... must be current
when releasing" or a segfault, "Python runtime state: finalizing"): a
runtime thread completing an asyncio future was inside Python when the
interpreter began to finalize (``crates/python/src/shutdown.rs``).
``-m slow`` runs many more exits, beside a CPU-bound process. After the
package's exit hook, the exiting thread can still make blocking calls and
async calls are refused (``test_after_the_exit_hook``).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from testnode import TestNode

SCRIPT = Path(__file__).resolve().parent / "data" / "exit_in_flight.py"
#: A method whose route the node delays for longer than any run.
SLOW_ENDPOINT, SLOW_PATH = "get_peers_count", "/admin-api/peers"


def exits(node: TestNode, context_id: str, runs: int, tmp_path: Path) -> list[str]:
    """Runs the script `runs` times; what went wrong in each bad run."""
    node.fault(SLOW_PATH, "delay", delayMs=120_000)
    env = {**os.environ, "HOME": str(tmp_path), "PYTHONFAULTHANDLER": "1"}
    bad = []
    for i in range(runs):
        try:
            done = subprocess.run(
                [sys.executable, str(SCRIPT), node.url, context_id, SLOW_ENDPOINT],
                env=env,
                capture_output=True,
                text=True,
                timeout=60,
            )
        except subprocess.TimeoutExpired:
            bad.append(f"run {i}: hung")
            continue
        if (
            done.returncode != 0
            or "Fatal Python error" in done.stderr
            or "exiting" not in done.stdout
        ):
            bad.append(f"run {i}: exit code {done.returncode}\n{done.stderr[:1000]}")
    return bad


def test_exit_with_work_in_flight(node: TestNode, context_id: str, tmp_path: Path) -> None:
    runs = 50
    bad = exits(node, context_id, runs, tmp_path)
    assert not bad, f"{len(bad)} of {runs} exits failed:\n" + "\n".join(bad[:3])


@pytest.mark.slow
def test_exit_with_work_in_flight_under_load(
    node: TestNode, context_id: str, tmp_path: Path
) -> None:
    runs = 500
    burner = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        started = time.monotonic()
        bad = exits(node, context_id, runs, tmp_path)
    finally:
        burner.kill()
        burner.wait()
    print(f"{runs} exits in {time.monotonic() - started:.0f} s, {len(bad)} failed")
    assert not bad, f"{len(bad)} of {runs} exits failed:\n" + "\n".join(bad[:3])


#: An atexit hook registered before ``calimero`` is imported runs after the
#: package's own hook (atexit runs hooks last in, first out).
LATE_HOOK = """
import asyncio, atexit, sys


def late():
    print(client.health(), flush=True)
    try:
        asyncio.run(aclient.health())
    except RuntimeError as e:
        print(e, flush=True)


atexit.register(late)
import calimero

conn = calimero.create_connection(sys.argv[1])
client = calimero.create_client(conn)
aclient = calimero.create_async_client(conn)
"""


def test_after_the_exit_hook(node: TestNode) -> None:
    # The exiting thread can still make blocking calls; an async call would
    # never be completed, so it is refused.
    done = subprocess.run(
        [sys.executable, "-c", LATE_HOOK, node.url], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        "{'data': {'status': 'alive'}}",
        "cannot start an async call: the interpreter is exiting",
    ]
