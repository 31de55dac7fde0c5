"""One client in its own process, timed call by call for benches/clients.py.

    python benches/clients_worker.py CLIENT

CLIENT is ``ours``, ``ours-async``, ``official`` (the official 0.6.31 wheel,
run by its own virtualenv's interpreter), ``httpx-json`` or
``httpx-orjson``. Reads JSON lines on stdin: first the set-up (``url``,
``big_url``, ``big_app``, ``context_id``, ``blob_id``, ``value_bytes``), then
``{"route": R, "calls": N}``, answered by ``{"wall": s, "cpu": s}`` per
call. CPU is ``time.process_time()``: every thread of this process (the
client's runtime threads included). The first call of a route is not timed
separately: the driver sends a warm-up batch.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from typing import Any, Callable

ROUTES = ("small", "list", "rpc_small", "rpc_large", "big", "blob", "blob_unchecked")


def ours_calls(setup: dict[str, Any]) -> dict[str, Callable[[], Any]]:
    import calimero

    client = calimero.create_client(calimero.create_connection(setup["url"]))
    big = calimero.create_client(calimero.create_connection(setup["big_url"]))
    ctx, value = setup["context_id"], "v" * setup["value_bytes"]
    return {
        "small": client.get_peers_count,
        "list": client.list_contexts,
        "rpc_small": lambda: client.execute_function(ctx, "get", {"key": "k"}),
        "rpc_large": lambda: client.execute_function(ctx, "set", {"key": "big", "value": value}),
        "big": big_call(big, setup),
        "blob": lambda: client.download_blob(setup["blob_id"]),
        # The official client's work: no SHA-256 check of the content.
        "blob_unchecked": lambda: client.download_blob(setup["blob_id"], verify=False),
    }


def big_call(client: Any, setup: dict[str, Any]) -> Callable[[], Any]:
    """`big`: `list_contexts`, or the contexts of `big_app` (the whole list
    of a test node, which pages `list_contexts`)."""
    app = setup.get("big_app")
    if app is None:
        return client.list_contexts
    return lambda: client.get_contexts_for_application(app)


def ours_async_calls(setup: dict[str, Any]) -> dict[str, Callable[[int], Any]]:
    import calimero

    client = calimero.create_async_client(calimero.create_connection(setup["url"]))
    big = calimero.create_async_client(calimero.create_connection(setup["big_url"]))
    ctx, value = setup["context_id"], "v" * setup["value_bytes"]
    calls = {
        "small": client.get_peers_count,
        "list": client.list_contexts,
        "rpc_small": lambda: client.execute_function(ctx, "get", {"key": "k"}),
        "rpc_large": lambda: client.execute_function(ctx, "set", {"key": "big", "value": value}),
        "big": big_call(big, setup),
        "blob": lambda: client.download_blob(setup["blob_id"]),
        "blob_unchecked": lambda: client.download_blob(setup["blob_id"], verify=False),
    }
    loop = asyncio.new_event_loop()

    def batch(call: Callable[[], Any]) -> Callable[[int], Any]:
        async def run(n: int) -> None:
            for _ in range(n):
                await call()

        return lambda n: loop.run_until_complete(run(n))

    return {name: batch(call) for name, call in calls.items()}


def official_calls(setup: dict[str, Any]) -> dict[str, Callable[[], Any]]:
    import calimero_client_py as official

    client = official.create_client(official.create_connection(setup["url"]))
    big = official.create_client(official.create_connection(setup["big_url"]))
    ctx, value = setup["context_id"], "v" * setup["value_bytes"]
    # It takes `args` as JSON text only: dumping it is part of its call.
    # It has no get_contexts_for_application: `big` only where list_contexts
    # gives the whole list.
    calls = {
        "small": client.get_peers_count,
        "list": client.list_contexts,
        "rpc_small": lambda: client.execute_function(ctx, "get", json.dumps({"key": "k"})),
        "rpc_large": lambda: client.execute_function(
            ctx, "set", json.dumps({"key": "big", "value": value})
        ),
        "big": big.list_contexts,
        "blob": lambda: client.download_blob(setup["blob_id"]),
    }
    calls["blob_unchecked"] = calls["blob"]  # it never checks the content
    if setup.get("big_app") is not None:
        del calls["big"]
    return calls


def httpx_calls(setup: dict[str, Any], fast: bool) -> dict[str, Callable[[], Any]]:
    import httpx

    if fast:
        import orjson

        loads, dumps = orjson.loads, orjson.dumps
    else:
        loads, dumps = json.loads, lambda v: json.dumps(v).encode()
    hx = httpx.Client()
    url, big_url, ctx = setup["url"], setup["big_url"], setup["context_id"]
    app = setup.get("big_app")
    big_path = f"/admin-api/contexts/for-application/{app}" if app else "/admin-api/contexts"
    value = "v" * setup["value_bytes"]
    headers = {"content-type": "application/json"}
    ids = iter(range(1, 1 << 62))

    def get(u: str) -> Any:
        r = hx.get(u)
        r.raise_for_status()
        return loads(r.content)

    def rpc(method: str, args: Any) -> Any:
        body = {
            "jsonrpc": "2.0",
            "id": next(ids),
            "method": "execute",
            "params": {"contextId": ctx, "method": method, "argsJson": args},
        }
        r = hx.post(url + "/jsonrpc", content=dumps(body), headers=headers)
        r.raise_for_status()
        answer = loads(r.content)
        if answer.get("error") is not None:
            raise RuntimeError(answer["error"])
        return answer

    def blob() -> bytes:
        r = hx.get(f"{url}/admin-api/blobs/{setup['blob_id']}")
        r.raise_for_status()
        return r.content

    return {
        "small": lambda: get(url + "/admin-api/peers"),
        "list": lambda: get(url + "/admin-api/contexts"),
        "rpc_small": lambda: rpc("get", {"key": "k"}),
        "rpc_large": lambda: rpc("set", {"key": "big", "value": value}),
        "big": lambda: get(big_url + big_path),
        "blob": blob,
        "blob_unchecked": blob,
    }


def floor_requests(setup: dict[str, Any]) -> tuple[tuple[str, int], dict[str, bytes]]:
    """The floor clients' node address and request bytes, route by route."""
    from urllib.parse import urlsplit

    where = urlsplit(setup["url"])
    host, port = where.hostname or "127.0.0.1", where.port or 80

    def request(method: str, path: str, body: bytes = b"") -> bytes:
        head = f"{method} {path} HTTP/1.1\r\nHost: {host}:{port}\r\n"
        if body:
            head += f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
        return (head + "\r\n").encode() + body

    def rpc(method: str, args: dict[str, Any]) -> bytes:
        body = {
            "jsonrpc": "2.0",
            "id": 1,
            "method": "execute",
            "params": {"contextId": setup["context_id"], "method": method, "argsJson": args},
        }
        return request("POST", "/jsonrpc", json.dumps(body).encode())

    return (host, port), {
        "small": request("GET", "/admin-api/peers"),
        "list": request("GET", "/admin-api/contexts"),
        "rpc_small": rpc("get", {"key": "k"}),
        "rpc_large": rpc("set", {"key": "big", "value": "v" * setup["value_bytes"]}),
    }


