//! Embedded auth mode, in process: the guard, login, refresh and the login
//! rate limit answer as merod 0.11.0-rc.25 does
//! (shared/contract/merod-rc25-auth.md).

use calimero_testnode::{AuthConfig, Config};
use reqwest::header::{HeaderMap, AUTHORIZATION, CONTENT_TYPE, HOST};
use reqwest::StatusCode;
use serde_json::{json, Value};
use tokio::net::TcpListener;

struct Reply {
    status: StatusCode,
    headers: HeaderMap,
    body: String,
}

impl Reply {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {:?}", self.body))
    }

    fn auth_error(&self) -> Option<&str> {
        self.headers
            .get("x-auth-error")
            .and_then(|v| v.to_str().ok())
    }
}

struct Node {
    base: String,
    client: reqwest::Client,
}

const USER: &str = "admin";
const PASSWORD: &str = "a-good-password";

impl Node {
    async fn start(auth: Option<AuthConfig>) -> Self {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let mut config = Config::default();
        if let Some(auth) = auth {
            config = config.auth(auth);
        }
        drop(tokio::spawn(calimero_testnode::serve(listener, config)));
        Self {
            base: format!("http://{addr}"),
            client: reqwest::Client::builder().no_proxy().build().unwrap(),
        }
    }

    async fn auth() -> Self {
        Self::start(Some(AuthConfig {
            username: USER.into(),
            password: PASSWORD.into(),
            ..AuthConfig::default()
        }))
        .await
    }

    async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Reply {
        let mut req = self.client.request(method, format!("{}{path}", self.base));
        if let Some(token) = token {
            req = req.header(AUTHORIZATION, token);
        }
        if let Some(body) = body {
            req = req
                .header(CONTENT_TYPE, "application/json")
                .body(body.to_string());
        }
        let res = req.send().await.unwrap();
        Reply {
            status: res.status(),
            headers: res.headers().clone(),
            body: res.text().await.unwrap(),
        }
    }

    async fn get(&self, path: &str, token: Option<&str>) -> Reply {
        let bearer = token.map(|t| format!("Bearer {t}"));
        self.send(reqwest::Method::GET, path, bearer.as_deref(), None)
            .await
    }

    async fn post(&self, path: &str, body: Value) -> Reply {
        self.send(reqwest::Method::POST, path, None, Some(body))
            .await
    }

    async fn login_with(&self, user: &str, password: &str) -> Reply {
        self.post(
            "/auth/token",
            json!({
                "auth_method": "user_password", "public_key": user,
                "client_name": self.base, "timestamp": 1,
                "provider_data": {"username": user, "password": password},
            }),
        )
        .await
    }

    async fn login(&self) -> (String, String) {
        let reply = self.login_with(USER, PASSWORD).await;
        assert_eq!(reply.status, 200, "{}", reply.body);
        let v = reply.json();
        assert_eq!(v["error"], Value::Null);
        (
            v["data"]["access_token"].as_str().unwrap().to_owned(),
            v["data"]["refresh_token"].as_str().unwrap().to_owned(),
        )
    }

    async fn refresh(&self, access: &str, refresh: &str) -> Reply {
        self.post(
            "/auth/refresh",
            json!({"access_token": access, "refresh_token": refresh}),
        )
        .await
    }

    async fn control(&self, path: &str, body: Value) -> Value {
        self.post(&format!("/_testnode/auth{path}"), body)
            .await
            .json()
    }
}

