//! Contexts: create inside a namespace, list, inspect, join/leave, delete.
//! core: crates/server/src/admin/handlers/context/*.rs,
//! crates/context/src/handlers/{create_context,delete_context,join_context,
//! leave_context,resync_context}.rs, crates/context/src/handlers/update_application/mod.rs,
//! crates/context/primitives/src/client/mod.rs (`get_context`, `get_context_members`).

use std::sync::Arc;

use axum::extract::{Path, RawQuery, State};
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::groups::parse_context_id;
use super::AppRouter;
use crate::error::{
    data, hex_id, json, path_id, query, validate, ApiError, ApiResult, PlainJson, Validate,
    ValidatedJson, ValidationError,
};
use crate::ids::{HexId, Id};
use crate::kv::KvStore;
use crate::state::{caps, AppState, Context, ContextJson, Node};
use crate::Config;

/// Page size when the caller gives no `limit`, and the caps on both bounds.
const DEFAULT_LIMIT: usize = 100;
const MAX_PAGE: usize = 1000;
const MAX_OFFSET: usize = 100_000;

pub fn routes() -> AppRouter {
    Router::new()
        .route("/contexts", get(list).post(create))
        .route("/contexts/sync", post(sync))
        // axum 0.7 (up to rc.29) matched the nested `/` route with a trailing
        // slash too; gated in `crate::release::ROUTES`.
        .route("/contexts/sync/", post(sync))
        .route("/contexts/sync/{context_id}", post(sync))
        // rc.83 (gated).
        .route("/contexts/{context_id}/query", post(query_context))
        .route("/contexts/{context_id}", get(get_one).delete(delete))
        .route(
            "/contexts/{context_id}/application",
            post(update_application),
        )
        .route("/contexts/{context_id}/resync", post(resync))
        .route("/contexts/{context_id}/storage", get(storage))
        .route("/contexts/{context_id}/identities", get(identities))
        .route(
            "/contexts/{context_id}/identities-owned",
            get(identities_owned),
        )
        .route("/contexts/{context_id}/group", get(group))
        .route("/contexts/{context_id}/join", post(join))
        .route("/contexts/{context_id}/leave", post(leave))
        .route(
            "/contexts/for-application/{application_id}",
            get(for_application),
        )
        .route(
            "/contexts/with-executors/for-application/{application_id}",
            get(with_executors),
        )
}

/// A context id parsed from a string path segment (the handlers that do not
/// use a typed extractor); a bad one is `400 {"error": message}`. Base58
/// before rc.27, hex after.
fn parse_id(raw: &str, message: &'static str) -> Result<Id, ApiError> {
    Id::parse(raw).map_err(|_| ApiError::bad_request(message))
}

/// `ContextError::ContextNotFound` (404 from rc.44) [inferred text].
fn context_not_found(id: &Id) -> ApiError {
    ApiError::missing(format!("context '{id}' not found"))
}

/// `ContextError::ApplicationNotFound` (404 from rc.44) [inferred text].
pub fn application_not_found(id: &Id) -> ApiError {
    ApiError::missing(format!("application '{id}' not found"))
}

#[derive(Serialize)]
struct Contexts {
    contexts: Vec<ContextJson>,
}

fn context_list<'a>(node: &Node, contexts: impl Iterator<Item = &'a Context>) -> Response {
    data(Contexts {
        contexts: contexts.map(|c| node.context_json(c, true)).collect(),
    })
}

#[derive(Deserialize)]
struct Page {
    offset: Option<usize>,
    limit: Option<usize>,
}

