//! The node's checks of delegated access, written for the test node from
//! the wire description (node-releases.md section 3, core
//! `crates/account/src/{caller,request,login,signed,warrant}.rs` and
//! `crates/server/src/proof_auth.rs`), independently of the client: its own
//! borsh reader, its own domain hash (sha2), and `ring` for Ed25519, where
//! the client uses `ed25519-dalek`. A shared implementation would hide the
//! same mistake on both sides.
//!
//! rc.83's other statements, each pinned by a byte vector in core that the
//! unit tests below reproduce:
//! * [`CreationWarrant`]: core `crates/account/src/creation.rs` (index id
//!   70910094731) and `tests/creation_wire_fixture.rs` (index id
//!   71348425735, the layout with `executor_key`); mero-js
//!   `src/warrant/creation-warrant.ts` (domains, option encoding).
//! * [`GovernanceWarrant`]: core `crates/account/src/governance.rs` (index
//!   id 71618161508) and `tests/governance_wire_fixture.rs` (index id
//!   71478252053); mero-js `src/warrant/governance-warrant.ts`.
//! * [`presence_signing_bytes`]: core `crates/node/primitives/src/
//!   presence.rs` (index id 71202697634, `statement_vector_is_stable`).

use ring::signature::{UnparsedPublicKey, ED25519};
use sha2::{Digest, Sha256};

/// Tolerance on both windows (core `CLOCK_SKEW_SECS`).
pub const CLOCK_SKEW: u64 = 30;
/// Longest request window (core `MAX_REQUEST_LIFETIME_SECS`).
pub const MAX_REQUEST_LIFETIME: u64 = 300;
/// Longest session window (core `MAX_SESSION_LIFETIME_SECS`).
pub const MAX_SESSION_LIFETIME: u64 = 3600;
/// Largest body hashed for a proof (core `MAX_PROVEN_BODY`).
pub const MAX_PROVEN_BODY: usize = 1024 * 1024;
const MAX_HANDOFFS: usize = 1024;

pub fn h(domain: &str, parts: &[&[u8]]) -> [u8; 32] {
    let mut sha = Sha256::new();
    sha.update((domain.len() as u64).to_le_bytes());
    sha.update(domain.as_bytes());
    for p in parts {
        sha.update((p.len() as u64).to_le_bytes());
        sha.update(p);
    }
    sha.finalize().into()
}

fn ed25519_ok(key: &[u8; 32], message: &[u8], signature: &[u8; 64]) -> bool {
    UnparsedPublicKey::new(&ED25519, key)
        .verify(message, signature)
        .is_ok()
}

/// Borsh, read by hand.
pub struct Cursor<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Cursor<'a> {
    pub fn new(bytes: &'a [u8]) -> Self {
        Cursor { bytes, at: 0 }
    }
    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        if self.bytes.len() - self.at < n {
            // borsh's own text for input that ends early.
            return Err("Unexpected length of input".to_owned());
        }
        let out = &self.bytes[self.at..self.at + n];
        self.at += n;
        Ok(out)
    }
    fn byte(&mut self) -> Result<u8, String> {
        Ok(self.take(1)?[0])
    }
    fn u32(&mut self) -> Result<u32, String> {
        Ok(u32::from_le_bytes(
            self.take(4)?.try_into().map_err(|_| "u32")?,
        ))
    }
    fn u64(&mut self) -> Result<u64, String> {
        Ok(u64::from_le_bytes(
            self.take(8)?.try_into().map_err(|_| "u64")?,
        ))
    }
    fn k32(&mut self) -> Result<[u8; 32], String> {
        self.take(32)?.try_into().map_err(|_| "32".to_owned())
    }
    fn sig(&mut self) -> Result<[u8; 64], String> {
        self.take(64)?.try_into().map_err(|_| "64".to_owned())
    }
    fn text(&mut self, max: usize) -> Result<String, String> {
        let n = self.u32()? as usize;
        if n > max {
            return Err("string too long".to_owned());
        }
        String::from_utf8(self.take(n)?.to_vec()).map_err(|_| "not UTF-8".to_owned())
    }
    fn list32(&mut self, max: usize) -> Result<Vec<[u8; 32]>, String> {
        let n = self.u32()? as usize;
        if n > max {
            return Err("list too long".to_owned());
        }
        (0..n).map(|_| self.k32()).collect()
    }
    /// A `Vec<[u8; 32]>` of any length the input holds (bounds are the
    /// verifier's, as in core's `check_bounds`).
    fn heads(&mut self) -> Result<Vec<[u8; 32]>, String> {
        let n = self.u32()? as usize;
        if n.saturating_mul(32) > self.bytes.len() - self.at {
            return Err("Unexpected length of input".to_owned());
        }
        (0..n).map(|_| self.k32()).collect()
    }
    /// borsh `Option<String>`: a tag byte, then (for 1) a `u32`-prefixed
    /// UTF-8 string.
    fn option_text(&mut self) -> Result<Option<String>, String> {
        match self.byte()? {
            0 => Ok(None),
            1 => {
                let n = self.u32()? as usize;
                String::from_utf8(self.take(n)?.to_vec())
                    .map(Some)
                    .map_err(|e| e.to_string())
            }
            tag => Err(format!(
                "Invalid Option representation: {tag}. The first byte must be 0 or 1"
            )),
        }
    }
    /// Bytes not read yet.
    pub fn remaining(&self) -> usize {
        self.bytes.len() - self.at
    }
    pub fn end(&self) -> Result<(), String> {
        if self.at == self.bytes.len() {
            Ok(())
        } else {
            // borsh's `from_slice` text for bytes left over.
            Err("Not all bytes read".to_owned())
        }
    }
}

