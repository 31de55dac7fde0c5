//! Embedded auth routes under `/auth` (mounted only in auth mode), and their
//! test-control routes under `/_testnode/auth`.
//! core: crates/auth/src/api/routes.rs, crates/auth/src/api/handlers/auth.rs
//! (`token_handler`, `refresh_token_handler`, `providers_handler`,
//! `health_handler`), crates/auth/src/auth/validation.rs (`ValidatedJson`).

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::{json, Value};

use super::AppRouter;
use crate::auth::{validate_node_host, Auth, TokenType};
use crate::error::json as json_response;
use crate::state::AppState;

/// The public `/auth` routes, with the auth service's security headers.
pub fn routes() -> AppRouter {
    Router::new()
        .route("/token", post(token))
        .route("/challenge", get(challenge))
        .route("/refresh", post(refresh))
        // rc.83 (gated in `crate::release::ROUTES`).
        .route("/logout", post(logout))
        .route("/health", get(health))
        .route("/providers", get(providers))
        .layer(middleware::from_fn(security_headers))
}

/// `/_testnode/auth`: read and change timings, mint tokens, revoke families,
/// list what was minted.
pub fn control_routes() -> AppRouter {
    Router::new()
        .route("/", get(settings).post(change_settings))
        .route("/mint", post(mint))
        .route("/revoke", post(revoke))
        .route("/tokens", get(issued))
}

async fn security_headers(req: Request, next: Next) -> Response {
    let mut response = next.run(req).await;
    let headers = response.headers_mut();
    let _ = headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    let _ = headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    response
}

/// `{"data": ..., "error": null}` with 200, or `{"data": null, "error": msg}`.
fn reply(status: StatusCode, data: Value, error: Option<String>) -> Response {
    let body = json!({ "data": data, "error": error });
    let mut response = (status, body.to_string()).into_response();
    let _ = response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

fn failure(status: StatusCode, message: impl Into<String>) -> Response {
    reply(status, Value::Null, Some(message.into()))
}

fn with_header(mut response: Response, name: &'static str, value: &str) -> Response {
    if let Ok(v) = HeaderValue::from_str(value) {
        let _ = response.headers_mut().insert(name, v);
    }
    response
}

fn tokens(access: String, refresh: String) -> Response {
    reply(
        StatusCode::OK,
        json!({ "access_token": access, "refresh_token": refresh, "error": null }),
        None,
    )
}

/// A rejected request body, as the auth service's `ValidatedJson` answers
/// it: `{"error": ..., "status": n}`.
struct Rejection(StatusCode, String);

impl IntoResponse for Rejection {
    fn into_response(self) -> Response {
        let body = json!({ "error": self.1, "status": self.0.as_u16() });
        let mut r = (self.0, body.to_string()).into_response();
        let _ = r.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        r
    }
}

/// JSON errors are 400 (core: crates/auth/src/auth/validation.rs).
fn parse_body<T: DeserializeOwned>(headers: &HeaderMap, body: &[u8]) -> Result<T, Rejection> {
    let json_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if !json_type {
        return Err(Rejection(
            StatusCode::BAD_REQUEST,
            "Invalid JSON: Expected request with `Content-Type: application/json`".to_owned(),
        ));
    }
    serde_json::from_slice(body).map_err(|e| {
        Rejection(
            StatusCode::BAD_REQUEST,
            format!("Invalid JSON: Failed to deserialize the JSON body into the target type: {e}"),
        )
    })
}

/// A failed field check is 422.
fn validation_error(field: &str, message: &str) -> Response {
    Rejection(
        StatusCode::UNPROCESSABLE_ENTITY,
        format!("Validation error: {field}: {message}"),
    )
    .into_response()
}

#[derive(Deserialize)]
struct TokenRequest {
    auth_method: String,
    public_key: String,
    client_name: String,
    #[serde(default)]
    #[allow(
        dead_code,
        reason = "user_password keys get the root key's permissions"
    )]
    permissions: Option<Vec<String>>,
    #[allow(dead_code, reason = "required by the node, not checked")]
    timestamp: u64,
    provider_data: Value,
}

