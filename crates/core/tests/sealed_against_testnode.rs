//! The sealed transport end to end against the in-process test node, which
//! serves `/sealed/v2` with a fixed transport key and refuses unsealed
//! requests (`--sealed-required`): calls, a large answer streamed in many
//! frames, an event stream, token refreshes, renewal after a forced 409,
//! `busy` waited out, a tampered or cut frame refused, a restarted node, a
//! WebSocket refused, and a node whose attestation is a mock quote.

use std::sync::Arc;
use std::time::Duration;

mod common;

use calimero_client_core::auth::{AuthOptions, Credentials};
use calimero_client_core::blobs::{Transfer, UploadSource};
use calimero_client_core::endpoints::find;
use calimero_client_core::events::{Ids, SubscribeOptions, Transport};
use calimero_client_core::sealed::{KeySource, SealedConfig};
use calimero_client_core::tee::TeePolicy;
use calimero_client_core::{ArgValue, Config, Connection, ErrorKind, Release};
use calimero_testnode::AuthConfig;
use common::{call, s};
use serde_json::{json, Value};

const SECRET: [u8; 32] = [0x22; 32];

struct Node {
    base: String,
    http: reqwest::Client,
}

impl Node {
    async fn start(config: calimero_testnode::Config) -> Self {
        calimero_client_core::runtime::install_crypto_provider();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(calimero_testnode::serve(listener, config));
        Node {
            base: format!("http://{addr}"),
            http: reqwest::Client::builder().no_proxy().build().unwrap(),
        }
    }

    async fn sealed() -> Self {
        Self::start(calimero_testnode::Config::default().sealed(SECRET, true)).await
    }

    fn connect(&self, key: KeySource, auth: AuthOptions) -> Connection {
        // The test node answers as rc.25; pinned, since the blob test
        // prepares its requests directly (no release probe).
        let config = Config {
            sealed: Some(SealedConfig { key }),
            node_version: Some(Release::parse("node_version", "0.11.0-rc.25").unwrap()),
            ..Config::default()
        };
        let auth = AuthOptions {
            ignore_env: true,
            ..auth
        };
        Connection::with_auth(&self.base, None, config, auth).unwrap()
    }

    fn with_key(&self) -> Connection {
        let key = calimero_testnode::transport_public_key(&SECRET);
        self.connect(KeySource::Given(key), AuthOptions::default())
    }

    async fn control(&self, body: Value) -> Value {
        let response = self
            .http
            .post(format!("{}/_testnode/sealed", self.base))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert!(response.status().is_success());
        response.json().await.unwrap()
    }

    async fn status(&self) -> Value {
        self.control(json!({})).await
    }

    async fn requests(&self) -> Vec<Value> {
        let log: Value = self
            .http
            .get(format!("{}/_testnode/requests", self.base))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        log["requests"].as_array().unwrap().clone()
    }
}

async fn context(conn: &Connection) -> String {
    let wasm = std::env::temp_dir().join(format!("core-sealed-{}.wasm", std::process::id()));
    std::fs::write(&wasm, b"\0asm\x01\0\0\0core-sealed").unwrap();
    let app = call(
        conn,
        "install_dev_application",
        &[s(wasm.to_str().unwrap())],
    )
    .await
    .unwrap();
    let app_id = app["data"]["applicationId"].as_str().unwrap().to_owned();
    let ns = call(conn, "create_namespace", &[s(&app_id)]).await.unwrap();
    let ns_id = ns["data"]["namespaceId"].as_str().unwrap().to_owned();
    let ctx = call(conn, "create_context", &[s(&app_id), s(&ns_id)])
        .await
        .unwrap();
    ctx["data"]["contextId"].as_str().unwrap().to_owned()
}

async fn set(
    conn: &Connection,
    ctx: &str,
    key: &str,
    value: &str,
) -> Result<Value, calimero_client_core::Error> {
    let args = json!({ "key": key, "value": value });
    call(
        conn,
        "call",
        &[s(ctx), s("set"), Some(ArgValue::Json(args))],
    )
    .await
}

#[tokio::test]
async fn calls_go_sealed_and_only_sealed() {
    let node = Node::sealed().await;
    let conn = node.with_key();
    assert!(conn.is_sealed());
    let ctx = context(&conn).await;
    set(&conn, &ctx, "greeting", "hello, TD").await.unwrap();
    let got = call(
        &conn,
        "call",
        &[
            s(&ctx),
            s("get"),
            Some(ArgValue::Json(json!({ "key": "greeting" }))),
        ],
    )
    .await
    .unwrap();
    assert_eq!(got, json!("hello, TD"));
    let err = call(&conn, "get_context", &[s(&"1".repeat(32))])
        .await
        .unwrap_err();
    assert_eq!(
        err.kind(),
        ErrorKind::NotFound,
        "inner statuses come through: {err}"
    );

    // Every request the node routed was opened from an envelope, over one
    // session; an unsealed one is refused.
    let log = node.requests().await;
    assert!(log.len() >= 6, "{log:?}");
    assert!(log.iter().all(|r| r["sealed"] == json!(true)), "{log:?}");
    let status = node.status().await;
    assert_eq!(status["handshakes"], json!(1));
    assert_eq!(status["requests"].as_u64(), Some(log.len() as u64));
    let plain = Connection::new(&node.base, None, Config::default()).unwrap();
    let err = call(&plain, "list_contexts", &[]).await.unwrap_err();
    assert_eq!(err.status(), Some(403), "{err}");
}

