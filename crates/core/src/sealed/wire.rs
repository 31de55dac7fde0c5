//! The sealed transport's wire format (v2), byte for byte: the Noise
//! handshake that opens a session, the sealed request envelope, and the
//! sealed frames a response streams back in. Pure functions, no I/O.
//!
//! ```text
//! handshake  Noise_NK_25519_AESGCM_SHA256, prologue "calimero/sealed-http/v2",
//!            the node's static key = its attested X25519 transport key
//!   request  POST /sealed/v2/handshake   0x02 || transport_pk || Noise message 1 (e, es)
//!   response 0x02 || Noise message 2 (e, ee; payload = session_id(16) || lifetime u32 BE)
//!   keys     (request key, response key) = Split()
//! exchange   POST /sealed/v2, content-type application/vnd.calimero.sealed
//!   header   0x02 || session_id(16) || request_id (u64 BE; from 1, each used once)
//!   request  header || AES-256-GCM(request key, nonce = request_id || 0u32, aad = header,
//!            u32 BE head length || head JSON {method, path, headers} || body)
//!   response frames: u32 BE length || AES-256-GCM(response key,
//!            nonce = request_id || frame index (u32 BE, from 0), aad = header, kind || data)
//!            kind 0 = head {status, headers} (first frame), 1 = body bytes, 2 = end;
//!            at most 64 KiB of data a frame; no end frame = cut short
//! ```
//!
//! Written from the format's description in mero-js
//! (`src/sealed/sealed.ts@25161541`) and core (`crates/server/src/sealed.rs`);
//! the tests below reproduce the vectors both publish.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::BytesMut;
use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The Noise protocol, verbatim.
pub const NOISE_PARAMS: &str = "Noise_NK_25519_AESGCM_SHA256";
/// Binds every handshake to this protocol.
pub const PROLOGUE: &[u8] = b"calimero/sealed-http/v2";
/// The envelope version byte.
pub const VERSION: u8 = 2;
/// Where a session is opened, below the node's base URL.
pub const HANDSHAKE_PATH: &str = "/sealed/v2/handshake";
/// Where sealed requests go, below the node's base URL.
pub const SEALED_PATH: &str = "/sealed/v2";
/// The content type of every sealed body, both ways.
pub const CONTENT_TYPE: &str = "application/vnd.calimero.sealed";

pub const SESSION_ID_LEN: usize = 16;
/// `version || session_id || request_id`: a request's AAD and its frames'.
pub const HEADER_LEN: usize = 1 + SESSION_ID_LEN + 8;
pub const TAG_LEN: usize = 16;
/// The most data the node seals into one frame.
pub const MAX_FRAME_DATA: usize = 64 * 1024;
/// The largest frame the node sends (kind byte, data, tag); a larger length
/// is refused before anything of it is buffered.
pub const MAX_FRAME_LEN: usize = 1 + MAX_FRAME_DATA + TAG_LEN;
/// Far more than a handshake reply (69 bytes) ever is.
pub const MAX_HANDSHAKE_REPLY: usize = 1024;
/// The largest sealed request the node accepts (its `MAX_SEALED_BYTES`).
pub const MAX_SEALED_REQUEST: usize = 64 * 1024 * 1024;
/// The largest request head the node accepts.
pub const MAX_HEAD_LEN: usize = MAX_FRAME_DATA;

pub const FRAME_HEAD: u8 = 0;
pub const FRAME_DATA: u8 = 1;
pub const FRAME_END: u8 = 2;

/// Noise message 1 of NK: the ephemeral key and the tag of an empty payload.
const MESSAGE_1_LEN: usize = 32 + TAG_LEN;

/// Domain of the report-data binding of the transport key.
pub const TRANSPORT_BINDING_DOMAIN: &[u8] = b"calimero.tee-attest.transport-key.v1";

/// What went wrong with sealed bytes. Never holds any plaintext.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    /// Bytes that are not what the format says they are.
    #[error("{0}")]
    Malformed(String),
    /// Authentication failed: the bytes were not sealed by the attested node
    /// under this session (tampered, reordered, forged).
    #[error("{0}")]
    DidNotOpen(&'static str),
}

