//! Route tables, one module per resource, assembled like the real node's
//! `service_mounts.rs`: `/admin-api` (protected + public routes), `/jsonrpc`,
//! plus this stand-in's `/_testnode` control API.
//!
//! Adding a resource (blobs, aliases, groups, events…): write a module with
//! `pub fn routes() -> Router<Arc<AppState>>` and merge it into `protected`.
//! Embedded auth: give `guarded` the auth layer (it already wraps the
//! protected admin routes and `/jsonrpc`, not the public ones); `/auth/*`
//! routes nest beside `/admin-api`.

use std::sync::Arc;

use axum::http::StatusCode;
use axum::{middleware, Router};

use crate::error::ApiError;
use crate::middleware::{apply_faults, cors, log_requests, CONTROL_PREFIX};
use crate::state::AppState;

pub mod accounts;
pub mod aliases;
pub mod applications;
pub mod auth;
pub mod blobs;
pub mod contexts;
pub mod control;
pub mod events;
pub mod groups;
pub mod intents;
pub mod jsonrpc;
pub mod namespaces;
pub mod owner;
pub mod packages;
pub mod relay;
pub mod system;
pub mod tee;

pub type AppRouter = Router<Arc<AppState>>;

/// Admin routes that the real node puts behind its auth guard.
pub fn protected() -> AppRouter {
    Router::new()
        .merge(system::protected_routes())
        .merge(applications::routes())
        .merge(blobs::routes())
        .merge(aliases::routes())
        .merge(packages::routes())
        .merge(contexts::routes())
        .merge(namespaces::routes())
        .merge(groups::routes())
        .merge(accounts::routes())
        .merge(intents::routes())
        .merge(relay::routes())
        .merge(tee::protected_routes())
}

/// The seam for embedded auth: routes passed through here are the ones the
/// real node guards (JWT, `?token=`; see `crate::auth::guard`). Without
/// `--auth` they stay open.
fn guarded(routes: AppRouter, state: &Arc<AppState>) -> AppRouter {
    if state.auth.is_none() {
        return routes;
    }
    routes.layer(middleware::from_fn_with_state(
        Arc::clone(state),
        crate::auth::guard,
    ))
}

/// The whole service, state attached. The request log, CORS and faults wrap
/// the node's routes only; the `/_testnode` control API sits beside them,
/// never logged or faulted.
pub fn build(state: Arc<AppState>) -> Router {
    let admin = guarded(protected(), &state)
        .merge(system::public_routes())
        .merge(tee::public_routes());
    let mut node = Router::new()
        .nest("/admin-api", admin)
        .merge(guarded(jsonrpc::routes(), &state))
        .merge(guarded(events::routes(), &state))
        .merge(system::metrics_routes());
    if state.auth.is_some() {
        node = node.nest("/auth", auth::routes());
    }
    let node = node
        // Routes outside the node's release answer as unknown ones.
        .route_layer(middleware::from_fn_with_state(
            Arc::clone(&state),
            crate::release::gate,
        ))
        // Unknown routes: 404 with an empty body, as the real node answers.
        .fallback(|| async { ApiError::Empty(StatusCode::NOT_FOUND) })
        .layer(middleware::from_fn_with_state(
            Arc::clone(&state),
            apply_faults,
        ))
        .layer(middleware::from_fn(cors))
        .layer(middleware::from_fn_with_state(
            Arc::clone(&state),
            log_requests,
        ));
    let service = Router::new()
        .nest(CONTROL_PREFIX, control::routes())
        .nest(&format!("{CONTROL_PREFIX}/auth"), auth::control_routes())
        .merge(node)
        // Everything, the control API included, speaks the node's release
        // (its id encoding, its body strictness).
        .layer(middleware::from_fn_with_state(
            Arc::clone(&state),
            crate::release::enter,
        ))
        .with_state(Arc::clone(&state));
    if state.sealed.is_none() {
        return service;
    }
    // The sealed transport wraps the whole router, not a route: an opened
    // request goes back to the router to be routed afresh.
    Router::new()
        .fallback_service(service)
        .layer(middleware::from_fn_with_state(
            state,
            crate::sealed::intercept,
        ))
}
