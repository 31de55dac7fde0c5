//! The sealed transport to TEE nodes: every request of a sealed connection
//! is encrypted end to end to the node's attested X25519 transport key, so
//! that only the TD reads it, whatever TLS or proxy sits in front of it.
//!
//! A sealed connection learns the transport key by attestation (a
//! [`TeePolicy`] the node's quote must meet, see [`crate::tee`]) or is
//! given it (verified some other way). It opens a session with a Noise NK
//! handshake to that key, seals each request under the session, and opens
//! the response as its sealed frames stream in ([`wire`]). A session the
//! node dropped (409 `unknown_session`) is renewed and the request sent
//! again (the node refused the envelope before anything in it ran); a
//! restarted node (409 `stale_transport_key`) is attested again when a
//! policy is there to do it; `busy` (503 with `Retry-After`) is waited out
//! once. Nothing is ever sent in the clear but the attestation request and
//! the handshake, which carry no credential.
//!
//! [`Channel::send`] is what [`Connection::dispatch`] calls for every
//! request of a sealed connection: it takes the request as built for a
//! plain connection and gives back the inner response as a
//! `reqwest::Response` whose body streams as the frames open.

pub mod wire;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::BodyExt as _;
use reqwest::header::{HeaderMap, CONTENT_TYPE, RETRY_AFTER};

use crate::connection::{redact, transport_error, Connection};
use crate::error::Error;
use crate::tee::{Collateral, TeePolicy};
use wire::{Frame, Initiator, RequestHead, Session};

/// Open a new session this long before the node would drop the current one.
const RENEW_BEFORE: Duration = Duration::from_secs(60);
/// The longest `Retry-After` waited out on `busy`.
const MAX_BUSY_WAIT: Duration = Duration::from_secs(5);
/// How much of a refusal's body is read.
const MAX_REFUSAL_BYTES: u64 = 16 * 1024;
/// Headers that describe the hop, not the message: never sealed.
const HOP_HEADERS: [&str; 5] = [
    "connection",
    "content-length",
    "host",
    "transfer-encoding",
    "upgrade",
];

/// Where a sealed connection's transport key comes from.
#[derive(Clone, Debug)]
pub enum KeySource {
    /// A key the caller verified some other way (`transport_public_key`).
    Given([u8; 32]),
    /// The node attests it; its quote must meet the policy, verified
    /// against the collateral given here or, when none is, the node's.
    Attested {
        policy: Arc<TeePolicy>,
        collateral: Option<Arc<Collateral>>,
    },
}

/// How a connection seals its requests (`Config::sealed`).
#[derive(Clone, Debug)]
pub struct SealedConfig {
    pub key: KeySource,
}

/// The live state of a sealed connection.
pub(crate) struct Channel {
    key_source: KeySource,
    /// The process the state belongs to, and the state: the session in use
    /// and the key it was opened to, held across a handshake so concurrent
    /// requests open one session between them. A forked child starts a
    /// session of its own: sharing its parent's would reuse request ids,
    /// and so AES-GCM nonces, under the same key.
    state: Mutex<(u32, Arc<tokio::sync::Mutex<State>>)>,
    /// The transport key in use, for display (no await to read it).
    key: Mutex<Option<[u8; 32]>>,
}

#[derive(Default)]
struct State {
    key: Option<[u8; 32]>,
    session: Option<Live>,
}

#[derive(Clone)]
struct Live {
    session: Arc<Session>,
    renew_at: Instant,
}

/// A body error while a sealed response streams: a frame that did not
/// open, a response cut short. [`transport_error`] turns it into
/// [`Error::Sealed`].
#[derive(Debug)]
pub(crate) struct StreamError(pub(crate) String);

impl std::fmt::Display for StreamError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for StreamError {}

fn sealed_error(method: &str, url: &str, message: impl Into<String>) -> Error {
    Error::Sealed {
        method: method.into(),
        url: url.into(),
        message: message.into(),
    }
}

