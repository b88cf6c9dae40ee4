//! Webhook signatures, Stripe-style, so a receiver can tell Sluice's POSTs from anyone else's.
//!
//! Every webhook request carries
//!
//! ```text
//! x-sluice-signature: t=1773930600,v1=<64 lowercase hex digits>
//! ```
//!
//! where `t` is the Unix time of sending (seconds) and `v1` the lowercase hex HMAC-SHA256, keyed with the
//! destination's secret (its UTF-8 bytes, as shown, `whsec_` prefix included), of the bytes
//! `"<t>." + <raw request body>`. To verify, a receiver:
//!
//! 1. reads the raw body bytes (before any JSON parsing or re-serialisation);
//! 2. splits the header on `,` into `key=value` pairs, takes `t` and every `v1` (more than one `v1` may
//!    appear while a secret is being rotated);
//! 3. computes the HMAC over `"<t>." + body` and compares it with each `v1` in constant time;
//! 4. rejects the request when `|now - t|` exceeds its tolerance (five minutes is usual), which stops a
//!    captured request from being replayed later.
//!
//! `verify_signature` does exactly this; Sluice's own tests use it as the receiver would.

use std::time::Duration;

use hmac::{Hmac, Mac};
use sha2::Sha256;
use thiserror::Error;

/// The header carrying the signature.
pub const SIGNATURE_HEADER: &str = "x-sluice-signature";

type HmacSha256 = Hmac<Sha256>;

/// Why a signature was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum SignatureError {
    #[error("signature header is malformed: {0}")]
    Malformed(&'static str),
    #[error(
        "signature timestamp is {age_seconds} s away from now, beyond the {tolerance_seconds} s tolerance"
    )]
    Stale {
        age_seconds: u64,
        tolerance_seconds: u64,
    },
    #[error("no v1 signature matches the body")]
    Mismatch,
}

/// A fresh webhook secret: `whsec_` and 32 random bytes in hex.
#[must_use]
pub fn generate_webhook_secret(ids: &dyn crate::clock::Ids) -> String {
    let mut bytes = [0_u8; 32];
    ids.fill(&mut bytes);
    format!("whsec_{}", hex::encode(bytes))
}

fn mac(secret: &str, timestamp: i64, body: &[u8]) -> HmacSha256 {
    let mut mac =
        HmacSha256::new_from_slice(secret.as_bytes()).expect("HMAC accepts keys of any length");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    mac
}

/// Lowercase hex HMAC-SHA256 of `"<timestamp>.<body>"`.
#[must_use]
pub fn sign(secret: &str, timestamp: i64, body: &[u8]) -> String {
    hex::encode(mac(secret, timestamp, body).finalize().into_bytes())
}

/// The full header value, `t=<timestamp>,v1=<hex>`.
#[must_use]
pub fn signature_header(secret: &str, timestamp: i64, body: &[u8]) -> String {
    format!("t={timestamp},v1={}", sign(secret, timestamp, body))
}

