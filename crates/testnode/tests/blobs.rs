//! Blob routes, against answers probed from a real merod 0.11.0-rc.25.

mod common;

use calimero_testnode::Config;
use reqwest::{Body, Method};
use serde_json::json;

use common::*;

const RECORDED: &[u8] = b"hello blob from merod-build\n";
const RECORDED_ID: &str = "FUjVCoYf21jdBiJzc7HHTPYnwSqtSGHAnFG9cuBcNEum";
const RECORDED_HASH_HEX: &str = "f07a47880292357fc5b3749977dcb51fed7f1cbfd6947beec9e9d0c9807fdf73";
/// bs58 of `RECORDED_HASH_HEX` (the content hash, also the only chunk's id).
const RECORDED_HASH_BS58: &str = "HBizY6GSQHi9x3HquGiCNdYqkGV97NwGPGErF9JwECSv";

async fn put(node: &Node, query: &str, body: impl Into<Body>) -> Reply {
    let res = node
        .client
        .put(format!("{}/admin-api/blobs{query}", node.base))
        .header("content-type", "application/octet-stream")
        .body(body)
        .send()
        .await
        .unwrap();
    let status = res.status();
    let headers = res.headers().clone();
    let body = res.text().await.unwrap();
    Reply {
        status,
        headers,
        body,
    }
}

async fn raw(node: &Node, method: Method, path: &str) -> (Reply, Vec<u8>) {
    let res = node
        .client
        .request(method, format!("{}{path}", node.base))
        .send()
        .await
        .unwrap();
    let status = res.status();
    let headers = res.headers().clone();
    let bytes = res.bytes().await.unwrap().to_vec();
    let body = String::from_utf8_lossy(&bytes).into_owned();
    (
        Reply {
            status,
            headers,
            body,
        },
        bytes,
    )
}

fn header<'a>(reply: &'a Reply, name: &str) -> &'a str {
    reply
        .headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_else(|| panic!("no {name} header"))
}