/// What the attest endpoint puts in report data bytes `32..64` when asked
/// to bind its transport key: SHA-256 over the domain, `inner` (the expected
/// application's bytecode hash, or 32 zero bytes) and the key.
pub fn transport_binding(inner: &[u8; 32], transport_key: &[u8; 32]) -> [u8; 32] {
    let mut hasher = Sha256::new();
    hasher.update(TRANSPORT_BINDING_DOMAIN);
    hasher.update(inner);
    hasher.update(transport_key);
    hasher.finalize().into()
}

/// An inner request's head, serialized in this field order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestHead {
    pub method: String,
    /// Origin-form, relative to the base URL, query included.
    pub path: String,
    pub headers: Vec<(String, String)>,
}

/// An inner response's head.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResponseHead {
    pub status: u16,
    #[serde(default)]
    pub headers: Vec<(String, String)>,
}

fn noise_builder() -> Result<snow::Builder<'static>, WireError> {
    let params = NOISE_PARAMS
        .parse()
        .map_err(|_| WireError::Malformed("the Noise parameters do not parse".into()))?;
    snow::Builder::new(params)
        .prologue(PROLOGUE)
        .map_err(|e| WireError::Malformed(format!("Noise: {e}")))
}

/// The client's half of a handshake in progress.
pub struct Initiator {
    state: snow::HandshakeState,
}

impl Initiator {
    /// Starts a handshake to `transport_key` with a fresh ephemeral key:
    /// the initiator, and the body of `POST /sealed/v2/handshake`.
    pub fn start(transport_key: &[u8; 32]) -> Result<(Self, Vec<u8>), WireError> {
        Self::start_with(transport_key, None)
    }

    /// [`Initiator::start`] with a fixed ephemeral secret: for the published
    /// vectors only.
    pub(crate) fn start_with(
        transport_key: &[u8; 32],
        ephemeral: Option<&[u8; 32]>,
    ) -> Result<(Self, Vec<u8>), WireError> {
        let noise = |e: snow::Error| WireError::Malformed(format!("Noise: {e}"));
        let mut builder = noise_builder()?
            .remote_public_key(transport_key)
            .map_err(noise)?;
        if let Some(secret) = ephemeral {
            builder = builder.fixed_ephemeral_key_for_testing_only(secret);
        }
        let mut state = builder.build_initiator().map_err(noise)?;
        let mut message = [0u8; MESSAGE_1_LEN];
        let len = state.write_message(&[], &mut message).map_err(noise)?;
        let mut body = Vec::with_capacity(1 + 32 + len);
        body.push(VERSION);
        body.extend_from_slice(transport_key);
        body.extend_from_slice(&message[..len]);
        Ok((Initiator { state }, body))
    }

    /// Finishes the handshake with the node's reply: the session it opened.
    /// A reply that does not open under the transport key came from someone
    /// else and is refused.
    pub fn finish(mut self, reply: &[u8]) -> Result<Session, WireError> {
        let malformed = || WireError::Malformed("the handshake reply is malformed".into());
        let (&version, message) = reply.split_first().ok_or_else(malformed)?;
        if version != VERSION {
            return Err(WireError::Malformed(format!(
                "the handshake reply is of version {version}, not {VERSION}"
            )));
        }
        let mut payload = [0u8; 64];
        let len = self
            .state
            .read_message(message, &mut payload)
            .map_err(|_| {
                WireError::DidNotOpen(
                    "the handshake reply did not open: it did not come from the node holding the \
                 attested transport key",
                )
            })?;
        if len != SESSION_ID_LEN + 4 {
            return Err(malformed());
        }
        let mut id = [0u8; SESSION_ID_LEN];
        id.copy_from_slice(&payload[..SESSION_ID_LEN]);
        let mut lifetime = [0u8; 4];
        lifetime.copy_from_slice(&payload[SESSION_ID_LEN..len]);
        let (mut request, mut response) = self.state.dangerously_get_raw_split();
        let keys = (aead_key(&request), aead_key(&response));
        wipe(&mut request);
        wipe(&mut response);
        Ok(Session {
            id,
            lifetime: Duration::from_secs(u64::from(u32::from_be_bytes(lifetime))),
            request_key: keys.0?,
            response_key: std::sync::Arc::new(keys.1?),
            next_request_id: AtomicU64::new(1),
        })
    }
}

