//! TEE attestation: which quotes a client trusts ([`TeePolicy`]), Intel DCAP
//! quote verification (the `dcap-qvl` crate), and the attestation of a
//! node's transport key that a sealed connection starts with.
//!
//! A quote proves what runs in a TD only once it is checked: its signature
//! chain up to Intel's root and the platform's TCB status (against Intel's
//! collateral), the image's measurements (MRTD, which on most clouds only
//! measures the TD firmware every image shares, and RTMR1-3, which measure
//! the image), and its report data, which must be the client's fresh nonce
//! and the binding of the transport key the client then seals to:
//!
//! ```text
//! report_data = nonce(32) || SHA-256("calimero.tee-attest.transport-key.v1"
//!                                    || (application bytecode hash | 0^32)
//!                                    || transport_public_key)
//! ```
//!
//! Collateral is what the node returns with its quote (`includeCollateral`;
//! a node cannot forge Intel's signatures on it, only pick which valid
//! collateral to serve) or what the caller supplies. This module never
//! fetches anything from Intel or anyone else. Mock quotes (`MOCK_TDX_QUOTE_V1`,
//! from nodes run with `--mock-tee`) are never accepted.

use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use serde_json::Value;

use crate::connection::Connection;
use crate::error::Error;
use crate::ids::shown;
use crate::sealed::wire::transport_binding;

/// The length of a TDX measurement register.
pub const MEASUREMENT_LEN: usize = 48;
/// One measurement register's value.
pub type Measurement = [u8; MEASUREMENT_LEN];

/// The TCB statuses DCAP reports, spelled as it spells them. `Revoked` is
/// never accepted and so is not among them.
pub const TCB_STATUSES: &[&str] = &[
    "UpToDate",
    "SWHardeningNeeded",
    "ConfigurationNeeded",
    "ConfigurationAndSWHardeningNeeded",
    "OutOfDate",
    "OutOfDateConfigurationNeeded",
    "TDRelaunchAdvised",
    "TDRelaunchAdvisedConfigurationNeeded",
];

/// What the node's attestation endpoint answers for a mock quote.
pub const MOCK_QUOTE_HEADER: &[u8] = b"MOCK_TDX_QUOTE_V1";

/// Where a node attests, below its base URL.
pub const ATTEST_PATH: &str = "/admin-api/tee/attest";
/// Far more than an attestation answer ever is (a quote, its collateral).
const MAX_ATTEST_ANSWER: u64 = 1024 * 1024;

/// One image, by all of its measurements: a quote matches it only when
/// every register does, so registers of different images never combine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Image {
    pub mrtd: Measurement,
    /// RTMR0 to RTMR3.
    pub rtmr: [Measurement; 4],
}

/// Which TEE nodes a client trusts: the measurements of the images it
/// accepts, the TCB statuses it accepts, and optionally the application the
/// node must run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TeePolicy {
    /// Whole images (from releases); when not empty, a quote must be one.
    images: Vec<Image>,
    allowed_mrtd: Vec<Measurement>,
    /// RTMR0 to RTMR3; an empty list is not checked (only RTMR0 may be).
    allowed_rtmr: [Vec<Measurement>; 4],
    /// Canonical spellings, from [`TCB_STATUSES`].
    tcb_statuses: Vec<&'static str>,
    /// The application id the node is asked to bind, and its bytecode hash.
    application: Option<(String, [u8; 32])>,
}

/// The intel-signed collateral a quote is verified against: TCB info, QE
/// identity, CRLs and their issuer chains, in dcap-qvl's JSON form (what a
/// node returns with `includeCollateral`).
#[derive(Clone, PartialEq, Eq)]
pub struct Collateral(dcap_qvl::QuoteCollateralV3);

impl std::fmt::Debug for Collateral {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Collateral").finish_non_exhaustive()
    }
}

impl Collateral {
    /// Parses collateral in dcap-qvl's JSON form (byte fields as hex).
    pub fn from_json(argument: &str, value: &Value) -> Result<Self, Error> {
        serde_json::from_value(value.clone())
            .map(Collateral)
            .map_err(|e| {
                Error::invalid(
                    argument,
                    format!("expected DCAP collateral in dcap-qvl's JSON form: {e}"),
                )
            })
    }
}

