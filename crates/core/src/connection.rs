//! A connection to one node: its base URL, one pooled HTTP client shared by
//! every client made from it, timeouts, and the token it sends.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use reqwest::header::{
    HeaderMap, HeaderName, HeaderValue, AUTHORIZATION, CONTENT_TYPE, LOCATION, RETRY_AFTER,
};
use serde::Deserialize;

use crate::auth::{AuthOptions, AuthRecovery, AuthState, AuthTicket, MAX_AUTH_RETRIES};
use crate::endpoints::{Endpoint, Verb};
use crate::error::{failure_message, truncate, Error, HttpFailure, RpcFailure, ERROR_BODY_LIMIT};
use crate::release::{Knowledge, Release};
use crate::request::{prepare, ArgValue, Prepared};

/// Connect timeout used when none is given.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Whole-request timeout used when none is given.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);

/// The `User-Agent` of every request.
pub(crate) const USER_AGENT: &str = concat!("calimero-client-py/", env!("CARGO_PKG_VERSION"));

/// Retries after a failure that is safe to retry, unless told otherwise.
pub const DEFAULT_MAX_RETRIES: u32 = 2;
/// The largest answer read into memory (JSON answers; blob downloads have
/// their own limits); more is a `MalformedResponse` error, not an
/// exhausted process.
pub const DEFAULT_MAX_RESPONSE_BYTES: u64 = 64 * 1024 * 1024;
/// How much of a failure's body is read (the rest is dropped).
pub const MAX_ERROR_BODY_BYTES: u64 = 64 * 1024;
/// First retry delay; doubled per retry, with jitter, capped below.
const RETRY_BASE: Duration = Duration::from_millis(500);
const RETRY_CAP: Duration = Duration::from_secs(8);
/// The longest `Retry-After` honoured; longer ones are not retried.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(60);

/// Settings of a connection.
#[derive(Clone)]
pub struct Config {
    pub connect_timeout: Duration,
    /// The whole-request timeout (blob transfers: the idle timeout).
    pub timeout: Duration,
    /// Retries of a failed request that is safe to repeat (see
    /// [`Connection::retry_delay`]); 0 disables them.
    pub max_retries: u32,
    pub max_response_bytes: u64,
    /// Extra trusted root certificates (PEM), beside the platform's.
    pub ca_pem: Option<Vec<u8>>,
    /// Seal every request to a TEE node's transport key ([`crate::sealed`]).
    pub sealed: Option<crate::sealed::SealedConfig>,
    /// The node's release, when the caller pins it (no detection).
    pub node_version: Option<Release>,
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("connect_timeout", &self.connect_timeout)
            .field("timeout", &self.timeout)
            .field("max_retries", &self.max_retries)
            .field("max_response_bytes", &self.max_response_bytes)
            .field("ca_pem", &self.ca_pem.as_ref().map(|p| p.len()))
            .field("sealed", &self.sealed.is_some())
            .field("node_version", &self.node_version)
            .finish()
    }
}

impl Default for Config {
    fn default() -> Self {
        Config {
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            timeout: DEFAULT_TIMEOUT,
            max_retries: DEFAULT_MAX_RETRIES,
            max_response_bytes: DEFAULT_MAX_RESPONSE_BYTES,
            ca_pem: None,
            sealed: None,
            node_version: None,
        }
    }
}

/// What may differ per call (`with_options`): the request timeout and the
/// retries. Everything else is the connection's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CallOptions {
    pub timeout: Duration,
    pub max_retries: u32,
}

/// Whether a node wants a token (node-api.md 2.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthMode {
    None,
    Required,
}

impl AuthMode {
    pub fn as_str(self) -> &'static str {
        match self {
            AuthMode::None => "none",
            AuthMode::Required => "required",
        }
    }
}

/// A successful answer.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Bytes,
    /// Keys to descend into the decoded body for what the call returns.
    pub select: &'static [&'static str],
    /// The request's method and URL (without secrets), for error messages.
    pub method: &'static str,
    pub url: String,
}

/// Longest path (with its query) a raw request may have: servers refuse
/// longer request lines (hyper's default limit is about this).
pub const MAX_RAW_PATH: usize = 8 * 1024;

/// A validated raw request (see [`Connection::prepare_raw`]).
#[derive(Clone)]
pub struct RawRequest {
    method: &'static str,
    url: url::Url,
    body: Option<Vec<u8>>,
}

impl RawRequest {
    /// The method, upper case.
    pub fn method(&self) -> &'static str {
        self.method
    }

    /// The resolved URL (it may carry a query the caller gave, token
    /// included: not for display).
    pub fn url(&self) -> &url::Url {
        &self.url
    }
}

impl std::fmt::Debug for RawRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RawRequest")
            .field("method", &self.method)
            .field("url", &redact(&self.url))
            .finish_non_exhaustive()
    }
}

/// A connection; cheap to clone (the clones share one HTTP pool).
#[derive(Clone)]
pub struct Connection {
    inner: Arc<Inner>,
    options: CallOptions,
}

/// Shows the URL and node name, never the token.
impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection")
            .field("api_url", &self.inner.api_url)
            .field("node_name", &self.inner.node_name)
            .finish_non_exhaustive()
    }
}

struct Inner {
    base: url::Url,
    api_url: String,
    node_name: Option<String>,
    /// The pooled HTTP client and the process it belongs to: a forked child
    /// cannot use its parent's pooled connections and builds its own. None
    /// once the connection is closed.
    http: Mutex<(u32, Option<reqwest::Client>)>,
    config: Config,
    auth: AuthState,
    rpc_id: AtomicU64,
    warned_plain_http: std::sync::atomic::AtomicBool,
    /// Set when every request is sealed to a TEE node ([`Connection::dispatch`]).
    sealed: Option<crate::sealed::Channel>,
    /// What is known of the node's release (crate::detect).
    release: Mutex<Knowledge>,
    /// Held while the release probe runs: one probe at a time.
    probe: tokio::sync::Mutex<()>,
}

impl Connection {
    /// A connection to the node at `api_url` (http or https), authenticating
    /// with what the environment and the token cache of `node_name` give.
    pub fn new(api_url: &str, node_name: Option<String>, config: Config) -> Result<Self, Error> {
        Self::with_auth(api_url, node_name, config, AuthOptions::default())
    }

