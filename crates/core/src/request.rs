//! Turning an endpoint and its arguments into a request, with every
//! argument validated first: nothing here does I/O, so a bad argument is an
//! error before anything is sent.

use std::borrow::Cow;

use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::Value;

use crate::endpoints::{Arg, Body, Endpoint, Kind, Loc, Output, Verb};
use crate::error::Error;
use crate::ids;
use crate::release::{Release, Releases};

/// A call (or an argument of it) `release` does not serve.
pub fn unsupported(call: String, releases: Releases, release: Release) -> Error {
    Error::Unsupported {
        call,
        releases: releases.describe(),
        node: format!("the node is taken to run {release}"),
    }
}

/// A 32-byte id as `release` writes it: base58 before 0.11.0-rc.27, hex
/// from it. The caller's text is kept when it is already in that encoding.
pub fn id_for(release: Release, given: &str, bytes: &[u8; 32]) -> String {
    let is_hex = given.len() == 64;
    match (release.hex_ids(), is_hex) {
        (true, true) => given.to_ascii_lowercase(),
        (true, false) => hex::encode(bytes),
        (false, false) => given.to_owned(),
        (false, true) => bs58::encode(bytes).into_string(),
    }
}

/// An argument value as a binding hands it over.
#[derive(Debug, Clone, PartialEq)]
pub enum ArgValue {
    Str(String),
    UInt(u64),
    Bool(bool),
    Bytes(Vec<u8>),
    Json(Value),
}

impl ArgValue {
    fn type_name(&self) -> &'static str {
        match self {
            ArgValue::Str(_) => "a string",
            ArgValue::UInt(_) => "an integer",
            ArgValue::Bool(_) => "a bool",
            ArgValue::Bytes(_) => "bytes",
            ArgValue::Json(_) => "a JSON value",
        }
    }
}

