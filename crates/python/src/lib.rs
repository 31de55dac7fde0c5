//! PyO3 bindings: the extension module `calimero_client_py`, installed as
//! `calimero.calimero_client_py` and re-exported by the `calimero` package.
//!
//! Thin by rule: it converts Python values, releases the GIL while the core
//! works, and maps core errors to exceptions. It knows nothing of HTTP.

mod asyncio;
mod auth;
mod blocking;
mod connection;
mod convert;
mod delegated;
mod errors;
mod events;
mod shutdown;
mod tee;
mod transfer;

use calimero_client_core::endpoints::{Body, Kind, Loc, Output};
use calimero_client_core::{cache, ENDPOINTS};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};

/// The path of the token cache file of `node_name`:
/// `~/.merobox/auth_cache/{slug}-{sha256(node_name)[:12]}.json`.
#[pyfunction]
fn get_token_cache_path(node_name: &Bound<'_, PyAny>) -> PyResult<String> {
    let node_name = convert::str_arg("node_name", node_name)?;
    // The same rule as a connection's node_name.
    calimero_client_core::ids::text("node_name", &node_name, 1024)
        .map_err(|e| PyValueError::new_err(e.to_string()))?;
    path_str(cache::token_cache_path(&node_name))
}

/// The token cache directory, `~/.merobox/auth_cache`.
#[pyfunction]
fn get_token_cache_dir() -> PyResult<String> {
    path_str(cache::token_cache_dir())
}

fn path_str(p: std::path::PathBuf) -> PyResult<String> {
    p.into_os_string()
        .into_string()
        .map_err(|_| PyValueError::new_err("the token cache path is not valid UTF-8"))
}

fn kind_name(kind: Kind) -> &'static str {
    match kind {
        Kind::Id => "id",
        Kind::HexId => "hex_id",
        Kind::Package => "package",
        Kind::IdList => "id_list",
        Kind::DeviceScope => "device_scope",
        Kind::Name => "name",
        Kind::Url => "url",
        Kind::NodePath => "node_path",
        Kind::UInt => "uint",
        Kind::Bool => "bool",
        Kind::JsonText => "json_text",
        Kind::Bytes => "bytes",
        Kind::IgnoredId => "ignored_id",
        Kind::IgnoredText => "ignored_text",
        Kind::Alias => "alias",
        Kind::Hex { .. } => "hex",
        Kind::UInt32 => "uint32",
        Kind::Choice(_) => "choice",
        Kind::Role => "role",
        Kind::Members => "members",
        Kind::HexIdList => "hex_id_list",
        Kind::StrList => "str_list",
        Kind::Metadata => "metadata",
        Kind::Upload => "upload",
        Kind::LocalPath => "local_path",
        Kind::Progress => "progress",
    }
}

/// A release bound as text (`"0.11.0-rc.28"`), None when unbounded.
fn release_bound(n: u16, unbounded: u16) -> Option<String> {
    (n != unbounded).then(|| calimero_client_core::Release(n).to_string())
}