    /// A connection with explicit authentication options (see [`crate::auth`]).
    pub fn with_auth(
        api_url: &str,
        node_name: Option<String>,
        config: Config,
        auth: AuthOptions,
    ) -> Result<Self, Error> {
        let base = crate::ids::http_url("api_url", api_url.trim())?;
        if base.query().is_some() || base.fragment().is_some() {
            return Err(Error::invalid(
                "api_url",
                "expected a URL without a query or fragment",
            ));
        }
        if !base.username().is_empty() || base.password().is_some() {
            return Err(Error::invalid(
                "api_url",
                "credentials in the URL are not supported",
            ));
        }
        if let Some(name) = &node_name {
            crate::ids::text("node_name", name, 1024)?;
        }
        if config.timeout.is_zero() || config.connect_timeout.is_zero() {
            return Err(Error::invalid(
                "timeout",
                "expected a positive number of seconds",
            ));
        }
        let sealed = config.sealed.as_ref().map(crate::sealed::Channel::new);
        let api_url = base.as_str().trim_end_matches('/').to_owned();
        // Tokens passed in, from the environment, or cached for this node
        // name (by merobox, or an earlier run).
        let auth = AuthState::new(node_name.as_deref(), auth)?;
        let http = build_http(&config, auth.device.is_some())?;
        let options = CallOptions {
            timeout: config.timeout,
            max_retries: config.max_retries,
        };
        let release = match config.node_version {
            Some(r) => Knowledge::pinned(r),
            None => Knowledge::default(),
        };
        Ok(Connection {
            inner: Arc::new(Inner {
                base,
                api_url,
                node_name,
                http: Mutex::new((crate::runtime::pid(), Some(http))),
                config,
                auth,
                rpc_id: AtomicU64::new(1),
                warned_plain_http: std::sync::atomic::AtomicBool::new(false),
                sealed,
                release: Mutex::new(release),
                probe: tokio::sync::Mutex::new(()),
            }),
            options,
        })
    }

    /// The same connection (pool, tokens) with other per-call options.
    pub fn with_options(&self, timeout: Option<Duration>, max_retries: Option<u32>) -> Self {
        let mut options = self.options;
        if let Some(t) = timeout {
            options.timeout = t;
        }
        if let Some(r) = max_retries {
            options.max_retries = r;
        }
        Connection {
            inner: Arc::clone(&self.inner),
            options,
        }
    }

    /// This connection's per-call options.
    pub fn options(&self) -> CallOptions {
        self.options
    }

    /// The request timeout of this connection (or of its `with_options`).
    pub fn timeout(&self) -> Duration {
        self.options.timeout
    }

    /// How long to wait before retrying a failed attempt (`attempt` counts
    /// from 0), or `None` when it must not be retried: only connections that
    /// failed before the request was sent (any method), and 429, 502, 503 and
    /// 504 answers to methods that are safe to repeat (GET, HEAD, PUT,
    /// DELETE). A POST whose outcome is unknown is never replayed.
    /// `Retry-After` is honoured up to a minute; otherwise exponential
    /// backoff with jitter.
    pub fn retry_delay(&self, err: &Error, method: &str, attempt: u32) -> Option<Duration> {
        if attempt >= self.options.max_retries {
            return None;
        }
        let idempotent = matches!(method, "GET" | "HEAD" | "PUT" | "DELETE");
        let retry_after = match err {
            Error::Network { connect: true, .. } => None,
            Error::Http(h) if idempotent && matches!(h.status, 429 | 502 | 503 | 504) => {
                match h.retry_after {
                    Some(s) if s <= MAX_RETRY_AFTER.as_secs_f64() => Some(s),
                    Some(_) => return None,
                    None => None,
                }
            }
            _ => return None,
        };
        Some(match retry_after {
            Some(seconds) => Duration::from_secs_f64(seconds),
            None => backoff(attempt),
        })
    }

    /// The pooled HTTP client of this process (inside
    /// [`crate::runtime::block_on_local`]: this thread's own pool).
    fn http(&self) -> Result<reqwest::Client, Error> {
        let mut slot = self.lock_http()?;
        let pid = crate::runtime::pid();
        match &slot.1 {
            None => Err(closed()),
            Some(_) if crate::runtime::in_local() => {
                drop(slot);
                let signs = self.signs_requests();
                crate::runtime::local_client(&self.inner, || build_http(&self.inner.config, signs))
            }
            Some(_) if slot.0 != pid => {
                let http = build_http(&self.inner.config, self.signs_requests())?;
                *slot = (pid, Some(http.clone()));
                Ok(http)
            }
            Some(http) => Ok(http.clone()),
        }
    }

