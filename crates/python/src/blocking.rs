//! Running a core future from a synchronous Python call, with the GIL
//! released for the whole wait, and Ctrl-C still honoured (DESIGN.md
//! rule 5): on the shared runtime ([`wait`], [`wait_with`]), or, for a
//! plain request and its answer, on the calling thread's own runtime
//! ([`wait_local`]: no hand-off to a worker thread and back).

use std::future::Future;
use std::time::Duration;

use calimero_client_core::runtime::{block_on_local, runtime};
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

/// Like [`wait`], on this thread's own current-thread runtime and HTTP
/// pool (`calimero_client_core::runtime::block_on_local`): the request is
/// written, awaited and read by the calling thread itself. For calls whose
/// answer is read whole before they return (never a stream that outlives
/// the call: its connection would be driven only by this thread).
pub fn wait_local<T, F>(py: Python<'_>, fut: F) -> PyResult<T>
where
    F: Future<Output = Result<T, Error>> + Send,
    T: Send,
{
    drive(py, fut, |_| Ok(()), true)
}

/// [`wait_local`] with a `tick` as [`wait_with`] has.
pub fn wait_local_with<T, F>(
    py: Python<'_>,
    fut: F,
    tick: impl FnMut(Python<'_>) -> PyResult<()>,
) -> PyResult<T>
where
    F: Future<Output = Result<T, Error>> + Send,
    T: Send,
{
    drive(py, fut, tick, true)
}

/// Like [`wait`], also calling `tick` with the GIL at every wake-up (and
/// once more at the end, when the future succeeded), for progress reports.
/// If `tick` raises, the future is dropped and the exception propagates.
pub fn wait_with<T, F>(
    py: Python<'_>,
    fut: F,
    tick: impl FnMut(Python<'_>) -> PyResult<()>,
) -> PyResult<T>
where
    F: Future<Output = Result<T, Error>> + Send,
    T: Send,
{
    drive(py, fut, tick, false)
}

/// The wait loop, on the shared runtime or (`local`) this thread's own.
fn drive<T, F>(
    py: Python<'_>,
    fut: F,
    mut tick: impl FnMut(Python<'_>) -> PyResult<()>,
    local: bool,
) -> PyResult<T>
where
    F: Future<Output = Result<T, Error>> + Send,
    T: Send,
{
    let shared = if local {
        None
    } else {
        Some(runtime().map_err(|e| to_pyerr(py, e))?)
    };
    if tokio::runtime::Handle::try_current().is_ok() {
        return Err(PyRuntimeError::new_err(
            "a blocking call cannot run on the client's own runtime thread; make it from another thread",
        ));
    }
    let result = {
        let mut fut = std::pin::pin!(fut);
        loop {
            let step = py.detach(|| {
                let step = async { tokio::time::timeout(SIGNAL_CHECK, fut.as_mut()).await };
                match shared {
                    Some(rt) => Ok(rt.block_on(step)),
                    None => block_on_local(step),
                }
            });
            match step.map_err(|e| to_pyerr(py, e))? {
                Ok(result) => {
                    break result
                        .map_err(|e| to_pyerr(py, e))
                        .and_then(|value| tick(py).map(|()| value));
                }
                Err(_elapsed) => {
                    if let Err(e) = py.check_signals().and_then(|()| tick(py)) {
                        break Err(e);
                    }
                }
            }
        }
    };
    if local && result.is_err() {
        // The dropped request's connection is driven by this thread's
        // runtime alone: let it see the cancellation and close now, not at
        // this thread's next call.
        let _ = py.detach(|| block_on_local(settle()));
    }
    result
}

/// Lets the tasks of this thread's runtime run (twice round).
async fn settle() {
    tokio::task::yield_now().await;
    tokio::task::yield_now().await;
}
