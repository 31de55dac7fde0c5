//! Everything the node remembers, held in memory behind one lock.

use std::collections::BTreeMap;
use std::sync::{Mutex, MutexGuard};
use std::time::{SystemTime, UNIX_EPOCH};

use axum::body::Bytes;
use serde::{Deserialize, Serialize};

use crate::ids::{HexId, Id};
use crate::kv::KvStore;
use crate::middleware::{FaultTable, RequestLog};
use crate::routes::aliases::AliasName;
use crate::Config;

/// Shared by every handler and middleware.
pub struct AppState {
    pub config: Config,
    node: Mutex<Node>,
    pub faults: FaultTable,
    pub log: RequestLog,
    /// The auth service, in embedded auth mode.
    pub auth: Option<crate::auth::Auth>,
    /// Live events (`/sse`, `/ws`).
    pub events: crate::events::EventHub,
    /// The sealed transport (`--transport-secret`).
    pub sealed: Option<crate::sealed::SealedNode>,
    /// The node's own registry (rc.31+ installs by coordinates): bundle
    /// archives by (package, version).
    registry: Mutex<BTreeMap<(String, String), Bytes>>,
}

impl AppState {
    pub fn new(config: Config) -> Self {
        let log = RequestLog::new(config.max_logged_requests);
        let sealed = config
            .transport_secret
            .map(|secret| crate::sealed::SealedNode::new(secret, config.sealed_required));
        let auth = config
            .auth
            .clone()
            .map(|auth| crate::auth::Auth::new(auth, config.release));
        let state = Self {
            config,
            node: Mutex::new(Node::default()),
            faults: FaultTable::default(),
            log,
            auth,
            events: crate::events::EventHub::default(),
            sealed,
            registry: Mutex::new(BTreeMap::new()),
        };
        state.seed_registry();
        state
    }

    /// The packages published from the start (`Config::published`), each a
    /// bundle of the stand-in wasm (with the kv-store ABI).
    fn seed_registry(&self) {
        let mut registry = lock(&self.registry);
        registry.clear();
        for (package, version) in &self.config.published {
            let wasm = crate::bundle::stand_in_wasm(package, version, true);
            let archive = crate::bundle::write(
                package,
                version,
                &wasm,
                Some(crate::bundle::TESTNODE_SIGNER),
            );
            let _ = registry.insert((package.clone(), version.clone()), Bytes::from(archive));
        }
    }

    /// Publishes (or replaces) `package@version` in the node's registry.
    pub fn publish(&self, package: String, version: String, archive: Bytes) {
        let _ = lock(&self.registry).insert((package, version), archive);
    }

    /// What the registry holds at `package@version`.
    pub fn registry_bundle(&self, package: &str, version: &str) -> Option<Bytes> {
        lock(&self.registry)
            .get(&(package.to_owned(), version.to_owned()))
            .cloned()
    }

    /// Every published (package, version).
    pub fn published(&self) -> Vec<(String, String)> {
        lock(&self.registry).keys().cloned().collect()
    }

