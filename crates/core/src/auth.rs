//! Authentication: where a connection's tokens come from, logging in, and
//! the reactive refresh that every request goes through (DESIGN.md,
//! Authentication; node-api.md section 2).
//!
//! Token sources, first that applies: tokens passed in (or
//! `CALIMERO_ACCESS_TOKEN`); the token cache of the connection's
//! `node_name`; credentials passed in (or `CALIMERO_USERNAME` /
//! `CALIMERO_PASSWORD`), used to log in; a [`CredentialPrompt`] the binding
//! provides (a terminal prompt); otherwise an authentication error that says
//! how to provide credentials.
//!
//! Refresh is reactive. The node refuses `POST /auth/refresh` until the
//! access token is expired by more than its 60 s leeway, and its guard
//! accepts the old token until then (core:crates/auth/src/api/handlers/auth.rs,
//! `JWT_EXPIRY_LEEWAY_SECS`), so a client refreshes when the guard says
//! `X-Auth-Error: token_expired`, never before. Refresh tokens are single use
//! (core:crates/auth/src/auth/token/jwt.rs, `refresh_token_pair`), so one
//! refresh must serve every caller: within the process an async mutex and a
//! token generation (a caller that waited and finds a newer token than the one
//! it was rejected with just replays), across processes an advisory lock on
//! `{cache file}.lock` with the cache file re-read inside it (a token another
//! process already rotated is adopted, not refreshed again). The rejected
//! request is then replayed, whatever its verb: the guard refused it before
//! any handler ran (core:crates/server/src/auth.rs).
//!
//! No token ever appears in an error, a log line or `Debug` output.

use std::path::PathBuf;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use reqwest::header::{HeaderValue, AUTHORIZATION};

use crate::cache::{self, CacheMeta};
use crate::connection::Connection;
use crate::error::Error;
use crate::release::{Release, Span};

/// The user name to log in with, when none is passed.
pub const ENV_USERNAME: &str = "CALIMERO_USERNAME";
/// The password to log in with, when none is passed.
pub const ENV_PASSWORD: &str = "CALIMERO_PASSWORD";
/// An access token to use, when none is passed.
pub const ENV_ACCESS_TOKEN: &str = "CALIMERO_ACCESS_TOKEN";
/// The refresh token that goes with `CALIMERO_ACCESS_TOKEN`.
pub const ENV_REFRESH_TOKEN: &str = "CALIMERO_REFRESH_TOKEN";

/// How many times one request is replayed after renewing its token.
pub const MAX_AUTH_RETRIES: u32 = 2;

/// The only login method the node has at 0.11.0-rc.25
/// (core:crates/auth/src/providers/impls/user_password.rs).
const AUTH_METHOD: &str = "user_password";
/// The first release with `POST /auth/logout` (swift-sdk/kotlin-sdk Rc83).
const LOGOUT_SINCE: u16 = 83;

/// A JWT access/refresh token pair. `Debug` never shows a token.
#[derive(Clone, PartialEq, Eq)]
pub struct Tokens {
    pub access_token: String,
    pub refresh_token: Option<String>,
    /// Unix seconds; the access token's `exp` claim unless said otherwise.
    pub expires_at: Option<i64>,
}

impl Tokens {
    /// A pair, its expiry read from the access token's `exp` claim.
    pub fn new(access_token: String, refresh_token: Option<String>) -> Self {
        let expires_at = jwt_exp(&access_token);
        Tokens {
            access_token,
            refresh_token: refresh_token.filter(|r| !r.is_empty()),
            expires_at,
        }
    }
}

impl std::fmt::Debug for Tokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tokens")
            .field("access_token", &"<hidden>")
            .field(
                "refresh_token",
                &self.refresh_token.as_ref().map(|_| "<hidden>"),
            )
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

/// The `exp` claim of a JWT, read without verifying the token.
pub fn jwt_exp(token: &str) -> Option<i64> {
    let payload = token.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .ok()?;
    let claims: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    claims.get("exp")?.as_i64()
}

/// A user name and password for the node's `user_password` login.
/// `Debug` shows the user name only.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    username: String,
    password: String,
}

impl Credentials {
    /// Both must be non-empty.
    pub fn new(username: impl Into<String>, password: impl Into<String>) -> Result<Self, Error> {
        let (username, password) = (username.into(), password.into());
        if username.is_empty() {
            return Err(Error::invalid("username", "expected a non-empty string"));
        }
        if password.is_empty() {
            return Err(Error::invalid("password", "expected a non-empty string"));
        }
        Ok(Credentials { username, password })
    }

    pub fn username(&self) -> &str {
        &self.username
    }

    pub fn password(&self) -> &str {
        &self.password
    }
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("username", &self.username)
            .field("password", &"<hidden>")
            .finish()
    }
}

