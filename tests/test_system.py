"""Node / system endpoints against the test node."""

from __future__ import annotations

import pytest

import calimero
from conftest import is_wire_id, rc
from testnode import TestNode


def test_health_ready_is_authed(client: calimero.Client) -> None:
    assert client.health() == {"data": {"status": "alive"}}
    assert client.ready() == {"data": {"status": "ready"}}
    assert client.is_authed() == {"data": {"status": "alive"}}


def test_node_identity_is_404_until_a_namespace_exists(
    client: calimero.Client, app_id: str, node: TestNode
) -> None:
    with pytest.raises(calimero.NotFoundError) as info:
        client.get_node_identity()
    err = info.value
    assert err.status == 404
    assert "neither a device nor an account root" in err.message
    assert err.method == "GET" and err.url.endswith("/admin-api/identity")
    client.create_namespace(app_id)
    identity = client.get_node_identity()["data"]
    assert set(identity) >= {"accountId", "deviceId", "publicKey", "accountRootPublicKey"}
    assert len(identity["accountId"]) == 64
    assert is_wire_id(identity["publicKey"], node)
    # Keys added by later releases (swift-sdk rc29/rc32 fixtures, core
    # fixtures/wire/identity/node_identity.res.json as swift's
    # Rc41SurfaceTests quotes it).
    for key, since in [
        ("deviceAgreementKey", 29),
        ("holdsAccountRoot", 32),
        ("deviceCertified", 41),
    ]:
        assert (key in identity) == (rc(node) >= since), key


def test_generate_context_identity(client: calimero.Client, node: TestNode) -> None:
    a = client.generate_context_identity()["data"]["publicKey"]
    b = client.generate_context_identity()["data"]["publicKey"]
    assert a != b and is_wire_id(a, node)


def test_peers_network_usage(client: calimero.Client, namespace_id: str) -> None:
    assert client.get_peers_count() == {"count": 0}
    status = client.get_network_status()
    assert "data" not in status  # a bare object, as the node sends it
    assert {"localPeerId", "listenAddrs", "externalAddrs", "relays", "autonat"} <= set(status)
    usage = client.get_usage()
    assert [n["namespaceId"] for n in usage["namespaces"]] == [namespace_id]
    assert set(usage["namespaces"][0]["bytes"]) >= {"state", "total"}


def test_server_errors_carry_the_request(client: calimero.Client, node: TestNode) -> None:
    node.fault("/admin-api/peers", "status", status=503, body="overloaded", times=1)
    with pytest.raises(calimero.ServerError) as info:
        client.with_options(max_retries=0).get_peers_count()
    assert info.value.status == 503
    assert info.value.message.endswith("overloaded")
    assert info.value.body == "overloaded"
    assert client.get_peers_count() == {"count": 0}


def test_dropped_connection_is_a_network_error(client: calimero.Client, node: TestNode) -> None:
    node.fault("/admin-api/health", "drop", times=1)
    with pytest.raises(calimero.NetworkError) as info:
        client.health()
    assert isinstance(info.value, ConnectionError)
    assert info.value.url.endswith("/admin-api/health")


def test_malformed_json_is_reported(client: calimero.Client, node: TestNode) -> None:
    node.fault("/admin-api/health", "status", status=200, body="{not json", times=1)
    with pytest.raises(calimero.MalformedResponseError, match="not JSON"):
        client.health()


def test_unreachable_node(refused_url: str) -> None:
    client = calimero.create_client(calimero.create_connection(refused_url))
    with pytest.raises(calimero.NetworkError):
        client.health()


def test_request_timeout(node: TestNode) -> None:
    conn = calimero.create_connection(node.url, timeout=0.3)
    node.fault("/admin-api/health", "delay", delayMs=3000, times=1)
    with pytest.raises(calimero.RequestTimeoutError) as info:
        calimero.create_client(conn).health()
    assert isinstance(info.value, TimeoutError)
