//! Node releases as data: which release a connection speaks, and what
//! differs between releases.
//!
//! merod's releases are named `0.11.0-rc.N`; a [`Release`] is the `N`. The
//! endpoint table ([`crate::endpoints`]) gives every route and argument the
//! [`Releases`] that have it; [`Knowledge`] is what a connection knows of
//! its node's release: pinned by the caller, or a [`Span`] narrowed by
//! evidence (a probe, the ids in answers, a route the node does not serve).
//! The changes themselves, with their sources, are in
//! `docs/node-releases.md` and `shared/reference/node-releases.md`.

use std::fmt;

use crate::error::Error;

/// A node release: `0.11.0-rc.N` is `Release(N)`. Releases before rc.25
/// speak as rc.25 does (the SDK's oldest dialect).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Release(pub u16);

/// The oldest release the SDK was written against.
pub const OLDEST: Release = Release(25);
/// The newest release with public evidence; later ones are spoken as it.
pub const NEWEST: Release = Release(83);
/// The first release whose ids (contexts, applications, blobs, public
/// keys) are 64 lowercase hex instead of base58 (node-releases.md X1).
pub const HEX_IDS: Release = Release(27);

/// The largest `N` accepted in `0.11.0-rc.N`.
const MAX_RC: u16 = 9999;

impl Release {
    /// Parses `0.11.0-rc.N`, `v0.11.0-rc.N`, `rc.N` or `rc-N`, or a
    /// Release as given back by [`Release::to_string`].
    pub fn parse(argument: &str, text: &str) -> Result<Release, Error> {
        let t = text.trim();
        let t = t.strip_prefix('v').unwrap_or(t);
        let rc = t.strip_prefix("0.11.0-").unwrap_or(t);
        let number = rc
            .strip_prefix("rc.")
            .or_else(|| rc.strip_prefix("rc-"))
            .or_else(|| rc.strip_prefix("rc"));
        match number.and_then(|n| n.parse::<u16>().ok()) {
            Some(n) if (1..=MAX_RC).contains(&n) && !t.is_empty() => Ok(Release(n)),
            _ => Err(Error::invalid(
                argument,
                format!(
                    "expected a merod release such as \"0.11.0-rc.83\" (this SDK speaks \
                     0.11.0-rc.{} to 0.11.0-rc.{}), got {}",
                    OLDEST.0,
                    NEWEST.0,
                    crate::ids::shown(text)
                ),
            )),
        }
    }

    /// Whether this release sends and takes ids as hex.
    pub fn hex_ids(self) -> bool {
        self >= HEX_IDS
    }
}

impl fmt::Display for Release {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "0.11.0-rc.{}", self.0)
    }
}

/// The releases that have a route or an argument: `since` to `until`,
/// both included.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Releases {
    pub since: Release,
    pub until: Release,
}

/// Every release.
pub const ALL: Releases = Releases {
    since: Release(0),
    until: Release(u16::MAX),
};

impl Releases {
    /// From `since` on.
    pub const fn since(n: u16) -> Releases {
        Releases {
            since: Release(n),
            until: Release(u16::MAX),
        }
    }
    /// Up to `until`, included.
    pub const fn until(n: u16) -> Releases {
        Releases {
            since: Release(0),
            until: Release(n),
        }
    }
    pub const fn between(since: u16, until: u16) -> Releases {
        Releases {
            since: Release(since),
            until: Release(until),
        }
    }
    pub fn contains(self, r: Release) -> bool {
        self.since <= r && r <= self.until
    }
    pub fn is_all(self) -> bool {
        self == ALL
    }
    /// The releases where having it starts or stops: `b` means "differs
    /// between `b - 1` and `b`".
    pub fn boundaries(self) -> impl Iterator<Item = u16> {
        let start = (self.since.0 > 0).then_some(self.since.0);
        let end = (self.until.0 < u16::MAX).then(|| self.until.0 + 1);
        start.into_iter().chain(end)
    }
    /// "0.11.0-rc.28 and later", "0.11.0-rc.25 to 0.11.0-rc.30", "up to
    /// 0.11.0-rc.30".
    pub fn describe(self) -> String {
        match (self.since.0, self.until.0) {
            (0, u16::MAX) => "every release".to_owned(),
            (0, until) => format!("releases up to {}", Release(until)),
            (since, u16::MAX) => format!("{} and later", Release(since)),
            (since, until) if since == until => Release(since).to_string(),
            (since, until) => format!("{} to {}", Release(since), Release(until)),
        }
    }
}

/// The releases a node may be running, as far as is known: `min` to
/// `max`, both included (`max` = `u16::MAX`: no upper bound known).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    pub min: Release,
    pub max: Release,
}