/// What a verified quote says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedQuote {
    /// The platform's TCB status, as DCAP reports it (`UpToDate`, ...).
    pub tcb_status: String,
    pub advisory_ids: Vec<String>,
    pub mrtd: Measurement,
    /// RTMR0 to RTMR3.
    pub rtmr: [Measurement; 4],
    pub report_data: [u8; 64],
}

fn measurement(argument: &str, value: &str) -> Result<Measurement, Error> {
    let mut out = [0u8; MEASUREMENT_LEN];
    let trimmed = value.trim();
    if trimmed.len() != 2 * MEASUREMENT_LEN || hex::decode_to_slice(trimmed, &mut out).is_err() {
        return Err(Error::invalid(
            argument,
            format!(
                "expected a 48-byte measurement as 96 hexadecimal characters, got {}",
                shown(value)
            ),
        ));
    }
    Ok(out)
}

fn measurements(argument: &str, values: &[String]) -> Result<Vec<Measurement>, Error> {
    let mut out = Vec::with_capacity(values.len());
    for value in values {
        let m = measurement(argument, value)?;
        if !out.contains(&m) {
            out.push(m);
        }
    }
    Ok(out)
}

/// The canonical spelling of a TCB status, in any case.
fn tcb_status(argument: &str, value: &str) -> Result<&'static str, Error> {
    if value.eq_ignore_ascii_case("revoked") {
        return Err(Error::invalid(
            argument,
            "a Revoked platform is never trusted; leave it out",
        ));
    }
    TCB_STATUSES
        .iter()
        .find(|s| s.eq_ignore_ascii_case(value.trim()))
        .copied()
        .ok_or_else(|| {
            Error::invalid(
                argument,
                format!(
                    "expected TCB statuses among {}, got {}",
                    TCB_STATUSES.join(", "),
                    shown(value)
                ),
            )
        })
}

fn application(
    application_id: Option<&str>,
    application_hash: Option<&str>,
) -> Result<Option<(String, [u8; 32])>, Error> {
    if let Some(id) = application_id {
        crate::ids::base58_32("application_id", id)?;
    }
    let hash = application_hash
        .map(|hash| crate::ids::base58_or_hex_32("application_hash", hash))
        .transpose()?;
    match (application_id, hash) {
        (None, None) => Ok(None),
        (Some(id), Some(hash)) => Ok(Some((id.to_owned(), hash))),
        (Some(_), None) => Err(Error::invalid(
            "application_hash",
            "expected the bytecode hash the application must have, with application_id: the \
             node binds its application's hash into the quote, and without the expected one \
             the binding cannot be checked",
        )),
        (None, Some(_)) => Err(Error::invalid(
            "application_id",
            "expected the application whose bytecode hash application_hash is: the node binds \
             an application only when asked for it by id",
        )),
    }
}

fn hex48(m: &Measurement) -> String {
    hex::encode(m)
}

impl TeePolicy {
    /// A policy from allowlists (hex). `allowed_mrtd` and `allowed_rtmr1`
    /// to `allowed_rtmr3` are required: the MRTD measures the TD firmware,
    /// which images share, and the image itself is in RTMR1-3, so a policy
    /// without them would trust any image. `allowed_rtmr0` is checked when
    /// given. `allowed_tcb_statuses` defaults to `UpToDate`.
    /// `application_id` with `application_hash` (base58 or hex) also
    /// requires the node to run that application with exactly that bytecode.
    pub fn new(
        allowed_mrtd: &[String],
        allowed_rtmr: [Option<&[String]>; 4],
        allowed_tcb_statuses: Option<&[String]>,
        application_id: Option<&str>,
        application_hash: Option<&str>,
    ) -> Result<Self, Error> {
        let application = application(application_id, application_hash)?;
        let allowed_mrtd = measurements("allowed_mrtd", allowed_mrtd)?;
        if allowed_mrtd.is_empty() {
            return Err(Error::invalid(
                "allowed_mrtd",
                "expected at least one MRTD: a policy that allows none refuses every node",
            ));
        }
        let mut rtmr: [Vec<Measurement>; 4] = Default::default();
        for (i, list) in allowed_rtmr.iter().enumerate() {
            let name = format!("allowed_rtmr{i}");
            rtmr[i] = measurements(&name, list.unwrap_or_default())?;
            if i > 0 && rtmr[i].is_empty() {
                return Err(Error::invalid(
                    &name,
                    "expected at least one value: the MRTD measures the TD firmware, which \
                     every image on a platform shares, and the image is measured in RTMR1-3, \
                     so allowed_rtmr1, allowed_rtmr2 and allowed_rtmr3 are all required \
                     (TeePolicy.from_releases reads them from a release)",
                ));
            }
        }
        let tcb_statuses = match allowed_tcb_statuses {
            None => vec!["UpToDate"],
            Some(list) => {
                let mut out = Vec::new();
                for status in list {
                    let s = tcb_status("allowed_tcb_statuses", status)?;
                    if !out.contains(&s) {
                        out.push(s);
                    }
                }
                if out.is_empty() {
                    return Err(Error::invalid(
                        "allowed_tcb_statuses",
                        "expected at least one status: none would refuse every node",
                    ));
                }
                out
            }
        };
        Ok(TeePolicy {
            images: Vec::new(),
            allowed_mrtd,
            allowed_rtmr: rtmr,
            tcb_statuses,
            application,
        })
    }

