//! The node's checks of delegated access, written for the test node from
//! the wire description (node-releases.md section 3, core
//! `crates/account/src/{caller,request,login,signed,warrant}.rs` and
//! `crates/server/src/proof_auth.rs`), independently of the client: its own
//! borsh reader, its own domain hash (sha2), and `ring` for Ed25519, where
//! the client uses `ed25519-dalek`. A shared implementation would hide the
//! same mistake on both sides.

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
            return Err("truncated".to_owned());
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
    pub fn end(&self) -> Result<(), String> {
        if self.at == self.bytes.len() {
            Ok(())
        } else {
            Err("trailing bytes".to_owned())
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
        let mut c = Cursor::new(&bytes);
        let credential = Self::read(&mut c)?;
        c.end()?;
        Ok(credential)
    }

    /// The chain back to a genesis whose hash is the account.
    pub fn verify(&self) -> Result<(), String> {
        if self.version != 2 {
            return Err("genesis version".to_owned());
        }
        let mut genesis = vec![self.version];
        genesis.extend_from_slice(&self.root);
        if h("calimero.account.genesis.v1", &[&genesis]) != self.account {
            return Err("genesis does not name the account".to_owned());
        }
        let epoch = self.key_epoch as usize;
        if epoch > self.handoffs.len() {
            return Err("epoch out of range".to_owned());
        }
        let mut key = self.root;
        for (i, (account, from, next, sig)) in self.handoffs.iter().take(epoch).enumerate() {
            let payload = h(
                "calimero.account.handoff.v1",
                &[account, &from.to_le_bytes(), next],
            );
            if *from as usize != i || *account != self.account || !ed25519_ok(&key, &payload, sig) {
                return Err(format!("bad handoff {i}"));
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
            Err("certificate signature".to_owned())
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
