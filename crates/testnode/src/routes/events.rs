//! Live events: `GET /sse`, `POST /sse/subscription`, `GET
//! /sse/session/{id}` and `GET /ws`, answering like the real node.
//!
//! core: crates/server/src/sse/handlers.rs (sessions, `X-SSE-Session-ID`,
//! the `connect` event, `Last-Event-ID` reconnects, subscription answers),
//! crates/server/primitives/src/sse.rs and ws.rs (request/response shapes),
//! crates/server/src/ws.rs (frames: `id` a u64 or null, anything else
//! dropped without a reply; pushes `{"id": null, "result": event}`).
//!
//! Not modelled: session persistence across restarts, the 24 h expiry,
//! presence (`Ephemeral`) seeds, per-principal session ownership (every
//! token of the test node is a node-owner token, which the real node lets
//! reuse any session) and the WebSocket `execute` method.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Path, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use futures_util::{SinkExt, StreamExt};
use hyper_util::rt::TokioIo;
use serde::Deserialize;
use serde_json::{json, Value};
use tokio::sync::broadcast::error::RecvError;
use tokio_tungstenite::tungstenite::protocol::{Role as WsRole, WebSocketConfig};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

use super::AppRouter;
use crate::error::{ApiError, Strict};
use crate::events::{Session, Subscriptions};
use crate::ids::{HexId, Id};
use crate::state::{lock, AppState};

/// The `retry:` of the `connect` event (`SSE_RETRY_TIMEOUT_MS`).
const SSE_RETRY: Duration = Duration::from_millis(3000);
/// `WS_MAX_MESSAGE_BYTES`.
const WS_MAX_MESSAGE_BYTES: usize = 16 * 1024 * 1024;

pub fn routes() -> AppRouter {
    Router::new()
        .route("/sse", get(sse))
        .route("/sse/", get(sse))
        .route("/sse/subscription", post(subscription))
        .route("/sse/session/{session_id}", get(session_info))
        .route("/ws", get(ws))
        .route("/ws/", get(ws))
}

// ------------------------------------------------------------------ SSE

/// Why a stream ended on purpose: the body fails, so hyper aborts the
/// connection (the client sees a cut, not a clean end).
#[derive(Debug)]
struct Cut;

impl std::fmt::Display for Cut {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("stream cut by /_testnode/events/drop")
    }
}

impl std::error::Error for Cut {}

fn event(session_id: u64, n: u64, data: &Value) -> Event {
    Event::default()
        .event("message")
        .id(format!("{session_id}-{n}"))
        .data(data.to_string())
}

/// `GET /sse`: a new session, or the one named by `Last-Event-ID:
/// {session}-{n}` when it still exists.
async fn sse(State(state): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    let hub = &state.events;
    let last = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|s| s.split('-').next())
        .and_then(|s| s.parse::<u64>().ok());
    let (session_id, session, reconnect) = {
        let mut sessions = lock(&hub.sessions);
        match last.and_then(|id| sessions.get(&id).map(|s| (id, Arc::clone(s)))) {
            Some((id, session)) => (id, session, true),
            None => {
                let mut id: u64 = rand::random();
                while sessions.contains_key(&id) {
                    id = rand::random();
                }
                let session = Arc::new(Mutex::new(Session {
                    counter: 1,
                    ..Session::default()
                }));
                let _ = sessions.insert(id, Arc::clone(&session));
                (id, session, false)
            }
        }
    };
    let connect = Event::default()
        .event("message")
        .id(format!("{session_id}-0"))
        .retry(SSE_RETRY)
        .data(
            json!({ "type": "connect", "session_id": session_id.to_string(), "reconnect": reconnect })
                .to_string(),
        );
    let mut drops = hub.drops();
    let _ = drops.borrow_and_update();
    let bus = hub.receiver();
    let first = futures_util::stream::once(async move { Ok::<Event, Cut>(connect) });
    let live = Some((bus, drops, session, state));
    let rest = futures_util::stream::unfold(live, move |live| async move {
        let (mut bus, mut drops, session, state) = live?;
        loop {
            tokio::select! {
                _ = drops.changed() => return Some((Err(Cut), None)),
                received = bus.recv() => match received {
                    Ok(ev) => {
                        let n = {
                            let mut s = lock(&session);
                            if !s.subscriptions.wants(ev.key) {
                                continue;
                            }
                            s.counter += 1;
                            s.counter - 1
                        };
                        let data = json!({ "result": ev.json });
                        let live = Some((bus, drops, session, state));
                        return Some((Ok(event(session_id, n, &data)), live));
                    }
                    // Too slow: events are skipped, as the node's
                    // `try_send` does.
                    Err(RecvError::Lagged(n)) => {
                        state.events.lagged(n);
                        continue;
                    }
                    Err(RecvError::Closed) => return None,
                },
            }
        }
    });
    let mut response = Sse::new(first.chain(rest))
        .keep_alive(KeepAlive::default())
        .into_response();
    let headers = response.headers_mut();
    let _ = headers.insert("x-sse-session-id", HeaderValue::from(session_id));
    let _ = headers.insert(
        "x-sse-reconnect",
        HeaderValue::from_static(if reconnect { "true" } else { "false" }),
    );
    response
}