/// A root-key handoff: account, from-epoch, next root key, signature.
type Handoff = ([u8; 32], u32, [u8; 32], [u8; 64]);

/// `AccountProof<DeviceCert>`.
#[derive(Clone, Debug)]
pub struct Credential {
    version: u8,
    root: [u8; 32],
    handoffs: Vec<Handoff>,
    pub account: [u8; 32],
    pub device: [u8; 32],
    pub sign_key: [u8; 32],
    kem: [u8; 32],
    key_epoch: u32,
    device_epoch: u32,
    signature: [u8; 64],
}

impl Credential {
    pub fn read(c: &mut Cursor<'_>) -> Result<Self, String> {
        let version = c.byte()?;
        let root = c.k32()?;
        let n = c.u32()? as usize;
        if n > MAX_HANDOFFS {
            return Err("too many handoffs".to_owned());
        }
        let mut handoffs = Vec::new();
        for _ in 0..n {
            handoffs.push((c.k32()?, c.u32()?, c.k32()?, c.sig()?));
        }
        Ok(Credential {
            version,
            root,
            handoffs,
            account: c.k32()?,
            device: c.k32()?,
            sign_key: c.k32()?,
            kem: c.k32()?,
            key_epoch: c.u32()?,
            device_epoch: c.u32()?,
            signature: c.sig()?,
        })
    }

    pub fn from_hex(text: &str) -> Result<Self, String> {
        let bytes = hex::decode(text.trim()).map_err(|_| "not hex".to_owned())?;
        Self::from_bytes(&bytes)
    }

    /// The borsh `AccountProof<DeviceCert>`, all of `bytes`.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, String> {
        let mut c = Cursor::new(bytes);
        let credential = Self::read(&mut c)?;
        c.end()?;
        Ok(credential)
    }

    /// The chain back to a genesis whose hash is the account. The texts are
    /// core's `AccountError` (`crates/account/src/error.rs`, index id
    /// 68798830224).
    pub fn verify(&self) -> Result<(), String> {
        self.verify_for(&self.account)
    }

    /// [`Self::verify`] for the account a statement names: the genesis must
    /// hash to `expected` (core `AccountProof::verify(expected)`).
    pub fn verify_for(&self, expected: &[u8; 32]) -> Result<(), String> {
        if self.version != 2 {
            return Err(format!(
                "unsupported account genesis version {} (this build supports 2)",
                self.version
            ));
        }
        let mut genesis = vec![self.version];
        genesis.extend_from_slice(&self.root);
        let actual = h("calimero.account.genesis.v1", &[&genesis]);
        if actual != *expected {
            return Err(format!(
                "genesis hashes to {}, not the claimed account {}",
                hex::encode(actual),
                hex::encode(expected)
            ));
        }
        if self.account != actual {
            return Err(
                "certificate is for a different account than the supplied genesis".to_owned(),
            );
        }
        let epoch = self.key_epoch as usize;
        if epoch > self.handoffs.len() {
            return Err(format!(
                "certificate claims key epoch {} but the chain only reaches {}",
                self.key_epoch,
                self.handoffs.len()
            ));
        }
        let mut key = self.root;
        for (i, (account, from, next, sig)) in self.handoffs.iter().take(epoch).enumerate() {
            let payload = h(
                "calimero.account.handoff.v1",
                &[account, &from.to_le_bytes(), next],
            );
            if *from as usize != i {
                return Err(format!(
                    "handoff chain not contiguous: expected from_epoch {i}, found {from}"
                ));
            }
            if *account != self.account {
                return Err(format!("handoff at epoch {i} is for a different account"));
            }
            if !ed25519_ok(&key, &payload, sig) {
                return Err(format!("handoff at epoch {i} has an invalid signature"));
            }
            key = *next;
        }
        let payload = h(
            "calimero.device.cert.v1",
            &[
                &self.account,
                &self.device,
                &self.sign_key,
                &self.kem,
                &self.key_epoch.to_le_bytes(),
                &self.device_epoch.to_le_bytes(),
            ],
        );
        if ed25519_ok(&key, &payload, &self.signature) {
            Ok(())
        } else {
            Err("certificate has an invalid signature for its claimed key epoch".to_owned())
        }
    }
}

