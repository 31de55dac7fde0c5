//! The sealed transport of a TEE node (`POST /sealed/v2/handshake`, `POST
//! /sealed/v2`), with a transport key given at start (`--transport-secret`)
//! since there is no TDX here to attest one.
//!
//! Written from the wire format's description (core
//! `crates/server/src/sealed.rs` module docs, mero-js
//! `src/sealed/sealed.ts@25161541`), independently of the client: the Noise
//! NK responder (snow), the session table with its replay window, the
//! envelope opened and handed back to the router to be routed afresh (so
//! the request log, faults and the auth guard apply to it as to any other),
//! and the answer streamed back in sealed frames of at most 64 KiB. The
//! node's refusals, in the clear: 409 `stale_transport_key` (a handshake to
//! another key) and `unknown_session`, 400 `malformed` / `undecryptable` /
//! `replayed_request` / `unsupported_version`, 503 `busy` with
//! `Retry-After`, 403 `sealed_required` (`--sealed-required`: unsealed
//! requests refused but for the probes, the attestation and this stand-in's
//! control API).
//!
//! Test controls (`/_testnode/sealed`): forget every session (the next
//! request meets `unknown_session`), refuse the next handshakes or
//! envelopes as `busy`, tamper with a frame of the next answer, cut the
//! next answer short, change the transport key (a restart), shorten the
//! lifetime of new sessions; and counters of what happened.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE, RETRY_AFTER};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Uri};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;
use rand::RngCore;
use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM};
use serde::{Deserialize, Serialize};
use serde_json::json;
use snow::resolvers::CryptoResolver;

use crate::state::{lock, AppState};

pub const HANDSHAKE_PATH: &str = "/sealed/v2/handshake";
pub const SEALED_PATH: &str = "/sealed/v2";
pub const CONTENT_TYPE_SEALED: &str = "application/vnd.calimero.sealed";
const NOISE_PARAMS: &str = "Noise_NK_25519_AESGCM_SHA256";
const PROLOGUE: &[u8] = b"calimero/sealed-http/v2";
const VERSION: u8 = 2;
const SESSION_ID_LEN: usize = 16;
const HEADER_LEN: usize = 1 + SESSION_ID_LEN + 8;
const TAG_LEN: usize = 16;
/// `version || transport_pk || e || tag of the empty payload`.
const HANDSHAKE_LEN: usize = 1 + 32 + 32 + TAG_LEN;
const MAX_FRAME_DATA: usize = 64 * 1024;
const MAX_SEALED_BYTES: usize = 64 * 1024 * 1024;
/// The node's session lifetime.
pub const SESSION_LIFETIME: Duration = Duration::from_secs(3600);
/// Request ids remembered per session (below the oldest, all refused).
const REPLAY_WINDOW: usize = 4096;
/// Unsealed admin paths still served when sealing is required.
const UNSEALED_ADMIN_PATHS: [&str; 4] = [
    "/admin-api/health",
    "/admin-api/ready",
    "/admin-api/tee/info",
    "/admin-api/tee/attest",
];
const HOP_HEADERS: [&str; 5] = [
    "connection",
    "content-length",
    "host",
    "transfer-encoding",
    "upgrade",
];

const FRAME_HEAD: u8 = 0;
const FRAME_DATA: u8 = 1;
const FRAME_END: u8 = 2;

/// Marks a request the node opened from an envelope (the request log
/// shows it as `"sealed": true`).
#[derive(Clone, Copy, Debug)]
pub struct SealedInner;

/// The X25519 public key of `secret`.
pub fn public_key(secret: &[u8; 32]) -> [u8; 32] {
    let mut dh = snow::resolvers::DefaultResolver
        .resolve_dh(&snow::params::DHChoice::Curve25519)
        // SAFETY: the default resolver is built with curve25519.
        .expect("curve25519");
    dh.set(secret);
    let mut public = [0u8; 32];
    public.copy_from_slice(dh.pubkey());
    public
}

