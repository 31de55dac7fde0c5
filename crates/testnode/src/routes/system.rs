//! Health, identity, peers, network status and usage.
//! core: crates/server/src/admin/service.rs (health/ready/is-authed/certificate),
//! handlers/identity/*.rs, handlers/peers.rs, handlers/network/status.rs,
//! handlers/usage.rs.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use serde::Serialize;
use serde_json::json;

use super::AppRouter;
use crate::error::{data, json, ApiError, ApiResult};
use crate::ids::{HexId, Id};
use crate::state::AppState;

/// Routes the real node leaves outside its auth guard (`/certificate`
/// until rc.82, gated in `crate::release::ROUTES`).
pub fn public_routes() -> AppRouter {
    Router::new()
        .route("/health", get(|| status("alive")))
        .route("/ready", get(|| status("ready")))
        .route("/is-authed", get(|| status("alive")))
        .route("/certificate", get(certificate))
}

/// `GET /metrics`, outside `/admin-api` and never guarded: Prometheus text
/// (core: crates/server/src/metrics.rs, `handle_request`; `service_mounts.rs`
/// nests it without auth). Only the build-info gauge the real node leads with.
pub fn metrics_routes() -> AppRouter {
    Router::new().route("/metrics", get(metrics))
}

async fn metrics(State(state): State<Arc<AppState>>) -> String {
    let peer_id = state.node().peer_id.clone();
    format!(
        "# HELP merod_build_info Constant 1 gauge labeled with merod version and peer_id.\n\
         # TYPE merod_build_info gauge\n\
         merod_build_info{{version=\"{version}\",peer_id=\"{peer_id}\"}} 1\n\
         # EOF\n",
        version = state.config.release
    )
}

/// This node serves no TLS, so it has no certificate: the node's plain-text
/// 404 (`certificate_handler`).
async fn certificate() -> ApiError {
    ApiError::Text(StatusCode::NOT_FOUND, "Certificate not found".to_owned())
}

pub fn protected_routes() -> AppRouter {
    Router::new()
        .route("/identity", get(node_identity))
        .route("/identity/context", post(new_context_identity))
        .route("/peers", get(|| async { json(json!({ "count": 0 })) }))
        .route("/network/status", get(network_status))
        .route("/usage", get(usage))
}

async fn status(status: &'static str) -> Response {
    data(json!({ "status": status }))
}

/// `GET /identity`, whose keys grow per release (live rc.29/rc.32 bodies:
/// swift `rc29-node-identity.json`, `rc32-node-identity.json`; core fixture
/// `identity/node_identity.res.json@efdf8dea`; research `wire-rc83.md`
/// §6.11): `deviceAgreementKey` (rc.29), `holdsAccountRoot` (rc.32),
/// `accountNamespaceId` (by rc.38), `deviceCertified` (by rc.41: swift
/// `Rc41SurfaceTests.swift` quotes core's fixture with it);
/// `revokedFrom` only on a revoked device, never on this one. Keys after
/// `holdsAccountRoot` in [inferred] order; the account namespace id is a
/// stand-in value derived from the account [inferred].
async fn node_identity(State(state): State<Arc<AppState>>) -> ApiResult {
    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    struct NodeIdentityJson {
        account_id: HexId,
        device_id: HexId,
        public_key: Id,
        account_root_public_key: HexId,
        #[serde(skip_serializing_if = "Option::is_none")]
        device_agreement_key: Option<HexId>,
        #[serde(skip_serializing_if = "Option::is_none")]
        holds_account_root: Option<bool>,
        #[serde(skip_serializing_if = "Option::is_none")]
        account_namespace_id: Option<HexId>,
        #[serde(skip_serializing_if = "Option::is_none")]
        device_certified: Option<bool>,
    }

    let release = state.config.release;
    let identity = state.node().identity.ok_or_else(|| {
        ApiError::not_found(
            "this node holds neither a device nor an account root yet; \
             both are minted the first time it takes part in a namespace",
        )
    })?;
    Ok(data(NodeIdentityJson {
        account_id: HexId(identity.account_id),
        device_id: HexId(identity.device_id),
        public_key: identity.public_key,
        account_root_public_key: HexId(identity.account_root_public_key),
        device_agreement_key: release.admission().then(|| {
            HexId(Id::digest(&[
                b"calimero-testnode:agreement",
                &identity.device_id.0,
            ]))
        }),
        holds_account_root: release.holds_account_root().then_some(true),
        account_namespace_id: release.account_namespace_id().then(|| {
            HexId(Id::digest(&[
                b"calimero-testnode:account-namespace",
                &identity.account_id.0,
            ]))
        }),
        device_certified: release.device_certified().then_some(true),
    }))
}

async fn new_context_identity() -> Response {
    data(json!({ "publicKey": Id::random() }))
}

async fn network_status(State(state): State<Arc<AppState>>) -> Response {
    // Field order as `NetworkStatusResponse` (a `json!` map would sort it).
    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    struct NetworkStatus {
        local_peer_id: String,
        listen_addrs: [&'static str; 2],
        external_addrs: [(); 0],
        relays: [(); 0],
        rendezvous: [(); 0],
        direct_upgrades: [(); 0],
        autonat: Autonat,
    }

    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    struct Autonat {
        reachability: &'static str,
        last_test_addr: Option<String>,
        last_test_result: Option<String>,
        last_test_reason: Option<String>,
        last_test_observed_addr: Option<String>,
        last_test_at: Option<String>,
    }

    json(NetworkStatus {
        local_peer_id: state.node().peer_id.clone(),
        listen_addrs: ["/ip4/127.0.0.1/udp/2428/quic-v1", "/ip4/127.0.0.1/tcp/2428"],
        external_addrs: [],
        relays: [],
        rendezvous: [],
        direct_upgrades: [],
        autonat: Autonat {
            reachability: "unknown",
            last_test_addr: None,
            last_test_result: None,
            last_test_reason: None,
            last_test_observed_addr: None,
            last_test_at: None,
        },
    })
}

async fn usage(State(state): State<Arc<AppState>>) -> Response {
    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    struct NamespaceUsage {
        namespace_id: HexId,
        context_count: u32,
        member_count: u32,
        subgroup_count: u32,
        bytes: UsageBytes,
    }

    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    struct UsageBytes {
        state: u64,
        private_state: u64,
        delta: u64,
        governance: u64,
        total: u64,
    }

    let node = state.node();
    let namespaces: Vec<NamespaceUsage> = node
        .groups
        .values()
        .filter(|g| g.parent.is_none() && g.identity)
        .map(|ns| {
            let id = &ns.id;
            let (count, bytes) = node
                .contexts_in(*id)
                .fold((0u32, 0u64), |(n, b), c| (n + 1, b + c.storage_bytes()));
            NamespaceUsage {
                namespace_id: HexId(*id),
                context_count: count,
                member_count: u32::try_from(ns.members.len()).unwrap_or(u32::MAX),
                subgroup_count: u32::try_from(node.subtree(*id).len() - 1).unwrap_or(u32::MAX),
                bytes: UsageBytes {
                    state: bytes,
                    private_state: 0,
                    delta: 0,
                    governance: 0,
                    total: bytes,
                },
            }
        })
        .collect();
    #[derive(Serialize)]
    struct Usage {
        namespaces: Vec<NamespaceUsage>,
    }

    json(Usage { namespaces })
}
