"""Delegated access against the test node, whose own verifier (crates/testnode
src/delegated.rs: its own borsh reader, domain hash and ring's Ed25519) checks
what the client signs: request proofs, warrants, intents, the warrant-nonce
routes and the account_proof login. The scenarios that call the node run
through ``Client`` and ``AsyncClient`` alike."""

from __future__ import annotations

import json
import pickle
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

import calimero
from conftest import (
    AUTH_PASSWORD,
    AUTH_USER,
    AsyncDriven,
    SecretWatch,
    shared_auth_node,
)
from testnode import TestNode

CAN_AUTHOR_ON_BEHALF = 512


@pytest.fixture(params=["sync", "async"])
def mode(request: pytest.FixtureRequest) -> str:
    return request.param


def make_client(conn: calimero.ConnectionInfo, mode: str, loop: Any) -> Any:
    if mode == "async":
        return AsyncDriven(calimero.create_async_client(conn), loop)
    return calimero.create_client(conn)


class Relay:
    """An auth-mode test node with an application, a namespace and a
    context, reached as its admin; delegated access on."""

    def __init__(self, node: TestNode, tmp_path: Path) -> None:
        self.node = node
        self.admin = calimero.create_client(
            calimero.create_connection(
                node.url, username=AUTH_USER, password=AUTH_PASSWORD, interactive=False
            )
        )
        # An rc.83 node (the intents routes are rc.29+, warrants v2 rc.83):
        # a signed bundle is what its dev install takes.
        bundle = node.bundle("com.example.kv", "1.2.0")
        app = self.admin.install_dev_application(bundle["path"])
        self.app_id = app["data"]["applicationId"]
        self.namespace = self.admin.create_namespace(self.app_id)["data"]["namespaceId"]
        self.context = self.admin.create_context(self.app_id, self.namespace)["data"]["contextId"]
        self.identity = self.admin.get_node_identity()["data"]
        node.auth(delegatedAccess=True)

    def credential(self, **options: Any) -> dict[str, str]:
        return self.node.control("POST", "credential", options)

    def signed(self, minted: dict[str, str], **options: Any) -> calimero.ConnectionInfo:
        return calimero.create_connection(
            self.node.url,
            device_credential=minted["credential"],
            device_secret=minted["deviceSecret"],
            interactive=False,
            **options,
        )

    def grant_authorship(self) -> None:
        self.admin.set_member_capabilities(
            self.namespace, self.identity["accountId"], CAN_AUTHOR_ON_BEHALF
        )


#: Delegated access is spoken as merod 0.11.0-rc.83 speaks it.
RELAY_RELEASE = "0.11.0-rc.83"


