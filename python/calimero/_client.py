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
import re
import sys
import types
import warnings

from ._events import Subscription
from .calimero_client_py import (
    BlobChunks,
    ConnectionInfo,
    DeviceCredential,
    _asubscribe,
    _subscribe,
    endpoints,
)
from .errors import InvalidArgumentError, NotFoundError, UnsupportedByNodeError

# typing is not imported at run time (about 10 ms of `import calimero`):
# annotations are strings here, read only by type checkers.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping
    from typing import Any, Callable, NoReturn

    from .calimero_client_py import TeePolicy


__all__ = [
    "ENDPOINTS",
    "AsyncBlobChunks",
    "AsyncClient",
    "Client",
    "create_async_client",
    "create_client",
    "create_connection",
]

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


def _is_transfer(endpoint: dict[str, Any]) -> bool:
    """Whether the endpoint streams a blob through Python objects."""
    return endpoint["body"] == "stream" or endpoint["output"] in ("bytes", "file", "chunks")


def _params(endpoint: dict[str, Any]) -> list[str]:
    """An entry's Python parameters, as source text (``self`` first)."""
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
    return params


def _compile(name: str, source: str, owner: str, namespace: dict[str, Any]) -> Any:
    exec(compile(source, f"<calimero endpoint {name}>", "exec"), namespace)
    method = namespace[name]
    method.__qualname__ = f"{owner}.{name}"
    method.__module__ = "calimero"
    return method


def _releases(endpoint: dict[str, Any]) -> str:
    """ "0.11.0-rc.28 and later", or "" for every release."""
    return endpoint["releases_text"] if endpoint["releases_text"] != "every release" else ""


def _doc(endpoint: dict[str, Any]) -> str:
    route = f"{endpoint['verb']} {endpoint['path']}"
    served = _releases(endpoint)
    served = f" Served by {served}." if served else ""
    return f"{endpoint['doc']}\n\nNode route: ``{route}``.{served}"


#: The table index in a template's code, replaced by each method's own.
_INDEX = 2_000_000_011

#: Compiled templates, by (how the call is made, positional and keyword-only
#: argument counts), and the namespace their functions run in.
_TEMPLATES: dict[tuple[str, int, int], types.CodeType] = {}
_TEMPLATE_GLOBALS: dict[str, Any] = {}


def _template(kind: str, positional: int, keyword_only: int) -> types.CodeType:
    """The code of a generated method of this shape (compiled once; its
    arguments are ``a0``, ``a1``, ... and its table index ``_INDEX``)."""
    key = (kind, positional, keyword_only)
    code = _TEMPLATES.get(key)
    if code is None:
        names = [f"a{i}" for i in range(positional + keyword_only)]
        params = ["self", *names[:positional]]
        if keyword_only:
            params += ["*", *names[positional:]]
        call = "".join(f"{n}, " for n in names)
        body = {
            "sync": f"return self._invoke({_INDEX}, ({call}))",
            "transfer": f"return await self._transfer({_INDEX}, ({call}))",
            "async": f"return await self._invoke_async({_INDEX}, ({call}))",
        }[kind]
        header = "def" if kind == "sync" else "async def"
        source = f"{header} f({', '.join(params)}):\n    {body}\n"
        exec(compile(source, "<calimero endpoint>", "exec"), _TEMPLATE_GLOBALS)
        code = _TEMPLATE_GLOBALS.pop("f").__code__
        _TEMPLATES[key] = code
    return code


