//! Cross-cutting layers: the request log, injected faults, and the CORS
//! headers every real-node response carries.
//!
//! Layer order (outermost first): request log → CORS → faults → routes.
//! They wrap the node's routes only (see `routes::build`), so the
//! `/_testnode/` control API is neither logged nor faulted.

use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::body::{Body, Bytes, HttpBody};
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::sync::Notify;

use crate::state::{lock, AppState};

/// Paths under this prefix belong to the test-control API.
pub const CONTROL_PREFIX: &str = "/_testnode";

fn now_ms() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64() * 1000.0)
}

// ---------------------------------------------------------------- request log

/// One received request.
pub struct LogEntry {
    method: String,
    path: String,
    query: Option<String>,
    headers: BTreeMap<String, String>,
    body_len: AtomicU64,
    /// The first `BODY_CAPTURE` bytes of the body, as the handler read them.
    body: Mutex<Vec<u8>>,
    started_ms: f64,
    finished_ms: Mutex<Option<f64>>,
    /// Opened from a sealed envelope.
    sealed: bool,
}

/// How much of a request body the log keeps.
const BODY_CAPTURE: usize = 64 * 1024;

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct LogEntryJson<'a> {
    method: &'a str,
    path: &'a str,
    query: Option<&'a str>,
    headers: &'a BTreeMap<String, String>,
    body_len: u64,
    /// The body's first 64 KiB as text (lossy), or null when empty.
    body: Option<String>,
    started_ms: f64,
    finished_ms: Option<f64>,
    /// Whether it arrived sealed (opened from a `/sealed/v2` envelope).
    sealed: bool,
}

impl LogEntry {
    fn start(req: &Request) -> Self {
        let mut headers: BTreeMap<String, String> = BTreeMap::new();
        for (name, value) in req.headers() {
            let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
            let _ = headers
                .entry(name.as_str().to_owned())
                .and_modify(|existing| {
                    existing.push_str(", ");
                    existing.push_str(&value);
                })
                .or_insert(value);
        }
        Self {
            method: req.method().as_str().to_owned(),
            path: req.uri().path().to_owned(),
            query: req.uri().query().map(str::to_owned),
            headers,
            body_len: AtomicU64::new(0),
            body: Mutex::new(Vec::new()),
            started_ms: now_ms(),
            finished_ms: Mutex::new(None),
            sealed: req
                .extensions()
                .get::<crate::sealed::SealedInner>()
                .is_some(),
        }
    }

    fn finish(&self) {
        let mut finished = lock(&self.finished_ms);
        if finished.is_none() {
            *finished = Some(now_ms());
        }
    }

    fn to_json(&self) -> LogEntryJson<'_> {
        LogEntryJson {
            method: &self.method,
            path: &self.path,
            query: self.query.as_deref(),
            headers: &self.headers,
            body_len: self.body_len.load(Ordering::Relaxed),
            body: {
                let body = lock(&self.body);
                (!body.is_empty()).then(|| String::from_utf8_lossy(&body).into_owned())
            },
            started_ms: self.started_ms,
            finished_ms: *lock(&self.finished_ms),
            sealed: self.sealed,
        }
    }
}

/// Every non-control request, in arrival order (oldest dropped past `cap`).
pub struct RequestLog {
    entries: Mutex<VecDeque<Arc<LogEntry>>>,
    cap: usize,
}

impl RequestLog {
    pub fn new(cap: usize) -> Self {
        Self {
            entries: Mutex::new(VecDeque::new()),
            cap: cap.max(1),
        }
    }

    fn push(&self, entry: Arc<LogEntry>) {
        let mut entries = lock(&self.entries);
        if entries.len() >= self.cap {
            let _ = entries.pop_front();
        }
        entries.push_back(entry);
    }

    pub fn clear(&self) {
        lock(&self.entries).clear();
    }

    /// `{"requests":[…]}`.
    pub fn snapshot(&self) -> Response {
        #[derive(Serialize)]
        struct Requests<'a> {
            requests: Vec<LogEntryJson<'a>>,
        }

        let entries = lock(&self.entries);
        crate::error::json(Requests {
            requests: entries.iter().map(|e| e.to_json()).collect(),
        })
    }
}

/// Marks the entry finished when the request completes or is abandoned
/// (client gone, connection dropped by a fault).
struct FinishOnDrop(Arc<LogEntry>);

impl Drop for FinishOnDrop {
    fn drop(&mut self) {
        self.0.finish();
    }
}

