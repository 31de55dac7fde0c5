"""The calimero-client-py command, run as the installed entry point in a
subprocess against the test node: every subcommand in --json and human
modes, exit codes, one-line errors, help with examples, progress bars."""

from __future__ import annotations

import argparse
import json
import os
import pty
import select
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

import calimero
from calimero import cli
from conftest import AUTH_PASSWORD, AUTH_USER, make_wasm, rc
from testnode import TestNode

EXE = shutil.which("calimero-client-py")
OTHER = "ab" * 32  # a second member's account in the world's group


def run(*args: str, url: str | None = None, **kw: Any) -> subprocess.CompletedProcess[str]:
    cmd = [EXE] if EXE else [sys.executable, "-m", "calimero.cli"]
    env_args = ["--node-url", url] if url else []
    return subprocess.run(
        [*cmd, *env_args, *args], capture_output=True, text=True, timeout=60, **kw
    )


def run_bytes(*args: str, url: str) -> subprocess.CompletedProcess[bytes]:
    cmd = [EXE] if EXE else [sys.executable, "-m", "calimero.cli"]
    return subprocess.run([*cmd, "--node-url", url, *args], capture_output=True, timeout=60)


def world(
    client: calimero.Client, tmp_path: Path, refused_url: str, node: TestNode
) -> dict[str, Any]:
    """Everything the subcommands need, made through the client, on the
    node's release (rc.25, or rc.83 for what only later releases serve)."""
    if rc(node) >= 32:
        return world83(client, tmp_path, refused_url, node)
    wasm = make_wasm(tmp_path)
    app = client.install_dev_application(str(wasm), package="com.example.kv", version="1.0.0")
    app_id = app["data"]["applicationId"]
    ns = client.create_namespace(app_id, name="ns")["data"]["namespaceId"]
    ctx = client.create_context(app_id, ns)["data"]
    group = client.create_group(app_id, "team", ns)["data"]["groupId"]
    client.add_group_members(group, [{"identity": OTHER, "role": "Member"}])
    identity = client.get_node_identity()["data"]
    blob_data = os.urandom(200_000)
    upload = tmp_path / "upload.bin"
    upload.write_bytes(blob_data)
    blob_id = client.upload_blob(blob_data)["data"]["blob_id"]
    root = identity["accountRootPublicKey"]
    paired = client.pair_device_init(ns, root)["data"]
    client.pair_device_complete(
        ns,
        paired["deviceId"],
        paired["kemPublicKey"],
        paired["signPublicKey"],
        paired["statement"],
        paired["confirmationCode"],
    )
    pair = client.pair_device_init(ns, root)["data"]
    ns_invite = client.create_namespace_invitation(ns)["data"]["invitation"]
    group_invite = client.create_group_invitation(group)["data"]["invitation"]
    return {
        "context_id": ctx["contextId"],
        "executor_public_key": ctx["memberPublicKey"],
        "application_id": app_id,
        "app_id": app_id,
        "target_application_id": app_id,
        "namespace_id": ns,
        "new_parent_id": ns,
        "group_id": group,
        "member_id": OTHER,
        "blob_id": blob_id,
        "blob_data": blob_data,
        "data": str(upload),
        "path": str(wasm),
        "local_path": str(tmp_path / "downloaded.bin"),
        "url": f"{refused_url}/app.wasm",
        "package": "com.example.kv",
        "alias": "fresh-alias",
        "method": "get",
        "args": '{"key": "k"}',
        "members_json": {
            "add_group_members": json.dumps([{"identity": "cd" * 32}]),
            "remove_group_members": json.dumps([OTHER]),
        },
        "role": "ReadOnly",
        "capabilities": "1",
        "body_json": '{"name": "n", "data": {"k": "v"}}',
        "visibility": "open",
        "invitation_json": {
            "join_namespace": json.dumps(ns_invite),
            "join_group": json.dumps(group_invite),
        },
        "audience": "aud",
        "subject": "subj",
        "nonce": {"tee_attest": "ab" * 32},
        "nonce_proof": "ab" * 16,
        "expires_at_ms": str(int(time.time() * 1000) + 60_000),
        "account_root_public_key": identity["accountRootPublicKey"],
        "device_id": {
            "pair_device_complete": pair["deviceId"],
            "revoke_device": paired["deviceId"],
        },
        "kem_public_key": pair["kemPublicKey"],
        "sign_public_key": pair["signPublicKey"],
        "statement": pair["statement"],
        "confirmation_code": pair["confirmationCode"],
        "state": "x",
        "auto_follow_contexts": True,
        "auto_follow_subgroups": False,
        # delegated access (tests/test_delegated.py signs real ones)
        "warrant": "00",
        "author_proof": "00",
        "device_key": "cd" * 32,
    }


