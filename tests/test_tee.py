"""TEE nodes: ``TeePolicy`` (its rules, ``from_releases``, ``verify_quote``
on a recorded TDX quote and its collateral), the arguments of a sealed
``create_connection``, and a sealed session against the test node serving
the sealed transport with a fixed key (``--transport-secret``), sealing
required: calls, a large answer streamed, events, token refreshes, renewal
after a forced 409, a tampered frame refused, a WebSocket refused, and a
mock quote refused before anything is sent.

The recorded quote and collateral are dcap-qvl's samples, as core and
mero-js test them (``tests/data/tee/README.md``)."""

from __future__ import annotations

import base64
import concurrent.futures
import json
import os
import pickle
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import calimero
from conftest import AUTH_PASSWORD, AUTH_USER, make_wasm
from forking import passes_in_a_forked_child
from testnode import TestNode

DATA = Path(__file__).parent / "data" / "tee"
QUOTE = (DATA / "tdx_quote").read_bytes()
COLLATERAL = json.loads((DATA / "tdx_quote_collateral.json").read_text())
RELEASE = DATA / "mero-tee-v2.3.87.published-mrtds.json"
#: Inside the collateral's validity window (2025-06-27).
AT = 1_751_000_000
#: The test node's transport secret (core's vector secret) and its key.
SECRET = "22" * 32
TRANSPORT_KEY = "0faa684ed28867b97f4a6a2dee5df8ce974e76b7018e3f22a1c4cf2678570f20"


def registers(quote: bytes) -> dict[str, str]:
    """The TD report of a v4 TDX quote (after its 48-byte header)."""
    body = quote[48:]
    at = {"mrtd": 136, "rtmr0": 328, "rtmr1": 376, "rtmr2": 424, "rtmr3": 472}
    out = {name: body[o : o + 48].hex() for name, o in at.items()}
    out["report_data"] = body[520:584].hex()
    return out


RECORDED = registers(QUOTE)
ALL_STATUSES = [
    "UpToDate",
    "SWHardeningNeeded",
    "ConfigurationNeeded",
    "ConfigurationAndSWHardeningNeeded",
    "OutOfDate",
    "OutOfDateConfigurationNeeded",
]


def pinning(image: dict[str, str], **overrides: Any) -> calimero.TeePolicy:
    args: dict[str, Any] = {
        "allowed_rtmr0": [image["rtmr0"]],
        "allowed_rtmr1": [image["rtmr1"]],
        "allowed_rtmr2": [image["rtmr2"]],
        "allowed_rtmr3": [image["rtmr3"]],
        "allowed_tcb_statuses": ALL_STATUSES,
    }
    args.update(overrides)
    return calimero.TeePolicy([image["mrtd"]], **args)


# ------------------------------------------------------------------ policy


def test_a_recorded_quote_verifies_under_a_policy_that_pins_it() -> None:
    verified = pinning(RECORDED).verify_quote(
        QUOTE, COLLATERAL, report_data=bytes.fromhex(RECORDED["report_data"]), now=AT
    )
    assert verified["mrtd"] == RECORDED["mrtd"]
    assert [verified[f"rtmr{i}"] for i in range(4)] == [RECORDED[f"rtmr{i}"] for i in range(4)]
    assert verified["report_data"] == RECORDED["report_data"]
    assert verified["tcb_status"] in ALL_STATUSES
    # The collateral as JSON text verifies the same.
    text = json.dumps(COLLATERAL)
    assert pinning(RECORDED).verify_quote(QUOTE, text, now=AT) == verified


@pytest.mark.parametrize("register", ["mrtd", "rtmr0", "rtmr1", "rtmr2", "rtmr3"])
def test_a_recorded_quote_is_refused_under_a_policy_that_does_not_pin_it(register: str) -> None:
    other = dict(RECORDED)
    other[register] = "ab" * 48
    with pytest.raises(calimero.AttestationError, match="not one the policy allows") as info:
        pinning(other).verify_quote(QUOTE, COLLATERAL, now=AT)
    assert isinstance(info.value, calimero.ClientError)
    assert pickle.loads(pickle.dumps(info.value)).message == info.value.message


