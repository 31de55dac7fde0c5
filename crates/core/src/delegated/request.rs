//! Signing one request (`RequestSig`), the session link (`LoginStatement`),
//! and the `X-Calimero-Proof` header that carries both with the credential
//! (borsh `CallerProof`).
//!
//! ```text
//! RequestSig     = String method ‖ String path ‖ body_hash[32] ‖ u64 iat ‖ u64 exp ‖ sig[64]
//!   body_hash    = H("calimero.auth.request.body.v1", [body])
//!   sig          = Ed25519(H("calimero.auth.request.v1", [method, path, body_hash, u64le iat, u64le exp]))
//! LoginStatement = node[32] ‖ audience (u8 tag, then String for 0/1) ‖ challenge[32]
//!                  ‖ session_key[32] ‖ device_key[32] ‖ u64 iat ‖ u64 exp ‖ sig[64]
//!   sig          = Ed25519(H("calimero.auth.login.v1", [node, tag ‖ body, challenge,
//!                  session_key, device_key, u64le iat, u64le exp]))
//! CallerProof    = credential ‖ Option<LoginStatement> ‖ RequestSig
//! ```
//!
//! Sources: core `crates/account/src/{request,login,caller}.rs` and their
//! wire fixtures; mero-js `request-sig.ts`, `caller-proof.ts`; swift
//! `RelayLogin.swift`.

use super::credential::DeviceCredential;
use super::keys::{verify, SecretKey};
use super::wire::{domain_hash, Reader, Writer};
use crate::error::Error;

pub(crate) const REQUEST_SIGN_DOMAIN: &[u8] = b"calimero.auth.request.v1";
pub(crate) const REQUEST_BODY_DOMAIN: &[u8] = b"calimero.auth.request.body.v1";
pub(crate) const LOGIN_SIGN_DOMAIN: &[u8] = b"calimero.auth.login.v1";

/// The header a request proof travels in.
pub const PROOF_HEADER: &str = "x-calimero-proof";
/// The longest request window a node accepts (core `MAX_REQUEST_LIFETIME_SECS`).
pub const MAX_REQUEST_LIFETIME: u64 = 300;
/// The longest session window a node accepts (core `MAX_SESSION_LIFETIME_SECS`).
pub const MAX_SESSION_LIFETIME: u64 = 3600;
/// The largest body a node hashes for a proof (core `MAX_PROVEN_BODY`); a
/// larger proven body is refused with 413.
pub const MAX_PROVEN_BODY: usize = 1024 * 1024;
/// Longest method and path signed (a request line longer than this is not
/// sent anyway).
const MAX_METHOD: usize = 64;
const MAX_PATH: usize = 16 * 1024;

/// The commitment to a request body.
pub fn body_hash(body: &[u8]) -> [u8; 32] {
    domain_hash(REQUEST_BODY_DOMAIN, &[body])
}

/// What the signer of a request signs.
pub fn request_signing_payload(
    method: &str,
    path: &str,
    body_hash: &[u8; 32],
    issued_at: u64,
    expires_at: u64,
) -> [u8; 32] {
    domain_hash(
        REQUEST_SIGN_DOMAIN,
        &[
            method.as_bytes(),
            path.as_bytes(),
            body_hash,
            &issued_at.to_le_bytes(),
            &expires_at.to_le_bytes(),
        ],
    )
}

/// One signed request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestSig {
    pub method: String,
    pub path: String,
    pub body_hash: [u8; 32],
    pub issued_at: u64,
    pub expires_at: u64,
    pub signature: [u8; 64],
}

impl RequestSig {
    /// Signs `method path` with `body` (the exact bytes sent). The method is
    /// signed as given (HEAD is not GET); the path must carry no query.
    pub fn sign(
        key: &SecretKey,
        method: &str,
        path: &str,
        body: &[u8],
        issued_at: u64,
        expires_at: u64,
    ) -> Self {
        let body_hash = body_hash(body);
        let payload = request_signing_payload(method, path, &body_hash, issued_at, expires_at);
        RequestSig {
            method: method.to_owned(),
            path: path.to_owned(),
            body_hash,
            issued_at,
            expires_at,
            signature: key.sign(&payload),
        }
    }

    pub fn signing_payload(&self) -> [u8; 32] {
        request_signing_payload(
            &self.method,
            &self.path,
            &self.body_hash,
            self.issued_at,
            self.expires_at,
        )
    }