/// A `LoginStatement`.
#[derive(Clone, Debug)]
pub struct Session {
    pub node: [u8; 32],
    tag: u8,
    audience: Vec<u8>,
    pub challenge: [u8; 32],
    pub session_key: [u8; 32],
    pub device_key: [u8; 32],
    pub issued_at: u64,
    pub expires_at: u64,
    signature: [u8; 64],
}

impl Session {
    pub fn read(c: &mut Cursor<'_>) -> Result<Self, String> {
        let node = c.k32()?;
        let tag = c.byte()?;
        let audience = match tag {
            0 | 1 => c.text(4096)?.into_bytes(),
            2 => Vec::new(),
            _ => return Err("audience".to_owned()),
        };
        Ok(Session {
            node,
            tag,
            audience,
            challenge: c.k32()?,
            session_key: c.k32()?,
            device_key: c.k32()?,
            issued_at: c.u64()?,
            expires_at: c.u64()?,
            signature: c.sig()?,
        })
    }

    pub fn signed_by_device(&self) -> bool {
        let mut audience = vec![self.tag];
        audience.extend_from_slice(&self.audience);
        let payload = h(
            "calimero.auth.login.v1",
            &[
                &self.node,
                &audience,
                &self.challenge,
                &self.session_key,
                &self.device_key,
                &self.issued_at.to_le_bytes(),
                &self.expires_at.to_le_bytes(),
            ],
        );
        ed25519_ok(&self.device_key, &payload, &self.signature)
    }
}

/// Why a proof was not admitted (core `proof_auth::Refusal`).
#[derive(Debug, PartialEq, Eq)]
pub enum Refusal {
    /// Not hex, not a `CallerProof`: 401 `invalid_proof`.
    Malformed,
    /// The chain does not check out for this request: 401 `invalid_proof`.
    Unverified(&'static str),
    /// Another account than the node's, without delegated access: 403.
    NotServed,
}

fn fresh(iat: u64, exp: u64, max: u64, now: u64) -> bool {
    exp.saturating_sub(iat) <= max
        && now.saturating_add(CLOCK_SKEW) >= iat
        && now.saturating_sub(CLOCK_SKEW) <= exp
}

/// `ProofPolicy::admit` then `CallerProof::verify`, cheapest checks first.
/// Answers the account and device that signed.
#[allow(clippy::too_many_arguments)]
pub fn admit(
    header: &[u8],
    method: &str,
    path: &str,
    body: &[u8],
    now: u64,
    node_key: &[u8; 32],
    node_account: &[u8; 32],
    delegated_access: bool,
) -> Result<([u8; 32], [u8; 32]), Refusal> {
    let bytes = hex::decode(header).map_err(|_| Refusal::Malformed)?;
    let mut c = Cursor::new(&bytes);
    let credential = Credential::read(&mut c).map_err(|_| Refusal::Malformed)?;
    let session = match c.byte().map_err(|_| Refusal::Malformed)? {
        0 => None,
        1 => Some(Session::read(&mut c).map_err(|_| Refusal::Malformed)?),
        _ => return Err(Refusal::Malformed),
    };
    let r_method = c.text(64).map_err(|_| Refusal::Malformed)?;
    let r_path = c.text(16 * 1024).map_err(|_| Refusal::Malformed)?;
    let r_body = c.k32().map_err(|_| Refusal::Malformed)?;
    let iat = c.u64().map_err(|_| Refusal::Malformed)?;
    let exp = c.u64().map_err(|_| Refusal::Malformed)?;
    let sig = c.sig().map_err(|_| Refusal::Malformed)?;
    c.end().map_err(|_| Refusal::Malformed)?;

    if !delegated_access && credential.account != *node_account {
        return Err(Refusal::NotServed);
    }
    if r_method != method {
        return Err(Refusal::Unverified("method"));
    }
    if r_path != path {
        return Err(Refusal::Unverified("path"));
    }
    if r_body != h("calimero.auth.request.body.v1", &[body]) {
        return Err(Refusal::Unverified("body"));
    }
    if !fresh(iat, exp, MAX_REQUEST_LIFETIME, now) {
        return Err(Refusal::Unverified("request window"));
    }
    if let Some(s) = &session {
        if !fresh(s.issued_at, s.expires_at, MAX_SESSION_LIFETIME, now) {
            return Err(Refusal::Unverified("session window"));
        }
        if s.node != *node_key {
            return Err(Refusal::Unverified("session for another node"));
        }
    }
    let signer = session
        .as_ref()
        .map_or(credential.sign_key, |s| s.session_key);
    let payload = h(
        "calimero.auth.request.v1",
        &[
            method.as_bytes(),
            path.as_bytes(),
            &r_body,
            &iat.to_le_bytes(),
            &exp.to_le_bytes(),
        ],
    );
    if !ed25519_ok(&signer, &payload, &sig) {
        return Err(Refusal::Unverified("request signature"));
    }
    if let Some(s) = &session {
        if !s.signed_by_device() || s.device_key != credential.sign_key {
            return Err(Refusal::Unverified("session"));
        }
    }
    credential
        .verify()
        .map_err(|_| Refusal::Unverified("credential"))?;
    Ok((credential.account, credential.device))
}

/// A `Warrant` (v2).
#[derive(Clone, Debug)]
pub struct Warrant {
    pub context: [u8; 32],
    pub author_account: [u8; 32],
    pub author_device_key: [u8; 32],
    pub executor: [u8; 32],
    pub executor_key: [u8; 32],
    pub release_bytecode_id: [u8; 32],
    pub release_version: String,
    pub method: String,
    pub intent_hash: [u8; 32],
    account_heads: Vec<[u8; 32]>,
    governance_floor: Vec<[u8; 32]>,
    pub nonce: u64,
    pub not_after: u64,
    signature: [u8; 64],
}

impl Warrant {
    pub fn from_hex(text: &str) -> Result<Self, String> {
        let bytes = hex::decode(text.trim()).map_err(|e| format!("warrant is not hex: {e}"))?;
        let mut c = Cursor::new(&bytes);
        let w = Warrant {
            context: c.k32()?,
            author_account: c.k32()?,
            author_device_key: c.k32()?,
            executor: c.k32()?,
            executor_key: c.k32()?,
            release_bytecode_id: c.k32()?,
            release_version: c.text(256)?,
            method: c.text(1024)?,
            intent_hash: c.k32()?,
            account_heads: c.list32(64)?,
            governance_floor: c.list32(64)?,
            nonce: c.u64()?,
            not_after: c.u64()?,
            signature: c.sig()?,
        };
        c.end()?;
        Ok(w)
    }

