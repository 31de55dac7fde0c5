"""One client on one route against the canned responder, under a profiler:
what the profiles in RESULTS.md were taken with.

    python benches/route_profile.py ROUTE [--client ours] [--calls N]
        [--wrap "valgrind --tool=callgrind ..."] [--target canned|testnode]

Sets up what benches/clients.py sets up (a test node, its answers recorded
into a canned responder), then runs ``benches/clients_worker.py CLIENT``
under ``--wrap`` (a command prefix: ``strace -f -c``, ``perf record -g``,
``valgrind --tool=callgrind``, ...) for a warm-up batch and then ``--calls``
calls of ``ROUTE``, and prints the worker's CPU per call. ``--compare
A,B`` runs two clients in alternation for ``--rounds`` rounds instead and
prints their CPU per call and the ratio round by round (no wrapper); a
client written ``base:CLIENT`` runs with ``--base-path`` first on its
``PYTHONPATH`` (another build of the package, for before/after).
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import clients


def worker(
    label: str, pythons: dict[str, str], setup: dict, base_path: str | None
) -> clients.Worker:
    """A worker for `label` (`CLIENT` or `base:CLIENT`)."""
    base, _, kind = label.rpartition(":")
    saved = os.environ.get("PYTHONPATH")
    if base:
        if not base_path:
            raise SystemExit("base:CLIENT needs --base-path")
        os.environ["PYTHONPATH"] = base_path
    try:
        w = clients.Worker(kind, pythons[kind], setup)
    finally:
        if saved is None:
            os.environ.pop("PYTHONPATH", None)
        else:
            os.environ["PYTHONPATH"] = saved
    w.label = label  # type: ignore[attr-defined]
    return w


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("route", choices=clients.ROUTES)
    parser.add_argument("--client", default="ours", choices=clients.CLIENTS)
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--wrap", default="", help="command prefix for the worker")
    parser.add_argument("--target", default="canned", choices=("canned", "testnode"))
    parser.add_argument("--compare", help="two clients, A,B: CPU ratio round by round")
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--contexts", type=int, default=2000, help="contexts of `big`")
    parser.add_argument(
        "--delay-ms", type=float, default=0.0, help="the canned responder answers this late"
    )
    parser.add_argument("--base-path", help="directory holding the `calimero` package to compare")
    args = parser.parse_args()
    skips: list[str] = []
    pythons = {k: sys.executable for k in clients.CLIENTS if k != "official"}
    official = clients.official_python(skips)
    if official:
        pythons["official"] = official
    if not os.environ.get("CALIMERO_TESTNODE_BIN") and not clients.TESTNODE.exists():
        subprocess.run(
            ["cargo", "build", "--release", "--locked", "-p", "calimero-testnode"],
            cwd=clients.ROOT,
            check=True,
        )
    os.environ.setdefault("CALIMERO_TESTNODE_BIN", str(clients.TESTNODE))
    tmp = Path(tempfile.mkdtemp(prefix="route-profile-"))
    wasm = tmp / "app.wasm"
    wasm.write_bytes(b"\0asm\x01\0\0\0" + os.urandom(64) + b"calimero_abi_v1")
    stop: list = []
    try:
        node = clients.TestNode("--allow-private-urls")
        stop.append(node)
        setup = clients.populate(node.url, wasm, 10)
        setup["url"] = setup["big_url"] = node.url
        setup["big_app"] = None
        if args.route == "big":
            big_node = clients.TestNode("--allow-private-urls")
            stop.append(big_node)
            big = clients.populate(big_node.url, wasm, args.contexts)
            setup["big_url"], setup["big_app"] = big_node.url, big["app_id"]
            setup["big_path"] = f"/admin-api/contexts/for-application/{big['app_id']}"
        if args.target == "canned":
            setup.setdefault("big_path", "/admin-api/contexts")
            small, big_table = clients.record_canned(node.url, setup["big_url"], setup, tmp)
            delay = args.delay_ms / 1000
            canned, canned_big = clients.Canned(small, delay), clients.Canned(big_table, delay)
            stop += [canned, canned_big]
            setup = dict(setup, url=canned.url, big_url=canned_big.url, big_app=None)
        if args.compare:
            a, b = args.compare.split(",")
            workers = [worker(k, pythons, setup, args.base_path) for k in (a, b)]
            try:
                for w in workers:
                    w.run(args.route, max(1, args.calls // 4))
                cpu: dict[str, list[float]] = {a: [], b: []}
                for i in range(args.rounds):
                    for w in workers if i % 2 == 0 else workers[::-1]:
                        sample = w.run(args.route, args.calls)
                        assert sample is not None
                        cpu[w.label].append(sample[1])
            finally:
                for w in workers:
                    w.stop()
            ratios = [x / y for x, y in zip(cpu[a], cpu[b])]
            for k in (a, b):
                print(
                    f"{k}: {statistics.median(cpu[k]) * 1e6:.1f} us CPU per call "
                    f"({min(cpu[k]) * 1e6:.1f}-{max(cpu[k]) * 1e6:.1f})"
                )
            print(f"{a}/{b}: {statistics.median(ratios):.3f}x (round by round)")
            return 0
        cmd = [*shlex.split(args.wrap), pythons[args.client]]
        cmd += [str(clients.BENCHES / "clients_worker.py"), args.client]
        proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        assert proc.stdin and proc.stdout
        lines = [setup, {"route": args.route, "calls": max(1, args.calls // 4)}]
        lines.append({"route": args.route, "calls": args.calls})
        for msg in lines:
            proc.stdin.write(json.dumps(msg) + "\n")
            proc.stdin.flush()
            answer = json.loads(proc.stdout.readline())
            if "error" in answer:
                raise RuntimeError(answer["error"])
        proc.stdin.close()
        proc.wait()
        print(f"{args.client} {args.route}: {answer['cpu'] * 1e6:.1f} us CPU per call")
    finally:
        for s in reversed(stop):
            s.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
