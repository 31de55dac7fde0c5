//! Groups: a namespace is the root group, subgroups hang below it.
//!
//! One node, so the governance is local and immediate. The rules follow
//! what core's handlers and permission checker apply:
//!
//! * A group id is 64-hex (`parse_group_id`), a member account 64-hex
//!   (`Invalid account format…`), a context id bs58 or hex except on
//!   `…/contexts/{cid}/remove` (bs58 only).
//! * A group the node holds no namespace identity for (unknown, or a
//!   foreign one it never joined) is an untyped failure: 500
//!   `Internal server error` — except where the node answers otherwise
//!   (metadata GETs `{"data":null}`, the TEE policy GET the disabled
//!   policy, subgroups `{"subgroups":[]}`, member-devices 403,
//!   join-via-inheritance 404 `group not found`).
//! * Listing members, contexts or member devices of a group the node is
//!   not a member of is `403 {"error":"node is not a member of group
//!   'ContextGroupId(Identity([…]))'"}` (`ContextError::NotAGroupMember`).
//! * A write the node's role does not allow (admin-only, or a member
//!   without the capability) is `MembershipError::NotAdmin`, which
//!   `parse_api_error` does not type: 500 `Internal server error`. So is
//!   demoting, removing or leaving as the last admin. Admins of a group
//!   are admins of everything below it.
//!
//! To reach the non-member and non-admin paths on one node: add another
//! admin account and then demote yourself or leave, or create a foreign
//! group through `POST /_testnode/groups` (see `routes::control`).
//!
//! core: crates/server/src/admin/handlers/groups.rs (`parse_group_id`,
//! `parse_context_id`), handlers/groups/*.rs, crates/context/src/handlers/*.rs
//! (`governance_preflight`, list_group_members, list_group_contexts),
//! crates/governance-store/src/permission_checker.rs,
//! crates/server/primitives/src/admin/mod.rs (request/response types),
//! crates/primitives/src/metadata.rs (metadata limits).

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use axum::extract::{FromRequest, Path, RawQuery, Request, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post, put};
use axum::Router;
use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize};

use super::AppRouter;
use crate::error::{
    data, hex_id, json, query, validate, ApiError, ApiResult, Validate, ValidatedJson,
    ValidationError,
};
use crate::ids::{HexId, Id};
use crate::state::{
    caps, now_millis, now_secs, AppState, Group, IssuedInvitation, MemberRow, MetadataRecord, Node,
    Role, TeePolicy, UpgradeInfo,
};
use crate::Config;

const DEFAULT_LIST_LIMIT: usize = 100;
const MAX_LIST_LIMIT: usize = 1000;
/// Ownership proofs expire at most this long after issue.
const MAX_PROOF_VALIDITY_MS: u64 = 5 * 60 * 1000;
/// An invitation's default validity (`365 * 24 * 3600` s).
pub const DEFAULT_INVITATION_SECS: u64 = 365 * 24 * 3600;

pub fn routes() -> AppRouter {
    let g = "/groups/{group_id}";
    Router::new()
        .route("/groups", post(create))
        .route("/groups/join", post(join_legacy))
        .route(g, get(info).delete(delete))
        .route(&format!("{g}/contexts"), get(contexts))
        .route(&format!("{g}/reparent"), post(reparent))
        .route(&format!("{g}/subgroups"), get(subgroups))
        .route(&format!("{g}/members"), get(members).post(add_members))
        .route(&format!("{g}/members/remove"), post(remove_members))
        .route(&format!("{g}/member-devices"), get(member_devices))
        .route(&format!("{g}/leave"), post(leave))
        .route(&format!("{g}/members/{{account}}/role"), put(set_role))
        .route(
            &format!("{g}/members/{{account}}/capabilities"),
            get(get_capabilities).put(set_capabilities),
        )
        .route(
            &format!("{g}/members/{{account}}/auto-follow"),
            put(set_auto_follow),
        )
        .route(
            &format!("{g}/metadata"),
            get(get_group_metadata).put(set_group_metadata),
        )
        .route(
            &format!("{g}/members/{{account}}/metadata"),
            get(get_member_metadata).put(set_member_metadata),
        )
        .route(
            &format!("{g}/contexts/{{context_id}}/metadata"),
            get(get_context_metadata).put(set_context_metadata),
        )
        .route(
            &format!("{g}/contexts/{{context_id}}/remove"),
            post(detach_context),
        )
        .route(
            &format!("{g}/settings/default-capabilities"),
            put(set_default_capabilities),
        )
        .route(
            &format!("{g}/settings/subgroup-visibility"),
            put(set_subgroup_visibility),
        )
        .route(
            &format!("{g}/settings/tee-admission-policy"),
            get(get_tee_policy).put(set_tee_policy),
        )
        .route(&format!("{g}/upgrade"), post(upgrade))
        .route(&format!("{g}/upgrade/status"), get(upgrade_status))
        .route(&format!("{g}/upgrade/retry"), post(retry_upgrade))
        .route(&format!("{g}/cascade-status"), get(cascade_status))
        .route(&format!("{g}/migration-status"), get(migration_status))
        .route(&format!("{g}/migration/abort"), post(abort_migration))
        .route(&format!("{g}/sync"), post(sync))
        .route(
            &format!("{g}/join-via-inheritance"),
            post(join_via_inheritance),
        )
        .route(&format!("{g}/invite"), post(invite_legacy))
        .route(
            &format!("{g}/issue-ownership-proof"),
            post(issue_ownership_proof),
        )
        .route(
            &format!("{g}/issue-namespace-ownership-proof"),
            post(issue_namespace_ownership_proof),
        )
        // rc.83 (gated in `crate::release::ROUTES`).
        .route(
            &format!("{g}/transfer-ownership"),
            post(super::owner::transfer_ownership),
        )
        .route(
            &format!("{g}/owner-delete"),
            post(super::owner::owner_delete),
        )
        .route(
            &format!("{g}/settings/tee-authoring-policy"),
            put(super::owner::set_authoring_policy).delete(super::owner::disable_authoring_policy),
        )
        .route(
            &format!("{g}/accounts/{{account}}/seal"),
            post(super::owner::seal_to_account),
        )
}

// ------------------------------------------------------------------ parsing

/// A 64-char hex group (or namespace) id from a path.
pub fn parse_group_id(raw: &str) -> Result<Id, ApiError> {
    hex_id(
        raw,
        "Invalid group id format: expected hex-encoded 32 bytes",
        "Invalid group id: must be exactly 32 bytes",
    )
}

/// A context id given as base58 or 64-char hex (hex only from rc.27, when
/// every id became hex: core `IssueOwnershipProofApiRequest` comment, index
/// id 59157838922).
pub fn parse_context_id(raw: &str) -> Result<Id, ApiError> {
    if !crate::release::current().hex_ids() {
        if let Ok(id) = Id::parse_bs58(raw) {
            return Ok(id);
        }
    }
    hex_id(
        raw,
        "Invalid context id format: expected base58 or hex-encoded 32 bytes",
        "Invalid context id: must be exactly 32 bytes",
    )
}

/// A 64-hex account id from a path.
pub fn parse_account(raw: &str) -> Result<Id, ApiError> {
    let message = "Invalid account format: expected 64 hex characters (32 bytes)";
    hex_id(raw, message, message)
}

#[derive(Deserialize)]
pub struct Page {
    offset: Option<usize>,
    limit: Option<usize>,
}

impl Page {
    pub fn bounds(&self) -> (usize, usize) {
        (
            self.offset.unwrap_or(0),
            self.limit.unwrap_or(DEFAULT_LIST_LIMIT).min(MAX_LIST_LIMIT),
        )
    }
}

/// An `AccountId` in a JSON body.
#[derive(Clone, Copy)]
struct Account(Id);

impl<'de> Deserialize<'de> for Account {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        Id::parse_hex(&s)
            .map(Account)
            .map_err(|_| de::Error::custom("expected 64 hex characters (32 bytes)"))
    }
}

/// `MemberIdentity`: a 64-hex account or a bs58 signing key; from rc.27
/// both are 64 hex and the node reads one as an account (core
/// `GroupMemberApiInput`, index id 59157838922: "anything else is taken as
/// an account as given").
#[derive(Clone, Copy)]
enum MemberIdentity {
    Account(Id),
    Key(Id),
}

impl<'de> Deserialize<'de> for MemberIdentity {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = MemberIdentity;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a 64-hex account id or a bs58 public key")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<MemberIdentity, E> {
                if let Ok(id) = Id::parse_hex(v) {
                    Ok(MemberIdentity::Account(id))
                } else if crate::release::current().hex_ids() {
                    Err(E::custom(crate::ids::HASH_NOT_HEX))
                } else if let Ok(id) = Id::parse_bs58(v) {
                    Ok(MemberIdentity::Key(id))
                } else {
                    Err(E::custom(
                        "expected a 64-hex account id or a bs58 public key",
                    ))
                }
            }
        }
        deserializer.deserialize_str(V)
    }
}

// ------------------------------------------------------------------- gates

/// `node is not a member of group 'ContextGroupId(Identity([…]))'` (403).
pub fn not_a_member(id: Id) -> ApiError {
    ApiError::Json(
        StatusCode::FORBIDDEN,
        format!(
            "node is not a member of group 'ContextGroupId(Identity({:?}))'",
            id.0
        ),
    )
}

/// The `Debug` form the node prints a group id in
/// (`ContextGroupId(Identity([…]))`, recorded at rc.25).
fn group_debug(id: &Id) -> String {
    format!("ContextGroupId(Identity({:?}))", id.0)
}

