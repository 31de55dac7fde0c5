//! rc.83's other delegated-execution routes: a relay creating a context,
//! publishing a governance op, and forwarding presence for an account that
//! has no node of its own.
//!
//! * `GET /groups/{id}/context-intents[?author=]` →
//!   `{"data":{"executorAccount","executorKey","groupId","canCreateOnBehalf","authorMayCreate"?}}`;
//!   `POST` `{warrant, authorProof, initArgs}` → `{"data":{"contextId","groupId","memberPublicKey"}}`.
//! * `GET /groups/{id}/governance-intents` →
//!   `{"data":{"executorAccount","executorKey","groupId","canActOnBehalf"}}`;
//!   `POST` `{warrant, authorProof, op}` → `{"data":{"groupId"}}`.
//! * `POST /contexts/{id}/presence-intents`
//!   `{state, seq, sentAtMs, signature, authorProof}` → 204.
//!
//! Sources: core `crates/server/src/admin/handlers/context/
//! create_context_intent.rs` (index id 71091063082), `governance_intent.rs`
//! (index id 71006862989), `presence_intent.rs` (index id 71110246431) and
//! `perform_intent.rs` (index id 70932478632): the order of the checks, the
//! handlers' own texts and statuses (`IntentRefusal`: malformed 400, not
//! authorised 403); `crates/governance-store/src/creation_gate.rs` (index
//! id 70907688251, `CreationRefusal`), `delegation_gate.rs` (index id
//! 70897119562, `DelegationRefusal`), `warrant_gate.rs` (index id
//! 70897322342, `WarrantRefusal`): the gates' texts, all 403 but a taken
//! subgroup id (409), through `parse_api_error` (service.rs, index id
//! 70883150803); `crates/node/primitives/src/presence.rs` (index id
//! 71202697634, `DelegatedPresenceError` and its statuses); mero-js
//! `src/warrant/governance-op.ts` (the delegable ops' borsh); swift
//! `Rc83SurfaceTests.swift` (`executorKey` on both GETs at rc.83).
//!
//! Warrants and statements are verified by `crate::delegated` (signature,
//! credential chain, the executor's account and key), never by the client.
//! What the stand-in cannot know is marked [inferred] where it is decided:
//! the texts of `executor_key` mismatches, of a signature that does not
//! verify, of a delegated application the group does not target, and the
//! presence relay's freshness (±7 s) and `seq` rules. Governance ops are
//! read for the eight mero-js encodes; the stand-in applies the four member
//! ops and `GroupCreated`, and answers the other three (reparent, delete,
//! founding) with a 501 of its own once every check has passed.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::groups::{group_not_found, member_not_found, not_a_member};
use super::intents::CAN_AUTHOR_ON_BEHALF;
use super::AppRouter;
use crate::delegated::{
    h, node_json, presence_signed, verify_author, CreationWarrant, Credential, GovernanceWarrant,
    OpKind,
};
use crate::error::{data, ApiError, ApiResult};
use crate::ids::{HexId, Id};
use crate::kv::KvStore;
use crate::state::{caps, AppState, Context, MemberRow, Node, NodeIdentity, Role};

pub fn routes() -> AppRouter {
    Router::new()
        .route(
            "/groups/{group_id}/context-intents",
            get(describe_creation).post(create_on_behalf),
        )
        .route(
            "/groups/{group_id}/governance-intents",
            get(describe_governance).post(govern_on_behalf),
        )
        .route("/contexts/{context_id}/presence-intents", post(presence))
}

fn refuse(status: StatusCode, message: impl Into<String>) -> ApiError {
    ApiError::Json(status, message.into())
}

fn bad(message: impl Into<String>) -> ApiError {
    refuse(StatusCode::BAD_REQUEST, message)
}

fn no(message: impl Into<String>) -> ApiError {
    refuse(StatusCode::FORBIDDEN, message)
}

/// The group id in the path (the handlers' own `parse_group_id`).
fn parse_group(raw: &str) -> Result<Id, ApiError> {
    let bytes = hex::decode(raw).map_err(|_| bad(format!("group id '{raw}' is not hex")))?;
    <[u8; 32]>::try_from(bytes)
        .map(Id)
        .map_err(|_| bad(format!("group id '{raw}' is not 32 bytes")))
}

