"""Refresh is single flight: across 32 threads of one process, and across
processes sharing a ``node_name`` (and so its cache file). A refresh token
is single use, so a second refresh would fail with ``token_reuse``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

import calimero
from conftest import AUTH_PASSWORD, AUTH_USER, SecretWatch
from testnode import TestNode

pytestmark = pytest.mark.usefixtures("secret_watch")


def test_32_threads_across_an_expiry_make_one_refresh(auth_node: TestNode) -> None:
    conn = calimero.create_connection(
        auth_node.url, username=AUTH_USER, password=AUTH_PASSWORD, interactive=False
    )
    client = calimero.create_client(conn)
    first = conn.login()
    stop = threading.Event()
    calls: list[list[float]] = [[] for _ in range(32)]
    failures: list[BaseException] = []

    def work(i: int) -> None:
        while not stop.is_set():
            try:
                client.list_contexts()
            except BaseException as e:  # any failure fails the test
                failures.append(e)
                return
            calls[i].append(time.monotonic())

    threads = [threading.Thread(target=work, args=(i,)) for i in range(32)]
    for t in threads:
        t.start()

    def wait_for(condition: Callable[[], bool]) -> None:
        deadline = time.monotonic() + 20
        while not condition() and not failures:
            assert time.monotonic() < deadline, "the threads did not get going"
            time.sleep(0.02)

    try:
        wait_for(lambda: all(calls))  # every thread is calling
        expired_at = time.monotonic()
        auth_node.expire_access_tokens()
        wait_for(lambda: all(len([c for c in per if c > expired_at]) >= 5 for per in calls))
    finally:
        stop.set()
        for t in threads:
            t.join()
    assert failures == []
    # every thread called before and after the expiry
    for per_thread in calls:
        assert min(per_thread) < expired_at < max(per_thread)
    assert auth_node.count("/auth/refresh") == 1
    assert auth_node.count("/auth/token") == 1
    assert conn.token != first


CHILD = """
import sys
import calimero
url, name = sys.argv[1], sys.argv[2]
client = calimero.create_client(calimero.create_connection(url, name, interactive=False))
client.list_contexts()
print("ready", flush=True)
sys.stdin.readline()  # go
for _ in range(25):
    client.list_contexts()
print("done", client.connection.token.expires_at, flush=True)
"""


def test_4_processes_sharing_a_node_name_make_one_refresh(
    auth_node: TestNode, home: Path, secret_watch: SecretWatch
) -> None:
    conn = calimero.create_connection(auth_node.url, "shared-node", interactive=False)
    first = conn.login(AUTH_USER, AUTH_PASSWORD)
    env = {**os.environ, "HOME": str(home), "PYTHONUNBUFFERED": "1"}
    # no credentials in the children: only the cache file can keep them going
    for name in ("CALIMERO_USERNAME", "CALIMERO_PASSWORD", "CALIMERO_ACCESS_TOKEN"):
        env.pop(name, None)
    children = [
        subprocess.Popen(
            [sys.executable, "-c", CHILD, auth_node.url, "shared-node"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        for _ in range(4)
    ]
    try:
        for child in children:
            assert child.stdout is not None
            assert child.stdout.readline().strip() == "ready"
        auth_node.expire_access_tokens()
        for child in children:
            assert child.stdin is not None
            child.stdin.write("go\n")
            child.stdin.flush()
        results = [child.communicate(timeout=120) for child in children]
    finally:
        for child in children:
            if child.poll() is None:
                child.kill()
                child.wait()
    for child, (out, err) in zip(children, results):
        assert child.returncode == 0, err
        assert out.startswith("done")
        secret_watch.see(out, err)
    assert auth_node.count("/auth/refresh") == 1
    assert auth_node.count("/auth/token") == 1
    expiries = {out.split()[1] for out, _ in results}
    assert len(expiries) == 1  # all four use the one rotated token
    record = json.loads(Path(calimero.get_token_cache_path("shared-node")).read_text())
    assert record["access_token"] != first.access_token
    assert str(record["expires_at"]) in expiries
    # 4 calls before the expiry, then per child one refused call and 25
    # with the new token (the first of them the replay)
    contexts = [r for r in auth_node.requests() if r["path"] == "/admin-api/contexts"]
    assert len(contexts) == 4 + 4 + 4 * 25
