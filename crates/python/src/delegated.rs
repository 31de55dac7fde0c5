//! Delegated access, offline: `sign_request`, `sign_warrant`,
//! `sign_login_statement` and the `DeviceCredential` type. The bytes are the
//! core's (`calimero_client_core::delegated`); this converts Python values.
//! No secret is ever put in an exception, a repr or a pickle.

use std::time::{SystemTime, UNIX_EPOCH};

use calimero_client_core::delegated::keys::{hex32, SecretKey};
use calimero_client_core::delegated::request::{Audience, LoginStatement, RequestSig};
use calimero_client_core::delegated::warrant::{
    canonical_json, intent_hash, Warrant, WarrantTerms,
};
use calimero_client_core::delegated::{DeviceCredential, DeviceSigner};
use calimero_client_core::Error;
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyString};

use crate::connection::int_in;
use crate::convert::{py_to_json, str_arg, value_to_py};

fn invalid(e: Error) -> PyErr {
    PyValueError::new_err(e.to_string())
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// A secret argument: a `str` of 64 hex characters. Its text is never
/// repeated in an error.
fn secret_arg(argument: &str, obj: &Bound<'_, PyAny>) -> PyResult<SecretKey> {
    let s = obj.cast::<PyString>().map_err(|_| {
        PyTypeError::new_err(format!("{argument}: expected str (64 hex characters)"))
    })?;
    let text =
        zeroize::Zeroizing::new(crate::convert::text(argument, s).map_err(|_| {
            PyValueError::new_err(format!("{argument}: expected 64 hex characters"))
        })?);
    SecretKey::from_hex(argument, &text).map_err(invalid)
}

/// A 32-byte id or key as 64 hex characters or base58.
fn id32(argument: &str, obj: &Bound<'_, PyAny>) -> PyResult<[u8; 32]> {
    let text = str_arg(argument, obj)?;
    calimero_client_core::ids::base58_or_hex_32(argument, &text).map_err(invalid)
}

fn hex32_arg(argument: &str, obj: &Bound<'_, PyAny>) -> PyResult<[u8; 32]> {
    let text = str_arg(argument, obj)?;
    hex32(argument, &text).map_err(invalid)
}

/// A credential argument: a `DeviceCredential`, or its hex.
pub(crate) fn credential_arg(argument: &str, obj: &Bound<'_, PyAny>) -> PyResult<DeviceCredential> {
    if let Ok(c) = obj.cast::<PyDeviceCredential>() {
        return Ok(c.get().inner.clone());
    }
    let text = str_arg(argument, obj).map_err(|_| {
        PyTypeError::new_err(format!(
            "{argument}: expected str (hex) or DeviceCredential"
        ))
    })?;
    DeviceCredential::from_hex(argument, &text).map_err(invalid)
}

/// `method` as it goes on the wire: an HTTP token (letters, digits, `-`,
/// `_`, `.`, …), at most 64 characters.
fn method_arg(obj: &Bound<'_, PyAny>) -> PyResult<String> {
    let m = str_arg("method", obj)?;
    let ok = !m.is_empty()
        && m.len() <= 64
        && m.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b));
    if !ok {
        return Err(PyValueError::new_err(
            "method: expected an HTTP method such as GET or POST (at most 64 token characters)",
        ));
    }
    Ok(m)
}

/// The signer of a connection, from `create_connection`'s arguments:
/// both of the pair or neither; a session only with the pair.
pub(crate) fn signer<'py>(
    credential: Option<&Bound<'py, PyAny>>,
    secret: Option<&Bound<'py, PyAny>>,
    session: Option<&Bound<'py, PyAny>>,
) -> PyResult<Option<DeviceSigner>> {
    fn some<'py>(o: Option<&Bound<'py, PyAny>>) -> Option<Bound<'py, PyAny>> {
        o.filter(|v| !v.is_none()).cloned()
    }
    let (credential, secret, session) = (some(credential), some(secret), some(session));
    // Each argument given is checked on its own first, so an error names it.
    let credential = credential
        .map(|c| credential_arg("device_credential", &c))
        .transpose()?;
    let secret = secret
        .map(|s| secret_arg("device_secret", &s))
        .transpose()?;
    let session = session
        .map(|s| {
            let text = str_arg("device_session", &s)?;
            LoginStatement::from_hex("device_session", &text).map_err(invalid)
        })
        .transpose()?;
    match (credential, secret) {
        (None, None) if session.is_some() => Err(PyValueError::new_err(
            "device_session: needs device_credential and device_secret",
        )),
        (None, None) => Ok(None),
        (Some(_), None) => Err(PyValueError::new_err(
            "device_secret: required when device_credential is given",
        )),
        (None, Some(_)) => Err(PyValueError::new_err(
            "device_credential: required when device_secret is given",
        )),
        (Some(credential), Some(secret)) => DeviceSigner::new(credential, secret, session)
            .map(Some)
            .map_err(invalid),
    }
}

