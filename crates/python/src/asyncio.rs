//! Awaitable calls for `AsyncClient`: a core future becomes an asyncio
//! future through `pyo3-async-runtimes`, running on the same process-wide
//! runtime as the blocking calls (DESIGN.md rule 4). Cancelling the Python
//! task drops the Rust future, which closes its request.
//!
//! The drop is not immediate: the future is dropped when the runtime next
//! polls it after the cancellation, and it is polled once more first. A
//! future that completes meanwhile, or just before the loop takes its
//! result, has its result dropped (pyo3-async-runtimes sees the asyncio
//! future cancelled). So an awaitable must not take anything it cannot give
//! back, as a read from a queue would (issue 19): subscriptions wait with
//! an awaitable that takes nothing and take events synchronously on the
//! loop's thread (`events.rs`).

use std::future::Future;
use std::pin::Pin;

use calimero_client_core::runtime::runtime;
use calimero_client_core::Error;
use pyo3::prelude::*;
use pyo3_async_runtimes::generic::{ContextExt, Runtime};
use pyo3_async_runtimes::TaskLocals;

use crate::errors::to_pyerr;

tokio::task_local! {
    static LOCALS: TaskLocals;
}

/// The client's runtime, as `pyo3-async-runtimes` sees it. Spawning uses the
/// ambient Tokio handle: [`into_awaitable`] enters the runtime for the first
/// spawn, and every later one happens on a runtime thread. This keeps the
/// runtime that `runtime()` gives, which is per process (a forked child
/// starts its own), rather than one fixed at first use.
struct CoreRuntime;

impl Runtime for CoreRuntime {
    type JoinError = tokio::task::JoinError;
    type JoinHandle = tokio::task::JoinHandle<()>;

    fn spawn<F>(fut: F) -> Self::JoinHandle
    where
        F: Future<Output = ()> + Send + 'static,
    {
        tokio::spawn(fut)
    }

    fn spawn_blocking<F>(f: F) -> Self::JoinHandle
    where
        F: FnOnce() + Send + 'static,
    {
        tokio::task::spawn_blocking(f)
    }
}

impl ContextExt for CoreRuntime {
    fn scope<F, R>(locals: TaskLocals, fut: F) -> Pin<Box<dyn Future<Output = R> + Send>>
    where
        F: Future<Output = R> + Send + 'static,
    {
        Box::pin(LOCALS.scope(locals, fut))
    }

    fn get_task_locals() -> Option<TaskLocals> {
        LOCALS.try_with(Clone::clone).ok()
    }
}

/// What an awaited call gives back: the core's result, made into Python
/// objects (or the exception) on the event loop's side with the GIL held.
pub struct Outcome<T>(
    pub Result<T, Error>,
    pub fn(Python<'_>, T) -> PyResult<Py<PyAny>>,
);

impl<'py, T> IntoPyObject<'py> for Outcome<T> {
    type Target = PyAny;
    type Output = Bound<'py, PyAny>;
    type Error = PyErr;

    fn into_pyobject(self, py: Python<'py>) -> Result<Self::Output, Self::Error> {
        let Outcome(result, convert) = self;
        match result {
            Ok(value) => convert(py, value).map(|v| v.into_bound(py)),
            Err(e) => Err(to_pyerr(py, e)),
        }
    }
}

/// An asyncio awaitable for `fut`, on the running event loop; `convert`
/// turns its value into Python objects. Must be called from a coroutine
/// (it needs the running loop).
pub fn into_awaitable<'py, T, F>(
    py: Python<'py>,
    fut: F,
    convert: fn(Python<'_>, T) -> PyResult<Py<PyAny>>,
) -> PyResult<Bound<'py, PyAny>>
where
    F: Future<Output = Result<T, Error>> + Send + 'static,
    T: Send + 'static,
{
    let rt = runtime().map_err(|e| to_pyerr(py, e))?;
    let locals = TaskLocals::with_running_loop(py)?.copy_context(py)?;
    let _entered = rt.enter();
    pyo3_async_runtimes::generic::future_into_py_with_locals::<CoreRuntime, _, _>(
        py,
        locals,
        async move { Ok(Outcome(fut.await, convert)) },
    )
}
