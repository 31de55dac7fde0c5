//! The core's authentication against the in-process test node in embedded
//! auth mode: login, reactive single-flight refresh, replay, `?token=`, and
//! the hooks a streaming request uses.

use std::sync::Arc;

use calimero_client_core::auth::{AuthOptions, AuthRecovery, Credentials, Tokens};
use calimero_client_core::endpoints::find;
use calimero_client_core::{Config, Connection, ErrorKind};
use calimero_testnode::AuthConfig;
use serde_json::{json, Value};

const USER: &str = "admin";
const PASSWORD: &str = "a-good-password";

struct Node {
    base: String,
    http: reqwest::Client,
}

impl Node {
    async fn start() -> Self {
        calimero_client_core::runtime::install_crypto_provider();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let config = calimero_testnode::Config::default().auth(AuthConfig {
            username: USER.into(),
            password: PASSWORD.into(),
            ..AuthConfig::default()
        });
        tokio::spawn(calimero_testnode::serve(listener, config));
        Node {
            base: format!("http://{addr}"),
            http: reqwest::Client::builder().no_proxy().build().unwrap(),
        }
    }

    fn connect(&self, options: AuthOptions) -> Connection {
        let options = AuthOptions {
            ignore_env: true,
            ..options
        };
        Connection::with_auth(&self.base, None, Config::default(), options).unwrap()
    }

    fn with_credentials(&self) -> Connection {
        self.connect(AuthOptions {
            credentials: Some(Credentials::new(USER, PASSWORD).unwrap()),
            ..AuthOptions::default()
        })
    }

    async fn control(&self, path: &str, body: Value) -> Value {
        self.http
            .post(format!("{}/_testnode/{path}", self.base))
            .json(&body)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    async fn paths(&self) -> Vec<String> {
        let log: Value = self
            .http
            .get(format!("{}/_testnode/requests", self.base))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        log["requests"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["path"].as_str().unwrap().to_owned())
            .collect()
    }

    async fn count(&self, path: &str) -> usize {
        self.paths().await.iter().filter(|p| *p == path).count()
    }
}

async fn list_contexts(conn: &Connection) -> Result<Value, calimero_client_core::Error> {
    let (_, endpoint) = find("list_contexts").unwrap();
    let args = vec![None; endpoint.args.len()];
    conn.invoke(endpoint, &args).await?.json()
}

#[tokio::test]
async fn credentials_log_in_on_the_first_401_and_the_call_is_replayed() {
    let node = Node::start().await;
    let conn = node.with_credentials();
    assert!(conn.tokens().is_none());
    assert_eq!(
        list_contexts(&conn).await.unwrap(),
        json!({"data": {"contexts": []}})
    );
    assert!(conn.tokens().is_some());
    assert_eq!(
        node.paths().await,
        ["/admin-api/contexts", "/auth/token", "/admin-api/contexts"]
    );
}

#[tokio::test]
async fn without_credentials_the_error_says_how_to_give_them() {
    let node = Node::start().await;
    let conn = node.connect(AuthOptions::default());
    let err = list_contexts(&conn).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Authentication);
    let text = err.to_string();
    for needle in [
        "CALIMERO_USERNAME",
        "CALIMERO_PASSWORD",
        "login(",
        "no token was sent",
    ] {
        assert!(text.contains(needle), "{text}");
    }
    let err = conn.login(None).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Authentication);
    assert_eq!(node.count("/auth/token").await, 0);
    // a wrong password is the login's own error
    let bad = Credentials::new(USER, "wrong-password").unwrap();
    let err = conn.login(Some(bad)).await.unwrap_err();
    assert_eq!(err.status(), Some(401));
    assert!(
        err.to_string().contains("Invalid username or password"),
        "{err}"
    );
}

#[tokio::test]
async fn one_refresh_serves_every_concurrent_caller() {
    let node = Node::start().await;
    node.control("auth", json!({"accessTtl": 5, "leeway": 0}))
        .await;
    let conn = node.with_credentials();
    let first = conn.login(None).await.unwrap();
    node.control("auth", json!({"accessTtl": 3600, "advanceClock": 10}))
        .await;
    let tasks: Vec<_> = (0..32)
        .map(|_| {
            let conn = conn.clone();
            tokio::spawn(async move { list_contexts(&conn).await })
        })
        .collect();
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    assert_eq!(node.count("/auth/refresh").await, 1);
    assert_eq!(node.count("/auth/token").await, 1);
    let now = conn.tokens().unwrap();
    assert_ne!(now.access_token, first.access_token);
    assert_ne!(now.refresh_token, first.refresh_token);
}

