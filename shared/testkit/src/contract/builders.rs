//! Domain values with unique ids, emails, names and issuers, for the identity, counter and usage cases
//! (kept here, next to the cases that use them). Unique per call, so cases can share one store.

use serde_json::json;
use sluice_core::identity::{CliSession, IdentityProvider, PersonGroups, Role, Team, User};
use sluice_core::spend::{Outcome, UsageRecord};
use uuid::Uuid;

use crate::fixtures::now_ms;

fn unique() -> String {
    Uuid::new_v4().simple().to_string()
}

/// An active member without a team or groups, created now.
#[must_use]
pub fn new_user(label: &str) -> User {
    let id = unique();
    User {
        email: format!("{label}-{id}@example.com"),
        id: format!("user_{id}"),
        role: Role::Member,
        team_id: None,
        active: true,
        idp: "local".to_owned(),
        created_at_ms: now_ms(),
        groups: PersonGroups::default(),
    }
}

#[must_use]
pub fn new_team(label: &str) -> Team {
    let id = unique();
    Team {
        name: format!("{label} {id}"),
        id: format!("team_{id}"),
        created_at_ms: now_ms(),
    }
}

/// An enabled provider with every optional field set, so round trips cover them.
#[must_use]
pub fn new_idp(label: &str) -> IdentityProvider {
    let id = unique();
    IdentityProvider {
        name: format!("{label} {id}"),
        issuer: format!("https://{id}.idp.example.com/"),
        audience: format!("client-{id}"),
        jwks_url: Some(format!("https://{id}.idp.example.com/keys")),
        user_claim: "auto".to_owned(),
        emails_verified: true,
        allowed_domains: vec!["example.com".to_owned(), "ünïcode.example".to_owned()],
        auto_provision: true,
        default_role: Role::Member,
        enabled: true,
        scopes: Some("openid email".to_owned()),
        groups_claim: Some("groups".to_owned()),
        id: format!("idp_{id}"),
        created_at_ms: now_ms(),
    }
}

/// A pending sign-in (no token yet).
#[must_use]
pub fn new_cli_session() -> CliSession {
    CliSession {
        id: Uuid::new_v4().to_string(),
        nonce: unique(),
        created_at_ms: now_ms(),
        code_challenge: "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM".to_owned(),
        redirect_port: 49_152,
        token: None,
        code_hash: None,
    }
}

/// A counter scope no other case uses.
#[must_use]
pub fn new_scope(label: &str) -> String {
    format!("{label}:{}", unique())
}

/// A minimal record with a fresh request id at `time_ms`: every optional field `None`, no tools, unpriced.
#[must_use]
pub fn new_usage(time_ms: i64) -> UsageRecord {
    UsageRecord {
        request_id: format!("req_{}", unique()),
        time_ms,
        key_id: format!("key_{}", unique()),
        user_id: None,
        team_id: None,
        requested_model: "claude-sonnet-4-5-20250929".to_owned(),
        bedrock_model_id: "us.anthropic.claude-sonnet-4-5-20250929-v1:0".to_owned(),
        stream: false,
        input_tokens: 0,
        output_tokens: 0,
        cache_read_tokens: 0,
        cache_write_tokens: 0,
        cache_write_5m_tokens: None,
        cache_write_1h_tokens: None,
        stop_reason: None,
        duration_ms: 0,
        ttfb_ms: None,
        invocation_metrics: None,
        tool_names: Vec::new(),
        thinking: false,
        session_id: None,
        endpoint: None,
        region: None,
        outcome: Outcome::ErrorBeforeStream,
        cost_micros: None,
        policy_refusal: None,
    }
}

/// A record with every optional field set, metrics of every JSON shape, and counts past 2^53 (where a
/// store going through floating point would lose digits).
#[must_use]
pub fn new_full_usage(time_ms: i64) -> UsageRecord {
    UsageRecord {
        user_id: Some(format!("user_{}", unique())),
        team_id: Some(format!("team_{}", unique())),
        stream: true,
        input_tokens: 9_007_199_254_740_993,
        output_tokens: 512,
        cache_read_tokens: 2_048,
        cache_write_tokens: 300,
        cache_write_5m_tokens: Some(200),
        cache_write_1h_tokens: Some(100),
        stop_reason: Some("tool_use".to_owned()),
        duration_ms: 1_234,
        ttfb_ms: Some(321),
        invocation_metrics: Some(json!({
            "inputTokenCount": 12,
            "invocationLatency": 1100,
            "ratio": 0.25,
            "nested": {"list": [1, "two", true, null], "empty": {}},
            "none": [],
        })),
        tool_names: vec!["Read".to_owned(), "Bash".to_owned(), "Read".to_owned()],
        thinking: true,
        session_id: Some(Uuid::new_v4().to_string()),
        endpoint: Some("bedrock-runtime".to_owned()),
        region: Some("eu-west-1".to_owned()),
        outcome: Outcome::Complete,
        cost_micros: Some(18_446_744_073_709_551),
        policy_refusal: None,
        ..new_usage(time_ms)
    }
}

/// A time in a UTC day no other case uses (a random day between 2030 and 2084), at its midnight.
#[must_use]
pub fn new_usage_day_start() -> i64 {
    const MS_PER_DAY: i64 = 86_400_000;
    let random = Uuid::new_v4().as_u128() % 20_000;
    let day = 21_915 + i64::try_from(random).expect("below 20 000");
    day * MS_PER_DAY
}