/// Whether `point` is of low order: every Diffie-Hellman with it is zero.
fn low_order(secret: &[u8; 32], point: &[u8]) -> bool {
    let Some(mut dh) =
        snow::resolvers::DefaultResolver.resolve_dh(&snow::params::DHChoice::Curve25519)
    else {
        return true;
    };
    dh.set(secret);
    let mut out = [0u8; 32];
    dh.dh(point, &mut out).is_err() || out.iter().all(|b| *b == 0)
}

struct SessionRow {
    request: LessSafeKey,
    response: Arc<LessSafeKey>,
    expires: Instant,
    floor: u64,
    seen: BTreeSet<u64>,
}

#[derive(Default, Serialize, Clone)]
#[serde(rename_all = "camelCase")]
struct Stats {
    handshakes: u64,
    /// Envelopes opened and dispatched.
    requests: u64,
    /// Refusals by code.
    refusals: BTreeMap<String, u64>,
    /// Frames of the last answer sealed (including head and end).
    last_frames: u64,
}

#[derive(Default)]
struct Controls {
    /// Refuse this many handshakes and envelopes as `busy`.
    busy: u64,
    retry_after: Option<String>,
    /// Flip a bit of this frame (by index) of the next answer.
    tamper_frame: Option<u32>,
    /// Stop the next answer before its end frame.
    cut_short: bool,
    lifetime: Option<Duration>,
}

/// The sealed transport's state.
pub struct SealedNode {
    /// The transport key (secret, public); a restart replaces it.
    key: Mutex<([u8; 32], [u8; 32])>,
    required: bool,
    sessions: Mutex<HashMap<[u8; SESSION_ID_LEN], SessionRow>>,
    stats: Mutex<Stats>,
    controls: Mutex<Controls>,
}

/// A refusal of the envelope itself, in the clear.
struct Refusal {
    status: StatusCode,
    code: &'static str,
    message: &'static str,
}

impl Refusal {
    fn bad(code: &'static str, message: &'static str) -> Self {
        Refusal {
            status: StatusCode::BAD_REQUEST,
            code,
            message,
        }
    }
}

fn malformed() -> Refusal {
    Refusal::bad("malformed", "the sealed request is malformed")
}

fn aead(key: &[u8; 32]) -> LessSafeKey {
    // SAFETY: a 32-byte key is what AES-256-GCM takes.
    LessSafeKey::new(UnboundKey::new(&AES_256_GCM, key).expect("AES-256-GCM key"))
}

fn nonce(request_id: u64, index: u32) -> Nonce {
    let mut bytes = [0u8; 12];
    bytes[..8].copy_from_slice(&request_id.to_be_bytes());
    bytes[8..].copy_from_slice(&index.to_be_bytes());
    Nonce::assume_unique_for_key(bytes)
}

#[derive(Deserialize)]
struct RequestHead {
    method: String,
    path: String,
    #[serde(default)]
    headers: Vec<(String, String)>,
}

#[derive(Serialize)]
struct ResponseHead {
    status: u16,
    headers: Vec<(String, String)>,
}

/// Noise message 2, and the session's request and response keys.
type Responded = (Vec<u8>, [u8; 32], [u8; 32]);

