//! Embedded auth mode: the rules of merod's bundled auth service and of the
//! guard in front of its routes, in memory.
//!
//! - Tokens: HS256 JWTs with the node's claims (`sub`, `iss` = `aud` =
//!   `calimero-auth`, `exp`, `iat`, `jti`, `token_type`, `permissions`,
//!   `node_url`). core: crates/auth/src/auth/token/jwt.rs (`Claims`,
//!   `generate_token`, `decode_with_secrets`).
//! - Guard: `Authorization: Bearer` is validated exclusively when present,
//!   else `?token=`; neither → 401 with an empty body; expired beyond the
//!   leeway → 401 `X-Auth-Error: token_expired`; revoked → 403
//!   `token_revoked`; any other failure → bare 401; a valid token without the
//!   route's permission → 403 `permission_denied`.
//!   core: crates/server/src/auth.rs (`AuthGuardService`, `unauthorized_response`).
//! - Login (`POST /auth/token`, `user_password` only), refresh (refused
//!   while the access token is valid; refresh tokens single use), login rate
//!   limit (5 failures in 60 s → 429 with `Retry-After`): see `routes/auth.rs`.
//!
//! Each login starts its own token family (its `sub`). A replayed refresh
//! token revokes its family, as core does for client keys
//! (core:crates/auth/src/auth/token/jwt.rs, `revoke_token_family`); core
//! spares the root key of a user_password login there, and only refuses the
//! replay. The test node revokes every family so that a client's handling of
//! both `token_reuse` and `token_revoked` can be tested.
//!
//! Token lifetimes, the leeway and the node's clock (an offset added to the
//! wall clock) are settable, so tests cross an expiry in seconds.
//!
//! Per release: from rc.41 `/sse`, `/sse/subscription`, `/sse/session/{id}`
//! and `/ws` need `context:subscribe` (core#3942; `admin` covers it,
//! `context` does not: kotlin CHANGELOG rc.41, measured on rc.41, index id
//! 69563140794). From rc.83 every token carries a `key_id` claim (the
//! family's key); a token without one (as an older node minted) is refused
//! with a bare 401, and `/auth/refresh` refuses a pair whose `key_id`s
//! differ or are missing (swift `Rc83SurfaceTests.swift` header, kotlin
//! CHANGELOG rc.83; the refresh texts are [inferred]).

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use axum::extract::{OriginalUri, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use crate::release::Release;
use crate::state::{lock, AppState};

/// The `sub` prefix of an account-anchored session.
pub const ACCOUNT_SUBJECT: &str = "account:";

/// The account a request was authenticated as: by a request proof, or by
/// the token of an `account_proof` login.
#[derive(Clone, Copy, Debug)]
pub struct AuthenticatedAccount(pub [u8; 32]);

/// The issuer and audience of every token (core: crates/auth/src/config.rs,
/// `default_config` uses `calimero-auth`).
pub const ISSUER: &str = "calimero-auth";

/// Failed logins allowed per window before 429
/// (core: crates/auth/src/auth/rate_limit.rs, `DEFAULT_MAX_ATTEMPTS`).
pub const MAX_FAILED_LOGINS: usize = 5;
/// The rate-limit window (`DEFAULT_WINDOW_MS`).
pub const LOGIN_WINDOW_MS: i64 = 60_000;

/// Embedded auth settings (the node's `[server.embedded_auth]`).
#[derive(Clone, Debug)]
pub struct AuthConfig {
    /// The provisioned admin account.
    pub username: String,
    pub password: String,
    /// Access token lifetime, seconds (node default 3600).
    pub access_ttl: u64,
    /// Refresh token lifetime, seconds (node default 30 days).
    pub refresh_ttl: u64,
    /// Expiry leeway, seconds (jsonwebtoken's default, 60, on the node).
    pub leeway: u64,
    /// `merod --delegated-access`: request proofs (`X-Calimero-Proof`) of
    /// any account are served, and the intents routes are public. Without
    /// it only proofs of the node's own account are (403 `invalid_proof`
    /// for any other).
    pub delegated_access: bool,
}

impl Default for AuthConfig {
    fn default() -> Self {
        Self {
            username: "admin".to_owned(),
            password: "admin-password".to_owned(),
            access_ttl: 3600,
            refresh_ttl: 30 * 24 * 3600,
            leeway: 60,
            delegated_access: false,
        }
    }
}

#[derive(Serialize, Deserialize, Clone, Copy, PartialEq, Eq, Debug)]
#[serde(rename_all = "lowercase")]
pub enum TokenType {
    Access,
    Refresh,
}

/// The node's JWT claims (core: crates/auth/src/auth/token/jwt.rs, `Claims`).
#[derive(Serialize, Deserialize, Clone, Debug)]
pub struct Claims {
    pub sub: String,
    pub iss: String,
    pub aud: String,
    pub exp: u64,
    pub iat: u64,
    pub jti: String,
    pub token_type: TokenType,
    pub permissions: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub node_url: Option<String>,
    /// rc.83+: the key (root key or client key) the token was issued for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_id: Option<String>,
}

/// A token family (a login or a minted pair).
#[derive(Clone, Debug)]
struct Family {
    permissions: Vec<String>,
    /// The `key_id` its tokens carry (`None`: none, as before rc.83).
    key_id: Option<String>,
    /// An account-authenticated session speaking for this node's account
    /// (test-only: `POST /_testnode/auth/mint {"account": true}`), as
    /// rc.83's `/contexts/{id}/query` requires.
    account: bool,
}

/// Who is calling, as the guard verified it (a request extension in auth
/// mode; absent in proxy mode).
#[derive(Clone, Copy, Debug)]
pub struct CallerSession {
    pub account: bool,
}

/// Why a token was refused (core's `AuthError` variants the guard maps).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenError {
    Expired,
    Revoked,
    Invalid(String),
}