impl Span {
    /// Nothing known yet.
    pub const UNKNOWN: Span = Span {
        min: Release(0),
        max: Release(u16::MAX),
    };

    pub fn exactly(r: Release) -> Span {
        Span { min: r, max: r }
    }

    /// The release spoken while the span is wider than one release: the
    /// newest the span allows (the newest known release when it has no
    /// upper bound), never older than rc.25.
    pub fn assumed(self) -> Release {
        // rc.25 and rc.26 speak alike (base58 ids): call that rc.25.
        if self.max < HEX_IDS {
            return OLDEST;
        }
        let r = if self.max.0 == u16::MAX {
            self.min.max(NEWEST)
        } else {
            self.max
        };
        r.max(OLDEST).min(self.max.max(OLDEST))
    }

    /// Whether everything that changes at `boundary` is settled: the span
    /// lies wholly before it or wholly from it on.
    pub fn settles(self, boundary: u16) -> bool {
        boundary <= self.min.0 || boundary > self.max.0
    }

    /// The span narrowed by `other` (what is known from both); `None` when
    /// they contradict each other.
    pub fn and(self, other: Span) -> Option<Span> {
        let s = Span {
            min: self.min.max(other.min),
            max: self.max.min(other.max),
        };
        (s.min <= s.max).then_some(s)
    }

    pub fn describe(self) -> String {
        match (self.min.0, self.max.0) {
            (0, u16::MAX) => "unknown".to_owned(),
            (min, max) if min == max => Release(min).to_string(),
            (0, max) => format!("{} or older", Release(max)),
            (min, u16::MAX) => format!("{} or newer", Release(min)),
            (min, max) => format!("{} to {}", Release(min), Release(max)),
        }
    }
}

/// What a connection knows of its node's release, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Knowledge {
    pub span: Span,
    /// Given by the caller (`node_version=`): never probed or narrowed.
    pub pinned: bool,
    /// Whether the detection probe was sent.
    pub probed: bool,
    /// Requests sent only to find the release.
    pub probe_requests: u32,
    /// How each narrowing was learnt, oldest first.
    pub evidence: Vec<String>,
}

impl Default for Knowledge {
    fn default() -> Self {
        Knowledge {
            span: Span::UNKNOWN,
            pinned: false,
            probed: false,
            probe_requests: 0,
            evidence: Vec::new(),
        }
    }
}

impl Knowledge {
    pub fn pinned(r: Release) -> Knowledge {
        Knowledge {
            span: Span::exactly(r),
            pinned: true,
            evidence: vec![format!("pinned: node_version={r}")],
            ..Knowledge::default()
        }
    }

    /// The release requests are built for now.
    pub fn release(&self) -> Release {
        self.span.assumed()
    }

    /// Narrows the span with `span`, learnt from `why`. Returns whether
    /// anything changed (the caller logs it, once no lock is held). A pinned release is never changed; evidence that
    /// contradicts what is known replaces it (the node was upgraded or
    /// downgraded behind the connection).
    pub fn learn(&mut self, span: Span, why: impl Into<String>) -> bool {
        if self.pinned {
            return false;
        }
        let next = self.span.and(span).unwrap_or(span);
        if next == self.span {
            return false;
        }
        self.span = next;
        let why = why.into();
        if self.evidence.len() < 16 {
            self.evidence.push(why);
        }
        true
    }
}

/// Which encoding a 32-byte id was written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdEncoding {
    Base58,
    Hex,
}

impl IdEncoding {
    /// The releases that write ids this way.
    pub fn span(self) -> Span {
        match self {
            IdEncoding::Base58 => Span {
                min: Release(0),
                max: Release(HEX_IDS.0 - 1),
            },
            IdEncoding::Hex => Span {
                min: HEX_IDS,
                max: Release(u16::MAX),
            },
        }
    }
}

/// Keys whose string value is a 32-byte `Hash` id in every release
/// (base58 before rc.27, hex from it).
const ID_KEYS: &[&[u8]] = &[
    b"\"id\":\"",
    b"\"contextId\":\"",
    b"\"applicationId\":\"",
    b"\"memberPublicKey\":\"",
    b"\"publicKey\":\"",
    b"\"blob_id\":\"",
    b"\"blobId\":\"",
];

/// The id encoding an answer shows, if any: the first value of a key that
/// always holds a `Hash` id (node-api.md 0.1). Looks at the first 64 KiB.
pub fn id_encoding_in(body: &[u8]) -> Option<IdEncoding> {
    let body = &body[..body.len().min(64 * 1024)];
    for key in ID_KEYS {
        let mut from = 0;
        while let Some(at) = find(&body[from..], key) {
            let start = from + at + key.len();
            let value = &body[start..];
            let end = value.iter().position(|&b| b == b'"').unwrap_or(0);
            if let Some(enc) = classify(&value[..end]) {
                return Some(enc);
            }
            from = start;
        }
    }
    None
}

