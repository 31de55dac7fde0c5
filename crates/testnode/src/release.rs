//! Which merod release the node answers as (`--node-version 0.11.0-rc.N`,
//! 25 ≤ N ≤ 83; default rc.25), and everything that differs between them as
//! data: predicates on [`Release`] for behaviour inside handlers, and
//! [`ROUTES`], the routes that exist only in some releases.
//!
//! Sources (cited per item below):
//! * `shared/reference/node-releases.md` and `research/wire-rc83.md` (the
//!   release ladder, with their evidence);
//! * core `crates/server/src/admin/service.rs`, index id 70883150803 (the
//!   late rc.8x router and `parse_api_error`);
//! * answers recorded from live nodes: swift-sdk `Tests/MeroKitTests/Fixtures/
//!   rc29-*.json`, `rc32-*.json` and `Rc29/32/38/41/83SurfaceTests.swift`;
//! * core's wire fixtures `crates/server/primitives/fixtures/wire/**`;
//! * the kotlin-sdk CHANGELOG (rc.32 section, index id 67605402557).
//!
//! Boundaries the sources do not pin are marked `[inferred]` and listed in
//! the README.
//!
//! The release is the node's, fixed at start. Handlers read it from the
//! state (`state.config.release`); the wire encodings that are decided deep
//! inside serde (an id's hex or base58 form, a body's strictness) read it
//! from a task-local set for every request by [`enter`] ([`current`]).

use std::fmt;
use std::future::Future;
use std::str::FromStr;
use std::sync::Arc;

use axum::extract::{MatchedPath, Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::state::AppState;

/// A merod release, `0.11.0-rc.N`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Release(u16);

impl Default for Release {
    /// rc.25, the release every recording in `shared/contract/` comes from.
    fn default() -> Self {
        Self::OLDEST
    }
}

impl fmt::Display for Release {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "0.11.0-rc.{}", self.0)
    }
}

impl FromStr for Release {
    type Err = String;

    /// `0.11.0-rc.N` (a leading `v` is tolerated), N from 25 to 83.
    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || {
            format!(
                "unsupported node version {s:?}: expected 0.11.0-rc.N with {} <= N <= {}",
                Self::OLDEST.0,
                Self::NEWEST.0
            )
        };
        let n: u16 = s
            .trim()
            .trim_start_matches('v')
            .strip_prefix("0.11.0-rc.")
            .and_then(|n| n.parse().ok())
            .ok_or_else(bad)?;
        Self::rc(n).ok_or_else(bad)
    }
}

impl Release {
    pub const OLDEST: Self = Self(25);
    pub const NEWEST: Self = Self(83);

    /// `0.11.0-rc.n`, when the test node speaks it.
    pub const fn rc(n: u16) -> Option<Self> {
        if n >= Self::OLDEST.0 && n <= Self::NEWEST.0 {
            Some(Self(n))
        } else {
            None
        }
    }

    /// The `N` of `rc.N`.
    pub const fn number(self) -> u16 {
        self.0
    }

    const fn since(self, rc: u16) -> bool {
        self.0 >= rc
    }

    // ------------------------------------------------------------- rc.27

    /// Every `Hash` id (context, application, blob ids, public keys, state
    /// hashes, SSE `contextId`/`newRoot`, alias values) is 64 lowercase hex
    /// and parses as hex only; a base58 id is refused ("expected 64 hex
    /// characters (32 bytes)"). core `crates/primitives/src/hash.rs` (index id
    /// 59326009433); swift `Rc29SurfaceTests.swift` ("both 64 hex since rc.27
    /// removed base58"); live rc.29/32 fixtures.
    pub const fn hex_ids(self) -> bool {
        self.since(27)
    }

    // ------------------------------------------------------------- rc.28/29

    /// Pairing is account-level (`/account/pair-init`, `/account/pair-complete`
    /// with `namespaces`), plus `GET /account/devices`, `GET
    /// /account/applications`, `POST /account/devices/{id}/relink`. swift
    /// `Rc29SurfaceTests.swift` ("rc.28 moved pairing off the namespace");
    /// the listings and relink are "rc.28/29" [inferred: rc.28].
    pub const fn account_pairing(self) -> bool {
        self.since(28)
    }

    /// Direct admission: `POST /namespaces/{id}/admit`, `admitters` in the
    /// signed invitation (core#3714), `deviceAgreementKey` on `GET
    /// /identity`. swift `Rc29SurfaceTests.swift`, `rc29-node-identity.json`,
    /// `rc29-namespace-invitation.json`.
    pub const fn admission(self) -> bool {
        self.since(29)
    }

    // ------------------------------------------------------------- rc.30-32