    fn lock_http(
        &self,
    ) -> Result<std::sync::MutexGuard<'_, (u32, Option<reqwest::Client>)>, Error> {
        self.inner
            .http
            .lock()
            .map_err(|_| Error::Internal("the HTTP client lock is poisoned".into()))
    }

    /// Closes the connection, for every clone and `with_options` copy of it:
    /// its pooled HTTP connections are dropped (requests under way finish
    /// first) and later requests fail at once. Closing twice is harmless.
    pub fn close(&self) -> Result<(), Error> {
        self.lock_http()?.1 = None;
        crate::runtime::drop_local_client(&self.inner);
        Ok(())
    }

    /// Whether [`Connection::close`] was called.
    pub fn is_closed(&self) -> bool {
        self.lock_http().map_or(true, |slot| slot.1.is_none())
    }

    /// The base URL, without a trailing slash.
    pub fn api_url(&self) -> &str {
        &self.inner.api_url
    }

    pub fn node_name(&self) -> Option<&str> {
        self.inner.node_name.as_deref()
    }

    /// The connection's settings (its defaults; see [`Connection::options`]
    /// for what `with_options` changed).
    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    pub(crate) fn auth_state(&self) -> &AuthState {
        &self.inner.auth
    }

    pub(crate) fn inner_release(&self) -> &Mutex<Knowledge> {
        &self.inner.release
    }

    pub(crate) fn probe_lock(&self) -> &tokio::sync::Mutex<()> {
        &self.inner.probe
    }

    pub(crate) fn next_rpc_id(&self) -> u64 {
        self.inner.rpc_id.fetch_add(1, Ordering::Relaxed)
    }

    /// Validates the arguments of an endpoint and builds its request for
    /// the release known now, with no I/O (no probe): a bad argument fails
    /// here. [`Connection::check`] and [`Connection::resolve`] probe the
    /// release when the request depends on it.
    pub fn prepare(
        &self,
        endpoint: &Endpoint,
        args: &[Option<ArgValue>],
    ) -> Result<Prepared, Error> {
        prepare(endpoint, args, self.next_rpc_id(), self.release())
    }

    /// Sends a prepared request and checks the answer.
    pub async fn send(&self, mut prepared: Prepared) -> Result<Reply, Error> {
        let url = self.url(&prepared.path, &prepared.query)?;
        let method = prepared.verb.as_str();
        let body = prepared.body.take();
        let reply = match self.execute(method, url.clone(), body, true).await {
            Ok(reply) => reply,
            Err(err) => return Err(self.route_missing(&prepared, err)),
        };
        self.learn_from_reply(&reply.body, prepared.name);
        if let Some((rpc_method, app_method)) = prepared.rpc {
            if prepared.output.raises_rpc_errors() {
                check_rpc(&reply.body, rpc_method, app_method, &url)?;
            }
        }
        Ok(Reply {
            select: prepared.output.select(),
            ..reply
        })
    }

    /// Checks, resolves and sends in one step.
    pub async fn invoke(
        &self,
        endpoint: &'static Endpoint,
        args: &[Option<ArgValue>],
    ) -> Result<Reply, Error> {
        let checked = self.check(vec![(endpoint, args.to_vec())])?;
        let prepared = self.resolve(checked).await?;
        self.send(prepared).await
    }

    /// The escape hatch: any method on any path below the base URL, with an
    /// optional JSON body. `path` may carry a query string.
    pub async fn request(
        &self,
        method: &str,
        path: &str,
        json: Option<serde_json::Value>,
    ) -> Result<Reply, Error> {
        let raw = self.prepare_raw(method, path, json)?;
        self.send_raw(raw).await
    }

    /// Validates a raw request and resolves its URL, with no I/O: the method
    /// is GET, POST, PUT, DELETE or HEAD; the path stays below the base URL.
    pub fn prepare_raw(
        &self,
        method: &str,
        path: &str,
        json: Option<serde_json::Value>,
    ) -> Result<RawRequest, Error> {
        let verb = match method.to_ascii_uppercase().as_str() {
            "GET" => Verb::Get,
            "POST" => Verb::Post,
            "PUT" => Verb::Put,
            "DELETE" => Verb::Delete,
            "HEAD" => Verb::Head,
            _ => {
                return Err(Error::invalid(
                    "method",
                    format!(
                        "expected one of GET, POST, PUT, DELETE, HEAD, got {}",
                        crate::ids::shown(method)
                    ),
                ))
            }
        };
        let url = self.raw_url(path)?;
        let body = json
            .map(|v| serde_json::to_vec(&v))
            .transpose()
            .map_err(|e| Error::invalid("json", e.to_string()))?;
        Ok(RawRequest {
            method: verb.as_str(),
            url,
            body,
        })
    }

    /// Sends a request made by [`Connection::prepare_raw`].
    pub async fn send_raw(&self, raw: RawRequest) -> Result<Reply, Error> {
        self.execute(raw.method, raw.url, raw.body, true).await
    }

    /// Probes the node (node-api.md 2.1): an unauthenticated `GET
    /// /admin-api/contexts` answers 401 (or 403) when a token is required
    /// and 2xx when not. Any other answer, or no answer, raises.
    pub async fn detect_auth_mode(&self) -> Result<AuthMode, Error> {
        let url = self.url("/admin-api/contexts", &[("limit", "1".into())])?;
        match self.execute("GET", url, None, false).await {
            Ok(_) => Ok(AuthMode::None),
            Err(Error::Http(h)) if h.status == 401 || h.status == 403 => Ok(AuthMode::Required),
            Err(e) => Err(e),
        }
    }

    pub(crate) fn url(
        &self,
        path: &str,
        query: &[(&'static str, String)],
    ) -> Result<url::Url, Error> {
        // Appended to the base path, so a reverse-proxy prefix survives;
        // `path` segments are already percent-encoded by the builder.
        let mut url = self.inner.base.clone();
        let joined = format!(
            "{}/{}",
            url.path().trim_end_matches('/'),
            path.trim_start_matches('/')
        );
        url.set_path(&joined);
        if !query.is_empty() {
            let mut pairs = url.query_pairs_mut();
            for (k, v) in query {
                pairs.append_pair(k, v);
            }
        }
        Ok(url)
    }

    /// `path` (relative to the base URL, with an optional query) as a URL.
    /// Refuses absolute URLs, `.`/`..` segments and control characters, so a
    /// raw request cannot leave the node's base path.
    fn raw_url(&self, path: &str) -> Result<url::Url, Error> {
        if path.len() > MAX_RAW_PATH {
            return Err(Error::invalid(
                "path",
                format!(
                    "expected at most {MAX_RAW_PATH} bytes (with the query), got {}",
                    path.len()
                ),
            ));
        }
        if path
            .chars()
            .any(|c| c.is_control() || c == '\\' || c == ' ')
        {
            return Err(Error::invalid(
                "path",
                "control characters, spaces and backslashes are not allowed",
            ));
        }
        if path.contains("://") || path.starts_with("//") {
            return Err(Error::invalid(
                "path",
                "expected a path relative to the node URL, not a URL",
            ));
        }
        let (p, q) = match path.split_once('?') {
            Some((p, q)) => (p, Some(q)),
            None => (path, None),
        };
        // Whatever a segment percent-decodes to, it may not be `.` or `..`
        // (the URL parser treats `.%2e` and `%2E.` as `..` too).
        if p.split('/').any(|s| {
            let decoded = percent_encoding::percent_decode_str(s).decode_utf8_lossy();
            decoded == "." || decoded == ".."
        }) {
            return Err(Error::invalid(
                "path",
                "'.' and '..' segments are not allowed",
            ));
        }
        if p.trim_matches('/').is_empty() {
            return Err(Error::invalid(
                "path",
                "expected a path such as /admin-api/health",
            ));
        }
        let mut url = self.url(p, &[])?;
        url.set_query(q.filter(|q| !q.is_empty()));
        Ok(url)
    }

    /// `path` (a node route such as `/auth/token`) below the base URL.
    pub(crate) fn node_url(&self, path: &str) -> Result<url::Url, Error> {
        self.url(path, &[])
    }

    /// Sends a JSON body without a token and without any recovery (the
    /// auth routes themselves).
    pub(crate) async fn send_unauthenticated(
        &self,
        method: &'static str,
        url: url::Url,
        json: Vec<u8>,
    ) -> Result<Reply, Error> {
        let shown_url = redact(&url);
        // The auth routes carry credentials or tokens in their bodies.
        self.warn_if_plain_http(&url);
        let verb = reqwest::Method::from_bytes(method.as_bytes())
            .map_err(|e| Error::Internal(e.to_string()))?;
        let credential = self.credential(method, &url, &json, false)?;
        let (request, _) = credential.apply(self.http()?.request(verb, url));
        let request = request
            .timeout(self.options.timeout)
            .header(CONTENT_TYPE, "application/json")
            .body(json);
        let response = self.dispatch(request, method, &shown_url).await?;
        read_response(method, &shown_url, response, MAX_ERROR_BODY_BYTES).await
    }

    /// Sends a request; `with_token` requests carry the current token and,
    /// when the node refuses it, go through [`Connection::on_auth_failure`]
    /// and are replayed (at most [`MAX_AUTH_RETRIES`] times).
    pub(crate) async fn execute(
        &self,
        method: &'static str,
        url: url::Url,
        body: Option<Vec<u8>>,
        mut with_token: bool,
    ) -> Result<Reply, Error> {
        let (mut method, mut url) = (method, url);
        let mut shown_url = redact(&url);
        let mut body = body.map(Bytes::from);
        let mut auth_retries = 0;
        let mut attempt = 0;
        let mut redirects = 0;
        // When the request times out on the direct lane: one deadline for
        // a chain of redirects, as reqwest has; a fresh one per retry.
        let mut deadline = None;
        loop {
            let signed = body.as_deref().unwrap_or_default();
            let (result, ticket, went_direct) = if self.lane_open(&url)? {
                let credential = self.credential(method, &url, signed, with_token)?;
                let until = *deadline
                    .get_or_insert_with(|| std::time::Instant::now() + self.options.timeout);
                let reply = self
                    .send_direct(
                        method,
                        &url,
                        credential.header,
                        body.clone(),
                        &shown_url,
                        until,
                    )
                    .await;
                (reply, credential.ticket, true)
            } else {
                let (mut request, ticket) =
                    self.builder(method, url.clone(), with_token, signed)?;
                request = request.timeout(self.options.timeout);
                if let Some(body) = &body {
                    request = request
                        .header(CONTENT_TYPE, "application/json")
                        .body(body.clone());
                }
                (
                    Box::pin(self.receive(method, &shown_url, request)).await,
                    ticket,
                    false,
                )
            };
            let err = match result {
                Ok(reply) => return Ok(reply),
                Err(err) => err,
            };
            // Redirects met by the direct lane, and every redirect of a
            // signing connection (to sign each hop), are followed here.
            if let Some(hop) = self.redirect(&err, method, &url, &mut redirects, went_direct)? {
                (method, url) = (hop.method, hop.url);
                shown_url = redact(&url);
                if !hop.keep_body {
                    body = None;
                }
                // A token stays with its origin.
                with_token &= hop.same_origin;
                continue;
            }
            deadline = None;
            let err = match ticket {
                Some(ticket) if auth_retries < MAX_AUTH_RETRIES => {
                    match Box::pin(self.on_auth_failure(&ticket, err)).await {
                        AuthRecovery::Retry => {
                            auth_retries += 1;
                            continue;
                        }
                        AuthRecovery::Fail(err) => err,
                    }
                }
                _ => err,
            };
            match self.retry_delay(&err, method, attempt) {
                Some(delay) => {
                    log::debug!(
                        target: "calimero::retry",
                        "{method} {shown_url}: retry {} in {:.2}s after: {err}",
                        attempt + 1,
                        delay.as_secs_f64()
                    );
                    attempt += 1;
                    tokio::time::sleep(delay).await;
                }
                None => return Err(err),
            }
        }
    }

    /// Sends `request` and reads the whole answer (at most
    /// `max_response_bytes`); a failure status is an error.
    async fn receive(
        &self,
        method: &'static str,
        shown_url: &str,
        request: reqwest::RequestBuilder,
    ) -> Result<Reply, Error> {
        let response = self.dispatch(request, method, shown_url).await?;
        self.read_reply(response, method, shown_url.to_owned())
            .await
    }

    /// Whether a request to `url` may go by this thread's direct lane
    /// ([`crate::lane`]): a blocking call over plain HTTP to the node's own
    /// origin (the lane's connections all go there; a redirect elsewhere
    /// goes through reqwest), not sealed, with no proxy in the environment.
    pub(crate) fn lane_open(&self, url: &url::Url) -> Result<bool, Error> {
        if url.scheme() != "http"
            || self.is_sealed()
            || !(crate::runtime::in_local() || crate::runtime::in_loop())
            || url.host() != self.inner.base.host()
            || url.port_or_known_default() != self.inner.base.port_or_known_default()
        {
            return Ok(false);
        }
        if self.lock_http()?.1.is_none() {
            return Err(closed());
        }
        self.with_lane(|lane| lane.usable())
    }

    /// Whether this connection's calls can take the direct lane when an
    /// event loop polls them ([`crate::runtime::on_loop`]): plain HTTP,
    /// not sealed, no proxy in the environment (as this thread's lane read
    /// it when it was made, not read again per call).
    /// A closed connection's is not (its call fails on the runtime, as
    /// before), and no lane is made for it.
    pub fn lane_reachable(&self) -> bool {
        self.inner.base.scheme() == "http"
            && !self.is_sealed()
            && !self.is_closed()
            && self.with_lane(|lane| lane.usable()).unwrap_or(false)
    }

    /// Runs `f` on this thread's direct lane to the node (its entry made
    /// on first use, as [`Connection::http`] makes it).
    fn with_lane<R>(&self, f: impl FnOnce(&mut crate::lane::Pool) -> R) -> Result<R, Error> {
        let signs = self.signs_requests();
        crate::runtime::with_lane(&self.inner, || build_http(&self.inner.config, signs), f)
    }

    /// One of this thread's idle lane connections to the node, if any.
    pub(crate) fn lane_take(&self) -> Option<crate::lane::Stream> {
        self.with_lane(|lane| lane.take()).ok().flatten()
    }

    /// Gives a lane connection whose answer was read whole back to this
    /// thread's lane.
    pub(crate) fn lane_put(&self, stream: crate::lane::Stream) {
        let _ = self.with_lane(|lane| lane.put(stream));
    }

    /// A request as the lane sends it, within `until`.
    pub(crate) fn outgoing<'a>(
        &self,
        method: &'static str,
        url: &'a url::Url,
        credential: Option<(HeaderName, HeaderValue)>,
        body: Option<Bytes>,
        shown_url: &'a str,
        until: crate::lane::Until,
    ) -> crate::lane::Outgoing<'a> {
        let (deadline, idle) = match until {
            crate::lane::Until::Deadline(at) => (at, None),
            crate::lane::Until::Idle(idle) => (std::time::Instant::now() + idle, Some(idle)),
        };
        crate::lane::Outgoing {
            method,
            url,
            credential,
            body,
            connect_timeout: self.inner.config.connect_timeout,
            shown_url,
            deadline,
            idle,
        }
    }

    /// Sends a request by the direct lane and reads its whole answer,
    /// by `deadline`; the connection is kept for the next call when the
    /// answer was read to its end.
    async fn send_direct(
        &self,
        method: &'static str,
        url: &url::Url,
        credential: Option<(HeaderName, HeaderValue)>,
        body: Option<Bytes>,
        shown_url: &str,
        deadline: std::time::Instant,
    ) -> Result<Reply, Error> {
        let until = crate::lane::Until::Deadline(deadline);
        let outgoing = self.outgoing(method, url, credential, body, shown_url, until);
        let (head, mut body) = outgoing.send(|| self.lane_take()).await?;
        let cap = self.inner.config.max_response_bytes;
        let mut whole = Whole::new(method, shown_url, head.status, body.length(), cap)?;
        loop {
            match body.next_chunk(&outgoing, whole.room()).await? {
                Some(chunk) => {
                    if !whole.push(chunk)? {
                        break;
                    }
                }
                None => {
                    // Read to its end: the connection serves the next call.
                    if let Some(stream) = body.reusable() {
                        self.lane_put(stream);
                    }
                    break;
                }
            }
        }
        whole.finish(head.headers)
    }

    /// Sends a request: the one place every request of the connection
    /// leaves from (calls, auth routes, blob transfers, event streams).
    /// A sealed connection seals it to the TEE node's attested transport
    /// key and streams the opened answer back ([`crate::sealed`]); any
    /// other sends it as it is.
    pub(crate) async fn dispatch(
        &self,
        request: reqwest::RequestBuilder,
        method: &'static str,
        shown_url: &str,
    ) -> Result<reqwest::Response, Error> {
        if crate::runtime::in_local() {
            // This thread's pooled connections were driven by nobody since
            // its last call: let its runtime poll their sockets once, so
            // that one the node (or a proxy) closed while idle is dropped
            // now, not picked for this request and written into (a POST
            // would then fail, unsent but not retried). crate::lane peeks
            // at its connections instead.
            tokio::task::yield_now().await;
        }
        match &self.inner.sealed {
            Some(channel) => channel.send(self, request, method, shown_url).await,
            None => request
                .send()
                .await
                .map_err(|e| transport_error(method, shown_url, &e)),
        }
    }

    /// Whether every request is sealed to a TEE node.
    pub fn is_sealed(&self) -> bool {
        self.inner.sealed.is_some()
    }

    /// The transport key requests are sealed to: the one given, or the
    /// node's once attested (None before, and for a plain connection).
    pub fn transport_key(&self) -> Option<[u8; 32]> {
        self.inner.sealed.as_ref()?.transport_key()
    }

    /// A request on the pooled client, with the connection's token when
    /// `with_token` (and the ticket [`Connection::on_auth_failure`] needs).
    /// `body` is the exact bytes the request will carry (a proof commits to
    /// them).
    pub(crate) fn builder(
        &self,
        method: &'static str,
        url: url::Url,
        with_token: bool,
        body: &[u8],
    ) -> Result<(reqwest::RequestBuilder, Option<AuthTicket>), Error> {
        let verb = reqwest::Method::from_bytes(method.as_bytes())
            .map_err(|e| Error::Internal(e.to_string()))?;
        let credential = self.credential(method, &url, body, with_token)?;
        Ok(credential.apply(self.http()?.request(verb, url)))
    }

    // ---- delegated access: the one signing hook (src/delegated/) ----

    /// Whether this connection signs its requests with a device
    /// (`create_connection(..., device_credential=, device_secret=)`).
    pub fn signs_requests(&self) -> bool {
        self.inner.auth.device.is_some()
    }

    /// The device credential requests are signed with, if any.
    pub fn device_credential(&self) -> Option<&crate::delegated::DeviceCredential> {
        self.inner.auth.device.as_deref().map(|d| d.credential())
    }

    /// The credential of one request, and THE place every request path
    /// gets it: calls and raw requests, blob transfers, event streams
    /// (SSE and the WebSocket upgrade) and the auth routes.
    ///
    /// With a device signer: a fresh `X-Calimero-Proof` over `method`, the
    /// URL's path (without its query, with any base-URL prefix) and the
    /// exact `body` bytes, issued now and valid 300 s, and never a token
    /// (the node decides by a token whenever one is present). Every retry
    /// and every redirect hop calls this again, so each attempt is signed
    /// afresh. Otherwise, when `with_token`, the bearer token and the ticket
    /// [`Connection::on_auth_failure`] needs.
    pub(crate) fn credential(
        &self,
        method: &str,
        url: &url::Url,
        body: &[u8],
        with_token: bool,
    ) -> Result<Credential, Error> {
        if let Some(device) = &self.inner.auth.device {
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs());
            let proof = device.proof(method, url.path(), body, now);
            let mut value = HeaderValue::from_str(&proof)
                .map_err(|e| Error::Internal(format!("request proof: {e}")))?;
            value.set_sensitive(true);
            self.warn_if_plain_http(url);
            return Ok(Credential {
                header: Some((
                    HeaderName::from_static(crate::delegated::PROOF_HEADER),
                    value,
                )),
                ticket: None,
            });
        }
        if !with_token {
            return Ok(Credential {
                header: None,
                ticket: None,
            });
        }
        let (bearer, ticket) = self.bearer()?;
        if bearer.is_some() {
            self.warn_if_plain_http(url);
        }
        Ok(Credential {
            header: bearer.map(|v| (AUTHORIZATION, v)),
            ticket: Some(ticket),
        })
    }

    /// Where a redirect answer sends a request next, when this client
    /// follows it (`went_direct`: the direct lane met it; or the
    /// connection signs its requests, and reqwest follows no redirect for
    /// it): the next hop, or None when `err` is no redirect to follow
    /// (reqwest followed the others itself). 303, and 301/302 after a
    /// POST, become a GET without a body (as browsers and reqwest do); 307
    /// and 308 keep both. The request is never sent again to where it was
    /// redirected from (a 303 after a POST means the node acted on it).
    /// A signed request is not followed to another origin (the proof would
    /// be shown to a host it was not meant for); another request is, but
    /// without its token, as reqwest does.
    fn redirect(
        &self,
        err: &Error,
        method: &'static str,
        url: &url::Url,
        hops: &mut u32,
        went_direct: bool,
    ) -> Result<Option<Hop>, Error> {
        let Error::Http(h) = err else { return Ok(None) };
        let signs = self.signs_requests();
        if !(signs || went_direct) || !is_redirect(err) {
            return Ok(None);
        }
        let Some(location) = h
            .headers
            .iter()
            .find(|(k, _)| k == LOCATION.as_str())
            .and_then(|(_, v)| url.join(v).ok())
            .filter(|u| matches!(u.scheme(), "http" | "https"))
        else {
            return Ok(None);
        };
        let mut refused = h.clone();
        let same_origin = location.origin() == url.origin();
        if signs && !same_origin {
            refused.message = format!(
                "redirected to another origin ({}); a signed request is not followed there",
                location.origin().ascii_serialization()
            );
            return Err(Error::Http(refused));
        }
        *hops += 1;
        if *hops > 10 {
            refused.message = "more than 10 redirects".into();
            return Err(Error::Http(refused));
        }
        let to_get = h.status == 303 || (matches!(h.status, 301 | 302) && method == "POST");
        let (method, keep_body) = if to_get && method != "HEAD" {
            ("GET", false)
        } else {
            (method, true)
        };
        Ok(Some(Hop {
            method,
            url: location,
            keep_body,
            same_origin,
        }))
    }

    /// Warns (once per connection, on the `calimero.security` logger) before
    /// a token or a password goes over plain HTTP to a host that is not this
    /// machine: anyone on the path can read it. A warning, not a refusal:
    /// nodes in a private network (merobox's Docker networks) are often
    /// reached over plain HTTP on purpose.
    pub(crate) fn warn_if_plain_http(&self, url: &url::Url) {
        // Sealed, the credentials travel encrypted to the TEE node.
        if url.scheme() != "http" || is_loopback(url) || self.is_sealed() {
            return;
        }
        if !self.inner.warned_plain_http.swap(true, Ordering::Relaxed) {
            log::warn!(
                target: "calimero::security",
                "sending credentials over plain HTTP to {}: anyone on the network path can \
                 read them; use https:// for nodes that are not on this machine",
                url.host_str().unwrap_or("?")
            );
        }
    }

    /// Reads a whole answer; a failure status becomes its error.
    pub(crate) async fn read_reply(
        &self,
        response: reqwest::Response,
        method: &'static str,
        shown_url: String,
    ) -> Result<Reply, Error> {
        read_response(
            method,
            &shown_url,
            response,
            self.inner.config.max_response_bytes,
        )
        .await
    }

    /// The error of a failure status.
    pub(crate) fn failure(
        &self,
        status: u16,
        headers: &HeaderMap,
        body: &[u8],
        method: &str,
        shown_url: &str,
    ) -> Error {
        http_failure(status, headers, body, method, shown_url)
    }

    /// The base URL joined with a prepared request's path and query.
    pub(crate) fn prepared_url(&self, prepared: &Prepared) -> Result<url::Url, Error> {
        self.url(&prepared.path, &prepared.query)
    }
}