/// A request ready to send.
#[derive(Debug, Clone, PartialEq)]
pub struct Prepared {
    pub verb: Verb,
    /// Path relative to the connection's base URL, segments percent-encoded.
    pub path: String,
    /// Query pairs, unencoded.
    pub query: Vec<(&'static str, String)>,
    /// JSON body, serialised.
    pub body: Option<Vec<u8>>,
    pub output: Output,
    /// For JSON-RPC: (rpc method, application method).
    pub rpc: Option<(&'static str, Option<String>)>,
    /// The endpoint's method name and the releases serving its route (a
    /// 404 from a route some releases lack tells the node's release).
    pub name: &'static str,
    pub releases: Releases,
}

/// Characters escaped in a path segment: everything but RFC 3986 unreserved.
const SEGMENT: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Validates `args` (one per `endpoint.args`, `None` when absent) and builds
/// the request `release` takes. `rpc_id` is the JSON-RPC id to use, if the
/// endpoint is one. Every argument is checked first (ValueError-kind
/// errors); then a route or a given argument `release` does not serve is an
/// [`Error::Unsupported`]. Nothing here does I/O.
pub fn prepare(
    endpoint: &Endpoint,
    args: &[Option<ArgValue>],
    rpc_id: u64,
    release: Release,
) -> Result<Prepared, Error> {
    if args.len() != endpoint.args.len() {
        return Err(Error::Internal(format!(
            "{} takes {} arguments, got {}",
            endpoint.name,
            endpoint.args.len(),
            args.len()
        )));
    }
    let mut wires: Vec<Option<Value>> = Vec::with_capacity(args.len());
    for (spec, value) in endpoint.args.iter().zip(args) {
        wires.push(match value {
            _ if spec.loc == Loc::Local => None,
            None if spec.required => {
                return Err(Error::invalid(spec.name, "is required, got None"));
            }
            None => None,
            Some(v) => encode(spec, v, release)?,
        });
    }
    if !endpoint.releases.contains(release) {
        return Err(unsupported(
            format!("{}()", endpoint.name),
            endpoint.releases,
            release,
        ));
    }
    let mut path_values: Vec<(&str, String)> = Vec::new();
    let mut query = Vec::new();
    let mut body = Members::default();
    let mut app_method = None;

    for (spec, wire) in endpoint.args.iter().zip(wires) {
        if spec.loc == Loc::Local {
            // The binding's own arguments (upload data, a download's path, a
            // progress callback): validated and used there.
            continue;
        }
        if !spec.releases.contains(release) {
            // Given (an empty optional list counts as not given).
            if wire.is_some() {
                return Err(unsupported(
                    format!("{}({}=...)", endpoint.name, spec.name),
                    spec.releases,
                    release,
                ));
            }
            continue;
        }
        let wire = match (wire, spec.default) {
            (Some(w), _) => w,
            (None, Some(d)) => {
                serde_json::from_str(d).map_err(|e| Error::Internal(e.to_string()))?
            }
            (None, None) => continue,
        };
        if spec.name == "method" && matches!(endpoint.body, Body::JsonRpc("execute")) {
            app_method = wire.as_str().map(str::to_owned);
        }
        match spec.loc {
            Loc::Path => path_values.push((spec.name, scalar_text(&wire))),
            Loc::Query(key) => query.push((key, scalar_text(&wire))),
            Loc::Body(key) => body.insert(Cow::Borrowed(key), wire),
            Loc::Spread => match wire {
                Value::Object(members) => body.extend(members),
                _ => return Err(Error::invalid(spec.name, "expected a JSON object")),
            },
            Loc::Nowhere | Loc::Local => {}
        }
    }

    let mut path = String::new();
    for segment in endpoint.path.split('/').filter(|s| !s.is_empty()) {
        path.push('/');
        match segment.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
            Some(name) => {
                let value = path_values
                    .iter()
                    .find(|(n, _)| *n == name)
                    .map(|(_, v)| v.as_str())
                    .ok_or_else(|| {
                        Error::Internal(format!("{}: no value for {{{name}}}", endpoint.name))
                    })?;
                // `.` and `..` stay as they are when encoded (and `%2e` means
                // `.` to URL parsers): the URL would be normalised onto
                // another route.
                if value == "." || value == ".." {
                    return Err(Error::invalid(
                        name,
                        format!("{value:?} is not allowed (it would change the route)"),
                    ));
                }
                path.extend(percent_encoding::utf8_percent_encode(value, SEGMENT));
            }
            None => path.push_str(segment),
        }
    }

    let (body, rpc) = match endpoint.body {
        Body::Empty | Body::Stream => (None, None),
        Body::Json => (Some(serde_json::to_vec(&body)), None),
        Body::JsonRpc(method) => {
            let envelope = Envelope {
                jsonrpc: "2.0",
                id: rpc_id,
                method,
                params: &body,
            };
            (
                Some(serde_json::to_vec(&envelope)),
                Some((method, app_method)),
            )
        }
    };
    let body = body
        .transpose()
        .map_err(|e| Error::Internal(e.to_string()))?;
    Ok(Prepared {
        verb: endpoint.verb,
        path,
        query,
        body,
        output: endpoint.output,
        rpc,
        name: endpoint.name,
        releases: endpoint.releases,
    })
}

/// A JSON body's members in order, written without building a map: a key
/// given again keeps its place and takes the later value, as serde_json's
/// order-preserving `Map` did here before (its hashing and the `Value`
/// tree around it were a sixth of a JSON-RPC call's client-side work:
/// callgrind, benches/RESULTS.md).
#[derive(Default)]
struct Members(Vec<(Cow<'static, str>, Value)>);

impl Members {
    fn insert(&mut self, key: Cow<'static, str>, value: Value) {
        match self.0.iter_mut().find(|(k, _)| *k == key) {
            Some(member) => member.1 = value,
            None => self.0.push((key, value)),
        }
    }

    /// The members of a spread object (whose own keys are distinct: only
    /// the members set before it are looked through).
    fn extend(&mut self, members: serde_json::Map<String, Value>) {
        let before = self.0.len();
        self.0.reserve(members.len());
        for (key, value) in members {
            match self.0[..before]
                .iter_mut()
                .find(|(k, _)| *k == key.as_str())
            {
                Some(member) => member.1 = value,
                None => self.0.push((Cow::Owned(key), value)),
            }
        }
    }
}

impl Serialize for Members {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (key, value) in &self.0 {
            map.serialize_entry(key, value)?;
        }
        map.end()
    }
}

/// A JSON-RPC request: `{"jsonrpc":"2.0","id":..,"method":..,"params":{..}}`.
#[derive(serde::Serialize)]
struct Envelope<'a> {
    jsonrpc: &'static str,
    id: u64,
    method: &'static str,
    params: &'a Members,
}

fn scalar_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn wrong_type(spec: &Arg, expected: &str, got: &ArgValue) -> Error {
    Error::invalid(
        spec.name,
        format!("expected {expected}, got {}", got.type_name()),
    )
}

/// Validates one argument and gives its wire value (`None`: not sent).
fn encode(spec: &Arg, value: &ArgValue, release: Release) -> Result<Option<Value>, Error> {
    let name = spec.name;
    let string = |expected: &str| match value {
        ArgValue::Str(s) => Ok(s.as_str()),
        other => Err(wrong_type(spec, expected, other)),
    };
    Ok(Some(match spec.kind {
        Kind::Id => {
            let s = string("an id string")?;
            let bytes = ids::base58_or_hex_32(name, s)?;
            Value::from(id_for(release, s, &bytes))
        }
        Kind::IgnoredId => {
            let s = string("an id string")?;
            if !s.is_empty() {
                ids::base58_or_hex_32(name, s)?;
            }
            return Ok(None);
        }
        Kind::HexId => {
            let s = string("a hex id string")?;
            ids::hex_32(name, s)?;
            Value::from(s)
        }
        Kind::Name => {
            let s = string("a string")?;
            ids::text(name, s, spec.max_len.unwrap_or(256))?;
            Value::from(s)
        }
        Kind::Package => {
            let s = string("a package name string")?;
            ids::text(name, s, spec.max_len.unwrap_or(128))?;
            if s.contains("://") {
                return Err(Error::invalid(
                    name,
                    format!(
                        "expected a package name such as \"com.example.kv\", got a URL {}",
                        ids::shown(s)
                    ),
                ));
            }
            Value::from(s)
        }
        Kind::Url => {
            let s = string("a URL string")?;
            ids::http_url(name, s)?;
            Value::from(s)
        }
        Kind::NodePath => {
            let s = string("a path string")?;
            ids::node_path(name, s)?;
            Value::from(s)
        }
        Kind::UInt => match value {
            ArgValue::UInt(n) => Value::from(*n),
            other => return Err(wrong_type(spec, "a non-negative integer", other)),
        },
        Kind::Bool => match value {
            ArgValue::Bool(b) => Value::from(*b),
            other => return Err(wrong_type(spec, "True or False", other)),
        },
        Kind::JsonText => match value {
            ArgValue::Str(s) => serde_json::from_str(s)
                .map_err(|e| Error::invalid(name, format!("a string must be JSON text ({e})")))?,
            ArgValue::Json(v) => v.clone(),
            other => {
                return Err(wrong_type(
                    spec,
                    "a JSON string or a JSON-serialisable value",
                    other,
                ))
            }
        },
        Kind::IgnoredText => {
            string("a string")?;
            return Ok(None);
        }
        Kind::Alias => {
            let s = string("an alias string")?;
            ids::alias(name, s)?;
            Value::from(s)
        }
        Kind::Hex { min, max } => {
            let s = string("a hex string")?;
            ids::hex_text(name, s, min, max)?;
            Value::from(s)
        }
        Kind::UInt32 => match value {
            ArgValue::UInt(n) if u32::try_from(*n).is_ok() => Value::from(*n),
            ArgValue::UInt(n) => {
                return Err(Error::invalid(
                    name,
                    format!("expected an integer from 0 to 4294967295, got {n}"),
                ))
            }
            other => return Err(wrong_type(spec, "a non-negative integer", other)),
        },
        Kind::Choice(choices) => {
            let s = string("a string")?;
            if !choices.contains(&s) {
                return Err(Error::invalid(
                    name,
                    format!(
                        "expected one of {}, got {}",
                        choices.join(", "),
                        ids::shown(s)
                    ),
                ));
            }
            Value::from(s)
        }
        Kind::Role => Value::from(role(name, string("a role string")?)?),
        Kind::Members => {
            let items = json_list(spec, value)?;
            let mut members = Vec::with_capacity(items.len());
            for (i, item) in items.into_iter().enumerate() {
                let at = format!("item {i}");
                let (identity, role_name) = match item {
                    Value::String(identity) => (identity, None),
                    Value::Object(mut fields) => {
                        let identity = match fields.remove("identity") {
                            Some(Value::String(s)) => s,
                            _ => {
                                return Err(Error::invalid(
                                    name,
                                    format!("{at}: expected an \"identity\" string"),
                                ))
                            }
                        };
                        let role_name = match fields.remove("role") {
                            None | Some(Value::Null) => None,
                            Some(Value::String(r)) => Some(r),
                            Some(_) => {
                                return Err(Error::invalid(
                                    name,
                                    format!("{at}: \"role\" must be a string"),
                                ))
                            }
                        };
                        if let Some(key) = fields.keys().next() {
                            return Err(Error::invalid(
                                name,
                                format!(
                                    "{at}: unknown key {} (expected identity and role)",
                                    ids::shown(key)
                                ),
                            ));
                        }
                        (identity, role_name)
                    }
                    _ => {
                        return Err(Error::invalid(
                            name,
                            format!(
                                "{at}: expected an identity string or {{\"identity\", \"role\"}}"
                            ),
                        ))
                    }
                };
                let bytes = ids::base58_or_hex_32(name, &identity)
                    .map_err(|e| Error::invalid(name, format!("{at}: identity {}", reason(&e))))?;
                // A hex identity is an account (hex in every release); a
                // base58 one is a public key, which rc.27+ writes in hex.
                let identity = if identity.len() == 64 {
                    identity.to_ascii_lowercase()
                } else {
                    id_for(release, &identity, &bytes)
                };
                let role_name = match role_name {
                    Some(r) => role(name, &r)
                        .map_err(|e| Error::invalid(name, format!("{at}: role {}", reason(&e))))?,
                    None => "Member",
                };
                members.push(serde_json::json!({"identity": identity, "role": role_name}));
            }
            Value::Array(members)
        }
        Kind::HexIdList | Kind::IdList if !spec.required && is_empty_list(value) => {
            return Ok(None)
        }
        Kind::IdList => {
            let items = match value {
                ArgValue::Json(Value::Array(items)) => items,
                other => return Err(wrong_type(spec, "a list of id strings", other)),
            };
            let mut out = Vec::with_capacity(items.len());
            for (i, item) in items.iter().enumerate() {
                let Value::String(s) = item else {
                    return Err(Error::invalid(
                        name,
                        format!("item {i}: expected an id string"),
                    ));
                };
                let bytes = ids::base58_or_hex_32(name, s)
                    .map_err(|e| Error::invalid(name, format!("item {i}: {}", reason(&e))))?;
                out.push(Value::from(id_for(release, s, &bytes)));
            }
            Value::Array(out)
        }
        Kind::DeviceScope => match value {
            ArgValue::Str(s) if s == "all" => Value::from("all"),
            ArgValue::Json(Value::Object(fields))
                if fields.len() == 1 && fields.contains_key("only") =>
            {
                device_scope(spec, fields.get("only").unwrap_or(&Value::Null), release)?
            }
            ArgValue::Json(list @ Value::Array(_)) => device_scope(spec, list, release)?,
            _ => {
                return Err(Error::invalid(
                    name,
                    "expected \"all\", a list of application ids, or {\"only\": [ids]}",
                ))
            }
        },
        Kind::HexIdList => {
            let items = json_list(spec, value)?;
            for (i, item) in items.iter().enumerate() {
                match item {
                    Value::String(s) => {
                        ids::hex_32(name, s).map_err(|e| {
                            Error::invalid(name, format!("item {i}: {}", reason(&e)))
                        })?;
                    }
                    _ => {
                        return Err(Error::invalid(
                            name,
                            format!("item {i}: expected a hex account id string"),
                        ))
                    }
                }
            }
            Value::Array(items)
        }
        Kind::StrList if !spec.required && is_empty_list(value) => return Ok(None),
        Kind::StrList => {
            let items = match value {
                ArgValue::Json(Value::Array(items)) => items.clone(),
                other => return Err(wrong_type(spec, "a list of strings", other)),
            };
            for (i, item) in items.iter().enumerate() {
                match item {
                    Value::String(s) => ids::text(name, s, 4096)
                        .map_err(|e| Error::invalid(name, format!("item {i}: {}", reason(&e))))?,
                    _ => return Err(Error::invalid(name, format!("item {i}: expected a string"))),
                }
            }
            Value::Array(items)
        }
        Kind::Metadata => metadata(spec, value)?,
        Kind::Upload | Kind::LocalPath | Kind::Progress => {
            return Err(Error::Internal(format!(
                "{name}: handled by the binding, not sent"
            )))
        }
        Kind::Bytes => {
            let bytes = match value {
                ArgValue::Bytes(b) => b.clone(),
                ArgValue::Str(s) => s.as_bytes().to_vec(),
                ArgValue::Json(v) => {
                    serde_json::to_vec(v).map_err(|e| Error::invalid(name, e.to_string()))?
                }
                other => {
                    return Err(wrong_type(
                        spec,
                        "bytes, a string or a JSON-serialisable value",
                        other,
                    ))
                }
            };
            if let Some(max) = spec.max_len.filter(|max| bytes.len() > *max) {
                return Err(Error::invalid(
                    name,
                    format!("expected at most {max} bytes, got {}", bytes.len()),
                ));
            }
            bytes_value(&bytes)
        }
    }))
}

/// A role as the node spells it (`GroupMemberRole`, core:
/// crates/primitives/src/context.rs); `ReadOnlyTee` is the node's own and
/// cannot be given (the node answers 400).
fn role(argument: &str, value: &str) -> Result<&'static str, Error> {
    match value.to_ascii_lowercase().as_str() {
        "admin" => Ok("Admin"),
        "member" => Ok("Member"),
        "readonly" | "read_only" | "read-only" => Ok("ReadOnly"),
        _ => Err(Error::invalid(
            argument,
            format!(
                "expected \"Admin\", \"Member\" or \"ReadOnly\", got {}",
                ids::shown(value)
            ),
        )),
    }
}

