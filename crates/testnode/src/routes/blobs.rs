//! Blobs: streamed upload, listing, streamed download, HEAD, delete.
//!
//! Ids are derived as the node's blob store derives them (see
//! [`crate::state::Blob`]): the root id is the SHA-256 of the 1 MiB chunk
//! ids, `X-Blob-Hash`/`ETag`/`?hash=` are the SHA-256 of the content. The
//! same content uploaded twice gets the same id and two references; each
//! `DELETE` releases one. Chunk ids are addressable (GET/HEAD/DELETE) but
//! never listed.
//!
//! Differences from a real node, by design: nothing reaches a network
//! (`context_id` on upload is only checked for format; on download it turns
//! a local miss into the node's failed-network-query 500), and an upload
//! refused mid-stream leaves nothing behind (the node keeps the 1 MiB chunks
//! it had already written, as unlisted-by-root orphans).
//!
//! core: crates/server/src/admin/handlers/blob.rs,
//! crates/node/primitives/src/client/blob.rs (`add_blob` hash check after
//! the store, `get_blob_info`, `detect_mime_from_bytes`, `delete_blob`),
//! crates/store/blobs/src/lib.rs (`put_sized`, refcounts),
//! crates/network/src/handlers/commands/query_blob.rs (record key).

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;
use axum::routing::{get, put};
use axum::Router;
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};

use super::AppRouter;
use crate::error::{data, json, query, ApiError, ApiResult};
use crate::ids::Id;
use crate::state::{AppState, BlobDigest, BLOB_CHUNK_SIZE};

/// The node's upload cap (`MAX_BLOB_UPLOAD_BYTES`); `Config::max_blob_bytes`
/// defaults to it.
pub const MAX_BLOB_UPLOAD_BYTES: u64 = 1024 * 1024 * 1024;

/// What the node's MIME sniffer looks at.
const MIME_SAMPLE: usize = 512;

pub fn routes() -> AppRouter {
    Router::new()
        .route("/blobs", put(upload).get(list))
        .route("/blobs/{blob_id}", get(download).head(info).delete(delete))
}

/// `blob_id` + `size`, snake_case (`BlobInfo`).
#[derive(Serialize)]
struct BlobInfo {
    blob_id: Id,
    size: u64,
}

#[derive(Deserialize)]
struct UploadQuery {
    hash: Option<String>,
    context_id: Option<String>,
}

fn store_failed(reason: impl std::fmt::Display) -> ApiError {
    ApiError::Json(
        StatusCode::INTERNAL_SERVER_ERROR,
        format!("Failed to store blob: {reason}"),
    )
}

/// Reads the body as a stream, counting bytes as they arrive and refusing
/// once the total passes the cap (a body of exactly the cap is accepted).
/// The bytes land in one buffer, sized up front from `Content-Length`.
async fn upload(
    State(state): State<Arc<AppState>>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
    body: Body,
) -> ApiResult {
    let q: UploadQuery = query(raw.as_deref())?;
    let expected_hash = q
        .hash
        .map(|h| {
            Id::parse_wire(&h)
                .map_err(|_| ApiError::bad_request("The provided hash is not a valid format"))
        })
        .transpose()?;
    if let Some(context_id) = &q.context_id {
        let _ = Id::parse_wire(context_id)
            .map_err(|_| ApiError::bad_request("The provided context_id is not a valid format"))?;
    }

    let cap = state.config.max_blob_bytes;
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(0);
    let mut buf = Vec::with_capacity(usize::try_from(declared.min(cap)).unwrap_or(0));
    let mut digest = BlobDigest::default();
    let mut stream = body.into_data_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(store_failed)?;
        if (buf.len() as u64).saturating_add(chunk.len() as u64) > cap {
            return Err(store_failed("blob upload exceeds maximum allowed size"));
        }
        digest.update(&chunk);
        buf.extend_from_slice(&chunk);
    }
    let size = buf.len() as u64;
    let digest = digest.finish();
    let hash = digest.1;
    // The node stores first and checks the hash after: a mismatching upload
    // is refused, yet the blob stays stored (with one more reference).
    let blob_id = state.node().add_blob(Bytes::from(buf), digest);
    if expected_hash.is_some_and(|expected| expected != hash) {
        return Err(store_failed("fatal: blob hash mismatch"));
    }
    Ok(data(BlobInfo { blob_id, size }))
}

