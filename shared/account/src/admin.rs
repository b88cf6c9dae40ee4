//! Identity providers (admin role required), and the role parsing the people routes share.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use bytes::Bytes;
use serde::{Deserialize, Serialize};
use sluice_core::analytics::split_list;
use sluice_core::error::ApiError;
use sluice_core::identity::{IdentityProvider, Role, check_user_claim};

use crate::roles::Admin;
use crate::views::{self, Field, Text, not_found, rfc3339};
use crate::{Reply, Shared, now_ms, store_error};

pub(super) fn role(raw: Option<&str>, default: Role) -> Result<Role, ApiError> {
    match raw {
        None => Ok(default),
        Some(r) => Role::parse(r)
            .ok_or_else(|| ApiError::invalid(format!("role must be admin or member, not {r:?}"))),
    }
}

pub(super) async fn list_idps(State(state): State<Shared>, _: Admin) -> Reply {
    let idps = state.store.list_idps().await.map_err(|e| store_error(&e))?;
    let mut views = Vec::with_capacity(idps.len());
    for idp in &idps {
        let (enabled, groups) = crate::scim_admin::scim_view(&state, &idp.id).await?;
        views.push(IdpView {
            scim_enabled: enabled,
            scim_admin_groups: groups,
            ..idp_view(idp)
        });
    }
    Ok(axum::Json(Idps { idps: views }).into_response())
}

/// CCAG's IdP row (`issuer_url`, `client_id`, `flow_type`, `source`, SCIM flags) with Sluice's names beside.
#[derive(Debug, Serialize)]
struct IdpView<'a> {
    id: &'a str,
    name: &'a str,
    issuer_url: &'a str,
    issuer: &'a str,
    client_id: &'a str,
    audience: &'a str,
    jwks_url: Option<&'a str>,
    /// Sluice signs people in with the browser (implicit ID token) flow whatever a client asks for.
    flow_type: &'static str,
    auto_provision: bool,
    default_role: &'static str,
    allowed_domains: &'a [String],
    enabled: bool,
    source: &'static str,
    created_at: String,
    created_at_ms: i64,
    user_claim: &'a str,
    emails_verified: bool,
    scopes: Option<&'a str>,
    /// `null` when unset: the `groups` claim is read.
    groups_claim: Option<&'a str>,
    scim_enabled: bool,
    scim_admin_groups: Vec<String>,
}

fn idp_view(idp: &IdentityProvider) -> IdpView<'_> {
    IdpView {
        id: &idp.id,
        name: &idp.name,
        issuer_url: &idp.issuer,
        issuer: &idp.issuer,
        client_id: &idp.audience,
        audience: &idp.audience,
        jwks_url: idp.jwks_url.as_deref(),
        flow_type: "implicit",
        auto_provision: idp.auto_provision,
        default_role: idp.default_role.as_str(),
        allowed_domains: &idp.allowed_domains,
        enabled: idp.enabled,
        source: "admin",
        created_at: rfc3339(idp.created_at_ms),
        created_at_ms: idp.created_at_ms,
        user_claim: &idp.user_claim,
        emails_verified: idp.emails_verified,
        scopes: idp.scopes.as_deref(),
        groups_claim: idp.groups_claim.as_deref(),
        scim_enabled: false,
        scim_admin_groups: Vec::new(),
    }
}

#[derive(Debug, Serialize)]
struct Idps<'a> {
    idps: Vec<IdpView<'a>>,
}

/// `PUT /admin/idps/{id}`'s answer.
#[derive(Debug, Serialize)]
struct Updated<'a> {
    updated: bool,
    idp: IdpView<'a>,
}

/// A create or update body as sent, CCAG's names and Sluice's (`issuer_url` / `issuer`, `client_id` /
/// `audience`); absent keeps (or defaults), `null` clears where a field can be cleared.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct IdpBody {
    name: Field<Text>,
    issuer_url: Field<Text>,
    issuer: Field<Text>,
    client_id: Field<Text>,
    audience: Field<Text>,
    jwks_url: Field<Text>,
    user_claim: Field<Text>,
    emails_verified: Field<bool>,
    allowed_domains: Field<Domains>,
    auto_provision: Field<bool>,
    default_role: Field<Text>,
    enabled: Field<bool>,
    scopes: Field<Text>,
    groups_claim: Field<Text>,
    flow_type: Field<Text>,
}