fn classify(value: &[u8]) -> Option<IdEncoding> {
    let text = std::str::from_utf8(value).ok()?;
    if text.len() == 64 && text.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Some(IdEncoding::Hex);
    }
    let mut out = [0u8; 32];
    match bs58::decode(text).onto(&mut out) {
        Ok(32) => Some(IdEncoding::Base58),
        _ => None,
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn releases_parse_in_every_spelling() {
        for text in [
            "0.11.0-rc.83",
            "v0.11.0-rc.83",
            "rc.83",
            "rc-83",
            "rc83",
            " 0.11.0-rc.83 ",
        ] {
            assert_eq!(Release::parse("v", text).unwrap(), Release(83), "{text}");
        }
        for bad in [
            "",
            "0.11.0",
            "0.12.0-rc.3",
            "rc.",
            "rc.0",
            "83",
            "rc.99999",
            "latest",
        ] {
            let e = Release::parse("node_version", bad).unwrap_err();
            assert!(
                e.to_string().starts_with("node_version: expected"),
                "{bad}: {e}"
            );
        }
        assert_eq!(Release(83).to_string(), "0.11.0-rc.83");
    }

    #[test]
    fn spans_assume_the_newest_they_allow() {
        assert_eq!(Span::UNKNOWN.assumed(), NEWEST);
        assert_eq!(IdEncoding::Base58.span().assumed(), Release(25));
        assert_eq!(IdEncoding::Hex.span().assumed(), NEWEST);
        let s = Span {
            min: Release(32),
            max: Release(82),
        };
        assert_eq!(s.assumed(), Release(82));
        assert!(s.settles(27) && s.settles(32) && s.settles(83));
        assert!(!s.settles(38) && !s.settles(82));
        let beyond = Span {
            min: Release(90),
            max: Release(u16::MAX),
        };
        assert_eq!(beyond.assumed(), Release(90));
    }

    #[test]
    fn knowledge_narrows_and_pins() {
        let mut k = Knowledge::default();
        assert!(k.learn(IdEncoding::Hex.span(), "hex ids"));
        assert!(!k.learn(IdEncoding::Hex.span(), "again"));
        assert!(k.learn(
            Span {
                min: Release(0),
                max: Release(82)
            },
            "no route"
        ));
        assert_eq!(k.span.describe(), "0.11.0-rc.27 to 0.11.0-rc.82");
        // Contradicting evidence replaces what was known.
        assert!(k.learn(IdEncoding::Base58.span(), "base58 ids"));
        assert_eq!(k.span, IdEncoding::Base58.span());
        let mut p = Knowledge::pinned(Release(83));
        assert!(!p.learn(IdEncoding::Base58.span(), "base58 ids"));
        assert_eq!(p.release(), Release(83));
    }

    #[test]
    fn answers_show_their_id_encoding() {
        let rc25 = br#"{"data":{"contextId":"EMtpXdHZQLiqyPVVAzJWbnishYR1gPTvKKtWD3e2V6zo"}}"#;
        assert_eq!(id_encoding_in(rc25), Some(IdEncoding::Base58));
        let rc83 = br#"{"data":{"apps":[{"id":"x","blobId":"ab"},{"applicationId":"699c99ea0a2997fb0826b12f6689df76d58763d2fb794f9a2d147f2e580794d1"}]}}"#;
        assert_eq!(id_encoding_in(rc83), Some(IdEncoding::Hex));
        assert_eq!(id_encoding_in(br#"{"data":{"status":"alive"}}"#), None);
        assert_eq!(id_encoding_in(br#"{"contextId":"nope"}"#), None);
    }

    #[test]
    fn releases_describe_themselves() {
        assert_eq!(Releases::since(28).describe(), "0.11.0-rc.28 and later");
        assert_eq!(
            Releases::until(30).describe(),
            "releases up to 0.11.0-rc.30"
        );
        assert_eq!(
            Releases::between(25, 27).describe(),
            "0.11.0-rc.25 to 0.11.0-rc.27"
        );
        assert_eq!(
            Releases::since(28).boundaries().collect::<Vec<_>>(),
            vec![28]
        );
        assert_eq!(
            Releases::between(25, 27).boundaries().collect::<Vec<_>>(),
            vec![25, 28]
        );
        assert!(ALL.boundaries().next().is_none());
    }
}