fn wipe(key: &mut [u8; 32]) {
    key.fill(0);
    std::hint::black_box(key);
}

fn aead_key(key: &[u8; 32]) -> Result<LessSafeKey, WireError> {
    UnboundKey::new(&AES_256_GCM, key)
        .map(LessSafeKey::new)
        .map_err(|_| WireError::Malformed("bad AES-256-GCM key".into()))
}

/// `request_id || index`, as the node numbers them.
fn nonce(request_id: u64, index: u32) -> Nonce {
    let mut bytes = [0u8; 12];
    bytes[..8].copy_from_slice(&request_id.to_be_bytes());
    bytes[8..].copy_from_slice(&index.to_be_bytes());
    Nonce::assume_unique_for_key(bytes)
}

/// An open session: its id, its lifetime and its two keys.
pub struct Session {
    id: [u8; SESSION_ID_LEN],
    lifetime: Duration,
    request_key: LessSafeKey,
    response_key: std::sync::Arc<LessSafeKey>,
    next_request_id: AtomicU64,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("lifetime", &self.lifetime)
            .finish_non_exhaustive()
    }
}

/// One sealed request: its id, its header (the AAD of its response frames)
/// and the envelope to post.
pub struct Sealed {
    pub request_id: u64,
    pub header: [u8; HEADER_LEN],
    pub envelope: Vec<u8>,
}

impl Session {
    /// How long the node keeps the session, as it said.
    pub fn lifetime(&self) -> Duration {
        self.lifetime
    }

    fn header(&self, request_id: u64) -> [u8; HEADER_LEN] {
        let mut header = [0u8; HEADER_LEN];
        header[0] = VERSION;
        header[1..=SESSION_ID_LEN].copy_from_slice(&self.id);
        header[1 + SESSION_ID_LEN..].copy_from_slice(&request_id.to_be_bytes());
        header
    }

    /// Seals `head` and `body` under the session's next request id.
    pub fn seal(&self, head: &RequestHead, body: &[u8]) -> Result<Sealed, WireError> {
        let request_id = self.next_request_id.fetch_add(1, Ordering::Relaxed);
        self.seal_as(request_id, head, body)
    }

    fn seal_as(
        &self,
        request_id: u64,
        head: &RequestHead,
        body: &[u8],
    ) -> Result<Sealed, WireError> {
        let head = serde_json::to_vec(head)
            .map_err(|e| WireError::Malformed(format!("the request head: {e}")))?;
        if head.len() > MAX_HEAD_LEN {
            return Err(WireError::Malformed(format!(
                "the request's headers take {} bytes, more than the {MAX_HEAD_LEN} a sealed \
                 request carries",
                head.len()
            )));
        }
        let total = HEADER_LEN + 4 + head.len() + body.len() + TAG_LEN;
        if total > MAX_SEALED_REQUEST {
            return Err(WireError::Malformed(format!(
                "the request is {total} bytes sealed, more than the {MAX_SEALED_REQUEST} a node \
                 accepts in one sealed request"
            )));
        }
        let header = self.header(request_id);
        let mut envelope = Vec::with_capacity(total);
        envelope.extend_from_slice(&header);
        envelope.extend_from_slice(&(head.len() as u32).to_be_bytes());
        envelope.extend_from_slice(&head);
        envelope.extend_from_slice(body);
        let tag = self
            .request_key
            .seal_in_place_separate_tag(
                nonce(request_id, 0),
                Aad::from(&header),
                &mut envelope[HEADER_LEN..],
            )
            .map_err(|_| WireError::Malformed("the request could not be sealed".into()))?;
        envelope.extend_from_slice(tag.as_ref());
        Ok(Sealed {
            request_id,
            header,
            envelope,
        })
    }

    /// Opens the frames of the response to `sealed`.
    pub fn frames(&self, sealed: &Sealed) -> Frames {
        Frames {
            key: std::sync::Arc::clone(&self.response_key),
            header: sealed.header,
            request_id: sealed.request_id,
            index: 0,
            buffer: BytesMut::new(),
            ended: false,
        }
    }
}

