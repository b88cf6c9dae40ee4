//! A test OpenID provider on a loopback port: discovery, JWKS (with a fetch counter), `/authorize` for the
//! implicit flow Sluice's CLI sign-in uses and for the authorization code flow with PKCE (S256) the portal uses,
//! and the `/token` endpoint that redeems a code once. Keys are generated per instance: RSA-2048 `rsa-1` (the default
//! signer) and EC P-256 `ec-1`; `rotate()` adds RSA `rsa-2` and makes it the default.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::Context;
use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair, RSA_PKCS1_SHA256, RsaKeyPair,
};
use axum::extract::{Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde_json::{Value, json};

enum Signer {
    Rsa(RsaKeyPair),
    Ec(EcdsaKeyPair),
}

struct SigningKey {
    kid: String,
    signer: Signer,
}

impl SigningKey {
    fn rsa(kid: &str) -> anyhow::Result<Self> {
        let pair = RsaKeyPair::generate(KeySize::Rsa2048).context("generating an RSA key")?;
        Ok(Self {
            kid: kid.to_owned(),
            signer: Signer::Rsa(pair),
        })
    }

    fn ec(kid: &str) -> anyhow::Result<Self> {
        let pair = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING)
            .context("generating an EC key")?;
        Ok(Self {
            kid: kid.to_owned(),
            signer: Signer::Ec(pair),
        })
    }

    fn jwk(&self) -> Value {
        match &self.signer {
            Signer::Rsa(pair) => {
                let public = pair.public_key();
                json!({
                    "kty": "RSA", "use": "sig", "alg": "RS256", "kid": self.kid,
                    "n": URL_SAFE_NO_PAD.encode(public.modulus().big_endian_without_leading_zero()),
                    "e": URL_SAFE_NO_PAD.encode(public.exponent().big_endian_without_leading_zero()),
                })
            }
            Signer::Ec(pair) => {
                // Uncompressed SEC1 point: 0x04 || x || y.
                let point = pair.public_key().as_ref();
                let (x, y) = point.get(1..).unwrap_or_default().split_at(32);
                json!({
                    "kty": "EC", "use": "sig", "alg": "ES256", "crv": "P-256", "kid": self.kid,
                    "x": URL_SAFE_NO_PAD.encode(x), "y": URL_SAFE_NO_PAD.encode(y),
                })
            }
        }
    }

    fn sign(&self, message: &[u8]) -> Vec<u8> {
        let rng = SystemRandom::new();
        match &self.signer {
            Signer::Rsa(pair) => {
                let mut sig = vec![0; pair.public_modulus_len()];
                pair.sign(&RSA_PKCS1_SHA256, &rng, message, &mut sig)
                    .expect("signing with a freshly generated RSA key");
                sig
            }
            Signer::Ec(pair) => pair
                .sign(&rng, message)
                .expect("signing with a freshly generated EC key")
                .as_ref()
                .to_vec(),
        }
    }
}

struct Inner {
    issuer: String,
    keys: RwLock<Vec<SigningKey>>,
    default_kid: RwLock<String>,
    jwks_fetches: AtomicUsize,
    discovery_fetches: AtomicUsize,
    /// Codes not yet redeemed: what `/token` must be shown, and the ID token it then answers with.
    codes: std::sync::Mutex<HashMap<String, IssuedCode>>,
}

/// An authorization code's binding.
struct IssuedCode {
    client_id: String,
    redirect_uri: String,
    code_challenge: String,
    id_token: String,
}

impl Inner {
    /// Signs `claims` under header `alg`/`kid`. The key is the one with that kid, or the default signer when
    /// no key has it (so tests can forge tokens naming unknown kids); the header alg is written as given.
    fn mint(&self, claims: &Value, alg: &str, kid: &str) -> String {
        let header = json!({"alg": alg, "typ": "JWT", "kid": kid});
        let input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let keys = self
            .keys
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let default = self
            .default_kid
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let key = keys
            .iter()
            .find(|k| k.kid == kid)
            .or_else(|| keys.iter().find(|k| k.kid == *default))
            .expect("the default signer is always in the key list");
        let sig = key.sign(input.as_bytes());
        format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig))
    }

    fn default_kid(&self) -> String {
        self.default_kid
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }
}

/// Seconds since the epoch.
fn now_s() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// A running test IdP; stopped when dropped.
pub struct TestIdp {
    inner: Arc<Inner>,
    task: tokio::task::JoinHandle<()>,
}