/// `Request<Value>` of core: crates/server/primitives/src/sse.rs: the
/// envelope is axum `Json`, so its rejections are axum's plain text.
#[derive(Deserialize)]
struct SseRequest {
    id: String,
    #[serde(flatten)]
    payload: Value,
}

/// `RequestPayload` of the SSE and WebSocket primitives; the params are
/// `deny_unknown_fields` once bodies are strict (research `wire-rc83.md`
/// §2.8) [inferred: from rc.38].
#[derive(Deserialize)]
#[serde(tag = "method", content = "params", rename_all = "snake_case")]
enum Payload {
    Subscribe(Strict<Ids>),
    Unsubscribe(Strict<Ids>),
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Ids {
    #[serde(default)]
    context_ids: Vec<Id>,
    #[serde(default, deserialize_with = "hex_ids")]
    group_ids: Vec<Id>,
}

fn hex_ids<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Vec<Id>, D::Error> {
    Vec::<String>::deserialize(deserializer)?
        .iter()
        .map(|s| {
            Id::parse_hex(s).map_err(|_| {
                serde::de::Error::custom(format!("invalid hex group id {s:?}: expected 64 hex"))
            })
        })
        .collect()
}

fn sse_answer(status: StatusCode, body: Value) -> Response {
    (status, Json(body)).into_response()
}

fn sse_error(status: StatusCode, message: &str) -> Response {
    sse_answer(status, json!({ "error": message }))
}

/// `POST /sse/subscription`.
async fn subscription(
    State(state): State<Arc<AppState>>,
    Json(request): Json<SseRequest>,
) -> Response {
    let Ok(session_id) = request.id.parse::<u64>() else {
        return sse_error(StatusCode::BAD_REQUEST, "Invalid Session Id");
    };
    let payload: Payload = match serde_json::from_value(request.payload) {
        Ok(p) => p,
        Err(err) => {
            return sse_answer(
                StatusCode::BAD_REQUEST,
                json!({ "error": { "type": "ParseError", "data": err.to_string() } }),
            )
        }
    };
    let Some(session) = lock(&state.events.sessions).get(&session_id).cloned() else {
        return sse_error(
            StatusCode::NOT_FOUND,
            "Session not found. Please reconnect to SSE endpoint first.",
        );
    };
    let mut session = lock(&session);
    let subs = &mut session.subscriptions;
    match payload {
        Payload::Subscribe(Strict(ids)) => {
            subs.contexts.extend(ids.context_ids.iter().copied());
            subs.groups.extend(ids.group_ids.iter().copied());
            sse_answer(
                StatusCode::OK,
                json!({ "result": {
                    "status": "subscribed",
                    "contexts": ids.context_ids,
                    "groups": ids.group_ids.iter().map(|g| HexId(*g)).collect::<Vec<_>>(),
                }}),
            )
        }
        Payload::Unsubscribe(Strict(ids)) => {
            let unsubscribed: Vec<Id> = ids
                .context_ids
                .iter()
                .copied()
                .filter(|c| subs.contexts.remove(c))
                .collect();
            for g in &ids.group_ids {
                let _ = subs.groups.remove(g);
            }
            sse_answer(
                StatusCode::OK,
                json!({ "result": {
                    "status": "unsubscribed",
                    "unsubscribed": unsubscribed,
                    "requested": ids.context_ids,
                }}),
            )
        }
    }
}

/// `GET /sse/session/{session_id}`.
async fn session_info(State(state): State<Arc<AppState>>, Path(session_id): Path<u64>) -> Response {
    let Some(session) = lock(&state.events.sessions).get(&session_id).cloned() else {
        return sse_error(StatusCode::NOT_FOUND, "Session not found");
    };
    let session = lock(&session);
    sse_answer(
        StatusCode::OK,
        json!({ "result": {
            "session_id": session_id,
            "subscriptions": session.subscriptions.contexts,
            "event_counter": session.counter,
            "status": "active",
        }}),
    )
}

// ------------------------------------------------------------ WebSocket

fn bad_upgrade(message: &'static str) -> Response {
    ApiError::Text(StatusCode::BAD_REQUEST, message.to_owned()).into_response()
}

fn header_has(headers: &HeaderMap, name: header::HeaderName, token: &str) -> bool {
    headers
        .get_all(name)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|v| v.trim().eq_ignore_ascii_case(token))
}

