//! The rc.83 batch (swift `Rc83SurfaceTests.swift`, core service.rs index
//! id 70883150803 and the wire fixtures), each against rc.82 where the
//! difference is a change rather than an addition.

mod common;

use base64::Engine;
use calimero_testnode::{AuthConfig, Config, Release};
use reqwest::{Method, StatusCode};
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
async fn the_certificate_route_is_gone_at_rc83() {
    Node::at(82)
        .await
        .get("/admin-api/certificate")
        .await
        .assert(404, "Certificate not found");
    Node::at(83)
        .await
        .get("/admin-api/certificate")
        .await
        .assert(404, "");
}

/// Group info gains `namespaceId` and `ownerOpCounter` (core fixture
/// `groups/group_info.res.json@b7284f9e`), a namespace its `founding`
/// (`namespaces/get.res.json@485b4aa0`).
#[tokio::test]
async fn groups_and_namespaces_carry_their_owner_state() {
    let old = Node::at(82).await;
    let (_, ns, _, _) = old.setup_release().await;
    let info = old.get(&format!("/admin-api/groups/{ns}")).await.json();
    assert!(info["data"].get("namespaceId").is_none());
    let got = old.get(&format!("/admin-api/namespaces/{ns}")).await.json();
    assert!(got["data"].get("founding").is_none());

    let node = Node::at(83).await;
    let (_, ns, _, _) = node.setup_release().await;
    let account = node.get("/admin-api/identity").await.json()["data"]["accountId"].clone();
    let info = node.get(&format!("/admin-api/groups/{ns}")).await.json();
    assert_eq!(
        keys(&info["data"]),
        [
            "groupId",
            "appKey",
            "targetApplicationId",
            "memberCount",
            "contextCount",
            "defaultCapabilities",
            "subgroupVisibility",
            "metadata",
            "groupStateHash",
            "namespaceId",
            "ownerOpCounter"
        ]
    );
    assert_eq!(info["data"]["namespaceId"], ns.as_str());
    assert_eq!(info["data"]["ownerOpCounter"], 0);
    let got = node
        .get(&format!("/admin-api/namespaces/{ns}"))
        .await
        .json();
    assert_eq!(got["data"]["founding"]["founderAccountId"], account);
    assert!(is_hex64(got["data"]["founding"]["salt"].as_str().unwrap()));
    assert!(got["data"].get("heldOps").is_none());
    let listed = node.get("/admin-api/namespaces").await.json();
    assert_eq!(listed["data"][0]["founding"], got["data"]["founding"]);
}

/// An absent `visibility` made a restricted subgroup, and makes an open one
/// at rc.83 (core `create_group_in_namespace.rs`, index id 71105812016).
#[tokio::test]
async fn subgroups_are_open_by_default_at_rc83() {
    for (rc, visibility) in [(82, "restricted"), (83, "open")] {
        let node = Node::at(rc).await;
        let (_, ns, _, _) = node.setup_release().await;
        let group = node
            .post(&format!("/admin-api/namespaces/{ns}/groups"), "{}")
            .await
            .json()["data"]["groupId"]
            .as_str()
            .unwrap()
            .to_owned();
        let info = node.get(&format!("/admin-api/groups/{group}")).await.json();
        assert_eq!(info["data"]["subgroupVisibility"], visibility, "rc.{rc}");
    }
}