/// `POST /auth/token`.
async fn token(State(state): State<Arc<AppState>>, headers: HeaderMap, body: Bytes) -> Response {
    let Some(auth) = state.auth.as_ref() else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let request: TokenRequest = match parse_body(&headers, &body) {
        Ok(r) => r,
        Err(r) => return r.into_response(),
    };
    for (field, value, message) in [
        (
            "auth_method",
            &request.auth_method,
            "Authentication method is required",
        ),
        ("public_key", &request.public_key, "Public key is required"),
        (
            "client_name",
            &request.client_name,
            "Client name is required",
        ),
    ] {
        if value.is_empty() {
            return validation_error(field, message);
        }
    }
    // The bucket is keyed on the raw (auth_method, public_key), length-prefixed.
    let cap = |s: &str| s.chars().take(256).collect::<String>();
    let (method, public_key) = (cap(&request.auth_method), cap(&request.public_key));
    let rl_key = format!(
        "{}|{}|{}|{}",
        method.len(),
        method,
        public_key.len(),
        public_key
    );
    if let Some(retry_after) = auth.login_locked(&rl_key) {
        auth.record_login_failure(&rl_key);
        return with_header(
            failure(
                StatusCode::TOO_MANY_REQUESTS,
                "Too many failed login attempts; please try again later",
            ),
            "retry-after",
            &retry_after.to_string(),
        );
    }
    if request.auth_method == "account_proof" {
        return account_proof(&state, auth, &request, &rl_key);
    }
    if let Err(message) = check_credentials(auth, &request) {
        auth.record_login_failure(&rl_key);
        return failure(
            StatusCode::UNAUTHORIZED,
            format!("Authentication failed: {message}"),
        );
    }
    auth.reset_login_failures(&rl_key);
    match auth.login(vec!["admin".to_owned()], Some(request.client_name), None) {
        Ok((access, refresh)) => tokens(access, refresh),
        Err(_) => failure(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Failed to generate tokens",
        ),
    }
}

/// `GET /auth/challenge`: a fresh challenge for an `account_proof` login.
async fn challenge(State(state): State<Arc<AppState>>) -> Response {
    let Some(auth) = state.auth.as_ref() else {
        return StatusCode::NOT_FOUND.into_response();
    };
    reply(
        StatusCode::OK,
        json!({ "challenge": auth.challenge() }),
        None,
    )
}

/// The `account_proof` provider: `public_key` is the session key,
/// `provider_data` `{challenge, login_statement, account_proof}` (swift
/// `RelayLogin.swift`). The statement must be addressed to this node, be
/// signed by the device the credential certifies, name this challenge (one
/// use) and `public_key`, and be inside its window; the credential must
/// verify. The session is the account's.
fn account_proof(state: &AppState, auth: &Auth, request: &TokenRequest, rl_key: &str) -> Response {
    let refuse = |message: &str| {
        auth.record_login_failure(rl_key);
        failure(
            StatusCode::UNAUTHORIZED,
            format!("Authentication failed: {message}"),
        )
    };
    let field = |name: &str| {
        request
            .provider_data
            .get(name)
            .and_then(Value::as_str)
            .map(str::to_owned)
    };
    let (Some(challenge), Some(statement), Some(credential)) = (
        field("challenge"),
        field("login_statement"),
        field("account_proof"),
    ) else {
        return refuse(
            "Invalid request: provider data needs challenge, login_statement and account_proof",
        );
    };
    let Some(identity) = state.node().identity else {
        return refuse("this node has no signing key yet");
    };
    let Ok(credential) = crate::delegated::Credential::from_hex(&credential) else {
        return refuse("account_proof is not a device credential");
    };
    let statement = hex::decode(statement.trim()).ok().and_then(|b| {
        let mut c = crate::delegated::Cursor::new(&b);
        let s = crate::delegated::Session::read(&mut c).ok()?;
        c.end().ok().map(|()| s)
    });
    let Some(statement) = statement else {
        return refuse("login_statement is not a login statement");
    };
    let now = auth.now();
    let challenge_ok = hex::decode(challenge.trim())
        .ok()
        .and_then(|b| <[u8; 32]>::try_from(b).ok())
        .is_some_and(|c| c == statement.challenge && auth.spend_challenge(&c));
    let checks = [
        (
            statement.node == identity.public_key.0,
            "the statement names another node",
        ),
        (challenge_ok, "unknown or spent challenge"),
        (
            hex::encode(statement.session_key) == request.public_key.to_ascii_lowercase(),
            "public_key is not the statement's session key",
        ),
        (
            statement.expires_at.saturating_sub(statement.issued_at)
                <= crate::delegated::MAX_SESSION_LIFETIME
                && now + crate::delegated::CLOCK_SKEW >= statement.issued_at
                && now.saturating_sub(crate::delegated::CLOCK_SKEW) <= statement.expires_at,
            "the statement is outside its window",
        ),
        (statement.signed_by_device(), "bad statement signature"),
        (
            statement.device_key == credential.sign_key,
            "the statement was signed by another device",
        ),
        (
            credential.verify().is_ok(),
            "the credential does not verify",
        ),
    ];
    if let Some((_, message)) = checks.iter().find(|(ok, _)| !ok) {
        return refuse(message);
    }
    auth.reset_login_failures(rl_key);
    match auth.login_account(&credential.account, Some(request.client_name.clone())) {
        Ok((access, refresh)) => tokens(access, refresh),
        Err(_) => failure(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Failed to generate tokens",
        ),
    }
}