    pub fn signed_by_author(&self) -> bool {
        let account_n = (self.account_heads.len() as u64).to_le_bytes();
        let floor_n = (self.governance_floor.len() as u64).to_le_bytes();
        let nonce = self.nonce.to_le_bytes();
        let not_after = self.not_after.to_le_bytes();
        let mut parts: Vec<&[u8]> = vec![
            &self.context,
            &self.author_account,
            &self.author_device_key,
            &self.executor,
            &self.executor_key,
            &self.release_bytecode_id,
            self.release_version.as_bytes(),
            self.method.as_bytes(),
            &self.intent_hash,
            &account_n,
        ];
        for head in &self.account_heads {
            parts.push(head);
        }
        parts.push(&floor_n);
        for head in &self.governance_floor {
            parts.push(head);
        }
        parts.push(&nonce);
        parts.push(&not_after);
        ed25519_ok(
            &self.author_device_key,
            &h("calimero.warrant.v2", &parts),
            &self.signature,
        )
    }
}

/// What the node hashes for `argsJson`: serde_json's compact output of
/// the parsed value with object keys in `BTreeMap` (byte) order, as a node
/// whose serde_json keeps no insertion order prints it.
pub fn node_json(value: &serde_json::Value) -> Vec<u8> {
    fn sort(v: &serde_json::Value) -> serde_json::Value {
        match v {
            serde_json::Value::Object(m) => {
                let ordered: std::collections::BTreeMap<&String, serde_json::Value> =
                    m.iter().map(|(k, v)| (k, sort(v))).collect();
                serde_json::Value::Object(
                    ordered.into_iter().map(|(k, v)| (k.clone(), v)).collect(),
                )
            }
            serde_json::Value::Array(a) => serde_json::Value::Array(a.iter().map(sort).collect()),
            other => other.clone(),
        }
    }
    serde_json::to_vec(&sort(value)).unwrap_or_default()
}

pub fn intent_hash(method: &str, args: &[u8]) -> [u8; 32] {
    h("calimero.warrant.intent.v1", &[method.as_bytes(), args])
}

/// The most heads a warrant may cite in either list (core
/// `MAX_WARRANT_CITED_HEADS`; mero-js "at most 64").
pub const MAX_CITED_HEADS: usize = 64;
/// The longest `service_name` or `name` a creation warrant may carry
/// (core `MAX_CREATION_LABEL_LEN`).
pub const MAX_CREATION_LABEL: usize = 256;

fn check_heads(lists: [&[[u8; 32]]; 2]) -> Result<(), String> {
    for list in lists {
        if list.len() > MAX_CITED_HEADS {
            return Err(format!(
                "warrant cites {} heads, over the {MAX_CITED_HEADS} allowed",
                list.len()
            ));
        }
    }
    Ok(())
}

fn push_heads<'a>(parts: &mut Vec<&'a [u8]>, count: &'a [u8; 8], heads: &'a [[u8; 32]]) {
    parts.push(count);
    for head in heads {
        parts.push(head);
    }
}

/// A `ContextCreationWarrant`: a member's consent for one executor (an
/// account, and the one key of it named `executor_key`) to create one
/// context, from `seed`, in `group`, running `application_id` with the
/// `init` arguments `init_hash` commits to.
#[derive(Clone, Debug)]
pub struct CreationWarrant {
    pub group: [u8; 32],
    pub seed: [u8; 32],
    pub author_account: [u8; 32],
    pub author_device_key: [u8; 32],
    pub executor: [u8; 32],
    pub executor_key: [u8; 32],
    pub application_id: [u8; 32],
    pub service_name: Option<String>,
    pub name: Option<String>,
    pub init_hash: [u8; 32],
    account_heads: Vec<[u8; 32]>,
    governance_floor: Vec<[u8; 32]>,
    pub nonce: u64,
    pub not_after: u64,
    signature: [u8; 64],
}

