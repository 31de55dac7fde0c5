"""Contexts and aliases against a real merod 0.11.0-rc.25, on one node
(sync and async); joining from a second node is in test_real_two_nodes."""

from __future__ import annotations

import json
import os
from typing import Any

import pytest

import calimero
from e2e.conftest import MISSING


def test_create_in_a_namespace_and_read_back(client: Any, kv_app: str, kv_namespace: str) -> None:
    created = client.create_context(kv_app, kv_namespace)["data"]
    ctx = created["contextId"]
    try:
        assert created["groupId"] == kv_namespace and created["groupCreated"] is False
        member = created["memberPublicKey"]
        listed = {c["id"]: c for c in client.list_contexts()["data"]["contexts"]}
        assert listed[ctx]["applicationId"] == kv_app
        assert listed[ctx]["groupId"] == kv_namespace
        got = client.get_context(ctx)["data"]
        assert got["id"] == ctx and got["applicationId"] == kv_app
        assert got["applicationVersion"] == "0.11.0-rc.25"
        assert client.get_context_identities(ctx) == {"data": {"identities": [member]}}
        assert client.get_context_identities_owned(ctx) == {"data": {"identities": [member]}}
        assert client.get_context_storage(ctx)["data"]["sizeInBytes"] >= 0
        assert client.get_context_group(ctx) == {"data": kv_namespace}
        for_app = client.get_contexts_for_application(kv_app)["data"]["contexts"]
        assert ctx in [c["id"] for c in for_app]
        executors = client.get_contexts_with_executors_for_application(kv_app)["contexts"]
        assert {"id": ctx, "executors": [member]}.items() <= {
            k: v for c in executors if c["id"] == ctx for k, v in c.items()
        }.items()
        assert ctx in [c["contextId"] for c in client.list_group_contexts(kv_namespace)["data"]]
    finally:
        assert client.delete_context(ctx) == {"data": {"isDeleted": True}}
    with pytest.raises(calimero.NotFoundError, match="Context not found"):
        client.get_context(ctx)
    assert client.delete_context(ctx) == {"data": {"isDeleted": False}}


def test_paging(client: Any, admin: calimero.Client, kv_app: str, kv_namespace: str) -> None:
    made = [admin.create_context(kv_app, kv_namespace)["data"]["contextId"] for _ in range(3)]
    try:
        every = [c["id"] for c in client.list_contexts()["data"]["contexts"]]
        assert set(made) <= set(every)
        assert [c["id"] for c in client.list_contexts(limit=2)["data"]["contexts"]] == every[:2]
        page = client.list_contexts(offset=1, limit=2)["data"]["contexts"]
        assert [c["id"] for c in page] == every[1:3]
    finally:
        for ctx in made:
            admin.delete_context(ctx)


def test_initialization_params_and_a_name(client: Any, kv_app: str, kv_namespace: str) -> None:
    """The kv-store's init takes no arguments; ``{}`` (as a dict or as the
    JSON text 0.6.31 code passes) is accepted."""
    for params in ({}, "{}", None):
        ctx = client.create_context(kv_app, kv_namespace, params)["data"]["contextId"]
        try:
            assert client.call(ctx, "len") == 0
        finally:
            client.delete_context(ctx)


def test_sync_and_sync_status(client: Any, kv_context: str) -> None:
    status = client.sync_status(kv_context)
    assert status["contextId"] == kv_context and status["isInitialized"] is True
    assert status["syncState"]["state"] in {"idle", "syncing"}  # a lone node syncs with nobody
    assert status["failureCount"] == 0
    assert client.sync_context(kv_context) == {"data": None}
    assert client.sync_all_contexts() == {"data": None}


def test_join_and_leave_on_one_node(client: Any, kv_context: str) -> None:
    """Joining a context the node is in answers its member key; leaving
    answers 200 but the context stays listed (rc.25)."""
    member = client.get_context_identities_owned(kv_context)["data"]["identities"][0]
    assert client.join_context(kv_context) == {
        "data": {"contextId": kv_context, "memberPublicKey": member}
    }
    left = client.leave_context(kv_context)["data"]
    assert left["contextId"] == kv_context
    assert kv_context in [c["id"] for c in client.list_contexts()["data"]["contexts"]]


def test_context_errors(client: Any, kv_app: str) -> None:
    with pytest.raises(calimero.NotFoundError) as info:
        client.get_context(MISSING)
    assert (info.value.status, info.value.message) == (404, "Context not found")
    with pytest.raises(calimero.BadRequestError, match="missing field `initializationParams`"):
        client.connection.request("POST", "/admin-api/contexts", {"applicationId": kv_app})
    with pytest.raises(ValueError, match="^context_id: "):
        client.get_context("not-an-id")  # refused before sending
    with pytest.raises(calimero.ServerError, match="Internal server error"):
        client.resync_context(MISSING)


def test_context_aliases(client: Any, kv_context: str) -> None:
    name = "ctx-" + os.urandom(4).hex()
    assert client.create_context_alias(name, kv_context) == {"data": None}
    with pytest.raises(calimero.ConflictError):
        client.create_context_alias(name, kv_context)
    assert client.lookup_context_alias(name) == {"data": {"value": kv_context}}
    assert client.list_context_aliases()["data"][name] == kv_context
    resolved = client.resolve_context_alias(name)
    assert resolved["value"] == {"kind": "Lookup", "data": {"data": {"value": kv_context}}}
    assert client.delete_context_alias(name) == {"data": None}
    assert client.lookup_context_alias(name) == {"data": {"value": None}}
    generic = "gen-" + os.urandom(4).hex()
    assert client.create_alias_generic(generic, kv_context) == {"data": None}
    assert client.lookup_context_alias(generic) == {"data": {"value": kv_context}}
    client.delete_context_alias(generic)


def test_application_aliases(client: Any, kv_app: str) -> None:
    name = "app-" + os.urandom(4).hex()
    assert client.create_application_alias(name, kv_app) == {"data": None}
    with pytest.raises(calimero.ConflictError):
        client.create_application_alias(name, kv_app)
    assert client.lookup_application_alias(name) == {"data": {"value": kv_app}}
    assert client.list_application_aliases()["data"][name] == kv_app
    assert client.resolve_application_alias(name)["value"]["kind"] == "Lookup"
    generic = "gen-" + os.urandom(4).hex()
    assert client.create_alias_generic(generic, kv_app, "application") == {"data": None}
    assert client.lookup_application_alias(generic) == {"data": {"value": kv_app}}
    for alias in (name, generic):
        assert client.delete_application_alias(alias) == {"data": None}
    assert client.lookup_application_alias(name) == {"data": {"value": None}}
    json.dumps(client.list_application_aliases())  # plain JSON


def test_identity_aliases_are_unsupported_without_a_request(client: Any, kv_context: str) -> None:
    with pytest.raises(calimero.UnsupportedByNodeError):
        client.list_context_identity_aliases(kv_context)
