//! `TeePolicy`: which TEE nodes a sealed connection trusts (the core's
//! `tee::TeePolicy`), and the verification of a quote under it.

use std::sync::Arc;

use calimero_client_core::tee::{self, Collateral};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList, PyString, PyTuple};
use serde_json::Value;

use crate::convert::{py_to_json, shown, str_arg, type_name, value_to_py};
use crate::errors::to_pyerr;

/// Which TEE (Intel TDX) nodes a sealed connection trusts.
///
/// A node's quote must verify against Intel's collateral, come from a
/// platform whose TCB status is in ``allowed_tcb_statuses`` (default
/// ``["UpToDate"]``; ``Revoked`` never), measure an image this policy
/// allows, and commit to the connection's nonce and the node's transport
/// key. ``allowed_mrtd`` and ``allowed_rtmr1`` to ``allowed_rtmr3`` (lists
/// of 96-hex measurements) are required: the MRTD measures the TD firmware
/// every image on a platform shares, and the image is in RTMR1-3.
/// ``allowed_rtmr0`` is checked when given. ``application_id`` with
/// ``application_hash`` (its bytecode hash, hex or base58) also requires the
/// node to run that application with exactly that bytecode.
/// ``TeePolicy.from_releases`` builds one from mero-tee releases.
#[pyclass(module = "calimero", name = "TeePolicy", frozen)]
pub struct PyTeePolicy {
    pub(crate) policy: Arc<tee::TeePolicy>,
}

/// A list (or tuple) of str, or None.
fn str_list(argument: &str, obj: Option<&Bound<'_, PyAny>>) -> PyResult<Option<Vec<String>>> {
    let Some(obj) = obj.filter(|o| !o.is_none()) else {
        return Ok(None);
    };
    if obj.is_instance_of::<PyString>()
        || !(obj.is_instance_of::<PyList>() || obj.is_instance_of::<PyTuple>())
    {
        return Err(PyTypeError::new_err(format!(
            "{argument}: expected a list of str, got {}",
            type_name(obj)
        )));
    }
    obj.try_iter()?
        .map(|item| str_arg(argument, &item?))
        .collect::<PyResult<Vec<_>>>()
        .map(Some)
}

fn opt_str(argument: &str, obj: Option<&Bound<'_, PyAny>>) -> PyResult<Option<String>> {
    obj.filter(|o| !o.is_none())
        .map(|o| str_arg(argument, o))
        .transpose()
}

/// A JSON document given as a dict (or list), JSON text, or bytes of it.
pub(crate) fn json_document(argument: &str, obj: &Bound<'_, PyAny>) -> PyResult<Value> {
    let parse = |text: &[u8]| {
        serde_json::from_slice(text)
            .map_err(|e| PyValueError::new_err(format!("{argument}: not JSON: {e}")))
    };
    if let Ok(s) = obj.cast::<PyString>() {
        return parse(crate::convert::text(argument, s)?.as_bytes());
    }
    if let Ok(b) = obj.cast::<PyBytes>() {
        return parse(b.as_bytes());
    }
    if obj.is_instance_of::<PyDict>() {
        return py_to_json(argument, obj);
    }
    Err(PyTypeError::new_err(format!(
        "{argument}: expected a dict, or its JSON text, got {}",
        type_name(obj)
    )))
}

/// Collateral given by the caller, in dcap-qvl's JSON form.
pub(crate) fn collateral(argument: &str, obj: &Bound<'_, PyAny>) -> PyResult<Collateral> {
    let value = json_document(argument, obj)?;
    Collateral::from_json(argument, &value).map_err(|e| to_pyerr(obj.py(), e))
}

/// One release: a dict, its JSON text or bytes, or the path of its file
/// (an `os.PathLike`; a str is JSON text).
fn release(obj: &Bound<'_, PyAny>) -> PyResult<Value> {
    let path = if obj.is_instance_of::<PyString>() {
        None
    } else {
        crate::transfer::as_path("releases", obj)?
    };
    if let Some(path) = path {
        let text = std::fs::read(&path).map_err(|e| {
            pyo3::exceptions::PyOSError::new_err((
                e.raw_os_error().unwrap_or(0),
                format!("releases: {e}"),
                path.display().to_string(),
            ))
        })?;
        return serde_json::from_slice(&text).map_err(|e| {
            PyValueError::new_err(format!("releases: {} is not JSON: {e}", path.display()))
        });
    }
    json_document("releases", obj)
}