    /// The policy that trusts exactly one profile of the given mero-tee
    /// releases (each release's `published-mrtds.json`, parsed): each
    /// release's image by all five of its registers, and only the TCB
    /// statuses every one of those releases accepts. Pass every release a
    /// node may run (during a rollout, the old one and the new one).
    pub fn from_releases(
        releases: &[Value],
        profile: &str,
        application_id: Option<&str>,
        application_hash: Option<&str>,
    ) -> Result<Self, Error> {
        let bad = |what: String| Error::invalid("releases", what);
        crate::ids::text("profile", profile, 256)?;
        let application = application(application_id, application_hash)?;
        if releases.is_empty() {
            return Err(bad(
                "expected at least one release (its published-mrtds.json)".into(),
            ));
        }
        let mut images = Vec::new();
        let mut statuses: Option<Vec<&'static str>> = None;
        for (index, release) in releases.iter().enumerate() {
            let Some(release) = release.as_object() else {
                return Err(bad(format!(
                    "releases[{index}]: expected a published-mrtds.json object"
                )));
            };
            let name = match release.get("tag").and_then(Value::as_str) {
                Some(tag) => format!("release {tag}"),
                None => format!("releases[{index}]"),
            };
            match release.get("role") {
                None => {}
                Some(Value::String(role)) if role == "node" => {}
                Some(role) => {
                    return Err(bad(format!(
                        "{name} lists the measurements of a {role}, not of a node image"
                    )))
                }
            }
            let profiles = release.get("profiles").and_then(Value::as_object);
            let Some(image) = profiles.and_then(|p| p.get(profile)) else {
                let known = profiles
                    .map(|p| p.keys().cloned().collect::<Vec<_>>().join(", "))
                    .unwrap_or_default();
                return Err(bad(format!(
                    "{name} has no profile {profile:?} (it has: {})",
                    if known.is_empty() { "none" } else { &known }
                )));
            };
            let register = |key: &str| -> Result<Measurement, Error> {
                let value = image.get(key).and_then(Value::as_str).ok_or_else(|| {
                    bad(format!(
                        "{name}: profile {profile:?} has no {key} measurement"
                    ))
                })?;
                measurement(&format!("releases ({name}, {key})"), value)
            };
            images.push(Image {
                mrtd: register("mrtd")?,
                rtmr: [
                    register("rtmr0")?,
                    register("rtmr1")?,
                    register("rtmr2")?,
                    register("rtmr3")?,
                ],
            });
            let accepted = match image.get("allowed_tcb_statuses") {
                None | Some(Value::Null) => vec!["UpToDate"],
                Some(Value::Array(list)) => {
                    let mut out = Vec::new();
                    for status in list {
                        let text = status.as_str().unwrap_or_default();
                        let known = TCB_STATUSES
                            .iter()
                            .find(|s| s.eq_ignore_ascii_case(text))
                            .ok_or_else(|| {
                                bad(format!(
                                    "{name} accepts TCB status {status}, which is not one \
                                     DCAP reports (or is Revoked, never trusted)"
                                ))
                            })?;
                        out.push(*known);
                    }
                    out
                }
                Some(other) => {
                    return Err(bad(format!(
                        "{name}: allowed_tcb_statuses is {other}, not a list"
                    )))
                }
            };
            statuses = Some(match statuses {
                None => accepted,
                Some(so_far) => so_far
                    .into_iter()
                    .filter(|s| accepted.contains(s))
                    .collect(),
            });
        }
        let tcb_statuses = statuses.unwrap_or_default();
        if tcb_statuses.is_empty() {
            return Err(bad(
                "the releases given accept no TCB status in common".into()
            ));
        }
        let mut allowed_mrtd = Vec::new();
        let mut allowed_rtmr: [Vec<Measurement>; 4] = Default::default();
        for image in &images {
            if !allowed_mrtd.contains(&image.mrtd) {
                allowed_mrtd.push(image.mrtd);
            }
            for (list, value) in allowed_rtmr.iter_mut().zip(image.rtmr) {
                if !list.contains(&value) {
                    list.push(value);
                }
            }
        }
        Ok(TeePolicy {
            images,
            allowed_mrtd,
            allowed_rtmr,
            tcb_statuses,
            application,
        })
    }