/// Asks someone for credentials when a call needs them and none are known
/// (the Python binding asks on the terminal, and only when there is one).
/// Called at most once at a time per connection, from the thread driving the
/// call; `None` means there is no one to ask, or they declined.
pub trait CredentialPrompt: Send + Sync {
    fn credentials(&self, api_url: &str, node_name: Option<&str>) -> Option<Credentials>;
}

/// How a connection authenticates (see the module documentation).
#[derive(Clone, Default)]
pub struct AuthOptions {
    /// Tokens to start with; they win over the environment and the cache.
    pub tokens: Option<Tokens>,
    /// Credentials to log in with when a token is needed.
    pub credentials: Option<Credentials>,
    /// Do not read `CALIMERO_*` environment variables.
    pub ignore_env: bool,
    /// Asked for credentials when nothing else gives a token.
    pub prompt: Option<Arc<dyn CredentialPrompt>>,
    /// Delegated access: sign every request with this device (an
    /// `X-Calimero-Proof` each, never a token; see
    /// [`Connection::credential`](crate::connection::Connection)).
    pub device: Option<Arc<crate::delegated::DeviceSigner>>,
}

impl std::fmt::Debug for AuthOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthOptions")
            .field("tokens", &self.tokens)
            .field("credentials", &self.credentials)
            .field("ignore_env", &self.ignore_env)
            .field("prompt", &self.prompt.is_some())
            .field("device", &self.device)
            .finish()
    }
}

fn env_value(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

/// What a request was sent with, for [`Connection::on_auth_failure`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuthTicket {
    generation: u64,
    sent_token: bool,
}

impl AuthTicket {
    /// Whether the request carried a token.
    pub fn sent_token(&self) -> bool {
        self.sent_token
    }
}

/// What to do after a failed request (see [`Connection::on_auth_failure`]).
#[derive(Debug)]
pub enum AuthRecovery {
    /// A new token is in place: send the request again.
    Retry,
    /// Raise this error.
    Fail(Error),
}

/// Why the node refused a request, when a new token may help.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Refusal {
    /// 401 without a token: none was sent.
    Missing,
    /// 401 `token_expired`.
    Expired,
    /// 403 `token_revoked`.
    Revoked,
    /// Any other 401 to a request with a token (bad signature, another
    /// node's token, an unknown key).
    Rejected,
}

impl Refusal {
    fn of(ticket: &AuthTicket, err: &Error) -> Option<Self> {
        let Error::Http(h) = err else { return None };
        // The guard's refusals carry no body (core:crates/server/src/auth.rs,
        // `unauthorized_response`); a 401 with a body came from elsewhere.
        match (h.status, h.auth_error.as_deref()) {
            (401, Some("token_expired")) => Some(Refusal::Expired),
            (403, Some("token_revoked")) => Some(Refusal::Revoked),
            (401, None) if !h.body.is_empty() => None,
            (401, _) if !ticket.sent_token => Some(Refusal::Missing),
            (401, _) => Some(Refusal::Rejected),
            // 403 `permission_denied` and everything else: a new token of
            // the same user would be refused the same way. Never retried.
            _ => None,
        }
    }
}

struct Slot {
    generation: u64,
    tokens: Option<Arc<Tokens>>,
}

/// A connection's authentication state.
pub(crate) struct AuthState {
    slot: RwLock<Slot>,
    credentials: Mutex<Option<Credentials>>,
    prompt: Option<Arc<dyn CredentialPrompt>>,
    cache_path: Option<PathBuf>,
    /// Single flight within the process: held while tokens are renewed. A
    /// forked child starts with a fresh one (the parent's may be held by a
    /// thread the child does not have).
    flight: Mutex<(u32, Arc<tokio::sync::Mutex<()>>)>,
    /// Signs every request instead of a token (delegated access).
    pub(crate) device: Option<Arc<crate::delegated::DeviceSigner>>,
}

