//! TEE routes: `GET /tee/info` and `POST /tee/attest` (public), `POST
//! /tee/fleet-join` (protected).
//!
//! By default they fail as a node without TDX hardware does (probed on
//! merod rc.25): info and attest 500 with the node's messages, fleet-join
//! 500 "Failed to generate attestation". With `Config::tee_mock`
//! (`--tee-mock`) they answer as a node run with `--mock-tee`: attest
//! returns core's mock quote (`MOCK_TDX_QUOTE_V1` header, report data =
//! nonce ‖ application bytecode id), info a mock platform, and fleet-join
//! admits the node at once when the group's TEE admission policy accepts
//! mock quotes (`status: "joined"`), otherwise answers `announced` without
//! the node's 30 s admission wait.
//! With `--transport-secret`, `bindTransportKey` binds the sealed
//! transport's key (`crate::sealed`), and the rc.83 flags are taken
//! whatever the release.
//! core: crates/server/src/admin/handlers/tee.rs, tee/{info,attest,
//! fleet_join}.rs, crates/tee-attestation/src/generate.rs
//! (`generate_mock_attestation`, `create_mock_quote`, `build_report_data`),
//! crates/server/primitives/src/admin/mod.rs (`TeeAttestRequest`,
//! `FleetJoinRequest`, `Quote`).

use std::sync::Arc;

