//! Which release a connection speaks, found without the caller's help.
//!
//! A call is checked against what the connection knows of its node's
//! release ([`Knowledge`]): when every difference between releases that
//! could change the call's request (its route's releases, its arguments',
//! the id encoding of the ids it sends) is settled by what is known, the
//! request is built at once. Otherwise the connection probes the node once
//! (shared by every clone of the connection, one probe in flight at a time)
//! and builds the request for what it learnt. Answers teach it too: the
//! first answer carrying a `Hash` id tells the id encoding, and a route
//! that some releases lack answering 404 with an empty body (the router's
//! "no such route") tells that the node is older than the route.
//!
//! The probe (docs/node-releases.md):
//! 1. `GET /admin-api/identity`: its `publicKey` is base58 before rc.27 and
//!    hex from it; the keys it carries tell later releases apart
//!    ([`IDENTITY_KEYS`]). A node that has not yet taken part in a
//!    namespace answers 404 (node-api.md 1.2), and then:
//! 2. `GET /admin-api/contexts/11111111111111111111111111111111` (the
//!    all-zero id in base58): an rc.25 node parses it and answers 404
//!    "Context not found"; a node that wants hex ids refuses it with 400.
//!
//! What no answer tells apart is spoken as the newest release the span
//! allows; `node_version=` pins a release and sends no probe.

use serde_json::Value;

use crate::connection::Connection;
use crate::endpoints::{Endpoint, Kind};
use crate::error::Error;
use crate::release::{id_encoding_in, IdEncoding, Knowledge, Release, Span, HEX_IDS};
use crate::request::{prepare, ArgValue, Prepared};

/// Keys of `GET /admin-api/identity` and the release that added each: the
/// key's presence means at least that release, its absence an older one.
/// Sources: swift-sdk `rc29-node-identity.json`, `rc32-node-identity.json`
/// (recorded from live nodes). Only keys whose first release is known are
/// here: `deviceCertified` is not (absent at rc.32, already in core's
/// `identity/node_identity.res.json` as swift `Rc41SurfaceTests.swift`
/// quotes it), so it places nothing; nothing in the identity tells rc.41
/// from rc.83, and such a node is spoken to as the newest known release.
pub const IDENTITY_KEYS: &[(&str, u16)] = &[("deviceAgreementKey", 29), ("holdsAccountRoot", 32)];

/// The all-zero context id in base58 (probe step 2).
const ZERO_ID_BASE58: &str = "11111111111111111111111111111111";

