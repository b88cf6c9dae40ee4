//! Attack-minded tests of the two token verifiers: Sluice session tokens and OIDC ID tokens against a
//! loopback test IdP.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};
use sluice_core::identity::{IdentityProvider, PersonGroups, Role, User};
use sluice_http::identity::{
    OidcConfig, OidcVerifier, SessionTokens, TokenError, check_nonce, http_client, peek_issuer,
};
use sluice_testkit::idp::TestIdp;

const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";
const AUD: &str = "sluice-client";

fn now() -> i64 {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs();
    i64::try_from(secs).expect("seconds fit i64")
}

fn user() -> User {
    User {
        id: "u-1".into(),
        email: "ada@example.com".into(),
        role: Role::Admin,
        team_id: None,
        active: true,
        idp: "Okta".into(),
        created_at_ms: 0,
        groups: PersonGroups::default(),
    }
}

fn b64(v: &Value) -> String {
    URL_SAFE_NO_PAD.encode(v.to_string())
}

/// A token with `alg: none` and an empty signature, as an attacker would write it.
fn unsigned(header: &Value, claims: &Value) -> String {
    format!("{}.{}.", b64(header), b64(claims))
}

fn hs256(claims: &Value, secret: &[u8], kid: Option<&str>) -> String {
    let mut header = Header::new(Algorithm::HS256);
    header.kid = kid.map(str::to_owned);
    jsonwebtoken::encode(&header, claims, &EncodingKey::from_secret(secret)).expect("encode")
}

fn sessions() -> SessionTokens {
    SessionTokens::new(SECRET, Duration::from_secs(3600))
}

fn session_claims(t: i64) -> Value {
    json!({"sub": "u-1", "email": "ada@example.com", "role": "admin", "idp": "Okta", "iss": "sluice",
           "iat": t, "exp": t + 3600, "typ": "session"})
}

// ---------------------------------------------------------------------------------------------------------
// Session tokens

#[test]
fn session_token_round_trips_its_claims() {
    let t = 1_700_000_000;
    let token = sessions().issue(&user(), t);
    let claims = sessions().verify(&token, t + 10).expect("valid");
    assert_eq!(claims.sub, "u-1");
    assert_eq!(claims.email, "ada@example.com");
    assert_eq!(claims.role, "admin");
    assert_eq!(claims.idp, "Okta");
    assert_eq!(claims.iss, "sluice");
    assert_eq!(claims.typ, "session");
    assert_eq!((claims.iat, claims.exp), (t, t + 3600));
    assert_eq!(peek_issuer(&token).as_deref(), Some("sluice"));
}

#[test]
fn expired_session_token_is_rejected_after_a_small_leeway() {
    let t = 1_700_000_000;
    let token = sessions().issue(&user(), t);
    assert!(
        sessions().verify(&token, t + 3600 + 20).is_ok(),
        "inside leeway"
    );
    assert_eq!(
        sessions().verify(&token, t + 3600 + 31),
        Err(TokenError::Expired)
    );
}

#[test]
fn session_token_signed_with_another_secret_is_rejected() {
    let t = 1_700_000_000;
    let other = SessionTokens::new(
        b"another-secret-another-secret-xx",
        Duration::from_secs(3600),
    );
    let token = other.issue(&user(), t);
    assert_eq!(sessions().verify(&token, t), Err(TokenError::BadSignature));
}

#[test]
fn session_token_with_alg_none_is_rejected() {
    let t = 1_700_000_000;
    let token = unsigned(&json!({"alg": "none", "typ": "JWT"}), &session_claims(t));
    assert_eq!(
        sessions().verify(&token, t),
        Err(TokenError::UnsupportedAlgorithm("none".into()))
    );
    // Other HMAC strengths are refused too: the algorithm is pinned, not a family.
    let mut header = Header::new(Algorithm::HS512);
    header.typ = Some("JWT".into());
    let token = jsonwebtoken::encode(
        &header,
        &session_claims(t),
        &EncodingKey::from_secret(SECRET),
    )
    .expect("encode");
    assert_eq!(
        sessions().verify(&token, t),
        Err(TokenError::UnsupportedAlgorithm("HS512".into()))
    );
}

#[test]
fn session_token_with_another_issuer_is_rejected_even_when_correctly_signed() {
    let t = 1_700_000_000;
    let mut claims = session_claims(t);
    claims["iss"] = json!("ccag");
    assert_eq!(
        sessions().verify(&hs256(&claims, SECRET, None), t),
        Err(TokenError::WrongIssuer)
    );
}

