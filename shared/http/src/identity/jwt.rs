//! Compact-JWS plumbing shared by the session and OIDC verifiers. The header is parsed here, by hand, so
//! that the algorithm can be judged (and `none` refused) before any key or library is involved.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::Value;

use super::error::TokenError;

/// The parts of a JOSE header the verifiers act on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Header {
    pub alg: String,
    pub kid: Option<String>,
}

/// The header and payload segments; the signature segment must exist but is left to the library.
fn segments(token: &str) -> Result<(&str, &str), TokenError> {
    let mut it = token.split('.');
    match (it.next(), it.next(), it.next(), it.next()) {
        (Some(h), Some(p), Some(_), None) if !h.is_empty() && !p.is_empty() => Ok((h, p)),
        _ => Err(TokenError::Malformed(
            "expected three dot-separated segments",
        )),
    }
}

fn decode_json(segment: &str, what: &'static str) -> Result<Value, TokenError> {
    let bytes = URL_SAFE_NO_PAD
        .decode(segment)
        .map_err(|_| TokenError::Malformed(what))?;
    match serde_json::from_slice::<Value>(&bytes) {
        Ok(v @ Value::Object(_)) => Ok(v),
        _ => Err(TokenError::Malformed(what)),
    }
}

/// Parses the header without verifying anything. Tokens with `crit` are refused: RFC 7515 requires
/// understanding every listed extension and we understand none.
pub(crate) fn header(token: &str) -> Result<Header, TokenError> {
    let (h, _) = segments(token)?;
    let v = decode_json(h, "header is not base64url JSON")?;
    if v.get("crit").is_some() {
        return Err(TokenError::Malformed(
            "critical header extensions are not supported",
        ));
    }
    let alg = v
        .get("alg")
        .and_then(Value::as_str)
        .ok_or(TokenError::Malformed("header has no alg"))?
        .to_owned();
    let kid = v.get("kid").and_then(Value::as_str).map(str::to_owned);
    Ok(Header { alg, kid })
}

/// The unverified `iss` of a token — only to choose which IdP (or the session verifier) to try. Never trust it.
#[must_use]
pub fn peek_issuer(token: &str) -> Option<String> {
    peek_claim(token, "iss")
}

/// A string claim of the payload, unverified (to choose the verifier, never to trust).
pub(crate) fn peek_claim(token: &str, name: &str) -> Option<String> {
    let (_, p) = segments(token).ok()?;
    let v = decode_json(p, "payload").ok()?;
    v.get(name).and_then(Value::as_str).map(str::to_owned)
}

/// Checks the signature with `key` under exactly `alg` and returns the payload. No claim is checked here:
/// the library would use the system clock, while callers pass `now` explicitly.
pub(crate) fn verify_signature(
    token: &str,
    key: &DecodingKey,
    alg: Algorithm,
) -> Result<Value, TokenError> {
    let mut v = Validation::new(alg);
    v.required_spec_claims.clear();
    v.validate_exp = false;
    v.validate_nbf = false;
    v.validate_aud = false;
    match jsonwebtoken::decode::<Value>(token, key, &v) {
        Ok(data) if data.claims.is_object() => Ok(data.claims),
        Ok(_) => Err(TokenError::Malformed("payload is not a JSON object")),
        Err(e) => Err(map_library_error(e.kind())),
    }
}

fn map_library_error(kind: &jsonwebtoken::errors::ErrorKind) -> TokenError {
    use jsonwebtoken::errors::ErrorKind as K;
    match kind {
        K::InvalidSignature | K::InvalidEcdsaKey | K::InvalidRsaKey(_) | K::InvalidKeyFormat => {
            TokenError::BadSignature
        }
        K::InvalidAlgorithm | K::InvalidAlgorithmName | K::UnsupportedAlgorithm => {
            TokenError::UnsupportedAlgorithm("unrecognised".to_owned())
        }
        K::Base64(_) | K::Json(_) | K::Utf8(_) => TokenError::Malformed("segment does not decode"),
        _ => TokenError::Malformed("token rejected by the JWT library"),
    }
}

