//! The one error type of the core, and its classification.
//!
//! Every failure a call can meet is one `Error`. `Error::kind` says which
//! class a binding should raise (DESIGN.md, Errors); the bindings map kinds
//! to their own exception types and never look at messages.

use std::fmt;

/// How much of a response body an error keeps (the rest is dropped).
pub const ERROR_BODY_LIMIT: usize = 4096;

/// The class of a failure, for bindings to map to exception types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// A caller's argument is wrong; nothing was sent.
    InvalidArgument,
    /// The connection could not be made or broke before a response arrived.
    Network,
    /// The connect or request timeout ran out.
    Timeout,
    /// 400, 413, 415 or 422: the node rejected the request as malformed.
    BadRequest,
    /// 401: no token, a bad token, or an expired one.
    Authentication,
    /// The token was revoked or a refresh token was reused (`X-Auth-Error:
    /// token_revoked` / `token_reuse`): a fresh login is needed.
    AuthRevoked,
    /// 403: the caller may not do this.
    PermissionDenied,
    /// 404.
    NotFound,
    /// 409.
    Conflict,
    /// 429, with `retry_after` when the node sent `Retry-After`.
    RateLimit,
    /// 5xx.
    Server,
    /// Any other non-success status.
    Http,
    /// The node answered a JSON-RPC call with an `error` member.
    Rpc,
    /// The response could not be decoded.
    MalformedResponse,
    /// A failure inside the client itself.
    Internal,
    /// Reading or writing a local file failed (an `OSError` in Python).
    LocalIo,
    /// The node's TEE attestation was refused: its quote did not verify or
    /// does not meet the policy, or its transport key cannot be trusted.
    Attestation,
    /// A sealed exchange failed so that its answer cannot be trusted: a
    /// frame that did not open, an answer cut short, a malformed envelope.
    SealedTransport,
    /// The node's release does not serve this call (or this argument);
    /// nothing was sent.
    Unsupported,
}

impl ErrorKind {
    /// The name of the binding's exception class for this kind.
    pub fn class_name(self) -> &'static str {
        match self {
            ErrorKind::InvalidArgument => "ValueError",
            ErrorKind::Network => "NetworkError",
            ErrorKind::Timeout => "RequestTimeoutError",
            ErrorKind::BadRequest => "BadRequestError",
            ErrorKind::Authentication => "AuthenticationError",
            ErrorKind::AuthRevoked => "AuthRevokedError",
            ErrorKind::PermissionDenied => "PermissionDeniedError",
            ErrorKind::NotFound => "NotFoundError",
            ErrorKind::Conflict => "ConflictError",
            ErrorKind::RateLimit => "RateLimitError",
            ErrorKind::Server => "ServerError",
            ErrorKind::Http => "HttpError",
            ErrorKind::Rpc => "RpcError",
            ErrorKind::MalformedResponse => "MalformedResponseError",
            ErrorKind::Internal => "RuntimeError",
            ErrorKind::LocalIo => "OSError",
            ErrorKind::Attestation => "AttestationError",
            ErrorKind::SealedTransport => "SealedTransportError",
            ErrorKind::Unsupported => "UnsupportedByNodeError",
        }
    }
}

/// What the node answered when it answered with a failure status.
#[derive(Debug, Clone, PartialEq)]
pub struct HttpFailure {
    pub status: u16,
    /// The node's own message: `{"error": ...}`, a plain-text body, or the
    /// status' reason phrase when the body is empty.
    pub message: String,
    pub method: String,
    pub url: String,
    /// The body, lossily decoded and cut at [`ERROR_BODY_LIMIT`] bytes.
    pub body: String,
    /// Response headers, names lower-case.
    pub headers: Vec<(String, String)>,
    /// The `X-Auth-Error` header, when present.
    pub auth_error: Option<String>,
    /// `Retry-After` in seconds, when present and numeric.
    pub retry_after: Option<f64>,
}