#[pymethods]
impl PyTeePolicy {
    #[new]
    #[pyo3(signature = (
        allowed_mrtd, *, allowed_rtmr0=None, allowed_rtmr1=None, allowed_rtmr2=None,
        allowed_rtmr3=None, allowed_tcb_statuses=None, application_id=None,
        application_hash=None
    ))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        allowed_mrtd: &Bound<'_, PyAny>,
        allowed_rtmr0: Option<&Bound<'_, PyAny>>,
        allowed_rtmr1: Option<&Bound<'_, PyAny>>,
        allowed_rtmr2: Option<&Bound<'_, PyAny>>,
        allowed_rtmr3: Option<&Bound<'_, PyAny>>,
        allowed_tcb_statuses: Option<&Bound<'_, PyAny>>,
        application_id: Option<&Bound<'_, PyAny>>,
        application_hash: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Self> {
        let mrtd = str_list("allowed_mrtd", Some(allowed_mrtd))?.unwrap_or_default();
        let rtmr = [
            str_list("allowed_rtmr0", allowed_rtmr0)?,
            str_list("allowed_rtmr1", allowed_rtmr1)?,
            str_list("allowed_rtmr2", allowed_rtmr2)?,
            str_list("allowed_rtmr3", allowed_rtmr3)?,
        ];
        let statuses = str_list("allowed_tcb_statuses", allowed_tcb_statuses)?;
        let application_id = opt_str("application_id", application_id)?;
        let application_hash = opt_str("application_hash", application_hash)?;
        let policy = tee::TeePolicy::new(
            &mrtd,
            [
                rtmr[0].as_deref(),
                rtmr[1].as_deref(),
                rtmr[2].as_deref(),
                rtmr[3].as_deref(),
            ],
            statuses.as_deref(),
            application_id.as_deref(),
            application_hash.as_deref(),
        )
        .map_err(|e| to_pyerr(py, e))?;
        Ok(PyTeePolicy {
            policy: Arc::new(policy),
        })
    }

    /// The policy that trusts exactly one ``profile`` (such as
    /// ``"locked-read-only"``) of the given mero-tee releases: each
    /// release's ``published-mrtds.json`` (a dict, its JSON text, or the
    /// ``os.PathLike`` path of the file). Each release's image is trusted by
    /// all five of its registers, so registers of different images never
    /// combine, and only the TCB statuses every release accepts are. Pass
    /// every release a node may run (during a rollout, the old and the new).
    /// Where the files come from is the trust decision: this reads them as
    /// given.
    #[staticmethod]
    #[pyo3(signature = (releases, profile, *, application_id=None, application_hash=None))]
    fn from_releases(
        py: Python<'_>,
        releases: &Bound<'_, PyAny>,
        profile: &Bound<'_, PyAny>,
        application_id: Option<&Bound<'_, PyAny>>,
        application_hash: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Self> {
        if !(releases.is_instance_of::<PyList>() || releases.is_instance_of::<PyTuple>()) {
            return Err(PyTypeError::new_err(format!(
                "releases: expected a list of releases (published-mrtds.json documents), got {}",
                type_name(releases)
            )));
        }
        let releases = releases
            .try_iter()?
            .map(|item| release(&item?))
            .collect::<PyResult<Vec<_>>>()?;
        let profile = str_arg("profile", profile)?;
        let application_id = opt_str("application_id", application_id)?;
        let application_hash = opt_str("application_hash", application_hash)?;
        let policy = tee::TeePolicy::from_releases(
            &releases,
            &profile,
            application_id.as_deref(),
            application_hash.as_deref(),
        )
        .map_err(|e| to_pyerr(py, e))?;
        Ok(PyTeePolicy {
            policy: Arc::new(policy),
        })
    }

    /// The MRTDs allowed (hex).
    #[getter]
    fn allowed_mrtd(&self) -> Vec<String> {
        self.policy.allowed_mrtd()
    }

    /// The RTMR0 values allowed (hex), or None when RTMR0 is not checked.
    #[getter]
    fn allowed_rtmr0(&self) -> Option<Vec<String>> {
        Some(self.policy.allowed_rtmr(0)).filter(|l| !l.is_empty())
    }

    #[getter]
    fn allowed_rtmr1(&self) -> Vec<String> {
        self.policy.allowed_rtmr(1)
    }

    #[getter]
    fn allowed_rtmr2(&self) -> Vec<String> {
        self.policy.allowed_rtmr(2)
    }

    #[getter]
    fn allowed_rtmr3(&self) -> Vec<String> {
        self.policy.allowed_rtmr(3)
    }

    /// The TCB statuses accepted, as DCAP spells them.
    #[getter]
    fn allowed_tcb_statuses(&self) -> Vec<String> {
        self.policy.allowed_tcb_statuses()
    }

    /// The application the node must run, or None.
    #[getter]
    fn application_id(&self) -> Option<String> {
        self.policy.application().map(|(id, _)| id.to_owned())
    }

    /// Its bytecode hash (hex), or None.
    #[getter]
    fn application_hash(&self) -> Option<String> {
        self.policy.application().map(|(_, hash)| hash)
    }

    /// Verifies a TDX ``quote`` (bytes) against ``collateral`` (Intel's
    /// collateral in dcap-qvl's JSON form: a dict or its text) and applies
    /// the policy; ``report_data`` (64 bytes), when given, must be exactly
    /// what the quote carries. ``now`` (Unix seconds, default the current
    /// time) is when the collateral must be valid. Returns ``{"tcb_status",
    /// "advisory_ids", "mrtd", "rtmr0"..."rtmr3", "report_data"}`` (hex);
    /// raises ``AttestationError`` saying why a quote is refused. No I/O:
    /// nothing is fetched from Intel or anyone.
    #[pyo3(signature = (quote, collateral, *, report_data=None, now=None))]
    fn verify_quote<'py>(
        &self,
        py: Python<'py>,
        quote: &Bound<'py, PyAny>,
        collateral: &Bound<'py, PyAny>,
        report_data: Option<&Bound<'py, PyAny>>,
        now: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let quote = quote
            .cast::<PyBytes>()
            .map_err(|_| {
                PyTypeError::new_err(format!("quote: expected bytes, got {}", type_name(quote)))
            })?
            .as_bytes()
            .to_vec();
        // A mock quote is refused whatever comes with it.
        tee::refuse_mock(&quote).map_err(|e| to_pyerr(py, e))?;
        let collateral = self::collateral("collateral", collateral)?;
        let report_data = match report_data.filter(|o| !o.is_none()) {
            None => None,
            Some(obj) => {
                let bytes = obj.cast::<PyBytes>().map_err(|_| {
                    PyTypeError::new_err(format!(
                        "report_data: expected 64 bytes, got {}",
                        type_name(obj)
                    ))
                })?;
                let array: [u8; 64] = bytes.as_bytes().try_into().map_err(|_| {
                    PyValueError::new_err(format!(
                        "report_data: expected 64 bytes, got {}",
                        bytes.as_bytes().len()
                    ))
                })?;
                Some(array)
            }
        };
        let now = match now.filter(|o| !o.is_none()) {
            None => std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs()),
            Some(obj) => crate::connection::int_in("now", obj, 0, u64::from(u32::MAX) * 4)?,
        };
        let policy = Arc::clone(&self.policy);
        // Signature checks take milliseconds: the GIL is released.
        let verified = py
            .detach(move || policy.verify_quote(&quote, &collateral, now, report_data.as_ref()))
            .map_err(|e| to_pyerr(py, e))?;
        let out = serde_json::json!({
            "tcb_status": verified.tcb_status,
            "advisory_ids": verified.advisory_ids,
            "mrtd": hex::encode(verified.mrtd),
            "rtmr0": hex::encode(verified.rtmr[0]),
            "rtmr1": hex::encode(verified.rtmr[1]),
            "rtmr2": hex::encode(verified.rtmr[2]),
            "rtmr3": hex::encode(verified.rtmr[3]),
            "report_data": hex::encode(verified.report_data),
        });
        value_to_py(py, &out)
    }

    fn __repr__(&self) -> String {
        let short = |list: Vec<String>| {
            list.iter()
                .map(|m| format!("{}…", &m[..12.min(m.len())]))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let mut text = format!(
            "TeePolicy(allowed_mrtd=[{}], allowed_tcb_statuses={:?}",
            short(self.policy.allowed_mrtd()),
            self.policy.allowed_tcb_statuses()
        );
        if !self.policy.images().is_empty() {
            text.push_str(&format!(", images={}", self.policy.images().len()));
        }
        if let Some((id, _)) = self.policy.application() {
            text.push_str(&format!(", application_id={id:?}"));
        }
        text.push(')');
        text
    }
}

/// `tee`: a TeePolicy or None.
pub(crate) fn policy_arg(obj: Option<&Bound<'_, PyAny>>) -> PyResult<Option<Arc<tee::TeePolicy>>> {
    let Some(obj) = obj.filter(|o| !o.is_none()) else {
        return Ok(None);
    };
    let policy = obj.cast::<PyTeePolicy>().map_err(|_| {
        PyTypeError::new_err(format!("tee: expected a TeePolicy, got {}", shown(obj)))
    })?;
    Ok(Some(Arc::clone(&policy.get().policy)))
}
