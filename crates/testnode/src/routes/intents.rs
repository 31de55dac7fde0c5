//! Delegated execution: the relay's side of intents and the warrant-nonce
//! ledger (core: crates/server/src/admin/handlers/context/{intent_relay,
//! perform_intent,warrant_nonce}.rs). Warrants and credentials are checked
//! by `crate::delegated`, the test node's own verifier.
//!
//! Shapes: `GET .../intents` → `{"data": {"executorAccount", "executorKey",
//! "canAuthorOnBehalf", "groupId", "releaseBytecodeId", "releaseVersion",
//! "grantedOnGroupId"?}}` (hex); `POST .../intents {method, argsJson,
//! warrant, authorProof}` → `{"data": {"deltaId", "returns"}}`. A malformed
//! warrant or proof, or one that does not verify, is 400; a genuine warrant
//! that does not authorise this (another context, other arguments, expired,
//! another release, no `CAN_AUTHOR_ON_BEHALF` on the group) is 403; a spent
//! nonce is 409 (the test node's choice: core refuses it at execution).
//! The warrant-nonce routes answer 404 unless `/_testnode/auth
//! {"warrantNonceRoutes": true}` (rc.83 does not serve them).

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};

use super::groups::parse_context_id;
use super::AppRouter;
use crate::auth::AuthenticatedAccount;
use crate::delegated::{intent_hash, node_json, Credential, Warrant};
use crate::error::{data, ApiError, ApiResult};
use crate::state::AppState;

/// `CAN_AUTHOR_ON_BEHALF` (bit 9): granted explicitly, never implied by
/// membership or admin.
pub const CAN_AUTHOR_ON_BEHALF: u32 = 512;

pub fn routes() -> AppRouter {
    Router::new()
        .route("/contexts/{context_id}/intents", get(relay).post(perform))
        .route(
            "/contexts/{context_id}/warrant-nonce/{device_key}",
            get(nonce_for_device),
        )
        .route("/contexts/{context_id}/warrant-nonce", post(own_nonce))
}

fn refuse(status: StatusCode, message: impl Into<String>) -> ApiError {
    ApiError::Json(status, message.into())
}

/// What the relay names in a warrant, and whether it may act here.
struct Relay {
    account: [u8; 32],
    key: [u8; 32],
    group: [u8; 32],
    may_author: bool,
    bytecode: [u8; 32],
    version: String,
}

fn relay_of(state: &AppState, context_id: &crate::ids::Id) -> Result<Relay, ApiError> {
    let node = state.node();
    let context = node
        .contexts
        .get(context_id)
        .ok_or_else(|| ApiError::not_found("Context not found"))?;
    let group = context.group.ok_or_else(|| {
        ApiError::not_found(
            "this context belongs to no group, so a delegated write has no group to be \
             authorized in",
        )
    })?;
    let identity = node.identity.ok_or_else(|| {
        ApiError::not_found("this node holds neither a usable device nor an account root yet")
    })?;
    if context.owned_identities().is_empty() {
        return Err(ApiError::not_found(
            "this node holds no identity in this context, so it can spend no warrant here",
        ));
    }
    let app = node.apps.get(&context.application_id);
    let may_author = node
        .my_row(&group)
        .is_some_and(|r| r.capabilities & CAN_AUTHOR_ON_BEHALF != 0);
    Ok(Relay {
        account: identity.account_id.0,
        key: context.member.0,
        group: group.0,
        may_author,
        bytecode: app.map_or([0; 32], |a| a.bytecode.0),
        version: app.map_or_else(|| "0.0.0".to_owned(), |a| a.version.clone()),
    })
}