/// `GET /ws`: the upgrade (axum's `WebSocketUpgrade` checks and rejection
/// texts), then one task per connection.
async fn ws(State(state): State<Arc<AppState>>, mut req: Request) -> Response {
    let headers = req.headers();
    if !header_has(headers, header::CONNECTION, "upgrade") {
        return bad_upgrade("Connection header did not include 'upgrade'");
    }
    if !header_has(headers, header::UPGRADE, "websocket") {
        return bad_upgrade("`Upgrade` header did not include 'websocket'");
    }
    if headers
        .get(header::SEC_WEBSOCKET_VERSION)
        .is_none_or(|v| v != "13")
    {
        return bad_upgrade("`Sec-WebSocket-Version` header did not include '13'");
    }
    let Some(key) = headers.get(header::SEC_WEBSOCKET_KEY).cloned() else {
        return bad_upgrade("`Sec-WebSocket-Key` header missing");
    };
    let Some(on_upgrade) = req.extensions_mut().remove::<hyper::upgrade::OnUpgrade>() else {
        return ApiError::Text(
            StatusCode::UPGRADE_REQUIRED,
            "WebSocket request couldn't be upgraded since no upgrade state was present".into(),
        )
        .into_response();
    };
    let accept = tokio_tungstenite::tungstenite::handshake::derive_accept_key(key.as_bytes());
    // The connection's task speaks the node's release too (its id encoding).
    let release = state.config.release;
    drop(tokio::spawn(crate::release::scope(release, async move {
        let Ok(upgraded) = on_upgrade.await else {
            return;
        };
        let config = WebSocketConfig::default()
            .max_message_size(Some(WS_MAX_MESSAGE_BYTES))
            .max_frame_size(Some(WS_MAX_MESSAGE_BYTES));
        let socket =
            WebSocketStream::from_raw_socket(TokioIo::new(upgraded), WsRole::Server, Some(config))
                .await;
        serve_socket(&state, socket).await;
    })));
    let mut response = StatusCode::SWITCHING_PROTOCOLS.into_response();
    let headers = response.headers_mut();
    let _ = headers.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
    let _ = headers.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
    if let Ok(v) = HeaderValue::from_str(&accept) {
        let _ = headers.insert(header::SEC_WEBSOCKET_ACCEPT, v);
    }
    response
}

/// `Request<P>` of core: crates/server/primitives/src/ws.rs.
#[derive(Deserialize)]
struct WsRequest {
    id: Option<u64>,
    #[serde(flatten)]
    payload: Value,
}