async fn list(State(state): State<Arc<AppState>>, RawQuery(raw): RawQuery) -> ApiResult {
    let page: Page = query(raw.as_deref())?;
    let offset = page.offset.unwrap_or(0).min(MAX_OFFSET);
    let limit = page.limit.unwrap_or(DEFAULT_LIMIT).min(MAX_PAGE);
    let node = state.node();
    // The node stops once the page holds `limit` contexts, checked after each
    // push: `limit=0` still yields one.
    let contexts = node.contexts.values().skip(offset).take(limit.max(1));
    Ok(context_list(&node, contexts))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CreateContextRequest {
    /// Required and validated, but the namespace's application is used.
    #[allow(dead_code, reason = "the namespace's target application wins")]
    application_id: Id,
    #[serde(default)]
    service_name: Option<String>,
    context_seed: Option<Id>,
    initialization_params: Vec<u8>,
    group_id: String,
    identity_secret: Option<String>,
    #[serde(default)]
    name: Option<String>,
}

impl Validate for CreateContextRequest {
    fn validate(&self, _config: &Config) -> Vec<ValidationError> {
        let mut errors = Vec::new();
        validate::bytes_size(
            &self.initialization_params,
            "initialization_params",
            validate::MAX_INIT_PARAMS_SIZE,
            &mut errors,
        );
        errors
    }
}

async fn create(
    State(state): State<Arc<AppState>>,
    ValidatedJson(req): ValidatedJson<CreateContextRequest>,
) -> ApiResult {
    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    struct Created {
        context_id: Id,
        member_public_key: Id,
        group_id: HexId,
        group_created: bool,
    }

    let group_id = hex_id(
        &req.group_id,
        "Invalid group_id: expected hex-encoded 32 bytes",
        "Invalid group_id: must be exactly 32 bytes",
    )?;
    if let Some(secret) = &req.identity_secret {
        let _ = hex_id(
            secret,
            "Invalid identity_secret: expected hex-encoded 32 bytes",
            "Invalid identity_secret: must be exactly 32 bytes",
        )?;
    }

    let mut node = state.node();
    // Unknown namespace ("group not found"), a caller-supplied identity that
    // is not a member, a missing application, a seed that was used before:
    // all untyped failures, so 500.
    // The group must be one the node holds an identity in and is a member
    // of (403 otherwise); creating needs admin or CAN_CREATE_CONTEXT (an
    // untyped 500 otherwise).
    // core: crates/context/src/handlers/create_context.rs.
    // From rc.44 these refusals are typed (404 group/application, 403
    // capability/identity, 409 seed collision); before, 500.
    let application_id = node
        .visible_group(&group_id)
        .ok_or_else(|| super::groups::group_not_found(&group_id))?
        .target_application_id;
    if node.my_row(&group_id).is_none() {
        return Err(super::groups::not_a_member(group_id));
    }
    if !node.has_capability(&group_id, caps::CAN_CREATE_CONTEXT) {
        return Err(super::groups::lacks_capability(
            &node,
            &group_id,
            "creating a context",
            "CAN_CREATE_CONTEXT",
        ));
    }
    if req.identity_secret.is_some() {
        return Err(ApiError::forbidden(format!(
            "identity is not a member of group '{}'",
            group_id.to_hex()
        )));
    }
    // The requested application must be installed (a real rc.25 node
    // answers 500 otherwise); the namespace's application wins over it.
    if !node.apps.contains_key(&req.application_id) {
        return Err(application_not_found(&req.application_id));
    }
    if !node.apps.contains_key(&application_id) {
        return Err(application_not_found(&application_id));
    }
    let context_id = match req.context_seed {
        Some(seed) => {
            let id = Id::digest(&[b"calimero-testnode:context-seed:", &seed.0]);
            if node.contexts.contains_key(&id) {
                return Err(ApiError::conflict(
                    "a context derived from this seed already exists",
                ));
            }
            id
        }
        None => loop {
            let id = Id::random();
            if !node.contexts.contains_key(&id) {
                break id;
            }
        },
    };
    let kv = KvStore::init(&req.initialization_params).map_err(|message| {
        ApiError::bad_request(format!("application initialization failed: {message}"))
    })?;
    let member = node.ensure_identity().public_key;
    let mut context = Context::new(context_id, application_id, group_id, member);
    context.kv = kv;
    context.service_name = req.service_name;
    context.name = req.name;
    let _ = node.contexts.insert(context_id, context);
    Ok(data(Created {
        context_id,
        member_public_key: member,
        group_id: HexId(group_id),
        group_created: false,
    }))
}

async fn get_one(State(state): State<Arc<AppState>>, Path(raw_id): Path<String>) -> ApiResult {
    let id = path_id(&raw_id)?;
    let node = state.node();
    let context = node
        .contexts
        .get(&id)
        .ok_or_else(|| ApiError::not_found("Context not found"))?;
    Ok(data(node.context_json(context, false)))
}

/// An unknown context is not an error: `isDeleted` is false.
async fn delete(State(state): State<Arc<AppState>>, Path(raw_id): Path<String>) -> ApiResult {
    let id = parse_id(&raw_id, "Invalid context id")?;
    let deleted = state.node().contexts.remove(&id).is_some();
    Ok(data(json!({ "isDeleted": deleted })))
}

async fn storage(State(state): State<Arc<AppState>>, Path(raw_id): Path<String>) -> ApiResult {
    let id = parse_id(&raw_id, "Invalid context ID format")?;
    let size = state
        .node()
        .contexts
        .get(&id)
        .map_or(0, Context::storage_bytes);
    Ok(data(json!({ "sizeInBytes": size })))
}

/// From rc.41 the listing says whose identities it holds (`identitiesOf`):
/// all members, or, for `identities-owned` asked by a node-owner caller
/// (every caller of the test node), the node's own (core fixture
/// `contexts/identities.res.json@1b7536b7`; swift `Rc41SurfaceTests.swift`).
fn identity_list(state: &AppState, raw_id: &str, owned: bool) -> ApiResult {
    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    struct Identities {
        identities: Vec<Id>,
        #[serde(skip_serializing_if = "Option::is_none")]
        identities_of: Option<&'static str>,
    }

    let id = path_id(raw_id)?;
    let node = state.node();
    let context = node
        .contexts
        .get(&id)
        .ok_or_else(|| ApiError::not_found("Context not found"))?;
    let identities = if owned {
        context.owned_identities()
    } else {
        context.identities()
    };
    let identities_of =
        state
            .config
            .release
            .identities_of()
            .then_some(if owned { "node" } else { "members" });
    Ok(data(Identities {
        identities,
        identities_of,
    }))
}

async fn identities(State(state): State<Arc<AppState>>, Path(raw_id): Path<String>) -> ApiResult {
    identity_list(&state, &raw_id, false)
}

async fn identities_owned(
    State(state): State<Arc<AppState>>,
    Path(raw_id): Path<String>,
) -> ApiResult {
    identity_list(&state, &raw_id, true)
}

async fn group(State(state): State<Arc<AppState>>, Path(raw_id): Path<String>) -> ApiResult {
    let id = path_id(&raw_id)?;
    let group = state
        .node()
        .contexts
        .get(&id)
        .and_then(|c| c.group)
        .map(HexId);
    Ok(data(group))
}

async fn for_application(
    State(state): State<Arc<AppState>>,
    Path(raw_id): Path<String>,
) -> ApiResult {
    let app_id = path_id(&raw_id)?;
    let node = state.node();
    let contexts = node
        .contexts
        .values()
        .filter(|c| c.application_id == app_id);
    Ok(context_list(&node, contexts))
}

async fn with_executors(
    State(state): State<Arc<AppState>>,
    Path(raw_id): Path<String>,
) -> ApiResult {
    // snake_case `application_id`, no `data` envelope.
    #[derive(Serialize)]
    struct WithExecutors {
        id: Id,
        application_id: Id,
        #[serde(rename = "contextStateHash")]
        root_hash: Id,
        executors: Vec<Id>,
    }

    #[derive(Serialize)]
    struct Contexts {
        contexts: Vec<WithExecutors>,
    }

    let app_id = path_id(&raw_id)?;
    let node = state.node();
    let contexts = node
        .contexts
        .values()
        .filter(|c| c.application_id == app_id)
        .map(|c| WithExecutors {
            id: c.id,
            application_id: c.application_id,
            root_hash: c.root_hash,
            executors: c.identities(),
        })
        .collect();
    Ok(json(Contexts { contexts }))
}

/// Sync only enqueues work, so it always succeeds (an unparsable id falls
/// back to syncing everything, as the real node's optional extractor does).
async fn sync() -> Response {
    data(())
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Membership {
    context_id: Id,
    member_public_key: Id,
}

/// Join or leave: the context must be registered in one of this node's
/// namespaces, otherwise the failure is untyped (500).
fn set_membership(state: &AppState, raw_id: &str, leave: bool) -> ApiResult {
    let id = parse_context_id(raw_id)?;
    let mut node = state.node();
    let context = node
        .contexts
        .get_mut(&id)
        .filter(|c| c.group.is_some())
        .ok_or_else(|| context_not_found(&id))?;
    context.left = leave;
    Ok(data(Membership {
        context_id: id,
        member_public_key: context.member,
    }))
}

async fn join(State(state): State<Arc<AppState>>, Path(raw_id): Path<String>) -> ApiResult {
    set_membership(&state, &raw_id, false)
}

/// A local leave: the context stays listed, the node's identity row goes.
async fn leave(State(state): State<Arc<AppState>>, Path(raw_id): Path<String>) -> ApiResult {
    set_membership(&state, &raw_id, true)
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct UpdateApplicationRequest {
    application_id: Id,
    executor_public_key: Id,
}

impl Validate for UpdateApplicationRequest {}

async fn update_application(
    State(state): State<Arc<AppState>>,
    Path(raw_id): Path<String>,
    ValidatedJson(req): ValidatedJson<UpdateApplicationRequest>,
) -> ApiResult {
    let id = parse_id(&raw_id, "Invalid context id")?;
    let mut node = state.node();
    if !node.apps.contains_key(&req.application_id) {
        return Err(application_not_found(&req.application_id));
    }
    // Unknown context, or an executor this node cannot sign as: 500 until
    // rc.44, then 404 / 403 `CallerNotPermitted`.
    let context = node
        .contexts
        .get_mut(&id)
        .ok_or_else(|| context_not_found(&id))?;
    if !context
        .owned_identities()
        .contains(&req.executor_public_key)
    {
        return Err(ApiError::forbidden(
            "unauthorized: caller is not a permitted identity for this context",
        ));
    }
    context.application_id = req.application_id;
    Ok(data(()))
}

#[derive(Deserialize)]
struct ResyncRequest {
    #[serde(default)]
    force: bool,
}

impl Validate for ResyncRequest {}

/// A resync would discard the context's DAG heads (it always has one), so
/// it is refused unless `force` is set; a context outside any group is
/// refused too. Both refusals are untyped, so 500.
async fn resync(
    State(state): State<Arc<AppState>>,
    Path(raw_id): Path<String>,
    ValidatedJson(req): ValidatedJson<ResyncRequest>,
) -> ApiResult {
    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    struct Resync {
        context_id: HexId,
        resync_started: bool,
    }

    let id = parse_id(&raw_id, "Invalid context id")?;
    let in_group = state
        .node()
        .contexts
        .get(&id)
        .is_some_and(|c| c.group.is_some());
    // `ContextError::ResyncRefused` (409 from rc.44) [inferred texts].
    if !in_group {
        return Err(ApiError::conflict(
            "resync refused: the context is not registered in a group",
        ));
    }
    if !req.force {
        return Err(ApiError::conflict(
            "resync refused: it would discard the context's DAG heads; pass force to proceed",
        ));
    }
    Ok(json(Resync {
        context_id: HexId(id),
        resync_started: true,
    }))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct QueryRequest {
    method: String,
    #[serde(default)]
    args_json: serde_json::Value,
}

/// `POST /contexts/{id}/query` (rc.83): a read by an account-authenticated
/// session (core `query_context.rs`, index id 71043747164; research
/// `wire-rc83.md` §4). Plain `Json` body (422 text); an unparsable context
/// id is the untyped 500; a caller that is not an account session (any
/// caller in proxy mode, and node-owner tokens) is `401 {"error":"this
/// endpoint requires an account-authenticated session"}`. A session minted
/// with `POST /_testnode/auth/mint {"account": true}` speaks for this node's
/// account: a write method is `409` (not declared read-only), a guest error
/// `400 {"error","type":"FunctionCallError","data"}`, else
/// `{"data":{"returns":…}}`.
async fn query_context(
    State(state): State<Arc<AppState>>,
    Path(raw_id): Path<String>,
    session: Option<axum::Extension<crate::auth::CallerSession>>,
    PlainJson(req): PlainJson<QueryRequest>,
) -> ApiResult {
    let id = Id::parse(&raw_id).map_err(|_| ApiError::internal())?;
    if !session.is_some_and(|s| s.0.account) {
        return Err(ApiError::Json(
            axum::http::StatusCode::UNAUTHORIZED,
            "this endpoint requires an account-authenticated session".to_owned(),
        ));
    }
    let mut node = state.node();
    let group = node
        .contexts
        .get(&id)
        .ok_or_else(|| context_not_found(&id))?
        .group;
    if group.is_none_or(|g| node.my_row(&g).is_none()) {
        return Err(ApiError::forbidden(
            "account is not a member of the group owning this context",
        ));
    }
    if crate::kv::mutates(&req.method) == Some(true) {
        return Err(ApiError::Json(
            axum::http::StatusCode::CONFLICT,
            format!(
                "method '{}' is not declared read-only; a session authorizes reads only, so this \
                 call needs a warrant",
                req.method
            ),
        ));
    }
    let input = serde_json::to_vec(&req.args_json).unwrap_or_default();
    let context = node
        .contexts
        .get_mut(&id)
        .ok_or_else(|| context_not_found(&id))?;
    match context.kv.call(&req.method, &input) {
        Ok(outcome) => Ok(data(json!({ "returns": outcome.output }))),
        // `method_error_response` [inferred `error` text: the
        // `FunctionCallError` Display].
        Err(message) => Ok(crate::error::with_status(
            axum::http::StatusCode::BAD_REQUEST,
            json!({
                "error": format!("function call error: {message}"),
                "type": "FunctionCallError",
                "data": message,
            }),
        )),
    }
}
