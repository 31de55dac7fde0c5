//! Warrants (v2): an author device's consent for one relay to run one
//! method call in one context, once; the intent hash it carries; and the
//! canonical JSON both ends hash the arguments as.
//!
//! ```text
//! Warrant = context[32] ‖ author_account[32] ‖ author_device_key[32] ‖ executor[32]
//!         ‖ executor_key[32] ‖ release_bytecode_id[32] ‖ String release_version (≤ 256 B)
//!         ‖ String method ‖ intent_hash[32] ‖ Vec<[32]> account_heads ‖ Vec<[32]> governance_floor
//!         ‖ u64 nonce ‖ u64 not_after ‖ sig[64]
//! sig     = Ed25519(H("calimero.warrant.v2", [every field above, in order, each list
//!           preceded by its u64le count]))
//! intent_hash = H("calimero.warrant.intent.v1", [method, canonical JSON of the args]))
//! ```
//!
//! Counts are `u64` in the preimage and `u32` on the wire. Sources: core
//! `crates/account/src/warrant.rs` and `tests/warrant_wire_fixture.rs`;
//! swift `Relay/Warrants.swift`; core `perform_intent.rs` (the relay hashes
//! `serde_json::to_vec` of the `argsJson` value it parsed, whose object keys
//! are sorted: its serde_json keeps no insertion order).

use serde_json::Value;

use super::keys::{verify, SecretKey};
use super::wire::{domain_hash, Reader, Writer};

pub(crate) const WARRANT_SIGN_DOMAIN: &[u8] = b"calimero.warrant.v2";
pub(crate) const WARRANT_INTENT_DOMAIN: &[u8] = b"calimero.warrant.intent.v1";
/// Most cited heads per list (core `MAX_WARRANT_CITED_HEADS`).
pub const MAX_CITED_HEADS: usize = 64;
/// Longest `release_version` (core `MAX_WARRANT_RELEASE_VERSION_LEN`).
pub const MAX_RELEASE_VERSION: usize = 256;
/// Longest method name signed.
pub const MAX_METHOD: usize = 1024;

/// `H(method ‖ args)`, `args` being the canonical JSON bytes.
pub fn intent_hash(method: &str, args: &[u8]) -> [u8; 32] {
    domain_hash(WARRANT_INTENT_DOMAIN, &[method.as_bytes(), args])
}

/// `value` as serde_json prints it compactly with object keys sorted by
/// their bytes at every depth (what a node without `preserve_order`
/// prints for the same parsed value). Numbers and string escapes are
/// serde_json's own.
pub fn canonical_json(value: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    write_canonical(value, &mut out);
    out
}

fn write_canonical(value: &Value, out: &mut Vec<u8>) {
    match value {
        Value::Object(map) => {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
            out.push(b'{');
            for (i, (k, v)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                // Strings and scalars cannot fail to serialise.
                let _ = serde_json::to_writer(&mut *out, k);
                out.push(b':');
                write_canonical(v, out);
            }
            out.push(b'}');
        }
        Value::Array(items) => {
            out.push(b'[');
            for (i, v) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_canonical(v, out);
            }
            out.push(b']');
        }
        scalar => {
            let _ = serde_json::to_writer(&mut *out, scalar);
        }
    }
}

/// `value` with object keys sorted at every depth (the form sent as
/// `argsJson`, so the relay re-reads exactly what was hashed).
pub fn sorted(value: &Value) -> Value {
    match value {
        Value::Object(map) => {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
            Value::Object(
                entries
                    .into_iter()
                    .map(|(k, v)| (k.clone(), sorted(v)))
                    .collect(),
            )
        }
        Value::Array(items) => Value::Array(items.iter().map(sorted).collect()),
        other => other.clone(),
    }
}

/// The fields a warrant is signed over, but the author's device key (derived
/// from the secret that signs) and the signature.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WarrantTerms {
    pub context: [u8; 32],
    pub author_account: [u8; 32],
    pub executor: [u8; 32],
    pub executor_key: [u8; 32],
    pub release_bytecode_id: [u8; 32],
    pub release_version: String,
    pub method: String,
    pub intent_hash: [u8; 32],
    pub account_heads: Vec<[u8; 32]>,
    pub governance_floor: Vec<[u8; 32]>,
    pub nonce: u64,
    pub not_after: u64,
}

/// A signed warrant.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Warrant {
    pub terms: WarrantTerms,
    pub author_device_key: [u8; 32],
    pub signature: [u8; 64],
}

