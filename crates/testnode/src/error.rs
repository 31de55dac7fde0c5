//! The one error type, the one JSON response helper, and the extractors that
//! reproduce the real node's rejection texts.
//!
//! core: crates/server/src/admin/service.rs (`ApiResponse`, `ApiError`,
//! `parse_api_error`), crates/server/src/admin/handlers/validation.rs
//! (`ValidatedJson`), crates/server/primitives/src/validation.rs.

use std::fmt;
use std::sync::Arc;

use std::cell::Cell;
use std::marker::PhantomData;

use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, Request};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::de::value::{MapAccessDeserializer, SeqAccessDeserializer};
use serde::de::{
    self, DeserializeOwned, DeserializeSeed, Deserializer, IntoDeserializer, MapAccess, SeqAccess,
    Visitor,
};
use serde::{Deserialize, Serialize};

use crate::ids::{HexIdError, Id};
use crate::state::AppState;
use crate::Config;

/// Every non-2xx answer the node gives, in the three shapes it uses.
#[derive(Debug)]
pub enum ApiError {
    /// `{"error": message}` with `content-type: application/json`.
    Json(StatusCode, String),
    /// A plain-text body (`text/plain; charset=utf-8`), as axum rejections
    /// and the install/uninstall handlers send.
    Text(StatusCode, String),
    /// No body at all.
    Empty(StatusCode),
}

impl ApiError {
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::Json(StatusCode::BAD_REQUEST, message.into())
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::Json(StatusCode::NOT_FOUND, message.into())
    }

    /// What `parse_api_error` answers for any untyped failure.
    pub fn internal() -> Self {
        Self::Json(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Internal server error".to_owned(),
        )
    }

    /// A 500 with a plain-text body (`(StatusCode::INTERNAL_SERVER_ERROR, err.to_string())`).
    pub fn internal_text(message: impl Into<String>) -> Self {
        Self::Text(StatusCode::INTERNAL_SERVER_ERROR, message.into())
    }

    /// A refusal `parse_api_error` types from rc.44 on: its own status and
    /// message (core service.rs, index id 70883150803, `parse_api_error` and
    /// the `*_refusal_status` helpers). Before, the node's untyped 500.
    /// Messages are the error's `Display` (core rc.25
    /// `crates/governance-store/src/errors.rs` and
    /// `crates/context/src/error.rs` where they exist there; otherwise
    /// `[inferred]`).
    pub fn refusal(status: StatusCode, message: impl Into<String>) -> Self {
        if crate::release::current().typed_statuses() {
            Self::Json(status, message.into())
        } else {
            Self::internal()
        }
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::refusal(StatusCode::FORBIDDEN, message)
    }

    pub fn conflict(message: impl Into<String>) -> Self {
        Self::refusal(StatusCode::CONFLICT, message)
    }

    /// A typed 404 from rc.44 (`GroupNotFound`, `ContextNotFound`, …).
    pub fn missing(message: impl Into<String>) -> Self {
        Self::refusal(StatusCode::NOT_FOUND, message)
    }

    /// A typed 400 from rc.44 (`NamespaceError::SelfNesting`, …).
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::refusal(StatusCode::BAD_REQUEST, message)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        match self {
            Self::Json(status, message) => {
                let body = serde_json::json!({ "error": message }).to_string();
                with_content_type(status, body, "application/json")
            }
            Self::Text(status, message) => {
                with_content_type(status, message, "text/plain; charset=utf-8")
            }
            Self::Empty(status) => status.into_response(),
        }
    }
}

