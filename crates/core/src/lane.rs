//! The direct lane: how a blocking call's request goes out when it can.
//!
//! A blocking call runs on its own thread's current-thread runtime
//! ([`crate::runtime::block_on_local`]) and reads its whole answer before
//! it returns. Over plain `http://`, with no proxy in the environment and
//! no sealing, such a request is sent here: on one of this thread's
//! keep-alive connections to the node, written and read on the blocking
//! socket itself. The thread sleeps in `recv` until the node answers, with
//! no reactor between (no `epoll_wait`, no task wake-up, no channel), and
//! the answer is parsed by httparse, hyper's own parser. Against a real
//! merod that costs a JSON-RPC call about 45 us less CPU than hyper's
//! connection API on the runtime, which cost about 45 us less than reqwest
//! (`crates/core/examples/transport_cost.rs`, benches/RESULTS.md, fourth
//! and fifth rounds).
//!
//! A blocking read or write waits at most [`SLICE`] at a time, then yields
//! to the runtime: the Python layer's timer checks for signals then, as it
//! does for every call, so Ctrl-C still ends a call the node holds. That
//! is why this is not a blocking HTTP client such as ureq: its reads
//! cannot stop to let the caller check for signals without ending the
//! request.
//!
//! A blob downloaded into memory by a blocking call (`download_blob`)
//! takes the lane too ([`crate::blobs`]): its body is read from the socket
//! straight into the caller's buffer ([`Body::read_into`]).
//!
//! An awaited call (`AsyncClient`) takes the lane too, on the event
//! loop's thread ([`crate::runtime::on_loop`]): the same connections,
//! requests and answers, the socket then read and written without waiting,
//! and watched by the loop ([`crate::poller`]) when it would wait.
//!
//! Every other request (https, a proxy, a sealed connection, streams,
//! the auth routes, another origin) goes through reqwest.
//! A redirect the lane meets is followed by
//! [`crate::connection::Connection::execute`] with reqwest's rules (the
//! new method and body; no token to another origin); the request is
//! never sent twice. What the lane keeps of reqwest and hyper: the
//! request bytes hyper wrote (the same headers: `host`, `user-agent`,
//! `accept`, the content type, the credential, `content-length`), the
//! answer's framing (RFC 9112, section 6.3: length, chunked with
//! extensions and trailers, to the close; informational answers skipped;
//! the connection kept only when the node keeps it), hyper's limits and
//! error texts, reqwest's connector (hyper-util's, with reqwest's
//! settings; the socket is then used blocking), the whole-request timeout
//! (over a chain of redirects too), the error kinds (`Timeout`; `Network`,
//! with `connect` when nothing was sent, so that
//! [`crate::connection::Connection::retry_delay`] retries it), a pooled
//! connection the node had closed while idle never written into (a peek
//! that does not wait sees its end first), and idle connections dropped
//! after 60 s.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use bytes::Bytes;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};

use crate::error::Error;

/// TCP keep-alive probes: after this long idle, then at this interval, 3
/// of them (reqwest's defaults).
const TCP_KEEPALIVE: Duration = Duration::from_secs(15);
/// How long sent data may stay unacknowledged (reqwest's default on Linux).
#[cfg(any(target_os = "android", target_os = "fuchsia", target_os = "linux"))]
const TCP_USER_TIMEOUT: Duration = Duration::from_secs(30);

/// How long an idle connection is kept (reqwest's `pool_idle_timeout`).
const IDLE: Duration = Duration::from_secs(60);
/// Idle connections kept per thread and connection: a blocking call uses
/// one at a time; a few cover calls that send requests side by side.
const MAX_IDLE: usize = 4;
/// Idle connections kept per event loop and connection: awaited calls
/// gathered together each take one (reqwest, which they went through
/// before, keeps every idle connection).
const MAX_IDLE_LOOP: usize = 256;

/// The longest one blocking read or write waits before the call yields to
/// its runtime (the Python layer checks for signals then, every 50 ms).
const SLICE: Duration = Duration::from_millis(50);
/// How much is read from the socket at a time while the answer's head or
/// a chunked or close-delimited body is read.
const READ_SIZE: usize = 16 * 1024;
/// The largest answer head read (hyper's default buffer limit).
const MAX_HEAD: usize = 400 * 1024;
/// The most header lines an answer may have (hyper's default; trailer
/// lines too).
const MAX_HEADERS: usize = 100;
/// The most bytes of chunk extensions in one body, and of its trailers
/// (hyper's limits).
const MAX_EXTENSIONS: usize = 16 * 1024;
const MAX_TRAILER_BYTES: usize = 16 * 1024;
/// The most reserved for a body before it arrives (more grows as it
/// comes).
const MAX_RESERVE: usize = 64 * 1024 * 1024;

/// The environment variables reqwest takes an `http://` request's proxy
/// from: when one is set, requests go through reqwest (which honours it
/// and `NO_PROXY`), never here.
const PROXY_VARIABLES: [&str; 4] = ["http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY"];

/// One keep-alive connection of the lane, read and written blocking.
pub(crate) struct Stream {
    io: Io,
    /// The read buffer (zeroed once, when the connection is made) and what
    /// was read into it and not yet used: `start..end`.
    buf: Vec<u8>,
    start: usize,
    end: usize,
}

/// A connection's socket, read and written blocking by [`Io::run`].
struct Io {
    tcp: TcpStream,
    /// The socket's read and write timeouts as last set (setting one is a
    /// system call; most calls set none).
    read_timeout: Option<Duration>,
    write_timeout: Option<Duration>,
    /// When the call last yielded to its runtime.
    yielded: Instant,
    /// When a read or write of a transfer last succeeded.
    progressed: Instant,
    /// Whether the socket is in non-blocking mode (while an event loop
    /// polls the call: [`crate::runtime::on_loop`]).
    nonblocking: bool,
}

/// One thread's lane to one connection: whether it may be used, and its
/// idle connections (newest last).
pub(crate) struct Pool {
    usable: bool,
    idle: Vec<(Stream, Instant)>,
}