pub async fn log_requests(
    State(state): State<Arc<AppState>>,
    req: Request,
    next: Next,
) -> Response {
    let entry = Arc::new(LogEntry::start(&req));
    let req = count_body(req, &entry);
    state.log.push(Arc::clone(&entry));
    let verbose = state
        .config
        .verbose
        .then(|| (entry.method.clone(), entry.path.clone()));
    let guard = FinishOnDrop(entry);
    let response = next.run(req).await;
    drop(guard);
    if let Some((method, path)) = verbose {
        eprintln!(
            "calimero-testnode: {method} {path} -> {}",
            response.status().as_u16()
        );
    }
    response
}

/// Records the body length (from `Content-Length` when given, otherwise by
/// counting the bytes as the handler reads them) and its first 64 KiB.
fn count_body(req: Request, entry: &Arc<LogEntry>) -> Request {
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        .or_else(|| req.body().size_hint().exact());
    if let Some(len) = declared {
        entry.body_len.store(len, Ordering::Relaxed);
    }
    let (parts, body) = req.into_parts();
    let counter = Arc::clone(entry);
    let stream = body.into_data_stream().inspect(move |chunk| {
        if let Ok(bytes) = chunk {
            if declared.is_none() {
                let _ = counter
                    .body_len
                    .fetch_add(bytes.len() as u64, Ordering::Relaxed);
            }
            let mut kept = lock(&counter.body);
            let room = BODY_CAPTURE.saturating_sub(kept.len());
            kept.extend_from_slice(&bytes[..bytes.len().min(room)]);
        }
    });
    Request::from_parts(parts, Body::from_stream(stream))
}

// ---------------------------------------------------------------------- faults

/// What `POST /_testnode/faults` accepts.
#[derive(Deserialize, Debug, Clone)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FaultSpec {
    pub path: String,
    #[serde(default)]
    pub method: Option<String>,
    pub kind: FaultKind,
    #[serde(default)]
    pub delay_ms: Option<u64>,
    #[serde(default)]
    pub status: Option<u16>,
    /// A string is sent as-is; any other JSON value is sent serialised.
    #[serde(default)]
    pub body: Option<Value>,
    #[serde(default)]
    pub content_type: Option<String>,
    /// Extra headers of a `status` answer (e.g. a wrong `X-Blob-Hash`).
    #[serde(default)]
    pub headers: Option<std::collections::BTreeMap<String, String>>,
    /// `reset`/`truncate`: how many body bytes go out before the cut.
    #[serde(default)]
    pub after_bytes: Option<u64>,
    /// `oversize`: the body's size in bytes.
    #[serde(default)]
    pub size: Option<u64>,
    /// How many matching requests it applies to (default: all).
    #[serde(default)]
    pub times: Option<u64>,
}

#[derive(Deserialize, Serialize, Debug, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum FaultKind {
    Delay,
    Status,
    Drop,
    /// Answer `status` (200 by default) and `body`, but break the connection
    /// after `afterBytes` bytes of it (no `Content-Length`).
    Reset,
    /// Like `reset`, with the full `Content-Length` announced: the body ends
    /// short.
    Truncate,
    /// Answer 200 with a valid JSON body of `size` bytes.
    Oversize,
    /// Hold the request until `POST /_testnode/faults/release` (then handle
    /// it normally), or until the client gives up; `delayMs`, when given,
    /// bounds the wait.
    Hold,
}

#[derive(Debug, Clone)]
enum FaultAction {
    Delay(Duration),
    Hold(Option<Duration>),
    Status {
        status: StatusCode,
        body: Bytes,
        content_type: Option<HeaderValue>,
        headers: Vec<(header::HeaderName, HeaderValue)>,
    },
    Drop,
    Cut {
        status: StatusCode,
        body: Bytes,
        keep: usize,
        announce_length: bool,
    },
}

#[derive(Debug)]
struct Fault {
    id: u64,
    spec: FaultSpec,
    method: Option<Method>,
    action: FaultAction,
    remaining: Option<u64>,
}

#[derive(Default)]
pub struct FaultTable {
    faults: Mutex<Vec<Fault>>,
    next_id: AtomicU64,
    /// Set by `release`, cleared with the faults: held requests go on, and
    /// a request that comes after the release is not held (a release can
    /// arrive before the request it was meant for reaches the fault).
    released: tokio::sync::watch::Sender<bool>,
    /// Requests held right now.
    holding: AtomicU64,
}

