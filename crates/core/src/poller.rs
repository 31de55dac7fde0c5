//! An event loop's watch over the direct lane's sockets, for the awaited
//! calls it polls on its own thread ([`crate::runtime::on_loop`]).
//!
//! One epoll instance per event loop: the loop watches its descriptor
//! (`loop.add_reader`, once), and a call that would wait registers its
//! socket here, one-shot, with its waker and its deadline. When the
//! socket is ready the instance is readable; the loop's callback takes the
//! ready sockets' wakers ([`Poller::ready`]), and the deadlines that passed
//! ([`Poller::expired`]) at the one timer the loop keeps for the earliest.
//! Per wait that is one `epoll_ctl` and no Python object, where
//! `loop.add_reader` and `loop.call_later` cost two `epoll_ctl`s and four
//! calls into asyncio's Python.
//!
//! A socket stays registered (disarmed) while its connection waits in the
//! pool; closing it removes it. A readiness whose waiter is gone (the call
//! ended first) is ignored.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::Waker;
use std::time::Instant;

/// One event loop's watch over sockets.
pub struct Poller {
    #[cfg(target_os = "linux")]
    epoll: std::os::fd::OwnedFd,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    next: u64,
    /// Who waits for each registration, and until when.
    waiters: HashMap<u64, (Waker, Instant)>,
    deadlines: BTreeSet<(Instant, u64)>,
}

/// A socket watched for a call: forgotten when dropped.
pub struct Watched {
    poller: Arc<Poller>,
    token: u64,
}

impl Drop for Watched {
    fn drop(&mut self) {
        let mut state = self.poller.state();
        if let Some((_, deadline)) = state.waiters.remove(&self.token) {
            state.deadlines.remove(&(deadline, self.token));
        }
    }
}

impl Poller {
    /// A new watch (its epoll instance).
    #[cfg(target_os = "linux")]
    pub fn new() -> std::io::Result<Self> {
        use std::os::fd::FromRawFd;
        // SAFETY: a plain system call; a valid result is a new descriptor
        // owned by nothing else.
        let fd = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
        if fd < 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(Poller {
            // SAFETY: `fd` was just opened, and is owned here only.
            epoll: unsafe { std::os::fd::OwnedFd::from_raw_fd(fd) },
            state: Mutex::new(State::default()),
        })
    }

    /// Not on this system: awaited calls run on the shared runtime.
    #[cfg(not(target_os = "linux"))]
    pub fn new() -> std::io::Result<Self> {
        Err(std::io::ErrorKind::Unsupported.into())
    }

    /// The descriptor the event loop watches: readable when a watched
    /// socket is ready.
    #[cfg(target_os = "linux")]
    pub fn fd(&self) -> i32 {
        use std::os::fd::AsRawFd;
        self.epoll.as_raw_fd()
    }

