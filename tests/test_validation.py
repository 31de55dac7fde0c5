"""Every argument of every endpoint is validated before any I/O: a bad
value raises ValueError or TypeError naming the argument, and the node
receives nothing."""

from __future__ import annotations

from typing import Any

import pytest

import calimero
from testnode import TestNode

VALID = {
    "id": "EMtpXdHZQLiqyPVVAzJWbnishYR1gPTvKKtWD3e2V6zo",
    "hex_id": "699c99ea0a2997fb0826b12f6689df76d58763d2fb794f9a2d147f2e580794d1",
    "name": "some-name",
    "package": "com.example.kv",
    "url": "https://example.com/app.wasm",
    "node_path": "/srv/app.wasm",
    "uint": 1,
    "bool": True,
    "json_text": {"a": 1},
    "bytes": b"x",
    "ignored_id": "",
    "ignored_text": "",
    "alias": "my-alias_1.0",
    "uint32": 1,
    "role": "Member",
    "members": [{"identity": "699c99ea0a2997fb0826b12f6689df76d58763d2fb794f9a2d147f2e580794d1"}],
    "hex_id_list": ["699c99ea0a2997fb0826b12f6689df76d58763d2fb794f9a2d147f2e580794d1"],
    "str_list": ["a"],
    "id_list": ["EMtpXdHZQLiqyPVVAzJWbnishYR1gPTvKKtWD3e2V6zo"],
    "device_scope": "all",
    "metadata": {"name": "n", "data": {"k": "v"}},
    "upload": b"blob",
    "local_path": "/tmp/calimero-test-download.bin",
    "progress": None,
}


_B58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"


def wire_id(value: str, release: str) -> str:
    """A 32-byte id as a node of `release` takes it: base58 up to rc.26,
    lowercase hex from rc.27 (docs/node-releases.md)."""
    hex_ids = int(release.rsplit(".", 1)[1]) >= 27
    if len(value) == 64:
        raw = bytes.fromhex(value)
    else:
        n = 0
        for c in value:
            n = n * 58 + _B58.index(c)
        raw = n.to_bytes(32, "big")
    if hex_ids:
        return raw.hex()
    n = int.from_bytes(raw, "big")
    out = ""
    while n:
        n, r = divmod(n, 58)
        out = _B58[r] + out
    return "1" * (len(raw) - len(raw.lstrip(b"\0"))) + out