def _make_method(index: int, endpoint: dict[str, Any], owner: str) -> Callable[..., Any]:
    """``Client`` (``owner="Client"``) or ``AsyncClient`` method of an endpoint:
    a function of the endpoint's own signature (Python binds the arguments
    and raises TypeError as for any function), which hands them to the
    connection as a tuple in the table's order. Made from a template
    compiled once per shape, with the endpoint's names, index and defaults
    put in: compiling one ``def`` per method was a quarter of ``import
    calimero`` (benches/RESULTS.md, third round)."""
    name, args = endpoint["name"], endpoint["args"]
    positional = next((i for i, a in enumerate(args) if a["keyword_only"]), len(args))
    if owner == "Client":
        kind = "sync"
    elif _is_transfer(endpoint):
        kind = "transfer"
    else:
        kind = "async"
    template = _template(kind, positional, len(args) - positional)
    names = tuple(a["name"] for a in args)
    changes: dict[str, Any] = {
        "co_varnames": ("self", *names),
        "co_name": name,
        "co_filename": f"<calimero endpoint {name}>",
        "co_consts": tuple(index if c == _INDEX else c for c in template.co_consts),
    }
    if sys.version_info >= (3, 11):
        changes["co_qualname"] = f"{owner}.{name}"
    code = template.replace(**changes)
    method = types.FunctionType(code, _TEMPLATE_GLOBALS, name)
    defaults = [_py_default(a) for a in args[:positional] if not a["required"]]
    method.__defaults__ = tuple(defaults) or None
    method.__kwdefaults__ = {
        a["name"]: _py_default(a) for a in args[positional:] if not a["required"]
    } or None
    method.__qualname__ = f"{owner}.{name}"
    method.__module__ = "calimero"
    method.__doc__ = _doc(endpoint)
    return method


def _make_forms(indices: list[int], owner: str) -> Callable[..., Any]:
    """The method of a name with several table entries (its route or its
    signature changed between node releases), newest first: the arguments
    are bound to each entry's signature, and every entry they fit goes to
    the connection, which sends the one the node's release serves (or
    raises UnsupportedByNodeError, naming the releases that have it)."""
    endpoints = [ENDPOINTS[i] for i in indices]
    name = endpoints[0]["name"]
    binders = []
    for index, endpoint in zip(indices, endpoints):
        names = "".join(f"{a['name']}, " for a in endpoint["args"])
        source = f"def bind({', '.join(_params(endpoint))}):\n    return ({names})\n"
        binders.append((index, _compile("bind", source, owner, {})))

    def calls(args: tuple[Any, ...], kwargs: dict[str, Any]) -> list[tuple[int, tuple[Any, ...]]]:
        out = []
        first_error = None
        for index, bind in binders:
            try:
                out.append((index, bind(None, *args, **kwargs)))
            except TypeError as e:
                first_error = first_error or e
        if not out:
            message = str(first_error).replace("bind()", f"{name}()")
            raise TypeError(message) from None
        return out

    if owner == "Client":

        def method(self: Any, *args: Any, **kwargs: Any) -> Any:
            return self._connection._invoke_forms(calls(args, kwargs))

    else:

        async def method(self: Any, *args: Any, **kwargs: Any) -> Any:  # type: ignore[misc]
            return await self._connection._invoke_forms_async(calls(args, kwargs))

    # Its signature is (*args, **kwargs); the forms are in the docstring, in
    # the stub (one @overload each) and here, newest first, as functions of
    # their signatures (for tools that check a call binds).
    method.__forms__ = tuple(bind for _, bind in binders)  # type: ignore[attr-defined]
    method.__name__ = name
    method.__qualname__ = f"{owner}.{name}"
    method.__module__ = "calimero"
    forms = []
    for endpoint in endpoints:
        shown = ", ".join(p for p in _params(endpoint)[1:])
        forms.append(f"``{name}({shown})``: {_doc(endpoint)}")
    method.__doc__ = (
        "One method, several forms (the node's release picks the one sent):\n\n"
        + "\n\n".join(forms)
    )
    return method


