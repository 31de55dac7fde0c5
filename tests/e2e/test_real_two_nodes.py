"""Two real merod 0.11.0-rc.25 nodes peered on loopback: a namespace
invitation joined from the second node, a context joined there and its
state synced both ways, a group joined, a blob fetched from the peer, and a
remote write seen as an event (sync and async).

The flow is the one recorded in contract/merod-rc25-twonode.md, part B.
"""

from __future__ import annotations

import concurrent.futures
from typing import Any

import pytest

import calimero
from conftest import AsyncDriven
from e2e.conftest import WAIT, wait_for


@pytest.fixture(params=["sync", "async"])
def pair(
    peers: tuple[Any, Any], request: pytest.FixtureRequest, event_loop_thread: Any
) -> tuple[Any, Any]:
    """A client of each peer, both ``Client`` or both ``AsyncClient``."""

    def make(node: Any) -> Any:
        conn = calimero.create_connection(node.url)
        if request.param == "async":
            return AsyncDriven(calimero.create_async_client(conn), event_loop_thread)
        return calimero.create_client(conn)

    return make(peers[0]), make(peers[1])


@pytest.fixture(scope="session")
def first(peers: tuple[Any, Any]) -> calimero.Client:
    return calimero.create_client(calimero.create_connection(peers[0].url))


@pytest.fixture(scope="session")
def peer_kv_app(first: calimero.Client, kv_store_path: str) -> str:
    return first.install_dev_application(kv_store_path)["data"]["applicationId"]


@pytest.fixture(scope="session")
def peer_blobs_app(first: calimero.Client, blobs_app_path: str) -> str:
    return first.install_dev_application(blobs_app_path)["data"]["applicationId"]


def join(one: Any, two: Any, namespace: str) -> dict[str, Any]:
    """The second node joins the namespace with an invitation of the first,
    passed back as the first node gave it."""
    invitation = one.create_namespace_invitation(namespace)["data"]["invitation"]
    return two.join_namespace(namespace, invitation)["data"]


def synced(client: Any, ctx: str, key: str, value: str) -> None:
    """Waits until ``key`` reads ``value`` on the client's node (it asks
    for a sync of the context first; before it, calls fail Uninitialized)."""
    client.sync_context(ctx)
    wait_for(lambda: client.call(ctx, "get", {"key": key}) == value, f"{key!r} to sync")


def test_the_nodes_are_peered(peers: tuple[Any, Any]) -> None:
    ids = []
    for node in peers:
        client = calimero.create_client(calimero.create_connection(node.url))
        assert client.get_peers_count() == {"count": 1}
        status = client.get_network_status()
        assert status["localPeerId"] == getattr(node, "peer_id", status["localPeerId"])
        ids.append(status["localPeerId"])
    assert ids[0] != ids[1]


def test_namespace_joined_and_state_synced_both_ways(
    pair: tuple[Any, Any], peer_kv_app: str
) -> None:
    one, two = pair
    ns = one.create_namespace(peer_kv_app, name="e2e-two")["data"]["namespaceId"]
    ctx = one.create_context(peer_kv_app, ns)["data"]["contextId"]
    one.call(ctx, "set", {"key": "before-join", "value": "written-on-node1"})

    joined = join(one, two, ns)
    assert joined["namespaceId"] == ns
    identity = two.get_node_identity()["data"]
    assert joined["memberAccount"] == identity["accountId"]
    members = {m["identity"]: m["role"] for m in one.list_group_members(ns)["members"]}
    assert members[identity["accountId"]] == "Member"
    listed = {n["namespaceId"]: n for n in two.list_namespaces()["data"]}
    assert listed[ns]["memberCount"] == 2

    member = two.join_context(ctx)["data"]
    assert member["contextId"] == ctx
    synced(two, ctx, "before-join", "written-on-node1")
    two.call(ctx, "set", {"key": "from-node2", "value": "hello-node1"})
    one.call(ctx, "set", {"key": "from-node1", "value": "hello-node2"})
    synced(one, ctx, "from-node2", "hello-node1")
    synced(two, ctx, "from-node1", "hello-node2")
    expected = {
        "before-join": "written-on-node1",
        "from-node1": "hello-node2",
        "from-node2": "hello-node1",
    }
    assert one.call(ctx, "entries") == two.call(ctx, "entries") == expected
    identities = set(one.get_context_identities(ctx)["data"]["identities"])
    assert member["memberPublicKey"] in identities and len(identities) == 2
    assert two.get_context_identities_owned(ctx) == {
        "data": {"identities": [member["memberPublicKey"]]}
    }
    status = two.sync_status(ctx)
    assert status["isInitialized"] is True and status["failureCount"] == 0

    # The second node got the application from the first (a blob share).
    apps = {a["id"]: a for a in two.list_applications()["data"]["apps"]}
    assert apps[peer_kv_app]["source"] == "calimero://pending-blob-share"

    assert two.leave_context(ctx)["data"]["contextId"] == ctx
    assert two.get_context_identities_owned(ctx) == {"data": {"identities": []}}
    with pytest.raises(calimero.RpcError, match="No owned identity"):
        two.call(ctx, "len")


