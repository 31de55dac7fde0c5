//! Everything the node remembers, held in memory behind one lock.

use std::collections::BTreeMap;
use std::sync::{Mutex, MutexGuard};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::Serialize;

use crate::ids::{HexId, Id};
use crate::kv::KvStore;
use crate::middleware::{FaultTable, RequestLog};
use crate::Config;

/// Shared by every handler and middleware.
pub struct AppState {
    pub config: Config,
    node: Mutex<Node>,
    pub faults: FaultTable,
    pub log: RequestLog,
    /// The auth service, in embedded auth mode.
    pub auth: Option<crate::auth::Auth>,
}

impl AppState {
    pub fn new(config: Config) -> Self {
        let log = RequestLog::new(config.max_logged_requests);
        let auth = config.auth.clone().map(crate::auth::Auth::new);
        Self {
            config,
            node: Mutex::new(Node::default()),
            faults: FaultTable::default(),
            log,
            auth,
        }
    }

    /// The node's state. Never held across an `.await`.
    pub fn node(&self) -> MutexGuard<'_, Node> {
        lock(&self.node)
    }

    /// Forget everything: state, faults and the request log.
    pub fn reset(&self) {
        *self.node() = Node::default();
        self.faults.clear();
        self.log.clear();
        if let Some(auth) = &self.auth {
            auth.reset();
        }
    }
}

/// Locks a mutex, ignoring poisoning (a panicked holder leaves plain data).
pub fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

pub fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// This node's account, device and signing key. Minted the first time the
/// node takes part in a namespace, then stable.
#[derive(Clone, Copy, Debug)]
pub struct NodeIdentity {
    pub account_id: Id,
    pub device_id: Id,
    /// The key contexts report as `memberPublicKey`.
    pub public_key: Id,
    pub account_root_public_key: Id,
}

pub struct Node {
    pub identity: Option<NodeIdentity>,
    pub peer_id: String,
    pub apps: BTreeMap<Id, App>,
    /// Content-addressed blobs (application bytecode lands here too).
    pub blobs: BTreeMap<Id, Blob>,
    pub namespaces: BTreeMap<Id, Namespace>,
    pub contexts: BTreeMap<Id, Context>,
}

impl Default for Node {
    fn default() -> Self {
        Self {
            identity: None,
            peer_id: random_peer_id(),
            apps: BTreeMap::new(),
            blobs: BTreeMap::new(),
            namespaces: BTreeMap::new(),
            contexts: BTreeMap::new(),
        }
    }
}

/// A libp2p ed25519 peer id: base58 of the identity multihash of the
/// protobuf-encoded public key, which always starts `12D3KooW`.
fn random_peer_id() -> String {
    let mut bytes = vec![0x00, 0x24, 0x08, 0x01, 0x12, 0x20];
    bytes.extend_from_slice(&Id::random().0);
    bs58::encode(bytes).into_string()
}

pub struct Blob {
    pub data: axum::body::Bytes,
}

impl Blob {
    pub fn size(&self) -> u64 {
        self.data.len() as u64
    }
}

/// An installed application row.
/// core: crates/node/primitives/src/client/application/install.rs (`install_raw_wasm`).
#[derive(Clone, Debug)]
pub struct App {
    pub id: Id,
    pub bytecode: Id,
    pub size: u64,
    pub source: String,
    pub metadata: Vec<u8>,
    /// As stored: `"unknown"` when the install named none.
    pub package: String,
    /// As stored: `"0.0.0"` when the install named none.
    pub version: String,
}

/// The wire form of an application.
/// core: crates/primitives/src/application.rs (`Application`, `with_bundle_info`).
#[derive(Serialize)]
pub struct ApplicationJson<'a> {
    pub id: Id,
    pub blob: ApplicationBlobJson,
    pub size: u64,
    pub source: &'a str,
    pub metadata: &'a [u8],
    #[serde(skip_serializing_if = "str::is_empty")]
    pub package: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<&'a str>,
}

#[derive(Serialize)]
pub struct ApplicationBlobJson {
    pub bytecode: Id,
    pub compiled: Id,
}

impl App {
    pub fn to_json(&self) -> ApplicationJson<'_> {
        ApplicationJson {
            id: self.id,
            blob: ApplicationBlobJson {
                bytecode: self.bytecode,
                compiled: Id::ZERO,
            },
            size: self.size,
            source: &self.source,
            metadata: &self.metadata,
            package: &self.package,
            version: self.semver(),
        }
    }

    /// The stored version if it is semver; the node drops anything else.
    pub fn semver(&self) -> Option<&str> {
        is_semver(&self.version).then_some(self.version.as_str())
    }
}

/// `major.minor.patch` with an optional `-pre`/`+build` suffix.
/// core: crates/primitives/src/application.rs (`Version::new`).
pub fn is_semver(s: &str) -> bool {
    let core = s.split(['-', '+']).next().unwrap_or(s);
    let mut parts = core.split('.');
    let numeric =
        |p: Option<&str>| p.is_some_and(|x| !x.is_empty() && x.bytes().all(|b| b.is_ascii_digit()));
    numeric(parts.next())
        && numeric(parts.next())
        && numeric(parts.next())
        && parts.next().is_none()
}