impl std::fmt::Display for TokenError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Expired => f.write_str("Token expired"),
            Self::Revoked => f.write_str("Token revoked"),
            Self::Invalid(m) => write!(f, "Invalid token: {m}"),
        }
    }
}

/// Settings that tests may change at run time (`/_testnode/auth`).
#[derive(Clone, Copy, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Timing {
    pub access_ttl: u64,
    pub refresh_ttl: u64,
    pub leeway: u64,
    /// Seconds added to the wall clock for every time check and `iat`/`exp`.
    pub clock_offset: i64,
    /// See [`AuthConfig::delegated_access`].
    pub delegated_access: bool,
    /// Serve `GET/POST /admin-api/contexts/{id}/warrant-nonce` (newer than
    /// rc.83, which answers 404).
    pub warrant_nonce_routes: bool,
}

struct Inner {
    secret: [u8; 32],
    timing: Timing,
    /// Login failures (ms timestamps) per `(auth_method, public_key)`.
    failures: HashMap<String, Vec<i64>>,
    /// `jti`s of refresh tokens already exchanged.
    consumed: HashSet<String>,
    /// Revoked families (`sub`).
    revoked: HashSet<String>,
    /// Every family, by `sub`.
    families: HashMap<String, Family>,
    /// Every token minted since the last reset (for leak checks in tests).
    issued: Vec<String>,
    /// `GET /auth/challenge` answers not yet spent, with their expiry.
    challenges: HashMap<[u8; 32], u64>,
}

/// The auth service of a test node in embedded mode.
pub struct Auth {
    pub config: AuthConfig,
    pub release: Release,
    inner: Mutex<Inner>,
    started: std::time::Instant,
}

fn random_secret() -> [u8; 32] {
    rand::random()
}

fn random_hex(bytes: usize) -> String {
    let raw: Vec<u8> = (0..bytes).map(|_| rand::random::<u8>()).collect();
    hex::encode(raw)
}

/// A UUID v4 string, as the node's `jti`.
fn random_jti() -> String {
    let h = random_hex(16);
    format!(
        "{}-{}-4{}-a{}-{}",
        &h[..8],
        &h[8..12],
        &h[13..16],
        &h[17..20],
        &h[20..32]
    )
}