#[test]
fn session_token_with_another_typ_is_rejected() {
    let t = 1_700_000_000;
    let mut claims = session_claims(t);
    claims["typ"] = json!("refresh");
    assert_eq!(
        sessions().verify(&hs256(&claims, SECRET, None), t),
        Err(TokenError::WrongType)
    );
    let mut claims = session_claims(t);
    claims.as_object_mut().map(|o| o.remove("typ"));
    assert_eq!(
        sessions().verify(&hs256(&claims, SECRET, None), t),
        Err(TokenError::WrongType)
    );
}

#[test]
fn tampered_session_payload_fails_the_signature() {
    let t = 1_700_000_000;
    let token = sessions().issue(&user(), t);
    let parts: Vec<&str> = token.split('.').collect();
    let mut claims = session_claims(t);
    claims["role"] = json!("admin");
    claims["sub"] = json!("u-2");
    let forged = format!("{}.{}.{}", parts[0], b64(&claims), parts[2]);
    assert_eq!(sessions().verify(&forged, t), Err(TokenError::BadSignature));
}

#[test]
fn session_token_without_exp_is_rejected() {
    let t = 1_700_000_000;
    let mut claims = session_claims(t);
    claims.as_object_mut().map(|o| o.remove("exp"));
    assert_eq!(
        sessions().verify(&hs256(&claims, SECRET, None), t),
        Err(TokenError::MissingClaim("exp"))
    );
}

#[test]
fn session_token_missing_a_claim_names_it() {
    let t = 1_700_000_000;
    for name in ["sub", "email", "role", "idp", "iat"] {
        let mut claims = session_claims(t);
        claims.as_object_mut().map(|o| o.remove(name));
        assert_eq!(
            sessions().verify(&hs256(&claims, SECRET, None), t),
            Err(TokenError::MissingClaim(name)),
            "{name}"
        );
    }
}

#[test]
fn garbage_is_malformed_not_a_panic() {
    for token in [
        "",
        "abc",
        "a.b",
        "a.b.c",
        "....",
        "eyJhbGciOiJIUzI1NiJ9.%%%.x",
    ] {
        assert!(
            matches!(sessions().verify(token, 0), Err(TokenError::Malformed(_))),
            "{token:?}"
        );
    }
}

// ---------------------------------------------------------------------------------------------------------
// OIDC ID tokens

fn provider(idp: &TestIdp) -> IdentityProvider {
    IdentityProvider {
        id: "idp-1".into(),
        name: "Test".into(),
        issuer: idp.issuer().to_owned(),
        audience: AUD.into(),
        jwks_url: None,
        user_claim: "auto".into(),
        emails_verified: false,
        allowed_domains: vec![],
        auto_provision: true,
        default_role: Role::Member,
        enabled: true,
        scopes: None,
        created_at_ms: 0,
        groups_claim: None,
    }
}

fn verifier() -> OidcVerifier {
    OidcVerifier::new(http_client().expect("http client"))
}

fn id_claims(idp: &TestIdp) -> Value {
    let t = now();
    json!({"iss": idp.issuer(), "aud": AUD, "sub": "s-1", "email": "ada@example.com", "iat": t, "exp": t + 600})
}

async fn start() -> (TestIdp, OidcVerifier) {
    (TestIdp::start().await.expect("test IdP"), verifier())
}

#[tokio::test]
async fn valid_rs256_id_token_verifies() {
    let (idp, v) = start().await;
    let token = idp.mint_default("ada@example.com", AUD);
    assert_eq!(peek_issuer(&token).as_deref(), Some(idp.issuer()));
    let claims = v
        .verify(&token, &provider(&idp), now())
        .await
        .expect("valid");
    assert_eq!(claims["email"], "ada@example.com");
    assert_eq!(claims["aud"], AUD);
}

#[tokio::test]
async fn valid_es256_id_token_verifies() {
    let (idp, v) = start().await;
    let token = idp.mint(id_claims(&idp), "ES256", "ec-1");
    let claims = v
        .verify(&token, &provider(&idp), now())
        .await
        .expect("valid");
    assert_eq!(claims["sub"], "s-1");
}

#[tokio::test]
async fn id_token_with_alg_none_is_rejected_before_any_fetch() {
    let (idp, v) = start().await;
    let token = unsigned(&json!({"alg": "none", "kid": "rsa-1"}), &id_claims(&idp));
    assert_eq!(
        v.verify(&token, &provider(&idp), now()).await,
        Err(TokenError::UnsupportedAlgorithm("none".into()))
    );
    assert_eq!(idp.jwks_fetches(), 0);
}

