"""The benchmark table: calimero-client-py against its floor and the
alternatives, every figure a ratio measured in the same run.

    python benches/run.py [--rounds 7] [--quick] [--write]

Starts the bundled test node (release build) on loopback and measures, as
medians over --rounds repeated runs (with the spread, min to max):

1. per-call latency of a small JSON route (``health``) and of a ~10 MB JSON
   answer (``get_contexts_for_application`` over ~30 000 contexts): our sync
   client; a bare Rust reqwest loop doing the same GET and parsing the JSON
   (crates/core/examples/reqwest_floor.rs, the floor); httpx, a pure-Python
   client (what a user would write instead);
2. throughput of 8 threads sharing one client over 1 thread, against a node
   that takes 2 ms per answer (the GIL is released while waiting);
3. asyncio: 256 concurrent calls over the same calls made one by one (same
   2 ms node), when ``calimero.AsyncClient`` exists;
4. a 512 MiB blob uploaded from a file and downloaded to a file, against curl
   on the same routes, and the peak RSS growth of our process;
5. the time ``import calimero`` adds to a bare interpreter start.

--write records the table, the machine and the command in benches/RESULTS.md
(keeping the file's "## Notes" section, written by hand).
--quick shrinks every size for a smoke run (the goals are then not judged).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

import calimero  # noqa: E402
from testnode import TestNode  # noqa: E402

FLOOR = ROOT / "target" / "release" / "examples" / "reqwest_floor"
TESTNODE = ROOT / "target" / "release" / "calimero-testnode"


def build() -> None:
    subprocess.run(
        [
            "cargo",
            "build",
            "--release",
            "--locked",
            "-p",
            "calimero-testnode",
            "-p",
            "calimero-client-core",
            # --example alone would build only the example: --bins keeps
            # the test node binary in the build.
            "--bins",
            "--example",
            "reqwest_floor",
        ],
        cwd=ROOT,
        check=True,
    )


class Row:
    def __init__(self, name: str, unit: str, samples: list[float], lower_is_better: bool = True):
        self.name, self.unit, self.samples = name, unit, samples
        self.lower_is_better = lower_is_better

    @property
    def median(self) -> float:
        return statistics.median(self.samples)

    def spread(self) -> str:
        return f"{min(self.samples):.4g} to {max(self.samples):.4g}"


def timed(fn: Callable[[], Any], rounds: int) -> list[float]:
    """Seconds per round."""
    out = []
    for _ in range(rounds):
        start = time.perf_counter()
        fn()
        out.append(time.perf_counter() - start)
    return out


def per_call_us(fn: Callable[[], Any], calls: int, rounds: int) -> list[float]:
    def loop() -> None:
        for _ in range(calls):
            fn()

    fn()  # warm: connection open, caches filled
    return [s * 1e6 / calls for s in timed(loop, rounds)]


def floor_us(url: str, calls: int, rounds: int) -> list[float]:
    out = subprocess.run(
        [str(FLOOR), url, str(calls), str(rounds)], capture_output=True, text=True, check=True
    )
    return [float(line) for line in out.stdout.split()]


def rss_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def peak_growth_mib(fn: Callable[[], Any]) -> float:
    Path("/proc/self/clear_refs").write_text("5")
    before = rss_kib("VmRSS")
    fn()
    return (rss_kib("VmHWM") - before) / 1024


def blob_section(
    client: calimero.Client,
    node: TestNode,
    rounds: int,
    blob_mib: int,
    quick: bool,
    record: Callable[..., None],
    results: list[tuple[str, str, str, str, str]],
) -> None:
    curl = shutil.which("curl")
    tmp = Path(tempfile.mkdtemp())
    source = tmp / "blob.bin"
    with source.open("wb") as f:
        for _ in range(blob_mib // 4 or 1):
            f.write(os.urandom(4 << 20))
    nbytes = source.stat().st_size
    blob_id = client.upload_blob(source)["data"]["blob_id"]
    growth: list[float] = []

    def ours_up() -> None:
        growth.append(peak_growth_mib(lambda: client.upload_blob(source)))

    def ours_down() -> None:
        growth.append(
            peak_growth_mib(lambda: client.download_blob_to_path(blob_id, tmp / "ours.bin"))
        )

    def curl_up() -> None:
        subprocess.run(
            [curl or "curl", "-sf", "-o", "/dev/null", "-X", "PUT", "-H", "Expect:",
             "-H", "Content-Type: application/octet-stream",
             "-T", str(source), node.url + "/admin-api/blobs"],
            check=True,
        )  # fmt: skip

    def curl_down() -> None:
        subprocess.run(
            [curl or "curl", "-sf", "-o", str(tmp / "curl.bin"),
             node.url + f"/admin-api/blobs/{blob_id}"],
            check=True,
        )  # fmt: skip

    mibs = nbytes / (1 << 20)
    if curl:
        for what, mine, theirs in (
            ("upload", ours_up, curl_up),
            ("download", ours_down, curl_down),
        ):
            o = Row("calimero", "MiB/s", [mibs / s for s in timed(mine, rounds)], False)
            c = Row("curl", "MiB/s", [mibs / s for s in timed(theirs, rounds)], False)
            record(
                f"{blob_mib} MiB blob {what}, vs curl", o, c, ">= 0.7x", o.median >= 0.7 * c.median
            )
    peak = Row("peak RSS growth", "MiB", growth)
    results.append(
        (
            f"{blob_mib} MiB blob, peak RSS growth",
            f"{peak.median:.1f} MiB (max {max(growth):.1f})",
            "",
            "",
            "<= 32 MiB" + ("" if quick else (" (met)" if max(growth) <= 32 else " (MISSED)")),
        )
    )
    shutil.rmtree(tmp, ignore_errors=True)


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    rustc = subprocess.run(["rustc", "--version"], capture_output=True, text=True).stdout.strip()
    return (
        f"{cpu}, {os.cpu_count()} cores, {platform.system()} {platform.release()}; "
        f"Python {platform.python_version()}; {rustc}"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--write", action="store_true")
    parser.add_argument("--no-build", action="store_true")
    args = parser.parse_args()
    rounds = 3 if args.quick else args.rounds
    small_calls = 200 if args.quick else 2000
    contexts = 2000 if args.quick else 30000
    large_calls = 3 if args.quick else 10
    blob_mib = 16 if args.quick else 512

    if not args.no_build:
        build()
    import httpx  # the baseline a user would write instead

    os.environ["CALIMERO_TESTNODE_BIN"] = str(TESTNODE)
    node = TestNode("--allow-private-urls")
    results: list[tuple[str, str, str, str, str]] = []  # what, ours, baseline, ratio, goal

    def record(what: str, ours: Row, base: Row, goal: str, ok: bool | None) -> None:
        ratio = ours.median / base.median
        verdict = "" if ok is None or args.quick else (" (met)" if ok else " (MISSED)")
        results.append(
            (
                what,
                f"{ours.median:.4g} {ours.unit} ({ours.spread()})",
                f"{base.name}: {base.median:.4g} {base.unit} ({base.spread()})",
                f"{ratio:.2f}x",
                goal + verdict,
            )
        )

    try:
        conn = calimero.create_connection(node.url)
        client = calimero.create_client(conn)
        hx = httpx.Client()

        # 1a. small route
        url = node.url + "/admin-api/health"
        ours = Row("calimero", "us/call", per_call_us(client.health, small_calls, rounds))
        floor = Row("reqwest floor", "us/call", floor_us(url, small_calls, rounds))
        py = Row("httpx", "us/call", per_call_us(lambda: hx.get(url).json(), small_calls, rounds))
        record("small JSON, vs floor", ours, floor, "<= 1.3x", ours.median <= 1.3 * floor.median)
        record("small JSON, vs httpx", ours, py, "<= 0.33x", ours.median * 3 <= py.median)

        # 1b. ~10 MB JSON
        wasm = Path(tempfile.mkdtemp()) / "app.wasm"
        wasm.write_bytes(b"\0asm\x01\0\0\0" + os.urandom(64) + b"calimero_abi_v1")
        app = client.install_dev_application(str(wasm))["data"]["applicationId"]
        ns = client.create_namespace(app)["data"]["namespaceId"]
        for _ in range(contexts):
            client.create_context(app, ns)
        path = f"/admin-api/contexts/for-application/{app}"
        size = len(hx.get(node.url + path).content)
        ours = Row(
            "calimero",
            "ms/call",
            [
                u / 1000
                for u in per_call_us(
                    lambda: client.get_contexts_for_application(app), large_calls, rounds
                )
            ],
        )
        floor = Row(
            "reqwest floor",
            "ms/call",
            [u / 1000 for u in floor_us(node.url + path, large_calls, rounds)],
        )
        py = Row(
            "httpx",
            "ms/call",
            [
                u / 1000
                for u in per_call_us(lambda: hx.get(node.url + path).json(), large_calls, rounds)
            ],
        )
        what = f"{size / 1e6:.1f} MB JSON"
        record(f"{what}, vs floor", ours, floor, "<= 1.3x", ours.median <= 1.3 * floor.median)
        record(f"{what}, vs httpx", ours, py, "<= 0.33x", ours.median * 3 <= py.median)

        # 2. threads, against a node that takes 2 ms per answer
        node.fault("/admin-api/health", "delay", delayMs=2)
        per_thread = 50 if args.quick else 300

        def threads(n: int) -> float:
            def work() -> None:
                for _ in range(per_thread):
                    client.health()

            pool = [threading.Thread(target=work) for _ in range(n)]
            start = time.perf_counter()
            for t in pool:
                t.start()
            for t in pool:
                t.join()
            return n * per_thread / (time.perf_counter() - start)

        one = Row("1 thread", "calls/s", [threads(1) for _ in range(rounds)], False)
        eight = Row("8 threads", "calls/s", [threads(8) for _ in range(rounds)], False)
        record(
            "8 threads / 1 thread (2 ms node)",
            eight,
            one,
            ">= 1.6x",
            eight.median >= 1.6 * one.median,
        )

        # 3. asyncio, same node
        if hasattr(calimero, "AsyncClient"):
            aclient = calimero.create_async_client(conn)  # type: ignore[attr-defined]

            async def gathered() -> None:
                await asyncio.gather(*(aclient.health() for _ in range(256)))

            async def sequential() -> None:
                for _ in range(256):
                    await aclient.health()

            conc = Row("gather", "s", timed(lambda: asyncio.run(gathered()), rounds))
            seq = Row("sequential", "s", timed(lambda: asyncio.run(sequential()), rounds))
            ratio_ok = seq.median >= 4 * conc.median
            record("asyncio: 256 gathered vs sequential", conc, seq, "<= 0.25x", ratio_ok)
        else:
            results.append(
                ("asyncio: 256 gathered vs sequential", "n/a", "", "", "no AsyncClient yet")
            )
        node.control("DELETE", "faults")

        # 4. blobs against curl
        try:
            blob_section(client, node, rounds, blob_mib, args.quick, record, results)
        except Exception as e:  # one failing section must not lose the others
            results.append((f"{blob_mib} MiB blob", "error", repr(e)[:120], "", ""))
    finally:
        node.stop()

    # 5. import time
    def start(code: str) -> float:
        t = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], check=True)
        return time.perf_counter() - t

    # What an installed package costs: its bytecode cached (pip compiles it
    # at install; an editable or PYTHONDONTWRITEBYTECODE checkout would
    # compile every module at every start), written by one warm-up import.
    subprocess.run(
        [sys.executable, "-c", "import calimero"],
        check=True,
        env={k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"},
    )
    bare = [start("pass") for _ in range(rounds * 2)]
    imp = [start("import calimero") for _ in range(rounds * 2)]
    added = Row("import calimero", "ms", [(i - statistics.median(bare)) * 1000 for i in imp])
    results.append(
        (
            "import calimero (added to a bare start)",
            f"{added.median:.1f} ms ({added.spread()})",
            f"bare start {statistics.median(bare) * 1000:.1f} ms",
            "",
            "<= 50 ms" + ("" if args.quick else (" (met)" if added.median <= 50 else " (MISSED)")),
        )
    )

    header = "| measurement | ours (median, spread) | baseline (median, spread) | ratio | goal |"
    lines = [header, "|---|---|---|---|---|"] + ["| " + " | ".join(r) + " |" for r in results]
    table = "\n".join(lines)
    print(table)
    if args.write:
        command = "python benches/run.py " + " ".join(sys.argv[1:])
        results = ROOT / "benches" / "RESULTS.md"
        # The notes written by hand below the table (from "## Notes" on) stay.
        old = results.read_text() if results.exists() else ""
        notes = old[old.index("\n## Notes") :] if "\n## Notes" in old else ""
        results.write_text(
            "# Benchmark results\n\n"
            f"Machine: {machine()}.\n\n"
            f"Command: `{command}` ({rounds} rounds; medians, spread min to max).\n"
            f"Date: {time.strftime('%Y-%m-%d')}.\n\n" + table + "\n" + notes
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
