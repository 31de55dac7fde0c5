//! `ConnectionInfo`: one node, one pooled HTTP client, shared by every
//! client made from it.

use std::time::Duration;

use calimero_client_core::blobs::BlobMeta;
use calimero_client_core::connection::Reply;
use calimero_client_core::detect::Checked;
use calimero_client_core::endpoints::{Body, Endpoint, Loc, Output};
use calimero_client_core::release::Knowledge;
use calimero_client_core::request::Prepared;
use calimero_client_core::sealed::{KeySource, SealedConfig};
use calimero_client_core::{ArgValue, Config, Connection, Release, ENDPOINTS};
use pyo3::exceptions::{PyIndexError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyString, PyTuple};

use crate::asyncio;
use crate::auth;
use crate::blocking::wait_local;
use crate::convert::{
    bool_arg, json_to_py, number_arg, py_to_json, str_arg, text, to_arg, value_to_py,
};
use crate::errors::to_pyerr;
use crate::transfer;

/// A connection to one Calimero node.
///
/// Made by `calimero.create_connection(api_url, node_name=None, ...)`. Holds
/// the node's base URL, the name its tokens are cached under, the timeouts,
/// the tokens and credentials it authenticates with, and one pooled HTTP
/// client that every `Client` made from it shares.
#[pyclass(module = "calimero", name = "ConnectionInfo", frozen)]
pub struct PyConnectionInfo {
    pub(crate) conn: Connection,
}

fn seconds(argument: &str, value: Option<f64>, default: Duration) -> PyResult<Duration> {
    match value {
        None => Ok(default),
        Some(s) if s.is_finite() && s > 0.0 && s <= 86_400.0 => Ok(Duration::from_secs_f64(s)),
        Some(s) => Err(PyValueError::new_err(format!(
            "{argument}: expected a number of seconds above 0 and at most 86400, got {s}"
        ))),
    }
}

/// An integer argument within bounds (ValueError/TypeError naming it).
pub(crate) fn int_in(argument: &str, obj: &Bound<'_, PyAny>, min: u64, max: u64) -> PyResult<u64> {
    if obj.is_instance_of::<pyo3::types::PyBool>() || !obj.is_instance_of::<pyo3::types::PyInt>() {
        return Err(PyTypeError::new_err(format!("{argument}: expected int")));
    }
    match obj.extract::<u64>() {
        Ok(v) if (min..=max).contains(&v) => Ok(v),
        _ => Err(PyValueError::new_err(format!(
            "{argument}: expected an integer from {min} to {max}, got {}",
            crate::convert::shown(obj)
        ))),
    }
}

fn retries(obj: Option<&Bound<'_, PyAny>>) -> PyResult<Option<u32>> {
    obj.filter(|o| !o.is_none())
        .map(|o| int_in("max_retries", o, 0, 20).map(|v| v as u32))
        .transpose()
}

/// `ca_cert`: PEM bytes, or the path (str or os.PathLike) of a PEM file.
fn read_pem(obj: &Bound<'_, PyAny>) -> PyResult<Vec<u8>> {
    if let Ok(b) = obj.cast::<pyo3::types::PyBytes>() {
        return Ok(b.as_bytes().to_vec());
    }
    if let Some(path) = transfer::as_path("ca_cert", obj)? {
        return std::fs::read(&path).map_err(|e| {
            pyo3::exceptions::PyOSError::new_err((
                e.raw_os_error().unwrap_or(0),
                format!("ca_cert: {e}"),
                path.display().to_string(),
            ))
        });
    }
    Err(PyTypeError::new_err(
        "ca_cert: expected PEM bytes or the path of a PEM file",
    ))
}

