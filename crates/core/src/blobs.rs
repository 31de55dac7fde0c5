//! Blob transfers, streamed both ways in constant memory (node-api.md 1.6,
//! core: crates/server/src/admin/handlers/blob.rs).
//!
//! An upload streams its source (bytes in memory, a file, or chunks a
//! binding feeds through a channel) as the body of `PUT /admin-api/blobs`;
//! a download hands out the body chunk by chunk. Both count their bytes in a
//! shared [`Transfer`], which a binding reads to report progress, and both
//! use an idle timeout (no bytes moved for the connection's request timeout)
//! instead of a total one, so a large blob on a slow link is not cut off.

use std::future::Future;
use std::io;
use std::mem::MaybeUninit;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use futures_util::{stream, StreamExt};
use reqwest::header::{HeaderMap, CONTENT_LENGTH, CONTENT_TYPE};
use sha2::{Digest, Sha256};
use tokio::io::AsyncReadExt;
use tokio::sync::mpsc;

use crate::auth::{AuthRecovery, MAX_AUTH_RETRIES};
use crate::connection::{redact, transport_error, Connection, Reply};
use crate::error::{Error, ERROR_BODY_LIMIT};
use crate::request::Prepared;

/// The node refuses uploads past 1 GiB (`MAX_BLOB_UPLOAD_BYTES`), counted as
/// they stream; a blob that big is refused here before anything is sent
/// when its size is known, and cut off at the limit when it is not.
pub const MAX_BLOB_BYTES: u64 = 1024 * 1024 * 1024;

/// The most a download into one buffer accepts; larger blobs go to a file
/// or an iterator.
pub const MAX_IN_MEMORY_BYTES: u64 = MAX_BLOB_BYTES;

/// Size of the pieces an upload is cut into (and progress is counted in).
pub const UPLOAD_CHUNK: usize = 256 * 1024;

/// The live counters of one transfer, shared with whoever watches it.
#[derive(Debug)]
pub struct Transfer {
    done: AtomicU64,
    /// `u64::MAX` while unknown.
    total: AtomicU64,
    started: Instant,
    /// Milliseconds after `started` when bytes last moved.
    last_activity_ms: AtomicU64,
    over_limit: AtomicBool,
}

impl Transfer {
    pub fn new(total: Option<u64>) -> Arc<Self> {
        Arc::new(Transfer {
            done: AtomicU64::new(0),
            total: AtomicU64::new(total.unwrap_or(u64::MAX)),
            started: Instant::now(),
            last_activity_ms: AtomicU64::new(0),
            over_limit: AtomicBool::new(false),
        })
    }

    /// Bytes moved so far.
    pub fn done(&self) -> u64 {
        self.done.load(Ordering::Acquire)
    }

    /// The whole size, when known.
    pub fn total(&self) -> Option<u64> {
        match self.total.load(Ordering::Acquire) {
            u64::MAX => None,
            n => Some(n),
        }
    }

    fn set_total(&self, total: u64) {
        self.total.store(total, Ordering::Release);
    }

    fn elapsed_ms(&self) -> u64 {
        u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    fn touch(&self) {
        self.last_activity_ms
            .store(self.elapsed_ms(), Ordering::Release);
    }

    /// Counts `n` more bytes; gives the new total.
    fn advance(&self, n: usize) -> u64 {
        self.touch();
        self.done.fetch_add(n as u64, Ordering::AcqRel) + n as u64
    }

    /// Counts up to `attempt` bytes sent in a retried attempt: the count
    /// only grows, so a replayed upload does not count its bytes twice.
    fn advance_to(&self, attempt: u64) -> u64 {
        self.touch();
        self.done.fetch_max(attempt, Ordering::AcqRel).max(attempt)
    }

    fn idle_for(&self) -> Duration {
        let last = self.last_activity_ms.load(Ordering::Acquire);
        Duration::from_millis(self.elapsed_ms().saturating_sub(last))
    }
}

/// What an upload sends.
pub enum UploadSource {
    /// Bytes already in memory (a Python `bytes` is wrapped without a copy).
    Bytes(Bytes),
    /// An open file, read from its current position.
    File { file: std::fs::File, path: PathBuf },
    /// Chunks fed by the caller; the body ends when the sender is dropped.
    Channel(mpsc::Receiver<Bytes>),
}

impl std::fmt::Debug for UploadSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            UploadSource::Bytes(b) => write!(f, "Bytes({} bytes)", b.len()),
            UploadSource::File { path, .. } => write!(f, "File({})", path.display()),
            UploadSource::Channel(_) => f.write_str("Channel"),
        }
    }
}

