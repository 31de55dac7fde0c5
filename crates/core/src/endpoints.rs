//! The endpoint table: every node route the client calls, described once.
//!
//! Each [`Endpoint`] says which HTTP route it calls, which arguments it
//! takes (their kind, where they go on the wire, whether they are required
//! and what is sent when they are absent) and what it returns. The request
//! builder ([`crate::request::prepare`]), the Python `Client` and
//! `AsyncClient`, the CLI and the type stubs are all produced from this one
//! table, so adding an endpoint is one entry here.
//!
//! Routes and wire names follow the node at 0.11.0-rc.25
//! (`core: crates/server/src/admin/service.rs`); method and argument names
//! follow the official calimero-client-py 0.6.31 where it has the method.

/// HTTP verb of an endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verb {
    Get,
    Post,
    Put,
    Delete,
    Head,
}

impl Verb {
    pub fn as_str(self) -> &'static str {
        match self {
            Verb::Get => "GET",
            Verb::Post => "POST",
            Verb::Put => "PUT",
            Verb::Delete => "DELETE",
            Verb::Head => "HEAD",
        }
    }
}

/// What an argument is, which fixes how it is validated and encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// base58 string of 32 bytes (context, application, blob id, public key).
    Base58Id,
    /// 64 hexadecimal characters (group, namespace, account, device id, app key).
    HexId,
    /// Either of the two encodings above.
    Base58OrHexId,
    /// A 32-byte hash given as base58 or hex; sent as base58.
    Hash,
    /// A non-empty string without control characters (at most 256 bytes).
    Name,
    /// An http(s) URL.
    Url,
    /// A path on the node's own disk.
    NodePath,
    /// A non-negative integer.
    UInt,
    /// `True` or `False`.
    Bool,
    /// A JSON document: a string is parsed as JSON text, anything else is
    /// taken as the value itself.
    JsonText,
    /// Bytes, sent as a JSON array of integers: `bytes` as they are, a
    /// string as its UTF-8, anything else as its JSON text.
    Bytes,
    /// Accepted for compatibility and validated as a base58 id when
    /// non-empty, but not sent (the node has no such field).
    IgnoredBase58Id,
    /// Accepted for compatibility, any string, not sent.
    IgnoredText,
    /// An alias: 1 to 50 of `A-Z a-z 0-9 . _ -`
    /// (core: crates/primitives/src/alias.rs).
    Alias,
    /// Hexadecimal text of an even length between `min` and `max` characters.
    Hex { min: usize, max: usize },
    /// An integer from 0 to 2**32 - 1.
    UInt32,
    /// One of these exact strings.
    Choice(&'static [&'static str]),
    /// A group member role: `Admin`, `Member` or `ReadOnly` (also `admin`,
    /// `readonly`, `read_only`, `read-only`, any case); sent canonical.
    Role,
    /// Group members to add: a list (or its JSON text) of `{"identity",
    /// "role"}` objects or bare identities (64-hex account or base58 key);
    /// a missing role is `Member`.
    Members,
    /// A list (or its JSON text) of 64-hex account ids.
    HexIdList,
    /// A list of strings.
    StrList,
    /// A metadata record `{"name"?: str, "data"?: {str: str}}` (a dict or its
    /// JSON text), within the node's limits
    /// (core: crates/primitives/src/metadata.rs).
    Metadata,
    /// What a blob upload sends: bytes, a path (str or os.PathLike) or a
    /// binary file object. Handled by the binding, not by `prepare`.
    Upload,
    /// A path on this machine (str or os.PathLike). Handled by the binding.
    LocalPath,
    /// A callable taking `(done, total)`, or None. Handled by the binding.
    Progress,
}

/// Where an argument goes in the request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Loc {
    /// Fills `{name}` in the path.
    Path,
    /// A query parameter with this name.
    Query(&'static str),
    /// A member of the JSON body (or of JSON-RPC `params`) with this name.
    Body(&'static str),
    /// Not sent.
    Nowhere,
    /// The value (a JSON object) is the body: its members are merged into
    /// it.
    Spread,
    /// Used by the binding itself (the data of an upload, where a download
    /// goes, a progress callback); never part of the request.
    Local,
}

/// One argument of an endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Arg {
    /// The Python parameter name.
    pub name: &'static str,
    pub kind: Kind,
    pub loc: Loc,
    pub required: bool,
    /// Keyword-only in Python (arguments the official client lacks).
    pub keyword_only: bool,
    /// JSON text sent when the argument is absent (`None`), if any. When it
    /// is a scalar it is also the Python default.
    pub default: Option<&'static str>,
    /// The most bytes the node accepts, for `Name` (default 256) and `Bytes`
    /// arguments; more is refused before sending.
    pub max_len: Option<usize>,
}

/// The request body of an endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Body {
    /// No body.
    Empty,
    /// A JSON object of the `Loc::Body` arguments (`{}` when there are none;
    /// some routes refuse a request without a JSON body).
    Json,
    /// A JSON-RPC 2.0 request for this method, `params` made of the
    /// `Loc::Body` arguments.
    JsonRpc(&'static str),
    /// The raw bytes of a `Kind::Upload` argument, streamed.
    Stream,
}

/// What a call returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Output {
    /// The response body as the node sent it.
    Json,
    /// The whole JSON-RPC envelope `{"jsonrpc","id","result"}`; an `error`
    /// member raises instead.
    RpcEnvelope,
    /// The JSON-RPC `result`; an `error` member raises instead.
    RpcResult,
    /// `result.output` of a JSON-RPC `execute`; an `error` member raises.
    RpcOutput,
    /// The body as text (PEM, Prometheus metrics).
    Text,
    /// The body as bytes, streamed into one buffer.
    Bytes,
    /// The body streamed into the file of the `Kind::LocalPath` argument.
    File,
    /// The body as an iterator of chunks.
    Chunks,
    /// A blob's metadata read from the headers of a HEAD answer.
    BlobInfo,
}

impl Output {
    /// The keys to descend into the decoded body to reach what is returned.
    pub fn select(self) -> &'static [&'static str] {
        match self {
            Output::Json
            | Output::RpcEnvelope
            | Output::Text
            | Output::Bytes
            | Output::File
            | Output::Chunks
            | Output::BlobInfo => &[],
            Output::RpcResult => &["result"],
            Output::RpcOutput => &["result", "output"],
        }
    }
}

