//! Async Rust client for Calimero nodes (`merod`).
//!
//! The core knows HTTP and the node and nothing of Python: the Python
//! bindings (crate `calimero-client-py`) sit on top of it. Every node route
//! is described once in [`endpoints::ENDPOINTS`]; [`Connection::invoke`]
//! validates the arguments of one (no I/O), sends it, and checks the answer.

pub mod auth;
pub mod blobs;
pub mod cache;
pub mod connection;
pub mod delegated;
pub mod detect;
pub mod endpoints;
pub mod error;
pub mod events;
#[doc(hidden)]
pub mod fuzzing;
pub mod ids;
pub mod json;
mod lane;
pub mod poller;
pub mod release;
pub mod request;
pub mod runtime;
pub mod sealed;
pub mod tee;

pub use auth::{AuthOptions, Credentials, Tokens};
pub use connection::{AuthMode, Config, Connection, Reply};
pub use endpoints::{Endpoint, ENDPOINTS};
pub use error::{Error, ErrorKind};
pub use release::{Release, Releases};
pub use request::ArgValue;

/// The crate (and package) version.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
