//! The test-control API under `/_testnode` (not part of the real node):
//! reset, the request log, fault injection, foreign groups, the node's
//! release, its registry (rc.31+ installs by coordinates) and `.mpk`
//! bundles for the dev install (rc.32+).

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use serde::Deserialize;
use serde_json::json;

use super::AppRouter;
use crate::bundle;
use crate::error::{json, query, ApiError, ApiResult};
use crate::ids::{HexId, Id};
use crate::middleware::FaultSpec;
use crate::state::{AppState, MemberRow, Role};

pub fn routes() -> AppRouter {
    Router::new()
        .route("/reset", post(reset))
        .route("/requests", get(requests).delete(clear_requests))
        .route(
            "/faults",
            get(list_faults).post(add_fault).delete(clear_faults),
        )
        .route("/faults/release", post(release_faults))
        .route("/groups", post(foreign_group))
        .route("/events/drop", post(drop_streams))
        .route("/sealed", get(sealed_status).post(sealed_control))
        .route("/release", get(release))
        .route("/registry", get(registry).post(publish))
        .route("/bundles", post(write_bundle))
        .route("/events", get(event_log))
        .route("/credential", post(mint_credential))
}

/// `GET /_testnode/sealed`: `{"enabled", "transportPublicKey", "required",
/// "sessions", "handshakes", "requests", "refusals": {code: n},
/// "lastFrames"}` (`{"enabled": false}` without `--transport-secret`).
async fn sealed_status(State(state): State<Arc<AppState>>) -> Response {
    json(crate::sealed::status(&state))
}

/// `POST /_testnode/sealed`: steers the sealed transport (see
/// `crate::sealed::ControlSpec`): `forgetSessions`, `busy` (+ `retryAfter`),
/// `tamperFrame`, `cutShort`, `transportSecret`, `lifetimeSecs`,
/// `resetStats`. Answers the status; a bad body is `400 {"error"}`.
async fn sealed_control(State(state): State<Arc<AppState>>, body: Bytes) -> ApiResult {
    let spec: crate::sealed::ControlSpec =
        serde_json::from_slice(if body.is_empty() { b"{}" } else { &body })
            .map_err(|err| ApiError::bad_request(format!("invalid sealed control: {err}")))?;
    crate::sealed::control(&state, spec).map_err(ApiError::bad_request)?;
    Ok(json(crate::sealed::status(&state)))
}

/// `GET /_testnode/release`: the release the node answers as, and what it
/// implies (`crate::release::Release`'s predicates, by name).
async fn release(State(state): State<Arc<AppState>>) -> Response {
    let r = state.config.release;
    json(json!({
        "nodeVersion": r.to_string(),
        "rc": r.number(),
        "features": {
            "hexIds": r.hex_ids(),
            "accountPairing": r.account_pairing(),
            "admission": r.admission(),
            "axum08": r.axum_08(),
            "installByCoordinates": r.install_by_coordinates(),
            "bundlesOnly": r.bundles_only(),
            "admitterAddrs": r.admitter_addrs(),
            "holdsAccountRoot": r.holds_account_root(),
            "strictBodies": r.strict_bodies(),
            "accountNamespaceId": r.account_namespace_id(),
            "subscribePermission": r.subscribe_permission(),
            "deviceScopeAndLabel": r.device_scope_and_label(),
            "identitiesOf": r.identities_of(),
            "typedStatuses": r.typed_statuses(),
            "rc83": r.rc83(),
            "subgroupsOpenByDefault": r.subgroups_open_by_default(),
            "jwtKeyId": r.jwt_key_id(),
        },
        "routes": crate::release::ROUTES
            .iter()
            .map(|span| json!({
                "method": span.method,
                "path": span.path,
                "since": span.since,
                "until": span.until,
                "served": span.serves(r),
            }))
            .collect::<Vec<_>>(),
    }))
}

/// What to put in a bundle (`POST /_testnode/registry`, `POST
/// /_testnode/bundles`).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct BundleSpec {
    package: String,
    version: String,
    /// The wasm carries the ABI section (so `GET …/abi` answers the
    /// kv-store ABI); default true.
    #[serde(default)]
    abi: Option<bool>,
    /// With a `signature` block (the node refuses a bundle without one);
    /// default true.
    #[serde(default)]
    signed: Option<bool>,
}

impl BundleSpec {
    fn parse(body: &[u8]) -> Result<Self, ApiError> {
        let spec: Self = serde_json::from_slice(body)
            .map_err(|err| ApiError::bad_request(format!("invalid bundle: {err}")))?;
        if spec.package.is_empty() || spec.version.is_empty() {
            return Err(ApiError::bad_request(
                "invalid bundle: package and version must not be empty",
            ));
        }
        Ok(spec)
    }

