//! Live events: a subscription to contexts and groups over Server-Sent
//! Events (`GET /sse`) or a WebSocket (`GET /ws`), reconnecting and
//! re-subscribing by itself.
//!
//! Wire rules (node-api.md 1.13-1.15), checked against the node at
//! 0.11.0-rc.25: core:crates/server/src/sse/handlers.rs (the
//! `X-SSE-Session-ID` header, the first `connect` event, `Last-Event-ID:
//! {session}-{n}` resuming a session without replaying what was missed),
//! core:crates/server/primitives/src/sse.rs (`POST /sse/subscription`
//! bodies with the session id as a string), core:crates/server/src/ws.rs and
//! core:crates/server/primitives/src/ws.rs (frames whose `id` is a u64 or
//! null, pushes `{"id": null, "result": <NodeEvent>}`, server pings),
//! core:crates/primitives/src/events.rs (the `NodeEvent` shapes).
//!
//! A subscription runs as one task on the shared runtime with its own
//! connection (an SSE stream on the connection's HTTP client, or a WebSocket
//! of its own), and hands events to the consumer through a bounded channel:
//! a consumer that stops reading stops the task reading its stream (the node
//! then skips events, as it does for any slow client), never the other calls
//! made on the same connection.
//!
//! A reconnect is visible: the node does not replay what was missed, so the
//! consumer gets a marker `{"type": "reconnected", "transport": "sse"|"ws",
//! "attempt": n, "reconnects": total}` before the events that follow it.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::task::Poll;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use reqwest::header::{ACCEPT, USER_AGENT};
use serde_json::{json, Value};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot, watch};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{self, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use crate::auth::{AuthRecovery, AuthTicket, MAX_AUTH_RETRIES};
use crate::connection::{
    build_stream_http, jittered_backoff, redact, transport_error, Config, Connection,
};
use crate::error::{Error, ErrorKind, RpcFailure};

/// Reconnect attempts after a connection breaks, unless told otherwise.
pub const DEFAULT_MAX_RECONNECTS: u32 = 10;
/// Events held for a consumer that has not read them yet.
pub const DEFAULT_BUFFER: usize = 256;
/// The largest event (or WebSocket message) accepted: the node's
/// `WS_MAX_MESSAGE_BYTES`.
pub const MAX_EVENT_BYTES: usize = 16 * 1024 * 1024;
/// Events read ahead of a slow consumer while a WebSocket subscribe waits
/// for its answer.
const MAX_BACKLOG: usize = 4096;
/// First reconnect delay; doubled per failed attempt, capped, with jitter.
const BACKOFF_BASE: Duration = Duration::from_millis(250);
const BACKOFF_CAP: Duration = Duration::from_secs(10);
/// Silence after which a stream counts as dead: the node sends an SSE
/// keep-alive comment every 15 s (axum's default) and a WebSocket ping
/// every 30 s.
const SSE_IDLE: Duration = Duration::from_secs(45);
const WS_IDLE: Duration = Duration::from_secs(75);

/// How events travel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    Sse,
    Ws,
}

impl Transport {
    /// `"sse"` or `"ws"` (ValueError naming `argument` otherwise).
    pub fn parse(argument: &str, value: &str) -> Result<Self, Error> {
        match value {
            "sse" => Ok(Transport::Sse),
            "ws" => Ok(Transport::Ws),
            other => Err(Error::invalid(
                argument,
                format!(
                    "expected \"sse\" or \"ws\", got {}",
                    crate::ids::shown(other)
                ),
            )),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Transport::Sse => "sse",
            Transport::Ws => "ws",
        }
    }
}

/// Settings of a subscription.
#[derive(Debug, Clone, Copy)]
pub struct SubscribeOptions {
    pub transport: Transport,
    /// Failed reconnect attempts in a row before the subscription gives up
    /// and raises the last error; 0: never reconnect.
    pub max_reconnects: u32,
    /// Events held for the consumer (at least 1).
    pub buffer: usize,
}

impl Default for SubscribeOptions {
    fn default() -> Self {
        SubscribeOptions {
            transport: Transport::Sse,
            max_reconnects: DEFAULT_MAX_RECONNECTS,
            buffer: DEFAULT_BUFFER,
        }
    }
}

/// Validated ids: contexts as given (base58 or hex; sent in the node
/// release's encoding), groups as lower-case hex (the form group events
/// carry), each once (a context given in both encodings is one), in the
/// order given.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Ids {
    pub contexts: Vec<String>,
    pub groups: Vec<String>,
}

impl Ids {
    /// Checks every id before any I/O; a bad one is an `InvalidArgument`
    /// naming `context_ids[i]` or `group_ids[i]`.
    pub fn new(contexts: &[String], groups: &[String]) -> Result<Self, Error> {
        let mut ids = Ids::default();
        let mut seen = Vec::new();
        for (i, c) in contexts.iter().enumerate() {
            let bytes = crate::ids::base58_or_hex_32(&format!("context_ids[{i}]"), c)?;
            if !seen.contains(&bytes) {
                seen.push(bytes);
                ids.contexts.push(c.clone());
            }
        }
        for (i, g) in groups.iter().enumerate() {
            crate::ids::hex_32(&format!("group_ids[{i}]"), g)?;
            let g = g.to_ascii_lowercase();
            if !ids.groups.contains(&g) {
                ids.groups.push(g);
            }
        }
        Ok(ids)
    }

    pub fn is_empty(&self) -> bool {
        self.contexts.is_empty() && self.groups.is_empty()
    }

    fn add(&mut self, other: &Ids) {
        for c in &other.contexts {
            if !self.contexts.iter().any(|mine| same_id(mine, c)) {
                self.contexts.push(c.clone());
            }
        }
        for g in &other.groups {
            if !self.groups.contains(g) {
                self.groups.push(g.clone());
            }
        }
    }

    fn remove(&mut self, other: &Ids) {
        self.contexts
            .retain(|c| !other.contexts.iter().any(|o| same_id(o, c)));
        self.groups.retain(|g| !other.groups.contains(g));
    }

