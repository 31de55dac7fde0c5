"""One install, every node release: detection and what it costs, ids in
either encoding, the forms of methods whose signature changed, the routes
and arguments of later releases, and code written for the official
0.6.31 (rc.25) and 0.9.0 (rc.8x) running unchanged.

Runs against the rc.25 and the rc.83 test node (tests/conftest.py
RELEASES); a test of one release says so with ``@pytest.mark.releases``.
What each release changes: docs/node-releases.md.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import pytest

import calimero
import signing
from conftest import AUTH_PASSWORD, AUTH_USER, install_app, is_wire_id, make_wasm, rc
from test_validation import wire_id
from testnode import TestNode

RC25 = pytest.mark.releases("0.11.0-rc.25")
RC83 = pytest.mark.releases("0.11.0-rc.83")
HEX = "ab" * 32


def requests_to(node: TestNode, path: str) -> list[dict[str, Any]]:
    return [r for r in node.requests() if r["path"] == path]


def body(request: dict[str, Any]) -> Any:
    return json.loads(request["body"]) if request["body"] else None


# ------------------------------------------------------------- detection


def test_detection_probes_once_and_says_why(node: TestNode, node_release: str) -> None:
    conn = calimero.create_connection(node.url)
    assert conn.node_version is None
    assert conn.node_release["probe_requests"] == 0
    client = calimero.create_client(conn)
    # Calls that are the same on every release need no probe.
    client.health()
    client.list_contexts()
    assert node.requests()[-1]["path"] == "/admin-api/contexts"
    assert len(node.requests()) == 2
    # A fresh node has no identity yet (404): two requests, once.
    found = conn.detect_node_version()
    paths = [r["path"] for r in node.requests()[2:]]
    assert paths == ["/admin-api/identity", "/admin-api/contexts/11111111111111111111111111111111"]
    assert found["probe_requests"] == 2 and found["probed"] and not found["pinned"]
    assert conn.node_version == ("0.11.0-rc.25" if rc(node) < 27 else "0.11.0-rc.83")
    assert any("base58" in e for e in found["evidence"])
    # Known now: never probed again, by any copy of the connection.
    node.clear_requests()
    again = conn.with_options(timeout=5).detect_node_version()
    assert again == found and node.requests() == []


def test_a_probe_the_token_is_refused_teaches_nothing(node: TestNode, node_release: str) -> None:
    """A scoped token may be refused the probe's routes (403); the call the
    probe was made for still goes out, as the newest release."""
    conn = calimero.create_connection(node.url)
    refused = '{"error":"Forbidden"}'
    node.fault("/admin-api/identity", "status", status=403, body=refused, times=1)
    node.fault(f"/admin-api/contexts/{'1' * 32}", "status", status=403, body=refused, times=1)
    found = conn.detect_node_version()
    assert found["probed"] and found["probe_requests"] == 2
    assert found["min"] is None and found["max"] is None
    assert conn.node_version == "0.11.0-rc.83"


def test_a_node_with_an_identity_is_placed_by_one_request(
    client: calimero.Client, node: TestNode, node_release: str, namespace_id: str
) -> None:
    conn = calimero.create_connection(node.url)
    node.clear_requests()
    found = conn.detect_node_version()
    assert [r["path"] for r in node.requests()] == ["/admin-api/identity"]
    assert found["probe_requests"] == 1
    assert conn.node_version == node_release
    if rc(node) >= 83:
        # Nothing in the identity tells rc.41 from rc.83 (deviceCertified is
        # older than rc.83): rc.32 or newer, spoken to as the newest known.
        assert found["min"] == "0.11.0-rc.32" and found["max"] is None
        assert "holdsAccountRoot present" in found["evidence"][-1]


def test_pinned_releases_send_no_probe(
    client: calimero.Client, node: TestNode, node_release: str, context_id: str
) -> None:
    conn = calimero.create_connection(node.url, node_version=node_release)
    assert conn.node_version == node_release
    assert conn.node_release["pinned"] and conn.node_release["evidence"] == [
        f"pinned: node_version={node_release}"
    ]
    node.clear_requests()
    pinned = calimero.create_client(conn)
    pinned.get_context(context_id)
    pinned.call(context_id, "set", {"key": "k", "value": "v"})
    assert [r["path"] for r in node.requests()] == [f"/admin-api/contexts/{context_id}", "/jsonrpc"]
    assert conn.node_release["probe_requests"] == 0
    with pytest.raises(ValueError, match="^node_version: expected a merod release"):
        calimero.create_connection(node.url, node_version="latest")


def test_answers_teach_the_id_encoding_for_free(
    client: calimero.Client, node: TestNode, node_release: str, app_id: str
) -> None:
    """The common path costs no extra request: an answer that carries ids
    settles their encoding, so id-taking calls after it need no probe."""
    conn = calimero.create_connection(node.url)
    fresh = calimero.create_client(conn)
    node.clear_requests()
    apps = fresh.list_applications()["data"]["apps"]
    assert conn.node_release["probe_requests"] == 0 and conn.node_version is not None
    assert fresh.get_application(apps[0]["id"])["data"]["application"]["id"] == app_id
    assert [r["path"] for r in node.requests()] == [
        "/admin-api/applications",
        f"/admin-api/applications/{app_id}",
    ]
    assert "ids" in conn.node_release["evidence"][-1]


@RC83
def test_a_route_the_node_lacks_is_learnt(tmp_path: Path) -> None:
    """An rc.44 node with hex ids looks like rc.83 to the probe (it has no
    identity yet); its router's "no such route" for an rc.83 route raises
    UnsupportedByNodeError and lowers what the connection assumes."""
    older = TestNode(node_version="0.11.0-rc.44")
    try:
        conn = calimero.create_connection(older.url)
        client = calimero.create_client(conn)
        conn.detect_node_version()
        assert conn.node_version == "0.11.0-rc.83"
        with pytest.raises(calimero.UnsupportedByNodeError, match="0.11.0-rc.83 and later"):
            client.get_tee_release()
        assert conn.node_release["max"] == "0.11.0-rc.82"
        assert conn.node_version == "0.11.0-rc.82"
        older.clear_requests()
        with pytest.raises(calimero.UnsupportedByNodeError):
            client.get_tee_release()  # known now: nothing sent
        assert older.requests() == []
        assert client.list_account_devices() == {"devices": []}  # rc.28+: served
    finally:
        older.stop()


# ------------------------------------------------------------------ ids


def test_ids_round_trip_in_both_encodings(
    client: calimero.Client, node: TestNode, context_id: str, app_id: str
) -> None:
    assert is_wire_id(context_id, node) and is_wire_id(app_id, node)
    for release in ("0.11.0-rc.25", "0.11.0-rc.83"):
        given = wire_id(context_id, release)  # base58, then hex
        node.clear_requests()
        got = client.get_context(given)["data"]
        assert got["id"] == context_id  # answers stay as the node sent them
        assert requests_to(node, f"/admin-api/contexts/{context_id}")
        client.call(given, "set", {"key": release, "value": "v"})
        assert body(node.requests()[-1])["params"]["contextId"] == context_id
        assert client.call(wire_id(context_id, release), "get", {"key": release}) == "v"
    upper = wire_id(app_id, "0.11.0-rc.83").upper()
    assert client.get_application(upper)["data"]["application"]["id"] == app_id


def test_live_events_take_ids_in_either_encoding(
    client: calimero.Client, node: TestNode, context_id: str
) -> None:
    for release in ("0.11.0-rc.25", "0.11.0-rc.83"):
        with client.subscribe(wire_id(context_id, release)) as sub:
            sent = [body(r) for r in node.requests() if r["path"] == "/sse/subscription"]
            assert sent[-1]["params"] == {"contextIds": [context_id]}  # no empty groupIds
            client.call(context_id, "set", {"key": "e", "value": release})
            event = next(iter(sub))
            assert event["contextId"] == context_id


# ---------------------------------------------------- official client code


@RC25
def test_code_for_0_6_31_runs_against_rc25(node: TestNode, tmp_path: Path) -> None:
    """Code written for the official 0.6.31, as it was written."""
    import calimero_client_py as official

    conn = official.create_connection(node.url, "node-a")
    client = official.create_client(conn)
    app = client.install_dev_application(str(make_wasm(tmp_path)), b"{}")
    app_id = app["data"]["applicationId"]
    ns = client.create_namespace(app_id, "ns")["data"]["namespaceId"]
    ctx = client.create_context(app_id, ns, "{}")["data"]["contextId"]
    envelope = client.execute_function(ctx, "set", '{"key": "a", "value": "b"}', "")
    assert envelope["result"] is not None
    assert client.execute_function(ctx, "get", '{"key": "a"}')["result"]["output"] == "b"
    assert client.get_context(ctx)["data"]["id"] == ctx
    blob = client.upload_blob(b"0.6.31")
    assert blob["blob_id"] == blob["data"]["blob_id"] and blob["size"] == 6  # its flat shape
    assert client.download_blob(blob["blob_id"]) == b"0.6.31"
    root = client.get_node_identity()["data"]["accountRootPublicKey"]
    offer = client.pair_device_init(ns, root, None)["data"]
    assert requests_to(node, f"/admin-api/namespaces/{ns}/account/pair-init")
    assert {"deviceId", "statement"} <= set(offer)
    with pytest.raises(RuntimeError):  # UnsupportedByNodeError is a RuntimeError
        client.list_account_devices()


@RC83
def test_code_for_0_9_0_runs_against_rc83(node: TestNode, tmp_path: Path) -> None:
    """Code written for the official 0.9.0, as it was written: install by
    coordinates, namespace, context, execute, blobs, account devices."""
    node.publish("com.example.kv", "1.0.0")
    client = calimero.create_client(calimero.create_connection(node.url, "node-b"))
    app_id = client.install_application("com.example.kv", "1.0.0")["data"]["applicationId"]
    assert body(node.requests()[-1]) == {"package": "com.example.kv", "version": "1.0.0"}
    ns = client.create_namespace(app_id, "ns")["data"]["namespaceId"]
    sub = client.create_group_in_namespace(ns, "team", "open")["data"]["groupId"]
    assert body(node.requests()[-1]) == {"groupName": "team", "visibility": "open"}
    assert client.get_group_info(sub)["data"]["subgroupVisibility"] == "open"
    ctx = client.create_context(app_id, ns)["data"]["contextId"]
    assert len(ctx) == 64
    client.execute_function(ctx, "set", {"key": "a", "value": "b"})
    assert client.execute_function(ctx, "get", {"key": "a"})["result"]["output"] == "b"
    blob = client.upload_blob(b"hello", ctx)["data"]["blob_id"]
    assert len(blob) == 64 and client.download_blob(blob, ctx) == b"hello"
    devices = client.list_account_devices()["devices"]
    assert any(d["isSelf"] for d in devices)
    apps = client.list_account_applications()["applications"]
    assert {"applicationId", "namespaces"} <= set(apps[0]) if apps else apps == []
    invitation = client.create_namespace_invitation(ns, None, None, [devices[0]["deviceId"]])
    assert body(node.requests()[-1]) == {"admitters": [devices[0]["deviceId"]]}
    assert "invitation" in invitation["data"]


@RC83
def test_install_forms_and_their_refusals(client: calimero.Client, node: TestNode) -> None:
    with pytest.raises(calimero.ServerError) as info:  # 502: nothing published there
        client.install_application("com.none", "1.0.0")
    assert info.value.status == 502 and "no application published" in info.value.message
    node.clear_requests()
    # The rc.25 forms: refused before anything is sent, naming the releases.
    with pytest.raises(calimero.UnsupportedByNodeError) as refused:
        client.install_application("https://example.com/app.wasm")
    assert "install_application() is served by releases up to 0.11.0-rc.30" in str(refused.value)
    assert "0.11.0-rc.83" in str(refused.value)
    with pytest.raises(calimero.UnsupportedByNodeError, match=r"metadata=\.\.\."):
        client.install_dev_application("/srv/app.mpk", b"meta")
    with pytest.raises(calimero.UnsupportedByNodeError, match="up to 0.11.0-rc.27"):
        client.pair_device_init(HEX, HEX)
    assert [r for r in node.requests() if r["path"] != "/admin-api/identity"
            and not r["path"].startswith("/admin-api/contexts/1111")] == []  # fmt: skip


@RC25
def test_later_routes_are_refused_on_rc25(client: calimero.Client, node: TestNode) -> None:
    client.connection.detect_node_version()
    node.clear_requests()
    for call in (
        lambda: client.list_account_devices(),
        lambda: client.install_application("com.example.kv", "1.0.0"),
        lambda: client.pair_device_init(HEX, [HEX]),
        lambda: client.query("11111111111111111111111111111111", "get"),
        lambda: client.create_namespace_invitation(HEX, admitters=[HEX]),
        lambda: client.get_context_intent_relay(HEX, author=HEX),
        lambda: client.get_governance_intent_relay(HEX),
    ):
        with pytest.raises(calimero.UnsupportedByNodeError) as info:
            call()
        assert "the node runs 0.11.0-rc.26 or older" in str(info.value)
    assert node.requests() == []


# ------------------------------------------------------- rc.83 surface


@RC83
def test_account_pairing_by_account(
    client: calimero.Client, node: TestNode, namespace_id: str
) -> None:
    root = client.get_node_identity()["data"]["accountRootPublicKey"]
    offer = client.pair_device_init(root, [namespace_id])["data"]
    sent = node.requests()[-1]
    assert sent["path"] == "/admin-api/account/pair-init"
    assert body(sent) == {"accountRootPublicKey": root, "namespaces": [namespace_id]}
    done = client.pair_device_complete(
        offer["deviceId"],
        offer["kemPublicKey"],
        offer["signPublicKey"],
        offer["statement"],
        offer["confirmationCode"],
    )["data"]
    assert body(node.requests()[-1])["applications"] == []
    assert done["deviceId"] == offer["deviceId"]
    relinked = client.relink_device(offer["deviceId"])["data"]
    assert relinked["deviceId"] == offer["deviceId"]
    labelled = client.set_device_label(offer["deviceId"], "phone")["data"]
    assert labelled["label"] == "phone"
    scoped = client.set_device_scope(offer["deviceId"], "all")
    assert body(node.requests()[-1]) == {"scope": "all"} and "data" in scoped
    devices = {d["deviceId"]: d for d in client.list_account_devices()["devices"]}
    assert devices[offer["deviceId"]]["label"] == "phone"
    revoked = client.revoke_device(namespace_id, offer["deviceId"])["data"]
    assert revoked["deviceId"] == offer["deviceId"]


@RC83
def test_rc83_routes(
    client: calimero.Client, node: TestNode, namespace_id: str, context_id: str
) -> None:
    signed = client.sign_with_root("mdma.account-link", "00ff")["data"]
    assert {"rootPublicKey", "signature", "accountId"} <= set(signed)
    release = client.get_tee_release()["data"]
    assert {"bundle", "publishedMrtds", "version"} <= set(release)
    with pytest.raises(calimero.ServerError):  # no TDX here
        client.tee_attest(HEX, bind_transport_key=True, include_collateral=True)
    assert body(node.requests()[-1]) == {
        "nonce": HEX,
        "bindTransportKey": True,
        "includeCollateral": True,
    }
    account = client.get_node_identity()["data"]["accountId"]
    sealed = client.seal_for_account(namespace_id, account, "68656c6c6f")["data"]
    assert {"accountRootEpoch", "ephemeralPublicKey", "nonce", "ciphertext"} <= set(sealed)
    # Owner operations (root-guarded; this node owns the group).
    client.add_group_members(namespace_id, [{"identity": HEX, "role": "Admin"}])
    assert client.transfer_group_ownership(namespace_id, HEX) == {}
    assert body(node.requests()[-1]) == {"newOwner": HEX}
    with pytest.raises(calimero.UnsupportedByNodeError):
        client.create_group(context_id, group_id=HEX)


@RC83
def test_device_aliases(client: calimero.Client, node: TestNode) -> None:
    assert client.list_device_aliases() == {"data": {}}
    assert client.create_device_alias("phone", HEX) == {"data": None}
    assert client.lookup_device_alias("phone") == {"data": {"value": HEX}}
    assert client.list_device_aliases() == {"data": {"phone": HEX}}
    assert client.delete_device_alias("phone") == {"data": None}


@RC83
def test_query_needs_an_account_session(client: calimero.Client, context_id: str) -> None:
    client.call(context_id, "set", {"key": "q", "value": "1"})
    with pytest.raises(calimero.AuthenticationError, match="account-authenticated session"):
        client.query(context_id, "get", {"key": "q"})


@RC83
def test_a_read_only_node_keeps_the_rpc_error_type(
    client: calimero.Client, namespace_id: str, context_id: str
) -> None:
    # Another admin, then this node steps down to ReadOnly.
    client.add_group_members(namespace_id, [{"identity": HEX, "role": "Admin"}])
    me = client.get_node_identity()["data"]["accountId"]
    client.update_member_role(namespace_id, me, "ReadOnly")
    ctx = context_id
    with pytest.raises(calimero.RpcError) as info:
        client.call(ctx, "set", {"key": "a", "value": "b"})
    assert info.value.type == "ReadOnlyWriteRefused"
    assert info.value.data == {"context_id": ctx}


# ------------------------------------- delegated creation, governance, presence

CAN_CREATE_CONTEXT = 1
MANAGE_MEMBERS = 8
CAN_AUTHOR_ON_BEHALF = 512


def test_the_tests_signer_reproduces_cores_byte_vectors() -> None:
    """tests/signing.py against core's pinned vectors (`key(7)` is the
    secret `[7; 32]`), so what the scenarios below sign is what a node
    reads: creation_wire_fixture.rs, governance_wire_fixture.rs and the
    presence statement vector."""
    seven = bytes([7]) * 32
    heads = {"account_heads": (bytes([0x55]) * 32,), "governance_floor": (bytes([0x66]) * 32,)}
    creation = signing.creation_warrant(
        seven,
        group="11" * 32,
        seed="12" * 32,
        author_account="22" * 32,
        executor="33" * 32,
        executor_key="77" * 32,
        application_id="44" * 32,
        init_args=b'{"name":"general"}',
        name="general",
        nonce=42,
        not_after=1_700_000_000,
        **heads,
    )
    assert len(creation) == 2 * 421
    assert creation.startswith("11" * 32 + "12" * 32 + "22" * 32 + "ea4a6c63e29c520a")
    assert creation.endswith(
        "19103d73752d052f747911b4b36e423221d89d120bf6f4d32122d3c4fd1fb030"
        "9add40f3f3b80a5e5d6fefa02de5f4d6bb914c85c5c8b10a3a0e3a0e22c08400"
    )
    governance = signing.governance_warrant(
        seven,
        scope="11" * 32,
        op=(signing.ROOT, b"\x01\x02\x03"),
        author_account="22" * 32,
        executor="33" * 32,
        executor_key="77" * 32,
        nonce=42,
        not_after=1_700_000_000,
        **heads,
    )
    assert len(governance) == 2 * 345
    assert "d6bc121f9fcf7b85bea94d356d620c14dd8e1ae5fa2317cbcfc2c486cf04dfb3" in governance
    assert governance.endswith(
        "03ce6c011f565924099b2c776032a1cfe540d1c4c09fad0b470723f8ee76138d"
        "1d685a20948edf4dee2901d3f9187e3363a16e3b141b0bc94553f5948becae07"
    )
    author = signing.public_key(bytes([0x22]) * 32)
    assert author.hex() == calimero.public_key_of("22" * 32)
    typing = b'{"typing":true}'
    statement = signing.presence_statement("11" * 32, author, 7, 1_700_000_000_000, typing)
    assert statement.hex() == (
        "63616c696d65726f2f70726573656e63652f31" + "11" * 32 + author.hex()
        + "0700000000000000" + "0068e5cf8b010000"
        + "f25c119b355e48fcfc5c8acd6b7681d0d8dfe33f75ee6408aa162e13b05ca486"
    )  # fmt: skip


class Member:
    """An account with no node: a device credential the test node mints,
    and the device's secret, which only the test holds."""

    def __init__(self, node: TestNode) -> None:
        minted = node.control("POST", "credential", {})
        self.account: str = minted["account"]
        self.proof: str = minted["credential"]
        self.secret = bytes.fromhex(minted["deviceSecret"])

    def seat(self, client: calimero.Client, group: str, capabilities: int) -> None:
        client.add_group_members(group, [{"identity": self.account, "role": "Member"}])
        client.set_member_capabilities(group, self.account, capabilities)