use axum::extract::{FromRequest, Request, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::Router;
use base64::Engine as _;
use serde::{Deserialize, Serialize};

use super::AppRouter;
use crate::error::{
    data, json, validate, ApiError, ApiResult, Validate, ValidatedJson, ValidationError,
};
use crate::ids::{HexId, Id};
use crate::state::{AppState, MemberRow, Role};
use crate::Config;

const MOCK_QUOTE_HEADER: &[u8] = b"MOCK_TDX_QUOTE_V1";

/// Outside the auth guard.
pub fn public_routes() -> AppRouter {
    Router::new()
        .route("/tee/info", get(info))
        .route("/tee/attest", post(attest))
        // rc.83 [inferred release] (gated in `crate::release::ROUTES`).
        .route("/tee/release", get(release))
}

/// `GET /tee/release`: the mero-tee release the node's image comes from,
/// shaped as core `crates/server/primitives/fixtures/wire/tee/release.res.json`
/// (index id 71174503961): the sigstore bundle and `published-mrtds.json`
/// as text, and the release version. The route is not in the service.rs
/// read (node-releases.md: "post-rc.83 [?]"); served from rc.83 here, with
/// the SDK's rc.83 dialect [inferred].
async fn release() -> ApiResult {
    Ok(data(serde_json::json!({
        "bundle": "{\"mediaType\":\"application/vnd.dev.sigstore.bundle.v0.3+json\",\"verificationMaterial\":{},\"messageSignature\":{}}\n",
        "publishedMrtds": "{\n  \"role\": \"node\",\n  \"tag\": \"mero-tee-v2.3.87\",\n  \"profiles\": {\n    \"locked-read-only\": {\n      \"mrtd\": \"aa\"\n    }\n  }\n}\n",
        "version": "2.3.87",
    })))
}

pub fn protected_routes() -> AppRouter {
    Router::new()
        .route("/tee/fleet-join", post(fleet_join))
        // rc.83 (gated in `crate::release::ROUTES`).
        .route("/tee/registration-attest", post(registration_attest))
}

fn internal(message: &str) -> ApiError {
    ApiError::Json(StatusCode::INTERNAL_SERVER_ERROR, message.to_owned())
}

async fn info(State(state): State<Arc<AppState>>) -> ApiResult {
    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    struct Info {
        cloud_provider: &'static str,
        os_image: &'static str,
        mrtd: String,
    }

    if !state.config.tee_mock {
        return Err(internal(
            "Failed to get TEE info: Failed to get TEE info: Not supported: TDX 1.5 KVM device \
             is not supported",
        ));
    }
    Ok(data(Info {
        cloud_provider: "unknown",
        os_image: "calimero-testnode-mock",
        mrtd: "0".repeat(96),
    }))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct AttestRequest {
    nonce: String,
    application_id: Option<Id>,
}

/// rc.83 adds three flags, each sent only when set (swift/kotlin Rc83
/// surface tests; research `wire-rc83.md` §2.1) [inferred: from rc.83].
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct AttestRequestV83 {
    nonce: String,
    application_id: Option<Id>,
    #[serde(default)]
    bind_node_key: Option<bool>,
    #[serde(default)]
    bind_transport_key: Option<bool>,
    #[serde(default)]
    include_collateral: Option<bool>,
}

impl Validate for AttestRequestV83 {
    fn validate(&self, config: &Config) -> Vec<ValidationError> {
        AttestRequest {
            nonce: self.nonce.clone(),
            application_id: None,
        }
        .validate(config)
    }
}

impl Validate for AttestRequest {
    fn validate(&self, _config: &Config) -> Vec<ValidationError> {
        let mut errors = Vec::new();
        validate::hex_string(
            &self.nonce,
            "nonce",
            32,
            "contains non-hexadecimal characters",
            &mut errors,
        );
        errors
    }
}

/// The mock `Quote` core builds around the report data.
fn mock_quote(report_data: &[u8; 64]) -> serde_json::Value {
    let m48 = "0".repeat(96);
    let m16 = "0".repeat(32);
    let m8 = "0".repeat(16);
    serde_json::json!({
        "header": {
            "version": 4,
            "attestationKeyType": 2,
            "teeType": 0x81,
            "qeVendorId": "939a7233f79c4ca9940a0db3957f0607",
            "userData": m16,
        },
        "body": {
            "tdxVersion": "1.0",
            "teeTcbSvn": m16,
            "mrseam": m48, "mrsignerseam": m48,
            "seamattributes": m8, "tdattributes": m8, "xfam": m8,
            "mrtd": m48, "mrconfigid": m48, "mrowner": m48, "mrownerconfig": m48,
            "rtmr0": m48, "rtmr1": m48, "rtmr2": m48, "rtmr3": m48,
            "reportdata": hex::encode(report_data),
        },
        "signature": "0".repeat(128),
        "attestationKey": format!("04{}", "0".repeat(128)),
        "certificationData": {
            "type": "qeReportCertificationData",
            "data": {
                "qeReport": "0".repeat(768),
                "signature": "0".repeat(128),
                "qeAuthenticationData": "0".repeat(64),
                "certificationDataType": "PckCertChain",
                "certificationData": "0".repeat(200),
            }
        }
    })
}

async fn attest(State(state): State<Arc<AppState>>, req: Request) -> ApiResult {
    // A node serving the sealed transport is a late one whatever release it
    // was told to answer as: it takes the rc.83 flags.
    let req = if state.config.release.rc83() || state.sealed.is_some() {
        ValidatedJson::<AttestRequestV83>::from_request(req, &state)
            .await?
            .0
    } else {
        let ValidatedJson(req) = ValidatedJson::<AttestRequest>::from_request(req, &state).await?;
        AttestRequestV83 {
            nonce: req.nonce,
            application_id: req.application_id,
            bind_node_key: None,
            bind_transport_key: None,
            include_collateral: None,
        }
    };
    let mut nonce = [0u8; 32];
    hex::decode_to_slice(&req.nonce, &mut nonce)
        .map_err(|_| ApiError::bad_request("Invalid nonce format (must be hex string)"))?;
    let app_hash = match req.application_id {
        Some(id) => Some(
            state
                .node()
                .apps
                .get(&id)
                .map(|app| app.bytecode)
                .ok_or_else(|| ApiError::not_found(format!("Application '{id}' not found")))?,
        ),
        None => None,
    };
    if !state.config.tee_mock {
        return Err(internal("Failed to generate TDX quote: CannotFindTsmDir"));
    }
    let mut report_data = [0u8; 64];
    report_data[..32].copy_from_slice(&nonce);
    if let Some(hash) = app_hash {
        report_data[32..].copy_from_slice(&hash.0);
    }
    // rc.83 bindings: the second half of the report data commits to the
    // bound key (node-releases.md §3.2: SHA256(domain ‖ app hash or zeros ‖
    // transport key) for the transport key; the node-key domain is
    // [inferred]). The stand-in's transport key is stable per node.
    let identity = state.node().ensure_identity();
    let app = app_hash.unwrap_or(Id::ZERO);
    let mut extra = String::new();
    if req.bind_node_key == Some(true) {
        let bound = Id::digest(&[
            b"calimero.tee-attest.node-key.v1",
            &app.0,
            &identity.public_key.0,
        ]);
        report_data[32..].copy_from_slice(&bound.0);
        extra.push_str(&format!(
            r#","boundPublicKey":"{}""#,
            identity.public_key.to_hex()
        ));
    }
    if req.bind_transport_key == Some(true) {
        // The sealed transport's key (`--transport-secret`), else a stable
        // stand-in. It wraps what bytes 32..64 held (core
        // `attest_report_data_suffix`: the key binding, else the app hash,
        // else zeros).
        let transport = match &state.sealed {
            Some(sealed) => Id(sealed.public_key()),
            None => Id::digest(&[b"calimero-testnode:transport-key", &identity.device_id.0]),
        };
        let inner: [u8; 32] = report_data[32..].try_into().unwrap_or([0; 32]);
        let bound = Id::digest(&[
            b"calimero.tee-attest.transport-key.v1",
            &inner,
            &transport.0,
        ]);
        report_data[32..].copy_from_slice(&bound.0);
        extra.push_str(&format!(
            r#","transportPublicKey":"{}""#,
            transport.to_hex()
        ));
    }
    if req.include_collateral == Some(true) {
        // A mock quote has no PCS collateral; the stand-in's is empty JSON
        // documents [inferred shape, after swift's Rc83 test body].
        extra.push_str(r#","collateral":{"tcbInfo":"{}","qeIdentity":"{}"}"#);
    }
    let quote_b64 = mock_quote_b64(&report_data);
    // `{"quoteB64", "quote", …}` in that order (`json!` would sort the keys).
    Ok(crate::error::json_text(format!(
        r#"{{"data":{{"quoteB64":"{quote_b64}","quote":{}{extra}}}}}"#,
        ordered_quote(&mock_quote(&report_data))
    )))
}

fn mock_quote_b64(report_data: &[u8; 64]) -> String {
    let mut quote_bytes = MOCK_QUOTE_HEADER.to_vec();
    quote_bytes.extend_from_slice(report_data);
    quote_bytes.resize(256, 0);
    base64::engine::general_purpose::STANDARD.encode(&quote_bytes)
}

#[derive(Deserialize)]
struct RegistrationAttestRequest {
    nonce: String,
}

impl Validate for RegistrationAttestRequest {
    fn validate(&self, config: &Config) -> Vec<ValidationError> {
        AttestRequest {
            nonce: self.nonce.clone(),
            application_id: None,
        }
        .validate(config)
    }
}

/// `POST /tee/registration-attest {nonce}` (rc.83, protected; kotlin/swift
/// Rc83 surface tests): a quote for registering this node. The answer is
/// not pinned by any source; the stand-in answers as `attest` without an
/// application [inferred].
async fn registration_attest(
    State(state): State<Arc<AppState>>,
    ValidatedJson(req): ValidatedJson<RegistrationAttestRequest>,
) -> ApiResult {
    let mut nonce = [0u8; 32];
    hex::decode_to_slice(&req.nonce, &mut nonce)
        .map_err(|_| ApiError::bad_request("Invalid nonce format (must be hex string)"))?;
    if !state.config.tee_mock {
        return Err(internal("Failed to generate TDX quote: CannotFindTsmDir"));
    }
    let mut report_data = [0u8; 64];
    report_data[..32].copy_from_slice(&nonce);
    let quote_b64 = mock_quote_b64(&report_data);
    Ok(crate::error::json_text(format!(
        r#"{{"data":{{"quoteB64":"{quote_b64}","quote":{}}}}}"#,
        ordered_quote(&mock_quote(&report_data))
    )))
}

/// The quote in `Quote`'s field order.
fn ordered_quote(q: &serde_json::Value) -> String {
    let obj = |v: &serde_json::Value, keys: &[&str]| -> String {
        let fields: Vec<String> = keys.iter().map(|k| format!("\"{k}\":{}", v[*k])).collect();
        format!("{{{}}}", fields.join(","))
    };
    let header = obj(
        &q["header"],
        &[
            "version",
            "attestationKeyType",
            "teeType",
            "qeVendorId",
            "userData",
        ],
    );
    let body = obj(
        &q["body"],
        &[
            "tdxVersion",
            "teeTcbSvn",
            "mrseam",
            "mrsignerseam",
            "seamattributes",
            "tdattributes",
            "xfam",
            "mrtd",
            "mrconfigid",
            "mrowner",
            "mrownerconfig",
            "rtmr0",
            "rtmr1",
            "rtmr2",
            "rtmr3",
            "reportdata",
        ],
    );
    let cert_data = obj(
        &q["certificationData"]["data"],
        &[
            "qeReport",
            "signature",
            "qeAuthenticationData",
            "certificationDataType",
            "certificationData",
        ],
    );
    format!(
        r#"{{"header":{header},"body":{body},"signature":{},"attestationKey":{},"certificationData":{{"type":"qeReportCertificationData","data":{cert_data}}}}}"#,
        q["signature"], q["attestationKey"]
    )
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct FleetJoinRequest {
    group_id: String,
}

impl Validate for FleetJoinRequest {
    fn validate(&self, _config: &Config) -> Vec<ValidationError> {
        let mut errors = Vec::new();
        validate::hex_string(&self.group_id, "group_id", 32, "not valid hex", &mut errors);
        errors
    }
}

async fn fleet_join(
    State(state): State<Arc<AppState>>,
    ValidatedJson(req): ValidatedJson<FleetJoinRequest>,
) -> ApiResult {
    // Field order as sorted by `serde_json` (the node answers a `json!` map).
    #[derive(Serialize)]
    struct Joined {
        account: HexId,
        admitted: bool,
        auto_follow_enabled: bool,
        contexts_joined: Vec<String>,
        group_id: String,
        namespace_id: HexId,
        public_key: Id,
        status: &'static str,
    }

    let group = Id::parse_hex(&req.group_id)
        .map_err(|_| ApiError::bad_request("group_id must be 64 hex chars (32 bytes)"))?;
    let mut node = state.node();
    let namespace = node
        .visible_group(&group)
        .and_then(|_| node.root_of(&group))
        .ok_or_else(|| internal("Failed to resolve namespace identity"))?;
    if !state.config.tee_mock {
        return Err(internal("Failed to generate attestation"));
    }
    let identity = node.ensure_identity();
    let admitted = node
        .groups
        .get(&group)
        .and_then(|g| g.tee_policy.as_ref())
        .is_some_and(|p| p.enabled && p.accept_mock);
    let mut contexts_joined = Vec::new();
    if admitted {
        contexts_joined = node.contexts_in(group).map(|c| c.id.to_hex()).collect();
        if let Some(g) = node.groups.get_mut(&group) {
            let caps = g.default_capabilities;
            let row = g
                .members
                .entry(identity.account_id)
                .or_insert_with(|| MemberRow::new(Role::ReadOnlyTee, caps));
            row.auto_follow_contexts = true;
            row.auto_follow_subgroups = true;
            g.touch();
        }
    }
    Ok(json(Joined {
        account: HexId(identity.account_id),
        admitted,
        auto_follow_enabled: admitted,
        contexts_joined,
        group_id: req.group_id,
        namespace_id: HexId(namespace),
        public_key: identity.public_key,
        status: if admitted { "joined" } else { "announced" },
    }))
}
