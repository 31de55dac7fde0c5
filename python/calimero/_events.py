"""Live events: ``Subscription``, a blocking and an async iterator of the
node's events for contexts and groups, over Server-Sent Events or a
WebSocket, reconnecting and re-subscribing by itself.

The streaming runs in the Rust core (``crates/core/src/events.rs``) on the
client's runtime; this module adds the Python protocols around it.
"""

from __future__ import annotations

from .calimero_client_py import _Subscription

# Neither typing nor asyncio is imported at run time (``import calimero``
# stays light): annotations are strings, read only by type checkers.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable
    from typing import Any

__all__ = ["Subscription"]


class Subscription:
    """A live subscription to contexts and groups.

    Made by ``client.subscribe(context_ids=..., group_ids=...,
    transport="sse")`` (or ``"ws"``). Iterate it, with ``for`` or ``async
    for``, to get the node's events as it sends them: dicts as the node
    sends them (``NodeEvent``), e.g. ``{"contextId": ..., "type":
    "StateMutation", "data": {"newRoot": ..., "events": [...]}}`` or
    ``{"groupId": ..., "type": "MemberAdded", "data": {"memberAccount": ...,
    "role": ...}}``.

    When the connection breaks it is made again (bounded exponential
    backoff) and everything subscribed is subscribed again. The node does
    not replay what was sent meanwhile, so a reconnect shows in the stream
    as ``{"type": "reconnected", "transport": "sse"|"ws", "attempt": n,
    "reconnects": total}`` (``reconnects`` also counts them). After
    ``max_reconnects`` failed attempts in a row, iteration raises the last
    failure (a ``ClientError`` subclass, e.g. ``NetworkError``) and ends.

    ``subscribe(...)`` / ``unsubscribe(...)`` change the ids while it runs;
    ``close()`` (or leaving a ``with`` / ``async with`` block) ends the
    iteration. A consumer that reads slowly slows only its own stream,
    never other calls on the same client.
    """

    __slots__ = ("__weakref__", "_inner")

    def __init__(self, inner: Any) -> None:
        if not isinstance(inner, _Subscription):
            raise TypeError("inner: expected a live subscription (use client.subscribe)")
        self._inner = inner

    # ---- blocking iteration ----

    def __iter__(self) -> Subscription:
        return self

    def __next__(self) -> dict[str, Any]:
        return next(self._inner)

    # ---- async iteration ----

    def __aiter__(self) -> Subscription:
        return self

    async def __anext__(self) -> dict[str, Any]:
        # The wait runs on the client's runtime, not in a thread, so the loop
        # stays free; it takes no event. The event is taken by ``_poll``,
        # synchronously, in the step that returns it: a read cancelled at
        # any moment (``wait_for``, ``task.cancel()``) loses no event.
        inner = self._inner
        while True:
            event = inner._poll()  # StopAsyncIteration once closed
            if event is not None:
                return event
            await inner._ready()

    # ---- changing what is subscribed ----

    def subscribe(
        self,
        context_ids: str | Iterable[str] | None = None,
        group_ids: str | Iterable[str] | None = None,
    ) -> Any:
        """Adds contexts (base58 ids) and groups (64-hex ids). Returns the
        node's answer, or None while reconnecting (they are subscribed as
        soon as the connection is back). ValueError for a bad id, before
        anything is sent."""
        return self._inner._change(True, context_ids, group_ids)

    def unsubscribe(
        self,
        context_ids: str | Iterable[str] | None = None,
        group_ids: str | Iterable[str] | None = None,
    ) -> Any:
        """Removes contexts and groups; their events stop."""
        return self._inner._change(False, context_ids, group_ids)

    async def asubscribe(
        self,
        context_ids: str | Iterable[str] | None = None,
        group_ids: str | Iterable[str] | None = None,
    ) -> Any:
        """``subscribe`` without blocking the event loop."""
        return await self._inner._achange(True, context_ids, group_ids)

    async def aunsubscribe(
        self,
        context_ids: str | Iterable[str] | None = None,
        group_ids: str | Iterable[str] | None = None,
    ) -> Any:
        """``unsubscribe`` without blocking the event loop."""
        return await self._inner._achange(False, context_ids, group_ids)

    # ---- state ----

    def close(self) -> None:
        """Closes the connection; iteration ends (StopIteration)."""
        self._inner.close()

    async def aclose(self) -> None:
        self.close()

    @property
    def closed(self) -> bool:
        return bool(self._inner.closed)

    @property
    def transport(self) -> str:
        """``"sse"`` or ``"ws"``."""
        return str(self._inner.transport)

    @property
    def reconnects(self) -> int:
        """How many times the connection was made again."""
        return int(self._inner.reconnects)

    @property
    def session_id(self) -> str | None:
        """The node's SSE session id (None over a WebSocket)."""
        return self._inner.session_id

    @property
    def context_ids(self) -> list[str]:
        """The contexts subscribed now."""
        return list(self._inner.context_ids)

    @property
    def group_ids(self) -> list[str]:
        """The groups subscribed now (lower-case hex)."""
        return list(self._inner.group_ids)

    def __enter__(self) -> Subscription:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    async def __aenter__(self) -> Subscription:
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self.closed else "open"
        return (
            f"Subscription(transport={self.transport!r}, context_ids={self.context_ids!r}, "
            f"group_ids={self.group_ids!r}, reconnects={self.reconnects}, {state})"
        )


Subscription.__module__ = "calimero"