def forged(warrant: str) -> str:
    """The warrant with its signature's last byte changed."""
    return warrant[:-2] + ("01" if warrant[-2:] == "00" else "00")


@RC83
def test_context_intents_create_a_context_for_a_member(
    client: calimero.Client, node: TestNode, app_id: str, namespace_id: str
) -> None:
    me = client.get_node_identity()["data"]
    route = f"/admin-api/groups/{namespace_id}/context-intents"
    assert client.get_context_intent_relay(namespace_id) == {
        "data": {
            "executorAccount": me["accountId"],
            "executorKey": me["publicKey"],
            "groupId": namespace_id,
            "canCreateOnBehalf": False,
        }
    }
    assert requests_to(node, route)[-1]["query"] is None
    member = Member(node)
    asked = client.get_context_intent_relay(namespace_id, author=member.account)["data"]
    assert asked["authorMayCreate"] is False  # not a member yet
    assert requests_to(node, route)[-1]["query"] == f"author={member.account}"
    member.seat(client, namespace_id, CAN_CREATE_CONTEXT)
    client.set_member_capabilities(namespace_id, me["accountId"], CAN_AUTHOR_ON_BEHALF)
    relay = client.get_context_intent_relay(namespace_id, author=member.account)["data"]
    assert relay["canCreateOnBehalf"] is True and relay["authorMayCreate"] is True

    def warrant(author: Member = member, **terms: Any) -> str:
        base: dict[str, Any] = {
            "group": namespace_id,
            "seed": os.urandom(32),
            "author_account": author.account,
            "executor": relay["executorAccount"],
            "executor_key": relay["executorKey"],
            "application_id": app_id,
            "init_args": signing.node_json({}),
            "nonce": 1,
            "not_after": int(time.time()) + 300,
        }
        return signing.creation_warrant(author.secret, **{**base, **terms})

    good = warrant()
    # Authenticity first: a bad signature is a 400 about the bundle.
    with pytest.raises(calimero.BadRequestError) as info:
        client.perform_context_intent(namespace_id, forged(good), member.proof)
    assert info.value.status == 400
    assert "creation delegation does not verify: creation warrant has an invalid signature" in str(
        info.value
    )
    with pytest.raises(calimero.BadRequestError) as info:
        client.perform_context_intent(namespace_id, "0000", member.proof)
    assert "not a valid context creation warrant (2 bytes): Unexpected length" in str(info.value)
    # Genuine, but not for this: 403.
    with pytest.raises(calimero.PermissionDeniedError) as info:
        client.perform_context_intent(namespace_id, good, member.proof, {"name": "other"})
    assert info.value.status == 403 and "does not cover the init arguments" in str(info.value)
    with pytest.raises(calimero.PermissionDeniedError, match="executor key"):
        client.perform_context_intent(namespace_id, warrant(executor_key=HEX), member.proof)
    with pytest.raises(calimero.PermissionDeniedError, match="expired at"):
        client.perform_context_intent(namespace_id, warrant(not_after=1), member.proof)
    stranger = Member(node)
    with pytest.raises(calimero.PermissionDeniedError, match="author is not a member"):
        client.perform_context_intent(namespace_id, warrant(stranger), stranger.proof)

    created = client.perform_context_intent(namespace_id, good, member.proof)["data"]
    assert body(requests_to(node, route)[-1]) == {
        "warrant": good,
        "authorProof": member.proof,
        "initArgs": {},
    }
    assert created["groupId"] == namespace_id
    assert created["memberPublicKey"] == me["publicKey"]
    assert client.get_context(created["contextId"])["data"]["applicationId"] == app_id
    with pytest.raises(calimero.PermissionDeniedError, match="already been spent"):
        client.perform_context_intent(namespace_id, good, member.proof)