    /// axum 0.8: a trailing slash no longer matches (`POST
    /// /contexts/sync/` → 404). kotlin CHANGELOG ("axum 0.8 (core rc.30,
    /// #3744)"); swift `Rc32SurfaceTests.swift` says rc.31 [inferred: rc.30].
    pub const fn axum_08(self) -> bool {
        self.since(30)
    }

    /// `POST /install-application` takes exactly `{package, version}`
    /// (`deny_unknown_fields`) and installs from the node's own registry
    /// (core#3652, rc.31). swift `rc32-install-application-url-refused.json`;
    /// core `install_application.rs` (index id 59474688810).
    pub const fn install_by_coordinates(self) -> bool {
        self.since(31)
    }

    /// `POST /install-dev-application` takes `{path}` and installs only a
    /// signed `.mpk` bundle; a raw `.wasm` is "not a signed application
    /// bundle". kotlin CHANGELOG rc.32; core `install.rs` (index id
    /// 71321588689).
    pub const fn bundles_only(self) -> bool {
        self.since(32)
    }

    /// The invitation envelope carries `admitter_addrs` (plain multiaddrs),
    /// requests may name `admitterAddrs`; `GET /identity` has
    /// `holdsAccountRoot` (core#3774). swift `rc32-namespace-invitation.json`,
    /// `rc32-node-identity.json`.
    pub const fn admitter_addrs(self) -> bool {
        self.since(32)
    }

    /// `GET /identity` has `holdsAccountRoot`. swift `rc32-node-identity.json`.
    pub const fn holds_account_root(self) -> bool {
        self.since(32)
    }

    // ------------------------------------------------------------- rc.38

    /// Every request body is `deny_unknown_fields`: an unknown key is a 400
    /// (`ValidatedJson`) or a 422 (plain `Json`) for the whole call. swift
    /// `Rc38SurfaceTests.swift` (measured on a live rc.38: "37 structs");
    /// core `crates/server/AGENTS.md` ("Every request body is
    /// deny_unknown_fields") [inferred: all bodies from rc.38].
    pub const fn strict_bodies(self) -> bool {
        self.since(38)
    }

    /// `GET /identity` has `accountNamespaceId` ("on the wire since before
    /// rc.38", swift `Rc41SurfaceTests.swift`) [inferred: from rc.38].
    pub const fn account_namespace_id(self) -> bool {
        self.since(38)
    }

    // ------------------------------------------------------------- rc.41

    /// `/sse`, `/sse/subscription`, `/sse/session/{id}` and `/ws` need
    /// `context:subscribe` (core#3942); a token without it is refused 403
    /// `permission_denied`. kotlin CHANGELOG rc.41; measured on rc.41 (index
    /// id 69563140794).
    pub const fn subscribe_permission(self) -> bool {
        self.since(41)
    }

    /// Device scope and label routes, `label` on `GET /account/devices`,
    /// `identitiesOf` on the context identity listings. swift
    /// `Rc41SurfaceTests.swift`; core fixtures `account/devices.res.json`,
    /// `contexts/identities.res.json`.
    pub const fn device_scope_and_label(self) -> bool {
        self.since(41)
    }

    /// `identitiesOf` on `GET /contexts/{id}/identities[-owned]`.
    pub const fn identities_of(self) -> bool {
        self.since(41)
    }

    /// `deviceCertified` on `GET /identity`: absent from the live rc.32
    /// answers (swift `rc32-node-identity.json`), present in core's
    /// `identity/node_identity.res.json` as swift `Rc41SurfaceTests.swift`
    /// quotes it verbatim [inferred: from rc.41, the earliest evidence].
    pub const fn device_certified(self) -> bool {
        self.since(41)
    }

    // ------------------------------------------------------------- rc.44

    /// Refusals answer with their own status and message (403/404/409/...)
    /// instead of `500 {"error":"Internal server error"}` (core#4007,
    /// `parse_api_error`; kotlin CHANGELOG rc.44, widened by rc.83)
    /// [inferred: the whole taxonomy from rc.44].
    pub const fn typed_statuses(self) -> bool {
        self.since(44)
    }

    // ------------------------------------------------------------- rc.83

    /// The rc.83 batch (swift `Rc83SurfaceTests.swift`, core wire fixtures):
    /// owner ops, `/contexts/{id}/query`, `link-device`, `seal`, TEE attest
    /// flags, `POST /groups` without `groupId`, JWT `key_id`, `/auth/logout`,
    /// `GET /certificate` gone, JSON-RPC `ReadOnlyWriteRefused`,
    /// namespace `founding`/`heldOps`, group
    /// `namespaceId`/`ownerOpCounter`, role `RelayTee`.
    pub const fn rc83(self) -> bool {
        self.since(83)
    }

    /// An absent `visibility` on `POST /namespaces/{id}/groups` makes an
    /// open subgroup (was restricted). core `create_group_in_namespace.rs`
    /// (index id 71105812016); swift `Rc83SurfaceTests.swift`.
    pub const fn subgroups_open_by_default(self) -> bool {
        self.since(83)
    }

