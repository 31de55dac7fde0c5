//! Awaitable calls for `AsyncClient`: a core future runs as one task on the
//! same process-wide runtime as the blocking calls (DESIGN.md rule 4), and
//! its result comes back to the event loop through a completion queue.
//!
//! The awaitable is a plain `asyncio.Future` of the running loop. The task
//! never takes the GIL (so nothing of it enters an exiting interpreter,
//! `shutdown.rs`): it queues its result, as Rust values, and wakes the
//! loop by writing to a socket the loop watches (`loop.add_reader`, one per
//! loop and thread); the loop's callback drains the queue, turning each
//! result into Python objects on the loop's thread, once, and completing
//! its future. Several results that finish together cost one wake-up. A
//! loop without `add_reader` (Windows' proactor) is woken by
//! `call_soon_threadsafe` instead.
//!
//! Cancelling the Python task cancels the future, whose done callback
//! aborts the Rust task: its future is dropped by the runtime (without
//! being polled again), which closes its request. A result that completes
//! meanwhile, or just before the loop takes it, is dropped unconverted (the
//! future is already cancelled). So an awaitable must not take anything it
//! cannot give back, as a read from a queue would (issue 19):
//! subscriptions wait with an awaitable that takes nothing and take events
//! synchronously on the loop's thread (`events.rs`).

use std::cell::RefCell;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::{Arc, Mutex, OnceLock};
use std::task::{Context, Poll};
use std::time::Instant;

use calimero_client_core::poller::Poller;
use calimero_client_core::runtime::{on_loop, runtime, Reactor};
use calimero_client_core::Error;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;

use crate::errors::to_pyerr;
use crate::shutdown;

/// Completes a call's future with its result, on the loop's thread.
type Complete = Box<dyn FnOnce(Python<'_>, &Bound<'_, PyAny>) -> PyResult<()> + Send>;

/// One finished call, waiting for the loop: completes `future` with the GIL.
struct Finished {
    future: Py<PyAny>,
    complete: Complete,
}

/// The completion queue of the loop a thread ran last: (process, loop,
/// queue).
type LoopEntry = (u32, Py<PyAny>, Arc<Completions>);

/// What a loop's queue holds: a call the runtime finished, or a call the
/// loop polls ([`LoopTask`]), woken off the loop's thread.
enum Queued {
    Finished(Finished),
    Woken(Arc<LoopTask>),
}

/// The completion queue of one event loop.
struct Completions {
    queue: Mutex<Vec<Queued>>,
    wake: Wake,
    /// The loop's watch over the lane sockets of the calls it polls
    /// ([`LoopTask`]), when it has one (a loop with `add_reader`).
    lane: OnceLock<LaneWatch>,
}

/// The loop's [`Poller`] and its one timer, for the earliest deadline.
struct LaneWatch {
    poller: Arc<Poller>,
    event_loop: Py<PyAny>,
    /// The deadline the timer is set for, and its handle.
    timer: Mutex<Option<(Instant, Py<PyAny>)>>,
}

/// How a worker wakes the loop once it has queued a result.
enum Wake {
    /// A byte into a socket the loop watches with `add_reader` (`rx` is
    /// the end it reads).
    #[cfg(unix)]
    Socket {
        tx: std::os::unix::net::UnixStream,
        rx: std::os::unix::net::UnixStream,
    },
    /// `loop.call_soon_threadsafe(drain)`, with the GIL.
    Threadsafe {
        event_loop: Py<PyAny>,
        drain: OnceLock<Py<PyAny>>,
    },
}

impl Completions {
    /// Queues `done` and wakes the loop if the queue was empty (a non-empty
    /// queue has a wake-up on its way: the loop drains after it wakes).
    fn push(&self, done: Queued) {
        let first = match self.queue.lock() {
            Ok(mut queue) => {
                queue.push(done);
                queue.len() == 1
            }
            Err(_) => return,
        };
        if !first {
            return;
        }
        match &self.wake {
            #[cfg(unix)]
            Wake::Socket { tx, .. } => {
                use std::io::Write;
                // Non-blocking: a full socket already holds a wake-up.
                let _ = (&*tx).write(&[1]);
            }
            // Behind the exit gate: no runtime thread attaches once the
            // interpreter exits (shutdown.rs).
            Wake::Threadsafe { event_loop, drain } => {
                let _ = shutdown::gate(|| {
                    Python::attach(|py| {
                        if let Some(drain) = drain.get() {
                            let _ = event_loop
                                .bind(py)
                                .call_method1(pyo3::intern!(py, "call_soon_threadsafe"), (drain,));
                        }
                    })
                });
            }
        }
    }

