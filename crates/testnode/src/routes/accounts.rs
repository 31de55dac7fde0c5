//! Device pairing and revocation under `/namespaces/{id}/account/…`.
//!
//! On one node the two halves of a pairing meet here: `pair-init` (run on
//! the new device's node) mints a device for the account of the given root
//! key and returns its offer; `pair-complete` (run on the account's node)
//! certifies an offer this node made for its own account (the root key was
//! this node's `accountRootPublicKey`), after which the device is listed
//! under the node's account in `member-devices` and can be revoked.
//! Anything else (a statement or code that does not match an offer, an
//! offer for another account, an unknown device, the node's own device) is
//! an untyped failure: 500. Values are deterministic per root key and
//! namespace, as the real node's are per enrolment.
//! core: crates/server/src/admin/handlers/namespaces/{pair_device_init,
//! pair_device_complete,revoke_device}.rs, crates/context/src/handlers/
//! {pair_device_init,pair_device_complete,revoke_device}.rs,
//! crates/server/primitives/src/admin/mod.rs (validation).

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::routing::post;
use axum::Router;
use serde::{Deserialize, Serialize};

use super::groups::parse_group_id;
use super::AppRouter;
use crate::error::{data, validate, ApiError, ApiResult, Validate, ValidatedJson, ValidationError};
use crate::ids::{HexId, Id};
use crate::state::{AppState, PairOffer};
use crate::Config;