def test_a_quote_is_refused_for_another_nonce_a_status_or_a_stale_collateral() -> None:
    wrong = bytearray.fromhex(RECORDED["report_data"])
    wrong[0] ^= 1
    with pytest.raises(calimero.AttestationError, match="does not commit"):
        pinning(RECORDED).verify_quote(QUOTE, COLLATERAL, report_data=bytes(wrong), now=AT)
    status = pinning(RECORDED).verify_quote(QUOTE, COLLATERAL, now=AT)["tcb_status"]
    others = [s for s in ALL_STATUSES if s != status]
    with pytest.raises(calimero.AttestationError, match="TCB status"):
        pinning(RECORDED, allowed_tcb_statuses=others).verify_quote(QUOTE, COLLATERAL, now=AT)
    # Today the recorded collateral has long expired.
    with pytest.raises(calimero.AttestationError, match="did not verify"):
        pinning(RECORDED).verify_quote(QUOTE, COLLATERAL)
    tampered = bytearray(QUOTE)
    tampered[200] ^= 1
    with pytest.raises(calimero.AttestationError, match="did not verify"):
        pinning(RECORDED).verify_quote(bytes(tampered), COLLATERAL, now=AT)


def test_a_mock_quote_is_refused() -> None:
    # Core's mock attestation: the header, the report data, zeros to 256 bytes.
    mock = (b"MOCK_TDX_QUOTE_V1" + bytes(64)).ljust(256, b"\0")
    with pytest.raises(calimero.AttestationError, match="mock quote"):
        pinning(RECORDED).verify_quote(mock, COLLATERAL, now=AT)


def test_a_policy_must_name_the_image() -> None:
    m = ["ab" * 48]
    with pytest.raises(ValueError, match="^allowed_mrtd:"):
        calimero.TeePolicy([], allowed_rtmr1=m, allowed_rtmr2=m, allowed_rtmr3=m)
    for missing in ("allowed_rtmr1", "allowed_rtmr2", "allowed_rtmr3"):
        args = {"allowed_rtmr1": m, "allowed_rtmr2": m, "allowed_rtmr3": m}
        del args[missing]
        with pytest.raises(ValueError, match=f"^{missing}:.*RTMR1-3"):
            calimero.TeePolicy(m, **args)
    full = {"allowed_rtmr1": m, "allowed_rtmr2": m, "allowed_rtmr3": m}
    with pytest.raises(ValueError, match="^allowed_mrtd: expected a 48-byte measurement"):
        calimero.TeePolicy(["abc"], **full)
    with pytest.raises(ValueError, match="never trusted"):
        calimero.TeePolicy(m, allowed_tcb_statuses=["Revoked"], **full)
    with pytest.raises(ValueError, match="^allowed_tcb_statuses:"):
        calimero.TeePolicy(m, allowed_tcb_statuses=["fine"], **full)
    with pytest.raises(TypeError, match="^allowed_mrtd: expected a list of str"):
        calimero.TeePolicy("ab" * 48, **full)  # type: ignore[arg-type]
    app = "1" * 32
    with pytest.raises(ValueError, match="^application_hash:"):
        calimero.TeePolicy(m, application_id=app, **full)
    with pytest.raises(ValueError, match="^application_id:"):
        calimero.TeePolicy(m, application_hash="cd" * 32, **full)
    policy = calimero.TeePolicy(
        [m[0].upper()], application_id=app, application_hash="cd" * 32, **full
    )
    assert policy.allowed_mrtd == m
    assert policy.allowed_rtmr0 is None
    assert policy.allowed_rtmr3 == m
    assert policy.allowed_tcb_statuses == ["UpToDate"]
    assert (policy.application_id, policy.application_hash) == (app, "cd" * 32)
    assert "TeePolicy(" in repr(policy)


def test_a_policy_from_releases() -> None:
    text = RELEASE.read_text()
    for given in (RELEASE, json.loads(text), text, text.encode()):
        policy = calimero.TeePolicy.from_releases([given], "locked-read-only")
        assert policy.allowed_mrtd == [json.loads(text)["profiles"]["locked-read-only"]["mrtd"]]
        assert policy.allowed_rtmr0 == [json.loads(text)["profiles"]["locked-read-only"]["rtmr0"]]
        assert policy.allowed_tcb_statuses == ["UpToDate", "OutOfDate"]
    with pytest.raises(ValueError, match='no profile "prod"'):
        calimero.TeePolicy.from_releases([RELEASE], "prod")
    with pytest.raises(ValueError, match="at least one release"):
        calimero.TeePolicy.from_releases([], "debug")
    with pytest.raises(TypeError, match="^releases:"):
        calimero.TeePolicy.from_releases(RELEASE, "debug")  # type: ignore[arg-type]
    # The recorded quote is not of mero-tee's image.
    with pytest.raises(calimero.AttestationError, match="not those of an image"):
        calimero.TeePolicy.from_releases([RELEASE], "debug").verify_quote(QUOTE, COLLATERAL, now=AT)
    # A release of the recorded quote's image: its registers, whole.
    release = {
        "role": "node",
        "tag": "recorded",
        "profiles": {
            "p": {**{k: RECORDED[k] for k in ("mrtd", "rtmr0", "rtmr1", "rtmr2", "rtmr3")}},
        },
    }
    release["profiles"]["p"]["allowed_tcb_statuses"] = ALL_STATUSES
    calimero.TeePolicy.from_releases([release], "p").verify_quote(QUOTE, COLLATERAL, now=AT)