/// `ContextError::GroupNotFound`: 500 until rc.44, then 404 [inferred text].
pub fn group_not_found(id: &Id) -> ApiError {
    ApiError::missing(format!("group '{}' not found", id.to_hex()))
}

/// This node's signing key as the governance errors print it
/// (`PublicKey(Hash("…"))`) [inferred].
fn identity_debug(node: &Node) -> String {
    node.identity.map_or_else(
        || "PublicKey(Hash(\"\"))".to_owned(),
        |i| format!("PublicKey(Hash({:?}))", i.public_key.to_hex()),
    )
}

/// `MembershipError::NotAdmin`, "identity {identity} is not an admin of
/// group {group_id}" (core rc.25 `crates/governance-store/src/errors.rs`):
/// 500 until rc.44, then 403.
pub fn not_admin(node: &Node, id: &Id) -> ApiError {
    ApiError::forbidden(format!(
        "identity {} is not an admin of group {}",
        identity_debug(node),
        group_debug(id)
    ))
}

/// `CapabilitiesError::Unauthorized` (403 from rc.44) [inferred text, after
/// the shape quoted in research `wire-rc83.md` §4 row 19].
pub fn lacks_capability(node: &Node, id: &Id, what: &str, capability: &str) -> ApiError {
    ApiError::forbidden(format!(
        "{what} in group '{}' needs admin or {capability}: {} lacks permission",
        id.to_hex(),
        identity_debug(node)
    ))
}

/// `MembershipError::MemberNotFound`, "member {member} not found in group
/// {group_id}": 500 until rc.44, then 404.
pub fn member_not_found(member: &Id, id: &Id) -> ApiError {
    ApiError::missing(format!(
        "member {} not found in group {}",
        member.to_hex(),
        group_debug(id)
    ))
}

/// `MembershipError::LastAdmin`: 500 until rc.44, then 409.
pub fn last_admin() -> ApiError {
    ApiError::conflict("cannot remove the last admin of the group")
}

/// `MembershipError::LastAdminDemotion`: 500 until rc.44, then 409.
fn last_admin_demotion() -> ApiError {
    ApiError::conflict("cannot demote the last admin of the group")
}

fn capability_name(cap: u32) -> &'static str {
    match cap {
        caps::CAN_CREATE_CONTEXT => "CAN_CREATE_CONTEXT",
        caps::CAN_INVITE_MEMBERS => "CAN_INVITE_MEMBERS",
        caps::CAN_JOIN_OPEN_SUBGROUPS => "CAN_JOIN_OPEN_SUBGROUPS",
        caps::MANAGE_MEMBERS => "MANAGE_MEMBERS",
        caps::MANAGE_APPLICATION => "MANAGE_APPLICATION",
        caps::CAN_CREATE_SUBGROUP => "CAN_CREATE_SUBGROUP",
        caps::CAN_DELETE_SUBGROUP => "CAN_DELETE_SUBGROUP",
        caps::CAN_MANAGE_VISIBILITY => "CAN_MANAGE_VISIBILITY",
        caps::CAN_MANAGE_METADATA => "CAN_MANAGE_METADATA",
        _ => "the capability",
    }
}

/// The group, when the node holds an identity in its namespace; else the
/// node's untyped failure (500), typed 404 from rc.44.
pub fn readable<'a>(node: &'a Node, id: &Id) -> Result<&'a Group, ApiError> {
    node.visible_group(id).ok_or_else(|| group_not_found(id))
}

/// Readable and the node is a member (403 otherwise).
fn member_of<'a>(node: &'a Node, id: &Id) -> Result<&'a Group, ApiError> {
    let group = readable(node, id)?;
    if node.my_row(id).is_some() {
        Ok(group)
    } else {
        Err(not_a_member(*id))
    }
}

/// Readable and the node may act with `cap` (admin, or a member holding
/// the capability; `0` = admin only). Otherwise 500 (`NotAdmin` is untyped
/// until rc.44; then 403).
pub fn authorised(node: &Node, id: &Id, cap: u32) -> Result<(), ApiError> {
    let _ = readable(node, id)?;
    if cap == 0 {
        return if node.is_admin(id) {
            Ok(())
        } else {
            Err(not_admin(node, id))
        };
    }
    if node.has_capability(id, cap) {
        Ok(())
    } else {
        Err(lacks_capability(
            node,
            id,
            "this operation",
            capability_name(cap),
        ))
    }
}

pub fn group_mut<'a>(node: &'a mut Node, id: &Id) -> Result<&'a mut Group, ApiError> {
    node.groups.get_mut(id).ok_or_else(|| group_not_found(id))
}

/// Admins in the group itself (not inherited).
pub fn direct_admins(group: &Group) -> usize {
    group
        .members
        .values()
        .filter(|r| r.role == Role::Admin)
        .count()
}

/// `{}` (the braced empty response structs).
pub fn empty() -> Response {
    json(serde_json::Map::new())
}

// ------------------------------------------------------------------ create

/// `CreateGroupApiRequest` up to rc.82 (`appKey` also read as
/// `bytecodeId`, core index id 59157838922).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CreateGroupRequest {
    group_id: Option<String>,
    #[serde(default, alias = "bytecodeId")]
    app_key: Option<String>,
    application_id: Id,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    parent_group_id: Option<String>,
}

impl Validate for CreateGroupRequest {
    fn validate(&self, _config: &Config) -> Vec<ValidationError> {
        match &self.app_key {
            Some(key) if key.is_empty() => vec![ValidationError::EmptyField { field: "app_key" }],
            _ => Vec::new(),
        }
    }
}

/// rc.83: ids are derived, `groupId` is no longer a field, so a body naming
/// one is refused by the strict body (400; swift `Rc83SurfaceTests.swift`,
/// kotlin CHANGELOG rc.83; the field list is research `wire-rc83.md` §6.5
/// [inferred order]).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CreateGroupRequestV83 {
    #[serde(default, alias = "bytecodeId")]
    app_key: Option<String>,
    application_id: Id,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    parent_group_id: Option<String>,
}

impl Validate for CreateGroupRequestV83 {
    fn validate(&self, _config: &Config) -> Vec<ValidationError> {
        match &self.app_key {
            Some(key) if key.is_empty() => vec![ValidationError::EmptyField { field: "app_key" }],
            _ => Vec::new(),
        }
    }
}

/// Without `parentGroupId` this creates a namespace (root group); with one,
/// a subgroup (the node needs `CAN_CREATE_SUBGROUP` or admin there).
async fn create(State(state): State<Arc<AppState>>, req: Request) -> ApiResult {
    let req = if state.config.release.rc83() {
        let ValidatedJson(req) =
            ValidatedJson::<CreateGroupRequestV83>::from_request(req, &state).await?;
        CreateGroupRequest {
            group_id: None,
            app_key: req.app_key,
            application_id: req.application_id,
            name: req.name,
            parent_group_id: req.parent_group_id,
        }
    } else {
        ValidatedJson::<CreateGroupRequest>::from_request(req, &state)
            .await?
            .0
    };
    create_group(&state, req)
}

fn create_group(state: &AppState, req: CreateGroupRequest) -> ApiResult {
    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    struct Created {
        group_id: HexId,
    }

    let parent = req
        .parent_group_id
        .as_deref()
        .map(parse_group_id)
        .transpose()?;
    let wanted = req
        .group_id
        .as_deref()
        .map(|raw| {
            Id::parse_hex(raw).map_err(|_| {
                ApiError::bad_request("Invalid group_id: expected hex-encoded 32 bytes")
            })
        })
        .transpose()?;
    let app_key = req
        .app_key
        .as_deref()
        .map(|raw| {
            Id::parse_hex(raw).map_err(|_| {
                ApiError::bad_request("Invalid app_key: expected hex-encoded 32 bytes")
            })
        })
        .transpose()?;
    let mut node = state.node();
    let app = match parent {
        // A subgroup runs its namespace's application.
        Some(parent) => {
            authorised(&node, &parent, caps::CAN_CREATE_SUBGROUP)?;
            let parent_group = readable(&node, &parent)?;
            let target = parent_group.target_application_id;
            node.apps
                .get(&target)
                .cloned()
                .ok_or_else(|| super::contexts::application_not_found(&target))?
        }
        None => node
            .apps
            .get(&req.application_id)
            .cloned()
            .ok_or_else(|| super::contexts::application_not_found(&req.application_id))?,
    };
    if app_key.is_some_and(|key| key != app.bytecode) {
        return Err(ApiError::invalid(
            "appKey does not name this application's bytecode",
        ));
    }
    if wanted.is_some_and(|id| node.groups.contains_key(&id)) {
        return Err(ApiError::conflict("group already exists"));
    }
    let id = node.new_group(parent, &app, req.name);
    if let Some(wanted) = wanted {
        if let Some(mut group) = node.groups.remove(&id) {
            group.id = wanted;
            let _ = node.groups.insert(wanted, group);
        }
        return Ok(data(Created {
            group_id: HexId(wanted),
        }));
    }
    Ok(data(Created {
        group_id: HexId(id),
    }))
}