class _BaseClient:
    """What ``Client`` and ``AsyncClient`` share: the connection, options,
    ``close()``."""

    __slots__ = ("_connection", "_invoke", "_invoke_async")

    def __init__(self, connection: ConnectionInfo) -> None:
        if not isinstance(connection, ConnectionInfo):
            raise TypeError("connection: expected a ConnectionInfo (see create_connection)")
        self._connection = connection
        self._invoke = connection._invoke
        self._invoke_async = connection._invoke_async

    @property
    def connection(self) -> ConnectionInfo:
        """The connection this client uses (and shares with other clients)."""
        return self._connection

    def get_api_url(self) -> str:
        """The node's base URL."""
        return self._connection.api_url

    def with_options(self, *, timeout: float | None = None, max_retries: int | None = None) -> Any:
        """A client whose calls use another request ``timeout`` (seconds)
        and/or ``max_retries``, over the same connection pool and tokens:
        ``client.with_options(timeout=5).list_contexts()``."""
        options = self._connection.with_options(timeout=timeout, max_retries=max_retries)
        return type(self)(options)

    @property
    def closed(self) -> bool:
        """Whether the connection was closed."""
        return self._connection.closed

    def close(self) -> None:
        """Closes the connection this client uses: its pooled HTTP
        connections are dropped, and later calls through it (from this
        client, or any other client or ``with_options`` copy sharing the
        connection) raise RuntimeError. Closing twice is harmless."""
        self._connection.close()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._connection!r})"


