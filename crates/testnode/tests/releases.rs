//! The node at different releases (`Config::release`, `--node-version`):
//! ids, routes, bodies, installs and listings per release boundary. The
//! expected answers are the recorded ones where a recording exists (cited),
//! else what `src/release.rs` documents.

mod common;

use reqwest::StatusCode;
use serde_json::{json, Value};

use common::*;

fn keys(value: &Value) -> Vec<&str> {
    value
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect()
}

#[tokio::test]
async fn the_control_api_names_the_release() {
    let rc25 = Node::default().await.get("/_testnode/release").await.json();
    assert_eq!(rc25["nodeVersion"], "0.11.0-rc.25");
    assert_eq!(rc25["features"]["hexIds"], false);
    let rc83 = Node::at(83).await.get("/_testnode/release").await.json();
    assert_eq!(rc83["nodeVersion"], "0.11.0-rc.83");
    assert_eq!(rc83["rc"], 83);
    assert_eq!(rc83["features"]["hexIds"], true);
    assert_eq!(rc83["features"]["strictBodies"], true);
    let certificate = rc83["routes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["path"] == "/admin-api/certificate")
        .unwrap();
    assert_eq!(certificate["served"], false);
    assert_eq!(certificate["until"], 83);
}

/// rc.27 removed base58: ids are 64 hex out, and only hex goes in (core
/// `hash.rs`, index id 59326009433; swift Rc29SurfaceTests).
#[tokio::test]
async fn hash_ids_turn_hex_at_rc27() {
    let old = Node::at(26).await;
    let (app, _, ctx, member) = old.setup_release().await;
    for id in [&app, &ctx, &member] {
        assert!(is_bs58_id(id) && !is_hex64(id), "{id}");
    }

    let node = Node::at(27).await;
    let (app, ns, ctx, member) = node.setup_release().await;
    for id in [&app, &ctx, &member] {
        assert!(is_hex64(id), "{id}");
    }
    let listed = node.get("/admin-api/applications").await.json();
    let row = &listed["data"]["apps"][0];
    assert_eq!(row["id"], app.as_str());
    assert!(is_hex64(row["blob"]["bytecode"].as_str().unwrap()));
    assert_eq!(row["blob"]["compiled"], "0".repeat(64));
    let got = node.get(&format!("/admin-api/contexts/{ctx}")).await.json();
    assert!(is_hex64(got["data"]["contextStateHash"].as_str().unwrap()));

    // A base58 id is refused in a path and in a body.
    let bs58 = bs58::encode([7u8; 32]).into_string();
    node.get(&format!("/admin-api/applications/{bs58}"))
        .await
        .assert(400, "Invalid URL: expected 64 hex characters (32 bytes)");
    node.get(&format!("/admin-api/applications/{}", "ab".repeat(31)))
        .await
        .assert(400, "Invalid URL: invalid hash length");
    let body =
        format!(r#"{{"applicationId":"{bs58}","groupId":"{ns}","initializationParams":[]}}"#);
    let column = r#"{"applicationId":""#.len() + bs58.len() + 1;
    node.post("/admin-api/contexts", &body).await.assert(
        400,
        &format!(
            r#"{{"error":"Invalid JSON data: Failed to deserialize the JSON body into the target type: applicationId: expected 64 hex characters (32 bytes) at line 1 column {column}"}}"#
        ),
    );

    // JSON-RPC carries hex too, and events name the context in hex.
    let set = node
        .execute(&ctx, "set", json!({"key": "k", "value": "v"}))
        .await;
    assert_eq!(set["result"]["output"], Value::Null);
    let got = node.execute(&ctx, "get", json!({"key": "k"})).await;
    assert_eq!(got["result"]["output"], "v");

    // Alias values and blob ids are ids too.
    node.post(
        "/admin-api/alias/create/context",
        &json!({"alias": "main", "contextId": ctx}).to_string(),
    )
    .await
    .assert(200, r#"{"data":null}"#);
    node.get("/admin-api/alias/list/context")
        .await
        .assert(200, &format!(r#"{{"data":{{"main":"{ctx}"}}}}"#));
    let blob = node
        .send(reqwest::Method::PUT, "/admin-api/blobs", Some("blob bytes"))
        .await
        .json();
    assert!(
        is_hex64(blob["data"]["blob_id"].as_str().unwrap()),
        "{blob}"
    );
}

/// rc.28 moved pairing to the account (swift Rc29SurfaceTests).
#[tokio::test]
async fn pairing_moves_to_the_account_at_rc28() {
    let root = "44".repeat(32);
    let old = Node::at(27).await;
    let (_, ns, _, _) = old.setup_release().await;
    old.post(
        "/admin-api/account/pair-init",
        &json!({"accountRootPublicKey": root, "namespaces": [ns]}).to_string(),
    )
    .await
    .assert(404, "");
    let offer = old
        .post(
            &format!("/admin-api/namespaces/{ns}/account/pair-init"),
            &json!({ "accountRootPublicKey": root }).to_string(),
        )
        .await;
    assert_eq!(offer.status, StatusCode::OK, "{}", offer.body);
    old.get("/admin-api/account/devices").await.assert(404, "");

    let node = Node::at(28).await;
    let (_, ns, _, _) = node.setup_release().await;
    node.post(
        &format!("/admin-api/namespaces/{ns}/account/pair-init"),
        &json!({ "accountRootPublicKey": root }).to_string(),
    )
    .await
    .assert(404, "");
    let offer = node
        .post(
            "/admin-api/account/pair-init",
            &json!({"accountRootPublicKey": root, "namespaces": [ns]}).to_string(),
        )
        .await
        .json();
    assert_eq!(
        keys(&offer["data"]),
        [
            "accountId",
            "deviceId",
            "kemPublicKey",
            "signPublicKey",
            "statement",
            "confirmationCode"
        ]
    );
    node.post(
        "/admin-api/account/pair-init",
        &json!({"accountRootPublicKey": root, "namespaces": []}).to_string(),
    )
    .await
    .assert(
        400,
        r#"{"error":"Field 'namespaces' is required but was empty"}"#,
    );
}

/// The whole account flow at rc.83: the node pairs a device of its own
/// account, lists it (flat), relinks, rescopes, labels it, and signs with
/// the account root (swift Rc29/Rc32/Rc41/Rc83 surface tests; core wire
/// fixtures under `account/`).
#[tokio::test]
async fn account_devices_at_rc83() {
    let node = Node::at(83).await;
    let (app, ns, _, _) = node.setup_release().await;
    let identity = node.get("/admin-api/identity").await.json()["data"].clone();
    let root = identity["accountRootPublicKey"].as_str().unwrap();
    let offer = node
        .post(
            "/admin-api/account/pair-init",
            &json!({"accountRootPublicKey": root, "namespaces": [ns]}).to_string(),
        )
        .await
        .json()["data"]
        .clone();
    let device = offer["deviceId"].as_str().unwrap().to_owned();
    let complete = json!({
        "deviceId": device,
        "kemPublicKey": offer["kemPublicKey"],
        "signPublicKey": offer["signPublicKey"],
        "statement": offer["statement"],
        "confirmationCode": "0000-0000-0000-0000",
    });
    node.post("/admin-api/account/pair-complete", &complete.to_string())
        .await
        .assert(
            400,
            r#"{"error":"the confirmation code does not match the one the new device shows"}"#,
        );
    let mut complete = complete;
    complete["confirmationCode"] = offer["confirmationCode"].clone();
    let done = node
        .post("/admin-api/account/pair-complete", &complete.to_string())
        .await
        .json();
    assert_eq!(
        keys(&done["data"]),
        [
            "accountId",
            "deviceId",
            "keyDelivered",
            "confirmationCode",
            "credential"
        ]
    );
    assert_eq!(done["data"]["credential"].as_str().unwrap().len(), 474);

    let devices = node.get("/admin-api/account/devices").await;
    assert_eq!(devices.status, StatusCode::OK);
    let devices = devices.json();
    assert_eq!(keys(&devices), ["devices"], "flat, no data envelope");
    let list = devices["devices"].as_array().unwrap();
    assert_eq!(list.len(), 2);
    assert_eq!(
        keys(&list[0]),
        [
            "deviceId",
            "signingKey",
            "isSelf",
            "revoked",
            "applications",
            "namespaces"
        ]
    );
    assert_eq!(list[0]["isSelf"], true);
    assert_eq!(list[0]["deviceId"], identity["deviceId"]);
    assert_eq!(list[1]["deviceId"], device.as_str());
    assert_eq!(list[1]["namespaces"], json!([ns]));

    let apps = node.get("/admin-api/account/applications").await.json();
    assert_eq!(
        apps,
        json!({"applications": [{"applicationId": app, "namespaces": [ns]}]})
    );

    let relinked = node
        .post(&format!("/admin-api/account/devices/{device}/relink"), "{}")
        .await
        .json();
    assert_eq!(
        relinked["data"],
        json!({
            "accountId": identity["accountId"],
            "deviceId": device,
            "applications": [],
            "linkedIn": [],
            "skipped": [{"namespaceId": ns, "reason": "alreadyBound"}],
        })
    );

    node.put(
        &format!("/admin-api/account/devices/{device}/scope"),
        r#"{"scope":{"only":[]}}"#,
    )
    .await
    .assert(400, r#"{"error":"a scope of `only` must name at least one application; use \"all\" for every application"}"#);
    let rescoped = node
        .put(
            &format!("/admin-api/account/devices/{device}/scope"),
            r#"{"scope":"all"}"#,
        )
        .await
        .json();
    assert_eq!(rescoped["data"]["descoped"], json!([]));

    let labelled = node
        .put(
            &format!("/admin-api/account/devices/{device}/label"),
            r#"{"label":"Work laptop"}"#,
        )
        .await
        .json();
    assert_eq!(labelled["data"]["label"], "Work laptop");
    assert_eq!(labelled["data"]["labelEpoch"], 1);
    let listed = node.get("/admin-api/account/devices").await.json();
    assert_eq!(listed["devices"][1]["label"], "Work laptop");

    let signed = node
        .post(
            "/admin-api/account/sign-with-root",
            r#"{"domain":"mdma.account-login","payload":"6368616c6c656e6765"}"#,
        )
        .await
        .json();
    assert_eq!(
        keys(&signed["data"]),
        ["rootPublicKey", "signature", "accountId"]
    );
    assert_eq!(signed["data"]["rootPublicKey"], root);
    assert!(signed["data"]["signature"].as_str().unwrap().ends_with('='));

    // link-device takes a device credential of this account.
    let linked = node
        .post(
            &format!("/admin-api/namespaces/{ns}/account/link-device"),
            &json!({"credential": done["data"]["credential"], "scope": "00"}).to_string(),
        )
        .await
        .json();
    assert_eq!(
        linked["data"],
        json!({"accountId": identity["accountId"], "deviceId": device, "alreadyBound": true})
    );
    node.post(
        &format!("/admin-api/namespaces/{ns}/account/link-device"),
        r#"{"credential":"02aa","scope":"bb"}"#,
    )
    .await
    .assert(
        400,
        r#"{"error":"the credential is not a device certificate (AccountProof<DeviceCert>)"}"#,
    );
}

/// `GET /identity` grows a key at rc.29, rc.32, rc.38 and rc.41 (swift
/// `rc29-node-identity.json`, `rc32-node-identity.json`; core fixture
/// `identity/node_identity.res.json`, quoted by swift `Rc41SurfaceTests`).
#[tokio::test]
async fn the_node_identity_grows_per_release() {
    let base = ["accountId", "deviceId", "publicKey", "accountRootPublicKey"];
    for (rc, extra) in [
        (25, &[][..]),
        (28, &[][..]),
        (29, &["deviceAgreementKey"][..]),
        (32, &["deviceAgreementKey", "holdsAccountRoot"][..]),
        (
            38,
            &[
                "deviceAgreementKey",
                "holdsAccountRoot",
                "accountNamespaceId",
            ][..],
        ),
        (
            41,
            &[
                "deviceAgreementKey",
                "holdsAccountRoot",
                "accountNamespaceId",
                "deviceCertified",
            ][..],
        ),
        (
            83,
            &[
                "deviceAgreementKey",
                "holdsAccountRoot",
                "accountNamespaceId",
                "deviceCertified",
            ][..],
        ),
    ] {
        let node = Node::at(rc).await;
        let _ = node.setup_release().await;
        let identity = node.get("/admin-api/identity").await.json()["data"].clone();
        let expected: Vec<&str> = base.iter().chain(extra).copied().collect();
        assert_eq!(keys(&identity), expected, "rc.{rc}");
        assert_eq!(
            is_hex64(identity["publicKey"].as_str().unwrap()),
            rc >= 27,
            "rc.{rc}"
        );
    }
}

/// axum 0.8 (rc.30, kotlin CHANGELOG) stopped matching a trailing slash.
#[tokio::test]
async fn a_trailing_slash_stops_matching_at_rc30() {
    let old = Node::at(29).await;
    old.post("/admin-api/contexts/sync/", "{}")
        .await
        .assert(200, r#"{"data":null}"#);
    let reply = old
        .post(
            "/jsonrpc/",
            r#"{"jsonrpc":"2.0","id":1,"method":"sync_status","params":{"contextId":"0000000000000000000000000000000000000000000000000000000000000000"}}"#,
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);

    let node = Node::at(30).await;
    node.post("/admin-api/contexts/sync/", "{}")
        .await
        .assert(404, "");
    node.post("/admin-api/contexts/sync", "{}")
        .await
        .assert(200, r#"{"data":null}"#);
    node.post("/jsonrpc/", "{}").await.assert(404, "");
    node.get("/sse/").await.assert(404, "");
}

/// rc.31: install by coordinates from the node's own registry (core#3652).
/// The refusal of the rc.25 body is recorded from a live rc.32 (swift
/// `rc32-install-application-url-refused.json`).
#[tokio::test]
async fn install_by_coordinates_from_rc31() {
    let old = Node::at(30).await;
    old.post(
        "/admin-api/install-application",
        r#"{"package":"com.calimero.chat","version":"3.1.1"}"#,
    )
    .await
    .assert(
        400,
        r#"{"error":"Invalid JSON data: Failed to deserialize the JSON body into the target type: missing field `url` at line 1 column 49"}"#,
    );

    let node = Node::at(31).await;
    node.post(
        "/admin-api/install-application",
        r#"{"url":"https://example/a.mpk","metadata":[]}"#,
    )
    .await
    .assert(
        400,
        r#"{"error":"Invalid JSON data: Failed to deserialize the JSON body into the target type: url: unknown field `url`, expected `package` or `version` at line 1 column 6"}"#,
    );
    let unpublished = node
        .post(
            "/admin-api/install-application",
            r#"{"package":"com.calimero.chat","version":"3.1.1"}"#,
        )
        .await;
    unpublished.assert(
        502,
        "the configured Http source has no application published at com.calimero.chat@3.1.1",
    );
    assert_eq!(unpublished.content_type(), "text/plain; charset=utf-8");
    node.post(
        "/admin-api/install-application",
        r#"{"package":"","version":"1"}"#,
    )
    .await
    .assert(
        400,
        r#"{"error":"Field 'package' is required but was empty"}"#,
    );

    let published = node
        .post(
            "/_testnode/registry",
            r#"{"package":"com.calimero.chat","version":"3.1.1"}"#,
        )
        .await
        .json();
    let installed = node
        .post(
            "/admin-api/install-application",
            r#"{"package":"com.calimero.chat","version":"3.1.1"}"#,
        )
        .await;
    assert_eq!(installed.status, StatusCode::OK, "{}", installed.body);
    let id = installed.json()["data"]["applicationId"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(is_hex64(&id));
    assert_eq!(published["applicationId"], id.as_str());
    let app = node
        .get(&format!("/admin-api/applications/{id}"))
        .await
        .json();
    assert_eq!(app["data"]["application"]["package"], "com.calimero.chat");
    assert_eq!(app["data"]["application"]["version"], "3.1.1");
    // The bundle's manifest version is the namespace's `appVersion`.
    let ns = node
        .post(
            "/admin-api/namespaces",
            &json!({ "applicationId": id }).to_string(),
        )
        .await
        .json()["data"]["namespaceId"]
        .as_str()
        .unwrap()
        .to_owned();
    let got = node
        .get(&format!("/admin-api/namespaces/{ns}"))
        .await
        .json();
    assert_eq!(got["data"]["appVersion"], "3.1.1");
    // The kv-store ABI rides in the published bundle.
    let abi = node.get(&format!("/admin-api/applications/{id}/abi")).await;
    assert_eq!(abi.status, StatusCode::OK, "{}", abi.body);
}

/// `--publish` seeds the registry; `reset` keeps what was given at start.
#[tokio::test]
async fn packages_published_at_start_survive_a_reset() {
    let node = Node::start(
        calimero_testnode::Config::default()
            .release(calimero_testnode::Release::NEWEST)
            .publish("com.example.kv", "1.0.0"),
    )
    .await;
    let _ = node
        .post(
            "/_testnode/registry",
            r#"{"package":"com.example.other","version":"2.0.0"}"#,
        )
        .await;
    assert_eq!(
        node.get("/_testnode/registry").await.json()["packages"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    let _ = node.post("/_testnode/reset", "{}").await;
    assert_eq!(
        node.get("/_testnode/registry").await.json(),
        json!({"packages": [{"package": "com.example.kv", "version": "1.0.0"}]})
    );
    let installed = node
        .post(
            "/admin-api/install-application",
            r#"{"package":"com.example.kv","version":"1.0.0"}"#,
        )
        .await;
    assert_eq!(installed.status, StatusCode::OK, "{}", installed.body);
}

/// rc.32: the dev install takes `{path}` and only a signed bundle (kotlin
/// CHANGELOG rc.32); extra keys are ignored until rc.38 refuses them.
#[tokio::test]
async fn dev_installs_take_bundles_only_from_rc32() {
    let node = Node::at(32).await;
    let wasm = temp_file(b"\0asm\x01\0\0\0");
    let canonical = std::fs::canonicalize(&wasm).unwrap();
    node.post(
        "/admin-api/install-dev-application",
        &json!({ "path": wasm }).to_string(),
    )
    .await
    .assert(
        500,
        &format!("not a signed application bundle: {}", canonical.display()),
    );
    let unsigned = node
        .post(
            "/_testnode/bundles",
            r#"{"package":"p","version":"1.0.0","signed":false}"#,
        )
        .await
        .json();
    node.post(
        "/admin-api/install-dev-application",
        &json!({ "path": unsigned["path"] }).to_string(),
    )
    .await
    .assert(500, "manifest is missing required 'signature' field");
    let bundle = node
        .post("/_testnode/bundles", r#"{"package":"p","version":"1.0.0"}"#)
        .await
        .json();
    let legacy = json!({"path": bundle["path"], "metadata": [], "package": "x"}).to_string();
    let installed = node
        .post("/admin-api/install-dev-application", &legacy)
        .await
        .json();
    assert_eq!(installed["data"]["applicationId"], bundle["applicationId"]);

    let strict = Node::at(38).await;
    let column = r#"{"path":""#.len() + bundle["path"].as_str().unwrap().len() + 2 + 10;
    strict
        .post("/admin-api/install-dev-application", &legacy)
        .await
        .assert(
            400,
            &format!(
                r#"{{"error":"Invalid JSON data: Failed to deserialize the JSON body into the target type: metadata: unknown field `metadata`, expected `path` at line 1 column {column}"}}"#
            ),
        );
}

/// rc.38 made every body `deny_unknown_fields` (swift Rc38SurfaceTests,
/// measured on a live rc.38): 400 JSON on `ValidatedJson` routes, 422 text
/// on plain `Json` ones.
#[tokio::test]
async fn bodies_turn_strict_at_rc38() {
    for (rc, strict) in [(37, false), (38, true)] {
        let node = Node::at(rc).await;
        let app = node.install().await;
        let body = json!({"upgradePolicy": "LazyOnAccess", "applicationId": app}).to_string();
        let created = node.post("/admin-api/namespaces", &body).await;
        if !strict {
            assert_eq!(created.status, StatusCode::OK, "{}", created.body);
            let ns = created.json()["data"]["namespaceId"]
                .as_str()
                .unwrap()
                .to_owned();
            let group = node
                .post(
                    &format!("/admin-api/namespaces/{ns}/groups"),
                    r#"{"name":"room"}"#,
                )
                .await;
            assert_eq!(group.status, StatusCode::OK, "{}", group.body);
            continue;
        }
        created.assert(
            400,
            r#"{"error":"Invalid JSON data: Failed to deserialize the JSON body into the target type: upgradePolicy: unknown field `upgradePolicy`, expected one of `applicationId`, `name`, `appKey`, `bytecodeId` at line 1 column 16"}"#,
        );
        let ns = node
            .post(
                "/admin-api/namespaces",
                &json!({ "applicationId": app }).to_string(),
            )
            .await
            .json()["data"]["namespaceId"]
            .as_str()
            .unwrap()
            .to_owned();
        let refused = node
            .post(
                &format!("/admin-api/namespaces/{ns}/groups"),
                r#"{"name":"room"}"#,
            )
            .await;
        refused.assert(
            422,
            "Failed to deserialize the JSON body into the target type: name: unknown field `name`, expected `groupName` or `visibility` at line 1 column 7",
        );
        assert_eq!(refused.content_type(), "text/plain; charset=utf-8");
        node.delete(
            &format!("/admin-api/namespaces/{ns}"),
            Some(r#"{"force":true}"#),
        )
        .await
        .assert(
            400,
            r#"{"error":"Invalid JSON data: Failed to deserialize the JSON body into the target type: force: unknown field `force`, there are no fields at line 1 column 8"}"#,
        );
    }
}

/// JSON-RPC `params` are strict too, inside a 200 `ParseError`.
#[tokio::test]
async fn jsonrpc_params_turn_strict_at_rc38() {
    let params = json!({
        "contextId": "00".repeat(32), "method": "get", "argsJson": {},
        "executorPublicKey": "00".repeat(32),
    });
    let call = json!({"jsonrpc": "2.0", "id": 1, "method": "execute", "params": params});
    let strict = Node::at(38).await;
    assert_eq!(
        strict.rpc(call.clone()).await,
        json!({"jsonrpc": "2.0", "id": 1, "error": {"type": "ParseError", "data": "unknown field `executorPublicKey`, expected one of `contextId`, `method`, `argsJson`"}})
    );
    let lax = Node::at(37).await;
    assert_eq!(
        lax.rpc(call).await["error"],
        json!({"type": "ContextNotFound"}),
        "the key ignored"
    );
}

/// Device aliases appear by rc.32 (swift `rc32-alias-list-device.json`).
#[tokio::test]
async fn device_aliases_from_rc32() {
    let device = "3f".repeat(32);
    let body = json!({"alias": "laptop", "deviceId": device}).to_string();
    Node::at(31)
        .await
        .post("/admin-api/alias/create/device", &body)
        .await
        .assert(404, "");
    let node = Node::at(32).await;
    node.post("/admin-api/alias/create/device", &body)
        .await
        .assert(200, r#"{"data":null}"#);
    node.get("/admin-api/alias/list/device")
        .await
        .assert(200, &format!(r#"{{"data":{{"laptop":"{device}"}}}}"#));
    node.post("/admin-api/alias/lookup/device/laptop", "")
        .await
        .assert(200, &format!(r#"{{"data":{{"value":"{device}"}}}}"#));
    node.post("/admin-api/alias/lookup/identity/laptop", "")
        .await
        .assert(404, "");
}

/// Invitations name their admitters from rc.29 and where to reach them
/// from rc.32 (swift `rc29-`/`rc32-namespace-invitation.json`); a stripped
/// `admitters` breaks the signature (kotlin CHANGELOG: "500 invalid
/// invitation signature").
#[tokio::test]
async fn invitations_grow_admitters() {
    let old = Node::at(28).await;
    let (_, ns, _, _) = old.setup_release().await;
    let inv = old
        .post(&format!("/admin-api/namespaces/{ns}/invite"), "{}")
        .await
        .json();
    assert_eq!(
        keys(&inv["data"]["invitation"]),
        [
            "invitation",
            "inviter_signature",
            "inviter_account",
            "application_id",
            "app_key"
        ]
    );
    old.post(&format!("/admin-api/namespaces/{ns}/admit"), "{}")
        .await
        .assert(404, "");

    let node = Node::at(32).await;
    let (_, ns, _, _) = node.setup_release().await;
    let account = node.get("/admin-api/identity").await.json()["data"]["accountId"].clone();
    let inv = node
        .post(&format!("/admin-api/namespaces/{ns}/invite"), "{}")
        .await
        .json();
    let envelope = &inv["data"]["invitation"];
    assert_eq!(
        keys(envelope),
        [
            "invitation",
            "inviter_signature",
            "inviter_account",
            "admitter_addrs",
            "application_id",
            "app_key"
        ]
    );
    assert_eq!(envelope["invitation"]["admitters"], json!([account]));
    let addr = envelope["admitter_addrs"][0].as_str().unwrap();
    assert!(
        addr.starts_with("/ip4/") && addr.contains("/p2p/12D3KooW"),
        "{addr}"
    );

    let admitted = node
        .post(
            &format!("/admin-api/namespaces/{ns}/admit"),
            &json!({"invitation": envelope, "signedOp": "deadbeef"}).to_string(),
        )
        .await;
    admitted.assert(200, r#"{"data":{"published":true}}"#);

    let mut stripped = envelope.clone();
    stripped["invitation"]
        .as_object_mut()
        .unwrap()
        .remove("admitters");
    node.post(
        &format!("/admin-api/namespaces/{ns}/join"),
        &json!({ "invitation": stripped }).to_string(),
    )
    .await
    .assert(500, r#"{"error":"invalid invitation signature"}"#);
    let joined = node
        .post(
            &format!("/admin-api/namespaces/{ns}/join"),
            &json!({ "invitation": envelope }).to_string(),
        )
        .await;
    assert_eq!(joined.status, StatusCode::OK, "{}", joined.body);

    let named = node
        .post(
            &format!("/admin-api/namespaces/{ns}/invite"),
            &json!({"admitters": ["ab".repeat(32)], "admitterAddrs": ["/ip4/10.0.0.7/tcp/4102"]})
                .to_string(),
        )
        .await
        .json();
    assert_eq!(
        named["data"]["invitation"]["invitation"]["admitters"],
        json!(["ab".repeat(32)])
    );
    assert_eq!(
        named["data"]["invitation"]["admitter_addrs"],
        json!(["/ip4/10.0.0.7/tcp/4102"])
    );
}

/// rc.41: the identity listings say whose identities they are.
#[tokio::test]
async fn identity_listings_say_whose_from_rc41() {
    let old = Node::at(40).await;
    let (_, _, ctx, _) = old.setup_release().await;
    let listed = old
        .get(&format!("/admin-api/contexts/{ctx}/identities"))
        .await
        .json();
    assert_eq!(keys(&listed["data"]), ["identities"]);

    let node = Node::at(41).await;
    let (_, _, ctx, member) = node.setup_release().await;
    node.get(&format!("/admin-api/contexts/{ctx}/identities"))
        .await
        .assert(
            200,
            &format!(r#"{{"data":{{"identities":["{member}"],"identitiesOf":"members"}}}}"#),
        );
    node.get(&format!("/admin-api/contexts/{ctx}/identities-owned"))
        .await
        .assert(
            200,
            &format!(r#"{{"data":{{"identities":["{member}"],"identitiesOf":"node"}}}}"#),
        );
}

/// rc.44 types the refusals that were `500 Internal server error`
/// (core `parse_api_error`, service.rs index id 70883150803).
#[tokio::test]
async fn refusals_are_typed_from_rc44() {
    let unknown = "ab".repeat(32);
    let old = Node::at(43).await;
    let (_, ns, _, _) = old.setup_release().await;
    old.get(&format!("/admin-api/groups/{unknown}"))
        .await
        .assert(500, r#"{"error":"Internal server error"}"#);
    let account = old.get("/admin-api/identity").await.json()["data"]["accountId"]
        .as_str()
        .unwrap()
        .to_owned();
    old.put(
        &format!("/admin-api/groups/{ns}/members/{account}/role"),
        r#"{"role":"Member"}"#,
    )
    .await
    .assert(500, r#"{"error":"Internal server error"}"#);

    let node = Node::at(44).await;
    let (_, ns, _, _) = node.setup_release().await;
    node.get(&format!("/admin-api/groups/{unknown}"))
        .await
        .assert(
            404,
            &format!(r#"{{"error":"group '{unknown}' not found"}}"#),
        );
    let account = node.get("/admin-api/identity").await.json()["data"]["accountId"]
        .as_str()
        .unwrap()
        .to_owned();
    node.put(
        &format!("/admin-api/groups/{ns}/members/{account}/role"),
        r#"{"role":"Member"}"#,
    )
    .await
    .assert(
        409,
        r#"{"error":"cannot demote the last admin of the group"}"#,
    );
    node.get(&format!(
        "/admin-api/groups/{ns}/members/{unknown}/capabilities"
    ))
    .await
    .assert(
        404,
        &format!(
            r#"{{"error":"member {unknown} not found in group ContextGroupId(Identity({:?}))"}}"#,
            hex::decode(&ns).unwrap()
        ),
    );
    // Not an admin any more: the write is a 403 naming the refusal.
    let other = "cd".repeat(32);
    let _ = node
        .post(
            &format!("/admin-api/groups/{ns}/members"),
            &json!({"members": [{"identity": other, "role": "Admin"}]}).to_string(),
        )
        .await;
    let demoted = node
        .put(
            &format!("/admin-api/groups/{ns}/members/{account}/role"),
            r#"{"role":"Member"}"#,
        )
        .await;
    assert_eq!(demoted.status, StatusCode::OK, "{}", demoted.body);
    let refused = node
        .put(
            &format!("/admin-api/groups/{ns}/settings/default-capabilities"),
            r#"{"defaultCapabilities":0}"#,
        )
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.body);
    assert!(
        refused.json()["error"]
            .as_str()
            .unwrap()
            .contains("is not an admin of group"),
        "{}",
        refused.body
    );
}
