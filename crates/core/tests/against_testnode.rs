//! The core end to end, against the test node started in-process: the
//! endpoint table, the request builder, the transport and error mapping.

mod common;

use calimero_client_core::{ArgValue, AuthMode, Config, Connection, Error, ErrorKind};
use common::{call, s};
use serde_json::{json, Value};

async fn start() -> Connection {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(calimero_testnode::serve(listener, Default::default()));
    Connection::new(&format!("http://{addr}"), None, Config::default()).unwrap()
}

#[tokio::test]
async fn a_context_lifecycle_through_the_table() {
    let conn = start().await;
    assert_eq!(conn.detect_auth_mode().await.unwrap(), AuthMode::None);
    assert_eq!(
        call(&conn, "health", &[]).await.unwrap(),
        json!({"data": {"status": "alive"}})
    );

    let wasm = std::env::temp_dir().join(format!("core-it-{}.wasm", std::process::id()));
    std::fs::write(&wasm, b"\0asm\x01\0\0\0core-integration").unwrap();
    let app = call(
        &conn,
        "install_dev_application",
        &[s(wasm.to_str().unwrap())],
    )
    .await
    .unwrap();
    let app_id = app["data"]["applicationId"].as_str().unwrap().to_owned();
    let ns = call(&conn, "create_namespace", &[s(&app_id)])
        .await
        .unwrap();
    let ns_id = ns["data"]["namespaceId"].as_str().unwrap().to_owned();
    let ctx = call(&conn, "create_context", &[s(&app_id), s(&ns_id)])
        .await
        .unwrap();
    let ctx_id = ctx["data"]["contextId"].as_str().unwrap().to_owned();

    let set = json!({"key": "k", "value": "v"});
    let out = call(
        &conn,
        "call",
        &[s(&ctx_id), s("set"), Some(ArgValue::Json(set))],
    )
    .await
    .unwrap();
    assert_eq!(out, Value::Null);
    let out = call(&conn, "call", &[s(&ctx_id), s("get"), s(r#"{"key":"k"}"#)])
        .await
        .unwrap();
    assert_eq!(out, json!("v"));
    let envelope = call(&conn, "execute_function", &[s(&ctx_id), s("len")])
        .await
        .unwrap();
    assert_eq!(envelope["result"], json!({"output": 1}));

    // execute_function hands a JSON-RPC error back in the envelope; call raises it
    let envelope = call(&conn, "execute_function", &[s(&ctx_id), s("nope")])
        .await
        .unwrap();
    assert_eq!(envelope["error"]["type"], json!("FunctionCallError"));
    assert!(envelope.get("result").is_none(), "{envelope}");
    let err = call(&conn, "call", &[s(&ctx_id), s("nope")])
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Rpc);
    let Error::Rpc(rpc) = err else { unreachable!() };
    assert_eq!(rpc.error_type.as_deref(), Some("FunctionCallError"));

    let err = call(
        &conn,
        "get_context",
        &[s("11111111111111111111111111111111")],
    )
    .await
    .unwrap_err();
    assert_eq!((err.kind(), err.status()), (ErrorKind::NotFound, Some(404)));
    assert!(err.to_string().ends_with("Context not found"), "{err}");

    let err = call(&conn, "get_context", &[s("nope")]).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument);

    let listed = call(&conn, "list_contexts", &[None, Some(ArgValue::UInt(10))])
        .await
        .unwrap();
    assert_eq!(listed["data"]["contexts"][0]["id"], json!(ctx_id));
    let raw = conn
        .request("GET", "/admin-api/contexts?limit=1", None)
        .await
        .unwrap();
    assert_eq!(raw.json::<Value>().unwrap(), listed);
    std::fs::remove_file(&wasm).ok();
}

#[tokio::test]
async fn transport_failures_are_classified() {
    let dead = Connection::new("http://127.0.0.1:1", None, Config::default()).unwrap();
    let err = dead
        .request("GET", "/admin-api/health", None)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Network);
    assert!(dead.detect_auth_mode().await.is_err());
}
