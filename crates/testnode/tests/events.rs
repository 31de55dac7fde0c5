//! `/sse`, `/sse/subscription`, `/sse/session/{id}`, `/ws` and
//! `/_testnode/events/drop` on the wire (core: crates/server/src/sse/handlers.rs,
//! crates/server/src/ws.rs).

mod common;

use std::time::Duration;

use common::Node;
use futures_util::StreamExt;
use reqwest::StatusCode;
use serde_json::{json, Value};

const WAIT: Duration = Duration::from_secs(20);

/// Reads SSE `data:` payloads (with their `id:`) until `n` arrived.
async fn sse_events(response: &mut reqwest::Response, n: usize) -> Vec<(String, Value)> {
    let mut text = String::new();
    let mut out = Vec::new();
    while out.len() < n {
        let chunk = tokio::time::timeout(WAIT, response.chunk())
            .await
            .expect("an event in time")
            .unwrap()
            .expect("the stream is open");
        text.push_str(std::str::from_utf8(&chunk).unwrap());
        while let Some(end) = text.find("\n\n") {
            let block: String = text.drain(..end + 2).collect();
            let id = block.lines().find_map(|l| l.strip_prefix("id: "));
            let data = block.lines().find_map(|l| l.strip_prefix("data: "));
            if let (Some(id), Some(data)) = (id, data) {
                out.push((id.to_owned(), serde_json::from_str(data).unwrap()));
            }
        }
    }
    out
}

