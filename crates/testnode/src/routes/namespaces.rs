//! Namespaces (root groups): create, list, inspect, delete, invite, join,
//! leave, and the groups inside one.
//!
//! Joining, on one node: an invitation is redeemable here only if this node
//! signed it (it remembers every invitation it issues) and it has not
//! expired; redeeming it gives the node back a row in the namespace with
//! the invited role (so a node that left can re-join). Any other
//! invitation names a namespace whose members would have to be reached
//! over the network, which a lone node cannot: the node's 504. An invitation
//! for another group than the path's is a 400.
//!
//! core: crates/server/src/admin/handlers/namespaces/*.rs,
//! crates/context/src/handlers/{create_group,delete_namespace,join_group,
//! leave_namespace,create_group_invitation}.rs,
//! crates/governance-store (`create_recursive_invitations`).

use std::sync::Arc;

use axum::extract::{Path, RawQuery, State};
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::groups::{
    issue_invitation, parse_group_id, redeem, InvitationReply, InviteExtras, InviteRequest,
    JoinFailure, JoinRequest, SignedInvitation, DEFAULT_INVITATION_SECS,
};
use super::AppRouter;
use crate::error::{data, query, ApiError, ApiResult, PlainJson, Validate, ValidatedJson};
use crate::ids::{HexId, Id};
use crate::state::{caps, AppState, Group, Node, Role};

pub fn routes() -> AppRouter {
    Router::new()
        .route("/namespaces", get(list).post(create))
        .route("/namespaces/{namespace_id}", get(get_one).delete(delete))
        .route(
            "/namespaces/for-application/{application_id}",
            get(list_for_application),
        )
        .route("/namespaces/{namespace_id}/invite", post(invite))
        .route("/namespaces/{namespace_id}/join", post(join))
        .route("/namespaces/{namespace_id}/leave", post(leave))
        .route(
            "/namespaces/{namespace_id}/groups",
            get(list_groups).post(create_group),
        )
        // rc.29 and rc.83 (gated in `crate::release::ROUTES`).
        .route("/namespaces/{namespace_id}/admit", post(admit))
        .route(
            "/namespaces/{namespace_id}/admin",
            post(super::owner::change_admin),
        )
}

/// The wire form (`NamespaceApiResponse`). `appVersion` is the bundle
/// manifest's version of the namespace's app key (absent for a raw wasm:
/// core rc.25 `namespace_app_version`); rc.83 adds `founding` (core fixture
/// `namespaces/get.res.json@485b4aa0`; `heldOps` is skipped when nothing is
/// held, which is always so on one node) [inferred order after
/// `appVersion`].
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct NamespaceJson<'a> {
    namespace_id: HexId,
    app_key: HexId,
    target_application_id: Id,
    created_at: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<&'a str>,
    member_count: usize,
    context_count: usize,
    subgroup_count: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    app_version: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    founding: Option<Founding>,
}

/// rc.83 `founding`: who founded the namespace, with the salt its id
/// derives from.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Founding {
    founder_account_id: HexId,
    salt: HexId,
}

fn founding(ns: &Group) -> Option<Founding> {
    crate::release::current().rc83().then_some(Founding {
        founder_account_id: HexId(ns.founder),
        salt: HexId(ns.founding_salt),
    })
}

fn namespace_json<'a>(node: &Node, ns: &'a Group) -> NamespaceJson<'a> {
    let app_version = node
        .apps
        .values()
        .find(|app| app.bytecode == ns.app_key)
        .and_then(|app| app.bundle_version.clone());
    NamespaceJson {
        namespace_id: HexId(ns.id),
        app_key: HexId(ns.app_key),
        target_application_id: ns.target_application_id,
        created_at: ns.created_at,
        name: ns.name(),
        member_count: ns.members.len(),
        context_count: node.contexts_in(ns.id).count(),
        subgroup_count: node.subtree(ns.id).len() - 1,
        app_version,
        founding: founding(ns),
    }
}

#[derive(Deserialize)]
struct Page {
    offset: Option<usize>,
    limit: Option<usize>,
}

/// Namespaces passing `keep`, paged (default limit 100, no upper clamp).
fn page_of(node: &Node, page: &Page, keep: impl Fn(&Group) -> bool) -> Response {
    let list: Vec<NamespaceJson<'_>> = node
        .groups
        .values()
        .filter(|g| g.parent.is_none() && g.identity && keep(g))
        .skip(page.offset.unwrap_or(0))
        .take(page.limit.unwrap_or(100))
        .map(|ns| namespace_json(node, ns))
        .collect();
    data(list)
}