impl AuthState {
    /// The state for a new connection: tokens passed in, else
    /// `CALIMERO_ACCESS_TOKEN`, else the cache of `node_name`; credentials
    /// passed in, else `CALIMERO_USERNAME` and `CALIMERO_PASSWORD`.
    pub(crate) fn new(node_name: Option<&str>, options: AuthOptions) -> Result<Self, Error> {
        let AuthOptions {
            tokens,
            credentials,
            ignore_env,
            prompt,
            device,
        } = options;
        let env = |name| if ignore_env { None } else { env_value(name) };
        let credentials = match credentials {
            Some(c) => Some(c),
            None => match (env(ENV_USERNAME), env(ENV_PASSWORD)) {
                (Some(u), Some(p)) => Some(Credentials::new(u, p)?),
                (None, None) => None,
                (Some(_), None) => {
                    return Err(Error::invalid(
                        ENV_PASSWORD,
                        format!("is not set, but {ENV_USERNAME} is"),
                    ))
                }
                (None, Some(_)) => {
                    return Err(Error::invalid(
                        ENV_USERNAME,
                        format!("is not set, but {ENV_PASSWORD} is"),
                    ))
                }
            },
        };
        let cache_path = node_name.map(cache::token_cache_path);
        let tokens = match tokens {
            Some(t) => Some(t),
            // Held to the rule of tokens passed in (crate::ids::token), and
            // refused naming the variable, before anything is sent.
            None => match env(ENV_ACCESS_TOKEN) {
                Some(access) => {
                    crate::ids::token(ENV_ACCESS_TOKEN, &access)?;
                    let refresh = env(ENV_REFRESH_TOKEN);
                    if let Some(r) = &refresh {
                        crate::ids::token(ENV_REFRESH_TOKEN, r)?;
                    }
                    Some(Tokens::new(access, refresh))
                }
                None => None,
            },
        }
        .or_else(|| cache_path.as_deref().and_then(cache::read_tokens_file));
        if let Some(t) = &tokens {
            check_header_safe(&t.access_token, "access_token")?;
        }
        Ok(AuthState {
            slot: RwLock::new(Slot {
                generation: 0,
                tokens: tokens.map(Arc::new),
            }),
            credentials: Mutex::new(credentials),
            prompt,
            cache_path,
            flight: Mutex::new((crate::runtime::pid(), Arc::new(tokio::sync::Mutex::new(())))),
            device,
        })
    }

    fn current(&self) -> (u64, Option<Arc<Tokens>>) {
        match self.slot.read() {
            Ok(slot) => (slot.generation, slot.tokens.clone()),
            Err(poisoned) => {
                let slot = poisoned.into_inner();
                (slot.generation, slot.tokens.clone())
            }
        }
    }

    fn replace(&self, tokens: Option<Tokens>) -> u64 {
        let mut slot = self
            .slot
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        slot.generation += 1;
        slot.tokens = tokens.map(Arc::new);
        slot.generation
    }

    fn credentials(&self) -> Option<Credentials> {
        self.credentials
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    fn set_credentials(&self, credentials: Option<Credentials>) {
        *self
            .credentials
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = credentials;
    }

    fn flight(&self) -> Arc<tokio::sync::Mutex<()>> {
        let mut slot = self
            .flight
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let pid = crate::runtime::pid();
        if slot.0 != pid {
            *slot = (pid, Arc::new(tokio::sync::Mutex::new(())));
        }
        Arc::clone(&slot.1)
    }
}

fn check_header_safe(token: &str, argument: &str) -> Result<(), Error> {
    if token.is_empty() || HeaderValue::from_str(&format!("Bearer {token}")).is_err() {
        return Err(Error::invalid(
            argument,
            "expected a non-empty token a header can carry",
        ));
    }
    Ok(())
}

/// The advisory lock on a cache file's lock file; released when dropped
/// (closing the file releases the `flock`).
struct CacheLock {
    _file: std::fs::File,
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

impl Connection {
    /// The tokens the connection sends now, if any.
    pub fn tokens(&self) -> Option<Tokens> {
        self.auth_state().current().1.map(|t| (*t).clone())
    }

    /// Replaces the tokens in memory (the cache file is left alone).
    pub fn set_tokens(&self, tokens: Option<Tokens>) -> Result<(), Error> {
        if let Some(t) = &tokens {
            check_header_safe(&t.access_token, "access_token")?;
        }
        self.auth_state().replace(tokens);
        Ok(())
    }

    /// Sets (or clears) the access token sent as `Authorization: Bearer`.
    pub fn set_access_token(&self, token: Option<String>) {
        let _ = self.set_tokens(token.map(|t| Tokens::new(t, None)));
    }

    /// Whether credentials to log in with are known (passed in, from the
    /// environment, or from an earlier login).
    pub fn has_credentials(&self) -> bool {
        self.auth_state().credentials().is_some()
    }

    /// Adds the current token to a request as `Authorization: Bearer`, and
    /// says what it was sent with. Send the request; if it fails, hand the
    /// error and the ticket to [`Connection::on_auth_failure`]. A request
    /// whose body cannot be sent twice should not be retried.
    pub fn authorize(
        &self,
        request: reqwest::RequestBuilder,
    ) -> Result<(reqwest::RequestBuilder, AuthTicket), Error> {
        match self.bearer()? {
            (Some(value), ticket) => Ok((request.header(AUTHORIZATION, value), ticket)),
            (None, ticket) => Ok((request, ticket)),
        }
    }