/// `transport_public_key`: 64 hex characters or 32 bytes.
fn transport_key(obj: &Bound<'_, PyAny>) -> PyResult<[u8; 32]> {
    let argument = "transport_public_key";
    if let Ok(b) = obj.cast::<pyo3::types::PyBytes>() {
        return b.as_bytes().try_into().map_err(|_| {
            PyValueError::new_err(format!(
                "{argument}: expected 32 bytes (an X25519 public key), got {}",
                b.as_bytes().len()
            ))
        });
    }
    let text = crate::convert::str_arg(argument, obj).map_err(|_| {
        PyTypeError::new_err(format!(
            "{argument}: expected 64 hexadecimal characters or 32 bytes, got {}",
            crate::convert::type_name(obj)
        ))
    })?;
    calimero_client_core::ids::hex_32(argument, &text)
        .map_err(|e| PyValueError::new_err(e.to_string()))
}

/// The sealed transport settings of `create_connection`, refusing the
/// combinations that would protect nothing.
fn sealed_config(
    tee: Option<&Bound<'_, PyAny>>,
    sealed: Option<&Bound<'_, PyAny>>,
    transport_public_key: Option<&Bound<'_, PyAny>>,
    tee_collateral: Option<&Bound<'_, PyAny>>,
) -> PyResult<Option<SealedConfig>> {
    let sealed = match sealed.filter(|o| !o.is_none()) {
        None => false,
        Some(o) => bool_arg("sealed", o)?,
    };
    let policy = crate::tee::policy_arg(tee)?;
    let key = transport_public_key
        .filter(|o| !o.is_none())
        .map(transport_key)
        .transpose()?;
    let collateral = tee_collateral
        .filter(|o| !o.is_none())
        .map(|o| crate::tee::collateral("tee_collateral", o))
        .transpose()?;
    if collateral.is_some() && policy.is_none() {
        return Err(PyValueError::new_err(
            "tee_collateral: the collateral verifies a quote, and without tee= there is none \
             to verify; pass tee=TeePolicy(...) too",
        ));
    }
    let source = match (policy, key) {
        (Some(_), Some(_)) => {
            return Err(PyValueError::new_err(
                "transport_public_key: give either tee= (the node attests its transport key \
                 and the quote is verified) or transport_public_key= (a key verified some \
                 other way), not both",
            ))
        }
        (Some(policy), None) => Some(KeySource::Attested {
            policy,
            collateral: collateral.map(std::sync::Arc::new),
        }),
        (None, Some(key)) => Some(KeySource::Given(key)),
        (None, None) => None,
    };
    match (sealed, source) {
        (true, Some(key)) => Ok(Some(SealedConfig { key })),
        (false, None) => Ok(None),
        (true, None) => Err(PyValueError::new_err(
            "sealed: sealing needs the node's transport key: pass tee=TeePolicy(...) to have \
             the node attest it, or transport_public_key= with a key verified some other way",
        )),
        (false, Some(_)) => Err(PyValueError::new_err(
            "sealed: tee= or transport_public_key= without sealed=True would protect nothing \
             (every request would still go in the clear to whatever answers): pass \
             sealed=True",
        )),
    }
}

/// Decodes a reply body and descends into the keys the endpoint selects.
pub(crate) fn reply_to_py(py: Python<'_>, reply: &Reply) -> PyResult<Py<PyAny>> {
    if reply.body.is_empty() {
        return Ok(py.None());
    }
    let mut value = json_to_py(py, &reply.body)
        .map_err(|e| to_pyerr(py, reply.malformed(&format!("the body is not JSON: {e}"))))?;
    for key in reply.select {
        value = match value.cast::<PyDict>() {
            Ok(d) => d.get_item(key)?.unwrap_or_else(|| py.None().into_bound(py)),
            Err(_) => py.None().into_bound(py),
        };
    }
    Ok(value.unbind())
}

/// The arguments of one call, checked (and built into a request when the
/// node's release is known well enough).
type PreparedCall<'py> = (
    &'static Endpoint,
    Checked,
    Vec<(&'static str, Bound<'py, PyAny>)>,
);