    /// The MRTDs accepted, hex.
    pub fn allowed_mrtd(&self) -> Vec<String> {
        self.allowed_mrtd.iter().map(hex48).collect()
    }

    /// The values of RTMR`index` accepted, hex; empty when it is not checked.
    pub fn allowed_rtmr(&self, index: usize) -> Vec<String> {
        self.allowed_rtmr
            .get(index)
            .map(|l| l.iter().map(hex48).collect())
            .unwrap_or_default()
    }

    /// The whole images accepted (a policy from releases), hex registers.
    pub fn images(&self) -> &[Image] {
        &self.images
    }

    /// The TCB statuses accepted.
    pub fn allowed_tcb_statuses(&self) -> Vec<String> {
        self.tcb_statuses.iter().map(|s| (*s).to_owned()).collect()
    }

    /// The application pinned, if any: its id, and its bytecode hash (hex).
    pub fn application(&self) -> Option<(&str, String)> {
        self.application
            .as_ref()
            .map(|(id, hash)| (id.as_str(), hex::encode(hash)))
    }

    /// What the node puts in report data bytes `32..64` when asked to bind
    /// `transport_key` under this policy.
    pub fn report_data_suffix(&self, transport_key: &[u8; 32]) -> [u8; 32] {
        let inner = self.application.as_ref().map_or([0u8; 32], |(_, h)| *h);
        transport_binding(&inner, transport_key)
    }

    /// Verifies `quote` against `collateral` as of `now_secs` (Unix time)
    /// and applies the policy: a genuine TDX quote, from a platform whose TCB
    /// status is accepted, of an accepted image, and (when given) carrying
    /// exactly `report_data`. Errors are [`Error::Attestation`].
    pub fn verify_quote(
        &self,
        quote: &[u8],
        collateral: &Collateral,
        now_secs: u64,
        report_data: Option<&[u8; 64]>,
    ) -> Result<VerifiedQuote, Error> {
        let refuse = |message: String| Error::Attestation { message };
        refuse_mock(quote)?;
        let verified = dcap_qvl::verify::QuoteVerifier::new_prod()
            .verify(quote, &collateral.0, now_secs)
            .map_err(|e| refuse(format!("the quote did not verify: {e:#}")))?;
        let Some(td) = verified.report.as_td10() else {
            return Err(refuse(
                "the quote is an SGX enclave's, not a TDX TD's".into(),
            ));
        };
        let status = verified.status.as_str();
        if status.eq_ignore_ascii_case("revoked")
            || !self
                .tcb_statuses
                .iter()
                .any(|s| s.eq_ignore_ascii_case(status))
        {
            return Err(refuse(format!(
                "the platform's TCB status is {status}, which the policy does not accept \
                 (it accepts {})",
                self.tcb_statuses.join(", ")
            )));
        }
        let quoted = Image {
            mrtd: td.mr_td,
            rtmr: [td.rt_mr0, td.rt_mr1, td.rt_mr2, td.rt_mr3],
        };
        let described = || {
            format!(
                "MRTD {}, RTMR0 {}, RTMR1 {}, RTMR2 {}, RTMR3 {}",
                hex48(&quoted.mrtd),
                hex48(&quoted.rtmr[0]),
                hex48(&quoted.rtmr[1]),
                hex48(&quoted.rtmr[2]),
                hex48(&quoted.rtmr[3])
            )
        };
        if !self.images.is_empty() && !self.images.contains(&quoted) {
            return Err(refuse(format!(
                "the measurements ({}) are not those of an image the policy trusts",
                described()
            )));
        }
        if !self.allowed_mrtd.contains(&quoted.mrtd) {
            return Err(refuse(format!(
                "MRTD {} is not one the policy allows",
                hex48(&quoted.mrtd)
            )));
        }
        for (i, (allowed, value)) in self.allowed_rtmr.iter().zip(&quoted.rtmr).enumerate() {
            if !allowed.is_empty() && !allowed.contains(value) {
                return Err(refuse(format!(
                    "RTMR{i} {} is not one the policy allows",
                    hex48(value)
                )));
            }
        }
        if let Some(expected) = report_data {
            if td.report_data != *expected {
                return Err(refuse(
                    "the quote does not commit to this request's nonce and transport-key \
                     binding: it was made for someone else, or the key it was sent with is \
                     not the one the TD holds"
                        .into(),
                ));
            }
        }
        Ok(VerifiedQuote {
            tcb_status: verified.status.clone(),
            advisory_ids: verified.advisory_ids.clone(),
            mrtd: quoted.mrtd,
            rtmr: quoted.rtmr,
            report_data: td.report_data,
        })
    }
}

