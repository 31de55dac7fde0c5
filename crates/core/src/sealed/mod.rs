//! The sealed transport to TEE nodes.

pub mod wire;