    /// The node's state. Never held across an `.await`.
    pub fn node(&self) -> MutexGuard<'_, Node> {
        lock(&self.node)
    }

    /// Forget everything: state, faults, the request log, and what was
    /// published after the start.
    pub fn reset(&self) {
        *self.node() = Node::default();
        self.seed_registry();
        self.faults.clear();
        self.log.clear();
        self.events.reset();
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

pub fn now_millis() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
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
    /// Root blobs by id (application bytecode lands here too).
    pub blobs: BTreeMap<Id, Blob>,
    /// The chunks of the root blobs, by chunk id.
    pub chunks: BTreeMap<Id, Chunk>,
    /// Namespaces and their subgroups, by group id.
    pub groups: BTreeMap<Id, Group>,
    /// Invitations this node signed, by `secret_salt`.
    pub invitations: BTreeMap<Id, IssuedInvitation>,
    /// Pairing offers this node made (`pair-init`), by device id.
    pub pair_offers: BTreeMap<Id, PairOffer>,
    /// Extra devices paired to this node's account, per namespace:
    /// (device id, signing key).
    pub paired_devices: BTreeMap<Id, Vec<(Id, Id)>>,
    /// Devices certified for this node's account (rc.28+ account-level
    /// pairing), by device id; this node's own device is not among them.
    pub account_devices: BTreeMap<Id, AccountDevice>,
    /// This node's own device label (rc.41 `PUT /account/devices/{id}/label`).
    pub own_label: Option<(String, u64)>,
    pub contexts: BTreeMap<Id, Context>,
    pub context_aliases: BTreeMap<AliasName, Id>,
    pub application_aliases: BTreeMap<AliasName, Id>,
    /// Device aliases (rc.32+), values are 64-hex device ids.
    pub device_aliases: BTreeMap<AliasName, Id>,
    /// Warrant nonces spent, per (context, author device key); creation
    /// warrants spend in the new context's ledger, governance warrants in
    /// a per-group one (core `creation_gate.rs`, `delegation_gate.rs`).
    pub warrant_nonces: BTreeMap<(Id, [u8; 32]), std::collections::BTreeSet<u64>>,
    /// The highest presence `seq` relayed, per (context, author device key).
    pub presence_seq: BTreeMap<(Id, [u8; 32]), u64>,
}

/// A device of this node's account, other than the node's own.
#[derive(Clone, Debug)]
pub struct AccountDevice {
    pub signing_key: Id,
    /// The applications the device is scoped to; empty = all.
    pub applications: Vec<Id>,
    /// The namespaces the device is linked into.
    pub namespaces: Vec<Id>,
    pub revoked: bool,
    pub label: Option<String>,
    pub label_epoch: u64,
}