/// Answers Noise message 1 with message 2 (payload: the session id and
/// its lifetime) and returns the session's (request, response) keys.
/// `ephemeral` fixes the node's ephemeral key, for the published vectors.
fn respond(
    secret: &[u8; 32],
    message_1: &[u8],
    session_id: &[u8; SESSION_ID_LEN],
    lifetime: Duration,
    ephemeral: Option<&[u8; 32]>,
) -> Result<Responded, Refusal> {
    let undecryptable = || {
        Refusal::bad(
            "undecryptable",
            "the handshake did not complete under this node's transport key",
        )
    };
    if message_1.len() < 32 || low_order(secret, &message_1[..32]) {
        return Err(malformed());
    }
    let params = NOISE_PARAMS.parse().map_err(|_| undecryptable())?;
    let mut builder = snow::Builder::new(params)
        .prologue(PROLOGUE)
        .and_then(|b| b.local_private_key(secret))
        .map_err(|_| undecryptable())?;
    if let Some(e) = ephemeral {
        builder = builder.fixed_ephemeral_key_for_testing_only(e);
    }
    let mut noise = builder.build_responder().map_err(|_| undecryptable())?;
    let mut payload = [0u8; 64];
    let len = noise
        .read_message(message_1, &mut payload)
        .map_err(|_| undecryptable())?;
    if len != 0 {
        // Data before the ephemeral exchange would lack forward secrecy.
        return Err(malformed());
    }
    let mut reply_payload = [0u8; SESSION_ID_LEN + 4];
    reply_payload[..SESSION_ID_LEN].copy_from_slice(session_id);
    let secs = u32::try_from(lifetime.as_secs()).unwrap_or(u32::MAX);
    reply_payload[SESSION_ID_LEN..].copy_from_slice(&secs.to_be_bytes());
    let mut message_2 = vec![0u8; 32 + reply_payload.len() + TAG_LEN];
    let len = noise
        .write_message(&reply_payload, &mut message_2)
        .map_err(|_| undecryptable())?;
    message_2.truncate(len);
    let (request, response) = noise.dangerously_get_raw_split();
    Ok((message_2, request, response))
}

/// Seals the frames of one answer, numbering them.
struct FrameSealer {
    key: Arc<LessSafeKey>,
    header: [u8; HEADER_LEN],
    request_id: u64,
    index: u32,
    tamper: Option<u32>,
}

impl FrameSealer {
    fn seal(&mut self, kind: u8, data: &[u8]) -> Bytes {
        let index = self.index;
        self.index = self.index.wrapping_add(1);
        let mut sealed = Vec::with_capacity(1 + data.len() + TAG_LEN);
        sealed.push(kind);
        sealed.extend_from_slice(data);
        // SAFETY: sealing fails only past AES-GCM's message size limit.
        let tag = self
            .key
            .seal_in_place_separate_tag(
                nonce(self.request_id, index),
                Aad::from(&self.header),
                &mut sealed,
            )
            .expect("seal a frame");
        sealed.extend_from_slice(tag.as_ref());
        if self.tamper == Some(index) {
            sealed[0] ^= 1;
        }
        let mut frame = Vec::with_capacity(4 + sealed.len());
        frame.extend_from_slice(&(sealed.len() as u32).to_be_bytes());
        frame.extend_from_slice(&sealed);
        Bytes::from(frame)
    }
}

fn header_pairs(headers: &HeaderMap) -> Vec<(String, String)> {
    headers
        .iter()
        .filter(|(name, _)| !HOP_HEADERS.contains(&name.as_str()))
        .filter_map(|(name, value)| {
            Some((name.as_str().to_owned(), value.to_str().ok()?.to_owned()))
        })
        .collect()
}

impl SealedNode {
    pub fn new(secret: [u8; 32], required: bool) -> Self {
        SealedNode {
            key: Mutex::new((secret, public_key(&secret))),
            required,
            sessions: Mutex::default(),
            stats: Mutex::default(),
            controls: Mutex::default(),
        }
    }

    pub fn public_key(&self) -> [u8; 32] {
        lock(&self.key).1
    }

    fn refuse(&self, refusal: Refusal) -> Response {
        *lock(&self.stats)
            .refusals
            .entry(refusal.code.to_owned())
            .or_default() += 1;
        let mut response = (
            refusal.status,
            [(CONTENT_TYPE, "application/json")],
            json!({ "error": { "code": refusal.code, "message": refusal.message } }).to_string(),
        )
            .into_response();
        if refusal.status == StatusCode::SERVICE_UNAVAILABLE {
            let retry = lock(&self.controls)
                .retry_after
                .clone()
                .unwrap_or_else(|| "1".to_owned());
            if let Ok(value) = HeaderValue::from_str(&retry) {
                let _ = response.headers_mut().insert(RETRY_AFTER, value);
            }
        }
        response
    }