async fn relay(State(state): State<Arc<AppState>>, Path(context_id): Path<String>) -> ApiResult {
    let context_id = parse_context_id(&context_id)?;
    let r = relay_of(&state, &context_id)?;
    let mut out = json!({
        "executorAccount": hex::encode(r.account),
        "executorKey": hex::encode(r.key),
        "canAuthorOnBehalf": r.may_author,
        "groupId": hex::encode(r.group),
        "releaseBytecodeId": hex::encode(r.bytecode),
        "releaseVersion": r.version,
    });
    if r.may_author {
        out["grantedOnGroupId"] = Value::from(hex::encode(r.group));
    }
    Ok(data(out))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct PerformIntent {
    method: String,
    args_json: Value,
    warrant: String,
    author_proof: String,
}

async fn perform(
    State(state): State<Arc<AppState>>,
    Path(context_id): Path<String>,
    Json(req): Json<PerformIntent>,
) -> ApiResult {
    let context_id = parse_context_id(&context_id)?;
    let bad = |m: String| refuse(StatusCode::BAD_REQUEST, m);
    let no = |m: &str| refuse(StatusCode::FORBIDDEN, m);
    let warrant = Warrant::from_hex(&req.warrant)
        .map_err(|e| bad(format!("warrant is not a valid statement: {e}")))?;
    let proof = Credential::from_hex(&req.author_proof)
        .map_err(|e| bad(format!("authorProof is not a valid credential: {e}")))?;
    let r = relay_of(&state, &context_id)?;
    // Authenticity: the device the credential certifies signed the warrant,
    // for the account the credential names, and the warrant names this node.
    let verified = warrant.signed_by_author()
        && proof.verify().is_ok()
        && proof.account == warrant.author_account
        && proof.sign_key == warrant.author_device_key
        && warrant.executor == r.account
        && warrant.executor_key == r.key;
    if !verified {
        return Err(bad("delegation does not verify".to_owned()));
    }
    if warrant.context != context_id.0 {
        return Err(no(
            "this warrant authorises a different context than the one it was presented in",
        ));
    }
    let args = node_json(&req.args_json);
    if intent_hash(&req.method, &args) != warrant.intent_hash || req.method != warrant.method {
        return Err(no(
            "this warrant does not cover the intent presented with it: it commits to a \
             different method or arguments",
        ));
    }
    let now = state
        .auth
        .as_ref()
        .map_or_else(crate::state::now_secs, |a| a.now());
    if warrant.not_after < now {
        return Err(no(&format!(
            "this warrant expired at {} and it is now {now}; mint a fresh one",
            warrant.not_after
        )));
    }
    if warrant.release_bytecode_id != r.bytecode {
        return Err(no("this warrant pins another release than this relay runs"));
    }
    if !r.may_author {
        return Err(no(&format!(
            "this node holds no authorship grant on the group owning this context, so it \
             cannot act for a member here — an admin must grant CAN_AUTHOR_ON_BEHALF to {}",
            hex::encode(r.account)
        )));
    }
    let mut node = state.node();
    let spent = node
        .warrant_nonces
        .entry((context_id, warrant.author_device_key))
        .or_default();
    if !spent.insert(warrant.nonce) {
        return Err(refuse(
            StatusCode::CONFLICT,
            format!("warrant nonce {} was already spent", warrant.nonce),
        ));
    }
    let Some(context) = node.contexts.get_mut(&context_id) else {
        return Err(ApiError::not_found("Context not found"));
    };
    match context.kv.call(&req.method, &args) {
        Ok(outcome) => {
            if outcome.wrote {
                context.record_write(&req.method, &args);
                state
                    .events
                    .state_mutation(context.id, context.root_hash, &outcome.events);
            }
            Ok(data(json!({
                "deltaId": hex::encode(context.dag_head.0),
                "returns": outcome.output,
            })))
        }
        Err(message) => Err(refuse(
            StatusCode::BAD_REQUEST,
            format!("execution failed: {message}"),
        )),
    }
}

fn nonce_routes_served(state: &AppState) -> bool {
    state
        .auth
        .as_ref()
        .is_some_and(|a| a.timing().warrant_nonce_routes)
}

/// `high_water + 1` is the next nonce; a device never seen starts at 0.
fn describe(state: &AppState, context: crate::ids::Id, device: [u8; 32]) -> Response {
    let node = state.node();
    let high = node
        .warrant_nonces
        .get(&(context, device))
        .and_then(|s| s.iter().next_back().copied());
    data(json!({
        "contextId": hex::encode(context.0),
        "authorDeviceKey": hex::encode(device),
        "seen": high.is_some(),
        "highWaterNonce": high,
        "nextNonce": high.map_or(Some(0), |h| h.checked_add(1)),
        "windowWidth": 64,
    }))
}

async fn nonce_for_device(
    State(state): State<Arc<AppState>>,
    Path((context_id, device_key)): Path<(String, String)>,
) -> ApiResult {
    if !nonce_routes_served(&state) {
        return Ok(StatusCode::NOT_FOUND.into_response());
    }
    let context_id = parse_context_id(&context_id)?;
    let device = crate::ids::Id::parse_bs58(&device_key)
        .map(|i| i.0)
        .ok()
        .or_else(|| {
            hex::decode(&device_key)
                .ok()
                .and_then(|b| <[u8; 32]>::try_from(b).ok())
        })
        .ok_or_else(|| {
            ApiError::bad_request("author device key must be a 32-byte public key, base58 or hex")
        })?;
    Ok(describe(&state, context_id, device))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct OwnNonce {
    author_proof: String,
}

async fn own_nonce(
    State(state): State<Arc<AppState>>,
    Path(context_id): Path<String>,
    account: Option<Extension<AuthenticatedAccount>>,
    Json(req): Json<OwnNonce>,
) -> ApiResult {
    if !nonce_routes_served(&state) {
        return Ok(StatusCode::NOT_FOUND.into_response());
    }
    let context_id = parse_context_id(&context_id)?;
    let Some(Extension(AuthenticatedAccount(account))) = account else {
        return Err(refuse(
            StatusCode::UNAUTHORIZED,
            "this endpoint requires an account-authenticated session",
        ));
    };
    let refused = || {
        refuse(
            StatusCode::FORBIDDEN,
            "authorProof is not a valid credential for the authenticated account",
        )
    };
    let proof = Credential::from_hex(&req.author_proof).map_err(|_| refused())?;
    if proof.verify().is_err() || proof.account != account {
        return Err(refused());
    }
    Ok(describe(&state, context_id, proof.sign_key))
}
