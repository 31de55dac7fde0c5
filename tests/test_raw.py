"""ConnectionInfo: detect_auth_mode, get and the request escape hatch."""

from __future__ import annotations

import pytest

import calimero
from testnode import TestNode


def test_detect_auth_mode_on_an_open_node(conn: calimero.ConnectionInfo, node: TestNode) -> None:
    mode = conn.detect_auth_mode()
    assert mode == calimero.AuthMode("none")
    assert mode.value == "none"
    probe = node.requests()[-1]
    assert probe["path"] == "/admin-api/contexts"
    assert "authorization" not in probe["headers"]


@pytest.mark.parametrize("status", [401, 403])
def test_detect_auth_mode_required(
    conn: calimero.ConnectionInfo, node: TestNode, status: int
) -> None:
    node.fault("/admin-api/contexts", "status", status=status, body="", times=1)
    assert conn.detect_auth_mode() == calimero.AuthMode("required")


def test_detect_auth_mode_raises_on_other_answers(
    conn: calimero.ConnectionInfo, node: TestNode, refused_url: str
) -> None:
    node.fault("/admin-api/contexts", "status", status=500, body="boom", times=1)
    with pytest.raises(calimero.ServerError):
        conn.detect_auth_mode()
    dead = calimero.create_connection(refused_url)
    with pytest.raises(calimero.NetworkError):
        dead.detect_auth_mode()


def test_get_returns_decoded_json(conn: calimero.ConnectionInfo) -> None:
    assert conn.get("/admin-api/health") == {"data": {"status": "alive"}}
    assert conn.get("admin-api/contexts?limit=5") == {"data": {"contexts": []}}


def test_request_sends_json_and_raises_by_status(
    conn: calimero.ConnectionInfo, client: calimero.Client, node: TestNode, tmp_path
) -> None:
    from conftest import make_wasm

    app = conn.request(
        "POST",
        "/admin-api/install-dev-application",
        json={"path": str(make_wasm(tmp_path)), "metadata": []},
    )
    app_id = app["data"]["applicationId"]
    assert client.get_application(app_id)["data"]["application"]["id"] == app_id
    with pytest.raises(calimero.NotFoundError):
        conn.request("GET", "/admin-api/contexts/11111111111111111111111111111111")
    # an unknown route: 404 with an empty body, as on the real node
    with pytest.raises(calimero.NotFoundError) as info:
        conn.get("/admin-api/nope")
    assert info.value.body == ""


def test_request_validates_before_sending(conn: calimero.ConnectionInfo, node: TestNode) -> None:
    for path in ["../x", "/a/../b", "http://evil/x", "//evil", "", "/a b", "/.%2e/x", "/%2E./x"]:
        with pytest.raises(ValueError, match="^path: "):
            conn.get(path)
    with pytest.raises(ValueError, match="^method: "):
        conn.request("PATCH", "/admin-api/health")
    with pytest.raises(TypeError, match="^json: "):
        conn.request("POST", "/admin-api/health", json=object())
    assert node.requests() == []


def test_answers_pass_through_verbatim(conn: calimero.ConnectionInfo, node: TestNode) -> None:
    body = (
        '{"data":{"big":18446744073709551615,"neg":-9223372036854775808,"f":1.5,'
        '"unknownField":[true,null,"é"],"camelCase":{}}}'
    )
    node.fault("/admin-api/health", "status", status=200, body=body, times=1)
    data = conn.get("/admin-api/health")["data"]
    assert data["big"] == 2**64 - 1 and isinstance(data["big"], int)
    assert data["neg"] == -(2**63)
    assert data == {
        "big": 2**64 - 1,
        "neg": -(2**63),
        "f": 1.5,
        "unknownField": [True, None, "é"],
        "camelCase": {},
    }


def test_keys_kept_between_answers_decode_as_json_does(
    conn: calimero.ConnectionInfo, node: TestNode
) -> None:
    """Object keys are kept, interned, from one answer to the next (one
    table for the process): answers with more keys than the table has
    slots, keys past its length limit, escaped and non-ASCII keys, decoded
    again and again from four threads at once, are each what `json.loads`
    makes of the same text, and their short keys are interned strings."""
    import json
    import sys
    import threading

    keys = [f"k{i}" for i in range(1500)]
    keys += ["x" * 64, "y" * 65, 'quo"te', "tab\tkey", "é-clé", "\U0001f600", ""]
    item = {k: i for i, k in enumerate(keys)}
    # ensure_ascii: the non-ASCII keys arrive escaped (\\u00e9, a surrogate pair).
    body = json.dumps({"data": [item, {"k1": [item], "k2": "v"}, item]})
    want = json.loads(body)
    calls, threads = 8, 4
    node.fault("/admin-api/health", "status", status=200, body=body, times=calls * threads)
    seen: list[object] = []
    failures: list[BaseException] = []

    def run() -> None:
        try:
            for _ in range(calls):
                seen.append(conn.get("/admin-api/health"))
        except BaseException as e:
            failures.append(e)

    workers = [threading.Thread(target=run) for _ in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    assert not failures, failures
    assert len(seen) == calls * threads
    for got in seen:
        assert got == want
    last = seen[-1]
    assert isinstance(last, dict)
    for key in last["data"][0]:
        if len(key) <= 64:
            assert sys.intern(key) is key, key
    assert list(last["data"][0]) == list(want["data"][0])


def test_hostile_nesting_is_an_error_not_a_crash(client: calimero.Client, node: TestNode) -> None:
    node.fault("/admin-api/health", "status", status=200, body="[" * 100_000, times=1)
    with pytest.raises(calimero.MalformedResponseError):
        client.health()
    assert client.health() == {"data": {"status": "alive"}}


def test_dot_segments_cannot_leave_the_base_path(node: TestNode) -> None:
    conn = calimero.create_connection(node.url + "/prefix")
    for path in ["/.%2e/admin-api/health", "/%2e%2E/admin-api/health", "/./admin-api/health"]:
        with pytest.raises(ValueError, match="^path: "):
            conn.get(path)
    assert node.requests() == []
