//! Live events from Python: the core's subscription behind a blocking
//! iterator (the GIL released while it waits, Ctrl-C honoured) and, for the
//! async iterator, a non-blocking `_poll` with an asyncio awaitable
//! `_ready` on the same runtime (`calimero/_events.py` wraps both).
//! Defaults (`max_reconnects=10`, `buffer=256`) are the core's
//! `DEFAULT_MAX_RECONNECTS` and `DEFAULT_BUFFER`.

use std::sync::Arc;
use std::task::Poll;

use calimero_client_core::events::{
    Ids, SubscribeOptions, Subscription, Transport, DEFAULT_BUFFER, DEFAULT_MAX_RECONNECTS,
};
use calimero_client_core::Error;
use pyo3::exceptions::{PyStopAsyncIteration, PyTypeError};
use pyo3::prelude::*;
use pyo3::types::{PyList, PyString};
use serde_json::Value;

use crate::asyncio;
use crate::blocking::wait;
use crate::connection::int_in;
use crate::connection::PyConnectionInfo;
use crate::convert::{str_arg, text, value_to_py};
use crate::errors::to_pyerr;

/// Most reconnect attempts in a row that may be asked for.
const MAX_RECONNECTS_LIMIT: u64 = 1000;
const MAX_BUFFER: u64 = 1 << 20;

/// `context_ids` / `group_ids`: None, one id as a str, or an iterable of str.
fn id_list(argument: &str, obj: Option<&Bound<'_, PyAny>>) -> PyResult<Vec<String>> {
    let Some(obj) = obj.filter(|o| !o.is_none()) else {
        return Ok(Vec::new());
    };
    if let Ok(s) = obj.cast::<PyString>() {
        return Ok(vec![text(argument, s)?]);
    }
    let iter = obj.try_iter().map_err(|_| {
        PyTypeError::new_err(format!(
            "{argument}: expected a str or an iterable of str, got {}",
            obj.get_type()
                .name()
                .map_or_else(|_| "?".into(), |n| n.to_string())
        ))
    })?;
    let mut out = Vec::new();
    for (i, item) in iter.enumerate() {
        let item = item?;
        let s = item
            .cast::<PyString>()
            .map_err(|_| PyTypeError::new_err(format!("{argument}[{i}]: expected str")))?;
        out.push(text(&format!("{argument}[{i}]"), s)?);
    }
    Ok(out)
}

fn ids(
    py: Python<'_>,
    context_ids: Option<&Bound<'_, PyAny>>,
    group_ids: Option<&Bound<'_, PyAny>>,
) -> PyResult<Ids> {
    let contexts = id_list("context_ids", context_ids)?;
    let groups = id_list("group_ids", group_ids)?;
    Ids::new(&contexts, &groups).map_err(|e| to_pyerr(py, e))
}

fn optional_to_py(py: Python<'_>, value: Option<Value>) -> PyResult<Py<PyAny>> {
    match value {
        Some(v) => Ok(value_to_py(py, &v)?.unbind()),
        None => Ok(py.None()),
    }
}

fn subscription_to_py(py: Python<'_>, sub: Subscription) -> PyResult<Py<PyAny>> {
    Ok(Py::new(
        py,
        PySubscription {
            inner: Arc::new(sub),
        },
    )?
    .into_any())
}

/// The checked arguments of `_subscribe` / `_asubscribe`.
fn options(
    py: Python<'_>,
    context_ids: Option<&Bound<'_, PyAny>>,
    group_ids: Option<&Bound<'_, PyAny>>,
    transport: Option<&Bound<'_, PyAny>>,
    max_reconnects: Option<&Bound<'_, PyAny>>,
    buffer: Option<&Bound<'_, PyAny>>,
) -> PyResult<(Ids, SubscribeOptions)> {
    let transport = match transport.filter(|o| !o.is_none()) {
        Some(t) => {
            Transport::parse("transport", &str_arg("transport", t)?).map_err(|e| to_pyerr(py, e))?
        }
        None => Transport::Sse,
    };
    // Both bounds fit their types, so the casts cannot truncate.
    let max_reconnects = match max_reconnects.filter(|o| !o.is_none()) {
        Some(n) => int_in("max_reconnects", n, 0, MAX_RECONNECTS_LIMIT)? as u32,
        None => DEFAULT_MAX_RECONNECTS,
    };
    let buffer = match buffer.filter(|o| !o.is_none()) {
        Some(n) => int_in("buffer", n, 1, MAX_BUFFER)? as usize,
        None => DEFAULT_BUFFER,
    };
    let ids = ids(py, context_ids, group_ids)?;
    Ok((
        ids,
        SubscribeOptions {
            transport,
            max_reconnects,
            buffer,
        },
    ))
}

/// `_subscribe` as an asyncio awaitable (for `AsyncClient.subscribe`).
#[pyfunction]
#[pyo3(signature = (
    connection, context_ids=None, group_ids=None, *, transport=None,
    max_reconnects=None, buffer=None
))]
pub fn _asubscribe<'py>(
    py: Python<'py>,
    connection: PyRef<'_, PyConnectionInfo>,
    context_ids: Option<&Bound<'_, PyAny>>,
    group_ids: Option<&Bound<'_, PyAny>>,
    transport: Option<&Bound<'_, PyAny>>,
    max_reconnects: Option<&Bound<'_, PyAny>>,
    buffer: Option<&Bound<'_, PyAny>>,
) -> PyResult<Bound<'py, PyAny>> {
    let (ids, options) = options(
        py,
        context_ids,
        group_ids,
        transport,
        max_reconnects,
        buffer,
    )?;
    let conn = connection.conn.clone();
    asyncio::into_awaitable(
        py,
        async move { conn.subscribe(ids, options).await },
        subscription_to_py,
    )
}