impl Pool {
    /// A lane, usable unless the environment names a proxy (read once,
    /// like reqwest reads it when its client is built).
    pub(crate) fn new() -> Self {
        let proxied = PROXY_VARIABLES
            .iter()
            .any(|name| std::env::var_os(name).is_some_and(|v| !v.is_empty()));
        Pool {
            usable: !proxied,
            idle: Vec::new(),
        }
    }

    pub(crate) fn usable(&self) -> bool {
        self.usable
    }

    /// The newest idle connection that is fresh and still open with
    /// nothing to read (the node closes an idle connection with a FIN,
    /// seen here before a request is written into it); the others on the
    /// way are dropped.
    pub(crate) fn take(&mut self) -> Option<Stream> {
        while let Some((stream, since)) = self.idle.pop() {
            if since.elapsed() < IDLE && stream.idle() {
                return Some(stream);
            }
        }
        None
    }

    /// Keeps a connection whose answer was read whole, for the next call.
    pub(crate) fn put(&mut self, stream: Stream) {
        let most = if crate::runtime::in_loop() {
            MAX_IDLE_LOOP
        } else {
            MAX_IDLE
        };
        // The oldest first: those idle too long go (a loop's gathered calls
        // may leave many that no later call takes).
        while self
            .idle
            .first()
            .is_some_and(|(_, since)| since.elapsed() >= IDLE)
        {
            self.idle.remove(0);
        }
        while self.idle.len() >= most {
            self.idle.remove(0);
        }
        self.idle.push((stream, Instant::now()));
    }
}

impl Stream {
    fn new(tcp: TcpStream) -> Self {
        Stream {
            io: Io {
                tcp,
                read_timeout: None,
                write_timeout: None,
                yielded: Instant::now(),
                progressed: Instant::now(),
                nonblocking: false,
            },
            buf: vec![0; READ_SIZE],
            start: 0,
            end: 0,
        }
    }

    /// Whether the connection is open with nothing to read: a peek that
    /// does not wait finds no data and no end of stream.
    fn idle(&self) -> bool {
        if self.start < self.end {
            return false;
        }
        #[cfg(unix)]
        {
            use std::os::fd::AsRawFd;
            let mut byte = 0u8;
            // SAFETY: `recv` writes at most one byte, into `byte`.
            let n = unsafe {
                libc::recv(
                    self.io.tcp.as_raw_fd(),
                    std::ptr::addr_of_mut!(byte).cast(),
                    1,
                    libc::MSG_PEEK | libc::MSG_DONTWAIT,
                )
            };
            n < 0 && std::io::Error::last_os_error().kind() == std::io::ErrorKind::WouldBlock
        }
        #[cfg(not(unix))]
        {
            let tcp = &self.io.tcp;
            if tcp.set_nonblocking(true).is_err() {
                return false;
            }
            let idle = matches!(tcp.peek(&mut [0u8]),
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock);
            idle && tcp.set_nonblocking(false).is_ok()
        }
    }

    /// Bytes read and not yet used.
    fn pending(&self) -> &[u8] {
        &self.buf[self.start..self.end]
    }

    fn consume(&mut self, n: usize) {
        self.start += n;
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
        }
    }

    /// Reads more into the buffer (moving what is pending to its start, or
    /// growing it when it is full); 0 at the end of the stream.
    async fn fill(&mut self, out: &Outgoing<'_>) -> Result<usize, Error> {
        if self.end == self.buf.len() {
            if self.start > 0 {
                self.buf.copy_within(self.start..self.end, 0);
                self.end -= self.start;
                self.start = 0;
            } else {
                self.buf.resize(self.buf.len() * 2, 0);
            }
        }
        let (buf, end) = (&mut self.buf, self.end);
        let n = self.io.run(out, false, |t| t.read(&mut buf[end..])).await?;
        self.end += n;
        Ok(n)
    }

    /// Reads exactly `n` bytes of body into one piece (a large answer
    /// goes straight from the socket into its buffer).
    async fn read_exact(&mut self, n: usize, out: &Outgoing<'_>) -> Result<Bytes, Error> {
        let have = self.pending().len().min(n);
        // Reserved up front, at most MAX_RESERVE and when the machine can;
        // the rest grows as it arrives (a length the machine cannot hold
        // is an error, not an abort).
        let mut piece = Vec::new();
        if piece.try_reserve_exact(n.min(MAX_RESERVE)).is_err() {
            piece.reserve(have);
        }
        piece.extend_from_slice(&self.pending()[..have]);
        self.consume(have);
        while piece.len() < n {
            if piece.capacity() == piece.len() {
                let more = (n - piece.len()).min(MAX_RESERVE);
                piece
                    .try_reserve_exact(more)
                    .map_err(|e| out.network(e.to_string(), false))?;
            }
            let room = (n - piece.len()).min(piece.capacity() - piece.len());
            let spare = &mut piece.spare_capacity_mut()[..room];
            let got = self.io.run(out, false, |t| recv_uninit(t, spare)).await?;
            if got == 0 {
                return Err(out.incomplete());
            }
            // SAFETY: `recv_uninit` initialised `got` bytes of the spare
            // capacity, right after the length.
            unsafe { piece.set_len(piece.len() + got) };
        }
        Ok(Bytes::from(piece))
    }

    /// Writes all of `data`; the error says whether none of it was sent.
    async fn write_all(&mut self, data: &[u8], out: &Outgoing<'_>) -> Result<(), (Error, bool)> {
        let mut sent = 0;
        while sent < data.len() {
            let rest = &data[sent..];
            match self.io.run(out, true, |t| t.write(rest)).await {
                Ok(0) => {
                    return Err((
                        out.network("failed to write the request".into(), false),
                        sent == 0,
                    ))
                }
                Ok(n) => sent += n,
                Err(e) => return Err((e, sent == 0)),
            }
        }
        Ok(())
    }
}

