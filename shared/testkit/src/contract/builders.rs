//! Domain values with unique ids, emails, names and issuers, for the identity and counter cases (kept here,
//! next to the cases that use them). Unique per call, so cases can share one store.

use sluice_core::identity::{CliSession, IdentityProvider, Role, Team, User};
use uuid::Uuid;

use crate::fixtures::now_ms;

fn unique() -> String {
    Uuid::new_v4().simple().to_string()
}

/// An active member without a team, created now.
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
        allowed_domains: vec!["example.com".to_owned(), "ünïcode.example".to_owned()],
        auto_provision: true,
        default_role: Role::Member,
        enabled: true,
        scopes: Some("openid email".to_owned()),
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
        token: None,
    }
}

/// A counter scope no other case uses.
#[must_use]
pub fn new_scope(label: &str) -> String {
    format!("{label}:{}", unique())
}
