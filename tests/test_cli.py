"""The calimero-client-py command, run as a subprocess."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest

from testnode import TestNode

EXE = shutil.which("calimero-client-py")


def run(*args: str, url: str | None = None) -> subprocess.CompletedProcess[str]:
    cmd = [EXE] if EXE else [sys.executable, "-m", "calimero.cli"]
    env_args = ["--node-url", url] if url else []
    return subprocess.run([*cmd, *env_args, *args], capture_output=True, text=True, timeout=60)


def test_version_and_help() -> None:
    out = run("--version")
    assert out.returncode == 0 and out.stdout.startswith("calimero-client-py ")
    out = run("create-context", "--help")
    assert out.returncode == 0 and "Example: calimero-client-py create-context" in out.stdout


def test_health_json(node: TestNode) -> None:
    out = run("--json", "health", url=node.url)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == {"data": {"status": "alive"}}


def test_detect_auth_mode(node: TestNode) -> None:
    out = run("detect-auth-mode", url=node.url)
    assert (out.returncode, out.stdout.strip()) == (0, "none")


def test_calls_with_arguments(node: TestNode, tmp_path) -> None:
    from conftest import make_wasm

    out = run(
        "--json",
        "install-dev-application",
        str(make_wasm(tmp_path)),
        "--package",
        "p",
        url=node.url,
    )
    app_id = json.loads(out.stdout)["data"]["applicationId"]
    ns = json.loads(run("--json", "create-namespace", app_id, url=node.url).stdout)
    ns_id = ns["data"]["namespaceId"]
    ctx = json.loads(run("--json", "create-context", app_id, ns_id, url=node.url).stdout)
    ctx_id = ctx["data"]["contextId"]
    out = run("call", ctx_id, "set", "--args", '{"key":"k","value":"v"}', url=node.url)
    assert out.returncode == 0, out.stderr
    out = run("--json", "call", ctx_id, "get", "--args", '{"key":"k"}', url=node.url)
    assert json.loads(out.stdout) == "v"
    out = run("--json", "list-contexts", "--limit", "1", url=node.url)
    assert len(json.loads(out.stdout)["data"]["contexts"]) == 1
    out = run("resync-context", ctx_id, "--force", url=node.url)
    assert out.returncode == 0, out.stderr


@pytest.mark.parametrize(
    ("args", "code", "needle"),
    [
        (["get-context", "not-an-id"], 2, "context_id: expected a base58"),
        (["get-context", "11111111111111111111111111111111"], 1, "Context not found"),
        (["no-such-command"], 2, "invalid choice"),
        (["list-contexts", "--limit", "x"], 2, "limit: expected an integer"),
    ],
)
def test_errors_are_one_line_with_exit_codes(node: TestNode, args, code, needle) -> None:
    out = run(*args, url=node.url)
    assert out.returncode == code
    assert needle in out.stderr
    assert "Traceback" not in out.stderr


def test_unreachable_node_exits_1() -> None:
    out = run("health", url="http://127.0.0.1:1")
    assert out.returncode == 1
    assert "Connection refused" in out.stderr