@RC83
def test_governance_intents_publish_a_members_op(
    client: calimero.Client, node: TestNode, namespace_id: str
) -> None:
    me = client.get_node_identity()["data"]
    assert client.get_governance_intent_relay(namespace_id) == {
        "data": {
            "executorAccount": me["accountId"],
            "executorKey": me["publicKey"],
            "groupId": namespace_id,
            "canActOnBehalf": False,
        }
    }
    member = Member(node)
    member.seat(client, namespace_id, MANAGE_MEMBERS)
    client.set_member_capabilities(namespace_id, me["accountId"], CAN_AUTHOR_ON_BEHALF)
    relay = client.get_governance_intent_relay(namespace_id)["data"]
    assert relay["canActOnBehalf"] is True
    newcomer = "cd" * 32
    add = signing.member_added_op(newcomer, "Member")

    def warrant(op: tuple[int, bytes] = add, **terms: Any) -> str:
        base: dict[str, Any] = {
            "scope": namespace_id,
            "op": op,
            "author_account": member.account,
            "executor": relay["executorAccount"],
            "executor_key": relay["executorKey"],
            "nonce": 1,
            "not_after": int(time.time()) + 300,
        }
        return signing.governance_warrant(member.secret, **{**base, **terms})

    good = warrant()
    with pytest.raises(calimero.BadRequestError) as info:
        client.perform_governance_intent(namespace_id, forged(good), member.proof, add[1].hex())
    assert info.value.status == 400
    assert "governance delegation does not verify: governance warrant has an invalid" in str(
        info.value
    )
    # The op must be the one signed, byte for byte.
    other = signing.member_added_op("ef" * 32, "Member")[1].hex()
    with pytest.raises(calimero.PermissionDeniedError) as info:
        client.perform_governance_intent(namespace_id, good, member.proof, other)
    assert info.value.status == 403 and "does not cover the op" in str(info.value)
    with pytest.raises(calimero.PermissionDeniedError, match="different group"):
        client.perform_governance_intent(HEX, good, member.proof, add[1].hex())

    published = client.perform_governance_intent(namespace_id, good, member.proof, add[1].hex())
    assert published == {"data": {"groupId": namespace_id}}
    sent = requests_to(node, f"/admin-api/groups/{namespace_id}/governance-intents")[-1]
    assert body(sent) == {"warrant": good, "authorProof": member.proof, "op": add[1].hex()}
    members = {m["identity"]: m["role"] for m in client.list_group_members(namespace_id)["members"]}
    assert members[newcomer] == "Member"
    with pytest.raises(calimero.PermissionDeniedError, match="already been spent"):
        client.perform_governance_intent(namespace_id, good, member.proof, add[1].hex())
    # Applied as the member: its own authority decides.
    promote = signing.member_role_set_op(newcomer, "Admin")
    with pytest.raises(calimero.PermissionDeniedError, match="setting a role"):
        client.perform_governance_intent(
            namespace_id, warrant(promote, nonce=2), member.proof, promote[1].hex()
        )


