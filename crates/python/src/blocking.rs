//! Running a core future from a synchronous Python call: on the shared
//! runtime, with the GIL released for the whole wait, and Ctrl-C still
//! honoured (DESIGN.md rule 5).

use std::future::Future;
use std::time::Duration;

use calimero_client_core::runtime::runtime;
use calimero_client_core::Error;
use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;

use crate::errors::to_pyerr;

/// How often a waiting call wakes to let Python run its signal handlers.
const SIGNAL_CHECK: Duration = Duration::from_millis(50);

/// Drives `fut` to completion without the GIL. Every `SIGNAL_CHECK` the
/// wait wakes, takes the GIL and runs pending signal handlers; if one
/// raises (KeyboardInterrupt), the future is dropped, which cancels the
/// request and closes its connection, and the exception propagates.
pub fn wait<T, F>(py: Python<'_>, fut: F) -> PyResult<T>
where
    F: Future<Output = Result<T, Error>> + Send,
    T: Send,
{
    wait_with(py, fut, |_| Ok(()))
}

/// Like [`wait`], also calling `tick` with the GIL at every wake-up (and
/// once more at the end, when the future succeeded), for progress reports.
/// If `tick` raises, the future is dropped and the exception propagates.
pub fn wait_with<T, F>(
    py: Python<'_>,
    fut: F,
    mut tick: impl FnMut(Python<'_>) -> PyResult<()>,
) -> PyResult<T>
where
    F: Future<Output = Result<T, Error>> + Send,
    T: Send,
{
    let rt = runtime().map_err(|e| to_pyerr(py, e))?;
    if tokio::runtime::Handle::try_current().is_ok() {
        return Err(PyRuntimeError::new_err(
            "a blocking call cannot run on the client's own runtime thread; make it from another thread",
        ));
    }
    let mut fut = std::pin::pin!(fut);
    loop {
        let step = py.detach(|| {
            rt.block_on(async { tokio::time::timeout(SIGNAL_CHECK, fut.as_mut()).await })
        });
        match step {
            Ok(result) => {
                let value = result.map_err(|e| to_pyerr(py, e))?;
                tick(py)?;
                return Ok(value);
            }
            Err(_elapsed) => {
                py.check_signals()?;
                tick(py)?;
            }
        }
    }
}
