//! Blob uploads and downloads from Python: the data source or destination
//! is a Python object (bytes, a path, a file object); the core streams it
//! with the GIL released, and progress callbacks run on the calling thread.

use std::mem::MaybeUninit;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use calimero_client_core::blobs::{
    check_size, BlobMeta, Download, Transfer, UploadSource, MAX_IN_MEMORY_BYTES, UPLOAD_CHUNK,
};
use calimero_client_core::detect::Checked;
use calimero_client_core::endpoints::Output;

use crate::connection::resolve;
use calimero_client_core::runtime::runtime;
use calimero_client_core::{Connection, Error, Reply};
use pyo3::exceptions::{PyRuntimeError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::pybacked::PyBackedBytes;
use pyo3::types::{PyByteArray, PyBytes, PyDict, PyMemoryView, PyString};

use crate::blocking::{wait, wait_local, wait_local_with, wait_with};
use crate::connection::reply_to_py;
use crate::convert::type_name;
use crate::errors::to_pyerr;
use crate::shutdown;

/// How much a file object is asked for per `read()`.
const READ_SIZE: usize = 4 * UPLOAD_CHUNK;

/// Calls a progress callback `(done, total)` when the count moved.
struct Progress<'py> {
    callback: Option<Bound<'py, PyAny>>,
    transfer: Arc<Transfer>,
    reported: Option<u64>,
}

impl<'py> Progress<'py> {
    fn new(callback: Option<Bound<'py, PyAny>>, transfer: &Arc<Transfer>) -> PyResult<Self> {
        let callback = callback.filter(|c| !c.is_none());
        if let Some(c) = &callback {
            if !c.is_callable() {
                return Err(PyTypeError::new_err(format!(
                    "progress: expected a callable taking (done, total), got {}",
                    c.get_type().name()?
                )));
            }
        }
        Ok(Progress {
            callback,
            transfer: Arc::clone(transfer),
            reported: None,
        })
    }

    fn report(&mut self, _py: Python<'_>) -> PyResult<()> {
        let Some(callback) = &self.callback else {
            return Ok(());
        };
        let done = self.transfer.done();
        if self.reported.is_some_and(|r| done <= r) {
            return Ok(());
        }
        self.reported = Some(done);
        callback.call1((done, self.transfer.total()))?;
        Ok(())
    }
}

/// A path argument (str or os.PathLike) as a `PathBuf`; None when `obj` is
/// not a path at all. An empty path, or one with a NUL (no file can have
/// it), is a ValueError naming `argument`, before any I/O.
pub(crate) fn as_path(argument: &str, obj: &Bound<'_, PyAny>) -> PyResult<Option<PathBuf>> {
    let path = if obj.is_instance_of::<PyString>() {
        obj.extract::<PathBuf>()?
    } else if obj.hasattr("__fspath__")? {
        let os = obj.py().import("os")?;
        let fspath = os.call_method1("fspath", (obj,))?;
        fspath.extract::<PathBuf>().map_err(|_| {
            PyTypeError::new_err(format!(
                "{argument}: expected a str path, got os.fspath() of type {}",
                type_name(&fspath)
            ))
        })?
    } else {
        return Ok(None);
    };
    if path.as_os_str().is_empty() {
        return Err(PyValueError::new_err(format!(
            "{argument}: expected a file path, got ''"
        )));
    }
    if path.as_os_str().as_encoded_bytes().contains(&0) {
        return Err(PyValueError::new_err(format!(
            "{argument}: a file path cannot contain a NUL character"
        )));
    }
    Ok(Some(path))
}

/// The bytes left in a seekable file object, when it can tell.
fn remaining(reader: &Bound<'_, PyAny>) -> Option<u64> {
    let seekable = reader
        .call_method0("seekable")
        .and_then(|s| s.is_truthy())
        .unwrap_or(false);
    if !seekable {
        return None;
    }
    let here: u64 = reader.call_method0("tell").ok()?.extract().ok()?;
    let end: u64 = reader.call_method1("seek", (0, 2)).ok()?.extract().ok()?;
    reader.call_method1("seek", (here, 0)).ok()?;
    end.checked_sub(here)
}

