//! A JWKS as verification keys. Each key is pinned to one algorithm by its type — RSA → RS256, EC P-256 →
//! ES256 — so the token header can never choose how its own signature is checked.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, DecodingKey};
use serde_json::Value;

use super::error::TokenError;

/// RSA moduli below this many bytes (2048 bits) are refused.
const MIN_RSA_MODULUS: usize = 256;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum KeyAlg {
    Rs256,
    Es256,
}

impl KeyAlg {
    /// The only header values an ID token may carry.
    pub(crate) fn from_header(alg: &str) -> Option<Self> {
        match alg {
            "RS256" => Some(Self::Rs256),
            "ES256" => Some(Self::Es256),
            _ => None,
        }
    }

    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::Rs256 => "RS256",
            Self::Es256 => "ES256",
        }
    }

    pub(crate) fn jwt(self) -> Algorithm {
        match self {
            Self::Rs256 => Algorithm::RS256,
            Self::Es256 => Algorithm::ES256,
        }
    }
}

#[derive(Clone)]
pub(crate) struct VerifyKey {
    pub kid: Option<String>,
    pub alg: KeyAlg,
    pub key: DecodingKey,
}

impl std::fmt::Debug for VerifyKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VerifyKey")
            .field("kid", &self.kid)
            .field("alg", &self.alg)
            .finish_non_exhaustive()
    }
}

/// The usable signing keys of a JWKS document. Keys of other types, for encryption, or declaring another
/// algorithm are skipped (an IdP may publish several kinds); a set with none usable is an error.
pub(crate) fn parse_jwks(doc: &Value) -> Result<Vec<VerifyKey>, TokenError> {
    let keys = doc
        .get("keys")
        .and_then(Value::as_array)
        .ok_or_else(|| TokenError::Jwks("document has no keys array".to_owned()))?;
    let usable: Vec<VerifyKey> = keys
        .iter()
        .filter_map(|jwk| {
            let parsed = parse_jwk(jwk);
            if let Err(why) = &parsed {
                tracing::debug!(kid = ?jwk.get("kid"), why, "JWK skipped");
            }
            parsed.ok()
        })
        .collect();
    if usable.is_empty() {
        return Err(TokenError::Jwks(
            "no usable RS256 or ES256 signing key".to_owned(),
        ));
    }
    Ok(usable)
}

fn parse_jwk(jwk: &Value) -> Result<VerifyKey, &'static str> {
    let s = |name: &str| jwk.get(name).and_then(Value::as_str);
    if s("use").is_some_and(|u| u != "sig") {
        return Err("not a signing key");
    }
    let (alg, key) = match s("kty") {
        Some("RSA") => {
            let (n, e) = s("n").zip(s("e")).ok_or("RSA key without n/e")?;
            let modulus = URL_SAFE_NO_PAD
                .decode(n)
                .map_err(|_| "n is not base64url")?;
            let significant = modulus.iter().skip_while(|b| **b == 0).count();
            if significant < MIN_RSA_MODULUS {
                return Err("RSA key shorter than 2048 bits");
            }
            let key = DecodingKey::from_rsa_components(n, e).map_err(|_| "bad RSA components")?;
            (KeyAlg::Rs256, key)
        }
        Some("EC") => {
            if s("crv") != Some("P-256") {
                return Err("EC key not on P-256");
            }
            let (x, y) = s("x").zip(s("y")).ok_or("EC key without x/y")?;
            let key = DecodingKey::from_ec_components(x, y).map_err(|_| "bad EC components")?;
            (KeyAlg::Es256, key)
        }
        _ => return Err("unsupported key type"),
    };
    if s("alg").is_some_and(|a| a != alg.name()) {
        return Err("key declares an algorithm other than the one its type pins");
    }
    Ok(VerifyKey {
        kid: s("kid").map(str::to_owned),
        alg,
        key,
    })
}