/// One endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Endpoint {
    /// The method name on `Client`.
    pub name: &'static str,
    /// The area it belongs to (CLI group, docs section).
    pub area: &'static str,
    pub verb: Verb,
    /// Path template; `{name}` is filled from the `Loc::Path` argument.
    pub path: &'static str,
    pub args: &'static [Arg],
    pub body: Body,
    pub output: Output,
    /// One-paragraph description, the Python docstring.
    pub doc: &'static str,
}

// ---- constructors, so that the table below reads as a table ----

const fn ep(verb: Verb, area: &'static str, name: &'static str, path: &'static str) -> Endpoint {
    Endpoint {
        name,
        area,
        verb,
        path,
        args: &[],
        body: Body::Empty,
        output: Output::Json,
        doc: "",
    }
}
const fn get(area: &'static str, name: &'static str, path: &'static str) -> Endpoint {
    ep(Verb::Get, area, name, path)
}
const fn post(area: &'static str, name: &'static str, path: &'static str) -> Endpoint {
    ep(Verb::Post, area, name, path)
}
const fn delete(area: &'static str, name: &'static str, path: &'static str) -> Endpoint {
    ep(Verb::Delete, area, name, path)
}
const fn put(area: &'static str, name: &'static str, path: &'static str) -> Endpoint {
    ep(Verb::Put, area, name, path)
}
const fn head(area: &'static str, name: &'static str, path: &'static str) -> Endpoint {
    ep(Verb::Head, area, name, path)
}
const fn rpc(name: &'static str, method: &'static str, output: Output) -> Endpoint {
    let mut e = ep(Verb::Post, "rpc", name, "/jsonrpc");
    e.body = Body::JsonRpc(method);
    e.output = output;
    e
}

impl Endpoint {
    const fn args(mut self, args: &'static [Arg]) -> Self {
        self.args = args;
        self
    }
    /// Sends a JSON object body (possibly `{}`).
    const fn json(mut self) -> Self {
        self.body = Body::Json;
        self
    }
    /// Streams the `Kind::Upload` argument as the body.
    const fn stream(mut self) -> Self {
        self.body = Body::Stream;
        self
    }
    const fn output(mut self, output: Output) -> Self {
        self.output = output;
        self
    }
    const fn doc(mut self, doc: &'static str) -> Self {
        self.doc = doc;
        self
    }
}

/// A required argument.
const fn req(name: &'static str, kind: Kind, loc: Loc) -> Arg {
    Arg {
        name,
        kind,
        loc,
        required: true,
        keyword_only: false,
        default: None,
        max_len: None,
    }
}
/// An optional argument (Python default `None`, nothing sent when absent).
const fn opt(name: &'static str, kind: Kind, loc: Loc) -> Arg {
    Arg {
        name,
        kind,
        loc,
        required: false,
        keyword_only: false,
        default: None,
        max_len: None,
    }
}

impl Arg {
    /// Sent as this JSON text when absent.
    const fn or(mut self, default: &'static str) -> Self {
        self.default = Some(default);
        self
    }
    /// Keyword-only in Python.
    const fn kw(mut self) -> Self {
        self.keyword_only = true;
        self
    }
    /// At most this many bytes.
    const fn max(mut self, bytes: usize) -> Self {
        self.max_len = Some(bytes);
        self
    }
}

use Kind::*;
use Loc::*;

const CONTEXT_ID: Arg = req("context_id", Base58Id, Path);
/// Routes parsed with `parse_context_id` take base58 or hex
/// (core: crates/server/src/admin/handlers/groups.rs).
const CONTEXT_REF: Arg = req("context_id", Base58OrHexId, Path);
const APPLICATION_ID: Arg = req("application_id", Base58Id, Path);
const NAMESPACE_ID: Arg = req("namespace_id", HexId, Path);
const OFFSET: Arg = opt("offset", UInt, Query("offset")).kw();
const LIMIT: Arg = opt("limit", UInt, Query("limit")).kw();
// Limits from core: crates/server/primitives/src/validation.rs.
const METADATA: Arg = opt("metadata", Bytes, Body("metadata"))
    .or("[]")
    .max(64 * 1024);
const PACKAGE: Arg = opt("package", Name, Body("package")).kw().max(128);
const VERSION: Arg = opt("version", Name, Body("version")).kw().max(64);
const GROUP_ID: Arg = req("group_id", HexId, Path);
const MEMBER_ID: Arg = req("member_id", HexId, Path);
const BLOB_ID: Arg = req("blob_id", Base58Id, Path);
const BLOB_CONTEXT: Arg = opt("context_id", Base58Id, Query("context_id"));
const ALIAS: Arg = req("alias", Alias, Path);
const PROGRESS: Arg = opt("progress", Progress, Local).kw();
/// A hex nonce of 16 to 64 bytes (core: crates/server/primitives/src/admin/mod.rs,
/// `IssueOwnershipProofApiRequest::validate`).
const NONCE: Arg = req("nonce", Hex { min: 32, max: 128 }, Body("nonce"));
const VISIBILITY: Kind = Choice(&["open", "restricted"]);