impl PyConnectionInfo {
    /// Converts and checks the arguments of endpoint `index` (ValueError or
    /// TypeError naming the argument, nothing sent). The binding's own
    /// arguments (upload data, a download's path, the progress callback, a
    /// chunk size) come back by name.
    fn prepare_call<'py>(
        &self,
        py: Python<'py>,
        index: usize,
        args: &Bound<'py, PyTuple>,
    ) -> PyResult<PreparedCall<'py>> {
        let (endpoint, values, local) = convert_args(index, args)?;
        let checked = self
            .conn
            .check(vec![(endpoint, values)])
            .map_err(|e| to_pyerr(py, e))?;
        Ok((endpoint, checked, local))
    }

    /// Like `prepare_call` for a method with several table entries (its
    /// route or signature changed between releases): `calls` holds, for
    /// each entry the Python arguments bind to, its index and arguments.
    fn prepare_forms<'py>(
        &self,
        py: Python<'py>,
        calls: &Bound<'py, PyList>,
    ) -> PyResult<(Output, Checked)> {
        let mut candidates = Vec::with_capacity(calls.len());
        let mut first_error = None;
        let mut output = None;
        for item in calls.iter() {
            let (index, args): (usize, Bound<'py, PyTuple>) = item.extract()?;
            match convert_args(index, &args) {
                Ok((endpoint, values, _)) => {
                    output.get_or_insert(endpoint.output);
                    candidates.push((endpoint, values));
                }
                Err(e) => {
                    first_error.get_or_insert(e);
                }
            }
        }
        if candidates.is_empty() {
            return Err(first_error.unwrap_or_else(|| {
                PyTypeError::new_err("no form of this method takes these arguments")
            }));
        }
        let checked = self.conn.check(candidates).map_err(|e| to_pyerr(py, e))?;
        Ok((output.unwrap_or(Output::Json), checked))
    }
}

impl PyConnectionInfo {
    /// Resolves and sends a checked call, blocking with the GIL released.
    fn send_checked(
        &self,
        py: Python<'_>,
        output: Output,
        checked: Checked,
    ) -> PyResult<Py<PyAny>> {
        let conn = self.conn.clone();
        let reply = wait_local(py, async move {
            let prepared = conn.resolve(checked).await?;
            conn.send(prepared).await
        })?;
        reply_out(py, (output, reply))
    }

    /// Resolves and sends a checked call, as an awaitable.
    fn send_checked_async<'py>(
        &self,
        py: Python<'py>,
        output: Output,
        checked: Checked,
    ) -> PyResult<Bound<'py, PyAny>> {
        let conn = self.conn.clone();
        asyncio::call_awaitable(
            py,
            conn.lane_reachable(),
            async move {
                let prepared = conn.resolve(checked).await?;
                conn.send(prepared).await.map(|r| (output, r))
            },
            reply_out,
        )
    }
}

/// Builds a checked call (probing the release first if it must), with the
/// GIL released.
pub(crate) fn resolve(py: Python<'_>, conn: &Connection, checked: Checked) -> PyResult<Prepared> {
    match checked {
        Checked::Ready(p) => Ok(p),
        pending => {
            let conn = conn.clone();
            wait_local(py, async move { conn.resolve(pending).await })
        }
    }
}

/// Whether anything is known of the release.
fn known(k: &Knowledge) -> bool {
    k.pinned || k.probed || k.span != calimero_client_core::release::Span::UNKNOWN
}

fn knowledge_to_py(py: Python<'_>, k: &Knowledge) -> PyResult<Py<PyAny>> {
    let d = PyDict::new(py);
    let bound = |r: Release, unbounded: u16| {
        (r.0 != unbounded).then(|| r.max(calimero_client_core::release::OLDEST).to_string())
    };
    d.set_item("version", known(k).then(|| k.release().to_string()))?;
    d.set_item("min", bound(k.span.min, 0))?;
    d.set_item("max", bound(k.span.max, u16::MAX))?;
    d.set_item("pinned", k.pinned)?;
    d.set_item("probed", k.probed)?;
    d.set_item("probe_requests", k.probe_requests)?;
    d.set_item("evidence", k.evidence.clone())?;
    Ok(d.into_any().unbind())
}

