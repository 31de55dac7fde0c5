//! Core errors as Python exceptions. The classes live in `calimero.errors`
//! (plain Python, so they can also derive from `ConnectionError` and
//! `TimeoutError`, pickle, and carry keyword attributes); which class is
//! decided by the core's `ErrorKind`.

use calimero_client_core::{Error, ErrorKind};
use pyo3::exceptions::{PyOSError, PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyModule};

use crate::convert::value_to_py;

static ERRORS: PyOnceLock<Py<PyModule>> = PyOnceLock::new();

fn errors_module(py: Python<'_>) -> PyResult<&Bound<'_, PyModule>> {
    ERRORS
        .get_or_try_init(py, || py.import("calimero.errors").map(Bound::unbind))
        .map(|m| m.bind(py))
}

/// The Python exception for a core error.
pub fn to_pyerr(py: Python<'_>, err: Error) -> PyErr {
    match err.kind() {
        // a ValueError that is also a RuntimeError (calimero.errors)
        ErrorKind::InvalidArgument => invalid_argument(py, err.to_string()),
        ErrorKind::Internal => PyRuntimeError::new_err(err.to_string()),
        // OSError(errno, strerror, filename) picks the subclass by errno
        // (FileNotFoundError, PermissionError, ...).
        ErrorKind::LocalIo => match err {
            Error::LocalIo {
                path,
                errno: Some(errno),
                message,
            } => PyOSError::new_err((errno, message.clone(), path.clone())),
            other => PyOSError::new_err(other.to_string()),
        },
        kind => build(py, kind, &err).unwrap_or_else(|e| e),
    }
}

/// `calimero.errors.InvalidArgumentError(message)`, or a plain ValueError
/// should the module be unavailable.
pub fn invalid_argument(py: Python<'_>, message: String) -> PyErr {
    match errors_module(py).and_then(|m| m.getattr("InvalidArgumentError")) {
        Ok(class) => match class.call1((message.as_str(),)) {
            Ok(instance) => PyErr::from_value(instance),
            Err(e) => e,
        },
        Err(_) => PyValueError::new_err(message),
    }
}

fn build(py: Python<'_>, kind: ErrorKind, err: &Error) -> PyResult<PyErr> {
    let class = errors_module(py)?.getattr(kind.class_name())?;
    let kw = PyDict::new(py);
    match err {
        Error::Http(h) => {
            kw.set_item("status", h.status)?;
            kw.set_item("method", &h.method)?;
            kw.set_item("url", &h.url)?;
            kw.set_item("body", &h.body)?;
            let headers = PyDict::new(py);
            for (k, v) in &h.headers {
                headers.set_item(k, v)?;
            }
            kw.set_item("headers", headers)?;
            kw.set_item("auth_error", &h.auth_error)?;
            kw.set_item("retry_after", h.retry_after)?;
            kw.set_item("message", &h.message)?;
        }
        Error::Network { method, url, .. }
        | Error::Timeout { method, url, .. }
        | Error::Sealed { method, url, .. } => {
            kw.set_item("method", method)?;
            kw.set_item("url", url)?;
        }
        Error::MalformedResponse {
            method, url, body, ..
        } => {
            kw.set_item("method", method)?;
            kw.set_item("url", url)?;
            kw.set_item("body", body)?;
        }
        Error::Rpc(f) => {
            kw.set_item("method", "POST")?;
            kw.set_item("url", &f.url)?;
            kw.set_item("status", 200)?;
            kw.set_item("error_type", &f.error_type)?;
            kw.set_item("rpc_method", &f.rpc_method)?;
            kw.set_item("app_method", &f.app_method)?;
            if let Some(d) = &f.data {
                kw.set_item("data", value_to_py(py, d)?)?;
            }
            if let Some(g) = &f.guest_error {
                kw.set_item("guest_error", value_to_py(py, g)?)?;
            }
        }
        Error::InvalidArgument { .. }
        | Error::Internal(_)
        | Error::LocalIo { .. }
        | Error::NotAuthenticated { .. }
        | Error::Attestation { .. } => {}
        Error::Unsupported { call, .. } => {
            kw.set_item(
                "message",
                format!("{call} is not served by this node's release"),
            )?;
        }
    }
    let instance = class.call((err.to_string(),), Some(&kw))?;
    Ok(PyErr::from_value(instance))
}
