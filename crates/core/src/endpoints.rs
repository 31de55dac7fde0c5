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
}

impl Output {
    /// The keys to descend into the decoded body to reach what is returned.
    pub fn select(self) -> &'static [&'static str] {
        match self {
            Output::Json | Output::RpcEnvelope => &[],
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
    // ---- namespaces (1.8), the part contexts need ----
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