fn claims(token: &str) -> Value {
    use base64::Engine as _;
    let payload = token.split('.').nth(1).unwrap();
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

#[tokio::test]
async fn protected_routes_need_a_token_public_ones_do_not() {
    let node = Node::auth().await;
    for path in [
        "/admin-api/contexts",
        "/admin-api/applications",
        "/admin-api/usage",
    ] {
        let r = node.get(path, None).await;
        assert_eq!((r.status.as_u16(), r.body.as_str()), (401, ""), "{path}");
        assert_eq!(r.auth_error(), None);
    }
    let r = node
        .send(
            reqwest::Method::POST,
            "/jsonrpc",
            None,
            Some(json!({"jsonrpc": "2.0", "id": 1, "method": "sync_status", "params": {}})),
        )
        .await;
    assert_eq!((r.status.as_u16(), r.body.as_str()), (401, ""));
    for path in [
        "/admin-api/health",
        "/admin-api/ready",
        "/admin-api/is-authed",
    ] {
        assert_eq!(node.get(path, None).await.status, 200, "{path}");
    }
    let health = node.get("/auth/health", None).await;
    assert_eq!(health.status, 200);
    assert_eq!(health.json()["data"]["status"], "alive");
    assert_eq!(
        health.headers.get("x-frame-options").unwrap(),
        "DENY",
        "the auth service's security headers"
    );
    let providers = node.get("/auth/providers", None).await.json();
    assert_eq!(providers["data"]["providers"][0]["name"], "user_password");
    assert_eq!(providers["data"]["count"], 1);
}

#[tokio::test]
async fn without_auth_mode_there_is_no_auth_service() {
    let node = Node::start(None).await;
    assert_eq!(node.get("/admin-api/contexts", None).await.status, 200);
    assert_eq!(node.get("/auth/health", None).await.status, 404);
    assert_eq!(
        node.get("/_testnode/auth", None).await.json(),
        json!({"enabled": false})
    );
}

#[tokio::test]
async fn login_gives_node_bound_tokens_that_open_protected_routes() {
    let node = Node::auth().await;
    let (access, refresh) = node.login().await;
    let c = claims(&access);
    assert_eq!(c["iss"], "calimero-auth");
    assert_eq!(c["aud"], "calimero-auth");
    assert_eq!(c["token_type"], "access");
    assert_eq!(c["permissions"], json!(["admin"]));
    assert_eq!(c["node_url"], node.base.as_str());
    assert_eq!(
        c["exp"].as_u64().unwrap() - c["iat"].as_u64().unwrap(),
        3600
    );
    assert_eq!(c["sub"].as_str().unwrap().len(), 64);
    assert_eq!(claims(&refresh)["token_type"], "refresh");

    let r = node.get("/admin-api/contexts", Some(&access)).await;
    assert_eq!(r.status, 200, "{}", r.body);
    // the refresh token is no access token
    assert_eq!(
        node.get("/admin-api/contexts", Some(&refresh)).await.status,
        401
    );
    // ?token= works when no header is sent; a header, even a bad one, wins
    let q = node
        .get(&format!("/admin-api/contexts?token={access}"), None)
        .await;
    assert_eq!(q.status, 200);
    let both = node
        .send(
            reqwest::Method::GET,
            &format!("/admin-api/contexts?token={access}"),
            Some("Bearer nope"),
            None,
        )
        .await;
    assert_eq!(both.status, 401);
    assert_eq!(
        node.send(
            reqwest::Method::GET,
            "/admin-api/contexts",
            Some(&format!("Basic {access}")),
            None
        )
        .await
        .status,
        401
    );
    // bound to the host it was minted for
    let other_host = node
        .client
        .get(format!("{}/admin-api/contexts", node.base))
        .header(AUTHORIZATION, format!("Bearer {access}"))
        .header(HOST, "localhost")
        .send()
        .await
        .unwrap();
    assert_eq!(other_host.status(), 401);
}

#[tokio::test]
async fn wrong_credentials_are_refused_then_rate_limited() {
    let node = Node::auth().await;
    let r = node.login_with(USER, "wrong-password").await;
    assert_eq!(r.status, 401);
    assert_eq!(
        r.json(),
        json!({"data": null, "error": "Authentication failed: Authentication failed: Invalid username or password"})
    );
    for _ in 0..4 {
        assert_eq!(node.login_with(USER, "wrong-password").await.status, 401);
    }
    // the sixth attempt within 60 s is refused before the password is looked at
    let locked = node.login_with(USER, PASSWORD).await;
    assert_eq!(locked.status, 429);
    let retry: u64 = locked.headers["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry), "{retry}");
    assert_eq!(
        locked.json()["error"],
        "Too many failed login attempts; please try again later"
    );
    // another user name has its own bucket
    assert_eq!(node.login_with("someone", "x").await.status, 401);
    // the window passes
    node.control("", json!({"advanceClock": 61})).await;
    assert_eq!(node.login_with(USER, PASSWORD).await.status, 200);
    // malformed requests
    let r = node
        .post("/auth/token", json!({"auth_method": "user_password"}))
        .await;
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["status"], 400);
    let r = node
        .post(
            "/auth/token",
            json!({"auth_method": "", "public_key": "a", "client_name": "c", "timestamp": 1, "provider_data": {}}),
        )
        .await;
    assert_eq!(r.status, 422);
}

#[tokio::test]
async fn refresh_waits_for_expiry_past_the_leeway_and_is_single_use() {
    let node = Node::auth().await;
    node.control("", json!({"accessTtl": 10, "leeway": 60}))
        .await;
    let (access, refresh) = node.login().await;
    let r = node.refresh(&access, &refresh).await;
    assert_eq!(r.status, 401);
    assert_eq!(
        r.json(),
        json!({"data": null, "error": "Access token still valid"})
    );

    // 40 s past exp: inside the leeway, still accepted, still not refreshable
    node.control("", json!({"advanceClock": 50})).await;
    assert_eq!(
        node.get("/admin-api/contexts", Some(&access)).await.status,
        200
    );
    assert_eq!(
        node.refresh(&access, &refresh).await.json()["error"],
        "Access token still valid"
    );

    // past exp + leeway: expired for the guard, refreshable
    node.control("", json!({"advanceClock": 30})).await;
    let expired = node.get("/admin-api/contexts", Some(&access)).await;
    assert_eq!((expired.status.as_u16(), expired.body.as_str()), (401, ""));
    assert_eq!(expired.auth_error(), Some("token_expired"));
    let rotated = node.refresh(&access, &refresh).await;
    assert_eq!(rotated.status, 200, "{}", rotated.body);
    let new_access = rotated.json()["data"]["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(claims(&new_access)["sub"], claims(&access)["sub"]);
    assert_eq!(
        node.get("/admin-api/contexts", Some(&new_access))
            .await
            .status,
        200
    );

    // the same refresh token again: reuse, and the family is revoked
    let reuse = node.refresh(&access, &refresh).await;
    assert_eq!(reuse.status, 401);
    assert_eq!(reuse.auth_error(), Some("token_reuse"));
    assert_eq!(
        reuse.json()["error"],
        "Refresh token reuse detected; re-authentication required"
    );
    let revoked = node.get("/admin-api/contexts", Some(&new_access)).await;
    assert_eq!(revoked.status, 403);
    assert_eq!(revoked.auth_error(), Some("token_revoked"));

    // pairs must belong together
    let (a1, _) = node.login().await;
    let (_, r2) = node.login().await;
    node.control("", json!({"advanceClock": 3700})).await;
    assert_eq!(
        node.refresh(&a1, &r2).await.json()["error"],
        "Access and refresh tokens do not belong to the same subject"
    );
    assert!(node.refresh("junk", &r2).await.json()["error"]
        .as_str()
        .unwrap()
        .starts_with("Invalid access token"));
}

#[tokio::test]
async fn scoped_tokens_are_denied_other_routes() {
    let node = Node::auth().await;
    let scoped = node
        .control("/mint", json!({"permissions": ["context:list"]}))
        .await;
    let token = scoped["access_token"].as_str().unwrap();
    assert_eq!(
        node.get("/admin-api/contexts", Some(token)).await.status,
        200
    );
    for path in ["/admin-api/applications", "/admin-api/usage"] {
        let r = node.get(path, Some(token)).await;
        assert_eq!(r.status, 403, "{path}");
        assert_eq!(r.auth_error(), Some("permission_denied"));
    }
    let revoked = node.control("/revoke", json!({})).await;
    assert_eq!(revoked["revoked"], 1);
    assert_eq!(
        node.get("/admin-api/contexts", Some(token))
            .await
            .auth_error(),
        Some("token_revoked")
    );
    let issued = node.get("/_testnode/auth/tokens", None).await.json();
    assert_eq!(issued["tokens"][0], token);
    // a reset forgets every token
    node.post("/_testnode/reset", json!({})).await;
    assert_eq!(
        node.get("/admin-api/contexts", Some(token)).await.status,
        401
    );
    assert_eq!(
        node.get("/_testnode/auth/tokens", None).await.json()["tokens"],
        json!([])
    );
}