impl Default for Node {
    fn default() -> Self {
        Self {
            identity: None,
            peer_id: random_peer_id(),
            apps: BTreeMap::new(),
            blobs: BTreeMap::new(),
            chunks: BTreeMap::new(),
            groups: BTreeMap::new(),
            invitations: BTreeMap::new(),
            pair_offers: BTreeMap::new(),
            paired_devices: BTreeMap::new(),
            account_devices: BTreeMap::new(),
            own_label: None,
            contexts: BTreeMap::new(),
            context_aliases: BTreeMap::new(),
            application_aliases: BTreeMap::new(),
            device_aliases: BTreeMap::new(),
            warrant_nonces: BTreeMap::new(),
            presence_seq: BTreeMap::new(),
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

/// The piece size the node's blob store cuts content into.
/// core: crates/store/blobs/src/lib.rs (`CHUNK_SIZE`).
pub const BLOB_CHUNK_SIZE: usize = 1 << 20;

/// A stored root blob. Its id is not the content hash: the store cuts the
/// content into 1 MiB chunks, each stored under the SHA-256 of its bytes,
/// and the root id is the SHA-256 of the concatenated chunk ids (so an empty
/// blob's id is the SHA-256 of nothing). `hash` is the SHA-256 of the whole
/// content (what `?hash=` is checked against, and the ETag).
/// core: crates/store/blobs/src/lib.rs (`put_sized`, `persist_ref`, `delete`).
pub struct Blob {
    pub data: Bytes,
    pub hash: Id,
    pub chunks: Vec<Id>,
    /// One per add of the same content; a delete releases one.
    pub refs: u32,
}

impl Blob {
    pub fn size(&self) -> u64 {
        self.data.len() as u64
    }
}

/// A chunk of one or more root blobs: a view into a root's bytes (no copy),
/// addressable by its own id like any blob, never listed.
pub struct Chunk {
    pub data: Bytes,
    pub refs: u32,
}

/// Computes a blob's ids while its bytes stream in. Uses ring's SHA-256
/// (assembly, so fast even in the debug builds the tests run: a 512 MiB
/// upload is hashed twice over).
pub struct BlobDigest {
    file: ring::digest::Context,
    chunk: ring::digest::Context,
    chunk_len: usize,
    chunks: Vec<Id>,
}

impl Default for BlobDigest {
    fn default() -> Self {
        Self {
            file: ring::digest::Context::new(&ring::digest::SHA256),
            chunk: ring::digest::Context::new(&ring::digest::SHA256),
            chunk_len: 0,
            chunks: Vec::new(),
        }
    }
}

fn digest_id(digest: &ring::digest::Digest) -> Id {
    let mut out = [0u8; 32];
    out.copy_from_slice(digest.as_ref());
    Id(out)
}

impl BlobDigest {
    pub fn update(&mut self, mut bytes: &[u8]) {
        self.file.update(bytes);
        while !bytes.is_empty() {
            let take = bytes.len().min(BLOB_CHUNK_SIZE - self.chunk_len);
            self.chunk.update(&bytes[..take]);
            self.chunk_len += take;
            bytes = &bytes[take..];
            if self.chunk_len == BLOB_CHUNK_SIZE {
                self.close_chunk();
            }
        }
    }

    fn close_chunk(&mut self) {
        let fresh = ring::digest::Context::new(&ring::digest::SHA256);
        let digest = std::mem::replace(&mut self.chunk, fresh).finish();
        self.chunks.push(digest_id(&digest));
        self.chunk_len = 0;
    }

    /// (root id, content hash, chunk ids).
    pub fn finish(mut self) -> (Id, Id, Vec<Id>) {
        if self.chunk_len > 0 {
            self.close_chunk();
        }
        let hash = digest_id(&self.file.finish());
        let mut root = ring::digest::Context::new(&ring::digest::SHA256);
        for chunk in &self.chunks {
            root.update(&chunk.0);
        }
        (digest_id(&root.finish()), hash, self.chunks)
    }

    /// The digest of `data` in one go.
    pub fn of(data: &[u8]) -> (Id, Id, Vec<Id>) {
        let mut digest = Self::default();
        digest.update(data);
        digest.finish()
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
    /// The bundle manifest's `appVersion`, for an `.mpk` install (what a
    /// namespace reports as `appVersion`); `None` for a raw wasm.
    pub bundle_version: Option<String>,
    /// The wasm carries the ABI custom section.
    pub abi: bool,
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

/// A member's role (`GroupMemberRole`, serialised by variant name).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Role {
    Admin,
    Member,
    ReadOnly,
    ReadOnlyTee,
    /// rc.83 (core fixture `groups/members.res.json@ebfe62fb`): a TEE relay,
    /// only ever admitted by attestation.
    RelayTee,
}

/// Capability bits (`MemberCapabilities`).
/// core: crates/context/config/src/lib.rs.
pub mod caps {
    pub const CAN_CREATE_CONTEXT: u32 = 1;
    pub const CAN_INVITE_MEMBERS: u32 = 2;
    pub const CAN_JOIN_OPEN_SUBGROUPS: u32 = 4;
    pub const MANAGE_MEMBERS: u32 = 8;
    pub const MANAGE_APPLICATION: u32 = 16;
    pub const CAN_CREATE_SUBGROUP: u32 = 32;
    pub const CAN_DELETE_SUBGROUP: u32 = 64;
    pub const CAN_MANAGE_VISIBILITY: u32 = 128;
    pub const CAN_MANAGE_METADATA: u32 = 256;
}

#[derive(Clone, Debug)]
pub struct MemberRow {
    pub role: Role,
    pub capabilities: u32,
    pub auto_follow_contexts: bool,
    pub auto_follow_subgroups: bool,
}

impl MemberRow {
    pub fn new(role: Role, capabilities: u32) -> Self {
        Self {
            role,
            capabilities,
            auto_follow_contexts: false,
            auto_follow_subgroups: false,
        }
    }
}

/// `MetadataRecord`. core: crates/primitives/src/metadata.rs.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MetadataRecord {
    pub name: Option<String>,
    pub data: BTreeMap<String, String>,
    pub updated_at: u64,
    pub updated_by: Id,
}

/// A group's TEE admission policy (`GetTeeAdmissionPolicyApiResponse`).
#[derive(Clone, Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TeePolicy {
    pub enabled: bool,
    pub allowed_mrtd: Vec<String>,
    pub allowed_rtmr0: Vec<String>,
    pub allowed_rtmr1: Vec<String>,
    pub allowed_rtmr2: Vec<String>,
    pub allowed_rtmr3: Vec<String>,
    pub allowed_tcb_statuses: Vec<String>,
    pub accept_mock: bool,
    /// rc.83: `replica` or `relay`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mode: Option<String>,
    /// rc.83: the signed-release arm.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signed_release: Option<SignedRelease>,
}

/// rc.83 `signedRelease` (core fixture `groups/tee_admission_policy.req.json`).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SignedRelease {
    pub allowed_profiles: Vec<String>,
    pub min_release_version: String,
}

/// The last upgrade of a group (`GroupUpgradeStatusApiData`).
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UpgradeInfo {
    pub from_version: String,
    pub to_version: String,
    pub initiated_at: u64,
    pub initiated_by: Id,
    pub status: &'static str,
    pub local_contexts_total: Option<u32>,
    pub local_contexts_swapped: Option<u32>,
    pub local_contexts_failed: Option<u32>,
    pub completed_at: Option<u64>,
    #[serde(skip)]
    pub target_application_id: Id,
    #[serde(skip)]
    pub cascade: bool,
}

/// A group. A namespace is a root group (`parent == None`); subgroups hang
/// below it. Members are accounts (64-hex); this node's account is one of
/// them when it is a member.
#[derive(Clone, Debug)]
pub struct Group {
    pub id: Id,
    pub parent: Option<Id>,
    pub app_key: Id,
    pub target_application_id: Id,
    pub created_at: u64,
    pub members: BTreeMap<Id, MemberRow>,
    pub default_capabilities: u32,
    /// `subgroupVisibility`: open or restricted.
    pub open: bool,
    pub metadata: Option<MetadataRecord>,
    pub member_metadata: BTreeMap<Id, MetadataRecord>,
    pub context_metadata: BTreeMap<Id, MetadataRecord>,
    pub tee_policy: Option<TeePolicy>,
    pub upgrade: Option<UpgradeInfo>,
    /// Bumped on every governance write; feeds `groupStateHash`.
    pub version: u64,
    /// Root groups only: this node holds a namespace identity here (kept
    /// after it leaves, so it can re-join).
    pub identity: bool,
    /// The owner account (rc.83 owner ops): the creator, until a transfer.
    pub owner: Id,
    /// The founding account (rc.83 `founding.founderAccountId`).
    pub founder: Id,
    /// Bumped by every owner op (rc.83 `ownerOpCounter`).
    pub owner_op_counter: u64,
    /// Root groups only: the founding salt (rc.83 `founding.salt`).
    pub founding_salt: Id,
    /// rc.83 TEE authoring policy (allowed MRTDs), root groups only.
    pub authoring_policy: Option<Vec<String>>,
}

impl Group {
    pub fn name(&self) -> Option<&str> {
        self.metadata.as_ref().and_then(|m| m.name.as_deref())
    }