/// The `user_password` provider against the provisioned account
/// (core: crates/auth/src/providers/impls/user_password.rs).
fn check_credentials(auth: &Auth, request: &TokenRequest) -> Result<(), String> {
    if !matches!(
        request.auth_method.as_str(),
        "user_password" | "username_password"
    ) {
        return Err(format!(
            "Invalid request: Unsupported authentication method: {}",
            request.auth_method
        ));
    }
    let field = |name: &str| {
        request
            .provider_data
            .get(name)
            .and_then(Value::as_str)
            .ok_or_else(|| format!("Invalid request: Missing or invalid '{name}' in provider data"))
    };
    let (username, password) = (field("username")?, field("password")?);
    if username == auth.config.username && password == auth.config.password {
        Ok(())
    } else {
        Err("Authentication failed: Invalid username or password".to_owned())
    }
}

#[derive(Deserialize)]
struct RefreshRequest {
    access_token: String,
    refresh_token: String,
}

/// `POST /auth/refresh`, in the node's order of checks.
async fn refresh(State(state): State<Arc<AppState>>, headers: HeaderMap, body: Bytes) -> Response {
    let Some(auth) = state.auth.as_ref() else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let request: RefreshRequest = match parse_body(&headers, &body) {
        Ok(r) => r,
        Err(r) => return r.into_response(),
    };
    if request.access_token.is_empty() {
        return validation_error("access_token", "Access token is required");
    }
    if request.refresh_token.is_empty() {
        return validation_error("refresh_token", "Refresh token is required");
    }
    let access = match auth.decode(&request.access_token, TokenType::Access, false) {
        Ok(c) => c,
        Err(e) => {
            return failure(
                StatusCode::UNAUTHORIZED,
                format!("Invalid access token: {e}"),
            )
        }
    };
    // Only an access token expired beyond the leeway may be exchanged.
    if access.exp.saturating_add(auth.leeway()) >= auth.now() {
        return failure(StatusCode::UNAUTHORIZED, "Access token still valid");
    }
    let refresh = match auth.decode(&request.refresh_token, TokenType::Refresh, true) {
        Ok(c) => c,
        Err(e) => {
            return failure(
                StatusCode::UNAUTHORIZED,
                format!("Invalid refresh token: {e}"),
            )
        }
    };
    if access.sub != refresh.sub {
        return failure(
            StatusCode::UNAUTHORIZED,
            "Access and refresh tokens do not belong to the same subject",
        );
    }
    // rc.83: both halves must carry the same `key_id` [inferred text].
    if auth.release.jwt_key_id() && (refresh.key_id.is_none() || access.key_id != refresh.key_id) {
        return failure(
            StatusCode::UNAUTHORIZED,
            "Invalid refresh token: the access and refresh tokens were not issued for the same key",
        );
    }
    if let Some(node_url) = &refresh.node_url {
        if let Err(message) = validate_node_host(node_url, &headers) {
            return with_header(
                failure(StatusCode::FORBIDDEN, message),
                "x-auth-error",
                "invalid_node",
            );
        }
    }
    match auth.rotate(&refresh) {
        Ok((access, refresh)) => tokens(access, refresh),
        Err(None) => with_header(
            failure(
                StatusCode::UNAUTHORIZED,
                "Refresh token reuse detected; re-authentication required",
            ),
            "x-auth-error",
            "token_reuse",
        ),
        Err(Some(message)) => failure(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("Failed to refresh token: {message}"),
        ),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LogoutRequest {
    refresh_token: String,
}

/// `POST /auth/logout {refresh_token}` (rc.83): retires the refresh token,
/// so a later refresh with it is a reuse. The key set is pinned (swift
/// `Rc83SurfaceTests.swift`: `["refresh_token"]`); the answers are
/// [inferred]: the auth service's envelope with `{"success":true}` (what
/// kotlin's FakeNode answers), and a refused token as refresh refuses one.
async fn logout(State(state): State<Arc<AppState>>, headers: HeaderMap, body: Bytes) -> Response {
    let Some(auth) = state.auth.as_ref() else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let request: LogoutRequest = match parse_body(&headers, &body) {
        Ok(r) => r,
        Err(r) => return r.into_response(),
    };
    if request.refresh_token.is_empty() {
        return validation_error("refresh_token", "Refresh token is required");
    }
    match auth.decode(&request.refresh_token, TokenType::Refresh, true) {
        Ok(claims) => {
            auth.retire(&claims);
            reply(StatusCode::OK, json!({ "success": true }), None)
        }
        Err(e) => failure(
            StatusCode::UNAUTHORIZED,
            format!("Invalid refresh token: {e}"),
        ),
    }
}

async fn health(State(state): State<Arc<AppState>>) -> Response {
    let uptime = state.auth.as_ref().map_or(0, |a| a.uptime_seconds());
    reply(
        StatusCode::OK,
        json!({ "status": "alive", "storage": true, "uptime_seconds": uptime }),
        None,
    )
}

async fn providers() -> Response {
    reply(
        StatusCode::OK,
        json!({
            "providers": [{
                "name": "user_password",
                "type": "credentials",
                "description": "Authenticates users with username and password credentials",
                "configured": true,
                "config": {
                    "enabled": true,
                    "description": "Username and password authentication"
                }
            }],
            "count": 1
        }),
        None,
    )
}

// ------------------------------------------------------------------ control

fn not_enabled() -> Response {
    (
        StatusCode::BAD_REQUEST,
        json!({ "error": "the test node does not run in auth mode (--auth)" }).to_string(),
    )
        .into_response()
}

fn settings_json(auth: &Auth) -> Value {
    let mut v = serde_json::to_value(auth.timing()).unwrap_or(Value::Null);
    if let Some(map) = v.as_object_mut() {
        let _ = map.insert("enabled".into(), Value::Bool(true));
        let _ = map.insert("now".into(), Value::from(auth.now()));
        let _ = map.insert(
            "username".into(),
            Value::from(auth.config.username.as_str()),
        );
    }
    v
}

async fn settings(State(state): State<Arc<AppState>>) -> Response {
    match state.auth.as_ref() {
        Some(auth) => json_response(settings_json(auth)),
        None => json_response(json!({ "enabled": false })),
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct SettingsChange {
    access_ttl: Option<u64>,
    refresh_ttl: Option<u64>,
    leeway: Option<u64>,
    clock_offset: Option<i64>,
    /// Moves the node's clock forward by this many seconds.
    advance_clock: Option<i64>,
    delegated_access: Option<bool>,
    warrant_nonce_routes: Option<bool>,
}

/// `POST /_testnode/auth {accessTtl?, refreshTtl?, leeway?, clockOffset?, advanceClock?}`.
async fn change_settings(State(state): State<Arc<AppState>>, body: Bytes) -> Response {
    let Some(auth) = state.auth.as_ref() else {
        return not_enabled();
    };
    let change: SettingsChange = match serde_json::from_slice(&body) {
        Ok(c) => c,
        Err(e) => {
            return (
                StatusCode::BAD_REQUEST,
                json!({ "error": format!("invalid settings: {e}") }).to_string(),
            )
                .into_response()
        }
    };
    let _ = auth.set_timing(|t| {
        if let Some(v) = change.access_ttl {
            t.access_ttl = v;
        }
        if let Some(v) = change.refresh_ttl {
            t.refresh_ttl = v;
        }
        if let Some(v) = change.leeway {
            t.leeway = v;
        }
        if let Some(v) = change.clock_offset {
            t.clock_offset = v;
        }
        if let Some(v) = change.advance_clock {
            t.clock_offset = t.clock_offset.saturating_add(v);
        }
        if let Some(v) = change.delegated_access {
            t.delegated_access = v;
        }
        if let Some(v) = change.warrant_nonce_routes {
            t.warrant_nonce_routes = v;
        }
    });
    json_response(settings_json(auth))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct MintRequest {
    #[serde(default)]
    permissions: Option<Vec<String>>,
    #[serde(default)]
    node_url: Option<String>,
    #[serde(default)]
    access_ttl: Option<u64>,
    /// The tokens' `key_id`: absent = the release's default (a fresh one
    /// from rc.83, none before), `null` = none (a token as a pre-rc.83 node
    /// minted it), a string = that key id.
    #[serde(default, deserialize_with = "present")]
    key_id: Option<Option<String>>,
    /// An account-authenticated session speaking for this node's account
    /// (what rc.83's `/contexts/{id}/query` wants).
    #[serde(default)]
    account: bool,
}

/// `Some(value)` whenever the key is present, `null` included.
fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(d).map(Some)
}

/// `POST /_testnode/auth/mint {permissions?, nodeUrl?, accessTtl?, keyId?, account?}`:
/// a new family's pair without a login (as `POST /admin/client-key` gives
/// scoped tokens on the real node).
async fn mint(State(state): State<Arc<AppState>>, body: Bytes) -> Response {
    let Some(auth) = state.auth.as_ref() else {
        return not_enabled();
    };
    let request: MintRequest = if body.is_empty() {
        MintRequest {
            permissions: None,
            node_url: None,
            access_ttl: None,
            key_id: None,
            account: false,
        }
    } else {
        match serde_json::from_slice(&body) {
            Ok(r) => r,
            Err(e) => {
                return (
                    StatusCode::BAD_REQUEST,
                    json!({ "error": format!("invalid mint request: {e}") }).to_string(),
                )
                    .into_response()
            }
        }
    };
    let permissions = request
        .permissions
        .unwrap_or_else(|| vec!["admin".to_owned()]);
    let key_id = request.key_id.unwrap_or_else(|| auth.default_key_id());
    let minted = auth.login_with_key(
        permissions,
        request.node_url,
        request.access_ttl,
        key_id,
        request.account,
    );
    match minted {
        Ok((access, refresh)) => json_response(json!({
            "access_token": access,
            "refresh_token": refresh,
        })),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e).into_response(),
    }
}

/// `POST /_testnode/auth/revoke`: revokes every family; their access tokens
/// then answer 403 `token_revoked`.
async fn revoke(State(state): State<Arc<AppState>>) -> Response {
    match state.auth.as_ref() {
        Some(auth) => json_response(json!({ "revoked": auth.revoke_all() })),
        None => not_enabled(),
    }
}

/// `GET /_testnode/auth/tokens`: every token minted since the last reset.
async fn issued(State(state): State<Arc<AppState>>) -> Response {
    match state.auth.as_ref() {
        Some(auth) => json_response(json!({ "tokens": auth.issued_tokens() })),
        None => json_response(json!({ "tokens": [] })),
    }
}
