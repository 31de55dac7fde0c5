//! `POST /jsonrpc`: `execute`, `sync_status`, `set_ephemeral`.
//!
//! The envelope is parsed with plain axum `Json`, so envelope problems are
//! axum's plain-text 400/415/422; everything after that is HTTP 200 with a
//! JSON-RPC `result` or `error`.
//! core: crates/server/src/jsonrpc.rs, crates/server/src/jsonrpc/{execute,
//! sync_status,set_ephemeral}.rs, crates/server/src/execute.rs,
//! crates/server/primitives/src/jsonrpc.rs.

use std::sync::Arc;

use axum::extract::State;
use axum::routing::post;
use axum::{Json, Router};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

use super::AppRouter;
use crate::error::{join_validation_errors, validate, Strict};
use crate::ids::Id;
use crate::state::{AppState, Role};

/// Largest `set_ephemeral` slice (`EPHEMERAL_MAX_BYTES`).
const EPHEMERAL_MAX_BYTES: usize = 16_384;

pub fn routes() -> AppRouter {
    // The real node nests a `/` route at `/jsonrpc`, which answers both up
    // to rc.29 (axum 0.7); `/jsonrpc/` is gated in `crate::release::ROUTES`.
    Router::new()
        .route("/jsonrpc", post(handle))
        .route("/jsonrpc/", post(handle))
}

/// Only `"2.0"` is accepted.
struct Version;

impl<'de> Deserialize<'de> for Version {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        match String::deserialize(deserializer)?.as_str() {
            "2.0" => Ok(Version),
            _ => Err(serde::de::Error::custom("Invalid JSON-RPC version")),
        }
    }
}