/// Refuses a mock quote outright, whatever else is wrong with it.
pub fn refuse_mock(quote: &[u8]) -> Result<(), Error> {
    if quote.starts_with(MOCK_QUOTE_HEADER) {
        return Err(Error::Attestation {
            message: "the node sent a mock quote (MOCK_TDX_QUOTE_V1, from a node run with \
                      --mock-tee or without TDX): it carries no signature and proves nothing, \
                      so it is never accepted"
                .into(),
        });
    }
    Ok(())
}

/// The current Unix time in seconds.
pub(crate) fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Asks the node for a quote binding its transport key to a fresh nonce,
/// verifies it under `policy` and returns the key. Sent in the clear (there
/// is nothing to seal to yet) through `http`: what comes back is trusted
/// because the quote commits to it, not because of how it arrived.
pub(crate) async fn attest(
    conn: &Connection,
    http: &reqwest::Client,
    policy: &TeePolicy,
    collateral: Option<&Collateral>,
) -> Result<[u8; 32], Error> {
    let refuse = |message: String| Error::Attestation { message };
    let mut nonce = [0u8; 32];
    ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut nonce)
        .map_err(|_| Error::Internal("the system random number generator failed".into()))?;
    let mut body = serde_json::Map::new();
    body.insert("nonce".into(), Value::String(hex::encode(nonce)));
    if let Some((id, _)) = &policy.application {
        body.insert("applicationId".into(), Value::String(id.clone()));
    }
    body.insert("bindTransportKey".into(), Value::Bool(true));
    // Asked for only when needed: a node that predates the field refuses it.
    if collateral.is_none() {
        body.insert("includeCollateral".into(), Value::Bool(true));
    }
    let url = conn.node_url(ATTEST_PATH)?;
    let shown_url = crate::connection::redact(&url);
    let response = http
        .post(url)
        .timeout(conn.timeout())
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .body(Value::Object(body).to_string())
        .send()
        .await
        .map_err(|e| crate::connection::transport_error("POST", &shown_url, &e))?;
    let reply =
        crate::connection::read_response("POST", &shown_url, response, MAX_ATTEST_ANSWER).await?;
    let answer: Value = reply.json()?;
    let data = answer.get("data").unwrap_or(&Value::Null);
    let quote = data
        .get("quoteB64")
        .and_then(Value::as_str)
        .ok_or_else(|| reply.malformed("the attestation has no quoteB64"))?;
    let quote = base64::engine::general_purpose::STANDARD
        .decode(quote)
        .map_err(|e| reply.malformed(&format!("the quote is not base64: {e}")))?;
    let key = match data.get("transportPublicKey").and_then(Value::as_str) {
        Some(key) => crate::ids::hex_32("transportPublicKey", key).map_err(|e| {
            reply.malformed(&format!(
                "the node's transport key is not 32 bytes of hex: {e}"
            ))
        })?,
        None => {
            return Err(refuse(
                "the node did not report a transport key: it predates the sealed transport \
                 (bindTransportKey), so nothing can be sealed to it"
                    .into(),
            ))
        }
    };
    refuse_mock(&quote)?;
    let from_node;
    let collateral = match collateral {
        Some(c) => c,
        None => match data.get("collateral").filter(|c| !c.is_null()) {
            Some(c) => {
                from_node = Collateral::from_json("collateral", c)
                    .map_err(|e| refuse(format!("the node's collateral is malformed: {e}")))?;
                &from_node
            }
            None => {
                return Err(refuse(
                    "the node sent no collateral for its quote (it predates \
                     includeCollateral), and none was given: pass tee_collateral"
                        .into(),
                ))
            }
        },
    };
    let mut expected = [0u8; 64];
    expected[..32].copy_from_slice(&nonce);
    expected[32..].copy_from_slice(&policy.report_data_suffix(&key));
    policy.verify_quote(&quote, collateral, now_secs(), Some(&expected))?;
    Ok(key)
}

