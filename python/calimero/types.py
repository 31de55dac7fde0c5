"""Typed shapes of the node's main answers, for type checkers.

At run time every answer is a plain ``dict`` (the node's JSON as it sent
it: camelCase keys, ``data`` envelopes where the node sends them, unknown
fields kept); these ``TypedDict`` classes only describe it, as merod
0.11.0-rc.25 sends it (``shared/contract`` recordings and core's
``crates/server/primitives/src/admin.rs``). A newer node may add fields;
keys marked optional may be absent.

    from calimero.types import ContextList

    contexts: ContextList = client.list_contexts()
    for ctx in contexts["data"]["contexts"]:
        print(ctx["id"], ctx["applicationId"])
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypedDict

if TYPE_CHECKING:
    # Only type checkers read the annotations (they are strings at run time),
    # so typing_extensions is not a run-time dependency on Python < 3.11.
    from typing_extensions import NotRequired

__all__ = [
    "Application",
    "ApplicationBlob",
    "ApplicationList",
    "ApplicationListData",
    "ApplicationResponse",
    "ApplicationResponseData",
    "BlobInfo",
    "BlobInfoResponse",
    "BlobList",
    "BlobListData",
    "BlobSummary",
    "Context",
    "ContextIdentities",
    "ContextIdentitiesData",
    "ContextList",
    "ContextListData",
    "ContextResponse",
    "CreateContextData",
    "CreateContextResponse",
    "CreateGroupData",
    "CreateGroupResponse",
    "CreateNamespaceData",
    "CreateNamespaceResponse",
    "DeleteBlobResponse",
    "GeneratedIdentity",
    "GeneratedIdentityResponse",
    "GroupInfo",
    "GroupInfoResponse",
    "GroupMember",
    "GroupMembers",
    "InstallApplicationData",
    "InstallApplicationResponse",
    "Namespace",
    "NamespaceList",
    "NamespaceResponse",
    "NodeIdentity",
    "NodeIdentityResponse",
    "NodeRelease",
    "PeersCount",
    "RpcEnvelope",
    "RpcError",
    "RpcResult",
    "Status",
    "StatusResponse",
    "SyncStatus",
    "UploadBlobData",
    "UploadBlobResponse",
]


class NodeRelease(TypedDict):
    """``ConnectionInfo.node_release``: the node release a connection
    speaks, and how it knows (not a node answer)."""

    version: str | None
    """The release spoken (``"0.11.0-rc.83"``); None while nothing is known."""
    min: str | None
    """The oldest release the node may run; None when unbounded."""
    max: str | None
    """The newest release the node may run; None when unbounded."""
    pinned: bool
    probed: bool
    probe_requests: int
    evidence: list[str]


class Status(TypedDict):
    status: str


class StatusResponse(TypedDict):
    """``health()``, ``ready()``, ``is_authed()``: ``{"data": {"status": ...}}``."""

    data: Status


class PeersCount(TypedDict):
    """``get_peers_count()``: ``{"count": N}`` (no ``data`` envelope)."""

    count: int


class NodeIdentity(TypedDict):
    accountId: str
    deviceId: str | None
    publicKey: str
    accountRootPublicKey: str
    deviceAgreementKey: NotRequired[str | None]  # 0.11.0-rc.29 and later
    holdsAccountRoot: NotRequired[bool]  # rc.32 and later
    accountNamespaceId: NotRequired[str]
    revokedFrom: NotRequired[dict[str, str]]  # rc.41 and later, when revoked
    deviceCertified: NotRequired[bool]  # by rc.41


class NodeIdentityResponse(TypedDict):
    """``get_node_identity()``."""

    data: NodeIdentity


class GeneratedIdentity(TypedDict):
    publicKey: str


class GeneratedIdentityResponse(TypedDict):
    """``generate_context_identity()``."""

    data: GeneratedIdentity


# ---- applications ----


class ApplicationBlob(TypedDict):
    bytecode: str
    compiled: str


class Application(TypedDict):
    id: str
    blob: ApplicationBlob
    size: int
    source: str
    metadata: list[int]
    package: NotRequired[str]
    version: NotRequired[str]


class ApplicationListData(TypedDict):
    apps: list[Application]


class ApplicationList(TypedDict):
    """``list_applications()``."""

    data: ApplicationListData


class ApplicationResponseData(TypedDict):
    application: Application | None


class ApplicationResponse(TypedDict):
    """``get_application()``."""

    data: ApplicationResponseData


class InstallApplicationData(TypedDict):
    applicationId: str


class InstallApplicationResponse(TypedDict):
    """``install_application()``, ``install_dev_application()``."""

    data: InstallApplicationData


# ---- contexts ----


class Context(TypedDict):
    id: str
    applicationId: str
    contextStateHash: str
    dagHeads: list[list[int]]
    applicationVersion: NotRequired[str]
    groupId: NotRequired[str]


class ContextListData(TypedDict):
    contexts: list[Context]


class ContextList(TypedDict):
    """``list_contexts()``, ``get_contexts_for_application()``."""

    data: ContextListData


class ContextResponse(TypedDict):
    """``get_context()``."""

    data: Context


class CreateContextData(TypedDict):
    contextId: str
    memberPublicKey: str
    groupId: str
    groupCreated: bool


class CreateContextResponse(TypedDict):
    """``create_context()``."""

    data: CreateContextData


class ContextIdentitiesData(TypedDict):
    identities: list[str]


class ContextIdentities(TypedDict):
    """``get_context_identities()``, ``get_context_identities_owned()``."""

    data: ContextIdentitiesData


# ---- blobs ----


class UploadBlobData(TypedDict):
    blob_id: str
    size: int


class UploadBlobResponse(TypedDict):
    """``upload_blob()``: the node's answer, with ``blob_id`` and ``size``
    also at the top, where the official client 0.6.31 returned them."""

    data: UploadBlobData
    blob_id: str
    size: int


class BlobSummary(TypedDict):
    blob_id: str
    size: int


class BlobListData(TypedDict):
    blobs: list[BlobSummary]


class BlobList(TypedDict):
    """``list_blobs()``."""

    data: BlobListData


class BlobInfo(TypedDict):
    blob_id: str | None
    size: int | None
    hash: str | None
    mime_type: str | None


class BlobInfoResponse(TypedDict):
    """``get_blob_info()`` (read from the HEAD answer's headers)."""

    data: BlobInfo


class DeleteBlobResponse(TypedDict):
    """``delete_blob()`` (no ``data`` envelope)."""

    blob_id: str
    deleted: bool


# ---- namespaces and groups ----


class Namespace(TypedDict):
    namespaceId: str
    appKey: str
    targetApplicationId: str
    createdAt: int
    name: NotRequired[str | None]
    memberCount: int
    contextCount: int
    subgroupCount: int


class NamespaceList(TypedDict):
    """``list_namespaces()``, ``list_namespaces_for_application()``."""

    data: list[Namespace]


class NamespaceResponse(TypedDict):
    """``get_namespace()``."""

    data: Namespace


class CreateNamespaceData(TypedDict):
    namespaceId: str


class CreateNamespaceResponse(TypedDict):
    """``create_namespace()``."""

    data: CreateNamespaceData


class CreateGroupData(TypedDict):
    groupId: str


class CreateGroupResponse(TypedDict):
    """``create_group()``, ``create_group_in_namespace()``."""

    data: CreateGroupData


class GroupInfo(TypedDict):
    groupId: str
    appKey: str
    targetApplicationId: str
    memberCount: int
    contextCount: int
    defaultCapabilities: int
    subgroupVisibility: str
    metadata: NotRequired[Any]
    groupStateHash: NotRequired[str]


class GroupInfoResponse(TypedDict):
    """``get_group_info()``."""

    data: GroupInfo


class GroupMember(TypedDict):
    identity: str
    role: str


class GroupMembers(TypedDict):
    """``list_group_members()`` (no ``data`` envelope)."""

    members: list[GroupMember]


# ---- JSON-RPC ----


class RpcResult(TypedDict):
    output: Any


class RpcError(TypedDict):
    type: str
    data: NotRequired[Any]


class RpcEnvelope(TypedDict):
    """``execute_function()``: the JSON-RPC answer as the node sent it, with
    ``result`` when the call succeeded or ``error`` when it failed (returned,
    not raised, as the official client did; ``call()`` raises it)."""

    jsonrpc: str
    id: Any
    result: NotRequired[RpcResult]
    error: NotRequired[RpcError]


class SyncStatus(TypedDict):
    """``sync_status()``: the ``result`` member."""

    contextId: str
    isInitialized: bool
    syncState: Any
    failureCount: int
    lastError: NotRequired[str]