# ------------------------------------------------------- create_connection


def test_combinations_that_protect_nothing_are_refused() -> None:
    url = "http://127.0.0.1:9"
    policy = pinning(RECORDED)
    with pytest.raises(ValueError, match="^sealed: sealing needs the node's transport key"):
        calimero.create_connection(url, sealed=True)
    with pytest.raises(ValueError, match="^sealed: .*without sealed=True"):
        calimero.create_connection(url, tee=policy)
    with pytest.raises(ValueError, match="^sealed: .*without sealed=True"):
        calimero.create_connection(url, transport_public_key=TRANSPORT_KEY)
    with pytest.raises(ValueError, match="^transport_public_key: give either"):
        calimero.create_connection(url, tee=policy, transport_public_key=TRANSPORT_KEY, sealed=True)
    with pytest.raises(ValueError, match="^tee_collateral:"):
        calimero.create_connection(
            url, transport_public_key=TRANSPORT_KEY, sealed=True, tee_collateral=COLLATERAL
        )
    with pytest.raises(ValueError, match="^transport_public_key: expected 64 hex"):
        calimero.create_connection(url, transport_public_key="abc", sealed=True)
    with pytest.raises(ValueError, match="^transport_public_key: expected 32 bytes"):
        calimero.create_connection(url, transport_public_key=b"abc", sealed=True)
    with pytest.raises(TypeError, match="^tee: expected a TeePolicy"):
        calimero.create_connection(url, tee="policy", sealed=True)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="^sealed: expected True or False"):
        calimero.create_connection(url, tee=policy, sealed=1)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="^tee_collateral: expected DCAP collateral"):
        calimero.create_connection(url, tee=policy, sealed=True, tee_collateral={"x": 1})
    # What is accepted: no I/O until the first call.
    conn = calimero.create_connection(url, transport_public_key=TRANSPORT_KEY, sealed=True)
    assert conn.sealed and conn.transport_public_key == TRANSPORT_KEY
    by_bytes = calimero.create_connection(
        url, transport_public_key=bytes.fromhex(TRANSPORT_KEY), sealed=True
    )
    assert by_bytes.transport_public_key == TRANSPORT_KEY
    attested = calimero.create_connection(url, tee=policy, sealed=True, tee_collateral=COLLATERAL)
    assert attested.sealed and attested.transport_public_key is None
    plain = calimero.create_connection(url)
    assert not plain.sealed and plain.transport_public_key is None


# ---------------------------------------------------------- sealed session


@pytest.fixture(scope="module")
def sealed_node() -> Iterator[TestNode]:
    """A test node serving the sealed transport, refusing unsealed requests."""
    node = TestNode("--transport-secret", SECRET, "--sealed-required")
    yield node
    node.stop()


def sealed_status(node: TestNode, **control: Any) -> dict[str, Any]:
    return node.control("POST", "sealed", control)


@pytest.fixture
def sealed(sealed_node: TestNode) -> calimero.ConnectionInfo:
    sealed_node.reset()
    sealed_status(sealed_node, resetStats=True, forgetSessions=True)
    key = sealed_status(sealed_node)["transportPublicKey"]
    assert key == TRANSPORT_KEY
    return calimero.create_connection(sealed_node.url, transport_public_key=key, sealed=True)


def new_context(client: calimero.Client, tmp_path: Path) -> str:
    app = client.install_dev_application(str(make_wasm(tmp_path)))["data"]["applicationId"]
    ns = client.create_namespace(app)["data"]["namespaceId"]
    return client.create_context(app, ns)["data"]["contextId"]