/// Connects and subscribes; see `calimero.Client.subscribe`.
#[pyfunction]
#[pyo3(signature = (
    connection, context_ids=None, group_ids=None, *, transport=None,
    max_reconnects=None, buffer=None
))]
pub fn _subscribe(
    py: Python<'_>,
    connection: PyRef<'_, PyConnectionInfo>,
    context_ids: Option<&Bound<'_, PyAny>>,
    group_ids: Option<&Bound<'_, PyAny>>,
    transport: Option<&Bound<'_, PyAny>>,
    max_reconnects: Option<&Bound<'_, PyAny>>,
    buffer: Option<&Bound<'_, PyAny>>,
) -> PyResult<PySubscription> {
    let (ids, options) = options(
        py,
        context_ids,
        group_ids,
        transport,
        max_reconnects,
        buffer,
    )?;
    let conn = connection.conn.clone();
    let sub = wait(py, async move { conn.subscribe(ids, options).await })?;
    Ok(PySubscription {
        inner: Arc::new(sub),
    })
}

/// A running subscription (wrapped by `calimero.Subscription`).
#[pyclass(module = "calimero", name = "_Subscription", frozen)]
pub struct PySubscription {
    inner: Arc<Subscription>,
}

/// Adds (`add`) or removes ids; the node's answer, or None while
/// reconnecting.
async fn change(sub: Arc<Subscription>, add: bool, ids: Ids) -> Result<Option<Value>, Error> {
    if add {
        sub.subscribe(ids).await
    } else {
        sub.unsubscribe(ids).await
    }
}

#[pymethods]
impl PySubscription {
    fn __iter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    /// The next event, waiting with the GIL released; StopIteration once
    /// closed; a ClientError when the subscription failed for good.
    fn __next__(&self, py: Python<'_>) -> PyResult<Option<Py<PyAny>>> {
        let sub = Arc::clone(&self.inner);
        match wait(py, async move { sub.next().await })? {
            Some(v) => Ok(Some(value_to_py(py, &v)?.unbind())),
            None => Ok(None),
        }
    }

    /// The next event if one is there, without waiting: the event, None
    /// when there is none yet, StopAsyncIteration once closed, a
    /// ClientError when the subscription failed for good. The async
    /// iterator takes events only here, on the event loop's thread, in the
    /// step that hands them on: a cancellation cannot come in between.
    fn _poll(&self, py: Python<'_>) -> PyResult<Option<Py<PyAny>>> {
        match self.inner.try_next().map_err(|e| to_pyerr(py, e))? {
            Poll::Ready(Some(v)) => Ok(Some(value_to_py(py, &v)?.unbind())),
            Poll::Ready(None) => Err(PyStopAsyncIteration::new_err(())),
            Poll::Pending => Ok(None),
        }
    }

    /// An asyncio awaitable resolving to None once `_poll` has something
    /// to answer (an event, an error, the end). It takes no event: when
    /// its task is cancelled, or the runtime finishes it after the
    /// cancellation (pyo3-async-runtimes then drops the result), the event
    /// stays for the next `_poll`.
    fn _ready<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let sub = Arc::clone(&self.inner);
        asyncio::into_awaitable(
            py,
            async move {
                sub.ready().await;
                Ok(())
            },
            |py, ()| Ok(py.None()),
        )
    }

    /// Adds (`add`) or removes contexts and groups: the node's answer, or
    /// None while reconnecting (`Subscription.subscribe`/`unsubscribe`).
    #[pyo3(signature = (add, context_ids=None, group_ids=None))]
    fn _change(
        &self,
        py: Python<'_>,
        add: bool,
        context_ids: Option<&Bound<'_, PyAny>>,
        group_ids: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Py<PyAny>> {
        let ids = ids(py, context_ids, group_ids)?;
        let answer = wait(py, change(Arc::clone(&self.inner), add, ids))?;
        optional_to_py(py, answer)
    }

    /// `_change` as an asyncio awaitable.
    #[pyo3(signature = (add, context_ids=None, group_ids=None))]
    fn _achange<'py>(
        &self,
        py: Python<'py>,
        add: bool,
        context_ids: Option<&Bound<'_, PyAny>>,
        group_ids: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let ids = ids(py, context_ids, group_ids)?;
        let fut = change(Arc::clone(&self.inner), add, ids);
        asyncio::into_awaitable(py, fut, optional_to_py)
    }

    fn close(&self) {
        self.inner.close();
    }

    #[getter]
    fn closed(&self) -> bool {
        self.inner.is_closed()
    }

    #[getter]
    fn transport(&self) -> &'static str {
        self.inner.transport().as_str()
    }

    #[getter]
    fn reconnects(&self) -> u64 {
        self.inner.reconnects()
    }

    #[getter]
    fn session_id(&self) -> Option<String> {
        self.inner.session_id()
    }

    #[getter]
    fn context_ids<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        PyList::new(py, self.inner.ids().contexts)
    }

    #[getter]
    fn group_ids<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        PyList::new(py, self.inner.ids().groups)
    }
}