/// What authenticates one request (see [`Connection::credential`]).
pub(crate) struct Credential {
    /// `X-Calimero-Proof` or `Authorization`, when there is one.
    pub(crate) header: Option<(HeaderName, HeaderValue)>,
    /// For a request with a token: what [`Connection::on_auth_failure`]
    /// needs. None for a signed request (no token to renew).
    pub(crate) ticket: Option<AuthTicket>,
}

impl Credential {
    pub(crate) fn apply(
        self,
        request: reqwest::RequestBuilder,
    ) -> (reqwest::RequestBuilder, Option<AuthTicket>) {
        match self.header {
            Some((name, value)) => (request.header(name, value), self.ticket),
            None => (request, self.ticket),
        }
    }
}

/// Reads the whole answer, at most `cap` bytes of a success and
/// [`MAX_ERROR_BODY_BYTES`] of a failure; a failure status is an error.
pub(crate) async fn read_response(
    method: &'static str,
    shown_url: &str,
    mut response: reqwest::Response,
    cap: u64,
) -> Result<Reply, Error> {
    let mut whole = Whole::new(
        method,
        shown_url,
        response.status().as_u16(),
        response.content_length(),
        cap,
    )?;
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| transport_error(method, shown_url, &e))?
    {
        if !whole.push(chunk)? {
            break;
        }
    }
    whole.finish(response.headers().clone())
}

