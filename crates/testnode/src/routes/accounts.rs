//! Devices of this node's account: pairing, listing, relinking, scoping,
//! labelling, revocation, and signing with the account root.
//!
//! Per release (gated in `crate::release::ROUTES`):
//! * rc.25–27: pairing under `/namespaces/{id}/account/pair-{init,complete}`;
//! * rc.28+: account-level `POST /account/pair-init {accountRootPublicKey,
//!   namespaces, accountNamespace?}` and `POST /account/pair-complete {…,
//!   applications?}`, flat `GET /account/devices` and `GET
//!   /account/applications`, `POST /account/devices/{id}/relink` (swift
//!   `Rc29SurfaceTests.swift`, `rc32-account-devices.json`,
//!   `rc32-account-applications.json`; core fixtures `account/*.json`);
//! * rc.41+: `PUT /account/devices/{id}/scope` and `…/label`, `label` on the
//!   listing (swift `Rc41SurfaceTests.swift`);
//! * rc.44+: `POST /account/sign-with-root` (core fixtures
//!   `account/sign_with_root.{req,res}.json`);
//! * rc.83: `POST /namespaces/{id}/account/link-device` (core fixtures
//!   `namespaces/link_device.{req,res}.json`).
//!
//! Refusals are the node's untyped 500 until rc.44 and typed after
//! (core service.rs `pairing_refusal_status`); their texts are [inferred]
//! beyond the fragments core's tests pin ("account pair-init", "the node
//! that holds the account", no digit in a code mismatch).
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
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post, put};
use axum::Router;
use base64::Engine;
use serde::{Deserialize, Serialize};

use super::groups::parse_group_id;
use super::AppRouter;
use crate::error::{
    data, json, validate, ApiError, ApiResult, Validate, ValidatedJson, ValidationError,
};
use crate::ids::{HexId, Id};
use crate::state::{AccountDevice, AppState, Node, NodeIdentity, PairOffer};
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
        .route("/account/pair-init", post(account_pair_init))
        .route("/account/pair-complete", post(account_pair_complete))
        .route("/account/devices", get(devices))
        .route("/account/applications", get(applications))
        .route("/account/devices/{device_id}/relink", post(relink))
        .route("/account/devices/{device_id}/scope", put(rescope))
        .route("/account/devices/{device_id}/label", put(label))
        .route("/account/sign-with-root", post(sign_with_root))
        .route(
            "/namespaces/{namespace_id}/account/link-device",
            post(link_device),
        )
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
            namespaces: vec![namespace],
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
    if device == identity.device_id {
        // `RevocationOfOwnDevice` (403 from rc.44).
        return Err(ApiError::forbidden(
            "a node cannot revoke its own device; revoke it from another device of the account",
        ));
    }
    let unknown = || {
        // `RevocationUnknownDevice` (404 from rc.44).
        ApiError::missing(format!(
            "device {} is not a device of this account in namespace {}",
            device.to_hex(),
            namespace.to_hex()
        ))
    };
    let devices = node
        .paired_devices
        .get_mut(&namespace)
        .ok_or_else(unknown)?;
    let before = devices.len();
    devices.retain(|(d, _)| *d != device);
    if devices.len() == before {
        return Err(unknown());
    }
    if let Some(entry) = node.account_devices.get_mut(&device) {
        entry.namespaces.retain(|ns| *ns != namespace);
        if entry.namespaces.is_empty() {
            entry.revoked = true;
        }
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

// ------------------------------------------------------ account level (rc.28+)

/// `AccountPairInitApiRequest`: the root key, the namespaces to link the
/// new device into, and optionally the account's own namespace (core
/// fixture `account/pair_init.req.json@1b7536b7`).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct AccountPairInitRequest {
    account_root_public_key: String,
    namespaces: Vec<String>,
    #[serde(default)]
    account_namespace: Option<String>,
}