    fn take_busy(&self) -> bool {
        let mut controls = lock(&self.controls);
        if controls.busy > 0 {
            controls.busy -= 1;
            return true;
        }
        false
    }

    fn handshake(&self, body: &[u8]) -> Result<Response, Refusal> {
        if self.take_busy() {
            return Err(Refusal {
                status: StatusCode::SERVICE_UNAVAILABLE,
                code: "busy",
                message: "too many sealed sessions are being opened; retry shortly",
            });
        }
        if body.len() != HANDSHAKE_LEN {
            return Err(malformed());
        }
        if body[0] != VERSION {
            return Err(Refusal::bad(
                "unsupported_version",
                "unsupported sealed transport version",
            ));
        }
        let (secret, public) = *lock(&self.key);
        if body[1..33] != public {
            return Err(Refusal {
                status: StatusCode::CONFLICT,
                code: "stale_transport_key",
                message: "the handshake is addressed to a transport key this node no longer \
                          holds; attest again for the current one",
            });
        }
        let mut session_id = [0u8; SESSION_ID_LEN];
        rand::rng().fill_bytes(&mut session_id);
        let lifetime = lock(&self.controls).lifetime.unwrap_or(SESSION_LIFETIME);
        let (message_2, request, response) =
            respond(&secret, &body[33..], &session_id, lifetime, None)?;
        let now = Instant::now();
        {
            let mut sessions = lock(&self.sessions);
            sessions.retain(|_, s| s.expires > now);
            let _ = sessions.insert(
                session_id,
                SessionRow {
                    request: aead(&request),
                    response: Arc::new(aead(&response)),
                    expires: now + lifetime,
                    floor: 0,
                    seen: BTreeSet::new(),
                },
            );
        }
        lock(&self.stats).handshakes += 1;
        let mut reply = Vec::with_capacity(1 + message_2.len());
        reply.push(VERSION);
        reply.extend_from_slice(&message_2);
        Ok(sealed_response(Body::from(reply)))
    }

    /// Opens an envelope: the inner request's head and body, the response
    /// sealer, and when the session expires.
    fn open(&self, sealed: &[u8]) -> Result<(RequestHead, Bytes, FrameSealer, Instant), Refusal> {
        if self.take_busy() {
            return Err(Refusal {
                status: StatusCode::SERVICE_UNAVAILABLE,
                code: "busy",
                message: "the node is holding too many sealed requests; retry shortly",
            });
        }
        if sealed.len() < HEADER_LEN + TAG_LEN {
            return Err(malformed());
        }
        if sealed[0] != VERSION {
            return Err(Refusal::bad(
                "unsupported_version",
                "unsupported sealed transport version",
            ));
        }
        let mut header = [0u8; HEADER_LEN];
        header.copy_from_slice(&sealed[..HEADER_LEN]);
        let mut session_id = [0u8; SESSION_ID_LEN];
        session_id.copy_from_slice(&header[1..=SESSION_ID_LEN]);
        let mut id = [0u8; 8];
        id.copy_from_slice(&header[1 + SESSION_ID_LEN..]);
        let request_id = u64::from_be_bytes(id);
        let now = Instant::now();
        let mut sessions = lock(&self.sessions);
        let unknown = Refusal {
            status: StatusCode::CONFLICT,
            code: "unknown_session",
            message: "no such sealed session on this node (it expired, or the node \
                      restarted); open a new one",
        };
        let Some(row) = sessions.get_mut(&session_id) else {
            return Err(unknown);
        };
        if row.expires <= now {
            let _ = sessions.remove(&session_id);
            return Err(unknown);
        }
        let mut ciphertext = sealed[HEADER_LEN..].to_vec();
        let plain = row
            .request
            .open_in_place(nonce(request_id, 0), Aad::from(&header), &mut ciphertext)
            .map_err(|_| {
                Refusal::bad(
                    "undecryptable",
                    "the sealed request did not open under its session",
                )
            })?;
        // Spent only once it opened: a forgery cannot use up an id.
        if request_id <= row.floor || !row.seen.insert(request_id) {
            return Err(Refusal::bad(
                "replayed_request",
                "this sealed request was already received",
            ));
        }
        if row.seen.len() > REPLAY_WINDOW {
            if let Some(oldest) = row.seen.pop_first() {
                row.floor = oldest;
            }
        }
        if plain.len() < 4 {
            return Err(malformed());
        }
        let head_len = u32::from_be_bytes([plain[0], plain[1], plain[2], plain[3]]) as usize;
        if head_len > MAX_FRAME_DATA || plain.len() < 4 + head_len {
            return Err(malformed());
        }
        let head: RequestHead =
            serde_json::from_slice(&plain[4..4 + head_len]).map_err(|_| malformed())?;
        let body = Bytes::copy_from_slice(&plain[4 + head_len..]);
        let tamper = lock(&self.controls).tamper_frame.take();
        let sealer = FrameSealer {
            key: Arc::clone(&row.response),
            header,
            request_id,
            index: 0,
            tamper,
        };
        Ok((head, body, sealer, row.expires))
    }
}