impl Auth {
    pub fn new(config: AuthConfig, release: Release) -> Self {
        let timing = Timing {
            access_ttl: config.access_ttl,
            refresh_ttl: config.refresh_ttl,
            leeway: config.leeway,
            clock_offset: 0,
            delegated_access: config.delegated_access,
            warrant_nonce_routes: false,
        };
        Self {
            config,
            release,
            inner: Mutex::new(Inner {
                secret: random_secret(),
                timing,
                failures: HashMap::new(),
                consumed: HashSet::new(),
                revoked: HashSet::new(),
                families: HashMap::new(),
                issued: Vec::new(),
                challenges: HashMap::new(),
            }),
            started: std::time::Instant::now(),
        }
    }

    /// Forget every token (a new signing secret), failure count, family and
    /// run-time setting.
    pub fn reset(&self) {
        let mut inner = lock(&self.inner);
        inner.secret = random_secret();
        inner.timing = Timing {
            access_ttl: self.config.access_ttl,
            refresh_ttl: self.config.refresh_ttl,
            leeway: self.config.leeway,
            clock_offset: 0,
            delegated_access: self.config.delegated_access,
            warrant_nonce_routes: false,
        };
        inner.challenges.clear();
        inner.failures.clear();
        inner.consumed.clear();
        inner.revoked.clear();
        inner.families.clear();
        inner.issued.clear();
    }

    pub fn timing(&self) -> Timing {
        lock(&self.inner).timing
    }

    pub fn set_timing(&self, update: impl FnOnce(&mut Timing)) -> Timing {
        let mut inner = lock(&self.inner);
        update(&mut inner.timing);
        inner.timing
    }

    pub fn uptime_seconds(&self) -> u64 {
        self.started.elapsed().as_secs()
    }

    /// The node's clock, Unix milliseconds.
    fn now_ms(&self, timing: &Timing) -> i64 {
        let wall = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
        wall.saturating_add(timing.clock_offset.saturating_mul(1000))
    }

    /// The node's clock, Unix milliseconds.
    pub fn now_millis(&self) -> u64 {
        let timing = self.timing();
        u64::try_from(self.now_ms(&timing)).unwrap_or(0)
    }

    /// The node's clock, Unix seconds.
    pub fn now(&self) -> u64 {
        let timing = self.timing();
        u64::try_from(self.now_ms(&timing) / 1000).unwrap_or(0)
    }

    pub fn issued_tokens(&self) -> Vec<String> {
        lock(&self.inner).issued.clone()
    }

    /// Revokes every family (`POST /_testnode/auth/revoke`).
    pub fn revoke_all(&self) -> usize {
        let mut inner = lock(&self.inner);
        let families: Vec<String> = inner.families.keys().cloned().collect();
        let n = families.len();
        inner.revoked.extend(families);
        n
    }

    // ------------------------------------------------------------ login limit

    /// `Some(retry_after_secs)` while `key` is locked out
    /// (core: crates/auth/src/auth/rate_limit.rs, `check_at`).
    pub fn login_locked(&self, key: &str) -> Option<u64> {
        let mut inner = lock(&self.inner);
        let now = self.now_ms(&inner.timing);
        let failures = inner.failures.get_mut(key)?;
        failures.retain(|&t| t >= now - LOGIN_WINDOW_MS);
        if failures.len() >= MAX_FAILED_LOGINS {
            let unlock_at = failures[0] + LOGIN_WINDOW_MS;
            let ms = u64::try_from(unlock_at - now).unwrap_or(0);
            return Some(ms.div_ceil(1000).max(1));
        }
        None
    }

    pub fn record_login_failure(&self, key: &str) {
        let mut inner = lock(&self.inner);
        let now = self.now_ms(&inner.timing);
        let failures = inner.failures.entry(key.to_owned()).or_default();
        failures.retain(|&t| t >= now - LOGIN_WINDOW_MS);
        if failures.len() >= MAX_FAILED_LOGINS {
            let _ = failures.remove(0);
        }
        failures.push(now);
    }

    pub fn reset_login_failures(&self, key: &str) {
        let _ = lock(&self.inner).failures.remove(key);
    }

    // ----------------------------------------------------------------- tokens

    /// A fresh login challenge (32 random bytes, hex), good for 5 minutes
    /// and once.
    pub fn challenge(&self) -> String {
        let bytes: [u8; 32] = rand::random();
        let expires = self.now() + 300;
        let _ = lock(&self.inner).challenges.insert(bytes, expires);
        hex::encode(bytes)
    }

