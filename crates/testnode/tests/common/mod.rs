//! Shared helpers for the in-process tests: start `serve` on 127.0.0.1:0
//! and talk HTTP to it.
#![allow(dead_code, reason = "each test file uses a subset")]

use std::path::PathBuf;

use calimero_testnode::Config;
use reqwest::header::{HeaderMap, CONTENT_TYPE};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use tokio::net::TcpListener;

pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: String,
}

impl Reply {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|err| panic!("not JSON ({err}): {:?}", self.body))
    }

    pub fn content_type(&self) -> &str {
        self.headers
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }

    #[track_caller]
    pub fn assert(&self, status: u16, body: &str) {
        assert_eq!(self.status.as_u16(), status, "body: {}", self.body);
        assert_eq!(self.body, body);
    }
}

pub struct Node {
    pub base: String,
    pub client: reqwest::Client,
    pub release: calimero_testnode::Release,
}

impl Node {
    pub async fn start(config: Config) -> Self {
        // reqwest is built without a default TLS crypto provider.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let release = config.release;
        drop(tokio::spawn(calimero_testnode::serve(listener, config)));
        Self {
            base: format!("http://{addr}"),
            client: reqwest::Client::builder().no_proxy().build().unwrap(),
            release,
        }
    }

    pub async fn default() -> Self {
        Self::start(Config::default()).await
    }

    /// A node answering as `0.11.0-rc.{rc}`.
    pub async fn at(rc: u16) -> Self {
        Self::start(Config::default().release(calimero_testnode::Release::rc(rc).unwrap())).await
    }

    pub async fn put(&self, path: &str, body: &str) -> Reply {
        self.send(Method::PUT, path, Some(body)).await
    }

    /// Installs the kv-store stand-in as this release allows (a raw wasm up
    /// to rc.31, a bundle written by the node from rc.32); returns its id.
    pub async fn install(&self) -> String {
        let reply = if self.release.bundles_only() {
            let bundle = self
                .post(
                    "/_testnode/bundles",
                    r#"{"package":"com.example.kvstore","version":"1.0.0"}"#,
                )
                .await
                .json();
            let path = bundle["path"].as_str().unwrap().to_owned();
            self.post(
                "/admin-api/install-dev-application",
                &json!({ "path": path }).to_string(),
            )
            .await
        } else {
            let file = temp_file(b"\0asm\x01\0\0\0 kv-store stand-in calimero_abi_v1");
            self.post(
                "/admin-api/install-dev-application",
                &json!({"path": file, "metadata": [], "package": "com.example.kvstore", "version": "1.0.0"})
                    .to_string(),
            )
            .await
        };
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
        reply.json()["data"]["applicationId"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    /// An application, a namespace and a context in it, as this release
    /// allows; returns (application, namespace, context, member key).
    pub async fn setup_release(&self) -> (String, String, String, String) {
        let app = self.install().await;
        let ns = self
            .post(
                "/admin-api/namespaces",
                &json!({"applicationId": app, "name": "kv-ns"}).to_string(),
            )
            .await
            .json()["data"]["namespaceId"]
            .as_str()
            .unwrap()
            .to_owned();
        let created = self
            .post(
                "/admin-api/contexts",
                &json!({"applicationId": app, "groupId": ns, "initializationParams": []})
                    .to_string(),
            )
            .await
            .json();
        let ctx = created["data"]["contextId"].as_str().unwrap().to_owned();
        let member = created["data"]["memberPublicKey"]
            .as_str()
            .unwrap()
            .to_owned();
        (app, ns, ctx, member)
    }

    pub async fn send(&self, method: Method, path: &str, body: Option<&str>) -> Reply {
        self.try_send(method, path, body).await.unwrap()
    }

    pub async fn try_send(
        &self,
        method: Method,
        path: &str,
        body: Option<&str>,
    ) -> reqwest::Result<Reply> {
        let mut req = self.client.request(method, format!("{}{path}", self.base));
        if let Some(body) = body {
            req = req
                .header(CONTENT_TYPE, "application/json")
                .body(body.to_owned());
        }
        let res = req.send().await?;
        let status = res.status();
        let headers = res.headers().clone();
        let body = res.text().await?;
        Ok(Reply {
            status,
            headers,
            body,
        })
    }

    /// A request with `Authorization: Bearer token`.
    pub async fn authed(
        &self,
        method: Method,
        path: &str,
        token: &str,
        body: Option<&str>,
    ) -> Reply {
        let mut req = self
            .client
            .request(method, format!("{}{path}", self.base))
            .header(reqwest::header::AUTHORIZATION, format!("Bearer {token}"));
        if let Some(body) = body {
            req = req
                .header(CONTENT_TYPE, "application/json")
                .body(body.to_owned());
        }
        let res = req.send().await.unwrap();
        Reply {
            status: res.status(),
            headers: res.headers().clone(),
            body: res.text().await.unwrap(),
        }
    }

    pub async fn get(&self, path: &str) -> Reply {
        self.send(Method::GET, path, None).await
    }

    pub async fn post(&self, path: &str, body: &str) -> Reply {
        self.send(Method::POST, path, Some(body)).await
    }

    pub async fn delete(&self, path: &str, body: Option<&str>) -> Reply {
        self.send(Method::DELETE, path, body).await
    }

    pub async fn rpc(&self, body: Value) -> Value {
        let reply = self.post("/jsonrpc", &body.to_string()).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
        reply.json()
    }

    pub async fn execute(&self, context: &str, method: &str, args: Value) -> Value {
        self.rpc(json!({
            "jsonrpc": "2.0", "id": 1, "method": "execute",
            "params": {"contextId": context, "method": method, "argsJson": args},
        }))
        .await
    }

    /// Installs `content` from a temp file, creates a namespace and a
    /// context; returns (application id, namespace id, context id, member key).
    pub async fn setup(&self, content: &[u8]) -> (String, String, String, String) {
        let file = temp_file(content);
        let app = self
            .post(
                "/admin-api/install-dev-application",
                &json!({"path": file, "metadata": [], "package": "com.example.kvstore", "version": "1.0.0"})
                    .to_string(),
            )
            .await
            .json()["data"]["applicationId"]
            .as_str()
            .unwrap()
            .to_owned();
        let ns = self
            .post(
                "/admin-api/namespaces",
                &json!({"applicationId": app, "name": "kv-ns"}).to_string(),
            )
            .await
            .json()["data"]["namespaceId"]
            .as_str()
            .unwrap()
            .to_owned();
        let created = self
            .post(
                "/admin-api/contexts",
                &json!({"applicationId": app, "groupId": ns, "initializationParams": []})
                    .to_string(),
            )
            .await
            .json();
        let ctx = created["data"]["contextId"].as_str().unwrap().to_owned();
        let member = created["data"]["memberPublicKey"]
            .as_str()
            .unwrap()
            .to_owned();
        (app, ns, ctx, member)
    }
}

pub fn temp_file(content: &[u8]) -> PathBuf {
    let path = std::env::temp_dir().join(format!(
        "calimero-testnode-{}-{}.wasm",
        std::process::id(),
        rand_suffix()
    ));
    std::fs::write(&path, content).unwrap();
    path
}

pub fn rand_suffix() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

pub fn is_hex64(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

pub fn is_bs58_id(s: &str) -> bool {
    bs58::decode(s).into_vec().is_ok_and(|v| v.len() == 32)
}