/// `?author=` (`parse_account`).
fn parse_author(raw: &str) -> Result<Id, ApiError> {
    let bytes = hex::decode(raw).map_err(|_| bad(format!("author '{raw}' is not hex")))?;
    <[u8; 32]>::try_from(bytes)
        .map(Id)
        .map_err(|_| bad(format!("author '{raw}' is not 32 bytes")))
}

/// `decode_author_proof`: the member's `AccountProof<DeviceCert>`, hex.
fn author_proof(text: &str) -> Result<Credential, ApiError> {
    let bytes =
        hex::decode(text.trim()).map_err(|e| bad(format!("authorProof is not hex: {e}")))?;
    Credential::from_bytes(&bytes)
        .map_err(|e| bad(format!("authorProof is not a valid credential: {e}")))
}

/// The node's clock, seconds.
fn now_secs(state: &AppState) -> u64 {
    state
        .auth
        .as_ref()
        .map_or_else(crate::state::now_secs, |a| a.now())
}

/// `node_identity` / `node_signing_key`, or the describe handlers' 404.
fn identity_or_404(node: &Node, message: &str) -> Result<NodeIdentity, ApiError> {
    node.identity
        .ok_or_else(|| ApiError::not_found(message.to_owned()))
}

fn is_read_only(role: Role) -> bool {
    matches!(role, Role::ReadOnly | Role::ReadOnlyTee)
}

/// Why `account` may not act for members in `group`, or `None` when it may
/// (core `warrant_admission::executor_standing`, texts `WarrantRefusal`): a
/// `RelayTee` by its role, a `ReadOnlyTee` or `ReadOnly` never, anyone
/// else by a `CAN_AUTHOR_ON_BEHALF` grant on the group or an ancestor.
fn executor_refusal(node: &Node, group: &Id, account: &Id) -> Option<&'static str> {
    match node.effective_row(group, account).map(|r| r.role) {
        Some(Role::RelayTee) => return None,
        Some(Role::ReadOnlyTee) => {
            return Some(
                "the executor is a TEE replica (ReadOnlyTee) and does not relay writes; the \
                 namespace must admit relays with mode=relay",
            )
        }
        Some(Role::ReadOnly) => {
            return Some(
                "the executor's role in this context is read-only (ReadOnly), so it does not \
                 relay writes",
            )
        }
        _ => {}
    }
    let granted = node
        .rows_up(group, account)
        .iter()
        .any(|r| r.capabilities & CAN_AUTHOR_ON_BEHALF != 0);
    (!granted).then_some(
        "the executor holds no CAN_AUTHOR_ON_BEHALF grant on the group owning this context",
    )
}

/// Admin, or a member whose nearest row holds `cap`.
fn account_may(node: &Node, group: &Id, account: &Id, cap: u32) -> bool {
    node.account_is_admin(group, account)
        || node
            .effective_row(group, account)
            .is_some_and(|r| r.capabilities & cap != 0)
}

/// The author may write here at all: a member that is not read-only, or
/// an admin (`AuthorIsReadOnly` / `AuthorNotAMember`, texts of both gates).
fn author_standing(node: &Node, group: &Id, author: &Id) -> Result<(), ApiError> {
    match node.effective_row(group, author) {
        Some(row) if is_read_only(row.role) => {
            Err(no("the author's role in this group is read-only"))
        }
        Some(_) => Ok(()),
        None if node.account_is_admin(group, author) => Ok(()),
        None => Err(no("the author is not a member of this group")),
    }
}

/// The executor key a warrant names must be this node's signing key
/// (core `refuse_unless_named_executor_key`, 403; its test pins "executor
/// key") [inferred text].
fn named_executor_key(named: &[u8; 32], ours: &NodeIdentity) -> Result<(), ApiError> {
    if *named == ours.public_key.0 {
        Ok(())
    } else {
        Err(no(format!(
            "this warrant names executor key {}, not this node's signing key {}; read \
             executorKey from the relay's GET and sign again",
            hex::encode(named),
            ours.public_key.to_hex()
        )))
    }
}

/// Spends `nonce` in the ledger `scope` for the author's device; `false`
/// when it was spent before.
fn spend(node: &mut Node, scope: Id, device: [u8; 32], nonce: u64) -> bool {
    node.warrant_nonces
        .entry((scope, device))
        .or_default()
        .insert(nonce)
}

fn spent(node: &Node, scope: Id, device: [u8; 32], nonce: u64) -> bool {
    node.warrant_nonces
        .get(&(scope, device))
        .is_some_and(|s| s.contains(&nonce))
}