#[derive(Deserialize, Serialize)]
#[serde(untagged)]
enum RequestId {
    String(String),
    Number(u64),
    Null,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Request {
    #[allow(dead_code, reason = "validated by deserialisation only")]
    jsonrpc: Version,
    id: RequestId,
    #[serde(flatten)]
    payload: Value,
}

/// The params are `deny_unknown_fields` once bodies are strict (an
/// `executorPublicKey` is then a `ParseError`: core
/// `primitives/src/jsonrpc.rs@051075a7`, index id 59230514356; swift
/// CHANGELOG rc.83) [inferred: from rc.38 with the other bodies].
#[derive(Deserialize)]
#[serde(tag = "method", content = "params", rename_all = "snake_case")]
enum Payload {
    Execute(Strict<ExecutionRequest>),
    SyncStatus(Strict<SyncStatusRequest>),
    SetEphemeral(Strict<SetEphemeralRequest>),
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ExecutionRequest {
    context_id: Id,
    method: String,
    args_json: Value,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SyncStatusRequest {
    context_id: Id,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SetEphemeralRequest {
    context_id: Id,
    state: Vec<u8>,
}

#[derive(Serialize)]
struct Response {
    jsonrpc: &'static str,
    id: RequestId,
    #[serde(flatten)]
    body: Body,
}

/// Structs rather than `json!` maps throughout, so key order is the node's.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
enum Body {
    Result(RpcResult),
    Error(RpcError),
}

#[derive(Serialize)]
#[serde(untagged)]
enum RpcResult {
    Output { output: Value },
    SyncStatus(SyncStatus),
    Empty {},
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SyncStatus {
    context_id: Id,
    is_initialized: bool,
    sync_state: SyncState,
    failure_count: u32,
}

#[derive(Serialize)]
struct SyncState {
    state: &'static str,
}

/// `{"type": …}` or `{"type": …, "data": …}`, as the node's tagged errors.
#[derive(Serialize)]
struct RpcError {
    #[serde(rename = "type")]
    kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    data: Option<ErrorData>,
}

#[derive(Serialize)]
#[serde(untagged)]
enum ErrorData {
    Message(String),
    SliceTooLarge {
        size: usize,
        max: usize,
    },
    /// `ReadOnlyWriteRefused` (rc.83).
    Context {
        context_id: Id,
    },
}

fn error(kind: &'static str, data: Option<ErrorData>) -> Body {
    Body::Error(RpcError { kind, data })
}

fn parse_error(message: String) -> Body {
    error("ParseError", Some(ErrorData::Message(message)))
}

fn call_error(message: String) -> Body {
    error("FunctionCallError", Some(ErrorData::Message(message)))
}

async fn handle(
    State(state): State<Arc<AppState>>,
    Json(request): Json<Request>,
) -> Json<Response> {
    let body = match Payload::deserialize(&request.payload) {
        Err(err) => parse_error(err.to_string()),
        Ok(Payload::Execute(Strict(req))) => execute(&state, req),
        Ok(Payload::SyncStatus(Strict(req))) => sync_status(&state, &req),
        Ok(Payload::SetEphemeral(Strict(req))) => set_ephemeral(&state, &req),
    };
    Json(Response {
        jsonrpc: "2.0",
        id: request.id,
        body,
    })
}

/// Runs a kv-store method as the node's own identity in the context
/// (`executorPublicKey`, if sent, is ignored like any unknown key).
fn execute(state: &AppState, req: ExecutionRequest) -> Body {
    let mut errors = Vec::new();
    validate::method_name(&req.method, "method", &mut errors);
    if !errors.is_empty() {
        return parse_error(join_validation_errors(&errors));
    }
    // Serialising a `Value` cannot fail.
    let input = serde_json::to_vec(&req.args_json).unwrap_or_default();

    let mut node = state.node();
    let read_only = node
        .contexts
        .get(&req.context_id)
        .and_then(|c| c.group)
        .and_then(|g| node.my_row(&g))
        .is_some_and(|row| matches!(row.role, Role::ReadOnly | Role::ReadOnlyTee));
    let Some(context) = node.contexts.get_mut(&req.context_id) else {
        return unknown_context(&req.context_id);
    };
    if context.owned_identities().is_empty() {
        return call_error("No owned identity found for this context".to_owned());
    }
    // rc.83: a write on a node whose role in the context is read-only is
    // refused before it runs (swift/kotlin Rc83 tests; the trigger is
    // [inferred] from core's `DelegatedWriteRefused` reason "this node's
    // role in this context is read-only").
    if read_only && state.config.release.rc83() && crate::kv::mutates(&req.method) == Some(true) {
        return error(
            "ReadOnlyWriteRefused",
            Some(ErrorData::Context {
                context_id: req.context_id,
            }),
        );
    }
    match context.kv.call(&req.method, &input) {
        Ok(outcome) => {
            if outcome.wrote {
                context.record_write(&req.method, &input);
                state
                    .events
                    .state_mutation(context.id, context.root_hash, &outcome.events);
            }
            Body::Result(RpcResult::Output {
                output: outcome.output,
            })
        }
        Err(message) => call_error(message),
    }
}

/// `execute` on a context the node does not have. The node first looks for
/// its own identity in the context (core: crates/server/src/execute.rs), so
/// an unknown id fails there: "No owned identity found for this context"
/// (seen on a real rc.25 node). The all-zero id is the exception: the real
/// node's identity lookup finds a key for it and the execution itself then
/// answers `ContextNotFound` (recorded, contract/merod-rc25-noauth.md #22).
fn unknown_context(context_id: &Id) -> Body {
    if *context_id == Id::ZERO {
        error("ContextNotFound", None)
    } else {
        call_error("No owned identity found for this context".to_owned())
    }
}

fn sync_status(state: &AppState, req: &SyncStatusRequest) -> Body {
    if !state.node().contexts.contains_key(&req.context_id) {
        return error("ContextNotFound", None);
    }
    Body::Result(RpcResult::SyncStatus(SyncStatus {
        context_id: req.context_id,
        is_initialized: true,
        sync_state: SyncState { state: "idle" },
        failure_count: 0,
    }))
}

/// Size is checked before membership; presence itself is not stored.
fn set_ephemeral(state: &AppState, req: &SetEphemeralRequest) -> Body {
    if req.state.len() > EPHEMERAL_MAX_BYTES {
        return error(
            "SliceTooLarge",
            Some(ErrorData::SliceTooLarge {
                size: req.state.len(),
                max: EPHEMERAL_MAX_BYTES,
            }),
        );
    }
    // Seen on a real rc.25 node: an unknown context has no owned identity.
    match state.node().contexts.get(&req.context_id) {
        None => error("NoOwnedIdentity", None),
        Some(c) if c.owned_identities().is_empty() => error("NoOwnedIdentity", None),
        Some(_) => Body::Result(RpcResult::Empty {}),
    }
}
