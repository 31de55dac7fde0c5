//! The one process-wide Tokio runtime every blocking call and every async
//! call runs on (DESIGN.md rule 4).
//!
//! A forked child inherits the runtime's memory but not its threads, so a
//! runtime is only ever used by the process that started it: after a fork
//! the child starts its own (the parent's is left untouched, never dropped,
//! since dropping it would wait for threads the child does not have).

use std::sync::atomic::{AtomicU32, AtomicU8, Ordering};
use std::sync::{Mutex, OnceLock};

use tokio::runtime::Runtime;

use crate::error::Error;

static RUNTIME: Mutex<Option<(u32, &'static Runtime)>> = Mutex::new(None);

/// This process's id, kept: `getpid` is a system call (glibc does not
/// cache it), and every call checks it, up to eight times, to tell a
/// forked child from its parent. 0 until read; a fork clears it in the
/// child ([`forget_pid`]), so the child reads its own. A child made by a
/// path that skips `pthread_atfork` handlers (a raw `clone`, glibc's
/// `_Fork`) would keep its parent's; `os.fork`, `pty.fork` and
/// multiprocessing all run them, and `subprocess` children exec at once.
static PID: AtomicU32 = AtomicU32::new(0);

/// Whether [`forget_pid`] is registered: [`UNREGISTERED`], then
/// [`REGISTERING`] while one thread registers it (never waited for: a
/// child forked meanwhile would wait forever), then [`REGISTERED`]; or
/// [`FAILED`]. The id is kept only once registered.
static AT_FORK: AtomicU8 = AtomicU8::new(UNREGISTERED);
const UNREGISTERED: u8 = 0;
const REGISTERING: u8 = 1;
const REGISTERED: u8 = 2;
const FAILED: u8 = 3;

/// This process's id (`std::process::id`, read once per process where
/// the fork handler could be registered, else every time).
pub fn pid() -> u32 {
    let known = PID.load(Ordering::Relaxed);
    if known != 0 {
        return known;
    }
    let pid = std::process::id();
    #[cfg(unix)]
    {
        if AT_FORK
            .compare_exchange(
                UNREGISTERED,
                REGISTERING,
                Ordering::AcqRel,
                Ordering::Acquire,
            )
            .is_ok()
        {
            // SAFETY: registers a handler that only stores to an atomic,
            // which is async-signal-safe, as a forked child's must be.
            let registered = unsafe { libc::pthread_atfork(None, None, Some(forget_pid)) } == 0;
            AT_FORK.store(
                if registered { REGISTERED } else { FAILED },
                Ordering::Release,
            );
        }
        if AT_FORK.load(Ordering::Acquire) == REGISTERED {
            PID.store(pid, Ordering::Relaxed);
        }
    }
    pid
}

/// In a forked child, before `fork` returns there: its id is not its
/// parent's.
#[cfg(unix)]
extern "C" fn forget_pid() {
    PID.store(0, Ordering::Relaxed);
}

/// The shared runtime of this process, started on first use.
pub fn runtime() -> Result<&'static Runtime, Error> {
    let pid = pid();
    let mut slot = RUNTIME
        .lock()
        .map_err(|_| Error::Internal("the runtime lock is poisoned".into()))?;
    if let Some((owner, rt)) = *slot {
        if owner == pid {
            return Ok(rt);
        }
    }
    let workers = shared_workers(std::thread::available_parallelism().map_or(2, |n| n.get()));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .thread_name("calimero-rt")
        .enable_all()
        .build()
        .map_err(|e| Error::Internal(format!("could not start the Tokio runtime: {e}")))?;
    let rt: &'static Runtime = Box::leak(Box::new(rt));
    *slot = Some((pid, rt));
    Ok(rt)
}

/// How many worker threads the shared runtime has on a machine of `cpus`
/// cores: half of them, from 1 to 4. What runs there is I/O: awaited calls
/// (whose answers become Python objects on the event loop's one thread),
/// streams and subscriptions; blocking calls run on their own thread's
/// runtime. Each further worker is another thread to wake: on 2 cores, one
/// worker takes an awaited GET from 155-172 to 115-123 us of CPU
/// (benches/RESULTS.md, third round), as tokio wakes an idle worker to
/// look for work whenever a task is queued.
fn shared_workers(cpus: usize) -> usize {
    (cpus / 2).clamp(1, 4)
}