#[cfg(test)]
mod tests {
    //! Verification of a recorded TDX quote, with the Intel-signed
    //! collateral recorded for it: `sample/tdx_quote` and
    //! `sample/tdx_quote_collateral.json` of the dcap-qvl crate (0.7.1,
    //! MIT), which core's `crates/tee-attestation/tests/fixtures/` and
    //! mero-js's `src/sealed/verify.test.ts` test against as well. Copies
    //! are in `tests/data/tee/` with their provenance.

    use super::*;

    const QUOTE: &[u8] = include_bytes!("../../../tests/data/tee/tdx_quote");
    const COLLATERAL: &str = include_str!("../../../tests/data/tee/tdx_quote_collateral.json");
    /// Inside the collateral's validity window (2025-06-27).
    const AT: u64 = 1_751_000_000;

    fn collateral() -> Collateral {
        Collateral::from_json("collateral", &serde_json::from_str(COLLATERAL).unwrap()).unwrap()
    }

    /// The recorded quote's own registers, read from the quote's TD report
    /// (TD report body at offset 48 of a v4 quote: MRTD at +136, RTMR0-3 at
    /// +328, report data at +520).
    fn recorded() -> (Image, [u8; 64]) {
        let body = &QUOTE[48..];
        let at = |offset: usize| -> Measurement { body[offset..offset + 48].try_into().unwrap() };
        let mut report_data = [0u8; 64];
        report_data.copy_from_slice(&body[520..584]);
        (
            Image {
                mrtd: at(136),
                rtmr: [at(328), at(376), at(424), at(472)],
            },
            report_data,
        )
    }

    fn pinning(image: &Image, statuses: &[&str]) -> TeePolicy {
        let h = |m: &Measurement| vec![hex::encode(m)];
        TeePolicy::new(
            &h(&image.mrtd),
            [
                Some(&h(&image.rtmr[0])),
                Some(&h(&image.rtmr[1])),
                Some(&h(&image.rtmr[2])),
                Some(&h(&image.rtmr[3])),
            ],
            Some(&statuses.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>()),
            None,
            None,
        )
        .unwrap()
    }

    #[test]
    fn a_recorded_quote_verifies_under_a_policy_that_pins_it() {
        let (image, report_data) = recorded();
        let policy = pinning(&image, TCB_STATUSES);
        let verified = policy
            .verify_quote(QUOTE, &collateral(), AT, Some(&report_data))
            .unwrap();
        assert_eq!(verified.mrtd, image.mrtd);
        assert_eq!(verified.rtmr, image.rtmr);
        assert!(TCB_STATUSES.contains(&verified.tcb_status.as_str()));
    }

    #[test]
    fn a_recorded_quote_is_refused_under_a_policy_that_does_not_pin_it() {
        let (image, report_data) = recorded();
        let all = TCB_STATUSES.to_vec();
        for register in 0..5 {
            let mut other = image;
            match register {
                0 => other.mrtd[0] ^= 1,
                r => other.rtmr[r - 1][0] ^= 1,
            }
            let err = pinning(&other, &all)
                .verify_quote(QUOTE, &collateral(), AT, Some(&report_data))
                .unwrap_err();
            assert!(matches!(err, Error::Attestation { .. }), "{err}");
            assert!(
                err.to_string().contains("not one the policy allows"),
                "{err}"
            );
        }
        // Another nonce or binding than the quote commits to.
        let mut wrong = report_data;
        wrong[63] ^= 1;
        let err = pinning(&image, &all)
            .verify_quote(QUOTE, &collateral(), AT, Some(&wrong))
            .unwrap_err();
        assert!(err.to_string().contains("does not commit"), "{err}");
    }