/// A JSON-RPC level failure: HTTP 200 with an `error` member.
#[derive(Debug, Clone, PartialEq)]
pub struct RpcFailure {
    /// The JSON-RPC method (`execute`, `sync_status`, `set_ephemeral`).
    pub rpc_method: String,
    /// For `execute`, the application method called.
    pub app_method: Option<String>,
    /// The node's error `type` (`FunctionCallError`, `ContextNotFound`, ...).
    pub error_type: Option<String>,
    /// The node's error `data`, as JSON.
    pub data: Option<serde_json::Value>,
    /// The application's own error when the node sends it as a list of byte
    /// values inside the message (`the method call returned an error: [..]`):
    /// parsed as JSON when it is JSON, else the decoded text.
    pub guest_error: Option<serde_json::Value>,
    pub url: String,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Error {
    #[error("{argument}: {reason}")]
    InvalidArgument { argument: String, reason: String },
    #[error("{method} {url}: {message}")]
    Network {
        method: String,
        url: String,
        message: String,
        /// The connection could not be made: the request was not sent.
        connect: bool,
    },
    #[error("{method} {url}: timed out: {message}")]
    Timeout {
        method: String,
        url: String,
        message: String,
    },
    #[error("{}", .0)]
    Http(Box<HttpFailure>),
    #[error("{}", .0.message)]
    Rpc(Box<RpcFailure>),
    #[error("{method} {url}: malformed response: {message}")]
    MalformedResponse {
        method: String,
        url: String,
        message: String,
        body: String,
    },
    #[error("{0}")]
    Internal(String),
    #[error("{path}: {message}")]
    LocalIo {
        path: String,
        /// The OS error number, when there is one.
        errno: Option<i32>,
        message: String,
    },
    /// A call needs authentication and no way to obtain a token is known
    /// (nothing was sent, or the node's answer is not the cause).
    #[error("{message}")]
    NotAuthenticated { message: String },
    /// The node's TEE attestation was refused (nothing was sealed to it).
    #[error("TEE attestation refused: {message}")]
    Attestation { message: String },
    /// A sealed exchange failed in a way that makes its answer untrusted.
    #[error("{method} {url}: sealed transport: {message}")]
    Sealed {
        method: String,
        url: String,
        message: String,
    },
    /// The node's release has no route (or no argument) for the call:
    /// `call` names it, `releases` says which releases have it, `node`
    /// which release the node is taken to be and why.
    #[error("{call} is served by {releases}; {node}")]
    Unsupported {
        call: String,
        releases: String,
        node: String,
    },
}

impl fmt::Display for HttpFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "HTTP {} on {} {}: {}",
            self.status, self.method, self.url, self.message
        )
    }
}

impl Error {
    pub fn invalid(argument: &str, reason: impl Into<String>) -> Self {
        Error::InvalidArgument {
            argument: argument.to_owned(),
            reason: reason.into(),
        }
    }

    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::InvalidArgument { .. } => ErrorKind::InvalidArgument,
            Error::Network { .. } => ErrorKind::Network,
            Error::Timeout { .. } => ErrorKind::Timeout,
            Error::Http(h) => classify_status(h.status, h.auth_error.as_deref()),
            Error::Rpc(_) => ErrorKind::Rpc,
            Error::MalformedResponse { .. } => ErrorKind::MalformedResponse,
            Error::Internal(_) => ErrorKind::Internal,
            Error::LocalIo { .. } => ErrorKind::LocalIo,
            Error::NotAuthenticated { .. } => ErrorKind::Authentication,
            Error::Attestation { .. } => ErrorKind::Attestation,
            Error::Sealed { .. } => ErrorKind::SealedTransport,
            Error::Unsupported { .. } => ErrorKind::Unsupported,
        }
    }

    /// A failed operation on a local file.
    pub fn local_io(path: &std::path::Path, err: &std::io::Error) -> Self {
        Error::LocalIo {
            path: path.display().to_string(),
            errno: err.raw_os_error(),
            message: err.to_string(),
        }
    }

    /// The HTTP status, when the node answered with one.
    pub fn status(&self) -> Option<u16> {
        match self {
            Error::Http(h) => Some(h.status),
            _ => None,
        }
    }
}