@RC83
def test_presence_intents_forward_a_members_signed_state(
    client: calimero.Client, node: TestNode, namespace_id: str, context_id: str
) -> None:
    member = Member(node)
    now = int(time.time() * 1000)
    state = b'{"typing":true}'
    signature = signing.presence_signature(member.secret, context_id, 1, now, state)
    with pytest.raises(calimero.PermissionDeniedError, match="not a member of this context"):
        client.perform_presence_intent(context_id, 1, now, signature, member.proof, state.hex())
    client.add_group_members(namespace_id, [{"identity": member.account, "role": "Member"}])
    # The statement is rebuilt from what was sent: other state, other bytes.
    with pytest.raises(calimero.BadRequestError) as info:
        client.perform_presence_intent(context_id, 1, now, signature, member.proof, "00")
    assert info.value.status == 400
    assert "the signature does not verify under the author" in str(info.value)

    assert client.perform_presence_intent(
        context_id, 1, now, signature, member.proof, state.hex()
    ) is None  # fmt: skip
    assert body(requests_to(node, f"/admin-api/contexts/{context_id}/presence-intents")[-1]) == {
        "state": state.hex(),
        "seq": 1,
        "sentAtMs": now,
        "signature": signature,
        "authorProof": member.proof,
    }
    # A retraction sends `state: null`.
    retract = signing.presence_signature(member.secret, context_id, 2, now, None)
    assert client.perform_presence_intent(context_id, 2, now, retract, member.proof) is None
    assert body(node.requests()[-1])["state"] is None
    with pytest.raises(calimero.BadRequestError, match="freshness window"):
        client.perform_presence_intent(context_id, 2, now, retract, member.proof)
    stale = signing.presence_signature(member.secret, context_id, 3, now - 60_000, None)
    with pytest.raises(calimero.BadRequestError, match="freshness window"):
        client.perform_presence_intent(context_id, 3, now - 60_000, stale, member.proof)


