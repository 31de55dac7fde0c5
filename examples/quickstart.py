"""A tour of the SDK against a node: system, applications, packages,
namespaces, contexts and JSON-RPC.

    CALIMERO_NODE_URL=http://127.0.0.1:2528 python examples/quickstart.py path/to/app.wasm

The wasm path is a file on the node's own disk (install-dev-application);
the demo script writes one for the bundled test node.
"""

from __future__ import annotations

import json
import os
import sys

import calimero


def show(title: str, value: object) -> None:
    text = json.dumps(value, ensure_ascii=False)
    print(f"{title:<28} {text if len(text) <= 110 else text[:107] + '...'}")


def main() -> int:
    url = os.environ.get("CALIMERO_NODE_URL", "http://127.0.0.1:2528")
    wasm = sys.argv[1] if len(sys.argv) > 1 else os.environ.get("CALIMERO_APP_PATH")
    if not wasm:
        print("usage: quickstart.py PATH_OF_APP_ON_THE_NODE", file=sys.stderr)
        return 2

    conn = calimero.create_connection(url, node_name="quickstart")
    client = calimero.create_client(conn)
    print(f"calimero {calimero.__version__} -> {conn.api_url}\n")

    # -- system
    show("auth mode", str(conn.detect_auth_mode()))
    show("health", client.health())
    show("ready", client.ready())
    show("peers", client.get_peers_count())
    show("network status", client.get_network_status())

    # -- applications and packages
    app_id = client.install_dev_application(wasm, package="com.example.kv", version="1.0.0")[
        "data"
    ]["applicationId"]
    show("installed application", app_id)
    show("applications", [a["id"] for a in client.list_applications()["data"]["apps"]])
    show("application versions", client.list_application_versions(app_id))
    try:
        abi = client.get_application_abi(app_id)["data"]
        show("ABI methods", [m["name"] for m in abi["methods"]])
    except calimero.ClientError as e:
        show("ABI", f"{type(e).__name__}: {e.message}")
    show("packages", client.list_packages())
    show("latest com.example.kv", client.get_latest_package_version("com.example.kv"))

    # -- namespaces and contexts
    ns_id = client.create_namespace(app_id, name="quickstart")["data"]["namespaceId"]
    show("namespace", ns_id)
    show("node identity", client.get_node_identity()["data"])
    created = client.create_context(app_id, ns_id, name="kv")["data"]
    ctx_id = created["contextId"]
    show("context", created)
    show(
        "contexts (limit 10)", [c["id"] for c in client.list_contexts(limit=10)["data"]["contexts"]]
    )
    show("context identities", client.get_context_identities(ctx_id)["data"])
    show("context group", client.get_context_group(ctx_id))
    show("usage", client.get_usage())

    # -- JSON-RPC
    client.call(ctx_id, "set", {"key": "hello", "value": "world"})
    client.execute_function(ctx_id, "set", '{"key": "answer", "value": "42"}')
    show("get hello", client.call(ctx_id, "get", {"key": "hello"}))
    show("entries", client.call(ctx_id, "entries"))
    show("sync status", client.sync_status(ctx_id))
    try:
        client.call(ctx_id, "no_such_method")
    except calimero.RpcError as e:
        show("RpcError", f"{e.type}: {e.data}")
    try:
        client.get_context("11111111111111111111111111111111")
    except calimero.NotFoundError as e:
        show("NotFoundError", f"{e.status} {e.message}")
    try:
        client.get_context("not-an-id")
    except ValueError as e:
        show("ValueError (no I/O)", str(e))

    # -- clean up
    show("delete context", client.delete_context(ctx_id))
    show("delete namespace", client.delete_namespace(ns_id))
    show("uninstall", client.uninstall_application(app_id))
    return 0


if __name__ == "__main__":
    sys.exit(main())