/// `allowed_domains`: an array of domain names, or one string of them separated by commas.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum Domains {
    List(Vec<String>),
    Text(String),
}

/// The fields a create or update body sets (absent: keep or default).
#[derive(Default)]
struct IdpFields {
    name: Option<String>,
    issuer: Option<String>,
    audience: Option<String>,
    jwks_url: Option<Option<String>>,
    user_claim: Option<Option<String>>,
    emails_verified: Option<bool>,
    allowed_domains: Option<Vec<String>>,
    auto_provision: Option<bool>,
    default_role: Option<Role>,
    enabled: Option<bool>,
    scopes: Option<Option<String>>,
    groups_claim: Option<Option<String>>,
}

const FLOW_TYPES: [&str; 3] = ["implicit", "device_code", "authorization_code"];

/// One of two names for the same field (`issuer_url` / `issuer`); both given must agree.
fn either(a: (&str, Field<Text>), b: (&str, Field<Text>)) -> Result<Option<String>, ApiError> {
    let (x, y) = (a.1.not_null(a.0)?, b.1.not_null(b.0)?);
    match (x, y) {
        (Some(x), Some(y)) if x != y => Err(ApiError::invalid(format!(
            "{} and {} name the same setting and differ; send one",
            a.0, b.0
        ))),
        (x, y) => Ok(x.or(y).map(|t| t.0)),
    }
}

fn domains(field: Field<Domains>) -> Option<Vec<String>> {
    field.patch().map(|domains| match domains {
        None => Vec::new(),
        Some(Domains::Text(s)) => split_list(Some(&s)),
        Some(Domains::List(items)) => items
            .iter()
            .map(|d| d.trim().to_ascii_lowercase())
            .filter(|d| !d.is_empty())
            .collect(),
    })
}

impl IdpFields {
    fn parse(body: &[u8]) -> Result<Self, ApiError> {
        let body: IdpBody = views::body(body).map_err(|e| {
            if e.message.starts_with("allowed_domains:") {
                ApiError::invalid("allowed_domains: must be an array of domain names")
            } else {
                e
            }
        })?;
        if let Some(flow) = body.flow_type.not_null("flow_type")?
            && !FLOW_TYPES.contains(&flow.0.as_str())
        {
            return Err(ApiError::invalid(format!(
                "flow_type: must be one of {}, not {:?}",
                FLOW_TYPES.join(", "),
                flow.0
            )));
        }
        let issuer = either(("issuer_url", body.issuer_url), ("issuer", body.issuer))?
            .map(|raw| {
                let issuer = raw.trim_end_matches('/').to_owned();
                let local = issuer.starts_with("http://127.0.0.1")
                    || issuer.starts_with("http://localhost");
                if issuer.starts_with("https://") || local {
                    Ok(issuer)
                } else {
                    Err(ApiError::invalid("issuer_url: must be an https:// URL"))
                }
            })
            .transpose()?;
        Ok(Self {
            name: body.name.not_null("name")?.map(|t| t.0),
            issuer,
            audience: either(("client_id", body.client_id), ("audience", body.audience))?,
            jwks_url: body.jwks_url.patch().map(|u| u.map(|t| t.0)),
            user_claim: body
                .user_claim
                .patch()
                .map(|claim| {
                    claim
                        .map(|Text(c)| {
                            check_user_claim(&c)
                                .map(|()| c)
                                .map_err(|e| ApiError::invalid(format!("user_claim: {e}")))
                        })
                        .transpose()
                })
                .transpose()?,
            emails_verified: body.emails_verified.value(),
            allowed_domains: domains(body.allowed_domains),
            auto_provision: body.auto_provision.value(),
            default_role: body
                .default_role
                .not_null("default_role")?
                .map(|r| role(Some(&r.0), Role::Member))
                .transpose()?,
            enabled: body.enabled.value(),
            scopes: body.scopes.patch().map(|s| s.map(|t| t.0)),
            groups_claim: body.groups_claim.patch().map(|c| c.map(|t| t.0)),
        })
    }