fn with_content_type(status: StatusCode, body: String, content_type: &'static str) -> Response {
    let mut response = (status, body).into_response();
    let _ = response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

/// 200 with the payload serialised as-is (the node's `ApiResponse`: no
/// automatic `data` envelope; each payload decides its own shape).
///
/// Payloads with several keys must be structs, not `json!` maps, so the
/// field order matches the node's.
pub fn json<T: Serialize>(payload: T) -> Response {
    match serde_json::to_string(&payload) {
        Ok(body) => json_text(body),
        Err(_) => ApiError::internal().into_response(),
    }
}

/// `status` with the payload serialised as a JSON body.
pub fn with_status<T: Serialize>(status: StatusCode, payload: T) -> Response {
    match serde_json::to_string(&payload) {
        Ok(body) => with_content_type(status, body, "application/json"),
        Err(_) => ApiError::internal().into_response(),
    }
}

/// 200 with an already-serialised JSON body.
pub fn json_text(body: String) -> Response {
    with_content_type(StatusCode::OK, body, "application/json")
}

/// `{"data": payload}`, the envelope most admin responses use.
pub fn data<T: Serialize>(payload: T) -> Response {
    #[derive(Serialize)]
    struct Data<T> {
        data: T,
    }
    json(Data { data: payload })
}

pub type ApiResult = Result<Response, ApiError>;

/// An id taken from a path segment the real node extracts with a typed
/// `Path<…Id>`: a bad value is axum's plain-text 400 (`Invalid URL: …`,
/// the same in axum 0.7 and 0.8), carrying the id parser's message (base58
/// before rc.27, hex after).
pub fn path_id(raw: &str) -> Result<Id, ApiError> {
    Id::parse(raw).map_err(|message| {
        ApiError::Text(StatusCode::BAD_REQUEST, format!("Invalid URL: {message}"))
    })
}

/// A 32-byte hex value, with the node's messages for "not hex" and for
/// "wrong length" (`400 {"error": …}`).
pub fn hex_id(raw: &str, not_hex: &str, wrong_length: &str) -> Result<Id, ApiError> {
    Id::parse_hex(raw).map_err(|err| {
        ApiError::bad_request(match err {
            HexIdError::NotHex => not_hex,
            HexIdError::Length => wrong_length,
        })
    })
}

/// A query string parsed the way axum 0.7's `Query` does (plain-text 400).
pub fn query<T: DeserializeOwned>(raw: Option<&str>) -> Result<T, ApiError> {
    serde_urlencoded::from_str(raw.unwrap_or_default()).map_err(|err| {
        ApiError::Text(
            StatusCode::BAD_REQUEST,
            format!("Failed to deserialize query string: {err}"),
        )
    })
}

/// One request-validation failure (`calimero_server_primitives::validation::ValidationError`).
#[derive(Debug, Clone)]
pub enum ValidationError {
    StringTooLong {
        field: &'static str,
        max: usize,
        actual: usize,
    },
    PayloadTooLarge {
        field: &'static str,
        max: usize,
        actual: usize,
    },
    InvalidLength {
        field: &'static str,
        expected: usize,
        actual: usize,
    },
    InvalidHexEncoding {
        field: &'static str,
        reason: String,
    },
    EmptyField {
        field: &'static str,
    },
    InvalidFormat {
        field: &'static str,
        reason: String,
    },
}

impl fmt::Display for ValidationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::StringTooLong { field, max, actual } => write!(
                f,
                "Field '{field}' exceeds maximum length of {max} characters (got {actual})"
            ),
            Self::PayloadTooLarge { field, max, actual } => write!(
                f,
                "Field '{field}' exceeds maximum size of {max} bytes (got {actual})"
            ),
            Self::InvalidLength {
                field,
                expected,
                actual,
            } => write!(
                f,
                "Field '{field}' must be exactly {expected} characters (got {actual})"
            ),
            Self::InvalidHexEncoding { field, reason } => {
                write!(f, "Field '{field}' contains invalid hex encoding: {reason}")
            }
            Self::EmptyField { field } => write!(f, "Field '{field}' is required but was empty"),
            Self::InvalidFormat { field, reason } => {
                write!(f, "Field '{field}' has invalid format: {reason}")
            }
        }
    }
}

/// Joins validation errors the way the node does: one message alone, or
/// `Validation errors: a; b`.
pub fn join_validation_errors(errors: &[ValidationError]) -> String {
    match errors {
        [one] => one.to_string(),
        many => format!(
            "Validation errors: {}",
            many.iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("; ")
        ),
    }
}

/// Requests that carry their own validation (`Validate` in core).
pub trait Validate {
    fn validate(&self, _config: &Config) -> Vec<ValidationError> {
        Vec::new()
    }
}

/// `ValidatedJson<T>`: JSON body errors and validation failures are all
/// `400 {"error": …}`, with the node's prefixes.
pub struct ValidatedJson<T>(pub T);

impl<T> FromRequest<Arc<AppState>> for ValidatedJson<T>
where
    T: DeserializeOwned + Validate,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &Arc<AppState>) -> Result<Self, ApiError> {
        let Json(Strict(value)) = Json::<Strict<T>>::from_request(req, state)
            .await
            .map_err(|rejection| ApiError::bad_request(json_rejection_message(&rejection)))?;
        let errors = value.validate(&state.config);
        if errors.is_empty() {
            Ok(Self(value))
        } else {
            Err(ApiError::bad_request(join_validation_errors(&errors)))
        }
    }
}

