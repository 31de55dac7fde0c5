//! What the HTTP stack costs a call: the client's CPU per JSON-RPC POST
//! through reqwest (as the client sends them) and through hyper's own
//! connection API (one keep-alive connection, no pool, redirect or proxy
//! layers), in alternation, on a current-thread runtime like a blocking
//! call's. benches/RESULTS.md (third round) has what it showed.
//!
//! ```text
//! cargo run --release -p calimero-client-core --example transport_cost -- \
//!     HOST:PORT CALLS ROUNDS [CONTEXT_ID]
//! ```
//!
//! Against a real merod pass a context of a kv-store app (its `get`); a
//! canned responder (benches/canned.py) answers any context. Prints one
//! line per stack and round: microseconds of CPU (user + system, the whole
//! process) per call.

use std::time::Duration;

use http_body_util::BodyExt;

/// User + system CPU seconds of this process.
fn cpu_seconds() -> f64 {
    // SAFETY: getrusage only writes the struct it is given.
    let usage = unsafe {
        let mut usage = std::mem::zeroed::<libc::rusage>();
        libc::getrusage(libc::RUSAGE_SELF, &mut usage);
        usage
    };
    let t = |v: libc::timeval| v.tv_sec as f64 + v.tv_usec as f64 / 1e6;
    t(usage.ru_utime) + t(usage.ru_stime)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let usage = "usage: transport_cost HOST:PORT CALLS ROUNDS [CONTEXT_ID]";
    let mut args = std::env::args().skip(1);
    let addr = args.next().ok_or(usage)?;
    let calls: u32 = args.next().ok_or(usage)?.parse()?;
    let rounds: u32 = args.next().ok_or(usage)?.parse()?;
    let context = args
        .next()
        .unwrap_or_else(|| "EMtpXdHZQLiqyPVVAzJWbnishYR1gPTvKKtWD3e2V6zo".into());
    let body = bytes::Bytes::from(format!(
        r#"{{"jsonrpc":"2.0","id":1,"method":"execute","params":{{"contextId":"{context}","method":"get","argsJson":{{"key":"k"}}}}}}"#
    ));
    let _ = rustls::crypto::ring::default_provider().install_default();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let url = format!("http://{addr}/jsonrpc");
    let client = reqwest::Client::builder()
        .pool_idle_timeout(Duration::from_secs(60))
        .tcp_nodelay(true)
        .build()?;
    runtime.block_on(async {
        let stream = tokio::net::TcpStream::connect(&addr).await?;
        stream.set_nodelay(true)?;
        let (mut sender, connection) =
            hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream)).await?;
        tokio::spawn(connection);
        for _ in 0..rounds {
            for stack in ["reqwest", "hyper"] {
                let start = cpu_seconds();
                for _ in 0..calls {
                    let answer = if stack == "reqwest" {
                        client
                            .post(&url)
                            .header("content-type", "application/json")
                            .timeout(Duration::from_secs(60))
                            .body(body.clone())
                            .send()
                            .await?
                            .bytes()
                            .await?
                    } else {
                        sender.ready().await?;
                        let request = hyper::Request::post("/jsonrpc")
                            .header("host", addr.as_str())
                            .header("content-type", "application/json")
                            .body(http_body_util::Full::new(body.clone()))?;
                        let response = sender.send_request(request).await?;
                        response.into_body().collect().await?.to_bytes()
                    };
                    if answer.is_empty() {
                        return Err("an empty answer".into());
                    }
                }
                let per_call = (cpu_seconds() - start) / f64::from(calls) * 1e6;
                println!("{stack}: {per_call:.1} us CPU per call");
            }
        }
        Ok::<_, Box<dyn std::error::Error>>(())
    })
}
