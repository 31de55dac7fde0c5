//! An in-memory stand-in for the Calimero node `merod`, for the SDK's tests
//! and benchmarks. It speaks one release from 0.11.0-rc.25 (the default) to
//! 0.11.0-rc.83, chosen at start ([`Config::release`], `--node-version`);
//! what differs between releases is data in [`release`].
//!
//! It answers like the real node (paths, status codes, envelopes, id
//! encodings, error bodies) for the admin API and JSON-RPC, with every
//! context behaving like core's kv-store app, and adds a test-control API
//! under `/_testnode/` (reset, request log, fault injection).
//!
//! ```no_run
//! # async fn run() -> std::io::Result<()> {
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
//! let addr = listener.local_addr()?;
//! tokio::spawn(calimero_testnode::serve(listener, Default::default()));
//! println!("node at http://{addr}");
//! # Ok(()) }
//! ```

use std::io;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, TcpStream};
use tower_service::Service;

mod auth;
mod bundle;
mod delegated;
mod error;
mod events;
mod ids;
mod kv;
mod middleware;
pub mod release;
mod routes;
mod sealed;
mod state;

pub use auth::AuthConfig;
pub use middleware::ConnectionHandle;
pub use release::Release;
pub use sealed::{parse_secret as parse_transport_secret, public_key as transport_public_key};

/// How the node behaves beyond the real one's defaults.
#[derive(Clone, Debug)]
pub struct Config {
    /// Let `install-application` fetch from loopback/private hosts (the real
    /// node refuses them), so tests can serve a file from a local server.
    pub allow_private_urls: bool,
    /// Print one line per request to stderr.
    pub verbose: bool,
    /// The request log keeps at most this many entries (oldest dropped).
    pub max_logged_requests: usize,
    /// Largest blob `PUT /admin-api/blobs` accepts (the node's 1 GiB by
    /// default); lower it to exercise the cap cheaply.
    pub max_blob_bytes: u64,
    /// Answer the TEE routes as a node with `--mock-tee` on TDX-less
    /// hardware would (success shapes with mock quotes) instead of the
    /// plain node's 500s.
    pub tee_mock: bool,
    /// Embedded auth mode (`--auth`): `/auth/*` routes and the guard in
    /// front of protected routes. `None`: every route is open, as in the
    /// node's default `proxy` mode.
    pub auth: Option<AuthConfig>,
    /// The sealed transport of a TEE node (`--transport-secret`): its X25519
    /// transport secret. `None`: no `/sealed/v2` routes.
    pub transport_secret: Option<[u8; 32]>,
    /// Refuse unsealed requests but for the probes, the attestation and the
    /// control API (`--sealed-required`, the node's `[server.sealed]
    /// required`).
    pub sealed_required: bool,
    /// The merod release to answer as (rc.25 by default).
    pub release: Release,
    /// Packages the node's own registry has published from the start
    /// (`--publish PACKAGE@VERSION`), for `install-application` by
    /// coordinates (rc.31+).
    pub published: Vec<(String, String)>,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            allow_private_urls: false,
            verbose: false,
            max_logged_requests: 100_000,
            max_blob_bytes: routes::blobs::MAX_BLOB_UPLOAD_BYTES,
            tee_mock: false,
            auth: None,
            transport_secret: None,
            sealed_required: false,
            release: Release::default(),
            published: Vec::new(),
        }
    }
}

impl Config {
    #[must_use]
    pub fn allow_private_urls(mut self, allow: bool) -> Self {
        self.allow_private_urls = allow;
        self
    }

    #[must_use]
    pub fn verbose(mut self, verbose: bool) -> Self {
        self.verbose = verbose;
        self
    }

    #[must_use]
    pub fn max_blob_bytes(mut self, max: u64) -> Self {
        self.max_blob_bytes = max;
        self
    }

    #[must_use]
    pub fn tee_mock(mut self, mock: bool) -> Self {
        self.tee_mock = mock;
        self
    }

    /// Serves the sealed transport with this X25519 transport secret;
    /// `required` refuses unsealed requests.
    #[must_use]
    pub fn sealed(mut self, transport_secret: [u8; 32], required: bool) -> Self {
        self.transport_secret = Some(transport_secret);
        self.sealed_required = required;
        self
    }

    /// Answers as this merod release.
    #[must_use]
    pub fn release(mut self, release: Release) -> Self {
        self.release = release;
        self
    }

    /// Publishes `package@version` in the node's registry from the start.
    #[must_use]
    pub fn publish(mut self, package: impl Into<String>, version: impl Into<String>) -> Self {
        self.published.push((package.into(), version.into()));
        self
    }

    /// Runs in embedded auth mode with these settings.
    #[must_use]
    pub fn auth(mut self, auth: AuthConfig) -> Self {
        self.auth = Some(auth);
        self
    }
}

/// The whole service with fresh state. Serve it with [`serve`] to get real
/// connection drops for `drop` faults; any other server works too.
pub fn router(config: Config) -> Router {
    routes::build(Arc::new(state::AppState::new(config)))
}

/// Serves the node on `listener` until the task is dropped. Each connection
/// carries a [`ConnectionHandle`] so a `drop` fault can close it unanswered.
pub async fn serve(listener: TcpListener, config: Config) -> io::Result<()> {
    let app = router(config);
    loop {
        match listener.accept().await {
            Ok((stream, _peer)) => {
                drop(tokio::spawn(serve_connection(stream, app.clone())));
            }
            // Per-connection failures (reset before accept) are not fatal.
            Err(err) if is_connection_error(&err) => {}
            // Out of descriptors and the like: back off briefly.
            Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
}

fn is_connection_error(err: &io::Error) -> bool {
    matches!(
        err.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
    )
}

async fn serve_connection(stream: TcpStream, app: Router) {
    let _ = stream.set_nodelay(true);
    let handle = ConnectionHandle::new();
    let per_request = handle.clone();
    let service = hyper::service::service_fn(move |mut req: hyper::Request<Incoming>| {
        let _ = req.extensions_mut().insert(per_request.clone());
        let mut app = app.clone();
        async move { app.call(req).await }
    });
    let connection = hyper::server::conn::http1::Builder::new()
        .serve_connection(TokioIo::new(stream), service)
        .with_upgrades();
    tokio::select! {
        _ = connection => {}
        // Dropping the connection future closes the socket without a reply.
        () = handle.dropped() => {}
    }
}