impl UploadSource {
    /// The same source again, for a replay after the node refused the token
    /// (a file is reopened); a channel cannot be replayed.
    fn replay(&self) -> Option<Result<Self, Error>> {
        match self {
            UploadSource::Bytes(b) => Some(Ok(UploadSource::Bytes(b.clone()))),
            UploadSource::File { path, .. } => Some(
                std::fs::File::open(path)
                    .map(|file| UploadSource::File {
                        file,
                        path: path.clone(),
                    })
                    .map_err(|e| Error::local_io(path, &e)),
            ),
            UploadSource::Channel(_) => None,
        }
    }

    /// Opens `path` for upload and gives its size.
    pub fn open(path: &Path) -> Result<(Self, u64), Error> {
        let file = std::fs::File::open(path).map_err(|e| Error::local_io(path, &e))?;
        let meta = file.metadata().map_err(|e| Error::local_io(path, &e))?;
        if meta.is_dir() {
            return Err(Error::invalid(
                "data",
                format!("{} is a directory", path.display()),
            ));
        }
        let size = meta.len();
        Ok((
            UploadSource::File {
                file,
                path: path.to_owned(),
            },
            size,
        ))
    }

    /// A channel source: the sender feeds chunks (at most `depth` queued).
    pub fn channel(depth: usize) -> (mpsc::Sender<Bytes>, Self) {
        let (tx, rx) = mpsc::channel(depth.max(1));
        (tx, UploadSource::Channel(rx))
    }

    fn into_stream(self) -> stream::BoxStream<'static, io::Result<Bytes>> {
        match self {
            UploadSource::Bytes(bytes) => {
                let pieces = (0..bytes.len())
                    .step_by(UPLOAD_CHUNK)
                    .map(move |at| Ok(bytes.slice(at..(at + UPLOAD_CHUNK).min(bytes.len()))))
                    .collect::<Vec<_>>();
                stream::iter(pieces).boxed()
            }
            UploadSource::File { file, .. } => {
                let file = tokio::fs::File::from_std(file);
                stream::unfold(Some(file), |state| async move {
                    let mut file = state?;
                    let mut buf = BytesMut::with_capacity(UPLOAD_CHUNK);
                    match file.read_buf(&mut buf).await {
                        Ok(0) => None,
                        Ok(_) => Some((Ok(buf.freeze()), Some(file))),
                        Err(e) => Some((Err(e), None)),
                    }
                })
                .boxed()
            }
            UploadSource::Channel(rx) => stream::unfold(rx, |mut rx| async move {
                rx.recv().await.map(|chunk| (Ok(chunk), rx))
            })
            .boxed(),
        }
    }
}

/// Runs `fut` until it finishes or no bytes have moved for `idle`.
async fn idle_guard<T>(
    transfer: &Transfer,
    idle: Duration,
    method: &str,
    url: &str,
    fut: impl Future<Output = Result<T, Error>>,
) -> Result<T, Error> {
    let mut fut = std::pin::pin!(fut);
    loop {
        let left = idle.saturating_sub(transfer.idle_for());
        if left.is_zero() {
            return Err(idle_error(method, url, idle));
        }
        tokio::select! {
            out = &mut fut => return out,
            () = tokio::time::sleep(left) => {}
        }
    }
}

/// Refuses a blob known to be over the node's limit, before anything is sent.
pub fn check_size(size: u64) -> Result<(), Error> {
    if size > MAX_BLOB_BYTES {
        return Err(Error::invalid(
            "data",
            format!(
                "the blob is {size} bytes, over the node's limit of {MAX_BLOB_BYTES} bytes (1 GiB)"
            ),
        ));
    }
    Ok(())
}

fn over_limit(transfer: &Transfer) -> Error {
    Error::invalid(
        "data",
        format!(
            "the blob is larger than the node's limit of {MAX_BLOB_BYTES} bytes (1 GiB); \
             stopped after {} bytes",
            transfer.done()
        ),
    )
}