def world83(
    client: calimero.Client, tmp_path: Path, refused_url: str, node: TestNode
) -> dict[str, Any]:
    """The world on an rc.83 node: a bundle installed, pairing by account,
    invitations with admitters."""
    bundle = node.bundle("com.example.kv", "1.0.0")
    app_id = client.install_dev_application(bundle["path"])["data"]["applicationId"]
    node.publish("com.example.kv", "2.0.0")
    ns = client.create_namespace(app_id, name="ns")["data"]["namespaceId"]
    ctx = client.create_context(app_id, ns)["data"]
    group = client.create_group(app_id, "team", ns)["data"]["groupId"]
    client.add_group_members(group, [{"identity": OTHER, "role": "Admin"}])
    identity = client.get_node_identity()["data"]
    root = identity["accountRootPublicKey"]
    paired = client.pair_device_init(root, [ns])["data"]
    client.pair_device_complete(
        paired["deviceId"],
        paired["kemPublicKey"],
        paired["signPublicKey"],
        paired["statement"],
        paired["confirmationCode"],
    )
    pair = client.pair_device_init(root, [ns])["data"]
    blob_data = os.urandom(200_000)
    upload = tmp_path / "upload.bin"
    upload.write_bytes(blob_data)
    blob_id = client.upload_blob(blob_data)["data"]["blob_id"]
    base = world_values(tmp_path, refused_url, app_id, ns, ctx, group, blob_id, blob_data, upload)
    return {
        **base,
        "path": bundle["path"],
        "package": "com.example.kv",
        "version": "2.0.0",
        "account_root_public_key": root,
        "namespaces": json.dumps([ns]),
        "device_id": {
            "pair_device_complete": pair["deviceId"],
            "revoke_device": paired["deviceId"],
            "relink_device": paired["deviceId"],
            "set_device_scope": paired["deviceId"],
            "set_device_label": paired["deviceId"],
            "create_device_alias": paired["deviceId"],
        },
        "kem_public_key": pair["kemPublicKey"],
        "sign_public_key": pair["signPublicKey"],
        "statement": pair["statement"],
        "confirmation_code": pair["confirmationCode"],
        "invitation_json": {
            **base["invitation_json"],
            "admit_join": json.dumps(client.create_namespace_invitation(ns)["data"]["invitation"]),
            "join_namespace": json.dumps(
                client.create_namespace_invitation(ns)["data"]["invitation"]
            ),
            "join_group": json.dumps(client.create_group_invitation(group)["data"]["invitation"]),
        },
        "scope": {"set_device_scope": "all", "link_device": "00"},
        "label": "phone",
        "domain": "mdma.account-link",
        "payload": "00ff",
        "credential": "00",
        "new_admin": OTHER,
        "new_owner": OTHER,
        "account_id": identity["accountId"],
        "plaintext": "00ff",
        "allowed_mrtd": "aa" * 48,
        "warrant": "00",
        "author_proof": "00",
        "op": "00",
        "signed_op": "00",
        "seq": "1",
        "sent_at_ms": "1",
        "signature": "00",
        "device_key": pair["signPublicKey"],
    }


