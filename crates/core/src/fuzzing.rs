//! Fuzz target bodies, shared by the cargo-fuzz targets in `fuzz/` (nightly,
//! libFuzzer) and the stable driver `tests/fuzz_smoke.rs` (a seeded
//! generator and the committed seed corpus, run by `cargo test`). Each
//! target takes arbitrary bytes, must not panic, and asserts the invariants
//! of what it exercises; see docs/fuzzing.md. Not a public API.

use std::sync::OnceLock;

use percent_encoding::percent_decode_str;
use serde_json::Value;

use crate::connection::{Config, Connection};
use crate::endpoints::{Kind, Loc, ENDPOINTS};
use crate::error::Error;
use crate::request::{prepare as prepare_request, ArgValue};
use crate::{ids, json};

/// A target body: arbitrary bytes in, a panic on a broken invariant.
pub type Target = fn(&[u8]);

/// Every target, by the name of its directory under `fuzz/corpus/` and of
/// its cargo-fuzz binary.
pub const TARGETS: &[(&str, Target)] = &[
    ("ids", ids),
    ("raw_path", raw_path),
    ("prepare", prepare),
    ("json_decode", json_decode),
];

/// Longest message an invalid-argument error may carry, whatever the input
/// (a 10 MB argument must not come back as a 10 MB message).
const MAX_REASON: usize = 512;

/// An invalid-argument error that names `allowed` and stays short.
fn assert_invalid(err: &Error, allowed: &[&str]) {
    match err {
        Error::InvalidArgument { argument, reason } => {
            assert!(
                allowed.contains(&argument.as_str()),
                "error names {argument:?}, expected one of {allowed:?}"
            );
            assert!(
                reason.len() <= MAX_REASON,
                "{argument}: a {}-byte message",
                reason.len()
            );
            assert!(err.to_string().starts_with(&format!("{argument}: ")));
        }
        other => panic!("expected an invalid-argument error, got {other:?}"),
    }
}

/// Id and argument validation (`ids.rs`): an accepted id round-trips
/// through its encoding and is 32 bytes; whatever is accepted meets the
/// documented rule; whatever is refused is a short error naming the argument.
pub fn ids(data: &[u8]) {
    let (selector, rest) = data.split_first().unwrap_or((&0, &[]));
    let text = String::from_utf8_lossy(rest);
    let value: &str = &text;
    let arg = ["id"];

    let b58 = ids::base58_32("id", value);
    match &b58 {
        Ok(bytes) => assert_eq!(bs58::encode(bytes).into_string(), value),
        Err(e) => assert_invalid(e, &arg),
    }
    let hex = ids::hex_32("id", value);
    match &hex {
        Ok(bytes) => assert_eq!(hex::encode(bytes), value.to_ascii_lowercase()),
        Err(e) => assert_invalid(e, &arg),
    }
    match ids::base58_or_hex_32("id", value) {
        Ok(bytes) => assert!(
            hex.as_ref().ok() == Some(&bytes) || b58.as_ref().ok() == Some(&bytes),
            "either-encoding id {value:?} decodes differently from both encodings"
        ),
        Err(e) => {
            assert_invalid(&e, &arg);
            assert!(hex.is_err() && b58.is_err(), "{value:?}");
        }
    }

    let min = usize::from(selector & 0x0f) * 2;
    let max = min + usize::from(selector >> 4) * 8;
    match ids::hex_text("id", value, min, max) {
        Ok(()) => {
            assert!((min..=max).contains(&value.len()) && value.len() % 2 == 0);
            assert!(hex::decode(value).is_ok(), "{value:?}");
        }
        Err(e) => assert_invalid(&e, &arg),
    }
    match ids::alias("id", value) {
        Ok(()) => assert!(
            (1..=ids::MAX_ALIAS_LEN).contains(&value.len())
                && value
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b)),
            "{value:?}"
        ),
        Err(e) => assert_invalid(&e, &arg),
    }
    let max = usize::from(*selector) * 4;
    match ids::text("id", value, max) {
        Ok(()) => {
            assert!(!value.is_empty() && value.len() <= max && !value.chars().any(char::is_control))
        }
        Err(e) => assert_invalid(&e, &arg),
    }
    match ids::token("id", value) {
        Ok(()) => assert!(
            (1..=ids::MAX_TOKEN_LEN).contains(&value.len())
                && value.bytes().all(|b| b.is_ascii_graphic()),
            "{value:?}"
        ),
        Err(e) => {
            assert_invalid(&e, &arg);
            // A refused token is never echoed back.
            assert!(value.len() < 8 || !e.to_string().contains(value));
        }
    }
    match ids::http_url("id", value) {
        Ok(url) => {
            assert!(matches!(url.scheme(), "http" | "https"), "{url}");
            assert!(url.host_str().is_some_and(|h| !h.is_empty()), "{url}");
            assert!(value.len() <= 2048);
        }
        Err(e) => assert_invalid(&e, &arg),
    }
    match ids::node_path("id", value) {
        Ok(()) => {
            assert!(!value.split(['/', '\\']).any(|c| c == ".."), "{value:?}");
            assert!(!value.chars().any(char::is_control), "{value:?}");
        }
        Err(e) => assert_invalid(&e, &arg),
    }
}