impl Connection {
    /// Streams `source` as a blob (`PUT /admin-api/blobs`, the endpoint
    /// `upload_blob`); `size` is sent as `Content-Length` when known.
    pub async fn upload(
        &self,
        prepared: Prepared,
        source: UploadSource,
        size: Option<u64>,
        transfer: Arc<Transfer>,
    ) -> Result<Reply, Error> {
        if let Some(size) = size {
            check_size(size)?;
            transfer.set_total(size);
        }
        if self.signs_requests() {
            return self.upload_signed(prepared, source, size, transfer).await;
        }
        let url = self.prepared_url(&prepared)?;
        let shown_url = redact(&url);
        let method = prepared.verb.as_str();
        let mut source = Some(source);
        let mut retries = 0;
        let mut attempt = 0;
        loop {
            let Some(this) = source.take() else {
                return Err(Error::Internal("no upload source".into()));
            };
            let replay = this.replay();
            let counter = Arc::clone(&transfer);
            let mut sent = 0u64;
            let body = this.into_stream().map(move |chunk| {
                let chunk = chunk?;
                sent += chunk.len() as u64;
                if counter.advance_to(sent) > MAX_BLOB_BYTES {
                    counter.over_limit.store(true, Ordering::Release);
                    return Err(io::Error::other("the blob is over the node's 1 GiB limit"));
                }
                Ok(chunk)
            });
            // Not signing (see `upload_signed`): the body is streamed.
            let (mut request, ticket) = self.builder(method, url.clone(), true, b"")?;
            request = request
                .header(CONTENT_TYPE, "application/octet-stream")
                .body(reqwest::Body::wrap_stream(body));
            if let Some(size) = size {
                request = request.header(CONTENT_LENGTH, size);
            }
            transfer.touch();
            let result = idle_guard(&transfer, self.timeout(), method, &shown_url, async {
                let response = self.dispatch(request, method, &shown_url).await?;
                self.read_reply(response, method, shown_url.clone()).await
            })
            .await;
            if transfer.over_limit.load(Ordering::Acquire) {
                return Err(over_limit(&transfer));
            }
            let err = match result {
                Ok(reply) => return Ok(reply),
                Err(err) => err,
            };
            let err = match ticket {
                Some(ticket) if retries < MAX_AUTH_RETRIES => {
                    match self.on_auth_failure(&ticket, err).await {
                        AuthRecovery::Fail(err) => err,
                        AuthRecovery::Retry => match replay {
                            Some(again) => {
                                source = Some(again?);
                                retries += 1;
                                continue;
                            }
                            None => {
                                return Err(Error::NotAuthenticated {
                                    message: "the node refused the token during the upload and \
                                              a file object cannot be read twice: the token has \
                                              been renewed, call upload_blob again"
                                        .into(),
                                })
                            }
                        },
                    }
                }
                _ => err,
            };
            // A PUT is safe to repeat, when the source can be read again.
            match (self.retry_delay(&err, method, attempt), replay) {
                (Some(delay), Some(again)) => {
                    attempt += 1;
                    tokio::time::sleep(delay).await;
                    source = Some(again?);
                }
                _ => return Err(err),
            }
        }
    }

    /// An upload with delegated access: a proof commits to the body's hash,
    /// which must be known before the body is sent, and the node hashes a
    /// proven body in memory and refuses one over 1 MiB (core
    /// `MAX_PROVEN_BODY`). So the source is read first (at most 1 MiB, or
    /// refused before sending), then sent as one signed body.
    async fn upload_signed(
        &self,
        prepared: Prepared,
        source: UploadSource,
        size: Option<u64>,
        transfer: Arc<Transfer>,
    ) -> Result<Reply, Error> {
        use crate::delegated::request::MAX_PROVEN_BODY;
        let too_large = || {
            Error::invalid(
                "data",
                format!(
                    "a signed upload (delegated access) carries at most {MAX_PROVEN_BODY} bytes: \
                     the node hashes a proven body before its handler and refuses a larger one; \
                     upload larger blobs over a connection with a token"
                ),
            )
        };
        if size.is_some_and(|s| s > MAX_PROVEN_BODY as u64) {
            return Err(too_large());
        }
        let mut body = BytesMut::new();
        let mut chunks = source.into_stream();
        while let Some(chunk) = chunks.next().await {
            let chunk =
                chunk.map_err(|e| Error::invalid("data", format!("reading failed: {e}")))?;
            if body.len() + chunk.len() > MAX_PROVEN_BODY {
                return Err(too_large());
            }
            body.extend_from_slice(&chunk);
        }
        let body = body.freeze();
        let url = self.prepared_url(&prepared)?;
        let shown_url = redact(&url);
        let method = prepared.verb.as_str();
        let mut attempt = 0;
        loop {
            let (request, _) = self.builder(method, url.clone(), true, &body)?;
            let request = request
                .timeout(self.timeout())
                .header(CONTENT_TYPE, "application/octet-stream")
                .body(body.clone());
            transfer.touch();
            let result = async {
                let response = request
                    .send()
                    .await
                    .map_err(|e| transport_error(method, &shown_url, &e))?;
                self.read_reply(response, method, shown_url.clone()).await
            }
            .await;
            match result {
                Ok(reply) => {
                    transfer.advance_to(body.len() as u64);
                    return Ok(reply);
                }
                Err(err) => match self.retry_delay(&err, method, attempt) {
                    Some(delay) => {
                        attempt += 1;
                        tokio::time::sleep(delay).await;
                    }
                    None => return Err(err),
                },
            }
        }
    }