    /// The `Authorization: Bearer` value of the current token (marked
    /// sensitive), if any, and the ticket of [`Connection::authorize`]: for
    /// requests not made with reqwest (the WebSocket upgrade).
    pub(crate) fn bearer(&self) -> Result<(Option<HeaderValue>, AuthTicket), Error> {
        let (generation, tokens) = self.auth_state().current();
        let Some(tokens) = tokens else {
            return Ok((
                None,
                AuthTicket {
                    generation,
                    sent_token: false,
                },
            ));
        };
        let mut value =
            HeaderValue::from_str(&format!("Bearer {}", tokens.access_token)).map_err(|_| {
                Error::invalid("access_token", "contains characters a header cannot carry")
            })?;
        value.set_sensitive(true);
        Ok((
            Some(value),
            AuthTicket {
                generation,
                sent_token: true,
            },
        ))
    }

    /// Adds the current token to `url` as `?token=`, for requests that cannot
    /// carry a header (browser-style WebSocket/SSE). The node reads it only
    /// when no `Authorization` header is present (core:crates/server/src/auth.rs).
    /// Error messages show such URLs with the token redacted.
    pub fn authorize_url(&self, url: &mut url::Url) -> AuthTicket {
        let (generation, tokens) = self.auth_state().current();
        let sent_token = tokens.is_some();
        if let Some(tokens) = tokens {
            url.query_pairs_mut()
                .append_pair("token", &tokens.access_token);
        }
        AuthTicket {
            generation,
            sent_token,
        }
    }

    /// Decides what to do after a request sent with `ticket` failed with
    /// `err`: [`AuthRecovery::Retry`] once a usable token is in place (renewed
    /// by this caller, by another thread, or by another process sharing the
    /// cache file), else [`AuthRecovery::Fail`] with the error to raise.
    ///
    /// - 401 `token_expired`: one `POST /auth/refresh` for all concurrent
    ///   callers; if the node refuses it, a fresh login when credentials are
    ///   known.
    /// - 401 without a token, or a refused token: a login when credentials
    ///   are known (or can be asked for).
    /// - 403 `token_revoked`, or a refresh answered `token_reuse`: an
    ///   auth-revoked error unless a fresh login succeeds.
    /// - anything else (403 `permission_denied` included) fails as it is.
    pub async fn on_auth_failure(&self, ticket: &AuthTicket, err: Error) -> AuthRecovery {
        let Some(refusal) = Refusal::of(ticket, &err) else {
            return AuthRecovery::Fail(err);
        };
        let state = self.auth_state();
        let flight = state.flight();
        let _single = flight.lock().await;
        let (generation, current) = state.current();
        if generation != ticket.generation {
            log::debug!(target: "calimero::auth", "tokens were renewed meanwhile; replaying");
            return AuthRecovery::Retry;
        }
        // Tokens another process put in the cache file since we read it.
        if self.adopt_cached_tokens(current.as_deref()) {
            return AuthRecovery::Retry;
        }
        let can_refresh = refusal == Refusal::Expired
            && current.as_ref().is_some_and(|t| t.refresh_token.is_some());
        // With neither a refresh token nor credentials only someone at the
        // terminal can help: ask first, before touching the cache file.
        let mut asked = None;
        if !can_refresh && state.credentials().is_none() {
            match self.ask_credentials().await {
                Some(c) => asked = Some(c),
                None => return AuthRecovery::Fail(self.explain(refusal, err)),
            }
        }
        // Renewing: hold the cache file's lock, and look again inside it.
        let _lock = self.lock_cache_file().await;
        if self.adopt_cached_tokens(current.as_deref()) {
            return AuthRecovery::Retry;
        }
        let renewed = match refusal {
            Refusal::Expired if can_refresh => {
                let current = current.as_deref().cloned();
                match self.refresh(current.as_ref()).await {
                    Ok(tokens) => Ok((tokens, None)),
                    Err(refused) => {
                        log::info!(
                            target: "calimero::auth",
                            "the node refused to refresh the token ({})",
                            short_reason(&refused)
                        );
                        let cleared = refusal_is_final(&refused) && self.clear_dead_tokens();
                        self.login_instead(self.refresh_refused(refused, cleared), None)
                            .await
                    }
                }
            }
            _ => self.login_instead(self.explain(refusal, err), asked).await,
        };
        match renewed {
            Ok((tokens, username)) => {
                self.install(tokens, username.as_deref());
                AuthRecovery::Retry
            }
            Err(e) => AuthRecovery::Fail(e),
        }
    }

    /// Logs in with `credentials` (or those already known, or by asking the
    /// [`CredentialPrompt`]) and keeps the tokens, in the cache file too when
    /// the connection has a `node_name`. The credentials are kept to log in
    /// again when a refresh is refused.
    pub async fn login(&self, credentials: Option<Credentials>) -> Result<Tokens, Error> {
        let state = self.auth_state();
        let flight = state.flight();
        let _single = flight.lock().await;
        let credentials = match credentials.or_else(|| state.credentials()) {
            Some(c) => c,
            None => self
                .ask_credentials()
                .await
                .ok_or_else(|| Error::NotAuthenticated {
                    message: format!(
                        "cannot log in: no credentials; {}",
                        self.how_to_authenticate()
                    ),
                })?,
        };
        let _lock = self.lock_cache_file().await;
        let tokens = self.post_login(&credentials).await?;
        state.set_credentials(Some(credentials.clone()));
        self.install(tokens.clone(), Some(credentials.username()));
        Ok(tokens)
    }

