//! Helpers shared by the tests against the in-process test node.

use calimero_client_core::endpoints::find;
use calimero_client_core::{ArgValue, Connection, Error};
use serde_json::Value;

pub fn s(v: &str) -> Option<ArgValue> {
    Some(ArgValue::Str(v.to_owned()))
}

/// Calls the table's endpoint `name` (missing trailing arguments are None)
/// and descends into what it selects.
pub async fn call(
    conn: &Connection,
    name: &str,
    args: &[Option<ArgValue>],
) -> Result<Value, Error> {
    let (_, endpoint) = find(name).unwrap();
    let mut args = args.to_vec();
    args.resize(endpoint.args.len(), None);
    let reply = conn.invoke(endpoint, &args).await?;
    let mut value: Value = reply.json()?;
    for key in reply.select {
        value = value.get(*key).cloned().unwrap_or(Value::Null);
    }
    Ok(value)
}
