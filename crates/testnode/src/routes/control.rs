//! The test-control API under `/_testnode` (not part of the real node):
//! reset, the request log, and fault injection.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use serde_json::json;

use super::AppRouter;
use crate::error::{json, ApiError, ApiResult};
use crate::middleware::FaultSpec;
use crate::state::AppState;

pub fn routes() -> AppRouter {
    Router::new()
        .route("/reset", post(reset))
        .route("/requests", get(requests).delete(clear_requests))
        .route(
            "/faults",
            get(list_faults).post(add_fault).delete(clear_faults),
        )
}

fn ok() -> Response {
    json(json!({ "ok": true }))
}

async fn reset(State(state): State<Arc<AppState>>) -> Response {
    state.reset();
    ok()
}

async fn requests(State(state): State<Arc<AppState>>) -> Response {
    state.log.snapshot()
}

async fn clear_requests(State(state): State<Arc<AppState>>) -> Response {
    state.log.clear();
    ok()
}

async fn list_faults(State(state): State<Arc<AppState>>) -> Response {
    json(state.faults.snapshot())
}

/// Body: a `FaultSpec`. Answers `{"id": n}`; a bad spec is `400 {"error"}`.
async fn add_fault(State(state): State<Arc<AppState>>, body: Bytes) -> ApiResult {
    let spec: FaultSpec = serde_json::from_slice(&body)
        .map_err(|err| ApiError::bad_request(format!("invalid fault: {err}")))?;
    let id = state
        .faults
        .add(spec)
        .map_err(|err| ApiError::bad_request(format!("invalid fault: {err}")))?;
    Ok(json(json!({ "id": id })))
}

async fn clear_faults(State(state): State<Arc<AppState>>) -> Response {
    state.faults.clear();
    ok()
}