/// `upload_blob`: streams `data` (bytes, a path, or a binary file object).
pub fn upload(
    py: Python<'_>,
    conn: &Connection,
    checked: Checked,
    data: &Bound<'_, PyAny>,
    progress: Option<Bound<'_, PyAny>>,
) -> PyResult<Py<PyAny>> {
    if data.is_none() {
        return Err(PyValueError::new_err("data: is required, got None"));
    }
    let (source, size) = if let Some(path) = as_path("data", data)? {
        UploadSource::open(&path).map_err(|e| to_pyerr(py, e))?
    } else if data.is_instance_of::<PyBytes>() || data.is_instance_of::<PyByteArray>() {
        let backed: PyBackedBytes = data.extract()?;
        let size = backed.len() as u64;
        (UploadSource::Bytes(Bytes::from_owner(backed)), size)
    } else if data.is_instance_of::<PyMemoryView>() {
        let copy = py
            .import("builtins")?
            .getattr("bytes")?
            .call1((data,))?
            .extract::<PyBackedBytes>()?;
        let size = copy.len() as u64;
        (UploadSource::Bytes(Bytes::from_owner(copy)), size)
    } else if data.hasattr("read")? {
        return upload_reader(py, conn, checked, data, progress);
    } else {
        return Err(PyTypeError::new_err(format!(
            "data: expected bytes, a path (str or os.PathLike) or a binary file object, got {}",
            type_name(data)
        )));
    };
    let transfer = Transfer::new(Some(size));
    let mut report = Progress::new(progress, &transfer)?;
    let prepared = resolve(py, conn, checked)?;
    let conn = conn.clone();
    let fut = async move { conn.upload(prepared, source, Some(size), transfer).await };
    let reply = wait_with(py, fut, |py| report.report(py))?;
    upload_answer(py, &reply)
}

/// An upload's answer: the node's `{"data": {"blob_id", "size"}}` as it
/// sent it, with `blob_id` and `size` also at the top, where the official
/// client 0.6.31 returned them (it unwrapped `data`), so code written for
/// it (`upload_blob(...)["blob_id"]`) runs unchanged.
fn upload_answer(py: Python<'_>, reply: &Reply) -> PyResult<Py<PyAny>> {
    let answer = reply_to_py(py, reply)?;
    if let Ok(top) = answer.bind(py).cast::<PyDict>() {
        if let Some(data) = top.get_item("data")? {
            if let Ok(data) = data.cast::<PyDict>() {
                for key in ["blob_id", "size"] {
                    if let (Some(value), false) = (data.get_item(key)?, top.contains(key)?) {
                        top.set_item(key, value)?;
                    }
                }
            }
        }
    }
    Ok(answer)
}

/// Aborts a spawned transfer when the call ends early (Ctrl-C, an error).
struct AbortOnDrop(tokio::task::AbortHandle);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Uploads from a file object: the calling thread reads it (with the GIL)
/// and hands the chunks to the request running on the runtime.
fn upload_reader(
    py: Python<'_>,
    conn: &Connection,
    checked: Checked,
    reader: &Bound<'_, PyAny>,
    progress: Option<Bound<'_, PyAny>>,
) -> PyResult<Py<PyAny>> {
    let size = remaining(reader);
    if let Some(size) = size {
        check_size(size).map_err(|e| to_pyerr(py, e))?;
    }
    let transfer = Transfer::new(size);
    let mut report = Progress::new(progress, &transfer)?;
    let prepared = resolve(py, conn, checked)?;
    let (tx, source) = UploadSource::channel(4);
    let rt = runtime().map_err(|e| to_pyerr(py, e))?;
    let conn = conn.clone();
    let t = Arc::clone(&transfer);
    let handle = rt.spawn(async move { conn.upload(prepared, source, size, t).await });
    let abort_on_drop = AbortOnDrop(handle.abort_handle());
    'reading: loop {
        py.check_signals()?;
        report.report(py)?;
        let chunk = reader.call_method1("read", (READ_SIZE,))?;
        if chunk.is_none() {
            return Err(PyTypeError::new_err(
                "data: read() returned None (a non-blocking stream); pass a blocking binary file",
            ));
        }
        let chunk: PyBackedBytes = chunk.extract().map_err(|_| {
            PyTypeError::new_err(format!(
                "data: read() must return bytes, got {}; open the file in binary mode ('rb')",
                type_name(&chunk)
            ))
        })?;
        if chunk.is_empty() {
            break;
        }
        let mut item = Some(Bytes::from_owner(chunk));
        while item.is_some() {
            let sent = shutdown::detach(py, || {
                let sent = rt.block_on(async {
                    tokio::time::timeout(Duration::from_millis(50), tx.reserve()).await
                });
                if shutdown::parking() {
                    // This thread will not return to Python: the upload
                    // stops now rather than wait for chunks forever.
                    abort_on_drop.0.abort();
                }
                sent
            });
            match sent {
                Ok(Ok(permit)) => {
                    if let Some(bytes) = item.take() {
                        permit.send(bytes);
                    }
                }
                // The request ended early (refused, failed): its result says why.
                Ok(Err(_closed)) => break 'reading,
                Err(_waiting) => {
                    py.check_signals()?;
                    report.report(py)?;
                }
            }
        }
    }
    drop(tx);
    let reply = wait_with(
        py,
        async move {
            handle
                .await
                .map_err(|e| Error::Internal(format!("the upload task failed: {e}")))?
        },
        |py| report.report(py),
    )?;
    upload_answer(py, &reply)
}

