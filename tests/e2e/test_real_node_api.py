"""Blobs, aliases, namespaces, groups and TEE against a real merod node.

Run only when CALIMERO_E2E_NODE_URL is set (an open node). The group and
alias scenarios install a stand-in .wasm through the node-local install
route, so they need the node on this machine (scripts/e2e-local.sh does
that); they skip when the node cannot read the file.
"""

from __future__ import annotations

import hashlib
import io
import os
import time
from pathlib import Path

import pytest

import calimero

pytestmark = pytest.mark.e2e

URL = os.environ.get("CALIMERO_E2E_NODE_URL", "")


@pytest.fixture(scope="module")
def client() -> calimero.Client:
    return calimero.create_client(calimero.create_connection(URL))


@pytest.fixture(scope="module")
def app_id(client: calimero.Client, tmp_path_factory: pytest.TempPathFactory) -> str:
    path = tmp_path_factory.mktemp("apps") / "stand-in.wasm"
    path.write_bytes(b"\0asm\x01\0\0\0" + os.urandom(64))
    try:
        reply = client.install_dev_application(str(path))
    except calimero.ServerError as e:
        pytest.skip(f"the node cannot read files of this machine: {e.message}")
    return reply["data"]["applicationId"]


@pytest.fixture(scope="module")
def namespace_id(client: calimero.Client, app_id: str) -> str:
    return client.create_namespace(app_id, name="e2e")["data"]["namespaceId"]


def test_blobs_stream_both_ways(client: calimero.Client, tmp_path: Path) -> None:
    data = os.urandom(5 * 1024 * 1024 + 3)
    source = tmp_path / "in.bin"
    source.write_bytes(data)
    seen: list[int] = []
    blob_id = client.upload_blob(source, progress=lambda d, t: seen.append(d))["data"]["blob_id"]
    assert seen[-1] == len(data)
    assert client.upload_blob(io.BytesIO(data))["data"]["blob_id"] == blob_id
    info = client.get_blob_info(blob_id)["data"]
    assert info["size"] == len(data)
    assert info["hash"] == hashlib.sha256(data).hexdigest()
    assert client.download_blob(blob_id) == data
    out = tmp_path / "out.bin"
    assert client.download_blob_to_path(blob_id, out)["size"] == len(data)
    assert out.read_bytes() == data
    assert b"".join(client.iter_blob(blob_id, chunk_size=65536)) == data
    assert blob_id in {b["blob_id"] for b in client.list_blobs()["data"]["blobs"]}
    with pytest.raises(calimero.ServerError, match="hash mismatch"):
        client.upload_blob(b"another blob", hash=hashlib.sha256(b"other").hexdigest())
    # Uploaded twice: each delete releases one reference.
    assert client.delete_blob(blob_id) == {"blob_id": blob_id, "deleted": True}
    assert client.get_blob_info(blob_id)["data"]["size"] == len(data)
    assert client.delete_blob(blob_id) == {"blob_id": blob_id, "deleted": True}
    with pytest.raises(calimero.NotFoundError):
        client.get_blob_info(blob_id)
    with pytest.raises(calimero.ServerError, match="Blob not found"):
        client.delete_blob(blob_id)


def test_an_application_blob_is_protected(client: calimero.Client, app_id: str) -> None:
    app = client.get_application(app_id)["data"]["application"]
    with pytest.raises(calimero.PermissionDeniedError):
        client.delete_blob(app["blob"]["bytecode"])


def test_aliases(client: calimero.Client, app_id: str) -> None:
    name = "e2e-" + os.urandom(4).hex()
    assert client.create_application_alias(name, app_id) == {"data": None}
    with pytest.raises(calimero.ConflictError):
        client.create_application_alias(name, app_id)
    assert client.lookup_application_alias(name) == {"data": {"value": app_id}}
    assert client.list_application_aliases()["data"][name] == app_id
    assert client.resolve_application_alias(name)["value"]["kind"] == "Lookup"
    assert client.delete_application_alias(name) == {"data": None}
    assert client.lookup_application_alias(name) == {"data": {"value": None}}


def test_namespace_and_groups(client: calimero.Client, app_id: str, namespace_id: str) -> None:
    account = client.get_node_identity()["data"]["accountId"]
    invite = client.create_namespace_invitation(namespace_id)["data"]
    assert set(invite["invitation"]) >= {"invitation", "inviter_signature"}
    recursive = client.create_namespace_invitation(namespace_id, True)["data"]["invitations"]
    assert recursive[0]["groupId"] == namespace_id
    group_id = client.create_group_in_namespace(namespace_id, "team", visibility="open")["data"][
        "groupId"
    ]
    assert {"groupId": group_id, "name": "team"} in client.list_namespace_groups(namespace_id)[
        "data"
    ]
    info = client.get_group_info(group_id)["data"]
    assert info["groupId"] == group_id and info["subgroupVisibility"] == "open"
    members = client.list_group_members(group_id)["members"]
    assert {"identity": account, "role": "Admin"} in [
        {"identity": m["identity"], "role": m["role"]} for m in members
    ]
    caps = calimero.Capability.CAN_CREATE_CONTEXT | calimero.Capability.CAN_INVITE_MEMBERS
    assert client.set_member_capabilities(group_id, account, caps) == {}
    assert client.get_member_capabilities(group_id, account) == {"data": {"capabilities": 3}}
    assert client.set_group_metadata(group_id, {"name": "Team", "data": {"k": "v"}}) == {}
    meta = client.get_group_metadata(group_id)["data"]
    assert (meta["name"], meta["data"]) == ("Team", {"k": "v"})
    assert client.set_default_capabilities(group_id, 4) == {}
    assert client.set_subgroup_visibility(group_id, "restricted") == {}
    assert client.get_tee_admission_policy(group_id)["enabled"] is False
    assert client.get_group_upgrade_status(group_id) == {"data": None}
    assert client.list_group_contexts(group_id, limit=10) == {"data": []}
    assert "rollup" in client.get_migration_status(namespace_id)
    expires = int(time.time() * 1000) + 60_000
    proof = client.issue_namespace_ownership_proof(namespace_id, "aud", "subj", "ab" * 16, expires)
    assert set(proof) == {"signerPublicKey", "signedPayload", "signature"}
    assert client.delete_group(group_id) == {"data": {"isDeleted": True}}


def test_tee_on_a_machine_without_tdx(client: calimero.Client) -> None:
    with pytest.raises(calimero.ServerError):
        client.get_tee_info()
    with pytest.raises(calimero.ServerError):
        client.tee_attest("ab" * 32)


def test_metrics_and_certificate(client: calimero.Client) -> None:
    assert "# TYPE" in client.get_metrics()
    with pytest.raises(calimero.NotFoundError, match="Certificate not found"):
        client.get_certificate()
