"""Blobs on a real merod 0.11.0-rc.25: upload and download streamed both
ways, info, listing, reference-counted delete, errors; and core's blobs app
keeping file records of uploaded blobs (sync and async)."""

from __future__ import annotations

import hashlib
import io
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import calimero
from e2e.conftest import MISSING

SIZE = 5 * 1024 * 1024 + 3  # more than one chunk of everything


def test_stream_both_ways(client: Any, tmp_path: Path) -> None:
    data = os.urandom(SIZE)
    source = tmp_path / "in.bin"
    source.write_bytes(data)
    seen: list[tuple[int, int | None]] = []
    up = client.upload_blob(source, progress=lambda done, total: seen.append((done, total)))
    blob_id = up["data"]["blob_id"]
    assert up["data"]["size"] == SIZE
    assert seen[-1] == (SIZE, SIZE)
    try:
        info = client.get_blob_info(blob_id)["data"]
        assert (info["blob_id"], info["size"]) == (blob_id, SIZE)
        assert info["mime_type"] == "application/octet-stream"
        assert info["hash"] == hashlib.sha256(data).hexdigest()
        assert client.download_blob(blob_id) == data
        out = tmp_path / "out.bin"
        assert client.download_blob_to_path(blob_id, out)["size"] == SIZE
        assert out.read_bytes() == data
        chunks = list(client.iter_blob(blob_id, chunk_size=65536))
        assert b"".join(chunks) == data and len(chunks) > 1
        listed = {b["blob_id"]: b["size"] for b in client.list_blobs()["data"]["blobs"]}
        assert listed[blob_id] == SIZE
    finally:
        client.delete_blob(blob_id)


def test_upload_from_a_file_object_and_with_its_hash(client: Any) -> None:
    data = os.urandom(300_000)
    ids = {
        client.upload_blob(io.BytesIO(data))["data"]["blob_id"],
        client.upload_blob(data, hash=hashlib.sha256(data).hexdigest())["data"]["blob_id"],
    }
    assert len(ids) == 1  # content addressed
    [blob_id] = ids
    for _ in range(2):
        client.delete_blob(blob_id)


def test_delete_releases_one_reference(client: Any) -> None:
    data = os.urandom(1000)
    blob_id = client.upload_blob(data)["data"]["blob_id"]
    assert client.upload_blob(data)["data"]["blob_id"] == blob_id
    assert client.delete_blob(blob_id) == {"blob_id": blob_id, "deleted": True}
    assert client.download_blob(blob_id) == data  # one reference left
    assert client.delete_blob(blob_id) == {"blob_id": blob_id, "deleted": True}
    with pytest.raises(calimero.NotFoundError):
        client.get_blob_info(blob_id)
    with pytest.raises(calimero.NotFoundError, match="Blob not found locally or in network"):
        client.download_blob(blob_id)
    with pytest.raises(calimero.ServerError, match="Blob not found"):
        client.delete_blob(blob_id)


def test_blob_errors(client: Any, kv_app: str) -> None:
    with pytest.raises(calimero.ServerError, match="hash mismatch"):
        client.upload_blob(b"a blob", hash=hashlib.sha256(b"another").hexdigest())
    with pytest.raises(calimero.NotFoundError):
        client.get_blob_info(MISSING)
    with pytest.raises(ValueError, match="^blob_id: "):
        client.download_blob("nope")
    app = client.get_application(kv_app)["data"]["application"]
    with pytest.raises(calimero.PermissionDeniedError):
        client.delete_blob(app["blob"]["bytecode"])  # an application's bytecode is protected


@pytest.fixture(scope="module")
def blobs_context(admin: calimero.Client, blobs_app_path: str) -> Iterator[str]:
    app = admin.install_dev_application(blobs_app_path)["data"]["applicationId"]
    ns = admin.create_namespace(app, name="e2e-blobs")["data"]["namespaceId"]
    ctx = admin.create_context(app, ns)["data"]["contextId"]
    yield ctx
    admin.delete_context(ctx)


def test_the_blobs_app_records_uploaded_files(client: Any, blobs_context: str) -> None:
    ctx = blobs_context
    data = b"hello from the e2e run\n" * 2000
    blob_id = client.upload_blob(data, context_id=ctx)["data"]["blob_id"]
    file_id = client.call(
        ctx,
        "upload_file",
        {"name": "hello.txt", "blob_id": blob_id, "size": len(data), "mime_type": "text/plain"},
    )
    record = client.call(ctx, "get_file", {"file_id": file_id})
    assert (record["name"], record["blob_id"], record["size"]) == ("hello.txt", blob_id, len(data))
    assert client.call(ctx, "get_blob_id_b58", {"file_id": file_id}) == blob_id
    assert file_id in [f["id"] for f in client.call(ctx, "search_files", {"query": "hello"})]
    assert client.call(ctx, "get_total_files_size") >= len(data)
    assert "Total files" in client.call(ctx, "get_stats")
    assert client.download_blob(blob_id, context_id=ctx) == data
    assert client.call(ctx, "delete_file", {"file_id": file_id}) is None
    assert file_id not in [f["id"] for f in client.call(ctx, "list_files")]
    with pytest.raises(calimero.RpcError):
        client.call(ctx, "get_file", {"file_id": file_id})