def world_values(
    tmp_path: Path,
    refused_url: str,
    app_id: str,
    ns: str,
    ctx: dict[str, Any],
    group: str,
    blob_id: str,
    blob_data: bytes,
    upload: Path,
) -> dict[str, Any]:
    """What every release's world has the same way."""
    return {
        "context_id": ctx["contextId"],
        "executor_public_key": ctx["memberPublicKey"],
        "application_id": app_id,
        "app_id": app_id,
        "target_application_id": app_id,
        "namespace_id": ns,
        "new_parent_id": ns,
        "group_id": group,
        "member_id": OTHER,
        "blob_id": blob_id,
        "blob_data": blob_data,
        "data": str(upload),
        "local_path": str(tmp_path / "downloaded.bin"),
        "url": f"{refused_url}/app.wasm",
        "alias": "fresh-alias",
        "method": "get",
        "args": '{"key": "k"}',
        "members_json": {
            "add_group_members": json.dumps([{"identity": "cd" * 32}]),
            "remove_group_members": json.dumps([OTHER]),
        },
        "role": "ReadOnly",
        "capabilities": "1",
        "body_json": '{"name": "n", "data": {"k": "v"}}',
        "visibility": "open",
        "invitation_json": {},
        "audience": "aud",
        "subject": "subj",
        "nonce": {"tee_attest": "ab" * 32, "tee_registration_attest": "ab" * 32},
        "nonce_proof": "ab" * 16,
        "expires_at_ms": str(int(time.time() * 1000) + 60_000),
        "state": "x",
        "auto_follow_contexts": True,
        "auto_follow_subgroups": False,
    }


def release_for(endpoint: dict[str, Any]) -> str:
    """The release a subcommand runs against: rc.25 when it serves the
    entry, else rc.83."""
    return "0.11.0-rc.25" if endpoint["since"] is None else "0.11.0-rc.83"


# Options some commands need to succeed in this world.
EXTRA = {
    "set_tee_admission_policy": ["--allowed-mrtd", "aa" * 48],
    "execute_function": ["--args", '{"key": "k"}'],
    "call": ["--args", '{"key": "k"}'],
    "resync_context": ["--force"],
}


def argv(endpoint: dict[str, Any], w: dict[str, Any]) -> list[str]:
    """The subcommand and its required arguments, from the world."""
    out = [cli.AREAS[endpoint["area"]][0], cli.form_command(endpoint)]
    out += EXTRA.get(endpoint["name"], [])
    # A context is in the namespace, not in the world's subgroup.
    names = {a["name"] for a in endpoint["args"]}
    if {"group_id", "context_id"} <= names or "tee_authoring" in endpoint["name"]:
        # (A TEE authoring policy is set on a namespace, not a subgroup.)
        w = {**w, "group_id": w["namespace_id"]}
    for arg in endpoint["args"]:
        if not arg["required"] or arg["kind"] in ("progress",):
            continue
        name = arg["name"]
        if arg["kind"] == "local_path":
            value: Any = w["local_path"]
        elif name == "nonce" and "attest" not in endpoint["name"]:
            value = w["nonce_proof"]
        else:
            value = w[name]
        if isinstance(value, dict):
            value = value[endpoint["name"]]
        if arg["kind"] == "bool":
            out.append(("--" if value else "--no-") + name.replace("_", "-"))
        elif arg["kind"] == "str_list":
            out += ["--" + name.replace("_", "-"), str(value)]
        else:
            out.append(str(value))
    return out