/// Plain axum `Json<T>` (its own plain-text 400/415/422 rejections), with
/// the release's strictness ([`Strict`]).
pub struct PlainJson<T>(pub T);

impl<T, S> FromRequest<S> for PlainJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = JsonRejection;

    async fn from_request(req: Request, state: &S) -> Result<Self, JsonRejection> {
        let Json(Strict(value)) = Json::<Strict<T>>::from_request(req, state).await?;
        Ok(Self(value))
    }
}

/// A request body, `deny_unknown_fields` when the node's release makes every
/// body strict (rc.38+, [`crate::release::Release::strict_bodies`]): an
/// unknown top-level key fails with serde's own `unknown field `x`,
/// expected …` (the field list is the struct's, aliases included, in
/// declaration order), at the position just after the key, with the key as
/// the error path — what a derived `deny_unknown_fields` struct gives.
/// Nested objects are not checked [inferred limitation]. Before rc.38 (and
/// for anything but a plain struct) this is `T` itself.
#[derive(Debug)]
pub struct Strict<T>(pub T);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Strict<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        if !crate::release::current().strict_bodies() {
            return T::deserialize(deserializer).map(Strict);
        }
        match struct_shape::<T>() {
            Some((name, fields)) => deserializer
                .deserialize_struct(
                    name,
                    fields,
                    StrictVisitor::<T> {
                        name,
                        fields,
                        marker: PhantomData,
                    },
                )
                .map(Strict),
            None => T::deserialize(deserializer).map(Strict),
        }
    }
}

struct StrictVisitor<T> {
    name: &'static str,
    fields: &'static [&'static str],
    marker: PhantomData<T>,
}

impl<'de, T: Deserialize<'de>> Visitor<'de> for StrictVisitor<T> {
    type Value = T;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "struct {}", self.name)
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<T, A::Error> {
        T::deserialize(MapAccessDeserializer::new(CheckedKeys {
            inner: map,
            fields: self.fields,
        }))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<T, A::Error> {
        T::deserialize(SeqAccessDeserializer::new(seq))
    }
}

/// A map whose keys must be among `fields`.
struct CheckedKeys<A> {
    inner: A,
    fields: &'static [&'static str],
}

impl<'de, A: MapAccess<'de>> MapAccess<'de> for CheckedKeys<A> {
    type Error = A::Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, A::Error> {
        self.inner.next_key_seed(KnownKey {
            seed,
            fields: self.fields,
        })
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, A::Error> {
        self.inner.next_value_seed(seed)
    }

    fn size_hint(&self) -> Option<usize> {
        self.inner.size_hint()
    }
}

/// Reads a key, refuses it when unknown (inside the map's own key read, so
/// the position and error path are the derive's), else hands it on.
struct KnownKey<K> {
    seed: K,
    fields: &'static [&'static str],
}

impl<'de, K: DeserializeSeed<'de>> DeserializeSeed<'de> for KnownKey<K> {
    type Value = K::Value;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<K::Value, D::Error> {
        let key = String::deserialize(deserializer)?;
        if !self.fields.contains(&key.as_str()) {
            return Err(de::Error::unknown_field(&key, self.fields));
        }
        self.seed.deserialize(key.into_deserializer())
    }
}

/// The name and fields a derived `Deserialize` passes to
/// `deserialize_struct`, or `None` for anything else (maps, flattened
/// structs, enums, scalars).
fn struct_shape<'de, T: Deserialize<'de>>() -> Option<(&'static str, &'static [&'static str])> {
    let seen = Cell::new(None);
    let _ = T::deserialize(ShapeProbe { seen: &seen });
    seen.get()
}

type Shape = Option<(&'static str, &'static [&'static str])>;

struct ShapeProbe<'a> {
    seen: &'a Cell<Shape>,
}

#[derive(Debug)]
struct ProbeDone;

impl fmt::Display for ProbeDone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("probe")
    }
}

impl std::error::Error for ProbeDone {}

impl de::Error for ProbeDone {
    fn custom<M: fmt::Display>(_msg: M) -> Self {
        Self
    }
}