/// Signs one request, offline: the hex `RequestSig` of `method path` with
/// `body` (str or bytes: the exact bytes sent), issued now and valid
/// `valid_for` seconds (at most 300, what a node accepts). `path` has no
/// query string; `signer_secret` is the device or session key (64 hex).
#[pyfunction]
#[pyo3(signature = (method, path, signer_secret, body=None, valid_for=None))]
pub fn sign_request(
    method: &Bound<'_, PyAny>,
    path: &Bound<'_, PyAny>,
    signer_secret: &Bound<'_, PyAny>,
    body: Option<&Bound<'_, PyAny>>,
    valid_for: Option<&Bound<'_, PyAny>>,
) -> PyResult<String> {
    let method = method_arg(method)?;
    let path = str_arg("path", path)?;
    if !path.starts_with('/') || path.contains('?') || path.len() > 16 * 1024 {
        return Err(PyValueError::new_err(
            "path: expected an absolute path without a query string, such as \
             /admin-api/namespaces (at most 16 KiB)",
        ));
    }
    if path.chars().any(|c| c.is_control() || c == ' ') {
        return Err(PyValueError::new_err(
            "path: control characters and spaces are not allowed",
        ));
    }
    let secret = secret_arg("signer_secret", signer_secret)?;
    let body: Vec<u8> = match body.filter(|b| !b.is_none()) {
        None => Vec::new(),
        Some(b) => {
            if let Ok(bytes) = b.cast::<PyBytes>() {
                bytes.as_bytes().to_vec()
            } else {
                str_arg("body", b)
                    .map_err(|_| PyTypeError::new_err("body: expected str or bytes"))?
                    .into_bytes()
            }
        }
    };
    let valid_for = match valid_for.filter(|v| !v.is_none()) {
        None => 300,
        Some(v) => int_in("valid_for", v, 1, 300)?,
    };
    let iat = now();
    let sig = RequestSig::sign(&secret, &method, &path, &body, iat, iat + valid_for);
    Ok(hex::encode(sig.encode()))
}