    #[test]
    fn the_tcb_status_must_be_accepted() {
        let (image, _) = recorded();
        let status = pinning(&image, TCB_STATUSES)
            .verify_quote(QUOTE, &collateral(), AT, None)
            .unwrap()
            .tcb_status;
        let others: Vec<&str> = TCB_STATUSES
            .iter()
            .copied()
            .filter(|s| *s != status)
            .collect();
        let err = pinning(&image, &others)
            .verify_quote(QUOTE, &collateral(), AT, None)
            .unwrap_err();
        assert!(err.to_string().contains("TCB status"), "{err}");
    }

    #[test]
    fn a_tampered_quote_or_stale_collateral_does_not_verify() {
        let (image, _) = recorded();
        let policy = pinning(&image, TCB_STATUSES);
        let mut tampered = QUOTE.to_vec();
        tampered[200] ^= 1;
        let err = policy
            .verify_quote(&tampered, &collateral(), AT, None)
            .unwrap_err();
        assert!(err.to_string().contains("did not verify"), "{err}");
        // 2040: the collateral has long expired.
        let err = policy
            .verify_quote(QUOTE, &collateral(), 2_208_988_800, None)
            .unwrap_err();
        assert!(err.to_string().contains("did not verify"), "{err}");
    }

    #[test]
    fn a_mock_quote_is_never_accepted() {
        let (image, _) = recorded();
        let policy = pinning(&image, TCB_STATUSES);
        // Core's mock attestation: the header, the report data, zeros to 256.
        let mut mock = MOCK_QUOTE_HEADER.to_vec();
        mock.extend_from_slice(&[0x11; 64]);
        mock.resize(256, 0);
        let err = policy
            .verify_quote(&mock, &collateral(), AT, None)
            .unwrap_err();
        assert!(matches!(err, Error::Attestation { .. }));
        assert!(err.to_string().contains("mock quote"), "{err}");
    }

    #[test]
    fn policies_that_would_trust_any_image_are_refused() {
        let m = vec!["ab".repeat(48)];
        let err = TeePolicy::new(&[], [None, Some(&m), Some(&m), Some(&m)], None, None, None)
            .unwrap_err();
        assert!(err.to_string().starts_with("allowed_mrtd:"), "{err}");
        for missing in 1..4 {
            let mut rtmr = [None, Some(&m[..]), Some(&m[..]), Some(&m[..])];
            rtmr[missing] = None;
            let err = TeePolicy::new(&m, rtmr, None, None, None).unwrap_err();
            assert!(
                err.to_string()
                    .starts_with(&format!("allowed_rtmr{missing}:")),
                "{err}"
            );
        }
        let err = TeePolicy::new(
            &["zz".into()],
            [None, Some(&m), Some(&m), Some(&m)],
            None,
            None,
            None,
        )
        .unwrap_err();
        assert!(err.to_string().contains("96 hexadecimal"), "{err}");
        let err = TeePolicy::new(
            &m,
            [None, Some(&m), Some(&m), Some(&m)],
            Some(&["Revoked".into()]),
            None,
            None,
        )
        .unwrap_err();
        assert!(err.to_string().contains("never trusted"), "{err}");
        let app = "11111111111111111111111111111111";
        let err = TeePolicy::new(
            &m,
            [None, Some(&m), Some(&m), Some(&m)],
            None,
            Some(app),
            None,
        )
        .unwrap_err();
        assert!(err.to_string().starts_with("application_hash:"), "{err}");
    }

    fn release(tag: &str, image: &Image, statuses: &[&str]) -> Value {
        let h = |m: &Measurement| hex::encode(m);
        serde_json::json!({
            "role": "node",
            "tag": tag,
            "profiles": {
                "locked-read-only": {
                    "mrtd": h(&image.mrtd), "rtmr0": h(&image.rtmr[0]), "rtmr1": h(&image.rtmr[1]),
                    "rtmr2": h(&image.rtmr[2]), "rtmr3": h(&image.rtmr[3]),
                    "allowed_tcb_statuses": statuses,
                },
                "debug": {
                    "mrtd": h(&image.mrtd), "rtmr0": h(&image.rtmr[0]), "rtmr1": h(&image.rtmr[1]),
                    "rtmr2": h(&image.rtmr[2]), "rtmr3": "dd".repeat(48),
                    "allowed_tcb_statuses": statuses,
                },
            }
        })
    }

