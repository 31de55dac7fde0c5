"""Context and application aliases: create, look up, list, resolve, delete;
the identity-alias methods the node has no routes for."""

from __future__ import annotations

import pytest

import calimero
from testnode import TestNode

UNKNOWN_ID = "EMtpXdHZQLiqyPVVAzJWbnishYR1gPTvKKtWD3e2V6zo"
#: The same id as rc.27 and later write it.
HEX_OF_UNKNOWN = "c682237f535bda67ed120fbc609563d954cd985d4aaa28db10b999142fd9d5dc"


def test_context_alias_lifecycle(client: calimero.Client, context_id: str) -> None:
    assert client.create_context_alias("main", context_id) == {"data": None}
    assert client.lookup_context_alias("main") == {"data": {"value": context_id}}
    assert client.list_context_aliases() == {"data": {"main": context_id}}
    with pytest.raises(calimero.ConflictError) as info:
        client.create_context_alias("main", context_id)
    assert info.value.message == "alias already exists"
    assert client.delete_context_alias("main") == {"data": None}
    assert client.lookup_context_alias("main") == {"data": {"value": None}}
    assert client.list_context_aliases() == {"data": {}}


def test_application_alias_lifecycle(client: calimero.Client, app_id: str) -> None:
    assert client.create_application_alias("kv", app_id) == {"data": None}
    assert client.lookup_application_alias("kv") == {"data": {"value": app_id}}
    assert client.list_application_aliases() == {"data": {"kv": app_id}}
    with pytest.raises(calimero.ConflictError):
        client.create_application_alias("kv", app_id)
    assert client.delete_application_alias("kv") == {"data": None}
    assert client.lookup_application_alias("kv") == {"data": {"value": None}}


def test_context_and_application_aliases_are_separate(
    client: calimero.Client, app_id: str, context_id: str
) -> None:
    client.create_context_alias("same", context_id)
    client.create_application_alias("same", app_id)
    assert client.lookup_context_alias("same")["data"]["value"] == context_id
    assert client.lookup_application_alias("same")["data"]["value"] == app_id


def test_resolve_like_the_official_client(client: calimero.Client, app_id: str) -> None:
    client.create_application_alias("kv", app_id)
    assert client.resolve_application_alias("kv") == {
        "alias": "kv",
        "value": {"kind": "Lookup", "data": {"data": {"value": app_id}}},
    }
    # Not an alias, but an id: parsed.
    assert client.resolve_context_alias(UNKNOWN_ID) == {
        "alias": UNKNOWN_ID,
        "value": {"kind": "Parsed", "data": UNKNOWN_ID},
    }
    assert client.resolve_context_alias("nothing") == {"alias": "nothing", "value": None}
    with pytest.raises(ValueError, match="^alias: "):
        client.resolve_context_alias("not an alias")


def test_create_alias_generic_honours_scope(
    client: calimero.Client, app_id: str, context_id: str
) -> None:
    client.create_alias_generic("c", context_id)
    client.create_alias_generic("a", app_id, scope="application")
    assert client.lookup_context_alias("c")["data"]["value"] == context_id
    assert client.lookup_application_alias("a")["data"]["value"] == app_id
    with pytest.raises(ValueError, match="^scope: "):
        client.create_alias_generic("x", context_id, scope="identity")


def test_bad_aliases_are_refused_before_sending(client: calimero.Client, node: TestNode) -> None:
    for bad in ("", "with space", "x" * 51, "slash/inside", "é"):
        with pytest.raises(ValueError, match="^alias: "):
            client.lookup_context_alias(bad)
    assert node.requests() == []


@pytest.mark.parametrize(
    ("method", "args"),
    [
        ("create_context_identity_alias", ("me", UNKNOWN_ID, UNKNOWN_ID)),
        ("delete_context_identity_alias", ("me", UNKNOWN_ID)),
        ("list_context_identity_aliases", (UNKNOWN_ID,)),
        ("lookup_context_identity_alias", ("me", UNKNOWN_ID)),
        ("resolve_context_identity_alias", ("me", UNKNOWN_ID)),
    ],
)
def test_identity_aliases_say_the_node_lacks_them(
    client: calimero.Client, node: TestNode, method: str, args: tuple[str, ...]
) -> None:
    # Ids in either encoding: an rc.27+ node's ids are hex.
    with pytest.raises(calimero.UnsupportedByNodeError):
        getattr(client, method)(*[a if a == "me" else HEX_OF_UNKNOWN for a in args])
    with pytest.raises(calimero.UnsupportedByNodeError) as info:
        getattr(client, method)(*args)
    # Code written for the official client caught RuntimeError.
    assert isinstance(info.value, NotImplementedError)
    assert isinstance(info.value, RuntimeError)
    assert "identity-alias routes" in str(info.value)
    assert node.requests() == []


def test_an_identity_alias_route_really_is_absent(
    node: TestNode, conn: calimero.ConnectionInfo
) -> None:
    # What the official client called: the node answers 404.
    with pytest.raises(calimero.NotFoundError):
        conn.request("GET", f"/admin-api/alias/list/identity/{UNKNOWN_ID}")