// ----------------------------------------------------------- context intents

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct CreationRelay {
    executor_account: HexId,
    executor_key: HexId,
    group_id: HexId,
    can_create_on_behalf: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    author_may_create: Option<bool>,
}

/// `GET .../context-intents`: read from the node's state, signs nothing.
async fn describe_creation(
    State(state): State<Arc<AppState>>,
    Path(raw): Path<String>,
    RawQuery(raw_query): RawQuery,
) -> ApiResult {
    let group = parse_group(&raw)?;
    let query: HashMap<String, String> = crate::error::query(raw_query.as_deref())?;
    let author = query.get("author").map(|a| parse_author(a)).transpose()?;
    let node = state.node();
    if !node.groups.contains_key(&group) {
        return Err(ApiError::not_found("this node knows no such group"));
    }
    let identity = identity_or_404(
        &node,
        "this node holds neither a usable device nor an account root yet, so it can be named \
         as no warrant's executor",
    )?;
    // A hint, not the decision: the author's live standing and capability
    // (core `author_may_create`).
    let author_may_create = author.map(|author| {
        author_standing(&node, &group, &author).is_ok()
            && account_may(&node, &group, &author, caps::CAN_CREATE_CONTEXT)
    });
    Ok(data(CreationRelay {
        executor_account: HexId(identity.account_id),
        executor_key: HexId(identity.public_key),
        group_id: HexId(group),
        can_create_on_behalf: executor_refusal(&node, &group, &identity.account_id).is_none(),
        author_may_create,
    }))
}

/// `CreateContextIntentApiRequest`: plain `Json`, every key required,
/// `deny_unknown_fields` [inferred: every rc.83 body is].
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct CreationIntent {
    warrant: String,
    author_proof: String,
    init_args: Value,
}

/// `POST .../context-intents`: the member's creation warrant, checked in
/// core's order, then the context is created for them.
async fn create_on_behalf(
    State(state): State<Arc<AppState>>,
    Path(raw): Path<String>,
    Json(req): Json<CreationIntent>,
) -> ApiResult {
    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    struct Created {
        context_id: Id,
        group_id: HexId,
        member_public_key: Id,
    }

    let group = parse_group(&raw)?;
    let bytes =
        hex::decode(req.warrant.trim()).map_err(|e| bad(format!("warrant is not hex: {e}")))?;
    let warrant = CreationWarrant::from_bytes(&bytes).map_err(|e| {
        bad(format!(
            "warrant is not a valid context creation warrant ({} bytes): {e}",
            bytes.len()
        ))
    })?;
    let proof = author_proof(&req.author_proof)?;
    // What the node hashes: serde_json's bytes of the value it parsed.
    let init_args = node_json(&req.init_args);
    // `creation_warrant_authorises`: the group before the clock.
    if warrant.group != group.0 {
        return Err(no(
            "this creation warrant authorises a different group than the one it was presented in",
        ));
    }
    if CreationWarrant::init_hash(&init_args) != warrant.init_hash {
        return Err(no(
            "this creation warrant does not cover the init arguments presented with it",
        ));
    }
    let now = now_secs(&state);
    if warrant.not_after < now {
        return Err(no(format!(
            "this creation warrant expired at {} and it is now {now}; mint a fresh one",
            warrant.not_after
        )));
    }

    let mut node = state.node();
    // `resolve_identity`: this node signs as its identity in the namespace.
    let identity = match node.identity {
        Some(identity) if node.visible_group(&group).is_some() => identity,
        _ => return Err(not_a_member(group)),
    };
    named_executor_key(&warrant.executor_key, &identity)?;
    // `ContextCreationDelegation::verify`: authenticity before any
    // capability. The executor half is this node's own credential, which
    // verifies for the warrant's executor only when that is this node.
    verify_author(
        warrant.verify_signature(),
        &warrant.author_account,
        &warrant.author_device_key,
        &proof,
    )
    .and_then(|()| {
        if warrant.executor == identity.account_id.0 {
            Ok(())
        } else {
            Err(format!(
                "genesis hashes to {}, not the claimed account {}",
                identity.account_id.to_hex(),
                hex::encode(warrant.executor)
            ))
        }
    })
    .map_err(|e| bad(format!("creation delegation does not verify: {e}")))?;

    // `check_delegated_creation` (`CreationRefusal`, 403).
    let author = Id(warrant.author_account);
    author_standing(&node, &group, &author)?;
    if !account_may(&node, &group, &author, caps::CAN_CREATE_CONTEXT) {
        return Err(no(
            "the author may not create contexts in this group (not an admin and \
             CAN_CREATE_CONTEXT is not set)",
        ));
    }
    if let Some(refusal) = executor_refusal(&node, &group, &identity.account_id) {
        return Err(no(format!(
            "the executor may not act for members in this group: {refusal}"
        )));
    }
    // The context the seed derives (the derivation a seeded `POST
    // /contexts` uses here); its ledger is the one the nonce spends in.
    let context_id = Id::digest(&[b"calimero-testnode:context-seed:", &warrant.seed]);
    if spent(&node, context_id, warrant.author_device_key, warrant.nonce) {
        return Err(no("this creation warrant has already been spent"));
    }
    if node.contexts.contains_key(&context_id) {
        return Err(ApiError::conflict(
            "a context derived from this seed already exists",
        ));
    }
    let application = Id(warrant.application_id);
    if !node.apps.contains_key(&application) {
        return Err(super::contexts::application_not_found(&application));
    }
    let target = node
        .groups
        .get(&group)
        .map(|g| g.target_application_id)
        .ok_or_else(|| group_not_found(&group))?;
    if target != application {
        // `ContextError::DelegatedApplicationNotTargeted` (409) [inferred text].
        return Err(ApiError::conflict(format!(
            "the creation warrant pins application {}, which the group no longer targets \
             ({}); the member must sign again",
            application.to_hex(),
            target.to_hex()
        )));
    }
    // `init` runs with the arguments (core `ContextError::InitFailed`, 400).
    let kv = KvStore::init(&init_args)
        .map_err(|message| bad(format!("application initialization failed: {message}")))?;
    let mut context = Context::new(context_id, application, group, identity.public_key);
    context.kv = kv;
    context.service_name = warrant.service_name.clone();
    context.name = warrant.name.clone();
    let _ = node.contexts.insert(context_id, context);
    let _ = spend(
        &mut node,
        context_id,
        warrant.author_device_key,
        warrant.nonce,
    );
    Ok(data(Created {
        context_id,
        group_id: HexId(group),
        member_public_key: identity.public_key,
    }))
}

