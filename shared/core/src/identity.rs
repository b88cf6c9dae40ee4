//! People, teams and identity providers, and the rules that turn verified token claims into a Sluice identity.
//!
//! Pure: token signatures are verified in `sluice-http`; this module decides who a verified token names, whether its
//! email domain is allowed, and which role a newly provisioned person gets.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::clock::{Clock, Ids};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Admin,
    Member,
}

impl Role {
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Admin => "admin",
            Self::Member => "member",
        }
    }

    #[must_use]
    pub fn parse(s: &str) -> Option<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "admin" => Some(Self::Admin),
            "member" => Some(Self::Member),
            _ => None,
        }
    }
}

/// A person. `email` is the identity string (the IdP claim chosen by `user_claim`, or the bootstrap admin's
/// username), stored lower-case and unique.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    pub id: String,
    pub email: String,
    pub role: Role,
    pub team_id: Option<String>,
    pub active: bool,
    /// Name of the identity provider that first signed this person in (`local` for the bootstrap admin).
    pub idp: String,
    pub created_at_ms: i64,
    /// The groups this person was last seen in, for policies: remembered at each sign-in and SCIM update, so
    /// their keys and sessions match the same policies as their ID tokens.
    #[serde(default)]
    pub groups: PersonGroups,
}

/// A person's group memberships as last reported by their identity provider.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PersonGroups {
    /// From the ID token's groups claim (`IdentityProvider::groups_claim`) at the last sign-in.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub idp: Vec<String>,
    /// The display names of the SCIM groups that list this person as a member.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub scim: Vec<String>,
}

impl User {
    /// A new active person with a fresh id (`usr_…`) and the email in lower case, created now. The creation
    /// time keeps whole seconds, as it always has.
    #[must_use]
    pub fn new(ids: &dyn Ids, clock: &dyn Clock, email: &str, role: Role, idp: &str) -> Self {
        Self {
            id: ids.new_id("usr"),
            email: email.to_ascii_lowercase(),
            role,
            team_id: None,
            active: true,
            idp: idp.to_owned(),
            created_at_ms: clock.now().timestamp() * 1000,
            groups: PersonGroups::default(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Team {
    pub id: String,
    /// Unique.
    pub name: String,
    pub created_at_ms: i64,
}

/// An OIDC identity provider whose ID tokens Sluice accepts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdentityProvider {
    pub id: String,
    pub name: String,
    /// Exactly as the tokens' `iss`; unique.
    pub issuer: String,
    /// Expected `aud` (the OIDC client id).
    pub audience: String,
    /// Overrides discovery's `jwks_uri`.
    pub jwks_url: Option<String>,
    /// Which claim names a new person: `auto`/`email` (a verified email only) or an explicit claim such as
    /// `preferred_username` or `upn`; display names (`name`) are refused.
    pub user_claim: String,
    /// Whether this provider's `email` claim counts as verified even without `email_verified: true` (e.g. Entra
    /// for its own tenant's addresses).
    #[serde(default)]
    pub emails_verified: bool,
    /// Allowed email domains (empty: any).
    pub allowed_domains: Vec<String>,
    pub auto_provision: bool,
    pub default_role: Role,
    pub enabled: bool,
    /// Space-separated scopes for the browser sign-in (`openid email profile` when unset).
    pub scopes: Option<String>,
    /// The ID-token claim holding the person's groups, an array of strings or one string (`groups` when
    /// unset), matched by policies' `idp_groups`.
    #[serde(default)]
    pub groups_claim: Option<String>,
    pub created_at_ms: i64,
}

/// A pending or completed browser sign-in of Claude Code's `apiKeyHelper` (state lives in the store so any
/// instance can answer any step). The token goes only to whoever holds both the one-time code the browser hands
/// to the helper's loopback listener and the PKCE verifier behind `code_challenge` (RFC 8252 with RFC 7636), so
/// a sign-in started by someone else and completed in a victim's browser gives its starter nothing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CliSession {
    /// The UUID the helper script generated.
    pub id: String,
    /// The nonce sent to the IdP; the returned ID token must carry it.
    pub nonce: String,
    pub created_at_ms: i64,
    /// base64url(SHA-256(verifier)) of the helper's PKCE verifier.
    #[serde(default)]
    pub code_challenge: String,
    /// The helper's loopback port on 127.0.0.1 the browser is sent back to.
    #[serde(default)]
    pub redirect_port: u16,
    /// The Sluice session token, once the sign-in completed.
    pub token: Option<String>,
    /// SHA-256 (hex) of the one-time code handed to the loopback listener, once the sign-in completed.
    #[serde(default)]
    pub code_hash: Option<String>,
}

/// A sign-in identity bound to a person: the provider's issuer and the token's `sub`. A person is matched by this
/// binding on every later sign-in, never by a display string; one person may hold several (linked by an admin).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdentityLink {
    /// The provider's issuer, exactly as the tokens' `iss`.
    pub issuer: String,
    /// The token's `sub`, exactly as sent (subjects are case-sensitive).
    pub subject: String,
    pub user_id: String,
    /// Who made the link: `sign-in` (the person's first sign-in), `scim`, or `admin:<user id>`.
    pub linked_by: String,
    pub created_at_ms: i64,
}

/// What a verified ID token says about who signed in, reduced to what may identify a person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignIn {
    /// The token's `sub`.
    pub subject: String,
    /// The identity string a new person is created under (lower-case): a verified email, or the claim the
    /// provider is configured to name people by (`preferred_username`, `upn`, ...).
    pub identity: String,
    /// The token's email, lower-case, only when the provider vouches for it (`email_verified: true`, or a
    /// provider configured with `emails_verified`).
    pub verified_email: Option<String>,
}