impl Io {
    /// Runs a blocking read (or write) of the socket until it is done, its
    /// timeout set to what is left of the request's deadline, at most
    /// [`SLICE`]. Every slice (waiting, or reading an answer that keeps
    /// coming) the call yields to its runtime, whose timer lets the Python
    /// layer check for signals and report progress, and goes on.
    async fn run<T>(
        &mut self,
        out: &Outgoing<'_>,
        write: bool,
        mut op: impl FnMut(&mut TcpStream) -> std::io::Result<T>,
    ) -> Result<T, Error> {
        let looped = crate::runtime::in_loop();
        if looped != self.nonblocking {
            self.tcp
                .set_nonblocking(looped)
                .map_err(|e| out.network(e.to_string(), false))?;
            self.nonblocking = looped;
        }
        loop {
            // A transfer's timeout counts from the last data.
            let deadline = match out.idle {
                Some(idle) => out.deadline.max(self.progressed + idle),
                None => out.deadline,
            };
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(out.timeout());
            }
            if looped {
                match op(&mut self.tcp) {
                    Ok(done) => {
                        if out.idle.is_some() {
                            self.progressed = Instant::now();
                        }
                        // An answer that keeps coming lets the loop run
                        // its other work every slice.
                        if self.yielded.elapsed() >= SLICE {
                            tokio::task::yield_now().await;
                            self.yielded = Instant::now();
                        }
                        return Ok(done);
                    }
                    Err(e)
                        if matches!(
                            e.kind(),
                            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::Interrupted
                        ) =>
                    {
                        self.ready(write, deadline, out).await?;
                        self.yielded = Instant::now();
                        continue;
                    }
                    Err(e) => return Err(out.network(e.to_string(), false)),
                }
            }
            let wait = Some(left.min(SLICE));
            let current = if write {
                &mut self.write_timeout
            } else {
                &mut self.read_timeout
            };
            if *current != wait {
                let set = if write {
                    self.tcp.set_write_timeout(wait)
                } else {
                    self.tcp.set_read_timeout(wait)
                };
                set.map_err(|e| out.network(e.to_string(), false))?;
                *current = wait;
            }
            let result = op(&mut self.tcp);
            let waited = matches!(&result, Err(e) if matches!(
                e.kind(),
                std::io::ErrorKind::WouldBlock
                    | std::io::ErrorKind::TimedOut
                    | std::io::ErrorKind::Interrupted
            ));
            if waited || self.yielded.elapsed() >= SLICE {
                tokio::task::yield_now().await;
                self.yielded = Instant::now();
            }
            match result {
                Ok(done) => {
                    if out.idle.is_some() {
                        self.progressed = Instant::now();
                    }
                    return Ok(done);
                }
                Err(_) if waited => {}
                Err(e) => return Err(out.network(e.to_string(), false)),
            }
        }
    }
}

impl Io {
    /// Waits, on the event loop polling the call, until the socket can be
    /// read (written, when `write`) or `deadline` passes (the caller then
    /// finds it passed).
    async fn ready(&self, write: bool, deadline: Instant, out: &Outgoing<'_>) -> Result<(), Error> {
        #[cfg(unix)]
        let fd = {
            use std::os::fd::AsRawFd;
            self.tcp.as_raw_fd()
        };
        #[cfg(not(unix))]
        let fd = {
            let _ = (write, deadline);
            return Err(out.network("no event loop lane here".into(), false));
        };
        let mut watching = None;
        std::future::poll_fn(|cx| {
            if watching.is_some() {
                return std::task::Poll::Ready(Ok(()));
            }
            match crate::runtime::watch(fd, write, deadline, cx.waker()) {
                Ok(guard) => {
                    watching = Some(guard);
                    std::task::Poll::Pending
                }
                Err(e) => std::task::Poll::Ready(Err(match e {
                    Error::Internal(m) => out.network(m, false),
                    other => other,
                })),
            }
        })
        .await
    }
}

/// Reads from the socket into memory not yet initialised (no zeroing of a
/// large answer's buffer first).
fn recv_uninit(
    tcp: &mut TcpStream,
    dest: &mut [std::mem::MaybeUninit<u8>],
) -> std::io::Result<usize> {
    #[cfg(unix)]
    {
        use std::os::fd::AsRawFd;
        // SAFETY: `recv` writes at most `dest.len()` bytes into `dest`, and
        // reports how many it wrote.
        let n = unsafe { libc::recv(tcp.as_raw_fd(), dest.as_mut_ptr().cast(), dest.len(), 0) };
        usize::try_from(n).map_err(|_| std::io::Error::last_os_error())
    }
    #[cfg(not(unix))]
    {
        let dest = &mut dest[..dest.len().min(READ_SIZE)];
        for byte in dest.iter_mut() {
            byte.write(0);
        }
        // SAFETY: every byte of `dest` was just initialised.
        let dest = unsafe { &mut *(dest as *mut [std::mem::MaybeUninit<u8>] as *mut [u8]) };
        tcp.read(dest)
    }
}

/// One request as the lane sends it.
pub(crate) struct Outgoing<'a> {
    pub(crate) method: &'static str,
    pub(crate) url: &'a url::Url,
    pub(crate) credential: Option<(HeaderName, HeaderValue)>,
    pub(crate) body: Option<Bytes>,
    pub(crate) connect_timeout: Duration,
    pub(crate) shown_url: &'a str,
    /// When the request times out (one deadline over a chain of
    /// redirects); for a transfer, `idle` after it starts or after its
    /// last data, whichever is later.
    pub(crate) deadline: Instant,
    /// A transfer's timeout (a blob download): the longest time without
    /// data, not one for the whole request.
    pub(crate) idle: Option<Duration>,
}

/// How long a lane request may take.
#[derive(Clone, Copy)]
pub(crate) enum Until {
    /// The whole request, by this instant.
    Deadline(Instant),
    /// A transfer: at most this long without data.
    Idle(Duration),
}

/// An answer's head, read by the lane.
pub(crate) struct Head {
    pub(crate) status: u16,
    pub(crate) headers: HeaderMap,
}

/// How an answer's body ends (RFC 9112, section 6.3).
enum Framing {
    /// This many bytes are left.
    Length(u64),
    /// Chunked: a chunk's size line next, or this many bytes of a chunk
    /// left (then its CRLF), or the trailer lines.
    ChunkSize,
    ChunkData(u64),
    ChunkEnd,
    Trailers,
    /// Until the node closes the connection.
    Close,
    Done,
}

/// An answer's body being read from its connection.
pub(crate) struct Body {
    stream: Stream,
    framing: Framing,
    /// Bytes of chunk extensions so far, and of trailers with their lines.
    extensions: usize,
    trailers: (usize, usize),
    /// Whether the connection may serve another request once this body is
    /// read to its end.
    keep_alive: bool,
}

