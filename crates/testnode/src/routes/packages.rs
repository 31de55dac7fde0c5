//! Packages of the installed applications (no `data` envelope).
//! core: crates/server/src/admin/handlers/{list_packages,list_versions,get_latest_version}.rs,
//! crates/node/primitives/src/client/application/query.rs.

use std::collections::BTreeSet;
use std::sync::Arc;

use axum::extract::{Path, State};
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use serde::Serialize;
use serde_json::json;

use super::AppRouter;
use crate::error::json;
use crate::ids::Id;
use crate::state::{version_is_newer, AppState};

pub fn routes() -> AppRouter {
    Router::new()
        .route("/packages", get(list_packages))
        .route("/packages/{package}/versions", get(list_versions))
        .route("/packages/{package}/latest", get(latest))
}

/// Distinct stored package names (`"unknown"` for installs that named none).
async fn list_packages(State(state): State<Arc<AppState>>) -> Response {
    let node = state.node();
    let packages: BTreeSet<&str> = node.apps.values().map(|a| a.package.as_str()).collect();
    json(json!({ "packages": packages }))
}

/// The stored version strings of the package's applications, in id order.
async fn list_versions(
    State(state): State<Arc<AppState>>,
    Path(package): Path<String>,
) -> Response {
    let node = state.node();
    let versions: Vec<&str> = node
        .apps
        .values()
        .filter(|a| a.package == package)
        .map(|a| a.version.as_str())
        .collect();
    json(json!({ "versions": versions }))
}

async fn latest(State(state): State<Arc<AppState>>, Path(package): Path<String>) -> Response {
    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    struct Latest<'a> {
        application_id: Option<Id>,
        version: Option<&'a str>,
    }

    let node = state.node();
    let mut best: Option<(&str, Id)> = None;
    for app in node.apps.values().filter(|a| a.package == package) {
        let newer = best.is_none_or(|(current, _)| version_is_newer(&app.version, current));
        if newer {
            best = Some((app.version.as_str(), app.id));
        }
    }
    json(Latest {
        application_id: best.map(|(_, id)| id),
        version: best.map(|(v, _)| v),
    })
}