    /// Starts a blob download (`GET /admin-api/blobs/{id}`): the answer's
    /// headers are in; its body comes through [`Download::chunk`].
    pub async fn download(
        &self,
        prepared: Prepared,
        transfer: Arc<Transfer>,
    ) -> Result<Download, Error> {
        let url = self.prepared_url(&prepared)?;
        let shown_url = redact(&url);
        let method = prepared.verb.as_str();
        let idle = self.timeout();
        let mut retries = 0;
        let mut attempt = 0;
        // A blocking download into memory takes the direct lane when it
        // can (crate::lane); a redirect sends it through reqwest, which
        // follows it (the GET goes again).
        let mut direct = true;
        let answer = loop {
            transfer.touch();
            let (sent, ticket) = if direct && self.lane_open(&url)? {
                let credential = self.credential(method, &url, b"", true)?;
                let until = crate::lane::Until::Idle(idle);
                let out = self.outgoing(method, &url, credential.header, None, &shown_url, until);
                let sent = out
                    .send(|| self.lane_take())
                    .await
                    .map(|(head, body)| Answer::Lane(head, body));
                (sent, credential.ticket)
            } else {
                let (request, ticket) = self.builder(method, url.clone(), true, b"")?;
                let sent = idle_guard(&transfer, idle, method, &shown_url, async {
                    self.dispatch(request, method, &shown_url).await
                })
                .await
                .map(Answer::Reqwest);
                (sent, ticket)
            };
            let answer = match sent {
                Ok(answer) => answer,
                Err(err) => match self.retry_delay(&err, method, attempt) {
                    Some(delay) => {
                        attempt += 1;
                        tokio::time::sleep(delay).await;
                        continue;
                    }
                    None => return Err(err),
                },
            };
            let status = answer.status();
            if (200..300).contains(&status) {
                break answer;
            }
            if matches!(answer, Answer::Lane(..)) && matches!(status, 301 | 302 | 303 | 307 | 308) {
                direct = false;
                continue;
            }
            let (headers, body) = match answer {
                Answer::Reqwest(response) => {
                    let headers = response.headers().clone();
                    let body = idle_guard(&transfer, idle, method, &shown_url, async {
                        read_capped(response, ERROR_BODY_LIMIT)
                            .await
                            .map_err(|e| transport_error(method, &shown_url, &e))
                    })
                    .await?;
                    (headers, body)
                }
                Answer::Lane(head, mut body) => {
                    let until = crate::lane::Until::Idle(idle);
                    let out = self.outgoing(method, &url, None, None, &shown_url, until);
                    let mut kept = Vec::new();
                    while kept.len() < ERROR_BODY_LIMIT {
                        let room = (ERROR_BODY_LIMIT - kept.len()) as u64;
                        match body.next_chunk(&out, room).await? {
                            Some(piece) => kept.extend_from_slice(&piece),
                            None => break,
                        }
                    }
                    (head.headers, kept)
                }
            };
            let err = self.failure(status, &headers, &body, method, &shown_url);
            let err = match ticket {
                Some(ticket) if retries < MAX_AUTH_RETRIES => {
                    match self.on_auth_failure(&ticket, err).await {
                        AuthRecovery::Retry => {
                            retries += 1;
                            continue;
                        }
                        AuthRecovery::Fail(err) => err,
                    }
                }
                _ => err,
            };
            match self.retry_delay(&err, method, attempt) {
                Some(delay) => {
                    attempt += 1;
                    tokio::time::sleep(delay).await;
                }
                None => return Err(err),
            }
        };
        let (headers, size, source) = match answer {
            Answer::Reqwest(response) => {
                let size = response.content_length();
                (response.headers().clone(), size, Source::Reqwest(response))
            }
            Answer::Lane(head, body) => {
                let size = body.length();
                let lane = LaneBody {
                    body,
                    conn: self.clone(),
                    url,
                };
                (head.headers, size, Source::Lane(Box::new(lane)))
            }
        };
        if let Some(size) = size {
            transfer.set_total(size);
        }
        Ok(Download {
            info: BlobMeta::from_headers(&headers),
            headers,
            size,
            response: Some(source),
            hasher: Some(Sha256::new()),
            received: 0,
            transfer,
            idle,
            method,
            url: shown_url,
        })
    }
}

