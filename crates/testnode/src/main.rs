//! `calimero-testnode [--host 127.0.0.1] [--port 0] [--node-version 0.11.0-rc.N]
//!  [--publish PACKAGE@VERSION]... [--allow-private-urls]
//!  [--max-blob-bytes N] [--tee-mock] [--verbose] [--no-stdin-watch]
//!  [--transport-secret HEX [--sealed-required]]
//!  [--auth [--auth-user U] [--auth-password P]
//!  [--access-ttl S] [--refresh-ttl S] [--leeway S]]`
//!
//! `--node-version` picks the merod release to answer as (rc.25 to rc.83,
//! default rc.25); `--publish` puts a package in the node's own registry
//! (what `install-application` by coordinates installs from, rc.31+).
//!
//! `--auth` runs in embedded auth mode (admin account `admin` /
//! `admin-password` unless given; token lifetimes and the expiry leeway in
//! seconds, defaulting to the node's 3600, 30 days and 60).
//!
//! `--transport-secret` (64 hex) serves the sealed transport of a TEE node
//! (`/sealed/v2/handshake`, `/sealed/v2`) with that X25519 transport secret;
//! `--sealed-required` then refuses unsealed requests (but for the probes,
//! the attestation and the control API).
//!
//! Binds, prints `listening on http://HOST:PORT` on stdout, then serves until
//! SIGTERM/SIGINT or until stdin reaches EOF (so a test process that dies
//! never leaks the node). Diagnostics go to stderr.

use std::io::{Read, Write};

use calimero_testnode::{AuthConfig, Config};
use tokio::net::TcpListener;
use tokio::sync::oneshot;

const USAGE: &str = "usage: calimero-testnode [--host HOST] [--port PORT] \
                     [--node-version 0.11.0-rc.N] [--publish PACKAGE@VERSION]... \
                     [--allow-private-urls] \
                     [--max-blob-bytes N] [--tee-mock] [--verbose] [--no-stdin-watch] \
                     [--transport-secret HEX [--sealed-required]] \
                     [--auth] [--auth-user USER] \
                     [--auth-password PASSWORD] [--access-ttl SECS] [--refresh-ttl SECS] \
                     [--leeway SECS] [--delegated-access]";

struct Args {
    host: String,
    port: u16,
    config: Config,
    watch_stdin: bool,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        host: "127.0.0.1".to_owned(),
        port: 0,
        config: Config::default(),
        watch_stdin: true,
    };
    let mut auth: Option<AuthConfig> = None;
    let mut transport_secret: Option<[u8; 32]> = None;
    let mut sealed_required = false;
    let mut auth_settings = AuthConfig::default();
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((flag, value)) if flag.starts_with("--") => {
                (flag.to_owned(), Some(value.to_owned()))
            }
            _ => (arg.clone(), None),
        };
        let mut value = |name: &str| {
            inline
                .clone()
                .or_else(|| it.next())
                .ok_or_else(|| format!("{name} needs a value"))
        };
        match flag.as_str() {
            "--host" => args.host = value("--host")?,
            "--port" => {
                let raw = value("--port")?;
                args.port = raw.parse().map_err(|_| format!("invalid port: {raw}"))?;
            }
            "--node-version" => {
                let raw = value("--node-version")?;
                args.config = args.config.release(raw.parse()?);
            }
            "--publish" => {
                let raw = value("--publish")?;
                let (package, version) = raw
                    .split_once('@')
                    .filter(|(p, v)| !p.is_empty() && !v.is_empty())
                    .ok_or_else(|| format!("--publish: expected PACKAGE@VERSION, got {raw}"))?;
                args.config = args.config.publish(package, version);
            }
            "--allow-private-urls" => args.config = args.config.allow_private_urls(true),
            "--max-blob-bytes" => {
                let raw = value("--max-blob-bytes")?;
                let max = raw
                    .parse()
                    .map_err(|_| format!("invalid --max-blob-bytes: {raw}"))?;
                args.config = args.config.max_blob_bytes(max);
            }
            "--tee-mock" => args.config = args.config.tee_mock(true),
            "--transport-secret" => {
                let raw = value("--transport-secret")?;
                transport_secret = Some(
                    calimero_testnode::parse_transport_secret(&raw)
                        .map_err(|e| format!("--transport-secret: {e}"))?,
                );
            }
            "--sealed-required" => sealed_required = true,
            "--verbose" | "-v" => args.config = args.config.verbose(true),
            "--no-stdin-watch" => args.watch_stdin = false,
            "--auth" => auth = Some(AuthConfig::default()),
            "--auth-user" => auth_settings.username = value("--auth-user")?,
            "--auth-password" => auth_settings.password = value("--auth-password")?,
            "--access-ttl" => {
                auth_settings.access_ttl = seconds("--access-ttl", value("--access-ttl")?)?
            }
            "--refresh-ttl" => {
                auth_settings.refresh_ttl = seconds("--refresh-ttl", value("--refresh-ttl")?)?
            }
            "--leeway" => auth_settings.leeway = seconds("--leeway", value("--leeway")?)?,
            "--delegated-access" => auth_settings.delegated_access = true,
            "--help" | "-h" => return Err(USAGE.to_owned()),
            other => return Err(format!("unknown argument: {other}\n{USAGE}")),
        }
    }
    match transport_secret {
        Some(secret) => args.config = args.config.sealed(secret, sealed_required),
        None if sealed_required => {
            return Err("--sealed-required needs --transport-secret".to_owned())
        }
        None => {}
    }
    if auth.is_some() {
        if auth_settings.username.is_empty() || auth_settings.password.is_empty() {
            return Err("--auth-user and --auth-password must not be empty".to_owned());
        }
        args.config = args.config.auth(auth_settings);
    }
    Ok(args)
}