impl Outgoing<'_> {
    /// The request's bytes: the head hyper would write for it (origin-form
    /// target; `host`, reqwest's `user-agent` and `accept`, the content
    /// type, the credential, `content-length` when there is a body), then
    /// the body.
    fn request(&self) -> Vec<u8> {
        let target = &self.url[url::Position::BeforePath..url::Position::AfterQuery];
        let host = &self.url[url::Position::BeforeHost..url::Position::BeforePath];
        let body = self.body.as_deref().unwrap_or_default();
        let mut out = Vec::with_capacity(256 + body.len());
        let mut line = |parts: &[&[u8]]| {
            for part in parts {
                out.extend_from_slice(part);
            }
            out.extend_from_slice(b"\r\n");
        };
        line(&[
            self.method.as_bytes(),
            b" ",
            target.as_bytes(),
            b" HTTP/1.1",
        ]);
        line(&[b"host: ", host.as_bytes()]);
        line(&[b"user-agent: ", crate::connection::USER_AGENT.as_bytes()]);
        line(&[b"accept: */*"]);
        if self.body.is_some() {
            line(&[b"content-type: application/json"]);
        }
        if let Some((name, value)) = &self.credential {
            line(&[name.as_str().as_bytes(), b": ", value.as_bytes()]);
        }
        if !body.is_empty() {
            line(&[b"content-length: ", body.len().to_string().as_bytes()]);
        }
        line(&[]);
        out.extend_from_slice(body);
        out
    }

    fn network(&self, message: String, connect: bool) -> Error {
        Error::Network {
            method: self.method.into(),
            url: self.shown_url.into(),
            message,
            connect,
        }
    }

    /// The error of an answer the node stopped sending (hyper's words).
    fn incomplete(&self) -> Error {
        self.network("connection closed before message completed".into(), false)
    }

    /// The error of a request that ran past its timeout (for a transfer:
    /// that moved no data for its idle timeout).
    pub(crate) fn timeout(&self) -> Error {
        match self.idle {
            Some(idle) => crate::blobs::idle_error(self.method, self.shown_url, idle),
            None => Error::Timeout {
                method: self.method.into(),
                url: self.shown_url.into(),
                message: "operation timed out".into(),
            },
        }
    }

    /// A new connection to the URL's host, made as reqwest makes its
    /// (hyper-util's connector: the connect timeout shared out among the
    /// host's addresses, IPv4 tried 300 ms after IPv6 without an answer,
    /// `TCP_NODELAY`, reqwest's TCP keep-alive and user timeout), within
    /// the connect timeout and the request's deadline; then used blocking.
    async fn connect(&self) -> Result<Stream, Error> {
        use tower_service::Service;
        let mut connector = hyper_util::client::legacy::connect::HttpConnector::new();
        connector.set_connect_timeout(Some(self.connect_timeout));
        connector.set_nodelay(true);
        connector.set_keepalive(Some(TCP_KEEPALIVE));
        connector.set_keepalive_interval(Some(TCP_KEEPALIVE));
        connector.set_keepalive_retries(Some(3));
        #[cfg(any(target_os = "android", target_os = "fuchsia", target_os = "linux"))]
        connector.set_tcp_user_timeout(Some(TCP_USER_TIMEOUT));
        let authority = &self.url[url::Position::BeforeHost..url::Position::BeforePath];
        let uri = http::Uri::try_from(format!("http://{authority}/"))
            .map_err(|e| self.network(e.to_string(), true))?;
        let within = self
            .connect_timeout
            .min(self.deadline.saturating_duration_since(Instant::now()));
        let io = tokio::time::timeout(within, connector.call(uri))
            .await
            .map_err(|_| self.timeout())?
            .map_err(|e| {
                if timed_out(&e) {
                    self.timeout()
                } else {
                    self.network(innermost(&e), true)
                }
            })?;
        let tcp = io
            .into_inner()
            .into_std()
            .and_then(|tcp| tcp.set_nonblocking(false).map(|()| tcp))
            .map_err(|e| self.network(e.to_string(), true))?;
        Ok(Stream::new(tcp))
    }

    /// Sends the request and reads the answer's head; its body is read
    /// from the [`Body`] (whose connection goes back to the pool once read
    /// to its end).
    pub(crate) async fn send(
        &self,
        pool: impl Fn() -> Option<Stream>,
    ) -> Result<(Head, Body), Error> {
        let request = self.request();
        loop {
            let (mut stream, reused) = match pool() {
                Some(stream) => (stream, true),
                None => (Box::pin(self.connect()).await?, false),
            };
            match stream.write_all(&request, self).await {
                Ok(()) => {}
                // Closed by the node before any of this request was
                // written: nothing was sent, so it goes again.
                Err((Error::Network { .. }, true)) if reused => continue,
                // The node answered and closed before taking the whole
                // request (a body over its limit: 413): its answer, when
                // it is there to read, says more than the broken pipe.
                Err((error @ Error::Network { .. }, false)) => {
                    return match self.read_head(stream).await {
                        Ok((head, mut body)) => {
                            body.keep_alive = false;
                            Ok((head, body))
                        }
                        Err(_) => Err(error),
                    };
                }
                Err((error, unsent)) => {
                    return Err(match error {
                        Error::Network { message, .. } => self.network(message, unsent),
                        other => other,
                    })
                }
            }
            return self.read_head(stream).await;
        }
    }

    /// Reads the answer's head (skipping informational answers) and tells
    /// how its body ends.
    async fn read_head(&self, mut stream: Stream) -> Result<(Head, Body), Error> {
        loop {
            let parsed = {
                let mut lines = [httparse::EMPTY_HEADER; MAX_HEADERS];
                let mut answer = httparse::Response::new(&mut lines);
                match answer.parse(stream.pending()) {
                    Ok(httparse::Status::Complete(used)) => {
                        Some((used, self.head(&answer)?, answer.version == Some(1)))
                    }
                    Ok(httparse::Status::Partial) => None,
                    Err(httparse::Error::TooManyHeaders) => {
                        return Err(self.network("message head is too large".into(), false))
                    }
                    Err(e) => {
                        return Err(
                            self.network(format!("invalid HTTP response parsed: {e}"), false)
                        )
                    }
                }
            };
            let Some((used, head, http11)) = parsed else {
                if stream.pending().len() >= MAX_HEAD {
                    return Err(self.network("message head is too large".into(), false));
                }
                if stream.fill(self).await? == 0 {
                    return Err(self.incomplete());
                }
                continue;
            };
            stream.consume(used);
            if (100..200).contains(&head.status) && head.status != 101 {
                continue;
            }
            let (framing, keep_alive) = self.framing(&head, http11)?;
            let body = Body {
                stream,
                framing,
                extensions: 0,
                trailers: (0, 0),
                keep_alive,
            };
            return Ok((head, body));
        }
    }

    fn head(&self, answer: &httparse::Response<'_, '_>) -> Result<Head, Error> {
        let invalid = || self.network("invalid HTTP header parsed".into(), false);
        let mut headers = HeaderMap::with_capacity(answer.headers.len());
        for line in answer.headers.iter() {
            let name = HeaderName::from_bytes(line.name.as_bytes()).map_err(|_| invalid())?;
            let value = HeaderValue::from_bytes(line.value).map_err(|_| invalid())?;
            headers.append(name, value);
        }
        Ok(Head {
            status: answer.code.unwrap_or_default(),
            headers,
        })
    }

    /// How the body ends, and whether the connection stays open after it.
    fn framing(&self, head: &Head, http11: bool) -> Result<(Framing, bool), Error> {
        use reqwest::header::{CONNECTION, CONTENT_LENGTH, TRANSFER_ENCODING};
        let tokens = |name| {
            head.headers
                .get_all(name)
                .iter()
                .flat_map(|v| v.to_str().unwrap_or_default().split(','))
                .map(|t| t.trim().to_ascii_lowercase())
                .filter(|t| !t.is_empty())
                .collect::<Vec<_>>()
        };
        let connection = tokens(CONNECTION);
        let mut keep_alive = !connection.iter().any(|t| t == "close")
            && (http11 || connection.iter().any(|t| t == "keep-alive"));
        if self.method == "HEAD" || matches!(head.status, 101 | 204 | 304) {
            return Ok((Framing::Done, keep_alive && head.status != 101));
        }
        if let Some(coding) = head.headers.get_all(TRANSFER_ENCODING).iter().next_back() {
            if !http11 {
                return Err(self.network("unexpected transfer-encoding parsed".into(), false));
            }
            // A length beside a transfer coding is ignored, and the
            // connection not reused (RFC 9112, 6.3). Chunked only when it
            // is the last coding (of the last line, as hyper reads it).
            keep_alive &= head.headers.get(CONTENT_LENGTH).is_none();
            let last = coding
                .as_bytes()
                .rsplit(|b| *b == b',')
                .next()
                .unwrap_or_default();
            return Ok(if last.trim_ascii().eq_ignore_ascii_case(b"chunked") {
                (Framing::ChunkSize, keep_alive)
            } else {
                (Framing::Close, false)
            });
        }
        let mut length = None;
        for value in head.headers.get_all(CONTENT_LENGTH) {
            for part in value.to_str().unwrap_or("x").split(',') {
                let part = part.trim();
                let n = (!part.is_empty() && part.bytes().all(|b| b.is_ascii_digit()))
                    .then(|| part.parse::<u64>().ok())
                    .flatten();
                match (n, length) {
                    (Some(n), None) => length = Some(n),
                    (Some(n), Some(l)) if n == l => {}
                    _ => return Err(self.network("invalid content-length parsed".into(), false)),
                }
            }
        }
        Ok(match length {
            Some(0) => (Framing::Done, keep_alive),
            Some(n) => (Framing::Length(n), keep_alive),
            None => (Framing::Close, false),
        })
    }
}