    /// Spends a challenge this node issued; false when unknown, spent or
    /// expired.
    pub fn spend_challenge(&self, challenge: &[u8; 32]) -> bool {
        let now = self.now();
        let expires = lock(&self.inner).challenges.remove(challenge);
        expires.is_some_and(|e| e >= now)
    }

    /// A family whose subject is an account (an `account_proof` login):
    /// the guard authenticates its tokens as that account.
    pub fn login_account(
        &self,
        account: &[u8; 32],
        node_url: Option<String>,
    ) -> Result<(String, String), String> {
        let sub = format!("{ACCOUNT_SUBJECT}{}", hex::encode(account));
        let permissions = vec!["context".to_owned(), "namespace".to_owned()];
        let key_id = self.default_key_id();
        let _ = lock(&self.inner).families.insert(
            sub.clone(),
            Family {
                permissions: permissions.clone(),
                key_id: key_id.clone(),
                account: true,
            },
        );
        self.mint_pair(&sub, permissions, node_url, None, key_id)
    }

    /// A new family (a login) and its first pair; from rc.83 its tokens
    /// carry the family's key id.
    pub fn login(
        &self,
        permissions: Vec<String>,
        node_url: Option<String>,
        access_ttl: Option<u64>,
    ) -> Result<(String, String), String> {
        let key_id = self.default_key_id();
        self.login_with_key(permissions, node_url, access_ttl, key_id, false)
    }

    /// The `key_id` a new family gets: a fresh one from rc.83, else none.
    pub fn default_key_id(&self) -> Option<String> {
        self.release.jwt_key_id().then(|| random_hex(32))
    }

    /// A new family whose tokens carry `key_id` (or none); `account` makes
    /// it an account session.
    pub fn login_with_key(
        &self,
        permissions: Vec<String>,
        node_url: Option<String>,
        access_ttl: Option<u64>,
        key_id: Option<String>,
        account: bool,
    ) -> Result<(String, String), String> {
        let sub = random_hex(32);
        let _ = lock(&self.inner).families.insert(
            sub.clone(),
            Family {
                permissions: permissions.clone(),
                key_id: key_id.clone(),
                account,
            },
        );
        self.mint_pair(&sub, permissions, node_url, access_ttl, key_id)
    }

    fn mint_pair(
        &self,
        sub: &str,
        permissions: Vec<String>,
        node_url: Option<String>,
        access_ttl: Option<u64>,
        key_id: Option<String>,
    ) -> Result<(String, String), String> {
        let mut inner = lock(&self.inner);
        let timing = inner.timing;
        let now = u64::try_from(self.now_ms(&timing) / 1000).unwrap_or(0);
        let claims = |token_type, ttl: u64| Claims {
            sub: sub.to_owned(),
            iss: ISSUER.to_owned(),
            aud: ISSUER.to_owned(),
            exp: now + ttl,
            iat: now,
            jti: random_jti(),
            token_type,
            permissions: permissions.clone(),
            node_url: node_url.clone(),
            key_id: key_id.clone(),
        };
        let key = EncodingKey::from_secret(&inner.secret);
        let header = Header::new(Algorithm::HS256);
        let access = jsonwebtoken::encode(
            &header,
            &claims(TokenType::Access, access_ttl.unwrap_or(timing.access_ttl)),
            &key,
        )
        .map_err(|e| e.to_string())?;
        let refresh = jsonwebtoken::encode(
            &header,
            &claims(TokenType::Refresh, timing.refresh_ttl),
            &key,
        )
        .map_err(|e| e.to_string())?;
        inner.issued.push(access.clone());
        inner.issued.push(refresh.clone());
        Ok((access, refresh))
    }