#[tokio::test]
async fn a_large_answer_streams_in_many_frames() {
    let node = Node::sealed().await;
    let conn = node.with_key();
    let data: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
    let (_, upload) = find("upload_blob").unwrap();
    let mut args = vec![None; upload.args.len()];
    args.truncate(upload.args.len());
    let reply = conn
        .upload(
            conn.prepare(upload, &args).unwrap(),
            UploadSource::Bytes(bytes::Bytes::from(data.clone())),
            Some(data.len() as u64),
            Transfer::new(None),
        )
        .await
        .unwrap();
    let v: Value = serde_json::from_slice(&reply.body).unwrap();
    let id = v["data"]["blob_id"].as_str().unwrap().to_owned();

    let (_, download) = find("download_blob").unwrap();
    let mut args = vec![None; download.args.len()];
    args[0] = s(&id);
    let transfer = Transfer::new(None);
    let mut dl = conn
        .download(
            conn.prepare(download, &args).unwrap(),
            Arc::clone(&transfer),
        )
        .await
        .unwrap();
    let mut got = Vec::new();
    let mut chunks = 0;
    while let Some(chunk) = dl.chunk().await.unwrap() {
        got.extend_from_slice(&chunk);
        chunks += 1;
    }
    assert_eq!(got.len(), data.len());
    assert!(got == data, "the blob came back intact");
    assert!(chunks > 40, "it streamed ({chunks} chunks)");
    // Head, 46 data frames of at most 64 KiB, end.
    let frames = node.status().await["lastFrames"].as_u64().unwrap();
    assert_eq!(frames, 2 + data.len().div_ceil(64 * 1024) as u64);
}

#[tokio::test]
async fn a_session_the_node_dropped_is_renewed_and_the_call_sent_again() {
    let node = Node::sealed().await;
    let conn = node.with_key();
    call(&conn, "list_contexts", &[]).await.unwrap();
    node.control(json!({ "forgetSessions": true })).await;
    // POST included: the node refused the envelope before anything ran.
    let ctx = context(&conn).await;
    set(&conn, &ctx, "k", "v").await.unwrap();
    let status = node.status().await;
    assert_eq!(status["handshakes"], json!(2));
    assert_eq!(status["refusals"]["unknown_session"], json!(1));
}

#[tokio::test]
async fn a_session_is_renewed_before_the_node_would_drop_it() {
    let node = Node::sealed().await;
    node.control(json!({ "lifetimeSecs": 2 })).await;
    let conn = node.with_key();
    call(&conn, "list_contexts", &[]).await.unwrap();
    call(&conn, "list_contexts", &[]).await.unwrap();
    assert_eq!(node.status().await["handshakes"], json!(1));
    // Renewed a second before the end of its two-second life.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    call(&conn, "list_contexts", &[]).await.unwrap();
    let status = node.status().await;
    assert_eq!(status["handshakes"], json!(2));
    assert_eq!(status["refusals"], json!({}));
}

#[tokio::test]
async fn busy_is_waited_out_once() {
    let node = Node::sealed().await;
    let conn = node.with_key();
    // One refused handshake, then one refused envelope.
    node.control(json!({ "busy": 1, "retryAfter": "0.05" }))
        .await;
    call(&conn, "list_contexts", &[]).await.unwrap();
    node.control(json!({ "busy": 1 })).await;
    call(&conn, "list_contexts", &[]).await.unwrap();
    assert_eq!(node.status().await["refusals"]["busy"], json!(2));
    // Busy twice in a row is the node's answer (without the connection's
    // own retries of a GET answered 503).
    node.control(json!({ "busy": 2 })).await;
    let once = conn.with_options(None, Some(0));
    let err = call(&once, "list_contexts", &[]).await.unwrap_err();
    assert_eq!(err.status(), Some(503), "{err}");
    assert!(err.to_string().contains("busy"), "{err}");
}

#[tokio::test]
async fn a_tampered_or_cut_answer_is_refused() {
    let node = Node::sealed().await;
    let conn = node.with_key();
    call(&conn, "list_contexts", &[]).await.unwrap();
    for (control, what) in [
        (json!({ "tamperFrame": 0 }), "did not open"),
        (json!({ "tamperFrame": 1 }), "did not open"),
        (json!({ "tamperFrame": 2 }), "did not open"),
        (json!({ "cutShort": true }), "cut short"),
    ] {
        node.control(control.clone()).await;
        let err = call(&conn, "list_contexts", &[]).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::SealedTransport, "{control}: {err}");
        assert!(err.to_string().contains(what), "{control}: {err}");
    }
    // The session is still good.
    call(&conn, "list_contexts", &[]).await.unwrap();
}

