"""Namespace invitations, joining and leaving; device pairing; TEE;
certificate and metrics."""

from __future__ import annotations

import json
from typing import Any

import pytest

import calimero
from conftest import rc
from testnode import TestNode


def last_request(node: TestNode) -> dict[str, Any]:
    return node.requests()[-1]


def test_invitation_shapes(client: calimero.Client, node: TestNode, namespace_id: str) -> None:
    reply = client.create_namespace_invitation(namespace_id, expiration_timestamp=3600)
    assert json.loads(last_request(node)["body"]) == {"expirationTimestamp": 3600}
    signed = reply["data"]["invitation"]
    inner = signed["invitation"]
    assert bytes(inner["group_id"]).hex() == namespace_id
    assert len(inner["inviter_identity"]) == 32 and len(inner["secret_salt"]) == 32
    assert len(signed["inviter_signature"]) == 128
    recursive = client.create_namespace_invitation(namespace_id, True)["data"]["invitations"]
    assert recursive[0]["groupId"] == namespace_id
    assert "invitation" in recursive[0]


def test_join_sends_the_invitation_exactly_as_given(
    client: calimero.Client, node: TestNode, namespace_id: str
) -> None:
    signed = client.create_namespace_invitation(namespace_id)["data"]["invitation"]
    text = json.dumps(signed, separators=(",", ":"))
    for given in (signed, text):
        try:
            client.join_namespace(namespace_id, given, group_name="kv-ns")
        except calimero.ClientError:
            pass  # joining what this node already belongs to: the node decides
        body = last_request(node)["body"]
        assert body == '{"invitation":' + text + ',"groupName":"kv-ns"}'


def test_join_refuses_an_invitation_for_another_namespace(
    client: calimero.Client, app_id: str, namespace_id: str
) -> None:
    other = client.create_namespace(app_id, name="other")["data"]["namespaceId"]
    signed = client.create_namespace_invitation(other)["data"]["invitation"]
    with pytest.raises(calimero.BadRequestError):
        client.join_namespace(namespace_id, signed)


def test_the_last_admin_cannot_leave(
    client: calimero.Client, namespace_id: str, node: TestNode
) -> None:
    # 500 before rc.44, a typed 409 (MembershipError::LastAdmin) from it.
    refused = calimero.ConflictError if rc(node) >= 44 else calimero.ServerError
    with pytest.raises(refused):
        client.leave_namespace(namespace_id)


def test_leave_and_rejoin(client: calimero.Client, namespace_id: str) -> None:
    signed = client.create_namespace_invitation(namespace_id)["data"]["invitation"]
    client.add_group_members(namespace_id, [{"identity": "ab" * 32, "role": "Admin"}])
    left = client.leave_namespace(namespace_id)["data"]
    assert left["namespaceId"] == namespace_id and "memberPublicKey" in left
    joined = client.join_namespace(namespace_id, signed)["data"]
    assert joined["namespaceId"] == namespace_id
    assert {"memberIdentity", "memberAccount"} <= set(joined)


def test_bad_invitations_are_refused_before_sending(
    client: calimero.Client, node: TestNode, namespace_id: str
) -> None:
    node.clear_requests()
    with pytest.raises(ValueError, match="^invitation_json: "):
        client.join_namespace(namespace_id, "{not json")
    assert node.requests() == []


@pytest.mark.releases("0.11.0-rc.25")
def test_device_pairing(client: calimero.Client, node: TestNode, namespace_id: str) -> None:
    """The namespace-scoped pairing of rc.25 to rc.27 (the account-scoped
    pairing of rc.28+ is in test_node_releases.py)."""
    root = client.get_node_identity()["data"]["accountRootPublicKey"]
    init = client.pair_device_init(namespace_id, root, "ignored nonce")["data"]
    assert json.loads(last_request(node)["body"]) == {"accountRootPublicKey": root}
    assert {"accountId", "deviceId", "kemPublicKey", "signPublicKey", "statement"} <= set(init)
    done = client.pair_device_complete(
        namespace_id,
        init["deviceId"],
        init["kemPublicKey"],
        init["signPublicKey"],
        init["statement"],
        init["confirmationCode"],
    )["data"]
    assert done["deviceId"] == init["deviceId"]
    revoked = client.revoke_device(namespace_id, init["deviceId"])["data"]
    assert revoked["deviceId"] == init["deviceId"]
    with pytest.raises(ValueError, match="^statement: "):
        client.pair_device_complete(namespace_id, "ab" * 32, "ab" * 32, "ab" * 32, "ab", "code")
    with pytest.raises(ValueError, match="^proof: "):
        client.revoke_device(namespace_id, "ab" * 32, proof="")


def test_tee_without_tdx(client: calimero.Client) -> None:
    with pytest.raises(calimero.ServerError):
        client.get_tee_info()
    with pytest.raises(calimero.ServerError):
        client.tee_attest("ab" * 32)
    with pytest.raises(calimero.ServerError):
        client.tee_fleet_join("ab" * 32)


def test_certificate_and_metrics(client: calimero.Client, node: TestNode) -> None:
    if rc(node) >= 83:
        # Removed by rc.83 (core service.rs public router): refused unsent.
        client.connection.detect_node_version()
        node.clear_requests()
        with pytest.raises(calimero.UnsupportedByNodeError, match="up to 0.11.0-rc.82"):
            client.get_certificate()
        assert node.requests() == []
    else:
        with pytest.raises(calimero.NotFoundError, match="Certificate not found"):
            client.get_certificate()
    assert "# TYPE" in client.get_metrics()


@pytest.fixture
def tee_node() -> Any:
    node = TestNode("--tee-mock")
    yield node
    node.stop()


def test_tee_success_shapes_on_a_mock_tee_node(tee_node: TestNode, tmp_path: Any) -> None:
    from conftest import make_wasm

    client = calimero.create_client(calimero.create_connection(tee_node.url))
    info = client.get_tee_info()["data"]
    assert {"cloudProvider", "osImage", "mrtd"} <= set(info)
    quote = client.tee_attest("ab" * 32)["data"]
    assert {"quoteB64", "quote"} <= set(quote)
    app = client.install_dev_application(str(make_wasm(tmp_path)))["data"]["applicationId"]
    ns = client.create_namespace(app)["data"]["namespaceId"]
    joined = client.tee_fleet_join(ns)
    assert joined["status"] in ("joined", "announced")
    assert joined["group_id"] == ns
