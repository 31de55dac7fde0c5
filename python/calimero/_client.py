"""``Client``: one method per node endpoint, made from the endpoint table.

The table lives in the Rust core (``crates/core/src/endpoints.rs``) and is
read here through ``calimero_client_py.endpoints()``. Each entry becomes a
real Python method with a real signature and docstring: the arguments are
bound by Python, converted and validated in Rust (ValueError or TypeError
naming the argument, before any I/O), and sent with the GIL released.
"""

from __future__ import annotations

import json
import os
import warnings
from collections.abc import Iterable
from typing import Any, Callable, NoReturn

from ._events import Subscription, subscribe
from .calimero_client_py import ConnectionInfo, endpoints
from .errors import UnsupportedByNodeError

__all__ = ["ENDPOINTS", "Client", "create_client", "create_connection"]

#: The endpoint table, as dicts (name, area, verb, path, doc, args, ...).
ENDPOINTS: list[dict[str, Any]] = endpoints()


def _py_default(arg: dict[str, Any]) -> Any:
    """The Python default of an optional argument: the wire default when it
    is a scalar (``False``, ``0``), else None (and the wire default is sent
    for None)."""
    if arg["default"] is None:
        return None
    value = json.loads(arg["default"])
    return value if isinstance(value, (bool, int, float, str)) else None


def _make_method(index: int, endpoint: dict[str, Any]) -> Callable[..., Any]:
    params: list[str] = ["self"]
    star = False
    for arg in endpoint["args"]:
        if arg["keyword_only"] and not star:
            params.append("*")
            star = True
        if arg["required"]:
            params.append(arg["name"])
        else:
            params.append(f"{arg['name']}={_py_default(arg)!r}")
    call = "".join(f"{a['name']}, " for a in endpoint["args"])
    name = endpoint["name"]
    source = f"def {name}({', '.join(params)}):\n    return self._invoke({index}, ({call}))\n"
    namespace: dict[str, Any] = {}
    exec(compile(source, f"<calimero endpoint {name}>", "exec"), namespace)
    method = namespace[name]
    route = f"{endpoint['verb']} {endpoint['path']}"
    method.__doc__ = f"{endpoint['doc']}\n\nNode route: ``{route}``."
    method.__qualname__ = f"Client.{name}"
    method.__module__ = "calimero"
    return method


class Client:
    """The node API, one method per endpoint.

    Made by ``create_client(connection)`` (or ``Client(connection)``). Every
    method blocks until the node answers, with the GIL released, so other
    threads run meanwhile; Ctrl-C interrupts a waiting call. Answers are the
    node's JSON as it sent it (dicts, lists, str, int, float, bool, None).
    Failures raise a ``ClientError`` subclass; bad arguments raise
    ValueError or TypeError before anything is sent.
    """

    __slots__ = ("_connection", "_invoke")

    def __init__(self, connection: ConnectionInfo) -> None:
        if not isinstance(connection, ConnectionInfo):
            raise TypeError("connection: expected a ConnectionInfo (see create_connection)")
        self._connection = connection
        self._invoke = connection._invoke

    @property
    def connection(self) -> ConnectionInfo:
        """The connection this client uses (and shares with other clients)."""
        return self._connection

    def get_api_url(self) -> str:
        """The node's base URL."""
        return self._connection.api_url

    def with_options(
        self, *, timeout: float | None = None, max_retries: int | None = None
    ) -> Client:
        """A client whose calls use another request ``timeout`` (seconds)
        and/or ``max_retries``, over the same connection pool and tokens:
        ``client.with_options(timeout=5).list_contexts()``."""
        return Client(self._connection.with_options(timeout=timeout, max_retries=max_retries))

    def __repr__(self) -> str:
        return f"Client({self._connection!r})"

    def subscribe(
        self,
        context_ids: str | Iterable[str] | None = None,
        group_ids: str | Iterable[str] | None = None,
        *,
        transport: str = "sse",
        max_reconnects: int = 10,
        buffer: int = 256,
    ) -> Subscription:
        """Live events of contexts (base58 ids) and groups (64-hex ids), over
        ``transport`` ``"sse"`` (``GET /sse``) or ``"ws"`` (``GET /ws``): a
        ``Subscription``, both a blocking and an async iterator. Connects and
        subscribes before returning (ValueError for a bad id, before any I/O;
        a ``ClientError`` when the node cannot be reached or refuses).
        ``max_reconnects``: failed reconnect attempts in a row before
        iteration raises; ``buffer``: events held for a slow reader."""
        return subscribe(
            self._connection,
            context_ids,
            group_ids,
            transport=transport,
            max_reconnects=max_reconnects,
            buffer=buffer,
        )

    # ---- composed from the table's methods (no route of their own) ----

    def resolve_context_alias(self, alias: str) -> dict[str, Any]:
        """An alias's context, as the official client resolves it: the node's
        lookup when the alias exists (``{"alias", "value": {"kind": "Lookup",
        "data": <lookup answer>}}``), else the alias itself when it is a
        context id (``{"kind": "Parsed", "data": id}``), else ``"value": None``.
        """
        return _resolve(alias, self.lookup_context_alias(alias))

    def resolve_application_alias(self, alias: str) -> dict[str, Any]:
        """An alias's application, resolved like ``resolve_context_alias``."""
        return _resolve(alias, self.lookup_application_alias(alias))

    def create_alias_generic(self, alias: str, value: str, scope: str | None = None) -> Any:
        """Creates an alias of a context (``scope`` None or ``"context"``) or of
        an application (``scope="application"``). The official client ignored
        ``scope`` and always made a context alias."""
        if scope is None or scope == "context":
            return self.create_context_alias(alias, value)
        if scope == "application":
            return self.create_application_alias(alias, value)
        raise ValueError(f"scope: expected None, 'context' or 'application', got {scope!r}")

    def set_default_visibility(self, group_id: str, visibility: str) -> Any:
        """Deprecated name of ``set_subgroup_visibility``."""
        warnings.warn(
            "set_default_visibility is deprecated; use set_subgroup_visibility",
            DeprecationWarning,
            stacklevel=2,
        )
        return self.set_subgroup_visibility(group_id, visibility)

    # ---- identity aliases: no such routes on merod 0.11.0-rc.25 ----

    def create_context_identity_alias(self, alias: str, context_id: str, public_key: str) -> Any:
        """Not served by merod 0.11.0-rc.25: raises UnsupportedByNodeError."""
        _no_identity_aliases("create_context_identity_alias")

    def delete_context_identity_alias(self, alias: str, context_id: str) -> Any:
        """Not served by merod 0.11.0-rc.25: raises UnsupportedByNodeError."""
        _no_identity_aliases("delete_context_identity_alias")

    def list_context_identity_aliases(self, context_id: str) -> Any:
        """Not served by merod 0.11.0-rc.25: raises UnsupportedByNodeError."""
        _no_identity_aliases("list_context_identity_aliases")

    def lookup_context_identity_alias(self, alias: str, context_id: str) -> Any:
        """Not served by merod 0.11.0-rc.25: raises UnsupportedByNodeError."""
        _no_identity_aliases("lookup_context_identity_alias")

    def resolve_context_identity_alias(self, alias: str, context_id: str) -> Any:
        """Not served by merod 0.11.0-rc.25: raises UnsupportedByNodeError."""
        _no_identity_aliases("resolve_context_identity_alias")