impl Body {
    /// The body's length, when the node announced it.
    pub(crate) fn length(&self) -> Option<u64> {
        match self.framing {
            Framing::Length(n) => Some(n),
            Framing::Done => Some(0),
            _ => None,
        }
    }

    /// The next piece of the body, at most `limit` bytes (`None` at its
    /// end).
    pub(crate) async fn next_chunk(
        &mut self,
        out: &Outgoing<'_>,
        limit: u64,
    ) -> Result<Option<Bytes>, Error> {
        let limit = usize::try_from(limit.max(1)).unwrap_or(usize::MAX);
        let stream = &mut self.stream;
        loop {
            match self.framing {
                Framing::Done => return Ok(None),
                Framing::Length(left) => {
                    let n = usize::try_from(left).unwrap_or(usize::MAX).min(limit);
                    let piece = stream.read_exact(n, out).await?;
                    self.framing = match left - n as u64 {
                        0 => Framing::Done,
                        rest => Framing::Length(rest),
                    };
                    return Ok(Some(piece));
                }
                Framing::Close => {
                    if stream.pending().is_empty() && stream.fill(out).await? == 0 {
                        self.framing = Framing::Done;
                        return Ok(None);
                    }
                    let n = stream.pending().len().min(limit);
                    let piece = Bytes::copy_from_slice(&stream.pending()[..n]);
                    stream.consume(n);
                    return Ok(Some(piece));
                }
                Framing::ChunkSize => {
                    let line = stream.pending();
                    // httparse reads a line without digits as size 0.
                    if line.first().is_some_and(|b| !b.is_ascii_hexdigit()) {
                        return Err(out.network("invalid chunk size line".into(), false));
                    }
                    match httparse::parse_chunk_size(line) {
                        Ok(httparse::Status::Complete((used, size))) => {
                            // Extensions (after `;`) are skipped, at most
                            // MAX_EXTENSIONS bytes over the body, as hyper.
                            if let Some(at) = line[..used].iter().position(|b| *b == b';') {
                                self.extensions += used - at;
                                if self.extensions > MAX_EXTENSIONS {
                                    return Err(
                                        out.network("chunk extensions over limit".into(), false)
                                    );
                                }
                            }
                            stream.consume(used);
                            self.framing = match size {
                                0 => Framing::Trailers,
                                n => Framing::ChunkData(n),
                            };
                        }
                        Ok(httparse::Status::Partial) => {
                            if line.len() > MAX_EXTENSIONS + 32 {
                                return Err(
                                    out.network("chunk extensions over limit".into(), false)
                                );
                            }
                            if stream.fill(out).await? == 0 {
                                return Err(out.incomplete());
                            }
                        }
                        Err(_) => return Err(out.network("invalid chunk size line".into(), false)),
                    }
                }
                Framing::ChunkData(left) => {
                    if stream.pending().is_empty() && stream.fill(out).await? == 0 {
                        return Err(out.incomplete());
                    }
                    let n = stream
                        .pending()
                        .len()
                        .min(usize::try_from(left).unwrap_or(usize::MAX))
                        .min(limit);
                    let piece = Bytes::copy_from_slice(&stream.pending()[..n]);
                    stream.consume(n);
                    self.framing = match left - n as u64 {
                        0 => Framing::ChunkEnd,
                        rest => Framing::ChunkData(rest),
                    };
                    return Ok(Some(piece));
                }
                Framing::ChunkEnd => {
                    if stream.pending().len() < 2 {
                        if stream.fill(out).await? == 0 {
                            return Err(out.incomplete());
                        }
                        continue;
                    }
                    if &stream.pending()[..2] != b"\r\n" {
                        return Err(out.network("invalid chunk end".into(), false));
                    }
                    stream.consume(2);
                    self.framing = Framing::ChunkSize;
                }
                Framing::Trailers => {
                    // Trailer lines (CRLF-ended), up to an empty one; their
                    // fields are not kept. At most hyper's limits.
                    match stream.pending().windows(2).position(|w| w == b"\r\n") {
                        Some(0) => {
                            stream.consume(2);
                            self.framing = Framing::Done;
                        }
                        Some(end) => {
                            self.trailers.0 += end + 2;
                            self.trailers.1 += 1;
                            if self.trailers.0 > MAX_TRAILER_BYTES || self.trailers.1 > MAX_HEADERS
                            {
                                return Err(out.network("trailers over limit".into(), false));
                            }
                            stream.consume(end + 2);
                        }
                        None => {
                            if self.trailers.0 + stream.pending().len() > MAX_TRAILER_BYTES {
                                return Err(out.network("trailers over limit".into(), false));
                            }
                            if stream.fill(out).await? == 0 {
                                return Err(out.incomplete());
                            }
                        }
                    }
                }
            }
        }
    }

