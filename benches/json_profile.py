"""Where the time of a JSON answer goes: the node and the wire, against the
turning of the body into Python objects. Explains the two "vs httpx" rows
of benches/RESULTS.md.

    python benches/json_profile.py [--contexts 30000] [--rounds 9]

Against the release test node on loopback, medians of --rounds:

- ``bytes only``: httpx fetching the body without decoding it (the node's
  time to answer plus the transfer: what every client pays);
- ``httpx + json.loads``, ``calimero``: the whole call;
- ``json.loads on the bytes``: CPython's C decoder alone, no I/O.

The client-side cost of a call is its total minus ``bytes only``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
import calimero
from testnode import bench_node


def median_ms(fn: Callable[[], object], rounds: int, per_round: int) -> float:
    samples = []
    for _ in range(rounds):
        start = time.perf_counter()
        for _ in range(per_round):
            fn()
        samples.append((time.perf_counter() - start) / per_round * 1000)
    return statistics.median(samples)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--contexts", type=int, default=30000)
    parser.add_argument("--rounds", type=int, default=9)
    args = parser.parse_args()
    import json

    url, node = bench_node(None)
    try:
        client = calimero.create_client(calimero.create_connection(url))
        hx = httpx.Client()
        rows = []
        # small: GET /admin-api/health
        health = url + "/admin-api/health"
        n = 500
        small = {
            "bytes only": median_ms(lambda: hx.get(health).content, args.rounds, n),
            "httpx + json.loads": median_ms(lambda: hx.get(health).json(), args.rounds, n),
            "calimero": median_ms(client.health, args.rounds, n),
        }
        rows.append(("small (health)", small, None))
        # large: the contexts of one application
        wasm = Path(tempfile.mkdtemp()) / "app.wasm"
        wasm.write_bytes(b"\0asm\x01\0\0\0" + os.urandom(64))
        app = client.install_dev_application(str(wasm))["data"]["applicationId"]
        ns = client.create_namespace(app)["data"]["namespaceId"]
        for _ in range(args.contexts):
            client.create_context(app, ns)
        path = url + f"/admin-api/contexts/for-application/{app}"
        body = hx.get(path).content
        large = {
            "bytes only": median_ms(lambda: hx.get(path).content, args.rounds, 1),
            "httpx + json.loads": median_ms(lambda: hx.get(path).json(), args.rounds, 1),
            "calimero": median_ms(lambda: client.get_contexts_for_application(app), args.rounds, 1),
        }
        loads = median_ms(lambda: json.loads(body), args.rounds, 1)
        rows.append((f"large ({len(body) / 1e6:.1f} MB)", large, loads))
    finally:
        if node is not None:
            node.stop()

    print(
        "| answer | bytes only (node + wire) | httpx + json.loads | calimero "
        "| client-side: httpx | client-side: calimero | json.loads alone |"
    )
    print("|---|---|---|---|---|---|---|")
    for name, r, loads in rows:
        unit = "ms"
        print(
            f"| {name} | {r['bytes only']:.3f} {unit} | {r['httpx + json.loads']:.3f} {unit} "
            f"| {r['calimero']:.3f} {unit} "
            f"| {r['httpx + json.loads'] - r['bytes only']:.3f} {unit} "
            f"| {r['calimero'] - r['bytes only']:.3f} {unit} "
            f"| {'' if loads is None else f'{loads:.3f} {unit}'} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