# What the node refuses in this world, as the real node would (exit 1).
FAILS = {
    "install_application": "nothing listens at refused_url",
    "get_certificate": "plain HTTP: no certificate",
    "get_tee_info": "no TDX",
    "tee_attest": "no TDX",
    "tee_fleet_join": "no TDX",
    "leave_namespace": "the last admin cannot leave",
    "leave_group": "the last admin cannot leave",
    "retry_group_upgrade": "no upgrade to retry",
    # rc.83 routes given made-up proofs, credentials and warrants, or needing
    # an account session or a TEE: refused by the node.
    "tee_registration_attest": "no TDX",
    "link_device": "not a credential",
    "query": "needs an account session",
    "perform_context_intent": "not a warrant",
    "perform_governance_intent": "not a warrant",
    "perform_presence_intent": "not a credential",
    "change_namespace_admin": "the new admin is no member of the namespace",
    "perform_intent": "no warrant: a 400 (tests/test_delegated.py performs real ones)",
    "get_warrant_nonce": "newer than rc.83: refused before sending",
    "get_own_warrant_nonce": "newer than rc.83: refused before sending",
}


@pytest.mark.parametrize("mode", ["json", "human"])
@pytest.mark.parametrize(
    ("endpoint", "node_release"),
    [(e, release_for(e)) for e in calimero.ENDPOINTS],
    ids=[f"{e['name']}-{release_for(e)[-5:]}" for e in calimero.ENDPOINTS],
    indirect=["node_release"],
)
def test_every_subcommand(
    node: TestNode,
    client: calimero.Client,
    tmp_path: Path,
    refused_url: str,
    endpoint: dict[str, Any],
    mode: str,
) -> None:
    w = world(client, tmp_path, refused_url, node)
    args = argv(endpoint, w)
    flags = ["--json"] if mode == "json" else []
    if endpoint["output"] in ("bytes", "chunks"):
        out = run_bytes(*flags, *args, url=node.url)
        assert out.returncode == 0, out.stderr
        assert out.stdout == w["blob_data"]
        return
    out = run(*flags, *args, url=node.url)
    assert "Traceback" not in out.stderr
    refused = endpoint["name"] in FAILS
    if endpoint["name"] == "install_application" and endpoint["since"] is not None:
        refused = False  # by coordinates, from the world's registry (rc.31+)
    if refused:
        assert out.returncode == 1, (out.stdout, out.stderr)
        assert out.stderr.startswith("calimero-client-py: error: ")
        assert out.stderr.count("\n") == 1
        return
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip()
    if mode == "json":
        json.loads(out.stdout)  # machine-readable
    else:
        assert not out.stdout.lstrip().startswith(("{", "[")), out.stdout[:200]


def test_json_and_human_show_the_same_answer(node: TestNode) -> None:
    health = run("--json", "node", "health", url=node.url)
    assert json.loads(health.stdout) == {"data": {"status": "alive"}}
    human = run("node", "health", url=node.url)
    assert "status" in human.stdout and "alive" in human.stdout


def test_a_list_is_a_table_with_a_row_count(
    node: TestNode, client: calimero.Client, app_id: str, namespace_id: str
) -> None:
    ids = [client.create_context(app_id, namespace_id)["data"]["contextId"] for _ in range(3)]
    out = run("contexts", "list", url=node.url)
    assert out.returncode == 0, out.stderr
    assert "3 rows" in out.stdout
    for context_id in ids:
        assert context_id in out.stdout
    assert "applicationId" in out.stdout.splitlines()[1]
    as_json = json.loads(run("--json", "contexts", "list", url=node.url).stdout)
    assert {c["id"] for c in as_json["data"]["contexts"]} == set(ids)


def test_call_with_json_args(node: TestNode, context_id: str) -> None:
    out = run("call", context_id, "set", "--args", '{"key":"k","value":"v"}', url=node.url)
    assert out.returncode == 0, out.stderr
    out = run("--json", "call", context_id, "get", "--args", '{"key":"k"}', url=node.url)
    assert json.loads(out.stdout) == "v"
    out = run("call", context_id, "get", "--args", '{"key":"k"}', url=node.url)
    assert out.stdout.strip() == "v"


