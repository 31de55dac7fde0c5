//! Live events end to end against the in-process test node: SSE and
//! WebSocket subscriptions, the node's `StateMutation` on a JSON-RPC write,
//! unsubscribe, a cut stream (reconnect marker, counter, next event),
//! giving up after the configured attempts, and reads dropped at any moment
//! losing no event.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

mod common;

use calimero_client_core::events::{Ids, SubscribeOptions, Subscription, Transport};
use calimero_client_core::{ArgValue, Config, Connection, ErrorKind};
use common::{call, s};
use serde_json::{json, Value};

const WAIT: Duration = Duration::from_secs(20);

struct Node {
    base: String,
    conn: Connection,
}

async fn start() -> Node {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(calimero_testnode::serve(listener, Default::default()));
    let base = format!("http://{addr}");
    let conn = Connection::new(&base, None, Config::default()).unwrap();
    Node { base, conn }
}

/// An application, a namespace and `n` contexts.
async fn contexts(conn: &Connection, n: usize) -> Vec<String> {
    let wasm = std::env::temp_dir().join(format!("core-events-{}.wasm", std::process::id()));
    std::fs::write(&wasm, b"\0asm\x01\0\0\0core-events").unwrap();
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
    let mut out = Vec::new();
    for _ in 0..n {
        let ctx = call(conn, "create_context", &[s(&app_id), s(&ns_id)])
            .await
            .unwrap();
        out.push(ctx["data"]["contextId"].as_str().unwrap().to_owned());
    }
    out
}

async fn set(conn: &Connection, ctx: &str, key: &str) {
    let args = json!({"key": key, "value": "v"});
    call(
        conn,
        "call",
        &[s(ctx), s("set"), Some(ArgValue::Json(args))],
    )
    .await
    .unwrap();
}

async fn next(sub: &Subscription) -> Value {
    tokio::time::timeout(WAIT, sub.next())
        .await
        .expect("an event in time")
        .unwrap()
        .expect("the subscription is open")
}

fn ids(contexts: &[&str]) -> Ids {
    let contexts: Vec<String> = contexts.iter().map(|c| (*c).to_owned()).collect();
    Ids::new(&contexts, &[]).unwrap()
}

