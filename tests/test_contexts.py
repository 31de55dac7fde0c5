"""Contexts against the test node."""

from __future__ import annotations

import json

import pytest

import calimero
from conftest import install_app, rc
from testnode import TestNode

MISSING = "11111111111111111111111111111111"


def test_create_get_list(client: calimero.Client, app_id: str, namespace_id: str) -> None:
    created = client.create_context(app_id, namespace_id, name="first")["data"]
    assert set(created) >= {"contextId", "memberPublicKey", "groupId", "groupCreated"}
    assert created["groupId"] == namespace_id
    ctx = client.get_context(created["contextId"])["data"]
    assert ctx["id"] == created["contextId"]
    assert ctx["applicationId"] == app_id
    listed = client.list_contexts()["data"]["contexts"]
    assert [c["id"] for c in listed] == [created["contextId"]]
    assert listed[0]["groupId"] == namespace_id


def test_create_requires_a_namespace_id(client: calimero.Client, app_id: str) -> None:
    with pytest.raises(ValueError, match="^group_id: expected 64 hexadecimal"):
        client.create_context(app_id, "not-hex")


def test_create_with_unknown_application_or_namespace(
    client: calimero.Client, app_id: str, namespace_id: str, node: TestNode
) -> None:
    if rc(node) < 44:
        # both seen on a real rc.25 node: an untyped failure, 500
        with pytest.raises(calimero.ServerError, match="Internal server error"):
            client.create_context(MISSING, namespace_id)
        with pytest.raises(calimero.ServerError, match="Internal server error"):
            client.create_context(app_id, "00" * 32)
        return
    # rc.44+ types them (core service.rs parse_api_error: ApplicationNotFound,
    # GroupNotFound -> 404), and the id given as base58 went out as hex.
    with pytest.raises(calimero.NotFoundError, match="not found") as info:
        client.create_context(MISSING, namespace_id)
    assert "0" * 64 in info.value.message
    with pytest.raises(calimero.NotFoundError, match="not found"):
        client.create_context(app_id, "00" * 32)


def test_create_with_params_as_bytes_str_and_objects(
    client: calimero.Client, node: TestNode, app_id: str, namespace_id: str
) -> None:
    for params, expected in [
        (None, []),
        (b"{}", [123, 125]),
        (bytearray(b"{}"), [123, 125]),
        ("{}", [123, 125]),
        ({}, [123, 125]),
    ]:
        node.clear_requests()
        client.create_context(app_id, namespace_id, params)
        sent = json.loads(node.requests()[-1]["body"])
        assert sent["initializationParams"] == expected
        assert sent["applicationId"] == app_id and sent["groupId"] == namespace_id


def test_init_rejecting_params_is_a_bad_request(
    client: calimero.Client, node: TestNode, app_id: str, namespace_id: str
) -> None:
    # the kv-store's init takes no arguments; the node answers 400 InitFailed
    with pytest.raises(calimero.BadRequestError, match="application initialization failed"):
        client.create_context(app_id, namespace_id, {"a": 1})
    sent = json.loads(node.requests()[-1]["body"])
    assert sent["initializationParams"] == list(b'{"a":1}')


def test_pagination(
    client: calimero.Client, app_id: str, namespace_id: str, node: TestNode
) -> None:
    ids = [client.create_context(app_id, namespace_id)["data"]["contextId"] for _ in range(5)]
    everything = [c["id"] for c in client.list_contexts()["data"]["contexts"]]
    assert sorted(everything) == sorted(ids)
    page = client.list_contexts(offset=1, limit=2)["data"]["contexts"]
    assert [c["id"] for c in page] == everything[1:3]
    assert node.requests()[-1]["query"] in ("offset=1&limit=2", "limit=2&offset=1")
    with pytest.raises(ValueError, match="^limit: "):
        client.list_contexts(limit=-1)
    with pytest.raises(TypeError, match="^offset: "):
        client.list_contexts(offset="1")  # type: ignore[arg-type]


def test_get_unknown_context_is_404(client: calimero.Client) -> None:
    with pytest.raises(calimero.NotFoundError) as info:
        client.get_context(MISSING)
    assert info.value.message == "Context not found"
    assert info.value.body == '{"error":"Context not found"}'


def test_identities_storage_group(
    client: calimero.Client, context_id: str, namespace_id: str
) -> None:
    ids = client.get_context_identities(context_id)["data"]["identities"]
    owned = client.get_context_identities_owned(context_id)["data"]["identities"]
    assert ids and owned and set(owned) <= set(ids)
    assert client.get_context_storage(context_id)["data"]["sizeInBytes"] >= 0
    assert client.get_context_group(context_id) == {"data": namespace_id}


def test_for_application_and_executors(
    client: calimero.Client, app_id: str, context_id: str
) -> None:
    contexts = client.get_contexts_for_application(app_id)["data"]["contexts"]
    assert [c["id"] for c in contexts] == [context_id]
    with_exec = client.get_contexts_with_executors_for_application(app_id)
    assert "data" not in with_exec
    (entry,) = with_exec["contexts"]
    assert entry["id"] == context_id and entry["application_id"] == app_id
    assert entry["executors"]


def test_sync_resync_join_leave(client: calimero.Client, context_id: str, node: TestNode) -> None:
    assert client.sync_all_contexts() == {"data": None}
    assert client.sync_context(context_id) == {"data": None}
    # the node refuses a resync that would drop DAG heads unless forced (a
    # 500 before rc.44, a typed 409 ResyncRefused from it)
    refused = calimero.ConflictError if rc(node) >= 44 else calimero.ServerError
    with pytest.raises(refused):
        client.resync_context(context_id)
    resync = client.resync_context(context_id, force=True)
    assert set(resync) == {"contextId", "resyncStarted"}
    assert resync["resyncStarted"] is True
    joined = client.join_context(context_id)["data"]
    assert joined["contextId"] == context_id and joined["memberPublicKey"]
    left = client.leave_context(context_id)["data"]
    assert left["contextId"] == context_id
    # the context stays listed after leaving, as on the real node
    assert context_id in [c["id"] for c in client.list_contexts()["data"]["contexts"]]


def test_update_context_application(
    client: calimero.Client, context_id: str, tmp_path, node: TestNode
) -> None:
    other = install_app(client, node, tmp_path, "com.example.v2")
    member = client.get_context_identities_owned(context_id)["data"]["identities"][0]
    assert client.update_context_application(context_id, other, member) == {"data": None}
    assert client.get_context(context_id)["data"]["applicationId"] == other


def test_delete(client: calimero.Client, context_id: str) -> None:
    assert client.delete_context(context_id) == {"data": {"isDeleted": True}}
    with pytest.raises(calimero.NotFoundError):
        client.get_context(context_id)


def test_namespaces(client: calimero.Client, app_id: str, namespace_id: str) -> None:
    listed = client.list_namespaces()["data"]
    assert [n["namespaceId"] for n in listed] == [namespace_id]
    ns = client.get_namespace(namespace_id)["data"]
    assert ns["targetApplicationId"] == app_id and ns["name"] == "kv-ns"
    assert [n["namespaceId"] for n in client.list_namespaces_for_application(app_id)["data"]] == [
        namespace_id
    ]
    assert client.delete_namespace(namespace_id)["data"]["isDeleted"] is True
    with pytest.raises(calimero.NotFoundError):
        client.get_namespace(namespace_id)