/// An answer being read whole (by [`read_response`] and the direct lane,
/// [`Connection::send_direct`]): at most `cap` bytes of a success and
/// [`MAX_ERROR_BODY_BYTES`] of a failure.
struct Whole<'a> {
    method: &'static str,
    shown_url: &'a str,
    status: u16,
    cap: u64,
    /// Most answers arrive in one chunk: kept as it is, without a copy.
    chunks: Vec<Bytes>,
    total: u64,
}

impl<'a> Whole<'a> {
    /// Refuses a success whose announced length is over `cap` at once.
    fn new(
        method: &'static str,
        shown_url: &'a str,
        status: u16,
        length: Option<u64>,
        cap: u64,
    ) -> Result<Self, Error> {
        let whole = Whole {
            method,
            shown_url,
            status,
            cap,
            chunks: Vec::new(),
            total: 0,
        };
        if whole.ok() {
            if let Some(len) = length.filter(|len| *len > cap) {
                return Err(whole.too_large(len.to_string()));
            }
        }
        Ok(whole)
    }

    fn ok(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// The most the next chunk may add to decide the answer: one byte
    /// over what is kept of it.
    fn limit(&self) -> u64 {
        if self.ok() {
            self.cap
        } else {
            MAX_ERROR_BODY_BYTES
        }
    }

    fn room(&self) -> u64 {
        self.limit().saturating_sub(self.total).saturating_add(1)
    }

    fn too_large(&self, size: String) -> Error {
        Error::MalformedResponse {
            method: self.method.into(),
            url: self.shown_url.into(),
            message: format!(
                "the answer is {size} bytes, more than the connection's max_response_bytes ({})",
                self.cap
            ),
            body: String::new(),
        }
    }

    /// Adds the next chunk; false once a failure's body has all that is
    /// kept of it (the rest is not read).
    fn push(&mut self, chunk: Bytes) -> Result<bool, Error> {
        let limit = self.limit();
        self.total += chunk.len() as u64;
        if self.total > limit {
            if self.ok() {
                return Err(self.too_large(format!("over {}", self.total)));
            }
            let keep = chunk.len() - usize::try_from(self.total - limit).unwrap_or(chunk.len());
            self.chunks.push(chunk.slice(..keep));
            return Ok(false);
        }
        self.chunks.push(chunk);
        Ok(true)
    }

    /// The answer; a failure status is its error.
    fn finish(mut self, headers: HeaderMap) -> Result<Reply, Error> {
        let body = match self.chunks.len() {
            0 => Bytes::new(),
            1 => self.chunks.pop().unwrap_or_default(),
            _ => Bytes::from(self.chunks.concat()),
        };
        if !self.ok() {
            return Err(http_failure(
                self.status,
                &headers,
                &body,
                self.method,
                self.shown_url,
            ));
        }
        Ok(Reply {
            status: self.status,
            headers,
            body,
            select: &[],
            method: self.method,
            url: self.shown_url.to_owned(),
        })
    }
}

/// The next hop of a redirect ([`Connection::redirect`]).
struct Hop {
    method: &'static str,
    url: url::Url,
    keep_body: bool,
    same_origin: bool,
}

/// The error of a request on a closed connection.
fn closed() -> Error {
    Error::Internal("this connection is closed; make a new one with create_connection".into())
}

/// Whether `err` is a redirect answer.
fn is_redirect(err: &Error) -> bool {
    matches!(err, Error::Http(h) if matches!(h.status, 301 | 302 | 303 | 307 | 308))
}

/// Whether `url` names this machine (`localhost`, 127.0.0.0/8, `::1`).
fn is_loopback(url: &url::Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => {
            d.eq_ignore_ascii_case("localhost") || d.to_ascii_lowercase().ends_with(".localhost")
        }
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

/// A retry delay: 0.5 s doubled per attempt, capped at 8 s, with up to 25%
/// of random jitter either way (so retrying clients do not move in step).
fn backoff(attempt: u32) -> Duration {
    jittered_backoff(RETRY_BASE, RETRY_CAP, attempt)
}

/// `first` doubled per attempt (from 0), capped at `cap`, with up to 25% of
/// random jitter either way.
pub(crate) fn jittered_backoff(first: Duration, cap: Duration, attempt: u32) -> Duration {
    let base = first.saturating_mul(1u32 << attempt.min(16)).min(cap);
    // Jitter from the clock's nanoseconds: no RNG dependency for this.
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let factor = 0.75 + f64::from(nanos % 1000) / 2000.0;
    base.mul_f64(factor)
}

/// One pooled HTTP client (rustls, keep-alive) with the connection's
/// connect timeout; the request timeout is set per request.
/// A connection that signs its requests follows redirects itself
/// (`Connection::redirect`), so that each hop is signed for its own path.
fn build_http(config: &Config, signs: bool) -> Result<reqwest::Client, Error> {
    finish_http(http_builder(config, signs)?)
}

/// The HTTP client of long-lived event streams (`GET /sse`): the pool's
/// settings, but HTTP/1.1 only, so a stream never shares a connection (and
/// its flow-control window) with the calls of the pool.
pub(crate) fn build_stream_http(config: &Config, signs: bool) -> Result<reqwest::Client, Error> {
    finish_http(http_builder(config, signs)?.http1_only())
}

fn finish_http(builder: reqwest::ClientBuilder) -> Result<reqwest::Client, Error> {
    builder
        .build()
        .map_err(|e| Error::Internal(format!("could not build the HTTP client: {e}")))
}

fn http_builder(config: &Config, signs: bool) -> Result<reqwest::ClientBuilder, Error> {
    crate::runtime::install_crypto_provider();
    let mut builder = reqwest::Client::builder()
        .user_agent(USER_AGENT)
        .connect_timeout(config.connect_timeout)
        .pool_idle_timeout(Duration::from_secs(60))
        .tcp_nodelay(true);
    if signs {
        builder = builder.redirect(reqwest::redirect::Policy::none());
    }
    if let Some(pem) = &config.ca_pem {
        let certs = reqwest::Certificate::from_pem_bundle(pem)
            .map_err(|e| Error::invalid("ca_cert", format!("not a PEM certificate: {e}")))?;
        if certs.is_empty() {
            return Err(Error::invalid("ca_cert", "no certificate in the PEM data"));
        }
        builder = builder.tls_certs_merge(certs);
    }
    Ok(builder)
}

/// The URL as shown in errors: without any `token` query parameter.
pub(crate) fn redact(url: &url::Url) -> String {
    if url.query_pairs().any(|(k, _)| k == "token") {
        let mut shown = url.clone();
        let kept: Vec<(String, String)> = url
            .query_pairs()
            .map(|(k, v)| {
                let v = if k == "token" {
                    "REDACTED".into()
                } else {
                    v.into_owned()
                };
                (k.into_owned(), v)
            })
            .collect();
        shown.query_pairs_mut().clear().extend_pairs(kept);
        return shown.to_string();
    }
    url.to_string()
}

pub(crate) fn transport_error(method: &str, url: &str, e: &reqwest::Error) -> Error {
    // The innermost cause says the most ("Connection refused (os error 111)").
    // Without a source, reqwest's own text carries the URL: show it redacted.
    let mut message = match e.url() {
        Some(u) => e.to_string().replace(u.as_str(), &redact(u)),
        None => e.to_string(),
    };
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        if let Some(sealed) = s.downcast_ref::<crate::sealed::StreamError>() {
            return Error::Sealed {
                method: method.into(),
                url: url.into(),
                message: sealed.0.clone(),
            };
        }
        message = s.to_string();
        source = s.source();
    }
    if e.is_timeout() {
        Error::Timeout {
            method: method.into(),
            url: url.into(),
            message,
        }
    } else {
        Error::Network {
            method: method.into(),
            url: url.into(),
            message,
            connect: e.is_connect(),
        }
    }
}

pub(crate) fn http_failure(
    status: u16,
    headers: &HeaderMap,
    body: &[u8],
    method: &str,
    url: &str,
) -> Error {
    let header_list = headers
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().to_owned(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    let text = String::from_utf8_lossy(&body[..body.len().min(ERROR_BODY_LIMIT)]).into_owned();
    let auth_error = headers
        .get("x-auth-error")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let message = match (status, auth_error.as_deref()) {
        // core: crates/server/src/auth.rs and proof_auth.rs (`Refusal`).
        (403, Some("invalid_proof")) => "the node is not serving delegated access: it refused \
            the request proof of an account other than its own (the node must run with \
            --delegated-access, formerly --public-intents)"
            .to_owned(),
        (401, Some("invalid_proof")) => "the node refused the request proof: a bad signature, \
            a proof outside its time window (check this machine's clock), a request that \
            differs from what was signed, a session for another node, or a credential that \
            does not verify"
            .to_owned(),
        _ => failure_message(status, body),
    };
    Error::Http(Box::new(HttpFailure {
        status,
        message,
        method: method.into(),
        url: url.into(),
        body: text,
        headers: header_list,
        auth_error,
        retry_after: headers
            .get(RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<f64>().ok())
            .filter(|s| s.is_finite() && *s >= 0.0),
    }))
}

/// Only the `error` member of a JSON-RPC answer; the rest is skipped
/// without being built.
#[derive(Deserialize)]
struct RpcProbe {
    #[serde(default)]
    error: Option<serde_json::Value>,
}

/// Raises the JSON-RPC `error` member of an HTTP 200 answer.
fn check_rpc(
    body: &[u8],
    rpc_method: &str,
    app_method: Option<String>,
    url: &url::Url,
) -> Result<(), Error> {
    let probe: RpcProbe = serde_json::from_slice(body).map_err(|e| Error::MalformedResponse {
        method: "POST".into(),
        url: redact(url),
        message: format!("not a JSON-RPC response: {e}"),
        body: truncate(&String::from_utf8_lossy(body), ERROR_BODY_LIMIT),
    })?;
    let Some(error) = probe.error.filter(|e| !e.is_null()) else {
        return Ok(());
    };
    let error_type = error
        .get("type")
        .and_then(|t| t.as_str())
        .map(str::to_owned);
    let data = error.get("data").cloned();
    let guest_error = data
        .as_ref()
        .and_then(|d| d.as_str())
        .and_then(decode_guest_error);
    let detail = match (&guest_error, &data) {
        (Some(g), _) => format!("the method returned an error: {}", compact(g)),
        (None, Some(serde_json::Value::String(s))) => s.clone(),
        (None, Some(d)) if !d.is_null() => compact(d),
        _ => String::new(),
    };
    let what = match &app_method {
        Some(m) => format!("{rpc_method} of {m:?}"),
        None => rpc_method.to_owned(),
    };
    let mut message = format!(
        "JSON-RPC {what} failed: {}",
        error_type.as_deref().unwrap_or("error")
    );
    if !detail.is_empty() {
        message.push_str(": ");
        message.push_str(&truncate(&detail, 2048));
    }
    Err(Error::Rpc(Box::new(RpcFailure {
        rpc_method: rpc_method.into(),
        app_method,
        error_type,
        data,
        guest_error,
        url: redact(url),
        message,
    })))
}

fn compact(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// The application's own error, which the node sends as the Debug form of
/// its bytes: `the method call returned an error: [123, 34, ...]`.
pub fn decode_guest_error(message: &str) -> Option<serde_json::Value> {
    let start = message.find('[')?;
    let list = message[start..].trim_end();
    if !list.ends_with(']') {
        return None;
    }
    let bytes: Vec<u8> = serde_json::from_str(list).ok()?;
    let text = String::from_utf8(bytes).ok()?;
    Some(serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text)))
}

impl Reply {
    /// The body as JSON, for Rust callers.
    pub fn json<T: serde::de::DeserializeOwned>(&self) -> Result<T, Error> {
        serde_json::from_slice(&self.body).map_err(|e| self.malformed(&e.to_string()))
    }