    /// On the loop's thread: empties the wake-up socket, then completes
    /// every queued future.
    fn drain(&self, py: Python<'_>) {
        #[cfg(unix)]
        if let Wake::Socket { rx, .. } = &self.wake {
            use std::io::Read;
            let mut sink = [0u8; 64];
            while matches!((&*rx).read(&mut sink), Ok(n) if n == sink.len()) {}
        }
        let batch = match self.queue.lock() {
            Ok(mut queue) => std::mem::take(&mut *queue),
            Err(_) => return,
        };
        for queued in batch {
            match queued {
                Queued::Finished(done) => settle(py, done.future.into_bound(py), done.complete),
                Queued::Woken(task) => task.step(py),
            }
        }
    }
}

/// Completes `future` by `complete`, on the loop's thread.
fn settle(py: Python<'_>, future: Bound<'_, PyAny>, complete: Complete) {
    // A cancelled future takes no result: it is dropped unconverted.
    if future
        .call_method0(pyo3::intern!(py, "done"))
        .and_then(|d| d.is_truthy())
        .unwrap_or(true)
    {
        return;
    }
    let outcome = std::panic::catch_unwind(AssertUnwindSafe(|| complete(py, &future)));
    let err = match outcome {
        Ok(Ok(())) => return,
        Ok(Err(e)) => e,
        Err(panic) => panicked(&*panic),
    };
    // Converting the result failed: the awaiting task gets the error.
    if let Err(e) = future.call_method1(pyo3::intern!(py, "set_exception"), (err,)) {
        e.write_unraisable(py, Some(&future));
    }
}

fn panicked(panic: &(dyn std::any::Any + Send)) -> PyErr {
    pyo3_async_runtimes::err::RustPanic::new_err(format!(
        "rust future panicked: {}",
        panic_message(panic)
    ))
}

/// How a call's outcome completes its future: its value converted by
/// `convert`, or its error, or its panic, raised.
fn completion<T: Send + 'static>(
    outcome: std::thread::Result<Result<T, Error>>,
    convert: fn(Python<'_>, T) -> PyResult<Py<PyAny>>,
) -> Complete {
    Box::new(move |py, future| {
        let err = match outcome {
            Ok(Ok(value)) => {
                let value = convert(py, value)?;
                future.call_method1(pyo3::intern!(py, "set_result"), (value,))?;
                return Ok(());
            }
            Ok(Err(e)) => to_pyerr(py, e),
            Err(panic) => panicked(&*panic),
        };
        future.call_method1(pyo3::intern!(py, "set_exception"), (err,))?;
        Ok(())
    })
}

/// The loop's callback (for `add_reader` or `call_soon_threadsafe`).
#[pyclass(frozen)]
struct Drain(Arc<Completions>);

#[pymethods]
impl Drain {
    fn __call__(&self, py: Python<'_>) {
        self.0.drain(py);
    }
}

/// Ends a call when its future is cancelled (a done callback).
#[pyclass(frozen)]
struct OnCancel(Cancel);

/// How a cancelled call ends.
enum Cancel {
    /// A task of the runtime: aborted (its future dropped there).
    Abort(tokio::task::AbortHandle),
    /// A call the loop polls: its future dropped here (its watches undone,
    /// its connection closed).
    Drop(Arc<LoopTask>),
}

#[pymethods]
impl OnCancel {
    fn __call__(&self, future: &Bound<'_, PyAny>) {
        let py = future.py();
        if !future
            .call_method0(pyo3::intern!(py, "cancelled"))
            .and_then(|c| c.is_truthy())
            .unwrap_or(false)
        {
            return;
        }
        match &self.0 {
            Cancel::Abort(task) => task.abort(),
            Cancel::Drop(task) => {
                let call = match task.call.try_lock() {
                    Ok(mut slot) => slot.take(),
                    Err(_) => None,
                };
                drop(call);
            }
        }
    }
}