impl Warrant {
    /// Signs `terms` with the author device's secret; refuses terms a node
    /// would refuse unread (too many heads, a release version over 256 B).
    pub fn sign(secret: &SecretKey, terms: WarrantTerms) -> Result<Self, String> {
        check_bounds(&terms)?;
        let mut w = Warrant {
            terms,
            author_device_key: secret.public_key(),
            signature: [0; 64],
        };
        w.signature = secret.sign(&w.signing_payload());
        Ok(w)
    }

    pub fn signing_payload(&self) -> [u8; 32] {
        let t = &self.terms;
        let account_len = (t.account_heads.len() as u64).to_le_bytes();
        let floor_len = (t.governance_floor.len() as u64).to_le_bytes();
        let nonce = t.nonce.to_le_bytes();
        let not_after = t.not_after.to_le_bytes();
        let mut parts: Vec<&[u8]> = vec![
            &t.context,
            &t.author_account,
            &self.author_device_key,
            &t.executor,
            &t.executor_key,
            &t.release_bytecode_id,
            t.release_version.as_bytes(),
            t.method.as_bytes(),
            &t.intent_hash,
            &account_len,
        ];
        parts.extend(t.account_heads.iter().map(|h| h.as_slice()));
        parts.push(&floor_len);
        parts.extend(t.governance_floor.iter().map(|h| h.as_slice()));
        parts.push(&nonce);
        parts.push(&not_after);
        domain_hash(WARRANT_SIGN_DOMAIN, &parts)
    }

    /// Whether the named author device key signed it.
    pub fn verify_signature(&self) -> bool {
        verify(
            &self.author_device_key,
            &self.signing_payload(),
            &self.signature,
        )
    }

    pub fn encode(&self) -> Vec<u8> {
        let t = &self.terms;
        let mut w = Writer::default();
        w.raw(&t.context)
            .raw(&t.author_account)
            .raw(&self.author_device_key)
            .raw(&t.executor)
            .raw(&t.executor_key)
            .raw(&t.release_bytecode_id)
            .string(t.release_version.as_bytes())
            .string(t.method.as_bytes())
            .raw(&t.intent_hash)
            .hashes(&t.account_heads)
            .hashes(&t.governance_floor)
            .u64(t.nonce)
            .u64(t.not_after)
            .raw(&self.signature);
        w.0
    }

    pub fn decode(bytes: &[u8]) -> Result<Self, String> {
        let mut r = Reader::new(bytes);
        let context = r.array32("the context")?;
        let author_account = r.array32("the author account")?;
        let author_device_key = r.array32("the author device key")?;
        let executor = r.array32("the executor")?;
        let executor_key = r.array32("the executor key")?;
        let release_bytecode_id = r.array32("the release bytecode id")?;
        let release_version = r.string("the release version", MAX_RELEASE_VERSION)?;
        let method = r.string("the method", MAX_METHOD)?;
        let intent_hash = r.array32("the intent hash")?;
        let account_heads = r.hashes("the account heads", MAX_CITED_HEADS)?;
        let governance_floor = r.hashes("the governance floor", MAX_CITED_HEADS)?;
        let nonce = r.u64("the nonce")?;
        let not_after = r.u64("not_after")?;
        let signature = r.array64("the signature")?;
        r.finish("the warrant")?;
        Ok(Warrant {
            terms: WarrantTerms {
                context,
                author_account,
                executor,
                executor_key,
                release_bytecode_id,
                release_version,
                method,
                intent_hash,
                account_heads,
                governance_floor,
                nonce,
                not_after,
            },
            author_device_key,
            signature,
        })
    }
}

fn check_bounds(t: &WarrantTerms) -> Result<(), String> {
    for (what, len) in [
        ("account_heads", t.account_heads.len()),
        ("governance_floor", t.governance_floor.len()),
    ] {
        if len > MAX_CITED_HEADS {
            return Err(format!(
                "{what} cites {len} heads, more than the {MAX_CITED_HEADS} a node accepts"
            ));
        }
    }
    if t.release_version.len() > MAX_RELEASE_VERSION {
        return Err(format!(
            "release_version is {} bytes, more than the {MAX_RELEASE_VERSION} a node accepts",
            t.release_version.len()
        ));
    }
    if t.method.len() > MAX_METHOD {
        return Err(format!("method is longer than {MAX_METHOD} bytes"));
    }
    Ok(())
}