/// Signs a warrant (v2), offline: the author device (`device_secret`, the
/// key `credential` certifies) lets the relay `executor` (its account) with
/// key `executor_key`, running release `release_bytecode_id` /
/// `release_version` (all from `get_intent_relay`), run `method(args)` in
/// `context_id` once, under `nonce`, for `valid_for` seconds. `args` is JSON
/// text or a JSON-serialisable value; its hash covers it with keys sorted.
/// Returns `{"warrant", "authorAccount", "authorDeviceKey", "intentHash",
/// "nonce", "notAfter"}`.
#[pyfunction]
#[pyo3(signature = (
    context_id, executor, executor_key, release_bytecode_id, release_version, method, args,
    nonce, device_secret, credential, valid_for=None
))]
#[allow(clippy::too_many_arguments)]
pub fn sign_warrant<'py>(
    py: Python<'py>,
    context_id: &Bound<'py, PyAny>,
    executor: &Bound<'py, PyAny>,
    executor_key: &Bound<'py, PyAny>,
    release_bytecode_id: &Bound<'py, PyAny>,
    release_version: &Bound<'py, PyAny>,
    method: &Bound<'py, PyAny>,
    args: &Bound<'py, PyAny>,
    nonce: &Bound<'py, PyAny>,
    device_secret: &Bound<'py, PyAny>,
    credential: &Bound<'py, PyAny>,
    valid_for: Option<&Bound<'py, PyAny>>,
) -> PyResult<Bound<'py, PyAny>> {
    let context = id32("context_id", context_id)?;
    let executor = hex32_arg("executor", executor)?;
    let executor_key = id32("executor_key", executor_key)?;
    let release_bytecode_id = id32("release_bytecode_id", release_bytecode_id)?;
    let release_version = str_arg("release_version", release_version)?;
    if release_version.len() > 256 {
        return Err(PyValueError::new_err(
            "release_version: expected at most 256 bytes",
        ));
    }
    let method = str_arg("method", method)?;
    calimero_client_core::ids::text("method", &method, 1024).map_err(invalid)?;
    let args = if args.is_none() {
        return Err(PyValueError::new_err("args: is required, got None"));
    } else if let Ok(s) = args.cast::<PyString>() {
        let text = crate::convert::text("args", s)?;
        serde_json::from_str(&text)
            .map_err(|e| PyValueError::new_err(format!("args: a string must be JSON text ({e})")))?
    } else {
        py_to_json("args", args)?
    };
    let nonce = int_in("nonce", nonce, 0, u64::MAX)?;
    let secret = secret_arg("device_secret", device_secret)?;
    let credential = credential_arg("credential", credential)?;
    if secret.public_key() != credential.sign_key {
        return Err(PyValueError::new_err(
            "device_secret: does not hold the key the credential certifies; a relay would \
             refuse the warrant it signs",
        ));
    }
    let valid_for = match valid_for.filter(|v| !v.is_none()) {
        None => 300,
        Some(v) => int_in("valid_for", v, 1, 366 * 86_400)?,
    };
    let not_after = now() + valid_for;
    let hash = intent_hash(&method, &canonical_json(&args));
    let terms = WarrantTerms {
        context,
        author_account: credential.account,
        executor,
        executor_key,
        release_bytecode_id,
        release_version,
        method,
        intent_hash: hash,
        account_heads: Vec::new(),
        governance_floor: Vec::new(),
        nonce,
        not_after,
    };
    let warrant = Warrant::sign(&secret, terms).map_err(PyValueError::new_err)?;
    let out = serde_json::json!({
        "warrant": hex::encode(warrant.encode()),
        "authorAccount": hex::encode(credential.account),
        "authorDeviceKey": hex::encode(warrant.author_device_key),
        "intentHash": hex::encode(hash),
        "nonce": nonce,
        "notAfter": not_after,
    });
    value_to_py(py, &out)
}

/// Signs a login statement, offline: the device (`device_secret`)
/// delegates to `session_key` (64 hex, the public key of a session secret)
/// on the node whose signing key is `node_key`, for `audience` (`"cli"`, an
/// `https://` origin, or a code-signing id), answering `challenge` (64 hex;
/// zeros when the node issued none), valid `valid_for` seconds (at most
/// 3600). Returns the statement's hex: `create_connection(...,
/// device_secret=<session secret>, device_session=<this>)`.
#[pyfunction]
#[pyo3(signature = (node_key, session_key, device_secret, *, audience=None, challenge=None, valid_for=None))]
pub fn sign_login_statement(
    node_key: &Bound<'_, PyAny>,
    session_key: &Bound<'_, PyAny>,
    device_secret: &Bound<'_, PyAny>,
    audience: Option<&Bound<'_, PyAny>>,
    challenge: Option<&Bound<'_, PyAny>>,
    valid_for: Option<&Bound<'_, PyAny>>,
) -> PyResult<String> {
    let node = id32("node_key", node_key)?;
    let session = hex32_arg("session_key", session_key)?;
    let secret = secret_arg("device_secret", device_secret)?;
    let audience = match audience.filter(|a| !a.is_none()) {
        None => Audience::Cli,
        Some(a) => {
            let text = str_arg("audience", a)?;
            calimero_client_core::ids::text("audience", &text, 1024).map_err(invalid)?;
            Audience::from_spelling(&text)
        }
    };
    let challenge = match challenge.filter(|c| !c.is_none()) {
        None => [0u8; 32],
        Some(c) => hex32_arg("challenge", c)?,
    };
    let valid_for = match valid_for.filter(|v| !v.is_none()) {
        None => 3600,
        Some(v) => int_in("valid_for", v, 1, 3600)?,
    };
    let iat = now();
    let statement = LoginStatement::sign(
        &secret,
        node,
        audience,
        challenge,
        session,
        iat,
        iat + valid_for,
    );
    Ok(hex::encode(statement.encode()))
}