# ------------------------------------- rc.83 owner, admission, device, TEE


@RC83
def test_admission_and_owner_operations(
    client: calimero.Client, node: TestNode, app_id: str, namespace_id: str
) -> None:
    invitation = client.create_namespace_invitation(namespace_id)["data"]["invitation"]
    assert client.admit_join(namespace_id, invitation, "00ff") == {"data": {"published": True}}
    assert body(node.requests()[-1]) == {"invitation": invitation, "signedOp": "00ff"}
    other = client.create_namespace(app_id)["data"]["namespaceId"]
    with pytest.raises(calimero.BadRequestError, match="does not match"):
        client.admit_join(other, invitation, "00ff")

    # The TEE authoring policy, on a namespace this node owns.
    mrtd = "ab" * 48
    assert client.set_tee_authoring_policy(namespace_id, [mrtd]) == {}
    sent = node.requests()[-1]
    assert sent["method"] == "PUT" and body(sent) == {"allowedMrtd": [mrtd]}
    assert client.delete_tee_authoring_policy(namespace_id) == {}
    assert node.requests()[-1]["method"] == "DELETE"
    sub = client.create_group_in_namespace(namespace_id, "sub")["data"]["groupId"]
    with pytest.raises(calimero.BadRequestError, match="not on subgroup"):
        client.set_tee_authoring_policy(sub, [mrtd])

    # The namespace's admin: a member may become it, a stranger may not.
    client.add_group_members(namespace_id, [{"identity": HEX, "role": "Member"}])
    assert client.change_namespace_admin(namespace_id, HEX) == {}
    assert body(node.requests()[-1]) == {"newAdmin": HEX}
    with pytest.raises(calimero.ConflictError):
        client.change_namespace_admin(namespace_id, "cd" * 32)
    counter = client.get_group_info(namespace_id)["data"]["ownerOpCounter"]
    assert counter == 3  # policy set, policy removed, admin changed

    assert client.owner_delete_group(sub) == {}
    assert body(node.requests()[-1]) == {}
    with pytest.raises(calimero.NotFoundError):
        client.get_group_info(sub)