/// Whether an optional list argument is empty (then it is not sent: the
/// node's default is the empty list, and older releases lack the field).
fn is_empty_list(value: &ArgValue) -> bool {
    match value {
        ArgValue::Json(Value::Array(items)) => items.is_empty(),
        ArgValue::Str(s) => serde_json::from_str::<Vec<Value>>(s).is_ok_and(|v| v.is_empty()),
        _ => false,
    }
}

/// `{"only": [ids]}`, the ids checked and in the release's encoding.
fn device_scope(spec: &Arg, list: &Value, release: Release) -> Result<Value, Error> {
    let Value::Array(items) = list else {
        return Err(Error::invalid(
            spec.name,
            "\"only\" must be a list of application ids",
        ));
    };
    if items.is_empty() {
        return Err(Error::invalid(
            spec.name,
            "expected at least one application id (use \"all\" for every application)",
        ));
    }
    let mut out = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let Value::String(s) = item else {
            return Err(Error::invalid(
                spec.name,
                format!("item {i}: expected an id string"),
            ));
        };
        let bytes = ids::base58_or_hex_32(spec.name, s)
            .map_err(|e| Error::invalid(spec.name, format!("item {i}: {}", reason(&e))))?;
        out.push(Value::from(id_for(release, s, &bytes)));
    }
    Ok(serde_json::json!({ "only": out }))
}