/// A download's own arguments (the endpoint table's `Local` ones).
pub struct DownloadArgs<'py> {
    /// `download_blob_to_path`'s file.
    pub path: Option<Bound<'py, PyAny>>,
    pub progress: Option<Bound<'py, PyAny>>,
    /// `iter_blob`'s chunk size.
    pub chunk_size: Option<u64>,
    /// Whether the content is checked against `X-Blob-Hash`.
    pub verify: bool,
}

/// The download endpoints: into one `bytes`, into a file, or as chunks.
pub fn download(
    py: Python<'_>,
    conn: &Connection,
    checked: Checked,
    output: Output,
    args: DownloadArgs<'_>,
) -> PyResult<Py<PyAny>> {
    let DownloadArgs {
        path,
        progress,
        chunk_size,
        verify,
    } = args;
    // Everything about the arguments is checked before the request goes.
    let target = match (output, &path) {
        (Output::File, Some(p)) if !p.is_none() => match as_path("path", p)? {
            Some(target) => Some(target),
            None => {
                return Err(PyTypeError::new_err(format!(
                    "path: expected str or os.PathLike, got {}",
                    type_name(p)
                )))
            }
        },
        (Output::File, _) => return Err(PyValueError::new_err("path: is required, got None")),
        _ => None,
    };
    if let Some(t) = &target {
        if t.is_dir() {
            return Err(PyValueError::new_err(format!(
                "path: {} is a directory; expected a file path",
                t.display()
            )));
        }
    }
    let chunk_size = match chunk_size {
        Some(0) => return Err(PyValueError::new_err("chunk_size: expected at least 1")),
        Some(n) => usize::try_from(n).unwrap_or(usize::MAX),
        None => 1 << 20,
    };
    let transfer = Transfer::new(None);
    let mut report = Progress::new(progress, &transfer)?;
    let prepared = resolve(py, conn, checked)?;
    // A download into `bytes` is read whole before the call returns: on
    // this thread's own runtime (no hand-off per chunk). Files and chunk
    // iterators stay on the shared one.
    let local = !matches!(output, Output::File | Output::Chunks);
    let started = {
        let conn = conn.clone();
        let t = Arc::clone(&transfer);
        let fut = async move { conn.download(prepared, t).await };
        if local {
            wait_local(py, fut)?
        } else {
            wait(py, fut)?
        }
    };
    let started = if verify {
        started
    } else {
        started.unverified()
    };
    match output {
        Output::File => {
            let target = target.ok_or_else(|| PyRuntimeError::new_err("no path"))?;
            let blob_id = started.info.blob_id.clone();
            let dest = target.clone();
            let size = wait_with(py, async move { started.save(&dest).await }, |py| {
                report.report(py)
            })?;
            let out = PyDict::new(py);
            out.set_item("blob_id", blob_id)?;
            out.set_item("size", size)?;
            out.set_item("path", target.to_string_lossy())?;
            Ok(out.into_any().unbind())
        }
        Output::Chunks => Ok(Py::new(py, BlobChunks::new(started, chunk_size))?.into_any()),
        _ => {
            let mut dl = started;
            match dl.size.filter(|n| *n <= MAX_IN_MEMORY_BYTES) {
                Some(n) => {
                    let len = usize::try_from(n).map_err(|_| PyValueError::new_err("size"))?;
                    // Filled in place, with the GIL released: the object is
                    // not visible to any other code until it is returned.
                    let bytes = bytes_filled(py, len, |buf| {
                        wait_local_with(py, dl.fill_uninit(buf), |py| report.report(py))
                    })?;
                    Ok(bytes.into_any().unbind())
                }
                None => {
                    let all = wait_local_with(py, dl.into_vec(), |py| report.report(py))?;
                    Ok(PyBytes::new(py, &all).into_any().unbind())
                }
            }
        }
    }
}

/// A new `bytes` of `len` bytes written by `fill`, which must write every
/// byte when it succeeds. Unlike `PyBytes::new_with`, the memory is not
/// zeroed first (4 MiB of `memset` per 4 MiB blob, 5% of its download's
/// CPU). No other code sees the object before it is returned: on an error
/// it is dropped unread.
fn bytes_filled<'py>(
    py: Python<'py>,
    len: usize,
    fill: impl FnOnce(&mut [MaybeUninit<u8>]) -> PyResult<()>,
) -> PyResult<Bound<'py, PyBytes>> {
    let size = pyo3::ffi::Py_ssize_t::try_from(len)
        .map_err(|_| PyValueError::new_err("the blob is too large for one bytes object"))?;
    // SAFETY: a NULL source asks CPython for an uninitialised object of
    // `size` bytes; the owned reference it returns (or the error it sets)
    // is taken over at once.
    let bytes = unsafe {
        Bound::from_owned_ptr_or_err(
            py,
            pyo3::ffi::PyBytes_FromStringAndSize(std::ptr::null(), size),
        )?
    };
    // SAFETY: the buffer of a `bytes` object is `len` bytes (plus its
    // terminating NUL), valid while `bytes` lives, and nothing else refers
    // to the object yet, so this is the only access to it.
    let buf = unsafe {
        let data = pyo3::ffi::PyBytes_AsString(bytes.as_ptr());
        if data.is_null() {
            return Err(PyErr::fetch(py));
        }
        std::slice::from_raw_parts_mut(data.cast::<MaybeUninit<u8>>(), len)
    };
    fill(buf)?;
    Ok(bytes.cast_into::<PyBytes>()?)
}