// -------------------------------------------------------- governance intents

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct GovernanceRelay {
    executor_account: HexId,
    executor_key: HexId,
    group_id: HexId,
    can_act_on_behalf: bool,
}

/// `GET .../governance-intents`: read from the node's state.
async fn describe_governance(
    State(state): State<Arc<AppState>>,
    Path(raw): Path<String>,
) -> ApiResult {
    let group = parse_group(&raw)?;
    let node = state.node();
    if !node.groups.contains_key(&group) {
        return Err(ApiError::not_found("this node knows no such group"));
    }
    let identity = identity_or_404(
        &node,
        "this node holds neither a usable device nor an account root yet",
    )?;
    Ok(data(GovernanceRelay {
        executor_account: HexId(identity.account_id),
        executor_key: HexId(identity.public_key),
        group_id: HexId(group),
        can_act_on_behalf: executor_refusal(&node, &group, &identity.account_id).is_none(),
    }))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct GovernanceIntent {
    warrant: String,
    author_proof: String,
    op: String,
}

/// A delegable governance op, as mero-js `governance-op.ts` encodes it
/// (borsh; the discriminant is the variant's position in core's enum).
#[derive(Debug)]
enum GovOp {
    MemberAdded(Id, u8),
    MemberRemoved(Id, bool),
    MemberLeft(Id, bool),
    MemberRoleSet(Id, u8),
    GroupCreated {
        group: Id,
        parent: Id,
        restricted: bool,
        admin: Id,
    },
    GroupReparented,
    GroupDeleted(bool),
    NamespaceCreated,
}

/// A little borsh reader for ops.
struct OpReader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl OpReader<'_> {
    fn take(&mut self, n: usize) -> Result<&[u8], String> {
        if self.bytes.len() - self.at < n {
            return Err("Unexpected length of input".to_owned());
        }
        self.at += n;
        Ok(&self.bytes[self.at - n..self.at])
    }
    fn byte(&mut self) -> Result<u8, String> {
        Ok(self.take(1)?[0])
    }
    fn id(&mut self) -> Result<Id, String> {
        let mut out = [0u8; 32];
        out.copy_from_slice(self.take(32)?);
        Ok(Id(out))
    }
    fn role(&mut self) -> Result<u8, String> {
        match self.byte()? {
            role @ 0..=4 => Ok(role),
            other => Err(format!("Unexpected variant tag: {other}")),
        }
    }
    /// A `Vec` whose elements the delegable form leaves empty; read as
    /// 32-byte entries [inferred]; `true` when empty.
    fn cleared_vec(&mut self) -> Result<bool, String> {
        let mut n = [0u8; 4];
        n.copy_from_slice(self.take(4)?);
        let n = u32::from_le_bytes(n) as usize;
        let _ = self.take(n.saturating_mul(32))?;
        Ok(n == 0)
    }
    fn end(&self) -> Result<(), String> {
        if self.at == self.bytes.len() {
            Ok(())
        } else {
            Err("Not all bytes read".to_owned())
        }
    }
}