async fn list(State(state): State<Arc<AppState>>, RawQuery(raw): RawQuery) -> ApiResult {
    let page: Page = query(raw.as_deref())?;
    Ok(page_of(&state.node(), &page, |_| true))
}

async fn list_for_application(
    State(state): State<Arc<AppState>>,
    Path(raw_id): Path<String>,
    RawQuery(raw): RawQuery,
) -> ApiResult {
    let page: Page = query(raw.as_deref())?;
    let app_id = Id::parse(&raw_id).map_err(|_| ApiError::bad_request("Invalid application id"))?;
    Ok(page_of(&state.node(), &page, |ns| {
        ns.target_application_id == app_id
    }))
}

/// `CreateNamespaceApiRequest`: `appKey` is also read as `bytecodeId`
/// (core index id 59157838922; swift `Rc38SurfaceTests.swift` measured the
/// rc.38 refusal of `upgradePolicy`: "expected one of `applicationId`,
/// `name`, `appKey`, `bytecodeId`").
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CreateNamespaceRequest {
    application_id: Id,
    #[serde(default)]
    name: Option<String>,
    #[serde(default, alias = "bytecodeId")]
    app_key: Option<String>,
}

impl Validate for CreateNamespaceRequest {}

async fn create(
    State(state): State<Arc<AppState>>,
    ValidatedJson(req): ValidatedJson<CreateNamespaceRequest>,
) -> ApiResult {
    let app_key = req
        .app_key
        .as_deref()
        .map(|hex| {
            Id::parse_hex(hex)
                .map_err(|_| ApiError::bad_request("Invalid appKey: expected hex-encoded 32 bytes"))
        })
        .transpose()?;

    let mut node = state.node();
    // Unknown application, or an app key that is not the application's
    // bytecode (zero, absent, or not a bundle): untyped errors, so 500.
    let app = node
        .apps
        .get(&req.application_id)
        .cloned()
        .ok_or_else(|| super::contexts::application_not_found(&req.application_id))?;
    if app_key.is_some_and(|key| key != app.bytecode) {
        // `ContextError::BytecodeIdInvalid` (400 from rc.44) [inferred text].
        return Err(ApiError::invalid(
            "appKey does not name a bytecode blob of this application",
        ));
    }
    let id = node.new_group(None, &app, req.name);
    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    struct Created {
        namespace_id: HexId,
        #[serde(skip_serializing_if = "Option::is_none")]
        founding: Option<Founding>,
    }
    let founding = node.groups.get(&id).and_then(founding);
    Ok(data(Created {
        namespace_id: HexId(id),
        founding,
    }))
}

async fn get_one(State(state): State<Arc<AppState>>, Path(raw_id): Path<String>) -> ApiResult {
    let id = parse_group_id(&raw_id)?;
    let node = state.node();
    let ns = node
        .namespace(&id)
        .ok_or_else(|| ApiError::not_found("No namespace identity found"))?;
    Ok(data(namespace_json(&node, ns)))
}

/// The body must be JSON (`{}`), even though it carries nothing.
#[derive(Deserialize)]
struct DeleteNamespaceApiRequest {}

impl Validate for DeleteNamespaceApiRequest {}

/// Local teardown: the namespace and its subgroups go, their contexts stay
/// (unregistered).
async fn delete(
    State(state): State<Arc<AppState>>,
    Path(raw_id): Path<String>,
    ValidatedJson(DeleteNamespaceApiRequest {}): ValidatedJson<DeleteNamespaceApiRequest>,
) -> ApiResult {
    let id = parse_group_id(&raw_id)?;
    let mut node = state.node();
    if node.namespace(&id).is_none() {
        // `NamespaceError::NoNamespaceIdentity`: 500 until rc.44, then 403.
        return Err(no_namespace_identity());
    }
    let doomed = node.subtree(id);
    for gid in &doomed {
        let _ = node.groups.remove(gid);
    }
    for context in node.contexts.values_mut() {
        if context.group.is_some_and(|g| doomed.contains(&g)) {
            context.group = None;
        }
    }
    Ok(data(json!({ "isDeleted": true })))
}