#[tokio::test]
async fn upload_list_head_download_delete_as_recorded() {
    let node = Node::default().await;
    put(&node, "", RECORDED).await.assert(
        200,
        &format!(r#"{{"data":{{"blob_id":"{RECORDED_ID}","size":28}}}}"#),
    );
    node.get("/admin-api/blobs").await.assert(
        200,
        &format!(r#"{{"data":{{"blobs":[{{"blob_id":"{RECORDED_ID}","size":28}}]}}}}"#),
    );

    for method in [Method::HEAD, Method::GET] {
        let (reply, bytes) = raw(
            &node,
            method.clone(),
            &format!("/admin-api/blobs/{RECORDED_ID}"),
        )
        .await;
        assert_eq!(reply.status.as_u16(), 200);
        let names: Vec<&str> = reply.headers.keys().map(|k| k.as_str()).collect();
        // The node's order; the CORS layer adds its own and overwrites the
        // handler's expose list.
        assert_eq!(
            &names[..8],
            [
                "content-length",
                "content-type",
                "etag",
                "cache-control",
                "x-blob-id",
                "x-blob-hash",
                "x-blob-mime-type",
                "access-control-expose-headers"
            ]
        );
        assert_eq!(header(&reply, "content-length"), "28");
        assert_eq!(header(&reply, "content-type"), "application/octet-stream");
        assert_eq!(header(&reply, "etag"), format!("\"{RECORDED_HASH_HEX}\""));
        assert_eq!(header(&reply, "cache-control"), "private, no-cache");
        assert_eq!(header(&reply, "x-blob-id"), RECORDED_ID);
        assert_eq!(header(&reply, "x-blob-hash"), RECORDED_HASH_HEX);
        assert_eq!(
            header(&reply, "x-blob-mime-type"),
            "application/octet-stream"
        );
        assert_eq!(
            header(&reply, "access-control-expose-headers"),
            "x-auth-error,x-auth-user,x-auth-permissions"
        );
        if method == Method::GET {
            assert_eq!(bytes, RECORDED);
        } else {
            assert!(bytes.is_empty());
        }
    }

    // The only chunk is addressable by its own id (= the content hash).
    let (chunk, bytes) = raw(
        &node,
        Method::GET,
        &format!("/admin-api/blobs/{RECORDED_HASH_BS58}"),
    )
    .await;
    assert_eq!(chunk.status.as_u16(), 200);
    assert_eq!(header(&chunk, "x-blob-id"), RECORDED_HASH_BS58);
    assert_eq!(bytes, RECORDED);

    node.delete(&format!("/admin-api/blobs/{RECORDED_ID}"), None)
        .await
        .assert(
            200,
            &format!(r#"{{"blob_id":"{RECORDED_ID}","deleted":true}}"#),
        );
    node.get(&format!("/admin-api/blobs/{RECORDED_ID}"))
        .await
        .assert(404, r#"{"error":"Blob not found locally or in network"}"#);
    let (head, _) = raw(
        &node,
        Method::HEAD,
        &format!("/admin-api/blobs/{RECORDED_ID}"),
    )
    .await;
    assert_eq!(head.status.as_u16(), 404);
    assert_eq!(
        header(&head, "content-length"),
        r#"{"error":"Blob not found"}"#.len().to_string()
    );
    // Deleting what is gone is the node's untyped "Blob not found": a 500.
    node.delete(&format!("/admin-api/blobs/{RECORDED_ID}"), None)
        .await
        .assert(500, r#"{"error":"Failed to delete blob: Blob not found"}"#);
    node.get("/admin-api/blobs")
        .await
        .assert(200, r#"{"data":{"blobs":[]}}"#);
}

#[tokio::test]
async fn same_content_is_reference_counted() {
    let node = Node::default().await;
    for _ in 0..2 {
        assert_eq!(
            put(&node, "", RECORDED).await.json()["data"]["blob_id"],
            RECORDED_ID
        );
    }
    let path = format!("/admin-api/blobs/{RECORDED_ID}");
    assert_eq!(node.delete(&path, None).await.status.as_u16(), 200);
    assert_eq!(node.get(&path).await.status.as_u16(), 200);
    assert_eq!(node.delete(&path, None).await.status.as_u16(), 200);
    assert_eq!(node.get(&path).await.status.as_u16(), 404);
}

#[tokio::test]
async fn hash_is_checked_after_storing() {
    let node = Node::default().await;
    put(&node, &format!("?hash={RECORDED_HASH_BS58}"), RECORDED)
        .await
        .assert(
            200,
            &format!(r#"{{"data":{{"blob_id":"{RECORDED_ID}","size":28}}}}"#),
        );
    // A mismatch is refused, yet the upload was stored (one more reference).
    let other = "hello\n";
    let reply = put(&node, "?hash=11111111111111111111111111111111", other).await;
    reply.assert(
        500,
        r#"{"error":"Failed to store blob: fatal: blob hash mismatch"}"#,
    );
    let listed = node.get("/admin-api/blobs").await.json();
    assert_eq!(listed["data"]["blobs"].as_array().unwrap().len(), 2);

    put(&node, "?hash=abc", RECORDED).await.assert(
        400,
        r#"{"error":"The provided hash is not a valid format"}"#,
    );
    put(&node, "?context_id=abc", RECORDED).await.assert(
        400,
        r#"{"error":"The provided context_id is not a valid format"}"#,
    );
    // A well-formed context id is accepted whether or not the node is in it.
    assert_eq!(
        put(
            &node,
            "?context_id=11111111111111111111111111111111",
            RECORDED
        )
        .await
        .status
        .as_u16(),
        200
    );
}

#[tokio::test]
async fn empty_and_multi_chunk_blobs() {
    let node = Node::default().await;
    put(&node, "", Vec::new()).await.assert(
        200,
        r#"{"data":{"blob_id":"GKot5hBsd81kMupNCXHaqbhv3huEbxAFMLnpcX2hniwn","size":0}}"#,
    );
    // 2.5 MiB: three chunks; the id is the hash of the three chunk ids.
    let data: Vec<u8> = (0..(5 << 19)).map(|i: u32| (i % 251) as u8).collect();
    let expected = {
        use sha2::{Digest, Sha256};
        let mut ids = Vec::new();
        for chunk in data.chunks(1 << 20) {
            ids.extend_from_slice(&Sha256::digest(chunk));
        }
        bs58::encode(Sha256::digest(&ids)).into_string()
    };
    let reply = put(&node, "", data.clone()).await;
    assert_eq!(reply.json()["data"]["blob_id"], expected.as_str());
    assert_eq!(reply.json()["data"]["size"], data.len());
    let (got, bytes) = raw(&node, Method::GET, &format!("/admin-api/blobs/{expected}")).await;
    assert_eq!(header(&got, "content-length"), data.len().to_string());
    assert_eq!(bytes, data);
    // Chunks are not listed.
    let listed = node.get("/admin-api/blobs").await.json();
    assert_eq!(listed["data"]["blobs"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn mime_type_is_sniffed() {
    let node = Node::default().await;
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    png.extend_from_slice(&[0; 100]);
    let id = put(&node, "", png).await.json()["data"]["blob_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (head, _) = raw(&node, Method::HEAD, &format!("/admin-api/blobs/{id}")).await;
    assert_eq!(header(&head, "content-type"), "image/png");
    assert_eq!(header(&head, "x-blob-mime-type"), "image/png");
}

#[tokio::test]
async fn bad_ids_unknown_blobs_and_network_lookups() {
    let node = Node::default().await;
    node.get("/admin-api/blobs/abc")
        .await
        .assert(400, r#"{"error":"Invalid blob ID format"}"#);
    node.delete("/admin-api/blobs/abc", None)
        .await
        .assert(400, r#"{"error":"Invalid blob ID format"}"#);
    let (head, _) = raw(&node, Method::HEAD, "/admin-api/blobs/abc").await;
    assert_eq!(head.status.as_u16(), 400);
    let zero = "11111111111111111111111111111111";
    node.get(&format!("/admin-api/blobs/{zero}?context_id=zz"))
        .await
        .assert(400, r#"{"error":"Invalid context ID format"}"#);
    // A miss with a context id asks the (absent) network: probed verbatim.
    let reply = node
        .get(&format!("/admin-api/blobs/{zero}?context_id={zero}"))
        .await;
    assert_eq!(reply.status.as_u16(), 500);
    let zeros = "\\\\0".repeat(64);
    assert_eq!(
        reply.json(),
        json!({"error": format!("Failed to retrieve blob: Blob query failed: NotFound {{ key: Key(b\"{}\"), closest_peers: [] }}", zeros.replace("\\\\", "\\"))})
    );
}

#[tokio::test]
async fn application_bytecode_cannot_be_deleted() {
    let node = Node::default().await;
    node.delete("/admin-api/blobs/11111111111111111111111111111111", None)
        .await
        .assert(500, r#"{"error":"Failed to delete blob: Blob not found"}"#);
    let (app, _ns, _ctx, _member) = node.setup(b"\0asm\x01\0\0\0 some wasm").await;
    let got = node
        .get(&format!("/admin-api/applications/{app}"))
        .await
        .json();
    let bytecode = got["data"]["application"]["blob"]["bytecode"]
        .as_str()
        .unwrap()
        .to_owned();
    let listed = node.get("/admin-api/blobs").await.json();
    assert_eq!(listed["data"]["blobs"][0]["blob_id"], bytecode.as_str());
    let refused =
        r#"{"error":"Blob is referenced by an installed application and cannot be deleted"}"#;
    node.delete(&format!("/admin-api/blobs/{bytecode}"), None)
        .await
        .assert(403, refused);
    // The compiled id is the zero id, which is an artifact too.
    node.delete("/admin-api/blobs/11111111111111111111111111111111", None)
        .await
        .assert(403, refused);
    let (head, _) = raw(&node, Method::HEAD, &format!("/admin-api/blobs/{bytecode}")).await;
    assert_eq!(header(&head, "content-type"), "application/wasm");
}

#[tokio::test]
async fn upload_cap_is_enforced_mid_stream() {
    let node = Node::start(Config::default().max_blob_bytes(1000)).await;
    assert_eq!(put(&node, "", vec![7u8; 1000]).await.status.as_u16(), 200);
    let too_big = "{\"error\":\"Failed to store blob: blob upload exceeds maximum allowed size\"}";
    put(&node, "", vec![7u8; 1001]).await.assert(500, too_big);
    // Streamed without a length (chunked): still counted and refused.
    let chunks = futures_util::stream::iter(
        (0..4).map(|_| Ok::<_, std::io::Error>(axum::body::Bytes::from(vec![1u8; 300]))),
    );
    put(&node, "", Body::wrap_stream(chunks))
        .await
        .assert(500, too_big);
    let listed = node.get("/admin-api/blobs").await.json();
    assert_eq!(listed["data"]["blobs"].as_array().unwrap().len(), 1);
}