def test_rpc_execute_prints_the_envelope_and_fails_on_its_error(
    node: TestNode, context_id: str
) -> None:
    out = run("--json", "rpc", "execute", context_id, "len", url=node.url)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["result"] == {"output": 0}
    out = run("--json", "rpc", "execute", context_id, "no_such_method", url=node.url)
    assert out.returncode == 1
    assert json.loads(out.stdout)["error"]["type"] == "FunctionCallError"
    out = run("call", context_id, "no_such_method", url=node.url)
    assert out.returncode == 1
    assert "FunctionCallError" in out.stderr


def test_version_and_every_help_has_an_example() -> None:
    out = run("--version")
    assert out.returncode == 0 and out.stdout.startswith("calimero-client-py ")
    out = run("contexts", "create", "--help")
    assert out.returncode == 0
    assert "Example: calimero-client-py contexts create APP_ID" in out.stdout
    parser = cli.build_parser()
    seen = 0
    stack = [parser]
    while stack:
        p = stack.pop()
        assert "Example: calimero-client-py" in p.format_help(), p.prog
        seen += 1
        for action in p._actions:
            if isinstance(action, argparse._SubParsersAction):
                stack.extend(action.choices.values())
    assert seen > len(calimero.ENDPOINTS)


@pytest.mark.parametrize(
    ("args", "code", "needle"),
    [
        (["contexts", "get", "not-an-id"], 2, "context_id: expected a base58"),
        (["contexts", "get", "11111111111111111111111111111111"], 1, "Context not found"),
        (["no-such-command"], 2, "invalid choice"),
        (["contexts", "list", "--limit", "x"], 2, "limit: expected an integer"),
        (["blobs", "upload", "/no/such/file"], 2, "No such file"),
        (["groups", "update-member-role", "ab" * 32, "ab" * 32, "boss"], 2, "role: expected"),
    ],
)
def test_errors_are_one_line_with_exit_codes(node: TestNode, args, code, needle) -> None:
    out = run(*args, url=node.url)
    assert out.returncode == code
    assert needle in out.stderr
    assert "Traceback" not in out.stderr


def test_unreachable_node_exits_1(refused_url: str) -> None:
    out = run("node", "health", url=refused_url)
    assert out.returncode == 1
    assert "Connection refused" in out.stderr


def test_detect_auth_mode(node: TestNode) -> None:
    out = run("detect-auth-mode", url=node.url)
    assert (out.returncode, out.stdout.strip()) == (0, "none")


def test_auth_login_status_logout(auth_node: TestNode, tmp_path: Path) -> None:
    env = {
        **os.environ,
        "HOME": str(tmp_path),
        "CALIMERO_USERNAME": AUTH_USER,
        "CALIMERO_PASSWORD": AUTH_PASSWORD,
    }
    base = ["--json", "--node-name", "cli-test"]
    out = run(*base, "auth", "status", url=auth_node.url, env=env)
    assert json.loads(out.stdout)["token"] is False
    out = run(*base, "auth", "login", "--username", AUTH_USER, url=auth_node.url, env=env)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["logged_in"] is True
    status = json.loads(run(*base, "auth", "status", url=auth_node.url, env=env).stdout)
    assert status["token"] is True and status["expired"] is False
    # The cached token serves later commands.
    out = run(*base, "contexts", "list", url=auth_node.url, env=env)
    assert out.returncode == 0, out.stderr
    assert run(*base, "auth", "logout", url=auth_node.url, env=env).returncode == 0
    assert (
        json.loads(run(*base, "auth", "status", url=auth_node.url, env=env).stdout)["token"]
        is False
    )
    # No token anywhere in what was printed.
    assert "eyJ" not in out.stdout + out.stderr