fn sealed_response(body: Body) -> Response {
    (
        [
            (CONTENT_TYPE, CONTENT_TYPE_SEALED),
            (CACHE_CONTROL, "no-store"),
        ],
        body,
    )
        .into_response()
}

/// Wraps the whole router: the envelope endpoints are served here, and an
/// opened request goes back to the router (`next`) to be routed afresh.
pub async fn intercept(
    State(state): State<Arc<AppState>>,
    request: Request,
    next: Next,
) -> Response {
    let Some(sealed) = state.sealed.as_ref() else {
        return next.run(request).await;
    };
    let path = request.uri().path().to_owned();
    if path != HANDSHAKE_PATH && path != SEALED_PATH {
        if sealed.required
            && !UNSEALED_ADMIN_PATHS.contains(&path.as_str())
            && !path.starts_with(crate::middleware::CONTROL_PREFIX)
        {
            return sealed.refuse(Refusal {
                status: StatusCode::FORBIDDEN,
                code: "sealed_required",
                message: "this node serves only sealed requests; attest, open a sealed session \
                          and send the request through it",
            });
        }
        return next.run(request).await;
    }
    if request.method() != Method::POST {
        return StatusCode::METHOD_NOT_ALLOWED.into_response();
    }
    let (outer, body) = request.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, MAX_SEALED_BYTES).await else {
        return sealed.refuse(Refusal {
            status: StatusCode::PAYLOAD_TOO_LARGE,
            code: "too_large",
            message: "the sealed request is too large",
        });
    };
    if path == HANDSHAKE_PATH {
        return sealed
            .handshake(&bytes)
            .unwrap_or_else(|refusal| sealed.refuse(refusal));
    }
    let (head, inner_body, mut frames, expires) = match sealed.open(&bytes) {
        Ok(opened) => opened,
        Err(refusal) => return sealed.refuse(refusal),
    };
    lock(&sealed.stats).requests += 1;
    let upgrade = head
        .headers
        .iter()
        .any(|(name, _)| name.eq_ignore_ascii_case("upgrade"));
    let response = if upgrade {
        (
            StatusCode::NOT_IMPLEMENTED,
            [(CONTENT_TYPE, "application/json")],
            json!({ "error": { "message": "a WebSocket cannot be sealed; subscribe over server-sent events instead" } })
                .to_string(),
        )
            .into_response()
    } else {
        match inner_request(&head, inner_body, outer) {
            Some(inner) => next.run(inner).await,
            None => return sealed.refuse(malformed()),
        }
    };
    let cut_short = std::mem::take(&mut lock(&sealed.controls).cut_short);
    let (parts, body) = response.into_parts();
    let head = serde_json::to_vec(&ResponseHead {
        status: parts.status.as_u16(),
        headers: header_pairs(&parts.headers),
    })
    .unwrap_or_default();
    let first = frames.seal(FRAME_HEAD, &head);
    let stats = Arc::clone(&state);
    let streaming = Streaming {
        frames,
        body: body.into_data_stream(),
        pending: Bytes::new(),
        deadline: tokio::time::Instant::from_std(expires),
        done: false,
        cut_short,
        count: 1,
        state: stats,
    };
    let rest = futures_util::stream::unfold(streaming, Streaming::next_frame);
    let frames = futures_util::stream::iter([first])
        .chain(rest)
        .map(Ok::<_, std::convert::Infallible>);
    sealed_response(Body::from_stream(frames))
}