    /// The `params` of a subscribe/unsubscribe request, context ids in the
    /// encoding of `release`; `groupIds` only when there are some (rc.83
    /// refuses unknown keys, swift-sdk Rc83SurfaceTests).
    fn params(&self, release: crate::release::Release) -> Value {
        let contexts: Vec<String> = self
            .contexts
            .iter()
            .map(|c| match crate::ids::base58_or_hex_32("context_ids", c) {
                Ok(bytes) => crate::request::id_for(release, c, &bytes),
                Err(_) => c.clone(),
            })
            .collect();
        let mut params = json!({ "contextIds": contexts });
        if !self.groups.is_empty() {
            params["groupIds"] = json!(self.groups);
        }
        params
    }
}

/// Whether two validated context ids name the same context, whatever
/// their encodings.
fn same_id(a: &str, b: &str) -> bool {
    a == b
        || matches!(
            (
                crate::ids::base58_or_hex_32("a", a),
                crate::ids::base58_or_hex_32("b", b)
            ),
            (Ok(x), Ok(y)) if x == y
        )
}

// ------------------------------------------------------------ SSE parser

/// One Server-Sent Event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SseEvent {
    /// The `event:` name (`message` when none was given).
    pub event: String,
    /// The `data:` lines, joined with `\n`.
    pub data: String,
    /// The last `id:` seen so far in the stream (SSE's "last event ID").
    pub id: Option<String>,
    /// A `retry:` given with this event, in milliseconds.
    pub retry: Option<u64>,
}

/// An incremental `text/event-stream` parser (the WHATWG HTML "event
/// stream interpretation"): feed it chunks as they arrive, in any sizes.
/// Lines end with CR, LF or CRLF (also split across chunks); `:` lines are
/// comments (keep-alives); an empty line dispatches an event that has data.
#[derive(Debug)]
pub struct SseParser {
    line: Vec<u8>,
    /// The last byte was a CR: an LF right after it ends nothing.
    after_cr: bool,
    started: bool,
    data: String,
    has_data: bool,
    event: String,
    retry: Option<u64>,
    last_id: Option<String>,
    max_bytes: usize,
}

impl SseParser {
    /// A parser refusing lines or events larger than `max_bytes`.
    pub fn new(max_bytes: usize) -> Self {
        SseParser {
            line: Vec::new(),
            after_cr: false,
            started: false,
            data: String::new(),
            has_data: false,
            event: String::new(),
            retry: None,
            last_id: None,
            max_bytes,
        }
    }

    /// The events completed by `chunk`; an error when a line or an event
    /// grows past the limit.
    pub fn feed(&mut self, chunk: &[u8]) -> Result<Vec<SseEvent>, String> {
        let mut out = Vec::new();
        let mut bytes = chunk;
        if !self.started && !bytes.is_empty() {
            // A UTF-8 byte order mark may open the stream.
            self.started = true;
            if let Some(rest) = bytes.strip_prefix(b"\xEF\xBB\xBF") {
                bytes = rest;
            }
        }
        for &b in bytes {
            let after_cr = std::mem::replace(&mut self.after_cr, false);
            match b {
                b'\n' if after_cr => {}
                b'\r' | b'\n' => {
                    self.after_cr = b == b'\r';
                    let line = std::mem::take(&mut self.line);
                    if let Some(event) = self.line_done(&line)? {
                        out.push(event);
                    }
                }
                _ => {
                    if self.line.len() >= self.max_bytes {
                        return Err(format!(
                            "an event stream line is longer than {} bytes",
                            self.max_bytes
                        ));
                    }
                    self.line.push(b);
                }
            }
        }
        Ok(out)
    }

    fn line_done(&mut self, line: &[u8]) -> Result<Option<SseEvent>, String> {
        if line.is_empty() {
            return Ok(self.dispatch());
        }
        if line[0] == b':' {
            return Ok(None);
        }
        let (field, value) = match line.iter().position(|&b| b == b':') {
            Some(i) => {
                let value = &line[i + 1..];
                (&line[..i], value.strip_prefix(b" ").unwrap_or(value))
            }
            None => (line, &b""[..]),
        };
        let value = String::from_utf8_lossy(value);
        match field {
            b"data" => {
                if self.data.len() + value.len() + 1 > self.max_bytes {
                    return Err(format!("an event is larger than {} bytes", self.max_bytes));
                }
                self.data.push_str(&value);
                self.data.push('\n');
                self.has_data = true;
            }
            b"event" => self.event = value.into_owned(),
            b"id" if !value.contains('\0') => self.last_id = Some(value.into_owned()),
            b"retry" if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) => {
                self.retry = value.parse().ok();
            }
            _ => {}
        }
        Ok(None)
    }

    fn dispatch(&mut self) -> Option<SseEvent> {
        let event = std::mem::take(&mut self.event);
        let retry = self.retry.take();
        if !std::mem::replace(&mut self.has_data, false) {
            return None;
        }
        let mut data = std::mem::take(&mut self.data);
        data.pop(); // the last data line's '\n'
        Some(SseEvent {
            event: if event.is_empty() {
                "message".to_owned()
            } else {
                event
            },
            data,
            id: self.last_id.clone(),
            retry,
        })
    }
}

// ---------------------------------------------------------- subscription

type Reply = oneshot::Sender<Result<Option<Value>, Error>>;

enum Control {
    Subscribe(Ids, Reply),
    Unsubscribe(Ids, Reply),
    /// Close the connection (a WebSocket with a close frame) and stop.
    Close,
}

struct Shared {
    /// What is subscribed now (re-subscribed after a reconnect).
    ids: Mutex<Ids>,
    reconnects: AtomicU64,
    session_id: Mutex<Option<String>>,
    closed: watch::Sender<bool>,
}

impl Shared {
    fn ids(&self) -> Ids {
        self.ids.lock().map(|i| i.clone()).unwrap_or_default()
    }
}