const ROLES: [Role; 5] = [
    Role::Admin,
    Role::Member,
    Role::ReadOnly,
    Role::ReadOnlyTee,
    Role::RelayTee,
];

impl GovOp {
    /// The op by the plane the warrant names; `Err` is the text after
    /// "op is not a valid … op: ".
    fn decode(kind: OpKind, bytes: &[u8]) -> Result<Self, String> {
        let mut r = OpReader { bytes, at: 0 };
        let tag = r.byte()?;
        let op = match (kind, tag) {
            (OpKind::Group, 1) => Self::MemberAdded(r.id()?, r.role()?),
            (OpKind::Group, 2) => {
                let member = r.id()?;
                let hash = r.id()?;
                Self::MemberRemoved(member, hash == Id::ZERO && r.cleared_vec()?)
            }
            (OpKind::Group, 3) => {
                let member = r.id()?;
                let hash = r.id()?;
                Self::MemberLeft(member, hash == Id::ZERO && r.cleared_vec()?)
            }
            (OpKind::Group, 4) => Self::MemberRoleSet(r.id()?, r.role()?),
            (OpKind::Root, 0) => {
                let group = r.id()?;
                let parent = r.id()?;
                let restricted = match r.byte()? {
                    0 => false,
                    1 => true,
                    other => return Err(format!("Invalid bool representation: {other}")),
                };
                Self::GroupCreated {
                    group,
                    parent,
                    restricted,
                    admin: r.id()?,
                }
            }
            (OpKind::Root, 1) => {
                let _ = (r.id()?, r.id()?);
                Self::GroupReparented
            }
            (OpKind::Root, 2) => {
                let _ = r.id()?;
                let first = r.cleared_vec()?;
                Self::GroupDeleted(first && r.cleared_vec()?)
            }
            (OpKind::Root, 9) => {
                let _ = r.id()?;
                let mut c = crate::delegated::Cursor::new(&bytes[r.at..]);
                let _ = Credential::read(&mut c)?;
                let used = bytes.len() - r.at - c.remaining();
                r.at += used;
                let _ = r.id()?;
                Self::NamespaceCreated
            }
            // The stand-in reads only the delegable ops mero-js encodes
            // (governance-op.ts); core decodes every variant.
            (OpKind::Group, other) => {
                return Err(format!(
                    "variant {other} is not one the test node reads (it knows MemberAdded, \
                     MemberRemoved, MemberLeft and MemberRoleSet)"
                ))
            }
            (OpKind::Root, other) => {
                return Err(format!(
                    "variant {other} is not one the test node reads (it knows GroupCreated, \
                     GroupReparented, GroupDeleted and NamespaceCreatedV2)"
                ))
            }
        };
        r.end()?;
        Ok(op)
    }

    /// The op is its own delegable form: a removal, a leave and a delete
    /// carry their relay-computed fields cleared.
    fn is_delegable_form(&self) -> bool {
        match self {
            Self::MemberRemoved(_, cleared)
            | Self::MemberLeft(_, cleared)
            | Self::GroupDeleted(cleared) => *cleared,
            _ => true,
        }
    }

    fn label(&self) -> &'static str {
        match self {
            Self::MemberAdded(..) => "MemberAdded",
            Self::MemberRemoved(..) => "MemberRemoved",
            Self::MemberLeft(..) => "MemberLeft",
            Self::MemberRoleSet(..) => "MemberRoleSet",
            Self::GroupCreated { .. } => "GroupCreated",
            Self::GroupReparented => "GroupReparented",
            Self::GroupDeleted(_) => "GroupDeleted",
            Self::NamespaceCreated => "NamespaceCreated",
        }
    }
}

