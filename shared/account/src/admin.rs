//! Identity providers (admin role required), and the role parsing the people routes share.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use bytes::Bytes;
use serde_json::{Map, Value, json};
use sluice_core::analytics::split_list;
use sluice_core::error::ApiError;
use sluice_core::identity::{IdentityProvider, Role, check_user_claim};

use crate::roles::Admin;
use crate::views::{not_found, nullable_string, object, rfc3339, string};
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
        let mut view = idp_view(idp);
        if let Some(map) = view.as_object_mut() {
            map.insert("scim_enabled".into(), json!(enabled));
            map.insert("scim_admin_groups".into(), json!(groups));
        }
        views.push(view);
    }
    Ok(axum::Json(json!({"idps": views})).into_response())
}

/// CCAG's IdP row (`issuer_url`, `client_id`, `flow_type`, `source`, SCIM flags) with Sluice's names beside.
fn idp_view(idp: &IdentityProvider) -> Value {
    json!({
        "id": idp.id,
        "name": idp.name,
        "issuer_url": idp.issuer,
        "issuer": idp.issuer,
        "client_id": idp.audience,
        "audience": idp.audience,
        "jwks_url": idp.jwks_url,
        // Sluice signs people in with the browser (implicit ID token) flow whatever a client asks for.
        "flow_type": "implicit",
        "auto_provision": idp.auto_provision,
        "default_role": idp.default_role.as_str(),
        "allowed_domains": idp.allowed_domains,
        "enabled": idp.enabled,
        "source": "admin",
        "created_at": rfc3339(idp.created_at_ms),
        "created_at_ms": idp.created_at_ms,
        "user_claim": idp.user_claim,
        "emails_verified": idp.emails_verified,
        "scopes": idp.scopes,
        "scim_enabled": false,
        "scim_admin_groups": [],
    })
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
}

const FLOW_TYPES: [&str; 3] = ["implicit", "device_code", "authorization_code"];

fn boolean(body: &Map<String, Value>, field: &str) -> Result<Option<bool>, ApiError> {
    match body.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(_) => Err(ApiError::invalid(format!("{field}: must be true or false"))),
    }
}

/// One of two names for the same field (`issuer_url` / `issuer`); both given must agree.
fn either(body: &Map<String, Value>, names: [&str; 2]) -> Result<Option<String>, ApiError> {
    let [a, b] = names;
    match (string(body, a)?, string(body, b)?) {
        (Some(x), Some(y)) if x != y => Err(ApiError::invalid(format!(
            "{a} and {b} name the same setting and differ; send one"
        ))),
        (x, y) => Ok(x.or(y)),
    }
}

fn domains(body: &Map<String, Value>) -> Result<Option<Vec<String>>, ApiError> {
    let bad = || ApiError::invalid("allowed_domains: must be an array of domain names");
    match body.get("allowed_domains") {
        None => Ok(None),
        Some(Value::Null) => Ok(Some(Vec::new())),
        Some(Value::String(s)) => Ok(Some(split_list(Some(s)))),
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| {
                v.as_str()
                    .map(|d| d.trim().to_ascii_lowercase())
                    .ok_or_else(bad)
            })
            .filter(|d| d.as_ref().map_or(true, |d| !d.is_empty()))
            .collect::<Result<Vec<_>, _>>()
            .map(Some),
        Some(_) => Err(bad()),
    }
}

impl IdpFields {
    fn parse(body: &[u8]) -> Result<Self, ApiError> {
        let body = object(body)?;
        if let Some(flow) = string(&body, "flow_type")?
            && !FLOW_TYPES.contains(&flow.as_str())
        {
            return Err(ApiError::invalid(format!(
                "flow_type: must be one of {}, not {flow:?}",
                FLOW_TYPES.join(", ")
            )));
        }
        let issuer = either(&body, ["issuer_url", "issuer"])?
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
            name: string(&body, "name")?,
            issuer,
            audience: either(&body, ["client_id", "audience"])?,
            jwks_url: nullable_string(&body, "jwks_url")?,
            user_claim: nullable_string(&body, "user_claim")?
                .map(|claim| {
                    claim
                        .map(|c| {
                            check_user_claim(&c)
                                .map(|()| c)
                                .map_err(|e| ApiError::invalid(format!("user_claim: {e}")))
                        })
                        .transpose()
                })
                .transpose()?,
            emails_verified: boolean(&body, "emails_verified")?,
            allowed_domains: domains(&body)?,
            auto_provision: boolean(&body, "auto_provision")?,
            default_role: string(&body, "default_role")?
                .map(|r| role(Some(&r), Role::Member))
                .transpose()?,
            enabled: boolean(&body, "enabled")?,
            scopes: nullable_string(&body, "scopes")?,
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
    Ok(axum::Json(json!({"updated": true, "idp": idp_view(&idp)})).into_response())
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
    Ok(axum::Json(json!({"deleted": true, "id": id})).into_response())
}
