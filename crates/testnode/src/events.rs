//! The node's event bus: what the handlers emit (`StateMutation` on a
//! JSON-RPC write, group membership changes) and what `/sse` sessions and
//! `/ws` connections deliver to their subscribers.
//!
//! Shapes follow `NodeEvent` (core: crates/primitives/src/events.rs, an
//! untagged enum): context events `{"contextId": bs58, "type", "data"}`,
//! group membership events `{"groupId": hex, "type", "data":
//! {"memberAccount": hex, "role"?}}`.
//!
//! For the tests' accounting, every emitted event gets a sequence number
//! (per node, from 1, never reused) and is kept in a log that only the
//! control API shows (`GET /_testnode/events`): what streams send is the
//! node's shape, unchanged.

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use serde_json::{json, Value};
use tokio::sync::{broadcast, watch};

use crate::ids::{HexId, Id};
use crate::state::{lock, Role};

/// Events buffered per receiver before a slow stream misses some (the
/// node's own streams `try_send` and skip, node-api.md 1.13).
const BUS_CAPACITY: usize = 1024;
/// Emitted events kept for `GET /_testnode/events` (the oldest go first).
const LOG_CAPACITY: usize = 100_000;

/// One event and what it is keyed on.
#[derive(Clone, Debug)]
pub struct NodeEvent {
    pub key: Key,
    pub json: Value,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Key {
    Context(Id),
    Group(Id),
}

/// What a stream is subscribed to.
#[derive(Clone, Debug, Default)]
pub struct Subscriptions {
    pub contexts: BTreeSet<Id>,
    pub groups: BTreeSet<Id>,
}

impl Subscriptions {
    pub fn wants(&self, key: Key) -> bool {
        match key {
            Key::Context(id) => self.contexts.contains(&id),
            Key::Group(id) => self.groups.contains(&id),
        }
    }
}

/// An SSE session: it outlives its connections (core:
/// crates/server/src/sse/session.rs); events are not buffered.
#[derive(Debug, Default)]
pub struct Session {
    pub subscriptions: Subscriptions,
    /// The `n` of the next `{session}-{n}` event id.
    pub counter: u64,
}

/// What was emitted, numbered.
struct EventLog {
    /// The sequence number of the next event.
    next: u64,
    events: VecDeque<(u64, Value)>,
}

pub struct EventHub {
    bus: broadcast::Sender<NodeEvent>,
    /// Bumped by `drop_streams`: every live stream ends, abruptly.
    generation: watch::Sender<u64>,
    pub sessions: Mutex<HashMap<u64, Arc<Mutex<Session>>>>,
    log: Mutex<EventLog>,
    /// Events that streams skipped because they fell behind the bus.
    lagged: AtomicU64,
}

impl Default for EventHub {
    fn default() -> Self {
        Self {
            bus: broadcast::channel(BUS_CAPACITY).0,
            generation: watch::channel(0).0,
            sessions: Mutex::new(HashMap::new()),
            log: Mutex::new(EventLog {
                next: 1,
                events: VecDeque::new(),
            }),
            lagged: AtomicU64::new(0),
        }
    }
}

impl EventHub {
    pub fn receiver(&self) -> broadcast::Receiver<NodeEvent> {
        self.bus.subscribe()
    }

    /// Resolves `changed()` when [`EventHub::drop_streams`] is called.
    pub fn drops(&self) -> watch::Receiver<u64> {
        self.generation.subscribe()
    }

    /// Cuts every live SSE stream and WebSocket connection (sessions stay).
    /// Answers how many streams were live.
    pub fn drop_streams(&self) -> usize {
        let live = self.live();
        self.generation.send_modify(|g| *g += 1);
        live
    }

    /// Streams open now (a cut one counts until its task has ended).
    pub fn live(&self) -> usize {
        self.generation.receiver_count()
    }

    /// Waits (at most `limit`) until no stream is open: after a cut, until
    /// the cut streams' tasks have ended, so that a stream of a previous
    /// test is never counted in the next one.
    pub async fn until_no_stream(&self, limit: std::time::Duration) {
        let deadline = tokio::time::Instant::now() + limit;
        while self.live() > 0 && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(std::time::Duration::from_millis(2)).await;
        }
    }