/// Every endpoint, in catalogue order.
pub static ENDPOINTS: &[Endpoint] = &[
    // ---- node / system (node-api.md 1.2) ----
    get("node", "health", "/admin-api/health")
        .doc("Liveness of the node: `{\"data\": {\"status\": \"alive\"}}`. Public."),
    get("node", "ready", "/admin-api/ready")
        .doc("Readiness of the node: `{\"data\": {\"status\": \"ready\"}}`. Public."),
    get("node", "is_authed", "/admin-api/is-authed").doc(
        "The node's `is-authed` route. It is public and always answers \
         `{\"data\": {\"status\": \"alive\"}}`; it does not check a token.",
    ),
    get("node", "get_node_identity", "/admin-api/identity").doc(
        "The node's identity: `{\"data\": {\"accountId\", \"deviceId\", \"publicKey\", \
         \"accountRootPublicKey\"}}`. Raises NotFoundError until the node has joined or \
         created a namespace.",
    ),
    post("node", "generate_context_identity", "/admin-api/identity/context")
        .json()
        .doc("Generates a new context identity key pair on the node: `{\"data\": {\"publicKey\"}}`."),
    get("node", "get_peers_count", "/admin-api/peers")
        .doc("Number of connected peers: `{\"count\": n}`."),
    get("node", "get_network_status", "/admin-api/network/status").doc(
        "Network status: local peer id, listen and external addresses, relays, rendezvous, \
         direct upgrades and AutoNAT state (a bare object, no `data` envelope).",
    ),
    get("node", "get_usage", "/admin-api/usage")
        .doc("Storage usage per namespace: `{\"namespaces\": [...]}`."),
    get("node", "get_certificate", "/admin-api/certificate")
        .output(Output::Text)
        .doc(
            "The node's TLS certificate as PEM text. Public. Raises NotFoundError when the \
             node serves plain HTTP.",
        ),
    get("node", "get_metrics", "/metrics")
        .output(Output::Text)
        .doc("The node's Prometheus metrics, as text. Public."),
    // ---- applications (1.3) ----
    post("applications", "install_application", "/admin-api/install-application")
        .json()
        .args(&[
            req("url", Url, Body("url")),
            opt("hash", Hash, Body("hash")),
            METADATA,
            PACKAGE,
            VERSION,
        ])
        .doc(
            "Installs an application the node downloads from a public http(s) URL. `hash` \
             (base58 or hex) makes the node check the download. Returns \
             `{\"data\": {\"applicationId\"}}`.",
        ),
    post("applications", "install_dev_application", "/admin-api/install-dev-application")
        .json()
        .args(&[req("path", NodePath, Body("path")), METADATA, PACKAGE, VERSION])
        .doc(
            "Installs an application from a path on the node's own disk. Returns \
             `{\"data\": {\"applicationId\"}}`.",
        ),
    delete("applications", "uninstall_application", "/admin-api/applications/{app_id}")
        .args(&[req("app_id", Base58Id, Path)])
        .doc("Uninstalls an application: `{\"data\": {\"applicationId\"}}`."),
    get("applications", "list_applications", "/admin-api/applications")
        .doc("Installed applications: `{\"data\": {\"apps\": [...]}}`."),
    get("applications", "get_application", "/admin-api/applications/{app_id}")
        .args(&[req("app_id", Base58Id, Path)])
        .doc("One application: `{\"data\": {\"application\": {...}}}`; NotFoundError if unknown."),
    get(
        "applications",
        "list_application_versions",
        "/admin-api/applications/{application_id}/versions",
    )
    .args(&[APPLICATION_ID])
    .doc("Versions of an application's package: `{\"data\": [{\"version\", \"blobId\", \"size\", \"package\"}]}`."),
    get("applications", "get_application_abi", "/admin-api/applications/{application_id}/abi")
        .args(&[APPLICATION_ID, opt("service_name", Name, Query("service_name"))])
        .doc("The application's embedded ABI manifest (`wasm-abi/1`): `{\"data\": {...}}`."),
    // ---- packages (1.4) ----
    get("packages", "list_packages", "/admin-api/packages")
        .doc("Packages of installed applications: `{\"packages\": [...]}`."),
    get("packages", "list_package_versions", "/admin-api/packages/{package}/versions")
        .args(&[req("package", Name, Path)])
        .doc("Installed versions of a package: `{\"versions\": [...]}`."),
    get("packages", "get_latest_package_version", "/admin-api/packages/{package}/latest")
        .args(&[req("package", Name, Path)])
        .doc("Latest installed version of a package: `{\"applicationId\", \"version\"}`."),
    // ---- contexts (1.5) ----
    get("contexts", "list_contexts", "/admin-api/contexts")
        .args(&[OFFSET, LIMIT])
        .doc(
            "Contexts on the node: `{\"data\": {\"contexts\": [...]}}`. The node returns 100 \
             by default and at most 1000; page with `offset` and `limit`.",
        ),
    get("contexts", "get_context", "/admin-api/contexts/{context_id}")
        .args(&[CONTEXT_ID])
        .doc("One context: `{\"data\": {...}}`; NotFoundError if unknown."),
    post("contexts", "create_context", "/admin-api/contexts")
        .json()
        .args(&[
            req("application_id", Base58Id, Body("applicationId")),
            req("group_id", HexId, Body("groupId")),
            opt("params", Bytes, Body("initializationParams"))
                .or("[]")
                .max(1024 * 1024),
            opt("service_name", Name, Body("serviceName")),
            opt("context_seed", Base58Id, Body("contextSeed")).kw(),
            opt("identity_secret", HexId, Body("identitySecret")).kw(),
            opt("name", Name, Body("name")).kw(),
        ])
        .doc(
            "Creates a context of an application inside a namespace or group (`group_id`). \
             `params` are the initialization parameters: bytes, a JSON string, or any \
             JSON-serialisable value. Returns `{\"data\": {\"contextId\", \"memberPublicKey\", \
             \"groupId\", \"groupCreated\"}}`.",
        ),
    delete("contexts", "delete_context", "/admin-api/contexts/{context_id}")
        .json()
        .args(&[CONTEXT_ID])
        .doc("Deletes a context: `{\"data\": {\"isDeleted\": bool}}`."),
    get("contexts", "get_context_storage", "/admin-api/contexts/{context_id}/storage")
        .args(&[CONTEXT_ID])
        .doc("Storage used by a context: `{\"data\": {\"sizeInBytes\": n}}`."),
    get("contexts", "get_context_identities", "/admin-api/contexts/{context_id}/identities")
        .args(&[CONTEXT_ID])
        .doc("All member identities of a context: `{\"data\": {\"identities\": [...]}}`."),
    get(
        "contexts",
        "get_context_identities_owned",
        "/admin-api/contexts/{context_id}/identities-owned",
    )
    .args(&[CONTEXT_ID])
    .doc("The identities this node owns in a context: `{\"data\": {\"identities\": [...]}}`."),
    get("contexts", "get_context_group", "/admin-api/contexts/{context_id}/group")
        .args(&[CONTEXT_ID])
        .doc("The group a context belongs to: `{\"data\": hex id or null}`."),
    get(
        "contexts",
        "get_contexts_for_application",
        "/admin-api/contexts/for-application/{application_id}",
    )
    .args(&[APPLICATION_ID])
    .doc("Contexts running an application: `{\"data\": {\"contexts\": [...]}}`."),
    get(
        "contexts",
        "get_contexts_with_executors_for_application",
        "/admin-api/contexts/with-executors/for-application/{application_id}",
    )
    .args(&[APPLICATION_ID])
    .doc(
        "Contexts of an application with their executors: `{\"contexts\": [{\"id\", \
         \"application_id\", \"contextStateHash\", \"executors\"}]}` (no `data` envelope).",
    ),
    post("contexts", "sync_all_contexts", "/admin-api/contexts/sync")
        .doc("Asks the node to sync every context: `{\"data\": null}`."),
    post("contexts", "sync_context", "/admin-api/contexts/sync/{context_id}")
        .args(&[CONTEXT_ID])
        .doc("Asks the node to sync one context: `{\"data\": null}`."),
    post("contexts", "resync_context", "/admin-api/contexts/{context_id}/resync")
        .json()
        .args(&[CONTEXT_ID, opt("force", Bool, Body("force")).or("false")])
        .doc("Starts a resync of a context: `{\"contextId\", \"resyncStarted\"}`."),
    post("contexts", "join_context", "/admin-api/contexts/{context_id}/join")
        .args(&[CONTEXT_REF])
        .doc(
            "Joins a context this node may join through its group membership: \
             `{\"data\": {\"contextId\", \"memberPublicKey\"}}`.",
        ),
    post("contexts", "leave_context", "/admin-api/contexts/{context_id}/leave")
        .args(&[CONTEXT_REF])
        .doc("Leaves a context: `{\"data\": {\"contextId\", \"memberPublicKey\"}}`."),
    post(
        "contexts",
        "update_context_application",
        "/admin-api/contexts/{context_id}/application",
    )
    .json()
    .args(&[
        CONTEXT_ID,
        req("application_id", Base58Id, Body("applicationId")),
        req("executor_public_key", Base58Id, Body("executorPublicKey")),
    ])
    .doc("Moves a context to another application: `{\"data\": null}`."),
    // ---- blobs (1.6) ----
    put("blobs", "upload_blob", "/admin-api/blobs")
        .stream()
        .args(&[
            req("data", Upload, Local),
            BLOB_CONTEXT,
            opt("hash", Hash, Query("hash")).kw(),
            PROGRESS,
        ])
        .doc(
            "Uploads a blob, streamed: `data` is bytes, a path (str or os.PathLike) or a \
             binary file object, never read whole into memory. With `context_id` the node \
             announces the blob in that context; with `hash` (base58 or hex) it checks the \
             content. `progress(done, total)` is called as bytes go out (`total` is None \
             when unknown). Returns `{\"data\": {\"blob_id\", \"size\"}}`. A blob over the \
             node's 1 GiB limit raises ValueError, before sending when its size is known.",
        ),
    get("blobs", "download_blob", "/admin-api/blobs/{blob_id}")
        .output(Output::Bytes)
        .args(&[BLOB_ID, BLOB_CONTEXT])
        .doc(
            "Downloads a blob into one `bytes`, checked against the node's SHA-256. With \
             `context_id` the node may fetch it from peers of that context. For large blobs \
             use `download_blob_to_path` or `iter_blob`.",
        ),
    get("blobs", "download_blob_to_path", "/admin-api/blobs/{blob_id}")
        .output(Output::File)
        .args(&[BLOB_ID, req("path", LocalPath, Local), BLOB_CONTEXT, PROGRESS])
        .doc(
            "Downloads a blob into the file `path` in constant memory, checked against the \
             node's SHA-256. The file appears whole or not at all: the data goes to a \
             temporary file beside it, renamed once complete. `progress(done, total)` is \
             called as bytes arrive. Returns `{\"blob_id\", \"size\", \"path\"}`.",
        ),
    get("blobs", "iter_blob", "/admin-api/blobs/{blob_id}")
        .output(Output::Chunks)
        .args(&[
            BLOB_ID,
            BLOB_CONTEXT,
            opt("chunk_size", UInt, Local).or("1048576").kw(),
        ])
        .doc(
            "Downloads a blob as an iterator of `bytes` chunks of about `chunk_size` bytes, \
             in constant memory. The iterator has `size`, `mime_type` and `hash`, and \
             `close()`; it is also a context manager. The SHA-256 is checked when the last \
             chunk has arrived.",
        ),
    head("blobs", "get_blob_info", "/admin-api/blobs/{blob_id}")
        .output(Output::BlobInfo)
        .args(&[BLOB_ID])
        .doc(
            "A blob's metadata, from a HEAD request: `{\"data\": {\"blob_id\", \"size\", \
             \"hash\" (hex SHA-256), \"mime_type\"}}`.",
        ),
    get("blobs", "list_blobs", "/admin-api/blobs")
        .doc("The node's blobs: `{\"data\": {\"blobs\": [{\"blob_id\", \"size\"}]}}`."),
    delete("blobs", "delete_blob", "/admin-api/blobs/{blob_id}")
        .args(&[BLOB_ID])
        .doc(
            "Deletes a blob: `{\"blob_id\", \"deleted\": true}`. PermissionDeniedError when \
             an installed application uses it.",
        ),
    // ---- aliases (1.7) ----
    post("aliases", "create_context_alias", "/admin-api/alias/create/context")
        .json()
        .args(&[req("alias", Alias, Body("alias")), req("context_id", Base58Id, Body("contextId"))])
        .doc("Names a context: `{\"data\": null}`. ConflictError when the alias exists."),
    post("aliases", "create_application_alias", "/admin-api/alias/create/application")
        .json()
        .args(&[
            req("alias", Alias, Body("alias")),
            req("application_id", Base58Id, Body("applicationId")),
        ])
        .doc("Names an application: `{\"data\": null}`. ConflictError when the alias exists."),
    post("aliases", "delete_context_alias", "/admin-api/alias/delete/context/{alias}")
        .args(&[ALIAS])
        .doc("Deletes a context alias: `{\"data\": null}`."),
    post("aliases", "delete_application_alias", "/admin-api/alias/delete/application/{alias}")
        .args(&[ALIAS])
        .doc("Deletes an application alias: `{\"data\": null}`."),
    get("aliases", "list_context_aliases", "/admin-api/alias/list/context")
        .doc("Context aliases: `{\"data\": {alias: context_id}}`."),
    get("aliases", "list_application_aliases", "/admin-api/alias/list/application")
        .doc("Application aliases: `{\"data\": {alias: application_id}}`."),
    post("aliases", "lookup_context_alias", "/admin-api/alias/lookup/context/{alias}")
        .args(&[ALIAS])
        .doc("The context an alias names: `{\"data\": {\"value\": id or null}}`."),
    post("aliases", "lookup_application_alias", "/admin-api/alias/lookup/application/{alias}")
        .args(&[ALIAS])
        .doc("The application an alias names: `{\"data\": {\"value\": id or null}}`."),
    // ---- namespaces (1.8) ----
    get("namespaces", "list_namespaces", "/admin-api/namespaces")
        .args(&[OFFSET, LIMIT])
        .doc("Namespaces on the node: `{\"data\": [...]}` (100 by default)."),
    post("namespaces", "create_namespace", "/admin-api/namespaces")
        .json()
        .args(&[
            req("application_id", Base58Id, Body("applicationId")),
            opt("name", Name, Body("name")),
            opt("app_key", HexId, Body("appKey")),
        ])
        .doc("Creates a namespace (a root group) for an application: `{\"data\": {\"namespaceId\"}}`."),
    get("namespaces", "get_namespace", "/admin-api/namespaces/{namespace_id}")
        .args(&[NAMESPACE_ID])
        .doc("One namespace: `{\"data\": {...}}`; NotFoundError if unknown."),
    delete("namespaces", "delete_namespace", "/admin-api/namespaces/{namespace_id}")
        .json()
        .args(&[NAMESPACE_ID])
        .doc("Deletes a namespace: `{\"data\": {\"isDeleted\": bool}}`."),
    get(
        "namespaces",
        "list_namespaces_for_application",
        "/admin-api/namespaces/for-application/{application_id}",
    )
    .args(&[APPLICATION_ID, OFFSET, LIMIT])
    .doc("Namespaces of an application: `{\"data\": [...]}`."),
    post("namespaces", "create_namespace_invitation", "/admin-api/namespaces/{namespace_id}/invite")
        .json()
        .args(&[
            NAMESPACE_ID,
            opt("recursive", Bool, Body("recursive")),
            opt("expiration_timestamp", UInt, Body("expirationTimestamp")),
        ])
        .doc(
            "An open invitation to a namespace, valid `expiration_timestamp` seconds (the \
             node's default is one year): `{\"data\": {\"invitation\", \"groupName\"}}`, or \
             with `recursive=True` one per group, `{\"data\": {\"invitations\": [{\"groupId\", \
             \"invitation\", \"groupName\"}]}}`.",
        ),
    post("namespaces", "join_namespace", "/admin-api/namespaces/{namespace_id}/join")
        .json()
        .args(&[
            NAMESPACE_ID,
            req("invitation_json", JsonText, Body("invitation")),
            opt("group_name", Name, Body("groupName")).kw(),
        ])
        .doc(
            "Joins a namespace with an invitation: the `invitation` of \
             `create_namespace_invitation`, as a dict or its JSON text, sent as it is. \
             Returns `{\"data\": {\"namespaceId\", \"memberIdentity\", \"memberAccount\"}}`; \
             the node answers 504 (ServerError) when no member of the namespace is reachable.",
        ),
    post("namespaces", "leave_namespace", "/admin-api/namespaces/{namespace_id}/leave")
        .args(&[NAMESPACE_ID])
        .doc("Leaves a namespace: `{\"data\": {\"namespaceId\", \"memberPublicKey\"}}`."),
    get("namespaces", "list_namespace_groups", "/admin-api/namespaces/{namespace_id}/groups")
        .args(&[NAMESPACE_ID])
        .doc("Groups of a namespace: `{\"data\": [{\"groupId\", \"name\"}]}`."),
    post("namespaces", "create_group_in_namespace", "/admin-api/namespaces/{namespace_id}/groups")
        .json()
        .args(&[
            NAMESPACE_ID,
            opt("group_name", Name, Body("groupName")),
            opt("visibility", VISIBILITY, Body("visibility")).kw(),
        ])
        .doc(
            "Creates a group in a namespace, `visibility` \"open\" or \"restricted\" (the \
             node's default): `{\"data\": {\"groupId\"}}`.",
        ),
    // ---- groups (1.9) ----
    post("groups", "create_group", "/admin-api/groups")
        .json()
        .args(&[
            req("application_id", Base58Id, Body("applicationId")),
            opt("name", Name, Body("name")),
            opt("parent_group_id", HexId, Body("parentGroupId")),
            opt("group_id", HexId, Body("groupId")).kw(),
            opt("app_key", HexId, Body("appKey")).kw(),
        ])
        .doc(
            "Creates a group for an application, under `parent_group_id` when given: \
             `{\"data\": {\"groupId\"}}`.",
        ),
    get("groups", "get_group_info", "/admin-api/groups/{group_id}")
        .args(&[GROUP_ID])
        .doc(
            "A group: `{\"data\": {\"groupId\", \"appKey\", \"targetApplicationId\", \
             \"memberCount\", \"contextCount\", \"defaultCapabilities\", \"subgroupVisibility\", \
             \"groupStateHash\", ...}}`.",
        ),
    delete("groups", "delete_group", "/admin-api/groups/{group_id}")
        .json()
        .args(&[GROUP_ID])
        .doc("Deletes a group: `{\"data\": {\"isDeleted\": bool}}`."),
    post("groups", "reparent_group", "/admin-api/groups/{group_id}/reparent")
        .json()
        .args(&[GROUP_ID, req("new_parent_id", HexId, Body("newParentId"))])
        .doc("Moves a group under another parent: `{\"reparented\": bool}`."),
    get("groups", "list_subgroups", "/admin-api/groups/{group_id}/subgroups")
        .args(&[GROUP_ID])
        .doc("Subgroups this node may see: `{\"subgroups\": [{\"groupId\", \"name\"}]}`."),
    get("groups", "list_group_contexts", "/admin-api/groups/{group_id}/contexts")
        .args(&[GROUP_ID, OFFSET, LIMIT])
        .doc("Contexts of a group: `{\"data\": [{\"contextId\", \"name\"}]}` (100 by default, at most 1000)."),
    get("groups", "list_group_members", "/admin-api/groups/{group_id}/members")
        .args(&[GROUP_ID, OFFSET, LIMIT])
        .doc("Members of a group: `{\"members\": [{\"identity\", \"role\", \"name\"}]}` (100 by default, at most 1000)."),
    post("groups", "add_group_members", "/admin-api/groups/{group_id}/members")
        .json()
        .args(&[GROUP_ID, req("members_json", Members, Body("members"))])
        .doc(
            "Adds members: a list of `{\"identity\": account (hex) or key (base58), \"role\": \
             \"Admin\" | \"Member\" | \"ReadOnly\"}` (or bare identities, as members), or its \
             JSON text. An unknown role raises ValueError. Returns `{}`.",
        ),
    post("groups", "remove_group_members", "/admin-api/groups/{group_id}/members/remove")
        .json()
        .args(&[GROUP_ID, req("members_json", HexIdList, Body("members"))])
        .doc("Removes members: a list of hex account ids, or its JSON text. Returns `{}`."),
    put("groups", "update_member_role", "/admin-api/groups/{group_id}/members/{member_id}/role")
        .json()
        .args(&[GROUP_ID, MEMBER_ID, req("role", Role, Body("role"))])
        .doc("Sets a member's role (`Admin`, `Member` or `ReadOnly`, any case): `{}`."),
    get(
        "groups",
        "get_member_capabilities",
        "/admin-api/groups/{group_id}/members/{member_id}/capabilities",
    )
    .args(&[GROUP_ID, MEMBER_ID])
    .doc("A member's capabilities: `{\"data\": {\"capabilities\": n}}`. See `calimero.Capability`."),
    put(
        "groups",
        "set_member_capabilities",
        "/admin-api/groups/{group_id}/members/{member_id}/capabilities",
    )
    .json()
    .args(&[GROUP_ID, MEMBER_ID, req("capabilities", UInt32, Body("capabilities"))])
    .doc("Sets a member's capabilities bitmask: `{}`. See `calimero.Capability`."),
    put(
        "groups",
        "set_member_auto_follow",
        "/admin-api/groups/{group_id}/members/{member_id}/auto-follow",
    )
    .json()
    .args(&[
        GROUP_ID,
        MEMBER_ID,
        req("auto_follow_contexts", Bool, Body("autoFollowContexts")),
        req("auto_follow_subgroups", Bool, Body("autoFollowSubgroups")),
    ])
    .doc("Whether a member joins new contexts and subgroups by itself: `{}`."),
    get("groups", "list_member_devices", "/admin-api/groups/{group_id}/member-devices")
        .args(&[GROUP_ID, OFFSET, LIMIT])
        .doc(
            "Members' devices: `{\"members\": [{\"account\", \"devices\": [{\"deviceId\", \
             \"signingKey\"}]}]}` (admins see all, members themselves).",
        ),
    post("groups", "leave_group", "/admin-api/groups/{group_id}/leave")
        .args(&[GROUP_ID])
        .doc("Leaves a group: `{\"data\": {\"groupId\", \"memberPublicKey\"}}`."),
    get("groups", "get_group_metadata", "/admin-api/groups/{group_id}/metadata")
        .args(&[GROUP_ID])
        .doc("A group's metadata: `{\"data\": {\"name\", \"data\", \"updatedAt\", \"updatedBy\"} or null}`."),
    put("groups", "set_group_metadata", "/admin-api/groups/{group_id}/metadata")
        .json()
        .args(&[GROUP_ID, req("body_json", Metadata, Spread)])
        .doc("Sets a group's metadata, `{\"name\"?: str, \"data\": {str: str}}` (a dict or its JSON text): `{}`."),
    get("groups", "get_member_metadata", "/admin-api/groups/{group_id}/members/{member_id}/metadata")
        .args(&[GROUP_ID, MEMBER_ID])
        .doc("A member's metadata: `{\"data\": {...} or null}`."),
    put("groups", "set_member_metadata", "/admin-api/groups/{group_id}/members/{member_id}/metadata")
        .json()
        .args(&[GROUP_ID, MEMBER_ID, req("body_json", Metadata, Spread)])
        .doc("Sets a member's metadata, `{\"name\"?: str, \"data\": {str: str}}`: `{}`."),
    get("groups", "get_context_metadata", "/admin-api/groups/{group_id}/contexts/{context_id}/metadata")
        .args(&[GROUP_ID, CONTEXT_REF])
        .doc("A context's metadata in a group: `{\"data\": {...} or null}`."),
    put("groups", "set_context_metadata", "/admin-api/groups/{group_id}/contexts/{context_id}/metadata")
        .json()
        .args(&[GROUP_ID, CONTEXT_REF, req("body_json", Metadata, Spread)])
        .doc("Sets a context's metadata in a group, `{\"name\"?: str, \"data\": {str: str}}`: `{}`."),
    post(
        "groups",
        "detach_context_from_group",
        "/admin-api/groups/{group_id}/contexts/{context_id}/remove",
    )
    .json()
    .args(&[GROUP_ID, CONTEXT_ID])
    .doc("Detaches a context from a group: `{}`."),
    put(
        "groups",
        "set_default_capabilities",
        "/admin-api/groups/{group_id}/settings/default-capabilities",
    )
    .json()
    .args(&[GROUP_ID, req("capabilities", UInt32, Body("defaultCapabilities"))])
    .doc("Sets the capabilities new members get: `{}`. See `calimero.Capability`."),
    put(
        "groups",
        "set_subgroup_visibility",
        "/admin-api/groups/{group_id}/settings/subgroup-visibility",
    )
    .json()
    .args(&[GROUP_ID, req("visibility", VISIBILITY, Body("subgroupVisibility"))])
    .doc("Sets whether the group is \"open\" or \"restricted\" to its parent's members: `{}`."),
    get(
        "groups",
        "get_tee_admission_policy",
        "/admin-api/groups/{group_id}/settings/tee-admission-policy",
    )
    .args(&[GROUP_ID])
    .doc(
        "The group's TEE admission policy: `{\"enabled\", \"allowedMrtd\", \"allowedRtmr0\"..3, \
         \"allowedTcbStatuses\", \"acceptMock\"}` (no `data` envelope).",
    ),
    put(
        "groups",
        "set_tee_admission_policy",
        "/admin-api/groups/{group_id}/settings/tee-admission-policy",
    )
    .json()
    .args(&[
        GROUP_ID,
        opt("allowed_mrtd", StrList, Body("allowedMrtd")).kw(),
        opt("allowed_rtmr0", StrList, Body("allowedRtmr0")).kw(),
        opt("allowed_rtmr1", StrList, Body("allowedRtmr1")).kw(),
        opt("allowed_rtmr2", StrList, Body("allowedRtmr2")).kw(),
        opt("allowed_rtmr3", StrList, Body("allowedRtmr3")).kw(),
        opt("allowed_tcb_statuses", StrList, Body("allowedTcbStatuses")).kw(),
        opt("accept_mock", Bool, Body("acceptMock")).or("false").kw(),
    ])
    .doc(
        "Sets which TEE measurements may join the group. The node wants at least one MRTD \
         unless `accept_mock`. Returns `{}`.",
    ),
    post("groups", "upgrade_group", "/admin-api/groups/{group_id}/upgrade")
        .json()
        .args(&[
            GROUP_ID,
            req("target_application_id", Base58Id, Body("targetApplicationId")),
            opt("cascade", Bool, Body("cascade")).or("false"),
            opt("force_code_only", Bool, Body("forceCodeOnly")).or("false").kw(),
        ])
        .doc(
            "Upgrades the group's contexts to another application, into subgroups with \
             `cascade`: `{\"data\": {\"groupId\", \"status\", \"localContextsTotal\", \
             \"localContextsSwapped\", \"localContextsFailed\"}}`.",
        ),
    get("groups", "get_group_upgrade_status", "/admin-api/groups/{group_id}/upgrade/status")
        .args(&[GROUP_ID])
        .doc("The group's upgrade: `{\"data\": {...} or null}`."),
    post("groups", "retry_group_upgrade", "/admin-api/groups/{group_id}/upgrade/retry")
        .json()
        .args(&[GROUP_ID])
        .doc("Retries the group's failed upgrade; answers like `upgrade_group`."),
    get("groups", "get_cascade_status", "/admin-api/groups/{namespace_id}/cascade-status")
        .args(&[NAMESPACE_ID])
        .doc("A cascading upgrade's progress per group: `{\"data\": [{\"groupId\", \"upgrade\"}]}`."),
    get("groups", "get_migration_status", "/admin-api/groups/{namespace_id}/migration-status")
        .args(&[NAMESPACE_ID])
        .doc(
            "A namespace's migration across members: `{\"targetVersion\", \"expectedMembers\", \
             \"rollup\", \"members\"}` (no `data` envelope).",
        ),
    post("groups", "abort_migration", "/admin-api/groups/{namespace_id}/migration/abort")
        .args(&[NAMESPACE_ID])
        .doc("Aborts a namespace's migration: `{\"namespaceId\", \"aborted\"}`."),
    post("groups", "sync_group", "/admin-api/groups/{group_id}/sync")
        .json()
        .args(&[GROUP_ID])
        .doc(
            "Syncs the group's state: `{\"data\": {\"groupId\", \"appKey\", \
             \"targetApplicationId\", \"memberCount\", \"contextCount\"}}`.",
        ),
    post("groups", "join_subgroup_inheritance", "/admin-api/groups/{group_id}/join-via-inheritance")
        .args(&[GROUP_ID])
        .doc(
            "Joins an open subgroup through membership of its parent: `{\"data\": {\"groupId\", \
             \"memberPublicKey\", \"wasInherited\"}}`.",
        ),
    post("groups", "create_group_invitation", "/admin-api/groups/{group_id}/invite")
        .json()
        .args(&[GROUP_ID, opt("expiration_timestamp", UInt, Body("expirationTimestamp"))])
        .doc(
            "An open invitation to a group (the legacy route): `{\"data\": {\"invitation\", \
             \"groupName\"}}`.",
        ),
    post("groups", "join_group", "/admin-api/groups/join")
        .json()
        .args(&[
            req("invitation_json", JsonText, Body("invitation")),
            opt("group_name", Name, Body("groupName")),
        ])
        .doc(
            "Joins a group with an invitation (the legacy route), as a dict or its JSON text: \
             `{\"data\": {\"groupId\", \"memberIdentity\", \"memberAccount\"}}`.",
        ),
    post("groups", "issue_ownership_proof", "/admin-api/groups/{group_id}/issue-ownership-proof")
        .json()
        .args(&[
            GROUP_ID,
            req("audience", Name, Body("audience")),
            req("context_id", Base58OrHexId, Body("contextId")),
            req("subject", Name, Body("subject")).max(512),
            NONCE,
            req("expires_at_ms", UInt, Body("expiresAtMs")),
        ])
        .doc(
            "A signed proof that this node owns an identity in a context of the group, for \
             `audience`: `{\"signerPublicKey\", \"signedPayload\", \"signature\"}` (base64). \
             `nonce` is 16 to 64 bytes of hex; the node caps the expiry at five minutes.",
        ),
    post(
        "groups",
        "issue_namespace_ownership_proof",
        "/admin-api/groups/{namespace_id}/issue-namespace-ownership-proof",
    )
    .json()
    .args(&[
        NAMESPACE_ID,
        req("audience", Name, Body("audience")),
        req("subject", Name, Body("subject")).max(512),
        NONCE,
        req("expires_at_ms", UInt, Body("expiresAtMs")),
    ])
    .doc("Like `issue_ownership_proof`, for the namespace itself."),
    // ---- accounts and devices (1.10) ----
    post("accounts", "pair_device_init", "/admin-api/namespaces/{namespace_id}/account/pair-init")
        .json()
        .args(&[
            NAMESPACE_ID,
            req("account_root_public_key", HexId, Body("accountRootPublicKey")),
            opt("account_nonce", IgnoredText, Nowhere),
        ])
        .doc(
            "Starts pairing this node as a device of an account: `{\"data\": {\"accountId\", \
             \"deviceId\", \"kemPublicKey\", \"signPublicKey\", \"statement\", \
             \"confirmationCode\"}}`. `account_nonce` is accepted for compatibility and not \
             sent (the node has no such field).",
        ),
    post(
        "accounts",
        "pair_device_complete",
        "/admin-api/namespaces/{namespace_id}/account/pair-complete",
    )
    .json()
    .args(&[
        NAMESPACE_ID,
        req("device_id", HexId, Body("deviceId")),
        req("kem_public_key", HexId, Body("kemPublicKey")),
        req("sign_public_key", HexId, Body("signPublicKey")),
        req("statement", Hex { min: 128, max: 128 }, Body("statement")),
        req("confirmation_code", Name, Body("confirmationCode")),
    ])
    .doc(
        "Completes pairing on the account's node with what `pair_device_init` printed: \
         `{\"data\": {\"accountId\", \"deviceId\", \"keyDelivered\", \"confirmationCode\"}}`.",
    ),
    post("accounts", "revoke_device", "/admin-api/namespaces/{namespace_id}/account/revoke")
        .json()
        .args(&[
            NAMESPACE_ID,
            req("device_id", HexId, Body("deviceId")),
            opt("proof", Hex { min: 2, max: 1 << 20 }, Body("proof")),
        ])
        .doc(
            "Revokes a device of the account: `{\"data\": {\"accountId\", \"deviceId\", \
             \"keyRotated\", \"revokedIn\"}}`. `proof` is a hex revocation signed elsewhere.",
        ),
    // ---- TEE (1.11) ----
    get("tee", "get_tee_info", "/admin-api/tee/info")
        .doc("The node's TEE: `{\"data\": {\"cloudProvider\", \"osImage\", \"mrtd\"}}`. Public."),
    post("tee", "tee_attest", "/admin-api/tee/attest")
        .json()
        .args(&[
            req("nonce", HexId, Body("nonce")),
            opt("application_id", Base58Id, Body("applicationId")),
            opt("bind_transport_key", Bool, Body("bindTransportKey")).kw(),
            opt("include_collateral", Bool, Body("includeCollateral")).kw(),
        ])
        .doc(
            "A TDX quote over `nonce` (32 bytes of hex): `{\"data\": {\"quoteB64\", \"quote\"}}`. \
             Public. A node without TDX answers 501 (ServerError). `bind_transport_key` (nodes \
             serving the sealed transport, rc.83) also binds the node's X25519 transport key \
             into the report data and names it (`transportPublicKey`); `include_collateral` \
             asks for the Intel collateral the quote verifies against (`collateral`). Each is \
             sent only when given: older nodes refuse them. This returns the quote unverified: \
             a sealed connection (`create_connection(..., tee=TeePolicy(...), sealed=True)`) \
             verifies it, and `TeePolicy.verify_quote` does on its own.",
        ),
    post("tee", "tee_fleet_join", "/admin-api/tee/fleet-join")
        .json()
        .args(&[req("group_id", HexId, Body("groupId"))])
        .doc(
            "Joins a group as a TEE fleet node: `{\"status\", \"group_id\", \"namespace_id\", \
             ...}` (snake_case, no `data` envelope). 501 without TDX.",
        ),
    // ---- JSON-RPC (1.12) ----
    rpc("execute_function", "execute", Output::RpcEnvelope)
        .args(&[
            req("context_id", Base58Id, Body("contextId")),
            req("method", Name, Body("method")),
            opt("args", JsonText, Body("argsJson")).or("{}"),
            opt("executor_public_key", IgnoredBase58Id, Nowhere),
        ])
        .doc(
            "Calls `method` of the application in a context. `args` is a JSON string or any \
             JSON-serialisable value. Returns the JSON-RPC envelope `{\"jsonrpc\", \"id\", \
             \"result\": {\"output\"}}`; a JSON-RPC error raises RpcError. \
             `executor_public_key` is accepted for compatibility: the node always executes \
             as its own identity in the context.",
        ),
    rpc("call", "execute", Output::RpcOutput)
        .args(&[
            req("context_id", Base58Id, Body("contextId")),
            req("method", Name, Body("method")),
            opt("args", JsonText, Body("argsJson")).or("{}"),
        ])
        .doc(
            "Calls `method` of the application in a context and returns its output alone \
             (`result.output`). A JSON-RPC error raises RpcError.",
        ),
    rpc("sync_status", "sync_status", Output::RpcResult)
        .args(&[req("context_id", Base58Id, Body("contextId"))])
        .doc(
            "Sync state of a context: `{\"contextId\", \"isInitialized\", \"syncState\", \
             \"failureCount\"}`. A JSON-RPC error raises RpcError.",
        ),
    rpc("set_ephemeral", "set_ephemeral", Output::RpcResult)
        .args(&[
            req("context_id", Base58Id, Body("contextId")),
            req("state", Bytes, Body("state")).max(16 * 1024),
        ])
        .doc(
            "Publishes this node's ephemeral (presence) state in a context, at most 16384 \
             bytes. Returns `{}`; a JSON-RPC error raises RpcError.",
        ),
];

