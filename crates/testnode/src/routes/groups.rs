//! The few group routes contexts need: a namespace is the root group, this
//! node its only member (Admin).
//! core: crates/server/src/admin/handlers/groups.rs (`parse_group_id`,
//! `parse_context_id`), handlers/groups/{list_group_members,list_group_contexts}.rs,
//! crates/context/src/handlers/list_group_contexts.rs.

use std::sync::Arc;

use axum::extract::{Path, RawQuery, State};
use axum::routing::get;
use axum::Router;
use serde::{Deserialize, Serialize};

use super::AppRouter;
use crate::error::{data, hex_id, json, query, ApiError, ApiResult};
use crate::ids::{HexId, Id};
use crate::state::AppState;

const DEFAULT_LIST_LIMIT: usize = 100;
const MAX_LIST_LIMIT: usize = 1000;

pub fn routes() -> AppRouter {
    Router::new()
        .route("/groups/{group_id}/members", get(members))
        .route("/groups/{group_id}/contexts", get(contexts))
}

/// A 64-char hex group (or namespace) id from a path.
pub fn parse_group_id(raw: &str) -> Result<Id, ApiError> {
    hex_id(
        raw,
        "Invalid group id format: expected hex-encoded 32 bytes",
        "Invalid group id: must be exactly 32 bytes",
    )
}

/// A context id given as base58 or 64-char hex.
pub fn parse_context_id(raw: &str) -> Result<Id, ApiError> {
    if let Ok(id) = Id::parse_bs58(raw) {
        return Ok(id);
    }
    hex_id(
        raw,
        "Invalid context id format: expected base58 or hex-encoded 32 bytes",
        "Invalid context id: must be exactly 32 bytes",
    )
}

#[derive(Deserialize)]
struct Page {
    offset: Option<usize>,
    limit: Option<usize>,
}

impl Page {
    fn bounds(&self) -> (usize, usize) {
        (
            self.offset.unwrap_or(0),
            self.limit.unwrap_or(DEFAULT_LIST_LIMIT).min(MAX_LIST_LIMIT),
        )
    }
}

/// Resolves the path's group; a group this node is not in is an untyped
/// failure ("node has no group identity configured"), so 500.
fn known_group(state: &AppState, raw: &str) -> Result<Id, ApiError> {
    let id = parse_group_id(raw)?;
    if state.node().namespaces.contains_key(&id) {
        Ok(id)
    } else {
        Err(ApiError::internal())
    }
}

async fn members(
    State(state): State<Arc<AppState>>,
    Path(raw_id): Path<String>,
    RawQuery(raw): RawQuery,
) -> ApiResult {
    #[derive(Serialize)]
    struct Member {
        identity: HexId,
        role: &'static str,
    }

    #[derive(Serialize)]
    struct Members {
        members: Vec<Member>,
    }

    let (offset, limit) = query::<Page>(raw.as_deref())?.bounds();
    let _ = known_group(&state, &raw_id)?;
    let identity = state.node().ensure_identity();
    let members = std::iter::once(Member {
        identity: HexId(identity.account_id),
        role: "Admin",
    })
    .skip(offset)
    .take(limit)
    .collect();
    Ok(json(Members { members }))
}

async fn contexts(
    State(state): State<Arc<AppState>>,
    Path(raw_id): Path<String>,
    RawQuery(raw): RawQuery,
) -> ApiResult {
    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    struct Entry<'a> {
        context_id: Id,
        #[serde(skip_serializing_if = "Option::is_none")]
        name: Option<&'a str>,
    }

    let (offset, limit) = query::<Page>(raw.as_deref())?.bounds();
    let id = known_group(&state, &raw_id)?;
    let node = state.node();
    let entries: Vec<Entry<'_>> = node
        .contexts_in(id)
        .skip(offset)
        .take(limit)
        .map(|c| Entry {
            context_id: c.id,
            name: c.name.as_deref(),
        })
        .collect();
    Ok(data(entries))
}