/// A NumericDate claim as whole seconds. `Some(Err)` when present but not a number.
fn numeric(claims: &Value, name: &str) -> Option<Result<i64, ()>> {
    let v = claims.get(name)?;
    Some(match v {
        Value::Number(n) => n
            .as_i64()
            // Fractional seconds are allowed by RFC 7519; truncation toward the past is the cautious reading.
            .or_else(|| {
                n.as_f64()
                    .filter(|f| f.is_finite())
                    .map(|f| f.floor() as i64)
            })
            .ok_or(()),
        _ => Err(()),
    })
}

/// `exp` (required), `nbf` and `iat` (checked when present) against `now_s` with `leeway_s` of clock skew.
pub(crate) fn check_times(claims: &Value, now_s: i64, leeway_s: i64) -> Result<(), TokenError> {
    let Some(Ok(exp)) = numeric(claims, "exp") else {
        return Err(TokenError::MissingClaim("exp"));
    };
    if now_s.saturating_sub(leeway_s) >= exp {
        return Err(TokenError::Expired);
    }
    for name in ["nbf", "iat"] {
        match numeric(claims, name) {
            None => {}
            Some(Err(())) => return Err(TokenError::MissingClaim(name)),
            Some(Ok(t)) if t > now_s.saturating_add(leeway_s) => {
                return Err(TokenError::NotYetValid);
            }
            Some(Ok(_)) => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn b64(v: &Value) -> String {
        URL_SAFE_NO_PAD.encode(v.to_string())
    }

    #[test]
    fn header_reads_alg_and_kid_and_refuses_crit() {
        let t = format!(
            "{}.{}.sig",
            b64(&json!({"alg": "RS256", "kid": "k"})),
            b64(&json!({}))
        );
        assert_eq!(
            header(&t).expect("header"),
            Header {
                alg: "RS256".into(),
                kid: Some("k".into())
            }
        );
        let t = format!(
            "{}.{}.sig",
            b64(&json!({"alg": "RS256", "crit": ["b64"]})),
            b64(&json!({}))
        );
        assert!(matches!(header(&t), Err(TokenError::Malformed(_))));
        let t = format!("{}.{}.sig", b64(&json!({"kid": "k"})), b64(&json!({})));
        assert!(matches!(header(&t), Err(TokenError::Malformed(_))));
    }

    #[test]
    fn tokens_without_exactly_three_segments_are_malformed() {
        for t in ["", "a", "a.b", "a.b.c.d", ".b.c", "a..c"] {
            assert!(matches!(header(t), Err(TokenError::Malformed(_))), "{t}");
        }
    }

    #[test]
    fn peek_issuer_reads_iss_without_verifying() {
        let t = format!(
            "{}.{}.",
            b64(&json!({"alg": "none"})),
            b64(&json!({"iss": "https://idp"}))
        );
        assert_eq!(peek_issuer(&t).as_deref(), Some("https://idp"));
        assert_eq!(peek_issuer("garbage"), None);
        let t = format!(
            "{}.{}.",
            b64(&json!({"alg": "none"})),
            b64(&json!({"iss": 5}))
        );
        assert_eq!(peek_issuer(&t), None);
    }

    #[test]
    fn time_checks_apply_leeway_and_require_exp() {
        assert_eq!(check_times(&json!({"exp": 100}), 50, 0), Ok(()));
        assert_eq!(
            check_times(&json!({"exp": 100}), 100, 0),
            Err(TokenError::Expired)
        );
        assert_eq!(check_times(&json!({"exp": 100}), 120, 30), Ok(()));
        assert_eq!(
            check_times(&json!({"exp": 100}), 130, 30),
            Err(TokenError::Expired)
        );
        assert_eq!(
            check_times(&json!({}), 1, 0),
            Err(TokenError::MissingClaim("exp"))
        );
        assert_eq!(
            check_times(&json!({"exp": "100"}), 1, 0),
            Err(TokenError::MissingClaim("exp"))
        );
        assert_eq!(
            check_times(&json!({"exp": 100, "nbf": 80}), 50, 0),
            Err(TokenError::NotYetValid)
        );
        assert_eq!(check_times(&json!({"exp": 100, "nbf": 80}), 50, 30), Ok(()));
        assert_eq!(
            check_times(&json!({"exp": 100, "iat": 90}), 50, 30),
            Err(TokenError::NotYetValid)
        );
        assert_eq!(
            check_times(&json!({"exp": 100.7, "nbf": 10.2}), 99, 0),
            Ok(())
        );
    }
}