    fn archive(&self) -> Vec<u8> {
        let wasm = bundle::stand_in_wasm(&self.package, &self.version, self.abi.unwrap_or(true));
        let signer = self
            .signed
            .unwrap_or(true)
            .then_some(bundle::TESTNODE_SIGNER);
        bundle::write(&self.package, &self.version, &wasm, signer)
    }

    /// The id the bundle installs under (the current release's encoding).
    fn application_id(&self) -> Option<Id> {
        bundle::open(&self.archive())
            .ok()
            .map(|b| b.application_id())
    }
}

/// `POST /_testnode/registry {package, version, abi?, signed?}`: publishes
/// a bundle in the node's own registry (what `install-application` by
/// coordinates fetches from, rc.31+) → `{"package","version",
/// "applicationId"}` (`null` for an unsigned bundle, which the install
/// refuses). Survives until `reset` (packages given with `--publish` are
/// always there).
async fn publish(State(state): State<Arc<AppState>>, body: Bytes) -> ApiResult {
    let spec = BundleSpec::parse(&body)?;
    let application_id = spec.application_id();
    state.publish(
        spec.package.clone(),
        spec.version.clone(),
        Bytes::from(spec.archive()),
    );
    Ok(json(json!({
        "package": spec.package,
        "version": spec.version,
        "applicationId": application_id,
    })))
}

/// `GET /_testnode/registry` → `{"packages":[{"package","version"}]}`.
async fn registry(State(state): State<Arc<AppState>>) -> Response {
    let packages: Vec<_> = state
        .published()
        .into_iter()
        .map(|(package, version)| json!({ "package": package, "version": version }))
        .collect();
    json(json!({ "packages": packages }))
}

/// `POST /_testnode/bundles {package, version, abi?, signed?}`: writes an
/// `.mpk` bundle to a temporary file the node can install from
/// (`install-dev-application`) → `{"path","applicationId"}`.
async fn write_bundle(body: Bytes) -> ApiResult {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);

    let spec = BundleSpec::parse(&body)?;
    let dir = std::env::temp_dir().join("calimero-testnode-bundles");
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let safe = |s: &str| {
        s.chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '.' {
                    c
                } else {
                    '_'
                }
            })
            .collect::<String>()
    };
    let path = dir.join(format!(
        "{}-{}-{}-{n}.mpk",
        safe(&spec.package),
        safe(&spec.version),
        std::process::id()
    ));
    let archive = spec.archive();
    let write = async {
        tokio::fs::create_dir_all(&dir).await?;
        tokio::fs::write(&path, &archive).await
    };
    write
        .await
        .map_err(|err| ApiError::internal_text(format!("cannot write the bundle: {err}")))?;
    Ok(json(json!({
        "path": path.display().to_string(),
        "applicationId": spec.application_id(),
    })))
}

/// `GET /_testnode/events?since=N`: the events the node emitted after
/// sequence number `N` (default 0: all since the last reset), numbered per
/// node, with the next number, how many events slow streams skipped and how
/// many streams are open: `{"next", "lagged", "live", "events": [{"seq",
/// "event"}]}`. Streams never carry the numbers (the real node has none).
async fn event_log(State(state): State<Arc<AppState>>, RawQuery(raw): RawQuery) -> ApiResult {
    #[derive(Deserialize)]
    struct Since {
        #[serde(default)]
        since: u64,
    }
    let q: Since = query(raw.as_deref())?;
    Ok(json(state.events.log_since(q.since)))
}

#[derive(serde::Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct CredentialRequest {
    /// Make the minted account this node's own (it mints its identity first).
    #[serde(default)]
    as_node_account: bool,
    /// Root-key handoffs to put in the chain (the certificate is signed by
    /// the last key).
    #[serde(default)]
    handoffs: u32,
}

/// `POST /_testnode/credential {"asNodeAccount"?, "handoffs"?}`: a fresh
/// account (random root key) and a device it certifies, minted by the test
/// node (ring) → `{"credential", "deviceSecret", "devicePublicKey",
/// "account", "rootSecret"}`, all hex. For tests of delegated access.
async fn mint_credential(State(state): State<Arc<AppState>>, body: axum::body::Bytes) -> Response {
    let req: CredentialRequest = if body.is_empty() {
        CredentialRequest::default()
    } else {
        match serde_json::from_slice(&body) {
            Ok(r) => r,
            Err(e) => {
                return crate::error::ApiError::bad_request(format!("invalid request: {e}"))
                    .into_response()
            }
        }
    };
    let minted = crate::delegated::mint_credential(req.handoffs.min(8));
    if req.as_node_account {
        let mut node = state.node();
        let _ = node.ensure_identity();
        if let Some(identity) = node.identity.as_mut() {
            identity.account_id = crate::ids::Id(minted.account);
        }
    }
    json(json!({
        "credential": hex::encode(&minted.credential),
        "deviceSecret": hex::encode(minted.device_seed),
        "devicePublicKey": hex::encode(minted.device_public),
        "account": hex::encode(minted.account),
        "rootSecret": hex::encode(minted.root_seed),
    }))
}