    /// Signature, issuer, audience and type, and (with `check_exp`) expiry
    /// beyond the leeway (core: `decode_with_secrets`, `ensure_token_type`).
    pub fn decode(
        &self,
        token: &str,
        expected: TokenType,
        check_exp: bool,
    ) -> Result<Claims, TokenError> {
        let (secret, timing) = {
            let inner = lock(&self.inner);
            (inner.secret, inner.timing)
        };
        let mut validation = Validation::new(Algorithm::HS256);
        // Expiry is checked below against the node's (offset) clock.
        validation.validate_exp = false;
        validation.set_issuer(&[ISSUER]);
        validation.set_audience(&[ISSUER]);
        let claims =
            jsonwebtoken::decode::<Claims>(token, &DecodingKey::from_secret(&secret), &validation)
                .map_err(|e| match e.kind() {
                    jsonwebtoken::errors::ErrorKind::InvalidToken => {
                        TokenError::Invalid(format!("Malformed token: {e}"))
                    }
                    _ => TokenError::Invalid(e.to_string()),
                })?
                .claims;
        let now = self.now_ms(&timing) / 1000;
        // jsonwebtoken: expired when `exp < now - leeway`.
        let expired = i64::try_from(claims.exp).unwrap_or(i64::MAX)
            < now.saturating_sub(i64::try_from(timing.leeway).unwrap_or(0));
        if check_exp && expired {
            return Err(TokenError::Expired);
        }
        if claims.token_type != expected {
            return Err(TokenError::Invalid(format!(
                "Wrong token type: expected {expected:?}, got {:?}",
                claims.token_type
            )));
        }
        Ok(claims)
    }

    /// Verifies an access token for a request: claims, node binding, family
    /// (core: `verify_token_string`).
    pub fn verify_access(&self, token: &str, headers: &HeaderMap) -> Result<Claims, TokenError> {
        if token.is_empty() {
            return Err(TokenError::Invalid("Empty token provided".to_owned()));
        }
        let claims = self.decode(token, TokenType::Access, true)?;
        if self.release.jwt_key_id() && claims.key_id.is_none() {
            return Err(TokenError::Invalid("Missing key_id claim".to_owned()));
        }
        if let Some(node_url) = &claims.node_url {
            validate_node_host(node_url, headers).map_err(TokenError::Invalid)?;
        }
        let inner = lock(&self.inner);
        if !inner.families.contains_key(&claims.sub) {
            return Err(TokenError::Invalid("Key not found".to_owned()));
        }
        if inner.revoked.contains(&claims.sub) {
            return Err(TokenError::Revoked);
        }
        Ok(claims)
    }

    /// Whether a verified token belongs to an account session.
    pub fn is_account_session(&self, claims: &Claims) -> bool {
        lock(&self.inner)
            .families
            .get(&claims.sub)
            .is_some_and(|f| f.account)
    }

    /// Seconds past the access token's `exp` the leeway still allows.
    pub fn leeway(&self) -> u64 {
        self.timing().leeway
    }

    /// Exchanges a verified refresh token for a new pair in the same family
    /// (core: `refresh_token_pair`). `Err(None)` is a replay (the family is
    /// revoked); `Err(Some(message))` another failure.
    pub fn rotate(&self, refresh: &Claims) -> Result<(String, String), Option<String>> {
        let family = {
            let mut inner = lock(&self.inner);
            if inner.consumed.contains(&refresh.jti) {
                let _ = inner.revoked.insert(refresh.sub.clone());
                return Err(None);
            }
            let family = match inner.families.get(&refresh.sub) {
                None => {
                    return Err(Some(format!(
                        "Invalid token: Key not found: {}",
                        refresh.sub
                    )))
                }
                Some(_) if inner.revoked.contains(&refresh.sub) => {
                    return Err(Some("Invalid token: Key is not valid".to_owned()))
                }
                Some(f) => f.clone(),
            };
            let _ = inner.consumed.insert(refresh.jti.clone());
            family
        };
        self.mint_pair(
            &refresh.sub,
            family.permissions,
            refresh.node_url.clone(),
            None,
            family.key_id,
        )
        .map_err(Some)
    }

    /// Retires a refresh token (rc.83 `POST /auth/logout`): a later refresh
    /// with it is a reuse.
    pub fn retire(&self, refresh: &Claims) {
        let _ = lock(&self.inner).consumed.insert(refresh.jti.clone());
    }
}

