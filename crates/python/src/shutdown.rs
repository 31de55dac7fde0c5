//! Interpreter exit: no thread of ours touches the Python C API once
//! CPython finalizes (issue 19).
//!
//! Threads other than the one running `Py_FinalizeEx` are not stopped by
//! CPython; up to 3.13, one that takes the GIL while the interpreter
//! finalizes is ended with `pthread_exit` inside `take_gil` (from 3.14 it
//! hangs there instead). Two kinds of our threads take it:
//!
//! - Runtime threads: pyo3-async-runtimes completed each asyncio future
//!   from a Tokio blocking thread (`Python::attach`, then the loop's
//!   `call_soon_threadsafe`, whose `_write_to_self` lets the GIL go around
//!   a socket send; now `asyncio.rs` wakes the loop through a socket
//!   without the GIL, and attaches only on a loop without `add_reader`),
//!   and the log bridge (pyo3-log) attaches from whichever thread logs. A thread ended by `pthread_exit` in there unwinds through
//!   Rust frames that still hold Python objects and the GIL state: the
//!   unwinding decrefs a bound method without the GIL (a segfault in
//!   `method_dealloc`) or releases a thread state that is not current
//!   ("Fatal Python error: PyGILState_Release: thread state ... must be
//!   current when releasing", "Python runtime state: finalizing"). That is
//!   how `examples/async_quickstart.py` crashed now and then at its exit:
//!   the last call's completion was still in `call_soon_threadsafe` when the
//!   main thread, woken by it with the result, went on to finalize.
//! - Python threads (daemon threads) in a blocking call: the wait wakes
//!   every 50 ms and takes the GIL back, and `pthread_exit` from there
//!   unwinds through the call's Rust frames, which Rust does not allow.
//!
//! An `atexit` hook, registered when the extension module is imported,
//! runs before CPython starts finalizing (after the non-daemon threads are
//! joined, while the interpreter is whole) and closes the gate:
//!
//! - Runtime threads enter Python only through [`gate`]. Once the gate is
//!   closed, what would have run is leaked (not run, not dropped: its
//!   Python objects are never decref'd from a foreign thread), and the hook
//!   waits, without the GIL, until every thread inside has left (at most
//!   [`DRAIN`]). No new asyncio awaitable is made ([`refuse_new_work`]).
//! - A blocking wait on a thread other than the exiting one ([`detach`])
//!   never takes the GIL again: its thread parks until the process ends
//!   (what CPython 3.14 does to such a thread itself), after dropping its
//!   request so that no lock of the connection stays held.
//!
//! The exiting thread itself (the one that ran the hook) goes on as
//! before: later atexit hooks and finalizers may still make blocking calls.
//! What stays out of reach is a daemon thread running Python code called
//! from Rust (a progress callback, a file object's `read`) at the moment
//! the interpreter finalizes; nothing short of CPython 3.14 covers it.

use std::cell::Cell;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;

/// Set by the atexit hook, never cleared.
static EXITING: AtomicBool = AtomicBool::new(false);
/// Threads inside [`gate`] now.
static INSIDE: AtomicUsize = AtomicUsize::new(0);
/// The longest the hook waits for the threads inside the gate to leave.
const DRAIN: Duration = Duration::from_secs(2);

thread_local! {
    /// Whether this thread ran the hook: the one that finalizes.
    static EXITS: Cell<bool> = const { Cell::new(false) };
}

/// Whether the interpreter is exiting (the atexit hook ran).
pub fn exiting() -> bool {
    EXITING.load(Ordering::SeqCst)
}

/// Whether this thread must never take the GIL again: the interpreter is
/// exiting and another thread finalizes it.
fn must_not_attach() -> bool {
    exiting() && !EXITS.try_with(Cell::get).unwrap_or(false)
}

/// Leaves the gate when dropped (a panic included).
struct Inside;

impl Drop for Inside {
    fn drop(&mut self) {
        INSIDE.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Runs `f`, which attaches to the interpreter, unless the interpreter is
/// exiting: then `f` is leaked (neither run nor dropped, so the Python
/// objects it holds are not decref'd from this thread) and the answer is
/// None. Threads inside are waited for by the exit hook.
pub fn gate<R>(f: impl FnOnce() -> R) -> Option<R> {
    // SeqCst on both sides: either the hook sees this thread inside, or
    // this thread sees the gate closed.
    INSIDE.fetch_add(1, Ordering::SeqCst);
    let _inside = Inside;
    if exiting() {
        std::mem::forget(f);
        return None;
    }
    Some(f())
}

/// A RuntimeError when the interpreter is exiting: work whose result would
/// come back through [`gate`] would never end.
pub fn refuse_new_work() -> PyResult<()> {
    if exiting() {
        return Err(PyRuntimeError::new_err(
            "cannot start an async call: the interpreter is exiting",
        ));
    }
    Ok(())
}

/// `py.detach(f)` for a wait: when `f` returns after the interpreter began
/// exiting on another thread, this thread does not take the GIL back but
/// parks until the process ends. `f` itself sees the same condition with
/// [`parking`] and drops what it holds first.
pub fn detach<T, F>(py: Python<'_>, f: F) -> T
where
    F: Send + FnOnce() -> T,
    T: Send,
{
    py.detach(|| {
        let out = f();
        if must_not_attach() {
            loop {
                std::thread::park();
            }
        }
        out
    })
}

/// Whether a [`detach`] closure returning now would park its thread.
pub fn parking() -> bool {
    must_not_attach()
}

/// The atexit hook: closes the gate, then waits (without the GIL, so the
/// threads inside can finish) until no thread is inside.
#[pyfunction]
pub fn _at_exit(py: Python<'_>) {
    let _ = EXITS.try_with(|e| e.set(true));
    EXITING.store(true, Ordering::SeqCst);
    py.detach(|| {
        let deadline = Instant::now() + DRAIN;
        while INSIDE.load(Ordering::SeqCst) > 0 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(1));
        }
    });
}

/// Registers [`_at_exit`] with `atexit` (at import).
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let hook = wrap_pyfunction!(_at_exit, m)?;
    m.py().import("atexit")?.call_method1("register", (hook,))?;
    Ok(())
}

/// The log bridge behind the gate: a core log line from a runtime thread
/// (a reconnect, a retry) goes to Python's `logging` only while the
/// interpreter is not exiting.
pub struct GatedLogger(pub pyo3_log::Logger);

impl log::Log for GatedLogger {
    fn enabled(&self, metadata: &log::Metadata<'_>) -> bool {
        !exiting() && self.0.enabled(metadata)
    }

    fn log(&self, record: &log::Record<'_>) {
        let _ = gate(|| self.0.log(record));
    }

    fn flush(&self) {
        let _ = gate(|| self.0.flush());
    }
}