    /// `idp` with these fields set over it.
    fn apply(self, idp: IdentityProvider) -> IdentityProvider {
        IdentityProvider {
            name: self.name.unwrap_or(idp.name),
            issuer: self.issuer.unwrap_or(idp.issuer),
            audience: self.audience.unwrap_or(idp.audience),
            jwks_url: self.jwks_url.unwrap_or(idp.jwks_url),
            user_claim: self
                .user_claim
                .map_or(idp.user_claim, |c| c.unwrap_or_else(|| AUTO_CLAIM.into())),
            emails_verified: self.emails_verified.unwrap_or(idp.emails_verified),
            allowed_domains: self.allowed_domains.unwrap_or(idp.allowed_domains),
            auto_provision: self.auto_provision.unwrap_or(idp.auto_provision),
            default_role: self.default_role.unwrap_or(idp.default_role),
            enabled: self.enabled.unwrap_or(idp.enabled),
            scopes: self.scopes.unwrap_or(idp.scopes),
            groups_claim: self.groups_claim.unwrap_or(idp.groups_claim),
            ..idp
        }
    }
}

const AUTO_CLAIM: &str = "auto";

pub(super) async fn create_idp(State(state): State<Shared>, _: Admin, body: Bytes) -> Reply {
    let fields = IdpFields::parse(&body)?;
    let missing = [
        ("name", fields.name.is_none()),
        ("issuer_url", fields.issuer.is_none()),
        ("client_id (or audience)", fields.audience.is_none()),
    ];
    if let Some((field, _)) = missing.iter().find(|(_, absent)| *absent) {
        return Err(ApiError::invalid(format!("{field}: required")).into());
    }
    let blank = IdentityProvider {
        id: state.ids.new_id("idp"),
        name: String::new(),
        issuer: String::new(),
        audience: String::new(),
        jwks_url: None,
        user_claim: AUTO_CLAIM.into(),
        emails_verified: false,
        allowed_domains: Vec::new(),
        auto_provision: true,
        default_role: Role::Member,
        enabled: true,
        scopes: None,
        groups_claim: None,
        created_at_ms: now_ms(),
    };
    let idp = fields.apply(blank);
    state
        .store
        .create_idp(&idp)
        .await
        .map_err(|e| store_error(&e))?;
    state.auth.forget_idps();
    Ok((StatusCode::CREATED, axum::Json(idp_view(&idp))).into_response())
}

/// `PUT /admin/idps/{id}`: the fields sent change, the others stay (CCAG's CLI sends only what was given).
pub(super) async fn update_idp(
    State(state): State<Shared>,
    _: Admin,
    Path(id): Path<String>,
    body: Bytes,
) -> Reply {
    let fields = IdpFields::parse(&body)?;
    let store = state.store.as_ref();
    let current = store
        .list_idps()
        .await
        .map_err(|e| store_error(&e))?
        .into_iter()
        .find(|i| i.id == id)
        .ok_or_else(|| not_found("identity provider"))?;
    let idp = fields.apply(current);
    if !store.update_idp(&idp).await.map_err(|e| store_error(&e))? {
        return Err(not_found("identity provider").into());
    }
    state.auth.forget_idps();
    Ok(axum::Json(Updated {
        updated: true,
        idp: idp_view(&idp),
    })
    .into_response())
}

pub(super) async fn delete_idp(
    State(state): State<Shared>,
    _: Admin,
    Path(id): Path<String>,
) -> Reply {
    if !state
        .store
        .delete_idp(&id)
        .await
        .map_err(|e| store_error(&e))?
    {
        return Err(not_found("identity provider").into());
    }
    state.auth.forget_idps();
    Ok(axum::Json(views::DeletedId {
        deleted: true,
        id: &id,
    })
    .into_response())
}