// -------------------------------------------------------------------- read

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct GroupInfo<'a> {
    group_id: HexId,
    app_key: HexId,
    target_application_id: Id,
    member_count: usize,
    context_count: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    active_upgrade: Option<&'a UpgradeInfo>,
    default_capabilities: u32,
    subgroup_visibility: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    metadata: Option<&'a MetadataRecord>,
    group_state_hash: HexId,
    /// rc.83 (core fixture `groups/group_info.res.json@b7284f9e`; order
    /// after `groupStateHash` [inferred]).
    #[serde(skip_serializing_if = "Option::is_none")]
    namespace_id: Option<HexId>,
    #[serde(skip_serializing_if = "Option::is_none")]
    owner_op_counter: Option<u64>,
}

fn visibility(open: bool) -> &'static str {
    if open {
        "open"
    } else {
        "restricted"
    }
}

async fn info(State(state): State<Arc<AppState>>, Path(raw): Path<String>) -> ApiResult {
    let id = parse_group_id(&raw)?;
    let node = state.node();
    let group = readable(&node, &id)?;
    Ok(data(GroupInfo {
        group_id: HexId(id),
        app_key: HexId(group.app_key),
        target_application_id: group.target_application_id,
        member_count: group.members.len(),
        context_count: node.contexts_in(id).count(),
        active_upgrade: group.upgrade.as_ref().filter(|u| u.status == "in_progress"),
        default_capabilities: group.default_capabilities,
        subgroup_visibility: visibility(group.open),
        metadata: group.metadata.as_ref(),
        group_state_hash: HexId(group.state_hash()),
        namespace_id: state
            .config
            .release
            .rc83()
            .then(|| HexId(node.root_of(&id).unwrap_or(id))),
        owner_op_counter: state
            .config
            .release
            .rc83()
            .then_some(group.owner_op_counter),
    }))
}

async fn contexts(
    State(state): State<Arc<AppState>>,
    Path(raw): Path<String>,
    RawQuery(q): RawQuery,
) -> ApiResult {
    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    struct Entry<'a> {
        context_id: Id,
        #[serde(skip_serializing_if = "Option::is_none")]
        name: Option<&'a str>,
    }

    let (offset, limit) = query::<Page>(q.as_deref())?.bounds();
    let id = parse_group_id(&raw)?;
    let node = state.node();
    let group = member_of(&node, &id)?;
    let entries: Vec<Entry<'_>> = node
        .contexts_in(id)
        .skip(offset)
        .take(limit)
        .map(|c| Entry {
            context_id: c.id,
            // The context's metadata name, else its creation name.
            name: group
                .context_metadata
                .get(&c.id)
                .and_then(|m| m.name.as_deref())
                .or(c.name.as_deref()),
        })
        .collect();
    Ok(data(entries))
}

async fn members(
    State(state): State<Arc<AppState>>,
    Path(raw): Path<String>,
    RawQuery(q): RawQuery,
) -> ApiResult {
    #[derive(Serialize)]
    struct Member<'a> {
        identity: HexId,
        role: Role,
        #[serde(skip_serializing_if = "Option::is_none")]
        name: Option<&'a str>,
    }

    #[derive(Serialize)]
    struct Members<'a> {
        members: Vec<Member<'a>>,
    }

    let (offset, limit) = query::<Page>(q.as_deref())?.bounds();
    let id = parse_group_id(&raw)?;
    let node = state.node();
    let group = member_of(&node, &id)?;
    let members = group
        .members
        .iter()
        .skip(offset)
        .take(limit)
        .map(|(account, row)| Member {
            identity: HexId(*account),
            role: row.role,
            name: group
                .member_metadata
                .get(account)
                .and_then(|m| m.name.as_deref()),
        })
        .collect();
    Ok(json(Members { members }))
}

/// Only this node's account has a device the node knows of; a non-member
/// (or an unknown group) is the typed 403.
async fn member_devices(
    State(state): State<Arc<AppState>>,
    Path(raw): Path<String>,
    RawQuery(q): RawQuery,
) -> ApiResult {
    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    struct Device {
        device_id: HexId,
        signing_key: Id,
    }

    #[derive(Serialize)]
    struct Entry {
        account: HexId,
        devices: Vec<Device>,
    }

    #[derive(Serialize)]
    struct Members {
        members: Vec<Entry>,
    }

    let (offset, limit) = query::<Page>(q.as_deref())?.bounds();
    let id = parse_group_id(&raw)?;
    let node = state.node();
    let (Some(identity), Some(_)) = (node.identity, node.visible_group(&id)) else {
        return Err(not_a_member(id));
    };
    if node.my_row(&id).is_none() {
        return Err(not_a_member(id));
    }
    // Plus the devices paired to the node's account in this namespace.
    let paired = node
        .root_of(&id)
        .and_then(|root| node.paired_devices.get(&root))
        .into_iter()
        .flatten()
        .map(|(device, key)| Device {
            device_id: HexId(*device),
            signing_key: *key,
        });
    let devices = std::iter::once(Device {
        device_id: HexId(identity.device_id),
        signing_key: identity.public_key,
    })
    .chain(paired)
    .collect();
    let members = std::iter::once(Entry {
        account: HexId(identity.account_id),
        devices,
    })
    .skip(offset)
    .take(limit)
    .collect();
    Ok(json(Members { members }))
}

/// Children; a restricted one only when the node is in it or administers
/// the parent. An unknown group has none.
async fn subgroups(State(state): State<Arc<AppState>>, Path(raw): Path<String>) -> ApiResult {
    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    struct Entry<'a> {
        group_id: HexId,
        #[serde(skip_serializing_if = "Option::is_none")]
        name: Option<&'a str>,
    }

    #[derive(Serialize)]
    struct Subgroups<'a> {
        subgroups: Vec<Entry<'a>>,
    }

    let id = parse_group_id(&raw)?;
    let node = state.node();
    let subgroups = if node.visible_group(&id).is_some() {
        node.children(id)
            .filter(|g| g.open || node.my_row(&g.id).is_some() || node.is_admin(&id))
            .map(|g| Entry {
                group_id: HexId(g.id),
                name: g.name(),
            })
            .collect()
    } else {
        Vec::new()
    };
    Ok(json(Subgroups { subgroups }))
}

// ----------------------------------------------------------------- delete

#[derive(Deserialize)]
struct EmptyBody {}

impl Validate for EmptyBody {}

/// A group with subgroups cannot go (500); its contexts are unregistered.
async fn delete(
    State(state): State<Arc<AppState>>,
    Path(raw): Path<String>,
    ValidatedJson(EmptyBody {}): ValidatedJson<EmptyBody>,
) -> ApiResult {
    let id = parse_group_id(&raw)?;
    let mut node = state.node();
    authorised(&node, &id, caps::CAN_DELETE_SUBGROUP)?;
    if node.children(id).next().is_some() {
        return Err(ApiError::internal());
    }
    let _ = node.groups.remove(&id);
    for context in node.contexts.values_mut() {
        if context.group == Some(id) {
            context.group = None;
        }
    }
    Ok(data(serde_json::json!({ "isDeleted": true })))
}

// ---------------------------------------------------------------- members

#[derive(Deserialize)]
struct MemberInput {
    identity: MemberIdentity,
    role: Role,
}

#[derive(Deserialize)]
struct AddMembersRequest {
    members: Vec<MemberInput>,
}

impl Validate for AddMembersRequest {
    fn validate(&self, _config: &Config) -> Vec<ValidationError> {
        let mut errors = Vec::new();
        if self.members.is_empty() {
            errors.push(ValidationError::EmptyField { field: "members" });
        }
        for member in &self.members {
            if matches!(member.role, Role::ReadOnlyTee | Role::RelayTee) {
                errors.push(ValidationError::InvalidFormat {
                    field: "members[].role",
                    reason: "ReadOnlyTee role can only be assigned via TEE attestation".to_owned(),
                });
            }
        }
        errors
    }
}

/// Adds (or re-roles) members. A bs58 key must be this node's own key
/// (the only key→account binding it knows); otherwise 500.
async fn add_members(
    State(state): State<Arc<AppState>>,
    Path(raw): Path<String>,
    ValidatedJson(req): ValidatedJson<AddMembersRequest>,
) -> ApiResult {
    let id = parse_group_id(&raw)?;
    let mut node = state.node();
    authorised(&node, &id, caps::MANAGE_MEMBERS)?;
    let me = node.identity;
    let mut accounts = Vec::new();
    for member in &req.members {
        let account = match member.identity {
            // From rc.27 a key and an account are both 64 hex: bytes that
            // are this node's signing key name its account (core
            // `GroupMemberApiInput`, index id 59157838922).
            MemberIdentity::Account(key)
                if state.config.release.hex_ids() && me.is_some_and(|me| me.public_key == key) =>
            {
                me.map_or(key, |me| me.account_id)
            }
            MemberIdentity::Account(account) => account,
            MemberIdentity::Key(key) => match me {
                Some(me) if me.public_key == key => me.account_id,
                _ => return Err(ApiError::internal()),
            },
        };
        // Only an admin may make an admin.
        if member.role == Role::Admin && !node.is_admin(&id) {
            return Err(not_admin(&node, &id));
        }
        accounts.push((account, member.role));
    }
    let group = group_mut(&mut node, &id)?;
    let default_caps = group.default_capabilities;
    for (account, role) in accounts {
        let _ = group
            .members
            .entry(account)
            .and_modify(|row| row.role = role)
            .or_insert_with(|| MemberRow::new(role, default_caps));
        state
            .events
            .membership("MemberAdded", id, account, Some(role));
    }
    group.touch();
    Ok(empty())
}

#[derive(Deserialize)]
struct RemoveMembersRequest {
    members: Vec<Account>,
}

