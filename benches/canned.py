"""A canned local responder: answers every request from a table of recorded
answers, at once, so that a call's time is the client's own.

    python benches/canned.py TABLE.json PORTFILE

TABLE.json maps ``"METHOD /path"`` (no query) to ``{"status", "headers",
"body_file"}``; a body recorded from a JSON-RPC answer has its ``"id"``
replaced by the request's id (the id a client sent comes back, as from a
node). Listens on a free loopback port (written to PORTFILE), HTTP/1.1 with
keep-alive, until killed. Started by benches/clients.py in its own process,
so its CPU time is not the client's.
"""

from __future__ import annotations

import asyncio
import json
import re
import sys
from pathlib import Path
from typing import ClassVar

ID = re.compile(rb'"id"\s*:\s*("(?:[^"\\]|\\.)*"|-?\d+|null)')


def load(table_path: str) -> dict[bytes, tuple[bytes, bytes, bytes | None]]:
    """(method, path) -> (head without content-length, body, rpc template)."""
    table = json.loads(Path(table_path).read_text())
    out = {}
    for key, spec in table.items():
        body = Path(spec["body_file"]).read_bytes()
        head = f"HTTP/1.1 {spec['status']} OK\r\n".encode()
        for name, value in spec["headers"]:
            head += f"{name}: {value}\r\n".encode()
        template = None
        if key.startswith("POST ") and key.endswith("/jsonrpc"):
            m = ID.search(body)
            if m:
                template = body[: m.start(1)] + b"\0ID\0" + body[m.end(1) :]
        out[key.encode()] = (head, body, template)
    return out


class Responder(asyncio.Protocol):
    table: ClassVar[dict[bytes, tuple[bytes, bytes, bytes | None]]] = {}

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.buf = b""

    def data_received(self, data: bytes) -> None:
        self.buf += data
        while True:
            end = self.buf.find(b"\r\n\r\n")
            if end < 0:
                return
            head = self.buf[:end]
            length = 0
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            if len(self.buf) < end + 4 + length:
                return
            body = self.buf[end + 4 : end + 4 + length]
            self.buf = self.buf[end + 4 + length :]
            method, target, _ = head.split(b"\r\n", 1)[0].split(b" ", 2)
            self.answer(method + b" " + target.split(b"?", 1)[0], body)

    def answer(self, key: bytes, request_body: bytes) -> None:
        entry = self.table.get(key)
        if entry is None:
            msg = b'{"error":"not canned: ' + key + b'"}'
            head = b"HTTP/1.1 404 Not Found\r\ncontent-type: application/json\r\n"
            self.transport.write(head + b"content-length: %d\r\n\r\n" % len(msg) + msg)
            return
        head, body, template = entry
        if template is not None:
            m = ID.search(request_body)
            body = template.replace(b"\0ID\0", m.group(1) if m else b"1")
        self.transport.write(head + b"content-length: %d\r\n\r\n" % len(body))
        self.transport.write(body)


async def main() -> None:
    Responder.table = load(sys.argv[1])
    loop = asyncio.get_running_loop()
    server = await loop.create_server(Responder, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    Path(sys.argv[2]).write_text(str(port))
    await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main())
