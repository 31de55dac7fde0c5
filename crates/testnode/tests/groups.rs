//! Namespaces (invite/join/leave/groups) and the group routes. Shapes and
//! messages follow answers probed from a real merod 0.11.0-rc.25.

mod common;

use reqwest::Method;
use serde_json::{json, Value};

use common::*;

fn me_account(node_identity: &Value) -> String {
    node_identity["data"]["accountId"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn post_none(node: &Node, path: &str) -> Reply {
    node.send(Method::POST, path, None).await
}

async fn put(node: &Node, path: &str, body: &str) -> Reply {
    node.send(Method::PUT, path, Some(body)).await
}

async fn create_subgroup(node: &Node, ns: &str, body: Value) -> String {
    let reply = node
        .post(
            &format!("/admin-api/namespaces/{ns}/groups"),
            &body.to_string(),
        )
        .await;
    assert_eq!(reply.status.as_u16(), 200, "{}", reply.body);
    reply.json()["data"]["groupId"].as_str().unwrap().to_owned()
}

const FOREIGN: &str = "cdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcd";
const UNKNOWN: &str = "abababababababababababababababababababababababababababababababab";

fn not_a_member(group: &str) -> String {
    let bytes: Vec<String> = hex::decode(group)
        .unwrap()
        .iter()
        .map(u8::to_string)
        .collect();
    format!(
        r#"{{"error":"node is not a member of group 'ContextGroupId(Identity([{}]))'"}}"#,
        bytes.join(", ")
    )
}

/// The keys appear in `body` in this order (`Value` would sort them).
#[track_caller]
fn assert_key_order(body: &str, keys: &[&str]) {
    let positions: Vec<usize> = keys
        .iter()
        .map(|k| {
            body.find(&format!("\"{k}\":"))
                .unwrap_or_else(|| panic!("no {k} in {body}"))
        })
        .collect();
    assert!(
        positions.windows(2).all(|w| w[0] < w[1]),
        "order of {keys:?} in {body}"
    );
}

const INTERNAL: &str = r#"{"error":"Internal server error"}"#;

#[tokio::test]
async fn namespace_invitations_and_subgroups() {
    let node = Node::default().await;
    let (app, ns, _ctx, member) = node.setup(b"kv").await;
    let account = me_account(&node.get("/admin-api/identity").await.json());

    // Subgroups: plain Json, visibility open|restricted, anything else 500.
    let open = create_subgroup(
        &node,
        &ns,
        json!({"groupName": "sub1", "visibility": "open"}),
    )
    .await;
    let restricted = create_subgroup(&node, &ns, json!({"groupName": "sub2"})).await;
    node.post(
        &format!("/admin-api/namespaces/{ns}/groups"),
        r#"{"visibility":"bogus"}"#,
    )
    .await
    .assert(500, INTERNAL);
    post_none(&node, &format!("/admin-api/namespaces/{ns}/groups"))
        .await
        .assert(
            415,
            "Expected request with `Content-Type: application/json`",
        );
    let listed = node
        .get(&format!("/admin-api/namespaces/{ns}/groups"))
        .await
        .json();
    let mut expected = vec![
        json!({"groupId": open, "name": "sub1"}),
        json!({"groupId": restricted, "name": "sub2"}),
    ];
    expected.sort_by_key(|v| v["groupId"].as_str().unwrap().to_owned());
    assert_eq!(listed, json!({"data": expected}));
    node.get(&format!("/admin-api/namespaces/{UNKNOWN}/groups"))
        .await
        .assert(200, r#"{"data":[]}"#);
    let got = node
        .get(&format!("/admin-api/namespaces/{ns}"))
        .await
        .json();
    assert_eq!(got["data"]["subgroupCount"], 2);

    // Non-recursive invitation: the recorded shape.
    let raw = node
        .post(&format!("/admin-api/namespaces/{ns}/invite"), "{}")
        .await;
    assert_key_order(
        &raw.body,
        &[
            "invitation",
            "inviter_identity",
            "group_id",
            "expiration_timestamp",
            "secret_salt",
            "invited_role",
            "inviter_signature",
            "inviter_account",
            "application_id",
            "app_key",
            "groupName",
        ],
    );
    let reply = raw.json();
    let inv = &reply["data"]["invitation"];
    assert_eq!(reply["data"]["groupName"], "kv-ns");
    let body = &inv["invitation"];
    let bytes = |v: &Value| -> Vec<u8> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|b| b.as_u64().unwrap() as u8)
            .collect()
    };
    assert_eq!(hex::encode(bytes(&body["group_id"])), ns);
    assert_eq!(
        bs58::encode(bytes(&body["inviter_identity"])).into_string(),
        member
    );
    assert_eq!(
        bs58::encode(bytes(&inv["application_id"])).into_string(),
        app
    );
    assert_eq!(bytes(&body["secret_salt"]).len(), 32);
    assert_eq!(body["invited_role"], 1);
    assert_eq!(inv["inviter_account"], account.as_str());
    let sig = inv["inviter_signature"].as_str().unwrap();
    assert!(sig.len() == 128 && sig.bytes().all(|b| b.is_ascii_hexdigit()));
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let exp = body["expiration_timestamp"].as_u64().unwrap();
    assert!(exp.abs_diff(now + 365 * 24 * 3600) < 5);

    // Recursive: root first, then every subgroup, with names.
    let reply = node
        .post(
            &format!("/admin-api/namespaces/{ns}/invite"),
            r#"{"recursive":true,"expirationTimestamp":60}"#,
        )
        .await
        .json();
    let list = reply["data"]["invitations"].as_array().unwrap();
    assert_eq!(list.len(), 3);
    assert_eq!(list[0]["groupId"], ns.as_str());
    assert_eq!(list[0]["groupName"], "kv-ns");
    let exp = list[0]["invitation"]["invitation"]["expiration_timestamp"]
        .as_u64()
        .unwrap();
    assert!(exp.abs_diff(now + 60) < 5);

    // A subgroup is not a namespace.
    node.post(&format!("/admin-api/namespaces/{open}/invite"), "{}")
        .await
        .assert(
            400,
            r#"{"error":"namespace_id must reference a root group (namespace)"}"#,
        );
    node.post(
        &format!("/admin-api/namespaces/{UNKNOWN}/invite"),
        r#"{"recursive":true}"#,
    )
    .await
    .assert(
        400,
        r#"{"error":"this node has no signing identity for this namespace"}"#,
    );
    node.post(&format!("/admin-api/namespaces/{UNKNOWN}/invite"), "{}")
        .await
        .assert(500, INTERNAL);
}

#[tokio::test]
async fn leave_and_rejoin_a_namespace() {
    let node = Node::default().await;
    let (_app, ns, _ctx, member) = node.setup(b"kv").await;
    let account = me_account(&node.get("/admin-api/identity").await.json());
    let invitation = node
        .post(&format!("/admin-api/namespaces/{ns}/invite"), "{}")
        .await
        .json()["data"]["invitation"]
        .clone();

    // The only admin cannot leave.
    post_none(&node, &format!("/admin-api/namespaces/{ns}/leave"))
        .await
        .assert(500, INTERNAL);
    node.post(
        &format!("/admin-api/groups/{ns}/members"),
        &json!({"members": [{"identity": FOREIGN, "role": "Admin"}]}).to_string(),
    )
    .await
    .assert(200, "{}");
    post_none(&node, &format!("/admin-api/namespaces/{ns}/leave"))
        .await
        .assert(
            200,
            &format!(r#"{{"data":{{"namespaceId":"{ns}","memberPublicKey":"{member}"}}}}"#),
        );
    post_none(&node, &format!("/admin-api/namespaces/{ns}/leave"))
        .await
        .assert(500, INTERNAL);
    // Not a member any more: listing is the typed 403.
    node.get(&format!("/admin-api/groups/{ns}/members"))
        .await
        .assert(403, &not_a_member(&ns));
    node.get(&format!("/admin-api/groups/{ns}/contexts"))
        .await
        .assert(403, &not_a_member(&ns));

    // Path and invitation disagree: 400.
    let wrong = json!({"invitation": invitation}).to_string();
    node.post(&format!("/admin-api/namespaces/{UNKNOWN}/join"), &wrong)
        .await
        .assert(
            400,
            r#"{"error":"invitation group_id does not match namespace_id in path"}"#,
        );
    // An invitation this node did not sign: nobody to reach.
    let mut forged = invitation.clone();
    forged["invitation"]["secret_salt"] = json!(vec![7u8; 32]);
    node.post(
        &format!("/admin-api/namespaces/{ns}/join"),
        &json!({"invitation": forged}).to_string(),
    )
    .await
    .assert(
        504,
        r#"{"error":"could not reach any member of this namespace to complete the join; make sure the inviting node is online and retry"}"#,
    );
    node.post(
        &format!("/admin-api/namespaces/{ns}/join"),
        r#"{"invitation":{}}"#,
    )
    .await
    .status
    .as_u16()
    .eq(&400)
    .then_some(())
    .expect("a malformed invitation is a 400");

    // Its own invitation lets it back in, as a Member.
    node.post(&format!("/admin-api/namespaces/{ns}/join"), &wrong)
        .await
        .assert(
            200,
            &format!(
                r#"{{"data":{{"namespaceId":"{ns}","memberIdentity":"{member}","memberAccount":"{account}"}}}}"#
            ),
        );
    let members = node
        .get(&format!("/admin-api/groups/{ns}/members"))
        .await
        .json();
    let mine: Vec<&Value> = members["members"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["identity"] == account.as_str())
        .collect();
    assert_eq!(mine[0]["role"], "Member");
}

#[tokio::test]
async fn group_reads_and_unknown_groups() {
    let node = Node::default().await;
    let (app, ns, ctx, member) = node.setup(b"kv").await;
    let account = me_account(&node.get("/admin-api/identity").await.json());
    let raw = node.get(&format!("/admin-api/groups/{ns}")).await;
    let info = raw.json()["data"].clone();
    assert_key_order(
        &raw.body,
        &[
            "groupId",
            "appKey",
            "targetApplicationId",
            "memberCount",
            "contextCount",
            "defaultCapabilities",
            "subgroupVisibility",
            "metadata",
            "groupStateHash",
        ],
    );
    assert_eq!(info["targetApplicationId"], app.as_str());
    assert_eq!(info["defaultCapabilities"], 4);
    assert_eq!(info["subgroupVisibility"], "restricted");
    assert_eq!(info["contextCount"], 1);
    assert_eq!(info["metadata"]["name"], "kv-ns");
    assert_eq!(info["metadata"]["updatedBy"], member.as_str());

    node.get(&format!("/admin-api/groups/{ns}/members"))
        .await
        .assert(
            200,
            &format!(r#"{{"members":[{{"identity":"{account}","role":"Admin"}}]}}"#),
        );
    let identity = node.get("/admin-api/identity").await.json();
    node.get(&format!("/admin-api/groups/{ns}/member-devices"))
        .await
        .assert(
            200,
            &format!(
                r#"{{"members":[{{"account":"{account}","devices":[{{"deviceId":"{}","signingKey":"{member}"}}]}}]}}"#,
                identity["data"]["deviceId"].as_str().unwrap()
            ),
        );
    node.get(&format!("/admin-api/groups/{ns}/contexts?limit=1"))
        .await
        .assert(200, &format!(r#"{{"data":[{{"contextId":"{ctx}"}}]}}"#));
    node.get(&format!("/admin-api/groups/{ns}/upgrade/status"))
        .await
        .assert(200, r#"{"data":null}"#);
    node.get(&format!("/admin-api/groups/{ns}/cascade-status"))
        .await
        .assert(200, r#"{"data":[]}"#);
    let migration = node
        .get(&format!("/admin-api/groups/{ns}/migration-status"))
        .await
        .json();
    assert_eq!(migration["rollup"]["allMigrated"], true);
    assert_eq!(migration["members"][0]["peer"], member.as_str());
    post_none(&node, &format!("/admin-api/groups/{ns}/migration/abort"))
        .await
        .assert(200, &format!(r#"{{"namespaceId":"{ns}","aborted":false}}"#));
    let disabled = r#"{"enabled":false,"allowedMrtd":[],"allowedRtmr0":[],"allowedRtmr1":[],"allowedRtmr2":[],"allowedRtmr3":[],"allowedTcbStatuses":[],"acceptMock":false}"#;
    node.get(&format!(
        "/admin-api/groups/{ns}/settings/tee-admission-policy"
    ))
    .await
    .assert(200, disabled);
    node.get(&format!(
        "/admin-api/groups/{ns}/members/{account}/capabilities"
    ))
    .await
    .assert(200, r#"{"data":{"capabilities":0}}"#);

    // Unknown groups, route by route, as the node answers.
    for path in [
        "",
        "/contexts",
        "/members",
        "/upgrade/status",
        "/cascade-status",
        "/migration-status",
    ] {
        node.get(&format!("/admin-api/groups/{UNKNOWN}{path}"))
            .await
            .assert(500, INTERNAL);
    }
    node.get(&format!("/admin-api/groups/{UNKNOWN}/member-devices"))
        .await
        .assert(403, &not_a_member(UNKNOWN));
    node.get(&format!("/admin-api/groups/{UNKNOWN}/subgroups"))
        .await
        .assert(200, r#"{"subgroups":[]}"#);
    for path in [
        "/metadata".to_owned(),
        format!("/members/{account}/metadata"),
        format!("/contexts/{ctx}/metadata"),
    ] {
        node.get(&format!("/admin-api/groups/{UNKNOWN}{path}"))
            .await
            .assert(200, r#"{"data":null}"#);
    }
    node.get(&format!(
        "/admin-api/groups/{UNKNOWN}/settings/tee-admission-policy"
    ))
    .await
    .assert(200, disabled);
    node.get("/admin-api/groups/zz").await.assert(
        400,
        r#"{"error":"Invalid group id format: expected hex-encoded 32 bytes"}"#,
    );
    node.get("/admin-api/groups/abab").await.assert(
        400,
        r#"{"error":"Invalid group id: must be exactly 32 bytes"}"#,
    );
    node.get(&format!("/admin-api/groups/{ns}/members/zz/capabilities"))
        .await
        .assert(
            400,
            r#"{"error":"Invalid account format: expected 64 hex characters (32 bytes)"}"#,
        );
    post_none(
        &node,
        &format!("/admin-api/groups/{UNKNOWN}/join-via-inheritance"),
    )
    .await
    .assert(404, r#"{"error":"group not found"}"#);
}

#[tokio::test]
async fn group_writes() {
    let node = Node::default().await;
    let (app, ns, ctx, member) = node.setup(b"kv").await;
    let account = me_account(&node.get("/admin-api/identity").await.json());
    let g = |path: &str| format!("/admin-api/groups/{ns}{path}");

    // Create with a parent: a subgroup; without: a namespace.
    let sub = node
        .post(
            "/admin-api/groups",
            &json!({"applicationId": app, "name": "g2", "parentGroupId": ns}).to_string(),
        )
        .await
        .json()["data"]["groupId"]
        .as_str()
        .unwrap()
        .to_owned();
    node.get(&format!("/admin-api/groups/{ns}/subgroups"))
        .await
        .assert(
            200,
            &format!(r#"{{"subgroups":[{{"groupId":"{sub}","name":"g2"}}]}}"#),
        );
    let root2 = node
        .post(
            "/admin-api/groups",
            &json!({"applicationId": app}).to_string(),
        )
        .await
        .json()["data"]["groupId"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        node.get("/admin-api/namespaces").await.json()["data"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    node.post(
        "/admin-api/groups",
        &json!({"applicationId": app, "parentGroupId": UNKNOWN}).to_string(),
    )
    .await
    .assert(500, INTERNAL);
    node.post(
        "/admin-api/groups",
        &json!({"applicationId": app, "appKey": ""}).to_string(),
    )
    .await
    .assert(
        400,
        r#"{"error":"Field 'app_key' is required but was empty"}"#,
    );

    // Members.
    node.post(&g("/members"), r#"{"members":[]}"#).await.assert(
        400,
        r#"{"error":"Field 'members' is required but was empty"}"#,
    );
    node.post(
        &g("/members"),
        &json!({"members": [{"identity": account, "role": "ReadOnlyTee"}]}).to_string(),
    )
    .await
    .assert(400, r#"{"error":"Field 'members[].role' has invalid format: ReadOnlyTee role can only be assigned via TEE attestation"}"#);
    node.post(&g("/members"), r#"{"members":[{"identity":"zz","role":"Member"}]}"#)
        .await
        .assert(400, r#"{"error":"Invalid JSON data: Failed to deserialize the JSON body into the target type: members[0].identity: expected a 64-hex account id or a bs58 public key at line 1 column 28"}"#);
    node.post(&g("/members/remove"), r#"{"members":["zz"]}"#)
        .await
        .assert(400, r#"{"error":"Invalid JSON data: Failed to deserialize the JSON body into the target type: members[0]: expected 64 hex characters (32 bytes) at line 1 column 17"}"#);
    node.post(
        &g("/members"),
        &json!({"members": [{"identity": FOREIGN, "role": "Member"}]}).to_string(),
    )
    .await
    .assert(200, "{}");
    put(
        &node,
        &g(&format!("/members/{FOREIGN}/role")),
        r#"{"role":"ReadOnly"}"#,
    )
    .await
    .assert(200, "{}");
    put(
        &node,
        &g(&format!("/members/{account}/role")),
        r#"{"role":"Member"}"#,
    )
    .await
    .assert(500, INTERNAL); // the last admin
    put(&node, &g(&format!("/members/{account}/role")), r#"{"role":"ReadOnlyTee"}"#)
        .await
        .assert(400, r#"{"error":"Field 'role' has invalid format: ReadOnlyTee role can only be assigned via TEE attestation"}"#);
    put(
        &node,
        &g(&format!("/members/{FOREIGN}/capabilities")),
        r#"{"capabilities":9}"#,
    )
    .await
    .assert(200, "{}");
    node.get(&g(&format!("/members/{FOREIGN}/capabilities")))
        .await
        .assert(200, r#"{"data":{"capabilities":9}}"#);
    put(
        &node,
        &g(&format!("/members/{account}/auto-follow")),
        r#"{"autoFollowContexts":true,"autoFollowSubgroups":false}"#,
    )
    .await
    .assert(200, "{}");
    let members = node.get(&g("/members")).await.json();
    assert_eq!(members["members"].as_array().unwrap().len(), 2);
    node.post(
        &g("/members/remove"),
        &json!({"members": [FOREIGN]}).to_string(),
    )
    .await
    .assert(200, "{}");
    node.post(
        &g("/members/remove"),
        &json!({"members": [FOREIGN]}).to_string(),
    )
    .await
    .assert(500, INTERNAL);
    node.post(
        &g("/members/remove"),
        &json!({"members": [account]}).to_string(),
    )
    .await
    .assert(500, INTERNAL);

    // Metadata, with the node's limits.
    put(
        &node,
        &g("/metadata"),
        r#"{"name":"renamed","data":{"k":"v"}}"#,
    )
    .await
    .assert(200, "{}");
    let meta = node.get(&g("/metadata")).await.json();
    assert_eq!(meta["data"]["name"], "renamed");
    assert_eq!(meta["data"]["data"], json!({"k": "v"}));
    assert_eq!(meta["data"]["updatedBy"], member.as_str());
    assert_eq!(
        node.get(&format!("/admin-api/namespaces/{ns}"))
            .await
            .json()["data"]["name"],
        "renamed"
    );
    put(&node, &g("/metadata"), r#"{"name":""}"#)
        .await
        .assert(400, r#"{"error":"Field 'metadata' has invalid format: metadata name must not be the empty string — use null to clear it"}"#);
    put(&node, &g("/metadata"), &json!({"name": "x".repeat(65)}).to_string())
        .await
        .assert(400, r#"{"error":"Field 'metadata' has invalid format: metadata name too long: 65 bytes (max 64)"}"#);
    put(
        &node,
        &g(&format!("/members/{account}/metadata")),
        r#"{"name":"me"}"#,
    )
    .await
    .assert(200, "{}");
    let members = node.get(&g("/members")).await.json();
    assert_eq!(members["members"][0]["name"], "me");
    node.get(&g(&format!("/members/{account}/metadata")))
        .await
        .json()["data"]["name"]
        .as_str()
        .filter(|n| *n == "me")
        .expect("member metadata");
    put(
        &node,
        &g(&format!("/contexts/{ctx}/metadata")),
        r#"{"name":"ctx-name"}"#,
    )
    .await
    .assert(200, "{}");
    node.get(&g("/contexts")).await.assert(
        200,
        &format!(r#"{{"data":[{{"contextId":"{ctx}","name":"ctx-name"}}]}}"#),
    );
    let zero = "11111111111111111111111111111111";
    put(
        &node,
        &g(&format!("/contexts/{zero}/metadata")),
        r#"{"name":"c"}"#,
    )
    .await
    .assert(500, INTERNAL);

    // Settings.
    put(
        &node,
        &g("/settings/default-capabilities"),
        r#"{"defaultCapabilities":5}"#,
    )
    .await
    .assert(200, "{}");
    put(&node, &g("/settings/subgroup-visibility"), r#"{"subgroupVisibility":"x"}"#)
        .await
        .assert(400, r#"{"error":"Field 'subgroup_visibility' has invalid format: must be 'open' or 'restricted'"}"#);
    put(
        &node,
        &g("/settings/subgroup-visibility"),
        r#"{"subgroupVisibility":"open"}"#,
    )
    .await
    .assert(200, "{}");
    let info = node.get(&g("")).await.json();
    assert_eq!(info["data"]["defaultCapabilities"], 5);
    assert_eq!(info["data"]["subgroupVisibility"], "open");
    put(&node, &g("/settings/tee-admission-policy"), "{}")
        .await
        .assert(400, r#"{"error":"Field 'allowed_mrtd' has invalid format: at least one MRTD must be specified when accept_mock is false"}"#);
    put(
        &node,
        &g("/settings/tee-admission-policy"),
        r#"{"allowedMrtd":["aa"]}"#,
    )
    .await
    .assert(200, "{}");
    node.get(&g("/settings/tee-admission-policy"))
        .await
        .assert(200, r#"{"enabled":true,"allowedMrtd":["aa"],"allowedRtmr0":[],"allowedRtmr1":[],"allowedRtmr2":[],"allowedRtmr3":[],"allowedTcbStatuses":[],"acceptMock":false}"#);
    put(
        &node,
        &g("/settings/tee-admission-policy"),
        r#"{"acceptMock":true}"#,
    )
    .await
    .assert(200, "{}");

    // Sync needs a JSON body.
    post_none(&node, &g("/sync")).await.assert(
        400,
        r#"{"error":"Expected request with `Content-Type: application/json`"}"#,
    );
    let synced = node.post(&g("/sync"), "{}").await.json();
    assert_eq!(synced["data"]["memberCount"], 1);
    assert_eq!(synced["data"]["contextCount"], 1);

    // Reparent within the namespace.
    let sub2 = create_subgroup(&node, &ns, json!({"groupName": "s2"})).await;
    node.post(
        &format!("/admin-api/groups/{sub2}/reparent"),
        &json!({"newParentId": sub}).to_string(),
    )
    .await
    .assert(200, r#"{"reparented":true}"#);
    node.get(&format!("/admin-api/groups/{sub}/subgroups"))
        .await
        .assert(
            200,
            &format!(r#"{{"subgroups":[{{"groupId":"{sub2}","name":"s2"}}]}}"#),
        );
    node.post(
        &format!("/admin-api/groups/{sub2}/reparent"),
        r#"{"newParentId":"zz"}"#,
    )
    .await
    .assert(
        400,
        r#"{"error":"Field 'new_parent_id' must be exactly 64 characters (got 2)"}"#,
    );
    for target in [UNKNOWN, &root2, &sub2] {
        node.post(
            &format!("/admin-api/groups/{sub}/reparent"),
            &json!({"newParentId": target}).to_string(),
        )
        .await
        .assert(500, INTERNAL);
    }

    // Join via inheritance: an open subgroup the node left.
    post_none(
        &node,
        &format!("/admin-api/groups/{sub}/join-via-inheritance"),
    )
    .await
    .assert(
        200,
        &format!(
            r#"{{"data":{{"groupId":"{sub}","memberPublicKey":"{member}","wasInherited":false}}}}"#
        ),
    );

    // Delete: JSON body required; not with subgroups.
    node.delete(&format!("/admin-api/groups/{sub}"), None)
        .await
        .assert(
            400,
            r#"{"error":"Expected request with `Content-Type: application/json`"}"#,
        );
    node.delete(&format!("/admin-api/groups/{sub}"), Some("{}"))
        .await
        .assert(500, INTERNAL);
    node.delete(&format!("/admin-api/groups/{sub2}"), Some("{}"))
        .await
        .assert(200, r#"{"data":{"isDeleted":true}}"#);
    node.delete(&format!("/admin-api/groups/{sub2}"), Some("{}"))
        .await
        .assert(500, INTERNAL);
    node.get(&format!("/admin-api/groups/{sub2}"))
        .await
        .assert(500, INTERNAL);

    // Detach: bs58 only, body required, context must be in the group.
    let ctx_hex = hex::encode(bs58::decode(&ctx).into_vec().unwrap());
    node.post(&g(&format!("/contexts/{ctx_hex}/remove")), "{}")
        .await
        .assert(400, r#"{"error":"Invalid context_id format"}"#);
    post_none(&node, &g(&format!("/contexts/{ctx}/remove")))
        .await
        .assert(
            400,
            r#"{"error":"Expected request with `Content-Type: application/json`"}"#,
        );
    node.post(&g(&format!("/contexts/{ctx}/remove")), "{}")
        .await
        .assert(200, "{}");
    node.post(&g(&format!("/contexts/{ctx}/remove")), "{}")
        .await
        .assert(500, INTERNAL);
    node.get(&format!("/admin-api/contexts/{ctx}/group"))
        .await
        .assert(200, r#"{"data":null}"#);
}

#[tokio::test]
async fn join_via_inheritance_and_legacy_invitations() {
    let node = Node::default().await;
    let (_app, ns, _ctx, member) = node.setup(b"kv").await;
    let account = me_account(&node.get("/admin-api/identity").await.json());
    let open = create_subgroup(&node, &ns, json!({"visibility": "open"})).await;
    let closed = create_subgroup(&node, &ns, json!({})).await;
    for group in [&open, &closed] {
        node.post(
            &format!("/admin-api/groups/{group}/members"),
            &json!({"members": [{"identity": FOREIGN, "role": "Admin"}]}).to_string(),
        )
        .await
        .assert(200, "{}");
        post_none(&node, &format!("/admin-api/groups/{group}/leave"))
            .await
            .assert(
                200,
                &format!(r#"{{"data":{{"groupId":"{group}","memberPublicKey":"{member}"}}}}"#),
            );
        node.get(&format!("/admin-api/groups/{group}/members"))
            .await
            .assert(403, &not_a_member(group));
        node.get(&format!("/admin-api/groups/{group}/member-devices"))
            .await
            .assert(403, &not_a_member(group));
    }
    post_none(
        &node,
        &format!("/admin-api/groups/{closed}/join-via-inheritance"),
    )
    .await
    .assert(
        403,
        r#"{"error":"identity not eligible for inheritance-based join"}"#,
    );
    post_none(
        &node,
        &format!("/admin-api/groups/{open}/join-via-inheritance"),
    )
    .await
    .assert(
        200,
        &format!(
            r#"{{"data":{{"groupId":"{open}","memberPublicKey":"{member}","wasInherited":true}}}}"#
        ),
    );

    // Legacy invite + join back into the restricted one.
    let inv = node
        .post(
            &format!("/admin-api/groups/{closed}/invite"),
            r#"{"recursive":true}"#,
        )
        .await
        .json();
    assert!(inv["data"].get("groupName").is_none());
    let invitation = inv["data"]["invitation"].clone();
    node.post("/admin-api/groups/join", &json!({"invitation": invitation}).to_string())
        .await
        .assert(
            200,
            &format!(
                r#"{{"data":{{"groupId":"{closed}","memberIdentity":"{member}","memberAccount":"{account}"}}}}"#
            ),
        );
    let mut forged = invitation.clone();
    forged["invitation"]["secret_salt"] = json!(vec![9u8; 32]);
    node.post(
        "/admin-api/groups/join",
        &json!({"invitation": forged}).to_string(),
    )
    .await
    .assert(500, INTERNAL);
}

#[tokio::test]
async fn foreign_groups_give_the_non_member_and_non_admin_paths() {
    let node = Node::default().await;
    let (_app, ns, _ctx, _member) = node.setup(b"kv").await;
    let account = me_account(&node.get("/admin-api/identity").await.json());
    let control = |body: Value| {
        let node = &node;
        async move {
            let reply = node.post("/_testnode/groups", &body.to_string()).await;
            assert_eq!(reply.status.as_u16(), 200, "{}", reply.body);
            reply.json()
        }
    };

    // A namespace the node joined as a plain Member: reads work, admin
    // writes are the node's untyped 500.
    let foreign = control(json!({"role": "Member", "name": "theirs"})).await;
    let fns = foreign["groupId"].as_str().unwrap().to_owned();
    let admin = foreign["adminAccount"].as_str().unwrap().to_owned();
    let members = node
        .get(&format!("/admin-api/groups/{fns}/members"))
        .await
        .json();
    assert_eq!(members["members"].as_array().unwrap().len(), 2);
    assert!(members["members"]
        .as_array()
        .unwrap()
        .contains(&json!({"identity": admin, "role": "Admin"})));
    for (method, path, body) in [
        (
            Method::PUT,
            format!("/members/{admin}/role"),
            r#"{"role":"Member"}"#,
        ),
        (Method::PUT, "/metadata".to_owned(), r#"{"name":"mine"}"#),
        (
            Method::PUT,
            "/settings/default-capabilities".to_owned(),
            r#"{"defaultCapabilities":0}"#,
        ),
        (
            Method::POST,
            "/members".to_owned(),
            r#"{"members":[{"identity":"efefefefefefefefefefefefefefefefefefefefefefefefefefefefefefefef","role":"Member"}]}"#,
        ),
        (Method::POST, "/invite".to_owned(), "{}"),
    ] {
        node.send(
            method,
            &format!("/admin-api/groups/{fns}{path}"),
            Some(body),
        )
        .await
        .assert(500, INTERNAL);
    }
    node.post(&format!("/admin-api/namespaces/{fns}/invite"), "{}")
        .await
        .assert(500, INTERNAL);
    // Its own member metadata it may set.
    put(
        &node,
        &format!("/admin-api/groups/{fns}/members/{account}/metadata"),
        r#"{"name":"me"}"#,
    )
    .await
    .assert(200, "{}");
    // A member may leave (the foreign admin remains).
    post_none(&node, &format!("/admin-api/namespaces/{fns}/leave"))
        .await
        .status
        .is_success()
        .then_some(())
        .expect("leave");

    // A subgroup the node is not in (but holds the namespace identity for).
    let sub = control(json!({"parentGroupId": ns, "visibility": "restricted"})).await;
    let sub = sub["groupId"].as_str().unwrap().to_owned();
    node.get(&format!("/admin-api/groups/{sub}/members"))
        .await
        .assert(403, &not_a_member(&sub));
    node.get(&format!("/admin-api/groups/{sub}/contexts"))
        .await
        .assert(403, &not_a_member(&sub));
    // ...yet visible to the parent's admin, who inherits admin rights.
    assert_eq!(
        node.get(&format!("/admin-api/groups/{sub}"))
            .await
            .status
            .as_u16(),
        200
    );
    node.post(
        "/admin-api/contexts",
        &json!({"applicationId": _app, "groupId": sub, "initializationParams": []}).to_string(),
    )
    .await
    .assert(403, &not_a_member(&sub));

    // A namespace the node never joined: as unknown.
    let stranger = control(json!({})).await;
    let stranger = stranger["groupId"].as_str().unwrap().to_owned();
    node.get(&format!("/admin-api/groups/{stranger}"))
        .await
        .assert(500, INTERNAL);
    node.get(&format!("/admin-api/namespaces/{stranger}"))
        .await
        .assert(404, r#"{"error":"No namespace identity found"}"#);

    // Bad control requests.
    let bad = node
        .post("/_testnode/groups", r#"{"parentGroupId":"zz"}"#)
        .await;
    assert_eq!(bad.status.as_u16(), 400);
    let bad = node.post("/_testnode/groups", r#"{"role":"Boss"}"#).await;
    assert_eq!(bad.status.as_u16(), 400);
}

#[tokio::test]
async fn upgrades() {
    let node = Node::default().await;
    let (_app, ns, ctx, member) = node.setup(b"kv").await;
    let g = |path: &str| format!("/admin-api/groups/{ns}{path}");
    node.post(&g("/upgrade/retry"), "{}")
        .await
        .assert(500, INTERNAL);
    let file = temp_file(b"kv v2");
    let v2 = node
        .post(
            "/admin-api/install-dev-application",
            &json!({"path": file, "metadata": [], "package": "com.example.kvstore", "version": "2.0.0"})
                .to_string(),
        )
        .await
        .json()["data"]["applicationId"]
        .as_str()
        .unwrap()
        .to_owned();
    node.post(
        &g("/upgrade"),
        r#"{"targetApplicationId":"11111111111111111111111111111111"}"#,
    )
    .await
    .assert(500, INTERNAL);
    let done = format!(
        r#"{{"data":{{"groupId":"{ns}","status":"completed","localContextsTotal":1,"localContextsSwapped":1,"localContextsFailed":0}}}}"#
    );
    node.post(
        &g("/upgrade"),
        &json!({"targetApplicationId": v2}).to_string(),
    )
    .await
    .assert(200, &done);
    let got = node.get(&format!("/admin-api/contexts/{ctx}")).await.json();
    assert_eq!(got["data"]["applicationId"], v2.as_str());
    assert_eq!(got["data"]["applicationVersion"], "2.0.0");
    let status = node.get(&g("/upgrade/status")).await.json();
    assert_eq!(status["data"]["fromVersion"], "1.0.0");
    assert_eq!(status["data"]["toVersion"], "2.0.0");
    assert_eq!(status["data"]["status"], "completed");
    assert_eq!(status["data"]["initiatedBy"], member.as_str());
    let cascade = node.get(&g("/cascade-status")).await.json();
    assert_eq!(cascade["data"][0]["groupId"], ns.as_str());
    node.post(&g("/upgrade/retry"), "{}")
        .await
        .assert(200, &done);
    post_none(&node, &g("/upgrade/retry")).await.assert(
        400,
        r#"{"error":"Expected request with `Content-Type: application/json`"}"#,
    );
}

#[tokio::test]
async fn ownership_proofs() {
    use base64::Engine as _;

    let node = Node::default().await;
    let (_app, ns, ctx, member) = node.setup(b"kv").await;
    let nonce = "0a".repeat(16);
    let far = 99_999_999_999_999u64;
    let reply = node
        .post(
            &format!("/admin-api/groups/{ns}/issue-namespace-ownership-proof"),
            &json!({"audience": "aud", "subject": "s", "nonce": nonce, "expiresAtMs": far})
                .to_string(),
        )
        .await
        .json();
    assert_eq!(reply["signerPublicKey"], member.as_str());
    let engine = base64::engine::general_purpose::STANDARD;
    let payload = engine
        .decode(reply["signedPayload"].as_str().unwrap())
        .unwrap();
    let text = String::from_utf8(payload).unwrap();
    assert!(text.starts_with(&format!(
        r#"{{"v":1,"audience":"aud","group_id":"{ns}","issuer_identity":"{member}","context_id":"","subject":"s","nonce":"{nonce}","issued_at_ms":"#
    )));
    let payload: Value = serde_json::from_str(&text).unwrap();
    let issued = payload["issued_at_ms"].as_u64().unwrap();
    assert_eq!(payload["expires_at_ms"].as_u64().unwrap(), issued + 300_000);
    assert_eq!(
        engine
            .decode(reply["signature"].as_str().unwrap())
            .unwrap()
            .len(),
        64
    );

    let reply = node
        .post(
            &format!("/admin-api/groups/{ns}/issue-ownership-proof"),
            &json!({"audience": "aud", "contextId": ctx, "subject": "s", "nonce": nonce, "expiresAtMs": 5}).to_string(),
        )
        .await
        .json();
    let payload = engine
        .decode(reply["signedPayload"].as_str().unwrap())
        .unwrap();
    let payload: Value = serde_json::from_slice(&payload).unwrap();
    assert_eq!(payload["context_id"], ctx.as_str());
    assert_eq!(payload["expires_at_ms"], 5);

    node.post(
        &format!("/admin-api/groups/{ns}/issue-namespace-ownership-proof"),
        r#"{"audience":"","subject":"","nonce":"zz","expiresAtMs":1}"#,
    )
    .await
    .assert(400, r#"{"error":"Validation errors: Field 'audience' is required but was empty; Field 'subject' is required but was empty; Field 'nonce' has invalid format: nonce must be hex-encoded, 32..=128 characters"}"#);
    node.post(
        &format!("/admin-api/groups/{ns}/issue-namespace-ownership-proof"),
        &json!({"audience": "a", "subject": "s", "nonce": "g".repeat(32), "expiresAtMs": 1})
            .to_string(),
    )
    .await
    .assert(
        400,
        r#"{"error":"Field 'nonce' contains invalid hex encoding: nonce must be valid hex"}"#,
    );
    let sub = create_subgroup(&node, &ns, json!({})).await;
    node.post(
        &format!("/admin-api/groups/{sub}/issue-namespace-ownership-proof"),
        &json!({"audience": "a", "subject": "s", "nonce": nonce, "expiresAtMs": 1}).to_string(),
    )
    .await
    .assert(500, INTERNAL);
    node.post(
        &format!("/admin-api/groups/{sub}/issue-ownership-proof"),
        &json!({"audience": "a", "contextId": ctx, "subject": "s", "nonce": nonce, "expiresAtMs": 1}).to_string(),
    )
    .await
    .assert(500, INTERNAL);
}