impl TestIdp {
    /// Generates the keys and serves on `127.0.0.1:0` inside the current tokio runtime.
    ///
    /// # Errors
    /// When key generation fails or no loopback port can be bound.
    pub async fn start() -> anyhow::Result<Self> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let issuer = format!("http://{}", listener.local_addr()?);
        let keys = vec![SigningKey::rsa("rsa-1")?, SigningKey::ec("ec-1")?];
        let inner = Arc::new(Inner {
            issuer,
            keys: RwLock::new(keys),
            default_kid: RwLock::new("rsa-1".to_owned()),
            jwks_fetches: AtomicUsize::new(0),
            discovery_fetches: AtomicUsize::new(0),
            codes: std::sync::Mutex::new(HashMap::new()),
        });
        let app = Router::new()
            .route("/.well-known/openid-configuration", get(discovery))
            .route("/jwks", get(jwks))
            .route("/authorize", get(authorize))
            .route("/token", axum::routing::post(token))
            .with_state(inner.clone());
        let task = tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, app).await {
                tracing::error!(error = %e, "test IdP stopped");
            }
        });
        Ok(Self { inner, task })
    }

    /// The issuer, which is also the base URL (`http://127.0.0.1:<port>`, no trailing slash).
    #[must_use]
    pub fn issuer(&self) -> &str {
        &self.inner.issuer
    }

    /// The JWKS URL, for IdPs configured with a `jwks_url` override.
    #[must_use]
    pub fn jwks_url(&self) -> String {
        format!("{}/jwks", self.inner.issuer)
    }

    /// A token with exactly `claims`, header `alg` (`RS256`/`ES256`, or anything for attack tests) and `kid`.
    #[must_use]
    #[expect(
        clippy::needless_pass_by_value,
        reason = "tests pass `json!(..)` inline; taking ownership keeps call sites short"
    )]
    pub fn mint(&self, claims: Value, alg: &str, kid: &str) -> String {
        self.inner.mint(&claims, alg, kid)
    }

    /// A valid token from the default signer: `iss`, `aud`, `sub` (`sub-<email>`), `email` with
    /// `email_verified: true` (as providers vouch for the addresses they own), `iat` now, `exp` in an hour.
    #[must_use]
    pub fn mint_default(&self, email: &str, audience: &str) -> String {
        let now = now_s();
        let claims = json!({
            "iss": self.inner.issuer, "aud": audience, "sub": format!("sub-{email}"), "email": email,
            "email_verified": true, "iat": now, "exp": now + 3600,
        });
        let kid = self.inner.default_kid();
        let alg = if kid.starts_with("ec") {
            "ES256"
        } else {
            "RS256"
        };
        self.inner.mint(&claims, alg, &kid)
    }

    /// Publishes a new RSA key `rsa-2` and makes it the default signer (the old keys stay published).
    ///
    /// # Panics
    /// If RSA key generation fails.
    pub fn rotate(&self) {
        let key = SigningKey::rsa("rsa-2").expect("generating the rotated RSA key");
        self.inner
            .keys
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(key);
        *self
            .inner
            .default_kid
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = "rsa-2".to_owned();
    }

    /// The public half of `rsa-1` as an SPKI PEM — what an attacker would use as an HMAC secret.
    #[must_use]
    pub fn rsa_public_pem(&self) -> String {
        let keys = self
            .inner
            .keys
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let der = keys
            .iter()
            .find_map(|k| match (&k.signer, k.kid.as_str()) {
                (Signer::Rsa(pair), "rsa-1") => pair.public_key().as_der().ok(),
                _ => None,
            })
            .expect("rsa-1 exists and its public key encodes");
        let b64 = STANDARD.encode(der.as_ref());
        let mut pem = String::from("-----BEGIN PUBLIC KEY-----\n");
        for line in b64.as_bytes().chunks(64) {
            pem.push_str(&String::from_utf8_lossy(line));
            pem.push('\n');
        }
        pem.push_str("-----END PUBLIC KEY-----\n");
        pem
    }

    /// How many times `/jwks` was served.
    #[must_use]
    pub fn jwks_fetches(&self) -> usize {
        self.inner.jwks_fetches.load(Ordering::SeqCst)
    }

    /// How many times the discovery document was served.
    #[must_use]
    pub fn discovery_fetches(&self) -> usize {
        self.inner.discovery_fetches.load(Ordering::SeqCst)
    }
}