#[tokio::test]
async fn a_refused_refresh_falls_back_to_a_login_and_revocation_needs_one() {
    let node = Node::start().await;
    // tokens passed in, whose refresh token is not good for the node
    let minted = node.control("auth/mint", json!({"accessTtl": 1})).await;
    let conn = node.connect(AuthOptions {
        tokens: Some(Tokens::new(
            minted["access_token"].as_str().unwrap().into(),
            Some("not-a-refresh-token".into()),
        )),
        credentials: Some(Credentials::new(USER, PASSWORD).unwrap()),
        ..AuthOptions::default()
    });
    node.control("auth", json!({"advanceClock": 120})).await;
    list_contexts(&conn).await.unwrap();
    assert_eq!(node.count("/auth/refresh").await, 1);
    assert_eq!(node.count("/auth/token").await, 1);

    // revoked: a fresh login, then the call
    node.control("auth/revoke", json!({})).await;
    list_contexts(&conn).await.unwrap();
    assert_eq!(node.count("/auth/token").await, 2);

    // revoked without credentials: an auth-revoked error
    let minted = node.control("auth/mint", json!({})).await;
    let bare = node.connect(AuthOptions {
        tokens: Some(Tokens::new(
            minted["access_token"].as_str().unwrap().into(),
            None,
        )),
        ..AuthOptions::default()
    });
    list_contexts(&bare).await.unwrap();
    node.control("auth/revoke", json!({})).await;
    let err = list_contexts(&bare).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::AuthRevoked);
    assert_eq!(err.status(), Some(403));
}

#[tokio::test]
async fn permission_denied_is_never_retried() {
    let node = Node::start().await;
    let minted = node
        .control("auth/mint", json!({"permissions": ["context:list"]}))
        .await;
    let conn = node.connect(AuthOptions {
        tokens: Some(Tokens::new(
            minted["access_token"].as_str().unwrap().into(),
            None,
        )),
        credentials: Some(Credentials::new(USER, PASSWORD).unwrap()),
        ..AuthOptions::default()
    });
    list_contexts(&conn).await.unwrap();
    let err = conn
        .request("GET", "/admin-api/usage", None)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::PermissionDenied);
    assert_eq!(
        node.paths().await,
        ["/admin-api/contexts", "/admin-api/usage"]
    );
}

#[tokio::test]
async fn the_hooks_serve_requests_the_connection_does_not_build() {
    let node = Node::start().await;
    node.control("auth", json!({"accessTtl": 5, "leeway": 0}))
        .await;
    let conn = Arc::new(node.with_credentials());
    conn.login(None).await.unwrap();
    node.control("auth", json!({"accessTtl": 3600, "advanceClock": 10}))
        .await;

    // a request built elsewhere: authorize, send, and on failure ask
    let mut attempts = 0;
    let body = loop {
        attempts += 1;
        let request = node.http.get(format!("{}/admin-api/contexts", node.base));
        let (request, ticket) = conn.authorize(request).unwrap();
        assert!(ticket.sent_token());
        let response = request.send().await.unwrap();
        if response.status().is_success() {
            break response.text().await.unwrap();
        }
        let failure =
            calimero_client_core::Error::Http(Box::new(calimero_client_core::error::HttpFailure {
                status: response.status().as_u16(),
                message: String::new(),
                method: "GET".into(),
                url: String::new(),
                body: String::new(),
                headers: Vec::new(),
                auth_error: response
                    .headers()
                    .get("x-auth-error")
                    .map(|v| v.to_str().unwrap().to_owned()),
                retry_after: None,
            }));
        match conn.on_auth_failure(&ticket, failure).await {
            AuthRecovery::Retry => continue,
            AuthRecovery::Fail(e) => panic!("{e}"),
        }
    };
    assert_eq!(attempts, 2);
    assert_eq!(body, r#"{"data":{"contexts":[]}}"#);

    // ?token= where a header is impossible
    let mut url = url::Url::parse(&format!("{}/admin-api/contexts", node.base)).unwrap();
    let ticket = conn.authorize_url(&mut url);
    assert!(ticket.sent_token());
    assert!(url.query().unwrap().starts_with("token="));
    let response = node.http.get(url).send().await.unwrap();
    assert_eq!(response.status(), 200);
    // and a raw request with a token in its query never shows it in errors
    let token = conn.tokens().unwrap().access_token;
    let err = conn
        .request("GET", &format!("/admin-api/nope?token={token}"), None)
        .await
        .unwrap_err();
    assert!(!err.to_string().contains(&token), "{err}");
}