/// Connections whose base URLs the URL targets join onto (no I/O: a
/// connection only builds its HTTP client).
fn connections() -> &'static [Connection] {
    static CONNECTIONS: OnceLock<Vec<Connection>> = OnceLock::new();
    CONNECTIONS.get_or_init(|| {
        [
            "http://node:2528",
            "http://127.0.0.1:2528/prefix/",
            "https://node.example/a/b",
            "http://[::1]:80/p%20q",
        ]
        .iter()
        .map(|base| Connection::new(base, None, Config::default()).expect("base URL"))
        .collect()
    })
}

/// `url` is on the connection's host and below its base path, with no dot
/// segment, no credentials and no fragment, and serialises to itself.
fn assert_confined(conn: &Connection, url: &url::Url) {
    let base = url::Url::parse(conn.api_url()).expect("base URL");
    assert_eq!(url.scheme(), base.scheme(), "{url}");
    assert_eq!(url.host_str(), base.host_str(), "{url}");
    assert_eq!(url.port(), base.port(), "{url}");
    assert!(
        url.username().is_empty() && url.password().is_none(),
        "{url}"
    );
    assert!(url.fragment().is_none(), "{url}");
    let prefix = format!("{}/", base.path().trim_end_matches('/'));
    assert!(
        url.path().starts_with(&prefix),
        "{url} leaves the base path {prefix}"
    );
    for segment in url.path().split('/') {
        let decoded = percent_decode_str(segment).decode_utf8_lossy();
        assert!(decoded != "." && decoded != "..", "{url}");
    }
    let again = url::Url::parse(url.as_str()).expect("a URL reparses");
    assert_eq!(&again, url, "{url} does not reparse to itself");
}

/// The raw escape hatch (`Connection::prepare_raw`): any method and path;
/// an accepted one resolves below the base path, whatever its dots,
/// percent-escapes, slashes and query.
pub fn raw_path(data: &[u8]) {
    const METHODS: [&str; 8] = ["GET", "post", "Delete", "HEAD", "put", "PATCH", "", "GET\n"];
    let (selector, rest) = data.split_first().unwrap_or((&0, &[]));
    let conns = connections();
    let conn = &conns[usize::from(*selector) % conns.len()];
    let text = String::from_utf8_lossy(rest);
    // One selector in eight takes the method from the input too (up to the
    // first space).
    let (method, path) = match usize::from(selector >> 2) % (METHODS.len() + 1) {
        i if i < METHODS.len() => (METHODS[i], &*text),
        _ => text.split_once(' ').unwrap_or((&*text, "/x")),
    };
    match conn.prepare_raw(method, path, None) {
        Ok(raw) => {
            assert!(["GET", "POST", "DELETE", "HEAD", "PUT"].contains(&raw.method()));
            assert!(path.len() <= crate::connection::MAX_RAW_PATH);
            assert_confined(conn, raw.url());
        }
        Err(e) => assert_invalid(&e, &["path", "method"]),
    }
}