def _resolve(alias: str, lookup: Any) -> dict[str, Any]:
    data = lookup.get("data") if isinstance(lookup, dict) else None
    if isinstance(data, dict) and data.get("value") is not None:
        return {"alias": alias, "value": {"kind": "Lookup", "data": lookup}}
    if _is_base58_id(alias):
        return {"alias": alias, "value": {"kind": "Parsed", "data": alias}}
    return {"alias": alias, "value": None}


_BASE58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"


def _is_base58_id(text: str) -> bool:
    """Whether ``text`` is base58 of exactly 32 bytes."""
    if not text or any(c not in _BASE58 for c in text):
        return False
    number = 0
    for c in text:
        number = number * 58 + _BASE58.index(c)
    zeros = len(text) - len(text.lstrip("1"))
    return zeros + (number.bit_length() + 7) // 8 == 32


def _no_identity_aliases(method: str) -> NoReturn:
    raise UnsupportedByNodeError(
        f"{method}: merod 0.11.0-rc.25 has no identity-alias routes "
        "(/admin-api/alias/*/identity/...); only context and application aliases exist",
        message="identity aliases are not served by this node version",
    )


Client.__module__ = "calimero"

for _index, _endpoint in enumerate(ENDPOINTS):
    setattr(Client, _endpoint["name"], _make_method(_index, _endpoint))
del _index, _endpoint


def create_connection(
    api_url: str,
    node_name: str | None = None,
    *,
    username: str | None = None,
    password: str | None = None,
    access_token: str | None = None,
    refresh_token: str | None = None,
    interactive: bool = True,
    timeout: float | None = None,
    connect_timeout: float | None = None,
    max_retries: int | None = None,
    max_response_bytes: int | None = None,
    ca_cert: str | os.PathLike[str] | bytes | None = None,
) -> ConnectionInfo:
    """A connection to the node at ``api_url``.

    ``node_name`` is the stable name tokens are cached under
    (``get_token_cache_path(node_name)``, the file merobox uses too).
    ``timeout`` (whole request, default 60 s) and ``connect_timeout``
    (default 10 s) are in seconds. Raises ValueError for a malformed URL.

    Authentication, for nodes that require it: ``access_token`` (with an
    optional ``refresh_token``) is used first; else the token cached for
    ``node_name``; else the connection logs in with ``username`` and
    ``password`` when the node asks for a token. Missing arguments are taken
    from ``CALIMERO_ACCESS_TOKEN``, ``CALIMERO_REFRESH_TOKEN``,
    ``CALIMERO_USERNAME`` and ``CALIMERO_PASSWORD``. With none of these, a
    call that needs a token asks on the terminal when stdin is one (unless
    ``interactive=False``), and otherwise raises ``AuthenticationError``.
    Expired tokens are refreshed when the node says so, once for all threads
    and processes sharing the ``node_name``, and the call is replayed.

    Reliability: ``max_retries`` (default 2) retries a request whose
    connection failed before it was sent, and a GET, HEAD, PUT or DELETE
    answered 429, 502, 503 or 504, after ``Retry-After`` or an exponential
    backoff with jitter; a POST that reached the node is never replayed.
    ``max_response_bytes`` (default 64 MiB) caps an answer read into memory.
    ``ca_cert`` (a PEM file's path, or PEM bytes) adds trusted roots to the
    platform's for https nodes. ``connection.with_options(timeout=...,
    max_retries=...)`` gives a connection sharing this one's pool and tokens
    with other per-call settings.
    """
    return ConnectionInfo(
        api_url,
        node_name,
        timeout=timeout,
        connect_timeout=connect_timeout,
        username=username,
        password=password,
        access_token=access_token,
        refresh_token=refresh_token,
        interactive=interactive,
        max_retries=max_retries,
        max_response_bytes=max_response_bytes,
        ca_cert=ca_cert,
    )


def create_client(connection: ConnectionInfo) -> Client:
    """A client for the node behind ``connection``."""
    return Client(connection)