/// A running subscription (see the module documentation). Dropping it
/// stops its task and closes its connection.
pub struct Subscription {
    transport: Transport,
    events: tokio::sync::Mutex<mpsc::Receiver<Result<Value, Error>>>,
    /// An event (or the error that ends the subscription) that
    /// [`Subscription::ready`] took from `events` and [`Subscription::try_next`]
    /// has not answered yet. Filled only with `events` locked, and only
    /// when empty, so it holds the oldest item there is.
    held: Mutex<Option<Result<Value, Error>>>,
    control: mpsc::UnboundedSender<Control>,
    shared: Arc<Shared>,
    task: tokio::task::AbortHandle,
}

impl std::fmt::Debug for Subscription {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Subscription")
            .field("transport", &self.transport)
            .field("ids", &self.shared.ids())
            .field("reconnects", &self.reconnects())
            .field("closed", &self.is_closed())
            .finish()
    }
}

impl Subscription {
    /// The next event (or reconnect marker); `None` once the subscription
    /// is closed. An error ends it: the connection broke and could not be
    /// made again, or the node refused it.
    ///
    /// Cancel-safe: dropped at any point, it has taken no event (see
    /// [`Subscription::ready`]).
    pub async fn next(&self) -> Result<Option<Value>, Error> {
        loop {
            if let Poll::Ready(item) = self.try_next()? {
                return Ok(item);
            }
            self.ready().await;
        }
    }

    /// The next event if one is there now, without waiting:
    /// `Poll::Ready(Some(event))`, `Poll::Ready(None)` once closed,
    /// `Poll::Pending` when there is none yet (then [`Subscription::ready`]
    /// says when to try again). An error ends the subscription, as for
    /// [`Subscription::next`].
    ///
    /// Taking an event is this synchronous call, so a caller that hands the
    /// event on in the same step (as the asyncio binding does, on the event
    /// loop's thread) cannot lose it to a cancellation.
    pub fn try_next(&self) -> Result<Poll<Option<Value>>, Error> {
        if self.is_closed() {
            return Ok(Poll::Ready(None));
        }
        let item = match self.take_held() {
            Some(item) => item,
            None => {
                // A reader waiting in `ready` holds the receiver; what it
                // gets is held for the next call.
                let Ok(mut events) = self.events.try_lock() else {
                    return Ok(Poll::Pending);
                };
                // Checked again under the receiver's lock (the only place
                // `held` is filled): an event held meanwhile comes first.
                match self.take_held() {
                    Some(item) => item,
                    None => match events.try_recv() {
                        Ok(item) => item,
                        Err(mpsc::error::TryRecvError::Empty) => return Ok(Poll::Pending),
                        Err(mpsc::error::TryRecvError::Disconnected) => {
                            self.shared.closed.send_replace(true);
                            return Ok(Poll::Ready(None));
                        }
                    },
                }
            }
        };
        match item {
            Ok(event) => Ok(Poll::Ready(Some(event))),
            Err(err) => {
                self.shared.closed.send_replace(true);
                Err(err)
            }
        }
    }

    /// Waits until [`Subscription::try_next`] has something to answer (an
    /// event, an error, or the end), and takes nothing itself: an event
    /// that arrives is moved from the channel into a slot of the
    /// subscription in the same step as it is received, so this future can
    /// be dropped, or its completion ignored, at any point without losing
    /// one. (A future that answered the event itself could not be: a
    /// caller that drops or discards it after it took the event loses the
    /// event, which is what a cancelled asyncio read did, issue 19.)
    pub async fn ready(&self) {
        let mut closed = self.shared.closed.subscribe();
        if *closed.borrow_and_update() || self.has_held() {
            return;
        }
        let mut events = tokio::select! {
            events = self.events.lock() => events,
            _ = closed.wait_for(|c| *c) => return,
        };
        // Another reader may have held an event while this one waited for
        // the receiver.
        if self.has_held() {
            return;
        }
        tokio::select! {
            // `recv` is cancel-safe, and what it gave is held before
            // anything else can happen to this future.
            item = events.recv() => match item {
                Some(item) => self.hold(item),
                None => {
                    self.shared.closed.send_replace(true);
                }
            },
            _ = closed.wait_for(|c| *c) => {}
        }
    }

    fn take_held(&self) -> Option<Result<Value, Error>> {
        self.held.lock().ok().and_then(|mut h| h.take())
    }

    fn has_held(&self) -> bool {
        self.held.lock().map(|h| h.is_some()).unwrap_or(false)
    }

    fn hold(&self, item: Result<Value, Error>) {
        if let Ok(mut held) = self.held.lock() {
            *held = Some(item);
        }
    }

    /// Adds contexts and groups. Answers the node's reply (`result` of the
    /// SSE or WebSocket subscribe), or `None` while reconnecting: they are
    /// subscribed when the connection is back.
    pub async fn subscribe(&self, ids: Ids) -> Result<Option<Value>, Error> {
        self.command(ids, true).await
    }

    /// Removes contexts and groups (see [`Subscription::subscribe`]).
    pub async fn unsubscribe(&self, ids: Ids) -> Result<Option<Value>, Error> {
        self.command(ids, false).await
    }

    async fn command(&self, ids: Ids, add: bool) -> Result<Option<Value>, Error> {
        let gone = || Error::invalid("subscription", "is closed");
        if self.is_closed() {
            return Err(gone());
        }
        let record = |add: bool| {
            if let Ok(mut all) = self.shared.ids.lock() {
                if add {
                    all.add(&ids);
                } else {
                    all.remove(&ids);
                }
            }
        };
        // Recorded first: a reconnect meanwhile subscribes what is recorded.
        record(add);
        let (tx, rx) = oneshot::channel();
        let command = if add {
            Control::Subscribe(ids.clone(), tx)
        } else {
            Control::Unsubscribe(ids.clone(), tx)
        };
        self.control.send(command).map_err(|_| gone())?;
        let answer = rx.await.map_err(|_| gone())?;
        if answer.is_err() {
            // The node refused: the ids stay as they were.
            record(!add);
        }
        answer
    }