/// The claim holding groups when a provider names none.
pub const DEFAULT_GROUPS_CLAIM: &str = "groups";
/// The most groups remembered per person; each is cut to 256 characters.
pub const MAX_GROUPS: usize = 200;

/// The groups a verified token carries in the provider's groups claim: an array of strings, or one string
/// (some providers send a single group as a string, some a space- or comma-separated list). Sorted, deduplicated,
/// at most [`MAX_GROUPS`]; anything else yields no groups.
#[must_use]
pub fn groups_of(claims: &Value, idp: &IdentityProvider) -> Vec<String> {
    let claim = idp
        .groups_claim
        .as_deref()
        .filter(|c| !c.trim().is_empty())
        .unwrap_or(DEFAULT_GROUPS_CLAIM);
    let mut groups: Vec<String> = match claims.get(claim) {
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect(),
        Some(Value::String(one)) => one.split([',', ' ']).map(str::to_owned).collect(),
        _ => Vec::new(),
    };
    for g in &mut groups {
        *g = g
            .trim()
            .chars()
            .filter(|c| !c.is_control())
            .take(256)
            .collect();
    }
    groups.retain(|g| !g.is_empty());
    groups.sort();
    groups.dedup();
    groups.truncate(MAX_GROUPS);
    groups
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdentityError {
    #[error("the token has no subject (sub)")]
    NoSubject,
    #[error("the token names no user (no usable {0} claim)")]
    NoIdentity(String),
    #[error(
        "the identity provider does not say the email {0} is verified (email_verified is not true); \
         an administrator can declare this provider's emails verified"
    )]
    UnverifiedEmail(String),
    #[error(
        "the {0} claim is a display name and never identifies a person; configure user_claim as email, preferred_username or upn"
    )]
    DisplayNameClaim(String),
    #[error("the email domain of {0} is not allowed for this identity provider")]
    DomainNotAllowed(String),
    #[error(
        "this identity provider only admits some email domains, and the token carries no verified email"
    )]
    NoVerifiedEmail,
}

/// Claims that carry a name a person chooses for display: never an identity.
const DISPLAY_CLAIMS: [&str; 5] = [
    "name",
    "given_name",
    "family_name",
    "nickname",
    "display_name",
];

/// Whether `user_claim` may name people (`auto`/`email` or an explicit non-display claim).
///
/// # Errors
/// `DisplayNameClaim` for `name` and the other display claims.
pub fn check_user_claim(user_claim: &str) -> Result<(), IdentityError> {
    let claim = user_claim.trim().to_ascii_lowercase();
    if DISPLAY_CLAIMS.contains(&claim.as_str()) {
        return Err(IdentityError::DisplayNameClaim(claim));
    }
    Ok(())
}

fn claim_str<'a>(claims: &'a Value, name: &str) -> Option<&'a str> {
    claims
        .get(name)
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
}

/// The token's email when the provider vouches for it: `email_verified` is `true` (or the string `"true"`, as
/// some providers send it), or the provider is configured with `emails_verified`.
#[must_use]
pub fn verified_email(claims: &Value, idp: &IdentityProvider) -> Option<String> {
    let email = claim_str(claims, "email")?;
    let vouched = match claims.get("email_verified") {
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) => s.eq_ignore_ascii_case("true"),
        _ => false,
    };
    (vouched || idp.emails_verified).then(|| email.to_ascii_lowercase())
}

