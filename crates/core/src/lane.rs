//! The direct lane: how a blocking call's request goes out when it can.
//!
//! A blocking call runs on its own thread's current-thread runtime
//! ([`crate::runtime::block_on_local`]) and reads its whole answer before
//! it returns. Over plain `http://`, with no proxy in the environment and
//! no sealing, such a request is sent here: on one of this thread's
//! keep-alive connections to the node, through hyper's connection API,
//! without reqwest's pool, redirect, proxy and timeout layers. Against a
//! real merod those layers cost about 48 us of CPU per JSON-RPC call out of
//! 124 (`crates/core/examples/transport_cost.rs`, benches/RESULTS.md).
//!
//! Every other request (https, a proxy, a sealed connection, streams,
//! awaited calls, the auth routes, another origin) goes through reqwest.
//! A redirect the lane meets is followed by
//! [`crate::connection::Connection::execute`] with reqwest's rules (the
//! new method and body; no token to another origin); the request is
//! never sent twice. What the lane keeps of reqwest:
//! the same headers (`user-agent`, `accept`, `host`, the credential), its
//! connector (hyper-util's, with reqwest's settings), the whole-request
//! timeout (over a chain of redirects too), the error
//! kinds (`Timeout`; `Network`, with `connect` when nothing was sent, so
//! that [`crate::connection::Connection::retry_delay`] retries it), a
//! request on a pooled connection the node had closed sent again on a new
//! one (only when hyper hands it back unsent), and idle connections
//! dropped after 60 s.

use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use reqwest::header::{HeaderName, HeaderValue, ACCEPT, CONTENT_TYPE, HOST, USER_AGENT};

use crate::error::Error;

/// A keep-alive HTTP/1.1 connection's sending half.
pub(crate) type Sender = SendRequest<Full<Bytes>>;

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

/// The environment variables reqwest takes an `http://` request's proxy
/// from: when one is set, requests go through reqwest (which honours it
/// and `NO_PROXY`), never here.
const PROXY_VARIABLES: [&str; 4] = ["http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY"];

/// One thread's lane to one connection: whether it may be used, and its
/// idle connections (newest last).
pub(crate) struct Pool {
    usable: bool,
    idle: Vec<(Sender, Instant)>,
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

    /// The newest idle connection that is still open and fresh; the others
    /// on the way are dropped.
    pub(crate) fn take(&mut self) -> Option<Sender> {
        while let Some((sender, since)) = self.idle.pop() {
            if !sender.is_closed() && since.elapsed() < IDLE {
                return Some(sender);
            }
        }
        None
    }

    /// Keeps a connection whose answer was read whole, for the next call.
    pub(crate) fn put(&mut self, sender: Sender) {
        if sender.is_closed() {
            return;
        }
        if self.idle.len() >= MAX_IDLE {
            self.idle.remove(0);
        }
        self.idle.push((sender, Instant::now()));
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
}

impl Outgoing<'_> {
    /// The request hyper sends: origin-form target, and the headers reqwest
    /// would add (`Content-Length` hyper adds from the body).
    fn request(&self) -> Result<http::Request<Full<Bytes>>, Error> {
        let target = &self.url[url::Position::BeforePath..url::Position::AfterQuery];
        let host = &self.url[url::Position::BeforeHost..url::Position::BeforePath];
        let invalid = |e: &dyn std::fmt::Display| {
            Error::Internal(format!("could not build the request: {e}"))
        };
        // Built in place, not with `http::request::Builder` (which moves
        // the whole request head at every step).
        let mut request = http::Request::new(Full::new(self.body.clone().unwrap_or_default()));
        *request.method_mut() =
            http::Method::from_bytes(self.method.as_bytes()).map_err(|e| invalid(&e))?;
        *request.uri_mut() = http::Uri::try_from(target).map_err(|e| invalid(&e))?;
        let headers = request.headers_mut();
        headers.reserve(5);
        headers.insert(HOST, HeaderValue::try_from(host).map_err(|e| invalid(&e))?);
        headers.insert(
            USER_AGENT,
            HeaderValue::from_static(crate::connection::USER_AGENT),
        );
        headers.insert(ACCEPT, HeaderValue::from_static("*/*"));
        if self.body.is_some() {
            headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        }
        if let Some((name, value)) = &self.credential {
            headers.insert(name, value.clone());
        }
        Ok(request)
    }

    fn network(&self, message: String, connect: bool) -> Error {
        Error::Network {
            method: self.method.into(),
            url: self.shown_url.into(),
            message,
            connect,
        }
    }

    /// The error of a request that ran past its timeout.
    pub(crate) fn timeout(&self) -> Error {
        Error::Timeout {
            method: self.method.into(),
            url: self.shown_url.into(),
            message: "operation timed out".into(),
        }
    }

