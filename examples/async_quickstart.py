"""The asyncio client: many calls at once over one connection.

    CALIMERO_NODE_URL=http://127.0.0.1:2528 python examples/async_quickstart.py path/to/app.wasm

The wasm path is a file on the node's own disk (install-dev-application);
the demo script writes one for the bundled test node. Type-checked with
``mypy --strict`` by the test command, against the package's stubs.
"""

from __future__ import annotations

import asyncio
import os
import sys

import calimero
from calimero.types import ContextList, CreateContextResponse


async def main(url: str, wasm: str) -> int:
    conn = calimero.create_connection(url, node_name="async-quickstart")
    async with calimero.create_async_client(conn) as client:
        health = await client.health()
        print("health:", health["data"]["status"])

        installed = await client.install_dev_application(wasm, package="com.example.kv")
        app_id: str = installed["data"]["applicationId"]
        namespace = await client.create_namespace(app_id, name="async-demo")
        created: CreateContextResponse = await client.create_context(
            app_id, namespace["data"]["namespaceId"]
        )
        context_id = created["data"]["contextId"]

        # 64 writes in flight at once, then 64 reads.
        await asyncio.gather(
            *(client.call(context_id, "set", {"key": f"k{i}", "value": str(i)}) for i in range(64))
        )
        values = await asyncio.gather(
            *(client.call(context_id, "get", {"key": f"k{i}"}) for i in range(64))
        )
        print("read back:", len(values), "values, first", values[0], "last", values[-1])

        contexts: ContextList = await client.list_contexts()
        print("contexts:", [c["id"] for c in contexts["data"]["contexts"]])

        try:
            await asyncio.wait_for(client.call(context_id, "len"), timeout=5)
        except asyncio.TimeoutError:
            print("the node is slow today")
        try:
            await client.get_context("11111111111111111111111111111111")
        except calimero.NotFoundError as e:
            print("not found:", e.status, e.message)
    return 0


if __name__ == "__main__":
    node_url = os.environ.get("CALIMERO_NODE_URL", "http://127.0.0.1:2528")
    app = sys.argv[1] if len(sys.argv) > 1 else os.environ.get("CALIMERO_APP_PATH", "")
    if not app:
        print("usage: async_quickstart.py PATH_OF_APP_ON_THE_NODE", file=sys.stderr)
        sys.exit(2)
    sys.exit(asyncio.run(main(node_url, app)))