/// Who a verified token names, by the provider's `user_claim`: `auto` or `email` take only a verified email;
/// an explicit claim (`preferred_username`, `upn`, ...) is taken as the provider is configured to use it; display
/// names never count.
///
/// # Errors
/// `NoSubject`, `UnverifiedEmail`, `NoIdentity` or `DisplayNameClaim`.
pub fn sign_in_of(claims: &Value, idp: &IdentityProvider) -> Result<SignIn, IdentityError> {
    let subject = claim_str(claims, "sub")
        .ok_or(IdentityError::NoSubject)?
        .to_owned();
    let verified = verified_email(claims, idp);
    let identity = match idp.user_claim.trim() {
        "" | "auto" | "email" => match (&verified, claim_str(claims, "email")) {
            (Some(v), _) => v.clone(),
            (None, Some(unverified)) => {
                return Err(IdentityError::UnverifiedEmail(
                    unverified.to_ascii_lowercase(),
                ));
            }
            (None, None) => return Err(IdentityError::NoIdentity("email".into())),
        },
        explicit => {
            check_user_claim(explicit)?;
            claim_str(claims, explicit)
                .ok_or_else(|| IdentityError::NoIdentity(explicit.to_owned()))?
                .to_ascii_lowercase()
        }
    };
    Ok(SignIn {
        subject,
        identity,
        verified_email: verified,
    })
}

/// Checks the verified email against the provider's allowed domains (a provider without a domain rule admits
/// any).
///
/// # Errors
/// `NoVerifiedEmail` when domains are configured and the token has no verified email; `DomainNotAllowed` when
/// none matches.
pub fn check_domain(verified_email: Option<&str>, allowed: &[String]) -> Result<(), IdentityError> {
    if allowed.is_empty() {
        return Ok(());
    }
    let email = verified_email.ok_or(IdentityError::NoVerifiedEmail)?;
    if domain_allowed(email, allowed) {
        Ok(())
    } else {
        Err(IdentityError::DomainNotAllowed(email.to_owned()))
    }
}

fn domain_allowed(email: &str, allowed: &[String]) -> bool {
    let domain = email.rsplit_once('@').map_or("", |(_, d)| d);
    !domain.is_empty()
        && allowed.iter().any(|a| {
            a.trim()
                .trim_start_matches('@')
                .eq_ignore_ascii_case(domain)
        })
}

/// `User::idp` of the bootstrap admin (password sign-in only).
pub const LOCAL_IDP: &str = "local";
/// `User::idp` of people an administrator created before their first sign-in (API or CLI).
pub const ADMIN_CREATED_IDPS: [&str; 2] = ["admin", "cli"];

/// Why a sign-in may not take over an existing person who is not bound to it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BindRefusal {
    #[error("the break-glass administrator signs in with the password only")]
    LocalAdmin,
    #[error("{email} is already linked to another sign-in")]
    BoundElsewhere { email: String },
    #[error("{email} was created by another identity provider ({idp})")]
    OtherProvider { email: String, idp: String },
    #[error("{email} can only be claimed with a verified email")]
    NotVerified { email: String },
}

/// Where the decision of [`may_bind`] happens: the provider signing in and what the stack knows of providers.
#[derive(Debug, Clone, Copy)]
pub struct BindContext<'a> {
    pub idp: &'a IdentityProvider,
    /// The provider the stack was configured with (`OIDC_ISSUER`), if any.
    pub configured_idp: Option<&'a IdentityProvider>,
    /// How many providers are enabled.
    pub enabled_idps: usize,
    /// Whether this provider's SCIM provisions the person (created or adopted them).
    pub provisioned_by_idp: bool,
}