def test_a_group_joined_from_the_second_node(pair: tuple[Any, Any], peer_kv_app: str) -> None:
    one, two = pair
    ns = one.create_namespace(peer_kv_app, name="e2e-two-groups")["data"]["namespaceId"]
    account = join(one, two, ns)["memberAccount"]
    group = one.create_group_in_namespace(ns, "team")["data"]["groupId"]
    invitation = one.create_group_invitation(group)["data"]
    assert invitation["groupName"] == "team"
    joined = two.join_group(invitation["invitation"])["data"]
    assert (joined["groupId"], joined["memberAccount"]) == (group, account)
    members = {m["identity"]: m["role"] for m in one.list_group_members(group)["members"]}
    assert members[account] == "Member"


def test_a_blob_fetched_from_the_peer(pair: tuple[Any, Any], peer_blobs_app: str) -> None:
    """core's blobs app on the first node records an uploaded blob; the
    second node joins, reads the record and downloads the blob from its
    peer."""
    one, two = pair
    ns = one.create_namespace(peer_blobs_app, name="e2e-two-blobs")["data"]["namespaceId"]
    ctx = one.create_context(peer_blobs_app, ns)["data"]["contextId"]
    data = b"shared across the peers\n" * 40_000
    blob_id = one.upload_blob(data, context_id=ctx)["data"]["blob_id"]
    args = {"name": "shared.txt", "blob_id": blob_id, "size": len(data), "mime_type": "text/plain"}
    file_id = one.call(ctx, "upload_file", args)
    join(one, two, ns)
    two.join_context(ctx)
    two.sync_context(ctx)
    record = wait_for(lambda: two.call(ctx, "get_file", {"file_id": file_id}), "the file record")
    assert record["blob_id"] == blob_id
    assert two.download_blob(blob_id, context_id=ctx) == data
    assert two.get_blob_info(blob_id)["data"]["size"] == len(data)


@pytest.mark.parametrize("transport", ["sse", "ws"])
def test_a_write_on_the_peer_arrives_as_an_event(
    peers: tuple[Any, Any], first: calimero.Client, peer_kv_app: str, transport: str
) -> None:
    """A write applied from the peer is a StateMutation on this node too,
    with no app events (those are emitted where the call ran)."""
    two = calimero.create_client(calimero.create_connection(peers[1].url))
    ns = first.create_namespace(peer_kv_app)["data"]["namespaceId"]
    ctx = first.create_context(peer_kv_app, ns)["data"]["contextId"]
    join(first, two, ns)
    two.join_context(ctx)
    first.call(ctx, "set", {"key": "k0", "value": "v"})
    synced(two, ctx, "k0", "v")
    with first.subscribe(ctx, transport=transport) as sub:
        two.call(ctx, "set", {"key": "k1", "value": "from-the-peer"})
        event = _next(sub)
    assert event["type"] == "StateMutation" and event["contextId"] == ctx
    assert event["data"]["events"] == []
    assert first.call(ctx, "get", {"key": "k1"}) == "from-the-peer"


def _next(sub: calimero.Subscription) -> dict[str, Any]:
    """The next event but the node's SyncStatus ones (sent whenever it
    syncs the context, as it does for a peer's write)."""
    pool = concurrent.futures.ThreadPoolExecutor(1)
    try:
        return pool.submit(next, (e for e in sub if e["type"] != "SyncStatus")).result(timeout=WAIT)
    finally:
        pool.shutdown(wait=False)
