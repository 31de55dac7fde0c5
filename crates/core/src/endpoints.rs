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
    /// A 32-byte `Hash` id (context, application, blob id, public key, a
    /// content hash), given as base58 or as 64 hex characters and sent in
    /// the encoding of the node's release: base58 before 0.11.0-rc.27, hex
    /// from it.
    Id,
    /// 64 hexadecimal characters (group, namespace, account, device id, app key).
    HexId,
    /// A non-empty string without control characters (at most 256 bytes).
    Name,
    /// A package name (`com.example.kv`): a `Name` that is not a URL.
    Package,
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
    /// Accepted for compatibility and validated as an id (base58 or hex)
    /// when non-empty, but not sent (the node has no such field).
    IgnoredId,
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
    /// A list of `Id`s, each sent in the release's encoding.
    IdList,
    /// A device's application scope: `"all"`, or a list of application ids
    /// (or `{"only": [...]}`), sent as `"all"` or `{"only": [ids]}`.
    DeviceScope,
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
    /// The node releases that take it. Elsewhere it is not sent (nor its
    /// default), and a value given for it raises `UnsupportedByNodeError`.
    pub releases: Releases,
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
    /// The whole JSON-RPC envelope, `{"jsonrpc","id","result"}` or
    /// `{"jsonrpc","id","error"}`: an `error` member is returned, not raised
    /// (the official client's `execute_function`).
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

    /// Whether a JSON-RPC `error` member in the answer raises.
    pub fn raises_rpc_errors(self) -> bool {
        self != Output::RpcEnvelope
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
    /// The node releases that serve this route in this shape. Several
    /// entries may share a `name` (a method whose route or signature
    /// changed between releases): a call takes the entry whose arguments
    /// it fits and whose releases include the node's.
    pub releases: Releases,
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
        releases: ALL,
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
    /// Served from release `0.11.0-rc.{n}` on.
    const fn since(mut self, n: u16) -> Self {
        self.releases.since = Release(n);
        self
    }
    /// Served up to release `0.11.0-rc.{n}`, included.
    const fn until(mut self, n: u16) -> Self {
        self.releases.until = Release(n);
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
        releases: ALL,
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
        releases: ALL,
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
    /// Taken from release `0.11.0-rc.{n}` on.
    const fn since(mut self, n: u16) -> Self {
        self.releases.since = Release(n);
        self
    }
    /// Taken up to release `0.11.0-rc.{n}`, included.
    const fn until(mut self, n: u16) -> Self {
        self.releases.until = Release(n);
        self
    }
}

use crate::release::{Release, Releases, ALL};
use Kind::*;
use Loc::*;

const CONTEXT_ID: Arg = req("context_id", Id, Path);
/// Routes parsed with `parse_context_id` take base58 or hex
/// (core: crates/server/src/admin/handlers/groups.rs).
const CONTEXT_REF: Arg = req("context_id", Id, Path);
const APPLICATION_ID: Arg = req("application_id", Id, Path);
const NAMESPACE_ID: Arg = req("namespace_id", HexId, Path);
const OFFSET: Arg = opt("offset", UInt, Query("offset")).kw();
const LIMIT: Arg = opt("limit", UInt, Query("limit")).kw();
// Limits from core: crates/server/primitives/src/validation.rs.
/// Sent (as `[]` when absent) up to rc.31; `{path}` alone from rc.32, and
/// refused from rc.38 (swift-sdk Rc32/Rc38SurfaceTests; core
/// primitives `InstallDevApplicationRequest`).
const METADATA: Arg = opt("metadata", Bytes, Body("metadata"))
    .or("[]")
    .max(64 * 1024)
    .until(31);
const PACKAGE: Arg = opt("package", Package, Body("package"))
    .kw()
    .max(128)
    .until(31);
const VERSION: Arg = opt("version", Name, Body("version")).kw().max(64).until(31);
const GROUP_ID: Arg = req("group_id", HexId, Path);
const MEMBER_ID: Arg = req("member_id", HexId, Path);
const BLOB_ID: Arg = req("blob_id", Id, Path);
const BLOB_CONTEXT: Arg = opt("context_id", Id, Query("context_id"));
const ALIAS: Arg = req("alias", Alias, Path);
const PROGRESS: Arg = opt("progress", Progress, Local).kw();
/// Whether a download checks the content against the node's SHA-256
/// (`X-Blob-Hash`): on unless the caller turns it off.
const VERIFY: Arg = opt("verify", Bool, Local).or("true").kw();
/// A hex nonce of 16 to 64 bytes (core: crates/server/primitives/src/admin/mod.rs,
/// `IssueOwnershipProofApiRequest::validate`).
const NONCE: Arg = req("nonce", Hex { min: 32, max: 128 }, Body("nonce"));
const VISIBILITY: Kind = Choice(&["open", "restricted"]);
/// Accounts that may admit the invitee (rc.29, core#3714) and their
/// addresses (rc.32, core#3819); omitted when empty, as older nodes do not
/// know them (kotlin-sdk CHANGELOG, rc.32).
const ADMITTERS: Arg = opt("admitters", HexIdList, Body("admitters")).since(29);
const ADMITTER_ADDRS: Arg = opt("admitter_addrs", StrList, Body("admitterAddrs"))
    .kw()
    .since(32);
/// A root-guarded owner operation's proof, hex borsh (rc.83; core
/// fixtures/wire/groups/transfer_ownership.req.json).
const ROOT_PROOF: Arg = opt(
    "root_proof",
    Hex {
        min: 2,
        max: 1 << 16,
    },
    Body("rootProof"),
)
.since(83);

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
        .until(82)
        .doc(
            "The node's TLS certificate as PEM text. Public. Raises NotFoundError when the \
             node serves plain HTTP. Removed by 0.11.0-rc.83 (node-releases.md).",
        ),
    get("node", "get_metrics", "/metrics")
        .output(Output::Text)
        .doc("The node's Prometheus metrics, as text. Public."),
    // ---- applications (1.3) ----
    // Two forms (core#3652, rc.31: the body became exactly `{package,
    // version}`; the rc.25 body is refused with 400 "unknown field `url`",
    // swift-sdk Fixtures/rc32-install-application-url-refused.json).
    post("applications", "install_application", "/admin-api/install-application")
        .json()
        .since(31)
        .args(&[
            req("package", Package, Body("package")).max(128),
            req("version", Name, Body("version")).max(64),
        ])
        .doc(
            "Installs the application published as `package` at `version` in the node's \
             registry (0.11.0-rc.31 and later; the official client 0.9.0's signature). The \
             node answers 502 (ServerError) when nothing is published at those coordinates. \
             Returns `{\"data\": {\"applicationId\"}}`.",
        ),
    post("applications", "install_application", "/admin-api/install-application")
        .json()
        .until(30)
        .args(&[
            req("url", Url, Body("url")),
            opt("hash", Id, Body("hash")),
            METADATA,
            PACKAGE,
            VERSION,
        ])
        .doc(
            "Installs an application the node downloads from a public http(s) URL (up to \
             0.11.0-rc.30; the official client 0.6.31's signature). `hash` (base58 or hex) \
             makes the node check the download. Returns `{\"data\": {\"applicationId\"}}`.",
        ),
    post("applications", "install_dev_application", "/admin-api/install-dev-application")
        .json()
        .args(&[req("path", NodePath, Body("path")), METADATA, PACKAGE, VERSION])
        .doc(
            "Installs an application from a path on the node's own disk (a `.wasm` up to \
             0.11.0-rc.31; a signed `.mpk` bundle from rc.32, which takes `path` alone: \
             `metadata`, `package` and `version` raise UnsupportedByNodeError there). \
             Returns `{\"data\": {\"applicationId\"}}`.",
        ),
    delete("applications", "uninstall_application", "/admin-api/applications/{app_id}")
        .args(&[req("app_id", Id, Path)])
        .doc("Uninstalls an application: `{\"data\": {\"applicationId\"}}`."),
    get("applications", "list_applications", "/admin-api/applications")
        .doc("Installed applications: `{\"data\": {\"apps\": [...]}}`."),
    get("applications", "get_application", "/admin-api/applications/{app_id}")
        .args(&[req("app_id", Id, Path)])
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
            req("application_id", Id, Body("applicationId")),
            req("group_id", HexId, Body("groupId")),
            opt("params", Bytes, Body("initializationParams"))
                .or("[]")
                .max(1024 * 1024),
            opt("service_name", Name, Body("serviceName")),
            opt("context_seed", Id, Body("contextSeed")).kw(),
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
        req("application_id", Id, Body("applicationId")),
        req("executor_public_key", Id, Body("executorPublicKey")),
    ])
    .doc("Moves a context to another application: `{\"data\": null}`."),
    post("contexts", "query", "/admin-api/contexts/{context_id}/query")
        .json()
        .since(83)
        .args(&[
            CONTEXT_ID,
            req("method", Name, Body("method")),
            opt("args", JsonText, Body("argsJson")).or("{}"),
        ])
        .doc(
            "Runs a read-only `method` of the context's application for an account session: \
             `{\"data\": {\"returns\"}}`. ConflictError when the method is not declared \
             read-only (a write needs a warrant); a method error is a BadRequestError whose \
             body carries `type` and `data`.",
        ),
    post("contexts", "perform_presence_intent", "/admin-api/contexts/{context_id}/presence-intents")
        .json()
        .since(83)
        .args(&[
            CONTEXT_ID,
            req("seq", UInt, Body("seq")),
            req("sent_at_ms", UInt, Body("sentAtMs")),
            req("signature", Hex { min: 2, max: 1024 }, Body("signature")),
            req("author_proof", Hex { min: 2, max: 1 << 20 }, Body("authorProof")),
            // Always present: null clears the state (swift-sdk Rc83SurfaceTests).
            opt("state", Hex { min: 2, max: 1 << 15 }, Body("state")).or("null"),
        ])
        .doc(
            "Relays an account's signed presence (ephemeral) state in a context: `state` \
             (hex, None to clear), its sequence number and time, the device's signature and \
             its credential as `author_proof`.",
        ),
    // ---- blobs (1.6) ----
    put("blobs", "upload_blob", "/admin-api/blobs")
        .stream()
        .args(&[
            req("data", Upload, Local),
            BLOB_CONTEXT,
            opt("hash", Id, Query("hash")).kw(),
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
        .args(&[BLOB_ID, BLOB_CONTEXT, VERIFY])
        .doc(
            "Downloads a blob into one `bytes`, checked against the node's SHA-256 \
             (`verify=False` skips that check, not the length's). With `context_id` the node \
             may fetch it from peers of that context. For large blobs use \
             `download_blob_to_path` or `iter_blob`.",
        ),
    get("blobs", "download_blob_to_path", "/admin-api/blobs/{blob_id}")
        .output(Output::File)
        .args(&[BLOB_ID, req("path", LocalPath, Local), BLOB_CONTEXT, PROGRESS, VERIFY])
        .doc(
            "Downloads a blob into the file `path` in constant memory, checked against the \
             node's SHA-256 (unless `verify=False`). The file appears whole or not at all: the data goes to a \
             temporary file beside it, renamed once complete. `progress(done, total)` is \
             called as bytes arrive. Returns `{\"blob_id\", \"size\", \"path\"}`.",
        ),
    get("blobs", "iter_blob", "/admin-api/blobs/{blob_id}")
        .output(Output::Chunks)
        .args(&[
            BLOB_ID,
            BLOB_CONTEXT,
            opt("chunk_size", UInt, Local).or("1048576").kw(),
            VERIFY,
        ])
        .doc(
            "Downloads a blob as an iterator of `bytes` chunks of about `chunk_size` bytes, \
             in constant memory. The iterator has `size`, `mime_type` and `hash`, and \
             `close()`; it is also a context manager. The SHA-256 is checked when the last \
             chunk has arrived (unless `verify=False`).",
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
        .args(&[req("alias", Alias, Body("alias")), req("context_id", Id, Body("contextId"))])
        .doc("Names a context: `{\"data\": null}`. ConflictError when the alias exists."),
    post("aliases", "create_application_alias", "/admin-api/alias/create/application")
        .json()
        .args(&[
            req("alias", Alias, Body("alias")),
            req("application_id", Id, Body("applicationId")),
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
    // Device aliases: 0.11.0-rc.32 and later (swift-sdk
    // Fixtures/rc32-alias-list-device.json, Rc32SurfaceTests).
    post("aliases", "create_device_alias", "/admin-api/alias/create/device")
        .json()
        .since(32)
        .args(&[req("alias", Alias, Body("alias")), req("device_id", HexId, Body("deviceId"))])
        .doc("Names a device of the account: `{\"data\": null}`. ConflictError when the alias exists."),
    post("aliases", "delete_device_alias", "/admin-api/alias/delete/device/{alias}")
        .since(32)
        .args(&[ALIAS])
        .doc("Deletes a device alias: `{\"data\": null}`."),
    get("aliases", "list_device_aliases", "/admin-api/alias/list/device")
        .since(32)
        .doc("Device aliases: `{\"data\": {alias: device_id}}`."),
    post("aliases", "lookup_device_alias", "/admin-api/alias/lookup/device/{alias}")
        .since(32)
        .args(&[ALIAS])
        .doc("The device an alias names: `{\"data\": {\"value\": id or null}}`."),
    // ---- namespaces (1.8) ----
    get("namespaces", "list_namespaces", "/admin-api/namespaces")
        .args(&[OFFSET, LIMIT])
        .doc("Namespaces on the node: `{\"data\": [...]}` (100 by default)."),
    post("namespaces", "create_namespace", "/admin-api/namespaces")
        .json()
        .args(&[
            req("application_id", Id, Body("applicationId")),
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
            ADMITTERS,
            ADMITTER_ADDRS,
        ])
        .doc(
            "An open invitation to a namespace, valid `expiration_timestamp` seconds (the \
             node's default is one year): `{\"data\": {\"invitation\", \"groupName\"}}`, or \
             with `recursive=True` one per group, `{\"data\": {\"invitations\": [{\"groupId\", \
             \"invitation\", \"groupName\"}]}}`. `admitters` (account ids, 0.11.0-rc.29 and \
             later) and `admitter_addrs` (multiaddrs, rc.32 and later) name who may admit the \
             invitee; they are signed into the invitation, so pass it back as it came.",
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
            // Sent explicitly: an absent value made a restricted subgroup up to
            // rc.44 and an open one at rc.83 (core create_group_in_namespace.rs,
            // `restricted_from(None)`; swift-sdk Rc83SurfaceTests).
            opt("visibility", VISIBILITY, Body("visibility")).or("\"restricted\""),
        ])
        .doc(
            "Creates a group in a namespace, `visibility` \"open\" or \"restricted\" \
             (the default on every release: it is always sent, as nodes from 0.11.0-rc.83 \
             make a subgroup open when it is absent): `{\"data\": {\"groupId\"}}`.",
        ),
    post("namespaces", "admit_join", "/admin-api/namespaces/{namespace_id}/admit")
        .json()
        .since(29)
        .args(&[
            NAMESPACE_ID,
            req("invitation_json", JsonText, Body("invitation")),
            req("signed_op", Hex { min: 2, max: 1 << 20 }, Body("signedOp")),
        ])
        .doc(
            "Publishes a joiner's signed namespace operation (hex borsh `SignedNamespaceOp`) as \
             an admitter of its invitation, given as it came (a dict or its JSON text, sent \
             byte for byte): `{\"data\": {\"published\": bool}}`.",
        ),
    post("namespaces", "change_namespace_admin", "/admin-api/namespaces/{namespace_id}/admin")
        .json()
        .since(83)
        .args(&[NAMESPACE_ID, req("new_admin", HexId, Body("newAdmin")), ROOT_PROOF])
        .doc(
            "Hands the namespace's admin role to the account `new_admin` (root-guarded: \
             `root_proof` is a hex borsh owner operation signed by the account root when this \
             node does not hold it). ConflictError on a stale owner-op counter. Returns `{}`.",
        ),
    // ---- groups (1.9) ----
    post("groups", "create_group", "/admin-api/groups")
        .json()
        .args(&[
            req("application_id", Id, Body("applicationId")),
            opt("name", Name, Body("name")),
            opt("parent_group_id", HexId, Body("parentGroupId")),
            // Ids are derived from rc.83, which refuses the field.
            opt("group_id", HexId, Body("groupId")).kw().until(82),
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
        // The union body of rc.83 (core fixtures/wire/groups/tee_admission_policy.req.json).
        opt("mode", Choice(&["replica", "relay"]), Body("mode")).kw().since(83),
        opt("signed_release", JsonText, Body("signedRelease")).kw().since(83),
        ROOT_PROOF.kw(),
    ])
    .doc(
        "Sets which TEE measurements may join the group. The node wants at least one MRTD \
         unless `accept_mock` (and, from 0.11.0-rc.83, RTMR1 to RTMR3 too). From rc.83 a \
         policy may instead name a `signed_release` (`{\"allowedProfiles\", \
         \"minReleaseVersion\"}`) with empty measurement lists, a `mode` (\"replica\" or \
         \"relay\"), and a `root_proof`. Returns `{}`.",
    ),
    put(
        "groups",
        "set_tee_authoring_policy",
        "/admin-api/groups/{group_id}/settings/tee-authoring-policy",
    )
    .json()
    .since(83)
    .args(&[GROUP_ID, req("allowed_mrtd", StrList, Body("allowedMrtd")), ROOT_PROOF])
    .doc("Sets which TEE images may author in the group (root-guarded). Returns `{}`."),
    delete(
        "groups",
        "delete_tee_authoring_policy",
        "/admin-api/groups/{group_id}/settings/tee-authoring-policy",
    )
    .json()
    .since(83)
    .args(&[GROUP_ID, ROOT_PROOF])
    .doc("Removes the group's TEE authoring policy (root-guarded). Returns `{}`."),
    post("groups", "transfer_group_ownership", "/admin-api/groups/{group_id}/transfer-ownership")
        .json()
        .since(83)
        .args(&[GROUP_ID, req("new_owner", HexId, Body("newOwner")), ROOT_PROOF])
        .doc(
            "Hands the group's ownership to the account `new_owner`, an admin of it \
             (root-guarded; ConflictError on a stale owner-op counter). Returns `{}`.",
        ),
    post("groups", "owner_delete_group", "/admin-api/groups/{group_id}/owner-delete")
        .json()
        .since(83)
        .args(&[GROUP_ID, ROOT_PROOF])
        .doc("Deletes the group as its owner (root-guarded). Returns `{}`."),
    post(
        "groups",
        "seal_for_account",
        "/admin-api/groups/{group_id}/accounts/{account_id}/seal",
    )
    .json()
    .since(83)
    .args(&[
        GROUP_ID,
        req("account_id", HexId, Path),
        req("plaintext", Hex { min: 2, max: 1 << 20 }, Body("plaintext")),
    ])
    .doc(
        "Encrypts `plaintext` (hex) to a member account's root key: `{\"data\": \
         {\"accountRootEpoch\", \"ephemeralPublicKey\", \"nonce\", \"ciphertext\"}}`.",
    ),
    get(
        "groups",
        "get_context_intent_relay",
        "/admin-api/groups/{group_id}/context-intents",
    )
    .since(83)
    .args(&[GROUP_ID, opt("author", HexId, Query("author"))])
    .doc(
        "Whether this node creates contexts in the group for other accounts (delegated \
         creation): `{\"data\": {\"executorAccount\", \"executorKey\", \"groupId\", \
         \"canCreateOnBehalf\", \"authorMayCreate\"?}}`.",
    ),
    post(
        "groups",
        "perform_context_intent",
        "/admin-api/groups/{group_id}/context-intents",
    )
    .json()
    .since(83)
    .args(&[
        GROUP_ID,
        req("warrant", Hex { min: 2, max: 1 << 20 }, Body("warrant")),
        req("author_proof", Hex { min: 2, max: 1 << 20 }, Body("authorProof")),
        opt("init_args", JsonText, Body("initArgs")).or("{}"),
    ])
    .doc(
        "Has the node create a context in the group for the warrant's author (a creation \
         warrant, hex, and the author's device credential as `author_proof`).",
    ),
    get(
        "groups",
        "get_governance_intent_relay",
        "/admin-api/groups/{group_id}/governance-intents",
    )
    .since(83)
    .args(&[GROUP_ID])
    .doc(
        "Whether this node relays governance operations in the group for other accounts: \
         `{\"data\": {\"executorAccount\", \"executorKey\", \"groupId\", \"canActOnBehalf\"}}`.",
    ),
    post(
        "groups",
        "perform_governance_intent",
        "/admin-api/groups/{group_id}/governance-intents",
    )
    .json()
    .since(83)
    .args(&[
        GROUP_ID,
        req("warrant", Hex { min: 2, max: 1 << 20 }, Body("warrant")),
        req("author_proof", Hex { min: 2, max: 1 << 20 }, Body("authorProof")),
        req("op", Hex { min: 2, max: 1 << 20 }, Body("op")),
    ])
    .doc("Has the node publish a governance operation (`op`, hex borsh) for the warrant's author."),
    post("groups", "upgrade_group", "/admin-api/groups/{group_id}/upgrade")
        .json()
        .args(&[
            GROUP_ID,
            req("target_application_id", Id, Body("targetApplicationId")),
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
        .args(&[
            GROUP_ID,
            opt("expiration_timestamp", UInt, Body("expirationTimestamp")),
            ADMITTERS,
            ADMITTER_ADDRS,
        ])
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
            req("context_id", Id, Body("contextId")),
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
    // Pairing moved off the namespace at rc.28, with new bodies (swift-sdk
    // Rc29SurfaceTests; core fixtures/wire/account/pair_init.req.json;
    // primitives `PairCompleteApiRequest`). Newest form first.
    post("accounts", "pair_device_init", "/admin-api/account/pair-init")
        .json()
        .since(28)
        .args(&[
            req("account_root_public_key", HexId, Body("accountRootPublicKey")),
            req("namespaces", HexIdList, Body("namespaces")),
            opt("account_namespace", HexId, Body("accountNamespace")),
        ])
        .doc(
            "Starts pairing this node as a device of the account whose root key is \
             `account_root_public_key`, for `namespaces` (64-hex ids; `account_namespace` \
             names the account's own namespace). 0.11.0-rc.28 and later, the official client \
             0.9.0's signature. Returns `{\"data\": {\"accountId\", \"deviceId\", \
             \"kemPublicKey\", \"signPublicKey\", \"statement\", \"confirmationCode\"}}`.",
        ),
    post("accounts", "pair_device_init", "/admin-api/namespaces/{namespace_id}/account/pair-init")
        .json()
        .until(27)
        .args(&[
            NAMESPACE_ID,
            req("account_root_public_key", HexId, Body("accountRootPublicKey")),
            opt("account_nonce", IgnoredText, Nowhere),
        ])
        .doc(
            "Starts pairing this node as a device of an account, in one namespace (up to \
             0.11.0-rc.27, the official client 0.6.31's signature): `{\"data\": {\"accountId\", \
             \"deviceId\", \"kemPublicKey\", \"signPublicKey\", \"statement\", \
             \"confirmationCode\"}}`. `account_nonce` is accepted for compatibility and not \
             sent (the node has no such field).",
        ),
    post("accounts", "pair_device_complete", "/admin-api/account/pair-complete")
        .json()
        .since(28)
        .args(&[
            req("device_id", HexId, Body("deviceId")),
            req("kem_public_key", HexId, Body("kemPublicKey")),
            req("sign_public_key", HexId, Body("signPublicKey")),
            req("statement", Hex { min: 128, max: 128 }, Body("statement")),
            req("confirmation_code", Name, Body("confirmationCode")),
            opt("applications", IdList, Body("applications")).or("[]"),
        ])
        .doc(
            "Completes pairing on the account's node with what `pair_device_init` printed, \
             linking the device for `applications` (ids; every application when empty). \
             0.11.0-rc.28 and later. Returns `{\"data\": {\"accountId\", \"deviceId\", \
             \"keyDelivered\", \"confirmationCode\", ...}}`.",
        ),
    post(
        "accounts",
        "pair_device_complete",
        "/admin-api/namespaces/{namespace_id}/account/pair-complete",
    )
    .json()
    .until(27)
    .args(&[
        NAMESPACE_ID,
        req("device_id", HexId, Body("deviceId")),
        req("kem_public_key", HexId, Body("kemPublicKey")),
        req("sign_public_key", HexId, Body("signPublicKey")),
        req("statement", Hex { min: 128, max: 128 }, Body("statement")),
        req("confirmation_code", Name, Body("confirmationCode")),
    ])
    .doc(
        "Completes pairing in one namespace (up to 0.11.0-rc.27, the official client \
         0.6.31's signature): `{\"data\": {\"accountId\", \"deviceId\", \"keyDelivered\", \
         \"confirmationCode\"}}`.",
    ),
    get("accounts", "list_account_devices", "/admin-api/account/devices")
        .since(28)
        .doc(
            "The devices of this node's account: `{\"devices\": [{\"deviceId\", \
             \"signingKey\", \"isSelf\", \"revoked\", \"applications\", \"namespaces\", \
             \"label\"?}]}` (no `data` envelope).",
        ),
    get("accounts", "list_account_applications", "/admin-api/account/applications")
        .since(28)
        .doc(
            "The applications of this node's account and their namespaces: \
             `{\"applications\": [{\"applicationId\", \"namespaces\"}]}` (no `data` envelope).",
        ),
    post("accounts", "relink_device", "/admin-api/account/devices/{device_id}/relink")
        .json()
        .since(28)
        .args(&[
            req("device_id", HexId, Path),
            opt("applications", IdList, Body("applications")).or("[]"),
        ])
        .doc(
            "Links a device of the account into the namespaces of `applications` (ids; all of \
             its scope when empty): `{\"data\": {\"accountId\", \"deviceId\", \
             \"applications\", \"linkedIn\", \"skipped\"}}`.",
        ),
    put("accounts", "set_device_scope", "/admin-api/account/devices/{device_id}/scope")
        .json()
        .since(41)
        .args(&[req("device_id", HexId, Path), req("scope", DeviceScope, Body("scope"))])
        .doc(
            "Sets which applications a device of the account may act for: `\"all\"`, or a \
             list of application ids (sent as `{\"only\": [...]}`). Returns the relink \
             result with `descoped`.",
        ),
    put("accounts", "set_device_label", "/admin-api/account/devices/{device_id}/label")
        .json()
        .since(41)
        .args(&[req("device_id", HexId, Path), req("label", Name, Body("label"))])
        .doc(
            "Names a device of the account: `{\"data\": {\"accountId\", \"deviceId\", \
             \"label\", \"labelEpoch\"}}`. RateLimitError when renamed too recently.",
        ),
    post("accounts", "sign_with_root", "/admin-api/account/sign-with-root")
        .json()
        .since(44)
        .args(&[
            req(
                "domain",
                Choice(&["mdma.account-link", "mdma.account-login", "mdma.account-recovery"]),
                Body("domain"),
            ),
            req("payload", Hex { min: 2, max: 8192 }, Body("payload")),
        ])
        .doc(
            "Has the account root this node holds sign `payload` (hex, at most 4096 bytes) \
             under `domain`: `{\"data\": {\"rootPublicKey\", \"signature\" (base64), \
             \"accountId\"}}`.",
        ),
    post(
        "accounts",
        "link_device",
        "/admin-api/namespaces/{namespace_id}/account/link-device",
    )
    .json()
    .since(83)
    .args(&[
        NAMESPACE_ID,
        req("credential", Hex { min: 2, max: 1 << 16 }, Body("credential")),
        req("scope", Hex { min: 2, max: 1 << 16 }, Body("scope")),
    ])
    .doc(
        "Binds a device credential (hex borsh, minted elsewhere) into a namespace with its \
         scope (hex borsh): `{\"data\": {\"accountId\", \"deviceId\", \"alreadyBound\"}}`.",
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
            opt("application_id", Id, Body("applicationId")),
            // Sent only when given (swift-sdk/kotlin-sdk Rc83 tests).
            opt("bind_node_key", Bool, Body("bindNodeKey")).kw().since(83),
            opt("bind_transport_key", Bool, Body("bindTransportKey")).kw().since(83),
            opt("include_collateral", Bool, Body("includeCollateral")).kw().since(83),
        ])
        .doc(
            "A TDX quote over `nonce` (32 bytes of hex): `{\"data\": {\"quoteB64\", \"quote\"}}`. \
             Public. A node without TDX answers 501 (ServerError). From 0.11.0-rc.83 \
             `bind_node_key` / `bind_transport_key` bind a key into the report data \
             (`boundPublicKey` / `transportPublicKey` in the answer) and `include_collateral` \
             adds the DCAP collateral. The quote comes back unverified: a sealed connection \
             (`create_connection(..., tee=TeePolicy(...), sealed=True)`) verifies it, and \
             `TeePolicy.verify_quote` does on its own.",
        ),
    post("tee", "tee_registration_attest", "/admin-api/tee/registration-attest")
        .json()
        .since(83)
        .args(&[req("nonce", HexId, Body("nonce"))])
        .doc("A TDX quote for registering this node, over `nonce` (32 bytes of hex)."),
    get("tee", "get_tee_release", "/admin-api/tee/release")
        .since(83)
        .doc(
            "The mero-tee release this node's image comes from: `{\"data\": {\"bundle\", \
             \"publishedMrtds\", \"version\"}}` (core fixtures/wire/tee/release.res.json).",
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
            req("context_id", Id, Body("contextId")),
            req("method", Name, Body("method")),
            opt("args", JsonText, Body("argsJson")).or("{}"),
            opt("executor_public_key", IgnoredId, Nowhere),
        ])
        .doc(
            "Calls `method` of the application in a context. `args` is a JSON string or any \
             JSON-serialisable value. Returns the JSON-RPC envelope as the node sent it, \
             errors included, as the official client did: `{\"jsonrpc\", \"id\", \
             \"result\": {\"output\"}}`, or `{\"jsonrpc\", \"id\", \"error\": {\"type\", \
             \"data\"}}` (not raised; `call` raises RpcError instead). Raises only when the \
             call fails at the HTTP level or on the way. `executor_public_key` is accepted \
             for compatibility: the node always executes as its own identity in the context.",
        ),
    rpc("call", "execute", Output::RpcOutput)
        .args(&[
            req("context_id", Id, Body("contextId")),
            req("method", Name, Body("method")),
            opt("args", JsonText, Body("argsJson")).or("{}"),
        ])
        .doc(
            "Calls `method` of the application in a context and returns its output alone \
             (`result.output`). A JSON-RPC error raises RpcError.",
        ),
    rpc("sync_status", "sync_status", Output::RpcResult)
        .args(&[req("context_id", Id, Body("contextId"))])
        .doc(
            "Sync state of a context: `{\"contextId\", \"isInitialized\", \"syncState\", \
             \"failureCount\"}`. A JSON-RPC error raises RpcError.",
        ),
    rpc("set_ephemeral", "set_ephemeral", Output::RpcResult)
        .args(&[
            req("context_id", Id, Body("contextId")),
            req("state", Bytes, Body("state")).max(16 * 1024),
        ])
        .doc(
            "Publishes this node's ephemeral (presence) state in a context, at most 16384 \
             bytes. Returns `{}`; a JSON-RPC error raises RpcError.",
        ),
    // ---- delegated access (intents) ----
    // node-releases.md 1.2 and 3.2; core crates/server/src/admin/handlers/context/
    // {intent_relay,perform_intent,warrant_nonce}.rs. The intents routes are
    // in core's endpoints.json@08c2fcc8 (rc.28/29); the warrant-nonce routes
    // only after rc.83, which answers 404 (swift-sdk Rc83SurfaceTests).
    get("intents", "get_intent_relay", "/admin-api/contexts/{context_id}/intents")
        .since(29)
        .args(&[CONTEXT_ID])
        .doc(
            "What a warrant for this relay must name: `{\"data\": {\"executorAccount\", \
             \"executorKey\", \"canAuthorOnBehalf\", \"groupId\", \"releaseBytecodeId\", \
             \"releaseVersion\", \"grantedOnGroupId\"?}}`. NotFoundError when the context is in \
             no group or the node holds no identity in it.",
        ),
    post("intents", "perform_intent", "/admin-api/contexts/{context_id}/intents")
        .json()
        .since(29)
        .args(&[
            CONTEXT_ID,
            req("method", Name, Body("method")),
            req("args", JsonText, Body("argsJson")),
            req("warrant", Hex { min: 2, max: 65_536 }, Body("warrant")),
            req("author_proof", Hex { min: 2, max: 1 << 20 }, Body("authorProof")),
        ])
        .doc(
            "Has the relay run `method(args)` in a context for the account whose device signed \
             `warrant` (`sign_warrant`); `author_proof` is that device's credential (hex). \
             `args` is a JSON string or any JSON-serialisable value: the relay hashes it with \
             its keys sorted, as `sign_warrant` did. Returns `{\"data\": {\"returns\", ...}}`; \
             a refused warrant raises BadRequestError (400) or PermissionDeniedError (403).",
        ),
    get(
        "intents",
        "get_warrant_nonce",
        "/admin-api/contexts/{context_id}/warrant-nonce/{device_key}",
    )
    .since(84)
    .args(&[CONTEXT_ID, req("device_key", Id, Path)])
    .doc(
        "Where an author device stands in a context's warrant-nonce ledger (node credentials): \
         `{\"data\": {\"seen\", \"highWaterNonce\", \"nextNonce\", \"windowWidth\", ...}}`. \
         Newer than rc.83 (which answers 404); see `next_warrant_nonce`.",
    ),
    post("intents", "get_own_warrant_nonce", "/admin-api/contexts/{context_id}/warrant-nonce")
        .json()
        .since(84)
        .args(&[
            CONTEXT_ID,
            req("author_proof", Hex { min: 2, max: 1 << 20 }, Body("authorProof")),
        ])
        .doc(
            "The same ledger read for the device `author_proof` certifies, asked by its own \
             account (a signed connection or an account session). Newer than rc.83.",
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
    fn entries_sharing_a_name_serve_different_releases() {
        let mut seen = HashSet::new();
        for (i, e) in ENDPOINTS.iter().enumerate() {
            if !seen.insert(e.name) {
                continue;
            }
            let forms: Vec<&Endpoint> =
                ENDPOINTS[i..].iter().filter(|f| f.name == e.name).collect();
            for (a, b) in forms.iter().zip(forms.iter().skip(1)) {
                // Newest first, and no release served twice.
                assert!(
                    b.releases.until < a.releases.since,
                    "{}: forms overlap or are not newest first",
                    e.name
                );
                assert_eq!(a.area, b.area, "{}", e.name);
                assert_eq!(a.output, b.output, "{}", e.name);
            }
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