/// The ledger a group's delegated-governance nonces spend in (core
/// `delegation_gate::ledger_key`).
fn governance_ledger(group: &Id) -> Id {
    Id(h("calimero.governance-warrant.ledger.v1", &[&group.0]))
}

/// `POST .../governance-intents`: the member's governance warrant, checked
/// in core's order, then the op applied as the member.
async fn govern_on_behalf(
    State(state): State<Arc<AppState>>,
    Path(raw): Path<String>,
    Json(req): Json<GovernanceIntent>,
) -> ApiResult {
    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    struct Published {
        group_id: HexId,
    }

    let group = parse_group(&raw)?;
    let bytes =
        hex::decode(req.warrant.trim()).map_err(|e| bad(format!("warrant is not hex: {e}")))?;
    let warrant = GovernanceWarrant::from_bytes(&bytes)
        .map_err(|e| bad(format!("warrant is not a valid governance warrant: {e}")))?;
    let proof = author_proof(&req.author_proof)?;
    let op_bytes = hex::decode(req.op.trim()).map_err(|e| bad(format!("op is not hex: {e}")))?;

    // `decode_covered_op`.
    if warrant.scope != group.0 {
        return Err(no(
            "this governance warrant is for a different group than the one it was presented in",
        ));
    }
    let op = GovOp::decode(warrant.kind, &op_bytes).map_err(|e| {
        bad(match warrant.kind {
            OpKind::Group => format!("op is not a valid group op: {e}"),
            OpKind::Root => format!("op is not a valid root op: {e}"),
        })
    })?;
    if !op.is_delegable_form() || !warrant.covers_op(warrant.kind, &op_bytes) {
        return Err(no(
            "this governance warrant does not cover the op presented with it",
        ));
    }
    let now = now_secs(&state);
    if warrant.not_after < now {
        return Err(no(format!(
            "this governance warrant expired at {} and it is now {now}; mint a fresh one",
            warrant.not_after
        )));
    }
    // `refuse_unless_authentic_for_this_node`.
    verify_author(
        warrant.verify_signature(),
        &warrant.author_account,
        &warrant.author_device_key,
        &proof,
    )
    .map_err(|e| bad(format!("governance delegation does not verify: {e}")))?;

    let mut node = state.node();
    let identity = match node.identity {
        Some(identity) if identity.account_id.0 == warrant.executor => identity,
        _ => {
            return Err(no(
                "this governance warrant names an executor other than this node's account",
            ))
        }
    };
    named_executor_key(&warrant.executor_key, &identity)?;
    if matches!(op, GovOp::NamespaceCreated) {
        return Err(not_modelled(&op));
    }
    if node.visible_group(&group).is_none() {
        return Err(not_a_member(group));
    }
    // `check_common` (`DelegationRefusal`, 403).
    let author = Id(warrant.author_account);
    author_standing(&node, &group, &author)?;
    if let Some(refusal) = executor_refusal(&node, &group, &identity.account_id) {
        return Err(no(format!(
            "the executor may not act for members in this group: {refusal}"
        )));
    }
    let ledger = governance_ledger(&group);
    if spent(&node, ledger, warrant.author_device_key, warrant.nonce) {
        return Err(no("this governance warrant has already been spent"));
    }
    apply_as(&state, &mut node, group, author, &op)?;
    let _ = spend(&mut node, ledger, warrant.author_device_key, warrant.nonce);
    Ok(data(Published {
        group_id: HexId(group),
    }))
}

/// The stand-in's own answer for a delegable op it does not apply.
fn not_modelled(op: &GovOp) -> ApiError {
    refuse(
        StatusCode::NOT_IMPLEMENTED,
        format!(
            "the test node does not publish a delegated {} op (it applies MemberAdded, \
             MemberRemoved, MemberLeft, MemberRoleSet and GroupCreated)",
            op.label()
        ),
    )
}

/// The author lacks the authority for this op (`MembershipError::NotAdmin`
/// / `CapabilitiesError::Unauthorized`, 403) [inferred texts].
fn author_lacks(author: &Id, group: &Id, what: &str) -> ApiError {
    no(format!(
        "{what} in group '{}' needs admin or the capability: account {} lacks permission",
        group.to_hex(),
        author.to_hex()
    ))
}

fn tee_role(role: Role) -> Result<(), ApiError> {
    if matches!(role, Role::ReadOnlyTee | Role::RelayTee) {
        // `MembershipError::TeeRoleViaAttestationOnly` (403) [inferred text].
        Err(no("a TEE role is granted only by attestation admission"))
    } else {
        Ok(())
    }
}