/// Not a root group: 400. Non-recursive: one invitation (admin or
/// `CAN_INVITE_MEMBERS`, else 500). Recursive: one per group of the
/// namespace, root first; a namespace the node holds no identity in is a
/// 400 there.
async fn invite(
    State(state): State<Arc<AppState>>,
    Path(raw_id): Path<String>,
    ValidatedJson(req): ValidatedJson<InviteRequest>,
) -> ApiResult {
    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    struct Entry {
        group_id: HexId,
        invitation: SignedInvitation,
        #[serde(skip_serializing_if = "Option::is_none")]
        group_name: Option<String>,
    }

    #[derive(Serialize)]
    struct Recursive {
        invitations: Vec<Entry>,
    }

    let id = parse_group_id(&raw_id)?;
    let mut node = state.node();
    if node.groups.get(&id).is_some_and(|g| g.parent.is_some()) {
        return Err(ApiError::bad_request(
            "namespace_id must reference a root group (namespace)",
        ));
    }
    let valid_for = req.expiration_timestamp.unwrap_or(DEFAULT_INVITATION_SECS);
    let extras = InviteExtras::of(&req, state.config.release);
    let allowed =
        node.namespace(&id).is_some() && node.has_capability(&id, caps::CAN_INVITE_MEMBERS);
    let name_of = |node: &Node, gid: &Id| {
        node.groups
            .get(gid)
            .and_then(|g| g.name().map(str::to_owned))
    };
    if req.recursive.unwrap_or(false) {
        if node.namespace(&id).is_none() {
            return Err(ApiError::bad_request(
                "this node has no signing identity for this namespace",
            ));
        }
        if !allowed {
            return Err(super::groups::lacks_capability(
                &node,
                &id,
                "inviting",
                "CAN_INVITE_MEMBERS",
            ));
        }
        let mut invitations = Vec::new();
        for gid in node.subtree(id) {
            let group_name = name_of(&node, &gid);
            let invitation = issue_invitation(&mut node, gid, valid_for, &extras)
                .ok_or_else(ApiError::internal)?;
            invitations.push(Entry {
                group_id: HexId(gid),
                invitation,
                group_name,
            });
        }
        return Ok(data(Recursive { invitations }));
    }
    if !allowed {
        if node.namespace(&id).is_none() {
            return Err(no_namespace_identity());
        }
        return Err(super::groups::lacks_capability(
            &node,
            &id,
            "inviting",
            "CAN_INVITE_MEMBERS",
        ));
    }
    let group_name = name_of(&node, &id);
    let invitation =
        issue_invitation(&mut node, id, valid_for, &extras).ok_or_else(ApiError::internal)?;
    Ok(data(InvitationReply {
        invitation,
        group_name,
    }))
}

async fn join(
    State(state): State<Arc<AppState>>,
    Path(raw_id): Path<String>,
    ValidatedJson(req): ValidatedJson<JoinRequest>,
) -> ApiResult {
    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    struct Joined {
        namespace_id: HexId,
        member_identity: Id,
        member_account: HexId,
    }

    let id = parse_group_id(&raw_id)?;
    if req.invitation.invitation.group_id != id.0 {
        return Err(ApiError::bad_request(
            "invitation group_id does not match namespace_id in path",
        ));
    }
    let mut node = state.node();
    match redeem(&mut node, &req.invitation) {
        Ok((group, key, account)) => {
            super::groups::announce_join(&state, &node, group, account);
            Ok(data(Joined {
                namespace_id: HexId(group),
                member_identity: key,
                member_account: HexId(account),
            }))
        }
        Err(failure) => Err(failure.into_error()),
    }
}

/// `NamespaceError::NoNamespaceIdentity`: 500 until rc.44, then 403
/// [inferred text].
fn no_namespace_identity() -> ApiError {
    ApiError::forbidden("node has no configured namespace identity")
}

/// `AdmitJoinApiRequest` (rc.29): the invitation verbatim and the joiner's
/// signed op (hex borsh `SignedNamespaceOp`).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct AdmitRequest {
    invitation: SignedInvitation,
    signed_op: String,
}

impl Validate for AdmitRequest {
    fn validate(&self, _config: &crate::Config) -> Vec<crate::error::ValidationError> {
        use crate::error::ValidationError;
        if self.signed_op.trim().is_empty() {
            vec![ValidationError::EmptyField { field: "signedOp" }]
        } else if hex::decode(self.signed_op.trim()).is_err() {
            vec![ValidationError::InvalidHexEncoding {
                field: "signedOp",
                reason: "not valid hex".to_owned(),
            }]
        } else {
            Vec::new()
        }
    }
}

/// `POST /namespaces/{id}/admit` (rc.29; swift `Rc29SurfaceTests.swift`):
/// this node, as an admitter the invitation names, publishes the joiner's
/// signed op → `{"data":{"published":true}}`. The stand-in cannot read the
/// borsh op; it admits for invitations it issued (altered ones are the
/// join's "invalid invitation signature"), and answers an invitation it did
/// not sign as `InvitationInvalid` (400 from rc.44) [inferred].
async fn admit(
    State(state): State<Arc<AppState>>,
    Path(raw_id): Path<String>,
    ValidatedJson(req): ValidatedJson<AdmitRequest>,
) -> ApiResult {
    #[derive(Serialize)]
    struct Published {
        published: bool,
    }

    let id = parse_group_id(&raw_id)?;
    if req.invitation.invitation.group_id != id.0 {
        return Err(ApiError::bad_request(
            "invitation group_id does not match namespace_id in path",
        ));
    }
    let node = state.node();
    let issued = node
        .invitations
        .get(&Id(req.invitation.invitation.secret_salt))
        .filter(|i| i.group == id)
        .ok_or_else(|| {
            ApiError::invalid("invitation was not issued by an admitter on this node")
        })?;
    if issued.admitters != req.invitation.invitation.admitters {
        return Err(JoinFailure::BadSignature.into_error());
    }
    Ok(data(Published { published: true }))
}