/// The inner request: the head's method, path and headers, and the outer
/// request's extensions (its connection, for `drop` faults) and `Host`.
fn inner_request(
    head: &RequestHead,
    body: Bytes,
    outer: axum::http::request::Parts,
) -> Option<Request> {
    let method = Method::from_bytes(head.method.as_bytes()).ok()?;
    if !head.path.starts_with('/') || head.path.starts_with(SEALED_PATH) {
        return None;
    }
    let uri: Uri = head.path.parse().ok()?;
    let length = body.len();
    let mut inner = Request::new(Body::from(body));
    *inner.method_mut() = method;
    *inner.uri_mut() = uri;
    for (name, value) in &head.headers {
        let name = HeaderName::from_bytes(name.as_bytes()).ok()?;
        if HOP_HEADERS.contains(&name.as_str()) {
            continue;
        }
        let _ = inner
            .headers_mut()
            .append(name, HeaderValue::from_str(value).ok()?);
    }
    let _ = inner.headers_mut().insert(
        axum::http::header::CONTENT_LENGTH,
        HeaderValue::from(length),
    );
    if let Some(host) = outer.headers.get(axum::http::header::HOST) {
        let _ = inner
            .headers_mut()
            .insert(axum::http::header::HOST, host.clone());
    }
    *inner.extensions_mut() = outer.extensions;
    let _ = inner.extensions_mut().insert(SealedInner);
    Some(inner)
}

struct Streaming {
    frames: FrameSealer,
    body: axum::body::BodyDataStream,
    pending: Bytes,
    deadline: tokio::time::Instant,
    done: bool,
    cut_short: bool,
    count: u64,
    state: Arc<AppState>,
}

impl Streaming {
    fn record(&self) {
        if let Some(sealed) = &self.state.sealed {
            lock(&sealed.stats).last_frames = self.count;
        }
    }

    async fn next_frame(mut self) -> Option<(Bytes, Self)> {
        if self.done {
            return None;
        }
        if self.pending.is_empty() {
            match tokio::time::timeout_at(self.deadline, self.body.next()).await {
                Ok(Some(Ok(chunk))) => self.pending = chunk,
                Ok(None) => {
                    self.done = true;
                    if !self.cut_short {
                        self.count += 1;
                    }
                    self.record();
                    if self.cut_short {
                        return None;
                    }
                    let end = self.frames.seal(FRAME_END, &[]);
                    return Some((end, self));
                }
                // The answer failed, or the session expired: no end frame.
                Ok(Some(Err(_))) | Err(_) => return None,
            }
        }
        let piece = self
            .pending
            .split_to(self.pending.len().min(MAX_FRAME_DATA));
        self.count += 1;
        let frame = self.frames.seal(FRAME_DATA, &piece);
        Some((frame, self))
    }
}

// ------------------------------------------------------------ test controls

/// `GET /_testnode/sealed`: the transport key and the counters.
pub fn status(state: &AppState) -> serde_json::Value {
    match &state.sealed {
        None => json!({ "enabled": false }),
        Some(sealed) => {
            let stats = lock(&sealed.stats).clone();
            json!({
                "enabled": true,
                "transportPublicKey": hex::encode(sealed.public_key()),
                "required": sealed.required,
                "sessions": lock(&sealed.sessions).len(),
                "handshakes": stats.handshakes,
                "requests": stats.requests,
                "refusals": stats.refusals,
                "lastFrames": stats.last_frames,
            })
        }
    }
}