#[tokio::test]
async fn hs256_token_keyed_with_the_rsa_public_key_is_rejected() {
    let (idp, v) = start().await;
    let pem = idp.rsa_public_pem();
    assert!(pem.starts_with("-----BEGIN PUBLIC KEY-----"), "{pem}");
    let token = hs256(&id_claims(&idp), pem.as_bytes(), Some("rsa-1"));
    assert_eq!(
        v.verify(&token, &provider(&idp), now()).await,
        Err(TokenError::UnsupportedAlgorithm("HS256".into()))
    );
    assert_eq!(
        idp.jwks_fetches(),
        0,
        "rejected before any key was looked up"
    );
}

#[tokio::test]
async fn header_alg_that_differs_from_the_keys_pinned_alg_is_rejected() {
    let (idp, v) = start().await;
    // Signed by the EC key but claiming RS256: the key decides, not the header.
    let token = idp.mint(id_claims(&idp), "RS256", "ec-1");
    assert_eq!(
        v.verify(&token, &provider(&idp), now()).await,
        Err(TokenError::AlgorithmMismatch {
            header: "RS256".into(),
            key: "ES256"
        })
    );
    let token = idp.mint(id_claims(&idp), "ES256", "rsa-1");
    assert_eq!(
        v.verify(&token, &provider(&idp), now()).await,
        Err(TokenError::AlgorithmMismatch {
            header: "ES256".into(),
            key: "RS256"
        })
    );
}

#[tokio::test]
async fn other_asymmetric_algorithms_are_not_accepted() {
    let (idp, v) = start().await;
    for alg in ["RS384", "RS512", "PS256", "ES384", "EdDSA"] {
        let token = idp.mint(id_claims(&idp), alg, "rsa-1");
        assert_eq!(
            v.verify(&token, &provider(&idp), now()).await,
            Err(TokenError::UnsupportedAlgorithm(alg.into()))
        );
    }
}

#[tokio::test]
async fn id_token_for_another_audience_is_rejected() {
    let (idp, v) = start().await;
    let token = idp.mint_default("ada@example.com", "some-other-app");
    assert_eq!(
        v.verify(&token, &provider(&idp), now()).await,
        Err(TokenError::WrongAudience)
    );
}

#[tokio::test]
async fn id_token_with_a_listed_audience_verifies() {
    let (idp, v) = start().await;
    let mut claims = id_claims(&idp);
    claims["aud"] = json!(["other", AUD]);
    let token = idp.mint(claims, "RS256", "rsa-1");
    assert!(v.verify(&token, &provider(&idp), now()).await.is_ok());
}

#[tokio::test]
async fn id_token_from_another_issuer_is_rejected() {
    let (idp, v) = start().await;
    let mut claims = id_claims(&idp);
    claims["iss"] = json!("https://evil.example");
    let token = idp.mint(claims, "RS256", "rsa-1");
    assert_eq!(
        v.verify(&token, &provider(&idp), now()).await,
        Err(TokenError::WrongIssuer)
    );
}

#[tokio::test]
async fn expired_id_token_is_rejected() {
    let (idp, v) = start().await;
    let t = now();
    let mut claims = id_claims(&idp);
    claims["iat"] = json!(t - 7200);
    claims["exp"] = json!(t - 3600);
    let token = idp.mint(claims, "RS256", "rsa-1");
    assert_eq!(
        v.verify(&token, &provider(&idp), t).await,
        Err(TokenError::Expired)
    );
}

#[tokio::test]
async fn id_token_with_nbf_in_the_future_is_rejected() {
    let (idp, v) = start().await;
    let mut claims = id_claims(&idp);
    claims["nbf"] = json!(now() + 300);
    let token = idp.mint(claims, "RS256", "rsa-1");
    assert_eq!(
        v.verify(&token, &provider(&idp), now()).await,
        Err(TokenError::NotYetValid)
    );
}

#[tokio::test]
async fn id_token_without_exp_is_rejected() {
    let (idp, v) = start().await;
    let mut claims = id_claims(&idp);
    claims.as_object_mut().map(|o| o.remove("exp"));
    let token = idp.mint(claims, "RS256", "rsa-1");
    assert_eq!(
        v.verify(&token, &provider(&idp), now()).await,
        Err(TokenError::MissingClaim("exp"))
    );
}