/// The node refused an envelope or a handshake in the clear.
struct Refusal {
    code: Option<String>,
    retry_after: Option<f64>,
    error: Error,
}

impl Channel {
    pub(crate) fn new(config: &SealedConfig) -> Self {
        let key = match &config.key {
            KeySource::Given(key) => Some(*key),
            KeySource::Attested { .. } => None,
        };
        Channel {
            key_source: config.key.clone(),
            state: Mutex::new((
                crate::runtime::pid(),
                Arc::new(tokio::sync::Mutex::new(State { key, session: None })),
            )),
            key: Mutex::new(key),
        }
    }

    /// This process's state (a fresh one, keeping the key, after a fork).
    fn state(&self) -> Arc<tokio::sync::Mutex<State>> {
        let mut slot = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let pid = crate::runtime::pid();
        if slot.0 != pid {
            let state = State {
                key: self.transport_key(),
                session: None,
            };
            *slot = (pid, Arc::new(tokio::sync::Mutex::new(state)));
        }
        Arc::clone(&slot.1)
    }

    /// The transport key requests are sealed to: the given one, or the
    /// attested one once the node attested (None before).
    pub(crate) fn transport_key(&self) -> Option<[u8; 32]> {
        self.key.lock().ok().and_then(|k| *k)
    }

    /// Sends `request` sealed and returns the node's inner answer, its body
    /// streaming as its frames open.
    pub(crate) async fn send(
        &self,
        conn: &Connection,
        request: reqwest::RequestBuilder,
        method: &'static str,
        shown_url: &str,
    ) -> Result<reqwest::Response, Error> {
        let (http, request) = request.build_split();
        let mut request = request.map_err(|e| transport_error(method, shown_url, &e))?;
        let head = RequestHead {
            method: request.method().as_str().to_owned(),
            path: inner_path(conn, request.url()).ok_or_else(|| {
                sealed_error(
                    method,
                    shown_url,
                    "the request leaves the node's base URL, and would go unsealed: refused",
                )
            })?,
            headers: inner_headers(request.headers())
                .map_err(|e| sealed_error(method, shown_url, e))?,
        };
        let body = match request.body_mut().take() {
            None => Vec::new(),
            Some(body) => match body.as_bytes() {
                Some(bytes) => bytes.to_vec(),
                None => collect(body, method, shown_url).await?,
            },
        };
        let timeout = request.timeout().copied();
        let url = conn.node_url(wire::SEALED_PATH)?;
        let mut live = self.session(conn, &http).await?;
        let (mut renewed, mut waited) = (false, false);
        loop {
            let sealed = live
                .session
                .seal(&head, &body)
                .map_err(|e| sealed_error(method, shown_url, e.to_string()))?;
            let frames = live.session.frames(&sealed);
            let mut outer = http
                .post(url.clone())
                .header(CONTENT_TYPE, wire::CONTENT_TYPE)
                .body(sealed.envelope);
            if let Some(timeout) = timeout {
                outer = outer.timeout(timeout);
            }
            let response = outer
                .send()
                .await
                .map_err(|e| transport_error(method, shown_url, &e))?;
            if is_sealed(response.headers()) {
                return open(response, frames, method, shown_url).await;
            }
            // Refused before anything in the envelope ran: safe to resend.
            let refusal = refusal(response, method, shown_url).await;
            match refusal.code.as_deref() {
                Some("unknown_session") if !renewed => {
                    renewed = true;
                    live = self.renew(conn, &http, &live.session).await?;
                }
                Some("busy") if !waited => {
                    waited = true;
                    tokio::time::sleep(busy_wait(refusal.retry_after)).await;
                }
                _ => return Err(refusal.error),
            }
        }
    }