pub fn routes() -> AppRouter {
    Router::new()
        .route(
            "/namespaces/{namespace_id}/account/pair-init",
            post(pair_init),
        )
        .route(
            "/namespaces/{namespace_id}/account/pair-complete",
            post(pair_complete),
        )
        .route("/namespaces/{namespace_id}/account/revoke", post(revoke))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PairInitRequest {
    #[serde(alias = "accountRootKey")]
    account_root_public_key: String,
}

impl Validate for PairInitRequest {
    fn validate(&self, _config: &Config) -> Vec<ValidationError> {
        let mut errors = Vec::new();
        validate::hex_string(
            &self.account_root_public_key,
            "accountRootPublicKey",
            32,
            "not valid hex",
            &mut errors,
        );
        errors
    }
}

/// `XXXX-XXXX-XXXX-XXXX` (upper-case hex), derived from the statement.
fn confirmation_code(statement: &[u8; 64]) -> String {
    let digest = Id::digest(&[b"calimero-testnode:code", statement]).to_hex();
    let upper = digest[..16].to_ascii_uppercase();
    format!(
        "{}-{}-{}-{}",
        &upper[..4],
        &upper[4..8],
        &upper[8..12],
        &upper[12..16]
    )
}

async fn pair_init(
    State(state): State<Arc<AppState>>,
    Path(raw): Path<String>,
    ValidatedJson(req): ValidatedJson<PairInitRequest>,
) -> ApiResult {
    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    struct Offer {
        account_id: HexId,
        device_id: HexId,
        kem_public_key: HexId,
        sign_public_key: HexId,
        statement: String,
        confirmation_code: String,
    }

    let namespace = parse_group_id(&raw)?;
    let root = Id::parse_hex(&req.account_root_public_key).map_err(|_| {
        ApiError::bad_request("accountRootPublicKey must be 64 hex chars (32 bytes)")
    })?;
    let mut node = state.node();
    let identity = node.ensure_identity();
    // The account an identity root key speaks for; the node's own root maps
    // to the node's own account.
    let account = if root == identity.account_root_public_key {
        identity.account_id
    } else {
        Id::digest(&[b"calimero-testnode:account", &root.0])
    };
    let device = Id::digest(&[b"calimero-testnode:device", &root.0, &namespace.0]);
    let kem = Id::digest(&[b"calimero-testnode:kem", &device.0]);
    let r = Id::digest(&[b"calimero-testnode:offer-r", &device.0, &account.0]);
    let s = Id::digest(&[b"calimero-testnode:offer-s", &r.0]);
    let mut statement = [0u8; 64];
    statement[..32].copy_from_slice(&r.0);
    statement[32..].copy_from_slice(&s.0);
    let code = confirmation_code(&statement);
    let _ = node.pair_offers.insert(
        device,
        PairOffer {
            account,
            kem_public_key: kem,
            sign_public_key: identity.public_key,
            statement,
            confirmation_code: code.clone(),
        },
    );
    Ok(data(Offer {
        account_id: HexId(account),
        device_id: HexId(device),
        kem_public_key: HexId(kem),
        sign_public_key: HexId(identity.public_key),
        statement: hex::encode(statement),
        confirmation_code: code,
    }))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PairCompleteRequest {
    device_id: String,
    kem_public_key: String,
    sign_public_key: String,
    statement: String,
    confirmation_code: String,
}

impl Validate for PairCompleteRequest {
    fn validate(&self, _config: &Config) -> Vec<ValidationError> {
        let mut errors = Vec::new();
        if self.confirmation_code.trim().is_empty() {
            errors.push(ValidationError::EmptyField {
                field: "confirmationCode",
            });
        }
        for (field, value, bytes) in [
            ("deviceId", &self.device_id, 32),
            ("kemPublicKey", &self.kem_public_key, 32),
            ("signPublicKey", &self.sign_public_key, 32),
            ("statement", &self.statement, 64),
        ] {
            validate::hex_string(value, field, bytes, "not valid hex", &mut errors);
        }
        errors
    }
}

async fn pair_complete(
    State(state): State<Arc<AppState>>,
    Path(raw): Path<String>,
    ValidatedJson(req): ValidatedJson<PairCompleteRequest>,
) -> ApiResult {
    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    struct Completed {
        account_id: HexId,
        device_id: HexId,
        key_delivered: bool,
        confirmation_code: String,
    }

    let namespace = parse_group_id(&raw)?;
    let device = Id::parse_hex(&req.device_id).map_err(|_| ApiError::internal())?;
    let mut node = state.node();
    let identity = node.identity.ok_or_else(ApiError::internal)?;
    let member = node
        .namespace(&namespace)
        .is_some_and(|ns| ns.members.contains_key(&identity.account_id));
    let offer = node
        .pair_offers
        .get(&device)
        .cloned()
        .ok_or_else(ApiError::internal)?;
    let matches = offer.account == identity.account_id
        && hex::encode(offer.statement) == req.statement.to_ascii_lowercase()
        && offer.kem_public_key.to_hex() == req.kem_public_key.to_ascii_lowercase()
        && offer.sign_public_key.to_hex() == req.sign_public_key.to_ascii_lowercase()
        && offer.confirmation_code == req.confirmation_code.trim();
    if !member || !matches {
        return Err(ApiError::internal());
    }
    let signing_key = Id::digest(&[b"calimero-testnode:device-key", &device.0]);
    let devices = node.paired_devices.entry(namespace).or_default();
    if !devices.iter().any(|(d, _)| *d == device) {
        devices.push((device, signing_key));
    }
    Ok(data(Completed {
        account_id: HexId(identity.account_id),
        device_id: HexId(device),
        key_delivered: true,
        confirmation_code: offer.confirmation_code,
    }))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RevokeRequest {
    device_id: String,
    #[serde(default)]
    proof: Option<String>,
}

impl Validate for RevokeRequest {
    fn validate(&self, _config: &Config) -> Vec<ValidationError> {
        let mut errors = Vec::new();
        validate::hex_string(
            &self.device_id,
            "deviceId",
            32,
            "not valid hex",
            &mut errors,
        );
        if let Some(proof) = &self.proof {
            if proof.is_empty() {
                errors.push(ValidationError::InvalidHexEncoding {
                    field: "proof",
                    reason: "empty; omit the field entirely if you have no proof".to_owned(),
                });
            } else if hex::decode(proof).is_err() {
                errors.push(ValidationError::InvalidHexEncoding {
                    field: "proof",
                    reason: "not valid hex".to_owned(),
                });
            }
        }
        errors
    }
}

/// Withdraws a device paired to this node's account (from the namespace's
/// listing); the namespace key rotates.
async fn revoke(
    State(state): State<Arc<AppState>>,
    Path(raw): Path<String>,
    ValidatedJson(req): ValidatedJson<RevokeRequest>,
) -> ApiResult {
    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    struct Outcome {
        namespace_id: HexId,
        key_rotated: bool,
    }

    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    struct Revoked {
        account_id: HexId,
        device_id: HexId,
        key_rotated: bool,
        revoked_in: Vec<Outcome>,
    }

    let namespace = parse_group_id(&raw)?;
    let device = Id::parse_hex(&req.device_id).map_err(|_| ApiError::internal())?;
    let mut node = state.node();
    let identity = node.identity.ok_or_else(ApiError::internal)?;
    if node.namespace(&namespace).is_none() {
        return Err(ApiError::internal());
    }
    let devices = node
        .paired_devices
        .get_mut(&namespace)
        .ok_or_else(ApiError::internal)?;
    let before = devices.len();
    devices.retain(|(d, _)| *d != device);
    if devices.len() == before {
        return Err(ApiError::internal());
    }
    Ok(data(Revoked {
        account_id: HexId(identity.account_id),
        device_id: HexId(device),
        key_rotated: true,
        revoked_in: vec![Outcome {
            namespace_id: HexId(namespace),
            key_rotated: true,
        }],
    }))
}