impl CreationWarrant {
    /// The borsh encoding (an option is a tag byte then a `u32`-prefixed
    /// string; counts are `u32`).
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, String> {
        let mut c = Cursor::new(bytes);
        let w = Self {
            group: c.k32()?,
            seed: c.k32()?,
            author_account: c.k32()?,
            author_device_key: c.k32()?,
            executor: c.k32()?,
            executor_key: c.k32()?,
            application_id: c.k32()?,
            service_name: c.option_text()?,
            name: c.option_text()?,
            init_hash: c.k32()?,
            account_heads: c.heads()?,
            governance_floor: c.heads()?,
            nonce: c.u64()?,
            not_after: c.u64()?,
            signature: c.sig()?,
        };
        c.end()?;
        Ok(w)
    }

    /// `H(init args)`: what the warrant carries in place of the arguments.
    pub fn init_hash(init_args: &[u8]) -> [u8; 32] {
        h("calimero.context-creation.init.v1", &[init_args])
    }

    /// The 32 bytes the author's device signs: every field but the
    /// signature, an option as two parts (tag, then bytes, empty when
    /// absent), counts as `u64`.
    pub fn signing_payload(&self) -> [u8; 32] {
        let label = |l: &Option<String>| match l {
            Some(v) => ([1u8], v.as_bytes().to_vec()),
            None => ([0u8], Vec::new()),
        };
        let (service_tag, service) = label(&self.service_name);
        let (name_tag, name) = label(&self.name);
        let account_n = (self.account_heads.len() as u64).to_le_bytes();
        let floor_n = (self.governance_floor.len() as u64).to_le_bytes();
        let nonce = self.nonce.to_le_bytes();
        let not_after = self.not_after.to_le_bytes();
        let mut parts: Vec<&[u8]> = vec![
            &self.group,
            &self.seed,
            &self.author_account,
            &self.author_device_key,
            &self.executor,
            &self.executor_key,
            &self.application_id,
            &service_tag,
            &service,
            &name_tag,
            &name,
            &self.init_hash,
        ];
        push_heads(&mut parts, &account_n, &self.account_heads);
        push_heads(&mut parts, &floor_n, &self.governance_floor);
        parts.push(&nonce);
        parts.push(&not_after);
        h("calimero.context-creation-warrant.v1", &parts)
    }

    /// Bounds, then the author device's signature (core
    /// `verify_signature`; its text for a bad signature is [inferred] after
    /// the intent warrant's).
    pub fn verify_signature(&self) -> Result<(), String> {
        check_heads([&self.account_heads, &self.governance_floor])?;
        for label in [&self.service_name, &self.name].into_iter().flatten() {
            if label.len() > MAX_CREATION_LABEL {
                return Err(format!(
                    "creation label is {} bytes, over the {MAX_CREATION_LABEL} allowed",
                    label.len()
                ));
            }
        }
        if ed25519_ok(
            &self.author_device_key,
            &self.signing_payload(),
            &self.signature,
        ) {
            Ok(())
        } else {
            Err("creation warrant has an invalid signature for the device key it names".to_owned())
        }
    }
}

/// Which plane a governance op is published on (`GovernanceOpKind`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OpKind {
    Group = 0,
    Root = 1,
}

/// A `GovernanceWarrant`: a member's consent for one executor to publish
/// one governance op (committed to by `op_hash`) on `scope`.
#[derive(Clone, Debug)]
pub struct GovernanceWarrant {
    pub scope: [u8; 32],
    pub kind: OpKind,
    pub author_account: [u8; 32],
    pub author_device_key: [u8; 32],
    pub executor: [u8; 32],
    pub executor_key: [u8; 32],
    pub op_hash: [u8; 32],
    account_heads: Vec<[u8; 32]>,
    governance_floor: Vec<[u8; 32]>,
    pub nonce: u64,
    pub not_after: u64,
    signature: [u8; 64],
}

impl GovernanceWarrant {
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, String> {
        let mut c = Cursor::new(bytes);
        let scope = c.k32()?;
        let kind = match c.byte()? {
            0 => OpKind::Group,
            1 => OpKind::Root,
            // borsh's derive text for an unknown enum tag.
            other => return Err(format!("Unexpected variant tag: {other}")),
        };
        let w = Self {
            scope,
            kind,
            author_account: c.k32()?,
            author_device_key: c.k32()?,
            executor: c.k32()?,
            executor_key: c.k32()?,
            op_hash: c.k32()?,
            account_heads: c.heads()?,
            governance_floor: c.heads()?,
            nonce: c.u64()?,
            not_after: c.u64()?,
            signature: c.sig()?,
        };
        c.end()?;
        Ok(w)
    }