async fn drop_streams(base: &str) -> Value {
    reqwest::Client::new()
        .post(format!("{base}/_testnode/events/drop"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

async fn scenario(transport: Transport) {
    let node = start().await;
    let conn = &node.conn;
    let ctx = contexts(conn, 2).await;
    let options = SubscribeOptions {
        transport,
        ..SubscribeOptions::default()
    };
    let sub = conn.subscribe(ids(&[&ctx[0]]), options).await.unwrap();
    if transport == Transport::Sse {
        assert!(sub.session_id().is_some());
    }

    set(conn, &ctx[0], "a").await;
    let event = next(&sub).await;
    assert_eq!(event["contextId"], json!(ctx[0]));
    assert_eq!(event["type"], "StateMutation");
    assert!(event["data"]["newRoot"].is_string());
    let emitted = &event["data"]["events"][0];
    assert_eq!(emitted["kind"], "Inserted");
    let payload: Vec<u8> = serde_json::from_value(emitted["data"].clone()).unwrap();
    assert_eq!(
        serde_json::from_slice::<Value>(&payload).unwrap(),
        json!({"key": "a", "value": "v"})
    );

    // The node cuts the stream: a marker, the counter, and the next event.
    assert_eq!(drop_streams(&node.base).await["dropped"], 1);
    let marker = next(&sub).await;
    assert_eq!(marker["type"], "reconnected");
    assert_eq!(marker["transport"], transport.as_str());
    assert_eq!(marker["attempt"], 1);
    assert_eq!(sub.reconnects(), 1);
    set(conn, &ctx[0], "b").await;
    assert_eq!(next(&sub).await["type"], "StateMutation");

    // More ids while it runs; then unsubscribing stops the first context.
    let answer = sub.subscribe(ids(&[&ctx[1]])).await.unwrap();
    assert!(answer.is_some(), "{transport:?}: the node's answer");
    sub.unsubscribe(ids(&[&ctx[0]])).await.unwrap();
    assert_eq!(sub.ids().contexts, vec![ctx[1].clone()]);
    set(conn, &ctx[0], "c").await;
    set(conn, &ctx[1], "d").await;
    let event = next(&sub).await;
    assert_eq!(event["contextId"], json!(ctx[1]), "ctx[0] was unsubscribed");

    sub.close();
    assert!(sub.next().await.unwrap().is_none());
    assert!(sub.subscribe(ids(&[&ctx[0]])).await.is_err());
}

#[tokio::test]
async fn sse_subscription_lifecycle() {
    scenario(Transport::Sse).await;
}

#[tokio::test]
async fn ws_subscription_lifecycle() {
    scenario(Transport::Ws).await;
}

#[tokio::test]
async fn gives_up_after_the_configured_attempts() {
    for transport in [Transport::Sse, Transport::Ws] {
        let node = start().await;
        let ctx = contexts(&node.conn, 1).await;
        let options = SubscribeOptions {
            transport,
            max_reconnects: 2,
            ..SubscribeOptions::default()
        };
        let sub = node.conn.subscribe(ids(&[&ctx[0]]), options).await.unwrap();
        // The node stops answering the stream's route, then cuts it.
        let path = match transport {
            Transport::Sse => "/sse",
            Transport::Ws => "/ws",
        };
        let fault = reqwest::Client::new()
            .post(format!("{}/_testnode/faults", node.base))
            .json(&json!({"path": path, "kind": "drop"}))
            .send()
            .await
            .unwrap();
        assert!(fault.status().is_success());
        let _ = drop_streams(&node.base).await;
        let err = tokio::time::timeout(WAIT, sub.next())
            .await
            .expect("an answer in time")
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Network, "{transport:?}: {err}");
        assert_eq!(sub.reconnects(), 0);
        assert!(sub.next().await.unwrap().is_none(), "ended");
    }
}

#[tokio::test]
async fn bad_ids_fail_before_any_io() {
    let err = Ids::new(&["not-base58-0OIl".into()], &[]).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument);
    // Nothing listens there: an I/O attempt would be a network error.
    let conn = Connection::new("http://127.0.0.1:9", None, Config::default()).unwrap();
    let err = conn
        .subscribe(Ids::default(), SubscribeOptions::default())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Network);
}

/// A node's WebSocket ping is answered while the subscription waits (the
/// real node closes a connection whose ping goes unanswered for 10 s).
#[tokio::test]
async fn ws_pings_are_answered() {
    use futures_util::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::Message;

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let node = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        let mut ws = tokio_tungstenite::accept_async(tcp).await.unwrap();
        let Some(Ok(Message::Text(text))) = ws.next().await else {
            panic!("expected the subscribe frame");
        };
        let frame: Value = serde_json::from_str(text.as_str()).unwrap();
        assert_eq!(frame["method"], "subscribe");
        assert!(frame["id"].is_u64());
        let answer =
            json!({"id": frame["id"], "result": {"contextIds": frame["params"]["contextIds"]}});
        ws.send(Message::text(answer.to_string())).await.unwrap();
        ws.send(Message::Ping(bytes::Bytes::from_static(b"are you there")))
            .await
            .unwrap();
        loop {
            match ws.next().await {
                Some(Ok(Message::Pong(payload))) => return payload,
                Some(Ok(_)) => {}
                other => panic!("no pong: {other:?}"),
            }
        }
    });
    // A bare WebSocket peer (no admin API to probe): the release is pinned.
    let config = Config {
        node_version: Some(calimero_client_core::Release(25)),
        ..Config::default()
    };
    let conn = Connection::new(&format!("http://{addr}"), None, config).unwrap();
    let ctx = bs58::encode([3u8; 32]).into_string();
    let options = SubscribeOptions {
        transport: Transport::Ws,
        ..SubscribeOptions::default()
    };
    let sub = conn.subscribe(ids(&[&ctx]), options).await.unwrap();
    let pong = tokio::time::timeout(WAIT, node).await.unwrap().unwrap();
    assert_eq!(&pong[..], b"are you there");
    sub.close();
}