/// The kind for a failure status, given the node's `X-Auth-Error` header.
pub fn classify_status(status: u16, auth_error: Option<&str>) -> ErrorKind {
    // core: crates/server/src/auth.rs (guard) and crates/auth/src/api/handlers/auth.rs
    // (refresh): a revoked token is a 403 `token_revoked`, a replayed refresh
    // token a 401 `token_reuse`; both need a fresh login.
    if matches!(auth_error, Some("token_revoked" | "token_reuse")) {
        return ErrorKind::AuthRevoked;
    }
    match status {
        400 | 413 | 415 | 422 => ErrorKind::BadRequest,
        401 => ErrorKind::Authentication,
        403 => ErrorKind::PermissionDenied,
        404 => ErrorKind::NotFound,
        409 => ErrorKind::Conflict,
        429 => ErrorKind::RateLimit,
        500..=599 => ErrorKind::Server,
        _ => ErrorKind::Http,
    }
}

/// The message a failure body carries: `{"error": "..."}` (admin API and
/// auth service), `{"error": {...}}`, plain text, or nothing.
pub fn failure_message(status: u16, body: &[u8]) -> String {
    if let Ok(value) = serde_json::from_slice::<serde_json::Value>(body) {
        match value.get("error") {
            Some(serde_json::Value::String(s)) => return s.clone(),
            Some(v) if !v.is_null() => return v.to_string(),
            _ => {}
        }
        if let Some(serde_json::Value::String(s)) = value.get("message") {
            return s.clone();
        }
    }
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    if text.is_empty() {
        reason_phrase(status).to_owned()
    } else {
        truncate(text, 512)
    }
}

/// Cuts `text` to at most `max` bytes on a character boundary.
pub fn truncate(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_owned();
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
}

fn reason_phrase(status: u16) -> &'static str {
    reqwest::StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("no message")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_map_to_kinds() {
        assert_eq!(classify_status(400, None), ErrorKind::BadRequest);
        assert_eq!(classify_status(422, None), ErrorKind::BadRequest);
        assert_eq!(classify_status(401, None), ErrorKind::Authentication);
        assert_eq!(
            classify_status(401, Some("token_expired")),
            ErrorKind::Authentication
        );
        assert_eq!(
            classify_status(401, Some("token_reuse")),
            ErrorKind::AuthRevoked
        );
        assert_eq!(
            classify_status(403, Some("token_revoked")),
            ErrorKind::AuthRevoked
        );
        assert_eq!(
            classify_status(403, Some("permission_denied")),
            ErrorKind::PermissionDenied
        );
        assert_eq!(classify_status(404, None), ErrorKind::NotFound);
        assert_eq!(classify_status(409, None), ErrorKind::Conflict);
        assert_eq!(classify_status(429, None), ErrorKind::RateLimit);
        assert_eq!(classify_status(500, None), ErrorKind::Server);
        assert_eq!(classify_status(504, None), ErrorKind::Server);
        assert_eq!(classify_status(410, None), ErrorKind::Http);
    }

    #[test]
    fn failure_messages_come_from_every_body_shape() {
        assert_eq!(
            failure_message(404, br#"{"error":"Context not found"}"#),
            "Context not found"
        );
        assert_eq!(
            failure_message(401, br#"{"data":null,"error":"Access token still valid"}"#),
            "Access token still valid"
        );
        assert_eq!(
            failure_message(500, b"application file not found at /x.wasm\n"),
            "application file not found at /x.wasm"
        );
        assert_eq!(failure_message(401, b""), "Unauthorized");
        assert_eq!(
            failure_message(400, br#"{"error":{"type":"ParseError","data":"x"}}"#),
            // Keys keep the node's order (serde_json preserve_order).
            r#"{"type":"ParseError","data":"x"}"#
        );
    }

    #[test]
    fn truncation_respects_char_boundaries() {
        assert_eq!(truncate("héllo", 2), "h…");
        assert_eq!(truncate("abc", 3), "abc");
    }
}