#[tokio::test]
async fn a_restarted_node_is_refused_when_its_key_was_given() {
    let node = Node::sealed().await;
    let conn = node.with_key();
    call(&conn, "list_contexts", &[]).await.unwrap();
    node.control(json!({ "transportSecret": hex::encode([0x23; 32]) }))
        .await;
    let err = call(&conn, "list_contexts", &[]).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Attestation, "{err}");
    assert!(err.to_string().contains("restarted"), "{err}");
}

#[tokio::test]
async fn events_stream_sealed_and_websockets_are_refused() {
    let node = Node::sealed().await;
    let conn = node.with_key();
    let ctx = context(&conn).await;
    let ids = Ids::new(std::slice::from_ref(&ctx), &[]).unwrap();
    let ws = SubscribeOptions {
        transport: Transport::Ws,
        max_reconnects: 0,
        buffer: 16,
    };
    let err = conn.subscribe(ids.clone(), ws).await.err().unwrap();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument);
    assert!(err.to_string().contains("cannot be sealed"), "{err}");

    let sse = SubscribeOptions {
        transport: Transport::Sse,
        ..ws
    };
    let sub = conn.subscribe(ids, sse).await.unwrap();
    set(&conn, &ctx, "k", "v").await.unwrap();
    let event = tokio::time::timeout(Duration::from_secs(20), sub.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(event["contextId"], json!(ctx), "{event}");
    let log = node.requests().await;
    assert!(log
        .iter()
        .any(|r| r["path"] == "/sse" && r["sealed"] == json!(true)));
    assert!(log.iter().all(|r| r["sealed"] == json!(true)), "{log:?}");
}

#[tokio::test]
async fn logins_and_token_refreshes_go_sealed() {
    let config = calimero_testnode::Config::default()
        .sealed(SECRET, true)
        .auth(AuthConfig {
            username: "admin".into(),
            password: "a-good-password".into(),
            ..AuthConfig::default()
        });
    let node = Node::start(config).await;
    let key = calimero_testnode::transport_public_key(&SECRET);
    let conn = node.connect(
        KeySource::Given(key),
        AuthOptions {
            credentials: Some(Credentials::new("admin", "a-good-password").unwrap()),
            ..AuthOptions::default()
        },
    );
    call(&conn, "list_contexts", &[]).await.unwrap();
    // Expire the access token: the next call refreshes it and is replayed.
    let auth: Value = node
        .http
        .get(format!("{}/_testnode/auth", node.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let advance = auth["accessTtl"].as_u64().unwrap() + auth["leeway"].as_u64().unwrap() + 1;
    node.http
        .post(format!("{}/_testnode/auth", node.base))
        .json(&json!({ "accessTtl": 3600, "advanceClock": advance }))
        .send()
        .await
        .unwrap();
    call(&conn, "list_contexts", &[]).await.unwrap();
    let log = node.requests().await;
    let paths: Vec<&str> = log.iter().map(|r| r["path"].as_str().unwrap()).collect();
    assert!(paths.contains(&"/auth/token"), "{paths:?}");
    assert!(paths.contains(&"/auth/refresh"), "{paths:?}");
    assert!(log.iter().all(|r| r["sealed"] == json!(true)), "{log:?}");
}

#[tokio::test]
async fn a_mock_quote_is_refused_before_anything_is_sent() {
    let config = calimero_testnode::Config::default()
        .tee_mock(true)
        .sealed(SECRET, false);
    let node = Node::start(config).await;
    let m = vec!["00".repeat(48)];
    let policy = TeePolicy::new(
        &m,
        [Some(&m), Some(&m), Some(&m), Some(&m)],
        None,
        None,
        None,
    )
    .unwrap();
    let conn = node.connect(
        KeySource::Attested {
            policy: Arc::new(policy),
            collateral: None,
        },
        AuthOptions::default(),
    );
    let err = call(&conn, "list_contexts", &[]).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Attestation, "{err}");
    assert!(err.to_string().contains("mock quote"), "{err}");
    assert_eq!(conn.transport_key(), None);
    let log = node.requests().await;
    let paths: Vec<&str> = log.iter().map(|r| r["path"].as_str().unwrap()).collect();
    assert_eq!(paths, ["/admin-api/tee/attest"]);
    assert_eq!(
        serde_json::from_str::<Value>(log[0]["body"].as_str().unwrap()).unwrap()
            ["bindTransportKey"],
        json!(true)
    );
    assert_eq!(node.status().await["handshakes"], json!(0));
}