    /// The session to use now: the current one, or a new one when there is
    /// none or it is about to expire.
    async fn session(&self, conn: &Connection, http: &reqwest::Client) -> Result<Live, Error> {
        let state = self.state();
        let mut state = state.lock().await;
        if let Some(live) = &state.session {
            if Instant::now() < live.renew_at {
                return Ok(live.clone());
            }
        }
        self.open_session(conn, http, &mut state).await
    }

    /// A new session in place of `stale`, unless another request already
    /// replaced it.
    async fn renew(
        &self,
        conn: &Connection,
        http: &reqwest::Client,
        stale: &Arc<Session>,
    ) -> Result<Live, Error> {
        let state = self.state();
        let mut state = state.lock().await;
        if let Some(live) = &state.session {
            if !Arc::ptr_eq(&live.session, stale) && Instant::now() < live.renew_at {
                return Ok(live.clone());
            }
        }
        self.open_session(conn, http, &mut state).await
    }

    async fn open_session(
        &self,
        conn: &Connection,
        http: &reqwest::Client,
        state: &mut State,
    ) -> Result<Live, Error> {
        state.session = None;
        let mut attested_now = false;
        let key = match state.key {
            Some(key) => key,
            None => {
                attested_now = true;
                self.attest(conn, http, state).await?
            }
        };
        let session = match self.handshake(conn, http, &key).await? {
            Some(session) => session,
            // The node no longer holds the key: it restarted.
            None => match &self.key_source {
                KeySource::Attested { .. } if !attested_now => {
                    let key = self.attest(conn, http, state).await?;
                    self.handshake(conn, http, &key)
                        .await?
                        .ok_or_else(|| Error::Attestation {
                            message: "the node refused a handshake to the transport key it \
                                      had just attested (stale_transport_key)"
                                .into(),
                        })?
                }
                KeySource::Attested { .. } => {
                    return Err(Error::Attestation {
                        message: "the node refused a handshake to the transport key it had \
                                  just attested (stale_transport_key)"
                            .into(),
                    })
                }
                KeySource::Given(_) => {
                    return Err(Error::Attestation {
                        message: "the node no longer holds the transport key given \
                                  (transport_public_key): it has restarted with a new one \
                                  (stale_transport_key). Verify its new key and pass it, or \
                                  connect with tee= to have it attested"
                            .into(),
                    })
                }
            },
        };
        let lifetime = session.lifetime();
        let margin = RENEW_BEFORE.min(lifetime / 2);
        let live = Live {
            session: Arc::new(session),
            renew_at: Instant::now() + lifetime.saturating_sub(margin),
        };
        state.session = Some(live.clone());
        Ok(live)
    }

    async fn attest(
        &self,
        conn: &Connection,
        http: &reqwest::Client,
        state: &mut State,
    ) -> Result<[u8; 32], Error> {
        let KeySource::Attested { policy, collateral } = &self.key_source else {
            return Err(Error::Internal("no policy to attest the node with".into()));
        };
        state.key = None;
        if let Ok(mut k) = self.key.lock() {
            *k = None;
        }
        let key = crate::tee::attest(conn, http, policy, collateral.as_deref()).await?;
        state.key = Some(key);
        if let Ok(mut k) = self.key.lock() {
            *k = Some(key);
        }
        Ok(key)
    }

    /// Opens a session to `key`; `None` when the node says it no longer
    /// holds that key. A `busy` node is waited out once.
    async fn handshake(
        &self,
        conn: &Connection,
        http: &reqwest::Client,
        key: &[u8; 32],
    ) -> Result<Option<Session>, Error> {
        let url = conn.node_url(wire::HANDSHAKE_PATH)?;
        let shown_url = redact(&url);
        let mut waited = false;
        loop {
            let (initiator, body) = Initiator::start(key)
                .map_err(|e| sealed_error("POST", &shown_url, e.to_string()))?;
            let response = http
                .post(url.clone())
                .timeout(conn.timeout())
                .header(CONTENT_TYPE, wire::CONTENT_TYPE)
                .body(body)
                .send()
                .await
                .map_err(|e| transport_error("POST", &shown_url, &e))?;
            if is_sealed(response.headers()) {
                let reply = read_at_most(response, wire::MAX_HANDSHAKE_REPLY, &shown_url).await?;
                return initiator
                    .finish(&reply)
                    .map(Some)
                    .map_err(|e| sealed_error("POST", &shown_url, e.to_string()));
            }
            let refusal = refusal(response, "POST", &shown_url).await;
            match refusal.code.as_deref() {
                Some("stale_transport_key") => return Ok(None),
                Some("busy") if !waited => {
                    waited = true;
                    tokio::time::sleep(busy_wait(refusal.retry_after)).await;
                }
                _ => return Err(refusal.error),
            }
        }
    }
}