impl Validate for RemoveMembersRequest {
    fn validate(&self, _config: &Config) -> Vec<ValidationError> {
        if self.members.is_empty() {
            vec![ValidationError::EmptyField { field: "members" }]
        } else {
            Vec::new()
        }
    }
}

async fn remove_members(
    State(state): State<Arc<AppState>>,
    Path(raw): Path<String>,
    ValidatedJson(req): ValidatedJson<RemoveMembersRequest>,
) -> ApiResult {
    let id = parse_group_id(&raw)?;
    let mut node = state.node();
    authorised(&node, &id, caps::MANAGE_MEMBERS)?;
    let is_admin = node.is_admin(&id);
    let group = group_mut(&mut node, &id)?;
    let mut after = group.members.clone();
    let mut refusal = None;
    for Account(account) in &req.members {
        let Some(row) = after.remove(account) else {
            refusal = Some(member_not_found(account, &id));
            break;
        };
        if row.role == Role::Admin && !is_admin {
            refusal = Some(ApiError::forbidden(format!(
                "identity is not an admin of group {}",
                group_debug(&id)
            )));
            break;
        }
    }
    if let Some(refusal) = refusal {
        return Err(refusal);
    }
    if direct_admins(group) > 0 && !after.values().any(|r| r.role == Role::Admin) {
        return Err(last_admin());
    }
    group.members = after;
    for Account(account) in &req.members {
        let _ = group.member_metadata.remove(account);
        state.events.membership("MemberRemoved", id, *account, None);
    }
    group.touch();
    Ok(empty())
}

#[derive(Deserialize)]
struct RoleRequest {
    role: Role,
}

impl Validate for RoleRequest {
    fn validate(&self, _config: &Config) -> Vec<ValidationError> {
        if matches!(self.role, Role::ReadOnlyTee | Role::RelayTee) {
            vec![ValidationError::InvalidFormat {
                field: "role",
                reason: "ReadOnlyTee role can only be assigned via TEE attestation".to_owned(),
            }]
        } else {
            Vec::new()
        }
    }
}

/// Admin only; the target must be a member; the last admin cannot step down.
async fn set_role(
    State(state): State<Arc<AppState>>,
    Path((raw, account)): Path<(String, String)>,
    ValidatedJson(req): ValidatedJson<RoleRequest>,
) -> ApiResult {
    let id = parse_group_id(&raw)?;
    let account = parse_account(&account)?;
    let mut node = state.node();
    authorised(&node, &id, 0)?;
    let group = group_mut(&mut node, &id)?;
    let Some(current) = group.members.get(&account).map(|r| r.role) else {
        return Err(member_not_found(&account, &id));
    };
    if current == Role::Admin && req.role != Role::Admin && direct_admins(group) == 1 {
        return Err(last_admin_demotion());
    }
    if let Some(row) = group.members.get_mut(&account) {
        row.role = req.role;
    }
    group.touch();
    Ok(empty())
}

/// A member's capability bits; a non-member account is an untyped 500.
async fn get_capabilities(
    State(state): State<Arc<AppState>>,
    Path((raw, account)): Path<(String, String)>,
) -> ApiResult {
    #[derive(Serialize)]
    struct Caps {
        capabilities: u32,
    }

    let id = parse_group_id(&raw)?;
    let account = parse_account(&account)?;
    let node = state.node();
    let group = readable(&node, &id)?;
    let row = group
        .members
        .get(&account)
        .ok_or_else(|| member_not_found(&account, &id))?;
    Ok(data(Caps {
        capabilities: row.capabilities,
    }))
}

#[derive(Deserialize)]
struct CapabilitiesRequest {
    capabilities: u32,
}

impl Validate for CapabilitiesRequest {}