    #[test]
    fn a_policy_from_releases_trusts_one_profile_by_whole_images() {
        let (image, report_data) = recorded();
        let statuses: Vec<&str> = TCB_STATUSES.to_vec();
        let locked = TeePolicy::from_releases(
            &[release("2.3.87", &image, &statuses)],
            "locked-read-only",
            None,
            None,
        )
        .unwrap();
        assert_eq!(locked.images(), &[image]);
        locked
            .verify_quote(QUOTE, &collateral(), AT, Some(&report_data))
            .unwrap();
        let debug =
            TeePolicy::from_releases(&[release("2.3.87", &image, &statuses)], "debug", None, None)
                .unwrap();
        let err = debug
            .verify_quote(QUOTE, &collateral(), AT, Some(&report_data))
            .unwrap_err();
        assert!(err.to_string().contains("not those of an image"), "{err}");

        // Registers of different images never combine: each register of the
        // quote is trusted by some image, the whole quote by none.
        let mut a = image;
        a.rtmr[1][0] ^= 1;
        let mut b = image;
        b.rtmr[3][0] ^= 1;
        let split = TeePolicy::from_releases(
            &[release("a", &a, &statuses), release("b", &b, &statuses)],
            "locked-read-only",
            None,
            None,
        )
        .unwrap();
        assert!(split.verify_quote(QUOTE, &collateral(), AT, None).is_err());
    }

    #[test]
    fn releases_accept_only_the_statuses_they_share() {
        let (image, _) = recorded();
        let policy = TeePolicy::from_releases(
            &[
                release("1", &image, &["uptodate", "outofdate"]),
                release("2", &image, &["uptodate"]),
            ],
            "locked-read-only",
            None,
            None,
        )
        .unwrap();
        assert_eq!(policy.allowed_tcb_statuses(), ["UpToDate"]);
        for (releases, message) in [
            (vec![], "at least one release"),
            (
                vec![release("1", &image, &["sometimes"])],
                "not one DCAP reports",
            ),
            (
                vec![
                    release("1", &image, &["uptodate"]),
                    release("2", &image, &["outofdate"]),
                ],
                "no TCB status in common",
            ),
            (
                vec![serde_json::json!({"role": "kms", "profiles": {}})],
                "not of a node image",
            ),
        ] {
            let err =
                TeePolicy::from_releases(&releases, "locked-read-only", None, None).unwrap_err();
            assert!(err.to_string().contains(message), "{err}");
        }
        let err =
            TeePolicy::from_releases(&[release("1", &image, &["uptodate"])], "prod", None, None)
                .unwrap_err();
        assert!(err.to_string().contains("no profile \"prod\""), "{err}");
    }

    /// mero-tee's published measurements of release 2.3.87 (as mero-js
    /// ships them: `src/sealed/fixtures/mero-tee-v2.3.87.published-mrtds.json`).
    #[test]
    fn a_published_release_file_reads() {
        let published: Value = serde_json::from_str(include_str!(
            "../../../tests/data/tee/mero-tee-v2.3.87.published-mrtds.json"
        ))
        .unwrap();
        let policy =
            TeePolicy::from_releases(&[published], "locked-read-only", None, None).unwrap();
        assert_eq!(
            policy.allowed_mrtd(),
            ["c1ee9c16e3afc506cfe042c5b846a368528f3b37618eafb27469bc114cf914e9222c91618470e7f2b28ac360968270a5"]
        );
        assert_eq!(
            policy.allowed_rtmr(3),
            ["38dd580e11c032bbab19ad8bb4ef5b4247f0d91e6681e8f29f2a8b396363c881aefea7d41c4d9d659d228e7b2a2b0002"]
        );
        assert_eq!(policy.allowed_tcb_statuses(), ["UpToDate", "OutOfDate"]);
        // The recorded quote is not of this image.
        let (_, report_data) = recorded();
        assert!(policy
            .verify_quote(QUOTE, &collateral(), AT, Some(&report_data))
            .is_err());
    }
}