async fn serve_socket<S>(state: &AppState, socket: WebSocketStream<S>)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let (mut sink, mut stream) = socket.split();
    let mut drops = state.events.drops();
    let _ = drops.borrow_and_update();
    let mut bus = state.events.receiver();
    let mut subs = Subscriptions::default();
    loop {
        let reply = tokio::select! {
            // Cut: drop the socket without a close frame.
            _ = drops.changed() => return,
            incoming = stream.next() => match incoming {
                Some(Ok(Message::Text(text))) => match answer(&mut subs, text.as_str()) {
                    Some(reply) => reply,
                    None => continue,
                },
                // Pings are answered by tungstenite itself.
                Some(Ok(Message::Close(_))) | Some(Err(_)) | None => return,
                Some(Ok(_)) => continue,
            },
            received = bus.recv() => match received {
                Ok(ev) if subs.wants(ev.key) => json!({ "id": null, "result": ev.json }),
                Ok(_) => continue,
                Err(RecvError::Lagged(n)) => {
                    state.events.lagged(n);
                    continue;
                }
                Err(RecvError::Closed) => return,
            },
        };
        if sink.send(Message::text(reply.to_string())).await.is_err() {
            return;
        }
    }
}

/// The answer to one text frame; `None` for frames the node drops (not a
/// JSON request with an `id` that is a u64 or null).
fn answer(subs: &mut Subscriptions, text: &str) -> Option<Value> {
    let request: WsRequest = serde_json::from_str(text).ok()?;
    let id = request.id;
    let ids_json = |contexts: &[Id], groups: &[Id]| {
        let mut result = json!({ "contextIds": contexts });
        if !groups.is_empty() {
            result["groupIds"] = json!(groups.iter().map(|g| HexId(*g)).collect::<Vec<_>>());
        }
        result
    };
    let result = match serde_json::from_value::<Payload>(request.payload) {
        Ok(Payload::Subscribe(Strict(ids))) => {
            subs.contexts.extend(ids.context_ids.iter().copied());
            subs.groups.extend(ids.group_ids.iter().copied());
            ids_json(&ids.context_ids, &ids.group_ids)
        }
        Ok(Payload::Unsubscribe(Strict(ids))) => {
            let contexts: BTreeSet<Id> = ids.context_ids.iter().copied().collect();
            subs.contexts.retain(|c| !contexts.contains(c));
            for g in &ids.group_ids {
                let _ = subs.groups.remove(g);
            }
            ids_json(&ids.context_ids, &ids.group_ids)
        }
        Err(err) => {
            return Some(json!({
                "id": id,
                "error": { "type": "ParseError", "data": err.to_string() },
            }))
        }
    };
    Some(json!({ "id": id, "result": result }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_follow_the_node() {
        let mut subs = Subscriptions::default();
        let ctx = Id([7; 32]);
        let group = Id([9; 32]);
        // Not a u64 id: dropped without a reply.
        assert!(answer(&mut subs, r#"{"id":"1","method":"subscribe","params":{}}"#).is_none());
        assert!(answer(&mut subs, "not json").is_none());
        let reply = answer(
            &mut subs,
            &format!(
                r#"{{"id":3,"method":"subscribe","params":{{"contextIds":["{}"],"groupIds":["{}"]}}}}"#,
                ctx.to_bs58(),
                group.to_hex()
            ),
        )
        .unwrap();
        assert_eq!(reply["id"], 3);
        assert_eq!(reply["result"]["contextIds"][0], ctx.to_bs58());
        assert_eq!(reply["result"]["groupIds"][0], group.to_hex());
        assert!(subs.contexts.contains(&ctx) && subs.groups.contains(&group));
        let reply = answer(&mut subs, r#"{"id":null,"method":"nope","params":{}}"#).unwrap();
        assert_eq!(reply["error"]["type"], "ParseError");
        let reply = answer(
            &mut subs,
            &format!(
                r#"{{"id":4,"method":"unsubscribe","params":{{"contextIds":["{}"]}}}}"#,
                ctx.to_bs58()
            ),
        )
        .unwrap();
        assert!(reply["result"].get("groupIds").is_none());
        assert!(subs.contexts.is_empty());
    }
}
