"""Tokens cached where merobox keeps them are sent; a 401 without one says
how to provide it."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

import calimero
from testnode import TestNode


def write_cache(node_name: str, payload: object) -> Path:
    path = Path(calimero.get_token_cache_path(node_name))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(payload if isinstance(payload, str) else json.dumps(payload))
    return path


def test_a_merobox_cache_file_is_used(home: Path, node: TestNode) -> None:
    write_cache(
        "node1",
        {
            "access_token": "cached-access",
            "refresh_token": "cached-refresh",
            "expires_at": 4102444800,
            "node_url": node.url,
            "auth_method": "user_password",
            "username": "admin",
        },
    )
    client = calimero.create_client(calimero.create_connection(node.url, "node1"))
    client.list_contexts()
    assert node.requests()[-1]["headers"]["authorization"] == "Bearer cached-access"
    # the probe never sends the token: it asks whether one is needed
    client.connection.detect_auth_mode()
    assert "authorization" not in node.requests()[-1]["headers"]


@pytest.mark.parametrize("content", ["", "{", "[]", '{"refresh_token": "r"}'])
def test_bad_cache_files_are_ignored(home: Path, node: TestNode, content: str) -> None:
    write_cache("node1", content)
    client = calimero.create_client(calimero.create_connection(node.url, "node1"))
    assert client.health() == {"data": {"status": "alive"}}
    assert "authorization" not in node.requests()[-1]["headers"]


def test_no_cache_no_header(home: Path, node: TestNode) -> None:
    calimero.create_client(calimero.create_connection(node.url, "other")).health()
    assert "authorization" not in node.requests()[-1]["headers"]
    assert not os.path.exists(calimero.get_token_cache_path("other"))


def test_401_without_a_token_says_how_to_provide_one(home: Path, node: TestNode) -> None:
    node.fault("/admin-api/contexts", "status", status=401, body="")
    client = calimero.create_client(calimero.create_connection(node.url, "node1"))
    with pytest.raises(calimero.AuthenticationError) as info:
        client.list_contexts()
    err = info.value
    assert err.status == 401 and err.body == ""
    assert "requires authentication" in err.message
    assert calimero.get_token_cache_path("node1") in err.message