/// A node-bound token is only good for the host it was minted for: the
/// request's `X-Forwarded-Host` (else `Host`), with or without port, must
/// equal the host of the token's `node_url`; a `node_url` that is not a URL
/// binds nothing (core: jwt.rs, `validate_node_host_match`).
pub fn validate_node_host(token_node_url: &str, headers: &HeaderMap) -> Result<(), String> {
    let request_host = headers
        .get("x-forwarded-host")
        .or_else(|| headers.get(header::HOST))
        .and_then(|h| h.to_str().ok())
        .filter(|h| !h.trim().is_empty())
        .ok_or_else(|| {
            "Token is node-bound but the request carries no Host or X-Forwarded-Host header \
             to validate against"
                .to_owned()
        })?;
    let Some(token_host) = url::Url::parse(token_node_url)
        .ok()
        .and_then(|u| u.host_str().map(str::to_ascii_lowercase))
    else {
        return Ok(());
    };
    let without_port = request_host
        .split(':')
        .next()
        .unwrap_or(request_host)
        .to_ascii_lowercase();
    if without_port != token_host && request_host.to_ascii_lowercase() != token_host {
        return Err(format!(
            "Token is not valid for this host. Token is for '{token_host}' but request is to '{request_host}'"
        ));
    }
    Ok(())
}

/// The permission a route needs, a simplified `PermissionValidator`
/// (core: crates/auth/src/auth/permissions/validator.rs): a few mapped
/// routes, and `admin` for every other `/admin-api/*` route (its default-deny).
/// From rc.41 the event transports need `context:subscribe`.
fn required_permission(release: Release, method: &Method, path: &str) -> Option<&'static str> {
    let read = method == Method::GET || method == Method::HEAD;
    let events = matches!(
        path,
        "/sse" | "/sse/" | "/sse/subscription" | "/ws" | "/ws/"
    ) || path.starts_with("/sse/session/");
    if events {
        return release.subscribe_permission().then_some(SUBSCRIBE);
    }
    match path {
        "/jsonrpc" | "/jsonrpc/" if method == Method::POST => Some("context:execute"),
        "/admin-api/contexts" if read => Some("context:list"),
        "/admin-api/contexts" if method == Method::POST => Some("context:create"),
        "/admin-api/applications" if read => Some("application:list"),
        "/admin-api/packages" if read => Some("package:list-packages"),
        p if p.starts_with("/admin-api/") => Some("admin"),
        _ => None,
    }
}

/// The event transports' permission (rc.41+).
const SUBSCRIBE: &str = "context:subscribe";

/// `admin` grants everything; a permission grants itself and what lies
/// below it (`context` grants `context:list`), except `context:subscribe`,
/// which `context` does not grant (kotlin CHANGELOG rc.41).
fn permits(granted: &[String], required: &str) -> bool {
    if required == SUBSCRIBE {
        return granted
            .iter()
            .any(|p| p == "admin" || p == SUBSCRIBE || p.starts_with("context:subscribe["));
    }
    granted.iter().any(|p| {
        p == "admin"
            || p == required
            || required
                .strip_prefix(p.as_str())
                .is_some_and(|rest| rest.starts_with(':'))
    })
}

fn refused(status: StatusCode, auth_error: Option<&'static str>) -> Response {
    let mut response = status.into_response();
    if let Some(value) = auth_error {
        let _ = response
            .headers_mut()
            .insert("x-auth-error", HeaderValue::from_static(value));
    }
    response
}

fn refusal(err: &TokenError) -> Response {
    match err {
        TokenError::Expired => refused(StatusCode::UNAUTHORIZED, Some("token_expired")),
        TokenError::Revoked => refused(StatusCode::FORBIDDEN, Some("token_revoked")),
        TokenError::Invalid(_) => refused(StatusCode::UNAUTHORIZED, None),
    }
}

/// Whether `path` is a delegated-execution route, public under
/// `--delegated-access` (core service.rs `delegated_execution_routes`:
/// `/contexts/{id}/intents`, `/groups/{id}/context-intents`,
/// `/groups/{id}/governance-intents`; `/contexts/{id}/presence-intents` is
/// "public, like the other intents routes" per core `presence_intent.rs`,
/// index id 71110246431 [inferred: not in the router read]).
fn is_intents_route(path: &str) -> bool {
    let one_segment = |id: &str| !id.is_empty() && !id.contains('/');
    let under = |prefix: &str, suffix: &str| {
        path.strip_prefix(prefix)
            .and_then(|rest| rest.strip_suffix(suffix))
            .is_some_and(one_segment)
    };
    under("/admin-api/contexts/", "/intents")
        || under("/admin-api/contexts/", "/presence-intents")
        || under("/admin-api/groups/", "/context-intents")
        || under("/admin-api/groups/", "/governance-intents")
}

