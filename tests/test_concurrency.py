"""The GIL is released while a call waits, and Ctrl-C interrupts a call."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time

import pytest

import calimero
from forking import passes_in_a_forked_child
from testnode import TestNode

#: Generous: only a broken feature waits this long.
WAIT = 20.0


def test_two_threads_overlap_in_time(client: calimero.Client, node: TestNode) -> None:
    # Held at the node until both are there: released only if the two calls
    # were in flight together (one at a time, the first would be held until
    # the client's timeout).
    node.fault("/admin-api/health", "hold", times=2)
    results: list[object] = []
    held = client.with_options(timeout=WAIT)

    def call() -> None:
        results.append(held.health())

    threads = [threading.Thread(target=call) for _ in range(2)]
    for t in threads:
        t.start()
    node.wait_for_requests("/admin-api/health", 2, in_flight=True)
    node.release_held()
    for t in threads:
        t.join()
    assert results == [{"data": {"status": "alive"}}] * 2


def test_python_threads_run_while_a_call_waits(client: calimero.Client, node: TestNode) -> None:
    # The call is held at the node until another Python thread releases it:
    # it returns only if that thread ran Python code while the call waited
    # (with the GIL held, it would wait until the client's timeout).
    node.fault("/admin-api/health", "hold", times=1)
    releasing = threading.Event()

    def release_it() -> None:
        node.wait_for_requests("/admin-api/health", in_flight=True)
        releasing.set()  # before the release: the call cannot return sooner
        node.release_held()

    helper = threading.Thread(target=release_it)
    helper.start()
    assert client.with_options(timeout=WAIT).health() == {"data": {"status": "alive"}}
    assert releasing.is_set()
    helper.join()


@pytest.mark.skipif(os.name != "posix", reason="signals")
@pytest.mark.usefixtures("sigint_handler")
def test_keyboard_interrupt_ends_a_held_call(client: calimero.Client, node: TestNode) -> None:
    node.fault("/admin-api/health", "hold", times=1)
    sent: list[float] = []

    def interrupt_once_held() -> None:
        node.wait_for_requests("/admin-api/health", in_flight=True)
        sent.append(time.monotonic())
        os.kill(os.getpid(), signal.SIGINT)

    helper = threading.Thread(target=interrupt_once_held)
    with pytest.raises(KeyboardInterrupt):
        helper.start()  # in the block: the signal can come at any moment
        client.with_options(timeout=WAIT).health()
    ended = time.monotonic()
    helper.join()
    # Held until released: only the interrupt (checked every 50 ms) ended it.
    assert ended - sent[0] < WAIT / 2
    # The request was dropped: the node saw its connection end, although it
    # was never released.
    deadline = time.monotonic() + WAIT
    finished = None
    while finished is None:
        assert time.monotonic() < deadline, "the node never saw the request end"
        (entry,) = [r for r in node.requests() if r["path"] == "/admin-api/health"]
        finished = entry["finishedMs"]
        time.sleep(0.01)
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
    # The child: its own runtime and pool, never the parent's.
    assert passes_in_a_forked_child(lambda: client.health() == {"data": {"status": "alive"}})
    assert client.health() == {"data": {"status": "alive"}}  # the parent is unaffected


#: A program whose first call logs what it learns of the node's release
#: (``calimero.release``, DEBUG) to a handler that makes another call, from
#: another thread, and waits for it.
LOG_AND_CALL = """
import logging, sys, threading
import calimero

client = calimero.create_client(calimero.create_connection(sys.argv[1]))
answers = []


class CallAndWait(logging.Handler):
    def emit(self, record):
        if not answers:
            other = threading.Thread(target=lambda: answers.append(client.health()))
            other.start()
            other.join(20)


log = logging.getLogger("calimero.release")
log.setLevel(logging.DEBUG)
log.addHandler(CallAndWait())
try:
    client.get_context("11111111111111111111111111111111")  # learns the release
except calimero.NotFoundError:
    pass
print(answers, flush=True)
"""


def test_a_log_handler_can_make_a_call(node: TestNode) -> None:
    # Core log lines reach Python's logging, which takes the GIL. The
    # release detection logged while holding the connection's release lock,
    # and a call being prepared takes that lock while holding the GIL: the
    # handler's wait let the other thread take the GIL and then block on the
    # lock, and the logging thread could never take the GIL back (the whole
    # process hung). Now the line is logged after the lock is released.
    try:
        done = subprocess.run(
            [sys.executable, "-c", LOG_AND_CALL, node.url],
            capture_output=True,
            text=True,
            timeout=WAIT,
        )
    except subprocess.TimeoutExpired:
        pytest.fail("deadlock: the call never returned")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[{'data': {'status': 'alive'}}]"