/// An endpoint, its arguments as the core takes them, and the binding's
/// own arguments by name.
type Converted<'py> = (
    &'static Endpoint,
    Vec<Option<ArgValue>>,
    Vec<(&'static str, Bound<'py, PyAny>)>,
);

/// The arguments of endpoint `index` as the core takes them.
fn convert_args<'py>(index: usize, args: &Bound<'py, PyTuple>) -> PyResult<Converted<'py>> {
    let endpoint = ENDPOINTS
        .get(index)
        .ok_or_else(|| PyIndexError::new_err(format!("no endpoint {index}")))?;
    let mut values = Vec::with_capacity(endpoint.args.len());
    let mut local = Vec::new();
    for (spec, obj) in endpoint.args.iter().zip(args.iter()) {
        if spec.loc == Loc::Local {
            local.push((spec.name, obj));
            values.push(None);
        } else {
            values.push(to_arg(spec, &obj)?);
        }
    }
    values.resize(endpoint.args.len(), None);
    Ok((endpoint, values, local))
}

/// A reply as the endpoint's Python result.
fn reply_out(py: Python<'_>, (output, reply): (Output, Reply)) -> PyResult<Py<PyAny>> {
    match output {
        Output::Text => Ok(PyString::new(py, &String::from_utf8_lossy(&reply.body))
            .into_any()
            .unbind()),
        Output::BlobInfo => Ok(value_to_py(py, &BlobMeta::from_reply(&reply).to_json())?.unbind()),
        _ => reply_to_py(py, &reply),
    }
}