/// The endpoint table, as a list of dicts (name, area, verb, path, doc,
/// output, body, args), in the order `_invoke` indexes it.
#[pyfunction]
fn endpoints(py: Python<'_>) -> PyResult<Bound<'_, PyList>> {
    let list = PyList::empty(py);
    for e in ENDPOINTS {
        let d = PyDict::new(py);
        d.set_item("name", e.name)?;
        d.set_item("area", e.area)?;
        d.set_item("verb", e.verb.as_str())?;
        d.set_item("path", e.path)?;
        d.set_item("doc", e.doc)?;
        d.set_item("since", release_bound(e.releases.since.0, 0))?;
        d.set_item("until", release_bound(e.releases.until.0, u16::MAX))?;
        d.set_item("releases_text", e.releases.describe())?;
        d.set_item(
            "output",
            match e.output {
                Output::Json => "json",
                Output::RpcEnvelope => "rpc_envelope",
                Output::RpcResult => "rpc_result",
                Output::RpcOutput => "rpc_output",
                Output::Text => "text",
                Output::Bytes => "bytes",
                Output::File => "file",
                Output::Chunks => "chunks",
                Output::BlobInfo => "blob_info",
            },
        )?;
        d.set_item(
            "body",
            match e.body {
                Body::Empty => "none".to_owned(),
                Body::Json => "json".to_owned(),
                Body::JsonRpc(m) => format!("jsonrpc:{m}"),
                Body::Stream => "stream".to_owned(),
            },
        )?;
        let args = PyList::empty(py);
        for a in e.args {
            let ad = PyDict::new(py);
            ad.set_item("name", a.name)?;
            ad.set_item("kind", kind_name(a.kind))?;
            ad.set_item("required", a.required)?;
            ad.set_item("keyword_only", a.keyword_only)?;
            ad.set_item("default", a.default)?;
            ad.set_item("max_len", a.max_len)?;
            ad.set_item("since", release_bound(a.releases.since.0, 0))?;
            ad.set_item("until", release_bound(a.releases.until.0, u16::MAX))?;
            match a.kind {
                Kind::Hex { min, max } => ad.set_item("length", (min, max))?,
                Kind::Choice(choices) => ad.set_item("choices", choices.to_vec())?,
                _ => {}
            }
            let (loc, wire) = match a.loc {
                Loc::Path => ("path", None),
                Loc::Query(k) => ("query", Some(k)),
                Loc::Body(k) => ("body", Some(k)),
                Loc::Nowhere => ("none", None),
                Loc::Spread => ("spread", None),
                Loc::Local => ("local", None),
            };
            ad.set_item("location", loc)?;
            ad.set_item("wire_name", wire)?;
            args.append(ad)?;
        }
        d.set_item("args", args)?;
        list.append(d)?;
    }
    Ok(list)
}

#[pymodule]
fn calimero_client_py(m: &Bound<'_, PyModule>) -> PyResult<()> {
    // The core's log lines (target `calimero::...`, never a token) go to the
    // Python loggers `calimero.*`; nothing else is forwarded, so the HTTP
    // stack's own logging costs nothing. Behind the exit gate: a runtime
    // thread logs into Python only while the interpreter is not exiting.
    let logger = pyo3_log::Logger::new(m.py(), pyo3_log::Caching::Loggers)?
        .filter(log::LevelFilter::Off)
        .filter_target("calimero".to_owned(), log::LevelFilter::Debug);
    if log::set_boxed_logger(Box::new(shutdown::GatedLogger(logger))).is_ok() {
        log::set_max_level(log::LevelFilter::Debug);
    }
    // Before the interpreter finalizes, no runtime thread is left in it
    // (issue 19; `shutdown.rs`).
    shutdown::register(m)?;
    m.add("VERSION", calimero_client_core::VERSION)?;
    m.add_class::<connection::PyConnectionInfo>()?;
    m.add_class::<transfer::BlobChunks>()?;
    m.add_class::<tee::PyTeePolicy>()?;
    m.add_class::<events::PySubscription>()?;
    m.add_class::<delegated::PyDeviceCredential>()?;
    m.add_function(wrap_pyfunction!(delegated::sign_request, m)?)?;
    m.add_function(wrap_pyfunction!(delegated::sign_warrant, m)?)?;
    m.add_function(wrap_pyfunction!(delegated::sign_login_statement, m)?)?;
    m.add_function(wrap_pyfunction!(delegated::public_key_of, m)?)?;
    m.add_function(wrap_pyfunction!(events::_subscribe, m)?)?;
    m.add_function(wrap_pyfunction!(events::_asubscribe, m)?)?;
    m.add_function(wrap_pyfunction!(get_token_cache_path, m)?)?;
    m.add_function(wrap_pyfunction!(get_token_cache_dir, m)?)?;
    m.add_function(wrap_pyfunction!(endpoints, m)?)?;
    Ok(())
}