    /// JWTs carry a required `key_id` claim; a token without one (minted by
    /// an older node) is refused, and so is a refresh pair whose `key_id`s
    /// differ. swift `Rc83SurfaceTests.swift` header; kotlin CHANGELOG rc.83.
    pub const fn jwt_key_id(self) -> bool {
        self.since(83)
    }
}

// ------------------------------------------------------------------ task-local

tokio::task_local! {
    static CURRENT: Release;
}

/// The release of the node serving the current request (rc.25 outside one,
/// e.g. in unit tests).
pub fn current() -> Release {
    CURRENT.try_with(|r| *r).unwrap_or_default()
}

/// Runs `f` as `release` (for work spawned off a request, e.g. a WebSocket).
pub async fn scope<F: Future>(release: Release, f: F) -> F::Output {
    CURRENT.scope(release, f).await
}

/// Runs `f` synchronously as `release`.
pub fn sync_scope<R>(release: Release, f: impl FnOnce() -> R) -> R {
    CURRENT.sync_scope(release, f)
}

/// The outermost layer: every request is handled as the node's release.
pub async fn enter(State(state): State<Arc<AppState>>, req: Request, next: Next) -> Response {
    CURRENT.scope(state.config.release, next.run(req)).await
}

// ---------------------------------------------------------------- route table

/// A route that exists only from `since` (inclusive) until `until`
/// (exclusive; `None`: still in rc.83). Every route not listed here is
/// served by every release.
#[derive(Clone, Copy, Debug)]
pub struct RouteSpan {
    pub method: &'static str,
    /// The axum route template, as matched (`MatchedPath`).
    pub path: &'static str,
    pub since: u16,
    pub until: Option<u16>,
}

impl RouteSpan {
    pub const fn serves(&self, release: Release) -> bool {
        release.0 >= self.since
            && match self.until {
                Some(until) => release.0 < until,
                None => true,
            }
    }
}

const fn span(method: &'static str, path: &'static str, since: u16, until: u16) -> RouteSpan {
    RouteSpan {
        method,
        path,
        since,
        until: if until == 0 { None } else { Some(until) },
    }
}

/// Routes that come and go between rc.25 and rc.83 (`until` 0 = still
/// there). An unserved route answers as an unknown one: 404, empty body.
pub const ROUTES: &[RouteSpan] = &[
    // Pairing moved to the account (rc.28). swift Rc29SurfaceTests; absent
    // from the late router (service.rs, index id 70883150803).
    span(
        "POST",
        "/admin-api/namespaces/{namespace_id}/account/pair-init",
        25,
        28,
    ),
    span(
        "POST",
        "/admin-api/namespaces/{namespace_id}/account/pair-complete",
        25,
        28,
    ),
    span("POST", "/admin-api/account/pair-init", 28, 0),
    span("POST", "/admin-api/account/pair-complete", 28, 0),
    // Account listings and relink: "rc.28/29" [inferred: rc.28].
    span("GET", "/admin-api/account/devices", 28, 0),
    span("GET", "/admin-api/account/applications", 28, 0),
    span(
        "POST",
        "/admin-api/account/devices/{device_id}/relink",
        28,
        0,
    ),
    // Direct admission (rc.29). swift Rc29SurfaceTests.
    span("POST", "/admin-api/namespaces/{namespace_id}/admit", 29, 0),
    // axum 0.7 matched a trailing slash on a nested `/` route; 0.8 does not
    // (kotlin CHANGELOG: `POST /contexts/sync/` is 404 from rc.30). The
    // same nesting mounts `/jsonrpc` and `/sse` (core rc.25
    // `service_mounts.rs`) [inferred for those two and `/ws/`].
    span("POST", "/admin-api/contexts/sync/", 25, 30),
    span("POST", "/jsonrpc/", 25, 30),
    span("GET", "/sse/", 25, 30),
    span("GET", "/ws/", 25, 30),
    // Device aliases: served by a live rc.32 (swift Rc32SurfaceTests,
    // `rc32-alias-list-device.json`) [inferred: from rc.32].
    span("POST", "/admin-api/alias/create/device", 32, 0),
    span("POST", "/admin-api/alias/lookup/device/{name}", 32, 0),
    span("POST", "/admin-api/alias/delete/device/{name}", 32, 0),
    span("GET", "/admin-api/alias/list/device", 32, 0),
    // Device scope and label (rc.41). swift Rc41SurfaceTests.
    span("PUT", "/admin-api/account/devices/{device_id}/scope", 41, 0),
    span("PUT", "/admin-api/account/devices/{device_id}/label", 41, 0),
    // Renamed from `account/link-proof` (core#3992, rc.44; kotlin CHANGELOG).
    span("POST", "/admin-api/account/sign-with-root", 44, 0),
    // The rc.83 batch (service.rs; swift Rc83SurfaceTests).
    span("POST", "/admin-api/contexts/{context_id}/query", 83, 0),
    span(
        "POST",
        "/admin-api/namespaces/{namespace_id}/account/link-device",
        83,
        0,
    ),
    span("POST", "/admin-api/namespaces/{namespace_id}/admin", 83, 0),
    span(
        "POST",
        "/admin-api/groups/{group_id}/accounts/{account}/seal",
        83,
        0,
    ),
    span(
        "POST",
        "/admin-api/groups/{group_id}/transfer-ownership",
        83,
        0,
    ),
    span("POST", "/admin-api/groups/{group_id}/owner-delete", 83, 0),
    span(
        "PUT",
        "/admin-api/groups/{group_id}/settings/tee-authoring-policy",
        83,
        0,
    ),
    span(
        "DELETE",
        "/admin-api/groups/{group_id}/settings/tee-authoring-policy",
        83,
        0,
    ),
    span("POST", "/admin-api/tee/registration-attest", 83, 0),
    // Delegated creation and governance (service.rs
    // `delegated_execution_routes`), presence (core `presence_intent.rs`,
    // index id 71110246431; swift/kotlin Rc83 surface tests) [inferred:
    // from rc.83, the release the SDKs first name them for].
    span("GET", "/admin-api/groups/{group_id}/context-intents", 83, 0),
    span(
        "POST",
        "/admin-api/groups/{group_id}/context-intents",
        83,
        0,
    ),
    span(
        "GET",
        "/admin-api/groups/{group_id}/governance-intents",
        83,
        0,
    ),
    span(
        "POST",
        "/admin-api/groups/{group_id}/governance-intents",
        83,
        0,
    ),
    span(
        "POST",
        "/admin-api/contexts/{context_id}/presence-intents",
        83,
        0,
    ),
    // Release [inferred]: a core fixture, not in the service.rs read.
    span("GET", "/admin-api/tee/release", 83, 0),
    span("POST", "/auth/logout", 83, 0),
    // Gone from the public router by rc.83 (service.rs; swift Rc83
    // "GET /certificate ... gone").
    span("GET", "/admin-api/certificate", 25, 83),
];