@RC83
def test_link_device_binds_a_device_of_this_nodes_account(
    client: calimero.Client, node: TestNode, namespace_id: str
) -> None:
    own = node.control("POST", "credential", {"asNodeAccount": True})
    device = bytes.fromhex(own["credential"])[69:101].hex()
    linked = client.link_device(namespace_id, own["credential"], "00")
    assert linked == {
        "data": {"accountId": own["account"], "deviceId": device, "alreadyBound": False}
    }
    assert body(node.requests()[-1]) == {"credential": own["credential"], "scope": "00"}
    again = client.link_device(namespace_id, own["credential"], "00")["data"]
    assert again["alreadyBound"] is True
    foreign = node.control("POST", "credential", {})
    with pytest.raises(calimero.PermissionDeniedError, match="another account"):
        client.link_device(namespace_id, foreign["credential"], "00")
    with pytest.raises(calimero.BadRequestError, match="not a device certificate"):
        client.link_device(namespace_id, "0201", "00")


@RC83
def test_registration_attest_fails_without_tdx(client: calimero.Client, node: TestNode) -> None:
    with pytest.raises(calimero.ServerError) as info:
        client.tee_registration_attest(HEX)
    assert info.value.status == 500
    assert body(node.requests()[-1]) == {"nonce": HEX}