#[tokio::test]
async fn tampered_id_token_fails_the_signature() {
    let (idp, v) = start().await;
    let token = idp.mint_default("ada@example.com", AUD);
    let parts: Vec<&str> = token.split('.').collect();
    let mut claims = id_claims(&idp);
    claims["email"] = json!("admin@example.com");
    let forged = format!("{}.{}.{}", parts[0], b64(&claims), parts[2]);
    assert_eq!(
        v.verify(&forged, &provider(&idp), now()).await,
        Err(TokenError::BadSignature)
    );
}

#[tokio::test]
async fn unknown_kid_refetches_once_then_not_again_within_the_interval() {
    let (idp, v) = start().await;
    let p = provider(&idp);
    v.verify(&idp.mint_default("a@example.com", AUD), &p, now())
        .await
        .expect("warm the cache");
    assert_eq!(idp.jwks_fetches(), 1);

    let forged = idp.mint(id_claims(&idp), "RS256", "attacker-kid");
    assert_eq!(
        v.verify(&forged, &p, now()).await,
        Err(TokenError::UnknownKey(Some("attacker-kid".into())))
    );
    assert_eq!(idp.jwks_fetches(), 2, "one refetch for the unknown kid");

    for _ in 0..5 {
        assert_eq!(
            v.verify(&forged, &p, now()).await,
            Err(TokenError::UnknownKey(Some("attacker-kid".into())))
        );
    }
    assert_eq!(idp.jwks_fetches(), 2, "no further refetch within 30 s");
}

#[tokio::test]
async fn unknown_kid_may_refetch_again_once_the_interval_has_passed() {
    let idp = TestIdp::start().await.expect("test IdP");
    let config = OidcConfig {
        min_refetch_interval: Duration::from_millis(200),
        ..OidcConfig::default()
    };
    let v = OidcVerifier::with_config(http_client().expect("client"), config);
    let p = provider(&idp);
    v.verify(&idp.mint_default("a@example.com", AUD), &p, now())
        .await
        .expect("valid");
    let forged = idp.mint(id_claims(&idp), "RS256", "nope");
    assert!(v.verify(&forged, &p, now()).await.is_err());
    assert!(v.verify(&forged, &p, now()).await.is_err());
    assert_eq!(idp.jwks_fetches(), 2);
    tokio::time::sleep(Duration::from_millis(250)).await;
    assert!(v.verify(&forged, &p, now()).await.is_err());
    assert_eq!(idp.jwks_fetches(), 3);
}

#[tokio::test]
async fn rotated_key_is_picked_up_through_the_refetch() {
    let (idp, v) = start().await;
    let p = provider(&idp);
    v.verify(&idp.mint_default("a@example.com", AUD), &p, now())
        .await
        .expect("rsa-1 token");
    idp.rotate();
    let token = idp.mint_default("a@example.com", AUD);
    let header: Value = serde_json::from_slice(
        &URL_SAFE_NO_PAD
            .decode(token.split('.').next().expect("header"))
            .expect("b64"),
    )
    .expect("json");
    assert_eq!(header["kid"], "rsa-2");
    let claims = v
        .verify(&token, &p, now())
        .await
        .expect("rsa-2 token after rotation");
    assert_eq!(claims["email"], "a@example.com");
    assert_eq!(idp.jwks_fetches(), 2);
    // Tokens signed before the rotation still verify from the refreshed set.
    let old = idp.mint(id_claims(&idp), "RS256", "rsa-1");
    assert!(v.verify(&old, &p, now()).await.is_ok());
    assert_eq!(idp.jwks_fetches(), 2);
}

#[tokio::test]
async fn jwks_and_discovery_are_cached_across_verifications() {
    let (idp, v) = start().await;
    let p = provider(&idp);
    for i in 0..25 {
        let token = if i % 2 == 0 {
            idp.mint_default(&format!("u{i}@example.com"), AUD)
        } else {
            idp.mint(id_claims(&idp), "ES256", "ec-1")
        };
        v.verify(&token, &p, now()).await.expect("valid");
    }
    assert_eq!(idp.jwks_fetches(), 1);
    assert_eq!(idp.discovery_fetches(), 1);
}

#[tokio::test]
async fn concurrent_cold_verifications_fetch_the_jwks_once() {
    let (idp, v) = start().await;
    let p = provider(&idp);
    let tokens: Vec<String> = (0..8)
        .map(|i| idp.mint_default(&format!("u{i}@example.com"), AUD))
        .collect();
    let results = futures::future::join_all(tokens.iter().map(|t| v.verify(t, &p, now()))).await;
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    assert_eq!(idp.jwks_fetches(), 1);
}