    /// `H(kind ‖ op bytes)` under the op domain.
    pub fn op_hash(kind: OpKind, op: &[u8]) -> [u8; 32] {
        h("calimero.governance-warrant.op.v1", &[&[kind as u8], op])
    }

    /// Whether the warrant was minted for exactly this op.
    pub fn covers_op(&self, kind: OpKind, op: &[u8]) -> bool {
        self.kind == kind && self.op_hash == Self::op_hash(kind, op)
    }

    pub fn signing_payload(&self) -> [u8; 32] {
        let kind = [self.kind as u8];
        let account_n = (self.account_heads.len() as u64).to_le_bytes();
        let floor_n = (self.governance_floor.len() as u64).to_le_bytes();
        let nonce = self.nonce.to_le_bytes();
        let not_after = self.not_after.to_le_bytes();
        let mut parts: Vec<&[u8]> = vec![
            &self.scope,
            &kind,
            &self.author_account,
            &self.author_device_key,
            &self.executor,
            &self.executor_key,
            &self.op_hash,
        ];
        push_heads(&mut parts, &account_n, &self.account_heads);
        push_heads(&mut parts, &floor_n, &self.governance_floor);
        parts.push(&nonce);
        parts.push(&not_after);
        h("calimero.governance-warrant.v1", &parts)
    }

    pub fn verify_signature(&self) -> Result<(), String> {
        check_heads([&self.account_heads, &self.governance_floor])?;
        if ed25519_ok(
            &self.author_device_key,
            &self.signing_payload(),
            &self.signature,
        ) {
            Ok(())
        } else {
            Err(
                "governance warrant has an invalid signature for the device key it names"
                    .to_owned(),
            )
        }
    }
}

/// The author half of a delegation (core `Delegated::verify` without the
/// executor's own proof, which this node would build itself): the warrant
/// is signed by the device it names, and the credential ties that device to
/// the warrant's author account.
pub fn verify_author(
    signature: Result<(), String>,
    author_account: &[u8; 32],
    author_device_key: &[u8; 32],
    proof: &Credential,
) -> Result<(), String> {
    signature?;
    proof.verify_for(author_account)?;
    if proof.sign_key != *author_device_key {
        return Err(
            "certificate verifies for its account but certifies a different key".to_owned(),
        );
    }
    Ok(())
}

/// The domain a presence statement starts with.
pub const PRESENCE_DOMAIN: &[u8; 19] = b"calimero/presence/1";

/// `sha256(borsh(state))`: `[0]` for none, `[1] ‖ u32le(len) ‖ bytes`.
pub fn presence_state_hash(state: Option<&[u8]>) -> [u8; 32] {
    let mut sha = Sha256::new();
    match state {
        None => sha.update([0u8]),
        Some(bytes) => {
            sha.update([1u8]);
            sha.update(u32::try_from(bytes.len()).unwrap_or(u32::MAX).to_le_bytes());
            sha.update(bytes);
        }
    }
    sha.finalize().into()
}

/// The bytes an author signs for one presence update (the statement's
/// borsh, signed raw: no domain hash).
pub fn presence_signing_bytes(
    context: &[u8; 32],
    author: &[u8; 32],
    seq: u64,
    sent_at_ms: u64,
    state: Option<&[u8]>,
) -> Vec<u8> {
    let mut out = Vec::with_capacity(19 + 32 + 32 + 8 + 8 + 32);
    out.extend_from_slice(PRESENCE_DOMAIN);
    out.extend_from_slice(context);
    out.extend_from_slice(author);
    out.extend_from_slice(&seq.to_le_bytes());
    out.extend_from_slice(&sent_at_ms.to_le_bytes());
    out.extend_from_slice(&presence_state_hash(state));
    out
}

/// Whether `signature` is `author`'s over the presence statement.
pub fn presence_signed(
    context: &[u8; 32],
    author: &[u8; 32],
    seq: u64,
    sent_at_ms: u64,
    state: Option<&[u8]>,
    signature: &[u8; 64],
) -> bool {
    ed25519_ok(
        author,
        &presence_signing_bytes(context, author, seq, sent_at_ms, state),
        signature,
    )
}

/// A credential minted by the test node for tests (`/_testnode/credential`).
pub struct Minted {
    pub credential: Vec<u8>,
    pub account: [u8; 32],
    pub device_seed: [u8; 32],
    pub device_public: [u8; 32],
    pub root_seed: [u8; 32],
}

fn keypair(seed: &[u8; 32]) -> ring::signature::Ed25519KeyPair {
    // A 32-byte seed is always accepted.
    ring::signature::Ed25519KeyPair::from_seed_unchecked(seed)
        .unwrap_or_else(|_| unreachable!("a 32-byte seed"))
}

fn public(pair: &ring::signature::Ed25519KeyPair) -> [u8; 32] {
    use ring::signature::KeyPair;
    let mut out = [0u8; 32];
    out.copy_from_slice(pair.public_key().as_ref());
    out
}

fn sign(pair: &ring::signature::Ed25519KeyPair, message: &[u8]) -> [u8; 64] {
    let mut out = [0u8; 64];
    out.copy_from_slice(pair.sign(message).as_ref());
    out
}