    #[cfg(not(target_os = "linux"))]
    pub fn fd(&self) -> i32 {
        -1
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Has `waker` woken once `fd` can be read (written, when `write`),
    /// or at `deadline` (by [`Poller::expired`]), for as long as the
    /// returned guard lives.
    pub fn watch(
        self: &Arc<Self>,
        fd: i32,
        write: bool,
        deadline: Instant,
        waker: &Waker,
    ) -> std::io::Result<Watched> {
        let mut state = self.state();
        let token = state.next;
        state.next += 1;
        self.arm(fd, write, token)?;
        state.waiters.insert(token, (waker.clone(), deadline));
        state.deadlines.insert((deadline, token));
        Ok(Watched {
            poller: Arc::clone(self),
            token,
        })
    }

    #[cfg(target_os = "linux")]
    fn arm(&self, fd: i32, write: bool, token: u64) -> std::io::Result<()> {
        let interest = if write { libc::EPOLLOUT } else { libc::EPOLLIN };
        let mut event = libc::epoll_event {
            events: (interest | libc::EPOLLONESHOT) as u32,
            u64: token,
        };
        let ctl = |op, event: &mut libc::epoll_event| {
            // SAFETY: `event` is a valid epoll_event for the call.
            unsafe { libc::epoll_ctl(self.fd(), op, fd, event) }
        };
        // A pooled connection is registered already (disarmed): re-armed.
        if ctl(libc::EPOLL_CTL_MOD, &mut event) == 0 {
            return Ok(());
        }
        let err = std::io::Error::last_os_error();
        if err.raw_os_error() != Some(libc::ENOENT) {
            return Err(err);
        }
        if ctl(libc::EPOLL_CTL_ADD, &mut event) == 0 {
            return Ok(());
        }
        Err(std::io::Error::last_os_error())
    }

    #[cfg(not(target_os = "linux"))]
    fn arm(&self, _fd: i32, _write: bool, _token: u64) -> std::io::Result<()> {
        Err(std::io::ErrorKind::Unsupported.into())
    }

    /// The wakers of the watched sockets that are ready (without waiting).
    #[cfg(target_os = "linux")]
    pub fn ready(&self) -> Vec<Waker> {
        const BATCH: usize = 64;
        let mut events = [libc::epoll_event { events: 0, u64: 0 }; BATCH];
        // SAFETY: `events` has room for BATCH entries; a zero timeout
        // does not wait.
        let n = unsafe { libc::epoll_wait(self.fd(), events.as_mut_ptr(), BATCH as i32, 0) };
        let Ok(n) = usize::try_from(n) else {
            return Vec::new();
        };
        let mut state = self.state();
        let mut woken = Vec::with_capacity(n);
        for event in &events[..n] {
            let token = event.u64;
            if let Some((waker, deadline)) = state.waiters.remove(&token) {
                state.deadlines.remove(&(deadline, token));
                woken.push(waker);
            }
        }
        woken
    }

    #[cfg(not(target_os = "linux"))]
    pub fn ready(&self) -> Vec<Waker> {
        Vec::new()
    }

    /// The wakers whose deadline is `now` or before, and the earliest
    /// deadline left.
    pub fn expired(&self, now: Instant) -> (Vec<Waker>, Option<Instant>) {
        let mut state = self.state();
        let mut woken = Vec::new();
        while let Some(&(deadline, token)) = state.deadlines.first() {
            if deadline > now {
                break;
            }
            state.deadlines.pop_first();
            if let Some((waker, _)) = state.waiters.remove(&token) {
                woken.push(waker);
            }
        }
        let next = state.deadlines.first().map(|&(deadline, _)| deadline);
        (woken, next)
    }

    /// The earliest deadline watched.
    pub fn earliest(&self) -> Option<Instant> {
        self.state()
            .deadlines
            .first()
            .map(|&(deadline, _)| deadline)
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;
    use std::io::Write;
    use std::os::fd::AsRawFd;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    struct Count(AtomicUsize);

    impl std::task::Wake for Count {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    fn counter() -> (Arc<Count>, Waker) {
        let count = Arc::new(Count(AtomicUsize::new(0)));
        (Arc::clone(&count), Waker::from(count))
    }

    fn wake_all(wakers: Vec<Waker>) -> usize {
        let n = wakers.len();
        wakers.into_iter().for_each(Waker::wake);
        n
    }

    #[test]
    fn a_socket_that_becomes_readable_wakes_its_waiter_once() {
        let poller = Arc::new(Poller::new().unwrap());
        let (mut tx, rx) = std::os::unix::net::UnixStream::pair().unwrap();
        let (count, waker) = counter();
        let far = Instant::now() + Duration::from_secs(60);
        let watched = poller.watch(rx.as_raw_fd(), false, far, &waker).unwrap();
        assert_eq!(wake_all(poller.ready()), 0, "nothing to read yet");
        tx.write_all(b"x").unwrap();
        assert_eq!(wake_all(poller.ready()), 1);
        assert_eq!(count.0.load(Ordering::SeqCst), 1);
        // One-shot: still readable, but not reported again until re-armed.
        assert_eq!(wake_all(poller.ready()), 0);
        drop(watched);
        // Re-armed by a new watch of the same (registered) socket.
        let _again = poller.watch(rx.as_raw_fd(), false, far, &waker).unwrap();
        assert_eq!(wake_all(poller.ready()), 1);
        assert_eq!(count.0.load(Ordering::SeqCst), 2);
    }

    #[test]
    fn a_readiness_whose_watch_was_dropped_wakes_nobody() {
        let poller = Arc::new(Poller::new().unwrap());
        let (mut tx, rx) = std::os::unix::net::UnixStream::pair().unwrap();
        let (count, waker) = counter();
        let far = Instant::now() + Duration::from_secs(60);
        drop(poller.watch(rx.as_raw_fd(), false, far, &waker).unwrap());
        tx.write_all(b"x").unwrap();
        assert_eq!(wake_all(poller.ready()), 0);
        assert_eq!(count.0.load(Ordering::SeqCst), 0);
        assert_eq!(poller.earliest(), None);
    }

    #[test]
    fn deadlines_expire_in_order_and_tell_the_next() {
        let poller = Arc::new(Poller::new().unwrap());
        let (_a, a) = std::os::unix::net::UnixStream::pair().unwrap();
        let (_b, b) = std::os::unix::net::UnixStream::pair().unwrap();
        let (count, waker) = counter();
        let now = Instant::now();
        let (soon, later) = (now + Duration::from_secs(1), now + Duration::from_secs(5));
        let _wa = poller.watch(a.as_raw_fd(), false, later, &waker).unwrap();
        let _wb = poller.watch(b.as_raw_fd(), false, soon, &waker).unwrap();
        assert_eq!(poller.earliest(), Some(soon));
        let (woken, next) = poller.expired(now);
        assert_eq!((wake_all(woken), next), (0, Some(soon)));
        let (woken, next) = poller.expired(soon);
        assert_eq!((wake_all(woken), next), (1, Some(later)));
        let (woken, next) = poller.expired(later + Duration::from_secs(1));
        assert_eq!((wake_all(woken), next), (1, None));
        assert_eq!(count.0.load(Ordering::SeqCst), 2);
    }

    #[test]
    fn a_closed_and_reused_descriptor_is_registered_again() {
        let poller = Arc::new(Poller::new().unwrap());
        let (count, waker) = counter();
        let far = Instant::now() + Duration::from_secs(60);
        for _ in 0..3 {
            let (mut tx, rx) = std::os::unix::net::UnixStream::pair().unwrap();
            let _w = poller.watch(rx.as_raw_fd(), false, far, &waker).unwrap();
            tx.write_all(b"x").unwrap();
            assert_eq!(wake_all(poller.ready()), 1);
        }
        assert_eq!(count.0.load(Ordering::SeqCst), 3);
    }

    #[test]
    fn a_writable_socket_wakes_a_write_watch() {
        let poller = Arc::new(Poller::new().unwrap());
        let (tx, _rx) = std::os::unix::net::UnixStream::pair().unwrap();
        let (_count, waker) = counter();
        let far = Instant::now() + Duration::from_secs(60);
        let _w = poller.watch(tx.as_raw_fd(), true, far, &waker).unwrap();
        assert_eq!(wake_all(poller.ready()), 1);
    }
}