/// What `POST /_testnode/sealed` accepts (every field optional).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ControlSpec {
    /// Drop every session: the next sealed request meets `unknown_session`.
    #[serde(default)]
    forget_sessions: bool,
    /// Refuse this many handshakes and envelopes as `busy` (503).
    #[serde(default)]
    busy: Option<u64>,
    /// The `Retry-After` of `busy` refusals (default "1").
    #[serde(default)]
    retry_after: Option<String>,
    /// Flip a bit of this frame (0 = the head) of the next answer.
    #[serde(default)]
    tamper_frame: Option<u32>,
    /// End the next answer without its end frame.
    #[serde(default)]
    cut_short: bool,
    /// A new transport secret (hex), as a restarted node has: sessions go.
    #[serde(default)]
    transport_secret: Option<String>,
    /// The lifetime of sessions opened from now on, in seconds.
    #[serde(default)]
    lifetime_secs: Option<u64>,
    /// Zero the counters.
    #[serde(default)]
    reset_stats: bool,
}

/// Applies `POST /_testnode/sealed`; `Err` says what is wrong.
pub fn control(state: &AppState, spec: ControlSpec) -> Result<(), String> {
    let sealed = state
        .sealed
        .as_ref()
        .ok_or("the node was not started with --transport-secret")?;
    if let Some(hex_secret) = &spec.transport_secret {
        let secret = parse_secret(hex_secret)?;
        *lock(&sealed.key) = (secret, public_key(&secret));
        lock(&sealed.sessions).clear();
    }
    if spec.forget_sessions {
        lock(&sealed.sessions).clear();
    }
    let mut controls = lock(&sealed.controls);
    if let Some(n) = spec.busy {
        controls.busy = n;
    }
    if spec.retry_after.is_some() {
        controls.retry_after = spec.retry_after;
    }
    if spec.tamper_frame.is_some() {
        controls.tamper_frame = spec.tamper_frame;
    }
    if spec.cut_short {
        controls.cut_short = true;
    }
    if let Some(secs) = spec.lifetime_secs {
        controls.lifetime = Some(Duration::from_secs(secs));
    }
    if spec.reset_stats {
        *lock(&sealed.stats) = Stats::default();
    }
    Ok(())
}

/// 32 bytes of hex.
pub fn parse_secret(value: &str) -> Result<[u8; 32], String> {
    let mut secret = [0u8; 32];
    hex::decode_to_slice(value.trim(), &mut secret)
        .map_err(|_| "a transport secret is 64 hexadecimal characters".to_owned())?;
    Ok(secret)
}

#[cfg(test)]
mod tests {
    //! The node's half of the published vectors: core
    //! `crates/server/src/sealed/tests.rs` (transport secret 0x22 x 32, node
    //! ephemeral 0x44 x 32, session id 0x55 x 16, client ephemeral 0x33 x 32),
    //! repeated in mero-js `src/sealed/sealed.test.ts@c7fbe5b0`.

    use super::*;

    const TRANSPORT_PUBLIC_VECTOR: &str =
        "0faa684ed28867b97f4a6a2dee5df8ce974e76b7018e3f22a1c4cf2678570f20";
    const HANDSHAKE_REQUEST_VECTOR: &str = concat!(
        "020faa684ed28867b97f4a6a2dee5df8ce974e76b7018e3f22a1c4cf2678570f207b0d47d93427f831116078",
        "1c7c733fd89f88970aef490d8aa0ee19a4cb8a1b1461fba335b4f3e9be8a34a61900e5b4be"
    );
    const HANDSHAKE_RESPONSE_VECTOR: &str = concat!(
        "02ff2ee45601ec1b67310c7790404585ae697331eee1c1f8cf2419731c1fff3e6b7d6339b7296bdc4778248f",
        "57126a10ee5b7fb39b0cb104dcbfcaaaf44d0e6017379638a4"
    );
    const SEALED_REQUEST_VECTOR: &str = concat!(
        "025555555555555555555555555555555500000000000000019fa4301264a48bdf6811cfb1d7c3dad713ede5",
        "ea1820608358ff2779cee1605efc3d97879f24d6cf302a7877beda552ca6714ef9d5496f978fdcdde522435c",
        "f663e4be5f60170e8eab74161a913608fe268e5352fcd3090d62e2a12c92b06b51885d43c4d83dcfe544"
    );
    const SEALED_RESPONSE_VECTOR: &str = concat!(
        "0000004f4873ec5a589a1e3585360440100bc00d20522fe35bac2221dcfe80341ce3069481d4794b801776f4",
        "a76188b81887eb83cfccd2981229af48a3820df924261b3ff12d4b29340ca07c392ed4e0ee4bed0000001cfa",
        "20a7633655179808da19e2fcbc81bc219262fc4f5406582834f549000000111426897864d7a92eec9261fe29",
        "93415592"
    );