fn seconds(flag: &str, raw: String) -> Result<u64, String> {
    raw.parse()
        .map_err(|_| format!("{flag}: expected a whole number of seconds, got {raw}"))
}

/// Resolves when stdin reaches EOF (or cannot be read).
fn stdin_closed() -> oneshot::Receiver<()> {
    let (tx, rx) = oneshot::channel();
    let spawned = std::thread::Builder::new()
        .name("stdin-watch".to_owned())
        .spawn(move || {
            let mut buf = [0u8; 1024];
            let mut stdin = std::io::stdin().lock();
            while matches!(stdin.read(&mut buf), Ok(n) if n > 0) {}
            let _ = tx.send(());
        });
    if let Err(err) = spawned {
        eprintln!("calimero-testnode: cannot watch stdin: {err}");
    }
    rx
}

async fn terminated() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = tokio::signal::ctrl_c() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

#[tokio::main]
async fn main() {
    // Connection tasks and the stdin thread are not waited for.
    std::process::exit(run().await);
}

/// Serves until told to stop; returns the exit code.
async fn run() -> i32 {
    let args = match parse_args() {
        Ok(args) => args,
        Err(message) => {
            eprintln!("{message}");
            return 2;
        }
    };
    let listener = match TcpListener::bind((args.host.as_str(), args.port)).await {
        Ok(listener) => listener,
        Err(err) => {
            eprintln!(
                "calimero-testnode: cannot bind {}:{}: {err}",
                args.host, args.port
            );
            return 1;
        }
    };
    let addr = match listener.local_addr() {
        Ok(addr) => addr,
        Err(err) => {
            eprintln!("calimero-testnode: {err}");
            return 1;
        }
    };
    {
        let mut stdout = std::io::stdout().lock();
        let _ = writeln!(stdout, "listening on http://{addr}");
        let _ = stdout.flush();
    }

    let stdin_eof = async {
        if args.watch_stdin {
            let _ = stdin_closed().await;
        } else {
            std::future::pending::<()>().await;
        }
    };
    tokio::select! {
        result = calimero_testnode::serve(listener, args.config) => match result {
            Ok(()) => 0,
            Err(err) => {
                eprintln!("calimero-testnode: {err}");
                1
            }
        },
        () = terminated() => 0,
        () = stdin_eof => 0,
    }
}