    /// Stops the subscription: its connection closes and [`Subscription::next`]
    /// answers `None` from now on (events not yet read are dropped).
    pub fn close(&self) {
        self.shared.closed.send_replace(true);
        // The task closes its connection and stops; should it be gone,
        // there is nothing to close.
        if self.control.send(Control::Close).is_err() {
            self.task.abort();
        }
    }

    pub fn is_closed(&self) -> bool {
        *self.shared.closed.borrow()
    }

    pub fn transport(&self) -> Transport {
        self.transport
    }

    /// How many times the connection was made again.
    pub fn reconnects(&self) -> u64 {
        self.shared.reconnects.load(Ordering::Relaxed)
    }

    /// What is subscribed now.
    pub fn ids(&self) -> Ids {
        self.shared.ids()
    }

    /// The SSE session id (`None` over a WebSocket).
    pub fn session_id(&self) -> Option<String> {
        self.shared.session_id.lock().ok().and_then(|s| s.clone())
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Connection {
    /// Connects, subscribes to `ids` and returns the running subscription:
    /// events sent by the node from then on are delivered. A failure to
    /// connect or subscribe is raised here (no reconnect for the first
    /// connection); a token the node says is expired is refreshed first.
    /// Must run on the shared runtime (it spawns the subscription's task).
    pub async fn subscribe(
        &self,
        ids: Ids,
        options: SubscribeOptions,
    ) -> Result<Subscription, Error> {
        if options.transport == Transport::Ws && self.is_sealed() {
            return Err(Error::invalid(
                "transport",
                "a WebSocket cannot be sealed and this connection seals every request \
                 (sealed=True): subscribe over 'sse', whose events come sealed",
            ));
        }
        let shared = Arc::new(Shared {
            ids: Mutex::new(ids),
            reconnects: AtomicU64::new(0),
            session_id: Mutex::new(None),
            closed: watch::channel(false).0,
        });
        let mut driver = Driver {
            conn: self.clone(),
            options,
            shared: Arc::clone(&shared),
            last_event_id: None,
            next_frame_id: 1,
            unsubscribed_meanwhile: Ids::default(),
            tls: OnceLock::new(),
            stream_http: None,
        };
        let (link, early) = driver.connect().await?;
        let (tx, rx) = mpsc::channel(options.buffer.max(1));
        let (control, control_rx) = mpsc::unbounded_channel();
        let task = tokio::spawn(driver.run(link, early.into(), tx, control_rx));
        Ok(Subscription {
            transport: options.transport,
            events: tokio::sync::Mutex::new(rx),
            held: Mutex::new(None),
            control,
            shared,
            task: task.abort_handle(),
        })
    }
}

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// One live connection.
enum Link {
    Sse {
        response: Box<reqwest::Response>,
        parser: SseParser,
        url: String,
    },
    Ws {
        socket: Box<Socket>,
        url: String,
        /// Subscribe/unsubscribe frames waiting for the node's answer.
        awaiting: Vec<(u64, Reply)>,
    },
}

impl Link {
    fn awaits_answers(&self) -> bool {
        matches!(self, Link::Ws { awaiting, .. } if !awaiting.is_empty())
    }
}

/// Why [`Driver::pump`] returned.
enum Stop {
    /// The subscription was closed or dropped.
    Done,
    /// The connection broke.
    Broken(Error),
}

struct Driver {
    conn: Connection,
    options: SubscribeOptions,
    shared: Arc<Shared>,
    last_event_id: Option<String>,
    next_frame_id: u64,
    /// SSE: unsubscribed while disconnected; the resumed session still has
    /// them, so they are unsubscribed after the reconnect.
    unsubscribed_meanwhile: Ids,
    tls: OnceLock<Arc<rustls::ClientConfig>>,
    /// The HTTP/1.1 client of this subscription's SSE stream: its own
    /// connection, apart from the pool the calls use.
    stream_http: Option<reqwest::Client>,
}

fn broken(method: &str, url: &str, message: impl Into<String>) -> Error {
    Error::Network {
        method: method.into(),
        url: url.into(),
        message: message.into(),
        connect: false,
    }
}

/// Whether a broken connection is worth making again.
fn retriable(err: &Error) -> bool {
    matches!(
        err.kind(),
        ErrorKind::Network | ErrorKind::Timeout | ErrorKind::Server | ErrorKind::RateLimit
    ) || matches!(err.kind(), ErrorKind::MalformedResponse)
}

/// 250 ms doubled per attempt, capped at 10 s, with up to 25% jitter.
fn backoff(attempt: u32) -> Duration {
    jittered_backoff(BACKOFF_BASE, BACKOFF_CAP, attempt)
}

impl Driver {
    /// Connects and subscribes what is subscribed, refreshing the token
    /// (through the connection's single-flight recovery) when the node
    /// refuses it. Answers the link and the events that came before the
    /// subscription was confirmed.
    async fn connect(&mut self) -> Result<(Link, Vec<Value>), Error> {
        if self.conn.is_closed() {
            return Err(Error::Internal(
                "this connection is closed; make a new one with create_connection".into(),
            ));
        }
        let mut auth_retries = 0;
        loop {
            let attempt = match self.options.transport {
                Transport::Sse => self.connect_sse().await,
                Transport::Ws => self.connect_ws().await,
            };
            match attempt {
                Ok(linked) => return Ok(linked),
                Err((err, Some(ticket))) if auth_retries < MAX_AUTH_RETRIES => {
                    match self.conn.on_auth_failure(&ticket, err).await {
                        AuthRecovery::Retry => auth_retries += 1,
                        AuthRecovery::Fail(err) => return Err(err),
                    }
                }
                Err((err, _)) => return Err(err),
            }
        }
    }

    async fn connect_sse(&mut self) -> Result<(Link, Vec<Value>), (Error, Option<AuthTicket>)> {
        let url = self.conn.node_url("/sse").map_err(|e| (e, None))?;
        let shown = redact(&url);
        let http = match &self.stream_http {
            Some(http) => http.clone(),
            None => {
                let http = build_stream_http(self.conn.config(), self.conn.signs_requests())
                    .map_err(|e| (e, None))?;
                self.stream_http = Some(http.clone());
                http
            }
        };
        let credential = self
            .conn
            .credential("GET", &url, b"", true)
            .map_err(|e| (e, None))?;
        let (mut request, ticket) = credential.apply(http.get(url.clone()));
        request = request.header(ACCEPT, "text/event-stream");
        if let Some(id) = &self.last_event_id {
            request = request.header("Last-Event-ID", id.as_str());
        }
        let timeout = self.conn.timeout();
        let response =
            match tokio::time::timeout(timeout, self.conn.dispatch(request, "GET", &shown)).await {
                Ok(Ok(r)) => r,
                Ok(Err(e)) => return Err((e, None)),
                Err(_) => return Err((timed_out("GET", &shown, timeout), None)),
            };
        if !response.status().is_success() {
            let err = match self.conn.read_reply(response, "GET", shown.clone()).await {
                Err(e) => e,
                Ok(_) => broken("GET", &shown, "unexpected answer"),
            };
            return Err((err, ticket));
        }
        let header_session = response
            .headers()
            .get("x-sse-session-id")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let mut link = Link::Sse {
            response: Box::new(response),
            parser: SseParser::new(MAX_EVENT_BYTES),
            url: shown.clone(),
        };
        // The first event is `connect`, with the session id (also in the
        // header); anything before it is kept.
        let mut early = Vec::new();
        let session = loop {
            let next = tokio::time::timeout(timeout, self.read(&mut link, &mut early)).await;
            match next {
                Ok(Ok(Some(session))) => break session,
                Ok(Ok(None)) => {}
                Ok(Err(e)) => return Err((e, None)),
                Err(_) => return Err((timed_out("GET", &shown, timeout), None)),
            }
        };
        let session = header_session.unwrap_or(session);
        if let Ok(mut s) = self.shared.session_id.lock() {
            *s = Some(session);
        }
        let ids = self.shared.ids();
        if !ids.is_empty() {
            self.sse_post("subscribe", &ids)
                .await
                .map_err(|e| (e, None))?;
        }
        let gone = std::mem::take(&mut self.unsubscribed_meanwhile);
        if !gone.is_empty() {
            self.sse_post("unsubscribe", &gone)
                .await
                .map_err(|e| (e, None))?;
        }
        Ok((link, early))
    }

    /// `POST /sse/subscription` for the current session (the connection's
    /// request path: token, refresh and replay included).
    async fn sse_post(&self, method: &str, ids: &Ids) -> Result<Option<Value>, Error> {
        let session = self.shared.session_id.lock().ok().and_then(|s| s.clone());
        let Some(session) = session else {
            return Ok(None);
        };
        let url = self.conn.node_url("/sse/subscription")?;
        let release = self.conn.release_for_ids(!ids.contexts.is_empty()).await?;
        let body = json!({ "id": session, "method": method, "params": ids.params(release) });
        let reply = self
            .conn
            .execute("POST", url, Some(body.to_string().into_bytes()), true)
            .await?;
        let answer: Value = reply.json()?;
        Ok(answer.get("result").cloned())
    }

    fn ws_tls(&self) -> Result<Arc<rustls::ClientConfig>, Error> {
        if let Some(tls) = self.tls.get() {
            return Ok(Arc::clone(tls));
        }
        let tls = tls_config(self.conn.config())?;
        Ok(Arc::clone(self.tls.get_or_init(|| tls)))
    }

    async fn connect_ws(&mut self) -> Result<(Link, Vec<Value>), (Error, Option<AuthTicket>)> {
        let http_url = self.conn.node_url("/ws").map_err(|e| (e, None))?;
        let shown = redact(&http_url);
        let mut url = http_url.clone();
        let secure = url.scheme() == "https";
        let _ = url.set_scheme(if secure { "wss" } else { "ws" });
        let mut request = url
            .as_str()
            .into_client_request()
            .map_err(|e| (Error::Internal(format!("WebSocket request: {e}")), None))?;
        // The token goes in the upgrade request's header, as for any other
        // request (`?token=` is for browsers, which cannot set one).
        let credential = self
            .conn
            .credential("GET", &http_url, b"", true)
            .map_err(|e| (e, None))?;
        let ticket = credential.ticket;
        if let Some((name, value)) = credential.header {
            let _ = request.headers_mut().insert(name, value);
        }
        let _ = request.headers_mut().insert(
            USER_AGENT,
            reqwest::header::HeaderValue::from_static(concat!(
                "calimero-client-py/",
                env!("CARGO_PKG_VERSION")
            )),
        );
        let connector = if secure {
            Some(tokio_tungstenite::Connector::Rustls(
                self.ws_tls().map_err(|e| (e, None))?,
            ))
        } else {
            None
        };
        let config = WebSocketConfig::default()
            .max_message_size(Some(MAX_EVENT_BYTES))
            .max_frame_size(Some(MAX_EVENT_BYTES));
        let timeout = self.conn.timeout();
        let connecting = tokio_tungstenite::connect_async_tls_with_config(
            request,
            Some(config),
            true,
            connector,
        );
        let socket = match tokio::time::timeout(timeout, connecting).await {
            Ok(Ok((socket, _))) => socket,
            Ok(Err(tungstenite::Error::Http(response))) => {
                let body = response.body().as_deref().unwrap_or_default();
                let err = self.conn.failure(
                    response.status().as_u16(),
                    response.headers(),
                    body,
                    "GET",
                    &shown,
                );
                return Err((err, ticket));
            }
            Ok(Err(e)) => {
                let connect = matches!(e, tungstenite::Error::Io(_) | tungstenite::Error::Tls(_));
                return Err((
                    Error::Network {
                        method: "GET".into(),
                        url: shown,
                        message: e.to_string(),
                        connect,
                    },
                    None,
                ));
            }
            Err(_) => return Err((timed_out("GET", &shown, timeout), None)),
        };
        let mut link = Link::Ws {
            socket: Box::new(socket),
            url: shown.clone(),
            awaiting: Vec::new(),
        };
        let ids = self.shared.ids();
        let mut early = Vec::new();
        if !ids.is_empty() {
            let (tx, mut rx) = oneshot::channel();
            self.ws_send(&mut link, "subscribe", &ids, tx)
                .await
                .map_err(|e| (e, None))?;
            // Events may come before the answer (presence seeds do).
            let answered = tokio::time::timeout(timeout, async {
                loop {
                    if let Ok(answer) = rx.try_recv() {
                        return answer.map(|_| ());
                    }
                    self.read(&mut link, &mut early).await?;
                }
            })
            .await;
            match answered {
                Ok(Ok(())) => {}
                Ok(Err(e)) => return Err((e, None)),
                Err(_) => return Err((timed_out("GET", &shown, timeout), None)),
            }
        }
        Ok((link, early))
    }

    /// Sends a subscribe/unsubscribe frame; `reply` gets the node's answer.
    async fn ws_send(
        &mut self,
        link: &mut Link,
        method: &str,
        ids: &Ids,
        reply: Reply,
    ) -> Result<(), Error> {
        let Link::Ws {
            socket,
            url,
            awaiting,
        } = link
        else {
            return Err(Error::Internal("not a WebSocket".into()));
        };
        let release = self.conn.release_for_ids(!ids.contexts.is_empty()).await?;
        let id = self.next_frame_id;
        self.next_frame_id += 1;
        let frame = json!({ "id": id, "method": method, "params": ids.params(release) });
        socket
            .send(Message::text(frame.to_string()))
            .await
            .map_err(|e| broken("GET", url, format!("WebSocket send failed: {e}")))?;
        awaiting.push((id, reply));
        Ok(())
    }

    /// Reads what the link has next: node events go to `out`; `Some` is
    /// the session id of an SSE `connect` event. An error when the stream
    /// broke, ended, or stayed silent too long.
    async fn read(
        &mut self,
        link: &mut Link,
        out: &mut Vec<Value>,
    ) -> Result<Option<String>, Error> {
        match link {
            Link::Sse {
                response,
                parser,
                url,
            } => {
                let chunk = match tokio::time::timeout(SSE_IDLE, response.chunk()).await {
                    Err(_) => return Err(broken("GET", url, "the event stream went silent")),
                    Ok(Err(e)) => return Err(transport_error("GET", url, &e)),
                    Ok(Ok(None)) => return Err(broken("GET", url, "the event stream ended")),
                    Ok(Ok(Some(chunk))) => chunk,
                };
                let events = parser.feed(&chunk).map_err(|m| Error::MalformedResponse {
                    method: "GET".into(),
                    url: url.clone(),
                    message: m,
                    body: String::new(),
                })?;
                let mut session = None;
                for event in events {
                    if event.id.is_some() {
                        self.last_event_id.clone_from(&event.id);
                    }
                    let Ok(value) = serde_json::from_str::<Value>(&event.data) else {
                        log::debug!(target: "calimero::events", "skipped a non-JSON event");
                        continue;
                    };
                    match value.get("type").and_then(Value::as_str) {
                        Some("connect") => {
                            session = value
                                .get("session_id")
                                .and_then(Value::as_str)
                                .map(str::to_owned);
                        }
                        Some("close") => {
                            return Err(broken("GET", url, "the node closed the event stream"))
                        }
                        _ => match value {
                            Value::Object(mut m) => match m.remove("result") {
                                Some(result) => out.push(result),
                                None => log::warn!(
                                    target: "calimero::events",
                                    "the node sent an error event: {}",
                                    m.get("error").map(Value::to_string).unwrap_or_default()
                                ),
                            },
                            _ => log::debug!(target: "calimero::events", "skipped an event"),
                        },
                    }
                }
                Ok(session)
            }
            Link::Ws {
                socket,
                url,
                awaiting,
            } => {
                let message = match tokio::time::timeout(WS_IDLE, socket.next()).await {
                    Err(_) => return Err(broken("GET", url, "the WebSocket went silent")),
                    Ok(None) => return Err(broken("GET", url, "the WebSocket closed")),
                    Ok(Some(Err(e))) => return Err(broken("GET", url, e.to_string())),
                    Ok(Some(Ok(m))) => m,
                };
                let text = match message {
                    Message::Text(t) => t,
                    Message::Close(frame) => {
                        let why = frame.map(|f| format!(" ({} {})", f.code, f.reason));
                        return Err(broken(
                            "GET",
                            url,
                            format!("the node closed the WebSocket{}", why.unwrap_or_default()),
                        ));
                    }
                    // Pings are answered by tungstenite as they are read.
                    _ => return Ok(None),
                };
                let Ok(mut value) = serde_json::from_str::<Value>(text.as_str()) else {
                    log::debug!(target: "calimero::events", "skipped a non-JSON frame");
                    return Ok(None);
                };
                match value.get("id").and_then(Value::as_u64) {
                    None => {
                        if let Some(result) = value.get_mut("result").map(Value::take) {
                            out.push(result);
                        }
                    }
                    Some(id) => {
                        if let Some(i) = awaiting.iter().position(|(n, _)| *n == id) {
                            let (_, reply) = awaiting.swap_remove(i);
                            let _ = reply.send(frame_answer(&value, url));
                        }
                    }
                }
                Ok(None)
            }
        }
    }

    /// Runs until the subscription is closed, or fails for good.
    async fn run(
        mut self,
        mut link: Link,
        mut pending: VecDeque<Value>,
        tx: mpsc::Sender<Result<Value, Error>>,
        mut control: mpsc::UnboundedReceiver<Control>,
    ) {
        loop {
            let err = match self.pump(&mut link, &mut pending, &tx, &mut control).await {
                Stop::Done => return,
                Stop::Broken(err) => err,
            };
            drop(link);
            // What was read before the break is still delivered.
            for event in pending.drain(..) {
                if tx.send(Ok(event)).await.is_err() {
                    return;
                }
            }
            let Some((new_link, early, attempt)) = self.reconnect(&tx, &mut control, err).await
            else {
                return;
            };
            link = new_link;
            let total = self.shared.reconnects.fetch_add(1, Ordering::Relaxed) + 1;
            log::info!(
                target: "calimero::events",
                "{} subscription reconnected (attempt {attempt}); events sent meanwhile are missed",
                self.options.transport.as_str()
            );
            pending.push_back(json!({
                "type": "reconnected",
                "transport": self.options.transport.as_str(),
                "attempt": attempt,
                "reconnects": total,
            }));
            pending.extend(early);
        }
    }

    /// Moves events from the link to the consumer and carries out
    /// subscribe/unsubscribe commands, until the link breaks.
    async fn pump(
        &mut self,
        link: &mut Link,
        pending: &mut VecDeque<Value>,
        tx: &mpsc::Sender<Result<Value, Error>>,
        control: &mut mpsc::UnboundedReceiver<Control>,
    ) -> Stop {
        let mut read = Vec::new();
        loop {
            // Read only when the consumer has taken what was read (a slow
            // consumer slows this stream, nothing else), or while a
            // WebSocket subscribe waits for its answer, which comes in the
            // same stream (then a bounded backlog is kept).
            let reading =
                pending.is_empty() || (link.awaits_answers() && pending.len() < MAX_BACKLOG);
            tokio::select! {
                biased;
                command = control.recv() => match command {
                    None => return Stop::Done,
                    Some(Control::Close) => {
                        if let Link::Ws { socket, .. } = link {
                            let bye = WebSocketStream::close(socket, None);
                            let _ = tokio::time::timeout(Duration::from_secs(1), bye).await;
                        }
                        return Stop::Done;
                    }
                    Some(command) => {
                        if let Err(err) = self.apply(link, command).await {
                            return Stop::Broken(err);
                        }
                    }
                },
                permit = tx.reserve(), if !pending.is_empty() => match permit {
                    Ok(permit) => {
                        if let Some(event) = pending.pop_front() {
                            permit.send(Ok(event));
                        }
                    }
                    Err(_) => return Stop::Done,
                },
                () = tx.closed() => return Stop::Done,
                outcome = self.read(link, &mut read), if reading => match outcome {
                    Ok(_) => pending.extend(read.drain(..)),
                    Err(err) => return Stop::Broken(err),
                },
            }
        }
    }

    async fn apply(&mut self, link: &mut Link, command: Control) -> Result<(), Error> {
        let (method, ids, reply) = match command {
            Control::Subscribe(ids, reply) => ("subscribe", ids, reply),
            Control::Unsubscribe(ids, reply) => ("unsubscribe", ids, reply),
            Control::Close => return Ok(()),
        };
        match link {
            Link::Sse { .. } => {
                let answer = self.sse_post(method, &ids).await;
                match answer {
                    // The stream is fine; the request failed: the caller
                    // hears of it.
                    Err(err) if !retriable(&err) => {
                        let _ = reply.send(Err(err));
                    }
                    Err(err) => {
                        // Applied after the reconnect (the ids are kept).
                        if method == "unsubscribe" {
                            self.unsubscribed_meanwhile.add(&ids);
                        }
                        let _ = reply.send(Ok(None));
                        return Err(err);
                    }
                    Ok(result) => {
                        let _ = reply.send(Ok(result));
                    }
                }
                Ok(())
            }
            Link::Ws { .. } => self.ws_send(link, method, &ids, reply).await,
        }
    }

    /// Makes the connection again with backoff; `None` when the
    /// subscription ends (closed, or failed for good: the error was sent).
    async fn reconnect(
        &mut self,
        tx: &mpsc::Sender<Result<Value, Error>>,
        control: &mut mpsc::UnboundedReceiver<Control>,
        mut err: Error,
    ) -> Option<(Link, Vec<Value>, u32)> {
        log::info!(target: "calimero::events", "event stream broke: {err}");
        for attempt in 1..=self.options.max_reconnects {
            if !retriable(&err) {
                break;
            }
            let sleep = tokio::time::sleep(backoff(attempt - 1));
            tokio::pin!(sleep);
            loop {
                tokio::select! {
                    () = &mut sleep => break,
                    () = tx.closed() => return None,
                    command = control.recv() => match command {
                        None | Some(Control::Close) => return None,
                        // Recorded in the shared ids: done on reconnect.
                        Some(Control::Subscribe(_, reply)) => { let _ = reply.send(Ok(None)); }
                        Some(Control::Unsubscribe(ids, reply)) => {
                            self.unsubscribed_meanwhile.add(&ids);
                            let _ = reply.send(Ok(None));
                        }
                    },
                }
            }
            match self.connect().await {
                Ok((link, early)) => return Some((link, early, attempt)),
                Err(e) => {
                    log::info!(
                        target: "calimero::events",
                        "reconnect attempt {attempt} of {} failed: {e}",
                        self.options.max_reconnects
                    );
                    err = e;
                }
            }
        }
        let _ = tx.send(Err(err)).await;
        None
    }
}

/// The answer to a subscribe/unsubscribe frame: its `result`, or its
/// `error` as an RPC error.
fn frame_answer(frame: &Value, url: &str) -> Result<Option<Value>, Error> {
    if let Some(result) = frame.get("result") {
        return Ok(Some(result.clone()));
    }
    let error = frame.get("error").cloned().unwrap_or(Value::Null);
    let error_type = error.get("type").and_then(Value::as_str).map(str::to_owned);
    let data = error.get("data").cloned();
    Err(Error::Rpc(Box::new(RpcFailure {
        rpc_method: "subscribe".into(),
        app_method: None,
        message: format!("the node refused a WebSocket subscription: {error}"),
        error_type,
        data,
        guest_error: None,
        url: url.into(),
    })))
}

fn timed_out(method: &str, url: &str, after: Duration) -> Error {
    Error::Timeout {
        method: method.into(),
        url: url.into(),
        message: format!("no answer within {:.1}s", after.as_secs_f64()),
    }
}

/// TLS for `wss://`: the platform's roots plus the connection's `ca_cert`,
/// with the process' `ring` provider (as the HTTP client).
fn tls_config(config: &Config) -> Result<Arc<rustls::ClientConfig>, Error> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::CertificateDer;

    crate::runtime::install_crypto_provider();
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls_native_certs::load_native_certs().certs {
        let _ = roots.add(cert);
    }
    if let Some(pem) = &config.ca_pem {
        for cert in CertificateDer::pem_slice_iter(pem) {
            let cert =
                cert.map_err(|e| Error::invalid("ca_cert", format!("not a PEM certificate: {e}")))?;
            roots
                .add(cert)
                .map_err(|e| Error::invalid("ca_cert", format!("not a usable certificate: {e}")))?;
        }
    }
    let provider = rustls::crypto::CryptoProvider::get_default()
        .cloned()
        .unwrap_or_else(|| Arc::new(rustls::crypto::ring::default_provider()));
    let tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::Internal(format!("TLS set-up: {e}")))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(tls))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feed_all(parser: &mut SseParser, chunks: &[&[u8]]) -> Vec<SseEvent> {
        chunks
            .iter()
            .flat_map(|c| parser.feed(c).unwrap())
            .collect()
    }

    #[test]
    fn sse_events_as_the_node_writes_them() {
        // What axum's `Sse` writes for the node's first event, a keep-alive
        // comment, and a node event.
        let stream = b"event: message\nid: 42-0\nretry: 3000\ndata: {\"type\":\"connect\",\"session_id\":\"42\",\"reconnect\":false}\n\n:\n\nevent: message\nid: 42-1\ndata: {\"result\":{}}\n\n";
        let mut parser = SseParser::new(1024);
        let events = parser.feed(stream).unwrap();
        assert_eq!(events.len(), 2);
        assert_eq!(events[0].event, "message");
        assert_eq!(events[0].id.as_deref(), Some("42-0"));
        assert_eq!(events[0].retry, Some(3000));
        assert!(events[0].data.contains("\"connect\""));
        assert_eq!(events[1].id.as_deref(), Some("42-1"));
        assert_eq!(events[1].retry, None);
        assert_eq!(events[1].data, "{\"result\":{}}");
    }

    #[test]
    fn sse_chunks_split_anywhere_give_the_same_events() {
        let stream: &[u8] = b"data: a\r\ndata:b\r\n\r\nid: 7\rdata: c\r\rdata: d\n\n";
        let whole = SseParser::new(1024).feed(stream).unwrap();
        assert_eq!(
            whole.iter().map(|e| e.data.as_str()).collect::<Vec<_>>(),
            ["a\nb", "c", "d"]
        );
        assert_eq!(whole[0].id, None);
        assert_eq!(whole[2].id.as_deref(), Some("7"), "the last id persists");
        for split in 1..stream.len() {
            let mut parser = SseParser::new(1024);
            let parts = feed_all(&mut parser, &[&stream[..split], &stream[split..]]);
            assert_eq!(parts, whole, "split at {split}");
        }
        let mut parser = SseParser::new(1024);
        let bytes: Vec<&[u8]> = stream.chunks(1).collect();
        assert_eq!(feed_all(&mut parser, &bytes), whole);
    }

    #[test]
    fn sse_fields_follow_the_spec() {
        let mut parser = SseParser::new(1024);
        // A BOM, a comment, an event without data (not dispatched), a field
        // without a colon, unknown fields, a bad retry, an id with NUL.
        let events = parser
            .feed(b"\xEF\xBB\xBF: hi\nevent: x\n\ndata\nfoo: bar\nretry: 1x\nid: a\0b\n\n")
            .unwrap();
        assert_eq!(
            events,
            vec![SseEvent {
                event: "message".into(),
                data: String::new(),
                id: None,
                retry: None,
            }]
        );
        // No empty line yet: nothing is dispatched.
        assert!(parser.feed(b"data: pending").unwrap().is_empty());
        assert_eq!(parser.feed(b"\n\n").unwrap()[0].data, "pending");
    }

    #[test]
    fn sse_sizes_are_capped() {
        let mut parser = SseParser::new(8);
        assert!(parser.feed(b"data: 0123456789").is_err());
        let mut parser = SseParser::new(12);
        assert!(parser.feed(b"data: 123456\ndata: 123456\n").is_err());
    }

    #[test]
    fn ids_are_checked_and_named() {
        let ctx = bs58::encode([1u8; 32]).into_string();
        let group = "AB".repeat(32);
        // The same context in both encodings is one id.
        let hex = "01".repeat(32);
        let ids = Ids::new(&[ctx.clone(), hex.clone()], std::slice::from_ref(&group)).unwrap();
        assert_eq!(ids.contexts, vec![ctx.clone()]);
        assert_eq!(ids.groups, vec!["ab".repeat(32)]);
        use crate::release::Release;
        assert_eq!(
            ids.params(Release(25)),
            serde_json::json!({"contextIds": [ctx.clone()], "groupIds": ["ab".repeat(32)]})
        );
        let contexts_only = Ids::new(std::slice::from_ref(&ctx), &[]).unwrap();
        assert_eq!(
            contexts_only.params(Release(83)),
            serde_json::json!({"contextIds": [hex]})
        );
        let err = Ids::new(&[ctx.clone(), "nope".into()], &[]).unwrap_err();
        assert!(err.to_string().starts_with("context_ids[1]:"), "{err}");
        let err = Ids::new(&[], &[ctx]).unwrap_err();
        assert!(err.to_string().starts_with("group_ids[0]:"), "{err}");
        assert!(Transport::parse("transport", "mqtt").is_err());
    }

    #[test]
    fn backoff_grows_and_is_capped() {
        assert!(backoff(0) <= Duration::from_millis(313));
        assert!(backoff(3) >= Duration::from_millis(1500));
        assert!(backoff(30) <= BACKOFF_CAP.mul_f64(1.25));
    }
}