/// Checks a header value against the raw body, at Unix time `now` (seconds).
///
/// # Errors
/// `Malformed` when `t` or `v1` is missing or unreadable, `Stale` when `t` is further than `tolerance` from
/// `now` (either direction), `Mismatch` when no `v1` is the HMAC of this body under this secret.
pub fn verify_signature(
    secret: &str,
    header: &str,
    body: &[u8],
    now: i64,
    tolerance: Duration,
) -> Result<(), SignatureError> {
    let mut timestamp = None;
    let mut candidates = Vec::new();
    for part in header.split(',') {
        let Some((key, value)) = part.trim().split_once('=') else {
            return Err(SignatureError::Malformed("a part is not key=value"));
        };
        match key {
            "t" => {
                let t = value
                    .parse::<i64>()
                    .map_err(|_| SignatureError::Malformed("t is not an integer"))?;
                timestamp = Some(t);
            }
            "v1" => candidates.push(value),
            // Unknown schemes are ignored so a later v2 can be sent alongside v1.
            _ => {}
        }
    }
    let timestamp = timestamp.ok_or(SignatureError::Malformed("no t"))?;
    if candidates.is_empty() {
        return Err(SignatureError::Malformed("no v1"));
    }
    let age_seconds = now.abs_diff(timestamp);
    if age_seconds > tolerance.as_secs() {
        return Err(SignatureError::Stale {
            age_seconds,
            tolerance_seconds: tolerance.as_secs(),
        });
    }
    let matches = candidates.iter().any(|candidate| {
        hex::decode(candidate)
            .is_ok_and(|expected| mac(secret, timestamp, body).verify_slice(&expected).is_ok())
    });
    if matches {
        Ok(())
    } else {
        Err(SignatureError::Mismatch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "whsec_test";
    const BODY: &[u8] = br#"{"source":"sluice","event_type":"budget_warning"}"#;
    const T: i64 = 1_773_930_600;
    const FIVE_MINUTES: Duration = Duration::from_secs(300);

    #[test]
    fn a_signed_body_verifies_within_tolerance() {
        let header = signature_header(SECRET, T, BODY);
        assert!(header.starts_with(&format!("t={T},v1=")));
        assert_eq!(
            verify_signature(SECRET, &header, BODY, T + 299, FIVE_MINUTES),
            Ok(())
        );
        assert_eq!(
            verify_signature(SECRET, &header, BODY, T - 10, FIVE_MINUTES),
            Ok(())
        );
    }

    #[test]
    fn signature_matches_an_independent_hmac_computation() {
        // RFC 4231 test case 2: key "Jefe", data "what do ya want for nothing?" — here split as "<t>.<body>".
        let digest = sign("Jefe", 0, b"what do ya want for nothing?");
        let mut reference = HmacSha256::new_from_slice(b"Jefe").expect("key");
        reference.update(b"0.what do ya want for nothing?");
        assert_eq!(digest, hex::encode(reference.finalize().into_bytes()));
        let plain = {
            let mut m = HmacSha256::new_from_slice(b"Jefe").expect("key");
            m.update(b"what do ya want for nothing?");
            hex::encode(m.finalize().into_bytes())
        };
        assert_eq!(
            plain,
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn a_tampered_body_is_rejected() {
        let header = signature_header(SECRET, T, BODY);
        let tampered = br#"{"source":"sluice","event_type":"budget_blocked"}"#;
        assert_eq!(
            verify_signature(SECRET, &header, tampered, T, FIVE_MINUTES),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn a_wrong_secret_is_rejected() {
        let header = signature_header("whsec_other", T, BODY);
        assert_eq!(
            verify_signature(SECRET, &header, BODY, T, FIVE_MINUTES),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn a_stale_or_future_timestamp_is_rejected() {
        let header = signature_header(SECRET, T, BODY);
        assert_eq!(
            verify_signature(SECRET, &header, BODY, T + 301, FIVE_MINUTES),
            Err(SignatureError::Stale {
                age_seconds: 301,
                tolerance_seconds: 300
            })
        );
        assert!(matches!(
            verify_signature(SECRET, &header, BODY, T - 600, FIVE_MINUTES),
            Err(SignatureError::Stale { .. })
        ));
    }

    #[test]
    fn a_replayed_signature_with_a_new_timestamp_is_rejected() {
        let v1 = sign(SECRET, T, BODY);
        let forged = format!("t={},v1={v1}", T + 100);
        assert_eq!(
            verify_signature(SECRET, &forged, BODY, T + 100, FIVE_MINUTES),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn any_matching_v1_is_accepted_during_secret_rotation() {
        let old = sign("whsec_old", T, BODY);
        let new = sign(SECRET, T, BODY);
        let header = format!("t={T},v1={old},v1={new}");
        assert_eq!(
            verify_signature(SECRET, &header, BODY, T, FIVE_MINUTES),
            Ok(())
        );
    }

    #[test]
    fn malformed_headers_are_named() {
        for (header, expected) in [
            ("v1=abcd", SignatureError::Malformed("no t")),
            ("t=12", SignatureError::Malformed("no v1")),
            (
                "t=abc,v1=00",
                SignatureError::Malformed("t is not an integer"),
            ),
            (
                "garbage",
                SignatureError::Malformed("a part is not key=value"),
            ),
        ] {
            assert_eq!(
                verify_signature(SECRET, header, BODY, T, FIVE_MINUTES),
                Err(expected),
                "{header}"
            );
        }
        let not_hex = format!("t={T},v1=zz");
        assert_eq!(
            verify_signature(SECRET, &not_hex, BODY, T, FIVE_MINUTES),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn generated_secrets_are_prefixed_and_distinct() {
        let ids = crate::clock::SequenceIds::new(3);
        let (a, b) = (generate_webhook_secret(&ids), generate_webhook_secret(&ids));
        assert!(a.starts_with("whsec_") && a.len() == 6 + 64, "{a}");
        assert_ne!(a, b);
    }
}
