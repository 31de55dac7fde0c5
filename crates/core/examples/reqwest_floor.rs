//! The latency floor for benches/run.py: the same GET as the Python client
//! makes, from a bare reqwest loop (same client settings, one connection,
//! the body parsed into a `serde_json::Value`), with no Python at all.
//!
//! ```text
//! cargo run --release -p calimero-client-core --example reqwest_floor -- URL CALLS ROUNDS
//! ```
//!
//! Prints one line per round: the mean microseconds per call.

use std::time::{Duration, Instant};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let url = args.next().ok_or("usage: reqwest_floor URL CALLS ROUNDS")?;
    let calls: u32 = args.next().ok_or("CALLS")?.parse()?;
    let rounds: u32 = args.next().ok_or("ROUNDS")?.parse()?;
    let _ = rustls::crypto::ring::default_provider().install_default();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let client = reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(10))
        .pool_idle_timeout(Duration::from_secs(60))
        .tcp_nodelay(true)
        .build()?;
    runtime.block_on(async {
        // Warm the connection.
        let _ = client.get(&url).send().await?.bytes().await?;
        for _ in 0..rounds {
            let start = Instant::now();
            for _ in 0..calls {
                let body = client
                    .get(&url)
                    .timeout(Duration::from_secs(60))
                    .send()
                    .await?
                    .error_for_status()?
                    .bytes()
                    .await?;
                let value: serde_json::Value = serde_json::from_slice(&body)?;
                std::hint::black_box(value);
            }
            let per_call = start.elapsed().as_secs_f64() * 1e6 / f64::from(calls);
            println!("{per_call:.2}");
        }
        Ok::<(), Box<dyn std::error::Error>>(())
    })
}
