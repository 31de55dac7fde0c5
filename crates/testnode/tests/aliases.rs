//! Alias routes and the certificate route, against answers probed from a
//! real merod 0.11.0-rc.25.

mod common;

use reqwest::Method;

use common::*;

const ZERO: &str = "11111111111111111111111111111111";

#[tokio::test]
async fn context_aliases_create_lookup_list_delete() {
    let node = Node::default().await;
    let (app, _ns, ctx, _member) = node.setup(b"kv").await;
    let create = format!(r#"{{"alias":"kv","contextId":"{ctx}"}}"#);
    node.post("/admin-api/alias/create/context", &create)
        .await
        .assert(200, r#"{"data":null}"#);
    node.post("/admin-api/alias/create/context", &create)
        .await
        .assert(409, r#"{"error":"alias already exists"}"#);
    // The target need not exist.
    node.post(
        "/admin-api/alias/create/context",
        &format!(r#"{{"alias":"a.b-c_9","contextId":"{ZERO}"}}"#),
    )
    .await
    .assert(200, r#"{"data":null}"#);
    node.post("/admin-api/alias/lookup/context/kv", "{}")
        .await
        .assert(200, &format!(r#"{{"data":{{"value":"{ctx}"}}}}"#));
    node.send(Method::POST, "/admin-api/alias/lookup/context/nope", None)
        .await
        .assert(200, r#"{"data":{"value":null}}"#);
    node.get("/admin-api/alias/list/context").await.assert(
        200,
        &format!(r#"{{"data":{{"a.b-c_9":"{ZERO}","kv":"{ctx}"}}}}"#),
    );
    // Kinds are separate tables.
    node.get("/admin-api/alias/list/application")
        .await
        .assert(200, r#"{"data":{}}"#);
    node.post(
        "/admin-api/alias/create/application",
        &format!(r#"{{"alias":"kv","applicationId":"{app}"}}"#),
    )
    .await
    .assert(200, r#"{"data":null}"#);
    node.send(Method::POST, "/admin-api/alias/lookup/application/kv", None)
        .await
        .assert(200, &format!(r#"{{"data":{{"value":"{app}"}}}}"#));

    node.send(Method::POST, "/admin-api/alias/delete/context/kv", None)
        .await
        .assert(200, r#"{"data":null}"#);
    node.send(Method::POST, "/admin-api/alias/delete/context/kv", None)
        .await
        .assert(200, r#"{"data":null}"#);
    node.send(Method::POST, "/admin-api/alias/lookup/context/kv", None)
        .await
        .assert(200, r#"{"data":{"value":null}}"#);
    node.send(Method::POST, "/admin-api/alias/delete/application/kv", None)
        .await
        .assert(200, r#"{"data":null}"#);
    node.get("/admin-api/alias/list/application")
        .await
        .assert(200, r#"{"data":{}}"#);
}

#[tokio::test]
async fn alias_rejections_are_axum_plain_text() {
    let node = Node::default().await;
    let path = "/admin-api/alias/create/context";
    let cases = [
        (
            format!(r#"{{"alias":"","contextId":"{ZERO}"}}"#),
            422,
            "Failed to deserialize the JSON body into the target type: alias: must not be empty at line 1 column 11",
        ),
        (
            format!(r#"{{"alias":"a b","contextId":"{ZERO}"}}"#),
            422,
            "Failed to deserialize the JSON body into the target type: alias: contains an invalid character; allowed characters are [A-Za-z0-9._-] at line 1 column 14",
        ),
        (
            format!(r#"{{"alias":"{}","contextId":"{ZERO}"}}"#, "x".repeat(60)),
            422,
            "Failed to deserialize the JSON body into the target type: alias: exceeds maximum length of 50 characters at line 1 column 71",
        ),
        (
            r#"{"alias":"kv2"}"#.to_owned(),
            422,
            "Failed to deserialize the JSON body into the target type: missing field `contextId` at line 1 column 15",
        ),
        (
            r#"{"alias":"kv2","contextId":"abc"}"#.to_owned(),
            422,
            "Failed to deserialize the JSON body into the target type: invalid length 3, expected a base58 encoded hash at line 1 column 33",
        ),
        (
            "{bad".to_owned(),
            400,
            "Failed to parse the request body as JSON: key must be a string at line 1 column 2",
        ),
    ];
    for (body, status, text) in cases {
        let reply = node.post(path, &body).await;
        reply.assert(status, text);
        assert_eq!(reply.content_type(), "text/plain; charset=utf-8");
    }
    // No JSON content type: 415.
    let res = node
        .client
        .post(format!("{}{path}", node.base))
        .body(format!(r#"{{"alias":"kv","contextId":"{ZERO}"}}"#))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 415);
    assert_eq!(
        res.text().await.unwrap(),
        "Expected request with `Content-Type: application/json`"
    );

    for route in ["lookup", "delete"] {
        node.send(
            Method::POST,
            &format!("/admin-api/alias/{route}/context/a%20b"),
            None,
        )
        .await
        .assert(400, "invalid path params");
    }
    // Identity aliases are not mounted at rc.25.
    let ctx_path = format!("/admin-api/alias/create/identity/{ZERO}");
    node.post(&ctx_path, "{}").await.assert(404, "");
    node.get(&format!("/admin-api/alias/list/identity/{ZERO}"))
        .await
        .assert(404, "");
}

#[tokio::test]
async fn certificate_is_not_found() {
    let node = Node::default().await;
    let reply = node.get("/admin-api/certificate").await;
    reply.assert(404, "Certificate not found");
    assert_eq!(reply.content_type(), "text/plain; charset=utf-8");
}
