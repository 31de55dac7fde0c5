//! Every context behaves like core's `apps/kv-store` at 0.11.0-rc.25.
//!
//! Method set, argument decoding and the error texts follow that app, the
//! SDK's generated entry points and the runtime:
//! core: apps/kv-store/src/lib.rs, crates/sdk/macros/src/logic/method.rs
//! (argument and no-argument checks, their panic texts and locations),
//! crates/runtime/src/errors.rs and crates/runtime/src/lib.rs
//! (`validate_method_name`, "method … not found", "the method call returned an error").

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::Value;

/// Where the app's generated entry points report their panics.
const SOURCE_FILE: &str = "apps/kv-store/src/lib.rs";

/// Column of the method name in `    pub fn name(` in the app's source.
const NAME_COLUMN: u32 = 12;

#[derive(Default, Debug, Clone)]
pub struct KvStore {
    items: BTreeMap<String, String>,
}

/// A successful call: its JSON return value and whether state changed.
#[derive(Debug)]
pub struct CallOutcome {
    pub output: Value,
    pub wrote: bool,
    /// What the app emitted (`app::emit!`), as `(kind, payload)`: core's
    /// kv-store emits `Inserted {key, value}`, `Updated {key, value}`,
    /// `Removed {key}` and `Cleared` (core: apps/kv-store/src/lib.rs).
    pub events: Vec<(&'static str, Value)>,
}

/// The text of a `FunctionCallError` (what the JSON-RPC error's `data` holds).
pub type CallError = String;

#[derive(Clone, Copy)]
enum Method {
    Init,
    Set,
    UpdateIfExists,
    GetOrInsert,
    Entries,
    Len,
    Get,
    GetUnchecked,
    GetResult,
    Remove,
    Clear,
}

impl Method {
    fn lookup(name: &str) -> Option<Self> {
        Some(match name {
            "init" => Self::Init,
            "set" => Self::Set,
            "update_if_exists" => Self::UpdateIfExists,
            "get_or_insert" => Self::GetOrInsert,
            "entries" => Self::Entries,
            "len" => Self::Len,
            "get" => Self::Get,
            "get_unchecked" => Self::GetUnchecked,
            "get_result" => Self::GetResult,
            "remove" => Self::Remove,
            "clear" => Self::Clear,
            _ => return None,
        })
    }

    fn name(self) -> &'static str {
        match self {
            Self::Init => "init",
            Self::Set => "set",
            Self::UpdateIfExists => "update_if_exists",
            Self::GetOrInsert => "get_or_insert",
            Self::Entries => "entries",
            Self::Len => "len",
            Self::Get => "get",
            Self::GetUnchecked => "get_unchecked",
            Self::GetResult => "get_result",
            Self::Remove => "remove",
            Self::Clear => "clear",
        }
    }

    /// The line of `pub fn <name>` in the app's source.
    fn line(self) -> u32 {
        match self {
            Self::Init => 35,
            Self::Set => 41,
            Self::UpdateIfExists => 66,
            Self::GetOrInsert => 88,
            Self::Entries => 107,
            Self::Len => 117,
            Self::Get => 123,
            Self::GetUnchecked => 129,
            Self::GetResult => 136,
            Self::Remove => 146,
            Self::Clear => 159,
        }
    }

    /// A guest panic raised by the method's generated entry point.
    fn panic(self, message: &str) -> CallError {
        guest_panic(message, self.line(), NAME_COLUMN)
    }
}

fn guest_panic(message: &str, line: u32, column: u32) -> CallError {
    format!("guest panicked: {message} at {SOURCE_FILE}:{line}:{column}")
}

/// `{ key: String, value: String }`. The struct name appears in serde's
/// messages ("expected struct CalimeroInput"), as in the generated code.
mod key_value {
    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct CalimeroInput {
        pub key: String,
        pub value: String,
    }

    pub const SCHEMA: &str = "{ key: String, value: String }";
}

/// `{ key: &str }`: borrowed, so an escaped key fails exactly as in the app.
mod key_only {
    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct CalimeroInput<'a> {
        pub key: &'a str,
    }

    pub const SCHEMA: &str = "{ key: & str }";
}

fn decode_args<'a, T: Deserialize<'a>>(
    method: Method,
    schema: &str,
    input: &'a [u8],
) -> Result<T, CallError> {
    serde_json::from_slice(input).map_err(|err| {
        method.panic(&format!(
            "{}: failed to deserialize arguments (expected {schema}): {err:?}",
            method.name()
        ))
    })
}

