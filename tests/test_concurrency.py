"""The GIL is released while a call waits, and Ctrl-C interrupts a call."""

from __future__ import annotations

import os
import signal
import threading
import time

import pytest

import calimero
from testnode import TestNode


def test_two_threads_overlap_in_time(client: calimero.Client, node: TestNode) -> None:
    node.fault("/admin-api/health", "delay", delayMs=600)
    results: list[object] = []

    def call() -> None:
        results.append(client.health())

    threads = [threading.Thread(target=call) for _ in range(2)]
    start = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - start
    assert results == [{"data": {"status": "alive"}}] * 2
    log = [r for r in node.requests() if r["path"] == "/admin-api/health"]
    assert len(log) == 2
    (a, b) = log
    # both requests were in flight at the node at the same moment
    assert a["startedMs"] < b["finishedMs"] and b["startedMs"] < a["finishedMs"]
    assert elapsed < 1.15


def test_python_threads_run_while_a_call_waits(client: calimero.Client, node: TestNode) -> None:
    node.fault("/admin-api/health", "delay", delayMs=500, times=1)
    ticks = 0
    stop = threading.Event()

    def spin() -> None:
        nonlocal ticks
        while not stop.is_set():
            ticks += 1
            time.sleep(0.001)

    spinner = threading.Thread(target=spin)
    spinner.start()
    client.health()
    stop.set()
    spinner.join()
    assert ticks > 50  # the spinner kept running during the 500 ms wait


@pytest.mark.skipif(os.name != "posix", reason="signals")
def test_keyboard_interrupt_ends_a_held_call(client: calimero.Client, node: TestNode) -> None:
    node.fault("/admin-api/health", "delay", delayMs=30_000, times=1)
    timer = threading.Timer(0.3, os.kill, (os.getpid(), signal.SIGINT))
    start = time.monotonic()
    timer.start()
    with pytest.raises(KeyboardInterrupt):
        client.health()
    elapsed = time.monotonic() - start
    timer.join()
    assert elapsed < 3
    # the request was dropped: the node saw its connection end long before 30 s
    deadline = time.monotonic() + 5
    finished = None
    while finished is None and time.monotonic() < deadline:
        (entry,) = [r for r in node.requests() if r["path"] == "/admin-api/health"]
        finished = entry["finishedMs"]
        time.sleep(0.05)
    assert finished is not None
    assert finished - entry["startedMs"] < 5000
    # the client stays usable
    assert client.health() == {"data": {"status": "alive"}}


def test_many_threads_share_one_client(client: calimero.Client, context_id: str) -> None:
    errors: list[BaseException] = []

    def work(i: int) -> None:
        try:
            for j in range(10):
                client.call(context_id, "set", {"key": f"{i}-{j}", "value": str(j)})
        except BaseException as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert client.call(context_id, "len") == 80


@pytest.mark.skipif(not hasattr(os, "fork"), reason="fork")
def test_a_forked_child_can_call(client: calimero.Client) -> None:
    assert client.health() == {"data": {"status": "alive"}}  # runtime and pool in use
    pid = os.fork()
    if pid == 0:  # the child: its own runtime and pool, never the parent's
        code = 1
        try:
            code = 0 if client.health() == {"data": {"status": "alive"}} else 3
        finally:
            os._exit(code)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        time.sleep(0.05)
    else:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        pytest.fail("the forked child hung")
    assert os.waitstatus_to_exitcode(status) == 0
    assert client.health() == {"data": {"status": "alive"}}  # the parent is unaffected