    /// Reads the next piece of an answer's body (`None` at its end).
    pub(crate) async fn next_chunk(
        &self,
        body: &mut hyper::body::Incoming,
    ) -> Result<Option<Bytes>, Error> {
        loop {
            match body.frame().await {
                None => return Ok(None),
                Some(Err(e)) => return Err(self.network(innermost(&e), false)),
                Some(Ok(frame)) => {
                    if let Ok(data) = frame.into_data() {
                        return Ok(Some(data));
                    }
                }
            }
        }
    }

    /// A new connection to the URL's host, made as reqwest makes its
    /// (hyper-util's connector: the connect timeout shared out among the
    /// host's addresses, IPv4 tried 300 ms after IPv6 without an answer,
    /// `TCP_NODELAY`, reqwest's TCP keep-alive and user timeout), within
    /// the connect timeout.
    async fn connect(&self) -> Result<Sender, Error> {
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
        let io = tokio::time::timeout(self.connect_timeout, connector.call(uri))
            .await
            .map_err(|_| self.timeout())?
            .map_err(|e| {
                if timed_out(&e) {
                    self.timeout()
                } else {
                    self.network(innermost(&e), true)
                }
            })?;
        let (sender, connection) = hyper::client::conn::http1::handshake(io)
            .await
            .map_err(|e| self.network(innermost(&e), true))?;
        // Driven by this thread's runtime; it ends when the sender is
        // dropped or the node closes the connection.
        tokio::spawn(async move {
            let _ = connection.await;
        });
        Ok(sender)
    }

    /// Sends the request and returns the answer's head with the connection
    /// it is read from (to be put back in `pool` once read whole).
    pub(crate) async fn send(
        &self,
        pool: impl Fn() -> Option<Sender>,
    ) -> Result<(http::Response<hyper::body::Incoming>, Sender), Error> {
        let mut request = self.request()?;
        loop {
            let (mut sender, reused) = match pool() {
                Some(sender) => {
                    // Nothing drove the connection since the last call:
                    // yielding lets this thread's runtime collect its
                    // socket's readiness and run its task, so that hyper
                    // sees a close by the node (a server's or a proxy's
                    // idle timeout) before it writes the request. One
                    // that is closed, or not ready for a request (still
                    // writing an earlier body the node stopped reading),
                    // is dropped.
                    tokio::task::yield_now().await;
                    if sender.is_closed() || !sender.is_ready() {
                        continue;
                    }
                    (sender, true)
                }
                None => (Box::pin(self.connect()).await?, false),
            };
            if !reused {
                sender
                    .ready()
                    .await
                    .map_err(|e| self.network(innermost(&e), true))?;
            }
            match sender.try_send_request(request).await {
                Ok(response) => return Ok((response, sender)),
                Err(mut e) => match e.take_message() {
                    // Closed by the node while idle, before this request
                    // was written: nothing was sent, so it goes again.
                    Some(unsent) if reused => request = unsent,
                    unsent => {
                        let error = e.into_error();
                        return Err(self.network(innermost(&error), unsent.is_some()));
                    }
                },
            }
        }
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

    #[test]
    fn requests_carry_reqwests_headers_and_an_origin_form_target() {
        let url = url::Url::parse("http://node.example:2428/base/jsonrpc?x=1").unwrap();
        let out = Outgoing {
            method: "POST",
            url: &url,
            credential: Some((
                reqwest::header::AUTHORIZATION,
                HeaderValue::from_static("Bearer t"),
            )),
            body: Some(Bytes::from_static(b"{}")),
            connect_timeout: Duration::from_secs(1),
            shown_url: "http://node.example:2428/base/jsonrpc?x=1",
        };
        let request = out.request().unwrap();
        assert_eq!(request.method(), "POST");
        assert_eq!(request.uri(), "/base/jsonrpc?x=1");
        let headers = request.headers();
        assert_eq!(headers[HOST], "node.example:2428");
        assert_eq!(headers[ACCEPT], "*/*");
        assert_eq!(headers[CONTENT_TYPE], "application/json");
        assert_eq!(headers[reqwest::header::AUTHORIZATION], "Bearer t");
        assert!(headers[USER_AGENT]
            .to_str()
            .unwrap()
            .starts_with("calimero-client-py/"));

        // The default port is not named; a GET has no content type.
        let url = url::Url::parse("http://[::1]:80/admin-api/contexts").unwrap();
        let out = Outgoing {
            method: "GET",
            url: &url,
            credential: None,
            body: None,
            connect_timeout: Duration::from_secs(1),
            shown_url: "",
        };
        let request = out.request().unwrap();
        assert_eq!(request.headers()[HOST], "[::1]");
        assert!(request.headers().get(CONTENT_TYPE).is_none());
        assert!(request
            .headers()
            .get(reqwest::header::AUTHORIZATION)
            .is_none());
    }
}