/// `POST /groups` takes no `groupId` at rc.83: ids are derived.
#[tokio::test]
async fn groups_refuse_a_chosen_id_at_rc83() {
    let wanted = "ab".repeat(32);
    let old = Node::at(82).await;
    let app = old.install().await;
    old.post(
        "/admin-api/groups",
        &json!({"groupId": wanted, "applicationId": app}).to_string(),
    )
    .await
    .assert(200, &format!(r#"{{"data":{{"groupId":"{wanted}"}}}}"#));

    let node = Node::at(83).await;
    let app = node.install().await;
    node.post(
        "/admin-api/groups",
        &json!({"groupId": wanted, "applicationId": app}).to_string(),
    )
    .await
    .assert(
        400,
        r#"{"error":"Invalid JSON data: Failed to deserialize the JSON body into the target type: groupId: unknown field `groupId`, expected one of `appKey`, `bytecodeId`, `applicationId`, `name`, `parentGroupId` at line 1 column 10"}"#,
    );
    let created = node
        .post(
            "/admin-api/groups",
            &json!({ "applicationId": app }).to_string(),
        )
        .await;
    assert_eq!(created.status, StatusCode::OK, "{}", created.body);
}

/// Root-guarded owner ops (service.rs; fixtures
/// `groups/transfer_ownership.req.json`, `groups/owner_delete.req.json`,
/// `namespaces/change_admin.req.json`): `{}` answers, a counter per op.
#[tokio::test]
async fn owner_ops_at_rc83() {
    let other = "44".repeat(32);
    let old = Node::at(82).await;
    let (_, ns, _, _) = old.setup_release().await;
    old.post(
        &format!("/admin-api/groups/{ns}/transfer-ownership"),
        &json!({ "newOwner": other }).to_string(),
    )
    .await
    .assert(404, "");

    let node = Node::at(83).await;
    let (_, ns, _, _) = node.setup_release().await;
    let transfer = |body: Value| {
        let node = &node;
        let ns = ns.clone();
        async move {
            node.post(
                &format!("/admin-api/groups/{ns}/transfer-ownership"),
                &body.to_string(),
            )
            .await
        }
    };
    transfer(json!({"newOwner": "xyz"})).await.assert(
        400,
        r#"{"error":"newOwner must be 64 hex chars (32 bytes)"}"#,
    );
    transfer(json!({"newOwner": other, "rootProof": "zz"}))
        .await
        .assert(
            400,
            r#"{"error":"Field 'rootProof' contains invalid hex encoding: not valid hex"}"#,
        );
    transfer(json!({ "newOwner": other })).await.assert(
        409,
        &format!(r#"{{"error":"transfer target {other} is not a member of group {ns}"}}"#),
    );
    let _ = node
        .post(
            &format!("/admin-api/groups/{ns}/members"),
            &json!({"members": [{"identity": other, "role": "Admin"}]}).to_string(),
        )
        .await;
    transfer(json!({ "newOwner": other }))
        .await
        .assert(200, "{}");
    let info = node.get(&format!("/admin-api/groups/{ns}")).await.json();
    assert_eq!(info["data"]["ownerOpCounter"], 1);
    let got = node
        .get(&format!("/admin-api/namespaces/{ns}"))
        .await
        .json();
    let me = node.get("/admin-api/identity").await.json()["data"]["accountId"].clone();
    assert_eq!(
        got["data"]["founding"]["founderAccountId"], me,
        "the founder stays"
    );
    // No longer the owner: the next owner op is refused.
    node.post(&format!("/admin-api/groups/{ns}/owner-delete"), "{}")
        .await
        .assert(
            403,
            &format!(
                r#"{{"error":"only the owner of group {ns} can delete it; this node's account is not its owner"}}"#
            ),
        );

    // A fresh namespace: admin change, authoring policy, owner delete.
    let app = node.install().await;
    let ns2 = node
        .post(
            "/admin-api/namespaces",
            &json!({ "applicationId": app }).to_string(),
        )
        .await
        .json()["data"]["namespaceId"]
        .as_str()
        .unwrap()
        .to_owned();
    node.post(
        &format!("/admin-api/namespaces/{ns2}/admin"),
        &json!({ "newAdmin": other }).to_string(),
    )
    .await
    .assert(
        409,
        &format!(r#"{{"error":"{other} is not a member of namespace {ns2}"}}"#),
    );
    node.put(
        &format!("/admin-api/groups/{ns2}/settings/tee-authoring-policy"),
        r#"{"allowedMrtd":["m"]}"#,
    )
    .await
    .assert(200, "{}");
    let disabled = node
        .send(
            Method::DELETE,
            &format!("/admin-api/groups/{ns2}/settings/tee-authoring-policy"),
            None,
        )
        .await;
    disabled.assert(200, "{}");
    let info = node.get(&format!("/admin-api/groups/{ns2}")).await.json();
    assert_eq!(info["data"]["ownerOpCounter"], 2);
    node.post(&format!("/admin-api/groups/{ns2}/owner-delete"), "{}")
        .await
        .assert(200, "{}");
    let gone = node.get(&format!("/admin-api/groups/{ns2}")).await;
    assert_eq!(gone.status, StatusCode::NOT_FOUND, "{}", gone.body);
}

/// `POST /groups/{id}/accounts/{account}/seal` (swift Rc83SurfaceTests).
#[tokio::test]
async fn sealing_to_a_member_account_at_rc83() {
    let node = Node::at(83).await;
    let (_, ns, _, _) = node.setup_release().await;
    let account = node.get("/admin-api/identity").await.json()["data"]["accountId"]
        .as_str()
        .unwrap()
        .to_owned();
    let sealed = node
        .post(
            &format!("/admin-api/groups/{ns}/accounts/{account}/seal"),
            r#"{"plaintext":"00ff"}"#,
        )
        .await
        .json();
    assert_eq!(
        keys(&sealed["data"]),
        [
            "accountRootEpoch",
            "ephemeralPublicKey",
            "nonce",
            "ciphertext"
        ]
    );
    assert_eq!(sealed["data"]["ciphertext"].as_str().unwrap().len(), 36);
    let stranger = "55".repeat(32);
    let refused = node
        .post(
            &format!("/admin-api/groups/{ns}/accounts/{stranger}/seal"),
            r#"{"plaintext":"00"}"#,
        )
        .await;
    assert_eq!(refused.status, StatusCode::NOT_FOUND, "{}", refused.body);
}

/// JSON-RPC refuses a write on a node whose role is read-only
/// (`ReadOnlyWriteRefused`, rc.83); reads still run.
#[tokio::test]
async fn read_only_writes_are_refused_at_rc83() {
    for (rc, refused) in [(82, false), (83, true)] {
        let node = Node::at(rc).await;
        let (_, ns, ctx, _) = node.setup_release().await;
        let account = node.get("/admin-api/identity").await.json()["data"]["accountId"]
            .as_str()
            .unwrap()
            .to_owned();
        let _ = node
            .post(
                &format!("/admin-api/groups/{ns}/members"),
                &json!({"members": [{"identity": "66".repeat(32), "role": "Admin"}]}).to_string(),
            )
            .await;
        node.put(
            &format!("/admin-api/groups/{ns}/members/{account}/role"),
            r#"{"role":"ReadOnly"}"#,
        )
        .await
        .assert(200, "{}");
        let write = node
            .execute(&ctx, "set", json!({"key": "k", "value": "v"}))
            .await;
        if refused {
            assert_eq!(
                write,
                json!({"jsonrpc": "2.0", "id": 1, "error": {"type": "ReadOnlyWriteRefused", "data": {"context_id": ctx}}})
            );
        } else {
            assert_eq!(write["result"]["output"], Value::Null, "rc.{rc}");
        }
        let read = node.execute(&ctx, "len", json!({})).await;
        assert!(read.get("result").is_some(), "rc.{rc}: {read}");
    }
}

/// TEE attest flags and registration attestation (swift/kotlin Rc83).
#[tokio::test]
async fn tee_attest_binds_keys_at_rc83() {
    let nonce = "11".repeat(32);
    let body =
        json!({"nonce": nonce, "bindTransportKey": true, "includeCollateral": true}).to_string();
    let old = Node::start(
        Config::default()
            .tee_mock(true)
            .release(Release::rc(82).unwrap()),
    )
    .await;
    old.post("/admin-api/tee/attest", &body).await.assert(
        400,
        r#"{"error":"Invalid JSON data: Failed to deserialize the JSON body into the target type: bindTransportKey: unknown field `bindTransportKey`, expected `nonce` or `applicationId` at line 1 column 94"}"#,
    );

    let node = Node::start(Config::default().tee_mock(true).release(Release::NEWEST)).await;
    let attested = node.post("/admin-api/tee/attest", &body).await.json();
    assert_eq!(
        keys(&attested["data"]),
        ["quoteB64", "quote", "transportPublicKey", "collateral"]
    );
    let plain = node
        .post(
            "/admin-api/tee/attest",
            &json!({ "nonce": nonce }).to_string(),
        )
        .await
        .json();
    assert_eq!(keys(&plain["data"]), ["quoteB64", "quote"]);
    let registration = node
        .post(
            "/admin-api/tee/registration-attest",
            &json!({ "nonce": nonce }).to_string(),
        )
        .await
        .json();
    assert_eq!(keys(&registration["data"]), ["quoteB64", "quote"]);
}

fn claims(token: &str) -> Value {
    let payload = token.split('.').nth(1).unwrap();
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

async fn auth_node(rc: u16) -> Node {
    Node::start(
        Config::default()
            .auth(AuthConfig::default())
            .release(Release::rc(rc).unwrap()),
    )
    .await
}

async fn mint(node: &Node, body: Value) -> (String, String) {
    let pair = node
        .post("/_testnode/auth/mint", &body.to_string())
        .await
        .json();
    (
        pair["access_token"].as_str().unwrap().to_owned(),
        pair["refresh_token"].as_str().unwrap().to_owned(),
    )
}

/// rc.83 tokens carry `key_id`; a token without one is refused (swift
/// Rc83SurfaceTests: "every rc.41 token is dead"), and so is a refresh pair
/// of two keys.
#[tokio::test]
async fn tokens_need_a_key_id_at_rc83() {
    let old = auth_node(82).await;
    let (access, _) = mint(&old, json!({})).await;
    assert!(claims(&access).get("key_id").is_none());

    let node = auth_node(83).await;
    let (access, refresh) = mint(&node, json!({})).await;
    let claim = claims(&access);
    assert!(is_hex64(claim["key_id"].as_str().unwrap()));
    assert_eq!(claims(&refresh)["key_id"], claim["key_id"]);
    let ok = node
        .authed(Method::GET, "/admin-api/applications", &access, None)
        .await;
    assert_eq!(ok.status, StatusCode::OK);

    let (legacy, _) = mint(&node, json!({ "keyId": null })).await;
    let refused = node
        .authed(Method::GET, "/admin-api/applications", &legacy, None)
        .await;
    refused.assert(401, "");
    assert!(refused.headers.get("x-auth-error").is_none());

    // A legacy pair cannot be refreshed either (once its access token has
    // expired past the leeway).
    let (legacy_access, legacy_refresh) =
        mint(&node, json!({ "keyId": null, "accessTtl": 0 })).await;
    let _ = node
        .post("/_testnode/auth", r#"{"advanceClock":120}"#)
        .await;
    node.post(
        "/auth/refresh",
        &json!({"access_token": legacy_access, "refresh_token": legacy_refresh}).to_string(),
    )
    .await
    .assert(
        401,
        r#"{"data":null,"error":"Invalid refresh token: the access and refresh tokens were not issued for the same key"}"#,
    );
    let _ = refresh;
}

/// `POST /auth/logout {refresh_token}` (rc.83) retires the refresh token.
#[tokio::test]
async fn logout_retires_the_refresh_token_at_rc83() {
    let old = auth_node(82).await;
    old.post("/auth/logout", r#"{"refresh_token":"x"}"#)
        .await
        .assert(404, "");

    let node = auth_node(83).await;
    let (access, refresh) = mint(&node, json!({ "accessTtl": 0 })).await;
    node.post(
        "/auth/logout",
        &json!({ "refresh_token": refresh }).to_string(),
    )
    .await
    .assert(200, r#"{"data":{"success":true},"error":null}"#);
    let _ = node
        .post("/_testnode/auth", r#"{"advanceClock":120}"#)
        .await;
    let replay = node
        .post(
            "/auth/refresh",
            &json!({"access_token": access, "refresh_token": refresh}).to_string(),
        )
        .await;
    assert_eq!(replay.status, StatusCode::UNAUTHORIZED, "{}", replay.body);
    assert_eq!(replay.headers["x-auth-error"], "token_reuse");
}

/// From rc.41 the event transports need `context:subscribe` (kotlin
/// CHANGELOG rc.41; measured, index id 69563140794); `context` does not
/// grant it, `admin` does.
#[tokio::test]
async fn events_need_context_subscribe_from_rc41() {
    for (rc, refused) in [(40, false), (41, true)] {
        let node = auth_node(rc).await;
        let (scoped, _) = mint(&node, json!({ "permissions": ["context"] })).await;
        let reply = node
            .authed(Method::GET, "/sse/session/1", &scoped, None)
            .await;
        if refused {
            reply.assert(403, "");
            assert_eq!(reply.headers["x-auth-error"], "permission_denied");
        } else {
            assert_eq!(
                reply.status,
                StatusCode::NOT_FOUND,
                "rc.{rc}: no such session"
            );
        }
        let (subscriber, _) = mint(&node, json!({ "permissions": ["context:subscribe"] })).await;
        let reply = node
            .authed(Method::GET, "/sse/session/1", &subscriber, None)
            .await;
        assert_eq!(reply.status, StatusCode::NOT_FOUND, "rc.{rc}");
    }
}

/// `POST /contexts/{id}/query` (rc.83): account sessions only (core
/// `query_context.rs`, index id 71043747164).
#[tokio::test]
async fn queries_need_an_account_session_at_rc83() {
    let node = auth_node(83).await;
    let (admin, _) = mint(&node, json!({})).await;
    let authed = |method: Method, path: String, body: Option<String>| {
        let node = &node;
        let admin = admin.clone();
        async move { node.authed(method, &path, &admin, body.as_deref()).await }
    };
    let bundle = authed(
        Method::POST,
        "/_testnode/bundles".to_owned(),
        Some(r#"{"package":"p","version":"1.0.0"}"#.to_owned()),
    )
    .await
    .json();
    let app = authed(
        Method::POST,
        "/admin-api/install-dev-application".to_owned(),
        Some(json!({ "path": bundle["path"] }).to_string()),
    )
    .await
    .json()["data"]["applicationId"]
        .clone();
    let ns = authed(
        Method::POST,
        "/admin-api/namespaces".to_owned(),
        Some(json!({ "applicationId": app }).to_string()),
    )
    .await
    .json()["data"]["namespaceId"]
        .clone();
    let ctx = authed(
        Method::POST,
        "/admin-api/contexts".to_owned(),
        Some(json!({"applicationId": app, "groupId": ns, "initializationParams": []}).to_string()),
    )
    .await
    .json()["data"]["contextId"]
        .as_str()
        .unwrap()
        .to_owned();
    let query = format!("/admin-api/contexts/{ctx}/query");
    authed(
        Method::POST,
        query.clone(),
        Some(r#"{"method":"len"}"#.to_owned()),
    )
    .await
    .assert(
        401,
        r#"{"error":"this endpoint requires an account-authenticated session"}"#,
    );
    authed(Method::POST, query.clone(), Some("{}".to_owned()))
        .await
        .assert(
            422,
            "Failed to deserialize the JSON body into the target type: missing field `method` at line 1 column 2",
        );

    let (session, _) = mint(&node, json!({ "account": true })).await;
    node.authed(Method::POST, &query, &session, Some(r#"{"method":"len"}"#))
        .await
        .assert(200, r#"{"data":{"returns":0}}"#);
    node.authed(
        Method::POST,
        &query,
        &session,
        Some(r#"{"method":"set","argsJson":{"key":"k","value":"v"}}"#),
    )
    .await
    .assert(
        409,
        r#"{"error":"method 'set' is not declared read-only; a session authorizes reads only, so this call needs a warrant"}"#,
    );
    let failed = node
        .authed(
            Method::POST,
            &query,
            &session,
            Some(r#"{"method":"get_unchecked","argsJson":{"key":"missing"}}"#),
        )
        .await;
    assert_eq!(failed.status, StatusCode::BAD_REQUEST, "{}", failed.body);
    let failed = failed.json();
    assert_eq!(keys(&failed), ["error", "type", "data"]);
    assert_eq!(failed["type"], "FunctionCallError");
}

/// The TEE admission policy is a union at rc.83: measurements (MRTD and
/// RTMR1–3, even with `acceptMock`) or a signed release, with a `mode`
/// (core fixtures `groups/tee_admission_policy.{req,res}.json`).
#[tokio::test]
async fn tee_admission_policy_is_a_union_at_rc83() {
    let path = |ns: &str| format!("/admin-api/groups/{ns}/settings/tee-admission-policy");
    let old = Node::at(82).await;
    let (_, ns, _, _) = old.setup_release().await;
    old.put(&path(&ns), r#"{"allowedMrtd":[],"acceptMock":true}"#)
        .await
        .assert(200, "{}");

    let node = Node::at(83).await;
    let (_, ns, _, _) = node.setup_release().await;
    node.put(&path(&ns), r#"{"allowedMrtd":["m"],"acceptMock":true}"#)
        .await
        .assert(
            400,
            r#"{"error":"allowed_rtmr1 must name at least one measurement"}"#,
        );
    let fixture = json!({
        "acceptMock": false, "allowedMrtd": [], "allowedRtmr0": [], "allowedRtmr1": [],
        "allowedRtmr2": [], "allowedRtmr3": [], "allowedTcbStatuses": ["UpToDate"],
        "mode": "relay", "rootProof": "02ea",
        "signedRelease": {"allowedProfiles": ["locked-read-only"], "minReleaseVersion": "2.3.72"},
    });
    node.put(&path(&ns), &fixture.to_string())
        .await
        .assert(200, "{}");
    let policy = node.get(&path(&ns)).await.json();
    assert_eq!(
        policy,
        json!({
            "enabled": true, "allowedMrtd": [], "allowedRtmr0": [], "allowedRtmr1": [],
            "allowedRtmr2": [], "allowedRtmr3": [], "allowedTcbStatuses": ["UpToDate"],
            "acceptMock": false, "mode": "relay",
            "signedRelease": {"allowedProfiles": ["locked-read-only"], "minReleaseVersion": "2.3.72"},
        })
    );
}

/// rc.83's other delegated routes (core service.rs
/// `delegated_execution_routes`, `presence_intent.rs`): absent before
/// rc.83; the GETs answer from the node's state; the POSTs refuse what does
/// not decode with the handlers' own texts (a bad shape is axum's 422).
/// Signed warrants and statements are the Python scenarios'
/// (tests/test_node_releases.py), whose signer is neither the client nor
/// this crate.
#[tokio::test]
async fn delegated_creation_governance_and_presence_at_rc83() {
    let old = Node::at(82).await;
    let (_, ns, ctx, _) = old.setup_release().await;
    for route in ["context-intents", "governance-intents"] {
        old.get(&format!("/admin-api/groups/{ns}/{route}"))
            .await
            .assert(404, "");
    }
    old.post(&format!("/admin-api/contexts/{ctx}/presence-intents"), "{}")
        .await
        .assert(404, "");

    let node = Node::at(83).await;
    let (_, ns, ctx, _) = node.setup_release().await;
    let me = node.get("/admin-api/identity").await.json()["data"].clone();
    let author = "ab".repeat(32);
    let creation = node
        .get(&format!(
            "/admin-api/groups/{ns}/context-intents?author={author}"
        ))
        .await
        .json();
    assert_eq!(
        keys(&creation["data"]),
        [
            "executorAccount",
            "executorKey",
            "groupId",
            "canCreateOnBehalf",
            "authorMayCreate"
        ]
    );
    assert_eq!(creation["data"]["executorAccount"], me["accountId"]);
    assert_eq!(creation["data"]["executorKey"], me["publicKey"]);
    assert_eq!(creation["data"]["canCreateOnBehalf"], false);
    assert_eq!(creation["data"]["authorMayCreate"], false);
    let plain = node
        .get(&format!("/admin-api/groups/{ns}/context-intents"))
        .await
        .json();
    assert!(plain["data"].get("authorMayCreate").is_none());
    // The node's own CAN_AUTHOR_ON_BEHALF grant is its standing.
    let account = me["accountId"].as_str().unwrap();
    node.put(
        &format!("/admin-api/groups/{ns}/members/{account}/capabilities"),
        r#"{"capabilities":512}"#,
    )
    .await;
    let governance = node
        .get(&format!("/admin-api/groups/{ns}/governance-intents"))
        .await
        .json();
    assert_eq!(
        keys(&governance["data"]),
        [
            "executorAccount",
            "executorKey",
            "groupId",
            "canActOnBehalf"
        ]
    );
    assert_eq!(governance["data"]["canActOnBehalf"], true);

    node.get("/admin-api/groups/zz/context-intents")
        .await
        .assert(400, r#"{"error":"group id 'zz' is not hex"}"#);
    node.get(&format!("/admin-api/groups/{ns}/context-intents?author=00"))
        .await
        .assert(400, r#"{"error":"author '00' is not 32 bytes"}"#);
    node.get(&format!(
        "/admin-api/groups/{}/governance-intents",
        "cd".repeat(32)
    ))
    .await
    .assert(404, r#"{"error":"this node knows no such group"}"#);

    let creation = format!("/admin-api/groups/{ns}/context-intents");
    node.post(
        &creation,
        r#"{"warrant":"zz","authorProof":"00","initArgs":{}}"#,
    )
    .await
    .assert(
        400,
        r#"{"error":"warrant is not hex: Invalid character 'z' at position 0"}"#,
    );
    node.post(
        &creation,
        r#"{"warrant":"0000","authorProof":"00","initArgs":{}}"#,
    )
    .await
    .assert(
        400,
        r#"{"error":"warrant is not a valid context creation warrant (2 bytes): Unexpected length of input"}"#,
    );
    let shape = node
        .post(
            &creation,
            r#"{"warrant":"00","authorProof":"00","initArgs":{},"seed":"00"}"#,
        )
        .await;
    assert_eq!(shape.status, 422, "{}", shape.body);
    assert!(
        shape.body.contains("unknown field `seed`"),
        "{}",
        shape.body
    );
    node.post(
        &format!("/admin-api/groups/{ns}/governance-intents"),
        r#"{"warrant":"00","authorProof":"00","op":"00"}"#,
    )
    .await
    .assert(
        400,
        r#"{"error":"warrant is not a valid governance warrant: Unexpected length of input"}"#,
    );

    let presence = format!("/admin-api/contexts/{ctx}/presence-intents");
    node.post(
        &presence,
        r#"{"state":null,"seq":1,"sentAtMs":1,"signature":"00","authorProof":"00"}"#,
    )
    .await
    .assert(
        400,
        r#"{"error":"authorProof is not a credential: Unexpected length of input"}"#,
    );
    node.post(
        "/admin-api/contexts/zz/presence-intents",
        r#"{"state":null,"seq":1,"sentAtMs":1,"signature":"00","authorProof":"00"}"#,
    )
    .await
    .assert(
        400,
        r#"{"error":"context id 'zz' is not valid: expected 64 hex characters (32 bytes)"}"#,
    );
}

/// The delegated routes sit behind the guard unless the node serves
/// delegated access (`--delegated-access`), then they are public.
#[tokio::test]
async fn delegated_routes_are_public_only_with_delegated_access() {
    let node = auth_node(83).await;
    let group = format!("/admin-api/groups/{}/governance-intents", "cd".repeat(32));
    let presence = format!("/admin-api/contexts/{}/presence-intents", "cd".repeat(32));
    node.get(&group).await.assert(401, "");
    node.post(&presence, "{}").await.assert(401, "");
    node.post("/_testnode/auth", r#"{"delegatedAccess":true}"#)
        .await;
    node.get(&group)
        .await
        .assert(404, r#"{"error":"this node knows no such group"}"#);
    assert_eq!(node.post(&presence, "{}").await.status, 422);
}