    /// Logs out: on releases that have it (0.11.0-rc.83 and later), `POST
    /// /auth/logout` retires the refresh token on the node; then the tokens
    /// and credentials of this connection are forgotten and its cache file
    /// removed, so the next call that needs a token logs in again. The local
    /// part is done whatever the node answers; a node failure other than
    /// "no such route" (an older release) or a refresh token it no longer
    /// knows (401) is returned after it.
    pub async fn logout(&self) -> Result<(), Error> {
        let refresh = self.tokens().and_then(|t| t.refresh_token.clone());
        let mut remote = Ok(());
        let newest = self.knowledge().span.max;
        if let Some(refresh) = refresh.filter(|_| newest >= Release(LOGOUT_SINCE)) {
            let body = serde_json::to_vec(&serde_json::json!({ "refresh_token": refresh }))
                .map_err(|e| Error::Internal(e.to_string()))?;
            let url = self.node_url("/auth/logout")?;
            match self.send_unauthenticated("POST", url, body).await {
                Ok(_) => log::info!(target: "calimero::auth", "the node retired the refresh token"),
                Err(Error::Http(h)) if h.status == 404 || h.status == 405 => {
                    self.learn(
                        Span {
                            min: Release(0),
                            max: Release(LOGOUT_SINCE - 1),
                        },
                        "POST /auth/logout: the node has no such route",
                    );
                }
                Err(Error::Http(h)) if h.status == 401 => {}
                Err(e) => remote = Err(e),
            }
        }
        self.forget_tokens()?;
        log::info!(target: "calimero::auth", "logged out of {}", self.api_url());
        remote
    }

    /// Forgets the tokens and credentials and removes the cache file.
    fn forget_tokens(&self) -> Result<(), Error> {
        let state = self.auth_state();
        state.set_credentials(None);
        state.replace(None);
        if let Some(path) = &state.cache_path {
            cache::remove_tokens_file(path).map_err(|e| {
                Error::Internal(format!(
                    "could not remove the token cache {}: {e}",
                    path.display()
                ))
            })?;
        }
        Ok(())
    }

    /// How to give the connection a way to authenticate, for messages.
    fn how_to_authenticate(&self) -> String {
        let cache = match self.node_name() {
            Some(name) => format!(
                "; tokens cached for node_name {name:?} are read from {}",
                cache::token_cache_path(name).display()
            ),
            None => String::new(),
        };
        format!(
            "pass username and password (or access_token) when creating the connection, \
             set {ENV_USERNAME} and {ENV_PASSWORD} (or {ENV_ACCESS_TOKEN}), \
             or call login(username, password){cache}"
        )
    }

    /// `err` with a message that says how to authenticate.
    fn explain(&self, refusal: Refusal, err: Error) -> Error {
        let Error::Http(mut h) = err else { return err };
        let what = match refusal {
            Refusal::Missing => "the node requires authentication and no token was sent",
            Refusal::Rejected => "the node refused the token",
            Refusal::Expired => "the token expired and cannot be refreshed",
            Refusal::Revoked => "the token was revoked; log in again",
        };
        let detail = if h.message.is_empty() || h.message == "Unauthorized" {
            String::new()
        } else {
            format!(" ({})", h.message)
        };
        h.message = format!("{what}{detail}: {}", self.how_to_authenticate());
        Error::Http(h)
    }

    /// A refused refresh, with a message that says how to authenticate
    /// (and that the dead tokens were cleared, when they were).
    fn refresh_refused(&self, err: Error, cleared: bool) -> Error {
        let Error::Http(mut h) = err else { return err };
        let cleared = if cleared {
            "; the tokens it refused were cleared from this connection and its token cache \
             (a node upgraded to 0.11.0-rc.83 refuses tokens of older releases): log in again"
        } else {
            ""
        };
        h.message = format!(
            "the node refused to refresh the token ({}){cleared}: {}",
            h.message,
            self.how_to_authenticate()
        );
        Error::Http(h)
    }

    /// Drops tokens the node will never take again (their refresh was
    /// refused for good) from the connection and its cache file, so that
    /// neither this process nor merobox keeps offering them. Returns whether
    /// anything was cleared.
    fn clear_dead_tokens(&self) -> bool {
        let state = self.auth_state();
        let had = state.current().1.is_some();
        state.replace(None);
        if let Some(path) = &state.cache_path {
            if let Err(e) = cache::remove_tokens_file(path) {
                log::warn!(
                    target: "calimero::auth",
                    "could not remove the token cache {}: {e}",
                    path.display()
                );
            }
        }
        log::warn!(
            target: "calimero::auth",
            "the node refused to refresh the tokens for good; they were cleared"
        );
        had
    }