    pub(crate) fn write(&self, w: &mut Writer) {
        w.string(self.method.as_bytes())
            .string(self.path.as_bytes())
            .raw(&self.body_hash)
            .u64(self.issued_at)
            .u64(self.expires_at)
            .raw(&self.signature);
    }

    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::default();
        self.write(&mut w);
        w.0
    }

    pub fn decode(bytes: &[u8]) -> Result<Self, String> {
        let mut r = Reader::new(bytes);
        let s = Self::read(&mut r)?;
        r.finish("the request signature")?;
        Ok(s)
    }

    pub(crate) fn read(r: &mut Reader<'_>) -> Result<Self, String> {
        Ok(RequestSig {
            method: r.string("the request method", MAX_METHOD)?,
            path: r.string("the request path", MAX_PATH)?,
            body_hash: r.array32("the body hash")?,
            issued_at: r.u64("the issue time")?,
            expires_at: r.u64("the expiry")?,
            signature: r.array64("the request signature")?,
        })
    }
}

/// The client surface a session is bound to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Audience {
    WebOrigin(String),
    CodeSigningId(String),
    Cli,
}

impl Audience {
    /// `"cli"`, an `http(s)://` origin, or a code-signing id (as core's
    /// `Audience::from_spelling`).
    pub fn from_spelling(spelling: &str) -> Self {
        match spelling.trim() {
            "cli" => Audience::Cli,
            o if o.starts_with("http://") || o.starts_with("https://") => {
                Audience::WebOrigin(o.to_owned())
            }
            other => Audience::CodeSigningId(other.to_owned()),
        }
    }

    fn parts(&self) -> (u8, &[u8]) {
        match self {
            Audience::WebOrigin(o) => (0, o.as_bytes()),
            Audience::CodeSigningId(i) => (1, i.as_bytes()),
            Audience::Cli => (2, b""),
        }
    }

    /// The preimage part: `tag ‖ body`, with no length inside.
    fn signing_bytes(&self) -> Vec<u8> {
        let (tag, body) = self.parts();
        let mut out = Vec::with_capacity(1 + body.len());
        out.push(tag);
        out.extend_from_slice(body);
        out
    }
}

/// A device's statement delegating to a session key, for one node.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoginStatement {
    pub node: [u8; 32],
    pub audience: Audience,
    pub challenge: [u8; 32],
    pub session_key: [u8; 32],
    pub device_key: [u8; 32],
    pub issued_at: u64,
    pub expires_at: u64,
    pub signature: [u8; 64],
}

impl LoginStatement {
    #[allow(clippy::too_many_arguments)]
    pub fn signing_payload_of(
        node: &[u8; 32],
        audience: &Audience,
        challenge: &[u8; 32],
        session_key: &[u8; 32],
        device_key: &[u8; 32],
        issued_at: u64,
        expires_at: u64,
    ) -> [u8; 32] {
        domain_hash(
            LOGIN_SIGN_DOMAIN,
            &[
                node,
                &audience.signing_bytes(),
                challenge,
                session_key,
                device_key,
                &issued_at.to_le_bytes(),
                &expires_at.to_le_bytes(),
            ],
        )
    }

    pub fn signing_payload(&self) -> [u8; 32] {
        Self::signing_payload_of(
            &self.node,
            &self.audience,
            &self.challenge,
            &self.session_key,
            &self.device_key,
            self.issued_at,
            self.expires_at,
        )
    }

    /// Signed by the device key, for `session_key`.
    pub fn sign(
        device: &SecretKey,
        node: [u8; 32],
        audience: Audience,
        challenge: [u8; 32],
        session_key: [u8; 32],
        issued_at: u64,
        expires_at: u64,
    ) -> Self {
        let device_key = device.public_key();
        let payload = Self::signing_payload_of(
            &node,
            &audience,
            &challenge,
            &session_key,
            &device_key,
            issued_at,
            expires_at,
        );
        LoginStatement {
            node,
            audience,
            challenge,
            session_key,
            device_key,
            issued_at,
            expires_at,
            signature: device.sign(&payload),
        }
    }

    /// Whether the named device key signed it.
    pub fn verify_signature(&self) -> bool {
        verify(&self.device_key, &self.signing_payload(), &self.signature)
    }