#[tokio::test]
async fn sse_sessions_subscriptions_and_events() {
    let node = Node::default().await;
    let (_, _, ctx, _) = node.setup(b"\0asm\x01\0\0\0sse").await;

    let mut stream = node
        .client
        .get(format!("{}/sse", node.base))
        .send()
        .await
        .unwrap();
    assert_eq!(stream.status(), StatusCode::OK);
    let session = stream.headers()["x-sse-session-id"]
        .to_str()
        .unwrap()
        .to_owned();
    assert_eq!(stream.headers()["x-sse-reconnect"], "false");
    assert!(session.parse::<u64>().is_ok());
    let first = sse_events(&mut stream, 1).await;
    assert_eq!(first[0].0, format!("{session}-0"));
    assert_eq!(
        first[0].1,
        json!({"type": "connect", "session_id": session, "reconnect": false})
    );

    // The subscription answers of the node.
    let subscribe = |id: &str, method: &str, params: Value| {
        json!({"id": id, "method": method, "params": params}).to_string()
    };
    let reply = node
        .post(
            "/sse/subscription",
            &subscribe(&session, "subscribe", json!({"contextIds": [ctx]})),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(
        reply.json(),
        json!({"result": {"status": "subscribed", "contexts": [ctx], "groups": []}})
    );
    let reply = node
        .post("/sse/subscription", &subscribe("x", "subscribe", json!({})))
        .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert_eq!(reply.json(), json!({"error": "Invalid Session Id"}));
    let reply = node
        .post("/sse/subscription", &subscribe("7", "subscribe", json!({})))
        .await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
    let reply = node
        .post(
            "/sse/subscription",
            &subscribe(&session, "subscribe", json!({"groupIds": ["zz"]})),
        )
        .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert_eq!(reply.json()["error"]["type"], "ParseError");
    let info = node.get(&format!("/sse/session/{session}")).await.json();
    assert_eq!(info["result"]["subscriptions"], json!([ctx]));

    // A write: StateMutation with the kv-store's event.
    node.execute(&ctx, "set", json!({"key": "k", "value": "v"}))
        .await;
    let event = &sse_events(&mut stream, 1).await[0];
    assert_eq!(event.0, format!("{session}-1"));
    let result = &event.1["result"];
    assert_eq!(result["contextId"], json!(ctx));
    assert_eq!(result["type"], "StateMutation");
    assert_eq!(result["data"]["events"][0]["kind"], "Inserted");
    assert_eq!(result["data"]["events"][0]["handler"], Value::Null);

    // Cut: the stream breaks; the session resumes with Last-Event-ID.
    let dropped = node.post("/_testnode/events/drop", "").await.json();
    assert_eq!(dropped, json!({"dropped": 1}));
    let cut = tokio::time::timeout(WAIT, async {
        loop {
            match stream.chunk().await {
                Ok(Some(_)) => {}
                other => return other.is_err(),
            }
        }
    })
    .await
    .unwrap();
    assert!(cut, "the stream fails rather than ending cleanly");
    let mut resumed = node
        .client
        .get(format!("{}/sse", node.base))
        .header("Last-Event-ID", format!("{session}-1"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        resumed.headers()["x-sse-session-id"].to_str().unwrap(),
        session
    );
    assert_eq!(resumed.headers()["x-sse-reconnect"], "true");
    assert_eq!(sse_events(&mut resumed, 1).await[0].1["reconnect"], true);
    node.execute(&ctx, "remove", json!({"key": "k"})).await;
    let event = &sse_events(&mut resumed, 1).await[0].1;
    assert_eq!(event["result"]["data"]["events"][0]["kind"], "Removed");
}

#[tokio::test]
async fn ws_frames_and_group_events() {
    use futures_util::SinkExt;
    use tokio_tungstenite::tungstenite::Message;

    let node = Node::default().await;
    let (_, ns, _, _) = node.setup(b"\0asm\x01\0\0\0ws").await;
    // Not an upgrade: axum's rejection.
    let plain = node.get("/ws").await;
    assert_eq!(plain.status, StatusCode::BAD_REQUEST);

    let url = format!("{}/ws", node.base.replacen("http", "ws", 1));
    let (mut ws, _) = tokio_tungstenite::connect_async(url).await.unwrap();
    ws.send(Message::text(
        json!({"id": "1", "method": "subscribe", "params": {}}).to_string(),
    ))
    .await
    .unwrap();
    ws.send(Message::text(
        json!({"id": 2, "method": "subscribe", "params": {"groupIds": [ns]}}).to_string(),
    ))
    .await
    .unwrap();
    let answer = read_text(&mut ws).await;
    // The string id was dropped unanswered: the first answer is for id 2.
    assert_eq!(
        answer,
        json!({"id": 2, "result": {"contextIds": [], "groupIds": [ns]}})
    );
    let account = "ab".repeat(32);
    let reply = node
        .post(
            &format!("/admin-api/groups/{ns}/members"),
            &json!({"members": [{"identity": account, "role": "ReadOnly"}]}).to_string(),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert_eq!(
        read_text(&mut ws).await,
        json!({"id": null, "result": {
            "groupId": ns, "type": "MemberAdded",
            "data": {"memberAccount": account, "role": "ReadOnly"},
        }})
    );
    let dropped = node.post("/_testnode/events/drop", "").await.json();
    assert_eq!(dropped, json!({"dropped": 1}));
    let end = tokio::time::timeout(WAIT, ws.next()).await.unwrap();
    assert!(
        !matches!(end, Some(Ok(Message::Close(_)))),
        "cut without a close frame: {end:?}"
    );
}

async fn read_text<S>(ws: &mut S) -> Value
where
    S: futures_util::Stream<
            Item = Result<
                tokio_tungstenite::tungstenite::Message,
                tokio_tungstenite::tungstenite::Error,
            >,
        > + Unpin,
{
    loop {
        let message = tokio::time::timeout(WAIT, ws.next())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        if let tokio_tungstenite::tungstenite::Message::Text(text) = message {
            return serde_json::from_str(text.as_str()).unwrap();
        }
    }
}

/// `GET /_testnode/events`: every emitted event numbered per node, in the
/// order the streams carry them; the streams themselves carry no number.
#[tokio::test]
async fn the_event_log_numbers_every_event() {
    let node = Node::default().await;
    let (_, ns, ctx, _) = node.setup(b"\0asm\x01\0\0\0log").await;
    let mut stream = node
        .client
        .get(format!("{}/sse", node.base))
        .send()
        .await
        .unwrap();
    let session = stream.headers()["x-sse-session-id"]
        .to_str()
        .unwrap()
        .to_owned();
    let body = json!({"id": session, "method": "subscribe", "params": {"contextIds": [ctx]}});
    let reply = node.post("/sse/subscription", &body.to_string()).await;
    assert_eq!(reply.status, StatusCode::OK);
    let start = node.get("/_testnode/events").await.json()["next"]
        .as_u64()
        .unwrap();

    for key in ["a", "b"] {
        node.execute(&ctx, "set", json!({"key": key, "value": "v"}))
            .await;
    }
    let account = "cd".repeat(32);
    let members = json!({"members": [{"identity": account, "role": "Member"}]});
    let reply = node
        .post(
            &format!("/admin-api/groups/{ns}/members"),
            &members.to_string(),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);

    let log = node
        .get(&format!("/_testnode/events?since={}", start - 1))
        .await
        .json();
    assert_eq!(log["next"], start + 3);
    assert_eq!(log["lagged"], 0);
    assert_eq!(log["live"], 1);
    let events = log["events"].as_array().unwrap();
    let seqs: Vec<u64> = events.iter().map(|e| e["seq"].as_u64().unwrap()).collect();
    assert_eq!(seqs, [start, start + 1, start + 2]);
    assert_eq!(events[2]["event"]["type"], "MemberAdded");
    // The stream carries the logged events, as the node's shape, unnumbered.
    let carried = sse_events(&mut stream, 3).await;
    assert_eq!(carried[1].1, json!({"result": events[0]["event"]}));
    assert_eq!(carried[2].1, json!({"result": events[1]["event"]}));
    assert!(!carried[1].1.to_string().contains("\"seq\""));

    let bad = node.get("/_testnode/events?since=x").await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    // A reset clears the log (the numbers go on), and answers once the
    // streams it cut have ended.
    let _ = node.post("/_testnode/reset", "").await;
    let log = node.get("/_testnode/events").await.json();
    assert_eq!(log["events"], json!([]));
    assert_eq!(log["live"], 0);
    assert_eq!(log["next"], start + 3);
}
