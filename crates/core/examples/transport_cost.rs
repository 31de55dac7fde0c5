//! What the HTTP stack costs a call: the client's CPU per JSON-RPC POST
//! through reqwest, through hyper's own connection API (one keep-alive
//! connection, no pool, redirect or proxy layers; both on a current-thread
//! runtime), on a blocking socket (`blocking`: a prebuilt request, the
//! answer's head parsed by httparse and its body read by length; the
//! least a call costs), and through the client core as a blocking call
//! sends it (`core`: the direct lane, src/lane.rs, with the core's request
//! and answer handling), in alternation. benches/RESULTS.md (third to
//! fifth rounds) has what it showed.
//!
//! ```text
//! cargo run --release -p calimero-client-core --example transport_cost -- \
//!     HOST:PORT CALLS ROUNDS [CONTEXT_ID]
//! ```
//!
//! Against a real merod pass a context of a kv-store app (its `get`); a
//! canned responder (benches/canned.py) answers any context. Prints one
//! line per stack and round: microseconds of CPU (user + system, the whole
//! process) per call. `STACKS=blocking,core` (say) times only those, for a
//! profiler.

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
    let core = calimero_client_core::Connection::new(
        &format!("http://{addr}"),
        None,
        calimero_client_core::Config::default(),
    )?;
    let json: serde_json::Value = serde_json::from_slice(&body)?;
    let (mut sender, connection) = runtime.block_on(async {
        let stream = tokio::net::TcpStream::connect(&addr).await?;
        stream.set_nodelay(true)?;
        let handshake =
            hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream)).await?;
        Ok::<_, Box<dyn std::error::Error>>(handshake)
    })?;
    runtime.spawn(connection);
    let mut blocking = std::net::TcpStream::connect(&addr)?;
    blocking.set_nodelay(true)?;
    let mut raw = format!(
        "POST /jsonrpc HTTP/1.1\r\nhost: {addr}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    raw.extend_from_slice(&body);
    let mut buf = vec![0u8; 65536];
    for _ in 0..rounds {
        // STACKS=blocking,core (say) times only those (for callgrind).
        let stacks =
            std::env::var("STACKS").unwrap_or_else(|_| "reqwest,hyper,blocking,core".into());
        for stack in stacks.split(',') {
            let start = cpu_seconds();
            for _ in 0..calls {
                let answer = match stack {
                    "reqwest" => runtime.block_on(async {
                        client
                            .post(&url)
                            .header("content-type", "application/json")
                            .timeout(Duration::from_secs(60))
                            .body(body.clone())
                            .send()
                            .await?
                            .bytes()
                            .await
                    })?,
                    "hyper" => runtime.block_on(async {
                        sender.ready().await?;
                        let request = hyper::Request::post("/jsonrpc")
                            .header("host", addr.as_str())
                            .header("content-type", "application/json")
                            .body(http_body_util::Full::new(body.clone()))?;
                        let response = sender.send_request(request).await?;
                        let answer = response.into_body().collect().await?.to_bytes();
                        Ok::<_, Box<dyn std::error::Error>>(answer)
                    })?,
                    "blocking" => {
                        use std::io::{Read, Write};
                        blocking.write_all(&raw)?;
                        let mut filled = 0;
                        loop {
                            let n = blocking.read(&mut buf[filled..])?;
                            if n == 0 {
                                return Err("closed".into());
                            }
                            filled += n;
                            let mut headers = [httparse::EMPTY_HEADER; 16];
                            let mut response = httparse::Response::new(&mut headers);
                            if let httparse::Status::Complete(head) =
                                response.parse(&buf[..filled])?
                            {
                                let length: usize = response
                                    .headers
                                    .iter()
                                    .find(|h| h.name.eq_ignore_ascii_case("content-length"))
                                    .ok_or("no content-length")?
                                    .value
                                    .iter()
                                    .map(|b| char::from(*b))
                                    .collect::<String>()
                                    .parse()?;
                                if filled >= head + length {
                                    break bytes::Bytes::copy_from_slice(&buf[head..head + length]);
                                }
                            }
                        }
                    }
                    _ => {
                        // The client core on this thread's own runtime, as
                        // a blocking call runs (the direct lane, request
                        // checks, the answer whole; no Python).
                        let call = core.request("POST", "/jsonrpc", Some(json.clone()));
                        calimero_client_core::runtime::block_on_local(call)??.body
                    }
                };
                if answer.is_empty() {
                    return Err("an empty answer".into());
                }
            }
            let per_call = (cpu_seconds() - start) / f64::from(calls) * 1e6;
            println!("{stack}: {per_call:.1} us CPU per call");
        }
    }
    Ok(())
}
