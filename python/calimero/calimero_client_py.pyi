# The native extension (crates/python). Checked against the built module by
# mypy.stubtest in scripts/test.sh.
from __future__ import annotations

import os
from collections.abc import Awaitable, Iterable, Mapping, Sequence
from types import TracebackType
from typing import Any, final

from ._types import AuthMode, JwtToken

__all__ = [
    "VERSION",
    "ConnectionInfo",
    "BlobChunks",
    "TeePolicy",
    "_Subscription",
    "_asubscribe",
    "_subscribe",
    "get_token_cache_path",
    "get_token_cache_dir",
    "endpoints",
]

VERSION: str

def get_token_cache_path(node_name: str) -> str: ...
def get_token_cache_dir() -> str: ...
def endpoints() -> list[dict[str, Any]]: ...

@final
class ConnectionInfo:
    def __new__(
        cls,
        api_url: str,
        node_name: str | None = None,
        *,
        timeout: float | None = None,
        connect_timeout: float | None = None,
        username: str | None = None,
        password: str | None = None,
        access_token: str | None = None,
        refresh_token: str | None = None,
        interactive: bool = True,
        max_retries: int | None = None,
        max_response_bytes: int | None = None,
        ca_cert: str | os.PathLike[str] | bytes | None = None,
        tee: TeePolicy | None = None,
        sealed: bool | None = None,
        transport_public_key: str | bytes | None = None,
        tee_collateral: Mapping[str, Any] | str | bytes | None = None,
    ) -> ConnectionInfo: ...
    @property
    def api_url(self) -> str: ...
    @property
    def node_name(self) -> str | None: ...
    @property
    def timeout(self) -> float: ...
    @property
    def connect_timeout(self) -> float: ...
    @property
    def max_retries(self) -> int: ...
    @property
    def max_response_bytes(self) -> int: ...
    @property
    def sealed(self) -> bool: ...
    @property
    def transport_public_key(self) -> str | None: ...
    @property
    def token(self) -> JwtToken | None: ...
    @property
    def closed(self) -> bool: ...
    def with_options(
        self, *, timeout: float | None = None, max_retries: int | None = None
    ) -> ConnectionInfo: ...
    def detect_auth_mode(self) -> AuthMode: ...
    def login(self, username: str | None = None, password: str | None = None) -> JwtToken: ...
    def logout(self) -> None: ...
    def get(self, path: str) -> Any: ...
    def request(self, method: str, path: str, json: Any = None) -> Any: ...
    def close(self) -> None: ...
    def __enter__(self) -> ConnectionInfo: ...
    def __exit__(
        self,
        _exc_type: type[BaseException] | None,
        _exc: BaseException | None,
        _tb: TracebackType | None,
    ) -> bool: ...
    def _invoke(self, index: int, args: tuple[Any, ...]) -> Any: ...
    def _invoke_async(self, index: int, args: tuple[Any, ...]) -> Awaitable[Any]: ...

@final
class TeePolicy:
    def __new__(
        cls,
        allowed_mrtd: Sequence[str],
        *,
        allowed_rtmr0: Sequence[str] | None = None,
        allowed_rtmr1: Sequence[str] | None = None,
        allowed_rtmr2: Sequence[str] | None = None,
        allowed_rtmr3: Sequence[str] | None = None,
        allowed_tcb_statuses: Sequence[str] | None = None,
        application_id: str | None = None,
        application_hash: str | None = None,
    ) -> TeePolicy: ...
    @staticmethod
    def from_releases(
        releases: Sequence[Mapping[str, Any] | str | bytes | os.PathLike[str]],
        profile: str,
        *,
        application_id: str | None = None,
        application_hash: str | None = None,
    ) -> TeePolicy: ...
    @property
    def allowed_mrtd(self) -> list[str]: ...
    @property
    def allowed_rtmr0(self) -> list[str] | None: ...
    @property
    def allowed_rtmr1(self) -> list[str]: ...
    @property
    def allowed_rtmr2(self) -> list[str]: ...
    @property
    def allowed_rtmr3(self) -> list[str]: ...
    @property
    def allowed_tcb_statuses(self) -> list[str]: ...
    @property
    def application_id(self) -> str | None: ...
    @property
    def application_hash(self) -> str | None: ...
    def verify_quote(
        self,
        quote: bytes,
        collateral: Mapping[str, Any] | str | bytes,
        *,
        report_data: bytes | None = None,
        now: int | None = None,
    ) -> dict[str, Any]: ...

@final
class BlobChunks:
    def __iter__(self) -> BlobChunks: ...
    def __next__(self) -> bytes: ...
    def close(self) -> None: ...
    def __enter__(self) -> BlobChunks: ...
    def __exit__(self, *_exc: object) -> bool: ...
    @property
    def size(self) -> int | None: ...
    @property
    def blob_id(self) -> str | None: ...
    @property
    def hash(self) -> str | None: ...
    @property
    def mime_type(self) -> str | None: ...

@final
class _Subscription:
    def __iter__(self) -> _Subscription: ...
    def __next__(self) -> dict[str, Any]: ...
    def _anext(self) -> Awaitable[dict[str, Any] | None]: ...
    def _change(
        self,
        add: bool,
        context_ids: str | Iterable[str] | None = None,
        group_ids: str | Iterable[str] | None = None,
    ) -> Any: ...
    def _achange(
        self,
        add: bool,
        context_ids: str | Iterable[str] | None = None,
        group_ids: str | Iterable[str] | None = None,
    ) -> Awaitable[Any]: ...
    def close(self) -> None: ...
    @property
    def closed(self) -> bool: ...
    @property
    def transport(self) -> str: ...
    @property
    def reconnects(self) -> int: ...
    @property
    def session_id(self) -> str | None: ...
    @property
    def context_ids(self) -> list[str]: ...
    @property
    def group_ids(self) -> list[str]: ...

def _subscribe(
    connection: ConnectionInfo,
    context_ids: str | Iterable[str] | None = None,
    group_ids: str | Iterable[str] | None = None,
    *,
    transport: str | None = None,
    max_reconnects: int | None = None,
    buffer: int | None = None,
) -> _Subscription: ...
def _asubscribe(
    connection: ConnectionInfo,
    context_ids: str | Iterable[str] | None = None,
    group_ids: str | Iterable[str] | None = None,
    *,
    transport: str | None = None,
    max_reconnects: int | None = None,
    buffer: int | None = None,
) -> Awaitable[_Subscription]: ...
