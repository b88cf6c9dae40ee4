//! Random identifiers shaped like Bedrock's.

use base64::Engine as _;
use rand::Rng as _;
use rand::distr::Alphanumeric;

fn alphanumeric(len: usize) -> String {
    rand::rng()
        .sample_iter(Alphanumeric)
        .take(len)
        .map(char::from)
        .collect()
}

pub fn message_id() -> String {
    format!("msg_bdrk_{}", alphanumeric(24))
}

pub fn tool_use_id() -> String {
    format!("toolu_bdrk_{}", alphanumeric(24))
}

/// A UUID-shaped `x-amzn-requestid`.
pub fn request_id() -> String {
    let hex: String = (0..32)
        .map(|_| char::from(b"0123456789abcdef"[rand::rng().random_range(0..16)]))
        .collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    )
}

/// An opaque thinking signature; real ones are base64 too, and clients must echo them untouched.
pub fn thinking_signature() -> String {
    let bytes: Vec<u8> = (0..96).map(|_| rand::rng().random::<u8>()).collect();
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_have_bedrock_prefixes_and_differ() {
        assert!(message_id().starts_with("msg_bdrk_"));
        assert!(tool_use_id().starts_with("toolu_bdrk_"));
        assert_ne!(message_id(), message_id());
        assert_eq!(request_id().len(), 36);
    }
}