/// A fresh account (random root key), `handoffs` root-key rollovers, and a
/// device certified by the last root key.
pub fn mint_credential(handoffs: u32) -> Minted {
    let root_seed: [u8; 32] = rand::random();
    let device_seed: [u8; 32] = rand::random();
    let root = keypair(&root_seed);
    let root_public = public(&root);
    let mut genesis = vec![2u8];
    genesis.extend_from_slice(&root_public);
    let account = h("calimero.account.genesis.v1", &[&genesis]);
    let mut chain = Vec::new();
    let mut current = root;
    for epoch in 0..handoffs {
        let next_seed: [u8; 32] = rand::random();
        let next = keypair(&next_seed);
        let next_public = public(&next);
        let payload = h(
            "calimero.account.handoff.v1",
            &[&account, &epoch.to_le_bytes(), &next_public],
        );
        chain.push((epoch, next_public, sign(&current, &payload)));
        current = next;
    }
    let device = keypair(&device_seed);
    let device_public = public(&device);
    let nonce: [u8; 16] = rand::random();
    let device_id = h("calimero.device.id.v1", &[&account, &nonce]);
    let kem: [u8; 32] = rand::random();
    let payload = h(
        "calimero.device.cert.v1",
        &[
            &account,
            &device_id,
            &device_public,
            &kem,
            &handoffs.to_le_bytes(),
            &0u32.to_le_bytes(),
        ],
    );
    let mut out = vec![2u8];
    out.extend_from_slice(&root_public);
    out.extend_from_slice(&handoffs.to_le_bytes());
    for (epoch, next, signature) in &chain {
        out.extend_from_slice(&account);
        out.extend_from_slice(&epoch.to_le_bytes());
        out.extend_from_slice(next);
        out.extend_from_slice(signature);
    }
    for part in [&account, &device_id, &device_public, &kem] {
        out.extend_from_slice(part);
    }
    out.extend_from_slice(&handoffs.to_le_bytes());
    out.extend_from_slice(&0u32.to_le_bytes());
    out.extend_from_slice(&sign(&current, &payload));
    Minted {
        credential: out,
        account,
        device_seed,
        device_public,
        root_seed,
    }
}

#[cfg(test)]
mod tests {
    //! The statements against core's own byte vectors: the fixtures a
    //! non-Rust signer is held to (`creation_wire_fixture.rs`,
    //! `governance_wire_fixture.rs`, presence `statement_vector_is_stable`).
    //! `key(7)` there is the secret `[7; 32]` (its public key is the
    //! `author_device_key` the fixtures print).

    use super::*;

    fn unhex(s: &str) -> Vec<u8> {
        hex::decode(s).unwrap()
    }

    const CREATION_FIXTURE: &str = concat!(
        "1111111111111111111111111111111111111111111111111111111111111111",
        "1212121212121212121212121212121212121212121212121212121212121212",
        "2222222222222222222222222222222222222222222222222222222222222222",
        "ea4a6c63e29c520abef5507b132ec5f9954776aebebe7b92421eea691446d22c",
        "3333333333333333333333333333333333333333333333333333333333333333",
        "7777777777777777777777777777777777777777777777777777777777777777",
        "4444444444444444444444444444444444444444444444444444444444444444",
        "00",
        "01",
        "07000000",
        "67656e6572616c",
        "074dc4be8c7abe685532a48947430edd0301b42f60222e715a834e723d2a055e",
        "01000000",
        "5555555555555555555555555555555555555555555555555555555555555555",
        "01000000",
        "6666666666666666666666666666666666666666666666666666666666666666",
        "2a00000000000000",
        "00f1536500000000",
        "19103d73752d052f747911b4b36e423221d89d120bf6f4d32122d3c4fd1fb030",
        "9add40f3f3b80a5e5d6fefa02de5f4d6bb914c85c5c8b10a3a0e3a0e22c08400",
    );

    const GOVERNANCE_FIXTURE: &str = concat!(
        "1111111111111111111111111111111111111111111111111111111111111111",
        "01",
        "2222222222222222222222222222222222222222222222222222222222222222",
        "ea4a6c63e29c520abef5507b132ec5f9954776aebebe7b92421eea691446d22c",
        "3333333333333333333333333333333333333333333333333333333333333333",
        "7777777777777777777777777777777777777777777777777777777777777777",
        "d6bc121f9fcf7b85bea94d356d620c14dd8e1ae5fa2317cbcfc2c486cf04dfb3",
        "01000000",
        "5555555555555555555555555555555555555555555555555555555555555555",
        "01000000",
        "6666666666666666666666666666666666666666666666666666666666666666",
        "2a00000000000000",
        "00f1536500000000",
        "03ce6c011f565924099b2c776032a1cfe540d1c4c09fad0b470723f8ee76138d",
        "1d685a20948edf4dee2901d3f9187e3363a16e3b141b0bc94553f5948becae07",
    );

