"""Every client, route class by route class: wall time and the client
process's CPU time per call, ours against the official client and httpx.

    python benches/clients.py [--rounds 7] [--quick] [--write] [--no-merod]

Clients, each in its own process (benches/clients_worker.py), so that its
CPU time (``time.process_time()``: all its threads) is its own:

- ``ours`` (``calimero.Client``) and ``ours-async`` (``AsyncClient``,
  sequential awaits on one event loop), from this interpreter's venv;
- ``official``: calimero-client-py 0.6.31, the wheel in
  ../shared/reference/official/, installed into its own virtualenv
  (``.bench-venvs/official``, made on first use; never the project's);
- ``httpx-json`` and ``httpx-orjson``: httpx with ``json`` or ``orjson``
  (benches/requirements.txt), what a user would write by hand.
- ``floor`` (``small``, ``list``, ``rpc_small`` and ``rpc_large``): one keep-alive
  socket, the request bytes built once, the answer read by its
  ``Content-Length`` and not decoded: about what any client must spend
  (the system calls, the kernel's loopback work, the wake-up after the
  node's wait). ``floor/official`` shows how low a ratio can go.
- ``floor-async`` (the same routes): the floor on asyncio, sequential
  ``loop.sock_sendall`` / ``loop.sock_recv`` awaits on one event loop:
  about what any awaited call must spend (the loop's own turns, in
  Python). ``floor-async/official`` is how low ``async/official`` can go.

Route classes: ``small`` (``GET /admin-api/peers``), ``list``
(``list_contexts``, a few contexts), ``rpc_small`` (``execute_function``
kv ``get``), ``rpc_large`` (``execute_function`` kv ``set`` of a 100 KB
value), ``big`` (``list_contexts`` of ~30 000 contexts, ~12 MB), ``blob``
(a 4 MiB download into ``bytes``, ours checking its SHA-256 as it does by
default) and ``blob_unchecked`` (the same with ``verify=False``: the work
every other client does, none of which checks the content).

Targets: the release test node; a canned local responder (benches/canned.py,
the test node's answers replayed at once: the client's cost alone); and a
real merod (../shared/node/merod, on loopback only) when it is there
(``--no-merod`` or its absence skips its rows, with the reason).

Rounds are interleaved (every client, then the next round), each a batch of
calls; the table gives medians over rounds, the CPU spread (min to max) and
the ratios of ours to the others, taken round by round (medians). For
``big`` on the canned responder, ``orjson.loads`` and ``json.loads`` of the
same bytes are timed in the same rounds (CPU of this process), and
``marshal.loads`` of the decoded objects (CPython's fastest loader: what
building those objects costs, whatever the decoder).

--write puts the tables in benches/RESULTS.md (between the
``<!-- clients.py -->`` markers) with the command.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

ROOT = Path(__file__).resolve().parent.parent
BENCHES = ROOT / "benches"
sys.path.insert(0, str(ROOT / "tests"))

import calimero  # noqa: E402
from testnode import TestNode  # noqa: E402


def shared_dir() -> Path:
    """../shared beside the project (a worktree may sit one level deeper),
    or $CALIMERO_SHARED_DIR."""
    env = os.environ.get("CALIMERO_SHARED_DIR")
    if env:
        return Path(env)
    for parent in ROOT.parents:
        if (parent / "shared").is_dir():
            return parent / "shared"
    return ROOT.parent / "shared"


OFFICIAL_WHEEL_DIR = shared_dir() / "reference" / "official"
OFFICIAL_VENV = ROOT / ".bench-venvs" / "official"
MEROD_DIR = shared_dir() / "node"
TESTNODE = ROOT / "target" / "release" / "calimero-testnode"
ROUTES = ("small", "list", "rpc_small", "rpc_large", "big", "blob", "blob_unchecked")
CLIENTS = (
    "ours",
    "ours-async",
    "official",
    "httpx-json",
    "httpx-orjson",
    "floor",
    "floor-async",
)
VALUE_BYTES = 100_000
BLOB_BYTES = 4 << 20


def official_python(skips: list[str]) -> str | None:
    """The official client's interpreter (its venv made on first use)."""
    wheels = sorted(OFFICIAL_WHEEL_DIR.glob("calimero_client_py-0.6.31-*.whl"))
    if not wheels:
        skips.append(f"official: no 0.6.31 wheel in {OFFICIAL_WHEEL_DIR}")
        return None
    python = OFFICIAL_VENV / "bin" / "python"
    if not python.exists():
        base = shutil.which("python3.11") or sys.executable
        subprocess.run([base, "-m", "venv", str(OFFICIAL_VENV)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", str(wheels[-1])], check=True)
    return str(python)


class Worker:
    def __init__(self, kind: str, python: str, setup: dict[str, Any]):
        self.kind = kind
        self.proc = subprocess.Popen(
            [python, str(BENCHES / "clients_worker.py"), kind],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        self.send(setup)

    def send(self, msg: dict[str, Any]) -> dict[str, Any]:
        assert self.proc.stdin and self.proc.stdout
        self.proc.stdin.write(json.dumps(msg) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"{self.kind}: worker exited")
        answer = json.loads(line)
        if "error" in answer:
            raise RuntimeError(f"{self.kind}: {answer['error']}")
        return answer

    def run(self, route: str, calls: int) -> tuple[float, float] | None:
        """Seconds per call (wall, CPU), or None when the client lacks the route."""
        a = self.send({"route": route, "calls": calls})
        return None if a.get("skip") else (a["wall"], a["cpu"])

    def stop(self) -> None:
        if self.proc.stdin:
            self.proc.stdin.close()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Merod:
    """A real merod on loopback (never reaching outside), in a temporary home."""

    def __init__(self) -> None:
        binary = MEROD_DIR / "merod"
        self.home = Path(tempfile.mkdtemp(prefix="bench-merod-"))
        port, swarm = free_port(), free_port()
        env = dict(os.environ, HTTPS_PROXY="http://127.0.0.1:9", NO_PROXY="127.0.0.1,localhost")
        base = [str(binary), "--home", str(self.home), "--node", "n1"]
        quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL, "env": env}
        subprocess.run(
            [*base, "init", "--server-host", "127.0.0.1", "--server-port", str(port),
             "--swarm-host", "127.0.0.1", "--swarm-port", str(swarm), "--no-mdns"],
            check=True, **quiet,
        )  # fmt: skip
        subprocess.run([*base, "config", "bootstrap.nodes=[]"], check=True, **quiet)
        self.log = (self.home / "run.log").open("w")
        self.proc = subprocess.Popen(
            [*base, "run"], stdout=self.log, stderr=subprocess.STDOUT, env=env
        )
        self.url = f"http://127.0.0.1:{port}"
        client = calimero.create_client(calimero.create_connection(self.url))
        deadline = time.time() + 30
        while True:
            try:
                client.health()
                break
            except calimero.ClientError:
                if time.time() > deadline or self.proc.poll() is not None:
                    self.stop()
                    raise RuntimeError("merod did not start") from None
                time.sleep(0.2)

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.log.close()
        shutil.rmtree(self.home, ignore_errors=True)


def populate(url: str, wasm: Path, contexts: int) -> dict[str, Any]:
    """An application, `contexts` contexts (the first one's kv `k` set), a
    4 MiB blob; the ids the workers need."""
    client = calimero.create_client(calimero.create_connection(url))
    app = client.install_dev_application(str(wasm))["data"]["applicationId"]
    ns = client.create_namespace(app)["data"]["namespaceId"]
    ctx = client.create_context(app, ns)["data"]["contextId"]
    for _ in range(contexts - 1):
        client.create_context(app, ns)
    client.execute_function(ctx, "set", {"key": "k", "value": "hello"})
    # merod refuses a value whose log is too large ("log size overflow"):
    # the largest of 100 KB, 50 KB, ... that it takes.
    value_bytes = VALUE_BYTES
    # execute_function returns the node's error in its envelope, as 0.6.31
    # did; call() would raise it.
    while True:
        answer = client.execute_function(ctx, "set", {"key": "big", "value": "v" * value_bytes})
        if "error" not in answer:
            break
        if value_bytes < 2000:
            raise RuntimeError(f"kv set refused: {answer['error']}")
        value_bytes //= 2
    blob = client.upload_blob(os.urandom(BLOB_BYTES))["data"]["blob_id"]
    client.connection.close()
    return {"context_id": ctx, "blob_id": blob, "value_bytes": value_bytes, "app_id": app}


def record_canned(url: str, big_url: str, setup: dict[str, Any], tmp: Path) -> tuple[Path, Path]:
    """The test node's answers to every route, as two canned tables."""
    import httpx

    hx = httpx.Client()
    ctx = setup["context_id"]

    def rpc(method: str, args: Any) -> httpx.Response:
        body = {
            "jsonrpc": "2.0",
            "id": 1,
            "method": "execute",
            "params": {"contextId": ctx, "method": method, "argsJson": args},
        }
        return hx.post(url + "/jsonrpc", json=body)

    def save(name: str, table: dict[str, Any], key: str, r: httpx.Response) -> None:
        r.raise_for_status()
        body_file = tmp / f"{name}.body"
        body_file.write_bytes(r.content)
        keep = [
            (k, v)
            for k, v in r.headers.items()
            if k.lower() not in ("content-length", "date", "connection", "transfer-encoding")
        ]
        table[key] = {"status": r.status_code, "headers": keep, "body_file": str(body_file)}

    small: dict[str, Any] = {}
    save("peers", small, "GET /admin-api/peers", hx.get(url + "/admin-api/peers"))
    save("contexts", small, "GET /admin-api/contexts", hx.get(url + "/admin-api/contexts"))
    save("rpc_get", small, "POST /jsonrpc", rpc("get", {"key": "k"}))
    # One table entry per route: `set` answers like `get` but for its output,
    # and the client cost of sending the large argument is what is measured.
    blob_key = f"GET /admin-api/blobs/{setup['blob_id']}"
    save("blob", small, blob_key, hx.get(url + blob_key.split(" ", 1)[1]))
    # The test node pages `GET /admin-api/contexts` (100 by default): the
    # whole list is the answer of the application's contexts, served here
    # as the list (the same shape), so every client, the official one
    # included, decodes the same 12 MB with the call it has.
    big: dict[str, Any] = {}
    save("big", big, "GET /admin-api/contexts", hx.get(big_url + setup["big_path"]))
    paths = tmp / "small.json", tmp / "big.json"
    paths[0].write_text(json.dumps(small))
    paths[1].write_text(json.dumps(big))
    return paths


class Canned:
    def __init__(self, table: Path, delay: float = 0.0):
        portfile = table.with_suffix(".port")
        portfile.unlink(missing_ok=True)
        self.proc = subprocess.Popen(
            [sys.executable, str(BENCHES / "canned.py"), str(table), str(portfile), str(delay)]
        )
        deadline = time.time() + 10
        while not (portfile.exists() and portfile.read_text()):
            if time.time() > deadline:
                raise RuntimeError("canned responder did not start")
            time.sleep(0.05)
        self.url = f"http://127.0.0.1:{portfile.read_text()}"

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait()


def calls_per_batch(route: str, target: str, quick: bool) -> int:
    n = {
        "small": 200,
        "list": 200,
        "rpc_small": 200,
        "rpc_large": 50,
        "big": 2,
        "blob": 20,
        "blob_unchecked": 20,
    }[route]
    if target == "merod" and route in ("rpc_small", "rpc_large"):
        n //= 2
    return max(1, n // 4) if quick else n


def measure(
    target: str,
    setup: dict[str, Any],
    pythons: dict[str, str],
    routes: tuple[str, ...],
    rounds: int,
    quick: bool,
    big_body: bytes | None,
) -> dict[str, dict[str, list[tuple[float, float]]]]:
    """route -> client -> [(wall, cpu) per call, one per round]."""
    workers = [Worker(kind, pythons[kind], setup) for kind in CLIENTS if kind in pythons]
    out: dict[str, dict[str, list[tuple[float, float]]]] = {r: {} for r in routes}
    decoders: list[tuple[str, Callable[[Any], Any], Any]] = []
    if big_body is not None:
        import marshal

        import orjson

        # marshal.loads rebuilds the same objects from CPython's own binary
        # form, its fastest loader: the cost of the objects alone.
        decoders = [
            ("orjson.loads", orjson.loads, big_body),
            ("json.loads", json.loads, big_body),
            ("marshal.loads", marshal.loads, marshal.dumps(json.loads(big_body))),
        ]
    try:
        for route in routes:
            for w in workers:
                w.run(route, max(1, calls_per_batch(route, target, quick) // 4))  # warm-up
        for i in range(rounds):
            for route in routes:
                n = calls_per_batch(route, target, quick)
                order = workers[i % len(workers) :] + workers[: i % len(workers)]
                for w in order:
                    sample = w.run(route, n)
                    if sample is not None:
                        out[route].setdefault(w.kind, []).append(sample)
                if route == "big" and big_body is not None:
                    for name, loads, data in decoders:
                        wall, cpu = time.perf_counter(), time.process_time()
                        loads(data)
                        took = (time.perf_counter() - wall, time.process_time() - cpu)
                        out[route].setdefault(name, []).append(took)
    finally:
        for w in workers:
            w.stop()
    return out


def fmt(seconds: float, route: str) -> str:
    return f"{seconds * 1e3:.1f}" if route == "big" else f"{seconds * 1e6:.0f}"


def ratio(a: list[tuple[float, float]], b: list[tuple[float, float]] | None) -> str:
    if not a or not b:
        return ""
    return f"{statistics.median(x[1] / y[1] for x, y in zip(a, b)):.2f}x"


def table(target: str, data: dict[str, dict[str, list[tuple[float, float]]]]) -> str:
    lines = [
        f"**{target}**: wall / CPU per call, medians (us; ms for `big`), CPU spread "
        "min to max; CPU ratios of `ours` round by round",
        "",
        "| route | " + " | ".join(CLIENTS) + " | ours/official | ours/httpx-json "
        "| ours/httpx-orjson | async/official | floor/official | floor-async/official |",
        "|---|" + "---|" * (len(CLIENTS) + 6),
    ]
    for route, by_client in data.items():
        cells = []
        for kind in CLIENTS:
            s = by_client.get(kind)
            if not s:
                cells.append("n/a")
                continue
            wall = statistics.median(x[0] for x in s)
            cpus = [x[1] for x in s]
            cells.append(
                f"{fmt(wall, route)} / {fmt(statistics.median(cpus), route)} "
                f"({fmt(min(cpus), route)}-{fmt(max(cpus), route)})"
            )
        ours = by_client.get("ours", [])
        cells += [
            ratio(ours, by_client.get("official")),
            ratio(ours, by_client.get("httpx-json")),
            ratio(ours, by_client.get("httpx-orjson")),
            ratio(by_client.get("ours-async", []), by_client.get("official")),
            ratio(by_client.get("floor", []), by_client.get("official")),
            ratio(by_client.get("floor-async", []), by_client.get("official")),
        ]
        lines.append(f"| {route} | " + " | ".join(cells) + " |")
    extra = [k for k in ("orjson.loads", "json.loads", "marshal.loads") if k in data.get("big", {})]
    if extra:
        lines.append("")
        ours = data["big"].get("ours", [])
        for k in extra:
            s = data["big"][k]
            what = (
                "the same objects rebuilt by `marshal.loads` (CPython's fastest loader)"
                if k == "marshal.loads"
                else f"`big` bytes through `{k}`"
            )
            line = (
                f"- {what} alone (no I/O): "
                f"{fmt(statistics.median(x[1] for x in s), 'big')} ms CPU "
                f"({fmt(min(x[1] for x in s), 'big')}-{fmt(max(x[1] for x in s), 'big')}); "
                f"the whole `ours` call over it: {ratio(ours, s)}"
            )
            if k == "marshal.loads":
                whole = ratio(s, data["big"].get("httpx-orjson"))
                line += f"; it over `httpx-orjson`'s whole call: {whole}"
            lines.append(line)
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--write", action="store_true")
    parser.add_argument("--no-merod", action="store_true")
    parser.add_argument("--contexts", type=int, default=30000, help="contexts of `big`")
    parser.add_argument("--targets", default="canned,testnode,merod")
    args = parser.parse_args()
    rounds = 3 if args.quick else args.rounds
    contexts = 2000 if args.quick else args.contexts
    targets = args.targets.split(",")
    skips: list[str] = []
    pythons = {k: sys.executable for k in CLIENTS if k != "official"}
    official = official_python(skips)
    if official:
        pythons["official"] = official
    if not TESTNODE.exists():
        subprocess.run(
            ["cargo", "build", "--release", "--locked", "-p", "calimero-testnode"],
            cwd=ROOT,
            check=True,
        )
    os.environ["CALIMERO_TESTNODE_BIN"] = str(TESTNODE)
    tmp = Path(tempfile.mkdtemp(prefix="bench-clients-"))
    wasm = tmp / "app.wasm"
    wasm.write_bytes(b"\0asm\x01\0\0\0" + os.urandom(64) + b"calimero_abi_v1")
    sections: list[str] = []
    stop: list[Any] = []
    try:
        node, big_node = TestNode("--allow-private-urls"), TestNode("--allow-private-urls")
        stop += [node, big_node]
        setup = populate(node.url, wasm, 10)
        big_setup = populate(big_node.url, wasm, contexts)
        setup["url"], setup["big_url"] = node.url, big_node.url
        setup["big_app"] = big_setup["app_id"]
        setup["big_path"] = f"/admin-api/contexts/for-application/{big_setup['app_id']}"
        if "canned" in targets:
            small_table, big_table = record_canned(node.url, big_node.url, setup, tmp)
            canned, canned_big = Canned(small_table), Canned(big_table)
            stop += [canned, canned_big]
            body = Path(json.loads(big_table.read_text())["GET /admin-api/contexts"]["body_file"])
            data = measure(
                "canned",
                dict(setup, url=canned.url, big_url=canned_big.url, big_app=None),
                pythons,
                ROUTES,
                rounds,
                args.quick,
                body.read_bytes(),
            )
            size = body.stat().st_size / 1e6
            sections.append(table(f"canned local responder (`big`: {size:.1f} MB)", data))
        if "testnode" in targets:
            data = measure("testnode", setup, pythons, ROUTES, rounds, args.quick, None)
            sections.append(table(f"test node, release build ({contexts} contexts in `big`)", data))
        if "merod" in targets:
            if args.no_merod:
                skips.append("merod: --no-merod")
            elif not (MEROD_DIR / "merod").exists() or not (MEROD_DIR / "kv_store.wasm").exists():
                skips.append(f"merod: no merod and kv_store.wasm in {MEROD_DIR}")
            else:
                merod = Merod()
                stop.append(merod)
                msetup = populate(merod.url, MEROD_DIR / "kv_store.wasm", 10)
                print(f"merod: rpc_large value {msetup['value_bytes']} bytes", file=sys.stderr)
                msetup["url"] = msetup["big_url"] = merod.url
                msetup["big_app"] = None
                routes = tuple(r for r in ROUTES if r != "big")
                skips.append(
                    "merod `big`: ~22 000 contexts make 10 MB on rc.25, and it creates about "
                    "30 a second (12 minutes); the canned row is the same client work"
                )
                data = measure("merod", msetup, pythons, routes, rounds, args.quick, None)
                sections.append(
                    table(
                        f"real merod 0.11.0-rc.25 (10 contexts; `rpc_large`: a "
                        f"{msetup['value_bytes'] // 1000} KB value)",
                        data,
                    )
                )
    finally:
        for s in reversed(stop):
            s.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    if skips:
        sections.append("Skipped: " + "; ".join(skips) + ".")
    text = "\n\n".join(sections)
    print(text)
    if args.write:
        results = BENCHES / "RESULTS.md"
        old = results.read_text()
        command = "python benches/clients.py " + " ".join(sys.argv[1:])
        block = (
            "<!-- clients.py -->\n"
            f"Command: `{command}` ({rounds} rounds). Date: {time.strftime('%Y-%m-%d')}.\n\n"
            + text
            + "\n<!-- /clients.py -->"
        )
        start, end = old.find("<!-- clients.py -->"), old.find("<!-- /clients.py -->")
        if start >= 0 and end > start:
            new = old[:start] + block + old[end + len("<!-- /clients.py -->") :]
        else:
            new = old.rstrip("\n") + "\n\n## Clients, route by route\n\n" + block + "\n"
        results.write_text(new)
    return 0


if __name__ == "__main__":
    sys.exit(main())