    /// Asks the prompt (a person at a terminal) on a thread of the
    /// runtime's blocking pool: the wait holds no runtime worker, so other
    /// calls, streams and subscriptions go on meanwhile.
    async fn ask_credentials(&self) -> Option<Credentials> {
        let prompt = Arc::clone(self.auth_state().prompt.as_ref()?);
        let (url, name) = (
            self.api_url().to_owned(),
            self.node_name().map(str::to_owned),
        );
        tokio::task::spawn_blocking(move || prompt.credentials(&url, name.as_deref()))
            .await
            .ok()
            .flatten()
    }

    /// A fresh login in place of a refresh or a refused token, with the
    /// known credentials, else those `asked` already, else asking now:
    /// `Err(err)` when there are none; the login's error when it fails,
    /// except that a revoked token stays an auth-revoked error.
    async fn login_instead(
        &self,
        err: Error,
        asked: Option<Credentials>,
    ) -> Result<(Tokens, Option<String>), Error> {
        let state = self.auth_state();
        let (credentials, asked) = match state.credentials().or(asked) {
            Some(c) => (c, state.credentials().is_none()),
            None => match self.ask_credentials().await {
                Some(c) => (c, true),
                None => return Err(err),
            },
        };
        match self.post_login(&credentials).await {
            Ok(tokens) => {
                if asked {
                    state.set_credentials(Some(credentials.clone()));
                }
                Ok((tokens, Some(credentials.username().to_owned())))
            }
            Err(login_err) => match err {
                Error::Http(mut h) if err_is_revoked(&h) => {
                    h.message = format!(
                        "{}; a fresh login failed too: {}",
                        h.message,
                        short_reason(&login_err)
                    );
                    Err(Error::Http(h))
                }
                _ => Err(login_err),
            },
        }
    }

    /// Logs in with the connection's device (`account_proof`; swift
    /// `RelayLogin.swift`): `GET /auth/challenge`, then a login statement
    /// the device key signs for `node_key` (the node's signing key, as
    /// pinned: `GET /admin-api/identity`'s `publicKey`), `audience` and a
    /// fresh session key, valid `valid_for` seconds, sent to `POST
    /// /auth/token` with the credential. Returns the account's session
    /// tokens; this connection keeps signing its requests (use the tokens
    /// with a connection of their own).
    pub async fn login_account_proof(
        &self,
        node_key: [u8; 32],
        audience: crate::delegated::Audience,
        valid_for: u64,
    ) -> Result<Tokens, Error> {
        use crate::delegated::{LoginStatement, SecretKey};
        let device = self
            .auth_state()
            .device
            .clone()
            .ok_or_else(|| Error::NotAuthenticated {
                message: "an account_proof login needs device_credential and device_secret on the \
                      connection"
                    .into(),
            })?;
        let secret = device.device_secret().ok_or_else(|| {
            Error::invalid(
                "device_session",
                "an account_proof login is signed by the device key itself: make the \
                 connection with device_secret and without device_session",
            )
        })?;
        let url = self.node_url("/auth/challenge")?;
        let reply = self.send_unauthenticated("GET", url, Vec::new()).await?;
        let challenge = serde_json::from_slice::<serde_json::Value>(&reply.body)
            .ok()
            .and_then(|v| {
                let c = v
                    .get("challenge")
                    .or_else(|| v.get("data")?.get("challenge"))?;
                crate::delegated::keys::hex32("challenge", c.as_str()?).ok()
            })
            .ok_or_else(|| reply.malformed("expected {\"challenge\": 64 hex characters}"))?;
        let mut seed = zeroize::Zeroizing::new([0u8; 32]);
        getrandom::fill(seed.as_mut_slice())
            .map_err(|e| Error::Internal(format!("no randomness for a session key: {e}")))?;
        let session_key = SecretKey::from_bytes(&seed).public_key();
        let now = now_secs();
        let statement = LoginStatement::sign(
            secret,
            node_key,
            audience,
            challenge,
            session_key,
            now,
            now.saturating_add(valid_for),
        );
        let body = serde_json::json!({
            "auth_method": "account_proof",
            "public_key": hex::encode(session_key),
            "client_name": self.api_url(),
            "timestamp": now,
            "provider_data": {
                "challenge": hex::encode(challenge),
                "login_statement": hex::encode(statement.encode()),
                "account_proof": device.credential().to_hex(),
            },
        });
        let tokens = self.post_for_tokens("/auth/token", &body).await?;
        log::info!(
            target: "calimero::auth",
            "logged in to {} as account {} (account_proof)",
            self.api_url(),
            hex::encode(device.credential().account)
        );
        Ok(tokens)
    }