    #[test]
    fn the_creation_fixture_decodes_hashes_and_verifies() {
        let bytes = unhex(CREATION_FIXTURE);
        assert_eq!(bytes.len(), 421);
        let w = CreationWarrant::from_bytes(&bytes).unwrap();
        assert_eq!(
            hex::encode(CreationWarrant::init_hash(br#"{"name":"general"}"#)),
            "074dc4be8c7abe685532a48947430edd0301b42f60222e715a834e723d2a055e"
        );
        assert_eq!(w.name.as_deref(), Some("general"));
        assert_eq!(w.service_name, None);
        assert_eq!((w.nonce, w.not_after), (42, 1_700_000_000));
        assert_eq!(
            hex::encode(w.signing_payload()),
            "7e1126b215a794e565bb59c630cb1a36e43590c4bd8f62c6111792f77c231598"
        );
        w.verify_signature().unwrap();
        // Ed25519 is deterministic: key(7) signs the preimage to the
        // fixture's own signature.
        assert_eq!(
            sign(&keypair(&[7; 32]), &w.signing_payload()).to_vec(),
            bytes[bytes.len() - 64..]
        );
        let mut tampered = bytes.clone();
        tampered[40] ^= 1; // the seed
        let w = CreationWarrant::from_bytes(&tampered).unwrap();
        assert!(w.verify_signature().is_err());
    }

    #[test]
    fn a_creation_warrant_refuses_bad_bytes_with_borsh_texts() {
        let bytes = unhex(CREATION_FIXTURE);
        let short = CreationWarrant::from_bytes(&bytes[..bytes.len() - 1]).unwrap_err();
        assert_eq!(short, "Unexpected length of input");
        let mut long = bytes.clone();
        long.push(0);
        assert_eq!(
            CreationWarrant::from_bytes(&long).unwrap_err(),
            "Not all bytes read"
        );
        let mut tag = bytes;
        tag[224] = 2; // service_name's option tag
        assert!(CreationWarrant::from_bytes(&tag)
            .unwrap_err()
            .starts_with("Invalid Option representation: 2"));
    }

    #[test]
    fn the_governance_fixture_decodes_hashes_and_verifies() {
        let bytes = unhex(GOVERNANCE_FIXTURE);
        assert_eq!(bytes.len(), 345);
        assert_eq!(
            hex::encode(GovernanceWarrant::op_hash(OpKind::Root, b"\x01\x02\x03")),
            "d6bc121f9fcf7b85bea94d356d620c14dd8e1ae5fa2317cbcfc2c486cf04dfb3"
        );
        let w = GovernanceWarrant::from_bytes(&bytes).unwrap();
        assert_eq!(w.kind, OpKind::Root);
        assert!(w.covers_op(OpKind::Root, b"\x01\x02\x03"));
        assert!(!w.covers_op(OpKind::Group, b"\x01\x02\x03"));
        assert_eq!(
            hex::encode(w.signing_payload()),
            "b71a40cfbbe50e40d3423e8729a9ca8359e69f2762396922e6b314a971c5f720"
        );
        w.verify_signature().unwrap();
        assert_eq!(
            sign(&keypair(&[7; 32]), &w.signing_payload()).to_vec(),
            bytes[bytes.len() - 64..]
        );
        let mut kind = bytes;
        kind[32] = 2;
        assert_eq!(
            GovernanceWarrant::from_bytes(&kind).unwrap_err(),
            "Unexpected variant tag: 2"
        );
    }

    #[test]
    fn the_presence_statement_vector_is_cores() {
        let author = public(&keypair(&[0x22; 32]));
        let state = br#"{"typing":true}"#;
        let bytes = presence_signing_bytes(
            &[0x11; 32],
            &author,
            7,
            1_700_000_000_000,
            Some(state.as_slice()),
        );
        assert_eq!(
            hex::encode(&bytes),
            "63616c696d65726f2f70726573656e63652f311111111111111111111111111111111111111111111111111111111111111111a09aa5f47a6759802ff955f8dc2d2a14a5c99d23be97f864127ff9383455a4f007000000000000000068e5cf8b010000f25c119b355e48fcfc5c8acd6b7681d0d8dfe33f75ee6408aa162e13b05ca486"
        );
        let signature = sign(&keypair(&[0x22; 32]), &bytes);
        let ok = |state: Option<&[u8]>| {
            presence_signed(
                &[0x11; 32],
                &author,
                7,
                1_700_000_000_000,
                state,
                &signature,
            )
        };
        assert!(ok(Some(state.as_slice())));
        assert!(!ok(None), "a retraction signs another state hash");
        assert_ne!(presence_state_hash(None), presence_state_hash(Some(&[])));
    }

    #[test]
    fn a_credential_is_checked_against_the_account_a_statement_names() {
        let minted = mint_credential(1);
        let proof = Credential::from_bytes(&minted.credential).unwrap();
        proof.verify().unwrap();
        proof.verify_for(&minted.account).unwrap();
        let other = proof.verify_for(&[9; 32]).unwrap_err();
        assert!(other.starts_with("genesis hashes to "), "{other}");
    }
}