def test_a_sealed_session(
    sealed_node: TestNode, sealed: calimero.ConnectionInfo, tmp_path: Path
) -> None:
    client = calimero.create_client(sealed)
    ctx = new_context(client, tmp_path)
    client.call(ctx, "set", {"key": "secret", "value": "for the TD only"})
    assert client.call(ctx, "get", {"key": "secret"}) == "for the TD only"
    with pytest.raises(calimero.NotFoundError):
        client.get_context("1" * 32)
    log = sealed_node.requests()
    assert len(log) >= 6
    assert all(r["sealed"] for r in log), [r["path"] for r in log if not r["sealed"]]
    status = sealed_status(sealed_node)
    assert status["handshakes"] == 1
    assert status["requests"] == len(log)
    # Unsealed, the node answers nothing but its probes.
    plain = calimero.create_client(calimero.create_connection(sealed_node.url))
    with pytest.raises(calimero.PermissionDeniedError, match="sealed_required"):
        plain.list_contexts()
    assert plain.health() is not None


def test_the_async_client_goes_sealed(
    sealed_node: TestNode, sealed: calimero.ConnectionInfo
) -> None:
    import asyncio

    async def main() -> Any:
        return await calimero.create_async_client(sealed).list_contexts()

    assert asyncio.run(main()) == {"data": {"contexts": []}}
    assert all(r["sealed"] for r in sealed_node.requests())