/// Whether `release` serves `method path` (a route template).
pub fn serves(release: Release, method: &str, path: &str) -> bool {
    ROUTES
        .iter()
        .filter(|r| r.path == path && r.method.eq_ignore_ascii_case(method))
        .all(|r| r.serves(release))
}

/// A route layer: a route the node's release does not serve answers like
/// an unknown path (404, empty body).
pub async fn gate(State(state): State<Arc<AppState>>, req: Request, next: Next) -> Response {
    let served = req
        .extensions()
        .get::<MatchedPath>()
        .is_none_or(|path| serves(state.config.release, req.method().as_str(), path.as_str()));
    if served {
        next.run(req).await
    } else {
        StatusCode::NOT_FOUND.into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_supported_range_only() {
        assert_eq!("0.11.0-rc.25".parse::<Release>().unwrap(), Release(25));
        assert_eq!("0.11.0-rc.83".parse::<Release>().unwrap(), Release::NEWEST);
        assert_eq!("v0.11.0-rc.44".parse::<Release>().unwrap(), Release(44));
        assert!("0.11.0-rc.24".parse::<Release>().is_err());
        assert!("0.11.0-rc.84".parse::<Release>().is_err());
        assert!("0.11.0".parse::<Release>().is_err());
        assert!("rc.30".parse::<Release>().is_err());
        assert_eq!(Release::default().to_string(), "0.11.0-rc.25");
    }

    #[test]
    fn routes_come_and_go() {
        let rc = |n| Release::rc(n).unwrap();
        let pair = "/admin-api/account/pair-init";
        assert!(!serves(rc(27), "POST", pair));
        assert!(serves(rc(28), "POST", pair));
        let old = "/admin-api/namespaces/{namespace_id}/account/pair-init";
        assert!(serves(rc(27), "POST", old));
        assert!(!serves(rc(28), "POST", old));
        assert!(serves(rc(82), "GET", "/admin-api/certificate"));
        assert!(!serves(rc(83), "GET", "/admin-api/certificate"));
        assert!(serves(rc(25), "GET", "/admin-api/health"));
        assert!(serves(rc(29), "POST", "/admin-api/contexts/sync/"));
        assert!(!serves(rc(30), "POST", "/admin-api/contexts/sync/"));
    }

    #[test]
    fn current_defaults_to_rc25_and_follows_the_scope() {
        assert_eq!(current(), Release::OLDEST);
        let inner = sync_scope(Release::NEWEST, current);
        assert_eq!(inner, Release::NEWEST);
    }
}
