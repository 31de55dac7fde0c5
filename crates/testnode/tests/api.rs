//! In-process tests: start `serve` on 127.0.0.1:0 and talk HTTP to it.
//! Expected bodies come from the recordings of a real merod 0.11.0-rc.25.

mod common;

use std::path::PathBuf;
use std::time::Duration;

use calimero_testnode::Config;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use tokio::net::TcpListener;

use common::*;

#[tokio::test]
async fn system_routes_match_the_recordings() {
    let node = Node::default().await;
    let health = node.get("/admin-api/health").await;
    health.assert(200, r#"{"data":{"status":"alive"}}"#);
    assert_eq!(health.content_type(), "application/json");
    assert_eq!(health.headers["access-control-allow-origin"], "*");
    assert_eq!(
        health.headers["access-control-expose-headers"],
        "x-auth-error,x-auth-user,x-auth-permissions"
    );
    node.get("/admin-api/ready")
        .await
        .assert(200, r#"{"data":{"status":"ready"}}"#);
    node.get("/admin-api/is-authed")
        .await
        .assert(200, r#"{"data":{"status":"alive"}}"#);
    node.get("/admin-api/identity").await.assert(
        404,
        r#"{"error":"this node holds neither a device nor an account root yet; both are minted the first time it takes part in a namespace"}"#,
    );
    node.get("/admin-api/applications")
        .await
        .assert(200, r#"{"data":{"apps":[]}}"#);
    node.get("/admin-api/contexts")
        .await
        .assert(200, r#"{"data":{"contexts":[]}}"#);
    node.get("/admin-api/peers")
        .await
        .assert(200, r#"{"count":0}"#);
    node.get("/admin-api/namespaces")
        .await
        .assert(200, r#"{"data":[]}"#);
    let unknown = node.get("/admin-api/nope").await;
    unknown.assert(404, "");
    assert_eq!(unknown.headers["access-control-allow-origin"], "*");

    let status = node.get("/admin-api/network/status").await;
    assert_eq!(status.status, StatusCode::OK);
    assert!(status.body.starts_with(r#"{"localPeerId":"12D3KooW"#));
    assert!(status.body.ends_with(
        r#""externalAddrs":[],"relays":[],"rendezvous":[],"directUpgrades":[],"autonat":{"reachability":"unknown","lastTestAddr":null,"lastTestResult":null,"lastTestReason":null,"lastTestObservedAddr":null,"lastTestAt":null}}"#
    ));

    let key = node.post("/admin-api/identity/context", "{}").await.json();
    assert!(is_bs58_id(key["data"]["publicKey"].as_str().unwrap()));
    node.get("/admin-api/usage")
        .await
        .assert(200, r#"{"namespaces":[]}"#);
}

#[tokio::test]
async fn recorded_install_namespace_context_sequence() {
    let node = Node::default().await;
    // The section name marks the stand-in as carrying an ABI.
    let content = b"\0asm\x01\0\0\0 kv-store stand-in calimero_abi_v1";
    let file = temp_file(content);
    let path = file.to_str().unwrap();

    let install_body =
        json!({"path": path, "metadata": [], "package": "com.example.kvstore", "version": "1.0.0"})
            .to_string();
    let installed = node
        .post("/admin-api/install-dev-application", &install_body)
        .await;
    assert_eq!(installed.status, StatusCode::OK, "{}", installed.body);
    let app = installed.json()["data"]["applicationId"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(is_bs58_id(&app));
    // Same content, same id.
    let again = node
        .post("/admin-api/install-dev-application", &install_body)
        .await
        .json();
    assert_eq!(again["data"]["applicationId"], app.as_str());

    let canonical = std::fs::canonicalize(&file).unwrap();
    // A blob id is the SHA-256 of its 1 MiB chunk ids (one chunk here).
    let bytecode = {
        use sha2::{Digest, Sha256};
        bs58::encode(Sha256::digest(Sha256::digest(content))).into_string()
    };
    let expected_app = format!(
        r#"{{"id":"{app}","blob":{{"bytecode":"{bytecode}","compiled":"11111111111111111111111111111111"}},"size":{},"source":"file://{}","metadata":[],"package":"com.example.kvstore","version":"1.0.0"}}"#,
        content.len(),
        canonical.display()
    );
    node.get("/admin-api/applications")
        .await
        .assert(200, &format!(r#"{{"data":{{"apps":[{expected_app}]}}}}"#));
    node.get(&format!("/admin-api/applications/{app}"))
        .await
        .assert(
            200,
            &format!(r#"{{"data":{{"application":{expected_app}}}}}"#),
        );

    node.post(
        "/admin-api/install-application",
        r#"{"url":"http://127.0.0.1:8765/kv_store_v2.wasm","metadata":[]}"#,
    )
    .await
    .assert(
        400,
        r#"{"error":"Field 'url' has invalid format: URL host is a loopback, private, link-local, or otherwise non-public address"}"#,
    );
    node.post(
        "/admin-api/install-application",
        r#"{"url":"file:///srv/calimero/apps/kv_store_v2.wasm","metadata":[]}"#,
    )
    .await
    .assert(
        400,
        r#"{"error":"Field 'url' has invalid format: unsupported URL scheme 'file'; only http and https are allowed"}"#,
    );

    let ns_reply = node
        .post(
            "/admin-api/namespaces",
            &json!({"applicationId": app, "name": "kv-ns"}).to_string(),
        )
        .await;
    assert_eq!(ns_reply.status, StatusCode::OK, "{}", ns_reply.body);
    let ns = ns_reply.json()["data"]["namespaceId"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(is_hex64(&ns));

    let created = node
        .post(
            "/admin-api/contexts",
            &json!({"applicationId": app, "groupId": ns, "initializationParams": []}).to_string(),
        )
        .await;
    assert_eq!(created.status, StatusCode::OK, "{}", created.body);
    let created = created.json();
    let ctx = created["data"]["contextId"].as_str().unwrap().to_owned();
    let member = created["data"]["memberPublicKey"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(is_bs58_id(&ctx) && is_bs58_id(&member));
    assert_eq!(
        created,
        json!({"data": {"contextId": ctx, "memberPublicKey": member, "groupId": ns, "groupCreated": false}})
    );

    // The exact recorded body: the missing field is reported at column 64.
    node.post(
        "/admin-api/contexts",
        r#"{"applicationId":"Bk7VpFJNGuxTLFuvKT86HWNy82K14VosaFQGYPjVa4rG"}"#,
    )
    .await
    .assert(
        400,
        r#"{"error":"Invalid JSON data: Failed to deserialize the JSON body into the target type: missing field `initializationParams` at line 1 column 64"}"#,
    );

    let before = node.get(&format!("/admin-api/contexts/{ctx}")).await.json();
    let set = node.post(
        "/jsonrpc",
        &format!(r#"{{"jsonrpc":"2.0","id":1,"method":"execute","params":{{"contextId":"{ctx}","method":"set","argsJson":{{"key":"hello","value":"world"}}}}}}"#),
    ).await;
    set.assert(200, r#"{"jsonrpc":"2.0","id":1,"result":{"output":null}}"#);
    assert_eq!(set.content_type(), "application/json");
    let after = node.get(&format!("/admin-api/contexts/{ctx}")).await.json();
    assert_ne!(
        before["data"]["contextStateHash"],
        after["data"]["contextStateHash"]
    );
    assert_ne!(before["data"]["dagHeads"], after["data"]["dagHeads"]);
    assert_eq!(after["data"]["dagHeads"][0].as_array().unwrap().len(), 32);

    node.post(
        "/jsonrpc",
        &format!(r#"{{"jsonrpc":"2.0","id":2,"method":"execute","params":{{"contextId":"{ctx}","method":"get","argsJson":{{"key":"hello"}}}}}}"#),
    ).await.assert(200, r#"{"jsonrpc":"2.0","id":2,"result":{"output":"world"}}"#);
    node.post(
        "/jsonrpc",
        &format!(r#"{{"jsonrpc":"2.0","id":3,"method":"execute","params":{{"contextId":"{ctx}","method":"entries","argsJson":{{}}}}}}"#),
    ).await.assert(200, r#"{"jsonrpc":"2.0","id":3,"result":{"output":{"hello":"world"}}}"#);
    node.post(
        "/jsonrpc",
        &format!(r#"{{"jsonrpc":"2.0","id":4,"method":"execute","params":{{"contextId":"{ctx}","method":"get","argsJson":{{"key":"missing"}}}}}}"#),
    ).await.assert(200, r#"{"jsonrpc":"2.0","id":4,"result":{"output":null}}"#);
    node.post(
        "/jsonrpc",
        &format!(r#"{{"jsonrpc":"2.0","id":5,"method":"execute","params":{{"contextId":"{ctx}","method":"no_such_method","argsJson":{{}}}}}}"#),
    ).await.assert(200, r#"{"jsonrpc":"2.0","id":5,"error":{"type":"FunctionCallError","data":"method \"no_such_method\" not found"}}"#);
    node.post(
        "/jsonrpc",
        &format!(r#"{{"jsonrpc":"2.0","id":6,"method":"sync_status","params":{{"contextId":"{ctx}"}}}}"#),
    ).await.assert(200, &format!(r#"{{"jsonrpc":"2.0","id":6,"result":{{"contextId":"{ctx}","isInitialized":true,"syncState":{{"state":"idle"}},"failureCount":0}}}}"#));
    node.post(
        "/jsonrpc",
        r#"{"jsonrpc":"2.0","id":7,"method":"execute","params":{"contextId":"11111111111111111111111111111111","method":"get","argsJson":{"key":"hello"}}}"#,
    ).await.assert(200, r#"{"jsonrpc":"2.0","id":7,"error":{"type":"ContextNotFound"}}"#);
    node.post("/jsonrpc", r#"{"jsonrpc":"2.0","id":8,"method":"bogus","params":{}}"#)
        .await
        .assert(200, r#"{"jsonrpc":"2.0","id":8,"error":{"type":"ParseError","data":"unknown variant `bogus`, expected one of `execute`, `sync_status`, `set_ephemeral`"}}"#);
    let malformed = node.post("/jsonrpc", "{not json").await;
    malformed.assert(
        400,
        "Failed to parse the request body as JSON: key must be a string at line 1 column 2",
    );
    assert_eq!(malformed.content_type(), "text/plain; charset=utf-8");
    node.post(
        "/jsonrpc",
        &format!(r#"{{"jsonrpc":"2.0","id":4,"method":"execute","params":{{"contextId":"{ctx}","method":"get_result","argsJson":{{"key":"nope"}}}}}}"#),
    ).await.assert(200, r#"{"jsonrpc":"2.0","id":4,"error":{"type":"FunctionCallError","data":"the method call returned an error: [123, 34, 100, 97, 116, 97, 34, 58, 34, 110, 111, 112, 101, 34, 44, 34, 107, 105, 110, 100, 34, 58, 34, 78, 111, 116, 70, 111, 117, 110, 100, 34, 125]"}}"#);
    node.post(
        "/jsonrpc",
        &format!(r#"{{"jsonrpc":"2.0","id":5,"method":"execute","params":{{"contextId":"{ctx}","method":"set","argsJson":{{"key":1}}}}}}"#),
    ).await.assert(200, r#"{"jsonrpc":"2.0","id":5,"error":{"type":"FunctionCallError","data":"guest panicked: set: failed to deserialize arguments (expected { key: String, value: String }): Error(\"invalid type: integer `1`, expected a string\", line: 1, column: 8) at apps/kv-store/src/lib.rs:41:12"}}"#);

    // Listings and per-context views.
    let state_hash = after["data"]["contextStateHash"].as_str().unwrap();
    let heads = after["data"]["dagHeads"].to_string();
    let listed = format!(
        r#"{{"id":"{ctx}","applicationId":"{app}","contextStateHash":"{state_hash}","dagHeads":{heads},"applicationVersion":"1.0.0","groupId":"{ns}"}}"#
    );
    node.get("/admin-api/contexts")
        .await
        .assert(200, &format!(r#"{{"data":{{"contexts":[{listed}]}}}}"#));
    node.get(&format!("/admin-api/contexts/for-application/{app}"))
        .await
        .assert(200, &format!(r#"{{"data":{{"contexts":[{listed}]}}}}"#));
    node.get(&format!("/admin-api/contexts/{ctx}")).await.assert(
        200,
        &format!(
            r#"{{"data":{{"id":"{ctx}","applicationId":"{app}","contextStateHash":"{state_hash}","dagHeads":{heads},"applicationVersion":"1.0.0"}}}}"#
        ),
    );
    node.get("/admin-api/contexts/11111111111111111111111111111111")
        .await
        .assert(404, r#"{"error":"Context not found"}"#);
    for suffix in ["identities", "identities-owned"] {
        node.get(&format!("/admin-api/contexts/{ctx}/{suffix}"))
            .await
            .assert(200, &format!(r#"{{"data":{{"identities":["{member}"]}}}}"#));
    }
    node.get(&format!("/admin-api/contexts/{ctx}/storage"))
        .await
        .assert(200, r#"{"data":{"sizeInBytes":10}}"#);
    node.get(&format!("/admin-api/contexts/{ctx}/group"))
        .await
        .assert(200, &format!(r#"{{"data":"{ns}"}}"#));
    node.get(&format!("/admin-api/contexts/with-executors/for-application/{app}"))
        .await
        .assert(
            200,
            &format!(
                r#"{{"contexts":[{{"id":"{ctx}","application_id":"{app}","contextStateHash":"{state_hash}","executors":["{member}"]}}]}}"#
            ),
        );

    // The node identity now exists and signs as the contexts' member key.
    let identity = node.get("/admin-api/identity").await.json();
    let data = &identity["data"];
    assert_eq!(data["publicKey"], member.as_str());
    let account = data["accountId"].as_str().unwrap();
    assert!(is_hex64(account));
    assert!(is_hex64(data["deviceId"].as_str().unwrap()));
    assert!(is_hex64(data["accountRootPublicKey"].as_str().unwrap()));
    assert_eq!(
        node.get("/admin-api/identity").await.json(),
        identity,
        "stable"
    );

    let ns_list = node.get("/admin-api/namespaces").await;
    let ns_value = ns_list.json()["data"][0].clone();
    let created_at = ns_value["createdAt"].as_u64().unwrap();
    let expected_ns = format!(
        r#"{{"namespaceId":"{ns}","appKey":"{}","targetApplicationId":"{app}","createdAt":{created_at},"name":"kv-ns","memberCount":1,"contextCount":1,"subgroupCount":0}}"#,
        hex::encode(bs58::decode(&bytecode).into_vec().unwrap())
    );
    ns_list.assert(200, &format!(r#"{{"data":[{expected_ns}]}}"#));
    node.get(&format!("/admin-api/namespaces/{ns}"))
        .await
        .assert(200, &format!(r#"{{"data":{expected_ns}}}"#));
    node.get(&format!("/admin-api/namespaces/for-application/{app}"))
        .await
        .assert(200, &format!(r#"{{"data":[{expected_ns}]}}"#));
    node.get(&format!("/admin-api/groups/{ns}/members"))
        .await
        .assert(
            200,
            &format!(r#"{{"members":[{{"identity":"{account}","role":"Admin"}}]}}"#),
        );
    node.get(&format!("/admin-api/groups/{ns}/contexts"))
        .await
        .assert(200, &format!(r#"{{"data":[{{"contextId":"{ctx}"}}]}}"#));
    node.get("/admin-api/usage").await.assert(
        200,
        &format!(
            r#"{{"namespaces":[{{"namespaceId":"{ns}","contextCount":1,"memberCount":1,"subgroupCount":0,"bytes":{{"state":10,"privateState":0,"delta":0,"governance":0,"total":10}}}}]}}"#
        ),
    );

    let abi = node
        .get(&format!("/admin-api/applications/{app}/abi"))
        .await;
    assert_eq!(abi.status, StatusCode::OK);
    assert_eq!(abi.json()["data"]["schema_version"], "wasm-abi/1");

    // An application built without an ABI, as recorded on a real node.
    let plain = temp_file(b"\0asm\x01\0\0\0 no abi here");
    let reply = node
        .post(
            "/admin-api/install-dev-application",
            &format!(r#"{{"path":"{}","metadata":[]}}"#, plain.display()),
        )
        .await;
    let plain_id = reply.json()["data"]["applicationId"]
        .as_str()
        .unwrap()
        .to_owned();
    node.get(&format!("/admin-api/applications/{plain_id}/abi"))
        .await
        .assert(
            400,
            r#"{"error":"application has no usable embedded ABI (absent or malformed); rebuild it with `cargo mero build`"}"#,
        );

    let missing = node
        .post(
            "/admin-api/install-dev-application",
            r#"{"path":"/nonexistent.wasm","metadata":[]}"#,
        )
        .await;
    missing.assert(500, "application file not found at /nonexistent.wasm");
    assert_eq!(missing.content_type(), "text/plain; charset=utf-8");
}

#[tokio::test]
async fn request_validation_errors() {
    let node = Node::default().await;
    node.post("/admin-api/install-dev-application", r#"{"path":"/x.wasm"}"#)
        .await
        .assert(400, r#"{"error":"Invalid JSON data: Failed to deserialize the JSON body into the target type: missing field `metadata` at line 1 column 18"}"#);
    node.post(
        "/admin-api/install-dev-application",
        r#"{"path":"../x.wasm","metadata":[]}"#,
    )
    .await
    .assert(
        400,
        r#"{"error":"Field 'path' has invalid format: path must not contain '..' traversal components"}"#,
    );
    let no_type = node.send(Method::POST, "/admin-api/namespaces", None).await;
    no_type.assert(
        400,
        r#"{"error":"Expected request with `Content-Type: application/json`"}"#,
    );
    node.post(
        "/admin-api/contexts",
        r#"{"applicationId":"11111111111111111111111111111111","groupId":"zz","initializationParams":[]}"#,
    )
    .await
    .assert(
        400,
        r#"{"error":"Invalid group_id: expected hex-encoded 32 bytes"}"#,
    );
    // A well-formed but unknown namespace is an untyped failure.
    node.post(
        "/admin-api/contexts",
        &json!({"applicationId": "11111111111111111111111111111111", "groupId": "ab".repeat(32), "initializationParams": []}).to_string(),
    )
    .await
    .assert(500, r#"{"error":"Internal server error"}"#);
    node.get("/admin-api/contexts/abc").await.assert(
        400,
        "Invalid URL: invalid length 3, expected a base58 encoded hash",
    );
    node.get("/admin-api/contexts/abc/storage")
        .await
        .assert(400, r#"{"error":"Invalid context ID format"}"#);
    node.get("/admin-api/contexts?limit=x").await.assert(
        400,
        "Failed to deserialize query string: invalid digit found in string",
    );
    node.get(&format!("/admin-api/namespaces/{}", "ab".repeat(32)))
        .await
        .assert(404, r#"{"error":"No namespace identity found"}"#);
    node.get("/admin-api/namespaces/xyz").await.assert(
        400,
        r#"{"error":"Invalid group id format: expected hex-encoded 32 bytes"}"#,
    );
    node.get("/admin-api/applications/11111111111111111111111111111111")
        .await
        .assert(404, r#"{"error":"Application not found"}"#);
    node.get("/admin-api/applications/11111111111111111111111111111111/abi")
        .await
        .assert(404, r#"{"error":"Application not found"}"#);

    // JSON-RPC envelope problems are axum's plain-text rejections.
    let no_type = node
        .client
        .post(format!("{}/jsonrpc", node.base))
        .body(r#"{"jsonrpc":"2.0","id":1,"method":"execute","params":{}}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(no_type.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_eq!(
        no_type.text().await.unwrap(),
        "Expected request with `Content-Type: application/json`"
    );
    let bad_version = node
        .post(
            "/jsonrpc",
            r#"{"jsonrpc":"1.0","id":1,"method":"execute","params":{}}"#,
        )
        .await;
    assert_eq!(bad_version.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(bad_version.body.contains("Invalid JSON-RPC version"));
    let bad_id = node
        .post(
            "/jsonrpc",
            r#"{"jsonrpc":"2.0","id":-1,"method":"execute","params":{}}"#,
        )
        .await;
    assert_eq!(bad_id.status, StatusCode::UNPROCESSABLE_ENTITY);
    // Ids echo as given: strings and null too.
    let reply = node
        .rpc(json!({"jsonrpc": "2.0", "id": "abc", "method": "sync_status", "params": {"contextId": "11111111111111111111111111111111"}}))
        .await;
    assert_eq!(
        reply,
        json!({"jsonrpc": "2.0", "id": "abc", "error": {"type": "ContextNotFound"}})
    );
    let reply = node
        .rpc(json!({"jsonrpc": "2.0", "id": null, "method": "set_ephemeral", "params": {"contextId": "11111111111111111111111111111111", "state": vec![0u8; 16385]}}))
        .await;
    assert_eq!(
        reply,
        json!({"jsonrpc": "2.0", "id": null, "error": {"type": "SliceTooLarge", "data": {"size": 16385, "max": 16384}}})
    );
}

#[tokio::test]
async fn context_lifecycle() {
    let node = Node::default().await;
    let (app, ns, ctx, member) = node.setup(b"lifecycle wasm").await;

    assert_eq!(
        node.execute(&ctx, "len", json!({})).await["result"]["output"],
        0
    );
    let reply = node
        .rpc(json!({"jsonrpc": "2.0", "id": 9, "method": "set_ephemeral", "params": {"contextId": ctx, "state": [1, 2]}}))
        .await;
    assert_eq!(reply["result"], json!({}));

    // Leave: still listed, no identity left, execute refused; join restores.
    let left = node
        .post(&format!("/admin-api/contexts/{ctx}/leave"), "{}")
        .await;
    left.assert(
        200,
        &format!(r#"{{"data":{{"contextId":"{ctx}","memberPublicKey":"{member}"}}}}"#),
    );
    assert_eq!(
        node.get("/admin-api/contexts").await.json()["data"]["contexts"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    node.get(&format!("/admin-api/contexts/{ctx}/identities-owned"))
        .await
        .assert(200, r#"{"data":{"identities":[]}}"#);
    assert_eq!(
        node.execute(&ctx, "len", json!({})).await["error"]["data"],
        "No owned identity found for this context"
    );
    node.post(&format!("/admin-api/contexts/{ctx}/join"), "{}")
        .await
        .assert(
            200,
            &format!(r#"{{"data":{{"contextId":"{ctx}","memberPublicKey":"{member}"}}}}"#),
        );

    node.post("/admin-api/contexts/sync", "{}")
        .await
        .assert(200, r#"{"data":null}"#);
    node.post(&format!("/admin-api/contexts/sync/{ctx}"), "{}")
        .await
        .assert(200, r#"{"data":null}"#);

    // Resync needs a JSON body, and `force` while the context has DAG heads.
    let no_body = node
        .send(
            Method::POST,
            &format!("/admin-api/contexts/{ctx}/resync"),
            None,
        )
        .await;
    assert_eq!(no_body.status, StatusCode::BAD_REQUEST);
    node.post(&format!("/admin-api/contexts/{ctx}/resync"), "{}")
        .await
        .assert(500, r#"{"error":"Internal server error"}"#);
    let hex_ctx = hex::encode(bs58::decode(&ctx).into_vec().unwrap());
    node.post(
        &format!("/admin-api/contexts/{ctx}/resync"),
        r#"{"force":true}"#,
    )
    .await
    .assert(
        200,
        &format!(r#"{{"contextId":"{hex_ctx}","resyncStarted":true}}"#),
    );

    node.post(
        &format!("/admin-api/contexts/{ctx}/application"),
        &json!({"applicationId": app, "executorPublicKey": member}).to_string(),
    )
    .await
    .assert(200, r#"{"data":null}"#);

    // A seed gives a deterministic id; reusing it fails.
    let seed = bs58::encode([7u8; 32]).into_string();
    let body = json!({"applicationId": app, "groupId": ns, "initializationParams": [], "contextSeed": seed, "name": "seeded"}).to_string();
    let seeded = node.post("/admin-api/contexts", &body).await.json();
    let seeded_id = seeded["data"]["contextId"].as_str().unwrap().to_owned();
    node.post("/admin-api/contexts", &body)
        .await
        .assert(500, r#"{"error":"Internal server error"}"#);
    let other = Node::default().await;
    let (_, other_ns, _, _) = other.setup(b"lifecycle wasm").await;
    let other_seeded = other
        .post(
            "/admin-api/contexts",
            &json!({"applicationId": app, "groupId": other_ns, "initializationParams": [], "contextSeed": seed})
                .to_string(),
        )
        .await
        .json();
    assert_eq!(other_seeded["data"]["contextId"], seeded_id.as_str());
    assert_eq!(
        node.get(&format!("/admin-api/contexts/{seeded_id}"))
            .await
            .json()["data"]["name"],
        "seeded"
    );

    // Init refuses parameters the kv-store's `init` does not take.
    let params: Vec<u8> = br#"{"x":1}"#.to_vec();
    node.post(
        "/admin-api/contexts",
        &json!({"applicationId": app, "groupId": ns, "initializationParams": params}).to_string(),
    )
    .await
    .assert(400, r#"{"error":"application initialization failed: guest panicked: init: takes no arguments, but the call sent unknown field(s): [\"x\"] at apps/kv-store/src/lib.rs:35:12"}"#);

    // Paging: limit and offset.
    let page = node.get("/admin-api/contexts?limit=1").await.json();
    assert_eq!(page["data"]["contexts"].as_array().unwrap().len(), 1);
    let page = node.get("/admin-api/contexts?offset=5").await.json();
    assert_eq!(page["data"]["contexts"].as_array().unwrap().len(), 0);

    // Delete: true once, then false.
    node.delete(&format!("/admin-api/contexts/{seeded_id}"), None)
        .await
        .assert(200, r#"{"data":{"isDeleted":true}}"#);
    node.delete(&format!("/admin-api/contexts/{seeded_id}"), None)
        .await
        .assert(200, r#"{"data":{"isDeleted":false}}"#);

    // Namespace deletion needs a JSON body; the context stays, ungrouped.
    let no_body = node
        .delete(&format!("/admin-api/namespaces/{ns}"), None)
        .await;
    assert_eq!(no_body.status, StatusCode::BAD_REQUEST);
    node.delete(&format!("/admin-api/namespaces/{ns}"), Some("{}"))
        .await
        .assert(200, r#"{"data":{"isDeleted":true}}"#);
    node.delete(&format!("/admin-api/namespaces/{ns}"), Some("{}"))
        .await
        .assert(500, r#"{"error":"Internal server error"}"#);
    node.get(&format!("/admin-api/contexts/{ctx}/group"))
        .await
        .assert(200, r#"{"data":null}"#);
}

#[tokio::test]
async fn applications_packages_and_versions() {
    let node = Node::default().await;
    let v1 = temp_file(b"version one");
    let v2 = temp_file(b"version two");
    let plain = temp_file(b"no package");
    let install = |path: &PathBuf, version: Option<&str>| {
        let mut body = json!({"path": path, "metadata": [1, 2]});
        if let Some(v) = version {
            body["package"] = json!("com.example.pkg");
            body["version"] = json!(v);
        }
        body.to_string()
    };
    let app1 = node
        .post(
            "/admin-api/install-dev-application",
            &install(&v1, Some("1.2.0")),
        )
        .await
        .json()["data"]["applicationId"]
        .as_str()
        .unwrap()
        .to_owned();
    let app2 = node
        .post(
            "/admin-api/install-dev-application",
            &install(&v2, Some("1.10.0")),
        )
        .await
        .json()["data"]["applicationId"]
        .as_str()
        .unwrap()
        .to_owned();
    let plain_id = node
        .post("/admin-api/install-dev-application", &install(&plain, None))
        .await
        .json()["data"]["applicationId"]
        .as_str()
        .unwrap()
        .to_owned();

    node.get("/admin-api/packages")
        .await
        .assert(200, r#"{"packages":["com.example.pkg","unknown"]}"#);
    let versions = node
        .get("/admin-api/packages/com.example.pkg/versions")
        .await
        .json();
    let mut versions: Vec<String> = serde_json::from_value(versions["versions"].clone()).unwrap();
    versions.sort();
    assert_eq!(versions, ["1.10.0", "1.2.0"]);
    node.get("/admin-api/packages/com.example.pkg/latest")
        .await
        .assert(
            200,
            &format!(r#"{{"applicationId":"{app2}","version":"1.10.0"}}"#),
        );
    node.get("/admin-api/packages/none/latest")
        .await
        .assert(200, r#"{"applicationId":null,"version":null}"#);

    let versions = node
        .get(&format!("/admin-api/applications/{app1}/versions"))
        .await
        .json();
    assert_eq!(versions["data"][0]["version"], "1.2.0");
    assert_eq!(versions["data"][0]["package"], "com.example.pkg");
    assert_eq!(versions["data"][0]["size"], 11);

    // Installed without package/version: the node stores its defaults.
    let plain_app = node
        .get(&format!("/admin-api/applications/{plain_id}"))
        .await
        .json();
    assert_eq!(plain_app["data"]["application"]["package"], "unknown");
    assert_eq!(plain_app["data"]["application"]["version"], "0.0.0");
    assert_eq!(plain_app["data"]["application"]["metadata"], json!([1, 2]));

    node.delete(&format!("/admin-api/applications/{app1}"), None)
        .await
        .assert(200, &format!(r#"{{"data":{{"applicationId":"{app1}"}}}}"#));
    node.get(&format!("/admin-api/applications/{app1}"))
        .await
        .assert(404, r#"{"error":"Application not found"}"#);
    node.delete("/admin-api/applications/xyz0", None)
        .await
        .assert(
            400,
            "Invalid URL: provided string contained invalid character '0' at byte 3",
        );
}

#[tokio::test]
async fn install_application_from_a_local_url() {
    // A tiny file server on loopback; the node may fetch from it only with
    // `allow_private_urls`.
    let content = b"wasm served over http".to_vec();
    let served = content.clone();
    let files = axum::Router::new()
        .route(
            "/app.wasm",
            axum::routing::get(move || {
                let body = served.clone();
                async move { body }
            }),
        )
        .fallback(|| async { (StatusCode::NOT_FOUND, "no such file") });
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let files_addr = listener.local_addr().unwrap();
    drop(tokio::spawn(async move {
        axum::serve(listener, files).await.unwrap();
    }));

    let strict = Node::default().await;
    let url = format!("http://{files_addr}/app.wasm");
    let body = json!({"url": url, "metadata": []}).to_string();
    assert_eq!(
        strict
            .post("/admin-api/install-application", &body)
            .await
            .status,
        StatusCode::BAD_REQUEST
    );

    let node = Node::start(Config::default().allow_private_urls(true)).await;
    let installed = node.post("/admin-api/install-application", &body).await;
    assert_eq!(installed.status, StatusCode::OK, "{}", installed.body);
    let app = installed.json()["data"]["applicationId"]
        .as_str()
        .unwrap()
        .to_owned();
    let listed = node
        .get(&format!("/admin-api/applications/{app}"))
        .await
        .json();
    assert_eq!(listed["data"]["application"]["source"], url.as_str());
    assert_eq!(listed["data"]["application"]["size"], content.len());

    let hash = {
        use sha2::{Digest, Sha256};
        bs58::encode(Sha256::digest(&content)).into_string()
    };
    let with_hash = json!({"url": url, "hash": hash, "metadata": []}).to_string();
    assert_eq!(
        node.post("/admin-api/install-application", &with_hash)
            .await
            .status,
        StatusCode::OK
    );
    let wrong_hash =
        json!({"url": url, "hash": "11111111111111111111111111111111", "metadata": []}).to_string();
    let mismatch = node
        .post("/admin-api/install-application", &wrong_hash)
        .await;
    mismatch.assert(500, "fatal: blob hash mismatch");
    assert_eq!(mismatch.content_type(), "text/plain; charset=utf-8");

    let missing = json!({"url": format!("http://{files_addr}/gone.wasm"), "metadata": []});
    let reply = node
        .post("/admin-api/install-application", &missing.to_string())
        .await;
    assert_eq!(reply.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(
        reply.body,
        format!(
            "Registry returned HTTP 404 Not Found for http://{files_addr}/gone.wasm: no such file"
        )
    );

    // Nothing listens on port 9 of loopback: a fetch failure is a 500 too.
    let refused = json!({"url": "http://127.0.0.1:9/app.wasm", "metadata": []});
    let reply = node
        .post("/admin-api/install-application", &refused.to_string())
        .await;
    assert_eq!(reply.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert!(!reply.body.is_empty());
}

#[tokio::test]
async fn request_log_records_non_control_requests() {
    let node = Node::default().await;
    node.get("/admin-api/health?probe=1").await;
    node.post("/admin-api/identity/context", "{}").await;
    node.get("/_testnode/requests").await;

    let log = node.get("/_testnode/requests").await.json();
    let requests = log["requests"].as_array().unwrap();
    assert_eq!(requests.len(), 2, "{log}");
    let first = &requests[0];
    assert_eq!(first["method"], "GET");
    assert_eq!(first["path"], "/admin-api/health");
    assert_eq!(first["query"], "probe=1");
    assert_eq!(first["bodyLen"], 0);
    assert!(first["headers"]["host"].is_string());
    assert!(first["finishedMs"].as_f64().unwrap() >= first["startedMs"].as_f64().unwrap());
    let second = &requests[1];
    assert_eq!(second["method"], "POST");
    assert_eq!(second["query"], Value::Null);
    assert_eq!(second["bodyLen"], 2);
    assert_eq!(second["headers"]["content-type"], "application/json");

    node.delete("/_testnode/requests", None).await;
    assert_eq!(
        node.get("/_testnode/requests").await.json()["requests"],
        json!([])
    );

    // Reset wipes state and the log.
    node.setup(b"reset me").await;
    node.post("/_testnode/reset", "{}").await;
    node.get("/admin-api/applications")
        .await
        .assert(200, r#"{"data":{"apps":[]}}"#);
    assert_eq!(
        node.get("/admin-api/identity").await.status,
        StatusCode::NOT_FOUND
    );
    let log = node.get("/_testnode/requests").await.json();
    assert_eq!(log["requests"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn faults_delay_status_and_drop() {
    let node = Node::default().await;

    // Delay: handled normally, and the log spans the sleep.
    node.post(
        "/_testnode/faults",
        r#"{"path":"/admin-api/health","kind":"delay","delayMs":300,"times":1}"#,
    )
    .await
    .assert(200, r#"{"id":1}"#);
    node.get("/admin-api/health")
        .await
        .assert(200, r#"{"data":{"status":"alive"}}"#);
    let log = node.get("/_testnode/requests").await.json();
    let entry = &log["requests"][0];
    let elapsed = entry["finishedMs"].as_f64().unwrap() - entry["startedMs"].as_f64().unwrap();
    assert!(elapsed >= 290.0, "elapsed {elapsed}");
    // `times: 1` is used up.
    assert_eq!(
        node.get("/_testnode/faults").await.json(),
        json!({"faults": []})
    );

    // Status: answered instead of handled, method-matched.
    node.post(
        "/_testnode/faults",
        r#"{"path":"/admin-api/contexts","method":"get","kind":"status","status":503,"body":"{\"error\":\"busy\"}","times":2}"#,
    )
    .await;
    for _ in 0..2 {
        let reply = node.get("/admin-api/contexts?offset=0").await;
        reply.assert(503, r#"{"error":"busy"}"#);
        assert_eq!(reply.content_type(), "application/json");
        assert_eq!(reply.headers["access-control-allow-origin"], "*");
    }
    node.get("/admin-api/contexts")
        .await
        .assert(200, r#"{"data":{"contexts":[]}}"#);
    node.post(
        "/_testnode/faults",
        r#"{"path":"/admin-api/peers","kind":"status","status":502,"body":"bad gateway","contentType":"text/html"}"#,
    )
    .await;
    let reply = node.get("/admin-api/peers").await;
    reply.assert(502, "bad gateway");
    assert_eq!(reply.content_type(), "text/html");

    // Drop: the client sees a connection error, the log still has the request.
    node.post(
        "/_testnode/faults",
        r#"{"path":"/admin-api/ready","kind":"drop"}"#,
    )
    .await;
    let err = node
        .try_send(Method::GET, "/admin-api/ready", None)
        .await
        .err()
        .expect("the connection must be dropped");
    assert!(err.is_request() || err.is_connect(), "{err:?}");
    let log = node.get("/_testnode/requests").await.json();
    let dropped = log["requests"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["path"] == "/admin-api/ready")
        .cloned()
        .unwrap();
    assert!(dropped["finishedMs"].is_number());

    // Bad specs are refused; clearing removes the rest.
    let bad = node
        .post("/_testnode/faults", r#"{"path":"/x","kind":"delay"}"#)
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    node.delete("/_testnode/faults", None).await;
    node.get("/admin-api/ready")
        .await
        .assert(200, r#"{"data":{"status":"ready"}}"#);
    node.get("/admin-api/peers")
        .await
        .assert(200, r#"{"count":0}"#);
}

/// `hold`: requests wait for `POST /_testnode/faults/release`, however long;
/// a release before the request comes holds nothing back; clearing the
/// faults re-arms it.
#[tokio::test]
async fn faults_hold_until_released() {
    let node = Node::default().await;
    node.post(
        "/_testnode/faults",
        r#"{"path":"/admin-api/health","kind":"hold","times":2}"#,
    )
    .await
    .assert(200, r#"{"id":1}"#);
    let calls: Vec<_> = (0..2)
        .map(|_| {
            let (client, url) = (
                node.client.clone(),
                format!("{}/admin-api/health", node.base),
            );
            tokio::spawn(async move { client.get(url).send().await.unwrap().status() })
        })
        .collect();
    // Both arrive and stay held.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let log = node.get("/_testnode/requests").await.json();
        let held = log["requests"].as_array().unwrap();
        if held.len() == 2 {
            assert!(held.iter().all(|r| r["finishedMs"].is_null()));
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "never arrived");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert!(calls.iter().all(|c| !c.is_finished()));
    let released = node.post("/_testnode/faults/release", "").await.json();
    assert!(released["released"].as_u64().unwrap() <= 2);
    for call in calls {
        assert_eq!(call.await.unwrap(), StatusCode::OK);
    }

    // Released before the request comes: not held.
    node.post(
        "/_testnode/faults",
        r#"{"path":"/admin-api/ready","kind":"hold"}"#,
    )
    .await;
    node.get("/admin-api/ready")
        .await
        .assert(200, r#"{"data":{"status":"ready"}}"#);
    // Cleared: held again, until `delayMs` at most.
    node.delete("/_testnode/faults", None).await;
    node.post(
        "/_testnode/faults",
        r#"{"path":"/admin-api/ready","kind":"hold","delayMs":50,"times":1}"#,
    )
    .await;
    node.get("/admin-api/ready")
        .await
        .assert(200, r#"{"data":{"status":"ready"}}"#);
    let log = node.get("/_testnode/requests").await.json();
    let last = log["requests"].as_array().unwrap().last().unwrap().clone();
    let held = last["finishedMs"].as_f64().unwrap() - last["startedMs"].as_f64().unwrap();
    assert!(held >= 45.0, "held {held} ms");
}

#[tokio::test]
async fn cors_preflight() {
    let node = Node::default().await;
    let reply = node
        .client
        .request(Method::OPTIONS, format!("{}/admin-api/contexts", node.base))
        .header("origin", "http://example.com")
        .header("access-control-request-method", "POST")
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), StatusCode::OK);
    assert_eq!(reply.headers()["access-control-allow-origin"], "*");
    assert_eq!(
        reply.headers()["access-control-allow-methods"],
        "POST,GET,DELETE,PUT,OPTIONS"
    );
}