    #[test]
    fn the_node_side_reproduces_the_published_vectors() {
        let secret = [0x22; 32];
        assert_eq!(hex::encode(public_key(&secret)), TRANSPORT_PUBLIC_VECTOR);

        let handshake = hex::decode(HANDSHAKE_REQUEST_VECTOR).unwrap();
        assert_eq!(handshake.len(), HANDSHAKE_LEN);
        let (message_2, request, response) = respond(
            &secret,
            &handshake[33..],
            &[0x55; SESSION_ID_LEN],
            SESSION_LIFETIME,
            Some(&[0x44; 32]),
        )
        .unwrap_or_else(|r| panic!("{}", r.code));
        let mut reply = vec![VERSION];
        reply.extend_from_slice(&message_2);
        assert_eq!(hex::encode(reply), HANDSHAKE_RESPONSE_VECTOR);

        // The published request opens under the session's request key.
        let node = SealedNode::new(secret, false);
        let _ = lock(&node.sessions).insert(
            [0x55; SESSION_ID_LEN],
            SessionRow {
                request: aead(&request),
                response: Arc::new(aead(&response)),
                expires: Instant::now() + SESSION_LIFETIME,
                floor: 0,
                seen: BTreeSet::new(),
            },
        );
        let envelope = hex::decode(SEALED_REQUEST_VECTOR).unwrap();
        let (head, body, mut frames, _) = node
            .open(&envelope)
            .unwrap_or_else(|r| panic!("{}", r.code));
        assert_eq!(
            (head.method.as_str(), head.path.as_str()),
            ("POST", "/jsonrpc")
        );
        assert_eq!(
            head.headers,
            [("content-type".to_owned(), "application/json".to_owned())]
        );
        assert_eq!(&body[..], b"{}");
        // Sent again, it is a replay.
        assert_eq!(
            node.open(&envelope).err().map(|r| r.code),
            Some("replayed_request")
        );

        // And the published response is what the node seals for it.
        let head = serde_json::to_vec(&ResponseHead {
            status: 200,
            headers: vec![("content-type".into(), "application/json".into())],
        })
        .unwrap();
        let sealed = [
            frames.seal(FRAME_HEAD, &head),
            frames.seal(FRAME_DATA, b"{\"ok\":true}"),
            frames.seal(FRAME_END, &[]),
        ]
        .concat();
        assert_eq!(hex::encode(sealed), SEALED_RESPONSE_VECTOR);
    }

    #[test]
    fn handshakes_the_node_cannot_serve_are_refused() {
        let node = SealedNode::new([0x22; 32], false);
        let handshake = hex::decode(HANDSHAKE_REQUEST_VECTOR).unwrap();
        // Another transport key: the node restarted.
        let mut stale = handshake.clone();
        stale[1] ^= 1;
        assert_eq!(
            node.handshake(&stale).err().map(|r| r.code),
            Some("stale_transport_key")
        );
        // A low-order ephemeral key.
        let mut low = handshake[..33].to_vec();
        low.extend_from_slice(&[0u8; 48]);
        assert_eq!(
            node.handshake(&low).err().map(|r| r.code),
            Some("malformed")
        );
        assert!(node.handshake(&handshake).is_ok());
    }
}
