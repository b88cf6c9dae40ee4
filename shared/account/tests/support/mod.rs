//! A whole local Sluice for router tests: the Bedrock simulator, SQLite in memory, a test identity provider, the
//! gateway and admin routers merged as `sluice serve` merges them.
#![allow(
    dead_code,
    reason = "each test binary uses a different part of the support module"
)]

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode};
use base64::Engine;
use http_body_util::BodyExt;
use serde_json::{Value, json};
use sluice_account::admin_router;
use sluice_bedrock_sim::SimConfig;
use sluice_core::identity::{Role, User};
use sluice_core::keys::mint;
use sluice_core::store::{Store, VirtualKey};
use sluice_http::GatewayConfig;
use sluice_http::app::{AppState, AuthConfig};
use sluice_inference::{GatewayState, gateway_router};
use sluice_sqlite::SqliteStore;
use sluice_testkit::idp::TestIdp;
use sluice_testkit::{LocalServer, SimServer, aws_sdk_config};
use tower::ServiceExt;

pub const AUDIENCE: &str = "sluice-test";
pub const ADMIN_PASSWORD: &str = "s3cret-admin-pass";

pub fn now_s() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs() as i64
}

pub fn b64url(s: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s.as_bytes())
}

/// An HS256 JWT signed with `secret` (used to forge tokens with an RSA public key as the HMAC secret).
pub fn hs256(claims: &Value, secret: &[u8], kid: Option<&str>) -> String {
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
    header.kid = kid.map(str::to_owned);
    jsonwebtoken::encode(
        &header,
        claims,
        &jsonwebtoken::EncodingKey::from_secret(secret),
    )
    .expect("sign")
}

pub fn error_type(body: &str) -> String {
    let v: Value = serde_json::from_str(body).unwrap_or_else(|_| panic!("not JSON: {body}"));
    assert_eq!(v["type"], "error", "{body}");
    v["error"]["type"].as_str().expect("type").to_owned()
}

/// Follows the IdP's authorize redirect without following the redirect back; returns the `Location` it answers.
pub async fn follow_idp(url: &str) -> String {
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let resp = client.get(url).send().await.expect("idp");
    assert!(
        resp.status().is_redirection(),
        "IdP answered {}",
        resp.status()
    );
    resp.headers()["location"]
        .to_str()
        .expect("ascii")
        .to_owned()
}

pub struct Env {
    pub router: axum::Router,
    pub app: Arc<AppState>,
    pub idp: TestIdp,
    pub sim: SimServer,
}

impl Env {
    pub async fn start() -> Self {
        Self::start_with(|_| {}).await
    }

    pub async fn start_with(tweak: impl FnOnce(&mut AuthConfig)) -> Self {
        Self::build(tweak, false, None).await
    }

    /// With `clock` as the services' "now" (token lifetimes and polling intervals without waiting).
    pub async fn start_with_clock(clock: Arc<dyn sluice_core::clock::Clock>) -> Self {
        Self::build(|_| {}, false, Some(clock)).await
    }

    /// With the real web search providers (`sluice_adapters::SearchProviders`).
    pub async fn start_searching() -> Self {
        Self::build(|_| {}, true, None).await
    }

    async fn build(
        tweak: impl FnOnce(&mut AuthConfig),
        search: bool,
        clock: Option<Arc<dyn sluice_core::clock::Clock>>,
    ) -> Self {
        let sim = SimServer::start(SimConfig::default()).await.expect("sim");
        let idp = TestIdp::start().await.expect("idp");
        let store: Arc<dyn Store> = Arc::new(SqliteStore::open_in_memory().expect("sqlite"));
        let issuer = idp.issuer().to_owned();
        let vars = move |k: &str| -> Option<String> {
            match k {
                "ADMIN_PASSWORD" => Some(ADMIN_PASSWORD.into()),
                "ADMIN_USERS" => Some("boss@example.com".into()),
                "OIDC_ISSUER" => Some(issuer.clone()),
                "OIDC_AUDIENCE" => Some(AUDIENCE.into()),
                "OIDC_ALLOWED_DOMAINS" => Some("example.com".into()),
                _ => None,
            }
        };
        let mut auth = AuthConfig::from_lookup(vars, Duration::ZERO);
        tweak(&mut auth);
        let mut app = AppState::build(store, auth).await.expect("app");
        if let Some(clock) = clock {
            app.clock = clock;
        }
        if search {
            app = app.with_web_search(Arc::new(sluice_adapters::SearchProviders::new()));
        }
        let app = Arc::new(app);
        let config = GatewayConfig::from_lookup("us-east-1", |_| None).expect("config");
        let upstream = sluice_aws::BedrockUpstream::from_conf(&aws_sdk_config(sim.url()));
        let gateway = GatewayState::new(app.clone(), Arc::new(upstream), config);
        let router = gateway_router(Arc::new(gateway)).merge(admin_router(app.clone()));
        Self {
            router,
            app,
            idp,
            sim,
        }
    }

    pub async fn user(&self, email: &str, role: Role) -> User {
        let u = sluice_http::auth::new_user(email, role, "admin");
        self.app.store.create_user(&u).await.expect("user");
        u
    }