def valid(arg: dict[str, Any]) -> Any:
    """A valid value of an argument (some kinds depend on the argument)."""
    if arg["kind"] == "hex":
        return "ab" * (arg["length"][0] // 2)
    if arg["kind"] == "choice":
        return arg["choices"][0]
    return VALID[arg["kind"]]


# (bad value, expected exception) per kind.
BAD: dict[str, list[tuple[Any, type[Exception]]]] = {
    "id": [
        ("", ValueError),
        ("0OIl", ValueError),
        ("abc", ValueError),
        ("ab" * 31, ValueError),
        ("z" * 5000, ValueError),
        (42, TypeError),
        (b"EMtp", TypeError),
        ("é", ValueError),
    ],
    "hex_id": [
        ("", ValueError),
        ("xyz", ValueError),
        (VALID["id"], ValueError),
        ("g" * 64, ValueError),
        (1.5, TypeError),
    ],
    "name": [("", ValueError), ("a\x00b", ValueError), ("TOO_LONG", ValueError), (5, TypeError)],
    "package": [("", ValueError), ("https://x/a.wasm", ValueError), (5, TypeError)],
    "url": [("", ValueError), ("file:///x", ValueError), ("nope", ValueError), (5, TypeError)],
    "node_path": [("", ValueError), ("/a/../b", ValueError), (5, TypeError)],
    "uint": [
        (-1, ValueError),
        (2**64, ValueError),
        ("1", TypeError),
        (True, TypeError),
        (1.0, TypeError),
    ],
    "bool": [("yes", TypeError), (1, TypeError)],
    "json_text": [("{bad", ValueError), (object(), TypeError), (2**70, ValueError)],
    "bytes": [(object(), TypeError), ({1: 2}, TypeError), (b"x" * 2_000_000, ValueError)],
    "ignored_id": [("bad", ValueError), (5, TypeError)],
    "ignored_text": [(5, TypeError)],
    "alias": [("", ValueError), ("a b", ValueError), ("x" * 51, ValueError), (5, TypeError)],
    "hex": [("", ValueError), ("abc", ValueError), ("zz" * 40, ValueError), (5, TypeError)],
    "uint32": [(-1, ValueError), (2**32, ValueError), ("1", TypeError), (True, TypeError)],
    "choice": [("nope", ValueError), ("", ValueError), (5, TypeError)],
    "role": [("owner", ValueError), ("ReadOnlyTee", ValueError), ("", ValueError), (5, TypeError)],
    "members": [
        ([], ValueError),
        ("[bad", ValueError),
        ([{"identity": "x"}], ValueError),
        ([{"identity": VALID["hex_id"], "role": "boss"}], ValueError),
        ([{"identity": VALID["hex_id"], "extra": 1}], ValueError),
        ([5], ValueError),
        (5, TypeError),
        ({"identity": VALID["hex_id"]}, TypeError),
    ],
    "hex_id_list": [([], ValueError), (["xyz"], ValueError), ([5], ValueError), (5, TypeError)],
    "str_list": [("abc", TypeError), ([5], ValueError), ([""], ValueError)],
    "id_list": [("abc", TypeError), (["xyz"], ValueError), ([5], ValueError)],
    "device_scope": [
        ("some", ValueError),
        ([], ValueError),
        (["xyz"], ValueError),
        ({"only": []}, ValueError),
        ({"all": 1}, ValueError),
        (5, TypeError),
    ],
    "metadata": [
        ({"name": ""}, ValueError),
        ({"name": "x" * 65}, ValueError),
        ({"data": {"k": 1}}, ValueError),
        ({"data": {f"k{i}": "v" for i in range(65)}}, ValueError),
        ({"other": 1}, ValueError),
        ("[1]", ValueError),
        ("{bad", ValueError),
        (5, TypeError),
    ],
    "upload": [(5, TypeError), (object(), TypeError), ("", ValueError)],
    "local_path": [(5, TypeError), ("/", ValueError)],
    "progress": [(5, TypeError), ("print", TypeError)],
}


def cases() -> list[Any]:
    out = []
    for endpoint in calimero.ENDPOINTS:
        for position, arg in enumerate(endpoint["args"]):
            for bad, exc in BAD[arg["kind"]]:
                if bad is None and not arg["required"]:
                    continue
                # An optional list may be empty: the node's default, not sent.
                if bad == [] and not arg["required"] and arg["kind"].endswith("_list"):
                    continue
                out.append(
                    pytest.param(
                        endpoint,
                        position,
                        bad,
                        exc,
                        id=f"{endpoint['name']}-{arg['name']}-{bad!r:.20}",
                    )
                )
    return out


@pytest.mark.parametrize(("endpoint", "position", "bad", "exc"), cases())
def test_bad_argument_is_refused_before_io(
    client: calimero.Client, node: TestNode, endpoint: dict, position: int, bad: Any, exc: type
) -> None:
    kwargs = {a["name"]: valid(a) for a in endpoint["args"] if a["required"]}
    arg = endpoint["args"][position]
    name = arg["name"]
    if bad == "TOO_LONG":
        bad = "x" * ((arg["max_len"] or 256) + 1)
    kwargs[name] = bad
    with pytest.raises(exc) as info:
        getattr(client, endpoint["name"])(**kwargs)
    assert str(info.value).startswith(f"{name}: "), str(info.value)
    assert node.requests() == []


def test_required_none_names_the_argument(client: calimero.Client, node: TestNode) -> None:
    with pytest.raises(ValueError, match="^context_id: is required, got None"):
        client.get_context(None)  # type: ignore[arg-type]
    assert node.requests() == []


def test_missing_arguments_are_python_type_errors(client: calimero.Client) -> None:
    with pytest.raises(TypeError, match="context_id"):
        client.get_context()  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        client.list_contexts(1, 2)  # type: ignore[misc]  # offset/limit are keyword-only
