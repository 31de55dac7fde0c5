"""benches/soak.py must keep working: a scaled-down soak (2 000 calls over
8 threads, zero errors, flat RSS) on every test run, and the full 20 000
calls over 16 threads with ``-m slow``."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

SOAK = Path(__file__).resolve().parent.parent / "benches" / "soak.py"


def soak(*args: str, timeout: float) -> str:
    done = subprocess.run(
        [sys.executable, str(SOAK), *args], capture_output=True, text=True, timeout=timeout
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "errors" in done.stdout and done.stdout.rstrip().endswith("OK"), done.stdout
    return done.stdout


def test_soak_smoke() -> None:
    out = soak("--calls", "2000", "--threads", "8", timeout=120)
    assert "2000 calls, 8 threads" in out
    assert "; 0 errors" in out


@pytest.mark.slow
def test_soak_full() -> None:
    out = soak(timeout=1800)
    assert "20000 calls, 16 threads" in out