    /// Reads the rest of a body announced by length straight into `buf`,
    /// which must be exactly that long (no copy; nothing zeroed first),
    /// calling `each` with every part as it arrives.
    pub(crate) async fn read_into(
        &mut self,
        out: &Outgoing<'_>,
        buf: &mut [std::mem::MaybeUninit<u8>],
        mut each: impl FnMut(&[u8]),
    ) -> Result<(), Error> {
        if !matches!(self.framing, Framing::Length(left) if left == buf.len() as u64) {
            return Err(Error::Internal(
                "the body is not of the buffer's length".into(),
            ));
        }
        let stream = &mut self.stream;
        let have = stream.pending().len().min(buf.len());
        let (first, rest) = buf.split_at_mut(have);
        for (to, from) in first.iter_mut().zip(stream.pending()) {
            to.write(*from);
        }
        each(&stream.pending()[..have]);
        stream.consume(have);
        let mut at = 0;
        while at < rest.len() {
            let spare = &mut rest[at..];
            let got = stream.io.run(out, false, |t| recv_uninit(t, spare)).await?;
            if got == 0 {
                return Err(out.incomplete());
            }
            // SAFETY: `recv_uninit` initialised the first `got` bytes.
            each(unsafe { std::slice::from_raw_parts(rest[at..].as_ptr().cast::<u8>(), got) });
            at += got;
        }
        self.framing = Framing::Done;
        Ok(())
    }

    /// The connection, when it may serve the next request: the body was
    /// read to its end, the node keeps the connection open, and sent
    /// nothing more.
    pub(crate) fn reusable(self) -> Option<Stream> {
        let done = matches!(self.framing, Framing::Done);
        (done && self.keep_alive && self.stream.pending().is_empty()).then_some(self.stream)
    }
}

/// Whether a connect error is a timeout (an address that did not answer
/// within its share of the connect timeout).
fn timed_out(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut source = Some(e);
    while let Some(s) = source {
        if s.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::TimedOut)
        {
            return true;
        }
        source = s.source();
    }
    false
}