async fn set_capabilities(
    State(state): State<Arc<AppState>>,
    Path((raw, account)): Path<(String, String)>,
    ValidatedJson(req): ValidatedJson<CapabilitiesRequest>,
) -> ApiResult {
    let id = parse_group_id(&raw)?;
    let account = parse_account(&account)?;
    let mut node = state.node();
    authorised(&node, &id, 0)?;
    let group = group_mut(&mut node, &id)?;
    let row = group
        .members
        .get_mut(&account)
        .ok_or_else(|| member_not_found(&account, &id))?;
    row.capabilities = req.capabilities;
    group.touch();
    Ok(empty())
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct AutoFollowRequest {
    auto_follow_contexts: bool,
    auto_follow_subgroups: bool,
}

impl Validate for AutoFollowRequest {}

/// An admin, or the member for itself.
async fn set_auto_follow(
    State(state): State<Arc<AppState>>,
    Path((raw, account)): Path<(String, String)>,
    ValidatedJson(req): ValidatedJson<AutoFollowRequest>,
) -> ApiResult {
    let id = parse_group_id(&raw)?;
    let account = parse_account(&account)?;
    let mut node = state.node();
    let _ = readable(&node, &id)?;
    if !node.is_admin(&id) && node.account() != Some(account) {
        // `MembershipError::AutoFollowAuthFailed` (core rc.25 errors.rs).
        return Err(ApiError::forbidden(
            "only group admin or the target member can set auto-follow",
        ));
    }
    let group = group_mut(&mut node, &id)?;
    let row = group
        .members
        .get_mut(&account)
        .ok_or_else(|| member_not_found(&account, &id))?;
    row.auto_follow_contexts = req.auto_follow_contexts;
    row.auto_follow_subgroups = req.auto_follow_subgroups;
    group.touch();
    Ok(empty())
}

/// Leaves a group (the node's row goes). The last admin cannot leave.
async fn leave(State(state): State<Arc<AppState>>, Path(raw): Path<String>) -> ApiResult {
    let id = parse_group_id(&raw)?;
    let mut node = state.node();
    let _ = readable(&node, &id)?;
    let (account, key) = match node.identity {
        Some(identity) => (identity.account_id, identity.public_key),
        None => return Err(ApiError::internal()),
    };
    let group = group_mut(&mut node, &id)?;
    let Some(row) = group.members.get(&account) else {
        // `ContextError::LeaveGroupNotDirectMember` (409 from rc.44)
        // [inferred text].
        return Err(ApiError::conflict(format!(
            "this node is not a direct member of group '{}'; leave the parent group where the \
             membership anchor lives",
            id.to_hex()
        )));
    };
    if row.role == Role::Admin && direct_admins(group) == 1 {
        return Err(last_admin());
    }
    let _ = group.members.remove(&account);
    group.touch();
    Ok(data(LeftGroup {
        group_id: HexId(id),
        member_public_key: key,
    }))
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct LeftGroup {
    group_id: HexId,
    member_public_key: Id,
}

// --------------------------------------------------------------- metadata

#[derive(Deserialize)]
struct MetadataRequest {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    data: BTreeMap<String, String>,
}

const MAX_METADATA_NAME_LEN: usize = 64;
const MAX_METADATA_DATA_ENTRIES: usize = 64;
const MAX_METADATA_DATA_KEY_LEN: usize = 64;
const MAX_METADATA_DATA_VALUE_LEN: usize = 4096;

/// core: crates/primitives/src/metadata.rs (`validate_metadata_payload`).
fn metadata_problem(name: Option<&str>, data: &BTreeMap<String, String>) -> Option<String> {
    if let Some(name) = name {
        if name.is_empty() {
            return Some(
                "metadata name must not be the empty string — use null to clear it".to_owned(),
            );
        }
        if name.len() > MAX_METADATA_NAME_LEN {
            return Some(format!(
                "metadata name too long: {} bytes (max {MAX_METADATA_NAME_LEN})",
                name.len()
            ));
        }
    }
    if data.len() > MAX_METADATA_DATA_ENTRIES {
        return Some(format!(
            "metadata data has too many entries: {} (max {MAX_METADATA_DATA_ENTRIES})",
            data.len()
        ));
    }
    for (k, v) in data {
        if k.is_empty() {
            return Some("metadata data key must not be the empty string".to_owned());
        }
        if k.len() > MAX_METADATA_DATA_KEY_LEN {
            return Some(format!(
                "metadata data key too long: {} bytes (max {MAX_METADATA_DATA_KEY_LEN})",
                k.len()
            ));
        }
        if v.len() > MAX_METADATA_DATA_VALUE_LEN {
            return Some(format!(
                "metadata data value too long: {} bytes (max {MAX_METADATA_DATA_VALUE_LEN})",
                v.len()
            ));
        }
    }
    None
}

impl Validate for MetadataRequest {
    fn validate(&self, _config: &Config) -> Vec<ValidationError> {
        metadata_problem(self.name.as_deref(), &self.data)
            .map(|reason| ValidationError::InvalidFormat {
                field: "metadata",
                reason,
            })
            .into_iter()
            .collect()
    }
}

fn record(node: &Node, req: MetadataRequest) -> MetadataRecord {
    MetadataRecord {
        name: req.name,
        data: req.data,
        updated_at: now_millis(),
        updated_by: node.identity.map(|i| i.public_key).unwrap_or_default(),
    }
}

fn metadata_reply(record: Option<&MetadataRecord>) -> Response {
    data(record)
}

/// Metadata reads never fail on an unknown group: `{"data":null}`.
async fn get_group_metadata(
    State(state): State<Arc<AppState>>,
    Path(raw): Path<String>,
) -> ApiResult {
    let id = parse_group_id(&raw)?;
    let node = state.node();
    Ok(metadata_reply(
        node.visible_group(&id).and_then(|g| g.metadata.as_ref()),
    ))
}

async fn set_group_metadata(
    State(state): State<Arc<AppState>>,
    Path(raw): Path<String>,
    ValidatedJson(req): ValidatedJson<MetadataRequest>,
) -> ApiResult {
    let id = parse_group_id(&raw)?;
    let mut node = state.node();
    authorised(&node, &id, caps::CAN_MANAGE_METADATA)?;
    let record = record(&node, req);
    let group = group_mut(&mut node, &id)?;
    group.metadata = Some(record);
    group.touch();
    Ok(empty())
}

async fn get_member_metadata(
    State(state): State<Arc<AppState>>,
    Path((raw, account)): Path<(String, String)>,
) -> ApiResult {
    let id = parse_group_id(&raw)?;
    let account = parse_account(&account)?;
    let node = state.node();
    Ok(metadata_reply(
        node.visible_group(&id)
            .and_then(|g| g.member_metadata.get(&account)),
    ))
}

/// An admin, or the member for itself; the account must be a member.
async fn set_member_metadata(
    State(state): State<Arc<AppState>>,
    Path((raw, account)): Path<(String, String)>,
    ValidatedJson(req): ValidatedJson<MetadataRequest>,
) -> ApiResult {
    let id = parse_group_id(&raw)?;
    let account = parse_account(&account)?;
    let mut node = state.node();
    let group = readable(&node, &id)?;
    if !group.members.contains_key(&account)
        || (!node.is_admin(&id) && node.account() != Some(account))
    {
        return Err(ApiError::internal());
    }
    let record = record(&node, req);
    let group = group_mut(&mut node, &id)?;
    let _ = group.member_metadata.insert(account, record);
    group.touch();
    Ok(empty())
}

async fn get_context_metadata(
    State(state): State<Arc<AppState>>,
    Path((raw, context)): Path<(String, String)>,
) -> ApiResult {
    let id = parse_group_id(&raw)?;
    let context = parse_context_id(&context)?;
    let node = state.node();
    Ok(metadata_reply(
        node.visible_group(&id)
            .and_then(|g| g.context_metadata.get(&context)),
    ))
}

/// The context must be registered in the group.
async fn set_context_metadata(
    State(state): State<Arc<AppState>>,
    Path((raw, context)): Path<(String, String)>,
    ValidatedJson(req): ValidatedJson<MetadataRequest>,
) -> ApiResult {
    let id = parse_group_id(&raw)?;
    let context = parse_context_id(&context)?;
    let mut node = state.node();
    authorised(&node, &id, caps::CAN_MANAGE_METADATA)?;
    if node
        .contexts
        .get(&context)
        .is_none_or(|c| c.group != Some(id))
    {
        return Err(ApiError::internal());
    }
    let record = record(&node, req);
    let group = group_mut(&mut node, &id)?;
    let _ = group.context_metadata.insert(context, record);
    group.touch();
    Ok(empty())
}

/// bs58 context ids only here; the context must be in the group.
async fn detach_context(
    State(state): State<Arc<AppState>>,
    Path((raw, context)): Path<(String, String)>,
    ValidatedJson(EmptyBody {}): ValidatedJson<EmptyBody>,
) -> ApiResult {
    let id = parse_group_id(&raw)?;
    let context =
        Id::parse_wire(&context).map_err(|_| ApiError::bad_request("Invalid context_id format"))?;
    let mut node = state.node();
    authorised(&node, &id, 0)?;
    let Some(ctx) = node
        .contexts
        .get_mut(&context)
        .filter(|c| c.group == Some(id))
    else {
        return Err(ApiError::internal());
    };
    ctx.group = None;
    let group = group_mut(&mut node, &id)?;
    let _ = group.context_metadata.remove(&context);
    group.touch();
    Ok(empty())
}

// --------------------------------------------------------------- settings

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct DefaultCapabilitiesRequest {
    default_capabilities: u32,
}

impl Validate for DefaultCapabilitiesRequest {}

async fn set_default_capabilities(
    State(state): State<Arc<AppState>>,
    Path(raw): Path<String>,
    ValidatedJson(req): ValidatedJson<DefaultCapabilitiesRequest>,
) -> ApiResult {
    let id = parse_group_id(&raw)?;
    let mut node = state.node();
    authorised(&node, &id, 0)?;
    let group = group_mut(&mut node, &id)?;
    group.default_capabilities = req.default_capabilities;
    group.touch();
    Ok(empty())
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct VisibilityRequest {
    subgroup_visibility: String,
}

impl Validate for VisibilityRequest {
    fn validate(&self, _config: &Config) -> Vec<ValidationError> {
        if matches!(self.subgroup_visibility.as_str(), "open" | "restricted") {
            Vec::new()
        } else {
            vec![ValidationError::InvalidFormat {
                field: "subgroup_visibility",
                reason: "must be 'open' or 'restricted'".to_owned(),
            }]
        }
    }
}

async fn set_subgroup_visibility(
    State(state): State<Arc<AppState>>,
    Path(raw): Path<String>,
    ValidatedJson(req): ValidatedJson<VisibilityRequest>,
) -> ApiResult {
    let id = parse_group_id(&raw)?;
    let mut node = state.node();
    authorised(&node, &id, caps::CAN_MANAGE_VISIBILITY)?;
    let group = group_mut(&mut node, &id)?;
    group.open = req.subgroup_visibility == "open";
    group.touch();
    Ok(empty())
}

/// The policy, or the disabled one (also for an unknown group). No `data`.
async fn get_tee_policy(State(state): State<Arc<AppState>>, Path(raw): Path<String>) -> ApiResult {
    let id = parse_group_id(&raw)?;
    let node = state.node();
    let policy = node
        .visible_group(&id)
        .and_then(|g| g.tee_policy.clone())
        .unwrap_or_default();
    Ok(json(policy))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct TeePolicyRequest {
    #[serde(default)]
    allowed_mrtd: Vec<String>,
    #[serde(default)]
    allowed_rtmr0: Vec<String>,
    #[serde(default)]
    allowed_rtmr1: Vec<String>,
    #[serde(default)]
    allowed_rtmr2: Vec<String>,
    #[serde(default)]
    allowed_rtmr3: Vec<String>,
    #[serde(default)]
    allowed_tcb_statuses: Vec<String>,
    #[serde(default)]
    accept_mock: bool,
}

impl Validate for TeePolicyRequest {
    fn validate(&self, _config: &Config) -> Vec<ValidationError> {
        if self.allowed_mrtd.is_empty() && !self.accept_mock {
            vec![ValidationError::InvalidFormat {
                field: "allowed_mrtd",
                reason: "at least one MRTD must be specified when accept_mock is false".to_owned(),
            }]
        } else {
            Vec::new()
        }
    }
}

/// rc.83's admission policy: a union of the measurement arm (MRTD and
/// RTMR1–3 all named, even with `acceptMock`) and the signed-release arm
/// (empty measurement lists), plus `mode` and `rootProof` (core fixtures
/// `groups/tee_admission_policy.{req,res}.json`; kotlin CHANGELOG rc.83).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct TeePolicyRequestV83 {
    #[serde(default)]
    allowed_mrtd: Vec<String>,
    #[serde(default)]
    allowed_rtmr0: Vec<String>,
    #[serde(default)]
    allowed_rtmr1: Vec<String>,
    #[serde(default)]
    allowed_rtmr2: Vec<String>,
    #[serde(default)]
    allowed_rtmr3: Vec<String>,
    #[serde(default)]
    allowed_tcb_statuses: Vec<String>,
    #[serde(default)]
    accept_mock: bool,
    #[serde(default)]
    mode: Option<String>,
    #[serde(default)]
    root_proof: Option<String>,
    #[serde(default)]
    signed_release: Option<crate::state::SignedRelease>,
}

impl Validate for TeePolicyRequestV83 {}

impl TeePolicyRequestV83 {
    /// `ContextError::TeePolicyInvalid` (400) [inferred texts after the
    /// research's example "allowed_mrtd must name at least one
    /// measurement"].
    fn problem(&self) -> Option<String> {
        if self
            .root_proof
            .as_ref()
            .is_some_and(|p| hex::decode(p).is_err())
        {
            return Some("rootProof is not valid hex".to_owned());
        }
        if let Some(mode) = &self.mode {
            if mode != "replica" && mode != "relay" {
                return Some(format!(
                    "mode must be \"replica\" or \"relay\", not {mode:?}"
                ));
            }
        }
        let lists = [
            ("allowed_mrtd", &self.allowed_mrtd),
            ("allowed_rtmr1", &self.allowed_rtmr1),
            ("allowed_rtmr2", &self.allowed_rtmr2),
            ("allowed_rtmr3", &self.allowed_rtmr3),
        ];
        match &self.signed_release {
            Some(release) => {
                if lists.iter().any(|(_, l)| !l.is_empty()) || !self.allowed_rtmr0.is_empty() {
                    return Some(
                        "a signed-release policy names no measurements; leave the allowed_* \
                         lists empty"
                            .to_owned(),
                    );
                }
                if release.allowed_profiles.is_empty() {
                    return Some(
                        "signed_release.allowed_profiles must name at least one profile".to_owned(),
                    );
                }
                None
            }
            None => lists
                .iter()
                .find(|(_, l)| l.is_empty())
                .map(|(name, _)| format!("{name} must name at least one measurement")),
        }
    }
}

/// Admin only; from rc.83 the union body above, and root-guarded (the
/// owner's: `OnlyOwner…` 403 for anyone else, as the other owner ops).
async fn set_tee_policy(
    State(state): State<Arc<AppState>>,
    Path(raw): Path<String>,
    req: Request,
) -> ApiResult {
    let id = parse_group_id(&raw)?;
    let policy = if state.config.release.rc83() {
        let ValidatedJson(req) =
            ValidatedJson::<TeePolicyRequestV83>::from_request(req, &state).await?;
        if let Some(problem) = req.problem() {
            return Err(ApiError::invalid(problem));
        }
        let mode = req.mode.unwrap_or_else(|| "replica".to_owned());
        TeePolicy {
            enabled: true,
            allowed_mrtd: req.allowed_mrtd,
            allowed_rtmr0: req.allowed_rtmr0,
            allowed_rtmr1: req.allowed_rtmr1,
            allowed_rtmr2: req.allowed_rtmr2,
            allowed_rtmr3: req.allowed_rtmr3,
            allowed_tcb_statuses: req.allowed_tcb_statuses,
            accept_mock: req.accept_mock,
            mode: Some(mode),
            signed_release: req.signed_release,
        }
    } else {
        let ValidatedJson(req) =
            ValidatedJson::<TeePolicyRequest>::from_request(req, &state).await?;
        TeePolicy {
            enabled: true,
            allowed_mrtd: req.allowed_mrtd,
            allowed_rtmr0: req.allowed_rtmr0,
            allowed_rtmr1: req.allowed_rtmr1,
            allowed_rtmr2: req.allowed_rtmr2,
            allowed_rtmr3: req.allowed_rtmr3,
            allowed_tcb_statuses: req.allowed_tcb_statuses,
            accept_mock: req.accept_mock,
            mode: None,
            signed_release: None,
        }
    };
    let mut node = state.node();
    authorised(&node, &id, 0)?;
    if state.config.release.rc83() && node.account() != Some(readable(&node, &id)?.owner) {
        return Err(ApiError::Json(
            StatusCode::FORBIDDEN,
            format!(
                "only the owner of group {} can set its TEE admission policy; this node's \
                 account is not its owner",
                id.to_hex()
            ),
        ));
    }
    let group = group_mut(&mut node, &id)?;
    group.tee_policy = Some(policy);
    group.touch();
    Ok(empty())
}

// ---------------------------------------------------------------- reparent

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ReparentRequest {
    new_parent_id: String,
}

impl Validate for ReparentRequest {
    fn validate(&self, _config: &Config) -> Vec<ValidationError> {
        let mut errors = Vec::new();
        validate::hex_string(
            &self.new_parent_id,
            "new_parent_id",
            32,
            "not valid hex",
            &mut errors,
        );
        errors
    }
}

/// Same namespace only, never below itself, never a namespace; admin of
/// both the group and the new parent. `{"reparented":true}` (no `data`).
async fn reparent(
    State(state): State<Arc<AppState>>,
    Path(raw): Path<String>,
    ValidatedJson(req): ValidatedJson<ReparentRequest>,
) -> ApiResult {
    let id = parse_group_id(&raw)?;
    let new_parent = Id::parse_hex(&req.new_parent_id).map_err(|_| ApiError::internal())?;
    let mut node = state.node();
    authorised(&node, &id, 0)?;
    authorised(&node, &new_parent, 0)?;
    let is_root = node.groups.get(&id).is_some_and(|g| g.parent.is_none());
    if is_root
        || node.root_of(&id) != node.root_of(&new_parent)
        || node.subtree(id).contains(&new_parent)
    {
        return Err(ApiError::internal());
    }
    let group = group_mut(&mut node, &id)?;
    group.parent = Some(new_parent);
    group.touch();
    Ok(json(serde_json::json!({ "reparented": true })))
}

// ---------------------------------------------------------------- upgrades

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct UpgradeRequest {
    target_application_id: Id,
    #[serde(default)]
    cascade: bool,
    #[serde(default)]
    #[allow(dead_code, reason = "accepted; every upgrade here swaps code only")]
    force_code_only: bool,
}

impl Validate for UpgradeRequest {}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct UpgradeReply {
    group_id: HexId,
    status: &'static str,
    local_contexts_total: Option<u32>,
    local_contexts_swapped: Option<u32>,
    local_contexts_failed: Option<u32>,
}

/// Swaps the group's contexts (and with `cascade` its subgroups') to the
/// target application at once: status `completed`.
fn run_upgrade(node: &mut Node, id: Id, target: Id, cascade: bool) -> Result<Response, ApiError> {
    let app = node
        .apps
        .get(&target)
        .cloned()
        .ok_or_else(ApiError::internal)?;
    let initiated_by = node.identity.map(|i| i.public_key).unwrap_or_default();
    let groups = if cascade { node.subtree(id) } else { vec![id] };
    let mut swapped = 0u32;
    for context in node.contexts.values_mut() {
        if context.group.is_some_and(|g| groups.contains(&g)) {
            context.application_id = target;
            swapped += 1;
        }
    }
    let now = now_secs();
    for gid in &groups {
        let from_version = node
            .groups
            .get(gid)
            .and_then(|g| node.apps.get(&g.target_application_id))
            .map(|a| a.version.clone())
            .unwrap_or_default();
        let group = group_mut(node, gid)?;
        group.target_application_id = target;
        group.app_key = app.bytecode;
        group.upgrade = Some(UpgradeInfo {
            from_version,
            to_version: app.version.clone(),
            initiated_at: now,
            initiated_by,
            status: "completed",
            local_contexts_total: Some(swapped),
            local_contexts_swapped: Some(swapped),
            local_contexts_failed: Some(0),
            completed_at: Some(now),
            target_application_id: target,
            cascade,
        });
        group.touch();
    }
    Ok(data(UpgradeReply {
        group_id: HexId(id),
        status: "completed",
        local_contexts_total: Some(swapped),
        local_contexts_swapped: Some(swapped),
        local_contexts_failed: Some(0),
    }))
}

async fn upgrade(
    State(state): State<Arc<AppState>>,
    Path(raw): Path<String>,
    ValidatedJson(req): ValidatedJson<UpgradeRequest>,
) -> ApiResult {
    let id = parse_group_id(&raw)?;
    let mut node = state.node();
    authorised(&node, &id, caps::MANAGE_APPLICATION)?;
    run_upgrade(&mut node, id, req.target_application_id, req.cascade)
}

/// Re-runs the last upgrade; with none recorded, 500.
async fn retry_upgrade(
    State(state): State<Arc<AppState>>,
    Path(raw): Path<String>,
    ValidatedJson(EmptyBody {}): ValidatedJson<EmptyBody>,
) -> ApiResult {
    let id = parse_group_id(&raw)?;
    let mut node = state.node();
    authorised(&node, &id, caps::MANAGE_APPLICATION)?;
    let (target, cascade) = readable(&node, &id)?
        .upgrade
        .as_ref()
        .map(|u| (u.target_application_id, u.cascade))
        .ok_or_else(ApiError::internal)?;
    run_upgrade(&mut node, id, target, cascade)
}

async fn upgrade_status(State(state): State<Arc<AppState>>, Path(raw): Path<String>) -> ApiResult {
    let id = parse_group_id(&raw)?;
    let node = state.node();
    Ok(data(readable(&node, &id)?.upgrade.as_ref()))
}

/// Every group of the namespace with a recorded upgrade.
async fn cascade_status(State(state): State<Arc<AppState>>, Path(raw): Path<String>) -> ApiResult {
    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    struct Entry<'a> {
        group_id: HexId,
        upgrade: &'a UpgradeInfo,
    }

    let id = parse_group_id(&raw)?;
    let node = state.node();
    let _ = readable(&node, &id)?;
    let entries: Vec<Entry<'_>> = node
        .subtree(id)
        .iter()
        .filter_map(|gid| node.groups.get(gid))
        .filter_map(|g| {
            g.upgrade.as_ref().map(|upgrade| Entry {
                group_id: HexId(g.id),
                upgrade,
            })
        })
        .collect();
    Ok(data(entries))
}

/// One member (this node), always migrated (no `data` envelope).
async fn migration_status(
    State(state): State<Arc<AppState>>,
    Path(raw): Path<String>,
) -> ApiResult {
    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    struct Status {
        target_version: u32,
        expected_members: usize,
        rollup: Rollup,
        members: [MemberStatus; 1],
    }

    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    struct Rollup {
        migrated: usize,
        in_progress: usize,
        unknown: usize,
        failed: usize,
        total: usize,
        all_migrated: bool,
        members_pending_signature: usize,
    }

    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    struct MemberStatus {
        peer: Id,
        account: HexId,
        report: Report,
        state: &'static str,
    }

    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    struct Report {
        schema_version: u32,
        residue_auto: u64,
        residue_identity: u64,
        synced_up_to_hlc: u64,
        reported_at: u64,
        authored_remaining: u64,
    }

    let id = parse_group_id(&raw)?;
    let node = state.node();
    let group = readable(&node, &id)?;
    let identity = node.identity.ok_or_else(ApiError::internal)?;
    Ok(json(Status {
        target_version: 0,
        expected_members: 1,
        rollup: Rollup {
            migrated: 1,
            in_progress: 0,
            unknown: 0,
            failed: 0,
            total: 1,
            all_migrated: true,
            members_pending_signature: 0,
        },
        members: [MemberStatus {
            peer: identity.public_key,
            account: HexId(identity.account_id),
            report: Report {
                schema_version: 0,
                residue_auto: 0,
                residue_identity: 0,
                synced_up_to_hlc: group.version,
                reported_at: now_millis(),
                authored_remaining: 0,
            },
            state: "migrated",
        }],
    }))
}

/// Nothing is ever migrating here: `aborted` is false.
async fn abort_migration(State(state): State<Arc<AppState>>, Path(raw): Path<String>) -> ApiResult {
    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    struct Aborted {
        namespace_id: HexId,
        aborted: bool,
    }

    let id = parse_group_id(&raw)?;
    let node = state.node();
    let _ = readable(&node, &id)?;
    Ok(json(Aborted {
        namespace_id: HexId(id),
        aborted: false,
    }))
}

async fn sync(
    State(state): State<Arc<AppState>>,
    Path(raw): Path<String>,
    ValidatedJson(EmptyBody {}): ValidatedJson<EmptyBody>,
) -> ApiResult {
    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    struct Synced {
        group_id: HexId,
        app_key: HexId,
        target_application_id: Id,
        member_count: usize,
        context_count: usize,
    }

    let id = parse_group_id(&raw)?;
    let node = state.node();
    let group = readable(&node, &id)?;
    Ok(data(Synced {
        group_id: HexId(id),
        app_key: HexId(group.app_key),
        target_application_id: group.target_application_id,
        member_count: group.members.len(),
        context_count: node.contexts_in(id).count(),
    }))
}

/// Already a member: `wasInherited:false`. An open subgroup whose parent
/// the node is a member of: joins as Member, `wasInherited:true`. Unknown
/// group: 404; no namespace identity or not eligible: 403.
async fn join_via_inheritance(
    State(state): State<Arc<AppState>>,
    Path(raw): Path<String>,
) -> ApiResult {
    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    struct Joined {
        group_id: HexId,
        member_public_key: Id,
        was_inherited: bool,
    }

    let id = parse_group_id(&raw)?;
    let mut node = state.node();
    let Some(group) = node.groups.get(&id) else {
        return Err(ApiError::not_found("group not found"));
    };
    let (parent, open) = (group.parent, group.open);
    let Some(identity) = node.identity.filter(|_| node.visible_group(&id).is_some()) else {
        return Err(ApiError::Json(
            StatusCode::FORBIDDEN,
            "no namespace identity for this group; join the parent namespace first".to_owned(),
        ));
    };
    let reply = |was_inherited| {
        data(Joined {
            group_id: HexId(id),
            member_public_key: identity.public_key,
            was_inherited,
        })
    };
    if node.my_row(&id).is_some() {
        return Ok(reply(false));
    }
    let eligible = open
        && parent.is_some_and(|p| {
            node.my_row(&p).is_some_and(|row| {
                row.role == Role::Admin || row.capabilities & caps::CAN_JOIN_OPEN_SUBGROUPS != 0
            })
        });
    if !eligible {
        return Err(ApiError::Json(
            StatusCode::FORBIDDEN,
            "identity not eligible for inheritance-based join".to_owned(),
        ));
    }
    let group = group_mut(&mut node, &id)?;
    let default_caps = group.default_capabilities;
    let _ = group.members.insert(
        identity.account_id,
        MemberRow::new(Role::Member, default_caps),
    );
    group.touch();
    state
        .events
        .membership("MemberJoined", id, identity.account_id, Some(Role::Member));
    Ok(reply(true))
}

// ------------------------------------------------------------- invitations

fn default_invited_role() -> u8 {
    1
}

/// `GroupInvitationFromAdmin` (ids as arrays of 32 integers). From rc.29
/// the signed body names its `admitters` (hex accounts, never empty;
/// core#3714; swift `rc29-namespace-invitation.json`).
#[derive(Clone, Deserialize, Serialize)]
pub struct InvitationBody {
    pub inviter_identity: [u8; 32],
    pub group_id: [u8; 32],
    pub expiration_timestamp: u64,
    pub secret_salt: [u8; 32],
    #[serde(default = "default_invited_role")]
    pub invited_role: u8,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub admitters: Vec<String>,
}

/// `SignedGroupOpenInvitation`; the fields after the signature are
/// unsigned hints. From rc.32 the envelope carries `admitter_addrs`
/// (multiaddrs with `/p2p/`, after `inviter_account`: swift
/// `rc32-namespace-invitation.json`).
#[derive(Clone, Deserialize, Serialize)]
pub struct SignedInvitation {
    pub invitation: InvitationBody,
    pub inviter_signature: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inviter_account: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub admitter_addrs: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub application_id: Option<[u8; 32]>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app_key: Option<[u8; 32]>,
}

/// What an invite request asks beyond the validity, per release.
#[derive(Default)]
pub struct InviteExtras {
    /// rc.29+: the accounts that may admit (default: the group's admins).
    pub admitters: Option<Vec<String>>,
    /// rc.32+: where to reach them (default: this node's address).
    pub admitter_addrs: Option<Vec<String>>,
}

impl InviteExtras {
    /// The request's `admitters`/`admitterAddrs`, as far as `release`
    /// reads them (older releases ignore the keys).
    pub fn of(req: &InviteRequest, release: crate::Release) -> Self {
        Self {
            admitters: req.admitters.clone().filter(|_| release.admission()),
            admitter_addrs: req
                .admitter_addrs
                .clone()
                .filter(|_| release.admitter_addrs()),
        }
    }
}

/// This node's address as an invitation names it (rc.32 envelope).
fn own_addr(node: &Node) -> String {
    format!("/ip4/127.0.0.1/tcp/2428/p2p/{}", node.peer_id)
}

/// Signs an invitation to `group` valid for `valid_for` seconds (Member
/// role) and remembers it for `join`.
pub fn issue_invitation(
    node: &mut Node,
    group: Id,
    valid_for: u64,
    extras: &InviteExtras,
) -> Option<SignedInvitation> {
    let release = crate::release::current();
    let identity = node.identity?;
    let (app, key, admins) = {
        let g = node.groups.get(&group)?;
        let admins: Vec<String> = g
            .members
            .iter()
            .filter(|(_, r)| r.role == Role::Admin)
            .map(|(a, _)| a.to_hex())
            .collect();
        (g.target_application_id, g.app_key, admins)
    };
    let admitters = if release.admission() {
        extras.admitters.clone().unwrap_or(admins)
    } else {
        Vec::new()
    };
    let admitter_addrs = if release.admitter_addrs() {
        extras
            .admitter_addrs
            .clone()
            .unwrap_or_else(|| vec![own_addr(node)])
    } else {
        Vec::new()
    };
    let salt = Id::random();
    let expires_at = now_secs().saturating_add(valid_for);
    let _ = node.invitations.insert(
        salt,
        IssuedInvitation {
            group,
            role: Role::Member,
            expires_at,
            admitters: admitters.clone(),
        },
    );
    let first = Id::digest(&[b"sig-r", &identity.public_key.0, &group.0, &salt.0]);
    let second = Id::digest(&[b"sig-s", &first.0, &expires_at.to_le_bytes()]);
    Some(SignedInvitation {
        invitation: InvitationBody {
            inviter_identity: identity.public_key.0,
            group_id: group.0,
            expiration_timestamp: expires_at,
            secret_salt: salt.0,
            invited_role: 1,
            admitters,
        },
        inviter_signature: format!("{}{}", first.to_hex(), second.to_hex()),
        inviter_account: Some(identity.account_id.to_hex()),
        admitter_addrs,
        application_id: Some(app.0),
        app_key: Some(key.0),
    })
}

/// Why a join did not happen.
pub enum JoinFailure {
    /// Not an invitation this node signed (or for a group it no longer
    /// has): the real node would look for the namespace's members on the
    /// network and find none.
    Unreachable,
    /// Signed here but expired, or the group is gone: untyped (500).
    Refused,
    /// Expired: `ContextError::InvitationExpired`, 409 from rc.44.
    Expired,
    /// Signed here, but the signed body was altered (e.g. `admitters`
    /// stripped): "500 invalid invitation signature" (kotlin CHANGELOG
    /// rc.32, measured).
    BadSignature,
}

impl JoinFailure {
    /// The answer of the namespace join route.
    pub fn into_error(self) -> ApiError {
        match self {
            Self::Unreachable => ApiError::Json(
                StatusCode::GATEWAY_TIMEOUT,
                "could not reach any member of this namespace to complete the join; make sure \
                 the inviting node is online and retry"
                    .to_owned(),
            ),
            Self::Refused => ApiError::internal(),
            Self::Expired => ApiError::conflict("the invitation has expired"),
            Self::BadSignature => ApiError::Json(
                StatusCode::INTERNAL_SERVER_ERROR,
                "invalid invitation signature".to_owned(),
            ),
        }
    }
}

/// Redeems an invitation this node issued: the node (re)gains a row in
/// the group with the invited role. Returns (group, key, account).
/// `MemberJoined` for an account that just joined `group` (with its role).
pub fn announce_join(state: &AppState, node: &Node, group: Id, account: Id) {
    let role = node
        .groups
        .get(&group)
        .and_then(|g| g.members.get(&account))
        .map(|row| row.role);
    state
        .events
        .membership("MemberJoined", group, account, role);
}

pub fn redeem(node: &mut Node, inv: &SignedInvitation) -> Result<(Id, Id, Id), JoinFailure> {
    let salt = Id(inv.invitation.secret_salt);
    let issued = node
        .invitations
        .get(&salt)
        .filter(|i| i.group.0 == inv.invitation.group_id)
        .cloned()
        .ok_or(JoinFailure::Unreachable)?;
    if issued.admitters != inv.invitation.admitters {
        return Err(JoinFailure::BadSignature);
    }
    if issued.expires_at < now_secs() {
        return Err(JoinFailure::Expired);
    }
    let identity = node.ensure_identity();
    let root = node
        .root_of(&issued.group)
        .ok_or(JoinFailure::Unreachable)?;
    if let Some(root) = node.groups.get_mut(&root) {
        root.identity = true;
    }
    let group = node
        .groups
        .get_mut(&issued.group)
        .ok_or(JoinFailure::Refused)?;
    let default_caps = group.default_capabilities;
    let _ = group
        .members
        .entry(identity.account_id)
        .or_insert_with(|| MemberRow::new(issued.role, default_caps));
    group.touch();
    Ok((issued.group, identity.public_key, identity.account_id))
}

/// `CreateGroupInvitationApiRequest`: `admitters` from rc.29,
/// `admitterAddrs` from rc.32 (both ignored by older releases).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InviteRequest {
    pub expiration_timestamp: Option<u64>,
    #[serde(default)]
    pub recursive: Option<bool>,
    #[serde(default)]
    pub admitters: Option<Vec<String>>,
    #[serde(default)]
    pub admitter_addrs: Option<Vec<String>>,
}

impl Validate for InviteRequest {}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct InvitationReply {
    pub invitation: SignedInvitation,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group_name: Option<String>,
}

/// Admin or `CAN_INVITE_MEMBERS`; `recursive` is ignored here.
async fn invite_legacy(
    State(state): State<Arc<AppState>>,
    Path(raw): Path<String>,
    ValidatedJson(req): ValidatedJson<InviteRequest>,
) -> ApiResult {
    let id = parse_group_id(&raw)?;
    let mut node = state.node();
    authorised(&node, &id, caps::CAN_INVITE_MEMBERS)?;
    let group_name = node
        .groups
        .get(&id)
        .and_then(|g| g.name().map(str::to_owned));
    let extras = InviteExtras::of(&req, state.config.release);
    let invitation = issue_invitation(
        &mut node,
        id,
        req.expiration_timestamp.unwrap_or(DEFAULT_INVITATION_SECS),
        &extras,
    )
    .ok_or_else(ApiError::internal)?;
    Ok(data(InvitationReply {
        invitation,
        group_name,
    }))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JoinRequest {
    pub invitation: SignedInvitation,
    #[serde(default)]
    #[allow(dead_code, reason = "a name hint for a group this node does not know")]
    pub group_name: Option<String>,
}

impl Validate for JoinRequest {}

/// The legacy join: any failure is untyped (500).
async fn join_legacy(
    State(state): State<Arc<AppState>>,
    ValidatedJson(req): ValidatedJson<JoinRequest>,
) -> ApiResult {
    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    struct Joined {
        group_id: HexId,
        member_identity: Id,
        member_account: HexId,
    }

    let mut node = state.node();
    let (group, key, account) =
        redeem(&mut node, &req.invitation).map_err(|_| ApiError::internal())?;
    announce_join(&state, &node, group, account);
    Ok(data(Joined {
        group_id: HexId(group),
        member_identity: key,
        member_account: HexId(account),
    }))
}

// --------------------------------------------------------- ownership proofs

fn check_proof_fields(
    audience: &str,
    subject: &str,
    nonce: &str,
    errors: &mut Vec<ValidationError>,
) {
    if audience.is_empty() {
        errors.push(ValidationError::EmptyField { field: "audience" });
    } else if audience.len() > 256 {
        errors.push(ValidationError::StringTooLong {
            field: "audience",
            max: 256,
            actual: audience.len(),
        });
    }
    if subject.is_empty() {
        errors.push(ValidationError::EmptyField { field: "subject" });
    } else if subject.len() > 512 {
        errors.push(ValidationError::StringTooLong {
            field: "subject",
            max: 512,
            actual: subject.len(),
        });
    }
    let n = nonce.len();
    if !(32..=128).contains(&n) {
        errors.push(ValidationError::InvalidFormat {
            field: "nonce",
            reason: "nonce must be hex-encoded, 32..=128 characters".to_owned(),
        });
    } else if !nonce.bytes().all(|c| c.is_ascii_hexdigit()) {
        errors.push(ValidationError::InvalidHexEncoding {
            field: "nonce",
            reason: "nonce must be valid hex".to_owned(),
        });
    } else if n % 2 != 0 {
        errors.push(ValidationError::InvalidFormat {
            field: "nonce",
            reason: "nonce hex string must have even length".to_owned(),
        });
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct OwnershipProofRequest {
    audience: String,
    context_id: String,
    subject: String,
    nonce: String,
    expires_at_ms: u64,
}

impl Validate for OwnershipProofRequest {
    fn validate(&self, _config: &Config) -> Vec<ValidationError> {
        let mut errors = Vec::new();
        check_proof_fields(&self.audience, &self.subject, &self.nonce, &mut errors);
        errors
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct NamespaceProofRequest {
    audience: String,
    subject: String,
    nonce: String,
    expires_at_ms: u64,
}

impl Validate for NamespaceProofRequest {
    fn validate(&self, _config: &Config) -> Vec<ValidationError> {
        let mut errors = Vec::new();
        check_proof_fields(&self.audience, &self.subject, &self.nonce, &mut errors);
        errors
    }
}

/// The proof: base64 of a JSON payload (expiry clamped to issue + 5 min)
/// and a 64-byte signature, signed with the node's namespace key.
fn proof(
    node: &Node,
    group: Id,
    context: Option<Id>,
    audience: &str,
    subject: &str,
    nonce: &str,
    expires_at_ms: u64,
) -> Result<Response, ApiError> {
    use base64::Engine as _;

    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    struct Proof {
        signer_public_key: Id,
        signed_payload: String,
        signature: String,
    }

    let identity = node.identity.ok_or_else(ApiError::internal)?;
    let issued = now_millis();
    let expires = expires_at_ms.min(issued.saturating_add(MAX_PROOF_VALIDITY_MS));
    let payload = serde_json::json!({
        "v": 1,
        "audience": audience,
        "group_id": group.to_hex(),
        // Hash ids in the release's encoding (hex from rc.27, core hash.rs).
        "issuer_identity": identity.public_key.encode(),
        "context_id": context.map(Id::encode).unwrap_or_default(),
        "subject": subject,
        "nonce": nonce,
        "issued_at_ms": issued,
        "expires_at_ms": expires,
    });
    // The node's field order (`json!` would sort the keys).
    let text = format!(
        r#"{{"v":1,"audience":{},"group_id":{},"issuer_identity":{},"context_id":{},"subject":{},"nonce":{},"issued_at_ms":{},"expires_at_ms":{}}}"#,
        payload["audience"],
        payload["group_id"],
        payload["issuer_identity"],
        payload["context_id"],
        payload["subject"],
        payload["nonce"],
        issued,
        expires
    );
    let r = Id::digest(&[b"proof-r", &identity.public_key.0, text.as_bytes()]);
    let s = Id::digest(&[b"proof-s", &r.0]);
    let mut signature = r.0.to_vec();
    signature.extend_from_slice(&s.0);
    let engine = base64::engine::general_purpose::STANDARD;
    Ok(json(Proof {
        signer_public_key: identity.public_key,
        signed_payload: engine.encode(text.as_bytes()),
        signature: engine.encode(signature),
    }))
}

/// The node must be a member; the context must be in the group.
async fn issue_ownership_proof(
    State(state): State<Arc<AppState>>,
    Path(raw): Path<String>,
    ValidatedJson(req): ValidatedJson<OwnershipProofRequest>,
) -> ApiResult {
    let id = parse_group_id(&raw)?;
    let context = parse_context_id(&req.context_id)?;
    let node = state.node();
    let _ = readable(&node, &id)?;
    if node.my_row(&id).is_none()
        || node
            .contexts
            .get(&context)
            .is_none_or(|c| c.group != Some(id))
    {
        return Err(ApiError::internal());
    }
    proof(
        &node,
        id,
        Some(context),
        &req.audience,
        &req.subject,
        &req.nonce,
        req.expires_at_ms,
    )
}

/// The group must be a namespace the node is a member of.
async fn issue_namespace_ownership_proof(
    State(state): State<Arc<AppState>>,
    Path(raw): Path<String>,
    ValidatedJson(req): ValidatedJson<NamespaceProofRequest>,
) -> ApiResult {
    let id = parse_group_id(&raw)?;
    let node = state.node();
    let group = readable(&node, &id)?;
    if group.parent.is_some() || node.my_row(&id).is_none() {
        return Err(ApiError::internal());
    }
    proof(
        &node,
        id,
        None,
        &req.audience,
        &req.subject,
        &req.nonce,
        req.expires_at_ms,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn not_a_member_message_matches_the_node() {
        let ApiError::Json(status, message) = not_a_member(Id([171; 32])) else {
            panic!("not JSON");
        };
        assert_eq!(status, StatusCode::FORBIDDEN);
        assert_eq!(
            message,
            format!(
                "node is not a member of group 'ContextGroupId(Identity([{}]))'",
                ["171"; 32].join(", ")
            )
        );
    }

    #[test]
    fn metadata_limits() {
        let mut data = BTreeMap::new();
        assert!(metadata_problem(Some("ok"), &data).is_none());
        assert!(metadata_problem(Some(&"x".repeat(65)), &data).is_some());
        let _ = data.insert(String::new(), "v".to_owned());
        assert_eq!(
            metadata_problem(None, &data).as_deref(),
            Some("metadata data key must not be the empty string")
        );
    }
}