/// No token of any kind: the one other way a caller can say who it is, a
/// proof carried on the request (core: crates/server/src/auth.rs, the
/// `PROOF_HEADER` branch). The body is read here, because the proof commits
/// to it, and handed on unchanged.
async fn proof_or_refuse(state: &AppState, auth: &Auth, req: Request, next: Next) -> Response {
    let Some(header) = req.headers().get("x-calimero-proof").cloned() else {
        return refused(StatusCode::UNAUTHORIZED, None);
    };
    // A node with no signing key yet serves no proofs: the plain 401.
    let Some(identity) = state.node().identity else {
        return refused(StatusCode::UNAUTHORIZED, None);
    };
    let method = req.method().as_str().to_owned();
    let path = req
        .extensions()
        .get::<OriginalUri>()
        .map_or_else(|| req.uri().path().to_owned(), |o| o.0.path().to_owned());
    let (mut parts, body) = req.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, crate::delegated::MAX_PROVEN_BODY).await else {
        return StatusCode::PAYLOAD_TOO_LARGE.into_response();
    };
    let admitted = crate::delegated::admit(
        header.as_bytes(),
        &method,
        &path,
        &bytes,
        auth.now(),
        &identity.public_key.0,
        &identity.account_id.0,
        auth.timing().delegated_access,
    );
    match admitted {
        Ok((account, _device)) => {
            let _ = parts.extensions.insert(AuthenticatedAccount(account));
            next.run(Request::from_parts(parts, axum::body::Body::from(bytes)))
                .await
        }
        Err(crate::delegated::Refusal::NotServed) => {
            refused(StatusCode::FORBIDDEN, Some("invalid_proof"))
        }
        Err(_) => refused(StatusCode::UNAUTHORIZED, Some("invalid_proof")),
    }
}