#[pymethods]
impl PyConnectionInfo {
    #[new]
    #[pyo3(signature = (
        api_url, node_name=None, *, timeout=None, connect_timeout=None, username=None,
        password=None, access_token=None, refresh_token=None, interactive=true,
        max_retries=None, max_response_bytes=None, ca_cert=None, device_credential=None,
        device_secret=None, device_session=None, node_version=None, tee=None, sealed=None,
        transport_public_key=None, tee_collateral=None
    ))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        api_url: &Bound<'_, PyAny>,
        node_name: Option<&Bound<'_, PyAny>>,
        timeout: Option<&Bound<'_, PyAny>>,
        connect_timeout: Option<&Bound<'_, PyAny>>,
        username: Option<&Bound<'_, PyAny>>,
        password: Option<&Bound<'_, PyAny>>,
        access_token: Option<&Bound<'_, PyAny>>,
        refresh_token: Option<&Bound<'_, PyAny>>,
        #[pyo3(from_py_with = interactive_arg)] interactive: bool,
        max_retries: Option<&Bound<'_, PyAny>>,
        max_response_bytes: Option<&Bound<'_, PyAny>>,
        ca_cert: Option<&Bound<'_, PyAny>>,
        device_credential: Option<&Bound<'_, PyAny>>,
        device_secret: Option<&Bound<'_, PyAny>>,
        device_session: Option<&Bound<'_, PyAny>>,
        node_version: Option<&Bound<'_, PyAny>>,
        tee: Option<&Bound<'_, PyAny>>,
        sealed: Option<&Bound<'_, PyAny>>,
        transport_public_key: Option<&Bound<'_, PyAny>>,
        tee_collateral: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Self> {
        let api_url = text(
            "api_url",
            api_url
                .cast::<PyString>()
                .map_err(|_| PyTypeError::new_err("api_url: expected str"))?,
        )?;
        let node_name = match node_name {
            None => None,
            Some(n) if n.is_none() => None,
            Some(n) => Some(text(
                "node_name",
                n.cast::<PyString>()
                    .map_err(|_| PyTypeError::new_err("node_name: expected str or None"))?,
            )?),
        };
        let defaults = Config::default();
        let config = Config {
            timeout: seconds("timeout", number_arg("timeout", timeout)?, defaults.timeout)?,
            connect_timeout: seconds(
                "connect_timeout",
                number_arg("connect_timeout", connect_timeout)?,
                defaults.connect_timeout,
            )?,
            max_retries: retries(max_retries)?.unwrap_or(defaults.max_retries),
            max_response_bytes: match max_response_bytes.filter(|o| !o.is_none()) {
                None => defaults.max_response_bytes,
                Some(o) => int_in("max_response_bytes", o, 1024, 1 << 40)?,
            },
            ca_pem: ca_cert.filter(|o| !o.is_none()).map(read_pem).transpose()?,
            node_version: match node_version.filter(|o| !o.is_none()) {
                None => None,
                Some(o) => Some(
                    Release::parse("node_version", &str_arg("node_version", o)?)
                        .map_err(|e| PyValueError::new_err(e.to_string()))?,
                ),
            },
            sealed: sealed_config(tee, sealed, transport_public_key, tee_collateral)?,
        };
        let mut auth = auth::options(
            auth::opt_str("username", username)?,
            auth::opt_str("password", password)?,
            auth::opt_str("access_token", access_token)?,
            auth::opt_str("refresh_token", refresh_token)?,
            interactive,
        )?;
        // Delegated access: every request carries a proof, never a token.
        if let Some(signer) =
            crate::delegated::signer(device_credential, device_secret, device_session)?
        {
            if auth.tokens.is_some() || auth.credentials.is_some() {
                return Err(PyValueError::new_err(
                    "device_credential: a signed connection sends a proof on every request \
                     and never a token; drop access_token/username/password (or make a second \
                     connection for them)",
                ));
            }
            auth.device = Some(std::sync::Arc::new(signer));
        }
        let conn = Connection::with_auth(&api_url, node_name, config, auth)
            .map_err(|e| Python::attach(|py| to_pyerr(py, e)))?;
        Ok(PyConnectionInfo { conn })
    }

    /// The node's base URL (no trailing slash).
    #[getter]
    fn api_url(&self) -> &str {
        self.conn.api_url()
    }

    /// The name tokens are cached under, or None.
    #[getter]
    fn node_name(&self) -> Option<&str> {
        self.conn.node_name()
    }

    /// The whole-request timeout, in seconds (blob transfers: the idle
    /// timeout).
    #[getter]
    fn timeout(&self) -> f64 {
        self.conn.timeout().as_secs_f64()
    }

    /// How many times a failed request that is safe to repeat is retried.
    #[getter]
    fn max_retries(&self) -> u32 {
        self.conn.options().max_retries
    }

    /// The largest answer read into memory, in bytes.
    #[getter]
    fn max_response_bytes(&self) -> u64 {
        self.conn.config().max_response_bytes
    }

    /// The same connection (its HTTP pool and tokens) with another request
    /// `timeout` (seconds) and/or `max_retries`, for the calls made through
    /// it. The original is unchanged.
    #[pyo3(signature = (*, timeout=None, max_retries=None))]
    fn with_options(
        &self,
        timeout: Option<&Bound<'_, PyAny>>,
        max_retries: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Self> {
        let timeout = number_arg("timeout", timeout)?
            .map(|t| seconds("timeout", Some(t), self.conn.timeout()))
            .transpose()?;
        Ok(PyConnectionInfo {
            conn: self.conn.with_options(timeout, retries(max_retries)?),
        })
    }

    /// Whether every request is sealed to a TEE node (``sealed=True``).
    #[getter]
    fn sealed(&self) -> bool {
        self.conn.is_sealed()
    }

    /// The transport key requests are sealed to (hex): the one given, or
    /// the node's once it attested (None before its first request, and for
    /// a connection that is not sealed).
    #[getter]
    fn transport_public_key(&self) -> Option<String> {
        self.conn.transport_key().map(hex::encode)
    }

    /// The connect timeout, in seconds.
    #[getter]
    fn connect_timeout(&self) -> f64 {
        self.conn.config().connect_timeout.as_secs_f64()
    }

    /// Probes the node: `AuthMode("required")` when it refuses a request
    /// without a token, `AuthMode("none")` when it answers. Raises
    /// ClientError when the node cannot be reached or answers otherwise.
    fn detect_auth_mode(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        let conn = self.conn.clone();
        let mode = wait_local(py, async move { conn.detect_auth_mode().await })?;
        let auth_mode = py.import("calimero")?.getattr("AuthMode")?;
        Ok(auth_mode.call1((mode.as_str(),))?.unbind())
    }

    /// The tokens the connection sends now, as a `JwtToken`, or None.
    #[getter]
    fn token(&self, py: Python<'_>) -> PyResult<Option<Py<PyAny>>> {
        self.conn
            .tokens()
            .map(|t| auth::token_to_py(py, &t))
            .transpose()
    }

    /// Logs in (`POST /auth/token`) with `username` and `password`, or with
    /// the credentials already known (passed in, `CALIMERO_USERNAME` /
    /// `CALIMERO_PASSWORD`, or a terminal prompt), and returns the new
    /// `JwtToken`. The tokens are used from then on, and written to the token
    /// cache when the connection has a `node_name`; the credentials are kept
    /// to log in again if a refresh is refused.
    #[pyo3(signature = (username=None, password=None))]
    fn login(
        &self,
        py: Python<'_>,
        username: Option<&Bound<'_, PyAny>>,
        password: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Py<PyAny>> {
        let credentials = auth::credentials(
            auth::opt_str("username", username)?,
            auth::opt_str("password", password)?,
        )?;
        let conn = self.conn.clone();
        let tokens = wait_local(py, async move { conn.login(credentials).await })?;
        auth::token_to_py(py, &tokens)
    }

    /// The `DeviceCredential` every request is signed with, or None.
    #[getter]
    fn device_credential(&self) -> Option<crate::delegated::PyDeviceCredential> {
        self.conn
            .device_credential()
            .map(|c| crate::delegated::PyDeviceCredential { inner: c.clone() })
    }

    /// Logs in with the connection's device (`auth_method: "account_proof"`:
    /// `GET /auth/challenge`, then a login statement for the node whose
    /// signing key is `node_key`, hex or base58 as pinned, e.g. `GET
    /// /admin-api/identity`'s `publicKey`) and returns the account's session
    /// as a `JwtToken`. This connection keeps signing its requests; use the
    /// tokens with a connection of their own.
    #[pyo3(signature = (node_key, *, audience=None, valid_for=None))]
    fn login_account_proof(
        &self,
        py: Python<'_>,
        node_key: &Bound<'_, PyAny>,
        audience: Option<&Bound<'_, PyAny>>,
        valid_for: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Py<PyAny>> {
        let node_key = calimero_client_core::ids::base58_or_hex_32(
            "node_key",
            &str_arg("node_key", node_key)?,
        )
        .map_err(|e| PyValueError::new_err(e.to_string()))?;
        let audience = match audience.filter(|a| !a.is_none()) {
            None => calimero_client_core::delegated::Audience::Cli,
            Some(a) => {
                let text = str_arg("audience", a)?;
                calimero_client_core::ids::text("audience", &text, 1024)
                    .map_err(|e| PyValueError::new_err(e.to_string()))?;
                calimero_client_core::delegated::Audience::from_spelling(&text)
            }
        };
        let valid_for = match valid_for.filter(|v| !v.is_none()) {
            None => 300,
            Some(v) => int_in("valid_for", v, 1, 3600)?,
        };
        let conn = self.conn.clone();
        let tokens = wait_local(py, async move {
            conn.login_account_proof(node_key, audience, valid_for)
                .await
        })?;
        auth::token_to_py(py, &tokens)
    }

    /// Logs out: retires the refresh token on the node where its release
    /// has `POST /auth/logout` (0.11.0-rc.83 and later), then forgets the
    /// tokens and credentials and removes the token cache file of
    /// `node_name`: the next call that needs a token logs in again.
    fn logout(&self, py: Python<'_>) -> PyResult<()> {
        let conn = self.conn.clone();
        wait_local(py, async move { conn.logout().await })
    }

    /// `GET path` (relative to the node URL), decoded from JSON.
    fn get(&self, py: Python<'_>, path: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        let path = str_arg("path", path)?;
        self.send_raw(py, "GET", &path, None)
    }

    /// Any request below the node URL: `method` is GET, POST, PUT, DELETE or
    /// HEAD; `path` may carry a query string; `json` is sent as the body.
    /// Returns the decoded JSON answer, the text of a non-JSON one, or None
    /// for an empty one. Failures raise the ClientError subclass of their
    /// status.
    #[pyo3(signature = (method, path, json=None))]
    fn request(
        &self,
        py: Python<'_>,
        method: &Bound<'_, PyAny>,
        path: &Bound<'_, PyAny>,
        json: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Py<PyAny>> {
        let (method, path) = (str_arg("method", method)?, str_arg("path", path)?);
        self.send_raw(py, &method, &path, json)
    }

    /// Calls endpoint `index` of the table with `args` (one per argument,
    /// in table order). Used by the generated `Client` methods.
    fn _invoke(
        &self,
        py: Python<'_>,
        index: usize,
        args: &Bound<'_, PyTuple>,
    ) -> PyResult<Py<PyAny>> {
        let (endpoint, checked, local) = self.prepare_call(py, index, args)?;
        let take = |name: &str| {
            local
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, o)| o.clone())
        };
        let transfer = endpoint.body == Body::Stream
            || matches!(
                endpoint.output,
                Output::Bytes | Output::File | Output::Chunks
            );
        if !transfer {
            return self.send_checked(py, endpoint.output, checked);
        }
        if endpoint.body == Body::Stream {
            let data = take("data").unwrap_or_else(|| py.None().into_bound(py));
            return transfer::upload(py, &self.conn, checked, &data, take("progress"));
        }
        // A local argument given (not None), checked by its table entry.
        let converted = |name: &str| -> PyResult<Option<ArgValue>> {
            let (Some(obj), Some(spec)) = (
                take(name).filter(|o| !o.is_none()),
                endpoint.args.iter().find(|a| a.name == name),
            ) else {
                return Ok(None);
            };
            to_arg(spec, &obj)
        };
        let chunk_size = match converted("chunk_size")? {
            Some(ArgValue::UInt(n)) => Some(n),
            _ => None,
        };
        let verify = !matches!(converted("verify")?, Some(ArgValue::Bool(false)));
        let args = transfer::DownloadArgs {
            path: take("path"),
            progress: take("progress"),
            chunk_size,
            verify,
        };
        transfer::download(py, &self.conn, checked, endpoint.output, args)
    }

    /// Calls a method with several table entries (its route or signature
    /// changed between releases): `calls` is a list of `(index, args)`, one
    /// per entry the Python arguments bind to. The entry the node's release
    /// serves is sent; when none is, UnsupportedByNodeError, with nothing
    /// sent.
    fn _invoke_forms(&self, py: Python<'_>, calls: &Bound<'_, PyList>) -> PyResult<Py<PyAny>> {
        let (output, checked) = self.prepare_forms(py, calls)?;
        self.send_checked(py, output, checked)
    }

    /// `_invoke_forms` as an awaitable.
    fn _invoke_forms_async<'py>(
        &self,
        py: Python<'py>,
        calls: &Bound<'py, PyList>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let (output, checked) = self.prepare_forms(py, calls)?;
        self.send_checked_async(py, output, checked)
    }

    /// Like `_invoke`, as an awaitable (used by the generated `AsyncClient`
    /// methods; blob transfers, which stream through Python objects, are
    /// not taken here). Arguments are checked before anything is sent.
    fn _invoke_async<'py>(
        &self,
        py: Python<'py>,
        index: usize,
        args: &Bound<'py, PyTuple>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let (endpoint, checked, _) = self.prepare_call(py, index, args)?;
        if endpoint.body == Body::Stream
            || matches!(
                endpoint.output,
                Output::Bytes | Output::File | Output::Chunks
            )
        {
            return Err(PyTypeError::new_err(format!(
                "{}: blob transfers are not awaited through _invoke_async",
                endpoint.name
            )));
        }
        self.send_checked_async(py, endpoint.output, checked)
    }

    /// The release this connection speaks: the one pinned with
    /// `node_version=`, or the one detected (the newest the evidence
    /// allows), or None while nothing is known. No I/O.
    #[getter]
    fn node_version(&self) -> Option<String> {
        let k = self.conn.knowledge();
        known(&k).then(|| k.release().to_string())
    }

    /// What the connection knows of its node's release and how it learnt
    /// it: `{"version", "min", "max", "pinned", "probed", "probe_requests",
    /// "evidence"}` (`min`/`max` None when unbounded). No I/O.
    #[getter]
    fn node_release(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        knowledge_to_py(py, &self.conn.knowledge())
    }

    /// Finds the node's release now, if it is not pinned or known yet (at
    /// most two requests, once per connection; see docs/node-releases.md),
    /// and returns `node_release`.
    fn detect_node_version(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        let conn = self.conn.clone();
        let k = wait_local(py, async move { conn.detect().await })?;
        knowledge_to_py(py, &k)
    }

    /// Closes the connection: its pooled HTTP connections are dropped and
    /// every later call through it, or through any client or
    /// `with_options` copy made from it, raises RuntimeError. Closing twice
    /// is harmless.
    fn close(&self, py: Python<'_>) -> PyResult<()> {
        self.conn.close().map_err(|e| to_pyerr(py, e))
    }

    /// Whether `close()` was called.
    #[getter]
    fn closed(&self) -> bool {
        self.conn.is_closed()
    }

    fn __enter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    /// Closes the connection; exceptions propagate.
    fn __exit__(
        &self,
        py: Python<'_>,
        _exc_type: &Bound<'_, PyAny>,
        _exc: &Bound<'_, PyAny>,
        _tb: &Bound<'_, PyAny>,
    ) -> PyResult<bool> {
        self.close(py)?;
        Ok(false)
    }

    fn __repr__(&self) -> String {
        match self.conn.node_name() {
            Some(n) => format!(
                "ConnectionInfo(api_url={:?}, node_name={:?})",
                self.conn.api_url(),
                n
            ),
            None => format!("ConnectionInfo(api_url={:?})", self.conn.api_url()),
        }
    }
}

impl PyConnectionInfo {
    /// `request` and `get`, once their arguments are text.
    fn send_raw(
        &self,
        py: Python<'_>,
        method: &str,
        path: &str,
        json: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Py<PyAny>> {
        let body = json.map(|j| py_to_json("json", j)).transpose()?;
        let raw = self
            .conn
            .prepare_raw(method, path, body)
            .map_err(|e| to_pyerr(py, e))?;
        let conn = self.conn.clone();
        let reply = wait_local(py, async move { conn.send_raw(raw).await })?;
        if reply.body.is_empty() {
            return Ok(py.None());
        }
        match json_to_py(py, &reply.body) {
            Ok(v) => Ok(v.unbind()),
            Err(_) => Ok(PyString::new(py, &String::from_utf8_lossy(&reply.body))
                .into_any()
                .unbind()),
        }
    }
}

fn interactive_arg(obj: &Bound<'_, PyAny>) -> PyResult<bool> {
    bool_arg("interactive", obj)
}
