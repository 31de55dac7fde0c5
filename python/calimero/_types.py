"""Small value types: AuthMode and JwtToken."""

from __future__ import annotations

import base64
import enum
import json
import time


class AuthMode(str, enum.Enum):
    """Whether a node requires authentication: ``"none"`` or ``"required"``.

    Returned by :meth:`ConnectionInfo.detect_auth_mode`; also constructed
    directly, ``AuthMode("required")``. Compares equal to its string value.
    Any other value raises ValueError.
    """

    NONE = "none"
    REQUIRED = "required"

    def __str__(self) -> str:
        return self.value

    def __repr__(self) -> str:
        return f"AuthMode({self.value!r})"

    def __format__(self, spec: str) -> str:
        return format(self.value, spec)


def _jwt_exp(token: str) -> int | None:
    """The ``exp`` claim of a JWT, read without verifying it."""
    try:
        payload = token.split(".")[1]
        payload += "=" * (-len(payload) % 4)
        exp = json.loads(base64.urlsafe_b64decode(payload)).get("exp")
    except (IndexError, ValueError, TypeError, AttributeError):
        return None
    return exp if isinstance(exp, int) and not isinstance(exp, bool) else None


class JwtToken:
    """A JWT access/refresh token pair for a node.

    ``expires_at`` (Unix seconds) defaults to the access token's ``exp``
    claim. The repr never shows a token.
    """

    __slots__ = ("_access_token", "_expires_at", "_refresh_token")

    def __init__(
        self,
        access_token: str,
        refresh_token: str | None = None,
        expires_at: int | None = None,
    ) -> None:
        if not isinstance(access_token, str):
            raise TypeError("access_token: expected str")
        if not access_token:
            raise ValueError("access_token: expected a non-empty string")
        if refresh_token is not None and not isinstance(refresh_token, str):
            raise TypeError("refresh_token: expected str or None")
        if expires_at is not None and (
            isinstance(expires_at, bool) or not isinstance(expires_at, int)
        ):
            raise TypeError("expires_at: expected int (Unix seconds) or None")
        self._access_token = access_token
        self._refresh_token = refresh_token or None
        self._expires_at = expires_at if expires_at is not None else _jwt_exp(access_token)

    @property
    def access_token(self) -> str:
        return self._access_token

    @property
    def refresh_token(self) -> str | None:
        return self._refresh_token

    @property
    def expires_at(self) -> int | None:
        return self._expires_at

    def is_expired(self) -> bool:
        """True once ``expires_at`` has passed (False when it is unknown)."""
        return self._expires_at is not None and time.time() >= self._expires_at

    def __repr__(self) -> str:
        refresh = "<set>" if self._refresh_token else None
        return (
            f"JwtToken(access_token=<hidden>, refresh_token={refresh}, "
            f"expires_at={self._expires_at})"
        )

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, JwtToken):
            return NotImplemented
        import hmac  # here, not at import: it loads OpenSSL's _hashlib (2-3 ms)

        same_access = hmac.compare_digest(self._access_token.encode(), other._access_token.encode())
        return same_access and (self._refresh_token == other._refresh_token)

    def __hash__(self) -> int:
        return hash(self._access_token)


class Capability(enum.IntFlag):
    """Bits of a group member's capabilities (``set_member_capabilities``,
    ``set_default_capabilities``), as the node defines them
    (core: crates/context/config/src/lib.rs)."""

    CAN_CREATE_CONTEXT = 1
    CAN_INVITE_MEMBERS = 2
    CAN_JOIN_OPEN_SUBGROUPS = 4
    MANAGE_MEMBERS = 8
    MANAGE_APPLICATION = 16
    CAN_CREATE_SUBGROUP = 32
    CAN_DELETE_SUBGROUP = 64
    CAN_MANAGE_VISIBILITY = 128
    CAN_MANAGE_METADATA = 256
    #: A relay may run intents for members (delegated access; granted
    #: explicitly, never implied by admin; node releases from rc.28).
    CAN_AUTHOR_ON_BEHALF = 512