/// Methods without parameters refuse a non-empty JSON object.
fn check_no_args(method: Method, input: &[u8]) -> Result<(), CallError> {
    if input.is_empty() {
        return Ok(());
    }
    if let Ok(Value::Object(fields)) = serde_json::from_slice::<Value>(input) {
        if !fields.is_empty() {
            let mut keys: Vec<&String> = fields.keys().collect();
            keys.sort();
            return Err(method.panic(&format!(
                "{}: takes no arguments, but the call sent unknown field(s): {keys:?}",
                method.name()
            )));
        }
    }
    Ok(())
}

/// The runtime's check before looking the export up.
fn check_method_name(name: &str) -> Result<(), CallError> {
    if name.is_empty() {
        return Err("method name is empty".to_owned());
    }
    match name
        .chars()
        .enumerate()
        .find(|(_, c)| !c.is_ascii_alphanumeric() && *c != '_')
    {
        Some((position, character)) => Err(format!(
            "method name contains invalid character at position {position}: {character:?}"
        )),
        None => Ok(()),
    }
}

fn read(output: Value) -> Result<CallOutcome, CallError> {
    Ok(CallOutcome {
        output,
        wrote: false,
        events: Vec::new(),
    })
}

fn write(output: Value, wrote: bool) -> Result<CallOutcome, CallError> {
    Ok(CallOutcome {
        output,
        wrote,
        events: Vec::new(),
    })
}

/// A write that emitted one event.
fn emitted(output: Value, kind: &'static str, payload: Value) -> Result<CallOutcome, CallError> {
    Ok(CallOutcome {
        output,
        wrote: true,
        events: vec![(kind, payload)],
    })
}

fn key_value(key: &str, value: &str) -> Value {
    serde_json::json!({ "key": key, "value": value })
}

fn string_or_null(value: Option<String>) -> Value {
    value.map_or(Value::Null, Value::String)
}

/// Whether the kv-store's `method` writes state (`&mut self` in the app),
/// or `None` for a method it does not have.
pub fn mutates(method: &str) -> Option<bool> {
    Method::lookup(method).map(|m| {
        matches!(
            m,
            Method::Init
                | Method::Set
                | Method::UpdateIfExists
                | Method::GetOrInsert
                | Method::Remove
                | Method::Clear
        )
    })
}

impl KvStore {
    /// Runs the app's `init` with the context's initialization parameters.
    /// `Err` carries the guest's message (the node's `InitFailed`).
    pub fn init(params: &[u8]) -> Result<Self, CallError> {
        check_no_args(Method::Init, params)?;
        Ok(Self::default())
    }

    /// Keys plus values, in bytes.
    pub fn size_in_bytes(&self) -> u64 {
        self.items
            .iter()
            .map(|(k, v)| (k.len() + v.len()) as u64)
            .sum()
    }

    /// Calls `method` with `input` (the JSON-encoded `argsJson`).
    pub fn call(&mut self, method: &str, input: &[u8]) -> Result<CallOutcome, CallError> {
        check_method_name(method)?;
        let Some(m) = Method::lookup(method) else {
            return Err(format!("method {method:?} not found"));
        };
        match m {
            Method::Init => {
                check_no_args(m, input)?;
                Err(m.panic("Cannot initialize over already existing state."))
            }
            Method::Set => {
                let args: key_value::CalimeroInput = decode_args(m, key_value::SCHEMA, input)?;
                let payload = key_value(&args.key, &args.value);
                let kind = match self.items.insert(args.key, args.value) {
                    Some(_) => "Updated",
                    None => "Inserted",
                };
                emitted(Value::Null, kind, payload)
            }
            Method::UpdateIfExists => {
                let args: key_value::CalimeroInput = decode_args(m, key_value::SCHEMA, input)?;
                match self.items.get_mut(&args.key) {
                    Some(slot) => {
                        let payload = key_value(&args.key, &args.value);
                        *slot = args.value;
                        emitted(Value::Bool(true), "Updated", payload)
                    }
                    None => read(Value::Bool(false)),
                }
            }
            Method::GetOrInsert => {
                let args: key_value::CalimeroInput = decode_args(m, key_value::SCHEMA, input)?;
                match self.items.get(&args.key) {
                    Some(existing) => read(Value::String(existing.clone())),
                    None => {
                        let payload = key_value(&args.key, &args.value);
                        let _ = self.items.insert(args.key, args.value.clone());
                        emitted(Value::String(args.value), "Inserted", payload)
                    }
                }
            }
            Method::Entries => {
                check_no_args(m, input)?;
                let map: serde_json::Map<String, Value> = self
                    .items
                    .iter()
                    .map(|(k, v)| (k.clone(), Value::String(v.clone())))
                    .collect();
                read(Value::Object(map))
            }
            Method::Len => {
                check_no_args(m, input)?;
                read(Value::from(self.items.len()))
            }
            Method::Get => {
                let args: key_only::CalimeroInput<'_> = decode_args(m, key_only::SCHEMA, input)?;
                read(string_or_null(self.items.get(args.key).cloned()))
            }
            Method::GetUnchecked => {
                let args: key_only::CalimeroInput<'_> = decode_args(m, key_only::SCHEMA, input)?;
                match self.items.get(args.key) {
                    Some(value) => read(Value::String(value.clone())),
                    // `.expect("key not found")` on line 133 of the app.
                    None => Err(guest_panic("key not found", 133, 33)),
                }
            }
            Method::GetResult => {
                let args: key_only::CalimeroInput<'_> = decode_args(m, key_only::SCHEMA, input)?;
                match self.items.get(args.key) {
                    Some(value) => read(Value::String(value.clone())),
                    None => Err(app_error_not_found(args.key)),
                }
            }
            Method::Remove => {
                let args: key_only::CalimeroInput<'_> = decode_args(m, key_only::SCHEMA, input)?;
                match self.items.remove(args.key) {
                    Some(old) => emitted(
                        Value::String(old),
                        "Removed",
                        serde_json::json!({ "key": args.key }),
                    ),
                    None => write(Value::Null, false),
                }
            }
            Method::Clear => {
                check_no_args(m, input)?;
                if self.items.is_empty() {
                    return write(Value::Null, false);
                }
                self.items.clear();
                emitted(Value::Null, "Cleared", Value::Null)
            }
        }
    }
}