/// The key a token names: by `kid` when it has one; without, the single key pinned to the header's algorithm
/// (more than one would be a guess).
pub(crate) fn find<'a>(
    keys: &'a [VerifyKey],
    kid: Option<&str>,
    alg: KeyAlg,
) -> Option<&'a VerifyKey> {
    match kid {
        Some(kid) => keys.iter().find(|k| k.kid.as_deref() == Some(kid)),
        None => {
            let mut same_alg = keys.iter().filter(|k| k.alg == alg);
            match (same_alg.next(), same_alg.next()) {
                (Some(only), None) => Some(only),
                _ => None,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn rsa_jwk(kid: &str) -> Value {
        let n = URL_SAFE_NO_PAD.encode([0xC3_u8; 256]);
        json!({"kty": "RSA", "kid": kid, "n": n, "e": "AQAB"})
    }

    fn ec_jwk(kid: &str) -> Value {
        // Any 32-byte coordinates parse; whether they are on the curve is the verifier's concern.
        let c = URL_SAFE_NO_PAD.encode([7_u8; 32]);
        json!({"kty": "EC", "crv": "P-256", "kid": kid, "x": c, "y": c})
    }

    #[test]
    fn key_type_pins_the_algorithm_and_unusable_keys_are_skipped() {
        let mut enc = rsa_jwk("enc");
        enc["use"] = json!("enc");
        let mut rs384 = rsa_jwk("rs384");
        rs384["alg"] = json!("RS384");
        let mut p384 = ec_jwk("p384");
        p384["crv"] = json!("P-384");
        let short = json!({"kty": "RSA", "kid": "short", "n": URL_SAFE_NO_PAD.encode([0xC3_u8; 128]), "e": "AQAB"});
        let oct = json!({"kty": "oct", "kid": "hmac", "k": "c2VjcmV0"});
        let doc = json!({"keys": [rsa_jwk("r"), ec_jwk("e"), enc, rs384, p384, short, oct]});
        let keys = parse_jwks(&doc).expect("keys");
        let got: Vec<_> = keys.iter().map(|k| (k.kid.as_deref(), k.alg)).collect();
        assert_eq!(
            got,
            vec![(Some("r"), KeyAlg::Rs256), (Some("e"), KeyAlg::Es256)]
        );
    }

    #[test]
    fn a_set_without_usable_keys_is_an_error() {
        assert!(matches!(
            parse_jwks(&json!({"keys": []})),
            Err(TokenError::Jwks(_))
        ));
        assert!(matches!(
            parse_jwks(&json!({"nokeys": 1})),
            Err(TokenError::Jwks(_))
        ));
    }

    #[test]
    fn keys_are_found_by_kid_or_by_being_the_only_one_of_the_algorithm() {
        let keys = parse_jwks(&json!({"keys": [rsa_jwk("r1"), ec_jwk("e1")]})).expect("keys");
        assert_eq!(
            find(&keys, Some("e1"), KeyAlg::Rs256).and_then(|k| k.kid.as_deref()),
            Some("e1")
        );
        assert!(find(&keys, Some("zz"), KeyAlg::Rs256).is_none());
        assert_eq!(
            find(&keys, None, KeyAlg::Es256).and_then(|k| k.kid.as_deref()),
            Some("e1")
        );
        let two = parse_jwks(&json!({"keys": [rsa_jwk("r1"), rsa_jwk("r2")]})).expect("keys");
        assert!(find(&two, None, KeyAlg::Rs256).is_none());
    }

    #[test]
    fn only_rs256_and_es256_headers_are_recognised() {
        assert_eq!(KeyAlg::from_header("RS256"), Some(KeyAlg::Rs256));
        assert_eq!(KeyAlg::from_header("ES256"), Some(KeyAlg::Es256));
        for other in [
            "none", "None", "HS256", "RS384", "PS256", "ES384", "EdDSA", "",
        ] {
            assert_eq!(KeyAlg::from_header(other), None, "{other}");
        }
    }
}
