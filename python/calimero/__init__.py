"""Python SDK for Calimero nodes (``merod``).

    import calimero

    conn = calimero.create_connection("http://127.0.0.1:2528", node_name="node1")
    client = calimero.create_client(conn)
    print(client.list_contexts())

The engine is a Rust library (``calimero.calimero_client_py``); this package
re-exports its types and adds the Python-side pieces.
"""

from . import errors
from ._client import (
    ENDPOINTS,
    AsyncBlobChunks,
    AsyncClient,
    Client,
    create_async_client,
    create_client,
    create_connection,
)
from ._events import Subscription
from ._types import AuthMode, Capability, JwtToken
from .calimero_client_py import (
    VERSION,
    BlobChunks,
    ConnectionInfo,
    DeviceCredential,
    TeePolicy,
    get_token_cache_dir,
    get_token_cache_path,
    public_key_of,
    sign_login_statement,
    sign_request,
    sign_warrant,
)
from .errors import (
    AttestationError,
    AuthenticationError,
    AuthRevokedError,
    BadRequestError,
    ClientError,
    ConflictError,
    HttpError,
    InvalidArgumentError,
    MalformedResponseError,
    NetworkError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    RequestTimeoutError,
    RpcError,
    SealedTransportError,
    ServerError,
    UnsupportedByNodeError,
)

__version__ = VERSION

__all__ = [
    "ENDPOINTS",
    "VERSION",
    "AsyncBlobChunks",
    "AsyncClient",
    "AuthMode",
    "BlobChunks",
    "Capability",
    "Client",
    "ConnectionInfo",
    "DeviceCredential",
    "JwtToken",
    "Subscription",
    "TeePolicy",
    "__version__",
    "create_async_client",
    "create_client",
    "create_connection",
    "errors",
    "get_token_cache_dir",
    "get_token_cache_path",
    "public_key_of",
    "sign_login_statement",
    "sign_request",
    "sign_warrant",
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