impl Drop for TestIdp {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn discovery(State(idp): State<Arc<Inner>>) -> Json<Value> {
    idp.discovery_fetches.fetch_add(1, Ordering::SeqCst);
    let base = &idp.issuer;
    Json(json!({
        "issuer": base,
        "authorization_endpoint": format!("{base}/authorize"),
        "jwks_uri": format!("{base}/jwks"),
        "token_endpoint": format!("{base}/token"),
        "response_types_supported": ["id_token", "code"],
        "code_challenge_methods_supported": ["S256"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256", "ES256"],
    }))
}

async fn jwks(State(idp): State<Arc<Inner>>) -> Json<Value> {
    idp.jwks_fetches.fetch_add(1, Ordering::SeqCst);
    let keys = idp
        .keys
        .read()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    Json(json!({"keys": keys.iter().map(SigningKey::jwk).collect::<Vec<_>>()}))
}

/// Signs the person named by `login_hint` in without asking. The implicit flow (`response_type=id_token`)
/// redirects with the ID token in the fragment; the code flow (`code`, with an S256 `code_challenge`) with a
/// one-time code in the query.
async fn authorize(
    State(idp): State<Arc<Inner>>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let param = |name: &str| q.get(name).map(String::as_str).unwrap_or_default();
    let code_flow = match param("response_type") {
        "id_token" => false,
        "code"
            if param("code_challenge_method") == "S256" && !param("code_challenge").is_empty() =>
        {
            true
        }
        "code" => return (StatusCode::BAD_REQUEST, "S256 code_challenge required").into_response(),
        _ => return (StatusCode::BAD_REQUEST, "unsupported_response_type").into_response(),
    };
    let (client_id, redirect_uri, email) = (
        param("client_id"),
        param("redirect_uri"),
        param("login_hint"),
    );
    if client_id.is_empty() || redirect_uri.is_empty() || email.is_empty() {
        return (
            StatusCode::BAD_REQUEST,
            "client_id, redirect_uri and login_hint are required",
        )
            .into_response();
    }
    let now = now_s();
    let mut claims = json!({
        "iss": idp.issuer, "aud": client_id, "sub": format!("sub-{email}"), "email": email,
        "email_verified": true, "iat": now, "exp": now + 3600,
    });
    if let Some(nonce) = q.get("nonce") {
        claims["nonce"] = json!(nonce);
    }
    let kid = idp.default_kid();
    let token = idp.mint(&claims, "RS256", &kid);
    let state = percent_encode(param("state"));
    let location = if code_flow {
        let mut bytes = [0_u8; 24];
        aws_lc_rs::rand::fill(&mut bytes).expect("random bytes");
        let code = URL_SAFE_NO_PAD.encode(bytes);
        idp.codes
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(
                code.clone(),
                IssuedCode {
                    client_id: client_id.to_owned(),
                    redirect_uri: redirect_uri.to_owned(),
                    code_challenge: param("code_challenge").to_owned(),
                    id_token: token,
                },
            );
        format!("{redirect_uri}?code={code}&state={state}")
    } else {
        format!("{redirect_uri}#id_token={token}&state={state}")
    };
    (StatusCode::FOUND, [(header::LOCATION, location)]).into_response()
}

/// Redeems a code once: the client, redirect URI and PKCE verifier must match what `/authorize` was given.
async fn token(
    State(idp): State<Arc<Inner>>,
    axum::Form(form): axum::Form<HashMap<String, String>>,
) -> Response {
    let field = |name: &str| form.get(name).map(String::as_str).unwrap_or_default();
    let refused = |why: &str| {
        (
            StatusCode::BAD_REQUEST,
            Json(json!({"error": "invalid_grant", "error_description": why})),
        )
            .into_response()
    };
    if field("grant_type") != "authorization_code" {
        return (
            StatusCode::BAD_REQUEST,
            Json(json!({"error": "unsupported_grant_type"})),
        )
            .into_response();
    }
    let Some(issued) = idp
        .codes
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .remove(field("code"))
    else {
        return refused("unknown or used code");
    };
    let challenge = URL_SAFE_NO_PAD.encode(aws_lc_rs::digest::digest(
        &aws_lc_rs::digest::SHA256,
        field("code_verifier").as_bytes(),
    ));
    if issued.client_id != field("client_id")
        || issued.redirect_uri != field("redirect_uri")
        || issued.code_challenge != challenge
    {
        return refused("client_id, redirect_uri or code_verifier does not match");
    }
    Json(json!({"id_token": issued.id_token, "access_token": "unused", "token_type": "Bearer", "expires_in": 3600}))
        .into_response()
}

/// Percent-encodes everything but RFC 3986 unreserved characters.
fn percent_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}