/// Applies the inner op as `author` (core: every peer applies it as the
/// member, so the member's own authority decides).
fn apply_as(
    state: &AppState,
    node: &mut Node,
    group: Id,
    author: Id,
    op: &GovOp,
) -> Result<(), ApiError> {
    let is_admin = node.account_is_admin(&group, &author);
    match *op {
        GovOp::MemberAdded(member, role) => {
            let role = ROLES[usize::from(role)];
            tee_role(role)?;
            if role == Role::Admin && !is_admin {
                return Err(author_lacks(&author, &group, "adding an admin"));
            }
            if !account_may(node, &group, &author, caps::MANAGE_MEMBERS) {
                return Err(author_lacks(&author, &group, "adding a member"));
            }
            let g = super::groups::group_mut(node, &group)?;
            let default_caps = g.default_capabilities;
            let _ = g
                .members
                .entry(member)
                .and_modify(|row| row.role = role)
                .or_insert_with(|| MemberRow::new(role, default_caps));
            g.touch();
            state
                .events
                .membership("MemberAdded", group, member, Some(role));
        }
        GovOp::MemberRemoved(member, _) | GovOp::MemberLeft(member, _) => {
            let leaving = matches!(op, GovOp::MemberLeft(..));
            if leaving && member != author {
                // `MembershipError::SelfLeaveOnly` (403) [inferred text].
                return Err(no("a member may only leave as itself"));
            }
            if !leaving && !account_may(node, &group, &author, caps::MANAGE_MEMBERS) {
                return Err(author_lacks(&author, &group, "removing a member"));
            }
            let g = super::groups::group_mut(node, &group)?;
            let Some(row) = g.members.get(&member) else {
                return Err(member_not_found(&member, &group));
            };
            if !leaving && row.role == Role::Admin && !is_admin {
                return Err(author_lacks(&author, &group, "removing an admin"));
            }
            let admins = super::groups::direct_admins(g);
            if row.role == Role::Admin && admins == 1 {
                return Err(super::groups::last_admin());
            }
            let _ = g.members.remove(&member);
            let _ = g.member_metadata.remove(&member);
            g.touch();
            state
                .events
                .membership("MemberRemoved", group, member, None);
        }
        GovOp::MemberRoleSet(member, role) => {
            let role = ROLES[usize::from(role)];
            tee_role(role)?;
            if !is_admin {
                return Err(author_lacks(&author, &group, "setting a role"));
            }
            let g = super::groups::group_mut(node, &group)?;
            let admins = super::groups::direct_admins(g);
            let Some(row) = g.members.get_mut(&member) else {
                return Err(member_not_found(&member, &group));
            };
            if row.role == Role::Admin && role != Role::Admin && admins == 1 {
                return Err(ApiError::conflict(
                    "cannot demote the last admin of the group",
                ));
            }
            row.role = role;
            g.touch();
        }
        GovOp::GroupCreated {
            group: new,
            parent,
            restricted,
            admin,
        } => {
            if admin != author {
                // mero-js: "The node refuses any other" [inferred text].
                return Err(no(
                    "a subgroup created on a member's behalf must name the member as its admin",
                ));
            }
            if node.groups.contains_key(&new) {
                return Err(refuse(
                    StatusCode::CONFLICT,
                    format!(
                        "group {} already exists; pick a fresh random id for the new subgroup",
                        new.to_hex()
                    ),
                ));
            }
            if node.root_of(&parent) != Some(group) {
                // `NamespaceError::GroupOutsideNamespace` (400) [inferred text].
                return Err(bad(format!(
                    "group {} is not in namespace {}",
                    parent.to_hex(),
                    group.to_hex()
                )));
            }
            if !account_may(node, &parent, &author, caps::CAN_CREATE_SUBGROUP) {
                return Err(author_lacks(&author, &parent, "creating a subgroup"));
            }
            let app = node
                .groups
                .get(&parent)
                .and_then(|p| node.apps.get(&p.target_application_id))
                .cloned()
                .ok_or_else(|| group_not_found(&parent))?;
            let made = node.new_group(Some(parent), &app, None);
            if let Some(mut g) = node.groups.remove(&made) {
                g.id = new;
                g.open = !restricted;
                g.members.clear();
                let _ = g.members.insert(author, MemberRow::new(Role::Admin, 0));
                g.owner = author;
                g.founder = author;
                let _ = node.groups.insert(new, g);
            }
        }
        GovOp::GroupReparented | GovOp::GroupDeleted(_) | GovOp::NamespaceCreated => {
            return Err(not_modelled(op));
        }
    }
    Ok(())
}

