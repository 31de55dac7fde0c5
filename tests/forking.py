"""A check run in a forked child, for the tests of what a fork must not
share with its parent (runtimes, pools, sessions, threads)."""

from __future__ import annotations

import os
import signal
import time
from typing import Callable

import pytest


def passes_in_a_forked_child(check: Callable[[], bool], wait: float = 20.0) -> bool:
    """Forks; the child runs `check` and leaves (0 when it returned true,
    3 when false, 1 when it raised). The parent waits at most `wait`
    seconds (then kills the child and fails the test: it hung) and tells
    whether the check passed."""
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            code = 0 if check() else 3
        finally:
            os._exit(code)
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status) == 0
        time.sleep(0.05)
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    pytest.fail("the forked child hung")
