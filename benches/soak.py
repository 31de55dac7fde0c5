"""Soak: many calls from many threads through one client, zero errors and
flat memory.

    python benches/soak.py [--calls 20000] [--threads 16] [--node-url URL]

Starts the bundled test node (the release build when there is one:
``cargo build --release -p calimero-testnode``), installs an application
and creates a context, then makes ``--calls`` calls from ``--threads``
threads sharing one client, mixing reads and writes (a "call" is one of these operations; set/get is
two requests): ``health``,
``list_contexts``, ``get_context``, ``list_applications``, and JSON-RPC
``set`` / ``get`` / ``len`` through ``client.call`` (each ``get`` reads back
the value its thread just wrote). The first ``--warmup`` calls (default a
tenth) warm the pools and allocators; RSS (Linux ``VmRSS``) is sampled
after them, at each quarter of the rest, and at the end.

Prints a table and exits 1 when any call failed or returned a wrong
answer, or when the RSS at the end is more than ``--tolerance`` (default
10%) above the RSS after the warm-up. ``tests/test_soak.py`` runs it scaled
down on every test run; the full run and its result are in benches/README.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import secrets
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

import calimero  # noqa: E402
from testnode import bench_node  # noqa: E402


def rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS in /proc/self/status (Linux only)")


class Soak:
    """The calls, and what went wrong in them."""

    def __init__(self, client: calimero.Client, context_id: str) -> None:
        self.client = client
        self.context_id = context_id
        self.errors: list[str] = []
        self.requests = 0
        self.lock = threading.Lock()
        self.ops: list[Callable[[int, int], None]] = [
            self.health,
            self.set_get,
            self.list_contexts,
            self.get_context,
            self.set_get,
            self.rpc_len,
            self.list_applications,
        ]

    def health(self, worker: int, i: int) -> None:
        reply = self.client.health()
        self.expect(reply["data"]["status"] == "alive", "health", reply)

    def list_contexts(self, worker: int, i: int) -> None:
        reply = self.client.list_contexts()
        ids = [c["id"] for c in reply["data"]["contexts"]]
        self.expect(self.context_id in ids, "list_contexts", ids)

    def get_context(self, worker: int, i: int) -> None:
        reply = self.client.get_context(self.context_id)
        self.expect(reply["data"]["id"] == self.context_id, "get_context", reply)

    def list_applications(self, worker: int, i: int) -> None:
        reply = self.client.list_applications()
        self.expect(len(reply["data"]["apps"]) >= 1, "list_applications", reply)

    def set_get(self, worker: int, i: int) -> None:
        key, value = f"w{worker}-{i % 50}", f"v{i}-{secrets.token_hex(4)}"
        self.client.call(self.context_id, "set", {"key": key, "value": value})
        got = self.client.call(self.context_id, "get", {"key": key})
        self.expect(got == value, "set/get", (key, value, got))

    def rpc_len(self, worker: int, i: int) -> None:
        n = self.client.call(self.context_id, "len")
        self.expect(isinstance(n, int) and n >= 0, "len", n)

    def expect(self, ok: bool, what: str, detail: Any) -> None:
        if not ok:
            with self.lock:
                self.errors.append(f"{what}: unexpected answer {str(detail)[:200]}")

    def run(self, pool: ThreadPoolExecutor, calls: int, threads: int, offset: int) -> None:
        """`calls` calls split over the `threads` threads of `pool` (one pool
        for the whole soak, as an application keeps its threads)."""

        def worker(w: int) -> None:
            sent = 0
            for i in range(offset + w, offset + calls, threads):
                op = self.ops[i % len(self.ops)]
                sent += 2 if op == self.set_get else 1
                try:
                    op(w, i)
                except Exception as e:  # counted, not raised: the soak goes on
                    with self.lock:
                        self.errors.append(f"{op.__name__}: {type(e).__name__}: {e}")
            with self.lock:
                self.requests += sent

        list(pool.map(worker, range(threads)))


def setup(client: calimero.Client) -> str:
    """An installed application and a context of it; the context id."""
    with tempfile.TemporaryDirectory() as tmp:
        wasm = Path(tmp) / "app.wasm"
        # What the test node takes for a kv-store application (tests/conftest.py).
        wasm.write_bytes(b"\0asm\x01\0\0\0" + secrets.token_bytes(64) + b"calimero_abi_v1")
        app = client.install_dev_application(str(wasm), package="com.example.soak", version="1")
    app_id = app["data"]["applicationId"]
    namespace = client.create_namespace(app_id, name="soak")["data"]["namespaceId"]
    return client.create_context(app_id, namespace)["data"]["contextId"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=20_000)
    parser.add_argument("--threads", type=int, default=16)
    parser.add_argument("--warmup", type=int, help="warm-up calls (default: a tenth of --calls)")
    parser.add_argument("--tolerance", type=float, default=0.10)
    parser.add_argument("--node-url", help="a running node (default: start the test node)")
    args = parser.parse_args()
    warmup = args.warmup if args.warmup is not None else max(args.calls // 10, args.threads)

    url, node = bench_node(args.node_url)
    pool = ThreadPoolExecutor(args.threads)
    try:
        client = calimero.create_client(calimero.create_connection(url))
        soak = Soak(client, setup(client))
        start = time.perf_counter()
        soak.run(pool, warmup, args.threads, 0)
        rows = [("after warm-up", warmup, len(soak.errors), time.perf_counter() - start, rss_mib())]
        done = warmup
        left = args.calls - warmup
        for quarter in range(4):
            n = left // 4 + (left % 4 if quarter == 3 else 0)
            soak.run(pool, n, args.threads, done)
            done += n
            rows.append(
                (
                    f"quarter {quarter + 1}",
                    done,
                    len(soak.errors),
                    time.perf_counter() - start,
                    rss_mib(),
                )
            )
    finally:
        pool.shutdown()
        if node is not None:
            node.stop()

    elapsed = rows[-1][3]
    print(
        f"soak: {args.calls} calls, {args.threads} threads, {warmup} warm-up calls, "
        f"{os.cpu_count()} cores, Python {platform.python_version()}, calimero {calimero.VERSION}"
    )
    print(f"{'point':<14} {'calls':>7} {'errors':>6} {'seconds':>8} {'RSS MiB':>8}")
    for name, calls, errors, seconds, rss in rows:
        print(f"{name:<14} {calls:>7} {errors:>6} {seconds:>8.1f} {rss:>8.1f}")
    base, end = rows[0][4], rows[-1][4]
    growth = (end - base) / base
    print(
        f"{args.calls / elapsed:.0f} calls/s ({soak.requests} HTTP requests: a set/get call "
        f"is two); RSS {base:.1f} -> {end:.1f} MiB after warm-up "
        f"({growth:+.1%}, limit +{args.tolerance:.0%}); {len(soak.errors)} errors"
    )
    for error in soak.errors[:20]:
        print("  error:", error)
    failed = bool(soak.errors) or growth > args.tolerance
    print("FAIL" if failed else "OK")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