/// A blob read chunk by chunk, as `iter_blob` returns it.
enum ChunkState {
    Ready(Box<Download>),
    Busy,
    Done,
}

/// A blob download as an iterator of `bytes` chunks (also a context
/// manager). The SHA-256 the node sent is checked after the last chunk.
#[pyclass(module = "calimero", name = "BlobChunks")]
pub struct BlobChunks {
    state: Mutex<ChunkState>,
    chunk_size: usize,
    info: BlobMeta,
    size: Option<u64>,
}

impl BlobChunks {
    fn new(download: Download, chunk_size: usize) -> Self {
        BlobChunks {
            info: download.info.clone(),
            size: download.size,
            state: Mutex::new(ChunkState::Ready(Box::new(download))),
            chunk_size,
        }
    }

    fn take(&self) -> PyResult<Option<Box<Download>>> {
        let mut state = self
            .state
            .lock()
            .map_err(|_| PyRuntimeError::new_err("iter_blob: state lock poisoned"))?;
        match std::mem::replace(&mut *state, ChunkState::Busy) {
            ChunkState::Ready(dl) => Ok(Some(dl)),
            ChunkState::Done => {
                *state = ChunkState::Done;
                Ok(None)
            }
            ChunkState::Busy => Err(PyRuntimeError::new_err(
                "iter_blob: another thread is reading this iterator",
            )),
        }
    }

    fn put(&self, next: ChunkState) {
        if let Ok(mut state) = self.state.lock() {
            *state = next;
        }
    }
}

#[pymethods]
impl BlobChunks {
    fn __iter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    fn __next__(&self, py: Python<'_>) -> PyResult<Option<Py<PyBytes>>> {
        let Some(mut dl) = self.take()? else {
            return Ok(None);
        };
        let want = self.chunk_size;
        let result = wait(py, async {
            let mut buf = BytesMut::new();
            while buf.len() < want {
                match dl.chunk().await? {
                    Some(c) if buf.is_empty() && c.len() >= want => return Ok(Some(c)),
                    Some(c) => buf.extend_from_slice(&c),
                    None => break,
                }
            }
            Ok((!buf.is_empty()).then(|| buf.freeze()))
        });
        match result {
            Ok(Some(chunk)) => {
                self.put(ChunkState::Ready(dl));
                Ok(Some(PyBytes::new(py, &chunk).unbind()))
            }
            Ok(None) => {
                self.put(ChunkState::Done);
                Ok(None)
            }
            Err(e) => {
                self.put(ChunkState::Done);
                Err(e)
            }
        }
    }

    /// Stops the download and closes its connection.
    fn close(&self) {
        if let Ok(mut state) = self.state.lock() {
            if !matches!(*state, ChunkState::Busy) {
                *state = ChunkState::Done;
            }
        }
    }

    fn __enter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    #[pyo3(signature = (*_exc))]
    fn __exit__(&self, _exc: &Bound<'_, pyo3::types::PyTuple>) -> bool {
        self.close();
        false
    }

    /// The blob's size in bytes (`Content-Length`), when the node sent it.
    #[getter]
    fn size(&self) -> Option<u64> {
        self.size
    }

    /// The blob's id (`X-Blob-ID`).
    #[getter]
    fn blob_id(&self) -> Option<String> {
        self.info.blob_id.clone()
    }

    /// The blob's SHA-256 as hex (`X-Blob-Hash`).
    #[getter]
    fn hash(&self) -> Option<String> {
        self.info.hash.clone()
    }

    /// The MIME type the node detected.
    #[getter]
    fn mime_type(&self) -> Option<String> {
        self.info.mime_type.clone()
    }

    fn __repr__(&self) -> String {
        let size = self
            .size
            .map_or_else(|| "None".to_owned(), |s| s.to_string());
        match &self.info.blob_id {
            Some(id) => format!("BlobChunks(blob_id='{id}', size={size})"),
            None => format!("BlobChunks(blob_id=None, size={size})"),
        }
    }
}