async fn list(State(state): State<Arc<AppState>>) -> Response {
    #[derive(Serialize)]
    struct Blobs {
        blobs: Vec<BlobInfo>,
    }

    let node = state.node();
    data(Blobs {
        blobs: node
            .blobs
            .iter()
            .map(|(id, blob)| BlobInfo {
                blob_id: *id,
                size: blob.size(),
            })
            .collect(),
    })
}

fn parse_blob_id(raw: &str) -> Result<Id, ApiError> {
    Id::parse_wire(raw).map_err(|_| ApiError::bad_request("Invalid blob ID format"))
}

/// What `infer` finds in the first 512 bytes, else `application/octet-stream`.
fn detect_mime(data: &[u8]) -> &'static str {
    let sample = &data[..data.len().min(MIME_SAMPLE)];
    infer::get(sample).map_or("application/octet-stream", |kind| kind.mime_type())
}

/// The 200 the node builds for GET and HEAD, headers in its order.
/// `Access-Control-Expose-Headers` is set as the node sets it; the CORS
/// layer then overwrites it with its own list, as on the real node.
fn blob_response(id: Id, bytes: &Bytes, hash: Id, body: Body) -> Response {
    let mime = detect_mime(bytes);
    let hash_hex = hash.to_hex();
    let mut response = Response::new(body);
    let headers = response.headers_mut();
    let pairs = [
        (header::CONTENT_LENGTH, bytes.len().to_string()),
        (header::CONTENT_TYPE, mime.to_owned()),
        (header::ETAG, format!("\"{hash_hex}\"")),
        (header::CACHE_CONTROL, "private, no-cache".to_owned()),
        (header::HeaderName::from_static("x-blob-id"), id.encode()),
        (header::HeaderName::from_static("x-blob-hash"), hash_hex),
        (
            header::HeaderName::from_static("x-blob-mime-type"),
            mime.to_owned(),
        ),
        (
            header::ACCESS_CONTROL_EXPOSE_HEADERS,
            "X-Blob-ID, X-Blob-Hash, X-Blob-MIME-Type, ETag".to_owned(),
        ),
    ];
    for (name, value) in pairs {
        if let Ok(value) = HeaderValue::from_str(&value) {
            let _ = headers.insert(name, value);
        }
    }
    response
}

/// Streams the stored bytes in 1 MiB slices (views, no copies).
fn stream_body(bytes: Bytes) -> Body {
    let len = bytes.len();
    let slices = (0..len).step_by(BLOB_CHUNK_SIZE).map(move |start| {
        Ok::<_, std::io::Error>(bytes.slice(start..len.min(start + BLOB_CHUNK_SIZE)))
    });
    Body::from_stream(futures_util::stream::iter(slices))
}

async fn download(
    State(state): State<Arc<AppState>>,
    Path(raw_id): Path<String>,
    RawQuery(raw): RawQuery,
) -> ApiResult {
    let id = parse_blob_id(&raw_id)?;
    let params: HashMap<String, String> = query(raw.as_deref())?;
    let context_id = params
        .get("context_id")
        .map(|raw| {
            Id::parse_wire(raw).map_err(|_| ApiError::bad_request("Invalid context ID format"))
        })
        .transpose()?;
    let found = state.node().blob_bytes(&id);
    match found {
        Some((bytes, hash)) => Ok(blob_response(id, &bytes, hash, stream_body(bytes.clone()))),
        None => match context_id {
            None => Err(ApiError::not_found("Blob not found locally or in network")),
            // The node asks the network (a DHT query keyed by context id ++
            // blob id); with no peers that query fails.
            Some(context) => Err(ApiError::Json(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!(
                    "Failed to retrieve blob: Blob query failed: NotFound {{ key: Key(b\"{}{}\"), closest_peers: [] }}",
                    escape_bytes(&context.0),
                    escape_bytes(&id.0)
                ),
            )),
        },
    }
}

