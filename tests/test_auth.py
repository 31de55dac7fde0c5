"""Authentication against the test node in embedded auth mode: where tokens
come from, login and logout, reactive refresh and replay, revoked and
refused tokens, the token cache, the terminal prompt.

Every test here runs under ``secret_watch``: no exception, repr or log line
it produces may hold a token or the password."""

from __future__ import annotations

import base64
import json
import os
import pickle
import select
import stat
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

import calimero
from conftest import AUTH_PASSWORD, AUTH_USER, SecretWatch
from testnode import TestNode

pytestmark = pytest.mark.usefixtures("secret_watch")

CREDENTIALS = {"username": AUTH_USER, "password": AUTH_PASSWORD}


def claims(token: str) -> dict[str, Any]:
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def paths(node: TestNode) -> list[str]:
    return [r["path"] for r in node.requests()]


def connect(node: TestNode, node_name: str | None = None, **kwargs: Any) -> calimero.Client:
    kwargs.setdefault("interactive", False)
    return calimero.create_client(calimero.create_connection(node.url, node_name, **kwargs))


def cache_file(node_name: str) -> Path:
    return Path(calimero.get_token_cache_path(node_name))


def node_login(node: TestNode) -> dict[str, str]:
    """A pair obtained directly from the node, as merobox does it."""
    body = {
        "auth_method": "user_password",
        "public_key": AUTH_USER,
        "client_name": node.url,
        "timestamp": int(time.time()),
        "provider_data": CREDENTIALS,
    }
    request = urllib.request.Request(
        node.url + "/auth/token",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as resp:
        return json.loads(resp.read())["data"]


def node_refresh(node: TestNode, pair: dict[str, str]) -> int:
    body = {"access_token": pair["access_token"], "refresh_token": pair["refresh_token"]}
    request = urllib.request.Request(
        node.url + "/auth/refresh",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as resp:
            return resp.status
    except urllib.error.HTTPError as e:
        return e.code


# ---------------------------------------------------------------- credentials


def test_credentials_log_in_when_the_node_asks(
    auth_node: TestNode, secret_watch: SecretWatch
) -> None:
    client = connect(auth_node, **CREDENTIALS)
    assert client.connection.token is None
    assert client.list_contexts() == {"data": {"contexts": []}}
    log = auth_node.requests()
    assert [r["path"] for r in log] == ["/admin-api/contexts", "/auth/token", "/admin-api/contexts"]
    login = json.loads(log[1]["body"])
    assert login["auth_method"] == "user_password"
    assert login["public_key"] == AUTH_USER
    assert login["client_name"] == auth_node.url  # becomes the token's node_url
    assert login["provider_data"] == CREDENTIALS
    assert isinstance(login["timestamp"], int)
    token = client.connection.token
    assert isinstance(token, calimero.JwtToken)
    assert token.refresh_token
    assert token.expires_at == claims(token.access_token)["exp"]
    assert log[2]["headers"]["authorization"] == f"Bearer {token.access_token}"
    # later calls reuse the token
    client.list_contexts()
    assert auth_node.count("/auth/token") == 1
    secret_watch.see(token, client.connection, client)


def test_credentials_from_the_environment(
    auth_node: TestNode, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CALIMERO_USERNAME", AUTH_USER)
    monkeypatch.setenv("CALIMERO_PASSWORD", AUTH_PASSWORD)
    assert connect(auth_node).list_contexts() == {"data": {"contexts": []}}
    assert auth_node.count("/auth/token") == 1
    # arguments win over the environment
    monkeypatch.setenv("CALIMERO_PASSWORD", "not-the-password")
    with pytest.raises(calimero.AuthenticationError, match="Invalid username or password"):
        connect(auth_node).list_contexts()
    assert connect(auth_node, **CREDENTIALS).list_contexts()["data"] == {"contexts": []}


def test_tokens_from_the_environment(auth_node: TestNode, monkeypatch: pytest.MonkeyPatch) -> None:
    pair = auth_node.mint()
    monkeypatch.setenv("CALIMERO_ACCESS_TOKEN", pair["access_token"])
    monkeypatch.setenv("CALIMERO_REFRESH_TOKEN", pair["refresh_token"])
    client = connect(auth_node)
    client.list_contexts()
    assert paths(auth_node) == ["/admin-api/contexts"]
    assert client.connection.token == calimero.JwtToken(pair["access_token"], pair["refresh_token"])


def test_malformed_tokens_from_the_environment_are_refused_naming_the_variable(
    auth_node: TestNode, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret_part = "s3cret-part"
    for variable, value in (
        ("CALIMERO_ACCESS_TOKEN", f"a.b.{secret_part} with a space"),
        ("CALIMERO_ACCESS_TOKEN", "x" * (16 * 1024 + 1)),
        ("CALIMERO_REFRESH_TOKEN", f"r.e.{secret_part}\u00e9"),
    ):
        monkeypatch.setenv("CALIMERO_ACCESS_TOKEN", "a.b.c")
        monkeypatch.setenv(variable, value)
        with pytest.raises(ValueError, match=f"^{variable}: expected a token") as info:
            calimero.create_connection(auth_node.url)
        assert secret_part not in str(info.value)
    assert paths(auth_node) == []


def test_half_given_credentials_are_refused_before_any_io(
    auth_node: TestNode, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = auth_node.url
    with pytest.raises(ValueError, match="^password: "):
        calimero.create_connection(url, username=AUTH_USER)
    with pytest.raises(ValueError, match="^username: "):
        calimero.create_connection(url, password=AUTH_PASSWORD)
    with pytest.raises(ValueError, match="^access_token: "):
        calimero.create_connection(url, refresh_token="r")
    with pytest.raises(ValueError, match="^username: "):
        calimero.create_connection(url, username="", password="p")
    with pytest.raises(ValueError, match="^access_token: "):
        calimero.create_connection(url, access_token="bad\ntoken")
    with pytest.raises(TypeError, match="^password: "):
        calimero.create_connection(url, username="u", password=b"p")  # type: ignore[arg-type]
    monkeypatch.setenv("CALIMERO_USERNAME", AUTH_USER)
    with pytest.raises(ValueError, match="CALIMERO_PASSWORD"):
        calimero.create_connection(url)
    conn = calimero.create_connection(url, **CREDENTIALS)
    with pytest.raises(ValueError, match="^password: "):
        conn.login(AUTH_USER)
    assert paths(auth_node) == []


def test_login_and_logout(auth_node: TestNode, home: Path) -> None:
    conn = calimero.create_connection(auth_node.url, "node-a", interactive=False)
    token = conn.login(AUTH_USER, AUTH_PASSWORD)
    assert isinstance(token, calimero.JwtToken)
    assert conn.token == token
    assert "<hidden>" in repr(token)
    assert cache_file("node-a").exists()
    client = calimero.create_client(conn)
    client.list_contexts()
    assert paths(auth_node) == ["/auth/token", "/admin-api/contexts"]
    # a new connection with the same node_name finds the cached token
    other = calimero.create_connection(auth_node.url, "node-a", interactive=False)
    assert other.token == token
    # the credentials are remembered: login() again needs no arguments
    assert conn.login() != token
    conn.logout()
    assert conn.token is None
    assert not cache_file("node-a").exists()
    with pytest.raises(calimero.AuthenticationError) as info:
        client.list_contexts()
    assert info.value.status == 401
    with pytest.raises(calimero.AuthenticationError, match="no credentials") as info:
        conn.login()
    assert info.value.status is None
    with pytest.raises(calimero.AuthenticationError, match="Invalid username or password"):
        conn.login(AUTH_USER, "wrong-password")


def test_without_credentials_the_error_says_how_to_give_them(
    auth_node: TestNode, home: Path
) -> None:
    client = connect(auth_node, "node-b")
    with pytest.raises(calimero.AuthenticationError) as info:
        client.list_contexts()
    err = info.value
    assert err.status == 401 and err.body == ""
    for needle in (
        "no token was sent",
        "username and password",
        "CALIMERO_USERNAME",
        "CALIMERO_PASSWORD",
        "CALIMERO_ACCESS_TOKEN",
        "login(",
        calimero.get_token_cache_path("node-b"),
    ):
        assert needle in err.message, needle
    # the default (interactive) connection does not prompt without a terminal
    default = calimero.create_client(calimero.create_connection(auth_node.url, "node-quiet"))
    with pytest.raises(calimero.AuthenticationError, match="CALIMERO_USERNAME"):
        default.list_contexts()
    assert auth_node.count("/auth/token") == 0
    assert not (home / ".merobox").exists()  # a failed call writes nothing
    # public routes need nothing
    assert client.health() == {"data": {"status": "alive"}}


def test_tokens_passed_in_win_over_the_cache_which_wins_over_credentials(
    auth_node: TestNode, home: Path
) -> None:
    cached = auth_node.mint()
    passed = auth_node.mint()
    cache_file("node-c").parent.mkdir(parents=True)
    cache_file("node-c").write_text(json.dumps({"access_token": cached["access_token"]}))
    connect(auth_node, "node-c", access_token=passed["access_token"], **CREDENTIALS).list_contexts()
    connect(auth_node, "node-c", **CREDENTIALS).list_contexts()
    connect(auth_node, "node-d", **CREDENTIALS).list_contexts()
    sent = [r["headers"].get("authorization") for r in auth_node.requests()]
    assert sent[0] == f"Bearer {passed['access_token']}"
    assert sent[1] == f"Bearer {cached['access_token']}"
    assert sent[2] is None and paths(auth_node)[3:] == ["/auth/token", "/admin-api/contexts"]


# -------------------------------------------------------------------- refresh


def test_an_expired_token_is_refreshed_once_and_every_verb_replayed(
    auth_node: TestNode, tmp_path: Path
) -> None:
    client = connect(auth_node, "node-e", **CREDENTIALS)
    conn = client.connection
    wasm = tmp_path / "app.wasm"
    wasm.write_bytes(b"\0asm\x01\0\0\0auth-replay")
    app_id = client.install_dev_application(str(wasm))["data"]["applicationId"]
    ns_id = client.create_namespace(app_id)["data"]["namespaceId"]
    calls = [
        ("GET", lambda: client.list_contexts()),
        ("POST", lambda: client.create_context(app_id, ns_id)),
        ("DELETE", lambda: client.delete_namespace(ns_id)),
        ("PUT", lambda: conn.request("PUT", f"/admin-api/contexts/{'1' * 32}", {"x": 1})),
    ]
    for verb, call in calls:
        before = conn.token
        auth_node.expire_access_tokens()
        auth_node.clear_requests()
        if verb == "PUT":  # no route takes PUT: replayed, then the router's 405
            with pytest.raises(calimero.HttpError) as info:
                call()
            assert info.value.status == 405
        else:
            call()
        log = auth_node.requests()
        assert [r["method"] for r in log] == [verb, "POST", verb], verb
        assert log[1]["path"] == "/auth/refresh"
        assert json.loads(log[1]["body"]) == {
            "access_token": before.access_token,
            "refresh_token": before.refresh_token,
        }
        assert log[0]["headers"]["authorization"] == f"Bearer {before.access_token}"
        assert log[2]["headers"]["authorization"] == f"Bearer {conn.token.access_token}"
        # the same body, replayed (the refused request's body was never read)
        assert log[0]["bodyLen"] == log[2]["bodyLen"]
        assert conn.token != before
    assert auth_node.count("/auth/token") == 0  # refreshed, never logged in again
    # the refreshed tokens are in the cache file
    record = json.loads(cache_file("node-e").read_text())
    assert record["access_token"] == conn.token.access_token


def test_refresh_waits_for_the_node_to_say_expired(auth_node: TestNode) -> None:
    """Inside the leeway the old token keeps working and nothing is refreshed
    (refreshing early would only be refused: node-api.md 2.7)."""
    auth_node.auth(accessTtl=1, leeway=30)
    client = connect(auth_node, **CREDENTIALS)
    client.list_contexts()
    auth_node.auth(advanceClock=20)  # past exp, inside the leeway
    client.list_contexts()
    assert auth_node.count("/auth/refresh") == 0
    auth_node.auth(advanceClock=20)
    client.list_contexts()
    assert auth_node.count("/auth/refresh") == 1


def test_a_refused_refresh_falls_back_to_a_login(auth_node: TestNode) -> None:
    pair = auth_node.mint()
    client = connect(
        auth_node,
        access_token=pair["access_token"],
        refresh_token="not-a-refresh-token",
        **CREDENTIALS,
    )
    auth_node.expire_access_tokens()
    assert client.list_contexts() == {"data": {"contexts": []}}
    assert paths(auth_node) == [
        "/admin-api/contexts",
        "/auth/refresh",
        "/auth/token",
        "/admin-api/contexts",
    ]


def test_a_refused_refresh_without_credentials_raises(auth_node: TestNode) -> None:
    pair = auth_node.mint()
    client = connect(auth_node, access_token=pair["access_token"], refresh_token="junk")
    auth_node.expire_access_tokens()
    with pytest.raises(calimero.AuthenticationError) as info:
        client.list_contexts()
    err = info.value
    assert type(err) is calimero.AuthenticationError
    assert err.url.endswith("/auth/refresh")
    assert "Invalid refresh token" in err.message
    assert "CALIMERO_USERNAME" in err.message
    # an expired token without a refresh token and no credentials
    expired = connect(auth_node, access_token=pair["access_token"])
    with pytest.raises(calimero.AuthenticationError, match="cannot be refreshed") as info:
        expired.list_contexts()
    assert info.value.auth_error == "token_expired"


def test_a_reused_refresh_token_needs_a_fresh_login(auth_node: TestNode) -> None:
    pair = auth_node.mint()
    auth_node.expire_access_tokens()
    assert node_refresh(auth_node, pair) == 200  # someone else used it
    stale = connect(
        auth_node, access_token=pair["access_token"], refresh_token=pair["refresh_token"]
    )
    with pytest.raises(calimero.AuthRevokedError) as info:
        stale.list_contexts()
    assert info.value.auth_error == "token_reuse"
    assert info.value.status == 401

    pair = auth_node.mint()
    auth_node.expire_access_tokens()
    assert node_refresh(auth_node, pair) == 200
    client = connect(
        auth_node,
        access_token=pair["access_token"],
        refresh_token=pair["refresh_token"],
        **CREDENTIALS,
    )
    auth_node.clear_requests()
    assert client.list_contexts() == {"data": {"contexts": []}}
    assert paths(auth_node) == [
        "/admin-api/contexts",
        "/auth/refresh",
        "/auth/token",
        "/admin-api/contexts",
    ]


def test_a_revoked_token_needs_a_fresh_login(auth_node: TestNode) -> None:
    pair = auth_node.mint()
    bare = connect(auth_node, access_token=pair["access_token"])
    with_credentials = connect(auth_node, access_token=pair["access_token"], **CREDENTIALS)
    bare.list_contexts()
    auth_node.revoke_all()
    with pytest.raises(calimero.AuthRevokedError) as info:
        bare.list_contexts()
    assert (info.value.status, info.value.auth_error) == (403, "token_revoked")
    assert with_credentials.list_contexts() == {"data": {"contexts": []}}
    # and when that login fails, it stays an auth-revoked error
    auth_node.revoke_all()
    wrong = connect(
        auth_node, access_token=pair["access_token"], username=AUTH_USER, password="nope"
    )
    with pytest.raises(calimero.AuthRevokedError, match="a fresh login failed too"):
        wrong.list_contexts()


def test_permission_denied_is_raised_and_never_retried(auth_node: TestNode) -> None:
    scoped = auth_node.mint(permissions=["context:list"])
    client = connect(auth_node, access_token=scoped["access_token"], **CREDENTIALS)
    client.list_contexts()
    with pytest.raises(calimero.PermissionDeniedError) as info:
        client.list_applications()
    assert (info.value.status, info.value.auth_error) == (403, "permission_denied")
    assert paths(auth_node) == ["/admin-api/contexts", "/admin-api/applications"]


def test_failed_logins_are_rate_limited(auth_node: TestNode) -> None:
    conn = calimero.create_connection(auth_node.url, interactive=False)
    for _ in range(5):
        with pytest.raises(calimero.AuthenticationError):
            conn.login(AUTH_USER, "wrong-password")
    with pytest.raises(calimero.RateLimitError) as info:
        conn.login(AUTH_USER, AUTH_PASSWORD)
    assert info.value.status == 429
    assert info.value.retry_after is not None and 0 < info.value.retry_after <= 60


# ---------------------------------------------------------------------- cache


def test_a_merobox_cache_file_is_used_and_rewritten_compatibly(
    auth_node: TestNode, home: Path
) -> None:
    pair = node_login(auth_node)
    path = cache_file("merobox-node")
    path.parent.mkdir(parents=True)
    merobox_record = {
        "access_token": pair["access_token"],
        "node_url": auth_node.url,
        "auth_method": "user_password",
        "refresh_token": pair["refresh_token"],
        "expires_at": claims(pair["access_token"])["exp"],
        "username": AUTH_USER,
        "written_by": {"tool": "merobox", "version": "0.4"},
    }
    path.write_text(json.dumps(merobox_record, indent=2))
    client = connect(auth_node, "merobox-node")
    client.list_contexts()
    assert paths(auth_node) == ["/auth/token", "/admin-api/contexts"]  # no login of ours

    auth_node.expire_access_tokens()
    client.list_contexts()
    record = json.loads(path.read_text())
    token = client.connection.token
    assert record == {
        **merobox_record,
        "access_token": token.access_token,
        "refresh_token": token.refresh_token,
        "expires_at": token.expires_at,
        "token_type": "Bearer",
        "metadata": {},
    }
    # merobox's AuthToken.from_dict needs these; the official client's JwtToken these
    for key in ("access_token", "node_url", "auth_method", "refresh_token", "expires_at"):
        assert key in record
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert sorted(p.name for p in path.parent.iterdir()) == [path.name, path.name + ".lock"]
    # read back by a new connection: no login, no refresh
    auth_node.clear_requests()
    connect(auth_node, "merobox-node").list_contexts()
    assert paths(auth_node) == ["/admin-api/contexts"]


def test_a_file_we_write_is_read_back(auth_node: TestNode, home: Path) -> None:
    connect(auth_node, "fresh", **CREDENTIALS).list_contexts()
    record = json.loads(cache_file("fresh").read_text())
    assert record["node_url"] == auth_node.url
    assert record["auth_method"] == "user_password"
    assert record["username"] == AUTH_USER
    assert record["token_type"] == "Bearer"
    assert record["expires_at"] == claims(record["access_token"])["exp"]
    auth_node.clear_requests()
    connect(auth_node, "fresh").list_contexts()
    assert paths(auth_node) == ["/admin-api/contexts"]


@pytest.mark.parametrize("content", ["", "   ", "{", '{"access_token": "abc', "[1, 2]", "\0\0\0"])
def test_a_bad_cache_file_is_ignored_with_a_warning(
    auth_node: TestNode, home: Path, content: str, secret_watch: SecretWatch
) -> None:
    path = cache_file("broken")
    path.parent.mkdir(parents=True)
    path.write_text(content)
    client = connect(auth_node, "broken", **CREDENTIALS)
    assert any("broken" in line and "ignoring" in line for line in secret_watch.lines)
    assert client.list_contexts() == {"data": {"contexts": []}}
    assert auth_node.count("/auth/token") == 1
    assert json.loads(path.read_text())["access_token"] == client.connection.token.access_token


# --------------------------------------------------------------------- prompt

PROMPT_SCRIPT = """
import sys
import calimero
conn = calimero.create_connection(sys.argv[1], sys.argv[2])
try:
    print("RESULT", calimero.create_client(conn).list_contexts(), flush=True)
except calimero.AuthenticationError as e:
    print("AUTH-ERROR", e, flush=True)
    sys.exit(3)
"""


@pytest.mark.skipif(os.name != "posix", reason="needs a pseudo-terminal")
def test_the_terminal_prompt_logs_in(auth_node: TestNode, home: Path) -> None:
    import pty

    pid, fd = pty.fork()
    if pid == 0:  # the child, on the pseudo-terminal
        os.execv(sys.executable, [sys.executable, "-c", PROMPT_SCRIPT, auth_node.url, "tty-node"])
    output = b""

    def read_until(marker: bytes, timeout: float = 20.0) -> None:
        nonlocal output
        deadline = time.monotonic() + timeout
        while marker not in output:
            left = deadline - time.monotonic()
            assert left > 0, f"no {marker!r} in {output!r}"
            ready, _, _ = select.select([fd], [], [], left)
            if ready:
                try:
                    chunk = os.read(fd, 4096)
                except OSError:
                    chunk = b""
                assert chunk, f"EOF before {marker!r} in {output!r}"
                output += chunk

    try:
        read_until(b"Username: ")
        os.write(fd, AUTH_USER.encode() + b"\n")
        read_until(b"Password: ")
        os.write(fd, AUTH_PASSWORD.encode() + b"\n")
        read_until(b"RESULT {'data': {'contexts': []}}")
    finally:
        _, status = os.waitpid(pid, 0)
        os.close(fd)
    assert os.waitstatus_to_exitcode(status) == 0, output
    assert b"RESULT {'data': {'contexts': []}}" in output
    assert b"requires a login" in output
    assert AUTH_PASSWORD.encode() not in output  # not echoed
    assert cache_file("tty-node").exists()


def test_no_prompt_without_a_terminal(auth_node: TestNode, home: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-c", PROMPT_SCRIPT, auth_node.url, "pipe-node"],
        input=f"{AUTH_USER}\n{AUTH_PASSWORD}\n",
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "HOME": str(home)},
    )
    assert done.returncode == 3, done
    assert "AUTH-ERROR" in done.stdout and "CALIMERO_USERNAME" in done.stdout
    assert "Username" not in done.stdout + done.stderr
    assert auth_node.count("/auth/token") == 0


# ---------------------------------------------------------------------- leaks


def test_no_secret_in_any_message(
    auth_node: TestNode, home: Path, secret_watch: SecretWatch
) -> None:
    """Drives every failure path of the auth code and hands what it made to
    the watch, which fails the test on any token or password it finds."""
    pair = auth_node.mint()
    stale = auth_node.mint()
    auth_node.expire_access_tokens()
    node_refresh(auth_node, stale)
    attempts: list[Any] = [
        lambda: connect(auth_node).list_contexts(),
        lambda: connect(
            auth_node, access_token=pair["access_token"], refresh_token="x"
        ).list_contexts(),
        lambda: connect(
            auth_node, access_token=stale["access_token"], refresh_token=stale["refresh_token"]
        ).list_contexts(),
        lambda: connect(auth_node, access_token=pair["access_token"]).list_contexts(),
        lambda: connect(
            auth_node, username=AUTH_USER, password="wrong-" + AUTH_PASSWORD
        ).list_contexts(),
        lambda: calimero.create_connection(auth_node.url, interactive=False).login(),
        lambda: connect(auth_node, access_token=pair["access_token"]).connection.request(
            "GET", f"/admin-api/nothing?token={pair['access_token']}"
        ),
        lambda: connect(auth_node, access_token="a.b.c").list_contexts(),
    ]
    raised = []
    for attempt in attempts:
        with pytest.raises(calimero.ClientError) as info:
            attempt()
        raised.append(info.value)
    # the watch saw them all, and the log lines of the refreshes and logins
    assert all(any(e is r for r in secret_watch.errors) for e in raised)
    client = connect(auth_node, "leak-node", **CREDENTIALS)
    client.list_contexts()
    auth_node.expire_access_tokens()
    client.list_contexts()
    client.connection.logout()
    assert any("refreshed" in line for line in secret_watch.lines)
    assert any("logged in" in line for line in secret_watch.lines)
    secret_watch.see(
        client, client.connection, calimero.JwtToken(pair["access_token"], pair["refresh_token"])
    )
    for e in raised:
        pickle.loads(pickle.dumps(e))
    # the watch does find a token where there is one
    planted = SecretWatch()
    planted.see(f"oops {pair['access_token']}")
    assert planted.leaks([pair["access_token"]])