    pub fn touch(&mut self) {
        self.version += 1;
    }

    pub fn state_hash(&self) -> Id {
        Id::digest(&[
            b"calimero-testnode:group",
            &self.id.0,
            &self.version.to_le_bytes(),
        ])
    }
}

/// What `pair-init` handed out, so `pair-complete` can check it.
#[derive(Clone, Debug)]
pub struct PairOffer {
    pub account: Id,
    /// The namespaces the offer names (rc.28+ account-level pairing).
    pub namespaces: Vec<Id>,
    pub kem_public_key: Id,
    pub sign_public_key: Id,
    pub statement: [u8; 64],
    pub confirmation_code: String,
}

/// An invitation this node signed: what `join` accepts back.
#[derive(Clone, Debug)]
pub struct IssuedInvitation {
    pub group: Id,
    pub role: Role,
    pub expires_at: u64,
    /// The signed `admitters` (rc.29+; empty before).
    pub admitters: Vec<String>,
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

    /// A root group this node holds an identity in.
    pub fn namespace(&self, id: &Id) -> Option<&Group> {
        self.groups
            .get(id)
            .filter(|g| g.parent.is_none() && g.identity)
    }

    /// The root of `id`'s tree (itself for a namespace).
    pub fn root_of(&self, id: &Id) -> Option<Id> {
        let mut current = self.groups.get(id)?;
        // Bounded: parent links never form a cycle (reparent refuses one).
        for _ in 0..=self.groups.len() {
            match current.parent {
                None => return Some(current.id),
                Some(parent) => current = self.groups.get(&parent)?,
            }
        }
        None
    }