fn busy_wait(retry_after: Option<f64>) -> Duration {
    retry_after
        .map(|s| Duration::from_secs_f64(s).min(MAX_BUSY_WAIT))
        .unwrap_or(Duration::from_secs(1))
}

fn is_sealed(headers: &HeaderMap) -> bool {
    headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case(wire::CONTENT_TYPE))
}

/// The path (and query) of `url` relative to the connection's base URL, or
/// None when it is not below it.
fn inner_path(conn: &Connection, url: &url::Url) -> Option<String> {
    let rest = url.as_str().strip_prefix(conn.api_url())?;
    rest.starts_with('/').then(|| rest.to_owned())
}

fn inner_headers(headers: &HeaderMap) -> Result<Vec<(String, String)>, String> {
    headers
        .iter()
        .filter(|(name, _)| !HOP_HEADERS.contains(&name.as_str()))
        .map(|(name, value)| {
            let value = value.to_str().map_err(|_| {
                format!("the header {name} is not visible ASCII and cannot be sealed")
            })?;
            Ok((name.as_str().to_owned(), value.to_owned()))
        })
        .collect()
}

/// A streamed request body, read whole (it is sealed as one message), at
/// most what a sealed request carries.
async fn collect(body: reqwest::Body, method: &str, shown_url: &str) -> Result<Vec<u8>, Error> {
    let limited = http_body_util::Limited::new(body, wire::MAX_SEALED_REQUEST);
    match limited.collect().await {
        Ok(collected) => Ok(collected.to_bytes().to_vec()),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => Err(sealed_error(
            method,
            shown_url,
            format!(
                "a sealed request carries at most {} MiB and this body is larger",
                wire::MAX_SEALED_REQUEST >> 20
            ),
        )),
        Err(e) => {
            let mut message = e.to_string();
            let mut source = e.source();
            while let Some(s) = source {
                message = s.to_string();
                source = s.source();
            }
            Err(Error::Network {
                method: method.into(),
                url: shown_url.into(),
                message,
                connect: false,
            })
        }
    }
}

/// Reads a body of at most `limit` bytes (a handshake reply).
async fn read_at_most(
    mut response: reqwest::Response,
    limit: usize,
    shown_url: &str,
) -> Result<Vec<u8>, Error> {
    let mut out = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| transport_error("POST", shown_url, &e))?
    {
        out.extend_from_slice(&chunk);
        if out.len() > limit {
            return Err(sealed_error(
                "POST",
                shown_url,
                "the handshake reply is malformed: it is too long",
            ));
        }
    }
    Ok(out)
}