/// Whether a sign-in whose `(issuer, sub)` is bound to nobody may bind to `existing`, the person its identity
/// names, who holds `existing_links`. Only people nobody signed in as yet can be claimed: those the same provider
/// created (before bindings existed) or provisions through SCIM, and those an administrator created, by the
/// provider meant for them (the configured one, the only one, or one whose domain rule covers their verified
/// email).
///
/// # Errors
/// The reason the binding is refused; an administrator can still link the accounts.
pub fn may_bind(
    existing: &User,
    existing_links: &[IdentityLink],
    sign_in: &SignIn,
    cx: BindContext<'_>,
) -> Result<(), BindRefusal> {
    let email = existing.email.clone();
    if existing.idp == LOCAL_IDP {
        return Err(BindRefusal::LocalAdmin);
    }
    if !existing_links.is_empty() {
        return Err(BindRefusal::BoundElsewhere { email });
    }
    if existing.idp == cx.idp.name || existing.idp == cx.idp.id || cx.provisioned_by_idp {
        return Ok(());
    }
    if !ADMIN_CREATED_IDPS.contains(&existing.idp.as_str()) {
        return Err(BindRefusal::OtherProvider {
            email,
            idp: existing.idp.clone(),
        });
    }
    if sign_in.verified_email.as_deref() != Some(existing.email.as_str()) {
        return Err(BindRefusal::NotVerified { email });
    }
    let meant_for = match cx.configured_idp {
        Some(configured) => configured.id == cx.idp.id,
        None => cx.enabled_idps == 1,
    } || (!cx.idp.allowed_domains.is_empty()
        && domain_allowed(&existing.email, &cx.idp.allowed_domains));
    if meant_for {
        Ok(())
    } else {
        Err(BindRefusal::OtherProvider {
            email,
            idp: existing.idp.clone(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn idp(user_claim: &str) -> IdentityProvider {
        IdentityProvider {
            id: "idp_a".into(),
            name: "corp".into(),
            issuer: "https://a.example".into(),
            audience: "app".into(),
            jwks_url: None,
            user_claim: user_claim.into(),
            emails_verified: false,
            allowed_domains: vec!["corp.example".into()],
            auto_provision: true,
            default_role: Role::Member,
            enabled: true,
            scopes: None,
            created_at_ms: 0,
            groups_claim: None,
        }
    }

    fn person(email: &str, idp: &str) -> User {
        User {
            id: "usr_1".into(),
            email: email.into(),
            role: Role::Member,
            team_id: None,
            active: true,
            idp: idp.into(),
            created_at_ms: 0,
            groups: PersonGroups::default(),
        }
    }

    #[test]
    fn groups_come_as_an_array_or_one_string_from_the_configured_claim() {
        let default = idp("auto");
        let claims = json!({"groups": ["eng", "contractors", "eng", "", 7, "  ops "]});
        assert_eq!(groups_of(&claims, &default), ["contractors", "eng", "ops"]);
        let claims = json!({"groups": "eng, contractors ops"});
        assert_eq!(groups_of(&claims, &default), ["contractors", "eng", "ops"]);
        assert!(groups_of(&json!({"groups": {"a": 1}}), &default).is_empty());
        assert!(groups_of(&json!({}), &default).is_empty());
        let entra = IdentityProvider {
            groups_claim: Some("roles".into()),
            ..idp("auto")
        };
        let claims = json!({"groups": ["ignored"], "roles": ["Sluice.Contractor"]});
        assert_eq!(groups_of(&claims, &entra), ["Sluice.Contractor"]);
        let many: Vec<String> = (0..500).map(|i| format!("g{i:03}")).collect();
        assert_eq!(
            groups_of(&json!({ "groups": many }), &default).len(),
            MAX_GROUPS
        );
    }

    #[test]
    fn only_a_verified_email_names_a_person_by_default() {
        let verified = json!({"sub": "s1", "email": "Ana@Corp.example", "email_verified": true});
        let s = sign_in_of(&verified, &idp("auto")).expect("verified email");
        assert_eq!(
            (s.subject.as_str(), s.identity.as_str()),
            ("s1", "ana@corp.example")
        );
        assert_eq!(s.verified_email.as_deref(), Some("ana@corp.example"));
        // Some providers send the flag as a string.
        let as_string = json!({"sub": "s1", "email": "a@corp.example", "email_verified": "true"});
        assert!(sign_in_of(&as_string, &idp("email")).is_ok());
        let unverified =
            json!({"sub": "s1", "email": "boss@corp.example", "email_verified": false});
        assert_eq!(
            sign_in_of(&unverified, &idp("auto")),
            Err(IdentityError::UnverifiedEmail("boss@corp.example".into()))
        );
        let silent = json!({"sub": "s1", "email": "boss@corp.example"});
        assert!(sign_in_of(&silent, &idp("auto")).is_err());
        // A provider that vouches for its emails.
        let trusted = IdentityProvider {
            emails_verified: true,
            ..idp("auto")
        };
        assert_eq!(
            sign_in_of(&silent, &trusted).expect("trusted").identity,
            "boss@corp.example"
        );
    }

    #[test]
    fn display_names_and_other_usernames_never_stand_in_for_an_email() {
        let c = json!({"sub": "s1", "name": "boss@corp.example", "preferred_username": "boss@corp.example"});
        assert_eq!(
            sign_in_of(&c, &idp("auto")),
            Err(IdentityError::NoIdentity("email".into()))
        );
        assert_eq!(
            sign_in_of(&c, &idp("name")),
            Err(IdentityError::DisplayNameClaim("name".into()))
        );
        assert!(check_user_claim("Name").is_err());
        assert!(check_user_claim("upn").is_ok());
        // A provider configured to name people by username does so, but that is no verified email.
        let s = sign_in_of(&c, &idp("preferred_username")).expect("configured claim");
        assert_eq!(s.identity, "boss@corp.example");
        assert_eq!(s.verified_email, None);
        assert_eq!(
            sign_in_of(
                &json!({"email": "a@corp.example", "email_verified": true}),
                &idp("auto")
            ),
            Err(IdentityError::NoSubject)
        );
    }

    #[test]
    fn allowed_domains_apply_to_the_verified_email_only() {
        let allowed = ["@Corp.example".to_owned()];
        assert!(check_domain(Some("a@corp.example"), &[]).is_ok());
        assert!(check_domain(None, &[]).is_ok());
        assert!(check_domain(Some("a@corp.example"), &allowed).is_ok());
        assert_eq!(
            check_domain(Some("a@evil.example"), &allowed),
            Err(IdentityError::DomainNotAllowed("a@evil.example".into()))
        );
        assert_eq!(
            check_domain(None, &allowed),
            Err(IdentityError::NoVerifiedEmail)
        );
        assert!(check_domain(Some("corp.example"), &allowed).is_err());
    }

    #[test]
    fn only_unclaimed_people_meant_for_the_provider_can_be_bound() {
        let a = idp("auto");
        let b = IdentityProvider {
            id: "idp_b".into(),
            name: "other".into(),
            allowed_domains: vec![],
            ..idp("auto")
        };
        let sign_in = SignIn {
            subject: "s".into(),
            identity: "ana@corp.example".into(),
            verified_email: Some("ana@corp.example".into()),
        };
        let cx = |p| BindContext {
            idp: p,
            configured_idp: Some(&a),
            enabled_idps: 2,
            provisioned_by_idp: false,
        };
        // Created by this provider before bindings existed (or by its SCIM): bound.
        assert_eq!(
            may_bind(&person("ana@corp.example", "corp"), &[], &sign_in, cx(&a)),
            Ok(())
        );
        // By another provider: refused.
        assert!(matches!(
            may_bind(&person("ana@corp.example", "corp"), &[], &sign_in, cx(&b)),
            Err(BindRefusal::OtherProvider { .. })
        ));
        // Someone already signs in as this person.
        let link = IdentityLink {
            issuer: a.issuer.clone(),
            subject: "other".into(),
            user_id: "usr_1".into(),
            linked_by: "sign-in".into(),
            created_at_ms: 0,
        };
        assert!(matches!(
            may_bind(
                &person("ana@corp.example", "corp"),
                &[link],
                &sign_in,
                cx(&a)
            ),
            Err(BindRefusal::BoundElsewhere { .. })
        ));
        // The break-glass admin never.
        assert_eq!(
            may_bind(
                &person("ana@corp.example", LOCAL_IDP),
                &[],
                &sign_in,
                cx(&a)
            ),
            Err(BindRefusal::LocalAdmin)
        );
        // Created by an administrator: the configured provider may claim them with a verified email ...
        let pre = person("ana@corp.example", "admin");
        assert_eq!(may_bind(&pre, &[], &sign_in, cx(&a)), Ok(()));
        let unverified = SignIn {
            verified_email: None,
            ..sign_in.clone()
        };
        assert!(matches!(
            may_bind(&pre, &[], &unverified, cx(&a)),
            Err(BindRefusal::NotVerified { .. })
        ));
        // ... a second provider without a domain rule covering them may not ...
        assert!(may_bind(&pre, &[], &sign_in, cx(&b)).is_err());
        // ... unless it is the only provider, or its domain rule covers the email.
        assert_eq!(
            may_bind(
                &pre,
                &[],
                &sign_in,
                BindContext {
                    idp: &b,
                    configured_idp: None,
                    enabled_idps: 1,
                    provisioned_by_idp: false,
                }
            ),
            Ok(())
        );
        let scoped = IdentityProvider {
            allowed_domains: vec!["corp.example".into()],
            ..b.clone()
        };
        assert_eq!(may_bind(&pre, &[], &sign_in, cx(&scoped)), Ok(()));
        // A person this provider's SCIM provisions (created or adopted) belongs to it.
        let scim = BindContext {
            provisioned_by_idp: true,
            ..cx(&b)
        };
        assert_eq!(may_bind(&pre, &[], &sign_in, scim), Ok(()));
    }
}