#[tokio::test]
async fn unreachable_discovery_is_an_unavailable_error_not_a_panic() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr").port()
    };
    let idp = TestIdp::start().await.expect("test IdP");
    let mut p = provider(&idp);
    p.issuer = format!("http://127.0.0.1:{port}");
    let mut claims = id_claims(&idp);
    claims["iss"] = json!(p.issuer);
    let token = idp.mint(claims, "RS256", "rsa-1");
    let err = verifier()
        .verify(&token, &p, now())
        .await
        .expect_err("no IdP there");
    assert!(matches!(err, TokenError::Discovery(_)), "{err:?}");
    assert!(err.is_unavailable());
    assert!(
        !err.to_string().contains(&token),
        "errors never carry the token"
    );
}

#[tokio::test]
async fn jwks_url_override_is_used_instead_of_discovery() {
    let (idp, v) = start().await;
    let mut p = provider(&idp);
    p.jwks_url = Some(idp.jwks_url());
    v.verify(&idp.mint_default("a@example.com", AUD), &p, now())
        .await
        .expect("valid");
    assert_eq!(idp.discovery_fetches(), 0);
    assert_eq!(idp.jwks_fetches(), 1);
}

#[tokio::test]
async fn plain_http_idp_outside_loopback_is_refused() {
    let (idp, v) = start().await;
    let mut p = provider(&idp);
    p.issuer = "http://idp.example.com".into();
    let mut claims = id_claims(&idp);
    claims["iss"] = json!(p.issuer);
    let token = idp.mint(claims, "RS256", "rsa-1");
    assert!(matches!(
        v.verify(&token, &p, now()).await,
        Err(TokenError::InsecureUrl(_))
    ));
    let mut p = provider(&idp);
    p.jwks_url = Some("http://keys.example.com/jwks".into());
    let token = idp.mint_default("a@example.com", AUD);
    assert!(matches!(
        v.verify(&token, &p, now()).await,
        Err(TokenError::InsecureUrl(_))
    ));
}

#[tokio::test]
async fn session_token_is_not_accepted_as_an_id_token() {
    let (idp, v) = start().await;
    let token = sessions().issue(&user(), now());
    assert_eq!(
        v.verify(&token, &provider(&idp), now()).await,
        Err(TokenError::UnsupportedAlgorithm("HS256".into()))
    );
}

#[tokio::test]
async fn discovery_names_the_authorization_endpoint_and_is_cached() {
    let (idp, v) = start().await;
    let d = v.discovery(idp.issuer()).await.expect("discovery");
    assert_eq!(d.issuer, idp.issuer());
    assert_eq!(
        d.authorization_endpoint,
        format!("{}/authorize", idp.issuer())
    );
    assert_eq!(d.jwks_uri, idp.jwks_url());
    v.discovery(idp.issuer()).await.expect("cached");
    assert_eq!(idp.discovery_fetches(), 1);
}

#[tokio::test]
async fn implicit_flow_redirect_carries_a_verifiable_token_with_the_nonce() {
    let (idp, v) = start().await;
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let resp = http
        .get(format!(
            "{}/authorize?response_type=id_token&client_id={AUD}&redirect_uri={}&state=st%201\
             &nonce=n-42&login_hint=grace%40example.com",
            idp.issuer(),
            "http%3A%2F%2F127.0.0.1%3A9%2Fcallback",
        ))
        .send()
        .await
        .expect("authorize");
    assert_eq!(resp.status(), reqwest::StatusCode::FOUND);
    let location = resp.headers()[reqwest::header::LOCATION]
        .to_str()
        .expect("ascii")
        .to_owned();
    let fragment = location
        .strip_prefix("http://127.0.0.1:9/callback#")
        .expect("redirects to the callback with a fragment");
    let mut token = None;
    let mut state = None;
    for pair in fragment.split('&') {
        match pair.split_once('=') {
            Some(("id_token", t)) => token = Some(t.to_owned()),
            Some(("state", s)) => state = Some(s.to_owned()),
            _ => {}
        }
    }
    assert_eq!(state.as_deref(), Some("st%201"));
    let claims = v
        .verify(&token.expect("id_token"), &provider(&idp), now())
        .await
        .expect("valid");
    assert_eq!(claims["email"], "grace@example.com");
    assert_eq!(check_nonce(&claims, "n-42"), Ok(()));
    assert_eq!(check_nonce(&claims, "n-43"), Err(TokenError::NonceMismatch));
}
