//! The one process-wide Tokio runtime every blocking call and every async
//! call runs on (DESIGN.md rule 4).

use std::sync::OnceLock;

use tokio::runtime::Runtime;

use crate::error::Error;

static RUNTIME: OnceLock<Runtime> = OnceLock::new();

/// The shared runtime, started on first use.
pub fn runtime() -> Result<&'static Runtime, Error> {
    if let Some(rt) = RUNTIME.get() {
        return Ok(rt);
    }
    let workers = std::thread::available_parallelism().map_or(2, |n| n.get().clamp(2, 8));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .thread_name("calimero-rt")
        .enable_all()
        .build()
        .map_err(|e| Error::Internal(format!("could not start the Tokio runtime: {e}")))?;
    // A racing thread may have won; its runtime is kept and this one dropped.
    Ok(RUNTIME.get_or_init(|| rt))
}

/// rustls needs one process-wide crypto provider; ours is `ring`. Installing
/// twice is harmless (the second attempt is refused and ignored).
pub fn install_crypto_provider() {
    static ONCE: OnceLock<()> = OnceLock::new();
    ONCE.get_or_init(|| {
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}