/// The app's `Error::NotFound(key)` as it leaves the guest: JSON with sorted
/// keys, reported by the runtime as the byte list of that JSON.
fn app_error_not_found(key: &str) -> CallError {
    let key_json = serde_json::to_string(key).unwrap_or_else(|_| "\"\"".to_owned());
    let bytes = format!("{{\"data\":{key_json},\"kind\":\"NotFound\"}}").into_bytes();
    format!("the method call returned an error: {bytes:?}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(kv: &mut KvStore, method: &str, args: &str) -> Result<Value, String> {
        kv.call(method, args.as_bytes()).map(|o| o.output)
    }

    #[test]
    fn set_get_entries_len_remove() {
        let mut kv = KvStore::default();
        assert_eq!(
            call(&mut kv, "set", r#"{"key":"hello","value":"world"}"#),
            Ok(Value::Null)
        );
        assert_eq!(
            call(&mut kv, "get", r#"{"key":"hello"}"#),
            Ok(Value::from("world"))
        );
        assert_eq!(
            call(&mut kv, "get", r#"{"key":"missing"}"#),
            Ok(Value::Null)
        );
        assert_eq!(
            call(&mut kv, "entries", "{}"),
            Ok(serde_json::json!({"hello": "world"}))
        );
        assert_eq!(call(&mut kv, "len", "{}"), Ok(Value::from(1)));
        assert_eq!(
            call(&mut kv, "remove", r#"{"key":"hello"}"#),
            Ok(Value::from("world"))
        );
        assert_eq!(
            call(&mut kv, "remove", r#"{"key":"hello"}"#),
            Ok(Value::Null)
        );
    }

    #[test]
    fn recorded_error_texts() {
        let mut kv = KvStore::default();
        assert_eq!(
            call(&mut kv, "set", r#"{"key":1}"#).unwrap_err(),
            "guest panicked: set: failed to deserialize arguments (expected { key: String, value: String }): \
             Error(\"invalid type: integer `1`, expected a string\", line: 1, column: 8) at apps/kv-store/src/lib.rs:41:12"
        );
        assert_eq!(
            call(&mut kv, "no_such_method", "{}").unwrap_err(),
            "method \"no_such_method\" not found"
        );
        assert_eq!(
            call(&mut kv, "get_result", r#"{"key":"nope"}"#).unwrap_err(),
            "the method call returned an error: [123, 34, 100, 97, 116, 97, 34, 58, 34, 110, 111, 112, 101, 34, 44, 34, 107, 105, 110, 100, 34, 58, 34, 78, 111, 116, 70, 111, 117, 110, 100, 34, 125]"
        );
    }

    #[test]
    fn no_argument_methods_refuse_fields() {
        let mut kv = KvStore::default();
        assert!(call(&mut kv, "len", "null").is_ok());
        let err = call(&mut kv, "len", r#"{"b":1,"a":2}"#).unwrap_err();
        assert_eq!(
            err,
            "guest panicked: len: takes no arguments, but the call sent unknown field(s): [\"a\", \"b\"] at apps/kv-store/src/lib.rs:117:12"
        );
        assert!(KvStore::init(br#"{"x":1}"#).is_err());
        assert!(KvStore::init(b"").is_ok());
    }

    #[test]
    fn invalid_method_characters() {
        let mut kv = KvStore::default();
        assert_eq!(
            call(&mut kv, "foo-bar", "{}").unwrap_err(),
            "method name contains invalid character at position 3: '-'"
        );
    }
}