/// A cursor over the fuzzer's bytes, for structured inputs.
struct Input<'a>(&'a [u8]);

impl Input<'_> {
    fn byte(&mut self) -> u8 {
        let (b, rest) = self.0.split_first().unwrap_or((&0, &[]));
        self.0 = rest;
        *b
    }
    /// A length-prefixed slice: one length byte, or 255 and two more for
    /// up to 64 KiB (long values reach the length limits).
    fn chunk(&mut self) -> &[u8] {
        let mut n = usize::from(self.byte());
        if n == 255 {
            n = usize::from(u16::from_le_bytes([self.byte(), self.byte()]));
        }
        let n = n.min(self.0.len());
        let (chunk, rest) = self.0.split_at(n);
        self.0 = rest;
        chunk
    }
    fn text(&mut self) -> String {
        String::from_utf8_lossy(self.chunk()).into_owned()
    }
    /// An argument value: absent, of each type, valid ids, and strings
    /// known to matter (dots, empty, JSON, roles).
    fn arg(&mut self) -> Option<ArgValue> {
        const WORDS: [&str; 12] = [
            "EMtpXdHZQLiqyPVVAzJWbnishYR1gPTvKKtWD3e2V6zo",
            "699c99ea0a2997fb0826b12f6689df76d58763d2fb794f9a2d147f2e580794d1",
            ".",
            "..",
            "",
            "admin",
            "https://example.com/a.wasm",
            "/srv/app.wasm",
            r#"["699c99ea0a2997fb0826b12f6689df76d58763d2fb794f9a2d147f2e580794d1"]"#,
            r#"{"name":"n","data":{"k":"v"}}"#,
            r#"{"key":"k","value":"v"}"#,
            "a/b?c#d%2e",
        ];
        Some(match self.byte() % 9 {
            0 => return None,
            1 => ArgValue::Str(self.text()),
            2 => ArgValue::Str(WORDS[usize::from(self.byte()) % WORDS.len()].to_owned()),
            3 => {
                let mut n = [0u8; 8];
                for b in &mut n {
                    *b = self.byte();
                }
                ArgValue::UInt(u64::from_le_bytes(n))
            }
            4 => ArgValue::Bool(self.byte() & 1 == 1),
            5 => ArgValue::Bytes(self.chunk().to_vec()),
            6 => ArgValue::Json(
                serde_json::from_slice(self.chunk()).unwrap_or_else(|_| Value::from(self.text())),
            ),
            7 => ArgValue::Json(
                serde_json::from_str(WORDS[usize::from(self.byte()) % WORDS.len()])
                    .unwrap_or(Value::Null),
            ),
            _ => ArgValue::UInt(u64::from(self.byte())),
        })
    }
}

