"""System routes, and the node release a fresh connection finds, against a
real merod 0.11.0-rc.25 (sync and async)."""

from __future__ import annotations

from typing import Any

import pytest

import calimero
from e2e.conftest import MISSING


def test_health_ready_and_the_auth_probe(client: Any) -> None:
    assert client.health() == {"data": {"status": "alive"}}
    assert client.ready() == {"data": {"status": "ready"}}
    # constant on rc.25: it says nothing about a token
    assert client.is_authed() == {"data": {"status": "alive"}}
    assert client.connection.detect_auth_mode() == calimero.AuthMode("none")


def test_network_peers_and_usage(client: Any) -> None:
    assert client.get_peers_count() == {"count": 0}  # no bootstrap nodes, no mDNS
    status = client.get_network_status()
    assert status["localPeerId"].startswith("12D3KooW")
    assert all("/ip4/127.0.0.1/" in addr for addr in status["listenAddrs"])
    assert status["externalAddrs"] == [] and status["relays"] == []
    usage = client.get_usage()
    assert isinstance(usage["namespaces"], list)


def test_identity(client: Any, kv_namespace: str) -> None:
    """The node's identity exists once it took part in a namespace."""
    identity = client.get_node_identity()["data"]
    assert set(identity) == {"accountId", "deviceId", "publicKey", "accountRootPublicKey"}
    assert len(identity["accountId"]) == 64  # hex
    assert 43 <= len(identity["publicKey"]) <= 44  # base58 on rc.25
    generated = client.generate_context_identity()["data"]["publicKey"]
    assert generated != client.generate_context_identity()["data"]["publicKey"]


def test_metrics_certificate_and_tee(client: Any) -> None:
    assert "# TYPE" in client.get_metrics()
    with pytest.raises(calimero.NotFoundError) as info:
        client.get_certificate()
    assert (info.value.status, info.value.body) == (404, "Certificate not found")
    with pytest.raises(calimero.ServerError, match="TDX"):  # no TDX on this machine
        client.get_tee_info()
    with pytest.raises(calimero.ServerError):
        client.tee_attest("ab" * 32)


def test_a_fresh_connection_finds_rc25(open_node: Any, kv_namespace: str) -> None:
    """One probe: GET /admin-api/identity answers a base58 publicKey (the
    node took part in a namespace already)."""
    conn = calimero.create_connection(open_node.url)
    assert conn.node_version is None  # nothing known, nothing sent
    release = conn.detect_node_version()
    assert release["version"] == "0.11.0-rc.25"
    assert release["max"] == "0.11.0-rc.26" and release["pinned"] is False
    assert release["probed"] is True and release["probe_requests"] == 1
    assert any("/admin-api/identity" in line for line in release["evidence"])
    assert conn.node_version == "0.11.0-rc.25"
    assert conn.detect_node_version() == release  # cached: no second probe


def test_a_fresh_node_costs_two_probe_requests(merod_node_factory: Any) -> None:
    """A node that never took part in a namespace answers 404 on its
    identity; the second probe (a base58 context id) settles it."""
    node = merod_node_factory("e2e-fresh")
    conn = calimero.create_connection(node.url)
    release = conn.detect_node_version()
    assert release["version"] == "0.11.0-rc.25"
    assert release["probe_requests"] == 2
    assert any("404, the node parses base58 ids" in line for line in release["evidence"])


def test_an_answer_showing_ids_settles_the_release_without_a_probe(
    open_node: Any, kv_context: str
) -> None:
    conn = calimero.create_connection(open_node.url)
    client = calimero.create_client(conn)
    assert kv_context in [c["id"] for c in client.list_contexts()["data"]["contexts"]]
    release = conn.node_release
    assert release["evidence"] == ["the answer to list_contexts() has base58 ids"]
    assert release["version"] == "0.11.0-rc.25" and release["probed"] is False
    assert release["probe_requests"] == 0


def test_pinned_release_sends_no_probe(open_node: Any) -> None:
    conn = calimero.create_connection(open_node.url, node_version="0.11.0-rc.25")
    assert conn.node_version == "0.11.0-rc.25"
    release = conn.detect_node_version()
    assert release["pinned"] is True and release["probe_requests"] == 0


def test_hex_ids_are_sent_as_base58(client: Any, kv_app: str, kv_context: str) -> None:
    """Ids the user gives in hex reach rc.25 in base58 (its encoding); the
    answers stay as the node sent them."""
    as_hex = _b58_to_hex(kv_context)
    assert client.get_context(as_hex)["data"]["id"] == kv_context
    app_hex = _b58_to_hex(kv_app)
    assert client.get_application(app_hex)["data"]["application"]["id"] == kv_app
    client.call(as_hex, "set", {"key": "hex", "value": "ids"})
    assert client.call(kv_context, "get", {"key": "hex"}) == "ids"
    assert client.sync_status(as_hex)["contextId"] == kv_context
    with pytest.raises(calimero.NotFoundError, match="Context not found"):
        client.get_context("00" * 32)  # hex of MISSING
    assert _b58_to_hex(MISSING) == "00" * 32


_B58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"


def _b58_to_hex(text: str) -> str:
    n = 0
    for ch in text:
        n = n * 58 + _B58.index(ch)
    return n.to_bytes(32, "big").hex()
