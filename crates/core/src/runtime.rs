//! The one process-wide Tokio runtime every blocking call and every async
//! call runs on (DESIGN.md rule 4).
//!
//! A forked child inherits the runtime's memory but not its threads, so a
//! runtime is only ever used by the process that started it: after a fork
//! the child starts its own (the parent's is left untouched, never dropped,
//! since dropping it would wait for threads the child does not have).

use std::sync::{Mutex, OnceLock};

use tokio::runtime::Runtime;

use crate::error::Error;

static RUNTIME: Mutex<Option<(u32, &'static Runtime)>> = Mutex::new(None);

/// The shared runtime of this process, started on first use.
pub fn runtime() -> Result<&'static Runtime, Error> {
    let pid = std::process::id();
    let mut slot = RUNTIME
        .lock()
        .map_err(|_| Error::Internal("the runtime lock is poisoned".into()))?;
    if let Some((owner, rt)) = *slot {
        if owner == pid {
            return Ok(rt);
        }
    }
    let workers = std::thread::available_parallelism().map_or(2, |n| n.get().clamp(2, 8));
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

/// rustls needs one process-wide crypto provider; ours is `ring`. Installing
/// twice is harmless (the second attempt is refused and ignored).
pub fn install_crypto_provider() {
    static ONCE: OnceLock<()> = OnceLock::new();
    ONCE.get_or_init(|| {
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}
