//! Device pairing/revocation and the TEE routes (probed on merod rc.25 for
//! the validation texts and the no-TDX failures).

mod common;

use calimero_testnode::Config;
use serde_json::{json, Value};

use common::*;

const INTERNAL: &str = r#"{"error":"Internal server error"}"#;

#[tokio::test]
async fn pairing_a_device_then_revoking_it() {
    let node = Node::default().await;
    let (_app, ns, _ctx, member) = node.setup(b"kv").await;
    let identity = node.get("/admin-api/identity").await.json()["data"].clone();
    let root = identity["accountRootPublicKey"].as_str().unwrap();
    let account = identity["accountId"].as_str().unwrap();
    let p = |route: &str| format!("/admin-api/namespaces/{ns}/account/{route}");

    // Validation, as the node words it.
    node.post(&p("pair-init"), r#"{"accountRootPublicKey":"zz"}"#)
        .await
        .assert(
            400,
            r#"{"error":"Field 'accountRootPublicKey' must be exactly 64 characters (got 2)"}"#,
        );
    node.post(
        &p("pair-init"),
        &json!({"accountRootPublicKey": "z".repeat(64)}).to_string(),
    )
    .await
    .assert(
        400,
        r#"{"error":"Field 'accountRootPublicKey' contains invalid hex encoding: not valid hex"}"#,
    );
    let h64 = "ab".repeat(32);
    node.post(
        &p("pair-complete"),
        &json!({"deviceId": "zz", "kemPublicKey": h64, "signPublicKey": h64, "statement": "ab", "confirmationCode": " "}).to_string(),
    )
    .await
    .assert(400, r#"{"error":"Validation errors: Field 'confirmationCode' is required but was empty; Field 'deviceId' must be exactly 64 characters (got 2); Field 'statement' must be exactly 128 characters (got 2)"}"#);
    node.post(&p("revoke"), &json!({"deviceId": h64, "proof": ""}).to_string())
        .await
        .assert(400, r#"{"error":"Field 'proof' contains invalid hex encoding: empty; omit the field entirely if you have no proof"}"#);
    node.post(
        &p("revoke"),
        &json!({"deviceId": h64, "proof": "zz"}).to_string(),
    )
    .await
    .assert(
        400,
        r#"{"error":"Field 'proof' contains invalid hex encoding: not valid hex"}"#,
    );
    node.post(&p("revoke"), r#"{"deviceId":"zz"}"#)
        .await
        .assert(
            400,
            r#"{"error":"Field 'deviceId' must be exactly 64 characters (got 2)"}"#,
        );

    // An offer for another account cannot be completed here.
    let other = node
        .post(&p("pair-init"), &json!({"accountRootKey": h64}).to_string())
        .await
        .json()["data"]
        .clone();
    let keys: Vec<&str> = [
        "accountId",
        "deviceId",
        "kemPublicKey",
        "signPublicKey",
        "statement",
        "confirmationCode",
    ]
    .to_vec();
    for key in &keys {
        assert!(other[key].is_string(), "{key}");
    }
    assert_eq!(other["statement"].as_str().unwrap().len(), 128);
    let complete_body = |offer: &Value| {
        json!({
            "deviceId": offer["deviceId"], "kemPublicKey": offer["kemPublicKey"],
            "signPublicKey": offer["signPublicKey"], "statement": offer["statement"],
            "confirmationCode": offer["confirmationCode"],
        })
    };
    node.post(&p("pair-complete"), &complete_body(&other).to_string())
        .await
        .assert(500, INTERNAL);

    // An offer for this node's own account pairs a second device.
    let offer = node
        .post(
            &p("pair-init"),
            &json!({"accountRootPublicKey": root}).to_string(),
        )
        .await
        .json()["data"]
        .clone();
    assert_eq!(offer["accountId"], account);
    let code = offer["confirmationCode"].as_str().unwrap();
    assert!(code.len() == 19 && code.split('-').count() == 4);
    let mut tampered = complete_body(&offer);
    tampered["confirmationCode"] = json!("0000-0000-0000-0000");
    node.post(&p("pair-complete"), &tampered.to_string())
        .await
        .assert(500, INTERNAL);
    let device = offer["deviceId"].as_str().unwrap();
    node.post(&p("pair-complete"), &complete_body(&offer).to_string())
        .await
        .assert(
            200,
            &format!(r#"{{"data":{{"accountId":"{account}","deviceId":"{device}","keyDelivered":true,"confirmationCode":"{code}"}}}}"#),
        );
    let devices = node
        .get(&format!("/admin-api/groups/{ns}/member-devices"))
        .await
        .json();
    let listed = devices["members"][0]["devices"].as_array().unwrap();
    assert_eq!(listed.len(), 2);
    assert_eq!(listed[0]["signingKey"], member.as_str());
    assert_eq!(listed[1]["deviceId"], device);

    node.post(&p("revoke"), &json!({"deviceId": device}).to_string())
        .await
        .assert(
            200,
            &format!(r#"{{"data":{{"accountId":"{account}","deviceId":"{device}","keyRotated":true,"revokedIn":[{{"namespaceId":"{ns}","keyRotated":true}}]}}}}"#),
        );
    node.post(&p("revoke"), &json!({"deviceId": device}).to_string())
        .await
        .assert(500, INTERNAL);
    // The node's own device cannot be revoked.
    node.post(
        &p("revoke"),
        &json!({"deviceId": identity["deviceId"]}).to_string(),
    )
    .await
    .assert(500, INTERNAL);
}

#[tokio::test]
async fn tee_without_tdx_fails_like_the_node() {
    let node = Node::default().await;
    node.get("/admin-api/tee/info").await.assert(
        500,
        r#"{"error":"Failed to get TEE info: Failed to get TEE info: Not supported: TDX 1.5 KVM device is not supported"}"#,
    );
    let nonce = "ab".repeat(32);
    node.post(
        "/admin-api/tee/attest",
        &json!({"nonce": nonce}).to_string(),
    )
    .await
    .assert(
        500,
        r#"{"error":"Failed to generate TDX quote: CannotFindTsmDir"}"#,
    );
    node.post("/admin-api/tee/attest", r#"{"nonce":"00"}"#)
        .await
        .assert(
            400,
            r#"{"error":"Field 'nonce' must be exactly 64 characters (got 2)"}"#,
        );
    node.post("/admin-api/tee/attest", &json!({"nonce": "g".repeat(64)}).to_string())
        .await
        .assert(400, r#"{"error":"Field 'nonce' contains invalid hex encoding: contains non-hexadecimal characters"}"#);
    let zero = "11111111111111111111111111111111";
    node.post(
        "/admin-api/tee/attest",
        &json!({"nonce": nonce, "applicationId": zero}).to_string(),
    )
    .await
    .assert(
        404,
        &format!(r#"{{"error":"Application '{zero}' not found"}}"#),
    );
    let (_app, ns, _ctx, _member) = node.setup(b"kv").await;
    node.post(
        "/admin-api/tee/fleet-join",
        &json!({"groupId": ns}).to_string(),
    )
    .await
    .assert(500, r#"{"error":"Failed to generate attestation"}"#);
    node.post("/admin-api/tee/fleet-join", r#"{"groupId":"zz"}"#)
        .await
        .assert(
            400,
            r#"{"error":"Field 'group_id' must be exactly 64 characters (got 2)"}"#,
        );
    node.post(
        "/admin-api/tee/fleet-join",
        &json!({"groupId": "ab".repeat(32)}).to_string(),
    )
    .await
    .assert(500, r#"{"error":"Failed to resolve namespace identity"}"#);
}

#[tokio::test]
async fn tee_mock_answers_the_success_shapes() {
    use base64::Engine as _;

    let node = Node::start(Config::default().tee_mock(true)).await;
    let info = node.get("/admin-api/tee/info").await;
    assert_eq!(info.status.as_u16(), 200);
    assert_eq!(info.json()["data"]["mrtd"].as_str().unwrap().len(), 96);
    assert!(info.body.starts_with(r#"{"data":{"cloudProvider":"#));

    let (app, ns, ctx, member) = node.setup(b"kv").await;
    let bytecode = node
        .get(&format!("/admin-api/applications/{app}"))
        .await
        .json()["data"]["application"]["blob"]["bytecode"]
        .as_str()
        .unwrap()
        .to_owned();
    let nonce = "cd".repeat(32);
    let reply = node
        .post(
            "/admin-api/tee/attest",
            &json!({"nonce": nonce, "applicationId": app}).to_string(),
        )
        .await;
    assert_eq!(reply.status.as_u16(), 200, "{}", reply.body);
    assert!(reply.body.starts_with(r#"{"data":{"quoteB64":"#));
    let value = reply.json();
    let quote = &value["data"]["quote"];
    let expected_report = format!(
        "{nonce}{}",
        hex::encode(bs58::decode(&bytecode).into_vec().unwrap())
    );
    assert_eq!(quote["body"]["reportdata"], expected_report.as_str());
    assert_eq!(quote["header"]["teeType"], 129);
    assert_eq!(
        quote["certificationData"]["type"],
        "qeReportCertificationData"
    );
    let raw = base64::engine::general_purpose::STANDARD
        .decode(value["data"]["quoteB64"].as_str().unwrap())
        .unwrap();
    assert_eq!(raw.len(), 256);
    assert!(raw.starts_with(b"MOCK_TDX_QUOTE_V1"));

    let account = node.get("/admin-api/identity").await.json()["data"]["accountId"]
        .as_str()
        .unwrap()
        .to_owned();
    // Without a policy accepting mock quotes: announced, not admitted.
    node.post("/admin-api/tee/fleet-join", &json!({"groupId": ns}).to_string())
        .await
        .assert(
            200,
            &format!(r#"{{"account":"{account}","admitted":false,"auto_follow_enabled":false,"contexts_joined":[],"group_id":"{ns}","namespace_id":"{ns}","public_key":"{member}","status":"announced"}}"#),
        );
    node.send(
        reqwest::Method::PUT,
        &format!("/admin-api/groups/{ns}/settings/tee-admission-policy"),
        Some(r#"{"acceptMock":true}"#),
    )
    .await
    .assert(200, "{}");
    let ctx_hex = hex::encode(bs58::decode(&ctx).into_vec().unwrap());
    node.post("/admin-api/tee/fleet-join", &json!({"groupId": ns}).to_string())
        .await
        .assert(
            200,
            &format!(r#"{{"account":"{account}","admitted":true,"auto_follow_enabled":true,"contexts_joined":["{ctx_hex}"],"group_id":"{ns}","namespace_id":"{ns}","public_key":"{member}","status":"joined"}}"#),
        );
}

/// `bindTransportKey`: the transport key of a node serving the sealed
/// transport is named and bound into the report data (core
/// `attest_transport_binding`: SHA-256 over the domain, the app hash or
/// zeros, and the key), whatever release the node answers as. Sealing
/// required: the attestation and the probes are still served in the clear,
/// nothing else is.
#[tokio::test]
async fn attest_binds_the_transport_key() {
    use sha2::Digest as _;

    let secret = [0x22; 32];
    let key = calimero_testnode::transport_public_key(&secret);
    let node = Node::start(Config::default().tee_mock(true).sealed(secret, true)).await;
    let nonce = "ab".repeat(32);
    let reply = node
        .post(
            "/admin-api/tee/attest",
            &json!({"nonce": nonce, "bindTransportKey": true, "includeCollateral": true})
                .to_string(),
        )
        .await;
    assert_eq!(reply.status.as_u16(), 200, "{}", reply.body);
    let data = &reply.json()["data"];
    assert_eq!(data["transportPublicKey"], hex::encode(key).as_str());
    let mut binding = sha2::Sha256::new();
    binding.update(b"calimero.tee-attest.transport-key.v1");
    binding.update([0u8; 32]);
    binding.update(key);
    assert_eq!(
        data["quote"]["body"]["reportdata"],
        format!("{nonce}{}", hex::encode(binding.finalize())).as_str()
    );
    assert_eq!(node.get("/admin-api/health").await.status.as_u16(), 200);
    let refused = node.get("/admin-api/contexts").await;
    assert_eq!(refused.status.as_u16(), 403);
    assert_eq!(refused.json()["error"]["code"], "sealed_required");

    // Without the sealed transport, an rc.25 node ignores the flag.
    let plain = Node::start(Config::default().tee_mock(true)).await;
    let reply = plain
        .post(
            "/admin-api/tee/attest",
            &json!({"nonce": nonce, "bindTransportKey": true}).to_string(),
        )
        .await;
    assert_eq!(reply.status.as_u16(), 200, "{}", reply.body);
    assert!(reply.json()["data"].get("transportPublicKey").is_none());
}