/// One opened response frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    Head(ResponseHead),
    Data(Vec<u8>),
    End,
}

/// Splits a sealed response into frames and opens each, in order, as its
/// bytes arrive.
pub struct Frames {
    key: std::sync::Arc<LessSafeKey>,
    header: [u8; HEADER_LEN],
    request_id: u64,
    index: u32,
    buffer: BytesMut,
    ended: bool,
}

impl Frames {
    /// Adds bytes as they arrive.
    pub fn push(&mut self, bytes: &[u8]) {
        self.buffer.extend_from_slice(bytes);
    }

    /// Whether the end frame was opened.
    pub fn ended(&self) -> bool {
        self.ended
    }

    /// The next whole frame, opened; `None` until its bytes are all in. A
    /// frame that does not open, is out of order, or claims to be longer
    /// than any the node sends, is an error.
    pub fn next_frame(&mut self) -> Result<Option<Frame>, WireError> {
        if self.buffer.len() < 4 {
            return Ok(None);
        }
        let len = u32::from_be_bytes([
            self.buffer[0],
            self.buffer[1],
            self.buffer[2],
            self.buffer[3],
        ]) as usize;
        if !(1 + TAG_LEN..=MAX_FRAME_LEN).contains(&len) {
            return Err(WireError::Malformed(format!(
                "the sealed response is malformed: a frame of {len} bytes (the node sends \
                 {} to {MAX_FRAME_LEN})",
                1 + TAG_LEN
            )));
        }
        if self.buffer.len() < 4 + len {
            return Ok(None);
        }
        let mut frame = self.buffer.split_to(4 + len).split_off(4);
        let index = self.index;
        self.index = self.index.checked_add(1).ok_or_else(|| {
            WireError::Malformed("the sealed response has too many frames".into())
        })?;
        let plain = self
            .key
            .open_in_place(
                nonce(self.request_id, index),
                Aad::from(&self.header),
                &mut frame,
            )
            .map_err(|_| {
                WireError::DidNotOpen(
                    "a sealed response frame did not open: it was not sealed by the attested \
                     node for this request (tampered with, reordered or forged on the way)",
                )
            })?;
        let (&kind, data) = plain
            .split_first()
            .ok_or_else(|| WireError::Malformed("an empty sealed frame".into()))?;
        let frame = match (index, kind) {
            (0, FRAME_HEAD) => Frame::Head(serde_json::from_slice(data).map_err(|e| {
                WireError::Malformed(format!("the sealed response head is not JSON: {e}"))
            })?),
            (0, _) => {
                return Err(WireError::Malformed(
                    "the sealed response does not start with its head".into(),
                ))
            }
            (_, FRAME_DATA) => Frame::Data(data.to_vec()),
            (_, FRAME_END) if data.is_empty() => {
                self.ended = true;
                Frame::End
            }
            (_, kind) => {
                return Err(WireError::Malformed(format!(
                    "the sealed response has a frame of kind {kind} after its head"
                )))
            }
        };
        Ok(Some(frame))
    }
}

#[cfg(test)]
mod tests {
    //! The published vectors of the wire format, reproduced byte for byte.
    //!
    //! Source: calimero-network/core `crates/server/src/sealed/tests.rs`
    //! (`the_wire_format_matches_the_published_vectors`: transport secret
    //! 0x22 x 32, client ephemeral 0x33 x 32, node ephemeral 0x44 x 32,
    //! session id 0x55 x 16, request 1 = `POST /jsonrpc` with
    //! `content-type: application/json` and body `{}`, response 200
    //! `{"ok":true}`), repeated verbatim in calimero-network/mero-js
    //! `src/sealed/sealed.test.ts@c7fbe5b0`. The transport binding vector is
    //! core's `crates/tee-attestation/src/generate.rs`
    //! (`the_transport_binding_matches_the_published_vector`), also in
    //! mero-js. The node's half of the handshake is checked against these
    //! vectors in the test node (`crates/testnode/src/sealed.rs`).

    use super::*;