thread_local! {
    /// The completion queue of the loop this thread ran last: (process,
    /// loop, queue). A loop runs on one thread, and a forked child makes
    /// its own.
    static LOOP: RefCell<Option<LoopEntry>> = const { RefCell::new(None) };
}

/// The completion queue of `event_loop` (this thread's running loop),
/// made and registered with the loop on first use.
fn completions(event_loop: &Bound<'_, PyAny>) -> PyResult<Arc<Completions>> {
    let py = event_loop.py();
    let pid = calimero_client_core::runtime::pid();
    let cached = LOOP.with(|slot| {
        slot.borrow().as_ref().and_then(|(owner, l, c)| {
            (*owner == pid && l.bind(py).is(event_loop)).then(|| Arc::clone(c))
        })
    });
    if let Some(c) = cached {
        return Ok(c);
    }
    let c = register(event_loop)?;
    let previous =
        LOOP.with(|slot| slot.replace(Some((pid, event_loop.clone().unbind(), Arc::clone(&c)))));
    // A forked child's copy of its parent's entry: its sockets are the
    // parent's too, and are left alone.
    if let Some((owner, l, c)) = previous {
        if owner != pid {
            std::mem::forget((l, c));
        }
    }
    Ok(c)
}

/// A completion queue for `event_loop`: a socket pair watched with
/// `add_reader`, or, where the loop has none, `call_soon_threadsafe`.
fn register(event_loop: &Bound<'_, PyAny>) -> PyResult<Arc<Completions>> {
    let py = event_loop.py();
    #[cfg(unix)]
    {
        use std::os::fd::AsRawFd;
        let pair = std::os::unix::net::UnixStream::pair().and_then(|(tx, rx)| {
            tx.set_nonblocking(true)?;
            rx.set_nonblocking(true)?;
            Ok((tx, rx))
        });
        if let Ok((tx, rx)) = pair {
            let fd = rx.as_raw_fd();
            let c = Arc::new(Completions {
                queue: Mutex::new(Vec::new()),
                wake: Wake::Socket { tx, rx },
                lane: OnceLock::new(),
            });
            let drain = Py::new(py, Drain(Arc::clone(&c)))?;
            match event_loop.call_method1(pyo3::intern!(py, "add_reader"), (fd, drain)) {
                Ok(_) => {
                    // Without a poller, awaited calls run on the runtime.
                    if let Ok(poller) = Poller::new() {
                        let ready = Py::new(py, LaneReady(Arc::clone(&c)))?;
                        let add = (poller.fd(), ready);
                        if event_loop
                            .call_method1(pyo3::intern!(py, "add_reader"), add)
                            .is_ok()
                        {
                            let _ = c.lane.set(LaneWatch {
                                poller: Arc::new(poller),
                                event_loop: event_loop.clone().unbind(),
                                timer: Mutex::new(None),
                            });
                        }
                    }
                    return Ok(c);
                }
                Err(e) if e.is_instance_of::<pyo3::exceptions::PyNotImplementedError>(py) => {}
                Err(e) => return Err(e),
            }
        }
    }
    let c = Arc::new(Completions {
        queue: Mutex::new(Vec::new()),
        wake: Wake::Threadsafe {
            event_loop: event_loop.clone().unbind(),
            drain: OnceLock::new(),
        },
        lane: OnceLock::new(),
    });
    if let Wake::Threadsafe { drain, .. } = &c.wake {
        // The callback holds the queue and the queue the callback: one
        // such cycle per loop that has no `add_reader`, for the process.
        let _ = drain.set(Py::new(py, Drain(Arc::clone(&c)))?.into_any());
    }
    Ok(c)
}