def answer_size(head: bytes) -> int:
    """A floor client's answer length (it reads answers by length only)."""
    status = head.split(b" ", 2)[1]
    if status != b"200":
        raise RuntimeError(f"HTTP {status.decode()}")
    lines = head.lower().split(b"\r\n")
    sizes = [int(v.split(b":")[1]) for v in lines if v.startswith(b"content-length")]
    if not sizes:
        raise RuntimeError("the floor client reads answers by Content-Length only")
    return sizes[0]


def floor_async_calls(setup: dict[str, Any]) -> dict[str, Callable[[int], Any]]:
    """`floor-async`: the `floor` client on asyncio (the socket
    non-blocking, `loop.sock_sendall` and `loop.sock_recv`, sequential
    awaits on one event loop): what any awaited call must spend."""
    import socket

    address, requests = floor_requests(setup)
    sock = socket.create_connection(address)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.setblocking(False)
    loop = asyncio.new_event_loop()

    async def once(raw: bytes) -> bytes:
        await loop.sock_sendall(sock, raw)
        buf = b""
        while b"\r\n\r\n" not in buf:
            chunk = await loop.sock_recv(sock, 65536)
            if not chunk:
                raise ConnectionError("the node closed the connection")
            buf += chunk
        head, rest = buf.split(b"\r\n\r\n", 1)
        size = answer_size(head)
        while len(rest) < size:
            chunk = await loop.sock_recv(sock, 65536)
            if not chunk:
                raise ConnectionError("the node closed the connection")
            rest += chunk
        return rest

    def batch(raw: bytes) -> Callable[[int], Any]:
        async def run(n: int) -> None:
            for _ in range(n):
                await once(raw)

        return lambda n: loop.run_until_complete(run(n))

    return {route: batch(raw) for route, raw in requests.items()}


def floor_calls(setup: dict[str, Any]) -> dict[str, Callable[[], Any]]:
    """`floor`: what any client must spend, near enough: one keep-alive
    socket, each request's bytes built once beforehand, the answer read by
    its `Content-Length` and never decoded. The routes whose answer is
    short (`rpc_large`'s request is large, its answer is not)."""
    import socket

    address, requests = floor_requests(setup)
    sock = socket.create_connection(address)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def call(raw: bytes) -> Callable[[], bytes]:
        def run() -> bytes:
            sock.sendall(raw)
            buf = b""
            while b"\r\n\r\n" not in buf:
                chunk = sock.recv(65536)
                if not chunk:
                    raise ConnectionError("the node closed the connection")
                buf += chunk
            head, rest = buf.split(b"\r\n\r\n", 1)
            size = answer_size(head)
            while len(rest) < size:
                chunk = sock.recv(65536)
                if not chunk:
                    raise ConnectionError("the node closed the connection")
                rest += chunk
            return rest

        return run

    return {route: call(raw) for route, raw in requests.items()}


def main() -> int:
    kind = sys.argv[1]
    setup = json.loads(sys.stdin.readline())
    batched = kind in ("ours-async", "floor-async")
    if kind == "ours":
        calls: dict[str, Any] = ours_calls(setup)
    elif kind == "ours-async":
        calls = ours_async_calls(setup)
    elif kind == "official":
        calls = official_calls(setup)
    elif kind in ("httpx-json", "httpx-orjson"):
        calls = httpx_calls(setup, kind == "httpx-orjson")
    elif kind == "floor":
        calls = floor_calls(setup)
    elif kind == "floor-async":
        calls = floor_async_calls(setup)
    else:
        raise SystemExit(f"unknown client {kind}")
    print(json.dumps({"ready": True}), flush=True)
    for line in sys.stdin:
        cmd = json.loads(line)
        if cmd["route"] not in calls:
            print(json.dumps({"skip": True}), flush=True)
            continue
        call, n = calls[cmd["route"]], cmd["calls"]
        wall, cpu = time.perf_counter(), time.process_time()
        try:
            if batched:
                call(n)
            else:
                for _ in range(n):
                    call()
        except Exception as e:
            print(json.dumps({"error": f"{type(e).__name__}: {e}"[:300]}), flush=True)
            continue
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        print(json.dumps({"wall": wall / n, "cpu": cpu / n}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