/// One way to call a method: an entry of the table and the arguments for
/// it.
pub type Candidate = (&'static Endpoint, Vec<Option<ArgValue>>);

/// A call checked against what is known of the node's release.
#[derive(Debug)]
pub enum Checked {
    /// Built: what is known settles every difference that matters to it.
    Ready(Prepared),
    /// Valid, but its request depends on what is not yet known: the
    /// candidates whose arguments are valid.
    Pending(Vec<Candidate>),
}

/// The releases at which something that matters to this call changes.
fn boundaries(endpoint: &Endpoint, args: &[Option<ArgValue>]) -> Vec<u16> {
    let mut out: Vec<u16> = endpoint.releases.boundaries().collect();
    for (spec, value) in endpoint.args.iter().zip(args) {
        if value.is_none() && spec.default.is_none() {
            continue;
        }
        out.extend(spec.releases.boundaries());
        if value.is_some() && matches!(spec.kind, Kind::Id | Kind::Members) {
            out.push(HEX_IDS.0);
        }
    }
    out
}

impl Connection {
    /// What is known of the node's release now (no I/O).
    pub fn knowledge(&self) -> Knowledge {
        self.release_state().clone()
    }

    /// The release requests are built for now (no I/O).
    pub fn release(&self) -> Release {
        self.release_state().release()
    }

    fn release_state(&self) -> std::sync::MutexGuard<'_, Knowledge> {
        // A poisoned lock only means a panic elsewhere while it was held;
        // the knowledge itself is always consistent.
        self.inner_release()
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Narrows what is known of the release (and logs what it learnt).
    pub fn learn(&self, span: Span, why: impl Into<String>) -> bool {
        let why = why.into();
        let now = {
            let mut state = self.release_state();
            state
                .learn(span, why.clone())
                .then(|| state.span.describe())
        };
        // Logged after the lock is released: the Python binding's log
        // bridge waits for the GIL, and a thread holding the GIL may be
        // waiting for this lock (`check`, when a call is prepared): the
        // two would wait for each other for good.
        if let Some(now) = &now {
            log::debug!(target: "calimero::release", "node release {now}: {why}");
        }
        now.is_some()
    }

    /// Checks a call (no I/O): each candidate's arguments are validated
    /// (the first candidate's error when none is valid), and the request
    /// is built when what is known settles it.
    pub fn check(&self, candidates: Vec<Candidate>) -> Result<Checked, Error> {
        let knowledge = self.knowledge();
        self.choose(candidates, &knowledge, knowledge.pinned || knowledge.probed)
    }

    /// Builds a checked call, probing the node first when its request
    /// depends on a release not yet known.
    pub async fn resolve(&self, checked: Checked) -> Result<Prepared, Error> {
        match checked {
            Checked::Ready(p) => Ok(p),
            Checked::Pending(candidates) => {
                self.detect().await?;
                let knowledge = self.knowledge();
                match self.choose(candidates, &knowledge, true)? {
                    Checked::Ready(p) => Ok(p),
                    Checked::Pending(_) => Err(Error::Internal(
                        "the node's release could not be settled".into(),
                    )),
                }
            }
        }
    }

    fn choose(
        &self,
        candidates: Vec<Candidate>,
        knowledge: &Knowledge,
        final_: bool,
    ) -> Result<Checked, Error> {
        let release = knowledge.release();
        let mut first_invalid = None;
        let mut first_unsupported = None;
        let mut ready = None;
        let mut settled = true;
        let mut valid = Vec::with_capacity(candidates.len());
        for (endpoint, args) in candidates {
            match prepare(endpoint, &args, self.next_rpc_id(), release) {
                Ok(p) => {
                    if ready.is_none() {
                        ready = Some(p);
                    }
                }
                Err(e @ Error::Unsupported { .. }) => {
                    if first_unsupported.is_none() {
                        first_unsupported = Some(e);
                    }
                }
                Err(e) => {
                    // Of several forms, the refusal that got furthest into
                    // its arguments says best what is wrong.
                    let at = position(endpoint, &e);
                    if first_invalid.as_ref().is_none_or(|(best, _)| at > *best) {
                        first_invalid = Some((at, e));
                    }
                    continue;
                }
            }
            if !final_
                && !boundaries(endpoint, &args)
                    .into_iter()
                    .all(|b| knowledge.span.settles(b))
            {
                settled = false;
            }
            valid.push((endpoint, args));
        }
        if valid.is_empty() {
            return Err(first_invalid
                .map(|(_, e)| e)
                .unwrap_or_else(|| Error::Internal("a call without a candidate".into())));
        }
        if !settled {
            return Ok(Checked::Pending(valid));
        }
        match (ready, first_unsupported) {
            (Some(p), _) => Ok(Checked::Ready(p)),
            (None, Some(Error::Unsupported { call, releases, .. })) => Err(Error::Unsupported {
                call,
                releases,
                node: describe_node(knowledge),
            }),
            (None, Some(other)) => Err(other),
            (None, None) => Err(Error::Internal("no candidate was built".into())),
        }
    }

    /// Probes the node's release once for this connection (and all its
    /// clones); later calls return at once.
    pub async fn detect(&self) -> Result<Knowledge, Error> {
        let _one_at_a_time = self.probe_lock().lock().await;
        {
            let k = self.release_state();
            if k.pinned || k.probed {
                return Ok(k.clone());
            }
        }
        let identity = self.probe_get("/admin-api/identity").await?;
        if let Some((span, why)) = identity
            .as_ref()
            .and_then(|(status, body)| (*status == 200).then(|| identity_span(body)).flatten())
        {
            self.learn(span, why);
        }
        if !self.release_state().span.settles(HEX_IDS.0) {
            let path = format!("/admin-api/contexts/{ZERO_ID_BASE58}");
            if let Some((status, _)) = self.probe_get(&path).await? {
                match status {
                    404 => {
                        self.learn(
                            IdEncoding::Base58.span(),
                            format!("probe GET {path}: 404, the node parses base58 ids"),
                        );
                    }
                    400 => {
                        self.learn(
                            IdEncoding::Hex.span(),
                            format!("probe GET {path}: 400, the node refuses base58 ids"),
                        );
                    }
                    _ => {}
                }
            }
        }
        let mut k = self.release_state();
        k.probed = true;
        if k.span.min.0 == 0 && k.span.max.0 == u16::MAX {
            k.evidence
                .push("the probe told nothing: spoken as the newest known release".into());
        }
        Ok(k.clone())
    }

    /// The release to write ids for: when `ids` and the id encoding is not
    /// known yet, after the probe.
    pub async fn release_for_ids(&self, ids: bool) -> Result<Release, Error> {
        if ids && !self.release_state().span.settles(HEX_IDS.0) {
            self.detect().await?;
        }
        Ok(self.release())
    }

    /// One probe request: `Some((status, body))` for any answer (a failure
    /// status included), `None` for none; network and authentication
    /// failures are the call's own failure and raise. A 403 is an answer
    /// that teaches nothing: a scoped token may be refused the probe's
    /// routes and still be allowed the call the probe was made for.
    async fn probe_get(&self, path: &str) -> Result<Option<(u16, bytes::Bytes)>, Error> {
        let url = self.node_url(path)?;
        self.release_state().probe_requests += 1;
        match self.execute("GET", url, None, true).await {
            Ok(reply) => Ok(Some((reply.status, reply.body))),
            Err(Error::Http(h)) if !matches!(h.status, 401 | 407) => {
                Ok(Some((h.status, bytes::Bytes::from(h.body.into_bytes()))))
            }
            Err(e) => Err(e),
        }
    }

    /// Learns from an answer: the id encoding, while it is not known.
    pub(crate) fn learn_from_reply(&self, body: &[u8], name: &str) {
        if self.release_state().span.settles(HEX_IDS.0) {
            return;
        }
        if let Some(enc) = id_encoding_in(body) {
            let how = match enc {
                IdEncoding::Base58 => "base58",
                IdEncoding::Hex => "hex",
            };
            self.learn(enc.span(), format!("the answer to {name}() has {how} ids"));
        }
    }

    /// A failure of a route some releases lack: when the router answered
    /// that it has no such route (404 or 405 with an empty body), the node
    /// is older than the route and the call is unsupported.
    pub(crate) fn route_missing(&self, prepared: &Prepared, err: Error) -> Error {
        let since = prepared.releases.since;
        let missing = matches!(&err, Error::Http(h)
            if matches!(h.status, 404 | 405) && h.body.trim().is_empty());
        if !missing || since.0 == 0 {
            return err;
        }
        let known = self.release_state().span;
        if known.min >= since {
            return err;
        }
        self.learn(
            Span {
                min: Release(0),
                max: Release(since.0 - 1),
            },
            format!("{}(): the node has no such route", prepared.name),
        );
        Error::Unsupported {
            call: format!("{}()", prepared.name),
            releases: prepared.releases.describe(),
            node: describe_node(&self.knowledge()),
        }
    }
}

/// Where in `endpoint`'s arguments a refusal is (0 for other errors, and
/// for a package name that is a URL: that value is meant for the `url` of
/// another form, whose refusal says more).
fn position(endpoint: &Endpoint, err: &Error) -> usize {
    match err {
        Error::InvalidArgument { argument, .. } => endpoint
            .args
            .iter()
            .position(|a| a.name == argument)
            .filter(|i| endpoint.args[*i].kind != Kind::Package)
            .map_or(0, |i| i + 1),
        _ => 0,
    }
}

/// "the node runs 0.11.0-rc.25 (probe GET /admin-api/identity: ...)".
fn describe_node(k: &Knowledge) -> String {
    let why = k.evidence.last().map(String::as_str).unwrap_or("assumed");
    let span = k.span;
    if span.min == span.max {
        format!("the node runs {} ({why})", span.min)
    } else {
        format!(
            "the node runs {} and is spoken to as {} ({why}); pin it with \
             node_version= if that is wrong",
            span.describe(),
            k.release()
        )
    }
}

/// What an identity answer tells of the release.
pub fn identity_span(body: &[u8]) -> Option<(Span, String)> {
    let value: Value = serde_json::from_slice(body).ok()?;
    let data = value.get("data").unwrap_or(&value).as_object()?;
    let key = data.get("publicKey")?.as_str()?;
    let enc = id_encoding_in(format!("{{\"publicKey\":\"{key}\"}}").as_bytes())?;
    let mut span = enc.span();
    let mut why = vec![format!(
        "publicKey is {}",
        if enc == IdEncoding::Hex {
            "hex"
        } else {
            "base58"
        }
    )];
    if enc == IdEncoding::Hex {
        for (name, since) in IDENTITY_KEYS {
            let part = if data.contains_key(*name) {
                why.push(format!("{name} present"));
                Span {
                    min: Release(*since),
                    max: Release(u16::MAX),
                }
            } else {
                why.push(format!("no {name}"));
                Span {
                    min: Release(0),
                    max: Release(since - 1),
                }
            };
            span = span.and(part)?;
        }
    }
    Some((
        span,
        format!("probe GET /admin-api/identity: {}", why.join(", ")),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identity_answers_place_the_release() {
        let rc25 = br#"{"data":{"accountId":"ab","publicKey":"EMtpXdHZQLiqyPVVAzJWbnishYR1gPTvKKtWD3e2V6zo"}}"#;
        let (span, why) = identity_span(rc25).unwrap();
        assert_eq!(span, IdEncoding::Base58.span());
        assert!(why.contains("base58"), "{why}");
        let hex = "699c99ea0a2997fb0826b12f6689df76d58763d2fb794f9a2d147f2e580794d1";
        let rc32 = format!(
            r#"{{"data":{{"publicKey":"{hex}","deviceAgreementKey":"x","holdsAccountRoot":true}}}}"#
        );
        let (span, _) = identity_span(rc32.as_bytes()).unwrap();
        assert_eq!(span.describe(), "0.11.0-rc.32 or newer");
        // `deviceCertified` (rc.41 at the latest) places nothing more.
        let rc83 = format!(
            r#"{{"data":{{"publicKey":"{hex}","deviceAgreementKey":"x","holdsAccountRoot":true,"deviceCertified":true}}}}"#
        );
        assert_eq!(identity_span(rc83.as_bytes()).unwrap().0, span);
        let rc29 = format!(r#"{{"data":{{"publicKey":"{hex}","deviceAgreementKey":"x"}}}}"#);
        assert_eq!(
            identity_span(rc29.as_bytes()).unwrap().0.describe(),
            "0.11.0-rc.29 to 0.11.0-rc.31"
        );
        assert!(identity_span(b"{\"error\":\"x\"}").is_none());
    }
}