/// The node's refusal of an envelope or a handshake, `{"error": {"code",
/// "message"}}`, as an HTTP error (and its code).
async fn refusal(mut response: reqwest::Response, method: &str, shown_url: &str) -> Refusal {
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let mut body = Vec::new();
    while let Ok(Some(chunk)) = response.chunk().await {
        body.extend_from_slice(&chunk);
        if body.len() as u64 > MAX_REFUSAL_BYTES {
            body.truncate(MAX_REFUSAL_BYTES as usize);
            break;
        }
    }
    let parsed: Option<serde_json::Value> = serde_json::from_slice(&body).ok();
    let error = parsed.as_ref().and_then(|v| v.get("error"));
    let code = error
        .and_then(|e| e.get("code"))
        .and_then(|c| c.as_str())
        .map(str::to_owned);
    let message = error
        .and_then(|e| e.get("message"))
        .and_then(|m| m.as_str());
    let retry_after = headers
        .get(RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<f64>().ok())
        .filter(|s| s.is_finite() && *s >= 0.0);
    let mut error = crate::connection::http_failure(status, &headers, &body, method, shown_url);
    if let (Error::Http(failure), Some(code)) = (&mut error, &code) {
        failure.message = format!(
            "the node refused the sealed request ({code}): {}",
            message.unwrap_or("no message")
        );
    } else if let Error::Http(failure) = &mut error {
        // Not the node's JSON: a proxy's page, most likely.
        failure.message = format!(
            "the sealed request was answered unsealed, which the node never does: {}",
            failure.message
        );
    }
    Refusal {
        code,
        retry_after,
        error,
    }
}

/// Opens a sealed response: waits for its head, then hands back the inner
/// answer with a body that opens each frame as it arrives. A frame that
/// does not open, or a stream that stops before its end frame, fails the
/// body rather than pass anything unauthenticated on.
async fn open(
    mut response: reqwest::Response,
    mut frames: wire::Frames,
    method: &str,
    shown_url: &str,
) -> Result<reqwest::Response, Error> {
    let head = loop {
        match frames.next_frame() {
            Ok(Some(Frame::Head(head))) => break head,
            Ok(Some(_)) => {
                return Err(sealed_error(
                    method,
                    shown_url,
                    "the sealed response does not start with its head",
                ))
            }
            Ok(None) => {}
            Err(e) => return Err(sealed_error(method, shown_url, e.to_string())),
        }
        match response
            .chunk()
            .await
            .map_err(|e| transport_error(method, shown_url, &e))?
        {
            Some(chunk) => frames.push(&chunk),
            None => {
                return Err(sealed_error(
                    method,
                    shown_url,
                    "the sealed response was cut short before its head",
                ))
            }
        }
    };
    let mut builder = http::Response::builder().status(head.status);
    for (name, value) in &head.headers {
        builder = builder.header(name.as_str(), value.as_str());
    }
    let body = futures_util::stream::unfold(Some((response, frames)), next_chunk);
    builder
        .body(reqwest::Body::wrap_stream(body))
        .map(reqwest::Response::from)
        .map_err(|e| {
            sealed_error(
                method,
                shown_url,
                format!("the sealed response head is malformed: {e}"),
            )
        })
}

type BodyState = Option<(reqwest::Response, wire::Frames)>;

/// The next piece of an opened body; the end frame ends it.
async fn next_chunk(
    state: BodyState,
) -> Option<(
    Result<Bytes, Box<dyn std::error::Error + Send + Sync>>,
    BodyState,
)> {
    let (mut response, mut frames) = state?;
    loop {
        match frames.next_frame() {
            Ok(Some(Frame::Data(data))) if data.is_empty() => {}
            Ok(Some(Frame::Data(data))) => {
                return Some((Ok(Bytes::from(data)), Some((response, frames))))
            }
            Ok(Some(Frame::End)) => return None,
            Ok(Some(Frame::Head(_))) => {
                let message = "the sealed response has a second head".to_owned();
                return Some((Err(Box::new(StreamError(message))), None));
            }
            Ok(None) => {}
            Err(e) => return Some((Err(Box::new(StreamError(e.to_string()))), None)),
        }
        match response.chunk().await {
            Ok(Some(chunk)) => frames.push(&chunk),
            Ok(None) => {
                return Some((
                    Err(Box::new(StreamError(
                        "the sealed response was cut short: it stopped before its end frame".into(),
                    ))),
                    None,
                ))
            }
            Err(e) => return Some((Err(Box::new(e)), None)),
        }
    }
}