    /// Forgets the sessions, the event log and the lag count, and cuts the
    /// streams (`/_testnode/reset`). Sequence numbers go on.
    pub fn reset(&self) {
        lock(&self.sessions).clear();
        lock(&self.log).events.clear();
        self.lagged.store(0, Ordering::Relaxed);
        let _ = self.drop_streams();
    }

    fn emit(&self, key: Key, json: Value) {
        let mut log = lock(&self.log);
        let seq = log.next;
        log.next += 1;
        if log.events.len() == LOG_CAPACITY {
            let _ = log.events.pop_front();
        }
        log.events.push_back((seq, json.clone()));
        // Sent with the log locked: the bus carries events in sequence
        // order. No receiver: nobody listens, nothing to do.
        let _ = self.bus.send(NodeEvent { key, json });
    }

    /// A stream fell behind the bus and skipped `n` events.
    pub fn lagged(&self, n: u64) {
        let _ = self.lagged.fetch_add(n, Ordering::Relaxed);
    }

    /// `GET /_testnode/events`: `{"next": <seq of the next event>,
    /// "lagged": <events skipped by slow streams>, "live": <open streams>,
    /// "events": [{"seq", "event"}]}`, the events after sequence number
    /// `since`.
    pub fn log_since(&self, since: u64) -> Value {
        let log = lock(&self.log);
        let events: Vec<Value> = log
            .events
            .iter()
            .filter(|(seq, _)| *seq > since)
            .map(|(seq, event)| json!({ "seq": seq, "event": event }))
            .collect();
        json!({
            "next": log.next,
            "lagged": self.lagged.load(Ordering::Relaxed),
            "live": self.live(),
            "events": events,
        })
    }

    /// `StateMutation` after a JSON-RPC write: the new root hash and the
    /// app's events, each `{"kind", "data": [bytes of its JSON], "handler"}`
    /// (`ExecutionEvent`, not camelCased).
    pub fn state_mutation(&self, context: Id, new_root: Id, events: &[(&'static str, Value)]) {
        let events: Vec<Value> = events
            .iter()
            .map(|(kind, payload)| {
                let data = if payload.is_null() {
                    Vec::new()
                } else {
                    serde_json::to_vec(payload).unwrap_or_default()
                };
                json!({ "kind": kind, "data": data, "handler": null })
            })
            .collect();
        let events = if events.is_empty() {
            Value::Null
        } else {
            Value::Array(events)
        };
        self.emit(
            Key::Context(context),
            json!({
                "contextId": context,
                "type": "StateMutation",
                "data": { "newRoot": new_root, "events": events },
            }),
        );
    }

    /// `MemberAdded` / `MemberRemoved` / `MemberJoined` of a group.
    pub fn membership(&self, kind: &'static str, group: Id, account: Id, role: Option<Role>) {
        let mut data = json!({ "memberAccount": HexId(account) });
        if let Some(role) = role {
            data["role"] = json!(role);
        }
        self.emit(
            Key::Group(group),
            json!({ "groupId": HexId(group), "type": kind, "data": data }),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::release::{sync_scope, Release};

    /// From rc.27 an event names its context and root in hex, as a live
    /// rc.32 sent them (swift `rc32-sse-state-mutation.json`).
    #[test]
    fn state_mutations_follow_the_release_encoding() {
        let hub = EventHub::default();
        let mut rx = hub.receiver();
        let (context, root) = (Id([1; 32]), Id([2; 32]));
        hub.state_mutation(context, root, &[]);
        let old = rx.try_recv().unwrap().json;
        assert_eq!(old["contextId"], context.to_bs58());
        sync_scope(Release::rc(27).unwrap(), || {
            hub.state_mutation(context, root, &[]);
        });
        let new = rx.try_recv().unwrap().json;
        assert_eq!(new["contextId"], "01".repeat(32));
        assert_eq!(new["data"]["newRoot"], "02".repeat(32));
    }
}