/// Compares two version strings the way the node picks "latest":
/// semver beats non-semver, otherwise plain string order.
/// core: crates/node/primitives/src/client/application/query.rs (`get_latest_version`).
pub fn version_is_newer(candidate: &str, current: &str) -> bool {
    match (parse_semver(candidate), parse_semver(current)) {
        (Some(a), Some(b)) => a > b,
        (Some(_), None) => true,
        (None, Some(_)) => false,
        (None, None) => candidate > current,
    }
}

/// A rough semver key: numeric core, then "release sorts after pre-release",
/// then the pre-release string. Build metadata is ignored.
fn parse_semver(s: &str) -> Option<(u64, u64, u64, bool, String)> {
    if !is_semver(s) {
        return None;
    }
    let without_build = s.split('+').next().unwrap_or(s);
    let (core, pre) = match without_build.split_once('-') {
        Some((core, pre)) => (core, Some(pre)),
        None => (without_build, None),
    };
    let mut parts = core.split('.').map(|p| p.parse::<u64>().ok());
    let (major, minor, patch) = (parts.next()??, parts.next()??, parts.next()??);
    Some((
        major,
        minor,
        patch,
        pre.is_none(),
        pre.unwrap_or_default().to_owned(),
    ))
}

/// A namespace (root group). This node is always its only member, an Admin.
#[derive(Clone, Debug)]
pub struct Namespace {
    pub id: Id,
    pub app_key: Id,
    pub target_application_id: Id,
    pub created_at: u64,
    pub name: Option<String>,
}

/// A context running the kv-store behaviour.
#[derive(Debug)]
pub struct Context {
    pub id: Id,
    pub application_id: Id,
    /// The namespace the context is registered in; `None` once that
    /// namespace was deleted.
    pub group: Option<Id>,
    pub service_name: Option<String>,
    pub name: Option<String>,
    /// The node's identity in this context.
    pub member: Id,
    /// Set by `leave`, cleared by `join`.
    pub left: bool,
    pub kv: KvStore,
    pub root_hash: Id,
    pub dag_head: Id,
}

impl Context {
    pub fn new(id: Id, application_id: Id, group: Id, member: Id) -> Self {
        let root_hash = Id::digest(&[b"calimero-testnode:init", &id.0]);
        Self {
            id,
            application_id,
            group: Some(group),
            service_name: None,
            name: None,
            member,
            left: false,
            kv: KvStore::default(),
            root_hash,
            dag_head: Id::digest(&[b"calimero-testnode:delta", &root_hash.0]),
        }
    }

    /// A write happened: new state hash, new DAG head.
    pub fn record_write(&mut self, method: &str, args: &[u8]) {
        self.root_hash = Id::digest(&[&self.root_hash.0, method.as_bytes(), args]);
        self.dag_head = Id::digest(&[b"calimero-testnode:delta", &self.root_hash.0]);
    }

    /// All members (the identity row goes away on leave).
    pub fn identities(&self) -> Vec<Id> {
        if self.left {
            Vec::new()
        } else {
            vec![self.member]
        }
    }

    /// Identities this node can act as: none once left, or once the
    /// namespace (and with it the node's namespace identity) is gone.
    pub fn owned_identities(&self) -> Vec<Id> {
        if self.left || self.group.is_none() {
            Vec::new()
        } else {
            vec![self.member]
        }
    }

    /// Bytes of state, for `storage` and `usage`.
    pub fn storage_bytes(&self) -> u64 {
        self.kv.size_in_bytes()
    }
}

/// The wire form of a context; `groupId` only in listings (`ContextWithGroup`).
/// core: crates/primitives/src/context.rs (`Context`),
/// crates/server/primitives/src/admin/mod.rs (`ContextWithGroup`).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ContextJson {
    pub id: Id,
    pub application_id: Id,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service_name: Option<String>,
    pub context_state_hash: Id,
    pub dag_heads: Vec<[u8; 32]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub application_version: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group_id: Option<HexId>,
}

impl Node {
    /// Mints the node identity if it has none yet.
    pub fn ensure_identity(&mut self) -> NodeIdentity {
        *self.identity.get_or_insert_with(|| NodeIdentity {
            account_id: Id::random(),
            device_id: Id::random(),
            public_key: Id::random(),
            account_root_public_key: Id::random(),
        })
    }

    pub fn context_json(&self, context: &Context, with_group: bool) -> ContextJson {
        ContextJson {
            id: context.id,
            application_id: context.application_id,
            service_name: context.service_name.clone(),
            context_state_hash: context.root_hash,
            dag_heads: vec![context.dag_head.0],
            application_version: self
                .apps
                .get(&context.application_id)
                .map(|app| app.version.clone()),
            name: context.name.clone(),
            group_id: if with_group {
                context.group.map(HexId)
            } else {
                None
            },
        }
    }

    pub fn contexts_in(&self, namespace: Id) -> impl Iterator<Item = &Context> {
        self.contexts
            .values()
            .filter(move |c| c.group == Some(namespace))
    }

    /// The namespace, if this node holds an identity in it (it holds one in
    /// every namespace it created).
    pub fn namespace(&self, id: &Id) -> Option<&Namespace> {
        self.namespaces.get(id)
    }
}