/// The reason of an invalid-argument error, without the argument's name.
fn reason(err: &Error) -> String {
    match err {
        Error::InvalidArgument { reason, .. } => reason.clone(),
        other => other.to_string(),
    }
}

/// A non-empty JSON list, given as a list or as its JSON text.
fn json_list(spec: &Arg, value: &ArgValue) -> Result<Vec<Value>, Error> {
    let parsed = match value {
        ArgValue::Str(s) => serde_json::from_str(s)
            .map_err(|e| Error::invalid(spec.name, format!("a string must be JSON text ({e})")))?,
        ArgValue::Json(v) => v.clone(),
        other => return Err(wrong_type(spec, "a list or its JSON text", other)),
    };
    match parsed {
        Value::Array(items) if !items.is_empty() => Ok(items),
        Value::Array(_) => Err(Error::invalid(spec.name, "expected at least one entry")),
        _ => Err(Error::invalid(spec.name, "expected a list")),
    }
}

/// A metadata record within the node's limits
/// (core: crates/primitives/src/metadata.rs, `validate_metadata_payload`).
fn metadata(spec: &Arg, value: &ArgValue) -> Result<Value, Error> {
    let name = spec.name;
    let parsed = match value {
        ArgValue::Str(s) => serde_json::from_str(s)
            .map_err(|e| Error::invalid(name, format!("a string must be JSON text ({e})")))?,
        ArgValue::Json(v) => v.clone(),
        other => return Err(wrong_type(spec, "a dict or its JSON text", other)),
    };
    let Value::Object(fields) = &parsed else {
        return Err(Error::invalid(
            name,
            "expected an object {\"name\", \"data\"}",
        ));
    };
    for (key, field) in fields {
        match (key.as_str(), field) {
            ("name", Value::Null) => {}
            ("name", Value::String(s)) => {
                if s.is_empty() || s.len() > 64 {
                    return Err(Error::invalid(
                        name,
                        format!(
                            "\"name\" must be 1 to 64 bytes (None clears it), got {} bytes",
                            s.len()
                        ),
                    ));
                }
            }
            ("data", Value::Object(entries)) => {
                if entries.len() > 64 {
                    return Err(Error::invalid(
                        name,
                        format!("\"data\" has {} entries, at most 64", entries.len()),
                    ));
                }
                for (k, v) in entries {
                    let Value::String(v) = v else {
                        return Err(Error::invalid(
                            name,
                            format!("\"data\"[{}] must be a string", ids::shown(k)),
                        ));
                    };
                    if k.is_empty() || k.len() > 64 || v.len() > 4096 {
                        return Err(Error::invalid(
                            name,
                            format!(
                                "\"data\" keys must be 1 to 64 bytes and values at most 4096 \
                                 bytes (key {})",
                                ids::shown(k)
                            ),
                        ));
                    }
                }
            }
            ("name" | "data", _) => {
                return Err(Error::invalid(
                    name,
                    format!(
                        "{} must be a string (name) or an object of strings (data)",
                        ids::shown(key)
                    ),
                ))
            }
            _ => {
                return Err(Error::invalid(
                    name,
                    format!("unknown key {} (expected name and data)", ids::shown(key)),
                ))
            }
        }
    }
    Ok(parsed)
}

