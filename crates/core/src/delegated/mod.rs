//! Delegated access: acting for an account through a relay node.
//!
//! An account with no node of its own proves, per request, that one of its
//! devices signed it (`X-Calimero-Proof`, [`request`]), and has a relay run
//! a method on its behalf under a warrant it signed ([`warrant`]). Both rest
//! on the device credential the account root issued ([`credential`]).
//!
//! Everything here is offline: pure computation over its arguments, with
//! the byte layouts written from the node's wire description (node-releases
//! section 3) and checked against every vector the node and the other SDKs
//! recorded (`tests.rs`). Secrets are [`keys::SecretKey`]s: never shown,
//! zeroed when dropped.

pub mod credential;
pub mod governance;
pub mod keys;
pub mod request;
pub mod warrant;
pub mod wire;

pub use credential::DeviceCredential;
pub use keys::SecretKey;
pub use request::{Audience, DeviceSigner, LoginStatement, RequestSig, PROOF_HEADER};
pub use warrant::{canonical_json, intent_hash, Warrant, WarrantTerms};
pub use wire::domain_hash;

#[cfg(test)]
mod tests;