impl<'de> Deserializer<'de> for ShapeProbe<'_> {
    type Error = ProbeDone;

    fn deserialize_any<V: Visitor<'de>>(self, _visitor: V) -> Result<V::Value, ProbeDone> {
        Err(ProbeDone)
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        fields: &'static [&'static str],
        _visitor: V,
    ) -> Result<V::Value, ProbeDone> {
        self.seen.set(Some((name, fields)));
        Err(ProbeDone)
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf option unit unit_struct newtype_struct seq tuple
        tuple_struct map enum identifier ignored_any
    }
}

fn json_rejection_message(rejection: &JsonRejection) -> String {
    match rejection {
        JsonRejection::JsonDataError(e) => format!("Invalid JSON data: {}", e.body_text()),
        JsonRejection::JsonSyntaxError(e) => format!("JSON syntax error: {}", e.body_text()),
        JsonRejection::MissingJsonContentType(e) => e.body_text(),
        JsonRejection::BytesRejection(e) => {
            format!("Failed to read request body: {}", e.body_text())
        }
        _ => "Invalid JSON request".to_owned(),
    }
}

pub mod validate {
    //! Field checks shared by several requests.
    //! core: crates/server/primitives/src/validation.rs (`helpers`).

    use std::net::{Ipv4Addr, Ipv6Addr};

    use super::ValidationError;

    pub const MAX_METADATA_SIZE: usize = 64 * 1024;
    pub const MAX_INIT_PARAMS_SIZE: usize = 1024 * 1024;
    pub const MAX_PACKAGE_NAME_LENGTH: usize = 128;
    pub const MAX_VERSION_LENGTH: usize = 64;
    pub const MAX_URL_LENGTH: usize = 2048;
    pub const MAX_PATH_LENGTH: usize = 4096;
    pub const MAX_METHOD_NAME_LENGTH: usize = 256;

    /// Exactly `bytes * 2` characters, then hex (`not_hex` is the reason
    /// given for a bad character, which differs between requests).
    pub fn hex_string(
        value: &str,
        field: &'static str,
        bytes: usize,
        not_hex: &str,
        errors: &mut Vec<ValidationError>,
    ) {
        if value.len() != bytes * 2 {
            errors.push(ValidationError::InvalidLength {
                field,
                expected: bytes * 2,
                actual: value.len(),
            });
        } else if !value.bytes().all(|b| b.is_ascii_hexdigit()) {
            errors.push(ValidationError::InvalidHexEncoding {
                field,
                reason: not_hex.to_owned(),
            });
        }
    }

    pub fn bytes_size(
        value: &[u8],
        field: &'static str,
        max: usize,
        errors: &mut Vec<ValidationError>,
    ) {
        if value.len() > max {
            errors.push(ValidationError::PayloadTooLarge {
                field,
                max,
                actual: value.len(),
            });
        }
    }

    pub fn optional_string_length(
        value: Option<&str>,
        field: &'static str,
        max: usize,
        errors: &mut Vec<ValidationError>,
    ) {
        if let Some(value) = value {
            if value.len() > max {
                errors.push(ValidationError::StringTooLong {
                    field,
                    max,
                    actual: value.len(),
                });
            }
        }
    }

    pub fn safe_path(path: &str, field: &'static str, errors: &mut Vec<ValidationError>) {
        use std::path::{Component, Path};

        if path.len() > MAX_PATH_LENGTH {
            errors.push(ValidationError::StringTooLong {
                field,
                max: MAX_PATH_LENGTH,
                actual: path.len(),
            });
        } else if Path::new(path)
            .components()
            .any(|c| matches!(c, Component::ParentDir))
        {
            errors.push(ValidationError::InvalidFormat {
                field,
                reason: "path must not contain '..' traversal components".to_owned(),
            });
        }
    }

    /// Scheme and SSRF host checks; `allow_private` skips only the host check.
    pub fn url(
        value: &url::Url,
        field: &'static str,
        allow_private: bool,
        errors: &mut Vec<ValidationError>,
    ) {
        let len = value.as_str().len();
        if len > MAX_URL_LENGTH {
            errors.push(ValidationError::StringTooLong {
                field,
                max: MAX_URL_LENGTH,
                actual: len,
            });
            return;
        }
        if !matches!(value.scheme(), "http" | "https") {
            errors.push(ValidationError::InvalidFormat {
                field,
                reason: format!(
                    "unsupported URL scheme '{}'; only http and https are allowed",
                    value.scheme()
                ),
            });
            return;
        }
        match value.host() {
            None => errors.push(ValidationError::InvalidFormat {
                field,
                reason: "URL has no host".to_owned(),
            }),
            Some(host) if !allow_private && host_is_blocked(&host) => {
                errors.push(ValidationError::InvalidFormat {
                    field,
                    reason: "URL host is a loopback, private, link-local, or otherwise non-public address"
                        .to_owned(),
                });
            }
            Some(_) => {}
        }
    }

