"""``Client``: one method per node endpoint, made from the endpoint table.

The table lives in the Rust core (``crates/core/src/endpoints.rs``) and is
read here through ``calimero_client_py.endpoints()``. Each entry becomes a
real Python method with a real signature and docstring: the arguments are
bound by Python, converted and validated in Rust (ValueError or TypeError
naming the argument, before any I/O), and sent with the GIL released.
"""

from __future__ import annotations

import json
from typing import Any, Callable

from .calimero_client_py import ConnectionInfo, endpoints

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

    def __repr__(self) -> str:
        return f"Client({self._connection!r})"


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
    )


def create_client(connection: ConnectionInfo) -> Client:
    """A client for the node behind ``connection``."""
    return Client(connection)