// ---------------------------------------------------------- presence intents

/// `PresenceIntentRequest` (core `presence_intent.rs`): plain `Json`,
/// `deny_unknown_fields`; `state` hex or `null` (to retract).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct PresenceIntent {
    state: Option<String>,
    seq: u64,
    sent_at_ms: u64,
    signature: String,
    author_proof: String,
}

/// How far a statement's `sentAtMs` may be from the relay's clock (core:
/// "the 7 s freshness window"; symmetric [inferred]).
const PRESENCE_WINDOW_MS: u64 = 7_000;

/// `POST .../presence-intents`: rebuild the statement for the path's
/// context and the certificate's key, verify it, then the relay's checks;
/// 204 when forwarded.
async fn presence(
    State(state): State<Arc<AppState>>,
    Path(raw): Path<String>,
    Json(req): Json<PresenceIntent>,
) -> ApiResult {
    let context = Id::parse_hex(&raw).map_err(|err| {
        let reason = match err {
            crate::ids::HexIdError::NotHex => crate::ids::HASH_NOT_HEX,
            crate::ids::HexIdError::Length => crate::ids::HASH_BAD_LENGTH,
        };
        bad(format!("context id '{raw}' is not valid: {reason}"))
    })?;
    // `update_from_request`.
    let proof_bytes = hex::decode(req.author_proof.trim())
        .map_err(|e| bad(format!("authorProof is not hex: {e}")))?;
    let proof = Credential::from_bytes(&proof_bytes)
        .map_err(|e| bad(format!("authorProof is not a credential: {e}")))?;
    let slice = req
        .state
        .as_deref()
        .map(hex::decode)
        .transpose()
        .map_err(|e| bad(format!("state is not hex: {e}")))?;
    let signature: [u8; 64] = hex::decode(req.signature.trim())
        .map_err(|e| bad(format!("signature is not hex: {e}")))?
        .try_into()
        .map_err(|_| bad("signature is not 64 bytes"))?;
    // `PresenceUpdate::verify` (`PresenceRefusal`, as `Refused`: 400).
    if !presence_signed(
        &context.0,
        &proof.sign_key,
        req.seq,
        req.sent_at_ms,
        slice.as_deref(),
        &signature,
    ) {
        return Err(bad("the signature does not verify under the author"));
    }
    proof
        .verify()
        .map_err(|e| bad(format!("the device certificate does not verify: {e}")))?;
    // The relay's own checks (`DelegatedPresenceError`).
    let now_ms = state
        .auth
        .as_ref()
        .map_or_else(crate::state::now_millis, |a| a.now_millis());
    if now_ms.abs_diff(req.sent_at_ms) > PRESENCE_WINDOW_MS {
        return Err(bad("the statement is outside the freshness window"));
    }
    let mut node = state.node();
    let group = node
        .contexts
        .get(&context)
        .and_then(|c| c.group)
        // A relay that is in no such context holds no key for it
        // (`NoGroupKey`, 503) [inferred].
        .ok_or_else(|| {
            refuse(
                StatusCode::SERVICE_UNAVAILABLE,
                "this relay holds no current key for the context",
            )
        })?;
    let account = Id(proof.account);
    if node.effective_row(&group, &account).is_none() && !node.account_is_admin(&group, &account) {
        return Err(refuse(
            StatusCode::FORBIDDEN,
            "the account is not a member of this context",
        ));
    }
    let revoked = node.account() == Some(account)
        && node
            .account_devices
            .get(&Id(proof.device))
            .is_some_and(|d| d.revoked);
    if revoked {
        return Err(refuse(StatusCode::FORBIDDEN, "the device is revoked here"));
    }
    // The relay keeps the highest `seq` per device; an update at or below
    // it is stale [inferred: core names the seq, not its refusal].
    let key = (context, proof.sign_key);
    if node
        .presence_seq
        .get(&key)
        .is_some_and(|last| req.seq <= *last)
    {
        return Err(bad("the statement is outside the freshness window"));
    }
    let _ = node.presence_seq.insert(key, req.seq);
    Ok(StatusCode::NO_CONTENT.into_response())
}