    pub(crate) fn write(&self, w: &mut Writer) {
        w.raw(&self.node);
        let (tag, body) = self.audience.parts();
        w.u8(tag);
        if tag != 2 {
            w.string(body);
        }
        w.raw(&self.challenge)
            .raw(&self.session_key)
            .raw(&self.device_key)
            .u64(self.issued_at)
            .u64(self.expires_at)
            .raw(&self.signature);
    }

    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::default();
        self.write(&mut w);
        w.0
    }

    pub(crate) fn read(r: &mut Reader<'_>) -> Result<Self, String> {
        let node = r.array32("the node key")?;
        let audience = match r.u8("the audience")? {
            0 => Audience::WebOrigin(r.string("the web origin", 4096)?),
            1 => Audience::CodeSigningId(r.string("the code-signing id", 4096)?),
            2 => Audience::Cli,
            t => return Err(format!("unknown audience tag {t}")),
        };
        Ok(LoginStatement {
            node,
            audience,
            challenge: r.array32("the challenge")?,
            session_key: r.array32("the session key")?,
            device_key: r.array32("the device key")?,
            issued_at: r.u64("the issue time")?,
            expires_at: r.u64("the expiry")?,
            signature: r.array64("the statement signature")?,
        })
    }

    pub fn decode(bytes: &[u8]) -> Result<Self, String> {
        let mut r = Reader::new(bytes);
        let s = Self::read(&mut r)?;
        r.finish("the login statement")?;
        Ok(s)
    }

    pub fn from_hex(argument: &str, text: &str) -> Result<Self, Error> {
        let bytes = super::keys::hex_bytes(argument, text, 16 * 1024)?;
        Self::decode(&bytes).map_err(|reason| {
            Error::invalid(
                argument,
                format!("not a login statement (borsh LoginStatement): {reason}"),
            )
        })
    }
}

/// The whole `X-Calimero-Proof` value, encoded: the credential, the
/// optional session link, then the request signature.
pub fn caller_proof(
    credential: &DeviceCredential,
    session: Option<&LoginStatement>,
    request: &RequestSig,
) -> Vec<u8> {
    let mut w = Writer::default();
    credential.write(&mut w);
    match session {
        None => {
            w.u8(0);
        }
        Some(s) => {
            w.u8(1);
            s.write(&mut w);
        }
    }
    request.write(&mut w);
    w.0
}

/// Signs every request of a connection: the credential (and session link)
/// are fixed, only the request signature is minted per call.
///
/// `Debug` shows the account and whether there is a session, never a key.
pub struct DeviceSigner {
    credential: DeviceCredential,
    session: Option<LoginStatement>,
    secret: SecretKey,
    ttl: u64,
}

impl std::fmt::Debug for DeviceSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeviceSigner")
            .field("account", &hex::encode(self.credential.account))
            .field("session", &self.session.is_some())
            .field("ttl", &self.ttl)
            .finish_non_exhaustive()
    }
}

impl DeviceSigner {
    /// `secret` is the device key the credential certifies, or, with
    /// `session`, the session key the statement delegates to. A pair that
    /// does not match is refused here rather than as a 401 on every call.
    pub fn new(
        credential: DeviceCredential,
        secret: SecretKey,
        session: Option<LoginStatement>,
    ) -> Result<Self, Error> {
        match &session {
            None if secret.public_key() != credential.sign_key => {
                return Err(Error::invalid(
                    "device_secret",
                    "does not hold the key the device credential certifies",
                ))
            }
            Some(s) if s.device_key != credential.sign_key => {
                return Err(Error::invalid(
                    "device_session",
                    "was signed by another device than the credential certifies",
                ))
            }
            Some(s) if s.session_key != secret.public_key() => {
                return Err(Error::invalid(
                    "device_secret",
                    "with device_session it must be the session key the statement names",
                ))
            }
            _ => {}
        }
        Ok(DeviceSigner {
            credential,
            session,
            secret,
            ttl: MAX_REQUEST_LIFETIME,
        })
    }

    pub fn credential(&self) -> &DeviceCredential {
        &self.credential
    }

    pub fn has_session(&self) -> bool {
        self.session.is_some()
    }

    /// The device key itself, when requests are signed with it (no session).
    pub fn device_secret(&self) -> Option<&SecretKey> {
        self.session.is_none().then_some(&self.secret)
    }

    /// The `X-Calimero-Proof` value (hex) for `method path` with `body`,
    /// issued at `now`.
    pub fn proof(&self, method: &str, path: &str, body: &[u8], now: u64) -> String {
        let request = RequestSig::sign(
            &self.secret,
            method,
            path,
            body,
            now,
            now.saturating_add(self.ttl),
        );
        hex::encode(caller_proof(
            &self.credential,
            self.session.as_ref(),
            &request,
        ))
    }
}