/// The request builder (`request::prepare`) over every endpoint, for a
/// release from rc.20 to rc.90, with arbitrary argument values: a refusal
/// names one of the endpoint's arguments, or says the release does not
/// serve the route (or a given argument) when it does not; an accepted
/// request fills the route template segment for segment (nothing a value
/// holds adds, removes or normalises a segment), joins below every base
/// path unchanged, and has a JSON body.
pub fn prepare(data: &[u8]) {
    let mut input = Input(data);
    let endpoint = &ENDPOINTS[usize::from(input.byte()) % ENDPOINTS.len()];
    let release = crate::release::Release(20 + u16::from(input.byte()) % 71);
    let args: Vec<Option<ArgValue>> = endpoint.args.iter().map(|_| input.arg()).collect();
    let names: Vec<&str> = endpoint.args.iter().map(|a| a.name).collect();
    let prepared = match prepare_request(endpoint, &args, 1, release) {
        Ok(p) => p,
        Err(Error::Unsupported { .. }) => {
            let given_out_of_range = endpoint
                .args
                .iter()
                .zip(&args)
                .any(|(a, v)| v.is_some() && !a.releases.contains(release));
            assert!(
                !endpoint.releases.contains(release) || given_out_of_range,
                "{}: unsupported at {release} without cause",
                endpoint.name
            );
            return;
        }
        Err(e) => return assert_invalid(&e, &names),
    };
    let template: Vec<&str> = endpoint.path.split('/').collect();
    let filled: Vec<&str> = prepared.path.split('/').collect();
    assert_eq!(
        template.len(),
        filled.len(),
        "{}: {} for {}",
        endpoint.name,
        prepared.path,
        endpoint.path
    );
    for (t, f) in template.iter().zip(&filled) {
        match t.strip_prefix('{').and_then(|t| t.strip_suffix('}')) {
            None => assert_eq!(t, f),
            Some(name) => {
                let i = names.iter().position(|n| *n == name).expect("path arg");
                assert_eq!(endpoint.args[i].loc, Loc::Path);
                let decoded = percent_decode_str(f).decode_utf8_lossy();
                assert!(!decoded.is_empty(), "{}: empty {name}", endpoint.name);
                // An id may be re-encoded for the release; a string is sent
                // as given.
                if let (Some(ArgValue::Str(given)), false) =
                    (&args[i], endpoint.args[i].kind == Kind::Id)
                {
                    assert_eq!(decoded, given.as_str());
                }
            }
        }
    }
    for conn in connections() {
        let url = conn.url(&prepared.path, &prepared.query).expect("join");
        assert_confined(conn, &url);
        let base = url::Url::parse(conn.api_url()).expect("base URL");
        assert_eq!(
            url.path(),
            format!("{}{}", base.path().trim_end_matches('/'), prepared.path),
            "{}: the joined path was normalised",
            endpoint.name
        );
        let pairs: Vec<(String, String)> = url.query_pairs().into_owned().collect();
        let expected: Vec<(String, String)> = prepared
            .query
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.clone()))
            .collect();
        assert_eq!(pairs, expected, "{}: query", endpoint.name);
    }
    if let Some(body) = &prepared.body {
        serde_json::from_slice::<Value>(body).expect("the body is JSON");
    }
}

/// Equal, floats within a relative 1e-15 (serde_json's default float
/// parsing may be one ULP off a round trip).
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) if x.is_f64() || y.is_f64() => {
            match (x.as_f64(), y.as_f64()) {
                (Some(x), Some(y)) => x == y || ((x - y) / x).abs() < 1e-15,
                _ => false,
            }
        }
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| same(a, b))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .zip(y)
                    .all(|((ka, va), (kb, vb))| ka == kb && same(va, vb))
        }
        _ => a == b,
    }
}

/// The response decoder the Python bindings build objects with
/// (`json::decode`; `convert.rs` supplies a Python builder, this target a
/// `Value` builder): it accepts exactly what serde_json accepts and builds
/// the same tree (integer types kept, key order and duplicate keys as a
/// dict has them), deep nesting is an error and not a crash, and what it
/// builds re-encodes and decodes to itself. Also the guest-error decoder
/// applied to JSON-RPC error messages.
pub fn json_decode(data: &[u8]) {
    let ours = json::decode(json::ValueBuilder, data);
    let theirs = serde_json::from_slice::<Value>(data);
    match (ours, theirs) {
        (Ok(a), Ok(b)) => {
            assert_eq!(a, b);
            let text = serde_json::to_vec(&a).expect("encode");
            let again = json::decode(json::ValueBuilder, &text).expect("re-decode");
            assert!(same(&a, &again), "{a} re-decodes as {again}");
        }
        (Err(_), Err(_)) => {}
        (ours, theirs) => panic!("decode: {ours:?}, serde_json: {theirs:?}"),
    }
    if let Ok(message) = std::str::from_utf8(data) {
        let _ = crate::connection::decode_guest_error(message);
    }
}
