//! Namespaces (root groups). Contexts are created inside one.
//! core: crates/server/src/admin/handlers/namespaces/{create_namespace,list,get_namespace,
//! delete_namespace,list_for_application}.rs, crates/context/src/handlers/{create_group,
//! delete_namespace}.rs.

use std::sync::Arc;

use axum::extract::{Path, RawQuery, State};
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::groups::parse_group_id;
use super::AppRouter;
use crate::error::{data, query, ApiError, ApiResult, Validate, ValidatedJson};
use crate::ids::{HexId, Id};
use crate::state::{now_secs, AppState, Namespace, Node};

pub fn routes() -> AppRouter {
    Router::new()
        .route("/namespaces", get(list).post(create))
        .route("/namespaces/{namespace_id}", get(get_one).delete(delete))
        .route(
            "/namespaces/for-application/{application_id}",
            get(list_for_application),
        )
}

/// The wire form (`NamespaceApiResponse`).
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
}

fn namespace_json<'a>(node: &Node, ns: &'a Namespace) -> NamespaceJson<'a> {
    NamespaceJson {
        namespace_id: HexId(ns.id),
        app_key: HexId(ns.app_key),
        target_application_id: ns.target_application_id,
        created_at: ns.created_at,
        name: ns.name.as_deref(),
        member_count: 1,
        context_count: node.contexts_in(ns.id).count(),
        subgroup_count: 0,
    }
}

#[derive(Deserialize)]
struct Page {
    offset: Option<usize>,
    limit: Option<usize>,
}

/// Namespaces passing `keep`, paged (default limit 100, no upper clamp).
fn page_of(node: &Node, page: &Page, keep: impl Fn(&Namespace) -> bool) -> Response {
    let list: Vec<NamespaceJson<'_>> = node
        .namespaces
        .values()
        .filter(|ns| keep(ns))
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
    let app_id =
        Id::parse_bs58(&raw_id).map_err(|_| ApiError::bad_request("Invalid application id"))?;
    Ok(page_of(&state.node(), &page, |ns| {
        ns.target_application_id == app_id
    }))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CreateNamespaceRequest {
    application_id: Id,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
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
        .ok_or_else(ApiError::internal)?;
    let bytecode = app.bytecode;
    if app_key.is_some_and(|key| key != bytecode) {
        return Err(ApiError::internal());
    }
    let _ = node.ensure_identity();
    let id = Id::random();
    let _ = node.namespaces.insert(
        id,
        Namespace {
            id,
            app_key: bytecode,
            target_application_id: req.application_id,
            created_at: now_secs(),
            name: req.name,
        },
    );
    Ok(data(json!({ "namespaceId": HexId(id) })))
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

/// Local teardown: the namespace goes, its contexts stay (unregistered).
async fn delete(
    State(state): State<Arc<AppState>>,
    Path(raw_id): Path<String>,
    ValidatedJson(DeleteNamespaceApiRequest {}): ValidatedJson<DeleteNamespaceApiRequest>,
) -> ApiResult {
    let id = parse_group_id(&raw_id)?;
    let mut node = state.node();
    if node.namespaces.remove(&id).is_none() {
        // "node has no configured namespace identity"
        return Err(ApiError::internal());
    }
    for context in node.contexts.values_mut() {
        if context.group == Some(id) {
            context.group = None;
        }
    }
    Ok(data(json!({ "isDeleted": true })))
}