/// The innermost cause of an error says the most ("Connection reset by
/// peer (os error 104)"), as reqwest's errors are shown
/// ([`crate::connection::transport_error`]).
fn innermost(e: &(dyn std::error::Error + 'static)) -> String {
    let mut message = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        message = s.to_string();
        source = s.source();
    }
    message
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{SocketAddr, TcpListener};

    fn outgoing<'a>(
        method: &'static str,
        url: &'a url::Url,
        body: Option<&'static [u8]>,
    ) -> Outgoing<'a> {
        Outgoing {
            method,
            url,
            credential: None,
            body: body.map(Bytes::from_static),
            connect_timeout: Duration::from_secs(2),
            shown_url: "",
            deadline: Instant::now() + Duration::from_secs(5),
            idle: None,
        }
    }

    #[test]
    fn requests_are_the_bytes_hyper_wrote_with_reqwests_headers() {
        let url = url::Url::parse("http://node.example:2428/base/jsonrpc?x=1").unwrap();
        let mut out = outgoing("POST", &url, Some(b"{}"));
        out.credential = Some((
            reqwest::header::AUTHORIZATION,
            HeaderValue::from_static("Bearer t"),
        ));
        let expected = format!(
            "POST /base/jsonrpc?x=1 HTTP/1.1\r\nhost: node.example:2428\r\nuser-agent: {}\r\n\
             accept: */*\r\ncontent-type: application/json\r\nauthorization: Bearer t\r\n\
             content-length: 2\r\n\r\n{{}}",
            crate::connection::USER_AGENT
        );
        assert_eq!(String::from_utf8(out.request()).unwrap(), expected);

        // The default port is not named; a GET has no content type or
        // length.
        let url = url::Url::parse("http://[::1]:80/admin-api/contexts").unwrap();
        let expected = format!(
            "GET /admin-api/contexts HTTP/1.1\r\nhost: [::1]\r\nuser-agent: {}\r\naccept: */*\r\n\r\n",
            crate::connection::USER_AGENT
        );
        let out = outgoing("GET", &url, None);
        assert_eq!(String::from_utf8(out.request()).unwrap(), expected);
    }

    /// A server for one connection: reads a request head, writes `pieces`
    /// a few milliseconds apart, then keeps the connection open until the
    /// client closes it (or closes at once when `close`).
    fn serve(pieces: Vec<&'static [u8]>, close: bool) -> SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        std::thread::spawn(move || {
            let (mut conn, _) = listener.accept().unwrap();
            let mut seen = Vec::new();
            let mut buf = [0u8; 4096];
            while !seen.windows(4).any(|w| w == b"\r\n\r\n") {
                match conn.read(&mut buf) {
                    Ok(0) | Err(_) => return,
                    Ok(n) => seen.extend_from_slice(&buf[..n]),
                }
            }
            for piece in pieces {
                std::thread::sleep(Duration::from_millis(3));
                if conn.write_all(piece).is_err() {
                    return;
                }
            }
            if !close {
                while matches!(conn.read(&mut buf), Ok(n) if n > 0) {}
            }
        });
        addr
    }

    struct Exchanged {
        status: u16,
        body: Result<Vec<u8>, String>,
        pieces: usize,
        reusable: bool,
    }

    fn exchange(
        method: &'static str,
        pieces: Vec<&'static [u8]>,
        close: bool,
        limit: u64,
    ) -> Exchanged {
        let addr = serve(pieces, close);
        let url = url::Url::parse(&format!("http://{addr}/x")).unwrap();
        let out = outgoing(method, &url, None);
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            let (head, mut body) = match out.send(|| None).await {
                Ok(answer) => answer,
                Err(e) => {
                    return Exchanged {
                        status: 0,
                        body: Err(e.to_string()),
                        pieces: 0,
                        reusable: false,
                    }
                }
            };
            let mut whole = Vec::new();
            let mut pieces = 0;
            let result = loop {
                match body.next_chunk(&out, limit).await {
                    Ok(Some(piece)) => {
                        assert!(piece.len() as u64 <= limit);
                        pieces += 1;
                        whole.extend_from_slice(&piece);
                    }
                    Ok(None) => break Ok(whole),
                    Err(e) => break Err(e.to_string()),
                }
            };
            Exchanged {
                status: head.status,
                body: result,
                pieces,
                reusable: body.reusable().is_some(),
            }
        })
    }

    #[test]
    fn a_length_delimited_answer_in_pieces_is_read_whole_and_its_connection_kept() {
        let got = exchange(
            "GET",
            vec![
                b"HTTP/1.1 200 OK\r\nContent-Le",
                b"ngth: 11\r\n\r\nhello",
                b" world",
            ],
            false,
            u64::MAX,
        );
        assert_eq!(got.status, 200);
        assert_eq!(got.body.unwrap(), b"hello world");
        assert_eq!(got.pieces, 1, "read into one piece");
        assert!(got.reusable);
    }

    #[test]
    fn a_chunked_answer_with_extensions_and_trailers_is_decoded() {
        let got = exchange(
            "GET",
            vec![
                b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5;ext=1\r\nhel",
                b"lo\r\n",
                b"6\r\n wor",
                b"ld\r",
                b"\n0\r\nx-trailer: y\r\n",
                b"\r\n",
            ],
            false,
            u64::MAX,
        );
        assert_eq!(got.body.unwrap(), b"hello world");
        assert!(got.reusable);
    }

    #[test]
    fn pieces_are_at_most_the_limit_asked() {
        let got = exchange(
            "GET",
            vec![b"HTTP/1.1 500 Internal Server Error\r\ncontent-length: 10\r\n\r\n0123456789"],
            false,
            4,
        );
        assert_eq!(got.status, 500);
        assert_eq!(got.body.unwrap(), b"0123456789");
        assert_eq!(got.pieces, 3);
    }

    #[test]
    fn an_answer_ended_by_close_is_read_to_the_end_and_its_connection_not_kept() {
        let got = exchange(
            "GET",
            vec![b"HTTP/1.1 200 OK\r\n\r\nall of it"],
            true,
            u64::MAX,
        );
        assert_eq!(got.body.unwrap(), b"all of it");
        assert!(!got.reusable);
    }

    #[test]
    fn informational_answers_are_skipped() {
        let got = exchange(
            "GET",
            vec![
                b"HTTP/1.1 100 Continue\r\n\r\n",
                b"HTTP/1.1 201 Created\r\ncontent-length: 2\r\n\r\nok",
            ],
            false,
            u64::MAX,
        );
        assert_eq!(got.status, 201);
        assert_eq!(got.body.unwrap(), b"ok");
    }

    #[test]
    fn head_and_no_content_answers_have_no_body() {
        let got = exchange(
            "HEAD",
            vec![b"HTTP/1.1 200 OK\r\ncontent-length: 99\r\n\r\n"],
            false,
            u64::MAX,
        );
        assert_eq!(got.body.unwrap(), b"");
        assert!(got.reusable);
        let got = exchange(
            "DELETE",
            vec![b"HTTP/1.1 204 No Content\r\n\r\n"],
            false,
            u64::MAX,
        );
        assert_eq!((got.status, got.body.unwrap()), (204, vec![]));
        assert!(got.reusable);
    }

    #[test]
    fn connections_the_node_will_close_are_not_kept() {
        let cases: [(&'static [u8], bool); 4] = [
            (
                b"HTTP/1.1 200 OK\r\nConnection: close\r\ncontent-length: 1\r\n\r\nx",
                false,
            ),
            (b"HTTP/1.0 200 OK\r\ncontent-length: 1\r\n\r\nx", false),
            (
                b"HTTP/1.0 200 OK\r\nconnection: Keep-Alive\r\ncontent-length: 1\r\n\r\nx",
                true,
            ),
            // More than the answer: not a connection to reuse.
            (b"HTTP/1.1 200 OK\r\ncontent-length: 1\r\n\r\nxy", false),
        ];
        for (answer, kept) in cases {
            let got = exchange("GET", vec![answer], false, u64::MAX);
            assert!(got.body.is_ok() && got.reusable == kept, "{answer:?}");
        }
    }

    #[test]
    fn broken_answers_are_network_errors() {
        let cases: [(&[u8], &str); 6] = [
            (
                b"HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nshort",
                "connection closed before message completed",
            ),
            // More than this machine can hold: an error, not an abort.
            (
                b"HTTP/1.1 200 OK\r\ncontent-length: 18446744073709551615\r\n\r\nshort",
                "connection closed before message completed",
            ),
            (
                b"HTTP/1.1 200 OK\r\ncontent-length: 1x\r\n\r\n",
                "invalid content-length parsed",
            ),
            (
                b"HTTP/1.1 200 OK\r\ncontent-length: 1\r\ncontent-length: 2\r\n\r\nx",
                "invalid content-length parsed",
            ),
            (
                b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\nzz\r\n",
                "invalid chunk size line",
            ),
            (
                b"HTTP/1.1 200 OK\r\ncontent-",
                "connection closed before message completed",
            ),
        ];
        for (answer, message) in cases {
            let got = exchange("GET", vec![answer], true, u64::MAX);
            let error = got.body.expect_err(message);
            assert!(error.contains(message), "{error}");
        }
    }

    fn leak(parts: &[&[u8]]) -> &'static [u8] {
        Box::leak(parts.concat().into_boxed_slice())
    }

    #[test]
    fn chunked_framing_keeps_hypers_rules_and_limits() {
        let chunked = b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n";
        let endless_extension = leak(&[chunked, b"1;", &[b'a'; 40_000]]);
        let many_trailers = leak(&[chunked, b"1\r\nx\r\n0\r\n", &b"a: b\r\n".repeat(200)]);
        let cases: [(&'static [u8], &str); 4] = [
            // A size line without digits is not the last chunk.
            (
                leak(&[chunked, b"5\r\nhello\r\n\r\n\r\n"]),
                "invalid chunk size line",
            ),
            (endless_extension, "chunk extensions over limit"),
            (many_trailers, "trailers over limit"),
            (
                b"HTTP/1.0 200 OK\r\ntransfer-encoding: chunked\r\n\r\n0\r\n\r\n",
                "unexpected transfer-encoding parsed",
            ),
        ];
        for (answer, message) in cases {
            let got = exchange("GET", vec![answer], false, u64::MAX);
            let error = got.body.expect_err(message);
            assert!(error.contains(message), "{error}");
        }
        // Chunked only as the last coding; otherwise the body ends with
        // the connection.
        let got = exchange(
            "GET",
            vec![b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked, gzip\r\n\r\n0\r\n\r\n"],
            true,
            u64::MAX,
        );
        assert_eq!(got.body.unwrap(), b"0\r\n\r\n");
        assert!(!got.reusable);
        // `close` wins over `keep-alive`.
        let got = exchange(
            "GET",
            vec![b"HTTP/1.0 200 OK\r\nconnection: keep-alive, close\r\ncontent-length: 1\r\n\r\nx"],
            false,
            u64::MAX,
        );
        assert!(got.body.is_ok() && !got.reusable);
    }

    #[test]
    fn an_answer_that_does_not_come_times_out_at_the_deadline() {
        let addr = serve(vec![], false);
        let url = url::Url::parse(&format!("http://{addr}/x")).unwrap();
        let mut out = outgoing("GET", &url, None);
        out.deadline = Instant::now() + Duration::from_millis(120);
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let started = Instant::now();
        let error = runtime.block_on(out.send(|| None)).err().unwrap();
        assert!(matches!(error, Error::Timeout { .. }), "{error}");
        let took = started.elapsed();
        assert!(
            took >= Duration::from_millis(120) && took < Duration::from_secs(2),
            "{took:?}"
        );
    }

    #[test]
    fn a_read_that_keeps_getting_data_still_yields_to_its_runtime() {
        // An answer that trickles in (a byte every 5 ms, within every
        // read's wait): the call still yields every SLICE, so a timer
        // around it (the Python layer's signal check) fires.
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        std::thread::spawn(move || {
            let (mut conn, _) = listener.accept().unwrap();
            let mut buf = [0u8; 4096];
            let _ = conn.read(&mut buf);
            let _ = conn.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 100000\r\n\r\n");
            for _ in 0..2_000 {
                std::thread::sleep(Duration::from_millis(5));
                if conn.write_all(b"x").is_err() {
                    return;
                }
            }
        });
        let url = url::Url::parse(&format!("http://{addr}/x")).unwrap();
        let out = outgoing("GET", &url, None);
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let started = Instant::now();
        let read = runtime.block_on(async {
            let whole = async {
                let (_, mut body) = out.send(|| None).await?;
                while body.next_chunk(&out, u64::MAX).await?.is_some() {}
                Ok::<_, Error>(())
            };
            tokio::time::timeout(Duration::from_millis(100), whole).await
        });
        assert!(read.is_err(), "the timer fired");
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "{:?}",
            started.elapsed()
        );
    }

    #[test]
    fn a_pooled_connection_the_node_closed_is_not_taken() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let open = TcpStream::connect(addr).unwrap();
        let (_kept, _) = listener.accept().unwrap();
        let closed = TcpStream::connect(addr).unwrap();
        let (gone, _) = listener.accept().unwrap();
        drop(gone);
        std::thread::sleep(Duration::from_millis(20));
        let mut pool = Pool::new();
        pool.put(Stream::new(open));
        pool.put(Stream::new(closed));
        assert!(pool.take().is_some(), "the open one, under the closed one");
        assert!(pool.take().is_none());
    }

    #[test]
    fn connections_idle_too_long_go_when_another_is_kept() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let mut pool = Pool::new();
        let mut accepted = Vec::new();
        let mut stream = || {
            let tcp = TcpStream::connect(addr).unwrap();
            accepted.push(listener.accept().unwrap().0);
            Stream::new(tcp)
        };
        let Some(long_ago) = Instant::now().checked_sub(IDLE + Duration::from_secs(1)) else {
            return;
        };
        pool.idle.push((stream(), long_ago));
        pool.idle.push((stream(), long_ago));
        pool.idle.push((stream(), Instant::now()));
        pool.put(stream());
        assert_eq!(pool.idle.len(), 2, "the two idle too long are gone");
        assert!(pool.idle.iter().all(|(_, since)| since.elapsed() < IDLE));
    }
}