/// A download's answer as it came: through reqwest, or by the direct lane.
enum Answer {
    Reqwest(reqwest::Response),
    Lane(crate::lane::Head, crate::lane::Body),
}

impl Answer {
    fn status(&self) -> u16 {
        match self {
            Answer::Reqwest(response) => response.status().as_u16(),
            Answer::Lane(head, _) => head.status,
        }
    }
}

/// Where a download's body comes from.
enum Source {
    Reqwest(reqwest::Response),
    /// The direct lane (a blocking download into memory): read on the
    /// socket, and the connection given back to this thread's lane once the
    /// body is read to its end.
    Lane(Box<LaneBody>),
}

struct LaneBody {
    body: crate::lane::Body,
    conn: Connection,
    url: url::Url,
}

/// How much of a body the lane hands over at a time (progress moves, and
/// the check is updated, piece by piece).
const LANE_PIECE: u64 = 1 << 20;

impl LaneBody {
    /// The next piece of the body; no data for `idle` is a timeout.
    async fn next(
        &mut self,
        method: &'static str,
        shown_url: &str,
        idle: Duration,
    ) -> Result<Option<Bytes>, Error> {
        let until = crate::lane::Until::Idle(idle);
        let out = self
            .conn
            .outgoing(method, &self.url, None, None, shown_url, until);
        self.body.next_chunk(&out, LANE_PIECE).await
    }

    /// The connection back to this thread's lane, when its body was read
    /// to its end.
    fn give_back(self) {
        let LaneBody { body, conn, .. } = self;
        if let Some(stream) = body.reusable() {
            conn.lane_put(stream);
        }
    }
}

/// The error of a transfer that moved no data for `idle`.
pub(crate) fn idle_error(method: &str, url: &str, idle: Duration) -> Error {
    Error::Timeout {
        method: method.into(),
        url: url.into(),
        message: format!("no data moved for {} s", idle.as_secs_f64()),
    }
}

/// At most `cap` bytes of a body (an error body: the rest is dropped).
async fn read_capped(mut response: reqwest::Response, cap: usize) -> reqwest::Result<Vec<u8>> {
    let mut out = Vec::new();
    while let Some(chunk) = response.chunk().await? {
        let room = cap.saturating_sub(out.len());
        out.extend_from_slice(&chunk[..chunk.len().min(room)]);
        if out.len() >= cap {
            break;
        }
    }
    Ok(out)
}

/// A blob's metadata, from the headers the node sends with it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BlobMeta {
    pub blob_id: Option<String>,
    pub size: Option<u64>,
    /// Lowercase hex SHA-256 of the content (`X-Blob-Hash`).
    pub hash: Option<String>,
    pub mime_type: Option<String>,
}

impl BlobMeta {
    pub fn from_headers(headers: &HeaderMap) -> Self {
        let text = |name: &str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        BlobMeta {
            blob_id: text("x-blob-id"),
            size: text("content-length").and_then(|s| s.trim().parse().ok()),
            hash: text("x-blob-hash").map(|h| h.to_ascii_lowercase()),
            mime_type: text("x-blob-mime-type").or_else(|| text("content-type")),
        }
    }

    /// The answer of `get_blob_info`: `{"data": {"blob_id", "size", "hash",
    /// "mime_type"}}` (the shape of the official client, the hash as hex).
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({"data": {
            "blob_id": self.blob_id,
            "size": self.size,
            "hash": self.hash,
            "mime_type": self.mime_type,
        }})
    }

    /// From a HEAD answer.
    pub fn from_reply(reply: &Reply) -> Self {
        Self::from_headers(&reply.headers)
    }
}

