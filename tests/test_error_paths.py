"""Every endpoint meets a failing node: each status maps to its ClientError
subclass, carrying the status, the node's message, the method and the URL."""

from __future__ import annotations

from typing import Any

import pytest

import calimero
from test_validation import valid, wire_id
from testnode import TestNode

CLASSES = [
    (400, calimero.BadRequestError),
    (401, calimero.AuthenticationError),
    (403, calimero.PermissionDeniedError),
    (404, calimero.NotFoundError),
    (409, calimero.ConflictError),
    (429, calimero.RateLimitError),
    (500, calimero.ServerError),
    (503, calimero.ServerError),
    (410, calimero.HttpError),
]


def request_path(endpoint: dict[str, Any], kwargs: dict[str, Any], release: str) -> str:
    """The path the client sends: ids in the encoding of `release`."""
    path = endpoint["path"]
    for arg in endpoint["args"]:
        if arg["location"] == "path":
            value = str(kwargs[arg["name"]])
            if arg["kind"] == "id":
                value = wire_id(value, release)
            path = path.replace("{" + arg["name"] + "}", value)
    return path


def served(endpoint: dict[str, Any], release: str) -> bool:
    rc = int(release.rsplit(".", 1)[1])
    since = int(endpoint["since"].rsplit(".", 1)[1]) if endpoint["since"] else 0
    until = int(endpoint["until"].rsplit(".", 1)[1]) if endpoint["until"] else 10**6
    return since <= rc <= until


@pytest.mark.parametrize(
    ("index", "endpoint"),
    list(enumerate(calimero.ENDPOINTS)),
    ids=[e["name"] for e in calimero.ENDPOINTS],
)
def test_each_endpoint_raises_the_class_of_the_status(
    client: calimero.Client,
    node: TestNode,
    node_release: str,
    index: int,
    endpoint: dict[str, Any],
) -> None:
    status, cls = CLASSES[index % len(CLASSES)]
    kwargs = {a["name"]: valid(a) for a in endpoint["args"] if a["required"]}
    if not served(endpoint, node_release):
        # Another release's form or route: refused before it is sent.
        client.connection.detect_node_version()
        node.clear_requests()
        with pytest.raises(calimero.UnsupportedByNodeError) as refused:
            _call_form(client, endpoint, kwargs)
        assert endpoint["releases_text"] in str(refused.value)
        assert node.requests() == []
        return
    path = request_path(endpoint, kwargs, node_release)
    node.fault(path, "status", status=status, body={"error": "injected failure"}, times=1)
    # No retries: a 429 or 503 would otherwise be retried (test_reliability).
    with pytest.raises(cls) as info:
        _call_form(client.with_options(max_retries=0), endpoint, kwargs)
    err = info.value
    assert type(err) is cls or (cls is calimero.HttpError and type(err) is calimero.HttpError)
    assert err.status == status
    if endpoint["verb"] == "HEAD":
        # A HEAD answer has no body: the message is the status's reason.
        assert err.message and err.message != "injected failure"
    else:
        assert err.message == "injected failure"
    assert err.method == endpoint["verb"]
    assert err.url == node.url + path
    assert f"HTTP {status}" in str(err)
    sent = node.requests()[-1]
    assert (sent["method"], sent["path"]) == (endpoint["verb"], path)


def _call_form(client: Any, endpoint: dict[str, Any], kwargs: dict[str, Any]) -> Any:
    """Calls `endpoint`'s method with `kwargs` (keyword arguments bind one
    form of a method with several)."""
    return getattr(client, endpoint["name"])(**kwargs)


def test_rate_limit_carries_retry_after_when_sent(client: calimero.Client, node: TestNode) -> None:
    node.fault("/admin-api/health", "status", status=429, body="slow down", times=1)
    with pytest.raises(calimero.RateLimitError) as info:
        client.with_options(max_retries=0).health()
    assert info.value.retry_after is None  # the fault sends no Retry-After
    assert info.value.message == "slow down"
    node.fault("/admin-api/health", "status", status=429, body="slow down",
               headers={"retry-after": "120"}, times=1)  # fmt: skip
    with pytest.raises(calimero.RateLimitError) as info:
        client.health()  # a wait over a minute is not retried: the caller decides
    assert info.value.retry_after == 120