/// `Vec<u8>` as the node's serde expects it: a JSON array of integers.
fn bytes_value(bytes: &[u8]) -> Value {
    Value::Array(bytes.iter().map(|b| Value::from(*b)).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::endpoints::{find, ENDPOINTS};

    const CTX: &str = "EMtpXdHZQLiqyPVVAzJWbnishYR1gPTvKKtWD3e2V6zo";
    const APP: &str = "Bk7VpFJNGuxTLFuvKT86HWNy82K14VosaFQGYPjVa4rG";
    const NS: &str = "699c99ea0a2997fb0826b12f6689df76d58763d2fb794f9a2d147f2e580794d1";

    fn s(v: &str) -> Option<ArgValue> {
        Some(ArgValue::Str(v.into()))
    }

    fn prep(name: &str, args: &[Option<ArgValue>]) -> Result<Prepared, Error> {
        prep_at(name, args, Release(25))
    }

    /// The first entry of `name` `release` serves (or the first entry).
    fn prep_at(name: &str, args: &[Option<ArgValue>], release: Release) -> Result<Prepared, Error> {
        let endpoint = ENDPOINTS
            .iter()
            .filter(|e| e.name == name)
            .find(|e| e.releases.contains(release))
            .or_else(|| find(name).map(|(_, e)| e))
            .expect("endpoint");
        prepare(endpoint, args, 7, release)
    }

    fn body(p: &Prepared) -> Value {
        serde_json::from_slice(p.body.as_ref().expect("body")).expect("json")
    }

    #[test]
    fn path_arguments_fill_the_template() {
        let p = prep("get_context_storage", &[s(CTX)]).unwrap();
        assert_eq!(p.path, format!("/admin-api/contexts/{CTX}/storage"));
        assert_eq!(p.verb, Verb::Get);
        assert!(p.body.is_none());
    }

    #[test]
    fn query_arguments_only_when_given() {
        let p = prep("list_contexts", &[None, Some(ArgValue::UInt(5))]).unwrap();
        assert_eq!(p.query, vec![("limit", "5".to_string())]);
    }

    #[test]
    fn bodies_carry_defaults_and_skip_absent_values() {
        let p = prep(
            "create_context",
            &[s(APP), s(NS), None, None, None, None, None],
        )
        .unwrap();
        assert_eq!(
            body(&p),
            serde_json::json!({"applicationId": APP, "groupId": NS, "initializationParams": []})
        );
        let p = prep(
            "create_context",
            &[
                s(APP),
                s(NS),
                Some(ArgValue::Json(serde_json::json!({"a": 1}))),
                None,
                None,
                None,
                s("n"),
            ],
        )
        .unwrap();
        let b = body(&p);
        assert_eq!(
            b["initializationParams"],
            serde_json::json!(br#"{"a":1}"#.to_vec())
        );
        assert_eq!(b["name"], "n");
    }

    #[test]
    fn a_spread_object_is_the_body_in_its_own_order() {
        let p = prep(
            "set_group_metadata",
            &[s(NS), s(r#"{"name":"n","data":{"b":"1","a":"2"}}"#)],
        )
        .unwrap();
        assert_eq!(
            String::from_utf8(p.body.unwrap()).unwrap(),
            r#"{"name":"n","data":{"b":"1","a":"2"}}"#
        );
    }

    #[test]
    fn json_object_body_is_sent_even_when_empty() {
        let p = prep("delete_context", &[s(CTX)]).unwrap();
        assert_eq!(body(&p), serde_json::json!({}));
        let p = prep("resync_context", &[s(CTX), None]).unwrap();
        assert_eq!(body(&p), serde_json::json!({"force": false}));
    }

    #[test]
    fn jsonrpc_envelopes() {
        let p = prep(
            "execute_function",
            &[s(CTX), s("set"), s(r#"{"key":"k","value":"v"}"#), s("")],
        )
        .unwrap();
        assert_eq!(
            body(&p),
            serde_json::json!({"jsonrpc": "2.0", "id": 7, "method": "execute",
                "params": {"contextId": CTX, "method": "set", "argsJson": {"key": "k", "value": "v"}}})
        );
        assert_eq!(p.rpc, Some(("execute", Some("set".to_string()))));
        // Byte for byte: the envelope's members and the params in the
        // endpoint's order, the arguments' own key order kept.
        let p = prep(
            "execute_function",
            &[s(CTX), s("set"), s(r#"{"value":"v","key":"k"}"#), None],
        )
        .unwrap();
        assert_eq!(
            String::from_utf8(p.body.unwrap()).unwrap(),
            format!(
                r#"{{"jsonrpc":"2.0","id":7,"method":"execute","params":{{"contextId":"{CTX}","method":"set","argsJson":{{"value":"v","key":"k"}}}}}}"#
            )
        );
        let err = prep(
            "execute_function",
            &[s(CTX), s("set"), s("{not json"), None],
        )
        .unwrap_err();
        assert!(
            err.to_string()
                .starts_with("args: a string must be JSON text"),
            "{err}"
        );
        let err = prep("execute_function", &[s(CTX), s("set"), None, s("bad")]).unwrap_err();
        assert!(err.to_string().starts_with("executor_public_key:"), "{err}");
    }

    #[test]
    fn hashes_are_sent_as_base58() {
        let hex = "f07a47880292357fc5b3749977dcb51fed7f1cbfd6947beec9e9d0c9807fdf73";
        let p = prep(
            "install_application",
            &[s("https://example.com/a.wasm"), s(hex), None, None, None],
        )
        .unwrap();
        let b = body(&p);
        let expected = bs58::encode(hex::decode(hex).unwrap()).into_string();
        assert_eq!(b["hash"], Value::from(expected));
        assert_eq!(b["metadata"], serde_json::json!([]));
    }

    #[test]
    fn bad_arguments_name_themselves() {
        let cases: Vec<(&str, Vec<Option<ArgValue>>, &str)> = vec![
            ("get_context", vec![s("nope")], "context_id:"),
            ("get_context", vec![None], "context_id: is required"),
            (
                "get_context",
                vec![Some(ArgValue::UInt(1))],
                "context_id: expected an id string, got an integer",
            ),
            (
                "get_namespace",
                vec![s(CTX)],
                "namespace_id: expected 64 hexadecimal",
            ),
            (
                "install_application",
                vec![s("file:///x"), None, None, None, None],
                "url:",
            ),
            (
                "install_dev_application",
                vec![s("/a/../b"), None, None, None],
                "path:",
            ),
            (
                "resync_context",
                vec![s(CTX), s("yes")],
                "force: expected True or False",
            ),
        ];
        for (name, args, prefix) in cases {
            let err = prep(name, &args).unwrap_err();
            assert!(
                matches!(err, Error::InvalidArgument { .. }),
                "{name}: {err:?}"
            );
            assert!(err.to_string().starts_with(prefix), "{name}: {err}");
        }
    }

    #[test]
    fn dot_segments_are_refused() {
        for bad in [".", ".."] {
            let err = prep("list_package_versions", &[s(bad)]).unwrap_err();
            assert!(err.to_string().starts_with("package: "), "{err}");
        }
        let p = prep("list_package_versions", &[s("...")]).unwrap();
        assert_eq!(p.path, "/admin-api/packages/.../versions");
    }

    #[test]
    fn path_segments_are_percent_encoded() {
        let p = prep("list_package_versions", &[s("com.example/kv store")]).unwrap();
        assert_eq!(
            p.path,
            "/admin-api/packages/com.example%2Fkv%20store/versions"
        );
    }

    const HEX_CTX: &str = "c83d3d3c3c3e8fd5e7b8a4b1c1e1f7d5b0a9f4f0d3e6a3b0e4c9f2a1d6b8e7c5";

    #[test]
    fn ids_go_out_in_the_release_encoding() {
        let bytes = ids::base58_32("x", CTX).unwrap();
        let hex = hex::encode(bytes);
        // rc.25 takes base58: a hex id given is sent as base58.
        let p = prep_at("get_context", &[s(&hex)], Release(25)).unwrap();
        assert_eq!(p.path, format!("/admin-api/contexts/{CTX}"));
        // rc.27+ takes hex: a base58 id given is sent as hex.
        let p = prep_at("get_context", &[s(CTX)], Release(83)).unwrap();
        assert_eq!(p.path, format!("/admin-api/contexts/{hex}"));
        // Given in the node's encoding, it goes as given (hex lower-cased).
        let p = prep_at("get_context", &[s(&HEX_CTX.to_uppercase())], Release(83)).unwrap();
        assert_eq!(p.path, format!("/admin-api/contexts/{HEX_CTX}"));
        let p = prep_at(
            "execute_function",
            &[s(CTX), s("get"), None, None],
            Release(83),
        )
        .unwrap();
        assert_eq!(body(&p)["params"]["contextId"], Value::from(hex.clone()));
        // A group member's account (hex) stays hex on every release; a
        // base58 key follows the release.
        let members = Some(ArgValue::Json(serde_json::json!([NS, {"identity": CTX}])));
        for (release, key) in [(25, CTX.to_string()), (83, hex.clone())] {
            let p = prep_at(
                "add_group_members",
                &[s(NS), members.clone()],
                Release(release),
            )
            .unwrap();
            assert_eq!(
                body(&p)["members"],
                serde_json::json!([{"identity": NS, "role": "Member"}, {"identity": key, "role": "Member"}])
            );
        }
    }

    #[test]
    fn install_takes_the_shape_of_its_release() {
        let p = prep_at(
            "install_application",
            &[s("com.example.kv"), s("1.0.0")],
            Release(83),
        )
        .unwrap();
        assert_eq!(
            body(&p),
            serde_json::json!({"package": "com.example.kv", "version": "1.0.0"})
        );
        let p = prep_at(
            "install_application",
            &[s("https://example.com/a.wasm"), None, None, None, None],
            Release(25),
        )
        .unwrap();
        assert_eq!(
            body(&p),
            serde_json::json!({"url": "https://example.com/a.wasm", "metadata": []})
        );
        // The rc.25 form is not served by rc.83, whatever its arguments.
        let old = ENDPOINTS
            .iter()
            .find(|e| e.name == "install_application" && e.releases.contains(Release(25)))
            .unwrap();
        let err = prepare(
            old,
            &[s("https://example.com/a.wasm"), None, None, None, None],
            1,
            Release(83),
        );
        assert!(matches!(err, Err(Error::Unsupported { .. })), "{err:?}");
        // A package name is not a URL.
        let err = prep_at(
            "install_application",
            &[s("https://x/a.wasm"), s("1")],
            Release(83),
        )
        .unwrap_err();
        assert!(
            err.to_string()
                .starts_with("package: expected a package name"),
            "{err}"
        );
        // Dev installs: {path} alone from rc.32; metadata given there is refused.
        let p = prep_at(
            "install_dev_application",
            &[s("/tmp/a.mpk"), None, None, None],
            Release(83),
        )
        .unwrap();
        assert_eq!(body(&p), serde_json::json!({"path": "/tmp/a.mpk"}));
        let p = prep_at(
            "install_dev_application",
            &[s("/tmp/a.wasm"), None, None, None],
            Release(25),
        )
        .unwrap();
        assert_eq!(
            body(&p),
            serde_json::json!({"path": "/tmp/a.wasm", "metadata": []})
        );
        let err = prep_at(
            "install_dev_application",
            &[
                s("/tmp/a.mpk"),
                Some(ArgValue::Bytes(b"m".to_vec())),
                None,
                None,
            ],
            Release(83),
        )
        .unwrap_err();
        match err {
            Error::Unsupported { call, releases, .. } => {
                assert_eq!(call, "install_dev_application(metadata=...)");
                assert_eq!(releases, "releases up to 0.11.0-rc.31");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn routes_and_arguments_follow_their_releases() {
        let err = prep_at("list_account_devices", &[], Release(25)).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("list_account_devices() is served by 0.11.0-rc.28 and later"),
            "{err}"
        );
        assert!(prep_at("list_account_devices", &[], Release(28)).is_ok());
        // Bad input is a ValueError before any release check.
        let err = prep_at("relink_device", &[s("nope"), None], Release(25)).unwrap_err();
        assert!(matches!(err, Error::InvalidArgument { .. }), "{err:?}");
        // An optional argument the release lacks: not sent when absent,
        // refused when given.
        let admitters = Some(ArgValue::Json(serde_json::json!([NS])));
        let p = prep_at(
            "create_namespace_invitation",
            &[s(NS), None, None, None, None],
            Release(25),
        )
        .unwrap();
        assert_eq!(body(&p), serde_json::json!({}));
        let err = prep_at(
            "create_namespace_invitation",
            &[s(NS), None, None, admitters.clone(), None],
            Release(25),
        )
        .unwrap_err();
        assert!(matches!(err, Error::Unsupported { .. }), "{err:?}");
        let p = prep_at(
            "create_namespace_invitation",
            &[s(NS), None, None, admitters, None],
            Release(83),
        )
        .unwrap();
        assert_eq!(body(&p), serde_json::json!({"admitters": [NS]}));
        // An empty list is the node's default: not sent.
        let empty = Some(ArgValue::Json(serde_json::json!([])));
        let p = prep_at(
            "create_namespace_invitation",
            &[s(NS), None, None, empty, None],
            Release(25),
        )
        .unwrap();
        assert_eq!(body(&p), serde_json::json!({}));
        // The visibility default flipped at rc.83: it is always sent.
        for release in [25, 83] {
            let p = prep_at(
                "create_group_in_namespace",
                &[s(NS), None, None],
                Release(release),
            )
            .unwrap();
            assert_eq!(body(&p), serde_json::json!({"visibility": "restricted"}));
        }
        // rc.83 derives group ids: a given one is refused before sending.
        let err = prep_at(
            "create_group",
            &[s(CTX), None, None, s(NS), None],
            Release(83),
        )
        .unwrap_err();
        assert!(matches!(err, Error::Unsupported { .. }), "{err:?}");
        // Pairing by account from rc.28.
        let p = prep_at(
            "pair_device_init",
            &[s(NS), Some(ArgValue::Json(serde_json::json!([NS]))), None],
            Release(83),
        )
        .unwrap();
        assert_eq!(p.path, "/admin-api/account/pair-init");
        assert_eq!(
            body(&p),
            serde_json::json!({"accountRootPublicKey": NS, "namespaces": [NS]})
        );
        let scope = Some(ArgValue::Json(serde_json::json!([CTX])));
        let p = prep_at("set_device_scope", &[s(NS), scope], Release(83)).unwrap();
        let hex = hex::encode(ids::base58_32("x", CTX).unwrap());
        assert_eq!(body(&p), serde_json::json!({"scope": {"only": [hex]}}));
        let p = prep_at("set_device_scope", &[s(NS), s("all")], Release(83)).unwrap();
        assert_eq!(body(&p), serde_json::json!({"scope": "all"}));
    }
}