/// A download under way.
pub struct Download {
    pub info: BlobMeta,
    pub headers: HeaderMap,
    /// `Content-Length`, when the node sent it.
    pub size: Option<u64>,
    /// `None` once the body has ended (or failed).
    response: Option<Source>,
    /// `None` when the content is not checked against `X-Blob-Hash`.
    hasher: Option<Sha256>,
    received: u64,
    transfer: Arc<Transfer>,
    idle: Duration,
    method: &'static str,
    url: String,
}

impl std::fmt::Debug for Download {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Download")
            .field("url", &self.url)
            .field("info", &self.info)
            .field("received", &self.received)
            .finish_non_exhaustive()
    }
}

impl Download {
    /// The next piece of the body, or `None` at its end, once its length and
    /// SHA-256 (`X-Blob-Hash`) have been checked.
    pub async fn chunk(&mut self) -> Result<Option<Bytes>, Error> {
        let (method, url) = (self.method, self.url.clone());
        let next = match self.response.as_mut() {
            None => return Ok(None),
            Some(Source::Reqwest(response)) => {
                idle_guard(&self.transfer, self.idle, method, &url, async {
                    response
                        .chunk()
                        .await
                        .map_err(|e| transport_error(method, &url, &e))
                })
                .await
            }
            Some(Source::Lane(lane)) => lane.next(method, &url, self.idle).await,
        };
        match next {
            Ok(Some(chunk)) => {
                self.received += chunk.len() as u64;
                self.transfer.advance(chunk.len());
                if let Some(hasher) = self.hasher.as_mut() {
                    hasher.update(&chunk);
                }
                if self.size.is_some_and(|size| self.received > size) {
                    self.response = None;
                    return Err(self.malformed(format!(
                        "the body is longer than its Content-Length ({} bytes)",
                        self.size.unwrap_or_default()
                    )));
                }
                Ok(Some(chunk))
            }
            Ok(None) => {
                if let Some(Source::Lane(lane)) = self.response.take() {
                    lane.give_back();
                }
                self.verify()?;
                Ok(None)
            }
            Err(e) => {
                self.response = None;
                Err(e)
            }
        }
    }

    /// Bytes received so far.
    pub fn received(&self) -> u64 {
        self.received
    }

    fn verify(&mut self) -> Result<(), Error> {
        if let Some(size) = self.size.filter(|s| *s != self.received) {
            return Err(self.malformed(format!(
                "the body ended after {} of {size} bytes",
                self.received
            )));
        }
        let (Some(hasher), Some(expected)) = (self.hasher.take(), &self.info.hash) else {
            return Ok(());
        };
        let digest = hex::encode(hasher.finalize());
        if *expected != digest {
            return Err(self.malformed(format!(
                "the content's SHA-256 {digest} differs from X-Blob-Hash {expected}"
            )));
        }
        Ok(())
    }

    /// Not checked against `X-Blob-Hash` (its length still is): the
    /// caller's choice (`verify=False`) when the SHA-256, most of a large
    /// download's CPU, is not wanted. Called before the first chunk.
    pub fn unverified(mut self) -> Self {
        self.hasher = None;
        self
    }

    fn malformed(&self, message: String) -> Error {
        Error::MalformedResponse {
            method: self.method.into(),
            url: self.url.clone(),
            message,
            body: String::new(),
        }
    }

    /// The whole body in one buffer (at most [`MAX_IN_MEMORY_BYTES`]).
    pub async fn into_vec(mut self) -> Result<Vec<u8>, Error> {
        let capacity = self.size.unwrap_or(0);
        if capacity > MAX_IN_MEMORY_BYTES {
            return Err(self.too_big(capacity));
        }
        let mut out = Vec::with_capacity(usize::try_from(capacity).unwrap_or(0));
        while let Some(chunk) = self.chunk().await? {
            if out.len() as u64 + chunk.len() as u64 > MAX_IN_MEMORY_BYTES {
                return Err(self.too_big(out.len() as u64 + chunk.len() as u64));
            }
            out.extend_from_slice(&chunk);
        }
        Ok(out)
    }