    pub(crate) const TRANSPORT_PUBLIC_VECTOR: &str =
        "0faa684ed28867b97f4a6a2dee5df8ce974e76b7018e3f22a1c4cf2678570f20";
    pub(crate) const HANDSHAKE_REQUEST_VECTOR: &str = concat!(
        "020faa684ed28867b97f4a6a2dee5df8ce974e76b7018e3f22a1c4cf2678570f207b0d47d93427f831116078",
        "1c7c733fd89f88970aef490d8aa0ee19a4cb8a1b1461fba335b4f3e9be8a34a61900e5b4be"
    );
    pub(crate) const HANDSHAKE_RESPONSE_VECTOR: &str = concat!(
        "02ff2ee45601ec1b67310c7790404585ae697331eee1c1f8cf2419731c1fff3e6b7d6339b7296bdc4778248f",
        "57126a10ee5b7fb39b0cb104dcbfcaaaf44d0e6017379638a4"
    );
    pub(crate) const SEALED_REQUEST_VECTOR: &str = concat!(
        "025555555555555555555555555555555500000000000000019fa4301264a48bdf6811cfb1d7c3dad713ede5",
        "ea1820608358ff2779cee1605efc3d97879f24d6cf302a7877beda552ca6714ef9d5496f978fdcdde522435c",
        "f663e4be5f60170e8eab74161a913608fe268e5352fcd3090d62e2a12c92b06b51885d43c4d83dcfe544"
    );
    pub(crate) const SEALED_RESPONSE_VECTOR: &str = concat!(
        "0000004f4873ec5a589a1e3585360440100bc00d20522fe35bac2221dcfe80341ce3069481d4794b801776f4",
        "a76188b81887eb83cfccd2981229af48a3820df924261b3ff12d4b29340ca07c392ed4e0ee4bed0000001cfa",
        "20a7633655179808da19e2fcbc81bc219262fc4f5406582834f549000000111426897864d7a92eec9261fe29",
        "93415592"
    );
    const TRANSPORT_BINDING_VECTOR: &str =
        "30274595433e8afc5d4035e30a2b599d93caf0d470867527f13dc6af92fa12a8";

    fn unhex(s: &str) -> Vec<u8> {
        hex::decode(s).unwrap()
    }

    fn transport_key() -> [u8; 32] {
        unhex(TRANSPORT_PUBLIC_VECTOR).try_into().unwrap()
    }

    fn vector_head() -> RequestHead {
        RequestHead {
            method: "POST".into(),
            path: "/jsonrpc".into(),
            headers: vec![("content-type".into(), "application/json".into())],
        }
    }

    /// The vector session: core's fixed client ephemeral key, and the
    /// node's recorded reply.
    fn vector_session() -> (Vec<u8>, Session) {
        let (initiator, request) =
            Initiator::start_with(&transport_key(), Some(&[0x33; 32])).unwrap();
        let session = initiator.finish(&unhex(HANDSHAKE_RESPONSE_VECTOR)).unwrap();
        (request, session)
    }

    #[test]
    fn the_handshake_request_is_the_published_vector() {
        let (request, _) = vector_session();
        assert_eq!(hex::encode(request), HANDSHAKE_REQUEST_VECTOR);
    }

    #[test]
    fn the_published_handshake_reply_opens_a_session_of_an_hour() {
        let (_, session) = vector_session();
        assert_eq!(session.id, [0x55; SESSION_ID_LEN]);
        assert_eq!(session.lifetime(), Duration::from_secs(3600));
    }

    #[test]
    fn the_sealed_request_is_the_published_vector() {
        let (_, session) = vector_session();
        let sealed = session.seal(&vector_head(), b"{}").unwrap();
        assert_eq!(sealed.request_id, 1, "ids start at 1");
        assert_eq!(hex::encode(&sealed.envelope), SEALED_REQUEST_VECTOR);
        assert_eq!(
            session.seal(&vector_head(), b"{}").unwrap().request_id,
            2,
            "each id is used once"
        );
    }