    /// A malformed-response error about this reply.
    pub fn malformed(&self, message: &str) -> Error {
        let cut = &self.body[..self.body.len().min(ERROR_BODY_LIMIT)];
        Error::MalformedResponse {
            method: self.method.into(),
            url: self.url.clone(),
            message: message.into(),
            body: String::from_utf8_lossy(cut).into_owned(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conn(url: &str) -> Connection {
        Connection::new(url, None, Config::default()).unwrap()
    }

    #[test]
    fn base_paths_survive_joining() {
        let c = conn("http://127.0.0.1:2528/prefix/");
        assert_eq!(c.api_url(), "http://127.0.0.1:2528/prefix");
        let u = c
            .url("/admin-api/contexts/abc%20d", &[("limit", "3".into())])
            .unwrap();
        assert_eq!(
            u.as_str(),
            "http://127.0.0.1:2528/prefix/admin-api/contexts/abc%20d?limit=3"
        );
    }

    #[test]
    fn raw_paths_are_confined() {
        let c = conn("http://node:2528");
        assert_eq!(
            c.raw_url("admin-api/health").unwrap().as_str(),
            "http://node:2528/admin-api/health"
        );
        assert_eq!(
            c.raw_url("/admin-api/contexts?limit=2").unwrap().as_str(),
            "http://node:2528/admin-api/contexts?limit=2"
        );
        for bad in [
            "../etc",
            "/a/./b",
            "http://evil/x",
            "//evil/x",
            "/a\nb",
            "",
            "/",
            "/a/%2e%2e/b",
            "/.%2e/admin-api/health",
            "/%2E./x",
            "/a/%2e/b",
            &format!("/{}", "x".repeat(MAX_RAW_PATH)),
        ] {
            let err = c.raw_url(bad).unwrap_err();
            assert!(err.to_string().starts_with("path:"), "{bad}: {err}");
        }
    }

    #[test]
    fn bad_urls_are_refused() {
        for bad in [
            "",
            "node:2528",
            "ftp://node",
            "http://",
            "http://u:p@node",
            "http://node?x=1",
        ] {
            let err = Connection::new(bad, None, Config::default()).unwrap_err();
            assert!(err.to_string().starts_with("api_url:"), "{bad}: {err}");
        }
    }

    #[test]
    fn guest_errors_are_decoded() {
        let msg = "the method call returned an error: [123, 34, 100, 97, 116, 97, 34, 58, 34, 110, 111, 112, 101, 34, 44, 34, 107, 105, 110, 100, 34, 58, 34, 78, 111, 116, 70, 111, 117, 110, 100, 34, 125]";
        assert_eq!(
            decode_guest_error(msg),
            Some(serde_json::json!({"data": "nope", "kind": "NotFound"}))
        );
        assert_eq!(decode_guest_error("guest panicked: boom"), None);
        assert_eq!(
            decode_guest_error("x: [104, 105]"),
            Some(serde_json::Value::String("hi".into()))
        );
    }

    #[test]
    fn rpc_errors_are_raised_with_their_parts() {
        let url = url::Url::parse("http://n/jsonrpc").unwrap();
        assert!(check_rpc(
            br#"{"jsonrpc":"2.0","id":1,"result":{"output":null}}"#,
            "execute",
            None,
            &url
        )
        .is_ok());
        let err = check_rpc(
            br#"{"jsonrpc":"2.0","id":5,"error":{"type":"FunctionCallError","data":"method \"x\" not found"}}"#,
            "execute",
            Some("x".into()),
            &url,
        )
        .unwrap_err();
        let Error::Rpc(f) = err else {
            panic!("not rpc")
        };
        assert_eq!(f.error_type.as_deref(), Some("FunctionCallError"));
        assert_eq!(
            f.message,
            "JSON-RPC execute of \"x\" failed: FunctionCallError: method \"x\" not found"
        );
        let err = check_rpc(
            br#"{"jsonrpc":"2.0","id":7,"error":{"type":"ContextNotFound"}}"#,
            "execute",
            None,
            &url,
        )
        .unwrap_err();
        assert_eq!(err.to_string(), "JSON-RPC execute failed: ContextNotFound");
        assert!(matches!(
            check_rpc(b"<html>", "execute", None, &url),
            Err(Error::MalformedResponse { .. })
        ));
    }

    #[test]
    fn tokens_never_show_in_urls() {
        let u = url::Url::parse("http://n/sse?token=secret&x=1").unwrap();
        let shown = redact(&u);
        assert!(!shown.contains("secret"));
        assert!(shown.contains("x=1"));
        let c = conn("http://n");
        c.set_access_token(Some("secret-token".into()));
        assert!(!format!("{c:?}").contains("secret"));
        let raw = c.prepare_raw("GET", "/sse?token=secret", None).unwrap();
        assert!(!format!("{raw:?}").contains("secret"));
    }
}