    /// Loopback / private / link-local / unspecified / broadcast / CGNAT
    /// addresses and `localhost` domains.
    pub fn host_is_blocked(host: &url::Host<&str>) -> bool {
        match host {
            url::Host::Ipv4(ip) => ipv4_is_blocked(*ip),
            url::Host::Ipv6(ip) => ipv6_is_blocked(*ip),
            url::Host::Domain(domain) => {
                let domain = domain.trim_end_matches('.').to_ascii_lowercase();
                domain == "localhost" || domain.ends_with(".localhost")
            }
        }
    }

    fn ipv4_is_blocked(ip: Ipv4Addr) -> bool {
        let o = ip.octets();
        let is_cgnat = o[0] == 100 && (o[1] & 0xc0) == 0x40;
        ip.is_loopback()
            || ip.is_private()
            || ip.is_link_local()
            || ip.is_unspecified()
            || ip.is_broadcast()
            || is_cgnat
    }

    fn ipv6_is_blocked(ip: Ipv6Addr) -> bool {
        if ip.is_loopback() || ip.is_unspecified() {
            return true;
        }
        if let Some(v4) = ip.to_ipv4_mapped() {
            return ipv4_is_blocked(v4);
        }
        let first = ip.segments()[0];
        (first & 0xfe00) == 0xfc00 || (first & 0xffc0) == 0xfe80
    }

    /// `validate_method_name` for JSON-RPC `execute`.
    pub fn method_name(value: &str, field: &'static str, errors: &mut Vec<ValidationError>) {
        if value.is_empty() {
            errors.push(ValidationError::EmptyField { field });
        } else if value.len() > MAX_METHOD_NAME_LENGTH {
            errors.push(ValidationError::StringTooLong {
                field,
                max: MAX_METHOD_NAME_LENGTH,
                actual: value.len(),
            });
        } else if let Some(c) = value.chars().find(char::is_ascii_control) {
            errors.push(ValidationError::InvalidFormat {
                field,
                reason: format!(
                    "contains control character '{}' which is not allowed",
                    c.escape_default()
                ),
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::release::{sync_scope, Release};

    #[derive(Deserialize, Debug)]
    #[serde(rename_all = "camelCase")]
    #[allow(dead_code, reason = "only deserialised")]
    struct Coordinates {
        package: String,
        #[serde(alias = "ver")]
        version: String,
    }

    fn parse(release: u16, body: &str) -> Result<Strict<Coordinates>, String> {
        sync_scope(Release::rc(release).unwrap(), || {
            serde_json::from_str::<Strict<Coordinates>>(body).map_err(|e| e.to_string())
        })
    }

    #[test]
    fn unknown_keys_fail_only_in_strict_releases() {
        let body = r#"{"url":"x","package":"p","version":"1"}"#;
        assert!(parse(37, body).is_ok());
        assert_eq!(
            parse(38, body).unwrap_err(),
            "unknown field `url`, expected one of `package`, `ver`, `version` at line 1 column 6"
        );
        assert!(parse(38, r#"{"package":"p","ver":"1"}"#).is_ok());
        assert_eq!(
            parse(38, r#"{"version":"1"}"#).unwrap_err(),
            "missing field `package` at line 1 column 15"
        );
        assert_eq!(
            parse(38, r#"{"package":1}"#).unwrap_err(),
            "invalid type: integer `1`, expected a string at line 1 column 12"
        );
        assert_eq!(
            parse(38, "[]").unwrap_err(),
            "invalid length 0, expected struct Coordinates with 2 elements at line 1 column 2"
        );
    }

    #[test]
    fn refusals_are_typed_from_rc44() {
        let typed = sync_scope(Release::rc(44).unwrap(), || ApiError::forbidden("no"));
        assert!(matches!(typed, ApiError::Json(StatusCode::FORBIDDEN, ref m) if m == "no"));
        let untyped = sync_scope(Release::rc(43).unwrap(), || ApiError::forbidden("no"));
        assert!(
            matches!(untyped, ApiError::Json(StatusCode::INTERNAL_SERVER_ERROR, ref m) if m == "Internal server error")
        );
    }
}