    #[test]
    fn the_published_response_opens_frame_by_frame() {
        let (_, session) = vector_session();
        let sealed = session.seal(&vector_head(), b"{}").unwrap();
        let mut frames = session.frames(&sealed);
        // Byte by byte: a frame opens only once all of it is in.
        let mut opened = Vec::new();
        for byte in unhex(SEALED_RESPONSE_VECTOR) {
            frames.push(&[byte]);
            while let Some(frame) = frames.next_frame().unwrap() {
                opened.push(frame);
            }
        }
        assert_eq!(
            opened,
            [
                Frame::Head(ResponseHead {
                    status: 200,
                    headers: vec![("content-type".into(), "application/json".into())],
                }),
                Frame::Data(b"{\"ok\":true}".to_vec()),
                Frame::End,
            ]
        );
        assert!(frames.ended());
    }

    #[test]
    fn the_transport_binding_is_the_published_vector() {
        assert_eq!(
            hex::encode(transport_binding(&[0x11; 32], &[0x22; 32])),
            TRANSPORT_BINDING_VECTOR
        );
    }

    #[test]
    fn a_forged_handshake_reply_is_refused() {
        let (initiator, _) = Initiator::start_with(&transport_key(), Some(&[0x33; 32])).unwrap();
        let mut forged = unhex(HANDSHAKE_RESPONSE_VECTOR);
        *forged.last_mut().unwrap() ^= 1;
        let err = initiator.finish(&forged).unwrap_err();
        assert!(matches!(err, WireError::DidNotOpen(_)), "{err}");
        // Addressed to another key, the published reply does not open either.
        let (other, _) = Initiator::start_with(&[0x09; 32], Some(&[0x33; 32])).unwrap();
        assert!(matches!(
            other.finish(&unhex(HANDSHAKE_RESPONSE_VECTOR)),
            Err(WireError::DidNotOpen(_))
        ));
    }

    #[test]
    fn a_tampered_or_reordered_frame_is_refused() {
        let (_, session) = vector_session();
        let sealed = session.seal(&vector_head(), b"{}").unwrap();
        let whole = unhex(SEALED_RESPONSE_VECTOR);

        let mut tampered = whole.clone();
        *tampered.last_mut().unwrap() ^= 1;
        let mut frames = session.frames(&sealed);
        frames.push(&tampered);
        assert!(matches!(frames.next_frame(), Ok(Some(Frame::Head(_)))));
        assert!(matches!(frames.next_frame(), Ok(Some(Frame::Data(_)))));
        assert!(matches!(frames.next_frame(), Err(WireError::DidNotOpen(_))));

        // The data frame moved before the head: its nonce no longer matches.
        let head_len = 4 + 0x4f;
        let mut swapped = whole[head_len..].to_vec();
        swapped.extend_from_slice(&whole[..head_len]);
        let mut frames = session.frames(&sealed);
        frames.push(&swapped);
        assert!(matches!(frames.next_frame(), Err(WireError::DidNotOpen(_))));

        // The frames of another request do not open under this one.
        let other = session.seal(&vector_head(), b"{}").unwrap();
        let mut frames = session.frames(&other);
        frames.push(&whole);
        assert!(matches!(frames.next_frame(), Err(WireError::DidNotOpen(_))));
    }

    #[test]
    fn a_frame_longer_than_the_node_sends_is_refused_before_it_is_buffered() {
        let (_, session) = vector_session();
        let sealed = session.seal(&vector_head(), b"").unwrap();
        let mut frames = session.frames(&sealed);
        frames.push(&[0xff, 0xff, 0xff, 0xff]);
        let err = frames.next_frame().unwrap_err();
        assert!(err.to_string().contains("malformed"), "{err}");
    }

    #[test]
    fn a_response_cut_before_its_end_frame_has_not_ended() {
        let (_, session) = vector_session();
        let sealed = session.seal(&vector_head(), b"{}").unwrap();
        let whole = unhex(SEALED_RESPONSE_VECTOR);
        let mut frames = session.frames(&sealed);
        frames.push(&whole[..whole.len() - (4 + 1 + TAG_LEN)]);
        while frames.next_frame().unwrap().is_some() {}
        assert!(!frames.ended());
    }

    #[test]
    fn requests_too_large_for_the_node_are_refused_before_sealing() {
        let (_, session) = vector_session();
        let big = vec![0u8; MAX_SEALED_REQUEST];
        let err = session.seal(&vector_head(), &big).err().unwrap();
        assert!(err.to_string().contains("more than"), "{err}");
    }
}