/// rustls needs one process-wide crypto provider; ours is `ring`. Installing
/// twice is harmless (the second attempt is refused and ignored).
pub fn install_crypto_provider() {
    static ONCE: OnceLock<()> = OnceLock::new();
    ONCE.get_or_init(|| {
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}

// ---- This thread's own runtime, for short blocking calls ----
//
// A blocking call on the shared runtime hands its request to a worker
// thread, which drives the connection, and the answer back: about eight
// futex calls, four epoll waits and three eventfd writes per request
// (strace, benches/RESULTS.md). A call made on a current-thread runtime
// owned by the calling thread does its own I/O: one write, one wait, one
// read. The pooled HTTP connections of such a runtime are driven only
// while that thread is in `block_on_local`, so each thread keeps its own
// pool per connection ([`local_client`]), used only inside it. Streams
// that outlive a call (blob chunks, event subscriptions) stay on the
// shared runtime and its pool.

use std::any::Any;
use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::sync::{Arc, Weak};

thread_local! {
    /// This thread's runtime and the process that made it (a forked child
    /// makes its own: the parent's shares its epoll instance).
    static LOCAL: RefCell<Option<(u32, Rc<Runtime>)>> = const { RefCell::new(None) };
    /// Whether this thread is inside `block_on_local`.
    static IN_LOCAL: Cell<bool> = const { Cell::new(false) };
    /// This thread's HTTP clients: one per connection (keyed by the address
    /// of its shared state, kept alive by the `Weak`), and the process
    /// that made them.
    static CLIENTS: RefCell<(u32, Vec<LocalClient>)> = const { RefCell::new((0, Vec::new())) };
    /// The event loop polling a call on this thread ([`on_loop`]).
    static REACTOR: RefCell<Option<Rc<dyn Reactor>>> = const { RefCell::new(None) };
}

struct LocalClient {
    key: usize,
    owner: Weak<dyn Any + Send + Sync>,
    http: reqwest::Client,
    /// This thread's direct lane to the connection ([`crate::lane`]).
    lane: crate::lane::Pool,
}

/// Clears the in-local flag when `block_on_local` ends, panics included.
struct InLocal;

impl Drop for InLocal {
    fn drop(&mut self) {
        IN_LOCAL.with(|f| f.set(false));
    }
}

fn local_runtime() -> Result<Rc<Runtime>, Error> {
    let pid = pid();
    LOCAL.with(|slot| {
        let mut slot = slot.borrow_mut();
        if let Some((owner, rt)) = slot.as_ref() {
            if *owner == pid {
                return Ok(Rc::clone(rt));
            }
        }
        if let Some((_, parent)) = slot.take() {
            // The parent's: never dropped here (it would deregister the
            // parent's sockets from their shared epoll instance).
            std::mem::forget(parent);
        }
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| Error::Internal(format!("could not start the Tokio runtime: {e}")))?;
        let rt = Rc::new(rt);
        *slot = Some((pid, Rc::clone(&rt)));
        Ok(rt)
    })
}

/// Runs `fut` to completion on this thread's own current-thread runtime
/// (made on first use, one per thread and process). The caller makes sure
/// no runtime is running on this thread already. Requests sent inside it
/// use this thread's pool of each connection ([`local_client`]).
pub fn block_on_local<F: std::future::Future>(fut: F) -> Result<F::Output, Error> {
    let rt = local_runtime()?;
    IN_LOCAL.with(|f| f.set(true));
    let _reset = InLocal;
    // Boxed once: a call's future is kilobytes, and `block_on` moves it
    // down several frames before pinning it.
    Ok(rt.block_on(Box::pin(fut)))
}

/// Whether the caller runs inside [`block_on_local`] (on this thread's
/// runtime, not on a task of the shared one).
pub fn in_local() -> bool {
    IN_LOCAL.with(Cell::get)
        && tokio::runtime::Handle::try_current()
            .is_ok_and(|h| h.runtime_flavor() == tokio::runtime::RuntimeFlavor::CurrentThread)
}

/// This thread's HTTP client for the connection whose shared state is
/// `owner`, built by `build` on first use. Entries of connections that
/// are gone are dropped on the way.
pub(crate) fn local_client<T: Any + Send + Sync>(
    owner: &Arc<T>,
    build: impl FnOnce() -> Result<reqwest::Client, Error>,
) -> Result<reqwest::Client, Error> {
    with_local(owner, build, |entry| entry.http.clone())
}

/// Runs `f` on this thread's direct lane to the connection whose shared
/// state is `owner` (its entry made as [`local_client`] makes it). `f`
/// must not reach this thread's entries again.
pub(crate) fn with_lane<T: Any + Send + Sync, R>(
    owner: &Arc<T>,
    build: impl FnOnce() -> Result<reqwest::Client, Error>,
    f: impl FnOnce(&mut crate::lane::Pool) -> R,
) -> Result<R, Error> {
    with_local(owner, build, |entry| f(&mut entry.lane))
}

fn with_local<T: Any + Send + Sync, R>(
    owner: &Arc<T>,
    build: impl FnOnce() -> Result<reqwest::Client, Error>,
    f: impl FnOnce(&mut LocalClient) -> R,
) -> Result<R, Error> {
    let key = Arc::as_ptr(owner) as *const () as usize;
    CLIENTS.with(|clients| {
        let mut clients = clients
            .try_borrow_mut()
            .map_err(|_| Error::Internal("this thread's HTTP pool is in use".into()))?;
        let pid = pid();
        if clients.0 != pid {
            // A parent's entries, in a forked child: its pooled sockets
            // and runtime are not ours, and are never dropped here.
            std::mem::forget(std::mem::take(&mut clients.1));
            clients.0 = pid;
        }
        let clients = &mut clients.1;
        if let Some(entry) = clients.iter_mut().find(|c| c.key == key) {
            return Ok(f(entry));
        }
        clients.retain(|c| c.owner.strong_count() > 0);
        let owner: Arc<dyn Any + Send + Sync> = Arc::clone(owner) as _;
        clients.push(LocalClient {
            key,
            owner: Arc::downgrade(&owner),
            http: build()?,
            lane: crate::lane::Pool::new(),
        });
        match clients.last_mut() {
            Some(entry) => Ok(f(entry)),
            None => Err(Error::Internal("this thread's HTTP pool is empty".into())),
        }
    })
}

// ---- An event loop's thread, for awaited calls ----
//
// An awaited call handed to the shared runtime wakes two threads: a
// worker, which does the I/O, then the event loop, which takes the
// result. When the call can take the direct lane ([`crate::lane`]), the
// Python layer polls its future on the event loop's own thread instead,
// inside [`on_loop`]: the lane's socket is then read and written without
// waiting, and when it would wait the loop is asked to poll the call again
// once the socket is ready ([`Reactor`]; `loop.add_reader`). The shared
// runtime's handle is entered meanwhile, so what else the call awaits (a
// new connection, a retry's pause, a request through reqwest) runs on it
// and wakes the call through its waker.

/// What an event loop does for a call it polls on its own thread.
pub trait Reactor {
    /// Has `waker` woken once `fd` can be read (written, when `write`) or
    /// at `deadline`, whichever comes first; undone when the returned
    /// guard is dropped.
    fn watch(
        &self,
        fd: i32,
        write: bool,
        deadline: std::time::Instant,
        waker: &std::task::Waker,
    ) -> Result<Box<dyn Any + Send>, Error>;
}

/// Clears this thread's reactor when `on_loop` ends, panics included.
struct OnLoop(Option<Rc<dyn Reactor>>);

impl Drop for OnLoop {
    fn drop(&mut self) {
        let previous = self.0.take();
        REACTOR.with(|r| *r.borrow_mut() = previous);
    }
}

/// Runs `f` (a poll of an awaited call) with `reactor` as this thread's:
/// the direct lane is open, and waits by it.
pub fn on_loop<R>(reactor: Rc<dyn Reactor>, f: impl FnOnce() -> R) -> R {
    let previous = REACTOR.with(|r| r.borrow_mut().replace(reactor));
    let _reset = OnLoop(previous);
    f()
}

/// Whether the caller is polled by an event loop ([`on_loop`]).
pub fn in_loop() -> bool {
    REACTOR.with(|r| r.borrow().is_some())
}

/// Asks this thread's event loop to wake `waker` once `fd` is ready or at
/// `deadline` ([`Reactor::watch`]).
pub(crate) fn watch(
    fd: i32,
    write: bool,
    deadline: std::time::Instant,
    waker: &std::task::Waker,
) -> Result<Box<dyn Any + Send>, Error> {
    let reactor = REACTOR.with(|r| r.borrow().clone());
    match reactor {
        Some(reactor) => reactor.watch(fd, write, deadline, waker),
        None => Err(Error::Internal("no event loop polls this call".into())),
    }
}

/// Drops this thread's pool of the connection whose shared state is
/// `owner` (when it is closed).
pub(crate) fn drop_local_client<T: Any + Send + Sync>(owner: &Arc<T>) {
    let key = Arc::as_ptr(owner) as *const () as usize;
    let _ = CLIENTS.try_with(|clients| {
        if let Ok(mut clients) = clients.try_borrow_mut() {
            if clients.0 != pid() {
                return;
            }
            clients.1.retain(|c| c.key != key);
        }
    });
}

#[cfg(test)]
mod tests {
    #[test]
    fn half_the_cores_from_one_to_four_workers() {
        for (cpus, workers) in [(1, 1), (2, 1), (3, 1), (4, 2), (8, 4), (64, 4)] {
            assert_eq!(super::shared_workers(cpus), workers, "{cpus} cores");
        }
    }

    #[cfg(unix)]
    #[test]
    fn a_forked_child_reads_its_own_pid() {
        let parent = super::pid();
        assert_eq!(parent, std::process::id());
        // SAFETY: the child only reads atomics, makes system calls and
        // leaves with `_exit` (no allocation, no lock of the parent's).
        let child = unsafe { libc::fork() };
        assert!(child >= 0, "fork failed");
        if child == 0 {
            let ok = super::pid() == std::process::id() && super::pid() != parent;
            unsafe { libc::_exit(if ok { 0 } else { 1 }) };
        }
        let mut status = 0;
        // SAFETY: waits for the child just forked.
        assert_eq!(unsafe { libc::waitpid(child, &mut status, 0) }, child);
        assert!(
            libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
            "{status}"
        );
        assert_eq!(super::pid(), parent); // the parent's is unchanged
    }
}