    /// A new key (secret, id), optionally owned by a user.
    pub async fn key(&self, name: &str, user_id: Option<&str>) -> (String, String) {
        self.key_full(name, user_id, None).await
    }

    pub async fn key_with_rpm(&self, name: &str, rpm: u32) -> (String, String) {
        self.key_full(name, None, Some(rpm)).await
    }

    async fn key_full(
        &self,
        name: &str,
        user_id: Option<&str>,
        rpm: Option<u32>,
    ) -> (String, String) {
        let m = mint(&sluice_adapters::OsIds);
        self.app
            .store
            .create_key(&VirtualKey {
                id: m.id.clone(),
                name: name.into(),
                key_hash: m.key_hash,
                prefix: m.prefix,
                created_at_ms: 1,
                revoked_at_ms: None,
                user_id: user_id.map(str::to_owned),
                team_id: None,
                rate_limit_rpm: rpm,
            })
            .await
            .expect("key");
        (m.secret, m.id)
    }

    pub async fn revoke(&self, secret: &str) {
        let hash = sluice_core::keys::hash_secret(secret);
        let key = self
            .app
            .store
            .key_by_hash(&hash)
            .await
            .expect("store")
            .expect("key");
        self.app.store.revoke_key(&key.id, 2).await.expect("revoke");
    }

    pub async fn send(&self, req: Request<Body>) -> (StatusCode, HeaderMap, String) {
        let resp = self.router.clone().oneshot(req).await.expect("infallible");
        let (parts, body) = resp.into_parts();
        let bytes = body.collect().await.expect("body").to_bytes();
        (
            parts.status,
            parts.headers,
            String::from_utf8_lossy(&bytes).into_owned(),
        )
    }

    fn with_auth(
        builder: axum::http::request::Builder,
        credential: Option<&str>,
    ) -> axum::http::request::Builder {
        match credential {
            Some(c) => builder.header("authorization", format!("Bearer {c}")),
            None => builder,
        }
    }

    /// A small non-streaming `/v1/messages` call (or GET for non-message paths) with the credential as a bearer.
    pub async fn call(&self, path: &str, credential: Option<&str>) -> (StatusCode, String) {
        let (s, _, b) = self.call_full(path, credential).await;
        (s, b)
    }

    pub async fn call_full(
        &self,
        path: &str,
        credential: Option<&str>,
    ) -> (StatusCode, HeaderMap, String) {
        if path.starts_with("/v1/messages") {
            let body = json!({"model": "claude-opus-4-8", "max_tokens": 64, "messages": [{"role": "user", "content": "hi"}]});
            let req = Self::with_auth(Request::post(path), credential)
                .body(Body::from(body.to_string()))
                .expect("req");
            self.send(req).await
        } else {
            self.send(
                Self::with_auth(Request::get(path), credential)
                    .body(Body::empty())
                    .expect("req"),
            )
            .await
        }
    }

    pub async fn get(&self, path: &str, credential: Option<&str>) -> (StatusCode, String) {
        let (s, _, b) = self
            .send(
                Self::with_auth(Request::get(path), credential)
                    .body(Body::empty())
                    .expect("req"),
            )
            .await;
        (s, b)
    }

    /// Any method, an optional JSON body; status, headers and body.
    pub async fn request(
        &self,
        method: axum::http::Method,
        path: &str,
        credential: Option<&str>,
        body: Option<&Value>,
    ) -> (StatusCode, HeaderMap, String) {
        let builder = Self::with_auth(Request::builder().method(method).uri(path), credential);
        let req = match body {
            Some(b) => builder
                .header("content-type", "application/scim+json")
                .body(Body::from(b.to_string())),
            None => builder.body(Body::empty()),
        }
        .expect("req");
        self.send(req).await
    }

    pub async fn raw_get(&self, path: &str) -> (StatusCode, HeaderMap, String) {
        self.send(
            Request::get(path)
                .header("host", "127.0.0.1:8080")
                .body(Body::empty())
                .expect("req"),
        )
        .await
    }

    pub async fn post(
        &self,
        path: &str,
        credential: Option<&str>,
        body: &Value,
    ) -> (StatusCode, String) {
        let req = Self::with_auth(Request::post(path), credential)
            .header("content-type", "application/json")
            .body(Body::from(body.to_string()))
            .expect("req");
        let (s, _, b) = self.send(req).await;
        (s, b)
    }
}

impl Env {
    /// A session token of the break-glass admin, by password login (which also creates its row).
    pub async fn admin_session(&self) -> String {
        let (status, body) = self
            .post(
                "/auth/login",
                None,
                &json!({"username": "admin", "password": ADMIN_PASSWORD}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        serde_json::from_str::<Value>(&body).expect("json")["token"]
            .as_str()
            .expect("token")
            .to_owned()
    }

    /// Serves the merged routers on a real loopback socket (for scripts and clients that need a URL), until the
    /// server is dropped.
    pub async fn serve(&self) -> LocalServer {
        LocalServer::start(self.router.clone()).await
    }
}