/// Leaves the namespace and every group below it. Not a member, or the
/// namespace's last admin: 500. The namespace stays listed (the node keeps
/// its identity there and can re-join with an invitation it issued).
async fn leave(State(state): State<Arc<AppState>>, Path(raw_id): Path<String>) -> ApiResult {
    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    struct Left {
        namespace_id: HexId,
        member_public_key: Id,
    }

    let id = parse_group_id(&raw_id)?;
    let mut node = state.node();
    let identity = node.identity.ok_or_else(ApiError::internal)?;
    let ns = node.namespace(&id).ok_or_else(no_namespace_identity)?;
    let row = ns.members.get(&identity.account_id).ok_or_else(|| {
        // `ContextError::NotANamespaceMember` (403 from rc.44) [inferred text].
        ApiError::forbidden(format!(
            "node is not a member of namespace '{}'",
            id.to_hex()
        ))
    })?;
    let admins = ns
        .members
        .values()
        .filter(|r| r.role == Role::Admin)
        .count();
    if row.role == Role::Admin && admins == 1 {
        return Err(super::groups::last_admin());
    }
    for gid in node.subtree(id) {
        if let Some(group) = node.groups.get_mut(&gid) {
            if group.members.remove(&identity.account_id).is_some() {
                group.touch();
            }
        }
    }
    Ok(data(Left {
        namespace_id: HexId(id),
        member_public_key: identity.public_key,
    }))
}

/// Every group below the namespace (all depths), `{"data":[{groupId,name?}]}`.
/// An unknown namespace has none.
async fn list_groups(State(state): State<Arc<AppState>>, Path(raw_id): Path<String>) -> ApiResult {
    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    struct Entry<'a> {
        group_id: HexId,
        #[serde(skip_serializing_if = "Option::is_none")]
        name: Option<&'a str>,
    }

    let id = parse_group_id(&raw_id)?;
    let node = state.node();
    let entries: Vec<Entry<'_>> = if node.namespace(&id).is_some() {
        node.subtree(id)
            .into_iter()
            .skip(1)
            .filter_map(|gid| node.groups.get(&gid))
            .map(|g| Entry {
                group_id: HexId(g.id),
                name: g.name(),
            })
            .collect()
    } else {
        Vec::new()
    };
    Ok(data(entries))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CreateGroupBody {
    group_name: Option<String>,
    visibility: Option<String>,
}

/// Plain `Json` (axum's text rejections; strict from rc.38: `name` →
/// 422, swift `Rc38SurfaceTests.swift`). Not a namespace, a namespace the
/// node is not in, or a visibility other than open/restricted (any case):
/// untyped, so 500 in every release (core `create_group_in_namespace.rs`,
/// index id 71105812016). An absent visibility is restricted, and open
/// from rc.83.
async fn create_group(
    State(state): State<Arc<AppState>>,
    Path(raw_id): Path<String>,
    PlainJson(body): PlainJson<CreateGroupBody>,
) -> ApiResult {
    let id = parse_group_id(&raw_id)?;
    let mut node = state.node();
    let target = node
        .namespace(&id)
        .ok_or_else(ApiError::internal)?
        .target_application_id;
    let open = match body.visibility.as_deref() {
        None => state.config.release.subgroups_open_by_default(),
        Some(v) if v.eq_ignore_ascii_case("open") => true,
        Some(v) if v.eq_ignore_ascii_case("restricted") => false,
        Some(_) => return Err(ApiError::internal()),
    };
    if !node.has_capability(&id, caps::CAN_CREATE_SUBGROUP) {
        return Err(super::groups::lacks_capability(
            &node,
            &id,
            "creating a subgroup",
            "CAN_CREATE_SUBGROUP",
        ));
    }
    let app = node
        .apps
        .get(&target)
        .cloned()
        .ok_or_else(|| super::contexts::application_not_found(&target))?;
    let group = node.new_group(Some(id), &app, body.group_name);
    if let Some(g) = node.groups.get_mut(&group) {
        g.open = open;
    }
    Ok(data(json!({ "groupId": HexId(group) })))
}
