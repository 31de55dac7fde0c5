//! Context and application aliases under `/admin-api/alias`.
//!
//! Create uses plain axum `Json` (axum's plain-text 400/415/422 rejections;
//! a malformed alias is a 422 from the alias type's own deserialiser), a
//! duplicate is `409 {"error":"alias already exists"}`. Nothing checks that
//! the aliased context or application exists (neither does the node).
//! Lookup of an unknown alias is `{"data":{"value":null}}`, delete of one is
//! a success; an alias in the path that is not a valid alias is the plain
//! text 400 `invalid path params`. Identity aliases are not mounted at rc.25
//! (their paths fall through to the empty 404), nor later; device aliases
//! are, from rc.32. Values are ids in the release's encoding.
//! core: crates/server/src/admin/handlers/alias.rs, alias/*.rs,
//! crates/primitives/src/alias.rs, crates/server/primitives/src/admin/mod.rs
//! (`CreateAliasRequest`, `LookupAliasResponseData`, `ListAliasesResponse`).

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize};

use super::AppRouter;
use crate::error::{data, ApiError, ApiResult};
use crate::ids::Id;
use crate::state::{AppState, Node};

/// `MAX_ALIAS_LEN`.
const MAX_ALIAS_LEN: usize = 50;

pub fn routes() -> AppRouter {
    Router::new()
        .route("/alias/create/context", post(create::<ContextKind>))
        .route("/alias/create/application", post(create::<ApplicationKind>))
        .route("/alias/lookup/context/{name}", post(lookup::<ContextKind>))
        .route(
            "/alias/lookup/application/{name}",
            post(lookup::<ApplicationKind>),
        )
        .route("/alias/delete/context/{name}", post(delete::<ContextKind>))
        .route(
            "/alias/delete/application/{name}",
            post(delete::<ApplicationKind>),
        )
        .route("/alias/list/context", get(list::<ContextKind>))
        .route("/alias/list/application", get(list::<ApplicationKind>))
        // Device aliases (rc.32+, gated in `crate::release::ROUTES`): swift
        // `Rc32SurfaceTests.swift` (`{"alias","deviceId"}`, a map listing,
        // `{"data":null}` mutations), `rc32-alias-list-device.json`.
        .route("/alias/create/device", post(create::<DeviceKind>))
        .route("/alias/lookup/device/{name}", post(lookup::<DeviceKind>))
        .route("/alias/delete/device/{name}", post(delete::<DeviceKind>))
        .route("/alias/list/device", get(list::<DeviceKind>))
}

/// A valid alias: 1 to 50 characters from `[A-Za-z0-9._-]`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct AliasName(String);

impl AliasName {
    pub fn parse(s: &str) -> Result<Self, &'static str> {
        if s.len() > MAX_ALIAS_LEN {
            Err("exceeds maximum length of 50 characters")
        } else if s.is_empty() {
            Err("must not be empty")
        } else if !s
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        {
            Err("contains an invalid character; allowed characters are [A-Za-z0-9._-]")
        } else {
            Ok(Self(s.to_owned()))
        }
    }
}

impl<'de> Deserialize<'de> for AliasName {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct AliasVisitor;

        impl Visitor<'_> for AliasVisitor {
            type Value = AliasName;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "an alias of at most {MAX_ALIAS_LEN} characters")
            }

            fn visit_str<E: de::Error>(self, v: &str) -> Result<AliasName, E> {
                AliasName::parse(v).map_err(E::custom)
            }
        }

        deserializer.deserialize_str(AliasVisitor)
    }
}

/// What an alias kind maps to, and where its aliases live.
pub trait AliasKind: Send + Sync + 'static {
    /// The flattened create body (`{"contextId"}` or `{"applicationId"}`).
    type Value: for<'de> Deserialize<'de> + Send;

    fn value(v: Self::Value) -> Id;
    fn table(node: &mut Node) -> &mut BTreeMap<AliasName, Id>;
}

pub struct ContextKind;
pub struct ApplicationKind;
pub struct DeviceKind;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeviceValue {
    device_id: Id,
}

impl AliasKind for DeviceKind {
    type Value = DeviceValue;

    fn value(v: DeviceValue) -> Id {
        v.device_id
    }

    fn table(node: &mut Node) -> &mut BTreeMap<AliasName, Id> {
        &mut node.device_aliases
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContextValue {
    context_id: Id,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApplicationValue {
    application_id: Id,
}

impl AliasKind for ContextKind {
    type Value = ContextValue;

    fn value(v: ContextValue) -> Id {
        v.context_id
    }

    fn table(node: &mut Node) -> &mut BTreeMap<AliasName, Id> {
        &mut node.context_aliases
    }
}

impl AliasKind for ApplicationKind {
    type Value = ApplicationValue;

    fn value(v: ApplicationValue) -> Id {
        v.application_id
    }

    fn table(node: &mut Node) -> &mut BTreeMap<AliasName, Id> {
        &mut node.application_aliases
    }
}

/// `CreateAliasRequest<T>`: the alias plus the kind's value, flattened.
#[derive(Deserialize)]
#[serde(bound = "V: Deserialize<'de>")]
struct CreateRequest<V> {
    alias: AliasName,
    #[serde(flatten)]
    value: V,
}

async fn create<K: AliasKind>(
    State(state): State<Arc<AppState>>,
    Json(req): Json<CreateRequest<K::Value>>,
) -> ApiResult {
    let mut node = state.node();
    let table = K::table(&mut node);
    if table.contains_key(&req.alias) {
        return Err(ApiError::Json(
            StatusCode::CONFLICT,
            "alias already exists".to_owned(),
        ));
    }
    let _ = table.insert(req.alias, K::value(req.value));
    Ok(data(()))
}

fn path_alias(raw: &str) -> Result<AliasName, ApiError> {
    AliasName::parse(raw)
        .map_err(|_| ApiError::Text(StatusCode::BAD_REQUEST, "invalid path params".to_owned()))
}

async fn lookup<K: AliasKind>(
    State(state): State<Arc<AppState>>,
    Path(raw): Path<String>,
) -> ApiResult {
    #[derive(Serialize)]
    struct Lookup {
        value: Option<Id>,
    }

    let alias = path_alias(&raw)?;
    let value = K::table(&mut state.node()).get(&alias).copied();
    Ok(data(Lookup { value }))
}

/// Idempotent: deleting an absent alias succeeds.
async fn delete<K: AliasKind>(
    State(state): State<Arc<AppState>>,
    Path(raw): Path<String>,
) -> ApiResult {
    let alias = path_alias(&raw)?;
    let _ = K::table(&mut state.node()).remove(&alias);
    Ok(data(()))
}

/// `{"data":{alias: id, …}}` in alias order.
async fn list<K: AliasKind>(State(state): State<Arc<AppState>>) -> Response {
    let mut node = state.node();
    let map: BTreeMap<&str, Id> = K::table(&mut node)
        .iter()
        .map(|(alias, id)| (alias.0.as_str(), *id))
        .collect();
    data(map)
}