/// The key a `set` wrote, from its `StateMutation`.
fn key_of(event: &Value) -> String {
    let payload: Vec<u8> =
        serde_json::from_value(event["data"]["events"][0]["data"].clone()).expect("an app event");
    serde_json::from_slice::<Value>(&payload).unwrap()["key"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// `ready` takes no event: once it answered, whether its answer is used or
/// not, the event is `try_next`'s; a `ready` dropped while waiting leaves
/// the next event too.
#[tokio::test]
async fn ready_takes_no_event() {
    for transport in [Transport::Sse, Transport::Ws] {
        let node = start().await;
        let conn = &node.conn;
        let ctx = contexts(conn, 1).await;
        let options = SubscribeOptions {
            transport,
            ..SubscribeOptions::default()
        };
        let sub = conn.subscribe(ids(&[&ctx[0]]), options).await.unwrap();
        assert!(sub.try_next().unwrap().is_pending());
        // Dropped while it waits for an event.
        let waiting = tokio::time::timeout(Duration::from_millis(20), sub.ready()).await;
        assert!(waiting.is_err(), "{transport:?}: nothing to wait for yet");

        set(conn, &ctx[0], "a").await;
        tokio::time::timeout(WAIT, sub.ready()).await.unwrap();
        // Its answer ignored: the event stays, however many ask.
        tokio::time::timeout(WAIT, sub.ready()).await.unwrap();
        let Poll::Ready(Some(event)) = sub.try_next().unwrap() else {
            panic!("{transport:?}: the event is held");
        };
        assert_eq!(key_of(&event), "a");
        assert!(sub.try_next().unwrap().is_pending());

        set(conn, &ctx[0], "b").await;
        assert_eq!(key_of(&next(&sub).await), "b");
        sub.close();
        assert_eq!(sub.try_next().unwrap(), Poll::Ready(None));
        tokio::time::timeout(WAIT, sub.ready()).await.unwrap();
    }
}

/// Reads dropped at any moment (timeouts from 0 to a few hundred
/// microseconds), two readers at once, while a writer writes: every event
/// is read exactly once, each reader's in the node's order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_dropped_at_any_moment_lose_no_event() {
    const EVENTS: usize = 150;
    for transport in [Transport::Sse, Transport::Ws] {
        let node = start().await;
        let conn = node.conn.clone();
        let ctx = contexts(&conn, 1).await;
        let options = SubscribeOptions {
            transport,
            ..SubscribeOptions::default()
        };
        let sub = Arc::new(conn.subscribe(ids(&[&ctx[0]]), options).await.unwrap());
        let writer = {
            let ctx = ctx[0].clone();
            tokio::spawn(async move {
                for i in 0..EVENTS {
                    set(&conn, &ctx, &format!("{i:04}")).await;
                }
            })
        };
        let total = Arc::new(AtomicUsize::new(0));
        let reader = |seed: u64| {
            let sub = Arc::clone(&sub);
            let total = Arc::clone(&total);
            tokio::spawn(async move {
                let (mut got, mut dropped, mut step) = (Vec::new(), 0u32, seed);
                let deadline = tokio::time::Instant::now() + WAIT;
                // Until both have read every event (the last is "end").
                while total.load(Ordering::SeqCst) <= EVENTS {
                    assert!(tokio::time::Instant::now() < deadline, "events missing");
                    step = step.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
                    let wait = Duration::from_micros((step >> 33) % 400);
                    match tokio::time::timeout(wait, sub.next()).await {
                        Err(_) => dropped += 1,
                        Ok(event) => {
                            got.push(key_of(&event.unwrap().expect("open")));
                            let _ = total.fetch_add(1, Ordering::SeqCst);
                        }
                    }
                }
                (got, dropped)
            })
        };
        let readers = [reader(1), reader(2)];
        writer.await.unwrap();
        set(&node.conn, &ctx[0], "end").await;
        let mut all = Vec::new();
        let mut dropped = 0;
        for r in readers {
            let (got, d) = r.await.unwrap();
            let mut sorted = got.clone();
            sorted.sort();
            assert_eq!(got, sorted, "{transport:?}: one reader's events in order");
            dropped += d;
            all.extend(got);
        }
        all.sort();
        let mut expected: Vec<String> = (0..EVENTS).map(|i| format!("{i:04}")).collect();
        expected.push("end".into());
        assert_eq!(all, expected, "{transport:?}: each event once");
        assert!(dropped > 0, "{transport:?}: reads were dropped");
    }
}