/// `asyncio.get_running_loop()` (RuntimeError outside a coroutine).
fn running_loop(py: Python<'_>) -> PyResult<Bound<'_, PyAny>> {
    static GET_RUNNING_LOOP: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
    GET_RUNNING_LOOP
        .get_or_try_init(py, || {
            py.import("asyncio")?
                .getattr("get_running_loop")
                .map(Bound::unbind)
        })?
        .bind(py)
        .call0()
}

/// A future that turns a panic into an output (the task must always
/// complete its Python future, or the awaiting task would hang).
struct CatchUnwind<F>(Pin<Box<F>>);

impl<F: Future> Future for CatchUnwind<F> {
    type Output = std::thread::Result<F::Output>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let fut = self.0.as_mut();
        match std::panic::catch_unwind(AssertUnwindSafe(|| fut.poll(cx))) {
            Ok(Poll::Pending) => Poll::Pending,
            Ok(Poll::Ready(v)) => Poll::Ready(Ok(v)),
            Err(panic) => Poll::Ready(Err(panic)),
        }
    }
}

fn panic_message(panic: &(dyn std::any::Any + Send)) -> &str {
    if let Some(s) = panic.downcast_ref::<&str>() {
        s
    } else if let Some(s) = panic.downcast_ref::<String>() {
        s
    } else {
        "unknown error"
    }
}

/// An asyncio awaitable for `fut`, on the running event loop; `convert`
/// turns its value into Python objects (on the loop's thread). Must be
/// called from a coroutine (it needs the running loop).
pub fn into_awaitable<'py, T, F>(
    py: Python<'py>,
    fut: F,
    convert: fn(Python<'_>, T) -> PyResult<Py<PyAny>>,
) -> PyResult<Bound<'py, PyAny>>
where
    F: Future<Output = Result<T, Error>> + Send + 'static,
    T: Send + 'static,
{
    shutdown::refuse_new_work()?;
    let rt = runtime().map_err(|e| to_pyerr(py, e))?;
    let event_loop = running_loop(py)?;
    let queue = completions(&event_loop)?;
    let future = event_loop.call_method0(pyo3::intern!(py, "create_future"))?;
    let target = future.clone().unbind();
    let task = rt.spawn(async move {
        let outcome = CatchUnwind(Box::pin(fut)).await;
        queue.push(Queued::Finished(Finished {
            future: target,
            complete: completion(outcome, convert),
        }));
    });
    future.call_method1(
        pyo3::intern!(py, "add_done_callback"),
        (OnCancel(Cancel::Abort(task.abort_handle())),),
    )?;
    Ok(future)
}

// ---- Calls the event loop polls on its own thread ----
//
// A call that can take the direct lane (plain HTTP, no proxy, not sealed)
// is not handed to the runtime: its future is polled on the loop's thread,
// first as the call is made (its request goes out then), then whenever its
// socket is ready or its deadline passes. The loop watches one epoll
// instance of ours (`calimero_client_core::poller`; `loop.add_reader` once
// per loop) where a waiting call's socket is registered, and keeps one
// timer, for the earliest deadline. No other thread wakes, and the answer
// becomes Python objects where it is read. What else the call awaits (a new
// connection, a retry's pause, reqwest) runs on the shared runtime, whose
// handle is entered while the call is polled, and wakes the call through
// the loop's completion queue. See `calimero_client_core::runtime::on_loop`.

type Call = Pin<Box<dyn Future<Output = Complete> + Send>>;

/// A call polled by its event loop.
struct LoopTask {
    /// The call's future, until it completes (or is cancelled).
    call: Mutex<Option<Call>>,
    future: Py<PyAny>,
    queue: Arc<Completions>,
    /// The loop's thread.
    thread: std::thread::ThreadId,
}