def test_a_large_answer_streams_in_frames(
    sealed_node: TestNode, sealed: calimero.ConnectionInfo, tmp_path: Path
) -> None:
    client = calimero.create_client(sealed)
    data = bytes(range(256)) * 12_000  # 3 MB
    blob = client.upload_blob(data)["data"]["blob_id"]
    assert client.download_blob(blob) == data
    # The head, a data frame per 64 KiB, the end.
    assert sealed_status(sealed_node)["lastFrames"] == 2 + -(-len(data) // 65536)
    seen: list[tuple[int, int | None]] = []
    path = tmp_path / "blob.bin"
    client.download_blob_to_path(
        blob, path, progress=lambda done, total: seen.append((done, total))
    )
    assert path.read_bytes() == data
    # The inner Content-Length does not cross the envelope (a hop header).
    assert seen[-1] == (len(data), None)
    with client.iter_blob(blob, chunk_size=65536) as chunks:
        pieces = list(chunks)
    assert len(pieces) >= 40 and b"".join(pieces) == data


def test_a_session_the_node_dropped_is_renewed(
    sealed_node: TestNode, sealed: calimero.ConnectionInfo, tmp_path: Path
) -> None:
    client = calimero.create_client(sealed)
    ctx = new_context(client, tmp_path)
    sealed_status(sealed_node, forgetSessions=True)
    # A POST too: the node refused the envelope before anything ran.
    client.call(ctx, "set", {"key": "k", "value": "v"})
    status = sealed_status(sealed_node)
    assert status["handshakes"] == 2
    assert status["refusals"] == {"unknown_session": 1}
    assert client.call(ctx, "get", {"key": "k"}) == "v"


@pytest.mark.skipif(not hasattr(os, "fork"), reason="fork")
def test_a_forked_child_opens_a_session_of_its_own(
    sealed_node: TestNode, sealed: calimero.ConnectionInfo
) -> None:
    """Sharing its parent's session would reuse its request ids, and so the
    AES-GCM nonces under its key: the child opens its own."""
    client = calimero.create_client(sealed)
    client.list_contexts()
    assert passes_in_a_forked_child(lambda: client.list_contexts() == {"data": {"contexts": []}})
    client.list_contexts()  # the parent goes on in its session
    status_now = sealed_status(sealed_node)
    assert status_now["handshakes"] == 2
    assert status_now["refusals"] == {}


def test_busy_is_waited_out(sealed_node: TestNode, sealed: calimero.ConnectionInfo) -> None:
    client = calimero.create_client(sealed)
    sealed_status(sealed_node, busy=1, retryAfter="0.05")
    client.list_contexts()
    assert sealed_status(sealed_node)["refusals"] == {"busy": 1}


@pytest.mark.parametrize(
    ("control", "message"),
    [
        ({"tamperFrame": 0}, "did not open"),
        ({"tamperFrame": 1}, "did not open"),
        ({"cutShort": True}, "cut short"),
    ],
)
def test_a_tampered_or_cut_answer_is_refused(
    sealed_node: TestNode, sealed: calimero.ConnectionInfo, control: dict[str, Any], message: str
) -> None:
    client = calimero.create_client(sealed)
    client.list_contexts()
    sealed_status(sealed_node, **control)
    with pytest.raises(calimero.SealedTransportError, match=message) as info:
        client.list_contexts()
    assert isinstance(info.value, calimero.ClientError)
    assert info.value.method == "GET"
    assert client.list_contexts() == {"data": {"contexts": []}}


def test_a_restarted_node_is_refused_for_a_given_key(
    sealed_node: TestNode, sealed: calimero.ConnectionInfo
) -> None:
    client = calimero.create_client(sealed)
    client.list_contexts()
    sealed_status(sealed_node, transportSecret="23" * 32)
    try:
        with pytest.raises(calimero.AttestationError, match="restarted"):
            client.list_contexts()
    finally:
        sealed_status(sealed_node, transportSecret=SECRET)


def test_events_come_sealed_and_a_websocket_is_refused(
    sealed_node: TestNode, sealed: calimero.ConnectionInfo, tmp_path: Path
) -> None:
    client = calimero.create_client(sealed)
    ctx = new_context(client, tmp_path)
    with pytest.raises(ValueError, match="^transport: a WebSocket cannot be sealed"):
        client.subscribe(context_ids=[ctx], transport="ws")
    with client.subscribe(context_ids=[ctx]) as sub:
        client.call(ctx, "set", {"key": "k", "value": "v"})
        pool = concurrent.futures.ThreadPoolExecutor(1)
        event = pool.submit(next, sub).result(timeout=20)
        pool.shutdown(wait=False)
        assert event["contextId"] == ctx
        assert event["type"] == "StateMutation"
    log = sealed_node.requests()
    assert any(r["path"] == "/sse" for r in log)
    assert all(r["sealed"] for r in log)


def test_logins_and_token_refreshes_go_sealed(monkeypatch: pytest.MonkeyPatch, home: Path) -> None:
    for name in ("CALIMERO_USERNAME", "CALIMERO_PASSWORD", "CALIMERO_ACCESS_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    node = TestNode(
        "--auth",
        "--auth-user",
        AUTH_USER,
        "--auth-password",
        AUTH_PASSWORD,
        "--transport-secret",
        SECRET,
        "--sealed-required",
    )
    try:
        conn = calimero.create_connection(
            node.url,
            username=AUTH_USER,
            password=AUTH_PASSWORD,
            transport_public_key=TRANSPORT_KEY,
            sealed=True,
        )
        client = calimero.create_client(conn)
        client.list_contexts()
        node.expire_access_tokens()
        client.list_contexts()
        paths = [r["path"] for r in node.requests()]
        assert "/auth/token" in paths and "/auth/refresh" in paths
        assert all(r["sealed"] for r in node.requests())
    finally:
        node.stop()


def test_a_mock_quote_is_refused_before_anything_is_sent() -> None:
    node = TestNode("--tee-mock", "--transport-secret", SECRET)
    try:
        policy = calimero.TeePolicy(
            ["00" * 48], **{f"allowed_rtmr{i}": ["00" * 48] for i in range(1, 4)}
        )
        conn = calimero.create_connection(node.url, tee=policy, sealed=True)
        with pytest.raises(calimero.AttestationError, match="mock quote"):
            calimero.create_client(conn).list_contexts()
        assert conn.transport_public_key is None
        log = node.requests()
        assert [r["path"] for r in log] == ["/admin-api/tee/attest"]
        sent = json.loads(log[0]["body"])
        assert sent["bindTransportKey"] is True and sent["includeCollateral"] is True
        assert len(bytes.fromhex(sent["nonce"])) == 32
        assert node.control("GET", "sealed")["handshakes"] == 0

        # The attest call itself, with the rc.83 flags (a node serving the
        # sealed transport takes them whatever release it answers as).
        plain = calimero.create_client(
            calimero.create_connection(node.url, node_version="0.11.0-rc.83")
        )
        nonce = "ab" * 32
        answer = plain.tee_attest(nonce, bind_transport_key=True, include_collateral=True)
        assert answer["data"]["transportPublicKey"] == TRANSPORT_KEY
        quote = base64.b64decode(answer["data"]["quoteB64"])
        with pytest.raises(calimero.AttestationError, match="mock quote"):
            policy.verify_quote(quote, COLLATERAL)
        assert json.loads(node.requests()[-1]["body"]) == {
            "nonce": nonce,
            "bindTransportKey": True,
            "includeCollateral": True,
        }
    finally:
        node.stop()
