//! Authentication arguments, the terminal prompt and `JwtToken` values for
//! `ConnectionInfo`. The logic lives in the core (`calimero_client_core::auth`);
//! this converts Python values and asks `calimero._auth` to prompt.

use std::sync::Arc;

use calimero_client_core::auth::{AuthOptions, CredentialPrompt, Credentials, Tokens};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyString;

/// An optional `str` argument; empty strings are refused.
pub fn opt_str(name: &str, value: Option<&Bound<'_, PyAny>>) -> PyResult<Option<String>> {
    let Some(value) = value.filter(|v| !v.is_none()) else {
        return Ok(None);
    };
    let text = crate::convert::text(
        name,
        value
            .cast::<PyString>()
            .map_err(|_| PyTypeError::new_err(format!("{name}: expected str or None")))?,
    )?;
    if text.is_empty() {
        return Err(PyValueError::new_err(format!(
            "{name}: expected a non-empty string"
        )));
    }
    Ok(Some(text))
}

/// `username` and `password` together, or neither.
pub fn credentials(
    username: Option<String>,
    password: Option<String>,
) -> PyResult<Option<Credentials>> {
    match (username, password) {
        (None, None) => Ok(None),
        (Some(_), None) => Err(PyValueError::new_err(
            "password: required when username is given",
        )),
        (None, Some(_)) => Err(PyValueError::new_err(
            "username: required when password is given",
        )),
        (Some(u), Some(p)) => Credentials::new(u, p)
            .map(Some)
            .map_err(|e| PyValueError::new_err(e.to_string())),
    }
}

/// The authentication options of a new connection.
pub fn options(
    username: Option<String>,
    password: Option<String>,
    access_token: Option<String>,
    refresh_token: Option<String>,
    interactive: bool,
) -> PyResult<AuthOptions> {
    for (name, token) in [
        ("access_token", &access_token),
        ("refresh_token", &refresh_token),
    ] {
        if let Some(t) = token {
            calimero_client_core::ids::token(name, t)
                .map_err(|e| PyValueError::new_err(e.to_string()))?;
        }
    }
    if refresh_token.is_some() && access_token.is_none() {
        return Err(PyValueError::new_err(
            "access_token: required when refresh_token is given",
        ));
    }
    Ok(AuthOptions {
        tokens: access_token.map(|a| Tokens::new(a, refresh_token)),
        credentials: credentials(username, password)?,
        ignore_env: false,
        prompt: interactive.then(|| Arc::new(TerminalPrompt) as Arc<dyn CredentialPrompt>),
        device: None,
    })
}

/// Asks on the terminal through `calimero._auth.prompt_credentials`, which
/// does nothing unless stdin is a terminal.
struct TerminalPrompt;

impl CredentialPrompt for TerminalPrompt {
    fn credentials(&self, api_url: &str, node_name: Option<&str>) -> Option<Credentials> {
        Python::attach(|py| {
            let answer = py
                .import("calimero._auth")
                .and_then(|m| m.call_method1("prompt_credentials", (api_url, node_name)));
            match answer {
                Ok(value) if value.is_none() => None,
                Ok(value) => {
                    let (user, password): (String, String) = value.extract().ok()?;
                    Credentials::new(user, password).ok()
                }
                Err(err) => {
                    log::warn!(
                        target: "calimero::auth",
                        "the credential prompt failed: {}",
                        err.get_type(py).name().map_or_else(|_| "error".into(), |n| n.to_string())
                    );
                    None
                }
            }
        })
    }
}

/// `calimero.JwtToken(access_token, refresh_token, expires_at)`.
pub fn token_to_py(py: Python<'_>, tokens: &Tokens) -> PyResult<Py<PyAny>> {
    let class = py.import("calimero")?.getattr("JwtToken")?;
    Ok(class
        .call1((
            tokens.access_token.as_str(),
            tokens.refresh_token.as_deref(),
            tokens.expires_at,
        ))?
        .unbind())
}