    /// `POST /auth/token` with the `user_password` provider, as merobox sends
    /// it: `client_name` is the node URL, which becomes the token's
    /// `node_url` claim (core:crates/auth/src/api/handlers/auth.rs,
    /// `token_handler`).
    async fn post_login(&self, credentials: &Credentials) -> Result<Tokens, Error> {
        let body = serde_json::json!({
            "auth_method": AUTH_METHOD,
            "public_key": credentials.username(),
            "client_name": self.api_url(),
            "timestamp": now_secs(),
            "provider_data": {
                "username": credentials.username(),
                "password": credentials.password(),
            },
        });
        let tokens = self.post_for_tokens("/auth/token", &body).await?;
        log::info!(
            target: "calimero::auth",
            "logged in to {} as {:?}",
            self.api_url(),
            credentials.username()
        );
        Ok(tokens)
    }

    /// `POST /auth/refresh` with the pair (core:crates/auth/src/api/handlers/auth.rs,
    /// `refresh_token_handler`).
    async fn refresh(&self, current: Option<&Tokens>) -> Result<Tokens, Error> {
        let Some((access, Some(refresh))) = current.map(|t| (&t.access_token, &t.refresh_token))
        else {
            return Err(Error::Internal("no refresh token to refresh with".into()));
        };
        let body = serde_json::json!({"access_token": access, "refresh_token": refresh});
        let tokens = self.post_for_tokens("/auth/refresh", &body).await?;
        log::info!(target: "calimero::auth", "refreshed the access token for {}", self.api_url());
        Ok(tokens)
    }

    /// POSTs to an auth route (no token, no recovery) and reads the pair from
    /// `{"data": {"access_token", "refresh_token"}}`.
    async fn post_for_tokens(&self, path: &str, body: &serde_json::Value) -> Result<Tokens, Error> {
        let bytes = serde_json::to_vec(body).map_err(|e| Error::Internal(e.to_string()))?;
        let url = self.node_url(path)?;
        let reply = self.send_unauthenticated("POST", url, bytes).await?;
        let pair = serde_json::from_slice::<serde_json::Value>(&reply.body)
            .ok()
            .and_then(|v| {
                let data = v.get("data")?;
                let access = data.get("access_token")?.as_str()?.to_owned();
                let refresh = data
                    .get("refresh_token")
                    .and_then(|r| r.as_str())
                    .map(str::to_owned);
                Some((access, refresh))
            })
            .filter(|(a, _)| check_header_safe(a, "access_token").is_ok());
        match pair {
            Some((access, refresh)) => Ok(Tokens::new(access, refresh)),
            // The body is left out: it may hold a token.
            None => Err(Error::MalformedResponse {
                method: "POST".into(),
                url: reply.url.clone(),
                message: "expected {\"data\": {\"access_token\": ..., \"refresh_token\": ...}}"
                    .into(),
                body: String::new(),
            }),
        }
    }

    /// Puts renewed tokens in place and writes them to the cache file.
    fn install(&self, tokens: Tokens, username: Option<&str>) {
        let state = self.auth_state();
        state.replace(Some(tokens.clone()));
        if let Some(path) = &state.cache_path {
            let meta = CacheMeta {
                node_url: self.api_url(),
                username,
            };
            if let Err(e) = cache::write_tokens_file(path, &tokens, meta) {
                log::warn!(
                    target: "calimero::auth",
                    "could not write the token cache {}: {e}",
                    path.display()
                );
            }
        }
    }

    /// Adopts the cache file's tokens when they differ from `current` and are
    /// not older: another process renewed them (or logged in) meanwhile.
    fn adopt_cached_tokens(&self, current: Option<&Tokens>) -> bool {
        let state = self.auth_state();
        let Some(path) = &state.cache_path else {
            return false;
        };
        let Some(cached) = cache::read_tokens_file(path) else {
            return false;
        };
        let adopt = match current {
            None => true,
            Some(c) if c.access_token == cached.access_token => false,
            Some(c) => match (c.expires_at, cached.expires_at) {
                (Some(mine), Some(theirs)) => theirs > mine,
                _ => true,
            },
        };
        if adopt && check_header_safe(&cached.access_token, "access_token").is_ok() {
            log::info!(
                target: "calimero::auth",
                "using the tokens renewed in {}",
                path.display()
            );
            state.replace(Some(cached));
            return true;
        }
        false
    }

