"""Peak memory of a 512 MiB blob going through the client, both ways.

    python benches/blob_rss.py [--mib 512] [--node-url URL]

Starts the bundled test node (a release build when there is one) unless
--node-url is given, writes a file of random bytes, and measures the
client process's peak RSS growth (Linux: VmHWM reset through
/proc/self/clear_refs before each step) while it:

- uploads the file from its path, and from an open file object;
- downloads it to a path, and as an iterator of chunks;
- for comparison, downloads it into one ``bytes`` (which must hold it all).

The goal (issue 3) is at most 32 MiB of growth for the streamed steps. The
table gives growth in MiB, the throughput, and the ratio of the growth to
the blob's size. Exit status 1 when a streamed step misses the goal.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

import calimero  # noqa: E402
from testnode import bench_node  # noqa: E402

GOAL_MIB = 32


def status_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"no {field} in /proc/self/status")


def measure(step: Callable[[], Any]) -> tuple[float, float]:
    """(peak RSS growth in MiB, seconds) of one step."""
    Path("/proc/self/clear_refs").write_text("5")  # VmHWM := VmRSS
    before = status_kib("VmRSS")
    start = time.perf_counter()
    step()
    elapsed = time.perf_counter() - start
    return (status_kib("VmHWM") - before) / 1024, elapsed


def write_random(path: Path, size: int) -> str:
    digest = hashlib.sha256()
    with path.open("wb") as f:
        left = size
        while left:
            chunk = os.urandom(min(left, 4 << 20))
            digest.update(chunk)
            f.write(chunk)
            left -= len(chunk)
    return digest.hexdigest()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mib", type=int, default=512)
    parser.add_argument("--node-url")
    args = parser.parse_args()
    size = args.mib << 20

    url, node = bench_node(args.node_url)
    client = calimero.create_client(calimero.create_connection(url))
    rows = []
    try:
        with tempfile.TemporaryDirectory() as tmp:
            source = Path(tmp) / "blob.bin"
            digest = write_random(source, size)
            blob_id = ""

            def up_path() -> None:
                nonlocal blob_id
                blob_id = client.upload_blob(source)["data"]["blob_id"]

            def up_file() -> None:
                with source.open("rb") as f:
                    client.upload_blob(f)

            def down_path() -> None:
                client.download_blob_to_path(blob_id, Path(tmp) / "copy.bin")

            def down_iter() -> None:
                h = hashlib.sha256()
                for chunk in client.iter_blob(blob_id):
                    h.update(chunk)
                assert h.hexdigest() == digest

            def down_bytes() -> None:
                assert len(client.download_blob(blob_id)) == size

            steps = [
                ("upload from a path", up_path, True),
                ("upload from a file object", up_file, True),
                ("download to a path", down_path, True),
                ("download as chunks", down_iter, True),
                ("download into bytes (not streamed)", down_bytes, False),
            ]
            for name, step, streamed in steps:
                growth, seconds = measure(step)
                rows.append((name, growth, size / seconds / (1 << 20), streamed))
            copy = (Path(tmp) / "copy.bin").read_bytes()
            assert hashlib.sha256(copy).hexdigest() == digest
            del copy
    finally:
        if node:
            node.stop()

    print(f"blob: {args.mib} MiB; goal: streamed steps grow peak RSS by at most {GOAL_MIB} MiB")
    print(f"{'step':<38} {'peak RSS growth':>16} {'of blob':>8} {'MiB/s':>8}")
    failed = False
    for name, growth, rate, streamed in rows:
        ok = "" if not streamed else ("  ok" if growth <= GOAL_MIB else "  MISSED")
        failed |= streamed and growth > GOAL_MIB
        print(f"{name:<38} {growth:>12.1f} MiB {growth / args.mib:>8.3f} {rate:>8.0f}{ok}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