/// `bytes::Bytes`'s `Debug` escaping.
fn escape_bytes(bytes: &[u8]) -> String {
    let mut out = String::new();
    for &b in bytes {
        match b {
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            b'\t' => out.push_str("\\t"),
            b'\\' | b'"' => {
                out.push('\\');
                out.push(b as char);
            }
            0 => out.push_str("\\0"),
            0x20..=0x7e => out.push(b as char),
            _ => {
                let _ = write!(out, "\\x{b:02x}");
            }
        }
    }
    out
}

async fn info(State(state): State<Arc<AppState>>, Path(raw_id): Path<String>) -> ApiResult {
    let id = parse_blob_id(&raw_id)?;
    let (bytes, hash) = state
        .node()
        .blob_bytes(&id)
        .ok_or_else(|| ApiError::not_found("Blob not found"))?;
    Ok(blob_response(id, &bytes, hash, Body::empty()))
}

/// Releases one reference. An unknown id is the node's untyped "Blob not
/// found", reported as a 500 (`Ok(false)` is unreachable there).
async fn delete(State(state): State<Arc<AppState>>, Path(raw_id): Path<String>) -> ApiResult {
    #[derive(Serialize)]
    struct Deleted {
        blob_id: Id,
        deleted: bool,
    }

    let id = parse_blob_id(&raw_id)?;
    let mut node = state.node();
    if node.is_application_artifact(&id) {
        return Err(ApiError::Json(
            StatusCode::FORBIDDEN,
            "Blob is referenced by an installed application and cannot be deleted".to_owned(),
        ));
    }
    if !node.release_blob(&id) {
        return Err(ApiError::Json(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Failed to delete blob: Blob not found".to_owned(),
        ));
    }
    Ok(json(Deleted {
        blob_id: id,
        deleted: true,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_match_a_real_node() {
        // Recorded: 28 bytes uploaded to merod rc.25.
        let (id, hash, chunks) = BlobDigest::of(b"hello blob from merod-build\n");
        assert_eq!(id.to_bs58(), "FUjVCoYf21jdBiJzc7HHTPYnwSqtSGHAnFG9cuBcNEum");
        assert_eq!(
            hash.to_hex(),
            "f07a47880292357fc5b3749977dcb51fed7f1cbfd6947beec9e9d0c9807fdf73"
        );
        assert_eq!(chunks, vec![hash]);
        let (empty, _, none) = BlobDigest::of(b"");
        assert_eq!(
            empty.to_bs58(),
            "GKot5hBsd81kMupNCXHaqbhv3huEbxAFMLnpcX2hniwn"
        );
        assert!(none.is_empty());
    }

    #[test]
    fn chunking_is_independent_of_how_bytes_arrive() {
        let data: Vec<u8> = (0..(BLOB_CHUNK_SIZE * 2 + 17)).map(|i| i as u8).collect();
        let whole = BlobDigest::of(&data);
        let mut pieces = BlobDigest::default();
        for piece in data.chunks(7919) {
            pieces.update(piece);
        }
        assert_eq!(pieces.finish(), whole);
        assert_eq!(whole.2.len(), 3);
        assert_eq!(whole.2[2], Id::digest(&[&data[BLOB_CHUNK_SIZE * 2..]]));
    }

    #[test]
    fn mime_sniffing() {
        assert_eq!(detect_mime(b"\x89PNG\r\n\x1a\n\0\0"), "image/png");
        assert_eq!(detect_mime(b"\0asm\x01\0\0\0"), "application/wasm");
        assert_eq!(detect_mime(b"plain text"), "application/octet-stream");
        assert_eq!(detect_mime(b""), "application/octet-stream");
    }

    #[test]
    fn byte_escaping_matches_bytes_debug() {
        static BYTES: [u8; 6] = [0, b'a', b'"', b'\\', b'\n', 0xff];
        let debug = format!("{:?}", Bytes::from_static(&BYTES));
        assert_eq!(format!("b\"{}\"", escape_bytes(&BYTES)), debug);
    }
}