@pytest.fixture
def relay(
    auth_testnodes: dict[str, TestNode],
    tmp_path: Path,
    home: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Relay:
    for name in ("CALIMERO_USERNAME", "CALIMERO_PASSWORD", "CALIMERO_ACCESS_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    node = shared_auth_node(auth_testnodes, RELAY_RELEASE)
    node.reset()
    return Relay(node, tmp_path)


def raw(node: TestNode, method: str, path: str, proof: str, body: bytes = b"") -> int:
    """Sends a request with only `X-Calimero-Proof`; answers the status."""
    req = urllib.request.Request(
        node.url + path,
        data=body or None,
        method=method,
        headers={"X-Calimero-Proof": proof, "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status
    except urllib.error.HTTPError as e:
        return e.code


# ---- request proofs ----


def test_a_signed_call_carries_a_proof_and_no_token(
    relay: Relay, mode: str, event_loop_thread: Any
) -> None:
    conn = relay.signed(relay.credential())
    client = make_client(conn, mode, event_loop_thread)
    relay.node.clear_requests()
    assert "contexts" in client.list_contexts()["data"]
    (logged,) = relay.node.requests()
    assert "x-calimero-proof" in logged["headers"]
    assert "authorization" not in logged["headers"]
    assert conn.device_credential is not None


def test_a_node_not_serving_delegated_access_says_so(
    relay: Relay, mode: str, event_loop_thread: Any
) -> None:
    relay.node.auth(delegatedAccess=False)
    client = make_client(relay.signed(relay.credential()), mode, event_loop_thread)
    with pytest.raises(calimero.PermissionDeniedError) as e:
        client.list_contexts()
    assert e.value.status == 403
    assert e.value.auth_error == "invalid_proof"
    assert "--delegated-access" in str(e.value)


def test_the_nodes_own_account_is_served_without_the_flag(relay: Relay) -> None:
    relay.node.auth(delegatedAccess=False)
    own = relay.credential(asNodeAccount=True)
    assert calimero.create_client(relay.signed(own)).list_contexts()["data"] is not None


def test_an_expired_proof_is_refused(relay: Relay, mode: str, event_loop_thread: Any) -> None:
    client = make_client(relay.signed(relay.credential()), mode, event_loop_thread)
    relay.node.auth(advanceClock=400)  # the node's clock runs past the 300 s window
    with pytest.raises(calimero.AuthenticationError) as e:
        client.list_contexts()
    assert e.value.status == 401 and e.value.auth_error == "invalid_proof"
    assert "clock" in str(e.value)


def test_the_node_refuses_a_bad_signature_another_path_and_a_changed_body(relay: Relay) -> None:
    minted = relay.credential()
    credential, secret = minted["credential"], minted["deviceSecret"]
    path = "/admin-api/contexts"

    def proof(method: str, signed_path: str, body: str = "", key: str = secret) -> str:
        return credential + "00" + calimero.sign_request(method, signed_path, key, body)

    assert raw(relay.node, "GET", path, proof("GET", path)) == 200
    assert raw(relay.node, "GET", path, proof("GET", path, key="11" * 32)) == 401
    assert raw(relay.node, "GET", path, proof("GET", "/admin-api/namespaces")) == 401
    assert raw(relay.node, "GET", path, proof("HEAD", path)) == 401
    body = json.dumps({"applicationId": relay.app_id, "groupId": relay.namespace})
    signed = proof("POST", path, body)
    assert raw(relay.node, "POST", path, signed, body.replace("}", " }").encode()) == 401
    assert raw(relay.node, "GET", path, "zz") == 401
    assert raw(relay.node, "GET", path, credential) == 401


def test_a_retried_and_a_redirected_request_are_signed_again(relay: Relay) -> None:
    conn = relay.signed(relay.credential())
    relay.node.fault("/admin-api/contexts", "status", status=503, times=1)
    relay.node.clear_requests()
    calimero.create_client(conn).list_contexts()
    attempts = [r for r in relay.node.requests() if r["path"] == "/admin-api/contexts"]
    assert len(attempts) == 2
    assert all("x-calimero-proof" in r["headers"] for r in attempts)
    # A redirect: the second hop is signed for its own path (the node checks).
    relay.node.fault(
        "/admin-api/applications",
        "status",
        status=307,
        headers={"location": "/admin-api/contexts"},
        times=1,
    )
    assert "contexts" in conn.request("GET", "/admin-api/applications")["data"]
    # ...but never to another origin.
    relay.node.fault(
        "/admin-api/packages",
        "status",
        status=302,
        headers={"location": "http://127.0.0.2:9/x"},
        times=1,
    )
    with pytest.raises(calimero.ClientError) as e:
        conn.request("GET", "/admin-api/packages")
    assert "another origin" in str(e.value)


def test_a_session_key_signs_for_its_node_only(relay: Relay) -> None:
    minted = relay.credential()
    session_secret = "5a" * 32
    session_key = calimero.public_key_of(session_secret)
    node_key = relay.identity["publicKey"]
    statement = calimero.sign_login_statement(node_key, session_key, minted["deviceSecret"])
    conn = calimero.create_connection(
        relay.node.url,
        device_credential=minted["credential"],
        device_secret=session_secret,
        device_session=statement,
    )
    assert calimero.create_client(conn).list_contexts()["data"] is not None
    other = calimero.sign_login_statement("77" * 32, session_key, minted["deviceSecret"])
    conn = calimero.create_connection(
        relay.node.url,
        device_credential=minted["credential"],
        device_secret=session_secret,
        device_session=other,
    )
    with pytest.raises(calimero.AuthenticationError):
        calimero.create_client(conn).list_contexts()


def test_signed_blob_uploads_and_downloads(relay: Relay) -> None:
    client = calimero.create_client(relay.signed(relay.credential()))
    blob = client.upload_blob(b"x" * 1000)["data"]["blob_id"]
    assert client.download_blob(blob) == b"x" * 1000
    with pytest.raises(ValueError, match="1048576"):
        client.upload_blob(b"y" * (1024 * 1024 + 1))


@pytest.mark.parametrize("transport", ["sse", "ws"])
def test_signed_event_streams(relay: Relay, transport: str) -> None:
    from test_events import next_event

    client = calimero.create_client(relay.signed(relay.credential()))
    relay.node.clear_requests()
    with client.subscribe(relay.context, transport=transport) as sub:
        relay.admin.call(relay.context, "set", {"key": "e", "value": "v"})
        assert next_event(sub)["contextId"] == relay.context
    stream = [r for r in relay.node.requests() if r["path"] in ("/sse", "/ws")]
    assert stream and all("x-calimero-proof" in r["headers"] for r in stream)
    signed = [r for r in relay.node.requests() if "x-calimero-proof" in r["headers"]]
    assert signed and not any("authorization" in r["headers"] for r in signed)


# ---- intents ----


def test_an_intent_round_trip(relay: Relay, mode: str, event_loop_thread: Any) -> None:
    minted = relay.credential()
    client = make_client(relay.signed(minted), mode, event_loop_thread)
    info = client.get_intent_relay(relay.context)["data"]
    assert info["canAuthorOnBehalf"] is False
    relay.grant_authorship()
    info = client.get_intent_relay(relay.context)["data"]
    assert info["canAuthorOnBehalf"] is True
    assert info["executorAccount"] == relay.identity["accountId"]
    nonce = client.next_warrant_nonce(relay.context)  # rc.83: no route, a local nonce

    def warrant(args: Any, nonce: int, **options: Any) -> dict[str, Any]:
        return calimero.sign_warrant(
            relay.context,
            info["executorAccount"],
            info["executorKey"],
            info["releaseBytecodeId"],
            info["releaseVersion"],
            "set",
            args,
            nonce,
            minted["deviceSecret"],
            minted["credential"],
            **options,
        )

    signed = warrant({"key": "k", "value": "v"}, nonce)
    assert signed["authorAccount"] == minted["account"]
    assert signed["nonce"] == nonce
    # Keys in another order are the same intent (the relay hashes them sorted).
    out = client.perform_intent(
        relay.context, "set", {"value": "v", "key": "k"}, signed["warrant"], minted["credential"]
    )
    assert "returns" in out["data"]
    assert relay.admin.call(relay.context, "get", {"key": "k"}) == "v"
    with pytest.raises(calimero.ConflictError):  # a nonce is spent once
        client.perform_intent(
            relay.context,
            "set",
            {"key": "k", "value": "v"},
            signed["warrant"],
            minted["credential"],
        )
    again = warrant({"key": "k", "value": "v"}, client.next_warrant_nonce(relay.context))
    with pytest.raises(calimero.PermissionDeniedError, match="does not cover"):
        client.perform_intent(
            relay.context, "set", {"key": "k", "value": "w"}, again["warrant"], minted["credential"]
        )
    stale = warrant(
        {"key": "a", "value": "b"}, client.next_warrant_nonce(relay.context), valid_for=1
    )
    relay.node.auth(advanceClock=5)
    with pytest.raises(calimero.PermissionDeniedError, match="expired"):
        client.perform_intent(
            relay.context, "set", {"key": "a", "value": "b"}, stale["warrant"], minted["credential"]
        )
    other = relay.credential()
    with pytest.raises(calimero.BadRequestError, match="does not verify"):
        client.perform_intent(
            relay.context, "set", {"key": "k", "value": "v"}, again["warrant"], other["credential"]
        )


def test_the_warrant_nonce_routes_where_served(
    relay: Relay, mode: str, event_loop_thread: Any
) -> None:
    relay.node.auth(warrantNonceRoutes=True)
    relay.grant_authorship()
    minted = relay.credential()
    # The routes are newer than rc.83: a connection to an rc.83 node uses
    # its local counter without asking; one pinned to a later release asks.
    unpinned = make_client(relay.signed(minted), mode, event_loop_thread)
    relay.node.clear_requests()
    assert unpinned.next_warrant_nonce(relay.context) > 10**15  # microseconds
    assert not [r for r in relay.node.requests() if "warrant-nonce" in r["path"]]
    client = make_client(relay.signed(minted, node_version="0.11.0-rc.84"), mode, event_loop_thread)
    assert client.next_warrant_nonce(relay.context) == 0
    info = client.get_intent_relay(relay.context)["data"]
    signed = calimero.sign_warrant(
        relay.context,
        info["executorAccount"],
        info["executorKey"],
        info["releaseBytecodeId"],
        info["releaseVersion"],
        "set",
        '{"key": "n", "value": "1"}',
        41,
        minted["deviceSecret"],
        calimero.DeviceCredential(minted["credential"]),
    )
    client.perform_intent(
        relay.context, "set", {"key": "n", "value": "1"}, signed["warrant"], minted["credential"]
    )
    assert client.next_warrant_nonce(relay.context) == 42
    own = client.get_own_warrant_nonce(relay.context, minted["credential"])["data"]
    assert (own["seen"], own["nextNonce"]) == (True, 42)
    admin = calimero.create_client(
        calimero.create_connection(
            relay.node.url,
            username=AUTH_USER,
            password=AUTH_PASSWORD,
            interactive=False,
            node_version="0.11.0-rc.84",
        )
    )
    assert admin.next_warrant_nonce(relay.context, minted["devicePublicKey"]) == 42
    assert (
        admin.get_warrant_nonce(relay.context, minted["devicePublicKey"])["data"]["highWaterNonce"]
        == 41
    )


def test_an_account_proof_login(relay: Relay) -> None:
    minted = relay.credential()
    conn = relay.signed(minted)
    identity_key = relay.identity["publicKey"]
    token = conn.login_account_proof(_hex_of(identity_key))
    assert conn.login_account_proof(identity_key).access_token  # base58 too
    assert token.access_token and token.refresh_token
    session = calimero.create_client(
        calimero.create_connection(relay.node.url, access_token=token.access_token)
    )
    assert session.list_contexts()["data"] is not None
    with pytest.raises(calimero.AuthenticationError):
        conn.login_account_proof("12" * 32)  # a statement for another node


def _hex_of(key: str) -> str:
    """A key from the node (base58 at rc.25, hex later) as hex."""
    if len(key) == 64:
        return key
    alphabet = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
    n = 0
    for c in key:
        n = n * 58 + alphabet.index(c)
    return n.to_bytes(32, "big").hex()


# ---- offline: arguments and secrets ----


def test_half_a_pair_and_a_bad_session_are_refused(relay: Relay) -> None:
    minted = relay.credential()
    url = relay.node.url
    with pytest.raises(ValueError, match="device_secret"):
        calimero.create_connection(url, device_credential=minted["credential"])
    with pytest.raises(ValueError, match="device_credential"):
        calimero.create_connection(url, device_secret=minted["deviceSecret"])
    with pytest.raises(ValueError, match="device_session"):
        calimero.create_connection(url, device_session="00")
    with pytest.raises(ValueError, match="device_session"):
        calimero.create_connection(
            url,
            device_credential=minted["credential"],
            device_secret=minted["deviceSecret"],
            device_session="0011",
        )
    with pytest.raises(ValueError, match="does not hold"):
        calimero.create_connection(
            url, device_credential=minted["credential"], device_secret="22" * 32
        )
    with pytest.raises(ValueError, match="never a token"):
        calimero.create_connection(
            url,
            device_credential=minted["credential"],
            device_secret=minted["deviceSecret"],
            access_token="a.b.c",
        )
    # Positional, as in the official 0.9.0.
    conn = calimero.create_connection(url, None, minted["credential"], minted["deviceSecret"])
    assert conn.device_credential == calimero.DeviceCredential(minted["credential"])


def test_a_device_credential_shows_and_verifies(relay: Relay) -> None:
    minted = relay.credential(handoffs=2)
    c = calimero.DeviceCredential(minted["credential"])
    assert c.account == minted["account"]
    assert c.signing_key == minted["devicePublicKey"]
    assert (c.key_epoch, c.device_epoch, c.handoffs) == (2, 0, 2)
    c.verify()
    assert c.valid and c.hex == minted["credential"]
    assert c.to_dict()["account"] == minted["account"]
    assert pickle.loads(pickle.dumps(c)) == c
    assert c.account in repr(c)
    broken = minted["credential"][:-2] + ("00" if minted["credential"][-2:] != "00" else "01")
    bad = calimero.DeviceCredential(broken)
    assert not bad.valid
    with pytest.raises(ValueError, match="does not verify"):
        bad.verify()
    with pytest.raises(ValueError, match="credential"):
        calimero.DeviceCredential(minted["credential"][:-2])


def test_no_secret_in_any_output(relay: Relay, secret_watch: SecretWatch) -> None:
    minted = relay.credential()
    secret = minted["deviceSecret"]
    secret_watch.secrets += [secret, minted["rootSecret"]]
    conn = relay.signed(minted)
    client = calimero.create_client(conn)
    secret_watch.see(conn, client, conn.device_credential)
    relay.node.auth(delegatedAccess=False)
    with pytest.raises(calimero.PermissionDeniedError):
        client.list_contexts()
    relay.node.auth(delegatedAccess=True, advanceClock=400)
    with pytest.raises(calimero.AuthenticationError):
        client.list_contexts()
    for bad in (secret[:-1] + "g", secret[:10], secret + "00"):
        with pytest.raises(ValueError) as e:
            calimero.sign_request("GET", "/x", bad)
        secret_watch.see(e.value)
        with pytest.raises(ValueError) as e:
            calimero.create_connection(
                relay.node.url, device_credential=minted["credential"], device_secret=bad
            )
        secret_watch.see(e.value)
    with pytest.raises(ValueError) as e:
        calimero.sign_warrant(
            "11" * 32,
            "22" * 32,
            "33" * 32,
            "44" * 32,
            "1.0.0",
            "set",
            "{",
            1,
            secret,
            minted["credential"],
        )
    secret_watch.see(e.value)


# ---- the command line ----


def test_the_cli_signs_and_performs_an_intent(
    relay: Relay, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from calimero import cli

    relay.grant_authorship()
    minted = relay.credential()
    monkeypatch.setenv("CALIMERO_DEVICE_SECRET", minted["deviceSecret"])
    monkeypatch.setenv("CALIMERO_DEVICE_CREDENTIAL", minted["credential"])
    base = ["--node-url", relay.node.url, "--json"]

    assert cli.main([*base, "intents", "sign-request", "GET", "/admin-api/contexts"]) == 0
    signature = json.loads(capsys.readouterr().out)
    assert raw(relay.node, "GET", "/admin-api/contexts", minted["credential"] + "00" + signature)
    assert cli.main([*base, "intents", "sign-warrant", relay.context, "set", "--nonce", "7"]) == 0
    warrant = json.loads(capsys.readouterr().out)
    assert warrant["nonce"] == 7 and warrant["authorAccount"] == minted["account"]
    args = '{"key": "cli", "value": "yes"}'
    assert cli.main([*base, "intents", "act", relay.context, "set", "--args", args]) == 0
    assert "returns" in json.loads(capsys.readouterr().out)["data"]
    assert relay.admin.call(relay.context, "get", {"key": "cli"}) == "yes"
    # Signed calls of the table too; the secret is never printed.
    assert cli.main([*base, "contexts", "list"]) == 0
    out = capsys.readouterr()
    assert minted["deviceSecret"] not in out.out + out.err
    monkeypatch.delenv("CALIMERO_DEVICE_SECRET")
    with pytest.raises(SystemExit) as e:
        cli.main([*base, "contexts", "list"])
    assert e.value.code == 2
    assert "CALIMERO_DEVICE_SECRET" in capsys.readouterr().err