    /// Takes the advisory lock of the cache file, waiting at most the
    /// request timeout (plus a margin) for another process to finish. `None`
    /// without a cache file, or when the lock cannot be had (with a warning:
    /// renewing without it is still better than failing the call).
    async fn lock_cache_file(&self) -> Option<CacheLock> {
        let path = self.auth_state().cache_path.as_ref()?;
        let file = match cache::open_lock_file(path) {
            Ok(f) => f,
            Err(e) => {
                log::warn!(
                    target: "calimero::auth",
                    "could not open the token cache lock {}: {e}",
                    cache::lock_path(path).display()
                );
                return None;
            }
        };
        let deadline = Instant::now() + self.timeout() + Duration::from_secs(5);
        loop {
            match fs4::FileExt::try_lock(&file) {
                Ok(()) => return Some(CacheLock { _file: file }),
                Err(fs4::TryLockError::WouldBlock) if Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
                Err(e) => {
                    log::warn!(
                        target: "calimero::auth",
                        "could not lock the token cache {}: {e}; renewing without the lock",
                        cache::lock_path(path).display()
                    );
                    return None;
                }
            }
        }
    }
}

/// Whether a refused refresh is for good: 401 or 403 for any reason but
/// "Access token still valid" (the node refuses to refresh within 60 s of
/// the expiry, node-api.md 2.3, and will refresh later).
fn refusal_is_final(err: &Error) -> bool {
    match err {
        Error::Http(h) => {
            matches!(h.status, 401 | 403) && !h.message.to_ascii_lowercase().contains("still valid")
        }
        _ => false,
    }
}

fn err_is_revoked(h: &crate::error::HttpFailure) -> bool {
    matches!(
        h.auth_error.as_deref(),
        Some("token_revoked" | "token_reuse")
    )
}

/// A failure in a few words, for log lines and combined messages.
fn short_reason(err: &Error) -> String {
    match err {
        Error::Http(h) => format!("HTTP {}: {}", h.status, h.message),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jwt(exp: i64) -> String {
        let claims = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(format!(r#"{{"sub":"k","exp":{exp}}}"#));
        format!("eyJhbGciOiJIUzI1NiJ9.{claims}.c2ln")
    }

    #[test]
    fn expiry_comes_from_the_exp_claim() {
        assert_eq!(jwt_exp(&jwt(1_795_305_022)), Some(1_795_305_022));
        assert_eq!(jwt_exp("not-a-jwt"), None);
        assert_eq!(jwt_exp("a.%%%.c"), None);
        let t = Tokens::new(jwt(7), Some(String::new()));
        assert_eq!((t.expires_at, t.refresh_token), (Some(7), None));
    }

    #[test]
    fn secrets_stay_out_of_debug_output() {
        let t = Tokens::new("secret-access".into(), Some("secret-refresh".into()));
        let c = Credentials::new("admin", "secret-password").unwrap();
        let o = AuthOptions {
            tokens: Some(t.clone()),
            credentials: Some(c.clone()),
            ..Default::default()
        };
        for shown in [format!("{t:?}"), format!("{c:?}"), format!("{o:?}")] {
            assert!(!shown.contains("secret"), "{shown}");
        }
        assert!(format!("{c:?}").contains("admin"));
    }

    #[test]
    fn credentials_must_be_complete() {
        assert!(Credentials::new("", "p")
            .unwrap_err()
            .to_string()
            .starts_with("username:"));
        assert!(Credentials::new("u", "")
            .unwrap_err()
            .to_string()
            .starts_with("password:"));
    }

    #[test]
    fn refusals_are_classified() {
        let with = AuthTicket {
            generation: 0,
            sent_token: true,
        };
        let without = AuthTicket {
            generation: 0,
            sent_token: false,
        };
        let http = |status, auth_error: Option<&str>| {
            Error::Http(Box::new(crate::error::HttpFailure {
                status,
                message: String::new(),
                method: "GET".into(),
                url: "http://n/x".into(),
                body: String::new(),
                headers: Vec::new(),
                auth_error: auth_error.map(str::to_owned),
                retry_after: None,
            }))
        };
        assert_eq!(
            Refusal::of(&with, &http(401, Some("token_expired"))),
            Some(Refusal::Expired)
        );
        assert_eq!(
            Refusal::of(&with, &http(403, Some("token_revoked"))),
            Some(Refusal::Revoked)
        );
        assert_eq!(
            Refusal::of(&without, &http(401, None)),
            Some(Refusal::Missing)
        );
        assert_eq!(
            Refusal::of(&with, &http(401, None)),
            Some(Refusal::Rejected)
        );
        assert_eq!(
            Refusal::of(&with, &http(403, Some("permission_denied"))),
            None
        );
        assert_eq!(Refusal::of(&with, &http(404, None)), None);
        let mut with_body = http(401, None);
        if let Error::Http(h) = &mut with_body {
            h.body = "{\"error\":\"elsewhere\"}".into();
        }
        assert_eq!(Refusal::of(&without, &with_body), None);
        assert_eq!(Refusal::of(&with, &Error::Internal("x".into())), None);
    }
}