impl FaultTable {
    /// Adds a fault; `Err` says what is wrong with the spec.
    pub fn add(&self, spec: FaultSpec) -> Result<u64, String> {
        let method = spec
            .method
            .as_deref()
            .map(|m| Method::from_bytes(m.to_ascii_uppercase().as_bytes()))
            .transpose()
            .map_err(|_| "invalid method".to_owned())?;
        if !spec.path.starts_with('/') {
            return Err("path must start with '/'".to_owned());
        }
        let action = match spec.kind {
            FaultKind::Delay => {
                let ms = spec.delay_ms.ok_or("a delay fault needs delayMs")?;
                FaultAction::Delay(Duration::from_millis(ms))
            }
            FaultKind::Status => {
                let status = spec.status.ok_or("a status fault needs status")?;
                let status =
                    StatusCode::from_u16(status).map_err(|_| format!("invalid status {status}"))?;
                let (body, guessed) = match &spec.body {
                    None => (Bytes::new(), None),
                    Some(Value::String(text)) => {
                        let guess = if serde_json::from_str::<Value>(text).is_ok() {
                            "application/json"
                        } else {
                            "text/plain; charset=utf-8"
                        };
                        (Bytes::from(text.clone()), Some(guess))
                    }
                    Some(other) => (Bytes::from(other.to_string()), Some("application/json")),
                };
                let content_type = match &spec.content_type {
                    Some(ct) => Some(
                        HeaderValue::from_str(ct).map_err(|_| "invalid contentType".to_owned())?,
                    ),
                    None => guessed.map(HeaderValue::from_static),
                };
                let mut headers = Vec::new();
                for (name, value) in spec.headers.iter().flatten() {
                    let name = header::HeaderName::from_bytes(name.as_bytes())
                        .map_err(|_| format!("invalid header name {name:?}"))?;
                    let value = HeaderValue::from_str(value)
                        .map_err(|_| format!("invalid header value for {name}"))?;
                    headers.push((name, value));
                }
                FaultAction::Status {
                    status,
                    body,
                    content_type,
                    headers,
                }
            }
            FaultKind::Drop => FaultAction::Drop,
            FaultKind::Hold => FaultAction::Hold(spec.delay_ms.map(Duration::from_millis)),
            FaultKind::Reset | FaultKind::Truncate => {
                let status = StatusCode::from_u16(spec.status.unwrap_or(200))
                    .map_err(|_| "invalid status".to_owned())?;
                let body = match &spec.body {
                    None => Bytes::from(format!(r#"{{"data":"{}"}}"#, "x".repeat(4096))),
                    Some(Value::String(text)) => Bytes::from(text.clone()),
                    Some(other) => Bytes::from(other.to_string()),
                };
                let keep = usize::try_from(spec.after_bytes.unwrap_or(10))
                    .unwrap_or(usize::MAX)
                    .min(body.len().saturating_sub(1));
                FaultAction::Cut {
                    status,
                    body,
                    keep,
                    announce_length: spec.kind == FaultKind::Truncate,
                }
            }
            FaultKind::Oversize => {
                let size = usize::try_from(spec.size.ok_or("an oversize fault needs size")?)
                    .map_err(|_| "size too large".to_owned())?;
                let filler = size.saturating_sub(r#"{"data":""}"#.len());
                FaultAction::Status {
                    status: StatusCode::OK,
                    body: Bytes::from(format!(r#"{{"data":"{}"}}"#, "x".repeat(filler))),
                    content_type: Some(HeaderValue::from_static("application/json")),
                    headers: Vec::new(),
                }
            }
        };
        if spec.times == Some(0) {
            return Err("times must be at least 1".to_owned());
        }
        let id = self.next_id.fetch_add(1, Ordering::Relaxed) + 1;
        lock(&self.faults).push(Fault {
            id,
            remaining: spec.times,
            spec,
            method,
            action,
        });
        Ok(id)
    }

    pub fn clear(&self) {
        lock(&self.faults).clear();
        self.released.send_replace(false);
    }

    /// Lets every held request go on, and any held later (until the faults
    /// are cleared). Answers how many were held.
    pub fn release(&self) -> u64 {
        self.released.send_replace(true);
        self.holding.load(Ordering::SeqCst)
    }

    async fn hold(&self, limit: Option<Duration>) {
        let _ = self.holding.fetch_add(1, Ordering::SeqCst);
        let mut released = self.released.subscribe();
        let wait = released.wait_for(|r| *r);
        match limit {
            Some(limit) => {
                let _ = tokio::time::timeout(limit, wait).await;
            }
            None => {
                let _ = wait.await;
            }
        }
        let _ = self.holding.fetch_sub(1, Ordering::SeqCst);
    }

    /// `{"faults":[…]}` with each fault's remaining count.
    pub fn snapshot(&self) -> Value {
        let faults = lock(&self.faults);
        let list: Vec<Value> = faults
            .iter()
            .map(|f| {
                serde_json::json!({
                    "id": f.id,
                    "path": f.spec.path,
                    "method": f.spec.method,
                    "kind": f.spec.kind,
                    "remaining": f.remaining,
                })
            })
            .collect();
        serde_json::json!({ "faults": list })
    }

    /// The first fault matching the request, counted down (and removed when
    /// used up).
    fn take(&self, method: &Method, path: &str) -> Option<FaultAction> {
        let mut faults = lock(&self.faults);
        let index = faults
            .iter()
            .position(|f| f.spec.path == path && f.method.as_ref().is_none_or(|m| m == method))?;
        let fault = &mut faults[index];
        let action = fault.action.clone();
        if let Some(remaining) = fault.remaining.as_mut() {
            *remaining -= 1;
            if *remaining == 0 {
                let _ = faults.remove(index);
            }
        }
        Some(action)
    }
}

/// Lets a handler close the TCP connection it arrived on without answering.
/// `serve` puts one in every request's extensions.
#[derive(Clone, Default)]
pub struct ConnectionHandle(Arc<Notify>);

impl ConnectionHandle {
    pub fn new() -> Self {
        Self::default()
    }

    /// Asks the connection task to drop the connection.
    pub fn drop_connection(&self) {
        self.0.notify_one();
    }

    /// Resolves once `drop_connection` was called.
    pub async fn dropped(&self) {
        self.0.notified().await;
    }
}

pub async fn apply_faults(
    State(state): State<Arc<AppState>>,
    req: Request,
    next: Next,
) -> Response {
    match state.faults.take(req.method(), req.uri().path()) {
        None => next.run(req).await,
        Some(FaultAction::Delay(delay)) => {
            tokio::time::sleep(delay).await;
            next.run(req).await
        }
        Some(FaultAction::Hold(limit)) => {
            state.faults.hold(limit).await;
            next.run(req).await
        }
        Some(FaultAction::Status {
            status,
            body,
            content_type,
            headers: extra,
        }) => {
            let mut response = (status, body).into_response();
            let headers = response.headers_mut();
            let _ = headers.remove(header::CONTENT_TYPE);
            if let Some(ct) = content_type {
                let _ = headers.insert(header::CONTENT_TYPE, ct);
            }
            for (name, value) in extra {
                let _ = headers.insert(name, value);
            }
            response
        }
        Some(FaultAction::Cut {
            status,
            body,
            keep,
            announce_length,
        }) => {
            let sent = body.slice(..keep);
            let stream = futures_util::stream::iter(vec![
                Ok::<Bytes, std::io::Error>(sent),
                Err(std::io::Error::other("fault: connection cut mid-body")),
            ]);
            let mut response = Response::new(Body::from_stream(stream));
            *response.status_mut() = status;
            let headers = response.headers_mut();
            let _ = headers.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            if announce_length {
                let _ = headers.insert(header::CONTENT_LENGTH, HeaderValue::from(body.len()));
            }
            response
        }
        Some(FaultAction::Drop) => match req.extensions().get::<ConnectionHandle>() {
            Some(connection) => {
                connection.drop_connection();
                // The connection task drops this future with the connection.
                std::future::pending().await
            }
            // Served by something other than `serve` (e.g. `axum::serve`):
            // a body that fails at once makes hyper abort the connection
            // (the client may see the status line first).
            None => {
                let failing = futures_util::stream::once(async {
                    Err::<Bytes, std::io::Error>(std::io::Error::other("fault: drop"))
                });
                Response::new(Body::from_stream(failing))
            }
        },
    }
}

// ------------------------------------------------------------------------ CORS

/// The real node's CORS layer: any origin, methods POST/GET/DELETE/PUT/OPTIONS,
/// any header, and the auth headers exposed. Every OPTIONS is a preflight.
/// core: crates/server/src/lib.rs (`build_cors_layer`).
pub async fn cors(req: Request, next: Next) -> Response {
    const VARY: &str = "origin, access-control-request-method, access-control-request-headers";
    if req.method() == Method::OPTIONS {
        let mut response = StatusCode::OK.into_response();
        let headers = response.headers_mut();
        let _ = headers.insert(
            header::ACCESS_CONTROL_ALLOW_ORIGIN,
            HeaderValue::from_static("*"),
        );
        let _ = headers.insert(header::VARY, HeaderValue::from_static(VARY));
        let _ = headers.insert(
            header::ACCESS_CONTROL_ALLOW_METHODS,
            HeaderValue::from_static("POST,GET,DELETE,PUT,OPTIONS"),
        );
        let _ = headers.insert(
            header::ACCESS_CONTROL_ALLOW_HEADERS,
            HeaderValue::from_static("*"),
        );
        return response;
    }
    let mut response = next.run(req).await;
    let headers = response.headers_mut();
    let _ = headers.insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    let _ = headers.insert(
        header::ACCESS_CONTROL_EXPOSE_HEADERS,
        HeaderValue::from_static("x-auth-error,x-auth-user,x-auth-permissions"),
    );
    let _ = headers.append(header::VARY, HeaderValue::from_static(VARY));
    response
}