def test_an_upload_in_a_terminal_shows_a_progress_bar(node: TestNode, tmp_path: Path) -> None:
    source = tmp_path / "big.bin"
    source.write_bytes(os.urandom(32 * 1024 * 1024))
    cmd = [EXE] if EXE else [sys.executable, "-m", "calimero.cli"]
    leader, follower = pty.openpty()
    proc = subprocess.Popen(
        [*cmd, "--node-url", node.url, "--json", "blobs", "upload", str(source)],
        stdout=subprocess.PIPE,
        stderr=follower,
        stdin=subprocess.DEVNULL,
        env={**os.environ, "COLUMNS": "100", "TERM": "xterm"},
    )
    os.close(follower)
    screen = b""
    while True:
        ready, _, _ = select.select([leader], [], [], 30)
        if not ready:
            break
        try:
            chunk = os.read(leader, 65536)
        except OSError:
            break
        if not chunk:
            break
        screen += chunk
    stdout, _ = proc.communicate(timeout=60)
    os.close(leader)
    assert proc.returncode == 0
    assert json.loads(stdout)["data"]["size"] == 32 * 1024 * 1024
    text = screen.decode(errors="replace")
    assert "upload" in text
    assert "33.6" in text and "MB" in text  # the total, as the bar shows it
    # Without a terminal, no bar: stderr stays empty.
    out = run("--json", "blobs", "upload", str(source), url=node.url)
    assert out.returncode == 0 and out.stderr == ""


@pytest.mark.parametrize("mode", ["json", "human"])
@pytest.mark.parametrize("transport", ["sse", "ws"])
def test_events_watch_prints_events_as_they_come(
    node: TestNode, client: calimero.Client, context_id: str, mode: str, transport: str
) -> None:
    cmd = [EXE] if EXE else [sys.executable, "-m", "calimero.cli"]
    flags = ["--json"] if mode == "json" else []
    proc = subprocess.Popen(
        [
            *cmd,
            "--node-url",
            node.url,
            *flags,
            "events",
            "watch",
            "--context",
            context_id,
            "--transport",
            transport,
            "--count",
            "2",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        # Write until the watcher has subscribed and printed two events.
        deadline = time.monotonic() + 30
        i = 0
        while proc.poll() is None and time.monotonic() < deadline:
            client.call(context_id, "set", {"key": f"k{i}", "value": "v"})
            i += 1
            time.sleep(0.1)
        stdout, stderr = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, stderr
    lines = stdout.splitlines()
    assert len(lines) == 2
    if mode == "json":
        events = [json.loads(line) for line in lines]
        assert all(e["type"] == "StateMutation" and e["contextId"] == context_id for e in events)
        assert all(e["data"]["newRoot"] for e in events)
    else:
        assert all("StateMutation" in line and context_id in line for line in lines)


def test_events_watch_needs_an_id_and_checks_it(node: TestNode) -> None:
    out = run("events", "watch", url=node.url)
    assert out.returncode == 2 and "--context or --group" in out.stderr
    out = run("events", "watch", "--context", "not-an-id", url=node.url)
    assert out.returncode == 2
    assert "context_ids" in out.stderr and "Traceback" not in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1
    out = run("events", "watch", "--group", "ab" * 32, "--count", "0", url=node.url)
    assert out.returncode == 2 and "--count" in out.stderr


def test_events_watch_reports_a_reconnect(
    node: TestNode, client: calimero.Client, context_id: str
) -> None:
    cmd = [EXE] if EXE else [sys.executable, "-m", "calimero.cli"]
    proc = subprocess.Popen(
        [
            *cmd,
            "--node-url",
            node.url,
            "--json",
            "events",
            "watch",
            "--context",
            context_id,
            "--count",
            "1",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while not any(r["path"] == "/sse/subscription" for r in node.requests()):
            assert time.monotonic() < deadline, "the watcher never subscribed"
            time.sleep(0.05)
        node.control("POST", "events/drop")
        while proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.3)
            client.call(context_id, "set", {"key": "after", "value": "drop"})
        stdout, stderr = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, stderr
    events = [json.loads(line) for line in stdout.splitlines()]
    assert events[0]["type"] == "reconnected"
    assert events[-1]["type"] == "StateMutation"