thread_local! {
    /// Whether this thread is polling a call ([`LoopTask::step`]).
    static STEPPING: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

impl std::task::Wake for LoopTask {
    /// Polled again: right away when woken on the loop's thread between
    /// polls (its socket is ready, its deadline passed), otherwise through
    /// the loop's queue (woken by the runtime, or by the call itself).
    fn wake(self: Arc<Self>) {
        if std::thread::current().id() == self.thread && !STEPPING.with(std::cell::Cell::get) {
            Python::attach(|py| self.step(py));
            return;
        }
        let queue = Arc::clone(&self.queue);
        queue.push(Queued::Woken(self));
    }
}

/// Puts the polling flag back as it was when a poll ends, panics
/// included (a poll may run Python code that makes another call).
struct Stepping(bool);

impl Drop for Stepping {
    fn drop(&mut self) {
        STEPPING.with(|s| s.set(self.0));
    }
}

impl LoopTask {
    /// Polls the call once, on the loop's thread, and completes its future
    /// when it is done.
    fn step(self: &Arc<Self>, py: Python<'_>) {
        if let Some(complete) = self.poll() {
            settle(py, self.future.bind(py).clone(), complete);
        }
    }

    /// The first poll, as the call is made: its request goes out. A call
    /// done already (its answer came at once, or it failed) completes at
    /// the loop's next turn, so that awaiting it always lets the loop run
    /// its other tasks.
    fn start(self: &Arc<Self>, py: Python<'_>) -> PyResult<()> {
        if let Some(complete) = self.poll() {
            let future = self.future.bind(py);
            let later = Settle(Mutex::new(Some(complete)), self.future.clone_ref(py));
            future
                .call_method0(pyo3::intern!(py, "get_loop"))?
                .call_method1(pyo3::intern!(py, "call_soon"), (later,))?;
        }
        Ok(())
    }

    /// Polls the call once; its completion when it is done (its future
    /// dropped first: its connection, its watches).
    fn poll(self: &Arc<Self>) -> Option<Complete> {
        let mut slot = match self.call.try_lock() {
            Ok(slot) => slot,
            // Being polled: polled again after.
            Err(std::sync::TryLockError::WouldBlock) => {
                self.queue.push(Queued::Woken(Arc::clone(self)));
                return None;
            }
            Err(std::sync::TryLockError::Poisoned(_)) => return None,
        };
        let call = slot.as_mut()?;
        let polled = match runtime() {
            Ok(rt) => {
                let waker = std::task::Waker::from(Arc::clone(self));
                let reactor = Rc::new(LoopReactor {
                    queue: Arc::clone(&self.queue),
                });
                let _runtime = rt.enter();
                let _stepping = Stepping(STEPPING.with(|s| s.replace(true)));
                on_loop(reactor, || {
                    std::panic::catch_unwind(AssertUnwindSafe(|| {
                        call.as_mut().poll(&mut Context::from_waker(&waker))
                    }))
                })
            }
            Err(e) => Ok(Poll::Ready(completion::<()>(Ok(Err(e)), |_, ()| {
                unreachable_value()
            }))),
        };
        let complete = match polled {
            Ok(Poll::Pending) => return None,
            Ok(Poll::Ready(complete)) => complete,
            Err(panic) => completion::<()>(Err(panic), |_, ()| unreachable_value()),
        };
        *slot = None;
        Some(complete)
    }
}

/// Completes a call's future at the loop's next turn ([`LoopTask::start`]).
#[pyclass(frozen)]
struct Settle(Mutex<Option<Complete>>, Py<PyAny>);

#[pymethods]
impl Settle {
    fn __call__(&self, py: Python<'_>) {
        let complete = self.0.lock().ok().and_then(|mut c| c.take());
        if let Some(complete) = complete {
            settle(py, self.1.bind(py).clone(), complete);
        }
    }
}

/// The converter of a call that has no value (its outcome is an error).
fn unreachable_value() -> PyResult<Py<PyAny>> {
    Err(pyo3::exceptions::PyRuntimeError::new_err("no value"))
}

/// The loop, as the reactor of the call it polls.
struct LoopReactor {
    queue: Arc<Completions>,
}

impl Reactor for LoopReactor {
    fn watch(
        &self,
        fd: i32,
        write: bool,
        deadline: Instant,
        waker: &std::task::Waker,
    ) -> Result<Box<dyn std::any::Any + Send>, Error> {
        let failed =
            |e: String| Error::Internal(format!("the event loop cannot watch the connection: {e}"));
        let lane = self
            .queue
            .lane
            .get()
            .ok_or_else(|| failed("no poller".into()))?;
        let watched = lane
            .poller
            .watch(fd, write, deadline, waker)
            .map_err(|e| failed(e.to_string()))?;
        Python::attach(|py| self.queue.set_timer(py, deadline))
            .map_err(|e| failed(e.to_string()))?;
        Ok(Box::new(watched))
    }
}

impl Completions {
    /// Sets the loop's lane timer for `deadline` unless it is set for an
    /// earlier one.
    /// The timer's lock is never held while asyncio runs (its Python code
    /// could start another call on this thread), and the timer set before
    /// is cancelled only once the new one is there.
    fn set_timer(self: &Arc<Self>, py: Python<'_>, deadline: Instant) -> PyResult<()> {
        let Some(lane) = self.lane.get() else {
            return Ok(());
        };
        let sooner = |timer: &Option<(Instant, Py<PyAny>)>| matches!(timer, Some((at, _)) if *at <= deadline);
        if sooner(&lane.timer.lock().unwrap_or_else(|e| e.into_inner())) {
            return Ok(());
        }
        let delay = deadline.saturating_duration_since(Instant::now());
        // The timer holds the queue weakly: a loop closed with its timer
        // pending frees the queue (and its descriptors) all the same.
        let handle = lane
            .event_loop
            .bind(py)
            .call_method1(
                pyo3::intern!(py, "call_later"),
                (delay.as_secs_f64(), LaneExpired(Arc::downgrade(self))),
            )?
            .unbind();
        let stale = {
            let mut timer = lane.timer.lock().unwrap_or_else(|e| e.into_inner());
            if sooner(&timer) {
                Some(handle)
            } else {
                timer.replace((deadline, handle)).map(|(_, old)| old)
            }
        };
        if let Some(stale) = stale {
            stale.bind(py).call_method0(pyo3::intern!(py, "cancel"))?;
        }
        Ok(())
    }
}

/// The loop's callback when a watched lane socket is ready.
#[pyclass(frozen)]
struct LaneReady(Arc<Completions>);

#[pymethods]
impl LaneReady {
    fn __call__(&self) {
        if let Some(lane) = self.0.lane.get() {
            lane.poller
                .ready()
                .into_iter()
                .for_each(std::task::Waker::wake);
        }
    }
}

/// The loop's timer callback: wakes the calls whose deadline passed, and
/// sets the timer for the next.
#[pyclass(frozen)]
struct LaneExpired(std::sync::Weak<Completions>);

#[pymethods]
impl LaneExpired {
    fn __call__(&self, py: Python<'_>) -> PyResult<()> {
        let Some(queue) = self.0.upgrade() else {
            return Ok(());
        };
        let Some(lane) = queue.lane.get() else {
            return Ok(());
        };
        *lane.timer.lock().unwrap_or_else(|e| e.into_inner()) = None;
        let (woken, next) = lane.poller.expired(Instant::now());
        // Woken first: the calls taken from the watch must run, whatever
        // happens to the timer.
        woken.into_iter().for_each(std::task::Waker::wake);
        match next {
            Some(next) => queue.set_timer(py, next),
            None => Ok(()),
        }
    }
}

/// An asyncio awaitable for a call: polled by the running loop on its own
/// thread when `direct` (the call can take the direct lane) and the loop
/// can watch sockets; otherwise run on the shared runtime
/// ([`into_awaitable`]).
pub fn call_awaitable<'py, T, F>(
    py: Python<'py>,
    direct: bool,
    fut: F,
    convert: fn(Python<'_>, T) -> PyResult<Py<PyAny>>,
) -> PyResult<Bound<'py, PyAny>>
where
    F: Future<Output = Result<T, Error>> + Send + 'static,
    T: Send + 'static,
{
    if !direct {
        return into_awaitable(py, fut, convert);
    }
    shutdown::refuse_new_work()?;
    let event_loop = running_loop(py)?;
    let queue = completions(&event_loop)?;
    if queue.lane.get().is_none() {
        return into_awaitable(py, fut, convert);
    }
    let future = event_loop.call_method0(pyo3::intern!(py, "create_future"))?;
    let call: Call = Box::pin(async move { completion(Ok(fut.await), convert) });
    let task = Arc::new(LoopTask {
        call: Mutex::new(Some(call)),
        future: future.clone().unbind(),
        queue,
        thread: std::thread::current().id(),
    });
    task.start(py)?;
    if !future
        .call_method0(pyo3::intern!(py, "done"))?
        .is_truthy()?
    {
        future.call_method1(
            pyo3::intern!(py, "add_done_callback"),
            (OnCancel(Cancel::Drop(task)),),
        )?;
    }
    Ok(future)
}