    /// The group, if this node holds an identity in its namespace (the
    /// node can read it, though it may not be a member).
    pub fn visible_group(&self, id: &Id) -> Option<&Group> {
        let root = self.root_of(id)?;
        self.groups
            .get(&root)
            .filter(|r| r.identity)
            .and_then(|_| self.groups.get(id))
    }

    /// This node's account, when it has one.
    pub fn account(&self) -> Option<Id> {
        self.identity.map(|i| i.account_id)
    }

    /// This node's row in the group.
    pub fn my_row(&self, group: &Id) -> Option<&MemberRow> {
        let account = self.account()?;
        self.groups.get(group)?.members.get(&account)
    }

    /// Admin of the group or of any ancestor (admins inherit downwards).
    /// core: crates/governance-store/src/permission_checker.rs (`is_admin`).
    pub fn is_admin(&self, group: &Id) -> bool {
        self.account()
            .is_some_and(|account| self.account_is_admin(group, &account))
    }

    /// [`Self::is_admin`] for any account.
    pub fn account_is_admin(&self, group: &Id, account: &Id) -> bool {
        self.rows_up(group, account)
            .iter()
            .any(|r| r.role == Role::Admin)
    }

    /// `account`'s rows in the group and its ancestors, nearest first.
    pub fn rows_up(&self, group: &Id, account: &Id) -> Vec<&MemberRow> {
        let mut out = Vec::new();
        let mut current = self.groups.get(group);
        for _ in 0..=self.groups.len() {
            let Some(g) = current else { break };
            out.extend(g.members.get(account));
            current = g.parent.and_then(|p| self.groups.get(&p));
        }
        out
    }

    /// `account`'s row in the group, else in its nearest ancestor
    /// (membership reaches down the tree) [inferred: core
    /// `MembershipRepository::effective_role`].
    pub fn effective_row(&self, group: &Id, account: &Id) -> Option<&MemberRow> {
        self.rows_up(group, account).into_iter().next()
    }

    /// Admin, or a member holding `cap`.
    pub fn has_capability(&self, group: &Id, cap: u32) -> bool {
        self.is_admin(group)
            || self
                .my_row(group)
                .is_some_and(|r| r.capabilities & cap != 0)
    }

    /// Direct children, by id.
    pub fn children(&self, group: Id) -> impl Iterator<Item = &Group> {
        self.groups
            .values()
            .filter(move |g| g.parent == Some(group))
    }

    /// The group and everything below it, parents first (by id at each level).
    pub fn subtree(&self, group: Id) -> Vec<Id> {
        let mut out = vec![group];
        let mut index = 0;
        while index < out.len() {
            let next: Vec<Id> = self.children(out[index]).map(|g| g.id).collect();
            out.extend(next);
            index += 1;
        }
        out
    }

