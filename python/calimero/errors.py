"""Exceptions raised by the client.

Everything the node or the network does to a call raises a subclass of
:class:`ClientError`; a bad argument raises :class:`ValueError` (or
:class:`TypeError` for a wrong type) before anything is sent; an internal
failure raises :class:`RuntimeError`.

:class:`ClientError` is itself a :class:`RuntimeError`: the official client
0.6.31 raised ``RuntimeError("Client error: ...")`` for every node and
network failure, and code written for it (merobox among others) catches
that. Catch ``ClientError`` before ``RuntimeError`` to tell the two apart.
For the same reason a bad id, URL or JSON text raises
:class:`InvalidArgumentError`, a ``ValueError`` that is also a
``RuntimeError`` (the official client noticed some of these only inside the
call, and raised ``RuntimeError``): the seed's order, ``except ClientError``,
``except ValueError``, ``except RuntimeError``, sorts it as a bad argument.

Every :class:`ClientError` carries what is known of the failed request:
``status`` (int or None), ``message`` (the node's own message, such as
``"Context not found"``; ``str(error)`` adds the method, URL and status),
``method``, ``url``, ``body`` (cut at 4 KiB), ``headers`` and, for
authentication failures, ``auth_error`` (the node's ``X-Auth-Error``).
None of them ever holds a token. Errors pickle with all their attributes.
"""

from __future__ import annotations

import builtins

# typing is not imported at run time (about 10 ms of `import calimero`):
# annotations are strings here, read only by type checkers.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

__all__ = [
    "AttestationError",
    "AuthRevokedError",
    "AuthenticationError",
    "BadRequestError",
    "ClientError",
    "ConflictError",
    "HttpError",
    "InvalidArgumentError",
    "MalformedResponseError",
    "NetworkError",
    "NotFoundError",
    "PermissionDeniedError",
    "RateLimitError",
    "RequestTimeoutError",
    "RpcError",
    "SealedTransportError",
    "ServerError",
    "UnsupportedByNodeError",
]

_FIELDS = (
    "status",
    "method",
    "url",
    "body",
    "headers",
    "auth_error",
    "retry_after",
    "error_type",
    "rpc_method",
    "app_method",
    "data",
    "guest_error",
)


def _rebuild(cls: type[ClientError], text: str, fields: dict[str, Any]) -> ClientError:
    return cls(text, **fields)


class ClientError(builtins.RuntimeError):
    """A call failed at the node or on the way to it.

    A ``RuntimeError``, as the official client's failures were, so
    ``except RuntimeError`` written for it still catches every one of them.
    """

    status: int | None
    message: str
    method: str | None
    url: str | None
    body: str | None
    headers: dict[str, str]
    auth_error: str | None
    retry_after: float | None

    def __init__(
        self,
        text: str,
        *,
        message: str | None = None,
        status: int | None = None,
        method: str | None = None,
        url: str | None = None,
        body: str | None = None,
        headers: dict[str, str] | None = None,
        auth_error: str | None = None,
        retry_after: float | None = None,
        error_type: str | None = None,
        rpc_method: str | None = None,
        app_method: str | None = None,
        data: Any = None,
        guest_error: Any = None,
    ) -> None:
        super().__init__(text)
        self._text = text
        self.message = text if message is None else message
        self.status = status
        self.method = method
        self.url = url
        self.body = body
        self.headers = dict(headers) if headers else {}
        self.auth_error = auth_error
        self.retry_after = retry_after
        self.error_type = error_type
        self.rpc_method = rpc_method
        self.app_method = app_method
        self.data = data
        self.guest_error = guest_error

    def __str__(self) -> str:
        return self._text

    def __repr__(self) -> str:
        parts = [repr(self._text)]
        if self.status is not None:
            parts.append(f"status={self.status}")
        return f"{type(self).__name__}({', '.join(parts)})"

    def __reduce__(self) -> tuple[Any, ...]:
        fields = {name: getattr(self, name) for name in _FIELDS}
        fields["message"] = self.message
        return (_rebuild, (type(self), self._text, fields))


class InvalidArgumentError(builtins.ValueError, builtins.RuntimeError):
    """An argument was refused before anything was sent (a malformed id, URL,
    JSON text, or a value over the node's limit); the message starts with
    the argument's name.

    A ``ValueError``, and also a ``RuntimeError``: the official client
    raised ``RuntimeError`` for the arguments it parsed only inside the call
    (a hex group id, an install hash, JSON text in ``args``), and code
    written for it catches that.
    """


class NetworkError(ClientError, builtins.ConnectionError):
    """The node could not be reached, or the connection broke."""


class RequestTimeoutError(ClientError, builtins.TimeoutError):
    """The connect or request timeout ran out."""


class MalformedResponseError(ClientError):
    """The node's answer could not be decoded."""


class HttpError(ClientError):
    """The node answered with a failure status (``status``)."""


class BadRequestError(HttpError):
    """400, 413, 415 or 422: the node refused the request as malformed."""


class AuthenticationError(HttpError):
    """401: no token, a bad token, or an expired one (``auth_error``)."""


class AuthRevokedError(AuthenticationError):
    """The token was revoked, or a refresh token was reused: log in again."""


class PermissionDeniedError(HttpError):
    """403: the caller may not do this."""


class NotFoundError(HttpError):
    """404: no such resource (or no such route on this node)."""


class ConflictError(HttpError):
    """409: the resource already exists."""


class RateLimitError(HttpError):
    """429: too many requests; ``retry_after`` says how long to wait."""


class ServerError(HttpError):
    """5xx: the node failed."""


class RpcError(ClientError):
    """A JSON-RPC call failed: the node answered with an ``error`` member.

    ``error_type`` (also ``type``) is the node's error type, such as
    ``FunctionCallError`` or ``ContextNotFound``; ``data`` its detail;
    ``guest_error`` the application's own error when the node sends it as
    bytes (decoded, and parsed when it is JSON); ``app_method`` the
    application method called.
    """

    @property
    def type(self) -> str | None:
        return self.error_type


class UnsupportedByNodeError(ClientError, builtins.NotImplementedError):
    """The node has no route for this call (raised before anything is sent).

    The official client's identity-alias methods call routes that merod
    0.11.0-rc.25 does not serve; here they raise this instead of a 404. It is
    also a ``NotImplementedError``.
    """


class AttestationError(ClientError):
    """A TEE node's attestation was refused, so nothing was sent to it.

    Its quote did not verify against Intel's collateral, or is a mock quote,
    or its measurements, TCB status or application are not ones the
    ``TeePolicy`` accepts, or it does not commit to this connection's nonce
    and the node's transport key; or the node no longer holds the transport
    key given with ``transport_public_key`` (it restarted). The message says
    which.
    """


class SealedTransportError(ClientError):
    """A sealed exchange with a TEE node failed in a way that makes its
    answer untrusted: a response frame that did not open (tampered with,
    reordered or forged on the way), an answer cut short before its end
    frame, a handshake reply not from the attested node, or a request too
    large to seal. Nothing unauthenticated is ever returned.
    """