/// `POST /_testnode/events/drop`: cuts every live `/sse` stream and `/ws`
/// connection at once (no close frame, no end of stream), as a network
/// failure would. SSE sessions survive, so a client can resume with
/// `Last-Event-ID`. Answers `{"dropped": <live streams>}`.
async fn drop_streams(State(state): State<Arc<AppState>>) -> Response {
    json(json!({ "dropped": state.events.drop_streams() }))
}

/// `POST /_testnode/groups`: a group as if another node had created it,
/// administered by a fresh foreign account, to reach the paths a lone node
/// cannot: not a member (`role` null or absent) and member without admin
/// rights (`role` `Member`/`ReadOnly`).
///
/// Body (all optional): `parentGroupId` (hex; absent = a new namespace),
/// `role` (this node's role, `Admin`/`Member`/`ReadOnly`, or null = not a
/// member), `visibility` (`open`/`restricted`, default restricted), `name`,
/// `applicationId` (the release's id encoding; default the first installed
/// application).
/// A foreign namespace without a role is one the node holds no identity in
/// (reads answer 500); with a role, the node has joined it.
/// Answers `{"groupId": hex, "adminAccount": hex}`; a bad body or unknown
/// parent is `400 {"error"}`.
async fn foreign_group(State(state): State<Arc<AppState>>, body: Bytes) -> ApiResult {
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase", deny_unknown_fields)]
    struct Spec {
        #[serde(default)]
        parent_group_id: Option<String>,
        #[serde(default)]
        role: Option<Role>,
        #[serde(default)]
        visibility: Option<String>,
        #[serde(default)]
        name: Option<String>,
        #[serde(default)]
        application_id: Option<Id>,
    }

    let bad = |msg: String| ApiError::bad_request(format!("invalid group: {msg}"));
    let spec: Spec = serde_json::from_slice(if body.is_empty() { b"{}" } else { &body })
        .map_err(|err| bad(err.to_string()))?;
    let open = match spec.visibility.as_deref() {
        None | Some("restricted") => false,
        Some("open") => true,
        Some(other) => return Err(bad(format!("visibility {other:?}"))),
    };
    let parent = spec
        .parent_group_id
        .as_deref()
        .map(|raw| Id::parse_hex(raw).map_err(|_| bad("parentGroupId is not 64-hex".to_owned())))
        .transpose()?;
    let mut node = state.node();
    let me = node.ensure_identity().account_id;
    let app = match (parent, spec.application_id) {
        (Some(parent), _) => {
            let g = node
                .groups
                .get(&parent)
                .ok_or_else(|| bad("unknown parentGroupId".to_owned()))?;
            node.apps.get(&g.target_application_id).cloned()
        }
        (None, Some(app)) => Some(
            node.apps
                .get(&app)
                .cloned()
                .ok_or_else(|| bad("unknown applicationId".to_owned()))?,
        ),
        (None, None) => node.apps.values().next().cloned(),
    }
    .ok_or_else(|| bad("install an application first".to_owned()))?;
    let id = node.new_group(parent, &app, spec.name);
    let foreign = Id::random();
    let group = node
        .groups
        .get_mut(&id)
        .ok_or_else(|| bad("group vanished".to_owned()))?;
    group.members.clear();
    group.owner = foreign;
    group.founder = foreign;
    let _ = group
        .members
        .insert(foreign, MemberRow::new(Role::Admin, 0));
    if let Some(role) = spec.role {
        let _ = group.members.insert(me, MemberRow::new(role, 0));
    }
    group.open = open;
    if parent.is_none() {
        group.identity = spec.role.is_some();
    }
    Ok(json(
        json!({ "groupId": HexId(id), "adminAccount": HexId(foreign) }),
    ))
}

fn ok() -> Response {
    json(json!({ "ok": true }))
}

/// Answers once the streams it cut have ended (at most 5 s), so that the
/// next test starts with none.
async fn reset(State(state): State<Arc<AppState>>) -> Response {
    state.reset();
    state
        .events
        .until_no_stream(std::time::Duration::from_secs(5))
        .await;
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

/// `POST /_testnode/faults/release`: requests held by `hold` faults go on,
/// and later ones are not held (until the faults are cleared). Answers
/// `{"released": <requests that were held>}`.
async fn release_faults(State(state): State<Arc<AppState>>) -> Response {
    json(json!({ "released": state.faults.release() }))
}