    /// A fresh group: this node is its only member, an Admin.
    pub fn new_group(&mut self, parent: Option<Id>, app: &App, name: Option<String>) -> Id {
        let identity = self.ensure_identity();
        let id = loop {
            let id = Id::random();
            if !self.groups.contains_key(&id) {
                break id;
            }
        };
        let mut members = BTreeMap::new();
        let _ = members.insert(identity.account_id, MemberRow::new(Role::Admin, 0));
        let metadata = name.map(|name| MetadataRecord {
            name: Some(name),
            data: BTreeMap::new(),
            updated_at: now_millis(),
            updated_by: identity.public_key,
        });
        let _ = self.groups.insert(
            id,
            Group {
                id,
                parent,
                app_key: app.bytecode,
                target_application_id: app.id,
                created_at: now_secs(),
                members,
                // Namespaces let members join open subgroups by default.
                default_capabilities: if parent.is_none() {
                    caps::CAN_JOIN_OPEN_SUBGROUPS
                } else {
                    0
                },
                open: false,
                metadata,
                member_metadata: BTreeMap::new(),
                context_metadata: BTreeMap::new(),
                tee_policy: None,
                upgrade: None,
                version: 0,
                identity: parent.is_none(),
                owner: identity.account_id,
                founder: identity.account_id,
                owner_op_counter: 0,
                founding_salt: Id::random(),
                authoring_policy: None,
            },
        );
        id
    }

    /// Stores `data` (already digested), or adds a reference to the same
    /// content stored before. Returns the blob id.
    pub fn add_blob(&mut self, data: Bytes, digest: (Id, Id, Vec<Id>)) -> Id {
        let (id, hash, chunk_ids) = digest;
        for (index, chunk_id) in chunk_ids.iter().enumerate() {
            let start = index * BLOB_CHUNK_SIZE;
            let end = data.len().min(start + BLOB_CHUNK_SIZE);
            let chunk = self.chunks.entry(*chunk_id).or_insert_with(|| Chunk {
                data: data.slice(start..end),
                refs: 0,
            });
            chunk.refs = chunk.refs.saturating_add(1);
        }
        let blob = self.blobs.entry(id).or_insert_with(|| Blob {
            data,
            hash,
            chunks: chunk_ids,
            refs: 0,
        });
        blob.refs = blob.refs.saturating_add(1);
        id
    }

    /// Releases one reference to a root blob (and to each of its chunks) or
    /// to a bare chunk; `false` when no blob has that id.
    pub fn release_blob(&mut self, id: &Id) -> bool {
        let chunks = if let Some(blob) = self.blobs.get_mut(id) {
            blob.refs = blob.refs.saturating_sub(1);
            let chunks = blob.chunks.clone();
            if blob.refs == 0 {
                let _ = self.blobs.remove(id);
            }
            chunks
        } else if self.chunks.contains_key(id) {
            vec![*id]
        } else {
            return false;
        };
        for chunk_id in chunks {
            if let Some(chunk) = self.chunks.get_mut(&chunk_id) {
                chunk.refs = chunk.refs.saturating_sub(1);
                if chunk.refs == 0 {
                    let _ = self.chunks.remove(&chunk_id);
                }
            }
        }
        true
    }

    /// A blob's bytes and content hash, by root or chunk id (a chunk's hash
    /// is its id).
    pub fn blob_bytes(&self, id: &Id) -> Option<(Bytes, Id)> {
        self.blobs
            .get(id)
            .map(|blob| (blob.data.clone(), blob.hash))
            .or_else(|| self.chunks.get(id).map(|chunk| (chunk.data.clone(), *id)))
    }

    /// Whether `id` is an installed application's bytecode or compiled
    /// artifact (the compiled id is the zero id here, as on a node that has
    /// not compiled anything).
    /// core: crates/node/primitives/src/client/application/query.rs (`is_blob_application_artifact`).
    pub fn is_application_artifact(&self, id: &Id) -> bool {
        self.apps
            .values()
            .any(|app| app.bytecode == *id || Id::ZERO == *id)
    }
}