    /// The body into `buf`, which must be exactly `Content-Length` long.
    pub async fn fill(&mut self, buf: &mut [u8]) -> Result<(), Error> {
        let mut at = 0usize;
        while let Some(chunk) = self.chunk().await? {
            let end = at + chunk.len();
            if end > buf.len() {
                return Err(self.malformed("the body is longer than announced".into()));
            }
            buf[at..end].copy_from_slice(&chunk);
            at = end;
        }
        if at != buf.len() {
            return Err(self.malformed(format!("the body ended after {at} of {} bytes", buf.len())));
        }
        Ok(())
    }

    /// [`Download::fill`] into memory that need not be initialised (a
    /// `bytes` object a binding allocates, not zeroed first): `buf` is
    /// written, never read, and is wholly written when this succeeds.
    pub async fn fill_uninit(&mut self, buf: &mut [MaybeUninit<u8>]) -> Result<(), Error> {
        if let Some(Source::Lane(lane)) = self.response.as_mut() {
            if self.received == 0 && lane.body.length() == Some(buf.len() as u64) {
                // Straight from the socket into `buf`, checked as it comes.
                let (hasher, transfer) = (&mut self.hasher, &self.transfer);
                let mut received = 0u64;
                let until = crate::lane::Until::Idle(self.idle);
                let out = lane
                    .conn
                    .outgoing(self.method, &lane.url, None, None, &self.url, until);
                let read = lane
                    .body
                    .read_into(&out, buf, |part| {
                        received += part.len() as u64;
                        transfer.advance(part.len());
                        if let Some(hasher) = hasher.as_mut() {
                            hasher.update(part);
                        }
                    })
                    .await;
                self.received += received;
                return match (read, self.response.take()) {
                    (Ok(()), Some(Source::Lane(lane))) => {
                        lane.give_back();
                        self.verify()
                    }
                    (Ok(()), _) => self.verify(),
                    (Err(e), _) => Err(e),
                };
            }
        }
        let mut at = 0usize;
        while let Some(chunk) = self.chunk().await? {
            let end = at + chunk.len();
            if end > buf.len() {
                return Err(self.malformed("the body is longer than announced".into()));
            }
            // SAFETY: `buf[at..end]` is `chunk.len()` writable bytes (bounds
            // checked by the slicing), and a chunk of the body cannot overlap
            // memory borrowed mutably here.
            unsafe {
                std::ptr::copy_nonoverlapping(
                    chunk.as_ptr(),
                    buf[at..end].as_mut_ptr().cast::<u8>(),
                    chunk.len(),
                );
            }
            at = end;
        }
        if at != buf.len() {
            return Err(self.malformed(format!("the body ended after {at} of {} bytes", buf.len())));
        }
        Ok(())
    }

    fn too_big(&self, size: u64) -> Error {
        self.malformed(format!(
            "the blob is {size} bytes, more than one buffer takes ({MAX_IN_MEMORY_BYTES}); \
             use download_blob_to_path or iter_blob"
        ))
    }

    /// Streams the body into the file `path`: into a temporary file beside
    /// it first, renamed over `path` only once complete and checked, so the
    /// file is whole or untouched. Gives the number of bytes written.
    pub async fn save(mut self, path: &Path) -> Result<u64, Error> {
        use tokio::io::AsyncWriteExt;
        let dir = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
            _ => PathBuf::from("."),
        };
        let name = path
            .file_name()
            .ok_or_else(|| Error::invalid("path", "expected a file path"))?
            .to_string_lossy()
            .into_owned();
        static SEQUENCE: AtomicU64 = AtomicU64::new(0);
        let temp = TempFile(dir.join(format!(
            ".{name}.{}-{}.part",
            std::process::id(),
            SEQUENCE.fetch_add(1, Ordering::Relaxed)
        )));
        let mut file = tokio::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&temp.0)
            .await
            .map_err(|e| Error::local_io(&temp.0, &e))?;
        while let Some(chunk) = self.chunk().await? {
            file.write_all(&chunk)
                .await
                .map_err(|e| Error::local_io(&temp.0, &e))?;
        }
        file.sync_all()
            .await
            .map_err(|e| Error::local_io(&temp.0, &e))?;
        drop(file);
        tokio::fs::rename(&temp.0, path)
            .await
            .map_err(|e| Error::local_io(path, &e))?;
        std::mem::forget(temp);
        Ok(self.received)
    }
}

/// A temporary file removed when dropped: on an error, and also when the
/// download is cancelled (its future dropped) half-way.
struct TempFile(PathBuf);

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}