/// The guard `routes::guarded` puts in front of protected routes when the
/// node runs in embedded auth mode.
pub async fn guard(State(state): State<Arc<AppState>>, req: Request, next: Next) -> Response {
    let Some(auth) = state.auth.as_ref() else {
        return next.run(req).await;
    };
    if req.method() == Method::OPTIONS {
        return next.run(req).await;
    }
    if auth.timing().delegated_access {
        let path = req
            .extensions()
            .get::<OriginalUri>()
            .map_or_else(|| req.uri().path().to_owned(), |o| o.0.path().to_owned());
        if is_intents_route(&path) {
            return next.run(req).await;
        }
    }
    let headers = req.headers();
    let verified = if let Some(value) = headers.get(header::AUTHORIZATION) {
        // A header is validated exclusively: never a fallback to `?token=`.
        match value.to_str().ok().and_then(|v| v.strip_prefix("Bearer ")) {
            Some(token) => auth.verify_access(token.trim(), headers),
            None => Err(TokenError::Invalid("bad Authorization header".to_owned())),
        }
    } else {
        let token = req.uri().query().and_then(|q| {
            q.split('&').find_map(|pair| {
                let (key, value) = pair.split_once('=')?;
                (key == "token").then(|| value.to_owned())
            })
        });
        match token {
            Some(token) => auth.verify_access(&token, headers),
            None => return proof_or_refuse(&state, auth, req, next).await,
        }
    };
    let claims = match verified {
        Ok(claims) => claims,
        Err(err) => return refusal(&err),
    };
    let account = claims
        .sub
        .strip_prefix(ACCOUNT_SUBJECT)
        .and_then(|h| hex::decode(h).ok())
        .and_then(|b| <[u8; 32]>::try_from(b).ok());
    let mut req = req;
    if let Some(account) = account {
        let _ = req.extensions_mut().insert(AuthenticatedAccount(account));
    }
    let path = req
        .extensions()
        .get::<OriginalUri>()
        .map_or_else(|| req.uri().path().to_owned(), |o| o.0.path().to_owned());
    if let Some(required) = required_permission(auth.release, req.method(), &path) {
        if !permits(&claims.permissions, required) {
            return refused(StatusCode::FORBIDDEN, Some("permission_denied"));
        }
    }
    let session = CallerSession {
        account: auth.is_account_session(&claims),
    };
    let _ = req.extensions_mut().insert(session);
    next.run(req).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(host: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        let _ = h.insert(header::HOST, HeaderValue::from_str(host).unwrap());
        h
    }

    #[test]
    fn node_binding_compares_hosts() {
        assert!(validate_node_host("http://127.0.0.1:2528", &headers("127.0.0.1:9")).is_ok());
        assert!(validate_node_host("http://127.0.0.1:2528", &headers("localhost:2528")).is_err());
        assert!(validate_node_host("python-client", &headers("anything")).is_ok());
        assert!(validate_node_host("http://x", &HeaderMap::new()).is_err());
    }

    #[test]
    fn permissions_are_hierarchical_and_admin_grants_all() {
        let p = |v: &[&str]| v.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        assert!(permits(&p(&["admin"]), "admin"));
        assert!(permits(&p(&["context"]), "context:list"));
        assert!(permits(&p(&["context:list"]), "context:list"));
        assert!(!permits(&p(&["context:list"]), "context:execute"));
        assert!(!permits(&p(&["contexts"]), "context:list"));
        assert!(!permits(&p(&["context:list"]), "admin"));
        let rc25 = Release::default();
        assert_eq!(
            required_permission(rc25, &Method::GET, "/admin-api/usage"),
            Some("admin")
        );
        assert_eq!(
            required_permission(rc25, &Method::GET, "/admin-api/contexts"),
            Some("context:list")
        );
        assert_eq!(required_permission(rc25, &Method::GET, "/elsewhere"), None);
        assert_eq!(required_permission(rc25, &Method::GET, "/sse"), None);
        let rc41 = Release::rc(41).unwrap();
        assert_eq!(
            required_permission(rc41, &Method::GET, "/sse/session/1"),
            Some("context:subscribe")
        );
        assert!(!permits(&p(&["context"]), "context:subscribe"));
        assert!(permits(&p(&["admin"]), "context:subscribe"));
        assert!(permits(&p(&["context:subscribe"]), "context:subscribe"));
    }

    #[test]
    fn tokens_expire_past_the_leeway_and_rotate_once() {
        let auth = Auth::new(
            AuthConfig {
                access_ttl: 10,
                leeway: 5,
                ..AuthConfig::default()
            },
            Release::default(),
        );
        let (access, refresh) = auth.login(vec!["admin".into()], None, None).unwrap();
        let h = headers("n");
        assert!(auth.verify_access(&access, &h).is_ok());
        let _ = auth.set_timing(|t| t.clock_offset = 14);
        assert!(auth.verify_access(&access, &h).is_ok(), "inside the leeway");
        let _ = auth.set_timing(|t| t.clock_offset = 16);
        assert_eq!(
            auth.verify_access(&access, &h).unwrap_err(),
            TokenError::Expired
        );
        assert!(matches!(
            auth.verify_access(&refresh, &h),
            Err(TokenError::Invalid(_))
        ));
        let claims = auth.decode(&refresh, TokenType::Refresh, true).unwrap();
        let (new_access, _) = auth.rotate(&claims).unwrap();
        assert!(auth.verify_access(&new_access, &h).is_ok());
        assert_eq!(auth.rotate(&claims).unwrap_err(), None, "a replay");
        assert_eq!(
            auth.verify_access(&new_access, &h).unwrap_err(),
            TokenError::Revoked
        );
        auth.reset();
        assert!(matches!(
            auth.verify_access(&new_access, &h),
            Err(TokenError::Invalid(_))
        ));
    }

    #[test]
    fn five_failures_lock_logins_out() {
        let auth = Auth::new(AuthConfig::default(), Release::default());
        for _ in 0..MAX_FAILED_LOGINS {
            assert_eq!(auth.login_locked("k"), None);
            auth.record_login_failure("k");
        }
        let retry = auth.login_locked("k").unwrap();
        assert!((1..=60).contains(&retry), "{retry}");
        assert_eq!(auth.login_locked("other"), None);
        let _ = auth.set_timing(|t| t.clock_offset = 61);
        assert_eq!(auth.login_locked("k"), None);
    }
}