def test_registration_attest_quotes_on_a_mock_tee() -> None:
    node = TestNode("--tee-mock", node_version="0.11.0-rc.83")
    try:
        client = calimero.create_client(calimero.create_connection(node.url))
        quote = client.tee_registration_attest(HEX)["data"]
        assert set(quote) == {"quoteB64", "quote"}
        assert quote["quote"]["body"]["reportdata"].startswith(HEX)
    finally:
        node.stop()


# ---------------------------------------------------------------- auth


@pytest.fixture
def auth83(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("HOME", str(tmp_path))
    for name in ("CALIMERO_USERNAME", "CALIMERO_PASSWORD"):
        monkeypatch.delenv(name, raising=False)
    node = TestNode(
        "--auth", "--auth-user", AUTH_USER, "--auth-password", AUTH_PASSWORD,
        node_version="0.11.0-rc.83",
    )  # fmt: skip
    yield node
    node.stop()


def test_logout_retires_the_refresh_token_on_rc83(auth83: TestNode) -> None:
    conn = calimero.create_connection(
        auth83.url, "n83", username=AUTH_USER, password=AUTH_PASSWORD, interactive=False
    )
    calimero.create_client(conn).list_contexts()
    refresh = conn.token.refresh_token
    cache = Path(calimero.get_token_cache_path("n83"))
    assert cache.exists()
    conn.logout()
    sent = requests_to(auth83, "/auth/logout")
    assert [body(r) for r in sent] == [{"refresh_token": refresh}]
    assert conn.token is None and not cache.exists()
    # The node retired it: refreshing with it is refused.
    with pytest.raises(calimero.ClientError):
        conn.request("POST", "/auth/refresh", {"access_token": "x", "refresh_token": refresh})


def test_tokens_of_an_older_release_are_cleared(auth83: TestNode) -> None:
    """After an upgrade to rc.83, tokens without `key_id` are refused and
    so is their refresh: the cache is cleared and the error says to log in
    again (no credentials here)."""
    old = auth83.mint(keyId=None)
    cache = Path(calimero.get_token_cache_path("n83"))
    cache.parent.mkdir(parents=True, exist_ok=True)
    cache.write_text(json.dumps({"access_token": old["access_token"],
                                 "refresh_token": old["refresh_token"]}))  # fmt: skip
    conn = calimero.create_connection(auth83.url, "n83", interactive=False)
    assert conn.token is not None
    auth83.expire_access_tokens()
    with pytest.raises(calimero.AuthenticationError) as info:
        calimero.create_client(conn).list_contexts()
    assert "log in again" in str(info.value)
    assert conn.token is None and not cache.exists()


def test_events_without_subscribe_permission_end_at_once(auth83: TestNode, tmp_path: Path) -> None:
    """rc.41+ wants `context:subscribe` for event streams: a token without
    it gets 403, which ends the subscription with PermissionDeniedError
    instead of reconnecting."""
    scoped = auth83.mint(permissions=["context"])
    conn = calimero.create_connection(
        auth83.url, access_token=scoped["access_token"], interactive=False
    )
    with pytest.raises(calimero.PermissionDeniedError):
        calimero.create_client(conn).subscribe(group_ids=[HEX], max_reconnects=5)
    assert len(requests_to(auth83, "/sse")) == 1  # no reconnect attempts


def test_forms_install_and_tokens_on_an_rc25_install(node: TestNode, tmp_path: Path) -> None:
    """A dev install at rc.25 sends rc.25's body (metadata defaulted); at
    rc.83, the path alone."""
    client = calimero.create_client(calimero.create_connection(node.url))
    install_app(client, node, tmp_path, "com.example.forms")
    sent = body(requests_to(node, "/admin-api/install-dev-application")[-1])
    if rc(node) >= 32:
        assert set(sent) == {"path"}
    else:
        assert sent["metadata"] == [] and sent["package"] == "com.example.forms"