/// The endpoint of a name.
pub fn find(name: &str) -> Option<(usize, &'static Endpoint)> {
    ENDPOINTS.iter().enumerate().find(|(_, e)| e.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn names_are_unique() {
        let mut seen = HashSet::new();
        for e in ENDPOINTS {
            assert!(seen.insert(e.name), "duplicate endpoint {}", e.name);
        }
    }

    #[test]
    fn path_placeholders_match_path_arguments() {
        for e in ENDPOINTS {
            let placeholders: Vec<&str> = e
                .path
                .split('/')
                .filter_map(|s| s.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
                .collect();
            let path_args: Vec<&str> = e
                .args
                .iter()
                .filter(|a| a.loc == Path)
                .map(|a| a.name)
                .collect();
            assert_eq!(placeholders, path_args, "{}", e.name);
            assert!(
                path_args
                    .iter()
                    .all(|n| e.args.iter().any(|a| a.name == *n && a.required)),
                "{}: path arguments are required",
                e.name
            );
        }
    }

    #[test]
    fn body_arguments_only_where_a_body_is_sent() {
        for e in ENDPOINTS {
            let has_body_args = e.args.iter().any(|a| matches!(a.loc, Body(_)));
            if has_body_args {
                assert_ne!(
                    e.body,
                    super::Body::Empty,
                    "{} has body arguments but sends no body",
                    e.name
                );
            }
        }
    }

    #[test]
    fn required_arguments_come_first_and_defaults_parse() {
        for e in ENDPOINTS {
            let mut optional_seen = false;
            for a in e.args {
                if a.required {
                    assert!(
                        !optional_seen,
                        "{}: required {} after an optional one",
                        e.name, a.name
                    );
                    assert!(
                        a.default.is_none(),
                        "{}: required {} has a default",
                        e.name,
                        a.name
                    );
                } else {
                    optional_seen = true;
                }
                if let Some(d) = a.default {
                    serde_json::from_str::<serde_json::Value>(d).expect("default is JSON");
                }
            }
            assert!(!e.doc.is_empty(), "{} has no doc", e.name);
        }
    }

    #[test]
    fn rpc_endpoints_post_to_jsonrpc() {
        for e in ENDPOINTS {
            if matches!(e.body, super::Body::JsonRpc(_)) {
                assert_eq!((e.verb, e.path), (Verb::Post, "/jsonrpc"));
                assert_ne!(e.output, Output::Json);
            }
        }
    }
}