class Client(_BaseClient):
    """The node API, one method per endpoint.

    Made by ``create_client(connection)`` (or ``Client(connection)``). Every
    method blocks until the node answers, with the GIL released, so other
    threads run meanwhile; Ctrl-C interrupts a waiting call. Answers are the
    node's JSON as it sent it (dicts, lists, str, int, float, bool, None).
    Failures raise a ``ClientError`` subclass; bad arguments raise
    ValueError or TypeError before anything is sent. A context manager:
    ``with create_client(conn) as client: ...`` closes the connection at
    the end.
    """

    __slots__ = ()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

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
        return Subscription(
            _subscribe(
                self._connection,
                context_ids,
                group_ids,
                transport=transport,
                max_reconnects=max_reconnects,
                buffer=buffer,
            )
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
        name, target = _alias_method(scope)
        try:
            return getattr(self, name)(alias, value)
        except (ValueError, TypeError) as e:
            raise _as_value_error(e, target) from None

    def set_default_visibility(self, group_id: str, visibility: str) -> Any:
        """Deprecated name of ``set_subgroup_visibility``."""
        _deprecated_visibility()
        return self.set_subgroup_visibility(group_id, visibility)

    def next_warrant_nonce(
        self,
        context_id: str,
        device_key: str | None = None,
        *,
        author_proof: str | DeviceCredential | None = None,
    ) -> int:
        """The nonce to sign the next warrant for a context with: the node's
        ``nextNonce`` where it serves the warrant-nonce routes (``author_proof``,
        or this signed connection's own credential, asks as the account;
        ``device_key`` asks with node credentials), else a local counter,
        which never goes back (microseconds since the epoch, or one more than
        the last it gave). The routes are newer than merod 0.11.0-rc.83 (which
        answers 404): on rc.83 and older the local counter is used, unless
        the connection is pinned to a later ``node_version``. A nonce spent
        elsewhere is refused by the relay; sign again with a new one."""
        route, arg = _nonce_route(self._connection, device_key, author_proof)
        try:
            answer = getattr(self, route)(context_id, arg)
        except (NotFoundError, UnsupportedByNodeError):
            return _local_nonce()
        return _next_from(answer)


class AsyncClient(_BaseClient):
    """The node API for asyncio: every ``Client`` method as a coroutine, with
    the same parameters and results.

    Made by ``create_async_client(connection)`` (or
    ``AsyncClient(connection)``); it shares the connection's runtime, HTTP
    pool and tokens with every other client of that connection. Cancelling
    the task that awaits a call cancels the request (its connection is
    closed). Bad arguments raise ValueError or TypeError when the call is
    awaited, before anything is sent. Blob transfers stream through a worker
    thread and stop at their next chunk when cancelled; their progress
    callbacks run in that thread (an exception from one stops the transfer,
    as with ``Client``). ``async with create_async_client(conn) as
    client:`` closes the connection at the end.
    """

    __slots__ = ()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        self.close()

    async def aclose(self) -> None:
        """``close()``, awaitable."""
        self.close()

    async def subscribe(
        self,
        context_ids: str | Iterable[str] | None = None,
        group_ids: str | Iterable[str] | None = None,
        *,
        transport: str = "sse",
        max_reconnects: int = 10,
        buffer: int = 256,
    ) -> Subscription:
        """See ``Client.subscribe``: connects and subscribes without blocking
        the event loop; iterate the ``Subscription`` with ``async for``."""
        inner = await _asubscribe(
            self._connection,
            context_ids,
            group_ids,
            transport=transport,
            max_reconnects=max_reconnects,
            buffer=buffer,
        )
        return Subscription(inner)

    async def _transfer(self, index: int, args: tuple[Any, ...]) -> Any:
        """A blob transfer: the blocking call in a worker thread, stopped at
        its next chunk when the awaiting task is cancelled."""
        import asyncio  # not at import time: only asyncio users pay for it
        import threading

        loop = asyncio.get_running_loop()
        names = [a["name"] for a in ENDPOINTS[index]["args"]]
        values = list(args)
        cancelled = threading.Event()
        if "progress" in names:
            slot = names.index("progress")
            user = values[slot]
            if user is not None and not callable(user):
                raise TypeError(
                    f"progress: expected a callable taking (done, total), got {type(user).__name__}"
                )

            def progress(done: int, total: int | None) -> None:
                if cancelled.is_set():
                    raise asyncio.CancelledError
                if user is not None:
                    user(done, total)

            values[slot] = progress
        work = _WORKERS.run(loop, self._invoke, index, tuple(values))
        try:
            result = await work
        except asyncio.CancelledError:
            cancelled.set()
            raise
        if isinstance(result, BlobChunks):
            return AsyncBlobChunks(result)
        return result

    # ---- composed from the table's methods (no route of their own) ----

    async def resolve_context_alias(self, alias: str) -> dict[str, Any]:
        """See ``Client.resolve_context_alias``."""
        return _resolve(alias, await self.lookup_context_alias(alias))

    async def resolve_application_alias(self, alias: str) -> dict[str, Any]:
        """See ``Client.resolve_application_alias``."""
        return _resolve(alias, await self.lookup_application_alias(alias))

    async def create_alias_generic(self, alias: str, value: str, scope: str | None = None) -> Any:
        """See ``Client.create_alias_generic``."""
        name, target = _alias_method(scope)
        try:
            return await getattr(self, name)(alias, value)
        except (ValueError, TypeError) as e:
            raise _as_value_error(e, target) from None

    async def set_default_visibility(self, group_id: str, visibility: str) -> Any:
        """Deprecated name of ``set_subgroup_visibility``."""
        _deprecated_visibility()
        return await self.set_subgroup_visibility(group_id, visibility)

    async def next_warrant_nonce(
        self,
        context_id: str,
        device_key: str | None = None,
        *,
        author_proof: str | DeviceCredential | None = None,
    ) -> int:
        """See ``Client.next_warrant_nonce``."""
        route, arg = _nonce_route(self._connection, device_key, author_proof)
        try:
            answer = await getattr(self, route)(context_id, arg)
        except (NotFoundError, UnsupportedByNodeError):
            return _local_nonce()
        return _next_from(answer)


class _Workers:
    """The threads that run ``AsyncClient``'s blob transfers (blocking calls
    that stream through Python objects), each call's answer set on its
    event loop's future from there.

    Not the loop's default executor: a ``ThreadPoolExecutor`` call costs
    more than a third of an unchecked 4 MiB download's CPU on top of it
    (its locked futures, chained twice), and it hands consecutive calls to
    different threads, each with its own idle connections to the node. An
    idle thread here is reused newest first (its connections and runtime
    are warm); a new one starts only when all are busy, up to ``MOST`` (the
    default executor's number), and later calls wait, in order, for the
    next thread to finish; an idle thread ends after ``IDLE`` seconds. A
    call whose awaiting task was cancelled before it started never runs.

    As with the default executor, the interpreter's exit waits for the
    transfers running then (a cancelled one stops at its next chunk), and
    idle threads end at once (``threading._register_atexit``, which
    ``concurrent.futures`` uses too; where it is missing the threads are
    daemons)."""

    IDLE = 60.0
    MOST = min(32, (os.cpu_count() or 1) + 4)

    def __init__(self) -> None:
        import threading

        self._forget()
        if hasattr(os, "register_at_fork"):
            # A forked child has none of its parent's threads: their queues
            # would take its calls and never answer.
            os.register_at_fork(after_in_child=self._forget)
        at_exit = getattr(threading, "_register_atexit", None)
        self._daemon = at_exit is None
        if at_exit is not None:
            try:
                at_exit(self._close)
            except RuntimeError:  # made while the interpreter shuts down
                self._daemon = True

    def _forget(self) -> None:
        import collections
        import threading

        self._lock = threading.Lock()
        self._idle: list[Any] = []  # the idle threads' queues, newest last
        self._pending: Any = collections.deque()  # calls waiting for a thread
        self._threads = 0
        self._closing = False

    def _close(self) -> None:
        """At the interpreter's exit: idle threads end now, busy ones after
        their call; calls not started are dropped (no loop will take their
        answers)."""
        with self._lock:
            self._closing = True
            idle, self._idle = self._idle, []
            self._pending.clear()
        for inbox in idle:
            inbox.put(None)

    def run(self, loop: Any, fn: Callable[..., Any], *args: Any) -> Any:
        """A future of ``loop``, set to ``fn(*args)``'s value or exception."""
        future = loop.create_future()
        call = (loop, future, fn, args)
        with self._lock:
            if self._closing:
                raise RuntimeError("cannot start a blob transfer after interpreter shutdown")
            if self._idle:
                inbox = self._idle.pop()
            elif self._threads >= self.MOST:
                self._pending.append(call)
                return future
            else:
                inbox = None
                self._threads += 1
        if inbox is None:
            import queue
            import threading

            inbox = queue.SimpleQueue()
            try:
                threading.Thread(
                    target=self._serve, args=(inbox,), name="calimero-transfer", daemon=self._daemon
                ).start()
            except BaseException:
                with self._lock:
                    self._threads -= 1
                raise
        inbox.put(call)
        return future

    def _serve(self, inbox: Any) -> None:
        import queue

        call = None
        try:
            while True:
                if call is None:
                    try:
                        call = inbox.get(timeout=self.IDLE)
                    except queue.Empty:
                        with self._lock:
                            if inbox in self._idle:
                                self._idle.remove(inbox)
                                return
                        continue  # taken by a call just now: its work is on the way
                    if call is None:  # the interpreter's exit
                        return
                loop, future, fn, args = call
                call = None
                started = not future.cancelled()
                value = error = None
                if started:
                    try:
                        value = fn(*args)
                    except BaseException as e:  # handed to the awaiting task
                        error = e
                del fn, args
                with self._lock:
                    if self._pending:
                        call = self._pending.popleft()
                    elif not self._closing:
                        self._idle.append(inbox)
                    ending = self._closing and call is None
                if started:
                    try:
                        loop.call_soon_threadsafe(_settle, future, value, error)
                    except BaseException:  # the loop is closed: no task awaits it
                        pass
                del loop, future, value, error
                if ending:
                    return
        finally:
            with self._lock:
                self._threads -= 1


def _settle(future: Any, value: Any, error: BaseException | None) -> None:
    """Sets a worker's answer on its future, unless the task awaiting it
    was cancelled."""
    if future.cancelled():
        return
    if error is None:
        future.set_result(value)
    elif isinstance(error, StopIteration):  # a future cannot hold one
        future.set_exception(RuntimeError(f"the transfer raised {error!r}"))
    else:
        future.set_exception(error)


_WORKERS = _Workers()


class AsyncBlobChunks:
    """``AsyncClient.iter_blob``'s answer: the blob's bytes as an async
    iterator of chunks (``async for chunk in chunks``), read in a worker
    thread; ``size``, ``blob_id``, ``hash`` and ``mime_type`` as on
    ``BlobChunks``. ``aclose()`` (or ``async with``) stops the download."""

    __slots__ = ("_chunks",)

    def __init__(self, chunks: BlobChunks) -> None:
        if not isinstance(chunks, BlobChunks):
            raise TypeError("chunks: expected a BlobChunks (AsyncClient.iter_blob makes these)")
        self._chunks = chunks

    def __aiter__(self) -> AsyncBlobChunks:
        return self

    async def __anext__(self) -> bytes:
        import asyncio

        chunk = await _WORKERS.run(asyncio.get_running_loop(), next, self._chunks, None)
        if chunk is None:
            raise StopAsyncIteration
        return chunk

    async def aclose(self) -> None:
        """Stops the download; iteration ends."""
        self._chunks.close()

    async def __aenter__(self) -> AsyncBlobChunks:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        self._chunks.close()

    @property
    def size(self) -> int | None:
        return self._chunks.size

    @property
    def blob_id(self) -> str | None:
        return self._chunks.blob_id

    @property
    def hash(self) -> str | None:
        return self._chunks.hash

    @property
    def mime_type(self) -> str | None:
        return self._chunks.mime_type

    def __repr__(self) -> str:
        return f"Async{self._chunks!r}"


_NONCE_LOCK = __import__("threading").Lock()
_last_nonce = 0


def _local_nonce(floor: int = 0) -> int:
    """A warrant nonce that never goes back, without a node's ledger:
    microseconds since the epoch, or one more than the last one given (a
    relay accepts any unseen nonce above its floor, so skipping is free)."""
    global _last_nonce
    import time

    with _NONCE_LOCK:
        _last_nonce = max(_last_nonce + 1, time.time_ns() // 1000, floor)
        return _last_nonce


def _nonce_route(connection: ConnectionInfo, device_key: Any, author_proof: Any) -> tuple[str, Any]:
    """Which warrant-nonce route ``next_warrant_nonce`` asks, and with what."""
    if device_key is not None and author_proof is not None:
        raise ValueError("device_key: give device_key or author_proof, not both")
    if isinstance(author_proof, DeviceCredential):
        author_proof = author_proof.hex
    if device_key is not None:
        return "get_warrant_nonce", device_key
    if author_proof is None:
        credential = connection.device_credential
        if credential is None:
            raise ValueError(
                "author_proof: give device_key or author_proof, or use a connection "
                "made with device_credential"
            )
        author_proof = credential.hex
    return "get_own_warrant_nonce", author_proof


def _next_from(answer: Any) -> int:
    data = answer.get("data") if isinstance(answer, dict) else None
    nonce = data.get("nextNonce") if isinstance(data, dict) else None
    if isinstance(data, dict) and "nextNonce" in data and nonce is None:
        raise ValueError("the device has spent every warrant nonce here: it must re-key")
    if not isinstance(nonce, int) or isinstance(nonce, bool):
        from .errors import MalformedResponseError

        shown = repr(answer)[:200]
        raise MalformedResponseError(f"expected {{'data': {{'nextNonce': int}}}}, got {shown}")
    _local_nonce(nonce)
    return nonce


def _alias_method(scope: str | None) -> tuple[str, str]:
    """``create_alias_generic``'s method for ``scope``, and the name its
    route gives the value."""
    if scope is None or scope == "context":
        return "create_context_alias", "context_id"
    if scope == "application":
        return "create_application_alias", "application_id"
    raise InvalidArgumentError(
        f"scope: expected None, 'context' or 'application', got {_shown(scope)}"
    )


def _as_value_error(error: Exception, target: str) -> Exception:
    """A refusal of ``create_alias_generic``'s ``value``, which the route
    calls ``target``: the message names ``value``."""
    message = str(error)
    if message.startswith(f"{target}: "):
        return type(error)("value: " + message[len(target) + 2 :])
    return error


def _deprecated_visibility() -> None:
    warnings.warn(
        "set_default_visibility is deprecated; use set_subgroup_visibility",
        DeprecationWarning,
        stacklevel=3,
    )


def _resolve(alias: str, lookup: Any) -> dict[str, Any]:
    data = lookup.get("data") if isinstance(lookup, dict) else None
    if isinstance(data, dict) and data.get("value") is not None:
        return {"alias": alias, "value": {"kind": "Lookup", "data": lookup}}
    if _is_base58_id(alias):
        return {"alias": alias, "value": {"kind": "Parsed", "data": alias}}
    return {"alias": alias, "value": None}


_BASE58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
#: A 32-byte id as rc.27 and later write it (either case taken, as the
#: table's id arguments take it).
_HEX_ID = re.compile(r"[0-9a-fA-F]{64}")


def _is_base58_id(text: str) -> bool:
    """Whether ``text`` is base58 of exactly 32 bytes."""
    # 32 bytes are at most 44 characters; the length check first keeps a
    # huge string from becoming a huge integer.
    if not text or len(text) > 64 or any(c not in _BASE58 for c in text):
        return False
    number = 0
    for c in text:
        number = number * 58 + _BASE58.index(c)
    zeros = len(text) - len(text.lstrip("1"))
    return zeros + (number.bit_length() + 7) // 8 == 32


def _shown(value: Any) -> str:
    """``value`` for an error message: its repr, cut at 60 characters."""
    try:
        text = repr(value)
    except ValueError:  # an int too long to print
        text = f"<{type(value).__name__}>"
    return text if len(text) <= 60 else text[:60] + "…"


_ALIAS = re.compile(r"[A-Za-z0-9._-]{1,50}")


def _no_identity_aliases(method: str, **args: Any) -> NoReturn:
    """Checks the arguments as the methods would (ValueError/TypeError naming
    them), then raises UnsupportedByNodeError: no I/O either way."""
    for name, value in args.items():
        if not isinstance(value, str):
            raise TypeError(f"{name}: expected str, got {type(value).__name__}")
        if name == "alias" and not _ALIAS.fullmatch(value):
            raise InvalidArgumentError(f"{name}: expected 1 to 50 characters of A-Z a-z 0-9 . _ -")
        if name != "alias" and not (_is_base58_id(value) or _HEX_ID.fullmatch(value)):
            raise InvalidArgumentError(
                f"{name}: expected a base58 string of 32 bytes or 64 hexadecimal characters"
            )
    raise UnsupportedByNodeError(
        f"{method}: merod has no identity-alias routes (/admin-api/alias/*/identity/...) "
        "in any release from 0.11.0-rc.25 to 0.11.0-rc.83; context, application and "
        "(from rc.32) device aliases exist",
        message="identity aliases are not served by this node version",
    )


# ---- identity aliases: no such routes in any merod release ----

_IDENTITY_ALIAS_METHODS = {
    "create_context_identity_alias": "alias, context_id, public_key",
    "delete_context_identity_alias": "alias, context_id",
    "list_context_identity_aliases": "context_id",
    "lookup_context_identity_alias": "alias, context_id",
    "resolve_context_identity_alias": "alias, context_id",
}


def _identity_alias_method(name: str, params: str, owner: str) -> Callable[..., Any]:
    header = "def" if owner == "Client" else "async def"
    passed = ", ".join(f"{p}={p}" for p in params.split(", "))
    source = f"{header} {name}(self, {params}):\n    _no_identity_aliases({name!r}, {passed})\n"
    namespace: dict[str, Any] = {"_no_identity_aliases": _no_identity_aliases}
    exec(compile(source, f"<calimero {name}>", "exec"), namespace)
    method = namespace[name]
    method.__doc__ = "Not served by any merod release: raises UnsupportedByNodeError."
    method.__qualname__ = f"{owner}.{name}"
    method.__module__ = "calimero"
    return method


#: Table indices of each method name, newest entry first.
_FORMS: dict[str, list[int]] = {}
for _index, _endpoint in enumerate(ENDPOINTS):
    _FORMS.setdefault(_endpoint["name"], []).append(_index)

for _cls in (Client, AsyncClient):
    _cls.__module__ = "calimero"
    for _name, _indices in _FORMS.items():
        if len(_indices) == 1:
            _method = _make_method(_indices[0], ENDPOINTS[_indices[0]], _cls.__name__)
        else:
            _method = _make_forms(_indices, _cls.__name__)
        setattr(_cls, _name, _method)
    for _name, _params_text in _IDENTITY_ALIAS_METHODS.items():
        setattr(_cls, _name, _identity_alias_method(_name, _params_text, _cls.__name__))
AsyncBlobChunks.__module__ = "calimero"
del _cls, _index, _endpoint, _name, _params_text, _indices, _method


def create_connection(
    api_url: str,
    node_name: str | None = None,
    device_credential: str | DeviceCredential | None = None,
    device_secret: str | None = None,
    device_session: str | None = None,
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
    node_version: str | None = None,
    tee: TeePolicy | None = None,
    sealed: bool = False,
    transport_public_key: str | bytes | None = None,
    tee_collateral: Mapping[str, Any] | str | bytes | None = None,
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

    Node releases: the connection speaks the release of its node, from
    merod 0.11.0-rc.25 to 0.11.0-rc.83 (ids in base58 or hex, the routes and
    bodies of that release). It finds the release by itself, from the
    answers it gets or, when a call depends on it, with one probe (at most
    two requests, once per connection; ``docs/node-releases.md``);
    ``node_version="0.11.0-rc.83"`` pins it and sends no probe.
    ``connection.node_version`` and ``connection.node_release`` show what
    it speaks and why.
    Delegated access (acting for an account through a relay, as in the
    official 0.9.0): ``device_credential`` (the device's credential, hex or a
    ``DeviceCredential``) with ``device_secret`` (its Ed25519 secret, 64 hex)
    signs every request with a fresh ``X-Calimero-Proof`` (method, path, the
    exact body bytes, valid 300 s; a retry or a redirect is signed again) and
    sends no token. ``device_session`` (a login statement from
    ``sign_login_statement``) makes ``device_secret`` the session key it
    names. Half a pair, or a session that does not decode or match, raises
    ValueError. A node not serving delegated access answers
    ``PermissionDeniedError`` (403, ``auth_error="invalid_proof"``); a
    refused proof ``AuthenticationError`` (401).

    TEE nodes: ``sealed=True`` encrypts every request (token refreshes,
    blob transfers and event streams included) to the node's X25519
    transport key, so only the attested TD reads it, whatever proxy or TLS
    terminator sits in front. The key is attested, under ``tee`` (a
    ``TeePolicy`` its quote must meet, verified against the Intel collateral
    the node returns, or ``tee_collateral`` when given), or is
    ``transport_public_key`` (hex or 32 bytes), verified some other way.
    Nothing is sent until the first call, which attests and opens the
    session. ``tee`` or ``transport_public_key`` without ``sealed=True``,
    or ``sealed=True`` without either, raise ValueError; a WebSocket
    subscription cannot be sealed and raises ValueError (use SSE).
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
        node_version=node_version,
        device_credential=device_credential,
        device_secret=device_secret,
        device_session=device_session,
        tee=tee,
        sealed=sealed,
        transport_public_key=transport_public_key,
        tee_collateral=tee_collateral,
    )


def create_client(connection: ConnectionInfo) -> Client:
    """A client for the node behind ``connection``."""
    return Client(connection)


def create_async_client(connection: ConnectionInfo) -> AsyncClient:
    """An asyncio client for the node behind ``connection``."""
    return AsyncClient(connection)