/// The public key (64 hex) of an Ed25519 secret (64 hex), offline.
#[pyfunction]
pub fn public_key_of(secret: &Bound<'_, PyAny>) -> PyResult<String> {
    Ok(hex::encode(secret_arg("secret", secret)?.public_key()))
}

/// A device credential (borsh `AccountProof<DeviceCert>`): the account
/// root's certificate over a device's signing and KEM keys. Holds no secret.
///
/// `DeviceCredential(hex)` parses (ValueError when it is not one);
/// `verify()` checks it offline (the genesis names the account, the handoff
/// chain reaches the signing epoch, the root key of that epoch signed it)
/// and raises ValueError saying what failed. It does not know about
/// revocation or membership: only a node does.
#[pyclass(module = "calimero", name = "DeviceCredential", frozen, eq)]
#[derive(PartialEq)]
pub struct PyDeviceCredential {
    pub(crate) inner: DeviceCredential,
}

#[pymethods]
impl PyDeviceCredential {
    #[new]
    fn new(credential: &Bound<'_, PyAny>) -> PyResult<Self> {
        Ok(PyDeviceCredential {
            inner: credential_arg("credential", credential)?,
        })
    }

    /// The account, 64 hex.
    #[getter]
    fn account(&self) -> String {
        hex::encode(self.inner.account)
    }
    /// The device id, 64 hex.
    #[getter]
    fn device(&self) -> String {
        hex::encode(self.inner.device)
    }
    /// The device's Ed25519 signing key, 64 hex.
    #[getter]
    fn signing_key(&self) -> String {
        hex::encode(self.inner.sign_key)
    }
    /// The device's X25519 key-delivery key, 64 hex.
    #[getter]
    fn kem_key(&self) -> String {
        hex::encode(self.inner.kem_key)
    }
    /// The account's genesis root key, 64 hex.
    #[getter]
    fn root_key(&self) -> String {
        hex::encode(self.inner.root_key)
    }
    /// The root-key epoch that signed the certificate.
    #[getter]
    fn key_epoch(&self) -> u32 {
        self.inner.key_epoch
    }
    /// The device's key epoch (rotations of the same device).
    #[getter]
    fn device_epoch(&self) -> u32 {
        self.inner.device_epoch
    }
    /// How many root-key handoffs the credential carries.
    #[getter]
    fn handoffs(&self) -> usize {
        self.inner.chain.len()
    }
    /// The credential as hex, as it is sent (`authorProof`).
    #[getter]
    fn hex(&self) -> String {
        self.inner.to_hex()
    }

    /// Raises ValueError saying why the credential does not verify.
    fn verify(&self) -> PyResult<()> {
        self.inner.verify().map_err(|reason| {
            PyValueError::new_err(format!("the credential does not verify: {reason}"))
        })
    }

    /// Whether `verify()` passes.
    #[getter]
    fn valid(&self) -> bool {
        self.inner.verify().is_ok()
    }

    /// `{"account", "device", "signingKey", "kemKey", "rootKey", "keyEpoch",
    /// "deviceEpoch", "handoffs", "genesisVersion"}`.
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        value_to_py(py, &self.inner.to_json())
    }

    fn __repr__(&self) -> String {
        format!(
            "DeviceCredential(account={:?}, device={:?}, key_epoch={}, device_epoch={})",
            self.account(),
            self.device(),
            self.inner.key_epoch,
            self.inner.device_epoch
        )
    }

    fn __hash__(&self) -> u64 {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        self.inner.encode().hash(&mut h);
        h.finish()
    }

    fn __reduce__<'py>(slf: &Bound<'py, Self>) -> PyResult<(Bound<'py, PyAny>, (String,))> {
        Ok((slf.get_type().into_any(), (slf.get().inner.to_hex(),)))
    }
}