impl Validate for AccountPairInitRequest {
    fn validate(&self, _config: &Config) -> Vec<ValidationError> {
        let mut errors = Vec::new();
        validate::hex_string(
            &self.account_root_public_key,
            "accountRootPublicKey",
            32,
            "not valid hex",
            &mut errors,
        );
        for namespace in self.namespaces.iter().chain(&self.account_namespace) {
            validate::hex_string(namespace, "namespaces", 32, "not valid hex", &mut errors);
        }
        // Refused only when it names neither (swift Rc41SurfaceTests)
        // [inferred text].
        if self.namespaces.is_empty() && self.account_namespace.is_none() {
            errors.push(ValidationError::EmptyField {
                field: "namespaces",
            });
        }
        errors
    }
}

fn offer_json(offer: &PairOffer, device: Id) -> Response {
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

    data(Offer {
        account_id: HexId(offer.account),
        device_id: HexId(device),
        kem_public_key: HexId(offer.kem_public_key),
        sign_public_key: HexId(offer.sign_public_key),
        statement: hex::encode(offer.statement),
        confirmation_code: offer.confirmation_code.clone(),
    })
}

/// Mints the new device's offer for the account of the root key (run on the
/// new device's node), as the rc.25 namespaced route did, for every
/// namespace named.
async fn account_pair_init(
    State(state): State<Arc<AppState>>,
    ValidatedJson(req): ValidatedJson<AccountPairInitRequest>,
) -> ApiResult {
    let root = Id::parse_hex(&req.account_root_public_key).map_err(|_| ApiError::internal())?;
    let mut namespaces = Vec::new();
    for raw in req.namespaces.iter().chain(&req.account_namespace) {
        let id = Id::parse_hex(raw).map_err(|_| ApiError::internal())?;
        if !namespaces.contains(&id) {
            namespaces.push(id);
        }
    }
    let mut node = state.node();
    let identity = node.ensure_identity();
    let account = if root == identity.account_root_public_key {
        identity.account_id
    } else {
        Id::digest(&[b"calimero-testnode:account", &root.0])
    };
    let mut parts: Vec<&[u8]> = vec![b"calimero-testnode:device", &root.0];
    parts.extend(namespaces.iter().map(|n| &n.0[..]));
    let device = Id::digest(&parts);
    let kem = Id::digest(&[b"calimero-testnode:kem", &device.0]);
    let r = Id::digest(&[b"calimero-testnode:offer-r", &device.0, &account.0]);
    let s = Id::digest(&[b"calimero-testnode:offer-s", &r.0]);
    let mut statement = [0u8; 64];
    statement[..32].copy_from_slice(&r.0);
    statement[32..].copy_from_slice(&s.0);
    let offer = PairOffer {
        account,
        namespaces,
        kem_public_key: kem,
        sign_public_key: identity.public_key,
        statement,
        confirmation_code: confirmation_code(&statement),
    };
    let reply = offer_json(&offer, device);
    let _ = node.pair_offers.insert(device, offer);
    Ok(reply)
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct AccountPairCompleteRequest {
    device_id: String,
    kem_public_key: String,
    sign_public_key: String,
    statement: String,
    confirmation_code: String,
    #[serde(default)]
    applications: Vec<String>,
}

impl Validate for AccountPairCompleteRequest {
    fn validate(&self, config: &Config) -> Vec<ValidationError> {
        PairCompleteRequest {
            device_id: self.device_id.clone(),
            kem_public_key: self.kem_public_key.clone(),
            sign_public_key: self.sign_public_key.clone(),
            statement: self.statement.clone(),
            confirmation_code: self.confirmation_code.clone(),
        }
        .validate(config)
    }
}

/// The device credential (`AccountProof<DeviceCert>`, 237 bytes, hex) the
/// stand-in hands out: the layout is the real one (node-releases.md §3.1),
/// the signature is not [inferred].
fn credential(identity: &NodeIdentity, account: Id, device: Id, sign: Id, kem: Id) -> String {
    let mut bytes = Vec::with_capacity(237);
    bytes.push(2);
    bytes.extend_from_slice(&identity.account_root_public_key.0);
    bytes.extend_from_slice(&0u32.to_le_bytes());
    bytes.extend_from_slice(&account.0);
    bytes.extend_from_slice(&device.0);
    bytes.extend_from_slice(&sign.0);
    bytes.extend_from_slice(&kem.0);
    bytes.extend_from_slice(&0u32.to_le_bytes());
    bytes.extend_from_slice(&0u32.to_le_bytes());
    bytes.extend_from_slice(&Id::digest(&[b"cert-r", &device.0]).0);
    bytes.extend_from_slice(&Id::digest(&[b"cert-s", &device.0]).0);
    hex::encode(bytes)
}

/// Certifies an offer this node made for its own account; the device is
/// linked into the offer's namespaces this node is a member of.
async fn account_pair_complete(
    State(state): State<Arc<AppState>>,
    ValidatedJson(req): ValidatedJson<AccountPairCompleteRequest>,
) -> ApiResult {
    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    struct Completed {
        account_id: HexId,
        device_id: HexId,
        key_delivered: bool,
        confirmation_code: String,
        /// From rc.38 [inferred: present in a post-rc.38 primitives
        /// snapshot, index id 59157838922].
        #[serde(skip_serializing_if = "Option::is_none")]
        credential: Option<String>,
    }

    let device = Id::parse_hex(&req.device_id).map_err(|_| ApiError::internal())?;
    let mut node = state.node();
    let identity = node.identity.ok_or_else(ApiError::internal)?;
    let offer = node.pair_offers.get(&device).cloned().ok_or_else(|| {
        ApiError::missing(format!(
            "no pairing offer for device {}; run account pair-init on the new device first",
            device.to_hex()
        ))
    })?;
    if offer.account != identity.account_id {
        return Err(ApiError::forbidden(
            "this node does not hold the account the device is pairing to; run pair-complete on \
             the node that holds the account",
        ));
    }
    let statement_ok = hex::encode(offer.statement) == req.statement.to_ascii_lowercase()
        && offer.kem_public_key.to_hex() == req.kem_public_key.to_ascii_lowercase()
        && offer.sign_public_key.to_hex() == req.sign_public_key.to_ascii_lowercase();
    if !statement_ok {
        return Err(ApiError::invalid(format!(
            "the pairing statement of device {} does not verify; run account pair-init again",
            device.to_hex()
        )));
    }
    if offer.confirmation_code != req.confirmation_code.trim() {
        return Err(ApiError::invalid(
            "the confirmation code does not match the one the new device shows",
        ));
    }
    let namespaces: Vec<Id> = offer
        .namespaces
        .iter()
        .copied()
        .filter(|ns| {
            node.namespace(ns)
                .is_some_and(|g| g.members.contains_key(&identity.account_id))
        })
        .collect();
    if namespaces.is_empty() {
        return Err(ApiError::conflict(
            "this node takes part in none of the namespaces the pairing names",
        ));
    }
    let signing_key = Id::digest(&[b"calimero-testnode:device-key", &device.0]);
    let applications = req
        .applications
        .iter()
        .filter_map(|a| Id::parse(a).ok())
        .collect();
    link(&mut node, device, signing_key, &namespaces, applications);
    let credential = state.config.release.strict_bodies().then(|| {
        credential(
            &identity,
            identity.account_id,
            device,
            signing_key,
            offer.kem_public_key,
        )
    });
    Ok(data(Completed {
        account_id: HexId(identity.account_id),
        device_id: HexId(device),
        key_delivered: true,
        confirmation_code: offer.confirmation_code,
        credential,
    }))
}

/// Records `device` as a device of this node's account linked into
/// `namespaces` (listed in `member-devices` there).
fn link(node: &mut Node, device: Id, signing_key: Id, namespaces: &[Id], applications: Vec<Id>) {
    for ns in namespaces {
        let devices = node.paired_devices.entry(*ns).or_default();
        if !devices.iter().any(|(d, _)| *d == device) {
            devices.push((device, signing_key));
        }
    }
    let entry = node
        .account_devices
        .entry(device)
        .or_insert_with(|| AccountDevice {
            signing_key,
            applications: Vec::new(),
            namespaces: Vec::new(),
            revoked: false,
            label: None,
            label_epoch: 0,
        });
    entry.revoked = false;
    if !applications.is_empty() {
        entry.applications = applications;
    }
    for ns in namespaces {
        if !entry.namespaces.contains(ns) {
            entry.namespaces.push(*ns);
        }
    }
}

/// The namespaces this node's account takes part in.
fn own_namespaces(node: &Node) -> Vec<Id> {
    let Some(account) = node.account() else {
        return Vec::new();
    };
    node.groups
        .values()
        .filter(|g| g.parent.is_none() && g.identity && g.members.contains_key(&account))
        .map(|g| g.id)
        .collect()
}

/// `GET /account/devices`, flat: this node's device first, then the
/// account's other devices (`label` from rc.41, omitted when unset).
async fn devices(State(state): State<Arc<AppState>>) -> Response {
    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    struct Device {
        device_id: HexId,
        signing_key: HexId,
        is_self: bool,
        revoked: bool,
        applications: Vec<Id>,
        namespaces: Vec<HexId>,
        #[serde(skip_serializing_if = "Option::is_none")]
        label: Option<String>,
    }

    #[derive(Serialize)]
    struct Devices {
        devices: Vec<Device>,
    }

    let labels = state.config.release.device_scope_and_label();
    let node = state.node();
    let mut devices = Vec::new();
    if let Some(identity) = node.identity {
        devices.push(Device {
            device_id: HexId(identity.device_id),
            signing_key: HexId(identity.public_key),
            is_self: true,
            revoked: false,
            applications: Vec::new(),
            namespaces: own_namespaces(&node).into_iter().map(HexId).collect(),
            label: node
                .own_label
                .as_ref()
                .filter(|_| labels)
                .map(|(l, _)| l.clone()),
        });
    }
    for (id, device) in &node.account_devices {
        devices.push(Device {
            device_id: HexId(*id),
            signing_key: HexId(device.signing_key),
            is_self: false,
            revoked: device.revoked,
            applications: device.applications.clone(),
            namespaces: device.namespaces.iter().copied().map(HexId).collect(),
            label: device.label.clone().filter(|_| labels),
        });
    }
    json(Devices { devices })
}

/// `GET /account/applications`, flat: each application the account's
/// namespaces run, with those namespaces.
async fn applications(State(state): State<Arc<AppState>>) -> Response {
    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    struct Entry {
        application_id: Id,
        namespaces: Vec<HexId>,
    }

    #[derive(Serialize)]
    struct Applications {
        applications: Vec<Entry>,
    }

    let node = state.node();
    let mut entries: Vec<Entry> = Vec::new();
    for ns in own_namespaces(&node) {
        let Some(app) = node.groups.get(&ns).map(|g| g.target_application_id) else {
            continue;
        };
        match entries.iter_mut().find(|e| e.application_id == app) {
            Some(entry) => entry.namespaces.push(HexId(ns)),
            None => entries.push(Entry {
                application_id: app,
                namespaces: vec![HexId(ns)],
            }),
        }
    }
    json(Applications {
        applications: entries,
    })
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Linked {
    namespace_id: HexId,
    key_delivered: bool,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Skipped {
    namespace_id: HexId,
    reason: &'static str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Descoped {
    namespace_id: HexId,
    key_rotated: bool,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Relinked {
    account_id: HexId,
    device_id: HexId,
    applications: Vec<Id>,
    /// Only on a rescope (rc.41).
    #[serde(skip_serializing_if = "Option::is_none")]
    descoped: Option<Vec<Descoped>>,
    linked_in: Vec<Linked>,
    skipped: Vec<Skipped>,
}

/// A device of this node's account other than its own, or the refusal.
fn account_device(node: &Node, raw: &str) -> Result<(NodeIdentity, Id), ApiError> {
    let device = Id::parse_hex(raw).map_err(|_| {
        ApiError::bad_request("device_id must be 64 hex chars (32 bytes)".to_owned())
    })?;
    let identity = node.identity.ok_or_else(ApiError::internal)?;
    if !node.account_devices.contains_key(&device) && device != identity.device_id {
        return Err(ApiError::missing(format!(
            "device {} is not a device of this account",
            device.to_hex()
        )));
    }
    Ok((identity, device))
}

/// Links the device into every namespace of the account that is in its
/// scope and that it is not in yet; reasons as core's relink (P59):
/// `outOfScope`, `alreadyBound`, `revoked`, `ownDevice`.
fn relink_device(node: &mut Node, identity: NodeIdentity, device: Id) -> Relinked {
    let own = device == identity.device_id;
    let entry = node.account_devices.get(&device).cloned();
    let scope = entry
        .as_ref()
        .map(|d| d.applications.clone())
        .unwrap_or_default();
    let mut linked_in = Vec::new();
    let mut skipped = Vec::new();
    let mut to_link = Vec::new();
    for ns in own_namespaces(node) {
        let app = node.groups.get(&ns).map(|g| g.target_application_id);
        let reason = if own {
            Some("ownDevice")
        } else if entry.as_ref().is_some_and(|d| d.revoked) {
            Some("revoked")
        } else if !scope.is_empty() && !app.is_some_and(|a| scope.contains(&a)) {
            Some("outOfScope")
        } else if entry.as_ref().is_some_and(|d| d.namespaces.contains(&ns)) {
            Some("alreadyBound")
        } else {
            None
        };
        match reason {
            Some(reason) => skipped.push(Skipped {
                namespace_id: HexId(ns),
                reason,
            }),
            None => {
                to_link.push(ns);
                linked_in.push(Linked {
                    namespace_id: HexId(ns),
                    key_delivered: true,
                });
            }
        }
    }
    if let Some(entry) = entry {
        link(node, device, entry.signing_key, &to_link, Vec::new());
    }
    Relinked {
        account_id: HexId(identity.account_id),
        device_id: HexId(device),
        applications: scope,
        descoped: None,
        linked_in,
        skipped,
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RelinkRequest {
    #[serde(default)]
    applications: Vec<String>,
}

impl Validate for RelinkRequest {}

/// `POST /account/devices/{id}/relink {applications?}` (rc.28/29; swift
/// `Rc29SurfaceTests.swift`): a non-empty `applications` replaces nothing,
/// it only narrows what this relink links [inferred].
async fn relink(
    State(state): State<Arc<AppState>>,
    Path(raw): Path<String>,
    ValidatedJson(req): ValidatedJson<RelinkRequest>,
) -> ApiResult {
    let mut node = state.node();
    let (identity, device) = account_device(&node, &raw)?;
    if let Some(entry) = node.account_devices.get_mut(&device) {
        let wanted: Vec<Id> = req
            .applications
            .iter()
            .filter_map(|a| Id::parse(a).ok())
            .collect();
        if !wanted.is_empty() && entry.applications.is_empty() {
            entry.applications = wanted;
        }
    }
    Ok(data(relink_device(&mut node, identity, device)))
}

/// `{"scope": "all"}` or `{"scope": {"only": [app…]}}` (swift
/// `Rc41SurfaceTests.swift`: a bare tag, or a tagged object).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
enum Scope {
    All,
    Only(Vec<String>),
}

#[derive(Deserialize)]
struct ScopeRequest {
    scope: Scope,
}

impl Validate for ScopeRequest {}

/// `PUT /account/devices/{id}/scope` (rc.41): replaces the device's scope;
/// namespaces whose application falls out of it are `descoped` (the key
/// is not rotated: `keyRotated: false`), new ones linked. An empty `only`
/// is `ScopeReplacementEmpty` (400 from rc.44), this node's own device
/// `ScopeReplacementHoldsTheRoot` (403) [inferred texts].
async fn rescope(
    State(state): State<Arc<AppState>>,
    Path(raw): Path<String>,
    ValidatedJson(req): ValidatedJson<ScopeRequest>,
) -> ApiResult {
    let mut node = state.node();
    let (identity, device) = account_device(&node, &raw)?;
    if device == identity.device_id {
        return Err(ApiError::forbidden(
            "this device holds the account root; its scope cannot be replaced",
        ));
    }
    let applications = match req.scope {
        Scope::All => Vec::new(),
        Scope::Only(apps) if apps.is_empty() => {
            return Err(ApiError::invalid(
                "a scope of `only` must name at least one application; use \"all\" for every \
                 application",
            ))
        }
        Scope::Only(apps) => {
            let mut ids = Vec::new();
            for app in apps {
                let id = Id::parse(&app).map_err(|message| {
                    ApiError::bad_request(format!("invalid application id {app:?}: {message}"))
                })?;
                if !node.apps.contains_key(&id) {
                    return Err(ApiError::invalid(format!(
                        "application {app} is not installed on this node"
                    )));
                }
                ids.push(id);
            }
            ids
        }
    };
    let mut descoped = Vec::new();
    if let Some(entry) = node.account_devices.get(&device).cloned() {
        for ns in &entry.namespaces {
            let app = node.groups.get(ns).map(|g| g.target_application_id);
            if !applications.is_empty() && !app.is_some_and(|a| applications.contains(&a)) {
                descoped.push(*ns);
            }
        }
    }
    if let Some(entry) = node.account_devices.get_mut(&device) {
        entry.applications = applications;
        entry.namespaces.retain(|ns| !descoped.contains(ns));
    }
    for ns in &descoped {
        if let Some(devices) = node.paired_devices.get_mut(ns) {
            devices.retain(|(d, _)| *d != device);
        }
    }
    let mut reply = relink_device(&mut node, identity, device);
    reply.descoped = Some(
        descoped
            .into_iter()
            .map(|ns| Descoped {
                namespace_id: HexId(ns),
                key_rotated: false,
            })
            .collect(),
    );
    Ok(data(reply))
}

#[derive(Deserialize)]
struct LabelRequest {
    label: String,
}

impl Validate for LabelRequest {}

/// Longest device label [inferred].
const MAX_LABEL_LEN: usize = 64;

/// `PUT /account/devices/{id}/label {label}` (rc.41) →
/// `{"data":{"accountId","deviceId","label","labelEpoch"}}` (swift
/// `Rc41SurfaceTests.swift`); each rename bumps the epoch. A blank or
/// over-long label is `DeviceLabelInvalid` (400 from rc.44) [inferred
/// limits and texts]; the node's rename rate limit (429) is not modelled.
async fn label(
    State(state): State<Arc<AppState>>,
    Path(raw): Path<String>,
    ValidatedJson(req): ValidatedJson<LabelRequest>,
) -> ApiResult {
    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    struct Labelled {
        account_id: HexId,
        device_id: HexId,
        label: String,
        label_epoch: u64,
    }

    let label = req.label.trim().to_owned();
    if label.is_empty() || label.chars().count() > MAX_LABEL_LEN {
        return Err(ApiError::invalid(format!(
            "a device label must be 1 to {MAX_LABEL_LEN} characters"
        )));
    }
    let mut node = state.node();
    let (identity, device) = account_device(&node, &raw)?;
    let epoch = if device == identity.device_id {
        let epoch = node.own_label.as_ref().map_or(0, |(_, e)| *e) + 1;
        node.own_label = Some((label.clone(), epoch));
        epoch
    } else {
        let entry = node
            .account_devices
            .get_mut(&device)
            .ok_or_else(ApiError::internal)?;
        entry.label_epoch += 1;
        entry.label = Some(label.clone());
        entry.label_epoch
    };
    Ok(data(Labelled {
        account_id: HexId(identity.account_id),
        device_id: HexId(device),
        label,
        label_epoch: epoch,
    }))
}

/// The domains the account root signs for (node-releases.md §1.2, core
/// fixture `account/sign_with_root.req.json`).
const SIGNING_DOMAINS: [&str; 3] = [
    "mdma.account-link",
    "mdma.account-login",
    "mdma.account-recovery",
];
const MAX_SIGNED_PAYLOAD: usize = 4096;

#[derive(Deserialize)]
struct SignWithRootRequest {
    domain: String,
    payload: String,
}

impl Validate for SignWithRootRequest {
    fn validate(&self, _config: &Config) -> Vec<ValidationError> {
        let mut errors = Vec::new();
        if !SIGNING_DOMAINS.contains(&self.domain.as_str()) {
            errors.push(ValidationError::InvalidFormat {
                field: "domain",
                reason: format!("expected one of {}", SIGNING_DOMAINS.join(", ")),
            });
        }
        match hex::decode(&self.payload) {
            Err(_) => errors.push(ValidationError::InvalidHexEncoding {
                field: "payload",
                reason: "not valid hex".to_owned(),
            }),
            Ok(bytes) => {
                validate::bytes_size(&bytes, "payload", MAX_SIGNED_PAYLOAD, &mut errors);
            }
        }
        errors
    }
}

/// `POST /account/sign-with-root {domain, payload}` (rc.44, renamed from
/// `account/link-proof`) → `{"data":{"rootPublicKey","signature"
/// (base64),"accountId"}}` (core fixture `account/sign_with_root.res.json`;
/// key order [inferred]). The signature is 64 stand-in bytes, not Ed25519
/// [inferred].
async fn sign_with_root(
    State(state): State<Arc<AppState>>,
    ValidatedJson(req): ValidatedJson<SignWithRootRequest>,
) -> ApiResult {
    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    struct Signed {
        root_public_key: HexId,
        signature: String,
        account_id: HexId,
    }

    let identity = state.node().ensure_identity();
    let payload = hex::decode(&req.payload).unwrap_or_default();
    let r = Id::digest(&[
        b"root-sig-r",
        &identity.account_root_public_key.0,
        req.domain.as_bytes(),
        &payload,
    ]);
    let s = Id::digest(&[b"root-sig-s", &r.0]);
    let mut signature = r.0.to_vec();
    signature.extend_from_slice(&s.0);
    Ok(data(Signed {
        root_public_key: HexId(identity.account_root_public_key),
        signature: base64::engine::general_purpose::STANDARD.encode(signature),
        account_id: HexId(identity.account_id),
    }))
}

#[derive(Deserialize)]
struct LinkDeviceRequest {
    credential: String,
    scope: String,
}

impl Validate for LinkDeviceRequest {
    fn validate(&self, _config: &Config) -> Vec<ValidationError> {
        let mut errors = Vec::new();
        for (field, value) in [("credential", &self.credential), ("scope", &self.scope)] {
            if hex::decode(value).is_err() {
                errors.push(ValidationError::InvalidHexEncoding {
                    field,
                    reason: "not valid hex".to_owned(),
                });
            }
        }
        errors
    }
}

/// `POST /namespaces/{id}/account/link-device {credential, scope}` (rc.83):
/// binds a device this node does not hold to its account in the namespace
/// → `{"data":{"accountId","deviceId","alreadyBound"}}` (core fixtures
/// `namespaces/link_device.{req,res}.json`; key order [inferred]). The
/// credential must have the `AccountProof<DeviceCert>` layout (237 bytes,
/// version 2, node-releases.md §3.1) and certify a device of this node's
/// account; its signature and `scope` are not checked [inferred].
/// Otherwise `DeviceLinkInvalid` 400 / `DeviceLinkRefused` 403.
async fn link_device(
    State(state): State<Arc<AppState>>,
    Path(raw): Path<String>,
    ValidatedJson(req): ValidatedJson<LinkDeviceRequest>,
) -> ApiResult {
    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    struct LinkedDevice {
        account_id: HexId,
        device_id: HexId,
        already_bound: bool,
    }

    let namespace = parse_group_id(&raw)?;
    let bytes = hex::decode(&req.credential).unwrap_or_default();
    if bytes.len() != 237 || bytes[0] != 2 {
        return Err(ApiError::Json(
            StatusCode::BAD_REQUEST,
            "the credential is not a device certificate (AccountProof<DeviceCert>)".to_owned(),
        ));
    }
    let take = |at: usize| {
        let mut id = [0u8; 32];
        id.copy_from_slice(&bytes[at..at + 32]);
        Id(id)
    };
    // version(1) root(32) chain_len(4) account(32) device(32) sign(32) kem(32) …
    let (account, device, sign) = (take(37), take(69), take(101));
    let mut node = state.node();
    let identity = node.ensure_identity();
    if node.namespace(&namespace).is_none() {
        return Err(super::groups::group_not_found(&namespace));
    }
    if account != identity.account_id {
        return Err(ApiError::Json(
            StatusCode::FORBIDDEN,
            "the credential certifies a device of another account".to_owned(),
        ));
    }
    let already_bound = node
        .paired_devices
        .get(&namespace)
        .is_some_and(|d| d.iter().any(|(id, _)| *id == device));
    link(&mut node, device, sign, &[namespace], Vec::new());
    Ok(data(LinkedDevice {
        account_id: HexId(account),
        device_id: HexId(device),
        already_bound,
    }))
}
